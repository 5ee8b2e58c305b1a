package byocp_test

import (
	"testing"
	"time"

	"github.com/byocp/byocp"
)

// Bridge.Calls shows a call in progress with its media statistics as of
// now, loss and jitter included, and the MOS estimated from them; the
// record at the end carries the same.
func TestCallsShowLiveQuality(t *testing.T) {
	r := newRig(t, nil)
	ctx := ctxFor(t, 20*time.Second)
	out, in := r.carrierCallsZoom(t, ctx)
	exchangeAudio(t, out, in)
	time.Sleep(150 * time.Millisecond) // quality figures are published every 100 ms
	exchangeAudio(t, out, in)
	calls := r.bridge.Calls()
	if len(calls) != 1 {
		t.Fatalf("Calls() = %d calls, want 1", len(calls))
	}
	c := calls[0]
	if c.Direction != byocp.CarrierToZoom || c.Answered.IsZero() || c.Codec == "" || c.Media.AtoB.Forwarded < 90 || c.Media.BtoA.Forwarded < 90 {
		t.Fatalf("call status %+v", c)
	}
	if q := c.Media.AtoB.Quality; q.Expected < 50 || q.Lost != 0 {
		t.Errorf("carrier->Zoom quality %+v", q)
	}
	if c.MOSCarrierToZoom < 4 || c.MOSZoomToCarrier < 4 {
		t.Errorf("MOS %.2f / %.2f for clean loopback audio", c.MOSCarrierToZoom, c.MOSZoomToCarrier)
	}
	_ = out.Hangup(ctx)
	waitDone(t, in, "zoom leg")
	rec := r.record(t)
	if rec.MOSCarrierToZoom < 4 || rec.MOSZoomToCarrier < 4 || rec.Media.BtoA.Quality.Expected < 50 {
		t.Errorf("record MOS %.2f / %.2f, quality %+v", rec.MOSCarrierToZoom, rec.MOSZoomToCarrier, rec.Media.BtoA.Quality)
	}
	if n := len(r.bridge.Calls()); n != 0 {
		t.Errorf("Calls() = %d after the call ended", n)
	}
}
