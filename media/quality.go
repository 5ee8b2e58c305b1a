package media

import (
	"math"
	"strings"
	"sync/atomic"
	"time"
)

// Quality is what one direction's media looked like on arrival, from its
// ingress leg: loss from the RTP sequence numbers (RFC 3550 A.3),
// interarrival jitter (RFC 3550 A.8) in the clock of the payload format,
// and the round trip to the leg's peer from the RTCP reports relayed
// (RFC 3550 section 6.4.1). Loss and jitter are measured on the relay's
// reader without allocating, and published at most every 100 ms; the
// round trip with each report that gives one.
type Quality struct {
	// Expected is how many packets the sequence numbers say were sent,
	// over every SSRC the leg sent from; Lost is Expected minus those
	// received (negative when packets were duplicated).
	Expected, Lost int64
	// Jitter is the interarrival jitter of the current SSRC.
	Jitter time.Duration
	// RTT is the round trip between byocp and the ingress leg's peer
	// (Stats.AtoB: SideA's, Stats.BtoA: SideB's), 0 until measured. The
	// relay measures it as a middlebox can: an SR from the other leg's
	// peer passes towards this peer, which reports on it (LSR) with how
	// long it held it (DLSR); the RTT is the time between the SR and the
	// report at the relay, less DLSR. A report on an SR that did not pass
	// the relay, and a result below 0 or above 10 s, are ignored. Samples
	// are smoothed as RFC 6298's SRTT: the first one is taken as it is,
	// each later one moves RTT by an eighth of its difference. It stays 0
	// while the other leg's peer sends no SR or this peer no report on
	// one.
	RTT time.Duration
}

// LossRate is Lost over Expected, within 0 and 1.
func (q Quality) LossRate() float64 {
	if q.Expected <= 0 || q.Lost <= 0 {
		return 0
	}
	return min(float64(q.Lost)/float64(q.Expected), 1)
}

// RFC 3550 A.1 constants.
const (
	maxDropout  = 3000
	maxMisorder = 100
	minSequence = 2
	seqMod      = 1 << 16
)

// seqTracker follows the sequence numbers and jitter of the current SSRC
// of one direction (RFC 3550 A.1, A.3, A.8). It belongs to the pipe's
// reader; publish copies its figures to atomics for Stats.
type seqTracker struct {
	seqState
	doneExp  int64 // expected and received of SSRCs before the current one
	doneRecv int64
	pubNext  time.Duration
	pub      struct{ expected, lost, jitterNs atomic.Int64 }
}

// seqState is the state of the current SSRC.
type seqState struct {
	ssrc      uint32
	started   bool
	maxSeq    uint16
	cycles    uint32
	baseSeq   uint32
	badSeq    uint32
	probation int
	received  int64
	transit   int64 // of the last packet, in clock units
	jitter    int64 // RFC 3550's J, scaled by 16 (A.8 integer form)
	rate      uint32
}

// track takes one valid packet: its SSRC, sequence number and timestamp,
// the clock rate of its format (0: unknown, no jitter) and its arrival.
func (t *seqTracker) track(ssrc uint32, seq uint16, ts uint32, rate uint32, now time.Duration) {
	if !t.started || ssrc != t.ssrc {
		if t.started {
			t.doneExp += t.expected()
			t.doneRecv += t.received
		}
		t.seqState = seqState{ssrc: ssrc, started: true, probation: minSequence}
		t.initSeq(seq)
		t.maxSeq = seq - 1
	}
	if !t.update(seq) {
		return
	}
	if rate != 0 {
		// A.8: transit in the format's clock; the difference of two
		// transits is what counts, so the epoch of now does not matter.
		arrival := int64(uint64(now) * uint64(rate) / uint64(time.Second))
		transit := arrival - int64(ts)
		if t.rate == rate && t.received > 1 {
			d := transit - t.transit
			if d < 0 {
				d = -d
			}
			t.jitter += d - ((t.jitter + 8) >> 4)
		}
		t.transit, t.rate = transit, rate
	}
	if now >= t.pubNext {
		t.publish(now)
	}
}

