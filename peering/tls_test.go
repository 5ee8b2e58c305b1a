package peering_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/byocp/byocp/peering"
	"github.com/byocp/byocp/peering/peeringtest"
	"github.com/byocp/byocp/sip"
)

func TestMatchPeerName(t *testing.T) {
	for _, tt := range []struct {
		pattern, cert string
		want          bool
	}{
		// Exact names, case-insensitive.
		{"sip.zoom.test", "sip.zoom.test", true},
		{"SIP.Zoom.Test", "sip.ZOOM.test", true},
		{"sip.zoom.test", "sipa.zoom.test", false},
		{"sip.zoom.test", "zoom.test", false},
		{"sip.zoom.test", "sip.zoom.test.evil.example", false},
		{"sip.zoom.test", "evil-sip.zoom.test", false},
		{"sip.zoom.test", "", false},
		// A configured wildcard: exactly one left-most label.
		{"*.zoom.test", "sipa.zoom.test", true},
		{"*.zoom.test", "SIPA.ZOOM.TEST", true},
		{"*.Zoom.Test", "sipa.zoom.test", true},
		{"*.zoom.test", "zoom.test", false},
		{"*.zoom.test", "a.b.zoom.test", false},
		{"*.zoom.test", ".zoom.test", false},
		{"*.zoom.test", "sipa.zoom.test.evil.example", false},
		{"*.zoom.test", "sipa.evilzoom.test", false},
		// The identical certificate wildcard covers the same names.
		{"*.zoom.test", "*.zoom.test", true},
		{"*.zoom.test", "*.a.zoom.test", false},
		{"*.a.zoom.test", "*.zoom.test", false},
		// A certificate wildcard against a configured exact name (RFC 6125).
		{"sipa.zoom.test", "*.zoom.test", true},
		{"SIPA.zoom.test", "*.ZOOM.test", true},
		{"zoom.test", "*.zoom.test", false},
		{"a.b.zoom.test", "*.zoom.test", false},
		{"sipa.zoom.test", "sip*.zoom.test", false},
		{"sipa.zoom.test", "*ipa.zoom.test", false},
		{"sipa.zoom.test", "*.*.test", false},
		{"zoom.test", "*.test", false},
		{"sipa.zoom.test", "*", false},
		// Patterns Validate refuses match nothing beyond themselves.
		{"sip*.zoom.test", "sipa.zoom.test", false},
		{"sip*.zoom.test", "sip*.zoom.test", false},
		{"", "", false},
	} {
		if got := peering.MatchPeerName(tt.pattern, tt.cert); got != tt.want {
			t.Errorf("MatchPeerName(%q, %q) = %v, want %v", tt.pattern, tt.cert, got, tt.want)
		}
	}
}

// serverResult is what a one-connection TLS server saw: the client's leaf
// certificate or its handshake error.
type serverResult struct {
	peer *x509.Certificate
	err  error
}

// serveTLS runs a TLS server for one connection on 127.0.0.1 with conf. It
// completes the handshake, writes "ok" and reports the outcome.
func serveTLS(t *testing.T, conf *tls.Config) (string, <-chan serverResult) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	res := make(chan serverResult, 1)
	go func() {
		conn, err := l.Accept()
		if err != nil {
			res <- serverResult{err: err}
			return
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		tc := tls.Server(conn, conf)
		if err := tc.Handshake(); err != nil {
			res <- serverResult{err: err}
			return
		}
		var peer *x509.Certificate
		if certs := tc.ConnectionState().PeerCertificates; len(certs) > 0 {
			peer = certs[0]
		}
		_, err = tc.Write([]byte("ok"))
		res <- serverResult{peer: peer, err: err}
	}()
	return l.Addr().String(), res
}

// dialTLS connects to addr with conf and reads the server's "ok", so that a
// server's refusal of the client certificate shows (with TLS 1.3 it arrives
// after the client's handshake is complete).
func dialTLS(addr string, conf *tls.Config) error {
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 3 * time.Second}, "tcp", addr, conf)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, 2)
	_, err = conn.Read(buf)
	return err
}

