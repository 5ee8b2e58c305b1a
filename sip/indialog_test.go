package sip

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

const holdAnswerSDP = "v=0\r\no=- 2 3 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 41000 RTP/AVP 0\r\na=recvonly\r\n"

// newOwnerRig is a UAS whose calls are answered by an owner that takes the
// in-dialog requests before answering; it returns the answered call and
// the owner's request channel.
func newOwnerRig(t *testing.T, cfg EndpointConfig) (*Endpoint, *rawUAC, *ServerCall, <-chan *DialogRequest) {
	t.Helper()
	q := make(callQueue, 1)
	cfg.Handler = q
	cfg.Name = "uas"
	ep := listenEP(t, cfg)
	uac := newRawUAC(newRawUDP(t, "127.0.0.1"), ep.Addr(), "UDP")
	uac.send(ep.Addr(), uac.invite())
	call := q.next(t)
	reqs := call.TakeRequests()
	answered := answerAsync(call, answerSDP)
	uac.learn(uac.expect("200 to INVITE", isResponse(200, sip.INVITE)))
	uac.send(ep.Addr(), uac.ack2xx(""))
	if err := waitErr(t, "Answer", answered); err != nil {
		t.Fatal(err)
	}
	return ep, uac, call, reqs
}

func nextRequest(t *testing.T, reqs <-chan *DialogRequest) *DialogRequest {
	t.Helper()
	select {
	case r := <-reqs:
		return r
	case <-time.After(waitLong):
		t.Fatal("no in-dialog request reached the owner")
		return nil
	}
}

// TestOwnerAnswersReinvite: a re-INVITE reaches the owner with its offer;
// the owner's 200 (with its own SDP, not the dialog's stored one) is
// retransmitted over UDP until the ACK, a retransmitted re-INVITE gets the
// 200 again, and the ACK is delivered to the owner.
func TestOwnerAnswersReinvite(t *testing.T) {
	t.Parallel()
	ep, uac, _, reqs := newOwnerRig(t, EndpointConfig{})
	reinvite := uac.inDialog("INVITE", reofferSDP)
	uac.send(ep.Addr(), reinvite)
	r := nextRequest(t, reqs)
	if r.Method != "INVITE" || string(r.Body) != reofferSDP || !r.HasSDP() || int(r.CSeq) != uac.cseq {
		t.Fatalf("owner got %s CSeq %d body %q", r.Method, r.CSeq, r.Body)
	}
	if err := r.Respond(200, "OK", []byte(holdAnswerSDP)); err != nil {
		t.Fatal(err)
	}
	first := uac.expect("200 to re-INVITE", isResponse(200, sip.INVITE))
	if string(first.res().Body()) != holdAnswerSDP || first.res().Contact() == nil {
		t.Fatalf("200 to re-INVITE:\n%s", first)
	}
	uac.expect("200 retransmitted while no ACK", isResponse(200, sip.INVITE))
	uac.send(ep.Addr(), reinvite) // the peer repeats its re-INVITE
	uac.expect("200 again after the repeated re-INVITE", isResponse(200, sip.INVITE))
	uac.send(ep.Addr(), uac.ack2xx(""))
	select {
	case body, ok := <-r.Ack():
		if !ok || body != nil {
			t.Errorf("Ack() = %q, %v; want an ACK without body", body, ok)
		}
	case <-time.After(waitLong):
		t.Fatal("ACK not delivered")
	}
	// No more retransmissions after the ACK (drain what was in flight).
	time.Sleep(sip.T1)
	for {
		if _, ok := uac.within(0, anything); !ok {
			break
		}
	}
	if m, ok := uac.within(3*sip.T1, isResponse(200, sip.INVITE)); ok {
		t.Errorf("200 retransmitted after the ACK:\n%s", m)
	}
}

// TestOfferlessReinvite: a re-INVITE without SDP; the owner offers in the
// 200 and receives the peer's answer from the ACK.
func TestOfferlessReinvite(t *testing.T) {
	t.Parallel()
	ep, uac, _, reqs := newOwnerRig(t, EndpointConfig{})
	uac.send(ep.Addr(), uac.inDialog("INVITE", ""))
	r := nextRequest(t, reqs)
	if r.HasSDP() {
		t.Fatal("offerless re-INVITE reported with SDP")
	}
	if err := r.Respond(200, "OK", []byte(answerSDP)); err != nil {
		t.Fatal(err)
	}
	uac.expect("200 with our offer", isResponse(200, sip.INVITE))
	ack := uac.ack2xx("")
	ack = ack[:len(ack)-len("Content-Length: 0\r\n\r\n")] + "Content-Type: application/sdp\r\nContent-Length: " +
		strconv.Itoa(len(reofferSDP)) + "\r\n\r\n" + reofferSDP
	uac.send(ep.Addr(), ack)
	select {
	case body := <-r.Ack():
		if string(body) != reofferSDP {
			t.Errorf("Ack() body %q, want the answer", body)
		}
	case <-time.After(waitLong):
		t.Fatal("ACK not delivered")
	}
}

