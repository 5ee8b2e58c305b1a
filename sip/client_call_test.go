package sip

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

type inviteResult struct {
	call *ClientCall
	err  error
}

// startInvite runs ep.Invite toward the raw UAS on its own goroutine.
func startInvite(ctx context.Context, ep *Endpoint, uas *rawPeer, onProvisional func(Response)) <-chan inviteResult {
	results := make(chan inviteResult, 1)
	ap := uas.addr()
	go func() {
		call, err := ep.Invite(ctx, InviteRequest{
			RequestURI:    URI{User: "+14155550199", Host: ap.Addr().String(), Port: int(ap.Port())},
			From:          NameAddr{DisplayName: "Alice", URI: URI{User: "+14155550100", Host: ep.Host()}},
			To:            NameAddr{URI: URI{User: "+14155550199", Host: ap.Addr().String()}},
			SDP:           []byte(offerSDP),
			Headers:       []Header{{Name: "P-Asserted-Identity", Value: "<sip:+14155550100@" + sipHost(ep.Host()) + ">"}},
			OnProvisional: onProvisional,
		})
		results <- inviteResult{call, err}
	}()
	return results
}

func waitInvite(t *testing.T, results <-chan inviteResult) inviteResult {
	t.Helper()
	select {
	case r := <-results:
		return r
	case <-time.After(waitLong):
		t.Fatal("Invite did not return")
		return inviteResult{}
	}
}

// contactOf is a Contact header line pointing at a raw peer.
func contactOf(p *rawPeer) string { return fmt.Sprintf("Contact: <sip:bob@%s>", p.hostPort()) }

