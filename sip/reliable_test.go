package sip

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// prack is the caller's PRACK for a reliable provisional response.
func (u *rawUAC) prack(res rawMsg, body string) string {
	rseq := headerValue(res.data, "RSeq")
	extra := []string{fmt.Sprintf("RAck: %s %d INVITE", rseq, 1)}
	return u.inDialog("PRACK", body, extra...)
}

func rseqOf(t *testing.T, m rawMsg) int {
	t.Helper()
	if !strings.EqualFold(headerValue(m.data, "Require"), "100rel") {
		t.Fatalf("reliable provisional without Require: 100rel:\n%s", m)
	}
	n, err := strconv.Atoi(headerValue(m.data, "RSeq"))
	if err != nil || n < 1 {
		t.Fatalf("reliable provisional with RSeq %q:\n%s", headerValue(m.data, "RSeq"), m)
	}
	return n
}

// A caller that requires 100rel gets every provisional response reliably:
// each with Require: 100rel and the next RSeq, retransmitted until its
// PRACK, the second held back until the first is acknowledged, and the 200
// held back until the PRACK of the one that carried SDP (RFC 3262 §3).
func TestReliableProvisionalsWhenCallerRequires100rel(t *testing.T) {
	t.Parallel()
	q := make(callQueue, 1)
	ep := listenEP(t, EndpointConfig{Name: "uas", Handler: q})
	u := newRawUAC(newRawUDP(t, "127.0.0.1"), ep.Addr(), "UDP")
	u.send(u.ep, u.invite("Require: 100rel", "Supported: 100rel, timer"))
	call := q.next(t)
	if !call.Reliable() {
		t.Fatal("Reliable() is false for an INVITE that requires 100rel")
	}
	if err := call.Progress(180, "Ringing", nil); err != nil {
		t.Fatal(err)
	}
	if err := call.Progress(183, "Session Progress", []byte(answerSDP)); err != nil {
		t.Fatal(err)
	}
	first := u.expect("reliable 180", isResponse(180, sip.INVITE))
	u.learn(first)
	rseq := rseqOf(t, first)
	// Not acknowledged: retransmitted (T1), and the 183 waits.
	again := u.expect("retransmitted 180", func(m rawMsg) bool { return isResponse(180, sip.INVITE)(m) || isResponse(183, sip.INVITE)(m) })
	if again.res().StatusCode != 180 || rseqOf(t, again) != rseq {
		t.Fatalf("want the 180 again before its PRACK, got:\n%s", again)
	}

	// A PRACK that names no unacknowledged response: 481.
	u.send(u.ep, u.inDialog("PRACK", "", fmt.Sprintf("RAck: %d 1 INVITE", rseq+5)))
	u.expect("481 to a PRACK for nothing", isResponse(481, sip.PRACK))

	u.send(u.ep, u.prack(first, ""))
	u.expect("200 to PRACK", isResponse(200, sip.PRACK))
	second := u.expect("reliable 183", isResponse(183, sip.INVITE))
	if got := rseqOf(t, second); got != rseq+1 {
		t.Errorf("183 RSeq %d, want %d", got, rseq+1)
	}
	if !strings.Contains(string(second.data), "m=audio 41000") {
		t.Errorf("183 lost its SDP:\n%s", second)
	}

	answered := make(chan error, 1)
	go func() { answered <- call.Answer(context.Background(), []byte(answerSDP)) }()
	if m, ok := u.within(300*time.Millisecond, isResponse(200, sip.INVITE)); ok {
		t.Fatalf("200 before the PRACK of the 183 that carried SDP:\n%s", m)
	}
	u.send(u.ep, u.prack(second, ""))
	u.expect("200 to the second PRACK", isResponse(200, sip.PRACK))
	ok := u.expect("200 to INVITE", isResponse(200, sip.INVITE))
	u.learn(ok)
	u.send(u.ep, u.ack2xx(""))
	select {
	case err := <-answered:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitLong):
		t.Fatal("Answer did not return")
	}
	if m, ok := u.within(2*sip.T1, isResponse(183, sip.INVITE)); ok {
		t.Errorf("acknowledged 183 still retransmitted:\n%s", m)
	}
}

