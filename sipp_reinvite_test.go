package byocp_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/byocp/byocp"
	"github.com/byocp/byocp/peering/peeringtest"
	"github.com/byocp/byocp/sip"
)

// The SIPp scenarios of the established call: SIPp is the carrier over UDP
// and places a call through a Bridge to the fake Zoom peer, then holds and
// resumes it, refreshes the session, crosses a re-INVITE with its BYE, or
// never acknowledges the answer. SIPp checks byocp's answers itself (an
// <ereg check_it> or <strcmp check_it> that fails marks the call failed and
// sipp exits non-zero; a missing answer jumps to an <error>); the tests
// check the Zoom leg and the Bridge's CallRecord.

// sippCall is a SIPp UAC call through a Bridge: the scenario's run and the
// call as the fake Zoom peer received it.
type sippCall struct {
	r    *rig
	done <-chan error      // sipp's result once it exits
	zoom *peeringtest.Call // the Zoom leg
	logs *bridgeLog
}

// sippCallsZoom starts a Bridge whose carrier is SIPp on a free UDP port,
// runs scenario (in testdata/sipp) against it with sipp's global timeout,
// and waits for the call to reach the fake Zoom peer.
func sippCallsZoom(t *testing.T, ctx context.Context, scenario string, timeout time.Duration) *sippCall {
	t.Helper()
	return sippCallsZoomWith(t, ctx, scenario, timeout, sippOptions{})
}

// sippOptions say how sippCallsZoomWith sets up a call.
type sippOptions struct {
	zoom peeringtest.Behavior // how the fake Zoom peer treats the call
	echo bool                 // SIPp echoes the RTP it gets (-rtp_echo)
	args []string             // more SIPp arguments
}

// sippCallsZoomWith is sippCallsZoom with the Zoom peer's behaviour set
// before SIPp starts and more SIPp arguments.
func sippCallsZoomWith(t *testing.T, ctx context.Context, scenario string, timeout time.Duration, o sippOptions) *sippCall {
	t.Helper()
	sipp := sippPath(t)
	path, err := filepath.Abs(filepath.Join("testdata", "sipp", scenario))
	if err != nil {
		t.Fatal(err)
	}
	sippPort := freeUDPPort(t)
	logs := &bridgeLog{}
	r := newRig(t, func(c *byocp.Config) {
		c.Trunk.Peer = "127.0.0.1:" + strconv.Itoa(sippPort)
		c.Logger = slog.New(logs.handler(testLogger().Handler()))
	})
	r.zoom.SetBehavior(o.zoom)
	args := []string{"-sf", path, "-s", "+442079460000", "-i", "127.0.0.1", "-p", strconv.Itoa(sippPort),
		"-mp", strconv.Itoa(freeUDPPort(t)), "-m", "1"}
	args = append(args, o.args...)
	if o.echo {
		args = append(args, "-rtp_echo")
	}
	args = append(args, r.bridge.TrunkAddr().String())
	done := make(chan error, 1)
	sippCtx, stop := context.WithCancel(ctx)
	exited := make(chan struct{})
	// A test that fails early kills sipp and lets it report before the
	// test ends (runSippFor logs to t).
	t.Cleanup(func() { stop(); <-exited })
	go func() {
		defer close(exited)
		done <- runSippFor(t, sippCtx, timeout, sipp, args...)
	}()
	acceptCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		// A scenario that fails before its INVITE reaches Zoom ends the wait.
		select {
		case err := <-done:
			done <- err
			cancel()
		case <-acceptCtx.Done():
		}
	}()
	in, err := r.zoom.Accept(acceptCtx)
	if err != nil {
		select {
		case serr := <-done:
			t.Fatalf("no call reached Zoom: %v (sipp: %v)", err, serr)
		case <-time.After(time.Second):
			t.Fatalf("no call reached Zoom: %v", err)
		}
	}
	return &sippCall{r: r, done: done, zoom: in, logs: logs}
}

