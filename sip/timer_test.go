package sip

import (
	"context"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

func TestSessionTimerOf(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		headers map[string]string
		want    SessionTimer
	}{
		{map[string]string{"Session-Expires": "1800", "Min-SE": "90", "Supported": "timer,replaces"},
			SessionTimer{Expires: 1800 * time.Second, MinSE: 90 * time.Second, Supported: true}},
		{map[string]string{"x": "600;refresher=uas", "Require": "timer"},
			SessionTimer{Expires: 600 * time.Second, Refresher: RefresherUAS, Supported: true}},
		{map[string]string{"Session-Expires": " 120 ; Refresher=UAC", "k": "100rel, timer"},
			SessionTimer{Expires: 120 * time.Second, Refresher: RefresherUAC, Supported: true}},
		{map[string]string{"Session-Expires": "soon", "Min-SE": "-3", "Supported": "replaces"}, SessionTimer{}},
		{map[string]string{"Session-Expires": "90;refresher=nobody"}, SessionTimer{Expires: 90 * time.Second}},
	} {
		got := SessionTimerOf(func(n string) string { return tc.headers[n] })
		if got != tc.want {
			t.Errorf("%v: %+v, want %+v", tc.headers, got, tc.want)
		}
	}
	if h := SessionExpiresHeader(1800*time.Second, RefresherUAC); h != "1800;refresher=uac" {
		t.Errorf("SessionExpiresHeader = %q", h)
	}
}

// TestInviteRetriesAfter422: a 422 with a larger Min-SE gets the INVITE
// again, with the same Call-ID and From tag, the next CSeq, and the
// Session-Expires the 422 asked for (RFC 4028 §7.4).
func TestInviteRetriesAfter422(t *testing.T) {
	t.Parallel()
	ep := listenEP(t, EndpointConfig{Name: "uac"})
	uas := newRawUDP(t, "127.0.0.1")
	ap := uas.addr()
	results := make(chan inviteResult, 1)
	go func() {
		call, err := ep.Invite(context.Background(), InviteRequest{
			RequestURI: URI{User: "x", Host: ap.Addr().String(), Port: int(ap.Port())},
			To:         NameAddr{URI: URI{User: "x", Host: "127.0.0.1"}},
			From:       NameAddr{URI: URI{User: "y", Host: "127.0.0.1"}},
			SDP:        []byte(offerSDP),
			Headers:    TimerHeaders(90*time.Second, 90*time.Second),
		})
		results <- inviteResult{call, err}
	}()
	first := uas.expect("INVITE", isRequest(sip.INVITE))
	if got := headerValue(first.data, "Session-Expires", "x"); got != "90" {
		t.Fatalf("Session-Expires %q", got)
	}
	uas.send(first.from, reply(first, 422, "Session Interval Too Small", "t422", []string{"Min-SE: 300"}, ""))
	uas.expect("ACK for 422", isRequest(sip.ACK))
	second := uas.expect("INVITE again", func(m rawMsg) bool {
		return isRequest(sip.INVITE)(m) && m.req().CSeq().SeqNo != first.req().CSeq().SeqNo
	})
	f, s := first.req(), second.req()
	if s.CallID().Value() != f.CallID().Value() || tagOf(s.From().Params) != tagOf(f.From().Params) || s.CSeq().SeqNo != f.CSeq().SeqNo+1 {
		t.Errorf("retry is not the same call with the next CSeq:\n%s\n%s", first, second)
	}
	if headerValue(second.data, "Session-Expires", "x") != "300" || headerValue(second.data, "Min-SE") != "300" {
		t.Errorf("retry's timer headers:\n%s", second)
	}
	uas.send(second.from, reply(second, 200, "OK", "t200", []string{contactOf(uas), "Session-Expires: 300;refresher=uac", "Require: timer"}, answerSDP))
	r := waitInvite(t, results)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if st := SessionTimerOf(r.call.Answer().Header); st.Expires != 300*time.Second || st.Refresher != RefresherUAC {
		t.Errorf("answer's session timer %+v", st)
	}
	_ = r.call.Hangup(context.Background())
}
