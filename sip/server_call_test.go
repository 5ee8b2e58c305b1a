package sip

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// newUASRig starts a UDP endpoint on 127.0.0.1 whose calls go to the
// returned queue, and a raw UAC in front of it.
func newUASRig(t *testing.T, cfg EndpointConfig) (*Endpoint, callQueue, *rawUAC) {
	t.Helper()
	q := make(callQueue, 4)
	if cfg.Handler == nil {
		cfg.Handler = q
	}
	cfg.Name = "uas"
	ep := listenEP(t, cfg)
	return ep, q, newRawUAC(newRawUDP(t, "127.0.0.1"), ep.Addr(), "UDP")
}

func answerAsync(call *ServerCall, sdp string) <-chan error {
	done := make(chan error, 1)
	go func() { done <- call.Answer(context.Background(), []byte(sdp)) }()
	return done
}

func waitErr(t *testing.T, what string, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(waitLong):
		t.Fatalf("%s did not return", what)
		return nil
	}
}

// TestAnswerRetransmits200UntilAck: over UDP the 200 is repeated (T1, 2*T1,
// …) while no ACK arrives; the ACK makes Answer return nil and stops the
// repeats (RFC 3261 §13.3.1.4, pitfall 17).
func TestAnswerRetransmits200UntilAck(t *testing.T) {
	t.Parallel()
	ep, q, uac := newUASRig(t, EndpointConfig{})
	uac.send(ep.Addr(), uac.invite())
	uac.expect("100 Trying", isResponse(100, sip.INVITE))
	call := q.next(t)

	inv := call.Invite()
	if inv.CallID != uac.callID || inv.From.URI.User != "+14155550100" || inv.From.DisplayName != "Alice" ||
		inv.To.URI.User != "+14155550199" || inv.RequestURI.User != "+14155550199" {
		t.Errorf("Invite() = %+v", inv)
	}
	if string(inv.Body) != offerSDP || !isSDP(inv.ContentType) || inv.Transport != "UDP" || inv.Source != uac.addr() {
		t.Errorf("Invite() body/type/transport/source = %q %q %q %s", inv.Body, inv.ContentType, inv.Transport, inv.Source)
	}
	if inv.Header("Max-Forwards") != "70" || !strings.Contains(inv.String(), "INVITE sip:") {
		t.Errorf("Invite().Header/String wrong")
	}
	if call.CallID() != uac.callID || call.Done() != nil || call.Cause() != CauseNone {
		t.Errorf("before Answer: CallID %q Done %v Cause %q", call.CallID(), call.Done(), call.Cause())
	}

	answered := answerAsync(call, answerSDP)
	first := uac.expect("200", isResponse(200, sip.INVITE))
	r := first.res()
	if tagOf(r.To().Params) == "" || string(r.Body()) != answerSDP {
		t.Errorf("200: To %s body %q", r.To(), r.Body())
	}
	if c := r.Contact(); c == nil || c.Address.Port != int(ep.Addr().Port()) {
		t.Errorf("200 Contact = %v", c)
	}
	if allow := headerValue(first.data, "Allow"); !strings.Contains(allow, "BYE") {
		t.Errorf("200 Allow = %q", allow)
	}
	for i := range 2 {
		again := uac.expect("retransmitted 200", isResponse(200, sip.INVITE))
		if !bytes.Equal(again.data, first.data) {
			t.Errorf("retransmission %d differs from the first 200:\n%s\n%s", i+1, again, first)
		}
	}
	select {
	case err := <-answered:
		t.Fatalf("Answer returned %v before the ACK", err)
	default:
	}

	uac.learn(first)
	uac.send(ep.Addr(), uac.ack2xx(""))
	if err := waitErr(t, "Answer", answered); err != nil {
		t.Fatalf("Answer: %v", err)
	}
	// The next repeat would be due 4*T1 = 2 s after the last one.
	if m, ok := uac.within(2500*time.Millisecond, isResponse(200, sip.INVITE)); ok {
		t.Fatalf("200 still retransmitted after the ACK:\n%s", m)
	}
	if call.Cause() != CauseNone || ep.ActiveDialogs() != 1 {
		t.Errorf("after ACK: Cause %q, dialogs %d", call.Cause(), ep.ActiveDialogs())
	}
}

