package media

import (
	"encoding/binary"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
)

const (
	// bufSize is the receive buffer size.
	bufSize = 2048
	// maxOverhead bounds what SRTP and SRTCP add to a packet (index, tag,
	// MKI).
	maxOverhead = 64
	// maxPacket is the longest datagram relayed; longer ones are dropped
	// (NotRTP, NotRTCP). Packets are decrypted and encrypted in place, in
	// the buffer they were received in, which keeps maxOverhead bytes
	// free behind the longest packet; and a datagram that filled the
	// buffer may have been truncated.
	maxPacket = bufSize - maxOverhead
)

// pipe is one direction of a Relay: it reads on in and sends from out.
// All its buffers, its rtp.Header and its SSRC table belong to the one
// goroutine that reads in, as does the encoder of the egress leg, so the
// per-packet path allocates nothing. The header's CSRC and extension
// lists, like the SSRC table, grow to the most a packet has needed (most
// packets have none), so a call holds no more than its streams use.
type pipe struct {
	in, out         *Port
	ingress, egress *atomic.Pointer[legState]
	rtcp            *rtcpPipe // the same direction's RTCP, for RTCP multiplexed on in (RTCPMux)
	stats           counters
	start           time.Time            // when clock read 0; shared by the Relay's pipes
	clock           func() time.Duration // monotonic, since start; replaced by tests
	now             time.Duration        // clock reading of the last valid packet, set by transform

	hdr     rtp.Header
	buf     []byte // receive buffer
	spare   []byte // for packets handed in without room to grow (see inPlace)
	payload int    // payload bytes of the last packet transform accepted
	ssrcs   ssrcTable
	pts     atomic.Pointer[ptTable] // payload-type mapping and clock rates; nil = none
	quality seqTracker
	// DTMF (dtmf.go): the stream forwarded last, events reported, and
	// events injected into it. mu serialises forward with the injector.
	mu        sync.Mutex
	side      Side // the ingress side
	stream    streamState
	mapping   streamMap     // stream's mapping for the RTCP pipes (continuity.go)
	epoch     atomic.Uint32 // bumped by SetLeg when the ingress peer changes (continuity.go)
	events    chan<- Event
	injectMu  sync.Mutex              // one injected event at a time
	injectBuf []byte                  // an injected event packet, encrypted in place; made on first use
	tap       atomic.Pointer[tapFeed] // set by Relay.SetTap; nil = no tap
}

func newPipe(in, out *Port, ingress, egress *atomic.Pointer[legState], start time.Time) *pipe {
	return &pipe{
		in: in, out: out, ingress: ingress, egress: egress,
		start: start,
		clock: func() time.Duration { return time.Since(start) },
	}
}

// forward relays one datagram received from from and counts the outcome.
// Received is counted last, so that a reader who sees Received == n also
// sees the outcome of all n datagrams. When the ingress leg multiplexes
// RTCP on its RTP port (RTCPMux), an RTCP packet goes to the direction's
// RTCP pipe instead, and counts there.
func (p *pipe) forward(pkt []byte, from netip.AddrPort) {
	if p.rtcp != nil && isRTCP(pkt) {
		if in := p.ingress.Load(); in != nil && in.rtcpMux {
			p.rtcp.forward(pkt, from)
			return
		}
	}
	defer p.stats.received.Add(1)
	p.mu.Lock()
	defer p.mu.Unlock()
	out, to, ok := p.transform(pkt, from)
	if !ok {
		return
	}
	if _, err := p.out.rtp.WriteToUDPAddrPort(out, to); err != nil {
		p.stats.sendFailed.Add(1)
		return
	}
	p.stats.forwarded.Add(1)
	p.stats.bytes.Add(uint64(p.payload))
	p.stats.lastForwarded.mark(p.now)
}

