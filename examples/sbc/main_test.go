package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/byocp/byocp"
	"github.com/byocp/byocp/media"
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
	if got, want := stderr.String(), "sbc: loopback.yaml: configuration OK\n"; got != want {
		t.Errorf("stderr %q, want %q", got, want)
	}
}

// loopbackPKI is the loopback CA, to issue more certificates in tests.
func loopbackPKI(t *testing.T) *peeringtest.PKI {
	t.Helper()
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
	return pki
}

// writePair issues a certificate from the loopback CA and writes it and its
// key next to the configuration file at path, as name.pem and name-key.pem.
func writePair(t *testing.T, path, name string, o peeringtest.IssueOptions) {
	t.Helper()
	o.CommonName = name
	c, err := loopbackPKI(t).IssueWith(o)
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := peeringtest.EncodePEM(c)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(path)
	if err := os.WriteFile(filepath.Join(dir, name+".pem"), certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+"-key.pem"), keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestCheckWarnings(t *testing.T) {
	serverOnly := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	clientOnly := []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	soon := time.Now().Add(10 * 24 * time.Hour)
	for _, tc := range []struct {
		name   string
		certs  map[string]peeringtest.IssueOptions // written as NAME.pem and NAME-key.pem
		yaml   string                              // replaces "certificate: sbc.pem\n  key: sbc-key.pem\n"
		want   []string                            // warning lines
		reject []string                            // must not appear
	}{
		{
			name:  "main certificate without clientAuth, no client certificate",
			certs: map[string]peeringtest.IssueOptions{"server": {ExtKeyUsages: serverOnly}},
			yaml:  "certificate: server.pem\n  key: server-key.pem\n",
			want: []string{`sbc: warning: zoom.certificate: certificate "server" lacks the clientAuth extended key usage (it has: serverAuth) ` +
				"but is presented to Zoom as TLS client", "set zoom.client_certificate and zoom.client_key"},
		},
		{
			name:   "separate client certificate with clientAuth",
			certs:  map[string]peeringtest.IssueOptions{"server": {ExtKeyUsages: serverOnly}, "client": {ExtKeyUsages: clientOnly}},
			yaml:   "certificate: server.pem\n  key: server-key.pem\n  client_certificate: client.pem\n  client_key: client-key.pem\n",
			reject: []string{"warning"},
		},
		{
			name:  "client certificate without clientAuth",
			certs: map[string]peeringtest.IssueOptions{"client": {ExtKeyUsages: serverOnly}},
			yaml:  "certificate: sbc.pem\n  key: sbc-key.pem\n  client_certificate: client.pem\n  client_key: client-key.pem\n",
			want:  []string{`sbc: warning: zoom.client_certificate: certificate "client" lacks the clientAuth extended key usage`},
			// loopback/sbc.pem lacks clientAuth, but it is not presented as client.
			reject: []string{"warning: zoom.certificate"},
		},
		{
			name:   "no extended key usage extension means any usage",
			certs:  map[string]peeringtest.IssueOptions{"any": {NoExtKeyUsage: true}},
			yaml:   "certificate: any.pem\n  key: any-key.pem\n",
			reject: []string{"warning"},
		},
		{
			name:  "server certificate without serverAuth",
			certs: map[string]peeringtest.IssueOptions{"client": {ExtKeyUsages: clientOnly}},
			yaml:  "certificate: client.pem\n  key: client-key.pem\n",
			want:  []string{`sbc: warning: zoom.certificate: certificate "client" lacks the serverAuth extended key usage`},
		},
		{
			name:  "certificate expires within 30 days",
			certs: map[string]peeringtest.IssueOptions{"soon": {NotAfter: soon}},
			yaml:  "certificate: soon.pem\n  key: soon-key.pem\n",
			want:  []string{`sbc: warning: zoom.certificate: certificate "soon" expires on ` + soon.UTC().Format(time.DateOnly) + ", in 9 day(s)"},
		},
		{
			name:  "expired client certificate",
			certs: map[string]peeringtest.IssueOptions{"server": {ExtKeyUsages: serverOnly}, "old": {ExtKeyUsages: clientOnly, NotAfter: time.Now().Add(-48 * time.Hour)}},
			yaml:  "certificate: server.pem\n  key: server-key.pem\n  client_certificate: old.pem\n  client_key: old-key.pem\n",
			want:  []string{`sbc: warning: zoom.client_certificate: certificate "old" expired on`, "Zoom refuses it"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeConfig(t, strings.Replace(minimal, "certificate: sbc.pem\n  key: sbc-key.pem\n", tc.yaml, 1))
			for name, o := range tc.certs {
				writePair(t, path, name, o)
			}
			var stderr syncBuffer
			code := run(context.Background(), []string{"-config", path, "-check"}, &stderr)
			out := stderr.String()
			if code != exitOK {
				t.Errorf("exit status %d, want %d for warnings:\n%s", code, exitOK, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("no %q in:\n%s", w, out)
				}
			}
			for _, r := range tc.reject {
				if strings.Contains(out, r) {
					t.Errorf("unexpected %q in:\n%s", r, out)
				}
			}
			if len(tc.want) > 0 && !strings.Contains(out, "configuration OK, with ") {
				t.Errorf("no summary with the warning count:\n%s", out)
			}
		})
	}
}

// TestChainOnlyWarning: with zoom.insecure_chain_only the daemon warns, both
// with -check and in its log at start (from peering.New).
func TestChainOnlyWarning(t *testing.T) {
	yaml := strings.Replace(minimal, "  peer_names: [sip.zoom.test]\n", "  insecure_chain_only: true\n", 1)
	path := writeConfig(t, yaml)
	var check syncBuffer
	if code := run(context.Background(), []string{"-config", path, "-check"}, &check); code != exitOK ||
		!strings.Contains(check.String(), "sbc: warning: zoom.insecure_chain_only: true: the names in Zoom's certificates are not checked") {
		t.Errorf("-check: exit status %d:\n%s", code, check.String())
	}

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var logs syncBuffer
	exit := make(chan int, 1)
	go func() { exit <- serve(ctx, []string{"-config", path}, &logs, func(*byocp.Bridge) { stop() }) }()
	select {
	case code := <-exit:
		if code != exitOK {
			t.Fatalf("exit status %d:\n%s", code, logs.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("daemon did not stop")
	}
	var warned bool
	for line := range strings.SplitSeq(logs.String(), "\n") {
		if strings.Contains(line, "level=WARN") && strings.Contains(line, "InsecureChainOnly") && strings.Contains(line, "not checked") {
			warned = true
		}
	}
	if !warned {
		t.Errorf("no chain-only warning in the log:\n%s", logs.String())
	}
}

// TestEndToEnd runs the daemon on loopback.yaml, moved to free ports,
// between the fake carrier and a fake Zoom peer whose certificate comes
// from the loopback CA. It places a call each way with audio in both
// directions and checks the call detail records it logs.
func TestEndToEnd(t *testing.T) {
	// The fake Zoom peer presents peeringtest.ZoomName, the name
	// loopback.yaml allows, and like Zoom requires the SBC's client
	// certificate to allow clientAuth: loopback/sbc.pem does not, so calls
	// to Zoom work only with zoom.client_certificate.
	zoom, err := peeringtest.NewZoom(peeringtest.Config{PKI: loopbackPKI(t)})
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
	for _, f := range []*string{&fc.Zoom.Certificate, &fc.Zoom.Key, &fc.Zoom.ClientCertificate, &fc.Zoom.ClientKey, &fc.Zoom.CA} {
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
			// Audio flowed, so last_rtp is there, within the call.
			s, _ := d["last_rtp"].(string)
			last, err := time.Parse(time.RFC3339Nano, s)
			start, _ := time.Parse(time.RFC3339Nano, c["start"].(string))
			end, _ := time.Parse(time.RFC3339Nano, c["end"].(string))
			if err != nil || last.Before(start) || last.After(end) {
				t.Errorf("cdr %d: media.%s.last_rtp %q (%v) not within start %v and end %v", i, dir, s, err, start, end)
			}
		}
	}
	for _, msg := range []string{"sbc starting", "SBC certificate", "SBC client certificate", "zoom certificate names", "zoom peer", "bridge ready", "sbc stopped"} {
		if !hasMsg(lines, msg) {
			t.Errorf("no %q log line", msg)
		}
	}
}

const audioPackets = 25

// fakeCall is a call of either test peer, a *trunktest.Call or a
// *peeringtest.Call.
type fakeCall interface {
	trunktest.Talker
	TalkWith(ctx context.Context, other trunktest.Talker, count int) error
	Description() string
}

// exchangeAudio sends audioPackets each way and checks that nearly all
// arrive intact and none corrupt.
func exchangeAudio(ctx context.Context, t *testing.T, a, b fakeCall) {
	t.Helper()
	if err := a.TalkWith(ctx, b, audioPackets); err != nil {
		t.Fatal(err)
	}
	for _, c := range []fakeCall{a, b} {
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

// A cdr line carries each direction's loss, jitter and MOS, and each
// leg's round trip.
func TestLogCDRQuality(t *testing.T) {
	var buf bytes.Buffer
	rec := byocp.CallRecord{ID: "c1", MOSCarrierToZoom: 4.1234, RTTCarrier: 12500 * time.Microsecond, RTTZoom: 80 * time.Millisecond}
	rec.Media.AtoB.Quality = media.Quality{Expected: 100, Lost: 2, Jitter: 1500 * time.Microsecond, RTT: rec.RTTCarrier}
	logCDR(slog.New(slog.NewJSONHandler(&buf, nil)), rec)
	lines := logLines(t, buf.String())
	if len(lines) != 1 {
		t.Fatalf("%d lines: %s", len(lines), buf.String())
	}
	m, _ := lines[0]["media"].(map[string]any)
	d, _ := m["carrier_to_zoom"].(map[string]any)
	if m["rtt_carrier_ms"] != 12.5 || m["rtt_zoom_ms"] != 80.0 || d["lost"] != 2.0 || d["jitter_ms"] != 1.5 || d["mos"] != 4.12 {
		t.Errorf("cdr media %v", m)
	}
}
