package byocp_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/byocp/byocp"
	"github.com/byocp/byocp/peering/peeringtest"
	"github.com/byocp/byocp/sip"
)

// The SIPp scenarios of in-dialog requests and reliable provisional
// responses (RFC 3262) on the carrier leg: SIPp is the carrier over UDP.
// As in sipp_reinvite_test.go, SIPp checks byocp's answers itself and the
// tests check the Zoom leg; the PRACK tests also read SIPp's message trace
// (what byocp sent and when) for what a scenario cannot check, such as the
// retransmission of a reliable provisional.

// sippFlow is a SIPp call through a Bridge, as sippCall, with SIPp's
// message trace.
type sippFlow struct {
	*sippCall
	trace sippTrace
}

// sippTrace is the path of SIPp's message trace (-trace_msg with
// -message_file): every SIP message SIPp sent and received, with its time.
type sippTrace string

// newSippTrace is a trace file in a test directory, and the SIPp
// arguments that write it.
func newSippTrace(t *testing.T) (sippTrace, []string) {
	p := filepath.Join(t.TempDir(), "messages.log")
	return sippTrace(p), []string{"-message_file", p}
}

// sippFlowCallsZoom is sippCallsZoomWith with SIPp's message trace kept
// for the test.
func sippFlowCallsZoom(t *testing.T, ctx context.Context, scenario string, timeout time.Duration, o sippOptions) *sippFlow {
	t.Helper()
	trace, traceArgs := newSippTrace(t)
	o.args = append(o.args, traceArgs...)
	return &sippFlow{sippCall: sippCallsZoomWith(t, ctx, scenario, timeout, o), trace: trace}
}

// tracedMessage is one SIP message in SIPp's message trace.
type tracedMessage struct {
	at       time.Duration // time of day
	received bool          // received by SIPp (else sent)
	text     string        // the message, CRLF line ends
}

// traceHeading heads each message in SIPp's trace, as
// "----------------------------------------------- 2026-01-02 13:04:05.678901"
// and then "UDP message received [523] bytes :" or "UDP message sent (376
// bytes):" and an empty line.
var traceHeading = regexp.MustCompile(`(?m)^-{10,} [^\n]*?(\d{2}):(\d{2}):(\d{2})\.(\d{6})[^\n]*\n[^\n]*message (received|sent)[^\n]*:\n\n`)

// messages reads SIPp's message trace.
func (f sippTrace) messages(t *testing.T) []tracedMessage {
	t.Helper()
	b, err := os.ReadFile(string(f))
	if err != nil {
		t.Fatalf("SIPp message trace: %v", err)
	}
	s := string(b)
	idx := traceHeading.FindAllStringSubmatchIndex(s, -1)
	out := make([]tracedMessage, 0, len(idx))
	for i, m := range idx {
		end := len(s)
		if i+1 < len(idx) {
			end = idx[i+1][0]
		}
		num := func(k int) time.Duration {
			n, _ := strconv.Atoi(s[m[2*k]:m[2*k+1]])
			return time.Duration(n)
		}
		at := num(1)*time.Hour + num(2)*time.Minute + num(3)*time.Second + num(4)*time.Microsecond
		// SIPp writes a line end after each message.
		out = append(out, tracedMessage{at: at, received: s[m[10]:m[11]] == "received", text: strings.TrimSuffix(s[m[1]:end], "\n")})
	}
	if len(out) == 0 {
		t.Fatalf("no SIP message in SIPp's trace %s", f)
	}
	return out
}

// startLine is the message's first line.
func (m tracedMessage) startLine() string {
	l, _, _ := strings.Cut(m.text, "\n")
	return strings.TrimSpace(l)
}

