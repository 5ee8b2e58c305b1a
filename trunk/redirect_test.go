package trunk

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/byocp/byocp/sip"
	"github.com/byocp/byocp/trunk/trunktest"
)

// redirectOffer is the SDP offer of the redirect tests' calls; a redirected
// INVITE must carry it byte for byte.
const redirectOffer = "v=0\r\n" +
	"o=byocp 4242 7 IN IP4 127.0.0.1\r\n" +
	"s=byocp\r\n" +
	"c=IN IP4 127.0.0.1\r\n" +
	"t=0 0\r\n" +
	"m=audio 41000 RTP/AVP 0 101\r\n" +
	"a=rtpmap:0 PCMU/8000\r\n" +
	"a=rtpmap:101 telephone-event/8000\r\n" +
	"a=fmtp:101 0-16\r\n" +
	"a=ptime:20\r\n" +
	"a=sendrecv\r\n"

const (
	redirectCaller = "+14155550100"
	redirectCallee = "+442079460000"
)

// logBuffer collects a test's log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// count is the number of log lines containing s.
func (b *logBuffer) count(s string) int { return strings.Count(b.String(), s) }

// newRedirectTrunk starts a trunk on loopback whose Peer is peer.
func newRedirectTrunk(t *testing.T, peer netip.AddrPort, r Redirects) (*Trunk, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	tr, err := New(Config{
		Listen:          "127.0.0.1:0",
		Peer:            peer.String(),
		Redirects:       r,
		ResponseTimeout: 2 * time.Second,
	}, nil, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tr.Close() })
	return tr, logs
}

// newRedirectCarrier starts a fake carrier with behaviour b.
func newRedirectCarrier(t *testing.T, b trunktest.Behavior) *trunktest.Carrier {
	t.Helper()
	c, err := trunktest.NewCarrier(trunktest.Config{Behavior: b})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// redirectTo is a carrier behaviour that answers status with the given
// Contact header value.
func redirectTo(status int, contact string) trunktest.Behavior {
	return trunktest.Behavior{Status: status, Headers: []sip.Header{{Name: "Contact", Value: contact}}}
}

// dial places the test call through tr.
func dial(t *testing.T, tr *Trunk) (*sip.ClientCall, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	call, err := tr.Dial(ctx, sip.Party{Number: redirectCaller}, sip.Party{Number: redirectCallee}, []byte(redirectOffer), sip.EarlyHooks{})
	if call != nil {
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = call.Hangup(ctx)
		})
	}
	return call, err
}

// received returns the call c received next, failing the test if none
// arrives within a few seconds.
func received(t *testing.T, c *trunktest.Carrier, name string) *trunktest.Call {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	call, err := c.Accept(ctx)
	if err != nil {
		t.Fatalf("%s received no INVITE: %v", name, err)
	}
	return call
}

// receivedNothing fails the test if c received a call.
func receivedNothing(t *testing.T, c *trunktest.Carrier, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if call, err := c.Accept(ctx); err == nil {
		t.Errorf("%s received an INVITE to %s", name, call.Invite().RequestURI)
	}
}

// wantStatus checks that err is a *sip.StatusError with code.
func wantStatus(t *testing.T, err error, code int) *sip.StatusError {
	t.Helper()
	var se *sip.StatusError
	if !errors.As(err, &se) || se.Response.StatusCode != code {
		t.Fatalf("Dial error = %v, want a *sip.StatusError %d", err, code)
	}
	return se
}

// wantOffer checks that a call received the test offer byte for byte.
func wantOffer(t *testing.T, c *trunktest.Call, name string) {
	t.Helper()
	if body := c.Invite().Body; !bytes.Equal(body, []byte(redirectOffer)) {
		t.Errorf("%s received the SDP\n%q\nwant byte for byte\n%q", name, body, redirectOffer)
	}
}