// TestInviteAcksEvery2xxRetransmission: the INVITE carries the offer, a
// Contact and an RFC 3261 branch; 180 reaches OnProvisional; the 200 is
// ACKed at its Contact with the INVITE's CSeq number and a new branch; each
// of three retransmissions of the 200 gets the same ACK again
// (RFC 3261 §13.2.2.4, pitfall 18), and only one call results.
func TestInviteAcksEvery2xxRetransmission(t *testing.T) {
	t.Parallel()
	ep := listenEP(t, EndpointConfig{Name: "uac"})
	uas := newRawUDP(t, "127.0.0.1")
	target := newRawUDP(t, "127.0.0.1") // the UAS's Contact: ACK and BYE go here
	provisional := make(chan Response, 4)
	results := startInvite(context.Background(), ep, uas, func(r Response) { provisional <- r })

	inv := uas.expect("INVITE", isRequest(sip.INVITE))
	req := inv.req()
	if got := string(req.Body()); got != offerSDP {
		t.Errorf("INVITE body = %q, want the offer", got)
	}
	if ct := req.ContentType(); ct == nil || ct.Value() != "application/sdp" {
		t.Errorf("INVITE Content-Type = %v", ct)
	}
	if c := req.Contact(); c == nil || c.Address.Host != "127.0.0.1" || c.Address.Port != int(ep.Addr().Port()) {
		t.Errorf("INVITE Contact = %v, want the endpoint %s", c, ep.Addr())
	}
	via := req.Via()
	if via == nil || via.Host != "127.0.0.1" || via.Port != int(ep.Addr().Port()) || via.Transport != "UDP" {
		t.Errorf("INVITE Via = %v, want UDP %s", via, ep.Addr())
	}
	inviteBranch := branchOf(req)
	if !strings.HasPrefix(inviteBranch, sip.RFC3261BranchMagicCookie) || len(inviteBranch) <= len(sip.RFC3261BranchMagicCookie) {
		t.Errorf("INVITE branch = %q, want z9hG4bK…", inviteBranch)
	}
	if inv.from != ep.Addr() {
		t.Errorf("INVITE came from %s, want the listening socket %s", inv.from, ep.Addr())
	}
	if got := headerValue(inv.data, "P-Asserted-Identity"); !strings.Contains(got, "+14155550100") {
		t.Errorf("P-Asserted-Identity = %q", got)
	}
	if tagOf(req.From().Params) == "" || tagOf(req.To().Params) != "" {
		t.Errorf("INVITE From/To tags wrong: %s / %s", req.From(), req.To())
	}

	uas.send(inv.from, reply(inv, 100, "Trying", "", nil, ""))
	uas.send(inv.from, reply(inv, 180, "Ringing", "uas1", []string{contactOf(target)}, ""))
	select {
	case r := <-provisional:
		if r.StatusCode != 180 {
			t.Errorf("OnProvisional got %d first, want 180 (100 is not reported)", r.StatusCode)
		}
	case <-time.After(waitLong):
		t.Fatal("OnProvisional not called for 180")
	}

	ok := reply(inv, 200, "OK", "uas1", []string{contactOf(target)}, answerSDP)
	uas.send(inv.from, ok)
	ack := target.expect("ACK at the 200's Contact", isRequest(sip.ACK))
	a := ack.req()
	if a.Recipient.User != "bob" || a.Recipient.Port != int(target.addr().Port()) {
		t.Errorf("ACK Request-URI = %s, want the 200's Contact", a.Recipient.String())
	}
	if a.CSeq().SeqNo != req.CSeq().SeqNo || a.CSeq().MethodName != sip.ACK {
		t.Errorf("ACK CSeq = %s, want %d ACK", a.CSeq().Value(), req.CSeq().SeqNo)
	}
	ackBranch := branchOf(a)
	if ackBranch == inviteBranch || !strings.HasPrefix(ackBranch, sip.RFC3261BranchMagicCookie) {
		t.Errorf("ACK branch = %q, want a new one (INVITE's is %q)", ackBranch, inviteBranch)
	}
	if tagOf(a.To().Params) != "uas1" || a.CallID().Value() != req.CallID().Value() {
		t.Errorf("ACK To/Call-ID = %s / %s", a.To(), a.CallID())
	}
	if len(a.Body()) != 0 {
		t.Errorf("ACK has a body: %q", a.Body())
	}

	r := waitInvite(t, results)
	if r.err != nil {
		t.Fatalf("Invite: %v", r.err)
	}
	if r.call.Answer().StatusCode != 200 || !r.call.Answer().HasSDP() || string(r.call.Answer().Body) != answerSDP {
		t.Errorf("Answer() = %d %q", r.call.Answer().StatusCode, r.call.Answer().Body)
	}
	if r.call.CallID() != req.CallID().Value() {
		t.Errorf("CallID() = %q, want %q", r.call.CallID(), req.CallID().Value())
	}

	// The UAS did not see our ACK and repeats its 200: each copy is ACKed.
	for i := range 3 {
		uas.send(inv.from, ok)
		again := target.expect(fmt.Sprintf("ACK for retransmission %d", i+1), isRequest(sip.ACK))
		if branchOf(again.msg) != ackBranch || again.req().CSeq().SeqNo != req.CSeq().SeqNo {
			t.Errorf("re-ACK %d: branch %q CSeq %s, want the first ACK again", i+1, branchOf(again.msg), again.req().CSeq().Value())
		}
	}
	if n := ep.ActiveDialogs(); n != 1 {
		t.Errorf("ActiveDialogs = %d, want 1", n)
	}
	select {
	case extra := <-results:
		t.Fatalf("Invite returned twice: %+v", extra)
	default:
	}

	// Hang up: BYE to the remote target with the next CSeq.
	hung := make(chan error, 1)
	go func() { hung <- r.call.Hangup(context.Background()) }()
	bye := target.expect("BYE", isRequest(sip.BYE))
	b := bye.req()
	if b.CSeq().SeqNo != req.CSeq().SeqNo+1 || tagOf(b.To().Params) != "uas1" || tagOf(b.From().Params) != tagOf(req.From().Params) {
		t.Errorf("BYE CSeq/To/From = %s / %s / %s", b.CSeq().Value(), b.To(), b.From())
	}
	target.send(bye.from, reply(bye, 200, "OK", "", nil, ""))
	select {
	case err := <-hung:
		if err != nil {
			t.Errorf("Hangup: %v", err)
		}
	case <-time.After(waitLong):
		t.Fatal("Hangup did not return")
	}
	if r.call.Cause() != CauseLocal || !closedSoon(r.call.Done()) {
		t.Errorf("after Hangup: Cause %q", r.call.Cause())
	}
	if n := ep.ActiveDialogs(); n != 0 {
		t.Errorf("ActiveDialogs after hangup = %d", n)
	}
}

