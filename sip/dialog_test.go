package sip

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// TestInDialogRequests: in an established dialog a re-INVITE gets 200 with
// the last local SDP, UPDATE and INFO get 200, and BYE gets 200 and ends the
// call with CauseRemoteBye; the dialog is then gone (481).
func TestInDialogRequests(t *testing.T) {
	t.Parallel()
	ep, q, uac := newUASRig(t, EndpointConfig{})
	call := uac.establish(t, q)

	// re-INVITE (hold): answered with our last SDP, so media stays as negotiated.
	uac.send(ep.Addr(), uac.inDialog("INVITE", reofferSDP))
	res := uac.expect("200 for re-INVITE", isResponse(200, sip.INVITE))
	if r := res.res(); string(r.Body()) != answerSDP || r.ContentType() == nil || r.ContentType().Value() != "application/sdp" || r.Contact() == nil {
		t.Errorf("200 for re-INVITE:\n%s\nwant the answer SDP and a Contact", res)
	}
	if int(res.res().CSeq().SeqNo) != uac.cseq {
		t.Errorf("200 for re-INVITE CSeq %s, want %d", res.res().CSeq().Value(), uac.cseq)
	}
	uac.send(ep.Addr(), uac.ack2xx(""))

	// UPDATE without a body gets no body back; with an offer it gets the SDP.
	uac.send(ep.Addr(), uac.inDialog("UPDATE", ""))
	if res := uac.expect("200 for UPDATE", isResponse(200, sip.UPDATE)); len(res.res().Body()) != 0 {
		t.Errorf("200 for body-less UPDATE has a body:\n%s", res)
	}
	uac.send(ep.Addr(), uac.inDialog("UPDATE", reofferSDP))
	if res := uac.expect("200 for UPDATE", isResponse(200, sip.UPDATE)); string(res.res().Body()) != answerSDP {
		t.Errorf("200 for UPDATE with offer:\n%s", res)
	}
	uac.send(ep.Addr(), strings.Replace(uac.inDialog("INFO", ""), "\r\n\r\n", "\r\nContent-Type: application/dtmf-relay\r\n\r\n", 1))
	uac.expect("200 for INFO", isResponse(200, sip.INFO))
	uac.send(ep.Addr(), uac.inDialog("OPTIONS", ""))
	uac.expect("200 for in-dialog OPTIONS", isResponse(200, sip.OPTIONS))
	if call.Cause() != CauseNone {
		t.Fatalf("call ended by in-dialog requests: %q", call.Cause())
	}

	uac.send(ep.Addr(), uac.inDialog("BYE", ""))
	uac.expect("200 for BYE", isResponse(200, sip.BYE))
	if !closedSoon(call.Done()) {
		t.Fatal("Done not closed after BYE")
	}
	if call.Cause() != CauseRemoteBye {
		t.Errorf("Cause = %q, want %q", call.Cause(), CauseRemoteBye)
	}
	if ep.ActiveDialogs() != 0 {
		t.Errorf("ActiveDialogs = %d after BYE", ep.ActiveDialogs())
	}
	uac.send(ep.Addr(), uac.inDialog("BYE", ""))
	uac.expect("481 for BYE after BYE", isResponse(481, sip.BYE))
}

// TestUnknownDialog: in-dialog requests (To tag present) that match no
// dialog get 481, and so does a CANCEL that matches no transaction.
func TestUnknownDialog(t *testing.T) {
	t.Parallel()
	ep, _, uac := newUASRig(t, EndpointConfig{})
	uac.toTag = "nosuchdialog"
	for _, method := range []string{"BYE", "INVITE", "UPDATE", "INFO", "OPTIONS"} {
		body := ""
		if method == "INVITE" {
			body = offerSDP
		}
		uac.send(ep.Addr(), uac.inDialog(method, body))
		res := uac.expect("final for "+method, isFinal(sip.RequestMethod(method)))
		if res.res().StatusCode != 481 {
			t.Errorf("%s for unknown dialog: %s, want 481", method, startLine(res.data))
		}
		if method == "INVITE" {
			uac.send(ep.Addr(), uac.ackNon2xx(res))
		}
	}
	uac.toTag = ""
	uac.branch = "z9hG4bK" + unique("orphan")
	uac.send(ep.Addr(), uac.cancel())
	if res := uac.expect("final for CANCEL", isFinal(sip.CANCEL)); res.res().StatusCode != 481 {
		t.Errorf("CANCEL for no transaction: %s, want 481", startLine(res.data))
	}
	// A stray ACK gets nothing.
	uac.contact = uac.ruri()
	uac.toTag = "nosuchdialog"
	uac.send(ep.Addr(), uac.ack2xx(""))
	if m, ok := uac.within(300*time.Millisecond, anything); ok {
		t.Errorf("response to a stray ACK:\n%s", m)
	}
}