// A caller that only supports 100rel gets SDP reliably and a plain 180
// unreliably. When its INVITE had no SDP (Delayed Offer), byocp's offer in
// the reliable 183 is answered in the PRACK, which reaches the owner of
// the early requests; an UPDATE offer while that offer is outstanding
// gets 491 (RFC 3311 §5.2).
func TestDelayedOfferAnsweredInPrack(t *testing.T) {
	t.Parallel()
	q := make(callQueue, 1)
	ep := listenEP(t, EndpointConfig{Name: "uas", Handler: q})
	u := newRawUAC(newRawUDP(t, "127.0.0.1"), ep.Addr(), "UDP")
	inv := u.invite("Supported: 100rel")
	inv = strings.Replace(inv[:strings.Index(inv, "\r\n\r\n")+4], "Content-Type: application/sdp\r\n", "", 1)
	inv = strings.Replace(inv, "Content-Length: "+strconv.Itoa(len(offerSDP)), "Content-Length: 0", 1)
	u.send(u.ep, inv)
	call := q.next(t)
	early := call.EarlyRequests()
	if err := call.Progress(180, "Ringing", nil); err != nil {
		t.Fatal(err)
	}
	ringing := u.expect("180", isResponse(180, sip.INVITE))
	if headerValue(ringing.data, "RSeq") != "" || headerValue(ringing.data, "Require") != "" {
		t.Errorf("180 without SDP sent reliably to a caller that only supports 100rel:\n%s", ringing)
	}
	if err := call.Progress(183, "Session Progress", []byte(offerSDP)); err != nil {
		t.Fatal(err)
	}
	progress := u.expect("reliable 183 with byocp's offer", isResponse(183, sip.INVITE))
	u.learn(progress)
	rseqOf(t, progress)

	u.send(u.ep, u.inDialog("UPDATE", reofferSDP))
	u.expect("491 to an UPDATE crossing byocp's offer", isResponse(491, sip.UPDATE))

	u.send(u.ep, u.prack(progress, answerSDP))
	select {
	case r := <-early:
		if r.Method != "PRACK" || !r.Answer || string(r.Body) != answerSDP {
			t.Fatalf("early request %s answer=%v body %q", r.Method, r.Answer, r.Body)
		}
		if err := r.Respond(200, "OK", nil); err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitLong):
		t.Fatal("the PRACK's answer did not reach the owner")
	}
	u.expect("200 to PRACK", isResponse(200, sip.PRACK))

	// Offer/answer is complete: an UPDATE offer now reaches the owner.
	u.send(u.ep, u.inDialog("UPDATE", reofferSDP))
	select {
	case r := <-early:
		if r.Method != "UPDATE" || r.Answer || string(r.Body) != reofferSDP {
			t.Fatalf("early request %s answer=%v body %q", r.Method, r.Answer, r.Body)
		}
		_ = r.Respond(200, "OK", []byte(answerSDP))
	case <-time.After(waitLong):
		t.Fatal("the early UPDATE did not reach the owner")
	}
	res := u.expect("200 to UPDATE", isResponse(200, sip.UPDATE))
	if !strings.Contains(string(res.data), "m=audio 41000") || headerValue(res.data, "Contact", "m") == "" {
		t.Errorf("200 to UPDATE without the answer or Contact:\n%s", res)
	}
	_ = call.Reject(486, "Busy Here")
}

// A reliable provisional response never acknowledged fails the INVITE
// with a 5xx after 64*T1 (RFC 3262 §3).
func TestReliableProvisionalWithoutPrackFailsInvite(t *testing.T) {
	t.Parallel()
	q := make(callQueue, 1)
	ep := listenEP(t, EndpointConfig{Name: "uas", Handler: q})
	u := newRawUAC(newRawUDP(t, "127.0.0.1"), ep.Addr(), "UDP")
	u.send(u.ep, u.invite("Require: 100rel"))
	call := q.next(t)
	if err := call.Progress(183, "Session Progress", []byte(answerSDP)); err != nil {
		t.Fatal(err)
	}
	if m, ok := u.within(64*sip.T1+5*time.Second, isFinal(sip.INVITE)); !ok || m.res().StatusCode/100 != 5 {
		t.Fatalf("want a 5xx once the 183 is never PRACKed, got:\n%s", m)
	}
	if !closedSoon(call.Context().Done()) {
		t.Error("call context still alive after the INVITE failed")
	}
}