// TestInviteCancelAfterProvisional: a context cancelled after 180 sends
// CANCEL on the INVITE's branch to the same hop; the 487 is ACKed by the
// transaction (same branch) and Invite returns ErrCancelled.
func TestInviteCancelAfterProvisional(t *testing.T) {
	t.Parallel()
	ep := listenEP(t, EndpointConfig{Name: "uac"})
	uas := newRawUDP(t, "127.0.0.1")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	results := startInvite(ctx, ep, uas, func(r Response) {
		if r.StatusCode == 180 {
			cancel()
		}
	})

	inv := uas.expect("INVITE", isRequest(sip.INVITE))
	uas.send(inv.from, reply(inv, 180, "Ringing", "uas2", []string{contactOf(uas)}, ""))
	can := uas.expect("CANCEL", isRequest(sip.CANCEL))
	c, i := can.req(), inv.req()
	if branchOf(c) != branchOf(i) {
		t.Errorf("CANCEL branch %q, want the INVITE's %q", branchOf(c), branchOf(i))
	}
	if c.CSeq().SeqNo != i.CSeq().SeqNo || c.CSeq().MethodName != sip.CANCEL {
		t.Errorf("CANCEL CSeq = %s, want %d CANCEL", c.CSeq().Value(), i.CSeq().SeqNo)
	}
	if c.Recipient.String() != i.Recipient.String() || c.CallID().Value() != i.CallID().Value() ||
		c.From().Value() != i.From().Value() || c.To().Value() != i.To().Value() {
		t.Errorf("CANCEL does not copy the INVITE's Request-URI, Call-ID, From and To:\n%s\n%s", can, inv)
	}
	if can.from != inv.from {
		t.Errorf("CANCEL from %s, INVITE from %s", can.from, inv.from)
	}
	uas.send(can.from, reply(can, 200, "OK", "", nil, ""))
	uas.send(inv.from, reply(inv, 487, "Request Terminated", "uas2", nil, ""))

	ack := uas.expect("ACK for 487", isRequest(sip.ACK))
	a := ack.req()
	if branchOf(a) != branchOf(i) || a.CSeq().SeqNo != i.CSeq().SeqNo || a.CSeq().MethodName != sip.ACK {
		t.Errorf("ACK for 487: branch %q CSeq %s, want the INVITE's branch and %d ACK", branchOf(a), a.CSeq().Value(), i.CSeq().SeqNo)
	}
	if tagOf(a.To().Params) != "uas2" || a.Recipient.String() != i.Recipient.String() {
		t.Errorf("ACK for 487: To %s, Request-URI %s", a.To(), a.Recipient.String())
	}
	if r := waitInvite(t, results); !errors.Is(r.err, ErrCancelled) || r.call != nil {
		t.Errorf("Invite = %v, %v; want ErrCancelled", r.call, r.err)
	}
}

// TestInviteCancelWaitsForProvisional: CANCEL is held until the first
// provisional response (RFC 3261 §9.1), then sent.
func TestInviteCancelWaitsForProvisional(t *testing.T) {
	t.Parallel()
	ep := listenEP(t, EndpointConfig{Name: "uac"})
	uas := newRawUDP(t, "127.0.0.1")
	ctx, cancel := context.WithCancel(context.Background())
	results := startInvite(ctx, ep, uas, nil)

	inv := uas.expect("INVITE", isRequest(sip.INVITE))
	cancel()
	if m, ok := uas.within(700*time.Millisecond, isRequest(sip.CANCEL)); ok {
		t.Fatalf("CANCEL sent before any provisional response:\n%s", m)
	}
	uas.send(inv.from, reply(inv, 180, "Ringing", "uas3", nil, ""))
	can := uas.expect("CANCEL after 180", isRequest(sip.CANCEL))
	uas.send(can.from, reply(can, 200, "OK", "", nil, ""))
	uas.send(inv.from, reply(inv, 487, "Request Terminated", "uas3", nil, ""))
	uas.expect("ACK for 487", isRequest(sip.ACK))
	if r := waitInvite(t, results); !errors.Is(r.err, ErrCancelled) {
		t.Errorf("Invite error = %v, want ErrCancelled", r.err)
	}
}