func (t *seqTracker) initSeq(seq uint16) {
	t.baseSeq = uint32(seq)
	t.maxSeq = seq
	t.badSeq = seqMod + 1
	t.cycles = 0
	t.received = 0
}

// update is RFC 3550 A.1's update_seq: false for a packet that does not
// count (probation, or a large jump not yet confirmed).
func (t *seqTracker) update(seq uint16) bool {
	udelta := seq - t.maxSeq
	if t.probation > 0 {
		if seq == t.maxSeq+1 {
			t.probation--
			t.maxSeq = seq
			if t.probation == 0 {
				t.initSeq(seq)
				t.received++
				return true
			}
		} else {
			t.probation = minSequence - 1
			t.maxSeq = seq
		}
		return false
	}
	switch {
	case udelta < maxDropout:
		if seq < t.maxSeq {
			t.cycles += seqMod
		}
		t.maxSeq = seq
	case uint32(udelta) <= seqMod-maxMisorder:
		if uint32(seq) == t.badSeq {
			// Two in a row: the source restarted; what it sent before
			// still counts.
			t.doneExp += t.expected()
			t.doneRecv += t.received
			t.initSeq(seq)
		} else {
			t.badSeq = (uint32(seq) + 1) & (seqMod - 1)
			return false
		}
	default:
		// duplicate or reordered
	}
	t.received++
	return true
}

func (t *seqTracker) expected() int64 {
	if !t.started || t.received == 0 {
		return 0
	}
	return int64(t.cycles) + int64(t.maxSeq) - int64(t.baseSeq) + 1
}

// publish makes the figures readable by Stats; at most every 100 ms.
func (t *seqTracker) publish(now time.Duration) {
	t.pubNext = now - now%stampResolution + stampResolution
	exp := t.doneExp + t.expected()
	t.pub.expected.Store(exp)
	t.pub.lost.Store(exp - t.doneRecv - t.received)
	if t.rate != 0 {
		t.pub.jitterNs.Store(int64(time.Duration(t.jitter>>4) * time.Second / time.Duration(t.rate)))
	}
}

func (t *seqTracker) snapshot() Quality {
	return Quality{Expected: t.pub.expected.Load(), Lost: t.pub.lost.Load(), Jitter: time.Duration(t.pub.jitterNs.Load())}
}

// MOS estimates the listening quality of a direction on the 1 to 4.5 MOS
// scale with the ITU-T G.107 E-model, simplified as is usual for VoIP
// monitoring: R = 93.2 - Id - Ie,eff with Ie,eff from the codec's
// equipment impairment and packet-loss robustness (G.113 Appendix I, PLC
// assumed) and the loss rate, and Id from the one-way delay, taken as
// half of rtt plus a jitter buffer of twice the jitter. rtt is the
// network round trip between the two ends: for a call through a Relay,
// the sum of both legs' Quality.RTT (0 counts no network delay).
// codec is the encoding name ("PCMU", "G729", ...); an unknown codec
// counts as G.711.
func MOS(codec string, lossRate float64, jitter, rtt time.Duration) float64 {
	ie, bpl := 0.0, 25.1 // G.711 with PLC
	switch strings.ToUpper(codec) {
	case "G729", "G729A":
		ie, bpl = 11, 19
	case "G722":
		ie, bpl = 0, 25.1
	case "OPUS":
		ie, bpl = 0, 30
	case "GSM":
		ie, bpl = 20, 10
	}
	ppl := 100 * math.Min(math.Max(lossRate, 0), 1)
	ieEff := ie + (95-ie)*ppl/(ppl+bpl)
	d := float64((rtt/2 + 2*jitter).Milliseconds())
	id := 0.024 * d
	if d > 177.3 {
		id += 0.11 * (d - 177.3)
	}
	r := 93.2 - id - ieEff
	switch {
	case r <= 0:
		return 1
	case r >= 100:
		return 4.5
	}
	return 1 + 0.035*r + r*(r-60)*(100-r)*7e-6
}