// header is the value of the message's first header field name (case
// insensitive, no compact forms), "" without one.
func (m tracedMessage) header(name string) string {
	head, _, _ := strings.Cut(m.text, "\r\n\r\n")
	for _, l := range strings.Split(head, "\n")[1:] {
		k, v, ok := strings.Cut(l, ":")
		if ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// body is the message's body.
func (m tracedMessage) body() string {
	_, b, _ := strings.Cut(m.text, "\r\n\r\n")
	return b
}

// isResponse says whether m is a response with status code to a request of
// method (its CSeq).
func (m tracedMessage) isResponse(code int, method string) bool {
	f := strings.Fields(m.startLine())
	c := strings.Fields(m.header("CSeq"))
	return len(f) >= 2 && f[0] == "SIP/2.0" && f[1] == strconv.Itoa(code) && len(c) == 2 && c[1] == method
}

// isRequest says whether m is a request of method.
func (m tracedMessage) isRequest(method string) bool {
	return strings.HasPrefix(m.startLine(), method+" ")
}

// zoomInfos returns the INFO requests the Zoom leg received.
func zoomInfos(rs []peeringtest.Request) []peeringtest.Request {
	var out []peeringtest.Request
	for _, r := range rs {
		if r.Method == "INFO" {
			out = append(out, r)
		}
	}
	return out
}

// TestSippFlowsInfoDTMF: SIPp sends DTMF in INFO, as application/dtmf-relay
// and as application/dtmf; each gets 200 and reaches Zoom with its
// Content-Type and body unchanged. An INFO of another type
// (application/broadsoft) gets 200 from byocp and goes no further.
func TestSippFlowsInfoDTMF(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t, 30*time.Second)
	c := sippCallsZoom(t, ctx, "uac_info_dtmf.xml", 20*time.Second)
	c.wait(t)
	c.zoomHungUp(t)
	got := zoomInfos(c.zoom.Requests())
	// SIPp ends each body line, the last one too, with CRLF.
	want := []struct{ contentType, body string }{
		{"application/dtmf-relay", "Signal=5\r\nDuration=160\r\n"},
		{"application/dtmf", "5\r\n"},
	}
	if len(got) != len(want) {
		for _, r := range got {
			t.Logf("Zoom got INFO %s: %q", r.Header("Content-Type"), r.Body)
		}
		t.Fatalf("Zoom got %d INFO requests, want %d (the two DTMF ones, not application/broadsoft)", len(got), len(want))
	}
	for i, w := range want {
		if ct := got[i].Header("Content-Type"); ct != w.contentType || string(got[i].Body) != w.body || got[i].Status != 200 {
			t.Errorf("INFO %d at Zoom: Content-Type %q, body %q, answered %d; want %q, %q, 200", i+1, ct, got[i].Body, got[i].Status, w.contentType, w.body)
		}
	}
	if rec := c.r.record(t); rec.Status != 200 || rec.HangupBy != byocp.HangupCarrier {
		t.Errorf("record: %+v", rec)
	}
	c.idle(t)
}

// TestSippFlowsReferRefused: SIPp sends an in-dialog REFER; byocp's default
// policy refuses it with 403 and Zoom never sees it. The call goes on: an
// INFO afterwards is relayed and answered, and SIPp's BYE gets 200.
func TestSippFlowsReferRefused(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t, 30*time.Second)
	c := sippCallsZoom(t, ctx, "uac_refer.xml", 20*time.Second)
	c.wait(t)
	c.zoomHungUp(t)
	rs := c.zoom.Requests()
	for _, r := range rs {
		if r.Method == "REFER" {
			t.Errorf("Zoom got a REFER (Refer-To %q): the carrier's transfer was relayed", r.Header("Refer-To"))
		}
	}
	if len(zoomInfos(rs)) != 1 {
		t.Errorf("Zoom got %d INFO requests after the refused REFER, want 1", len(zoomInfos(rs)))
	}
	if rec := c.r.record(t); rec.Status != 200 || rec.HangupBy != byocp.HangupCarrier {
		t.Errorf("record: %+v", rec)
	}
	c.idle(t)
}

