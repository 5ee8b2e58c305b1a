package sip

import (
	"context"
	"testing"
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