// transform turns one datagram received from from into the packet to send
// and its destination, or counts why it is dropped and returns ok ==
// false. The checks are, in order: the source (ingress RestrictSources),
// the RTP header (and size), SRTP authentication on an SRTP ingress, the
// egress remote, the ingress SSRC limit and, towards an SRTP egress, the
// SRTP index. A packet that passes the first three is valid RTP from the
// ingress leg: its arrival is marked in LastRTP, with the clock reading
// that the SSRC table uses too. The returned slice is pkt itself or one
// of the pipe's buffers; it is valid until the next call.
func (p *pipe) transform(pkt []byte, from netip.AddrPort) (out []byte, to netip.AddrPort, ok bool) {
	in, eg := p.ingress.Load(), p.egress.Load()
	relatch := false
	if in != nil {
		ok := true
		if in.latch != nil {
			ok, relatch = in.checkLatch(from)
		} else {
			ok = in.allows(from.Addr())
		}
		if !ok {
			p.stats.wrongSource.Add(1)
			return nil, to, false
		}
	}
	hl := rtpHeaderLen(pkt)
	if hl < 0 || len(pkt) > maxPacket {
		p.stats.notRTP.Add(1)
		return nil, to, false
	}
	pkt = inPlace(pkt, &p.spare)
	plain := pkt
	limit := DefaultMaxSSRCs
	if in != nil {
		limit = in.maxSSRCs
		if s := in.srtp; s != nil {
			if s.dec == nil {
				p.stats.noRemote.Add(1)
				return nil, to, false
			}
			if len(pkt) < hl+s.overhead { // pion's error path would allocate
				p.stats.notRTP.Add(1)
				return nil, to, false
			}
			var err error
			if plain, err = s.dec.DecryptRTP(pkt, pkt, &p.hdr); err != nil { // in place
				p.stats.authFailed.Add(1)
				return nil, to, false
			}
		}
	}
	// Valid RTP from the ingress leg, whether or not it can be forwarded.
	now := p.clock()
	p.now = now
	p.stats.lastRTP.mark(now)
	if relatch {
		in.latch.latch(from)
		p.stats.relatched.Add(1)
	}
	ssrc, seq := binary.BigEndian.Uint32(plain[8:]), binary.BigEndian.Uint16(plain[2:])
	pts := p.pts.Load()
	var rate uint32
	if pts != nil {
		rate = pts.rate[plain[1]&0x7f]
	}
	p.quality.track(ssrc, seq, binary.BigEndian.Uint32(plain[4:]), rate, now)
	to = eg.destination()
	if !to.IsValid() || p.out == nil {
		p.stats.noRemote.Add(1)
		return nil, to, false
	}
	// Only now, after authentication, may an SSRC take a slot.
	i, known := p.ssrcs.find(ssrc, now, limit)
	if i < 0 {
		p.stats.tooManySSRCs.Add(1)
		return nil, to, false
	}
	if pts != nil {
		if eg.dtmf == DTMFInfo && pts.event[plain[1]&0x7f] {
			// The egress peer takes DTMF as SIP INFO: the event is
			// reported, not sent (dtmf.go).
			p.stats.dtmfWithheld.Add(1)
			p.reportEvent(plain[hl:], ssrc, binary.BigEndian.Uint32(plain[4:]), rate)
			return nil, to, false
		}
		pts.remap(plain) // the receive buffer, decrypted in place
	}
	slot := p.ssrcs.touch(i, ssrc, now)
	// The SSRC the egress peer sees; an ingress SSRC's mapping is fixed
	// while it is relayed, so the encoder stream cached in its slot stays
	// right.
	outSSRC, seq := p.continuity(plain, slot, !known, ssrc, seq, rate, now)
	out = plain
	if eg.srtp != nil {
		e := eg.srtp.enc
		stream := -1
		if known && slot.encID == e.id {
			stream = int(slot.stream)
		} else if stream = e.lookup(outSSRC); stream < 0 {
			p.stats.tooManySSRCs.Add(1)
			return nil, to, false
		}
		if !e.admit(stream, outSSRC, seq) {
			p.stats.duplicate.Add(1)
			return nil, to, false
		}
		slot.encID, slot.stream = e.id, int32(stream)
	}
	if f := p.tap.Load(); f != nil { // the plain packet, about to be sent
		f.offer(plain, p.start.Add(now))
	}
	p.payload = len(plain) - hl
	if eg.srtp != nil {
		// The index stays marked as sent even if encryption fails. pion
		// fails before advancing its own index only for a header that
		// rtpHeaderLen refuses or after 2^48 packets, so its rollover
		// estimate and the encoder's do not drift apart.
		e := eg.srtp.enc
		var err error
		if out, err = e.ctx.EncryptRTP(plain, plain, &p.hdr); err != nil { // in place
			p.stats.sendFailed.Add(1)
			return nil, to, false
		}
	}
	return out, to, true
}

