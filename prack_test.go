package byocp_test

import (
	"slices"
	"testing"
	"time"

	"github.com/byocp/byocp/peering/peeringtest"
	"github.com/byocp/byocp/sip"
	"github.com/byocp/byocp/trunk/trunktest"
)

// A carrier INVITE that requires 100rel: towards Zoom, which does not use
// it, byocp sends the carrier's provisional responses reliably itself and
// answers its PRACKs, and early media plays before the answer.
func TestCarrierRequiring100relGetsReliableProvisionals(t *testing.T) {
	r := newRig(t, nil)
	r.zoom.SetBehavior(peeringtest.Behavior{EarlyMedia: true, Ring: 2 * time.Second})
	ctx := ctxFor(t, 20*time.Second)
	type result struct {
		call *trunktest.Call
		err  error
	}
	placed := make(chan result, 1)
	go func() {
		c, err := r.carrier.DialWithHeaders(ctx, r.bridge.TrunkAddr(), "14155550100", "+442079460000",
			sip.Header{Name: "Require", Value: "100rel"}, sip.Header{Name: "Supported", Value: "100rel, timer"})
		placed <- result{c, err}
	}()
	in, err := r.zoom.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := in.Invite().Header("Require"); got != "" {
		t.Errorf("Require %q leaked to Zoom", got)
	}
	if err := in.SendAudio(ctx, 25); err != nil {
		t.Fatal(err)
	}
	res := <-placed
	if res.err != nil {
		t.Fatal(res.err)
	}
	out := res.call
	if got, all := out.ReliableProvisional(), out.Provisional(); !slices.Contains(got, 183) || len(got) != len(all) {
		t.Errorf("carrier got provisional responses %v, reliably %v: want every one reliable, a 183 among them", all, got)
	}
	if s := out.Media(); s.Intact < 22 || s.Corrupt > 0 {
		t.Errorf("early media at the carrier: %+v, want about 25 intact", s)
	}
	exchangeAudio(t, out, in)
	_ = out.Hangup(ctx)
	waitDone(t, in, "zoom leg")
}