// An INVITE that requires an extension byocp lacks gets 420 naming it.
func TestRequireUnsupportedExtension(t *testing.T) {
	t.Parallel()
	q := make(callQueue, 1)
	ep := listenEP(t, EndpointConfig{Name: "uas", Handler: q})
	u := newRawUAC(newRawUDP(t, "127.0.0.1"), ep.Addr(), "UDP")
	u.send(u.ep, u.invite("Require: 100rel, precondition"))
	m := u.expect("420", isFinal(sip.INVITE))
	if m.res().StatusCode != 420 || headerValue(m.data, "Unsupported") != "precondition" {
		t.Fatalf("want 420 with Unsupported: precondition, got:\n%s", m)
	}
	select {
	case c := <-q:
		t.Fatalf("call %s reached the handler", c.CallID())
	default:
	}
}

// The callee's UPDATE in an early dialog of an INVITE byocp places reaches
// OnEarlyRequest on Invite's goroutine, and so do requests arriving on
// InviteRequest.EarlyRequests (the caller leg's, in a B2BUA).
func TestEarlyUpdateFromCalleeReachesInvite(t *testing.T) {
	t.Parallel()
	ep := listenEP(t, EndpointConfig{Name: "uac"})
	uas := newRawUDP(t, "127.0.0.1")
	ap := uas.addr()
	seen := make(chan string, 2)
	other := make(chan *EarlyRequest)
	results := make(chan inviteResult, 1)
	go func() {
		call, err := ep.Invite(context.Background(), InviteRequest{
			RequestURI: URI{User: "+14155550199", Host: ap.Addr().String(), Port: int(ap.Port())},
			From:       NameAddr{URI: URI{User: "+14155550100", Host: ep.Host()}},
			To:         NameAddr{URI: URI{User: "+14155550199", Host: ap.Addr().String()}},
			SDP:        []byte(offerSDP),
			OnEarlyRequest: func(r *EarlyRequest) {
				seen <- r.Method + " " + string(r.Body)
				_ = r.Respond(200, "OK", []byte(answerSDP))
			},
			EarlyRequests: other,
		})
		results <- inviteResult{call, err}
	}()
	inv := uas.expect("INVITE", isRequest(sip.INVITE))
	uas.send(inv.from, reply(inv, 183, "Session Progress", "early", []string{contactOf(uas)}, answerSDP))
	r := inv.req()
	update := sipMsg("UPDATE "+r.Contact().Address.String()+" SIP/2.0", []string{
		fmt.Sprintf("Via: SIP/2.0/UDP %s;branch=z9hG4bK%s", uas.hostPort(), unique("upd")),
		"Max-Forwards: 70",
		"From: " + r.To().Value() + ";tag=early",
		"To: " + r.From().Value(),
		"Call-ID: " + r.CallID().Value(),
		"CSeq: 7 UPDATE",
		contactOf(uas),
		"Content-Type: application/sdp",
	}, reofferSDP)
	uas.send(inv.from, update)
	res := uas.expect("200 to the early UPDATE", isResponse(200, sip.UPDATE))
	if !strings.Contains(string(res.data), "m=audio 41000") {
		t.Errorf("200 without the owner's answer:\n%s", res)
	}
	if got := <-seen; got != "UPDATE "+reofferSDP {
		t.Errorf("OnEarlyRequest saw %q", got)
	}
	uas.send(inv.from, reply(inv, 486, "Busy Here", "early", nil, ""))
	if r := waitInvite(t, results); r.err == nil {
		t.Fatal("Invite succeeded on 486")
	}
	// Once Invite has returned, a late early UPDATE is asked to retry.
	uas.send(inv.from, strings.Replace(strings.Replace(update, "CSeq: 7", "CSeq: 8", 1), "branch=z9hG4bK", "branch=z9hG4bKlate", 1))
	if m := uas.expect("answer to a late early UPDATE", isFinal(sip.UPDATE)); m.res().StatusCode != 500 && m.res().StatusCode != 481 {
		t.Errorf("late early UPDATE got %d", m.res().StatusCode)
	}
}
