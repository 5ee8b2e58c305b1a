package peering_test

import (
	"crypto/tls"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/byocp/byocp/peering"
	"github.com/byocp/byocp/peering/peeringtest"
	"github.com/byocp/byocp/sip"
)

func newPKI(t *testing.T) *peeringtest.PKI {
	t.Helper()
	pki, err := peeringtest.NewPKI("test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return pki
}

func issue(t *testing.T, pki *peeringtest.PKI, name string, dnsNames ...string) tls.Certificate {
	t.Helper()
	c, err := pki.Issue(name, []netip.Addr{netip.MustParseAddr("127.0.0.1")}, dnsNames...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestConfigValidate(t *testing.T) {
	pki := newPKI(t)
	good := peering.Config{
		Listen:       "127.0.0.1:5061",
		Peers:        []peering.Peer{{Address: "127.0.0.1:5081"}},
		Certificates: []tls.Certificate{issue(t, pki, "sbc")},
		RootCAs:      pki.Pool(),
		PeerNames:    []string{peeringtest.ZoomName},
	}
	if err := good.Validate(); err != nil {
		t.Fatalf("good config: %v", err)
	}
	tests := []struct {
		field string
		edit  func(*peering.Config)
	}{
		{"Listen", func(c *peering.Config) { c.Listen = "" }},
		{"AdvertiseHost", func(c *peering.Config) { c.Listen = "0.0.0.0:5061" }},
		{"Peers", func(c *peering.Config) { c.Peers = nil }},
		{"Peers[1].Address", func(c *peering.Config) { c.Peers = append(c.Peers, peering.Peer{Address: "zoom.example"}) }},
		{"Certificates", func(c *peering.Config) { c.Certificates = nil }},
		{"RootCAs", func(c *peering.Config) { c.RootCAs = nil }},
		{"SRTPSuites[0]", func(c *peering.Config) { c.SRTPSuites = []string{"AES_CM_256_HMAC_SHA1_80"} }},
		{"FailoverCodes[0]", func(c *peering.Config) { c.FailoverCodes = []int{200} }},
		{"PeerNames", func(c *peering.Config) { c.PeerNames = nil }},
		{"InsecureChainOnly", func(c *peering.Config) { c.InsecureChainOnly = true }},
		{"PeerNames[1]", func(c *peering.Config) { c.PeerNames = append(c.PeerNames, "") }},
		{"PeerNames[0]", func(c *peering.Config) { c.PeerNames = []string{"sip.zoom.test."} }},
		{"PeerNames[0]", func(c *peering.Config) { c.PeerNames = []string{"sip*.zoom.test"} }},
		{"PeerNames[0]", func(c *peering.Config) { c.PeerNames = []string{"*.test"} }},
		{"PeerNames[0]", func(c *peering.Config) { c.PeerNames = []string{"a.*.zoom.test"} }},
		{"PeerNames[0]", func(c *peering.Config) { c.PeerNames = []string{"*"} }},
		{"PeerNames[0]", func(c *peering.Config) { c.PeerNames = []string{"sip_a.zoom.test"} }},
		{"PeerNames[0]", func(c *peering.Config) { c.PeerNames = []string{"-sip.zoom.test"} }},
		{"PeerNames[0]", func(c *peering.Config) { c.PeerNames = []string{"sip..zoom.test"} }},
		{"PeerNames[0]", func(c *peering.Config) { c.PeerNames = []string{"192.0.2.10:5061"} }},
		{"PeerNames[0]", func(c *peering.Config) { c.PeerNames = []string{"192.0.2.10"} }},
		{"PeerNames[0]", func(c *peering.Config) { c.PeerNames = []string{strings.Repeat("a", 64) + ".zoom.test"} }},
		{"ClientCertificates[0]", func(c *peering.Config) { c.ClientCertificates = []tls.Certificate{{}} }},
	}
	for _, tt := range tests {
		c := good
		tt.edit(&c)
		err := c.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), tt.field+":") {
			t.Errorf("%s: error %v, want it to name the field", tt.field, err)
		}
	}
	for _, ok := range []func(*peering.Config){
		func(c *peering.Config) {
			c.PeerNames = []string{"*.zoom.test", "SIP.Zoom.Test", "xn--bcher-kva.example", "localhost"}
		},
		func(c *peering.Config) { c.PeerNames, c.InsecureChainOnly = nil, true },
		func(c *peering.Config) { c.ClientCertificates = []tls.Certificate{issue(t, pki, "sbc client")} },
	} {
		c := good
		ok(&c)
		if err := c.Validate(); err != nil {
			t.Errorf("PeerNames %q, chain only %v: %v", c.PeerNames, c.InsecureChainOnly, err)
		}
	}
}

// startPeering runs a Peering whose Zoom peer is 127.0.0.1, with PeerNames
// peeringtest.ZoomName, and returns its address.
func startPeering(t *testing.T, pki *peeringtest.PKI) netip.AddrPort {
	t.Helper()
	p, err := peering.New(peering.Config{
		Listen:       "127.0.0.1:0",
		Peers:        []peering.Peer{{Address: "127.0.0.1:5081"}},
		Certificates: []tls.Certificate{issue(t, pki, "sbc")},
		RootCAs:      pki.Pool(),
		PeerNames:    []string{peeringtest.ZoomName},
	}, sip.CallHandlerFunc(func(c *sip.ServerCall) { _ = c.Reject(480, "Temporarily Unavailable") }), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p.Addr()
}

// handshake dials the Peering with conf and reports whether the TLS session
// works end to end (the server's verdict on a client certificate may only
// show on the first read with TLS 1.3, so an OPTIONS is exchanged).
func handshake(addr netip.AddrPort, conf *tls.Config) error {
	d := &net.Dialer{Timeout: 3 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", addr.String(), conf)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(3 * time.Second))
	local := conn.LocalAddr().String()
	msg := "OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TLS " + local + ";branch=z9hG4bKtls1\r\n" +
		"From: <sip:t@127.0.0.1>;tag=1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: tls-test\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
	if _, err := conn.Write([]byte(msg)); err != nil {
		return err
	}
	buf := make([]byte, 2048)
	_, err = conn.Read(buf)
	return err
}

func TestMutualTLS(t *testing.T) {
	pki := newPKI(t)
	addr := startPeering(t, pki)
	zoomCert := issue(t, pki, "zoom", peeringtest.ZoomName)
	other := newPKI(t)
	strangerCert := issue(t, other, "stranger", peeringtest.ZoomName)
	// Same CA, another name: only PeerNames tells it from Zoom.
	impostorCert := issue(t, pki, "impostor", "sip.impostor.test")
	noNameCert := issue(t, pki, "zoom without names")

	tests := []struct {
		name string
		conf *tls.Config
		ok   bool
	}{
		{"trusted client certificate", &tls.Config{RootCAs: pki.Pool(), Certificates: []tls.Certificate{zoomCert}, ServerName: "127.0.0.1"}, true},
		{"no client certificate", &tls.Config{RootCAs: pki.Pool(), ServerName: "127.0.0.1"}, false},
		{"certificate from another CA", &tls.Config{RootCAs: pki.Pool(), Certificates: []tls.Certificate{strangerCert}, ServerName: "127.0.0.1"}, false},
		{"same CA, another name", &tls.Config{RootCAs: pki.Pool(), Certificates: []tls.Certificate{impostorCert}, ServerName: "127.0.0.1"}, false},
		{"same CA, no DNS name", &tls.Config{RootCAs: pki.Pool(), Certificates: []tls.Certificate{noNameCert}, ServerName: "127.0.0.1"}, false},
		{"TLS 1.1", &tls.Config{RootCAs: pki.Pool(), Certificates: []tls.Certificate{zoomCert}, ServerName: "127.0.0.1", MaxVersion: tls.VersionTLS11, MinVersion: tls.VersionTLS10}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := handshake(addr, tt.conf)
			if tt.ok && err != nil {
				t.Fatalf("handshake failed: %v", err)
			}
			if !tt.ok && err == nil {
				t.Fatal("handshake succeeded, want refusal")
			}
		})
	}
}

func TestDialVerifiesZoomChain(t *testing.T) {
	pki := newPKI(t)
	other := newPKI(t)
	// Zoom presents a certificate our RootCAs do not trust.
	zoom, err := peeringtest.NewZoom(peeringtest.Config{PKI: other, Trust: pki.Pool()})
	if err != nil {
		t.Fatal(err)
	}
	defer zoom.Close()
	p, err := peering.New(peering.Config{
		Listen:       "127.0.0.1:0",
		Peers:        []peering.Peer{{Address: zoom.Addr().String()}},
		Certificates: []tls.Certificate{issue(t, pki, "sbc")},
		RootCAs:      pki.Pool(),
		PeerNames:    []string{peeringtest.ZoomName},
	}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ctx, cancel := contextWithTimeout(10 * time.Second)
	defer cancel()
	_, err = p.Dial(ctx, sip.Party{Number: "+14155550100"}, sip.Party{Number: "+442079460000"}, []byte("v=0\r\n"), sip.EarlyHooks{})
	if err == nil || !strings.Contains(err.Error(), "not trusted") {
		t.Fatalf("Dial to an untrusted Zoom peer: %v, want a certificate error", err)
	}
}
