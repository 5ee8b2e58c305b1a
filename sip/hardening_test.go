package sip

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/byocp/byocp/internal/leakcheck"
)

// mandatoryCase is one request with a header removed, repeated or damaged.
type mandatoryCase struct {
	name    string
	method  string
	text    string
	branch  string
	want400 bool // a 400 is the only acceptable answer (else any non-5xx or nothing)
}

// mandatoryCases builds every method x every mandatory header removed (or
// repeated), initial and in-dialog, alternating long and compact header
// names so that compact forms are covered too.
func mandatoryCases(u *rawUAC) []mandatoryCase {
	methods := []string{"INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "UPDATE", "INFO", "REGISTER", "REFER", "NOTIFY", "MESSAGE", "PRACK", "SUBSCRIBE"}
	type hdr struct{ long, compact, value string }
	var cases []mandatoryCase
	n := 0
	for _, method := range methods {
		for _, inDialog := range []bool{false, true} {
			n++
			compact := n%2 == 0
			branch := "z9hG4bK" + unique("mh")
			callID := unique("mh-call-")
			to := fmt.Sprintf("<sip:+14155550199@%s>", sipHostPort(u.ep))
			if inDialog {
				to += ";tag=" + unique("tt")
			}
			headers := []hdr{
				{"Via", "v", fmt.Sprintf("SIP/2.0/%s %s;branch=%s;rport", u.transport, u.hostPort(), branch)},
				{"From", "f", fmt.Sprintf("<sip:+14155550100@%s>;tag=%s", u.hostPort(), unique("ft"))},
				{"To", "t", to},
				{"Call-ID", "i", callID},
				{"CSeq", "CSeq", "7 " + method},
				{"Max-Forwards", "Max-Forwards", "70"},
				{"Contact", "m", fmt.Sprintf("<sip:alice@%s;transport=%s>", u.hostPort(), strings.ToLower(u.transport))},
			}
			render := func(skip int, dup int, edit func(name, value string) string) string {
				var lines []string
				for i, h := range headers {
					if i == skip {
						continue
					}
					name := h.long
					if compact {
						name = h.compact
					}
					value := h.value
					if edit != nil {
						value = edit(h.long, value)
					}
					lines = append(lines, name+": "+value)
					if i == dup {
						lines = append(lines, name+": "+strings.Replace(value, "70", "69", 1)+"x")
					}
				}
				return sipMsg(method+" sip:+14155550199@"+sipHostPort(u.ep)+" SIP/2.0", lines, "")
			}
			kind := "initial"
			if inDialog {
				kind = "in-dialog"
			}
			for i, h := range headers {
				// Max-Forwards may be absent (it counts as 70); Contact is
				// mandatory only in target-refresh requests.
				must := h.long != "Max-Forwards" && (h.long != "Contact" || method == "INVITE" || method == "UPDATE")
				cases = append(cases, mandatoryCase{
					name: fmt.Sprintf("%s %s without %s", kind, method, h.long), method: method,
					text: render(i, -1, nil), branch: branch, want400: must && h.long != "Via" && method != "ACK",
				})
				if h.long == "Via" {
					continue // several Via are normal
				}
				cases = append(cases, mandatoryCase{
					name: fmt.Sprintf("%s %s with two %s", kind, method, h.long), method: method,
					text:    render(-1, i, nil),
					branch:  branch,
					want400: method != "ACK" && (h.long != "Contact" || method == "INVITE" || method == "UPDATE"),
				})
			}
			cases = append(cases, mandatoryCase{
				name: fmt.Sprintf("%s %s without From tag", kind, method), method: method, branch: branch,
				text: render(-1, -1, func(name, v string) string {
					if name == "From" {
						return v[:strings.Index(v, ";tag=")]
					}
					return v
				}),
				want400: method != "ACK",
			}, mandatoryCase{
				name: fmt.Sprintf("%s %s with a CSeq of another method", kind, method), method: method, branch: branch,
				text: render(-1, -1, func(name, v string) string {
					if name == "CSeq" {
						return "7 FOO"
					}
					return v
				}),
				want400: method != "ACK",
			})
		}
	}
	return cases
}

// TestMissingMandatoryHeaders: every method x every mandatory header
// removed or repeated, over UDP, TCP and TLS from an allowed source, gets
// 400 or is dropped; nothing panics, and a normal call works afterwards.
func TestMissingMandatoryHeaders(t *testing.T) {
	t.Parallel()
	for _, network := range []string{NetworkUDP, NetworkTCP, NetworkTLS} {
		t.Run(network, func(t *testing.T) {
			t.Parallel()
			testMissingMandatoryHeaders(t, network)
		})
	}
}

func testMissingMandatoryHeaders(t *testing.T, network string) {
	pki := newTestPKI(t)
	lo := netip.MustParseAddr("127.0.0.1")
	cert := pki.issue(t, "sbc", lo)
	rejecter := CallHandlerFunc(func(c *ServerCall) { _ = c.Reject(486, "Busy Here") })
	cfg := EndpointConfig{Name: "uas", Network: network, Handler: rejecter}
	if network == NetworkTLS {
		cfg.TLS = pki.mutualTLS(cert, nil)
	}
	ep := listenEP(t, cfg)

	var peer *rawPeer
	connect := func() *rawPeer {
		switch network {
		case NetworkUDP:
			return newRawUDP(t, "127.0.0.1")
		case NetworkTCP:
			c, err := net.Dial("tcp", ep.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			return newRawStream(t, c)
		default:
			c, err := tls.Dial("tcp", ep.Addr().String(), pki.mutualTLS(pki.issue(t, "peer", lo), nil))
			if err != nil {
				t.Fatal(err)
			}
			return newRawStream(t, c)
		}
	}
	transport := strings.ToUpper(network)
	peer = connect()
	u := newRawUAC(peer, ep.Addr(), transport)
	for _, tc := range mandatoryCases(u) {
		select {
		case <-peer.done: // the stream was closed: a drop, allowed; reconnect
			peer = connect()
			u.rawPeer = peer
		default:
		}
		text := strings.ReplaceAll(tc.text, u.hostPort(), peer.hostPort())
		peer.send(ep.Addr(), text)
		// A valid OPTIONS after it; its answer bounds the wait for the
		// case's own.
		probe := newRawUAC(peer, ep.Addr(), transport)
		probeText := probe.inDialog("OPTIONS", "")
		probeID := probe.callID
		peer.send(ep.Addr(), probeText)
		var got []rawMsg
		deadline := time.After(waitLong)
		probed := false
	collect:
		for {
			var grace <-chan time.Time
			if probed {
				grace = time.After(10 * time.Millisecond)
			}
			select {
			case m := <-peer.in:
				if headerValue(m.data, "Call-ID", "i") == probeID {
					probed = true
					continue
				}
				if strings.Contains(headerValue(m.data, "Via", "v"), tc.branch) {
					got = append(got, m)
				}
			case <-grace:
				break collect
			case <-peer.done:
				break collect
			case <-deadline:
				t.Fatalf("%s: the probe after it was never answered", tc.name)
			}
		}
		for _, m := range got {
			res := m.res()
			if res == nil {
				t.Errorf("%s: unparseable answer:\n%s", tc.name, m)
				continue
			}
			code := int(res.StatusCode)
			switch {
			case code == 100:
			case tc.want400 && code != 400:
				t.Errorf("%s: answered %d, want 400", tc.name, code)
			case code >= 500:
				t.Errorf("%s: answered %d", tc.name, code)
			}
		}
		if tc.want400 && len(got) == 0 && network == NetworkUDP && !strings.Contains(tc.name, "without To") &&
			!strings.Contains(tc.name, "without From") && !strings.Contains(tc.name, "without Call-ID") && !strings.Contains(tc.name, "without CSeq") {
			// Over UDP every case that still has the headers a response
			// needs is answered 400, statelessly, before sipgo sees it.
			t.Errorf("%s: no answer over UDP, want 400", tc.name)
		}
	}
	if p := ep.Stats().Panics; p != 0 {
		t.Errorf("%d panics recovered; validation should have stopped every case", p)
	}
	if ep.Stats().Malformed == 0 {
		t.Error("nothing counted as malformed")
	}

	// The endpoint still takes calls.
	caller := listenEP(t, EndpointConfig{Name: "uac", Network: network, TLS: cfg.TLS})
	q := make(callQueue, 1)
	ep2 := listenEP(t, EndpointConfig{Name: "uas2", Network: network, Handler: q, TLS: cfg.TLS})
	_ = ep2
	cc, sc := callPair(t, caller, ep2, q)
	_ = sc.Hangup(context.Background())
	if !closedSoon(cc.Done()) {
		t.Fatal("call not ended")
	}
	// And the endpoint that took the abuse answers a normal OPTIONS.
	res, err := caller.Options(context.Background(), URI{Host: ep.Addr().Addr().String(), Port: int(ep.Addr().Port())}, ep.Addr().String())
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("OPTIONS after the abuse: %v %d", err, res.StatusCode)
	}
}

// TestRefusedDatagramsCostNothing: 100,000 datagrams, valid OPTIONS and
// garbage, from refused sources (127.0.0.2-127.0.0.254, many ports) get no
// answer, leave heap and goroutines flat, and a call from an allowed source
// made during the flood succeeds.
func TestRefusedDatagramsCostNothing(t *testing.T) {
	allowed := netip.MustParseAddr("127.0.0.1")
	q := make(callQueue, 1)
	ep := listenEP(t, EndpointConfig{Name: "uas", Handler: q, AcceptSource: func(a netip.Addr) bool { return a == allowed }})
	caller := listenEP(t, EndpointConfig{Name: "uac"})

	// Warm up: one call, so that lazily built state exists before the baseline.
	cc, sc := callPair(t, caller, ep, q)
	_ = cc.Hangup(context.Background())
	<-sc.Done()
	heapBefore, goBefore := leakcheck.LiveHeap(), runtime.NumGoroutine()

	const perSocket, socketsPerIP = 20, 20
	var answered atomic.Int64
	var sent atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		options := func(i int, from string) []byte {
			return []byte(sipMsg("OPTIONS sip:"+sipHostPort(ep.Addr())+" SIP/2.0", []string{
				"Via: SIP/2.0/UDP " + from + ";branch=z9hG4bK-flood" + fmt.Sprint(i), "Max-Forwards: 70",
				"From: <sip:x@" + from + ">;tag=f" + fmt.Sprint(i), "To: <sip:" + sipHostPort(ep.Addr()) + ">",
				"Call-ID: flood-" + fmt.Sprint(i), "CSeq: 1 OPTIONS"}, ""))
		}
		garbage := []byte("\x00\x01garbage INVITE SIP/2.0\r\n\r\n")
		dst := net.UDPAddrFromAddrPort(ep.Addr())
		for ip := 2; ip <= 254; ip++ {
			for s := 0; s < socketsPerIP; s++ {
				c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, byte(ip))})
				if err != nil {
					t.Error(err)
					return
				}
				from := c.LocalAddr().String()
				for i := 0; i < perSocket; i++ {
					msg := garbage
					if i%2 == 0 {
						msg = options(i, from)
					}
					if _, err := c.WriteToUDP(msg, dst); err == nil {
						sent.Add(1)
					}
				}
				// Anything the endpoint answered would be waiting by now
				// for the earlier sockets; look once without blocking long.
				_ = c.SetReadDeadline(time.Now().Add(time.Millisecond))
				if n, _, err := c.ReadFrom(make([]byte, 2048)); err == nil && n > 0 {
					answered.Add(1)
				}
				_ = c.Close()
			}
		}
	}()
	// A legitimate call while the flood runs.
	cc, sc = callPair(t, caller, ep, q)
	_ = cc.Hangup(context.Background())
	if !closedSoon(sc.Done()) {
		t.Fatal("call during the flood did not end")
	}
	<-done
	if answered.Load() != 0 {
		t.Errorf("%d refused sources got an answer", answered.Load())
	}
	eventually(t, "flood counted", func() bool { return ep.Stats().Refused > 0 })
	t.Logf("sent %d datagrams from %d sources; endpoint counted %d refused", sent.Load(), 253*socketsPerIP, ep.Stats().Refused)
	if sent.Load() < 100000 {
		t.Errorf("only %d datagrams sent", sent.Load())
	}
	goroutinesSettle(t, goBefore)
	if grew := int64(leakcheck.LiveHeap()) - int64(heapBefore); grew > 1<<20 {
		t.Errorf("heap grew by %d bytes over the flood", grew)
	}
}