// TestOptionsAndUnknownMethods: out-of-dialog OPTIONS gets 200 with Allow
// and Accept; methods we do not implement get 405 with Allow.
func TestOptionsAndUnknownMethods(t *testing.T) {
	t.Parallel()
	ep, _, uac := newUASRig(t, EndpointConfig{})
	uac.send(ep.Addr(), uac.inDialog("OPTIONS", ""))
	res := uac.expect("200 for OPTIONS", isResponse(200, sip.OPTIONS))
	allow := headerValue(res.data, "Allow")
	for _, m := range []string{"INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "PRACK", "UPDATE", "INFO", "REFER", "NOTIFY"} {
		if !strings.Contains(allow, m) {
			t.Errorf("Allow %q lacks %s", allow, m)
		}
	}
	if accept := headerValue(res.data, "Accept"); accept != "application/sdp" {
		t.Errorf("Accept = %q", accept)
	}
	if tagOf(res.res().To().Params) == "" {
		t.Error("200 for OPTIONS without To tag")
	}
	for _, method := range []string{"SUBSCRIBE", "MESSAGE", "PUBLISH", "FROBNICATE"} {
		uac.send(ep.Addr(), uac.inDialog(method, ""))
		res := uac.expect("final for "+method, isFinal(sip.RequestMethod(method)))
		if res.res().StatusCode != 405 || headerValue(res.data, "Allow") != allowMethods {
			t.Errorf("%s: got\n%s\nwant 405 with Allow: %s", method, res, allowMethods)
		}
	}
	// REFER, NOTIFY and PRACK are methods byocp knows, but only within a
	// dialog (or, for PRACK, an early one).
	for _, method := range []string{"REFER", "NOTIFY", "PRACK"} {
		uac.send(ep.Addr(), uac.inDialog(method, ""))
		if res := uac.expect("final for "+method, isFinal(sip.RequestMethod(method))); res.res().StatusCode != 481 {
			t.Errorf("%s outside a dialog: %s, want 481", method, startLine(res.data))
		}
	}
}

// TestAcceptSource: requests from a refused source get no answer (403 with
// ReplyToRefused), are counted, and its ACK does not confirm, nor its BYE
// end, a dialog that another, accepted source set up.
func TestAcceptSource(t *testing.T) {
	t.Parallel()
	for _, reply := range []bool{false, true} {
		t.Run(fmt.Sprintf("ReplyToRefused=%v", reply), func(t *testing.T) {
			t.Parallel()
			testAcceptSource(t, reply)
		})
	}
}

func testAcceptSource(t *testing.T, reply403 bool) {
	refused := netip.MustParseAddr("127.0.0.2")
	ep, q, uac := newUASRig(t, EndpointConfig{AcceptSource: func(a netip.Addr) bool { return a != refused }, Limits: Limits{ReplyToRefused: reply403}})
	intruder := newRawUAC(newRawUDP(t, refused.String()), ep.Addr(), "UDP")
	// refusedGets checks what the refused source hears for a request.
	refusedGets := func(what string, method sip.RequestMethod) rawMsg {
		t.Helper()
		if !reply403 {
			if m, ok := intruder.within(300*time.Millisecond, anything); ok {
				t.Errorf("%s from refused source answered:\n%s", what, m)
			}
			return rawMsg{}
		}
		res := intruder.expect(what+" final", isFinal(method))
		if res.res().StatusCode != 403 {
			t.Errorf("%s from refused source: %s, want 403", what, startLine(res.data))
		}
		return res
	}

	before := ep.Stats().Refused
	intruder.send(ep.Addr(), intruder.inDialog("OPTIONS", ""))
	refusedGets("OPTIONS", sip.OPTIONS)
	intruder.send(ep.Addr(), intruder.invite())
	if res := refusedGets("INVITE", sip.INVITE); reply403 {
		intruder.send(ep.Addr(), intruder.ackNon2xx(res))
	}
	select {
	case c := <-q:
		t.Fatalf("refused INVITE reached the handler: %s", c.CallID())
	default:
	}
	eventually(t, "refused requests counted", func() bool { return ep.Stats().Refused >= before+2 })

	// The accepted caller's 200 is not acknowledged yet…
	uac.send(ep.Addr(), uac.invite())
	call := q.next(t)
	answered := answerAsync(call, answerSDP)
	ok := uac.expect("200", isResponse(200, sip.INVITE))
	uac.learn(ok)
	// …and the refused source sends the ACK for it.
	intruder.callID, intruder.fromTag, intruder.toTag, intruder.contact = uac.callID, uac.fromTag, uac.toTag, uac.contact
	intruder.send(ep.Addr(), intruder.ack2xx(""))
	if m, ok := intruder.within(300*time.Millisecond, anything); ok {
		t.Errorf("response to an ACK from a refused source:\n%s", m)
	}
	uac.expect("200 still retransmitted after the refused ACK", isResponse(200, sip.INVITE))
	select {
	case err := <-answered:
		t.Fatalf("ACK from a refused source confirmed the call (Answer = %v)", err)
	default:
	}
	uac.send(ep.Addr(), uac.ack2xx(""))
	if err := waitErr(t, "Answer", answered); err != nil {
		t.Errorf("Answer: %v", err)
	}
	// Nor may the refused source hang the call up.
	intruder.send(ep.Addr(), intruder.inDialog("BYE", ""))
	refusedGets("BYE", sip.BYE)
	if call.Cause() != CauseNone {
		t.Errorf("refused BYE ended the call: %q", call.Cause())
	}
}

