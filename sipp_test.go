package byocp_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/byocp/byocp"
)

// sippPath finds SIPp. CI installs it (.ci/run sets BYOCP_REQUIRE_SIPP, so a
// missing sipp fails there); on a machine without it these interop tests,
// which add an independent SIP stack to the fake peers' tests, are skipped.
func sippPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("sipp")
	if err != nil {
		if os.Getenv("BYOCP_REQUIRE_SIPP") != "" {
			t.Fatal("sipp is required (BYOCP_REQUIRE_SIPP is set) but not installed")
		}
		t.Skip("sipp not installed (apt-get install sip-tester); .ci/run installs it")
	}
	return p
}

func freeUDPPort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// runSipp runs sipp to completion; the error reports failed calls, with
// sipp's logs written to the test log (always with BYOCP_TEST_LOG set).
func runSipp(t *testing.T, ctx context.Context, sipp string, args ...string) error {
	return runSippFor(t, ctx, 20*time.Second, sipp, args...)
}

// runSippFor is runSipp with sipp's global timeout (-timeout, an error):
// the run fails once it lasts longer.
func runSippFor(t *testing.T, ctx context.Context, timeout time.Duration, sipp string, args ...string) error {
	dir := t.TempDir()
	cmd := exec.CommandContext(ctx, sipp, append(args, "-nostdin", "-timeout", strconv.Itoa(int(timeout.Seconds()))+"s",
		"-timeout_error", "-trace_err", "-trace_msg")...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil || os.Getenv("BYOCP_TEST_LOG") != "" {
		logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
		for _, l := range logs {
			b, _ := os.ReadFile(l)
			t.Logf("%s:\n%s", filepath.Base(l), b)
		}
		if tail := out.Bytes(); err != nil && len(tail) > 0 {
			// sipp's own last words: an <error> of the scenario, a
			// fatal error; the statistics screen before them is cut.
			if len(tail) > 4096 {
				tail = tail[len(tail)-4096:]
			}
			t.Logf("sipp output (end):\n%s", tail)
		}
	}
	if err != nil {
		return fmt.Errorf("sipp %v: %w", args, err)
	}
	return nil
}

// TestSippCarrierCallsZoom: SIPp as the carrier's UAC calls a Zoom user
// through the Bridge and echoes the media it gets back.
func TestSippCarrierCallsZoom(t *testing.T) {
	sipp := sippPath(t)
	scenario, err := filepath.Abs("testdata/sipp/uac.xml")
	if err != nil {
		t.Fatal(err)
	}
	sippPort := freeUDPPort(t)
	r := newRig(t, func(c *byocp.Config) { c.Trunk.Peer = "127.0.0.1:" + strconv.Itoa(sippPort) })
	ctx := ctxFor(t, 30*time.Second)
	done := make(chan error, 1)
	go func() {
		done <- runSipp(t, ctx, sipp, "-sf", scenario, "-s", "+442079460000", "-i", "127.0.0.1", "-p", strconv.Itoa(sippPort),
			"-m", "1", "-rtp_echo", "-mp", strconv.Itoa(freeUDPPort(t)), r.bridge.TrunkAddr().String())
	}()
	acceptCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	in, err := r.zoom.Accept(acceptCtx)
	if err != nil {
		t.Fatalf("no call reached Zoom: %v (sipp: %v)", err, <-done)
	}
	answered(t, in)
	if err := in.SendAudio(ctx, 50); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	waitDone(t, in, "zoom leg")
	// sipp echoed the plain RTP the Bridge decrypted; the Bridge encrypted it again.
	if s := in.Media(); s.Received < 45 || s.AuthFailed > 0 {
		t.Errorf("echoed media through sipp: %+v", s)
	}
	if rec := r.record(t); rec.HangupBy != byocp.HangupCarrier || rec.Status != 200 {
		t.Errorf("record: %+v", rec)
	}
}

// TestSippCarrierAnswersZoom: the fake Zoom peer calls out; SIPp's built-in
// UAS answers as the carrier; Zoom hangs up and SIPp must get the BYE.
func TestSippCarrierAnswersZoom(t *testing.T) {
	sipp := sippPath(t)
	sippPort := freeUDPPort(t)
	r := newRig(t, func(c *byocp.Config) { c.Trunk.Peer = "127.0.0.1:" + strconv.Itoa(sippPort) })
	ctx := ctxFor(t, 30*time.Second)
	done := make(chan error, 1)
	go func() {
		done <- runSipp(t, ctx, sipp, "-sn", "uas", "-i", "127.0.0.1", "-p", strconv.Itoa(sippPort), "-m", "1")
	}()
	time.Sleep(300 * time.Millisecond) // let sipp bind its port
	out, err := r.zoom.Dial(ctx, r.bridge.PeeringAddr(), "+442079460000", "+14155550100")
	if err != nil {
		t.Fatalf("zoom call to sipp: %v", err)
	}
	if err := out.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil { // sipp exits 0 only after its call ended with BYE/200
		t.Fatal(err)
	}
	if rec := r.record(t); rec.HangupBy != byocp.HangupZoom {
		t.Errorf("record: %+v", rec)
	}
}