// TestStalledConnectionsReleased: 2,000 TCP connections that never send a
// ClientHello and 2,000 that finish the TLS handshake and go silent are
// closed by the handshake deadline and the idle timeout; a call made over
// TLS meanwhile succeeds and, carrying a dialog, outlives the idle timeout;
// file descriptors and goroutines return to their baseline.
func TestStalledConnectionsReleased(t *testing.T) {
	pki := newTestPKI(t)
	lo := netip.MustParseAddr("127.0.0.1")
	tlsCfg := pki.mutualTLS(pki.issue(t, "sbc", lo), nil)
	q := make(callQueue, 1)
	const idle = 1500 * time.Millisecond
	fdBefore, goBefore := leakcheck.OpenFDs(t), runtime.NumGoroutine()
	ep, err := Listen(EndpointConfig{Name: "uas", Network: NetworkTLS, TLS: tlsCfg, Handler: q, Logger: testLogger(),
		Limits: Limits{HandshakeTimeout: time.Second, IdleTimeout: idle, MaxConnections: 10000, MaxConnectionsPerSource: 10000}})
	if err != nil {
		t.Fatal(err)
	}
	caller, err := Listen(EndpointConfig{Name: "uac", Network: NetworkTLS, TLS: tlsCfg, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}

	const n = 2000
	var conns []net.Conn
	var mu sync.Mutex
	keep := func(c net.Conn) {
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
	}
	// Silent TCP connections from several loopback addresses.
	for i := range n {
		c, err := net.DialTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 1, byte(1+i%200))}, net.TCPAddrFromAddrPort(ep.Addr()))
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		keep(c)
	}
	// Handshaken TLS connections that then say nothing, dialled by 4 workers.
	var wg sync.WaitGroup
	var failed atomic.Int32
	clientCfg := pki.mutualTLS(pki.issue(t, "idle", lo), nil)
	// Resumed sessions keep the test's CPU on the listener, not on ECDSA.
	clientCfg.ClientSessionCache = tls.NewLRUClientSessionCache(1)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 4 {
				d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 2, byte(1+i%200))}}
				c, err := tls.DialWithDialer(d, "tcp", ep.Addr().String(), clientCfg)
				if err != nil {
					failed.Add(1)
					continue
				}
				keep(c)
			}
		}()
	}
	// Meanwhile, a call over TLS.
	start := time.Now()
	cc, sc := callPair(t, caller, ep, q)
	t.Logf("call set up in %s", time.Since(start))
	wg.Wait()
	t.Logf("TLS connections made in %s", time.Since(start))
	if f := failed.Load(); f > 0 {
		t.Errorf("%d TLS handshakes failed while the listener was busy", f)
	}
	eventually(t, "stalled handshakes ended", func() bool { return ep.Stats().HandshakeFailures >= n })
	// Every stalled and idle connection is closed by the server: reads see EOF.
	mu.Lock()
	all := conns
	mu.Unlock()
	for i, c := range all {
		_ = c.SetReadDeadline(time.Now().Add(waitLong))
		if _, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
			t.Fatalf("connection %d still open: %v", i, err)
		}
		_ = c.Close()
	}
	t.Logf("all closed by the server after %s", time.Since(start))
	if got := ep.Stats().IdleClosed; got < n {
		t.Errorf("IdleClosed = %d, want >= %d", got, n)
	}
	// The call's connection carried a dialog: it outlived the idle timeout,
	// and the BYE travels on it.
	if err := sc.Hangup(context.Background()); err != nil {
		t.Fatalf("BYE after the idle timeout: %v", err)
	}
	if !closedSoon(cc.Done()) {
		t.Fatal("caller did not see the BYE")
	}
	if err := ep.Close(); err != nil {
		t.Error(err)
	}
	if err := caller.Close(); err != nil {
		t.Error(err)
	}
	goroutinesSettle(t, goBefore)
	leakcheck.FDs(t, fdBefore, waitLong)
}

