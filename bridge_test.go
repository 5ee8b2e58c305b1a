package byocp_test

import (
	"bytes"
	"errors"
	"net"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/byocp/byocp"
	"github.com/byocp/byocp/media"
	"github.com/byocp/byocp/peering"
	"github.com/byocp/byocp/peering/peeringtest"
	"github.com/byocp/byocp/sdp"
	"github.com/byocp/byocp/sip"
	"github.com/byocp/byocp/trunk/trunktest"
)

const audioPackets = 50

// exchangeAudio sends audioPackets each way and checks that at least 90 %
// arrive intact on each side.
func exchangeAudio(t *testing.T, a, b fakeCall) {
	t.Helper()
	if err := a.TalkWith(ctxFor(t, 10*time.Second), b, audioPackets); err != nil {
		t.Fatal(err)
	}
	for _, c := range []fakeCall{a, b} {
		if got := c.Media().Intact; got < audioPackets*9/10 {
			t.Errorf("%s received %d intact packets of %d (%+v)", c.Description(), got, audioPackets, c.Media())
		}
		if s := c.Media(); s.Corrupt > 0 || s.AuthFailed > 0 {
			t.Errorf("corrupt or undecryptable packets: %+v", s)
		}
	}
}

// answered waits for an incoming fake call to be answered.
func answered(t *testing.T, c fakeCall) {
	t.Helper()
	select {
	case <-c.Answered():
	case <-time.After(10 * time.Second):
		t.Fatal("call not answered")
	}
}

func waitDone(t *testing.T, c fakeCall, what string) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: call not ended", what)
	}
}

func TestCarrierToZoomHangupByCarrier(t *testing.T) {
	r := newRig(t, nil)
	ctx := ctxFor(t, 20*time.Second)
	out, in := r.carrierCallsZoom(t, ctx)
	exchangeAudio(t, out, in)
	if err := out.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	waitDone(t, in, "zoom leg")
	if !in.HungUpByPeer() {
		t.Error("zoom leg did not receive BYE")
	}
	rec := r.record(t)
	if rec.HangupBy != byocp.HangupCarrier || rec.Status != 200 || rec.Direction != byocp.CarrierToZoom {
		t.Errorf("record: %+v", rec)
	}
	if rec.Codec != "PCMU/8000" {
		t.Errorf("record codec %q, want PCMU/8000 (the carrier's first)", rec.Codec)
	}
	if rec.Callee != "+442079460000" || rec.Caller != "+14155550100" {
		t.Errorf("numbers not E.164 between legs: caller %q callee %q", rec.Caller, rec.Callee)
	}
	if in.Invite().RequestURI.User != "+442079460000" {
		t.Errorf("Zoom Request-URI user %q, want +E.164", in.Invite().RequestURI.User)
	}
	if rec.Media.AtoB.Forwarded < audioPackets*9/10 || rec.Media.BtoA.Forwarded < audioPackets*9/10 {
		t.Errorf("relay counters: %+v", rec.Media)
	}
}

func TestZoomToCarrierHangupByZoom(t *testing.T) {
	r := newRig(t, nil)
	ctx := ctxFor(t, 20*time.Second)
	out, in := r.zoomCallsCarrier(t, ctx)
	if out.Suite() != string(sdp.SuiteAESCM128HMACSHA180) {
		t.Errorf("suite %q, want AES_CM_128_HMAC_SHA1_80 (preferred of Zoom's four)", out.Suite())
	}
	exchangeAudio(t, out, in)
	if err := out.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	waitDone(t, in, "carrier leg")
	if !in.HungUpByPeer() {
		t.Error("carrier leg did not receive BYE")
	}
	rec := r.record(t)
	if rec.HangupBy != byocp.HangupZoom || rec.Direction != byocp.ZoomToCarrier {
		t.Errorf("record: %+v", rec)
	}
}