// TestInviteCancelCrossed200: a 200 that crosses our CANCEL is ACKed, then
// hung up with BYE, and Invite still reports ErrCancelled (RFC 5407 §3.1.2,
// pitfall 19).
func TestInviteCancelCrossed200(t *testing.T) {
	t.Parallel()
	ep := listenEP(t, EndpointConfig{Name: "uac"})
	uas := newRawUDP(t, "127.0.0.1")
	target := newRawUDP(t, "127.0.0.1")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	results := startInvite(ctx, ep, uas, func(r Response) {
		if r.StatusCode == 180 {
			cancel()
		}
	})

	inv := uas.expect("INVITE", isRequest(sip.INVITE))
	uas.send(inv.from, reply(inv, 180, "Ringing", "uas4", []string{contactOf(target)}, ""))
	can := uas.expect("CANCEL", isRequest(sip.CANCEL))
	// The UAS had answered already: its 200 for the INVITE crosses the CANCEL.
	uas.send(inv.from, reply(inv, 200, "OK", "uas4", []string{contactOf(target)}, answerSDP))
	uas.send(can.from, reply(can, 200, "OK", "", nil, ""))

	ack := target.expect("ACK for the crossing 200", isRequest(sip.ACK))
	if ack.req().CSeq().SeqNo != inv.req().CSeq().SeqNo || branchOf(ack.msg) == branchOf(inv.msg) {
		t.Errorf("ACK for the crossing 200: CSeq %s branch %q", ack.req().CSeq().Value(), branchOf(ack.msg))
	}
	bye := target.expect("BYE after the ACK", isRequest(sip.BYE))
	if tagOf(bye.req().To().Params) != "uas4" || bye.req().CallID().Value() != inv.req().CallID().Value() {
		t.Errorf("BYE not in the dialog of the 200:\n%s", bye)
	}
	target.send(bye.from, reply(bye, 200, "OK", "", nil, ""))
	if r := waitInvite(t, results); !errors.Is(r.err, ErrCancelled) || r.call != nil {
		t.Errorf("Invite = %v, %v; want ErrCancelled", r.call, r.err)
	}
	eventually(t, "dialog removed", func() bool { return ep.ActiveDialogs() == 0 })
}

// TestInviteFailureRetransmissionIsReACKed: a 4xx is ACKed on the INVITE's
// branch, and when the UAS repeats it (our ACK was lost) it is ACKed again
// (RFC 3261 §17.1.1.2, pitfall 17).
func TestInviteFailureRetransmissionIsReACKed(t *testing.T) {
	t.Parallel()
	ep := listenEP(t, EndpointConfig{Name: "uac"})
	uas := newRawUDP(t, "127.0.0.1")
	results := startInvite(context.Background(), ep, uas, nil)

	inv := uas.expect("INVITE", isRequest(sip.INVITE))
	busy := reply(inv, 486, "Busy Here", "uas5", nil, "")
	uas.send(inv.from, busy)
	ack := uas.expect("ACK for 486", isRequest(sip.ACK))
	if branchOf(ack.msg) != branchOf(inv.msg) {
		t.Errorf("ACK for 486 branch %q, want the INVITE's %q", branchOf(ack.msg), branchOf(inv.msg))
	}
	r := waitInvite(t, results)
	var se *StatusError
	if !errors.As(r.err, &se) || se.Response.StatusCode != 486 || se.Response.Reason != "Busy Here" {
		t.Fatalf("Invite error = %v, want StatusError 486", r.err)
	}

	uas.send(inv.from, busy)
	// sipgo paces a repeated non-2xx ACK by T2 (4 s) to break ACK loops, so
	// the bound here is wider than waitLong.
	again, ok := uas.within(4*time.Second+waitLong, isRequest(sip.ACK))
	if !ok {
		t.Fatal("retransmitted 486 was not ACKed")
	}
	if branchOf(again.msg) != branchOf(inv.msg) {
		t.Errorf("re-ACK branch %q, want the INVITE's %q", branchOf(again.msg), branchOf(inv.msg))
	}
}

