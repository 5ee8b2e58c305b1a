//go:build linux && (amd64 || arm64)

package main

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// TestMain lets the test binary play every part of a run: the
// orchestrator re-executes os.Executable(), which is this binary here.
func TestMain(m *testing.M) {
	if role := os.Getenv(roleEnv); role != "" {
		os.Exit(runRole(role))
	}
	os.Exit(m.Run())
}

// TestRun runs the tool end to end with tiny numbers, the reference
// relay (C when a compiler is present), the reference relay with libsrtp2
// (where libsrtp2 is installed), byocp and byocp under a flood, and
// checks that the report parses and that nothing was lost. It makes no
// timing assertions.
func TestRun(t *testing.T) {
	t.Parallel()
	withSRTP := haveLibsrtp2(t)
	var out bytes.Buffer
	args := []string{"-calls", "4", "-duration", "500ms", "-warmup", "200ms", "-drain", "1s", "-flood", "-flood-rate", "2000"}
	if err := run(args, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	report := out.String()
	t.Logf("\n%s", report)

	blocks := strings.Split(report, "\n== ")
	found := map[string]string{}
	for _, b := range blocks[1:] {
		label, _, _ := strings.Cut(b, ":")
		found[label] = b
	}
	labels := []string{"reference", "byocp", "byocp + flood"}
	if withSRTP {
		labels = append(labels, "reference + libsrtp2")
	} else if !strings.Contains(report, "\nreference + libsrtp2: skipped, ") {
		t.Errorf("libsrtp2 is not installed, but the report does not say that its reference was skipped")
	}
	for _, label := range labels {
		b, ok := found[label]
		if !ok {
			t.Fatalf("no %q block in the report", label)
		}
		lost, sent := intPair(t, b, `(?m)^\s+loss\s+(\d+) of (\d+) sent`)
		if sent == 0 || lost != 0 {
			t.Errorf("%s: lost %d of %d, want 0 of more than 0", label, lost, sent)
		}
		if cpu := float(t, b, `(?m)^\s+relay CPU\s+([0-9.]+) us/packet`); cpu <= 0 {
			t.Errorf("%s: relay CPU %v us/packet", label, cpu)
		}
		if !regexp.MustCompile(`(?m)^\s+latency\s+p50 \d`).MatchString(b) {
			t.Errorf("%s: no latency figures", label)
		}
	}
	b := found["byocp"]
	if !regexp.MustCompile(`(?m)^\s+media\.Stats .*dropped: none$`).MatchString(b) {
		t.Errorf("byocp: media.Stats line missing or with drops")
	}
	if kib := float(t, b, `(?m)^\s+memory per call\s+([0-9.]+) KiB`); kib <= 0 {
		t.Errorf("byocp: memory per call %v KiB", kib)
	}
	f := found["byocp + flood"]
	if n := float(t, f, `dropped ([0-9]+) as WrongSource`); n <= 0 {
		t.Errorf("byocp + flood: the relay dropped %v flood datagrams as WrongSource, want some", n)
	}
	if lost, sent := intPair(t, f, `(?m)^\s+other calls\s+loss (\d+) of (\d+)`); sent == 0 || lost != 0 {
		t.Errorf("byocp + flood: other calls lost %d of %d", lost, sent)
	}
	if r := float(t, report, `byocp / reference: [0-9.]+ / [0-9.]+ us = ([0-9.]+)x`); r <= 0 {
		t.Errorf("ratio %v", r)
	}
	if !withSRTP {
		return
	}
	sb := found["reference + libsrtp2"]
	if !regexp.MustCompile(`: C \(.*; libsrtp2 [0-9.]+`).MatchString(sb) {
		t.Errorf("reference + libsrtp2: libsrtp's version missing from the description")
	}
	if p, u := intPair(t, sb, `(?m)^\s+libsrtp2\s+A->B \(RTP->SRTP\) protected (\d+), B->A \(SRTP->RTP\) unprotected (\d+);`); p == 0 || u == 0 {
		t.Errorf("reference + libsrtp2: protected %d, unprotected %d in the window, want some of each", p, u)
	}
	if p, u := intPair(t, sb, `dropped: protect failed (\d+), unprotect failed (\d+)`); p != 0 || u != 0 {
		t.Errorf("reference + libsrtp2: %d failed protects and %d failed unprotects, want none", p, u)
	}
	if r := float(t, report, `byocp / reference \+ libsrtp2: [0-9.]+ / [0-9.]+ us = ([0-9.]+)x`); r <= 0 {
		t.Errorf("ratio to the reference with libsrtp2 %v", r)
	}
}

// TestSRTPReference drives the C reference relay with libsrtp2 by hand
// for one call, with pion/srtp at both ends: plain RTP from side A must
// leave side B as SRTP under side B's local key, SRTP under its remote
// key must leave side A as the plain packet, and a replayed and a forged
// packet must be dropped and counted.
func TestSRTPReference(t *testing.T) {
	t.Parallel()
	if !haveLibsrtp2(t) {
		t.Skip("libsrtp2 not installed")
	}
	bin, _, err := buildRefC(t.TempDir(), true)
	if err != nil {
		t.Fatal(err)
	}
	relay, err := startChild("reference relay (C, libsrtp2)", bin, deadlineEnv+"=60")
	if err != nil {
		t.Fatal(err)
	}
	defer relay.kill()
	const suite = "AES_CM_128_HMAC_SHA1_80"
	profile, keyLen, err := profileOf(suite)
	if err != nil {
		t.Fatal(err)
	}
	local, remote := make([]byte, 30), make([]byte, 30)
	_, _ = rand.Read(local)
	_, _ = rand.Read(remote)
	carrier, zoom := listenUDP(t), listenUDP(t)
	const wait = 10 * time.Second
	for _, cmd := range []string{"srtp " + suite + " " + hex.EncodeToString(local) + " " + hex.EncodeToString(remote), "calls 1 31000 31999"} {
		if err := relay.send(cmd); err != nil {
			t.Fatal(err)
		}
	}
	f, err := relay.expect("ports", wait)
	if err != nil {
		t.Fatal(err)
	}
	ports, err := atois(f[1:], 2)
	if err != nil {
		t.Fatal(err)
	}
	sideA := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: ports[0]}
	sideB := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: ports[1]}
	if err := relay.send(fmt.Sprintf("remotes %d %d", carrier.LocalAddr().(*net.UDPAddr).Port, zoom.LocalAddr().(*net.UDPAddr).Port)); err != nil {
		t.Fatal(err)
	}
	if _, err := relay.expect("ready", wait); err != nil {
		t.Fatal(err)
	}

	zoomEnc, err := newContext(profile, keyLen, remote) // Zoom encrypts with the relay's remote key
	if err != nil {
		t.Fatal(err)
	}
	zoomDec, err := newContext(profile, keyLen, local)
	if err != nil {
		t.Fatal(err)
	}
	packet := func(seq uint16) []byte {
		p := make([]byte, rtpLen)
		p[0] = 0x80
		binary.BigEndian.PutUint16(p[2:], seq)
		binary.BigEndian.PutUint32(p[8:], 0x5eed)
		copy(p[12:], "payload")
		return p
	}
	var hdr rtp.Header

	// Side A to B: plain RTP in, SRTP out.
	plain := packet(1)
	if _, err := carrier.WriteToUDP(plain, sideA); err != nil {
		t.Fatal(err)
	}
	got := readUDP(t, zoom)
	dec, err := zoomDec.DecryptRTP(nil, got, &hdr)
	if err != nil {
		t.Fatalf("side B sent what does not decrypt under side B's local key: %v", err)
	}
	if !bytes.Equal(dec, plain) {
		t.Errorf("side B sent %x, want %x once decrypted", dec, plain)
	}

	// Side B to A: SRTP in, the plain packet out; then a replay of it and
	// a forged packet, both dropped.
	plain = packet(7)
	enc, err := zoomEnc.EncryptRTP(nil, plain, &hdr)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := zoomEnc.EncryptRTP(nil, packet(8), &hdr)
	if err != nil {
		t.Fatal(err)
	}
	forged[20] ^= 1
	for _, p := range [][]byte{enc, enc, forged} {
		if _, err := zoom.WriteToUDP(p, sideB); err != nil {
			t.Fatal(err)
		}
	}
	if got := readUDP(t, carrier); !bytes.Equal(got, plain) {
		t.Errorf("side A sent %x, want %x", got, plain)
	}
	deadline := time.Now().Add(wait)
	for {
		m, err := relayMark(relay, wait)
		if err != nil {
			t.Fatal(err)
		}
		c := m.counters
		if c["unprotectFailed"] == 2 || time.Now().After(deadline) {
			if c["protected"] != 1 || c["unprotected"] != 1 || c["unprotectFailed"] != 2 || c["forwarded"] != 2 {
				t.Errorf("counters %v, want 1 protected, 1 unprotected, 2 failed unprotects, 2 forwarded", c)
			}
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = carrier.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if n, _, err := carrier.ReadFromUDP(make([]byte, 2048)); err == nil {
		t.Errorf("side A sent a %d-byte datagram after the replay or the forgery", n)
	}
	if err := relay.send("stop"); err != nil {
		t.Fatal(err)
	}
	if _, err := relay.expect("bye", wait); err != nil {
		t.Fatal(err)
	}
	if err := relay.wait(wait); err != nil {
		t.Fatal(err)
	}
}

// haveLibsrtp2 reports whether a program that calls libsrtp2 builds and
// runs here, apart from csrc/refrelay.c, so that a broken reference relay
// cannot pass for a missing library. .ci/run installs libsrtp2 and sets
// BYOCP_REQUIRE_LIBSRTP2, so that a missing one fails there.
func haveLibsrtp2(t *testing.T) bool {
	t.Helper()
	dir := t.TempDir()
	src, bin := filepath.Join(dir, "probe.c"), filepath.Join(dir, "probe")
	probe := "#include <srtp2/srtp.h>\nint main(void) { return srtp_init() != srtp_err_status_ok; }\n"
	if err := os.WriteFile(src, []byte(probe), 0o600); err != nil {
		t.Fatal(err)
	}
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "gcc"
	}
	cflags, libs := libsrtp2Flags()
	out, err := exec.Command(cc, slices.Concat(cflags, []string{"-o", bin, src}, libs)...).CombinedOutput()
	if err == nil {
		out, err = exec.Command(bin).CombinedOutput()
	}
	if err != nil {
		if os.Getenv("BYOCP_REQUIRE_LIBSRTP2") != "" {
			t.Fatalf("libsrtp2 is required (BYOCP_REQUIRE_LIBSRTP2 is set) but a program using it does not build and run: %v\n%s", err, out)
		}
		t.Logf("libsrtp2 not usable (apt-get install libsrtp2-dev; .ci/run installs it): %v: %s", err, bytes.TrimSpace(out))
		return false
	}
	return true
}