// TestRedirectFollowedToGateway: the carrier's 302 points to one of its
// configured gateways; the trunk sends the INVITE there with the same SDP,
// byte for byte, the Contact's user in the Request-URI and the original
// To, and the call is answered there.
func TestRedirectFollowedToGateway(t *testing.T) {
	t.Parallel()
	gw := newRedirectCarrier(t, trunktest.Behavior{})
	peer := newRedirectCarrier(t, redirectTo(302, fmt.Sprintf("<sip:+15550001@%s>", gw.Addr())))
	tr, logs := newRedirectTrunk(t, peer.Addr(), Redirects{Follow: true, Gateways: []string{gw.Addr().String()}})

	call, err := dial(t, tr)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	atPeer, atGW := received(t, peer, "peer"), received(t, gw, "gateway")
	wantOffer(t, atPeer, "peer")
	wantOffer(t, atGW, "gateway")
	inv := atGW.Invite()
	if want := fmt.Sprintf("sip:+15550001@%s", gw.Addr()); inv.RequestURI.String() != want {
		t.Errorf("gateway's Request-URI %s, want %s", inv.RequestURI, want)
	}
	if inv.To.URI.User != redirectCallee || inv.From.URI.User != redirectCaller {
		t.Errorf("gateway's From %s To %s, want the original parties", inv.From.URI, inv.To.URI)
	}
	if inv.CallID == atPeer.Invite().CallID {
		t.Errorf("the redirected INVITE reused the Call-ID %s", inv.CallID)
	}
	if call.CallID() != inv.CallID {
		t.Errorf("call's Call-ID %s, the gateway's %s", call.CallID(), inv.CallID)
	}
	if n := logs.count("following carrier redirect"); n != 1 {
		t.Errorf("%d redirects logged as followed, want 1:\n%s", n, logs)
	}
}

// TestRedirectToUnknownAddressNotFollowed: a 302 to an address that is
// neither the Peer nor a configured gateway (another port of a gateway's
// IP, another user's address) is returned unchanged; nothing is sent there.
func TestRedirectToUnknownAddressNotFollowed(t *testing.T) {
	t.Parallel()
	gw := newRedirectCarrier(t, trunktest.Behavior{})
	stranger := newRedirectCarrier(t, trunktest.Behavior{})
	contact := fmt.Sprintf("<sip:+15550001@%s>", stranger.Addr())
	peer := newRedirectCarrier(t, redirectTo(302, contact))
	tr, logs := newRedirectTrunk(t, peer.Addr(), Redirects{Follow: true, Gateways: []string{gw.Addr().String()}})

	_, err := dial(t, tr)
	se := wantStatus(t, err, 302)
	if got := se.Response.Header("Contact"); !strings.Contains(got, stranger.Addr().String()) {
		t.Errorf("returned 302's Contact %q, want the carrier's %q", got, contact)
	}
	received(t, peer, "peer")
	receivedNothing(t, stranger, "the unknown address")
	receivedNothing(t, gw, "the gateway")
	if logs.count("not the Peer or one of Redirects.Gateways") != 1 || logs.count("following carrier redirect") != 0 {
		t.Errorf("logs:\n%s", logs)
	}
}

// TestRedirectFollowOff: with following off (the default) a 302 to a
// configured gateway is returned as it is.
func TestRedirectFollowOff(t *testing.T) {
	t.Parallel()
	gw := newRedirectCarrier(t, trunktest.Behavior{})
	peer := newRedirectCarrier(t, redirectTo(302, fmt.Sprintf("<sip:+15550001@%s>", gw.Addr())))
	tr, logs := newRedirectTrunk(t, peer.Addr(), Redirects{Gateways: []string{gw.Addr().String()}})

	_, err := dial(t, tr)
	wantStatus(t, err, 302)
	received(t, peer, "peer")
	receivedNothing(t, gw, "the gateway")
	if logs.count("Redirects.Follow is off") != 1 {
		t.Errorf("logs:\n%s", logs)
	}
}

// TestRedirectQOrder: a 300 lists two gateways; the one with the higher
// q-value is tried first, and when it answers 503 the other one is tried
// and answers. A Contact without a user part gets the callee's number.
func TestRedirectQOrder(t *testing.T) {
	t.Parallel()
	low := newRedirectCarrier(t, trunktest.Behavior{})
	high := newRedirectCarrier(t, trunktest.Behavior{Status: 503})
	peer := newRedirectCarrier(t, redirectTo(300,
		fmt.Sprintf("<sip:low@%s>;q=0.2, <sip:%s>;q=0.9", low.Addr(), high.Addr())))
	tr, logs := newRedirectTrunk(t, peer.Addr(), Redirects{Follow: true, Gateways: []string{low.Addr().String(), high.Addr().String()}})

	call, err := dial(t, tr)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	received(t, peer, "peer")
	atHigh, atLow := received(t, high, "q=0.9 gateway"), received(t, low, "q=0.2 gateway")
	if u := atHigh.Invite().RequestURI.User; u != redirectCallee {
		t.Errorf("q=0.9 gateway's Request-URI user %q, want the callee %q", u, redirectCallee)
	}
	if u := atLow.Invite().RequestURI.User; u != "low" {
		t.Errorf("q=0.2 gateway's Request-URI user %q, want low", u)
	}
	wantOffer(t, atHigh, "q=0.9 gateway")
	wantOffer(t, atLow, "q=0.2 gateway")
	if call.CallID() != atLow.Invite().CallID {
		t.Errorf("the call was not answered by the q=0.2 gateway")
	}
	if n := logs.count("following carrier redirect"); n != 2 {
		t.Errorf("%d redirects logged as followed, want 2:\n%s", n, logs)
	}
}