func TestHangupFromCalledSide(t *testing.T) {
	r := newRig(t, nil)
	ctx := ctxFor(t, 20*time.Second)
	out, in := r.zoomCallsCarrier(t, ctx)
	if err := in.Hangup(ctx); err != nil { // the carrier (callee) hangs up
		t.Fatal(err)
	}
	waitDone(t, out, "zoom leg")
	if !out.HungUpByPeer() {
		t.Error("zoom leg did not receive BYE")
	}
	if rec := r.record(t); rec.HangupBy != byocp.HangupCarrier {
		t.Errorf("hangup by %q, want carrier", rec.HangupBy)
	}
}

func TestCancelBeforeAnswer(t *testing.T) {
	r := newRig(t, nil)
	r.zoom.SetBehavior(peeringtest.Behavior{Ring: time.Minute})
	ctx := ctxFor(t, 20*time.Second)
	dialCtx, cancel := ctxWithCancel(ctx)
	errc := make(chan error, 1)
	go func() {
		_, err := r.carrier.Dial(dialCtx, r.bridge.TrunkAddr(), "14155550100", "+442079460000")
		errc <- err
	}()
	in, err := r.zoom.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // let 180 Ringing reach the carrier
	cancel()
	if err := <-errc; !errors.Is(err, sip.ErrCancelled) {
		t.Fatalf("carrier Dial: %v, want ErrCancelled", err)
	}
	waitDone(t, in, "zoom leg")
	if in.Status() != 487 {
		t.Errorf("zoom leg status %d, want 487 (cancelled)", in.Status())
	}
	if rec := r.record(t); rec.Status != 487 {
		t.Errorf("record status %d, want 487", rec.Status)
	}
}

func TestBusyRelayed(t *testing.T) {
	r := newRig(t, nil)
	r.carrier.SetBehavior(trunktest.Behavior{Status: 486})
	ctx := ctxFor(t, 20*time.Second)
	_, err := r.zoom.Dial(ctx, r.bridge.PeeringAddr(), "+442079460000", "+14155550100")
	var se *sip.StatusError
	if !errors.As(err, &se) || se.Response.StatusCode != 486 {
		t.Fatalf("zoom Dial: %v, want 486", err)
	}
	if rec := r.record(t); rec.Status != 486 {
		t.Errorf("record status %d, want 486", rec.Status)
	}
}

func TestNoCommonCodec488(t *testing.T) {
	r := newRig(t, nil)
	// A carrier that only speaks a codec Zoom does not offer.
	odd, err := trunktest.NewCarrier(trunktest.Config{Formats: []sdp.Format{{PayloadType: 3, Name: "GSM", ClockRate: 8000}}})
	if err != nil {
		t.Fatal(err)
	}
	defer odd.Close()
	r2 := newRig(t, func(c *byocp.Config) { c.Trunk.Peer = odd.Addr().String() })
	_ = r
	ctx := ctxFor(t, 20*time.Second)
	_, err = odd.Dial(ctx, r2.bridge.TrunkAddr(), "14155550100", "+442079460000")
	var se *sip.StatusError
	if !errors.As(err, &se) || se.Response.StatusCode != 488 {
		t.Fatalf("Dial: %v, want 488", err)
	}
	if w := se.Response.Header("Warning"); !strings.Contains(w, "codec") {
		t.Errorf("Warning %q does not explain the codec problem", w)
	}
}

func TestUnreachableZoom503(t *testing.T) {
	// A Zoom peer address where nothing listens.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()
	r := newRig(t, func(c *byocp.Config) { c.Peering.Peers[0].Address = dead })
	ctx := ctxFor(t, 20*time.Second)
	_, err = r.carrier.Dial(ctx, r.bridge.TrunkAddr(), "14155550100", "+442079460000")
	var se *sip.StatusError
	if !errors.As(err, &se) || se.Response.StatusCode != 503 {
		t.Fatalf("Dial: %v, want 503", err)
	}
}

