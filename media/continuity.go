package media

import (
	"encoding/binary"
	"sync"
	"time"
)

// Continuity of the forwarded stream (RFC 3550 sections 5.1 and 8.2,
// RFC 7160 section 4.1). SSRCs, sequence numbers and timestamps pass
// unchanged, with two exceptions, in both of which the stream the egress
// peer receives stays continuous:
//
//   - Injected DTMF events (InjectDTMF) take sequence numbers in the
//     stream forwarded last, and its later packets are moved on to follow
//     them.
//   - When signalling changes the ingress leg's peer (SetLeg with another
//     Remote or RemoteKey: a re-INVITE that moves the media, the other
//     party of a handled transfer, the callee's media after a media
//     server's early media), the first SSRC the ingress then sends is
//     carried onto the stream the egress peer received last: its SSRC,
//     the sequence number after the last one sent, and a timestamp
//     advanced by the time that passed since, in the clock of the new
//     packet's format, with the marker bit set on the first packet so that
//     the receiver resynchronises its playout. A source that keeps its
//     SSRC and sequence across the change is left as it is; one that keeps
//     its SSRC but restarts its sequence numbers is carried on too.
//
// An SSRC keeps the mapping it got for as long as it is relayed, so late
// packets and streams that run side by side (some gateways send events
// from an SSRC of their own) keep their places. RTCP is rewritten to
// match (rewriteRTCP): a mapped source's reports go out under the egress
// SSRC, and the egress peer's report blocks about it come back under the
// source's own SSRC. This matters most towards an SRTP peer, whose
// rollover counter follows the sequence numbers of each SSRC: a stream
// that jumped back would fail authentication or be dropped as replayed.

// streamState is the stream a pipe forwarded last: its ingress SSRC (in),
// the SSRC the egress peer sees (out), the last sequence number and
// timestamp sent and when. It belongs to the pipe's forward (under
// pipe.mu).
type streamState struct {
	known     bool
	own       bool // byocp's own stream of injected events; nothing forwarded yet
	in, out   uint32
	seq       uint16 // last sent
	ts        uint32 // last sent
	at        time.Duration
	rate      uint32
	epoch     uint32 // the ingress epoch the last mapping decision saw
	lastEvent uint32 // timestamp of the last event reported
	reported  bool
}

// srcMap maps one ingress SSRC onto the egress stream; the zero value
// passes it unchanged.
type srcMap struct {
	mapped bool
	out    uint32
	seqOff uint16
	tsOff  uint32
}

// streamMap is a pipe's current mapping as the RTCP pipes read it.
type streamMap struct {
	mu     sync.Mutex
	mapped bool // in, out, seqOff or tsOff differ from the identity
	in     uint32
	out    uint32
	seqOff uint16
	tsOff  uint32
}

// continuity fits a packet of ingress SSRC ssrc, whose slot is slot
// (fresh when the SSRC is new to the table) and whose format's clock rate
// is rate (0: unknown), into the egress stream:
// rewrites its SSRC, sequence number and timestamp (and marker, when it
// is carried onto the stream) as its mapping says, and records it as the
// last sent. It returns the SSRC and sequence number the packet now has.
func (p *pipe) continuity(plain []byte, slot *ssrcSlot, fresh bool, ssrc uint32, seq uint16, rate uint32, now time.Duration) (uint32, uint16) {
	st := &p.stream
	ts := binary.BigEndian.Uint32(plain[4:])
	remapped := false
	if epoch := p.epoch.Load(); epoch != st.epoch {
		// The ingress peer changed: this is its first packet.
		st.epoch = epoch
		m := &slot.m
		continues := !fresh && st.known && ssrc == st.in && seq+m.seqOff-st.seq-1 < maxDropout
		if st.known && !continues {
			r := rate
			if r == 0 {
				r = st.rate
			}
			if r == 0 {
				r = 8000
			}
			next := st.ts + uint32(uint64(max(now-st.at, 0))*uint64(r)/uint64(time.Second))
			*m = srcMap{mapped: true, out: st.out, seqOff: st.seq + 1 - seq, tsOff: next - ts}
			slot.encID = 0 // its encoder stream is out's now
			remapped = true
			plain[1] |= 0x80 // marker: resynchronise
			p.stats.sourceChanges.Add(1)
		}
	}
	out := ssrc
	if m := &slot.m; m.mapped {
		out = m.out
		seq = rewrite(plain, m, seq, ts)
		ts += m.tsOff
	}
	changed := !st.known || st.own || st.in != ssrc
	st.known, st.own, st.in, st.out, st.seq, st.ts, st.at = true, false, ssrc, out, seq, ts, now
	if rate != 0 {
		st.rate = rate
	}
	if changed || remapped {
		p.publishMapping(slot.m)
	}
	return out, seq
}