// TestRedirectTargetRefusal: a redirect target that answers 486 ends the
// call with it; the next Contact is not tried.
func TestRedirectTargetRefusal(t *testing.T) {
	t.Parallel()
	low := newRedirectCarrier(t, trunktest.Behavior{})
	busy := newRedirectCarrier(t, trunktest.Behavior{Status: 486})
	peer := newRedirectCarrier(t, redirectTo(300,
		fmt.Sprintf("<sip:a@%s>;q=0.1, <sip:b@%s>;q=0.5", low.Addr(), busy.Addr())))
	tr, _ := newRedirectTrunk(t, peer.Addr(), Redirects{Follow: true, Gateways: []string{low.Addr().String(), busy.Addr().String()}})

	_, err := dial(t, tr)
	wantStatus(t, err, 486)
	received(t, busy, "busy gateway")
	receivedNothing(t, low, "q=0.1 gateway")
}

// TestRedirectLoopBetweenCarriers: two gateways redirect to each other;
// each Request-URI is tried once, and the last 302 is returned.
func TestRedirectLoopBetweenCarriers(t *testing.T) {
	t.Parallel()
	a := newRedirectCarrier(t, trunktest.Behavior{Status: 302})
	b := newRedirectCarrier(t, redirectTo(302, fmt.Sprintf("<sip:a@%s>", a.Addr())))
	a.SetBehavior(redirectTo(302, fmt.Sprintf("<sip:b@%s>", b.Addr())))
	tr, logs := newRedirectTrunk(t, a.Addr(), Redirects{Follow: true, Gateways: []string{b.Addr().String()}})

	_, err := dial(t, tr)
	se := wantStatus(t, err, 302)
	if !strings.Contains(se.Response.Header("Contact"), "sip:b@") {
		t.Errorf("returned the 302 with Contact %q, want a's second one", se.Response.Header("Contact"))
	}
	first, second := received(t, a, "a"), received(t, a, "a")
	atB := received(t, b, "b")
	if first.Invite().RequestURI.User != redirectCallee || atB.Invite().RequestURI.User != "b" || second.Invite().RequestURI.User != "a" {
		t.Errorf("INVITEs to %s, %s, %s", first.Invite().RequestURI, atB.Invite().RequestURI, second.Invite().RequestURI)
	}
	receivedNothing(t, a, "a")
	receivedNothing(t, b, "b")
	if logs.count("already tried") != 1 || logs.count("following carrier redirect") != 2 {
		t.Errorf("logs:\n%s", logs)
	}
}

// TestRedirectHopLimit: a carrier that redirects every INVITE to itself
// with a new user part (a loop the tried set cannot see) gets at most
// MaxRedirects redirected INVITEs; its last 302 is returned.
func TestRedirectHopLimit(t *testing.T) {
	t.Parallel()
	uas := newLoopUAS(t)
	tr, logs := newRedirectTrunk(t, uas.addr(), Redirects{Follow: true})

	_, err := dial(t, tr)
	se := wantStatus(t, err, 302)
	want := fmt.Sprintf("hop%d@", MaxRedirects+1)
	if !strings.Contains(se.Response.Header("Contact"), want) {
		t.Errorf("returned the 302 with Contact %q, want the one naming %s", se.Response.Header("Contact"), want)
	}
	time.Sleep(200 * time.Millisecond) // nothing more arrives
	if got := uas.uris(); len(got) != MaxRedirects+1 {
		t.Errorf("%d INVITEs (%q), want %d", len(got), got, MaxRedirects+1)
	} else {
		for i, u := range got[1:] {
			if want := fmt.Sprintf("sip:hop%d@%s", i+1, uas.addr()); u != want {
				t.Errorf("INVITE %d to %s, want %s", i+2, u, want)
			}
		}
	}
	if logs.count("limit reached") != 1 || logs.count("following carrier redirect") != MaxRedirects {
		t.Errorf("logs:\n%s", logs)
	}
}

