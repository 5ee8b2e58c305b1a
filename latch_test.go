package byocp_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/byocp/byocp"
	"github.com/byocp/byocp/trunk/trunktest"
)

// A carrier behind NAT: its SDP names 127.0.0.9 (where nobody listens),
// its RTP comes from 127.0.0.1. With the default latching (signalled)
// its packets come from an address it did not signal and are dropped;
// with latch "any" the first one latches, and Zoom's audio goes back to
// where the carrier's comes from.
func TestLatchCarrierBehindNAT(t *testing.T) {
	natted, err := trunktest.NewCarrier(trunktest.Config{SDPMediaIP: netip.MustParseAddr("127.0.0.9"), Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer natted.Close()
	base := newRig(t, nil)
	for _, tc := range []struct {
		latch string
		works bool
	}{{"", false}, {"any", true}} {
		t.Run("latch="+tc.latch, func(t *testing.T) {
			r := newRigWith(t, &rig{pki: base.pki, carrier: natted, zoom: base.zoom}, func(c *byocp.Config) { c.Trunk.Latch = tc.latch })
			ctx := ctxFor(t, 20*time.Second)
			out, in := r.carrierCallsZoom(t, ctx)
			if !tc.works {
				if err := out.SendAudio(ctx, 10); err != nil {
					t.Fatal(err)
				}
				time.Sleep(300 * time.Millisecond)
				if got := in.Media().Received; got != 0 {
					t.Errorf("Zoom received %d packets from a source the carrier did not signal", got)
				}
				_ = out.Hangup(ctx)
				waitDone(t, in, "zoom leg")
				if rec := r.record(t); rec.Media.AtoB.WrongSource == 0 {
					t.Errorf("no WrongSource drops counted: %+v", rec.Media.AtoB)
				}
				return
			}
			// The carrier speaks first (its RTP latches), then both ways.
			if err := out.SendAudio(ctx, 5); err != nil {
				t.Fatal(err)
			}
			exchangeAudio(t, out, in)
			_ = out.Hangup(ctx)
			waitDone(t, in, "zoom leg")
			if rec := r.record(t); rec.Media.AtoB.Relatched != 1 {
				t.Errorf("Relatched %d, want 1: %+v", rec.Media.AtoB.Relatched, rec.Media.AtoB)
			}
		})
	}
}
