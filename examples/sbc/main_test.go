package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/byocp/byocp"
	"github.com/byocp/byocp/peering/peeringtest"
	"github.com/byocp/byocp/trunk/trunktest"
)

// syncBuffer is a bytes.Buffer the daemon's goroutines may log into while
// the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestRunBadConfig(t *testing.T) {
	path := writeConfig(t, strings.Replace(minimal, "address: 127.0.0.1:5081", "address: x", 1))
	var stderr syncBuffer
	if code := run(context.Background(), []string{"-config", path}, &stderr); code != exitUsage {
		t.Errorf("exit status %d, want %d", code, exitUsage)
	}
	if got, want := stderr.String(), "sbc: zoom.peers[0].address: \"x\" is not IP:port\n"; got != want {
		t.Errorf("stderr %q, want %q", got, want)
	}
}

func TestRunUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"-config"}, {"-bogus"}, {"-config", "a.yaml", "extra"}} {
		var stderr syncBuffer
		if code := run(context.Background(), args, &stderr); code != exitUsage {
			t.Errorf("%q: exit status %d, want %d", args, code, exitUsage)
		}
		if !strings.Contains(stderr.String(), "-config") {
			t.Errorf("%q: no usage in %q", args, stderr.String())
		}
	}
	var stderr syncBuffer
	if code := run(context.Background(), []string{"-config", "/nonexistent.yaml"}, &stderr); code != exitUsage ||
		!strings.HasPrefix(stderr.String(), "sbc: open /nonexistent.yaml: ") {
		t.Errorf("missing file: exit status %d, stderr %q", code, stderr.String())
	}
}

func TestRunCheck(t *testing.T) {
	var stderr syncBuffer
	if code := run(context.Background(), []string{"-config", "loopback.yaml", "-check"}, &stderr); code != exitOK {
		t.Errorf("exit status %d: %s", code, stderr.String())
	}
}