// TestInviteLooseRouteSet: with a Record-Route in the 200, ACK and BYE go to
// the proxy with a Route header and the remote target as Request-URI
// (RFC 3261 §12.2.1.1, pitfall 21).
func TestInviteLooseRouteSet(t *testing.T) {
	t.Parallel()
	ep := listenEP(t, EndpointConfig{Name: "uac"})
	uas := newRawUDP(t, "127.0.0.1")
	proxy := newRawUDP(t, "127.0.0.1")
	target := newRawUDP(t, "127.0.0.1")
	results := startInvite(context.Background(), ep, uas, nil)

	inv := uas.expect("INVITE", isRequest(sip.INVITE))
	rr := fmt.Sprintf("Record-Route: <sip:%s;lr>", proxy.hostPort())
	uas.send(inv.from, reply(inv, 200, "OK", "uas6", []string{rr, contactOf(target)}, answerSDP))

	for _, method := range []sip.RequestMethod{sip.ACK, sip.BYE} {
		if method == sip.BYE {
			r := waitInvite(t, results)
			if r.err != nil {
				t.Fatalf("Invite: %v", r.err)
			}
			go func() { _ = r.call.Hangup(context.Background()) }()
		}
		m := proxy.expect(string(method)+" at the proxy", isRequest(method))
		req := m.req()
		if req.Recipient.Port != int(target.addr().Port()) || req.Recipient.User != "bob" {
			t.Errorf("%s Request-URI = %s, want the remote target", method, req.Recipient.String())
		}
		route := req.Route()
		if route == nil || route.Address.Port != int(proxy.addr().Port()) || !route.Address.UriParams.Has("lr") {
			t.Errorf("%s Route = %v, want <sip:%s;lr>", method, route, proxy.hostPort())
		}
		if method == sip.BYE {
			proxy.send(m.from, reply(m, 200, "OK", "", nil, ""))
		}
	}
	if m, ok := target.within(200*time.Millisecond, anything); ok {
		t.Errorf("request bypassed the proxy:\n%s", m)
	}
}

// TestInviteResponseTimeout: a peer that sends nothing is given up after
// ResponseTimeout with ErrNoResponse.
func TestInviteResponseTimeout(t *testing.T) {
	t.Parallel()
	ep := listenEP(t, EndpointConfig{Name: "uac"})
	uas := newRawUDP(t, "127.0.0.1")
	ap := uas.addr()
	start := time.Now()
	_, err := ep.Invite(context.Background(), InviteRequest{
		RequestURI:      URI{User: "x", Host: ap.Addr().String(), Port: int(ap.Port())},
		To:              NameAddr{URI: URI{User: "x", Host: "127.0.0.1"}},
		From:            NameAddr{URI: URI{User: "y", Host: "127.0.0.1"}},
		SDP:             []byte(offerSDP),
		ResponseTimeout: 300 * time.Millisecond,
	})
	if !errors.Is(err, ErrNoResponse) {
		t.Errorf("Invite error = %v, want ErrNoResponse", err)
	}
	if took := time.Since(start); took > waitLong {
		t.Errorf("Invite gave up after %s; ResponseTimeout was 300ms", took)
	}
}