// TestAnswerAck: an ACK that arrives at once (before Answer starts waiting
// for it) confirms the call, with its own branch or with the INVITE's (some
// UACs do that, so it matches the INVITE server transaction, which RFC 6026
// §7.1 passes to the TU from the Accepted state); nothing is retransmitted.
func TestAnswerAck(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name         string
		inviteBranch bool
	}{{"own branch", false}, {"INVITE branch", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ep, q, uac := newUASRig(t, EndpointConfig{})
			uac.send(ep.Addr(), uac.invite())
			call := q.next(t)
			answered := answerAsync(call, answerSDP)
			ok := uac.expect("200", isResponse(200, sip.INVITE))
			uac.learn(ok)
			branch := ""
			if tc.inviteBranch {
				branch = uac.branch
			}
			uac.send(ep.Addr(), uac.ack2xx(branch))
			if err := waitErr(t, "Answer", answered); err != nil {
				t.Fatalf("Answer: %v", err)
			}
			if m, ok := uac.within(1500*time.Millisecond, isResponse(200, sip.INVITE)); ok {
				t.Fatalf("200 retransmitted after the ACK:\n%s", m)
			}
		})
	}
}

// TestAnswerNoAck: without any ACK, Answer gives up after 64*T1 (32 s) with
// ErrNoAck and sends BYE. It takes 64*T1 = 32 s, in parallel with the rest.
func TestAnswerNoAck(t *testing.T) {
	t.Parallel()
	ep, q, uac := newUASRig(t, EndpointConfig{})
	uac.send(ep.Addr(), uac.invite())
	call := q.next(t)
	answered := make(chan error, 1)
	go func() { answered <- call.Answer(context.Background(), []byte(answerSDP)) }()
	ok := uac.expect("200", isResponse(200, sip.INVITE))
	uac.learn(ok)
	bye, got := uac.within(64*sip.T1+waitLong, isRequest(sip.BYE))
	if !got {
		t.Fatal("no BYE after the unacknowledged 200")
	}
	if tagOf(bye.req().From().Params) != uac.toTag || tagOf(bye.req().To().Params) != uac.fromTag {
		t.Errorf("BYE tags wrong:\n%s", bye)
	}
	uac.send(bye.from, reply(bye, 200, "OK", "", nil, ""))
	if err := waitErr(t, "Answer", answered); !errors.Is(err, ErrNoAck) {
		t.Errorf("Answer = %v, want ErrNoAck", err)
	}
	if call.Cause() != CauseNoAck || ep.ActiveDialogs() != 0 {
		t.Errorf("Cause %q, dialogs %d", call.Cause(), ep.ActiveDialogs())
	}
}