// sippAnswersZoom starts a Bridge whose carrier is SIPp running scenario
// (in testdata/sipp) as the UAS on a free UDP port, with SIPp's message
// trace; done reports SIPp's result once it exits.
func sippAnswersZoom(t *testing.T, ctx context.Context, scenario string, timeout time.Duration, edits ...func(*byocp.Config)) (r *rig, done <-chan error, trace sippTrace) {
	t.Helper()
	sipp := sippPath(t)
	path, err := filepath.Abs(filepath.Join("testdata", "sipp", scenario))
	if err != nil {
		t.Fatal(err)
	}
	trace, traceArgs := newSippTrace(t)
	sippPort := freeUDPPort(t)
	r = newRig(t, func(c *byocp.Config) {
		c.Trunk.Peer = "127.0.0.1:" + strconv.Itoa(sippPort)
		for _, edit := range edits {
			edit(c)
		}
	})
	res := make(chan error, 1)
	sippCtx, stop := context.WithCancel(ctx)
	exited := make(chan struct{})
	t.Cleanup(func() { stop(); <-exited })
	args := append([]string{"-sf", path, "-i", "127.0.0.1", "-p", strconv.Itoa(sippPort),
		"-mp", strconv.Itoa(freeUDPPort(t)), "-m", "1"}, traceArgs...)
	go func() {
		defer close(exited)
		res <- runSippFor(t, sippCtx, timeout, sipp, args...)
	}()
	time.Sleep(300 * time.Millisecond) // let sipp bind its port
	return r, res, trace
}

// reliable1xx is a reliable provisional response byocp sent SIPp (RFC
// 3262), with its retransmissions.
type reliable1xx struct {
	status  int
	rseq    uint64
	sdp     string          // its SDP body, "" without one
	copies  []time.Duration // when each copy arrived
	prackAt time.Duration   // when SIPp first PRACKed it; 0 if never
}

// reliableProvisionals checks, in SIPp's trace of a call it placed, that
// every provisional response above 100 to its INVITE was reliable (RFC
// 3262 section 3: Require: 100rel and an RSeq, the first RSeq in 1 to
// 2^31-1, each new one one above the last) and returns them, oldest
// first.
func reliableProvisionals(t *testing.T, msgs []tracedMessage) []*reliable1xx {
	t.Helper()
	var out []*reliable1xx
	bySeq := map[uint64]*reliable1xx{}
	var last *reliable1xx // the latest new reliable provisional
	for _, m := range msgs {
		switch {
		case m.received && strings.HasPrefix(m.startLine(), "SIP/2.0 1") && strings.HasSuffix(m.header("CSeq"), "INVITE"):
			status, _ := strconv.Atoi(strings.Fields(m.startLine())[1])
			if status == 100 {
				continue
			}
			require := m.header("Require")
			rseq, err := strconv.ParseUint(m.header("RSeq"), 10, 32)
			if !strings.Contains(require, "100rel") || err != nil {
				t.Errorf("byocp sent %q unreliably to a caller requiring 100rel (Require %q, RSeq %q)", m.startLine(), require, m.header("RSeq"))
				continue
			}
			if p := bySeq[rseq]; p != nil {
				if p.status != status || p.sdp != m.body() {
					t.Errorf("RSeq %d reused by a different provisional: %d then %q", rseq, p.status, m.startLine())
				}
				p.copies = append(p.copies, m.at)
				continue
			}
			switch {
			case last == nil && (rseq < 1 || rseq > 1<<31-1):
				t.Errorf("first RSeq %d, want 1 to 2^31-1", rseq)
			case last != nil && rseq != last.rseq+1:
				t.Errorf("RSeq %d after %d, want one more", rseq, last.rseq)
			}
			p := &reliable1xx{status: status, rseq: rseq, copies: []time.Duration{m.at}}
			if strings.Contains(m.header("Content-Type"), "application/sdp") {
				p.sdp = m.body()
			}
			bySeq[rseq] = p
			out = append(out, p)
			last = p
		case !m.received && m.isRequest("PRACK"):
			var rseq uint64
			if f := strings.Fields(m.header("RAck")); len(f) == 3 {
				rseq, _ = strconv.ParseUint(f[0], 10, 32)
			}
			if p := bySeq[rseq]; p != nil && p.prackAt == 0 {
				p.prackAt = m.at
			}
		}
	}
	return out
}