func TestMalformedRequest400(t *testing.T) {
	r := newRig(t, nil)
	conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(r.bridge.TrunkAddr()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	bad := "INVITE sip:+442079460000@127.0.0.1 SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP " + conn.LocalAddr().String() + ";branch=z9hG4bKbad1\r\n" +
		"From: <sip:1415@127.0.0.1>;tag=abc\r\n" +
		"To: <sip:+442079460000@127.0.0.1>\r\n" +
		"Call-ID: malformed-1\r\n" +
		"CSeq: notanumber INVITE\r\n" +
		"Content-Length: 0\r\n\r\n"
	if _, err := conn.Write([]byte(bad)); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("no response to a malformed request: %v", err)
	}
	if !bytes.HasPrefix(buf[:n], []byte("SIP/2.0 400")) || !bytes.Contains(buf[:n], []byte("Call-ID: malformed-1")) {
		t.Fatalf("want 400 for the malformed request, got:\n%s", buf[:n])
	}
	// The Bridge still serves calls.
	ctx := ctxFor(t, 20*time.Second)
	out, err := r.carrier.Dial(ctx, r.bridge.TrunkAddr(), "14155550100", "+442079460000")
	if err != nil {
		t.Fatalf("call after malformed request: %v", err)
	}
	_ = out.Hangup(ctx)
}

func TestLegsShareNothing(t *testing.T) {
	r := newRig(t, nil)
	ctx := ctxFor(t, 20*time.Second)
	out, in := r.carrierCallsZoom(t, ctx)
	zoomInvite := in.Invite().String()
	carrierAnswer := out.AnswerResponse().String()
	carrierCallID := out.CallID()
	carrierSIP := r.carrier.Addr().String()
	zoomSIP := r.zoom.Addr().String()
	for _, leak := range []string{carrierCallID, carrierSIP, "User-Agent: fake-carrier"} {
		if strings.Contains(zoomInvite, leak) {
			t.Errorf("carrier leg's %q leaked into the INVITE to Zoom:\n%s", leak, zoomInvite)
		}
	}
	for _, leak := range []string{in.CallID(), zoomSIP, "Server: fake-zoom"} {
		if strings.Contains(carrierAnswer, leak) {
			t.Errorf("Zoom leg's %q leaked into the 200 to the carrier:\n%s", leak, carrierAnswer)
		}
	}
	if in.CallID() == carrierCallID {
		t.Error("both legs have the same Call-ID")
	}
	// Each leg's SDP carries the relay's address and its own port.
	if bytes.Contains(in.RemoteSDP(), []byte(portOf(out.LocalSDP()))) {
		t.Error("carrier media port leaked into Zoom SDP")
	}
	_ = out.Hangup(ctx)
	waitDone(t, in, "zoom leg")
}

func portOf(body []byte) string {
	m, err := sdp.Parse(body)
	if err != nil {
		return "unparseable"
	}
	return "m=audio " + strconv.Itoa(m.Port)
}

func TestCloseHangsUpAndReleases(t *testing.T) {
	before := runtime.NumGoroutine()
	r := newRig(t, nil)
	ctx := ctxFor(t, 20*time.Second)
	out, in := r.carrierCallsZoom(t, ctx)
	if err := r.bridge.Close(); err != nil {
		t.Fatal(err)
	}
	waitDone(t, out, "carrier leg")
	waitDone(t, in, "zoom leg")
	if !out.HungUpByPeer() || !in.HungUpByPeer() {
		t.Error("Close did not send BYE on both legs")
	}
	if n := r.bridge.MediaPortsInUse(); n != 0 {
		t.Errorf("%d media ports still in use", n)
	}
	if rec := r.record(t); rec.HangupBy != byocp.HangupBridge {
		t.Errorf("hangup by %q, want bridge", rec.HangupBy)
	}
	_ = r.carrier.Close()
	_ = r.zoom.Close()
	// Every goroutine of the call, the Bridge and the peers ends.
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines left over (before: %d):\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}

func TestIPv6Loopback(t *testing.T) {
	r := newRigOn(t, "::1", nil)
	ctx := ctxFor(t, 20*time.Second)
	out, err := r.zoom.Dial(ctx, r.bridge.PeeringAddr(), "+442079460000", "+14155550100")
	if err != nil {
		t.Fatalf("zoom call over ::1: %v", err)
	}
	in, err := r.carrier.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	answered(t, in)
	if !strings.Contains(string(in.RemoteSDP()), "IN IP6 ::1") {
		t.Errorf("carrier SDP does not carry the IPv6 relay address:\n%s", in.RemoteSDP())
	}
	exchangeAudio(t, out, in)
	_ = in.Hangup(ctx)
	waitDone(t, out, "zoom leg")
}