// TestIncomingCancel: CANCEL for a pending call gets 200, the INVITE gets
// 487, the call reports Cancelled and its Context ends, and a late Answer
// returns ErrCancelled.
func TestIncomingCancel(t *testing.T) {
	t.Parallel()
	ep, q, uac := newUASRig(t, EndpointConfig{})
	uac.send(ep.Addr(), uac.invite())
	uac.expect("100 Trying", isResponse(100, sip.INVITE))
	call := q.next(t)
	if err := call.Progress(180, "Ringing", nil); err != nil {
		t.Fatalf("Progress: %v", err)
	}
	ringing := uac.expect("180", isResponse(180, sip.INVITE))

	uac.send(ep.Addr(), uac.cancel())
	okCancel := uac.expect("200 for CANCEL", isResponse(200, sip.CANCEL))
	if branchOf(okCancel.msg) != uac.branch {
		t.Errorf("200 for CANCEL has branch %q", branchOf(okCancel.msg))
	}
	terminated := uac.expect("487 for INVITE", isResponse(487, sip.INVITE))
	// RFC 3261 §8.2.6.2: the 487 carries the same To tag as the 180.
	if tag := tagOf(ringing.res().To().Params); tag == "" || tagOf(terminated.res().To().Params) != tag {
		t.Errorf("487 and 180 To tags differ or are missing:\n%s\n%s", terminated, ringing)
	}
	uac.send(ep.Addr(), uac.ackNon2xx(terminated))

	select {
	case <-call.Context().Done():
	case <-time.After(waitLong):
		t.Fatal("Context not done after CANCEL")
	}
	if !call.Cancelled() {
		t.Error("Cancelled() = false after CANCEL")
	}
	if err := call.Answer(context.Background(), []byte(answerSDP)); !errors.Is(err, ErrCancelled) {
		t.Errorf("Answer after CANCEL = %v, want ErrCancelled", err)
	}
	if err := call.Reject(486, "Busy Here"); !errors.Is(err, ErrCancelled) {
		t.Errorf("Reject after CANCEL = %v, want ErrCancelled", err)
	}
	if err := call.Hangup(context.Background()); err != nil {
		t.Errorf("Hangup after CANCEL = %v, want nil", err)
	}
	// The ACK absorbed the 487: no more copies of it, and no 200.
	if m, ok := uac.within(1200*time.Millisecond, isFinal(sip.INVITE)); ok {
		t.Errorf("final response after the ACK for 487:\n%s", m)
	}
	if ep.ActiveDialogs() != 0 {
		t.Errorf("ActiveDialogs = %d", ep.ActiveDialogs())
	}
	eventually(t, "pending call removed", func() bool {
		ep.mu.Lock()
		defer ep.mu.Unlock()
		return len(ep.pending) == 0
	})
}

// TestAnswerTimeout: an INVITE the handler never answers is rejected with
// 408 after AnswerTimeout, and the call's Context ends.
func TestAnswerTimeout(t *testing.T) {
	t.Parallel()
	ep, q, uac := newUASRig(t, EndpointConfig{AnswerTimeout: 300 * time.Millisecond})
	uac.send(ep.Addr(), uac.invite())
	call := q.next(t)
	timeout := uac.expect("408", isFinal(sip.INVITE))
	if timeout.res().StatusCode != 408 {
		t.Fatalf("final response %d, want 408", timeout.res().StatusCode)
	}
	uac.send(ep.Addr(), uac.ackNon2xx(timeout))
	if !closedSoon(call.Context().Done()) {
		t.Error("Context not done after 408")
	}
	if err := call.Answer(context.Background(), []byte(answerSDP)); !errors.Is(err, ErrAlreadyAnswered) {
		t.Errorf("Answer after 408 = %v, want ErrAlreadyAnswered", err)
	}
	if call.Cancelled() {
		t.Error("Cancelled() = true without CANCEL")
	}
}

