package media

import (
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
)

// RTCP (RFC 3550 section 6) travels on each Port's odd socket, next to
// the RTP one, and is relayed like RTP by a pipe of its own per direction:
// SRTCP is authenticated and decrypted with the ingress leg's key and
// encrypted with the egress leg's, in the same pion Context per key as
// SRTP (its SRTCP indices and replay window are its own). Reports pass
// unchanged, except where a source was carried onto another stream
// (rewriteRTCP, continuity.go), so what each leg's sender and receiver
// reports say stays true for the other leg.
//
// On a leg with RTCPMux (RFC 5761), RTCP shares the RTP port: the RTP
// pipe hands what its socket reads with an RTCP packet type to the
// direction's RTCP pipe, and RTCP towards the leg is sent from its RTP
// socket to its RTP destination. The odd socket is still read.

// minRTCP is the shortest RTCP packet: a header and the sender's SSRC.
const minRTCP = 8

// rtcpPipe is one direction of RTCP. Its receive buffer belongs to the
// reader of its ingress port's RTCP socket. forward may also be entered
// by the reader of the ingress RTP socket, for RTCP multiplexed there
// (RTCPMux), so mu serialises the per-packet state: the header and the
// SRTCP contexts it uses (packets are decrypted and encrypted in the
// buffer they arrived in, see maxPacket). RTCP is a
// few packets a second, so mu is practically never contended.
type rtcpPipe struct {
	in, out         *Port
	ingress, egress *atomic.Pointer[legState]
	stats           rtcpCounters
	fwd, rev        *pipe       // the RTP pipes of this direction and the other (continuity.go)
	reports         rtcpReports // round-trip time from the reports relayed; set by NewRelay
	start           time.Time
	buf             []byte

	mu    sync.Mutex
	hdr   rtcp.Header
	spare []byte // see inPlace
}

func newRTCPPipe(in, out *Port, ingress, egress *atomic.Pointer[legState], start time.Time) *rtcpPipe {
	return &rtcpPipe{in: in, out: out, ingress: ingress, egress: egress, start: start}
}

func (p *rtcpPipe) socket() udpConn {
	if p.in == nil {
		return nil
	}
	return p.in.rtcp
}
func (p *rtcpPipe) buffer() []byte { return lazyRecvBuf(&p.buf) }
func (p *rtcpPipe) notePanic()     { p.stats.panics.Add(1) }

// forward relays one RTCP datagram received from from, on the ingress
// port's RTCP socket or multiplexed on its RTP socket. It does not
// allocate.
func (p *rtcpPipe) forward(pkt []byte, from netip.AddrPort) {
	defer p.stats.received.Add(1)
	p.mu.Lock()
	defer p.mu.Unlock()
	in, eg := p.ingress.Load(), p.egress.Load()
	if in != nil && !in.allowsRTCP(from.Addr()) {
		p.stats.wrongSource.Add(1)
		return
	}
	if len(pkt) < minRTCP || len(pkt) > maxPacket || pkt[0]>>6 != 2 || pkt[1] < 192 || pkt[1] > 223 {
		p.stats.notRTCP.Add(1)
		return
	}
	pkt = inPlace(pkt, &p.spare)
	plain := pkt
	if in != nil && in.srtp != nil {
		s := in.srtp
		if s.dec == nil {
			p.stats.noRemote.Add(1)
			return
		}
		if len(pkt) < minRTCP+4+s.rtcpOverhead { // pion's error path would allocate
			p.stats.notRTCP.Add(1)
			return
		}
		var err error
		if plain, err = s.dec.DecryptRTCP(pkt, pkt, &p.hdr); err != nil { // in place
			p.stats.authFailed.Add(1)
			return
		}
	}
	p.reports.observe(plain, time.Since(p.start))
	to := eg.rtcpDestination()
	if !to.IsValid() || p.out == nil {
		p.stats.noRemote.Add(1)
		return
	}
	rewriteRTCP(plain, p.fwd, p.rev)
	out := plain
	if eg.srtp != nil {
		var err error
		if out, err = eg.srtp.enc.ctx.EncryptRTCP(plain, plain, &p.hdr); err != nil { // in place
			p.stats.sendFailed.Add(1)
			return
		}
	}
	sock := p.out.rtcp
	if eg.rtcpMux {
		sock = p.out.rtp
	}
	if _, err := sock.WriteToUDPAddrPort(out, to); err != nil {
		p.stats.sendFailed.Add(1)
		return
	}
	p.stats.forwarded.Add(1)
}

// allowsRTCP is the source rule of RTCP: the address RTP comes from (the
// latched source's IP, any port), or what allows accepts.
func (s *legState) allowsRTCP(ip netip.Addr) bool {
	if a := s.latch.latched(); a.IsValid() {
		return ip.Unmap().WithZone("") == a.Addr().WithZone("")
	}
	if s.latch != nil && s.srtp == nil {
		return s.latch.policy == LatchAny || s.signalled(ip)
	}
	return s.allows(ip)
}

// rtcpDestination is where the leg's RTCP goes: the RTP destination with
// RTCPMux, else RemoteRTCP when set, else the port after the RTP
// destination's (RFC 3550 section 11).
func (s *legState) rtcpDestination() netip.AddrPort {
	if s == nil {
		return netip.AddrPort{}
	}
	if s.rtcpMux {
		return s.destination()
	}
	if s.remoteRTCP.IsValid() {
		return s.remoteRTCP
	}
	d := s.destination()
	if !d.IsValid() || d.Port() == 65535 {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(d.Addr(), d.Port()+1)
}

// RTCPStats counts one direction's RTCP datagrams: those read on the
// ingress port's RTCP socket and, on an ingress leg with RTCPMux, those
// multiplexed on its RTP socket. Every received datagram is forwarded or
// counted in one drop counter, checked in this order.
type RTCPStats struct {
	Received    uint64
	Forwarded   uint64
	WrongSource uint64 // not from the ingress peer's address
	NotRTCP     uint64 // too short, not version 2, not an RTCP packet type, longer than 1984 bytes
	AuthFailed  uint64 // SRTCP authentication failed (incl. replay)
	NoRemote    uint64 // egress address or ingress RemoteKey not known yet
	SendFailed  uint64
	Panics      uint64
}

type rtcpCounters struct {
	received, forwarded, wrongSource, notRTCP, authFailed, noRemote, sendFailed, panics atomic.Uint64
}

func (c *rtcpCounters) snapshot() RTCPStats {
	return RTCPStats{Received: c.received.Load(), Forwarded: c.forwarded.Load(), WrongSource: c.wrongSource.Load(),
		NotRTCP: c.notRTCP.Load(), AuthFailed: c.authFailed.Load(), NoRemote: c.noRemote.Load(),
		SendFailed: c.sendFailed.Load(), Panics: c.panics.Load()}
}