// isRTCP reports whether pkt, read on an RTP port, is an RTCP packet as
// RFC 5761 section 4 tells them apart: its second byte (an RTCP packet
// type) is 192-223, which would be the marker bit and a payload type of
// 64-95 in RTP, payload types RTP must not use next to RTCP. rtcpPipe
// checks the rest.
func isRTCP(pkt []byte) bool {
	return len(pkt) >= 2 && pkt[1] >= 192 && pkt[1] <= 223
}

// rtpHeaderLen returns the length of the RTP header at the start of buf,
// or -1 if buf is not an RTP packet: shorter than 12 bytes, version != 2,
// a payload type in the RTCP range 64-95 (RFC 5761), or a header that
// rtp.Header.Unmarshal would refuse. It mirrors Unmarshal's checks so that
// Unmarshal is only called on input it accepts, since its error path
// allocates.
func rtpHeaderLen(buf []byte) int {
	if len(buf) < 12 || buf[0]>>6 != 2 {
		return -1
	}
	if pt := buf[1] & 0x7f; pt >= 64 && pt <= 95 {
		return -1
	}
	n := 12 + 4*int(buf[0]&0x0f)
	if buf[0]&0x10 == 0 {
		if len(buf) < n {
			return -1
		}
		return n
	}
	if len(buf) < n+4 {
		return -1
	}
	profile := binary.BigEndian.Uint16(buf[n:])
	end := n + 4 + 4*int(binary.BigEndian.Uint16(buf[n+2:]))
	if len(buf) < end {
		return -1
	}
	oneByte, twoByte := profile == rtp.ExtensionProfileOneByte, profile == rtp.ExtensionProfileTwoByte
	for i := n + 4; (oneByte || twoByte) && i < end; {
		if buf[i] == 0 { // padding
			i++
			continue
		}
		var size int
		if oneByte {
			id := buf[i] >> 4
			size = int(buf[i]&0x0f) + 1
			i++
			if id == 15 || id == 0 { // reserved: Unmarshal stops here
				break
			}
		} else {
			i++
			if end <= i {
				return -1
			}
			size = int(buf[i])
			i++
		}
		if i+size > end {
			return -1
		}
		i += size
	}
	return end
}

// inPlace returns pkt if it has room behind it for what SRTP adds, else
// a copy of it in *spare (made on first use). The readers' buffers always
// have the room, so on the packet path pkt is returned as it is; only
// other callers of forward (tests) hand in tight slices.
func inPlace(pkt []byte, spare *[]byte) []byte {
	if cap(pkt)-len(pkt) >= maxOverhead {
		return pkt
	}
	if *spare == nil {
		*spare = make([]byte, bufSize)
	}
	return append((*spare)[:0], pkt...)
}

// lazyRecvBuf returns *b, made on first use: only a pump goroutine reads
// into a pipe's own buffer.
func lazyRecvBuf(b *[]byte) []byte {
	if *b == nil {
		*b = make([]byte, bufSize)
	}
	return *b
}
