package sip

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/netip"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// TestListenConfig: invalid configurations fail with ErrConfig naming the
// field; the zero value listens on UDP loopback.
func TestListenConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  EndpointConfig
	}{
		{"bad network", EndpointConfig{Network: "sctp"}},
		{"tls without config", EndpointConfig{Network: "tls"}},
		{"listen not ip:port", EndpointConfig{Listen: "localhost:5060"}},
		{"unspecified without advertise", EndpointConfig{Listen: "0.0.0.0:0"}},
		{"unspecified v6 without advertise", EndpointConfig{Listen: "[::]:0", Network: "tcp"}},
	} {
		ep, err := Listen(tc.cfg)
		if !errors.Is(err, ErrConfig) {
			t.Errorf("%s: Listen = %v, want ErrConfig", tc.name, err)
		}
		if ep != nil {
			_ = ep.Close()
		}
	}
	ep := listenEP(t, EndpointConfig{})
	if ep.Network() != NetworkUDP || ep.Addr().Addr() != netip.MustParseAddr("127.0.0.1") || ep.Addr().Port() == 0 {
		t.Errorf("zero config: %s %s", ep.Network(), ep.Addr())
	}
	adv := listenEP(t, EndpointConfig{Network: "TCP", Listen: "127.0.0.1:0", AdvertiseHost: "[::1]"})
	if adv.Host() != "::1" || adv.Network() != NetworkTCP {
		t.Errorf("AdvertiseHost [::1]: Host %q network %q", adv.Host(), adv.Network())
	}
	if c := adv.contact(); c.Address.Host != "[::1]" || c.Address.UriParams == nil || !c.Address.UriParams.Has("transport") {
		t.Errorf("contact = %s", c.Value())
	}
}

// TestTLSCallStaysOnAcceptedConnection: over mutual TLS, the callee's
// in-dialog BYE travels on the connection the INVITE came in on, so the
// caller's listener accepts nothing (RFC 3261 §18.2.2, pitfall 23).
func TestTLSCallStaysOnAcceptedConnection(t *testing.T) {
	t.Parallel()
	pki := newTestPKI(t)
	lo := netip.MustParseAddr("127.0.0.1")
	var callerAccepted, calleeAccepted atomic.Int32
	q := make(callQueue, 1)
	callee := listenEP(t, EndpointConfig{Name: "callee", Network: NetworkTLS, Handler: q,
		TLS: pki.mutualTLS(pki.issue(t, "callee", lo), &calleeAccepted)})
	caller := listenEP(t, EndpointConfig{Name: "caller", Network: NetworkTLS,
		TLS: pki.mutualTLS(pki.issue(t, "caller", lo), &callerAccepted)})

	cc, sc := callPair(t, caller, callee, q)
	inv := sc.Invite()
	if inv.Transport != "TLS" || inv.Source.Port() == caller.Addr().Port() {
		t.Errorf("INVITE over %s from %s; want TLS from an ephemeral port (caller listens on %s)", inv.Transport, inv.Source, caller.Addr())
	}
	if err := sc.Hangup(context.Background()); err != nil {
		t.Fatalf("callee Hangup: %v", err)
	}
	if !closedSoon(cc.Done()) || cc.Cause() != CauseRemoteBye {
		t.Fatalf("caller did not get the BYE: cause %q", cc.Cause())
	}
	if n := callerAccepted.Load(); n != 0 {
		t.Errorf("caller's listener accepted %d TLS connections; the BYE should use the caller's own connection", n)
	}
	if n := calleeAccepted.Load(); n != 1 {
		t.Errorf("callee accepted %d TLS connections, want 1", n)
	}

	// A second call, hung up by the caller, reuses the open connection.
	cc, sc = callPair(t, caller, callee, q)
	if err := cc.Hangup(context.Background()); err != nil {
		t.Fatalf("caller Hangup: %v", err)
	}
	if !closedSoon(sc.Done()) || sc.Cause() != CauseRemoteBye {
		t.Fatalf("callee did not get the BYE: cause %q", sc.Cause())
	}
	if c, e := callerAccepted.Load(), calleeAccepted.Load(); c != 0 || e != 1 {
		t.Errorf("after two calls: caller accepted %d, callee %d; want 0 and 1", c, e)
	}
}

