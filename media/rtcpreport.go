package media

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"
)

// Round-trip time, as a middlebox measures it from the reports it relays
// (RFC 3550 section 6.4.1, figure 2). When a sender report (SR) from one
// leg's peer passes on its way to the other leg's peer, the relay notes
// the middle 32 bits of its NTP timestamp. When that peer's next report
// comes back through the relay with a report block whose LSR (last SR
// timestamp) is that value, the time between the SR and the report at
// the relay, less the report's DLSR (delay since last SR, how long the
// peer held it), is the round trip between byocp and that peer. Both
// times are readings of the relay's monotonic clock and DLSR is a
// duration: the peers' clocks do not have to agree with it or with each
// other. A report block is matched by its LSR alone, not by the SSRC it
// reports on, so renumbering SSRCs on the way would not break the match.
//
// The pipe carrying SRs towards a leg writes that leg's legRTT, the pipe
// carrying the leg's reports back reads it: the two pipes' readers may
// run on different goroutines, so a legRTT is guarded by a mutex (RTCP is
// rare, a packet every few seconds) and publishes its figure with an
// atomic for Stats.

// RTCP packet types and sizes read here (RFC 3550 sections 6.4.1, 6.4.2).
const (
	rtcpTypeSR     = 200
	rtcpTypeRR     = 201
	srHeaderLen    = 28 // header, SSRC, NTP timestamp, RTP timestamp, packet and octet counts
	rrHeaderLen    = 8  // header, SSRC
	reportBlockLen = 24
	lsrOffset      = 16 // of LSR within a report block; DLSR follows
)

// srNotes is how many SRs towards a leg's peer are remembered: a peer
// reports on the last SR it received, which is among the last few that
// passed even when SRs overtake reports.
const srNotes = 8

// maxRTT is the longest round trip taken as a measurement; anything longer
// is a peer's bad DLSR or an LSR that matched by chance.
const maxRTT = 10 * time.Second

// rttShift makes the smoothed round trip an EWMA with gain 1/8, as RFC
// 6298's SRTT: RTT = RTT + (sample - RTT) / 8.
const rttShift = 3

// srNote is an SR that passed towards a leg's peer.
type srNote struct {
	lsr uint32        // the middle 32 bits of its NTP timestamp; 0 = empty
	at  time.Duration // the relay's clock reading when it arrived
}

// legRTT is the round trip between byocp and one leg's peer: the SRs that
// passed towards the peer, and the smoothed round trip measured from the
// peer's reports on them. The Relay owns one per side.
type legRTT struct {
	mu    sync.Mutex
	notes [srNotes]srNote // guarded by mu; a ring, next is the oldest
	next  int             // guarded by mu
	srtt  time.Duration   // guarded by mu; 0 before the first sample
	pub   atomic.Int64    // srtt in nanoseconds for Stats, at least 1 once measured; 0 = never
}

// noteSR remembers that an SR whose NTP timestamp has lsr as its middle 32
// bits arrived at now on its way to the leg's peer.
func (l *legRTT) noteSR(lsr uint32, now time.Duration) {
	if lsr == 0 {
		return // a sender without a wallclock; a report's LSR 0 means "no SR"
	}
	l.mu.Lock()
	l.notes[l.next] = srNote{lsr: lsr, at: now}
	l.next = (l.next + 1) % srNotes
	l.mu.Unlock()
}

// report takes one report block's LSR and DLSR (in 1/65536 s) from a
// report of the leg's peer that arrived at now. A block whose LSR names no
// SR that passed towards the peer, or whose round trip comes out negative
// or longer than maxRTT, is ignored.
func (l *legRTT) report(lsr, dlsr uint32, now time.Duration) {
	if lsr == 0 {
		return
	}
	held := time.Duration(uint64(dlsr) * uint64(time.Second) >> 16)
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := range srNotes {
		// Newest first: a duplicated SR counts from its last passage, as
		// the peer's LSR does.
		n := l.notes[(l.next+srNotes-1-i)%srNotes]
		if n.lsr != lsr {
			continue
		}
		sample := now - n.at - held
		if sample < 0 || sample > maxRTT {
			return
		}
		if l.srtt == 0 {
			l.srtt = sample
		} else {
			l.srtt += (sample - l.srtt) >> rttShift
		}
		l.pub.Store(int64(max(l.srtt, 1)))
		return
	}
}

// rtt is the smoothed round trip, 0 before the first measurement.
func (l *legRTT) rtt() time.Duration { return time.Duration(l.pub.Load()) }

// rtcpReports is what one direction's RTCP pipe reads from the packets it
// relays: SRs travel towards the egress leg's peer (to), report blocks
// come from the ingress leg's peer (from).
type rtcpReports struct {
	from, to *legRTT
}

// observe reads a plain (decrypted) compound RTCP packet that arrived at
// now: it notes the SRs for the egress leg and measures the ingress leg's
// round trip from the report blocks of SRs and RRs. It walks the packets'
// common headers by hand, without allocating, and stops at the first one
// that is not version 2 or does not fit; other packet types are skipped.
func (r *rtcpReports) observe(pkt []byte, now time.Duration) {
	if r.from == nil || r.to == nil {
		return
	}
	for len(pkt) >= 4 {
		if pkt[0]>>6 != 2 {
			return
		}
		n := (int(binary.BigEndian.Uint16(pkt[2:])) + 1) * 4
		if n > len(pkt) {
			return
		}
		p := pkt[:n]
		pkt = pkt[n:]
		if p[0]&0x20 != 0 { // padding: its length is the last octet
			pad := int(p[n-1])
			if pad == 0 || pad > n-4 {
				return
			}
			p = p[:n-pad]
		}
		count := int(p[0] & 0x1f)
		switch p[1] {
		case rtcpTypeSR:
			if len(p) < srHeaderLen {
				return
			}
			r.to.noteSR(binary.BigEndian.Uint32(p[10:]), now)
			r.reportBlocks(p[srHeaderLen:], count, now)
		case rtcpTypeRR:
			if len(p) < rrHeaderLen {
				return
			}
			r.reportBlocks(p[rrHeaderLen:], count, now)
		}
	}
}

// reportBlocks hands the LSR and DLSR of at most count report blocks in b
// to the ingress leg.
func (r *rtcpReports) reportBlocks(b []byte, count int, now time.Duration) {
	for ; count > 0 && len(b) >= reportBlockLen; count-- {
		r.from.report(binary.BigEndian.Uint32(b[lsrOffset:]), binary.BigEndian.Uint32(b[lsrOffset+4:]), now)
		b = b[reportBlockLen:]
	}
}