// TestInviteRefusesBadInput: no SDP offer, or a closed endpoint.
func TestInviteRefusesBadInput(t *testing.T) {
	t.Parallel()
	ep := listenEP(t, EndpointConfig{Name: "uac"})
	req := InviteRequest{RequestURI: URI{User: "x", Host: "127.0.0.1", Port: 9}}
	if _, err := ep.Invite(context.Background(), req); err == nil {
		t.Error("Invite without SDP succeeded")
	}
	_ = ep.Close()
	req.SDP = []byte(offerSDP)
	if _, err := ep.Invite(context.Background(), req); !errors.Is(err, ErrClosed) {
		t.Errorf("Invite after Close = %v, want ErrClosed", err)
	}
}

// TestAbandonedInviteCleanedUp: an INVITE given up for silence past
// ResponseTimeout is not left behind. A late provisional response gets a
// CANCEL (it would otherwise ring a phone beside the next peer's), a late
// 200 is ACKed and hung up with BYE, and neither reaches the caller.
func TestAbandonedInviteCleanedUp(t *testing.T) {
	t.Parallel()
	for _, late := range []int{180, 200} {
		t.Run(fmt.Sprint(late), func(t *testing.T) {
			t.Parallel()
			ep := listenEP(t, EndpointConfig{Name: "uac"})
			uas := newRawUDP(t, "127.0.0.1")
			ap := uas.addr()
			reported := make(chan Response, 4)
			_, err := ep.Invite(context.Background(), InviteRequest{
				RequestURI:      URI{User: "x", Host: ap.Addr().String(), Port: int(ap.Port())},
				To:              NameAddr{URI: URI{User: "x", Host: "127.0.0.1"}},
				From:            NameAddr{URI: URI{User: "y", Host: "127.0.0.1"}},
				SDP:             []byte(offerSDP),
				ResponseTimeout: 200 * time.Millisecond,
				OnProvisional:   func(r Response) { reported <- r },
			})
			if !errors.Is(err, ErrNoResponse) {
				t.Fatalf("Invite error = %v, want ErrNoResponse", err)
			}
			inv := uas.expect("INVITE", isRequest(sip.INVITE))
			switch late {
			case 180:
				uas.send(inv.from, reply(inv, 180, "Ringing", "slow", []string{contactOf(uas)}, ""))
				can := uas.expect("CANCEL for the late 180", isRequest(sip.CANCEL))
				if branchOf(can.req()) != branchOf(inv.req()) {
					t.Errorf("CANCEL branch %q, want the INVITE's", branchOf(can.req()))
				}
				uas.send(can.from, reply(can, 200, "OK", "", nil, ""))
				uas.send(inv.from, reply(inv, 487, "Request Terminated", "slow", nil, ""))
				uas.expect("ACK for 487", isRequest(sip.ACK))
			case 200:
				uas.send(inv.from, reply(inv, 200, "OK", "slow", []string{contactOf(uas), "Content-Type: application/sdp"}, answerSDP))
				ack := uas.expect("ACK for the late 200", isRequest(sip.ACK))
				bye := uas.expect("BYE after the ACK", isRequest(sip.BYE))
				if ack.req().CallID().Value() != inv.req().CallID().Value() || tagOf(bye.req().To().Params) != "slow" {
					t.Errorf("ACK/BYE not in the late 200's dialog:\n%s\n%s", ack, bye)
				}
				uas.send(bye.from, reply(bye, 200, "OK", "", nil, ""))
				eventually(t, "no dialog left", func() bool { return ep.ActiveDialogs() == 0 })
			}
			select {
			case r := <-reported:
				t.Errorf("late %d reported to the caller", r.StatusCode)
			default:
			}
		})
	}
}