// retransmittedUntilPRACK checks that p was sent again at T1 (0.5 s) and
// 2*T1 (1 s) later while SIPp held back its PRACK for 1.7 s: RFC 3262
// section 3 retransmits a reliable provisional with T1 doubling.
func retransmittedUntilPRACK(t *testing.T, p *reliable1xx) {
	t.Helper()
	if len(p.copies) < 3 {
		t.Errorf("reliable %d (RSeq %d) arrived %d times in the 1.7 s before SIPp's PRACK, want 3 (at 0, 0.5 and 1.5 s)", p.status, p.rseq, len(p.copies))
		return
	}
	gaps := []time.Duration{p.copies[1] - p.copies[0], p.copies[2] - p.copies[1]}
	if gaps[0] < 400*time.Millisecond || gaps[0] > 800*time.Millisecond || gaps[1] < 850*time.Millisecond || gaps[1] > 1400*time.Millisecond {
		t.Errorf("reliable %d (RSeq %d) retransmitted after %v then %v, want T1 (500ms) then 2*T1 (1s)", p.status, p.rseq, gaps[0], gaps[1])
	}
	if len(p.copies) > 3 {
		t.Errorf("reliable %d (RSeq %d) arrived %d times; SIPp PRACKed it after the third", p.status, p.rseq, len(p.copies))
	}
}

// prackedBeforeAnswer checks that SIPp PRACKed every reliable provisional
// and that byocp sent its 200 to the INVITE only after the PRACK of each
// one that carried SDP (RFC 3262 section 3).
func prackedBeforeAnswer(t *testing.T, msgs []tracedMessage, provs []*reliable1xx) {
	t.Helper()
	var answer time.Duration
	for _, m := range msgs {
		if m.received && m.isResponse(200, "INVITE") {
			answer = m.at
			break
		}
	}
	for _, p := range provs {
		switch {
		case p.prackAt == 0:
			t.Errorf("SIPp sent no PRACK for reliable %d RSeq %d", p.status, p.rseq)
		case p.sdp != "" && answer != 0 && answer < p.prackAt:
			t.Errorf("byocp sent its 200 to the INVITE %v before SIPp's PRACK of reliable %d RSeq %d, which carried SDP", p.prackAt-answer, p.status, p.rseq)
		}
	}
}

// result waits for SIPp to exit and returns its error (a check of the
// scenario that failed is one), so that a test can look at SIPp's trace
// before it fails.
func (c *sippCall) result(t *testing.T) error {
	t.Helper()
	select {
	case err := <-c.done:
		return err
	case <-time.After(40 * time.Second):
		t.Fatal("sipp did not exit")
	}
	return nil
}