func TestOverload503RetryAfter(t *testing.T) {
	r := newRig(t, func(c *byocp.Config) { c.MaxCalls = 1 })
	r.zoom.SetBehavior(peeringtest.Behavior{Ring: time.Minute})
	ctx := ctxFor(t, 20*time.Second)
	first, cancel := ctxWithCancel(ctx)
	defer cancel()
	go func() { _, _ = r.carrier.Dial(first, r.bridge.TrunkAddr(), "14155550100", "+442079460000") }()
	if _, err := r.zoom.Accept(ctx); err != nil {
		t.Fatal(err)
	}
	_, err := r.carrier.Dial(ctx, r.bridge.TrunkAddr(), "14155550101", "+442079460000")
	var se *sip.StatusError
	if !errors.As(err, &se) || se.Response.StatusCode != 503 || se.Response.Header("Retry-After") == "" {
		t.Fatalf("second call: %v, want 503 with Retry-After", err)
	}
}

func TestFailoverToNextZoomPeer(t *testing.T) {
	r := newRig(t, nil)
	busy, err := peeringtest.NewZoom(peeringtest.Config{PKI: r.pki, Behavior: peeringtest.Behavior{Status: 503}})
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()
	r2 := newRigWith(t, r, func(c *byocp.Config) {
		c.Peering.Peers = []peering.Peer{
			{Name: "zone A (down)", Address: dead},
			{Name: "zone B (503)", Address: busy.Addr().String()},
			{Name: "secondary DC", Address: r.zoom.Addr().String()},
		}
	})
	ctx := ctxFor(t, 30*time.Second)
	out, err := r.carrier.Dial(ctx, r2.bridge.TrunkAddr(), "14155550100", "+442079460000")
	if err != nil {
		t.Fatalf("call with failover: %v", err)
	}
	in, err := r.zoom.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, err := busy.Accept(ctx)
	if err != nil || got.Status() != 503 {
		t.Errorf("zone B was not tried first: %v", err)
	}
	// Every peer got the same offer (same keys), so media works with the last one.
	if !bytes.Equal(got.RemoteSDP(), in.RemoteSDP()) {
		t.Error("the offer changed between peers")
	}
	answered(t, in)
	exchangeAudio(t, out, in)
	_ = out.Hangup(ctx)
}