// TestSecondForkAnswerIsHungUp: two forks of one INVITE answer 200 (two To
// tags); the first is the call, the second is ACKed and hung up with BYE
// (RFC 3261 §13.2.2.4), whether it arrives right behind the first or later.
func TestSecondForkAnswerIsHungUp(t *testing.T) {
	t.Parallel()
	for _, delay := range []time.Duration{0, 300 * time.Millisecond} {
		t.Run(delay.String(), func(t *testing.T) {
			t.Parallel()
			ep := listenEP(t, EndpointConfig{Name: "uac"})
			uas := newRawUDP(t, "127.0.0.1")
			fork2 := newRawUDP(t, "127.0.0.1")
			results := startInvite(context.Background(), ep, uas, nil)
			inv := uas.expect("INVITE", isRequest(sip.INVITE))
			uas.send(inv.from, reply(inv, 200, "OK", "fork1", []string{contactOf(uas)}, answerSDP))
			time.Sleep(delay)
			uas.send(inv.from, reply(inv, 200, "OK", "fork2", []string{contactOf(fork2)}, answerSDP))
			r := waitInvite(t, results)
			if r.err != nil {
				t.Fatal(r.err)
			}
			if tagOf(r.call.remote.Params) != "fork1" {
				t.Errorf("the call is with %q, want the first fork", tagOf(r.call.remote.Params))
			}
			uas.expect("ACK to the first fork", isRequest(sip.ACK))
			ack := fork2.expect("ACK to the second fork", isRequest(sip.ACK))
			bye := fork2.expect("BYE to the second fork", isRequest(sip.BYE))
			if tagOf(ack.req().To().Params) != "fork2" || tagOf(bye.req().To().Params) != "fork2" {
				t.Errorf("ACK/BYE not in the second fork's dialog:\n%s\n%s", ack, bye)
			}
			fork2.send(bye.from, reply(bye, 200, "OK", "", nil, ""))
			if r.call.Cause() != CauseNone {
				t.Errorf("the call ended: %q", r.call.Cause())
			}
		})
	}
}

// TestReliableProvisionalGetsPRACK: a 183 with Require: 100rel and an RSeq
// gets one PRACK in its early dialog (RAck names the RSeq and the INVITE's
// CSeq); its retransmission gets none; the next reliable 1xx gets the next
// PRACK (RFC 3262).
func TestReliableProvisionalGetsPRACK(t *testing.T) {
	t.Parallel()
	ep := listenEP(t, EndpointConfig{Name: "uac"})
	uas := newRawUDP(t, "127.0.0.1")
	results := startInvite(context.Background(), ep, uas, nil)
	inv := uas.expect("INVITE", isRequest(sip.INVITE))
	cseq := inv.req().CSeq().SeqNo
	rel := func(code int, reason string, rseq int) string {
		return reply(inv, code, reason, "rel", []string{contactOf(uas), "Require: 100rel", fmt.Sprintf("RSeq: %d", rseq)}, "")
	}
	uas.send(inv.from, rel(183, "Session Progress", 1))
	pr := uas.expect("PRACK", isRequest(sip.PRACK))
	p := pr.req()
	if got := headerValue(pr.data, "RAck"); got != fmt.Sprintf("1 %d INVITE", cseq) {
		t.Errorf("RAck %q, want \"1 %d INVITE\"", got, cseq)
	}
	if p.CSeq().SeqNo != cseq+1 || tagOf(p.To().Params) != "rel" || p.CallID().Value() != inv.req().CallID().Value() {
		t.Errorf("PRACK not in the early dialog:\n%s", pr)
	}
	uas.send(pr.from, reply(pr, 200, "OK", "", nil, ""))
	uas.send(inv.from, rel(183, "Session Progress", 1)) // retransmission
	if m, ok := uas.within(300*time.Millisecond, isRequest(sip.PRACK)); ok {
		t.Errorf("PRACK for a retransmitted 183:\n%s", m)
	}
	uas.send(inv.from, rel(180, "Ringing", 2))
	pr2 := uas.expect("second PRACK", isRequest(sip.PRACK))
	if got := headerValue(pr2.data, "RAck"); got != fmt.Sprintf("2 %d INVITE", cseq) || pr2.req().CSeq().SeqNo != cseq+2 {
		t.Errorf("second PRACK RAck %q CSeq %d", got, pr2.req().CSeq().SeqNo)
	}
	uas.send(pr2.from, reply(pr2, 200, "OK", "", nil, ""))
	uas.send(inv.from, reply(inv, 200, "OK", "rel", []string{contactOf(uas)}, answerSDP))
	if r := waitInvite(t, results); r.err != nil {
		t.Fatal(r.err)
	}
	uas.expect("ACK", isRequest(sip.ACK))
}