// issueWith issues a certificate for 127.0.0.1 with the options' names and usages.
func issueWith(t *testing.T, pki *peeringtest.PKI, o peeringtest.IssueOptions) tls.Certificate {
	t.Helper()
	o.IPs = append(o.IPs, netip.MustParseAddr("127.0.0.1"))
	c, err := pki.IssueWith(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// sbcConfig is a valid configuration that trusts pki and allows names.
func sbcConfig(t *testing.T, pki *peeringtest.PKI, names ...string) peering.Config {
	return peering.Config{
		Listen:       "127.0.0.1:0",
		Peers:        []peering.Peer{{Name: "zone A", Address: "127.0.0.1:5081"}},
		Certificates: []tls.Certificate{issue(t, pki, "sbc")},
		RootCAs:      pki.Pool(),
		PeerNames:    names,
	}
}

// dialZoom dials a TLS server presenting zoomCert with cfg's client
// configuration, as the SBC dials Zoom. It returns what the server saw and
// the client's error.
func dialZoom(t *testing.T, cfg peering.Config, zoomCert tls.Certificate) (serverResult, error) {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	addr, res := serveTLS(t, &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{zoomCert},
		ClientAuth:   tls.RequireAnyClientCert,
	})
	err := dialTLS(addr, cfg.ClientTLSConfig())
	return <-res, err
}

// zoomConnects connects to a TLS server using cfg's listener configuration
// from a client presenting zoomCert, as Zoom connects to the SBC. It returns
// the server's (the SBC's) handshake outcome and the client's error.
func zoomConnects(t *testing.T, pki *peeringtest.PKI, cfg peering.Config, zoomCert tls.Certificate) (serverResult, error) {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	addr, res := serveTLS(t, cfg.ServerTLSConfig())
	err := dialTLS(addr, &tls.Config{RootCAs: pki.Pool(), ServerName: "127.0.0.1", Certificates: []tls.Certificate{zoomCert}})
	return <-res, err
}

// wantRefused checks that err is a peer certificate refusal saying all of why.
func wantRefused(t *testing.T, what string, err error, why ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: accepted, want a refusal", what)
		return
	}
	if !errors.Is(err, peering.ErrPeerCertificate) {
		t.Errorf("%s: %v, want ErrPeerCertificate", what, err)
	}
	for _, w := range why {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%s: %v, want it to say %q", what, err, w)
		}
	}
}

func TestDialChecksZoomName(t *testing.T) {
	pki := newPKI(t)
	cfg := sbcConfig(t, pki, peeringtest.ZoomName)
	// Same CA, valid chain and usages, another name.
	impostor := issueWith(t, pki, peeringtest.IssueOptions{CommonName: "impostor", DNSNames: []string{"sip.impostor.test", "localhost"}})
	_, err := dialZoom(t, cfg, impostor)
	wantRefused(t, "dial, certificate for another name", err, "name mismatch", "sip.impostor.test, localhost", peeringtest.ZoomName)
	var netErr net.Error
	if errors.As(err, &netErr) {
		t.Errorf("dial error %v is a network error, want the handshake's", err)
	}

	noNames := issueWith(t, pki, peeringtest.IssueOptions{CommonName: peeringtest.ZoomName})
	_, err = dialZoom(t, cfg, noNames)
	wantRefused(t, "dial, name only in the common name", err, "no DNS names")

	zoom := issueWith(t, pki, peeringtest.IssueOptions{CommonName: "zoom", DNSNames: []string{"localhost", peeringtest.ZoomName}})
	if srv, err := dialZoom(t, cfg, zoom); err != nil || srv.err != nil {
		t.Errorf("dial, right name: client %v, server %v", err, srv.err)
	}
}

func TestListenerChecksZoomName(t *testing.T) {
	pki := newPKI(t)
	cfg := sbcConfig(t, pki, peeringtest.ZoomName)
	impostor := issueWith(t, pki, peeringtest.IssueOptions{CommonName: "impostor", DNSNames: []string{"sip.impostor.test"}})
	srv, err := zoomConnects(t, pki, cfg, impostor)
	wantRefused(t, "listener, client certificate for another name", srv.err, "name mismatch", "sip.impostor.test", peeringtest.ZoomName)
	if err == nil {
		t.Error("the refused client could use the connection")
	}

	zoom := issueWith(t, pki, peeringtest.IssueOptions{CommonName: "zoom", DNSNames: []string{peeringtest.ZoomName}})
	if srv, err := zoomConnects(t, pki, cfg, zoom); srv.err != nil || err != nil {
		t.Errorf("listener, right name: server %v, client %v", srv.err, err)
	}
}

