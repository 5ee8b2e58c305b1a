package media

import (
	"testing"
	"time"
)

// The sequence tracker counts loss across gaps, reordering, a sequence
// wrap and an SSRC change (RFC 3550 A.1/A.3), and measures jitter in the
// format's clock (A.8).
func TestSeqTrackerLoss(t *testing.T) {
	var q seqTracker
	now := time.Duration(0)
	send := func(ssrc uint32, seq uint16) {
		now += 20 * time.Millisecond
		q.track(ssrc, seq, uint32(seq)*160, 8000, now)
	}
	for s := uint16(65530); s != 10; s++ { // wraps
		if s == 2 || s == 3 {
			continue // lost
		}
		send(1, s)
	}
	send(1, 5) // a late duplicate
	for s := uint16(100); s < 110; s++ {
		send(2, s) // a new SSRC
	}
	q.publish(now)
	got := q.snapshot()
	// SSRC 1: its first packet is probation, so 65531 .. 9 across the
	// wrap = 15 expected, 2 lost and one duplicate received; SSRC 2:
	// 101..109 = 9 expected.
	if got.Expected != 15+9 || got.Lost != 1 {
		t.Fatalf("quality %+v, want 24 expected, 1 lost (2 lost, 1 duplicate)", got)
	}
	if got.Jitter != 0 {
		t.Errorf("jitter %v for perfectly paced packets", got.Jitter)
	}
}

func TestSeqTrackerJitter(t *testing.T) {
	var q seqTracker
	now := time.Duration(0)
	for s := uint16(1); s < 400; s++ {
		// Every other packet 10 ms late: D = 10 ms on each, J -> ~10 ms.
		late := time.Duration(s%2) * 10 * time.Millisecond
		q.track(9, s, uint32(s)*160, 8000, time.Duration(s)*20*time.Millisecond+late)
		now = time.Duration(s) * 20 * time.Millisecond
	}
	q.publish(now)
	if j := q.snapshot().Jitter; j < 9*time.Millisecond || j > 11*time.Millisecond {
		t.Fatalf("jitter %v, want about 10 ms", j)
	}
}

func TestMOS(t *testing.T) {
	perfect := MOS("PCMU", 0, 0, 0)
	if perfect < 4.3 || perfect > 4.5 {
		t.Errorf("G.711 without impairment: %.2f", perfect)
	}
	if g729 := MOS("G729", 0, 0, 0); g729 >= perfect || g729 < 3.9 {
		t.Errorf("G.729 %.2f vs G.711 %.2f", g729, perfect)
	}
	lossy := MOS("PCMU", 0.05, 0, 0)
	if lossy >= perfect || lossy < 3 {
		t.Errorf("5%% loss: %.2f", lossy)
	}
	if far := MOS("PCMU", 0, 30*time.Millisecond, 600*time.Millisecond); far >= perfect {
		t.Errorf("600 ms RTT: %.2f", far)
	}
	if worst := MOS("PCMU", 1, time.Second, 5*time.Second); worst != 1 {
		t.Errorf("everything lost: %.2f", worst)
	}
}

// A relay's Stats carry each direction's quality.
func TestRelayQuality(t *testing.T) {
	r := newRawRelay(t)
	f := []Format{{Name: "PCMU", ClockRate: 8000}}
	must(t, r.relay.SetLeg(SideA, LegConfig{Remote: addrOf(r.a), Formats: f}))
	must(t, r.relay.SetLeg(SideB, LegConfig{Remote: addrOf(r.b), Formats: f}))
	for s := uint16(1); s <= 30; s++ {
		if s == 10 {
			continue
		}
		r.send(t, r.a, SideA, rtpPacket(1, 7, s))
		recv(t, r.b)
	}
	time.Sleep(2 * stampResolution) // the figures are published every 100 ms
	r.send(t, r.a, SideA, rtpPacket(1, 7, 31))
	recv(t, r.b)
	q := r.relay.Stats().AtoB.Quality
	if q.Expected != 30 || q.Lost != 1 {
		t.Fatalf("quality %+v, want 30 expected (2..31), 1 lost", q)
	}
}