// TestSippFlowsPrackUAS: Zoom calls a carrier that sends its 183 (with the
// SDP answer) reliably: Require: 100rel, RSeq: 1. byocp PRACKs it once in
// the 183's early dialog (SIPp checks RAck: 1 <INVITE CSeq> INVITE, the
// PRACK's CSeq and To tag, and that it has no SDP), the carrier answers
// with a 200 without SDP, and the call runs on the 183's answer.
func TestSippFlowsPrackUAS(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t, 30*time.Second)
	r, done, trace := sippAnswersZoom(t, ctx, "uas_prack.xml", 20*time.Second)
	out, err := r.zoom.Dial(ctx, r.bridge.PeeringAddr(), "+442079460000", "+14155550100")
	if err != nil {
		t.Fatalf("zoom call to the 100rel carrier: %v (sipp: %v)", err, <-done)
	}
	if got := out.Provisional(); !slices.Contains(got, 183) {
		t.Errorf("Zoom saw provisional responses %v, want the carrier's 183", got)
	}
	if out.Codec() != "PCMU" {
		t.Errorf("the call runs on %q, want the 183's PCMU", out.Codec())
	}
	if err := out.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var pracks []string
	for _, m := range trace.messages(t) {
		if m.received && m.isRequest("INVITE") && !strings.Contains(m.header("Supported")+","+m.header("Require"), "100rel") {
			// RFC 3262 section 3: a UAS sends reliable provisionals only
			// to an INVITE with 100rel in Supported or Require.
			t.Errorf("byocp's INVITE does not advertise 100rel (Supported %q)", m.header("Supported"))
		}
		if m.received && m.isRequest("PRACK") && !slices.Contains(pracks, m.header("CSeq")) {
			pracks = append(pracks, m.header("CSeq"))
		}
	}
	if len(pracks) != 1 {
		t.Errorf("byocp sent PRACKs with CSeq %q, want one PRACK for the one reliable 183", pracks)
	}
	if rec := r.record(t); rec.Status != 200 || rec.HangupBy != byocp.HangupZoom || rec.Codec != "PCMU/8000" {
		t.Errorf("record: %+v", rec)
	}
	(&sippCall{r: r}).idle(t)
}

// TestSippFlowsPrackCarrierRequires: a carrier whose INVITE (with an
// offer) has Require: 100rel calls Zoom, which answers with early media
// (183 with SDP) and then 200. Every provisional byocp sends the carrier is
// reliable (SIPp checks Require and RSeq, PRACKs each one and expects 200;
// the test checks the RSeq sequence in SIPp's trace), the first one is
// retransmitted at T1 and 2*T1 while SIPp holds back its PRACK, and byocp
// holds its 200 to the INVITE until that PRACK (its 183 carries SDP).
// Zoom's early media, echoed by SIPp, comes back.
func TestSippFlowsPrackCarrierRequires(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t, 40*time.Second)
	c := sippFlowCallsZoom(t, ctx, "uac_prack.xml", 20*time.Second, sippOptions{
		zoom: peeringtest.Behavior{EarlyMedia: true, Ring: 300 * time.Millisecond},
		echo: true,
	})
	if err := c.zoom.StartAudio(ctx); err != nil {
		t.Errorf("early media from Zoom: %v", err)
	}
	err := c.result(t)
	c.zoom.StopAudio()
	msgs := c.trace.messages(t)
	provs := reliableProvisionals(t, msgs)
	if len(provs) == 0 {
		t.Fatalf("byocp sent no reliable provisional; Zoom sent 183 with early media (sipp: %v)", err)
	}
	retransmittedUntilPRACK(t, provs[0])
	prackedBeforeAnswer(t, msgs, provs)
	if !slices.ContainsFunc(provs, func(p *reliable1xx) bool { return strings.Contains(p.sdp, "m=audio") }) {
		t.Error("no reliable provisional carried Zoom's early media answer")
	}
	if err != nil {
		t.Fatal(err)
	}
	c.zoomHungUp(t)
	if s := c.zoom.Media(); s.Received < 25 || s.AuthFailed > 0 {
		t.Errorf("Zoom's audio echoed by SIPp: %+v", s)
	}
	if rec := c.r.record(t); rec.Status != 200 || rec.HangupBy != byocp.HangupCarrier || rec.Codec != "PCMU/8000" {
		t.Errorf("record: %+v", rec)
	}
	c.idle(t)
}