// loopUAS is a raw UDP SIP responder that answers every INVITE with a 302
// to itself with a new user part, hopN for the Nth INVITE, and records
// the Request-URIs. Retransmissions get the same answer; ACKs are ignored.
type loopUAS struct {
	conn *net.UDPConn
	done chan struct{}

	mu      sync.Mutex
	byCall  map[string]string // Call-ID -> the response sent
	request []string          // Request-URIs in arrival order
}

func newLoopUAS(t *testing.T) *loopUAS {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	u := &loopUAS{conn: conn, done: make(chan struct{}), byCall: map[string]string{}}
	go u.serve()
	t.Cleanup(func() { _ = conn.Close(); <-u.done })
	return u
}

func (u *loopUAS) addr() netip.AddrPort { return u.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

func (u *loopUAS) uris() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]string(nil), u.request...)
}

func (u *loopUAS) serve() {
	defer close(u.done)
	buf := make([]byte, 65536)
	for {
		n, from, err := u.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		msg := string(buf[:n])
		start, _, _ := strings.Cut(msg, "\r\n")
		if !strings.HasPrefix(start, "INVITE ") {
			continue
		}
		callID := rawHeader(msg, "Call-ID", "i")[0]
		u.mu.Lock()
		res, seen := u.byCall[callID]
		if !seen {
			u.request = append(u.request, strings.Fields(start)[1])
			res = rawRedirect(msg, fmt.Sprintf("<sip:hop%d@%s>", len(u.request), u.addr()))
			u.byCall[callID] = res
		}
		u.mu.Unlock()
		_, _ = u.conn.WriteToUDPAddrPort([]byte(res), from)
	}
}

// rawHeader returns the values of the named header field of a SIP
// message's header section (names case-insensitive, compact forms too).
func rawHeader(msg string, names ...string) []string {
	head, _, _ := strings.Cut(msg, "\r\n\r\n")
	var out []string
	for _, line := range strings.Split(head, "\r\n")[1:] {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		for _, n := range names {
			if strings.EqualFold(strings.TrimSpace(name), n) {
				out = append(out, strings.TrimSpace(value))
			}
		}
	}
	return append(out, "") // never empty: out[0] is "" when absent
}

// rawRedirect is a 302 to the INVITE msg with the given Contact.
func rawRedirect(msg, contact string) string {
	var b strings.Builder
	b.WriteString("SIP/2.0 302 Moved Temporarily\r\n")
	for _, v := range rawHeader(msg, "Via", "v") {
		if v != "" {
			b.WriteString("Via: " + v + "\r\n")
		}
	}
	b.WriteString("From: " + rawHeader(msg, "From", "f")[0] + "\r\n")
	b.WriteString("To: " + rawHeader(msg, "To", "t")[0] + ";tag=loop\r\n")
	b.WriteString("Call-ID: " + rawHeader(msg, "Call-ID", "i")[0] + "\r\n")
	b.WriteString("CSeq: " + rawHeader(msg, "CSeq")[0] + "\r\n")
	b.WriteString("Contact: " + contact + "\r\n")
	b.WriteString("Content-Length: 0\r\n\r\n")
	return b.String()
}

