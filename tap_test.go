package byocp_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/byocp/byocp"
	"github.com/byocp/byocp/internal/mediapeer"
	"github.com/byocp/byocp/media"
	"github.com/byocp/byocp/peering/peeringtest"
	"github.com/byocp/byocp/trunk/trunktest"
	"github.com/pion/rtp"
)

// tapResult is what a tap reader got from one call's Tap.
type tapResult struct {
	rec     byocp.CallRecord // as TapCall got it
	packets [2]int           // intact pattern packets per side
	bad     []string         // what was wrong with the others (the first few)
	err     error            // how ReadPacket ended
}

// tapAll gives every call a Tap and reads it to the end in a goroutine;
// the results come on the returned channel when the call has ended.
func tapAll(cfg *byocp.Config) <-chan tapResult {
	results := make(chan tapResult, 4)
	cfg.TapCall = func(rec byocp.CallRecord) *media.Tap {
		tap := &media.Tap{}
		go func() {
			res := tapResult{rec: rec}
			buf := make([]byte, media.DefaultTapPacketSize)
			var pkt rtp.Packet
			for {
				p, err := tap.ReadPacket(context.Background(), buf)
				if err != nil {
					res.err = err
					break
				}
				// SideA is the carrier (stream 1), SideB Zoom (stream 2),
				// whoever placed the call; plain RTP, so the Zoom leg's SRTP
				// arrives decrypted.
				want := map[media.Side]byte{media.SideA: trunktest.Stream, media.SideB: peeringtest.Stream}[p.Side]
				if pkt.Unmarshal(buf[:p.N]) != nil || p.N != 12+mediapeer.PayloadSize {
					res.bad = append(res.bad[:min(len(res.bad), 4)], "not plain RTP")
					continue
				}
				if stream, seq, ok := mediapeer.CheckPayload(pkt.Payload); !ok || stream != want || seq != pkt.SequenceNumber {
					res.bad = append(res.bad[:min(len(res.bad), 4)], "not the pattern of its side's stream")
					continue
				}
				res.packets[p.Side]++
			}
			results <- res
		}()
		return tap
	}
	return results
}

// TestTapCall taps calls of both directions through a real Bridge and
// checks that the tap gets the audio of both legs, decrypted, until the
// call ends.
func TestTapCall(t *testing.T) {
	var results <-chan tapResult
	r := newRig(t, func(cfg *byocp.Config) { results = tapAll(cfg) })
	for _, dir := range []byocp.Direction{byocp.CarrierToZoom, byocp.ZoomToCarrier} {
		t.Run(string(dir), func(t *testing.T) {
			ctx := ctxFor(t, 20*time.Second)
			var a, b fakeCall
			if dir == byocp.CarrierToZoom {
				a, b = r.carrierCallsZoom(t, ctx)
			} else {
				a, b = r.zoomCallsCarrier(t, ctx)
			}
			exchangeAudio(t, a, b)
			if err := a.Hangup(ctx); err != nil {
				t.Fatal(err)
			}
			waitDone(t, b, "called leg")
			rec := r.record(t)
			var res tapResult
			select {
			case res = <-results:
			case <-time.After(10 * time.Second):
				t.Fatal("tap reader did not end")
			}
			if res.err != io.EOF || len(res.bad) > 0 {
				t.Fatalf("tap ended with %v; bad packets: %q", res.err, res.bad)
			}
			if res.rec.ID != rec.ID || res.rec.Direction != dir || res.rec.Caller != rec.Caller || res.rec.Callee != rec.Callee {
				t.Errorf("TapCall got record %+v; the call's is %+v", res.rec, rec)
			}
			// Every packet relayed was tapped, nothing was dropped.
			fwd := rec.Media
			if uint64(res.packets[media.SideA]) != fwd.AtoB.Forwarded || uint64(res.packets[media.SideB]) != fwd.BtoA.Forwarded ||
				fwd.AtoB.Forwarded < audioPackets*9/10 || fwd.BtoA.Forwarded < audioPackets*9/10 {
				t.Errorf("tapped %d carrier and %d Zoom packets; relay %+v", res.packets[media.SideA], res.packets[media.SideB], fwd)
			}
			if total := fwd.AtoB.Forwarded + fwd.BtoA.Forwarded; rec.Tap.Queued != total || rec.Tap.Dropped != 0 || rec.Tap.Delivered > total {
				t.Errorf("record's tap stats %+v, %d packets relayed", rec.Tap, total)
			}
		})
	}

	// A TapCall that returns nil: no tap, the call is unaffected.
	r2 := newRigWith(t, r, func(cfg *byocp.Config) {
		cfg.TapCall = func(byocp.CallRecord) *media.Tap { return nil }
	})
	ctx := ctxFor(t, 20*time.Second)
	out, in := r2.carrierCallsZoom(t, ctx)
	exchangeAudio(t, out, in)
	if err := out.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	if rec := r2.record(t); rec.Tap != (media.TapStats{}) || rec.Media.AtoB.Forwarded == 0 {
		t.Errorf("record without a tap: %+v", rec)
	}
}