// callPair places a call from a to b (both Endpoints) and returns both sides.
func callPair(t testing.TB, a, b *Endpoint, bq callQueue) (*ClientCall, *ServerCall) {
	t.Helper()
	ap := b.Addr()
	results := make(chan inviteResult, 1)
	go func() {
		call, err := a.Invite(context.Background(), InviteRequest{
			RequestURI:  URI{User: "+14155550199", Host: ap.Addr().String(), Port: int(ap.Port())},
			Destination: sipHostPort(ap),
			From:        NameAddr{URI: URI{User: "+14155550100", Host: a.Host()}},
			To:          NameAddr{URI: URI{User: "+14155550199", Host: ap.Addr().String()}},
			SDP:         []byte(offerSDP),
			Headers:     []Header{{Name: "P-Asserted-Identity", Value: `"Ann" <sip:+14155550111@` + sipHost(a.Host()) + `;user=phone>`}},
		})
		results <- inviteResult{call, err}
	}()
	var sc *ServerCall
	select {
	case sc = <-bq:
	case r := <-results:
		t.Fatalf("Invite returned before the call arrived: %v", r.err)
	case <-time.After(waitLong):
		t.Fatal("no incoming call")
	}
	if got := sc.Invite().Caller(); got != "+14155550111" {
		t.Errorf("Caller() = %q, want the P-Asserted-Identity user", got)
	}
	if err := sc.Progress(180, "Ringing", nil); err != nil {
		t.Fatal(err)
	}
	if err := sc.Answer(context.Background(), []byte(answerSDP)); err != nil {
		t.Fatalf("Answer: %v", err)
	}
	var r inviteResult
	select {
	case r = <-results:
	case <-time.After(waitLong):
		t.Fatal("Invite did not return")
	}
	if r.err != nil {
		t.Fatalf("Invite: %v", r.err)
	}
	if string(r.call.Answer().Body) != answerSDP || string(sc.Invite().Body) != offerSDP {
		t.Fatal("SDP did not travel")
	}
	return r.call, sc
}

// TestCallBetweenEndpoints: two Endpoints call each other over UDP and TCP,
// on IPv4 and IPv6 loopback; either side hangs up and both see it.
func TestCallBetweenEndpoints(t *testing.T) {
	t.Parallel()
	for _, network := range []string{NetworkUDP, NetworkTCP} {
		for _, ip := range []string{"127.0.0.1", "::1"} {
			t.Run(fmt.Sprintf("%s/%s", network, ip), func(t *testing.T) {
				t.Parallel()
				listen := netip.AddrPortFrom(netip.MustParseAddr(ip), 0).String()
				aq, bq := make(callQueue, 1), make(callQueue, 1)
				a := listenEP(t, EndpointConfig{Name: "a", Network: network, Listen: listen, Handler: aq})
				b := listenEP(t, EndpointConfig{Name: "b", Network: network, Listen: listen, Handler: bq})
				if a.Network() != network || a.Host() != ip || a.Addr().Addr().String() != ip {
					t.Fatalf("endpoint: network %q host %q addr %s", a.Network(), a.Host(), a.Addr())
				}

				// Caller hangs up.
				cc, sc := callPair(t, a, b, bq)
				if sc.Invite().Transport != strings.ToUpper(network) || sc.Invite().Source.Addr().String() != ip {
					t.Errorf("Invite transport %q source %s", sc.Invite().Transport, sc.Invite().Source)
				}
				if err := cc.Hangup(context.Background()); err != nil {
					t.Fatalf("caller Hangup: %v", err)
				}
				if !closedSoon(sc.Done()) || sc.Cause() != CauseRemoteBye || cc.Cause() != CauseLocal {
					t.Errorf("causes: callee %q caller %q", sc.Cause(), cc.Cause())
				}

				// Callee hangs up.
				cc, sc = callPair(t, a, b, bq)
				if err := sc.Hangup(context.Background()); err != nil {
					t.Fatalf("callee Hangup: %v", err)
				}
				if !closedSoon(cc.Done()) || cc.Cause() != CauseRemoteBye || sc.Cause() != CauseLocal {
					t.Errorf("causes: caller %q callee %q", cc.Cause(), sc.Cause())
				}
				eventually(t, "dialogs removed", func() bool { return a.ActiveDialogs() == 0 && b.ActiveDialogs() == 0 })

				// The endpoints also probe each other with OPTIONS.
				res, err := a.Options(context.Background(), URI{Host: ip, Port: int(b.Addr().Port())}, sipHostPort(b.Addr()))
				if err != nil || res.StatusCode != 200 || !strings.Contains(res.Header("Allow"), "INVITE") {
					t.Errorf("Options = %d %v (Allow %q)", res.StatusCode, err, res.Header("Allow"))
				}
			})
		}
	}
}