// wait waits for sipp to exit and fails the test unless every check of its
// scenario passed.
func (c *sippCall) wait(t *testing.T) {
	t.Helper()
	if err := <-c.done; err != nil {
		t.Fatal(err)
	}
}

// zoomHungUp checks that the Bridge ended the Zoom leg with BYE.
func (c *sippCall) zoomHungUp(t *testing.T) {
	t.Helper()
	waitDone(t, c.zoom, "zoom leg")
	if !c.zoom.HungUpByPeer() {
		t.Errorf("the Bridge did not hang up the Zoom leg with BYE: %s", c.zoom.Description())
	}
}

// idle checks that the Bridge holds no call and no media port.
func (c *sippCall) idle(t *testing.T) {
	t.Helper()
	if n := c.r.bridge.ActiveCalls(); n != 0 {
		t.Errorf("ActiveCalls = %d after the call ended", n)
	}
	if n := c.r.bridge.MediaPortsInUse(); n != 0 {
		t.Errorf("MediaPortsInUse = %d after the call ended", n)
	}
}

// bridgeLog keeps the Bridge's log records (and passes them on), so that a
// test can see what the Bridge did on the Zoom leg: "relaying re-offer"
// (from, to, method) is logged when a re-INVITE or UPDATE of one leg is
// offered to the other.
type bridgeLog struct {
	mu      sync.Mutex
	records []loggedRecord
}

type loggedRecord struct {
	msg   string
	attrs map[string]string
}

func (l *bridgeLog) handler(next slog.Handler) slog.Handler {
	return &captureHandler{log: l, next: next}
}

// count is the number of records with message msg and the attributes kv
// (key, value, key, value...).
func (l *bridgeLog) count(msg string, kv ...string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
next:
	for _, r := range l.records {
		if r.msg != msg {
			continue
		}
		for i := 0; i+1 < len(kv); i += 2 {
			if r.attrs[kv[i]] != kv[i+1] {
				continue next
			}
		}
		n++
	}
	return n
}

type captureHandler struct {
	log  *bridgeLog
	next slog.Handler
}

func (h *captureHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return level >= slog.LevelInfo || h.next.Enabled(ctx, level)
}

func (h *captureHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelInfo {
		rec := loggedRecord{msg: r.Message, attrs: map[string]string{}}
		r.Attrs(func(a slog.Attr) bool {
			rec.attrs[a.Key] = a.Value.String()
			return true
		})
		h.log.mu.Lock()
		h.log.records = append(h.log.records, rec)
		h.log.mu.Unlock()
	}
	if h.next.Enabled(ctx, r.Level) {
		return h.next.Handle(ctx, r)
	}
	return nil
}

func (h *captureHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &captureHandler{log: h.log, next: h.next.WithAttrs(as)}
}

func (h *captureHandler) WithGroup(name string) slog.Handler {
	return &captureHandler{log: h.log, next: h.next.WithGroup(name)}
}

// TestSippHoldResume: SIPp puts the call on hold (re-INVITE a=sendonly)
// and must get a=recvonly back, then resumes it (a=sendrecv) and must get
// sendrecv back; both changes are offered to the Zoom leg (the Bridge
// relays them, and only answers SIPp once Zoom has answered).
func TestSippHoldResume(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t, 40*time.Second)
	c := sippCallsZoom(t, ctx, "uac_hold_resume.xml", 20*time.Second)
	c.wait(t)
	c.zoomHungUp(t)
	rec := c.r.record(t)
	if rec.Status != 200 || rec.HangupBy != byocp.HangupCarrier || rec.Codec != "PCMU/8000" {
		t.Errorf("record: %+v", rec)
	}
	if n := c.logs.count("relaying re-offer", "from", byocp.HangupCarrier, "to", byocp.HangupZoom, "method", "INVITE"); n != 2 {
		t.Errorf("re-offers relayed from the carrier to Zoom: %d, want 2 (hold and resume)", n)
	}
	c.idle(t)
}