// TestEndToEnd runs the daemon on loopback.yaml, moved to free ports,
// between the fake carrier and a fake Zoom peer whose certificate comes
// from the loopback CA. It places a call each way with audio in both
// directions and checks the call detail records it logs.
func TestEndToEnd(t *testing.T) {
	caPEM, err := os.ReadFile("loopback/ca.pem")
	if err != nil {
		t.Fatal(err)
	}
	caKeyPEM, err := os.ReadFile("loopback/ca-key.pem")
	if err != nil {
		t.Fatal(err)
	}
	pki, err := peeringtest.LoadPKI(caPEM, caKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	zoom, err := peeringtest.NewZoom(peeringtest.Config{PKI: pki})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = zoom.Close() })
	carrier, err := trunktest.NewCarrier(trunktest.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = carrier.Close() })

	// loopback.yaml, with the peers' ports and absolute certificate paths.
	data, err := os.ReadFile("loopback.yaml")
	if err != nil {
		t.Fatal(err)
	}
	fc, err := parseConfig(data)
	if err != nil {
		t.Fatal(err)
	}
	fc.LogFormat, fc.LogLevel = "json", "info"
	fc.Carrier.Listen = "127.0.0.1:0"
	fc.Carrier.Peer = carrier.Addr().String()
	fc.Zoom.Listen = "127.0.0.1:0"
	fc.Zoom.Peers = []peerEntry{{Name: "fake Zoom", Address: zoom.Addr().String()}}
	for _, f := range []*string{&fc.Zoom.Certificate, &fc.Zoom.Key, &fc.Zoom.CA} {
		if *f, err = filepath.Abs(*f); err != nil {
			t.Fatal(err)
		}
	}
	out, err := yaml.Marshal(fc)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "sbc.yaml")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}

	// Start the daemon.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	daemonCtx, stop := context.WithCancel(ctx)
	defer stop()
	var logs syncBuffer
	ready := make(chan *byocp.Bridge, 1)
	exit := make(chan int, 1)
	go func() {
		exit <- serve(daemonCtx, []string{"-config", path}, &logs, func(b *byocp.Bridge) { ready <- b })
	}()
	var bridge *byocp.Bridge
	select {
	case bridge = <-ready:
	case code := <-exit:
		t.Fatalf("daemon exited with %d:\n%s", code, logs.String())
	}

	// Carrier to Zoom, the carrier hangs up.
	toZoom, err := carrier.Dial(ctx, bridge.TrunkAddr(), "14155550100", "+442079460000")
	if err != nil {
		t.Fatalf("carrier call: %v\n%s", err, logs.String())
	}
	atZoom, err := zoom.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, atZoom.Answered(), "zoom leg answered")
	exchangeAudio(ctx, t, toZoom, atZoom)
	if err := toZoom.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, atZoom.Done(), "zoom leg ended")

	// Zoom to carrier, Zoom hangs up. The SBC's certificate must carry the
	// IP SAN 127.0.0.1 for the fake Zoom to accept it as a TLS server.
	toCarrier, err := zoom.Dial(ctx, bridge.PeeringAddr(), "+442079460000", "+14155550100")
	if err != nil {
		t.Fatalf("zoom call: %v\n%s", err, logs.String())
	}
	atCarrier, err := carrier.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, atCarrier.Answered(), "carrier leg answered")
	exchangeAudio(ctx, t, toCarrier, atCarrier)
	if err := toCarrier.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, atCarrier.Done(), "carrier leg ended")

	// Let the Bridge finish the second call, so that its record says Zoom
	// hung up rather than the shutdown; then stop the daemon as SIGTERM
	// would. Close waits for every call, so the records are logged by then.
	for i := 0; i < 500 && bridge.ActiveCalls() > 0; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	select {
	case code := <-exit:
		if code != exitOK {
			t.Errorf("exit status %d", code)
		}
	case <-ctx.Done():
		t.Fatal("daemon did not stop")
	}

	lines := logLines(t, logs.String())
	var cdrs []map[string]any
	for _, l := range lines {
		if l["msg"] == "cdr" {
			cdrs = append(cdrs, l)
		}
	}
	if len(cdrs) != 2 {
		t.Fatalf("%d cdr lines, want 2:\n%s", len(cdrs), logs.String())
	}
	for i, want := range []struct{ direction, hangupBy, caller, callee string }{
		{string(byocp.CarrierToZoom), byocp.HangupCarrier, "+14155550100", "+442079460000"},
		{string(byocp.ZoomToCarrier), byocp.HangupZoom, "+442079460000", "+14155550100"},
	} {
		c := cdrs[i]
		if c["direction"] != want.direction || c["hangup_by"] != want.hangupBy || c["status"] != 200.0 ||
			c["caller"] != want.caller || c["callee"] != want.callee || c["srtp_suite"] == "" {
			t.Errorf("cdr %d: %v", i, c)
		}
		m, _ := c["media"].(map[string]any)
		for _, dir := range []string{"carrier_to_zoom", "zoom_to_carrier"} {
			d, _ := m[dir].(map[string]any)
			if fwd, _ := d["forwarded"].(float64); fwd < audioPackets*9/10 {
				t.Errorf("cdr %d: media.%s: %v", i, dir, d)
			}
		}
	}
	for _, msg := range []string{"sbc starting", "SBC certificate", "zoom peer", "bridge ready", "sbc stopped"} {
		if !hasMsg(lines, msg) {
			t.Errorf("no %q log line", msg)
		}
	}
}

const audioPackets = 25

// exchangeAudio sends audioPackets each way and checks that nearly all
// arrive intact and none corrupt.
func exchangeAudio(ctx context.Context, t *testing.T, a, b *trunktest.Call) {
	t.Helper()
	if err := a.TalkWith(ctx, b, audioPackets); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*trunktest.Call{a, b} {
		s := c.Media()
		if s.Intact < audioPackets*9/10 || s.Corrupt > 0 || s.AuthFailed > 0 {
			t.Errorf("%s: media %+v, want %d intact", c.Description(), s, audioPackets)
		}
	}
}

func waitFor(t *testing.T, c <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(10 * time.Second):
		t.Fatalf("gave up waiting: %s", what)
	}
}

func logLines(t *testing.T, logs string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(logs))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line is not JSON: %v: %s", err, sc.Text())
		}
		lines = append(lines, m)
	}
	return lines
}

func hasMsg(lines []map[string]any, msg string) bool {
	for _, l := range lines {
		if l["msg"] == msg {
			return true
		}
	}
	return false
}