// TestInDialogOrdering: a request with a CSeq below the last one gets 500;
// a second re-INVITE while the first is unanswered gets 500 with
// Retry-After; an owner that never answers gets its request answered 500.
func TestInDialogOrdering(t *testing.T) {
	t.Parallel()
	ep, uac, _, reqs := newOwnerRig(t, EndpointConfig{RequestTimeout: 300 * time.Millisecond})

	uac.send(ep.Addr(), uac.inDialog("INFO", ""))
	nextRequest(t, reqs).Respond(200, "OK", nil)
	uac.expect("200 to INFO", isResponse(200, sip.INFO))
	uac.cseq -= 2
	uac.send(ep.Addr(), uac.inDialog("INFO", ""))
	if res := uac.expect("answer to a stale CSeq", isFinal(sip.INFO)); res.res().StatusCode != 500 ||
		!strings.Contains(headerValue(res.data, "Warning"), "CSeq") {
		t.Errorf("stale CSeq: %s, want 500 with a Warning about the CSeq", res)
	}
	select {
	case r := <-reqs:
		t.Errorf("request with a stale CSeq %d reached the owner", r.CSeq)
	default:
	}
	uac.cseq += 2

	uac.send(ep.Addr(), uac.inDialog("INVITE", reofferSDP))
	first := nextRequest(t, reqs)
	uac.send(ep.Addr(), uac.inDialog("INVITE", reofferSDP))
	res := uac.expect("answer to the overlapping re-INVITE", isFinal(sip.INVITE))
	if res.res().StatusCode != 500 || res.res().GetHeader("Retry-After") == nil || int(res.res().CSeq().SeqNo) != uac.cseq {
		t.Errorf("overlapping re-INVITE: %s, want 500 with Retry-After", res)
	}
	uac.send(ep.Addr(), uac.ackNon2xx(res))
	// The owner never answers the first: the dialog answers 500 in time.
	late := uac.expect("default answer", func(m rawMsg) bool {
		return isFinal(sip.INVITE)(m) && int(m.res().CSeq().SeqNo) == int(first.CSeq)
	})
	if late.res().StatusCode != 500 {
		t.Errorf("unanswered re-INVITE: %d, want 500", late.res().StatusCode)
	}
	if err := first.Respond(200, "OK", nil); !errors.Is(err, ErrAlreadyAnswered) {
		t.Errorf("Respond after the default answer = %v", err)
	}
}

// TestReinviteSent: Reinvite sends the offer in the dialog, ACKs the 2xx
// with the ack body at the CSeq of the re-INVITE and again for each
// retransmitted 2xx; a failure is a *StatusError and leaves the dialog up.
func TestReinviteSent(t *testing.T) {
	t.Parallel()
	_, uac, call, _ := newOwnerRig(t, EndpointConfig{})
	type result struct {
		res Response
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := call.Reinvite(context.Background(), []byte(reofferSDP), nil, func(Response) []byte { return []byte(answerSDP) })
		done <- result{res, err}
	}()
	inv := uac.expect("re-INVITE", isRequest(sip.INVITE))
	if string(inv.req().Body()) != reofferSDP || tagOf(inv.req().To().Params) != uac.fromTag {
		t.Fatalf("re-INVITE:\n%s", inv)
	}
	ok := reply(inv, 200, "OK", "", []string{contactOf(uac.rawPeer)}, holdAnswerSDP)
	uac.send(inv.from, ok)
	ack := uac.expect("ACK", isRequest(sip.ACK))
	if ack.req().CSeq().SeqNo != inv.req().CSeq().SeqNo || string(ack.req().Body()) != answerSDP {
		t.Errorf("ACK CSeq %s body %q", ack.req().CSeq().Value(), ack.req().Body())
	}
	r := <-done
	if r.err != nil || string(r.res.Body) != holdAnswerSDP {
		t.Fatalf("Reinvite = %q, %v", r.res.Body, r.err)
	}
	uac.send(inv.from, ok) // retransmitted 2xx
	uac.expect("ACK for the retransmitted 2xx", isRequest(sip.ACK))

	go func() {
		res, err := call.Reinvite(context.Background(), []byte(reofferSDP), nil, nil)
		done <- result{res, err}
	}()
	inv = uac.expect("second re-INVITE", isRequest(sip.INVITE))
	uac.send(inv.from, reply(inv, 488, "Not Acceptable Here", "", nil, ""))
	uac.expect("ACK for 488", isRequest(sip.ACK))
	r = <-done
	var se *StatusError
	if !errors.As(r.err, &se) || se.Response.StatusCode != 488 {
		t.Fatalf("Reinvite rejected: %v", r.err)
	}
	if call.Cause() != CauseNone {
		t.Errorf("failed re-INVITE ended the call: %q", call.Cause())
	}
}

