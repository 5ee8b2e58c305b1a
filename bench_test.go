package byocp_test

import (
	"context"
	"testing"
	"time"
)

// BenchmarkCallCarrierToZoom measures one whole call through the Bridge per
// iteration: carrier INVITE over UDP, INVITE to Zoom over an open TLS
// connection, answer, ACKs, BYE from the carrier and BYE relayed to Zoom,
// with SDP rewriting, SDES keys and a relay with four media ports set up and
// torn down. Allocations count every part involved, including the fake
// peers.
func BenchmarkCallCarrierToZoom(b *testing.B) {
	r := newRig(b, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out, err := r.carrier.Dial(ctx, r.bridge.TrunkAddr(), "14155550100", "+442079460000")
		if err != nil {
			b.Fatal(err)
		}
		in, err := r.zoom.Accept(ctx)
		if err != nil {
			b.Fatal(err)
		}
		<-in.Answered()
		if err := out.Hangup(ctx); err != nil {
			b.Fatal(err)
		}
		<-in.Done()
		<-r.records
	}
}
