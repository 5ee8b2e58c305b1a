package media

import (
	"sync/atomic"
	"time"
)

const (
	// DefaultMaxSSRCs is the number of SSRCs a leg relays at a time when
	// LegConfig.MaxSSRCs is 0.
	DefaultMaxSSRCs = 8
	// MaxSSRCsLimit is the largest LegConfig.MaxSSRCs; the table of
	// SSRCs a leg relays from grows up to this size.
	MaxSSRCsLimit = 64
	// SSRCsPerKey is how many distinct SSRCs one SRTP LocalKey encrypts
	// in the life of a Relay. The index of every SSRC it encrypted is
	// remembered (it is never forgotten while the key is in use, so that
	// an SSRC that comes back is not encrypted again at an index already
	// used); once SSRCsPerKey SSRCs have been encrypted, packets of new
	// SSRCs towards the leg are dropped and counted as TooManySSRCs until
	// the leg is re-keyed with a new LocalKey. It also bounds pion's
	// per-SSRC state in the encrypt context.
	SSRCsPerKey = 256
	// SSRCIdle is how long an SSRC from which nothing has been relayed
	// keeps its place among a leg's LegConfig.MaxSSRCs SSRCs.
	SSRCIdle = 5 * time.Second
	// indexWindow is the width, in packets, of the window of SRTP indices
	// remembered below the highest one sent per SSRC.
	indexWindow = 64
)

// ssrcSlot is one SSRC a pipe relays from.
type ssrcSlot struct {
	ssrc   uint32
	used   bool
	stream int32         // index of the SSRC in the encoder whose id is encID
	encID  uint64        // 0 = stream not known
	last   time.Duration // when a packet of the SSRC was last relayed
	m      srcMap        // how the SSRC maps onto the egress stream (continuity.go)
}

// ssrcTable is the set of SSRCs a pipe relays from. It is a fixed array
// owned by the pipe's reader goroutine: it never grows or allocates.
type ssrcTable struct {
	slots []ssrcSlot // grows to the most SSRCs seen at once, MaxSSRCsLimit at most
	hint  int        // slot of the last packet
}

// find returns the slot of ssrc (found == true), or a free slot it may
// claim, or -1 if limit SSRCs that were relayed within SSRCIdle before now
// hold slots. Slots idle for SSRCIdle are freed as a side effect.
func (t *ssrcTable) find(ssrc uint32, now time.Duration, limit int) (slot int, found bool) {
	if t.hint < len(t.slots) {
		if s := &t.slots[t.hint]; s.used && s.ssrc == ssrc {
			return t.hint, true
		}
	}
	free, live := -1, 0
	for i := range t.slots {
		s := &t.slots[i]
		if s.used {
			if s.ssrc == ssrc {
				t.hint = i
				return i, true
			}
			if now-s.last < SSRCIdle {
				live++
				continue
			}
			s.used = false
		}
		if free < 0 {
			free = i
		}
	}
	if live >= limit {
		return -1, false
	}
	if free < 0 {
		if len(t.slots) == MaxSSRCsLimit {
			return -1, false
		}
		free = len(t.slots) // touch appends it
	}
	return free, false
}

// touch records that a packet of ssrc was relayed through slot at now,
// claiming the slot if ssrc does not hold it yet.
func (t *ssrcTable) touch(slot int, ssrc uint32, now time.Duration) *ssrcSlot {
	if slot == len(t.slots) {
		t.slots = append(t.slots, ssrcSlot{}) // a new SSRC: allocates only while the table grows
	}
	s := &t.slots[slot]
	if !s.used || s.ssrc != ssrc {
		*s = ssrcSlot{ssrc: ssrc, used: true}
	}
	s.last = now
	t.hint = slot
	return s
}

// encoderIDs numbers encoders, so that an ssrcSlot can remember which
// encoder its stream index belongs to without keeping the encoder alive.
var encoderIDs atomic.Uint64

// encoder is the encrypt side of an SRTP leg: pion's context and, per
// SSRC, which SRTP indices it has been given. Every packet is admitted
// before it is encrypted, so no index is encrypted twice. An encoder is
// used only by the reader goroutine of the pipe towards its leg, and kept
// across SetLeg calls that do not change the LocalKey, together with its
// context.
type encoder struct {
	ctx     *sharedContext // SRTP for the RTP reader, SRTCP for the RTCP reader
	id      uint64
	n       int         // streams in use
	streams []sentIndex // grows with the SSRCs encrypted, SSRCsPerKey at most
}

func newEncoder(ctx *sharedContext) *encoder {
	return &encoder{ctx: ctx, id: encoderIDs.Add(1)}
}

// lookup returns the stream index of ssrc; a new SSRC gets e.n, or -1 if
// SSRCsPerKey SSRCs have been encrypted already.
func (e *encoder) lookup(ssrc uint32) int {
	for i := range e.streams[:e.n] {
		if e.streams[i].ssrc == ssrc {
			return i
		}
	}
	if e.n == SSRCsPerKey {
		return -1
	}
	return e.n
}

// admit reports whether the packet with sequence number seq of stream i
// (from lookup) may be encrypted, and if so records its index as sent.
func (e *encoder) admit(i int, ssrc uint32, seq uint16) bool {
	if i == e.n {
		// pion starts a new SSRC at ROC 0: its first index is seq.
		e.streams = append(e.streams, sentIndex{ssrc: ssrc, high: uint64(seq), window: 1})
		e.n++
		return true
	}
	return e.streams[i].admit(seq)
}

// sentIndex is what an encoder has sent of one SSRC.
type sentIndex struct {
	ssrc   uint32
	high   uint64 // highest SRTP index sent: ROC<<16 | SEQ
	window uint64 // bit d set: index high-d was sent
}

// admit records the index of seq as sent and returns true, or returns
// false if that index was sent already or is indexWindow or more below
// the highest one.
func (s *sentIndex) admit(seq uint16) bool {
	d := indexDelta(s.high, seq)
	switch {
	case d > 0:
		if d < indexWindow {
			s.window = s.window<<d | 1
		} else {
			s.window = 1
		}
		s.high += uint64(d)
		return true
	case d <= -indexWindow:
		return false
	}
	bit := uint64(1) << -d
	if s.window&bit != 0 {
		return false
	}
	s.window |= bit
	return true
}

// indexDelta returns the SRTP index that pion's encrypt context will use
// for seq, minus high, the highest index it has used for the SSRC. It is
// the ROC estimate of RFC 3711 section 3.3.1 exactly as pion/srtp v3
// computes it (srtpSSRCState.nextRolloverCount): the index closest to
// high, except that the ROC cannot go below 0. It must stay identical to
// pion's, or the index admitted would not be the index encrypted; the fuzz
// test FuzzSentIndex checks it against pion.
func indexDelta(high uint64, seq uint16) int64 {
	const median, span = 1 << 15, 1 << 16
	s, local := int64(seq), int64(high&(span-1))
	switch {
	case high <= median:
		return s - local
	case local < median && s-local > median:
		return s - local - span
	case local >= median && local-median > s:
		return s - local + span
	}
	return s - local
}