// TestRedirectRequest: which Contacts the trunk follows, and the INVITE it
// makes of one.
func TestRedirectRequest(t *testing.T) {
	cfg := Config{
		Peer: "192.0.2.10:5060",
		Redirects: Redirects{Follow: true, Gateways: []string{
			"198.51.100.21:5070", "GW2.Carrier.example.:5060", "[2001:db8::21]:5060", "198.51.100.22:5060",
		}},
	}
	tr := &Trunk{cfg: cfg, peerHost: "192.0.2.10", peerPort: 5060, gateways: gatewaysOf(cfg)}
	base := sip.InviteRequest{
		RequestURI:  sip.URI{User: "+442079460000", Host: "192.0.2.10", Port: 5060},
		Destination: cfg.Peer,
		From:        sip.NameAddr{URI: sip.URI{User: "+14155550100", Host: "192.0.2.1"}},
		To:          sip.NameAddr{URI: sip.URI{User: "+442079460000", Host: "192.0.2.10"}},
		SDP:         []byte(redirectOffer),
		Headers:     []sip.Header{{Name: "P-Asserted-Identity", Value: "<sip:+14155550100@192.0.2.1>"}},
	}
	sipURI := func(user, host string, port int) sip.URI {
		return sip.URI{Scheme: "sip", User: user, Host: host, Port: port}
	}
	tests := []struct {
		name   string
		target sip.RedirectTarget
		ruri   string // "" when not followed
		dest   string
		why    string
	}{
		{"the Peer, default port", sip.RedirectTarget{URI: sipURI("+15550001", "192.0.2.10", 0)},
			"sip:+15550001@192.0.2.10", "192.0.2.10:5060", ""},
		{"a gateway by IP and port", sip.RedirectTarget{URI: sipURI("", "198.51.100.21", 5070)},
			"sip:+442079460000@198.51.100.21:5070", "198.51.100.21:5070", ""},
		{"a gateway by host name in another case", sip.RedirectTarget{URI: sipURI("x", "gw2.CARRIER.example", 0)},
			"sip:x@gw2.CARRIER.example", "gw2.CARRIER.example:5060", ""},
		{"an IPv6 gateway written otherwise", sip.RedirectTarget{URI: sipURI("x", "2001:DB8:0::21", 5060)},
			"sip:x@[2001:DB8:0::21]:5060", "[2001:DB8:0::21]:5060", ""},
		{"an IPv4-mapped gateway address", sip.RedirectTarget{URI: sipURI("x", "::ffff:198.51.100.22", 0)},
			"sip:x@[::ffff:198.51.100.22]", "[::ffff:198.51.100.22]:5060", ""},
		{"explicit transport udp", sip.RedirectTarget{URI: sipURI("x", "198.51.100.22", 0), Transport: "udp"},
			"sip:x@198.51.100.22", "198.51.100.22:5060", ""},
		{"maddr pointing at a gateway", sip.RedirectTarget{URI: sipURI("x", "elsewhere.example", 5070), MAddr: "198.51.100.21"},
			"sip:x@elsewhere.example:5070", "198.51.100.21:5070", ""},
		{"maddr pointing elsewhere", sip.RedirectTarget{URI: sipURI("x", "198.51.100.21", 5070), MAddr: "203.0.113.9"},
			"", "", "not the Peer"},
		{"a gateway's IP on its default port", sip.RedirectTarget{URI: sipURI("x", "198.51.100.21", 0)},
			"", "", "not the Peer"},
		{"an unknown address", sip.RedirectTarget{URI: sipURI("x", "203.0.113.9", 5060)},
			"", "", "not the Peer"},
		{"a host name the gateway does not have", sip.RedirectTarget{URI: sipURI("x", "gw3.carrier.example", 5060)},
			"", "", "not the Peer"},
		{"SIPS", sip.RedirectTarget{URI: sip.URI{Scheme: "sips", User: "x", Host: "198.51.100.22", Port: 5060}},
			"", "", "SIPS"},
		{"another transport", sip.RedirectTarget{URI: sipURI("x", "198.51.100.22", 0), Transport: "tcp"},
			"", "", "transport tcp, the trunk uses udp"},
	}
	for _, tt := range tests {
		next, why := tr.redirectRequest(base, "+442079460000", tt.target)
		switch {
		case tt.ruri == "" && !strings.HasPrefix(why, tt.why):
			t.Errorf("%s: followed (%q), want not followed: %s", tt.name, why, tt.why)
		case tt.ruri != "" && why != "":
			t.Errorf("%s: not followed: %s", tt.name, why)
		case tt.ruri != "" && (next.RequestURI.String() != tt.ruri || next.Destination != tt.dest):
			t.Errorf("%s: Request-URI %s to %s, want %s to %s", tt.name, next.RequestURI, next.Destination, tt.ruri, tt.dest)
		case tt.ruri != "" && (next.To != base.To || next.From != base.From || &next.SDP[0] != &base.SDP[0] || len(next.Headers) != 1):
			t.Errorf("%s: the INVITE changed more than its target: %+v", tt.name, next)
		}
	}
}

