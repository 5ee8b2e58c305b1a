package sip

import (
	"context"
	"net"
	"net/netip"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// BenchmarkInviteAnswerBye: one whole call per iteration between two UDP
// endpoints on loopback: INVITE, 200 answered at once, ACK, BYE, 200.
func BenchmarkInviteAnswerBye(b *testing.B) {
	answer := CallHandlerFunc(func(c *ServerCall) {
		if err := c.Answer(context.Background(), []byte(answerSDP)); err != nil {
			b.Error(err)
		}
	})
	uas := listenEP(b, EndpointConfig{Name: "uas", Handler: answer})
	uac := listenEP(b, EndpointConfig{Name: "uac"})
	ap := uas.Addr()
	req := InviteRequest{
		RequestURI: URI{User: "+14155550199", Host: ap.Addr().String(), Port: int(ap.Port())},
		From:       NameAddr{URI: URI{User: "+14155550100", Host: uac.Host()}},
		To:         NameAddr{URI: URI{User: "+14155550199", Host: ap.Addr().String()}},
		SDP:        []byte(offerSDP),
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		call, err := uac.Invite(ctx, req)
		if err != nil {
			b.Fatal(err)
		}
		if err := call.Hangup(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDatagramFilter: what one UDP datagram costs the endpoint before
// sipgo sees it. "refused" is a valid OPTIONS from a source AcceptSource
// refuses (dropped before parsing); "allowed" is the same datagram from an
// allowed source (parsed and checked for mandatory headers), the reference
// measured in the same run.
func BenchmarkDatagramFilter(b *testing.B) {
	allowed := netip.MustParseAddr("127.0.0.1")
	ep := listenEP(b, EndpointConfig{Name: "uas", AcceptSource: func(a netip.Addr) bool { return a == allowed }})
	options := []byte(sipMsg("OPTIONS sip:"+sipHostPort(ep.Addr())+" SIP/2.0", []string{
		"Via: SIP/2.0/UDP 127.0.0.2:5060;branch=z9hG4bK-bench", "Max-Forwards: 70",
		"From: <sip:x@127.0.0.2>;tag=f1", "To: <sip:" + sipHostPort(ep.Addr()) + ">",
		"Call-ID: bench-1", "CSeq: 1 OPTIONS"}, ""))
	for _, tc := range []struct {
		name string
		src  string
	}{{"refused", "127.0.0.2:5060"}, {"allowed", "127.0.0.1:5060"}} {
		b.Run(tc.name, func(b *testing.B) {
			props := sip.TransportReadProps{Transport: "UDP", RemoteAddr: net.UDPAddrFromAddrPort(netip.MustParseAddrPort(tc.src))}
			b.SetBytes(int64(len(options)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ep.filterRead(props, options); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