// TestSippSessionRefresh: SIPp asks for a 90 s session timer it refreshes
// itself; the 200 must carry Session-Expires (90, refresher=uac) and
// Require: timer. A re-INVITE with the same SDP and o= version (a pure
// refresh) must get byocp's SDP with an unchanged o= version, and an UPDATE
// without SDP a 200: both answered on the carrier leg, never relayed to
// Zoom.
func TestSippSessionRefresh(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t, 40*time.Second)
	c := sippCallsZoom(t, ctx, "uac_refresh.xml", 20*time.Second)
	c.wait(t)
	c.zoomHungUp(t)
	rec := c.r.record(t)
	if rec.Status != 200 || rec.HangupBy != byocp.HangupCarrier {
		t.Errorf("record: %+v", rec)
	}
	if n := c.logs.count("relaying re-offer"); n != 0 {
		t.Errorf("session refreshes relayed to the other leg: %d, want 0", n)
	}
	c.idle(t)
}

// TestSippByeCrossesReinvite: SIPp sends a hold re-INVITE and, before its
// answer, BYE. The BYE gets 200, the re-INVITE a clean final (200, 481 or
// 487; SIPp ACKs a 200), the Zoom leg is hung up, and the Bridge is left
// with no call and no media port.
func TestSippByeCrossesReinvite(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t, 40*time.Second)
	c := sippCallsZoom(t, ctx, "uac_bye_crossing_reinvite.xml", 20*time.Second)
	c.wait(t)
	c.zoomHungUp(t)
	rec := c.r.record(t)
	if rec.Status != 200 || rec.HangupBy != byocp.HangupCarrier || rec.Answered.IsZero() {
		t.Errorf("record: %+v", rec)
	}
	c.idle(t)
}

// TestSippAnswerNeverAcked: SIPp takes the 200 and never ACKs. After 64*T1
// (32 s) the Bridge gives up: BYE to SIPp (which answers 200), BYE on the
// Zoom leg, and a record of an unanswered call ended by the Bridge.
func TestSippAnswerNeverAcked(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t, 60*time.Second)
	c := sippCallsZoom(t, ctx, "uac_no_ack.xml", 45*time.Second)
	c.wait(t)
	c.zoomHungUp(t)
	rec := c.r.record(t)
	if rec.Status != 200 || rec.HangupBy != byocp.HangupBridge || !rec.Answered.IsZero() ||
		!strings.Contains(rec.Reason, sip.ErrNoAck.Error()) {
		t.Errorf("record: %+v", rec)
	}
	// 64*T1 from the 200; the 200 went out within a second of the INVITE.
	if d := rec.End.Sub(rec.Start); d < 31*time.Second || d > 40*time.Second {
		t.Errorf("call lasted %s, want 64*T1 (32 s) from the answer", d)
	}
	c.idle(t)
}

// TestSippSIPI: a SIP-I carrier's INVITE carries multipart/mixed with SDP
// and ISUP; byocp answers from the SDP part, and Zoom gets plain SDP with
// no trace of the ISUP part.
func TestSippSIPI(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t, 40*time.Second)
	c := sippCallsZoom(t, ctx, "uac_sipi.xml", 20*time.Second)
	inv := c.zoom.Invite()
	if ct := inv.ContentType; ct != "application/sdp" || strings.Contains(string(inv.Body), "ISUP") || strings.Contains(inv.String(), "isup") {
		t.Errorf("Zoom got Content-Type %q and body:\n%s", ct, inv.Body)
	}
	c.wait(t)
	c.zoomHungUp(t)
	if rec := c.r.record(t); rec.Status != 200 || rec.Codec != "PCMU/8000" {
		t.Errorf("record: %+v", rec)
	}
	c.idle(t)
}

