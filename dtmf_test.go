package byocp_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/byocp/byocp"
)

// A carrier that signals DTMF with SIP INFO (Trunk.DTMF "info") and Zoom
// on RFC 4733: the carrier's INFO digits reach Zoom as events in its SRTP
// media (the audio after them still intact, its sequence numbers moved on
// past the events), and Zoom's events reach the carrier as INFO, not as
// RTP.
func TestDTMFInterworking(t *testing.T) {
	r := newRig(t, func(c *byocp.Config) { c.Trunk.DTMF = "info" })
	ctx := ctxFor(t, 20*time.Second)
	out, in := r.carrierCallsZoom(t, ctx)
	exchangeAudio(t, out, in)

	for _, d := range []string{"Signal=5\r\nDuration=120\r\n", "Signal=#\r\nDuration=100\r\n"} {
		if err := out.SendInfo(ctx, "application/dtmf-relay", []byte(d)); err != nil {
			t.Fatalf("INFO: %v", err)
		}
	}
	waitFor(t, ctx, "digits at Zoom", func() bool { return in.DTMF() == "5#" })
	if n := len(in.Requests()); n != 0 {
		t.Errorf("Zoom got %d in-dialog requests, want none (the digits go in the media)", n)
	}
	exchangeAudio(t, out, in) // the stream continues intact after the events

	if err := in.SendDTMF(ctx, '7', 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	reqs, err := out.WaitRequests(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if reqs[0].Method != "INFO" || reqs[0].Header("Content-Type") != "application/dtmf-relay" ||
		!strings.Contains(string(reqs[0].Body), "Signal=7") || !strings.Contains(string(reqs[0].Body), "Duration=100") {
		t.Fatalf("carrier got %s %q %q", reqs[0].Method, reqs[0].Header("Content-Type"), reqs[0].Body)
	}
	if got := out.DTMF(); got != "" {
		t.Errorf("carrier got events %q in its media too", got)
	}
	_ = out.Hangup(ctx)
	waitDone(t, in, "zoom leg")
	rec := r.record(t)
	if rec.Media.AtoB.DTMFInjected == 0 || rec.Media.BtoA.DTMFEvents != 1 {
		t.Errorf("record: injected %d toward Zoom, events %d from Zoom", rec.Media.AtoB.DTMFInjected, rec.Media.BtoA.DTMFEvents)
	}
}

func waitFor(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("%s: not before the deadline", what)
		case <-time.After(10 * time.Millisecond):
		}
	}
}