// TestPeeringChecksZoomName runs the policy through a Peering's SIP
// endpoint: its listener and its dialled connections.
func TestPeeringChecksZoomName(t *testing.T) {
	pki := newPKI(t)
	// Zoom connects to us: the listener of a running Peering.
	addr := startPeering(t, pki)
	impostor := issue(t, pki, "impostor", "sip.impostor.test")
	if err := handshake(addr, &tls.Config{RootCAs: pki.Pool(), Certificates: []tls.Certificate{impostor}, ServerName: "127.0.0.1"}); err == nil {
		t.Error("Peering accepted a client certificate for another name")
	}
	zoomCert := issue(t, pki, "zoom", peeringtest.ZoomName)
	if err := handshake(addr, &tls.Config{RootCAs: pki.Pool(), Certificates: []tls.Certificate{zoomCert}, ServerName: "127.0.0.1"}); err != nil {
		t.Errorf("Peering refused Zoom's name: %v", err)
	}

	// We dial Zoom: a fake Zoom peer presenting another name, then the right one.
	ctx, cancel := contextWithTimeout(20 * time.Second)
	defer cancel()
	for _, tc := range []struct {
		name string
		cert *tls.Certificate
		ok   bool
	}{
		{"another name", &impostor, false},
		{"default fake Zoom certificate", nil, true},
	} {
		zoom, err := peeringtest.NewZoom(peeringtest.Config{PKI: pki, Certificate: tc.cert})
		if err != nil {
			t.Fatal(err)
		}
		cfg := sbcConfig(t, pki, peeringtest.ZoomName)
		cfg.Peers = []peering.Peer{{Name: "zone A", Address: zoom.Addr().String()}}
		p, err := peering.New(cfg, nil, quiet)
		if err != nil {
			t.Fatal(err)
		}
		_, err = p.Dial(ctx, sip.Party{Number: "+14155550100"}, sip.Party{Number: "+442079460000"}, []byte("v=0\r\n"), sip.EarlyHooks{})
		// Any SIP response means the TLS connection worked.
		var rejected *sip.StatusError
		reached := errors.As(err, &rejected)
		if reached != tc.ok {
			t.Errorf("%s: Dial: %v (reached Zoom: %v, want %v)", tc.name, err, reached, tc.ok)
		}
		// sip wraps the handshake error as text (%v), so only the message
		// carries ErrPeerCertificate here.
		if !tc.ok && (err == nil || !strings.Contains(err.Error(), peering.ErrPeerCertificate.Error()+": name mismatch")) {
			t.Errorf("%s: Dial: %v, want a name mismatch", tc.name, err)
		}
		_ = p.Close()
		_ = zoom.Close()
	}
}

func TestWildcardNamesOverTLS(t *testing.T) {
	pki := newPKI(t)
	for _, tc := range []struct {
		names    []string // PeerNames
		certName string   // the DNS name Zoom presents
		ok       bool
	}{
		{[]string{"*.zoom.test"}, "sipa.zoom.test", true},
		{[]string{"*.zoom.test"}, "SIPB.Zoom.Test", true},
		{[]string{"*.zoom.test"}, "zoom.test", false},
		{[]string{"*.zoom.test"}, "a.b.zoom.test", false},
		{[]string{"sipa.zoom.test"}, "*.zoom.test", true},
		{[]string{"zoom.test"}, "*.zoom.test", false},
		{[]string{"other.example", "SIPA.zoom.test"}, "sipa.zoom.test", true},
	} {
		cfg := sbcConfig(t, pki, tc.names...)
		cert := issueWith(t, pki, peeringtest.IssueOptions{CommonName: "zoom", DNSNames: []string{tc.certName}})
		_, dialErr := dialZoom(t, cfg, cert)
		srv, _ := zoomConnects(t, pki, cfg, cert)
		for role, err := range map[string]error{"dial": dialErr, "listener": srv.err} {
			if tc.ok && err != nil {
				t.Errorf("%s: PeerNames %q, certificate %q: %v", role, tc.names, tc.certName, err)
			}
			if !tc.ok {
				wantRefused(t, role+": PeerNames "+strings.Join(tc.names, ",")+", certificate "+tc.certName, err, "name mismatch")
			}
		}
	}
}