// TestServerCallResponses: the final responses an incoming INVITE can get
// without being answered, and that provisional and final responses share the
// To tag (RFC 3261 §8.2.6.2).
func TestServerCallResponses(t *testing.T) {
	t.Parallel()
	t.Run("no handler", func(t *testing.T) {
		t.Parallel()
		ep := listenEP(t, EndpointConfig{Name: "nohandler"})
		uac := newRawUAC(newRawUDP(t, "127.0.0.1"), ep.Addr(), "UDP")
		uac.send(ep.Addr(), uac.invite())
		if res := uac.expect("final", isFinal(sip.INVITE)); res.res().StatusCode != 480 {
			t.Errorf("got %s, want 480", startLine(res.data))
		}
	})
	t.Run("Max-Forwards 0", func(t *testing.T) {
		t.Parallel()
		ep, _, uac := newUASRig(t, EndpointConfig{})
		text := strings.Replace(uac.invite(), "Max-Forwards: 70", "Max-Forwards: 0", 1)
		uac.send(ep.Addr(), text)
		if res := uac.expect("final", isFinal(sip.INVITE)); res.res().StatusCode != 483 {
			t.Errorf("got %s, want 483", startLine(res.data))
		}
	})
	t.Run("Reject with header", func(t *testing.T) {
		t.Parallel()
		ep, q, uac := newUASRig(t, EndpointConfig{})
		uac.send(ep.Addr(), uac.invite())
		call := q.next(t)
		if err := call.Progress(183, "Session Progress", []byte(answerSDP)); err != nil {
			t.Fatal(err)
		}
		early := uac.expect("183", isResponse(183, sip.INVITE))
		if string(early.res().Body()) != answerSDP || early.res().Contact() == nil {
			t.Errorf("183 without SDP or Contact:\n%s", early)
		}
		if err := call.Progress(200, "OK", nil); err == nil {
			t.Error("Progress(200) accepted")
		}
		if err := call.Reject(200, "OK"); err == nil {
			t.Error("Reject(200) accepted")
		}
		if err := call.Reject(503, "Service Unavailable", Header{"Retry-After", "30"}); err != nil {
			t.Fatal(err)
		}
		res := uac.expect("503", isFinal(sip.INVITE))
		if res.res().StatusCode != 503 || headerValue(res.data, "Retry-After") != "30" {
			t.Errorf("got\n%s\nwant 503 with Retry-After: 30", res)
		}
		if tagOf(res.res().To().Params) != tagOf(early.res().To().Params) {
			t.Errorf("503 To tag differs from 183's")
		}
		if err := call.Reject(486, "Busy Here"); !errors.Is(err, ErrAlreadyAnswered) {
			t.Errorf("second Reject = %v, want ErrAlreadyAnswered", err)
		}
		if err := call.Progress(180, "Ringing", nil); !errors.Is(err, ErrAlreadyAnswered) {
			t.Errorf("Progress after Reject = %v, want ErrAlreadyAnswered", err)
		}
		uac.send(ep.Addr(), uac.ackNon2xx(res))
	})
}

// TestServerCallHangup: the UAS side's BYE goes to the caller's Contact with
// the dialog's tags, and ends the call with CauseLocal.
func TestServerCallHangup(t *testing.T) {
	t.Parallel()
	ep, q, uac := newUASRig(t, EndpointConfig{})
	call := uac.establish(t, q)
	if err := call.Answer(context.Background(), nil); !errors.Is(err, ErrAlreadyAnswered) {
		t.Errorf("second Answer = %v, want ErrAlreadyAnswered", err)
	}
	hung := make(chan error, 1)
	go func() { hung <- call.Hangup(context.Background()) }()
	bye := uac.expect("BYE", isRequest(sip.BYE))
	b := bye.req()
	if b.Recipient.User != "alice" || b.Recipient.Port != int(uac.addr().Port()) {
		t.Errorf("BYE Request-URI %s, want the caller's Contact", b.Recipient.String())
	}
	if tagOf(b.From().Params) != uac.toTag || tagOf(b.To().Params) != uac.fromTag || b.CallID().Value() != uac.callID {
		t.Errorf("BYE not in the dialog:\n%s", bye)
	}
	uac.send(bye.from, reply(bye, 200, "OK", "", nil, ""))
	if err := waitErr(t, "Hangup", hung); err != nil {
		t.Errorf("Hangup: %v", err)
	}
	if !closedSoon(call.Done()) || call.Cause() != CauseLocal {
		t.Errorf("Cause = %q, want %q", call.Cause(), CauseLocal)
	}
	if err := call.Hangup(context.Background()); err != nil {
		t.Errorf("second Hangup = %v", err)
	}
	if ep.ActiveDialogs() != 0 {
		t.Errorf("ActiveDialogs = %d", ep.ActiveDialogs())
	}
}