// TestReinviteGlare: while our re-INVITE is pending, the peer's re-INVITE
// gets 491; ours answered 491 returns it, and GlareDelay is 0-2 s for the
// side that did not choose the Call-ID. Another Reinvite while one is
// pending gets ErrPending.
func TestReinviteGlare(t *testing.T) {
	t.Parallel()
	ep, uac, call, _ := newOwnerRig(t, EndpointConfig{})
	done := make(chan error, 1)
	go func() {
		_, err := call.Reinvite(context.Background(), []byte(reofferSDP), nil, nil)
		done <- err
	}()
	ours := uac.expect("our re-INVITE", isRequest(sip.INVITE))
	if _, err := call.Reinvite(context.Background(), nil, nil, nil); !errors.Is(err, ErrPending) {
		t.Errorf("second Reinvite while pending = %v, want ErrPending", err)
	}
	uac.send(ep.Addr(), uac.inDialog("INVITE", reofferSDP))
	if res := uac.expect("answer to the crossing re-INVITE", isFinal(sip.INVITE)); res.res().StatusCode != 491 {
		t.Errorf("crossing re-INVITE: %d, want 491", res.res().StatusCode)
	}
	uac.send(ours.from, reply(ours, 491, "Request Pending", "", nil, ""))
	var se *StatusError
	if err := <-done; !errors.As(err, &se) || se.Response.StatusCode != 491 {
		t.Fatalf("Reinvite = %v, want 491", err)
	}
	for range 20 {
		if d := call.GlareDelay(); d < 0 || d > 2*time.Second {
			t.Fatalf("GlareDelay of the answering side = %s, want 0-2 s", d)
		}
	}
}

// TestSendInDialog: Send carries UPDATE and INFO with their bodies and
// returns the final response; a failure is a *StatusError.
func TestSendInDialog(t *testing.T) {
	t.Parallel()
	_, uac, call, _ := newOwnerRig(t, EndpointConfig{})
	type result struct {
		res Response
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := call.Send(context.Background(), "INFO", []byte("Signal=5\r\nDuration=160\r\n"), "application/dtmf-relay")
		done <- result{res, err}
	}()
	info := uac.expect("INFO", isRequest(sip.INFO))
	if string(info.req().Body()) != "Signal=5\r\nDuration=160\r\n" || info.req().ContentType().Value() != "application/dtmf-relay" {
		t.Errorf("INFO:\n%s", info)
	}
	uac.send(info.from, reply(info, 200, "OK", "", nil, ""))
	if r := <-done; r.err != nil || r.res.StatusCode != 200 {
		t.Fatalf("Send INFO = %d, %v", r.res.StatusCode, r.err)
	}
	go func() {
		res, err := call.Send(context.Background(), "UPDATE", nil, "")
		done <- result{res, err}
	}()
	upd := uac.expect("UPDATE", isRequest(sip.UPDATE))
	uac.send(upd.from, reply(upd, 403, "Forbidden", "", nil, ""))
	var se *StatusError
	if r := <-done; !errors.As(r.err, &se) || se.Response.StatusCode != 403 {
		t.Fatalf("Send UPDATE = %v, want 403", r.err)
	}
}

// TestReinviteNoAckEndsCall: a 2xx to a re-INVITE that is never ACKed ends
// the call with BYE after 64*T1 (RFC 3261 §13.3.1.4).
func TestReinviteNoAckEndsCall(t *testing.T) {
	t.Parallel()
	ep, uac, call, reqs := newOwnerRig(t, EndpointConfig{})
	uac.send(ep.Addr(), uac.inDialog("INVITE", reofferSDP))
	r := nextRequest(t, reqs)
	if err := r.Respond(200, "OK", []byte(holdAnswerSDP)); err != nil {
		t.Fatal(err)
	}
	if _, got := uac.within(64*sip.T1+waitLong, isRequest(sip.BYE)); !got {
		t.Fatal("no BYE after the unacknowledged 200 to the re-INVITE")
	}
	if _, ok := <-r.Ack(); ok {
		t.Error("Ack() delivered a value without an ACK")
	}
	if call.Cause() != CauseNoAck {
		t.Errorf("Cause = %q, want %q", call.Cause(), CauseNoAck)
	}
}