func TestRedirectsValidate(t *testing.T) {
	good := Config{Listen: "127.0.0.1:5060", Peer: "192.0.2.10:5060", Redirects: Redirects{Follow: true, Gateways: []string{"192.0.2.11:5060", "[2001:db8::1]:5080"}}}
	for _, c := range []Config{
		good,
		{Listen: "127.0.0.1:5060", Peer: "192.0.2.10:5060", Redirects: Redirects{Gateways: []string{"gw.example:5060"}}},
		{Listen: "127.0.0.1:5060", Peer: "192.0.2.10:5060", AllowedSources: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")},
			Redirects: Redirects{Follow: true, Gateways: []string{"gw.example:5060", "192.0.2.99:5060"}}},
	} {
		if err := c.Validate(); err != nil {
			t.Errorf("%+v: %v", c.Redirects, err)
		}
	}
	tests := []struct {
		field string
		edit  func(*Config)
	}{
		{"Redirects.Gateways[1]", func(c *Config) { c.Redirects.Gateways[1] = "192.0.2.12" }},
		{"Redirects.Gateways[0]", func(c *Config) { c.Redirects.Gateways[0] = ":5060" }},
		{"Redirects.Gateways[1]", func(c *Config) { c.Redirects.Gateways[1] = "192.0.2.12:0" }},
		{"Redirects.Gateways[0]", func(c *Config) { c.Redirects.Gateways[0] = "192.0.2.12:65536" }},
		{"Redirects.Gateways[0]", func(c *Config) { c.Redirects.Follow = false; c.Redirects.Gateways[0] = "gw" }},
		{"AllowedSources", func(c *Config) { c.Redirects.Gateways[1] = "gw.example:5060" }},
		{"Redirects.Gateways[0]", func(c *Config) {
			c.AllowedSources = []netip.Prefix{netip.MustParsePrefix("192.0.2.10/32"), netip.MustParsePrefix("2001:db8::/32")}
		}},
	}
	for _, tt := range tests {
		c := good
		c.Redirects.Gateways = append([]string(nil), good.Redirects.Gateways...)
		tt.edit(&c)
		err := c.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), tt.field+":") {
			t.Errorf("config %+v: error %v, want it to name %s", c.Redirects, err, tt.field)
		}
	}
}

// TestRedirectsDefaultSources: with following on, the gateways' IPs join
// the Peer's in the default IP ACL; with it off they do not.
func TestRedirectsDefaultSources(t *testing.T) {
	c := Config{Peer: "192.0.2.10:5060", Redirects: Redirects{Gateways: []string{"192.0.2.11:5060", "[::ffff:192.0.2.12]:5060", "192.0.2.10:5070", "[2001:db8::1]:5060"}}}
	if got := fmt.Sprint(c.defaultSources()); got != "[192.0.2.10/32]" {
		t.Errorf("following off: %s", got)
	}
	c.Redirects.Follow = true
	if got := fmt.Sprint(c.defaultSources()); got != "[192.0.2.10/32 192.0.2.11/32 192.0.2.12/32 2001:db8::1/128]" {
		t.Errorf("following on: %s", got)
	}
}

// TestRedirectToItself: a 302 whose Contact is the very target of the
// INVITE (the Peer, the callee's number) is not followed.
func TestRedirectToItself(t *testing.T) {
	t.Parallel()
	peer := newRedirectCarrier(t, trunktest.Behavior{Status: 302})
	peer.SetBehavior(redirectTo(302, fmt.Sprintf("<sip:%s;transport=UDP>", peer.Addr())))
	tr, logs := newRedirectTrunk(t, peer.Addr(), Redirects{Follow: true})

	_, err := dial(t, tr)
	wantStatus(t, err, 302)
	received(t, peer, "peer")
	receivedNothing(t, peer, "peer")
	if logs.count("already tried") != 1 {
		t.Errorf("logs:\n%s", logs)
	}
}

// TestRedirectKey: targets that differ only in how the port is written
// are the same.
func TestRedirectKey(t *testing.T) {
	a := sip.InviteRequest{RequestURI: sip.URI{User: "+1555", Host: "GW.example", Port: 5060}, Destination: "gw.example:5060"}
	b := sip.InviteRequest{RequestURI: sip.URI{User: "+1555", Host: "gw.example"}, Destination: "GW.example:5060"}
	c := sip.InviteRequest{RequestURI: sip.URI{User: "+1556", Host: "gw.example"}, Destination: "gw.example:5060"}
	if redirectKey(a) != redirectKey(b) || redirectKey(a) == redirectKey(c) {
		t.Errorf("keys %q, %q, %q", redirectKey(a), redirectKey(b), redirectKey(c))
	}
}