// TestConnectionLimits: a refused source is closed before the TLS
// handshake, and connections beyond MaxConnectionsPerSource or
// MaxConnections are closed at accept; slots free up when connections close.
func TestConnectionLimits(t *testing.T) {
	t.Parallel()
	pki := newTestPKI(t)
	lo := netip.MustParseAddr("127.0.0.1")
	tlsCfg := pki.mutualTLS(pki.issue(t, "sbc", lo), nil)
	var handshakes atomic.Int32
	serverCfg := tlsCfg.Clone()
	serverCfg.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		handshakes.Add(1)
		return nil, nil
	}
	refused := netip.MustParseAddr("127.0.0.9")
	ep := listenEP(t, EndpointConfig{Name: "uas", Network: NetworkTLS, TLS: serverCfg,
		AcceptSource: func(a netip.Addr) bool { return a != refused },
		Limits:       Limits{MaxConnections: 3, MaxConnectionsPerSource: 2}})
	clientCfg := pki.mutualTLS(pki.issue(t, "peer", lo), nil)
	dial := func(from string) (*tls.Conn, error) {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: waitLong}
		c, err := tls.DialWithDialer(d, "tcp", ep.Addr().String(), clientCfg)
		if err == nil {
			t.Cleanup(func() { _ = c.Close() })
			// TLS 1.3 clients finish before the server has read their
			// certificate; a read proves the server kept the connection.
			_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			if _, rerr := c.Read(make([]byte, 1)); rerr != nil && !isTimeout(rerr) {
				return nil, rerr
			}
			_ = c.SetReadDeadline(time.Time{})
		}
		return c, err
	}

	if _, err := dial(refused.String()); err == nil {
		t.Error("refused source completed a TLS handshake")
	}
	if handshakes.Load() != 0 {
		t.Error("the TLS handshake started for a refused source")
	}
	if ep.Stats().Refused != 1 {
		t.Errorf("Refused = %d, want 1", ep.Stats().Refused)
	}

	a1, err := dial("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dial("127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	if _, err := dial("127.0.0.1"); err == nil {
		t.Error("third connection from one source accepted with MaxConnectionsPerSource 2")
	}
	if _, err := dial("127.0.0.2"); err != nil {
		t.Fatalf("another source refused below the caps: %v", err)
	}
	if _, err := dial("127.0.0.3"); err == nil {
		t.Error("fourth connection accepted with MaxConnections 3")
	}
	if got := ep.Stats().ConnectionsRefused; got != 2 {
		t.Errorf("ConnectionsRefused = %d, want 2", got)
	}
	_ = a1.Close()
	eventually(t, "slot released", func() bool { return ep.Stats().Connections == 2 })
	if _, err := dial("127.0.0.1"); err != nil {
		t.Errorf("no slot after a connection closed: %v", err)
	}
}

// TestServerCallContextEndsWithCall: an answered call's Context is
// cancelled when the call ends, so that nothing hangs off the Endpoint's
// context after the call.
func TestServerCallContextEndsWithCall(t *testing.T) {
	t.Parallel()
	ep, q, uac := newUASRig(t, EndpointConfig{})
	call := uac.establish(t, q)
	if call.Context().Err() != nil {
		t.Fatal("context ended while the call is up")
	}
	uac.send(ep.Addr(), uac.inDialog("BYE", ""))
	uac.expect("200 for BYE", isResponse(200, sip.BYE))
	if !closedSoon(call.Context().Done()) {
		t.Fatal("context of an ended call was never cancelled")
	}
}