// TestSippDelayedOffer: a carrier INVITE without SDP. Zoom still gets an
// Early Offer (SRTP, from the carrier side's codecs); Zoom's answer becomes
// byocp's offer in the 200 to the carrier, which answers in its ACK.
func TestSippDelayedOffer(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t, 40*time.Second)
	c := sippCallsZoom(t, ctx, "uac_delayed_offer.xml", 20*time.Second)
	if inv := c.zoom.Invite(); !strings.Contains(string(inv.Body), "RTP/SAVP") || !strings.Contains(string(inv.Body), "a=crypto") {
		t.Errorf("Zoom did not get an Early Offer:\n%s", inv.Body)
	}
	c.wait(t)
	c.zoomHungUp(t)
	if rec := c.r.record(t); rec.Status != 200 || rec.HangupBy != byocp.HangupCarrier || rec.Codec != "PCMU/8000" {
		t.Errorf("record: %+v", rec)
	}
	c.idle(t)
}

// TestSippDelayedOfferBadAnswer: a Delayed Offer call whose ACK answers
// with a codec byocp never offered ends cleanly with BYE on both legs.
func TestSippDelayedOfferBadAnswer(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t, 40*time.Second)
	c := sippCallsZoom(t, ctx, "uac_delayed_offer_bad_answer.xml", 20*time.Second)
	c.wait(t)
	c.zoomHungUp(t)
	if rec := c.r.record(t); rec.HangupBy != byocp.HangupBridge || !strings.Contains(rec.Reason, "ACK") {
		t.Errorf("record: %+v", rec)
	}
	c.idle(t)
}

// TestSippT38Reinvite: a carrier re-INVITE adding m=image udptl t38 is
// never a parse failure: byocp keeps the audio and rejects the image with
// port 0 in its position (the call goes on as G.711 pass-through fax).
func TestSippT38Reinvite(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t, 40*time.Second)
	c := sippCallsZoom(t, ctx, "uac_t38_reinvite.xml", 20*time.Second)
	c.wait(t)
	c.zoomHungUp(t)
	if rec := c.r.record(t); rec.Status != 200 || rec.HangupBy != byocp.HangupCarrier {
		t.Errorf("record: %+v", rec)
	}
	c.idle(t)
}

// TestSippForkedEarlyDialogs: the carrier forks the call; fork A sends 183
// with PCMU, fork B 183 with PCMA on another port, then 180 and a 200
// without SDP. byocp follows fork B (the call runs on PCMA), keeps the
// early media going through the 180, and its own port towards Zoom never
// moves.
func TestSippForkedEarlyDialogs(t *testing.T) {
	t.Parallel()
	sipp := sippPath(t)
	path, err := filepath.Abs(filepath.Join("testdata", "sipp", "uas_forked_early.xml"))
	if err != nil {
		t.Fatal(err)
	}
	sippPort := freeUDPPort(t)
	r := newRig(t, func(c *byocp.Config) { c.Trunk.Peer = "127.0.0.1:" + strconv.Itoa(sippPort) })
	ctx := ctxFor(t, 30*time.Second)
	done := make(chan error, 1)
	go func() {
		done <- runSippFor(t, ctx, 20*time.Second, sipp, "-sf", path, "-i", "127.0.0.1", "-p", strconv.Itoa(sippPort),
			"-mp", strconv.Itoa(freeUDPPort(t)), "-m", "1")
	}()
	time.Sleep(300 * time.Millisecond) // let sipp bind its port
	out, err := r.zoom.Dial(ctx, r.bridge.PeeringAddr(), "+442079460000", "+14155550100")
	if err != nil {
		t.Fatalf("zoom call to the forking carrier: %v", err)
	}
	if got := out.Provisional(); len(got) < 3 || got[len(got)-1] != 180 {
		t.Errorf("Zoom saw provisional responses %v, want 183, 183 and 180", got)
	}
	if out.Codec() != "PCMA" {
		t.Errorf("the call runs on %q, want fork B's PCMA", out.Codec())
	}
	if err := out.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if rec := r.record(t); rec.Codec != "PCMA/8000" || rec.HangupBy != byocp.HangupZoom {
		t.Errorf("record: %+v", rec)
	}
}
