package sip

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// TestResponsesInArrivalOrder: a peer writes 180, 183 with SDP and 200 in
// one TCP segment; the caller sees the two provisional responses, in
// order, before Invite returns with the 200 (sipgo handles each message on
// its own goroutine, so without ordering the 200 can overtake them).
func TestResponsesInArrivalOrder(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ep := listenEP(t, EndpointConfig{Name: "uac", Network: NetworkTCP})
	ap := l.Addr().(*net.TCPAddr).AddrPort()
	var ordered *rawPeer
	for i := range 20 {
		results := make(chan inviteResult, 1)
		var seen []int
		go func() {
			call, err := ep.Invite(context.Background(), InviteRequest{
				RequestURI:    URI{User: "x", Host: ap.Addr().String(), Port: int(ap.Port())},
				Destination:   ap.String(),
				To:            NameAddr{URI: URI{User: "x", Host: "127.0.0.1"}},
				From:          NameAddr{URI: URI{User: "y", Host: "127.0.0.1"}},
				SDP:           []byte(offerSDP),
				OnProvisional: func(r Response) { seen = append(seen, r.StatusCode) },
			})
			results <- inviteResult{call, err}
		}()
		if i == 0 {
			conn, err := l.Accept()
			if err != nil {
				t.Fatal(err)
			}
			ordered = newRawStream(t, conn)
		}
		inv := ordered.expect("INVITE", isRequest(sip.INVITE))
		tag := unique("t")
		contact := []string{"Contact: <sip:b@" + ap.String() + ";transport=tcp>"}
		burst := reply(inv, 180, "Ringing", tag, contact, "") +
			reply(inv, 183, "Session Progress", tag, contact, answerSDP) +
			reply(inv, 200, "OK", tag, contact, answerSDP)
		ordered.send(netip.AddrPort{}, burst)
		var r inviteResult
		select {
		case r = <-results:
		case <-time.After(waitLong):
			t.Fatal("Invite did not return")
		}
		if r.err != nil {
			t.Fatal(r.err)
		}
		if len(seen) != 2 || seen[0] != 180 || seen[1] != 183 {
			t.Fatalf("round %d: provisional responses seen %v, want [180 183] before the 200", i, seen)
		}
		ordered.expect("ACK", isRequest(sip.ACK))
		r.call.end(CauseLocal)
	}
}
