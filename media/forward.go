package media

import (
	"encoding/binary"
	"net/netip"
	"sync/atomic"

	"github.com/pion/rtp"
)

const (
	// bufSize is the receive buffer size; a datagram that fills it is
	// dropped as possibly truncated.
	bufSize = 2048
	// maxOverhead bounds what SRTP adds to a packet (tag, MKI).
	maxOverhead = 64
)

// pipe is one direction of a Relay: it reads on in and sends from out.
// All its buffers and its rtp.Header belong to the one goroutine that
// reads in, so the per-packet path allocates nothing.
type pipe struct {
	in, out         *Port
	ingress, egress *atomic.Pointer[legState]
	stats           counters

	hdr     rtp.Header
	buf     []byte // receive buffer
	plain   []byte // decrypt output
	cipher  []byte // encrypt output
	payload int    // payload bytes of the last packet transform accepted
}

func newPipe(in, out *Port, ingress, egress *atomic.Pointer[legState]) *pipe {
	return &pipe{
		in: in, out: out, ingress: ingress, egress: egress,
		hdr: rtp.Header{
			CSRC:       make([]uint32, 0, 15),
			Extensions: make([]rtp.Extension, 0, 16),
		},
		buf:    make([]byte, bufSize),
		plain:  make([]byte, bufSize+maxOverhead),
		cipher: make([]byte, bufSize+maxOverhead),
	}
}

// forward relays one received datagram and counts the outcome. Received is
// counted last, so that a reader who sees Received == n also sees the
// outcome of all n datagrams.
func (p *pipe) forward(pkt []byte) {
	defer p.stats.received.Add(1)
	out, to, ok := p.transform(pkt)
	if !ok {
		return
	}
	if _, err := p.out.rtp.WriteToUDPAddrPort(out, to); err != nil {
		p.stats.sendFailed.Add(1)
		return
	}
	p.stats.forwarded.Add(1)
	p.stats.bytes.Add(uint64(p.payload))
}

// transform turns one received datagram into the packet to send and its
// destination, or counts why it is dropped and returns ok == false. The
// returned slice is pkt itself or one of the pipe's buffers; it is valid
// until the next call.
func (p *pipe) transform(pkt []byte) (out []byte, to netip.AddrPort, ok bool) {
	hl := rtpHeaderLen(pkt)
	if hl < 0 {
		p.stats.notRTP.Add(1)
		return nil, to, false
	}
	in, eg := p.ingress.Load(), p.egress.Load()
	plain := pkt
	if in != nil && in.srtp != nil {
		s := in.srtp
		if s.dec == nil {
			p.stats.noRemote.Add(1)
			return nil, to, false
		}
		if len(pkt) < hl+s.overhead { // pion's error path would allocate
			p.stats.notRTP.Add(1)
			return nil, to, false
		}
		var err error
		if plain, err = s.dec.DecryptRTP(p.plain, pkt, &p.hdr); err != nil {
			p.stats.authFailed.Add(1)
			return nil, to, false
		}
	}
	if eg == nil || !eg.remote.IsValid() || p.out == nil {
		p.stats.noRemote.Add(1)
		return nil, to, false
	}
	out = plain
	if eg.srtp != nil {
		var err error
		if out, err = eg.srtp.enc.EncryptRTP(p.cipher, plain, &p.hdr); err != nil {
			p.stats.sendFailed.Add(1)
			return nil, to, false
		}
	}
	p.payload = len(plain) - hl
	return out, eg.remote, true
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