func listenUDP(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func readUDP(t *testing.T, c *net.UDPConn) []byte {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 2048)
	n, _, err := c.ReadFromUDP(b)
	if err != nil {
		t.Fatal(err)
	}
	return b[:n]
}

// TestGoReference runs the Go raw-syscall reference relay, the fallback
// when there is no C compiler, on its own.
func TestGoReference(t *testing.T) {
	t.Parallel()
	o := &options{calls: 2, duration: 300 * time.Millisecond, warmup: 100 * time.Millisecond, drain: 700 * time.Millisecond,
		ptime: 20 * time.Millisecond, tick: 100 * time.Microsecond, suite: "none", ref: "go",
		portMin: 20000, portMax: 29999, workers: 1, sockets: 1, rounds: 1}
	res, err := runOne(o, runSpec{label: "reference", kind: kindRefGo})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := all(res)
	if s.Sent == 0 || s.Received != s.Sent {
		t.Errorf("received %d of %d", s.Received, s.Sent)
	}
	if res.forwarded() == 0 {
		t.Error("the relay forwarded nothing in the window")
	}
}

func intPair(t *testing.T, s, re string) (a, b int) {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("no match for %s in:\n%s", re, s)
	}
	a, _ = strconv.Atoi(m[1])
	b, _ = strconv.Atoi(m[2])
	return a, b
}

func float(t *testing.T, s, re string) float64 {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("no match for %s in:\n%s", re, s)
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