// TestCloseReleasesGoroutines: after calls both ways over UDP, TCP and
// TLS, an unanswered incoming call, a stray ACK and an orphan CANCEL,
// closing the endpoints rejects the pending call with 503 and brings
// goroutines back to where they were (pitfalls 29, 30).
// Not parallel: it counts the process's goroutines.
func TestCloseReleasesGoroutines(t *testing.T) {
	baseline := runtime.NumGoroutine()
	pki := newTestPKI(t)
	lo := netip.MustParseAddr("127.0.0.1")
	var eps []*Endpoint
	var pending *rawUAC
	var peers []*rawPeer
	for _, network := range []string{NetworkUDP, NetworkTCP, NetworkTLS} {
		var tlsA, tlsB *tls.Config
		if network == NetworkTLS {
			tlsA, tlsB = pki.mutualTLS(pki.issue(t, "a", lo), nil), pki.mutualTLS(pki.issue(t, "b", lo), nil)
		}
		qa, qb := make(callQueue, 1), make(callQueue, 1)
		a := listenEP(t, EndpointConfig{Name: "a", Network: network, TLS: tlsA, Handler: qa})
		b := listenEP(t, EndpointConfig{Name: "b", Network: network, TLS: tlsB, Handler: qb})
		eps = append(eps, a, b)
		cc, _ := callPair(t, a, b, qb)
		if err := cc.Hangup(context.Background()); err != nil {
			t.Fatalf("%s caller Hangup: %v", network, err)
		}
		cc, sc := callPair(t, b, a, qa)
		if err := sc.Hangup(context.Background()); err != nil {
			t.Fatalf("%s callee Hangup: %v", network, err)
		}
		if !closedSoon(cc.Done()) {
			t.Fatalf("%s: BYE from the callee not received", network)
		}
		if network == NetworkUDP {
			// A call nobody answers, a stray ACK and a CANCEL for nothing.
			pending = newRawUAC(newRawUDP(t, "127.0.0.1"), b.Addr(), "UDP")
			pending.send(b.Addr(), pending.invite())
			qb.next(t)
			stray := newRawUAC(newRawUDP(t, "127.0.0.1"), b.Addr(), "UDP")
			stray.contact, stray.toTag = stray.ruri(), "x"
			stray.send(b.Addr(), stray.ack2xx(""))
			stray.branch = "z9hG4bK" + unique("orphan")
			stray.send(b.Addr(), stray.cancel())
			stray.expect("481 for orphan CANCEL", isResponse(481, sip.CANCEL))
			peers = append(peers, pending.rawPeer, stray.rawPeer)
		}
	}
	for _, ep := range eps {
		closeWithin(t, ep, 2*time.Second)
	}
	if res := pending.expect("final response at Close", isFinal(sip.INVITE)); res.res().StatusCode != 503 {
		t.Errorf("unanswered call got %s at Close, want 503", startLine(res.data))
	}
	for _, ep := range eps {
		// A BYE handler may still be between its 200 and removing the dialog.
		eventually(t, ep.Network()+" endpoint's dialog table and pending calls empty", func() bool {
			ep.mu.Lock()
			defer ep.mu.Unlock()
			return len(ep.dialogs) == 0 && len(ep.pending) == 0
		})
	}
	for _, p := range peers {
		p.close()
	}
	goroutinesSettle(t, baseline)
}

// TestCloseWithLiveConnections: start and stop UDP, TCP and TLS endpoints
// 20 times each while a peer holds a connection (or has just closed it, or
// stalls a TLS handshake): Close returns within 1 s, is idempotent, closes
// the accepted connections, and no goroutine is left (pitfall 34).
// Not parallel: it counts the process's goroutines.
func TestCloseWithLiveConnections(t *testing.T) {
	baseline := runtime.NumGoroutine()
	pki := newTestPKI(t)
	lo := netip.MustParseAddr("127.0.0.1")
	srvTLS := pki.mutualTLS(pki.issue(t, "sbc", lo), nil)
	cliTLS := pki.mutualTLS(pki.issue(t, "peer", lo), nil)
	cliTLS.ServerName = "127.0.0.1"

	for i := range 20 {
		peerClosesFirst := i%2 == 1
		for _, network := range []string{NetworkUDP, NetworkTCP, NetworkTLS} {
			cfg := EndpointConfig{Name: network, Network: network, Logger: testLogger()}
			if network == NetworkTLS {
				cfg.TLS = srvTLS
			}
			ep, err := Listen(cfg)
			if err != nil {
				t.Fatal(err)
			}
			var peer *rawPeer
			var stalled net.Conn
			switch network {
			case NetworkUDP:
				peer = newRawUDP(t, "127.0.0.1")
			case NetworkTCP:
				c, err := net.Dial("tcp", ep.Addr().String())
				if err != nil {
					t.Fatal(err)
				}
				peer = newRawStream(t, c)
			case NetworkTLS:
				c, err := tls.Dial("tcp", ep.Addr().String(), cliTLS)
				if err != nil {
					t.Fatal(err)
				}
				peer = newRawStream(t, c)
				if stalled, err = net.Dial("tcp", ep.Addr().String()); err != nil {
					t.Fatal(err)
				}
			}
			uac := newRawUAC(peer, ep.Addr(), map[string]string{NetworkUDP: "UDP", NetworkTCP: "TCP", NetworkTLS: "TLS"}[network])
			uac.send(ep.Addr(), uac.inDialog("OPTIONS", ""))
			uac.expect("200 for OPTIONS", isResponse(200, sip.OPTIONS))
			if peerClosesFirst {
				peer.close()
			}

			closeWithin(t, ep, time.Second)
			closeWithin(t, ep, 100*time.Millisecond)
			if !peerClosesFirst && network != NetworkUDP {
				select {
				case <-peer.done:
				case <-time.After(time.Second):
					t.Fatalf("%s: endpoint closed but its accepted connection is still open", network)
				}
			}
			peer.close()
			if stalled != nil {
				_ = stalled.SetReadDeadline(time.Now().Add(time.Second))
				if _, err := stalled.Read(make([]byte, 1)); err == nil || errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
					t.Fatalf("stalled TLS connection not closed by Close: %v", err)
				}
				_ = stalled.Close()
			}
		}
	}
	goroutinesSettle(t, baseline)
}