// TestSippFlowsPrackDelayedOffer: as TestSippFlowsPrackCarrierRequires, but
// the carrier's INVITE has no SDP. Zoom still gets an Early Offer; its 183
// makes byocp send a reliable provisional carrying byocp's offer (RTP/AVP,
// no a=crypto), which SIPp answers in its PRACK; the 200 then carries no
// new offer and the ACK no SDP (SIPp checks that, and also accepts a 200
// carrying the offer when no provisional did). The call runs on PCMU and
// Zoom's audio, echoed by SIPp, comes back.
func TestSippFlowsPrackDelayedOffer(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t, 40*time.Second)
	c := sippFlowCallsZoom(t, ctx, "uac_prack_delayed_offer.xml", 20*time.Second, sippOptions{
		zoom: peeringtest.Behavior{EarlyMedia: true, Ring: 300 * time.Millisecond},
		echo: true,
	})
	if inv := c.zoom.Invite(); !strings.Contains(string(inv.Body), "RTP/SAVP") || !strings.Contains(string(inv.Body), "a=crypto") {
		t.Errorf("Zoom did not get an Early Offer:\n%s", inv.Body)
	}
	if err := c.zoom.StartAudio(ctx); err != nil {
		t.Errorf("early media from Zoom: %v", err)
	}
	err := c.result(t)
	c.zoom.StopAudio()
	msgs := c.trace.messages(t)
	provs := reliableProvisionals(t, msgs)
	if len(provs) == 0 {
		t.Fatalf("byocp sent no reliable provisional; Zoom sent 183 with early media (sipp: %v)", err)
	}
	// RFC 3261 section 13.2.1, RFC 3262 section 5: the offer is in the
	// first reliable provisional to an INVITE without one.
	if offer := provs[0].sdp; !strings.Contains(offer, "m=audio") || !strings.Contains(offer, "RTP/AVP") || strings.Contains(offer, "a=crypto") {
		t.Errorf("byocp's first reliable provisional to the offerless INVITE, %d, does not carry a plain RTP offer:\n%s", provs[0].status, offer)
	}
	prackedBeforeAnswer(t, msgs, provs)
	if err != nil {
		t.Fatal(err)
	}
	c.zoomHungUp(t)
	if s := c.zoom.Media(); s.Received < 25 || s.AuthFailed > 0 {
		t.Errorf("Zoom's audio echoed by SIPp: %+v", s)
	}
	if rec := c.r.record(t); rec.Status != 200 || rec.HangupBy != byocp.HangupCarrier || rec.Codec != "PCMU/8000" {
		t.Errorf("record: %+v", rec)
	}
	c.idle(t)
}

// TestSippFlowsT38VoiceOnlyCarrier: with T.38 relayed, Zoom switches a
// call to fax and the carrier, a voice-only SIPp, accepts the image-only
// re-INVITE with every stream rejected instead of refusing it. byocp
// cannot use that answer: Zoom's re-INVITE gets 488, the carrier's leg is
// re-INVITEd back to its audio session (uas_t38_voice_only.xml checks
// it), and the call goes on.
func TestSippFlowsT38VoiceOnlyCarrier(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t, 30*time.Second)
	r, done, trace := sippAnswersZoom(t, ctx, "uas_t38_voice_only.xml", 25*time.Second, relayT38)
	out, err := r.zoom.Dial(ctx, r.bridge.PeeringAddr(), "+442079460000", "+14155550100")
	if err != nil {
		t.Fatalf("zoom call: %v (sipp: %v)", err, <-done)
	}
	var se *sip.StatusError
	if err := out.Reinvite(ctx, peeringtest.ReinviteOptions{T38: true}); !errors.As(err, &se) || se.Response.StatusCode != 488 {
		t.Fatalf("Zoom's fax re-INVITE: %v, want 488", err)
	}
	// Zoom hangs up once the carrier's session is restored: the third
	// INVITE SIPp received has its 200 (ACKed).
	for restored := false; !restored; {
		invites := 0
		for _, m := range trace.messages(t) {
			if m.received && m.isRequest("INVITE") {
				invites++
			}
			restored = restored || invites == 3 && m.received && m.isRequest("ACK")
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the carrier's session was not restored (sipp: %v)", <-done)
		case <-time.After(20 * time.Millisecond):
		}
	}
	if err := out.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if rec := r.record(t); rec.HangupBy != byocp.HangupZoom {
		t.Errorf("record %+v: want the call ended by Zoom's hangup", rec)
	}
}