// rewrite applies m to a packet and returns its sequence number.
func rewrite(plain []byte, m *srcMap, seq uint16, ts uint32) uint16 {
	binary.BigEndian.PutUint32(plain[8:], m.out)
	if m.seqOff != 0 {
		seq += m.seqOff
		binary.BigEndian.PutUint16(plain[2:], seq)
	}
	if m.tsOff != 0 {
		binary.BigEndian.PutUint32(plain[4:], ts+m.tsOff)
	}
	return seq
}

// publishMapping makes the mapping of the stream forwarded last readable
// by the RTCP pipes. It runs when that stream's SSRC or mapping changes,
// not per packet.
func (p *pipe) publishMapping(m srcMap) {
	st := &p.stream
	p.mapping.mu.Lock()
	p.mapping.mapped, p.mapping.in, p.mapping.out, p.mapping.seqOff, p.mapping.tsOff = m.mapped, st.in, m.out, m.seqOff, m.tsOff
	p.mapping.mu.Unlock()
}

func (m *streamMap) load() (mapped bool, in, out uint32, seqOff uint16, tsOff uint32) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.mapped, m.in, m.out, m.seqOff, m.tsOff
}

// rewriteRTCP makes a plain compound RTCP packet of the direction whose
// RTP pipe is fwd (the reverse direction's is rev) consistent with the
// streams the egress peer sees: the ingress source's own SSRC becomes
// the egress SSRC fwd sends (in SR, RR, SDES and BYE), an SR's RTP
// timestamp moves with the stream's, and report blocks about the SSRC
// that rev sends to this direction's ingress peer name the SSRC that
// rev's source really has, with the extended highest sequence number
// moved back. Packets it cannot walk are left as they are. It does not
// allocate.
func rewriteRTCP(pkt []byte, fwd, rev *pipe) {
	var fm, rm bool
	var fin, fout, rin, rout uint32
	var ftsOff uint32
	var rseqOff uint16
	if fwd != nil {
		fm, fin, fout, _, ftsOff = fwd.mapping.load()
	}
	if rev != nil {
		rm, rin, rout, rseqOff, _ = rev.mapping.load()
	}
	if !fm && !rm {
		return
	}
	swap := func(b []byte) {
		if fm && binary.BigEndian.Uint32(b) == fin {
			binary.BigEndian.PutUint32(b, fout)
		}
	}
	blocks := func(b []byte, n int) {
		for i := 0; i < n && len(b) >= 24; i, b = i+1, b[24:] {
			if rm && binary.BigEndian.Uint32(b) == rout {
				binary.BigEndian.PutUint32(b, rin)
				binary.BigEndian.PutUint32(b[8:], binary.BigEndian.Uint32(b[8:])-uint32(rseqOff))
			}
		}
	}
	for len(pkt) >= 4 && pkt[0]>>6 == 2 {
		n := 4 * (int(binary.BigEndian.Uint16(pkt[2:])) + 1)
		if n > len(pkt) {
			return
		}
		body, count := pkt[4:n], int(pkt[0]&0x1f)
		switch pkt[1] {
		case 200: // SR: sender SSRC, NTP, RTP timestamp, counts, blocks
			if len(body) >= 24 {
				if fm && binary.BigEndian.Uint32(body) == fin {
					binary.BigEndian.PutUint32(body, fout)
					binary.BigEndian.PutUint32(body[12:], binary.BigEndian.Uint32(body[12:])+ftsOff)
				}
				blocks(body[24:], count)
			}
		case 201: // RR: sender SSRC, blocks
			if len(body) >= 4 {
				swap(body)
				blocks(body[4:], count)
			}
		case 202: // SDES: chunks of an SSRC and items up to a null
			for c, b := 0, body; c < count && len(b) >= 4; c++ {
				swap(b)
				i := 4
				for i < len(b) && b[i] != 0 {
					if i+1 >= len(b) {
						return
					}
					i += 2 + int(b[i+1])
				}
				i = (i + 4) &^ 3 // the null, and padding to 32 bits
				if i > len(b) {
					break
				}
				b = b[i:]
			}
		case 203: // BYE: SSRCs
			for c, b := 0, body; c < count && len(b) >= 4; c, b = c+1, b[4:] {
				swap(b)
			}
		}
		pkt = pkt[n:]
	}
}

// followInjected moves the stream forwarded last on by one sequence
// number after an injected packet, so that its later packets follow it.
func (p *pipe) followInjected(now time.Duration) {
	st := &p.stream
	i, found := p.ssrcs.find(st.in, now, MaxSSRCsLimit)
	if st.own || !found {
		return // nothing forwarded follows it yet
	}
	m := &p.ssrcs.slots[i].m
	if !m.mapped {
		*m = srcMap{mapped: true, out: st.in}
	}
	m.seqOff++
	p.publishMapping(*m)
}

// peerChanged reports whether a leg's new configuration names another
// peer than the old one: another Remote, or another RemoteKey (or SRTP
// turned on or off).
func peerChanged(old, st *legState) bool {
	switch {
	case old == nil:
		return true
	case old.remote != st.remote:
		return true
	case (old.srtp == nil) != (st.srtp == nil):
		return true
	}
	return st.srtp != nil && old.srtp.dec != st.srtp.dec
}