func TestFailoverFromStalledZoomPeer(t *testing.T) {
	// Zone A accepts TCP connections but never completes a TLS handshake.
	stalled, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	go func() {
		for {
			c, err := stalled.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	r := newRig(t, nil)
	r2 := newRigWith(t, r, func(c *byocp.Config) {
		c.Peering.ResponseTimeout = time.Second
		c.Peering.Peers = []peering.Peer{
			{Name: "zone A (stalled)", Address: stalled.Addr().String()},
			{Name: "zone B", Address: r.zoom.Addr().String()},
		}
	})
	ctx := ctxFor(t, 20*time.Second)
	out, err := r.carrier.Dial(ctx, r2.bridge.TrunkAddr(), "14155550100", "+442079460000")
	if err != nil {
		t.Fatalf("call with a stalled first peer: %v", err)
	}
	in, err := r.zoom.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	answered(t, in)
	_ = out.Hangup(ctx)
	waitDone(t, in, "zoom leg")
}

func TestEarlyMediaBeforeAnswer(t *testing.T) {
	r := newRig(t, nil)
	r.zoom.SetBehavior(peeringtest.Behavior{EarlyMedia: true, Ring: 2 * time.Second})
	ctx := ctxFor(t, 20*time.Second)
	type result struct {
		call *trunktest.Call
		err  error
	}
	placed := make(chan result, 1)
	go func() {
		c, err := r.carrier.Dial(ctx, r.bridge.TrunkAddr(), "14155550100", "+442079460000")
		placed <- result{c, err}
	}()
	in, err := r.zoom.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Zoom plays a ringback/announcement before it answers.
	if err := in.SendAudio(ctx, 25); err != nil {
		t.Fatal(err)
	}
	select {
	case <-in.Answered():
		t.Fatal("answered before the early media was sent; lengthen Ring")
	default:
	}
	res := <-placed
	if res.err != nil {
		t.Fatal(res.err)
	}
	out := res.call
	if got := out.Provisional(); !slices.Contains(got, 183) {
		t.Errorf("carrier saw provisional responses %v, want a 183", got)
	}
	if s := out.Media(); s.Intact < 22 || s.Corrupt > 0 || s.AuthFailed > 0 {
		t.Errorf("early media at the carrier: %+v, want about 25 intact", s)
	}
	_ = out.Hangup(ctx)
	waitDone(t, in, "zoom leg")
}

func TestCarrierOverTCP(t *testing.T) {
	base := newRig(t, nil)
	carrier, err := trunktest.NewCarrier(trunktest.Config{Network: "tcp", Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer carrier.Close()
	r := newRigWith(t, &rig{pki: base.pki, carrier: carrier, zoom: base.zoom}, func(c *byocp.Config) {
		c.Trunk.Transport = "tcp"
	})
	ctx := ctxFor(t, 20*time.Second)
	out, in := r.carrierCallsZoom(t, ctx)
	exchangeAudio(t, out, in)
	_ = in.Hangup(ctx) // BYE from Zoom travels to the carrier over TCP
	waitDone(t, out, "carrier leg")
	if !out.HungUpByPeer() {
		t.Error("carrier leg did not get BYE over TCP")
	}
	// And the other way.
	out2, in2 := r.zoomCallsCarrier(t, ctx)
	_ = out2.Hangup(ctx)
	waitDone(t, in2, "carrier leg")
}

// TestMediaEngine relays calls in both directions on each way the relay
// can read its sockets (the default engine, one worker with a poll
// window, a goroutine per socket): audio flows both ways, Close hangs up
// and releases every port, and the workers or goroutines end with the
// last call.
func TestMediaEngine(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  byocp.MediaConfig
	}{
		{"default", byocp.MediaConfig{}},
		{"poll window", byocp.MediaConfig{Engine: media.Engine{Workers: 1, PollWindow: 200 * time.Microsecond}}},
		{"goroutines", byocp.MediaConfig{Goroutines: true}},
	} {
		t.Run(tc.name, func(t *testing.T) { testMediaEngine(t, tc.cfg) })
	}
}

func testMediaEngine(t *testing.T, mc byocp.MediaConfig) {
	before := runtime.NumGoroutine()
	var cfg byocp.Config
	r := newRig(t, func(c *byocp.Config) {
		c.Media.Engine, c.Media.Goroutines = mc.Engine, mc.Goroutines
		cfg = *c
	})
	ctx := ctxFor(t, 20*time.Second)
	out, in := r.carrierCallsZoom(t, ctx)
	exchangeAudio(t, out, in)
	zout, zin := r.zoomCallsCarrier(t, ctx)
	exchangeAudio(t, zout, zin)
	if err := out.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	waitDone(t, in, "zoom leg")
	if rec := r.record(t); rec.Media.AtoB.Forwarded < audioPackets*9/10 || rec.Media.BtoA.Forwarded < audioPackets*9/10 {
		t.Errorf("relay counters: %+v", rec.Media)
	}
	if err := r.bridge.Close(); err != nil {
		t.Fatal(err)
	}
	waitDone(t, zout, "zoom call")
	if n := r.bridge.MediaPortsInUse(); n != 0 {
		t.Errorf("%d media ports still in use", n)
	}
	_, _ = r.carrier.Close(), r.zoom.Close()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines left over (before: %d):\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
	cfg.Media.Engine.Workers = -1
	if err := cfg.Validate(); !errors.Is(err, byocp.ErrConfig) || !strings.Contains(err.Error(), "Media.Engine: ") {
		t.Errorf("Validate with Workers -1: %v", err)
	}
	cfg.Media.Engine.Workers, cfg.Media.Goroutines = 2, true
	if err := cfg.Validate(); !errors.Is(err, byocp.ErrConfig) || !strings.Contains(err.Error(), "Media.Goroutines: ") {
		t.Errorf("Validate with Goroutines and Workers: %v", err)
	}
}