func TestKeyUsageByRole(t *testing.T) {
	pki := newPKI(t)
	cfg := sbcConfig(t, pki, peeringtest.ZoomName)
	cert := func(o peeringtest.IssueOptions) tls.Certificate {
		o.CommonName, o.DNSNames = "zoom", []string{peeringtest.ZoomName}
		return issueWith(t, pki, o)
	}
	serverOnly := cert(peeringtest.IssueOptions{ExtKeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	clientOnly := cert(peeringtest.IssueOptions{ExtKeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	noEKU := cert(peeringtest.IssueOptions{NoExtKeyUsage: true})
	anyEKU := cert(peeringtest.IssueOptions{ExtKeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if len(noEKU.Leaf.ExtKeyUsage) != 0 || len(noEKU.Leaf.Extensions) == 0 {
		t.Fatalf("NoExtKeyUsage certificate has usages %v", noEKU.Leaf.ExtKeyUsage)
	}

	// We dial: Zoom is the TLS server and needs serverAuth.
	_, err := dialZoom(t, cfg, clientOnly)
	wantRefused(t, "dial, server certificate without serverAuth", err, "missing key usage", "serverAuth", "clientAuth")
	for name, c := range map[string]tls.Certificate{"serverAuth only": serverOnly, "no EKU extension": noEKU, "anyExtendedKeyUsage": anyEKU} {
		if _, err := dialZoom(t, cfg, c); err != nil {
			t.Errorf("dial, server certificate with %s: %v", name, err)
		}
	}

	// Zoom connects: Zoom is the TLS client and needs clientAuth.
	srv, _ := zoomConnects(t, pki, cfg, serverOnly)
	wantRefused(t, "listener, client certificate without clientAuth", srv.err, "missing key usage", "clientAuth", "serverAuth")
	for name, c := range map[string]tls.Certificate{"clientAuth only": clientOnly, "no EKU extension": noEKU, "anyExtendedKeyUsage": anyEKU} {
		if srv, err := zoomConnects(t, pki, cfg, c); srv.err != nil || err != nil {
			t.Errorf("listener, client certificate with %s: server %v, client %v", name, srv.err, err)
		}
	}
}

func TestClientCertificatePresentedWhenDialling(t *testing.T) {
	pki := newPKI(t)
	serverOnly := issueWith(t, pki, peeringtest.IssueOptions{CommonName: "sbc server", ExtKeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	client := issueWith(t, pki, peeringtest.IssueOptions{CommonName: "sbc client", ExtKeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	zoomCert := issueWith(t, pki, peeringtest.IssueOptions{CommonName: "zoom", DNSNames: []string{peeringtest.ZoomName}})

	cfg := sbcConfig(t, pki, peeringtest.ZoomName)
	cfg.Certificates = []tls.Certificate{serverOnly}
	cfg.ClientCertificates = []tls.Certificate{client}
	if srv, err := dialZoom(t, cfg, zoomCert); err != nil || srv.peer == nil || srv.peer.Subject.CommonName != "sbc client" {
		t.Errorf("with ClientCertificates: client %v, Zoom saw %v", err, srv.peer)
	}
	cfg.ClientCertificates = nil
	if srv, err := dialZoom(t, cfg, zoomCert); err != nil || srv.peer == nil || srv.peer.Subject.CommonName != "sbc server" {
		t.Errorf("without ClientCertificates: client %v, Zoom saw %v", err, srv.peer)
	}
	// The listener still presents Certificates.
	cfg.ClientCertificates = []tls.Certificate{client}
	if got := cfg.ServerTLSConfig().Certificates; len(got) != 1 || got[0].Leaf.Subject.CommonName != "sbc server" {
		t.Errorf("ServerTLSConfig presents %v", got)
	}

	// Through a Peering to a fake Zoom that, like Zoom, requires a client
	// certificate with clientAuth: the server-only certificate is refused,
	// the separate client certificate works.
	zoom, err := peeringtest.NewZoom(peeringtest.Config{PKI: pki})
	if err != nil {
		t.Fatal(err)
	}
	defer zoom.Close()
	ctx, cancel := contextWithTimeout(20 * time.Second)
	defer cancel()
	for _, tc := range []struct {
		name   string
		client []tls.Certificate
		ok     bool
	}{
		{"server-only certificate as client", nil, false},
		{"separate client certificate", []tls.Certificate{client}, true},
	} {
		cfg.Peers = []peering.Peer{{Name: "zone A", Address: zoom.Addr().String()}}
		cfg.ClientCertificates = tc.client
		cfg.ResponseTimeout = time.Second // a refusal after a TLS 1.3 handshake shows as silence
		p, err := peering.New(cfg, nil, quiet)
		if err != nil {
			t.Fatal(err)
		}
		_, err = p.Dial(ctx, sip.Party{Number: "+14155550100"}, sip.Party{Number: "+442079460000"}, []byte("v=0\r\n"), sip.EarlyHooks{})
		var rejected *sip.StatusError // any SIP response means TLS worked
		if reached := errors.As(err, &rejected); reached != tc.ok {
			t.Errorf("%s: Dial: %v (reached Zoom: %v, want %v)", tc.name, err, reached, tc.ok)
		}
		_ = p.Close()
	}
}

// quiet discards a Peering's logs.
var quiet = slog.New(slog.DiscardHandler)

// syncBuffer collects log output written from several goroutines.
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

func TestInsecureChainOnly(t *testing.T) {
	pki := newPKI(t)
	cfg := sbcConfig(t, pki)
	cfg.InsecureChainOnly = true
	impostor := issueWith(t, pki, peeringtest.IssueOptions{CommonName: "impostor", DNSNames: []string{"sip.impostor.test"}})
	if _, err := dialZoom(t, cfg, impostor); err != nil {
		t.Errorf("chain only, dial: %v", err)
	}
	if srv, err := zoomConnects(t, pki, cfg, impostor); srv.err != nil || err != nil {
		t.Errorf("chain only, listener: server %v, client %v", srv.err, err)
	}
	// The chain and the usages are still checked.
	stranger := issueWith(t, newPKI(t), peeringtest.IssueOptions{CommonName: "stranger", DNSNames: []string{peeringtest.ZoomName}})
	_, err := dialZoom(t, cfg, stranger)
	wantRefused(t, "chain only, another CA", err, "unknown authority")
	clientOnly := issueWith(t, pki, peeringtest.IssueOptions{CommonName: "zoom", ExtKeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	_, err = dialZoom(t, cfg, clientOnly)
	wantRefused(t, "chain only, no serverAuth", err, "serverAuth")

	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	p, err := peering.New(cfg, nil, logger)
	if err != nil {
		t.Fatal(err)
	}
	_ = p.Close()
	out := logs.String()
	if !strings.Contains(out, "level=WARN") || !strings.Contains(out, "InsecureChainOnly") ||
		!strings.Contains(out, "not checked") || !strings.Contains(out, "impersonate Zoom") {
		t.Errorf("no chain-only warning in the log:\n%s", out)
	}

	// With names there is no warning.
	logs = syncBuffer{}
	p, err = peering.New(sbcConfig(t, pki, peeringtest.ZoomName), nil, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	_ = p.Close()
	if strings.Contains(logs.String(), "InsecureChainOnly") {
		t.Errorf("chain-only warning without InsecureChainOnly:\n%s", logs.String())
	}
}

func TestInvalidPolicyRefusesEverything(t *testing.T) {
	pki := newPKI(t)
	cfg := sbcConfig(t, pki) // neither PeerNames nor InsecureChainOnly
	zoom := issueWith(t, pki, peeringtest.IssueOptions{CommonName: "zoom", DNSNames: []string{peeringtest.ZoomName}})
	addr, _ := serveTLS(t, &tls.Config{Certificates: []tls.Certificate{zoom}, ClientAuth: tls.RequireAnyClientCert})
	wantRefused(t, "no policy", dialTLS(addr, cfg.ClientTLSConfig()), "no PeerNames")
}

func TestTLSMinimumVersion(t *testing.T) {
	pki := newPKI(t)
	cfg := sbcConfig(t, pki, peeringtest.ZoomName)
	for name, conf := range map[string]*tls.Config{"server": cfg.ServerTLSConfig(), "client": cfg.ClientTLSConfig()} {
		if conf.MinVersion != tls.VersionTLS12 {
			t.Errorf("%s: MinVersion %x, want TLS 1.2", name, conf.MinVersion)
		}
	}
	if cfg.ServerTLSConfig().ClientAuth != tls.RequireAnyClientCert {
		t.Error("the listener does not require a client certificate")
	}
}
