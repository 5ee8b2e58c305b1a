package media

import (
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// UDPTLLegConfig is what a UDPTLRelay needs to know about one leg: where
// the peer receives its T.38 image stream and whom to accept datagrams
// from. The source rules are those of LegConfig.
type UDPTLLegConfig struct {
	// Remote is where datagrams for this leg are sent: the address and
	// port of the peer's m=image line. The zero value means not known
	// yet: datagrams towards the leg are dropped and counted as NoRemote.
	Remote netip.AddrPort
	// RestrictSources makes the leg accept datagrams only from the IP
	// address of Remote or from an address in SourceNetworks, on any
	// source port; others are dropped and counted as WrongSource. See
	// LegConfig.RestrictSources. UDPTL is not authenticated, so the
	// Bridge should restrict both legs.
	RestrictSources bool
	// SourceNetworks are further networks a restricted leg accepts
	// datagrams from, as LegConfig.SourceNetworks.
	SourceNetworks []netip.Prefix
}

// UDPTLRelay relays a T.38 fax image stream (m=image ... udptl t38)
// between two Ports, SideA (the carrier) and SideB (Zoom): each UDPTL
// datagram read on one side's port is sent as it is, byte for byte, from
// the other side's port to that side's Remote. It does not read UDPTL:
// sequence numbers, redundancy and FEC are the endpoints' business. Only
// a Port's first (even) socket is used; its neighbour stays bound.
type UDPTLRelay struct {
	ports  [2]*Port
	legs   [2]atomic.Pointer[legState]
	pipes  [2]*udptlPipe // indexed by ingress side
	logger *slog.Logger

	setMu sync.Mutex // serialises SetLeg

	pump pump
}

// NewUDPTLRelay returns a UDPTLRelay between ports a (SideA) and b
// (SideB). It takes ownership of both ports: Close closes them. Until
// SetLeg gives a side a remote address, datagrams towards that side are
// dropped. A nil logger discards logs.
func NewUDPTLRelay(a, b *Port, logger *slog.Logger) *UDPTLRelay {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := &UDPTLRelay{ports: [2]*Port{a, b}, logger: logger}
	r.pump = pump{name: "UDPTL relay", ports: r.ports, logger: logger}
	start := time.Now()
	r.pipes[SideA] = newUDPTLPipe(a, b, &r.legs[SideA], &r.legs[SideB], start)
	r.pipes[SideB] = newUDPTLPipe(b, a, &r.legs[SideB], &r.legs[SideA], start)
	return r
}

// SetLeg (re)configures one side. It can be called at any time, before or
// after Start, and repeatedly (a re-INVITE that moves the peer's image
// stream); the new configuration replaces the old one atomically. Errors
// wrap ErrBadSide, ErrBadRemote or ErrBadSourceNetwork, and leave the
// previous configuration in place.
func (r *UDPTLRelay) SetLeg(side Side, cfg UDPTLLegConfig) error {
	if side != SideA && side != SideB {
		return fmt.Errorf("%w: %d", ErrBadSide, int(side))
	}
	r.setMu.Lock()
	defer r.setMu.Unlock()
	var local netip.Addr
	if p := r.ports[side]; p != nil {
		local = p.pool.ip
	}
	st, err := newLegState(LegConfig{Remote: cfg.Remote, RestrictSources: cfg.RestrictSources, SourceNetworks: cfg.SourceNetworks}, nil, local)
	if err != nil {
		return fmt.Errorf("media: UDPTL leg %s: %w", side, err)
	}
	r.legs[side].Store(st)
	r.logger.Debug("UDPTL leg configured", "side", side.String(), "remote", st.remote,
		"restrictSources", st.restrict, "sourceNetworks", len(st.nets))
	return nil
}

// Start starts exactly one reader per side, as Relay.Start does. Each
// reads datagrams from its side's port; drops, counting them, datagrams from
// sources its side does not accept, empty or too short to be UDPTL or
// too long for the buffer, and those towards a side whose remote is not
// known; and writes the others, unchanged, to the other side's remote
// from the other side's port. Start after Start or Close does nothing.
func (r *UDPTLRelay) Start() { r.pump.start(r.pipes[SideA], r.pipes[SideB]) }

// Close stops both readers and waits for them, closes the ports' sockets
// and returns the port numbers to their pool, as Relay.Close does. It is
// idempotent and safe to call concurrently with Start and SetLeg.
func (r *UDPTLRelay) Close() error {
	return r.pump.close(func() {
		st := r.Stats()
		r.logger.Debug("UDPTL relay closed", "atob", st.AtoB, "btoa", st.BtoA)
	})
}

// Stats returns the datagram counters of both directions. It only loads
// atomics and may be called at any time, also after Close, from any
// goroutine.
func (r *UDPTLRelay) Stats() UDPTLStats {
	a, b := r.pipes[SideA], r.pipes[SideB]
	return UDPTLStats{AtoB: a.stats.snapshot(a.start), BtoA: b.stats.snapshot(b.start)}
}

func (p *udptlPipe) socket() udpConn {
	if p.in == nil {
		return nil
	}
	return p.in.rtp
}
func (p *udptlPipe) buffer() []byte { return lazyRecvBuf(&p.buf) }
func (p *udptlPipe) notePanic()     { p.stats.panics.Add(1) }

// minUDPTL is the size of the shortest UDPTL datagram (ITU-T T.38 Annex
// D, UDPTLPacket): a 2-byte sequence number, the primary IFP packet's
// length and at least one byte of it, and at least one byte of error
// recovery.
const minUDPTL = 5

// udptlPipe is one direction of a UDPTLRelay: it reads on in and sends
// from out. Its buffer belongs to the one goroutine that reads in, so the
// per-datagram path allocates nothing.
type udptlPipe struct {
	in, out         *Port
	ingress, egress *atomic.Pointer[legState]
	stats           udptlCounters
	start           time.Time            // when clock read 0; shared by the relay's pipes
	clock           func() time.Duration // monotonic, since start; replaced by tests
	buf             []byte
}

func newUDPTLPipe(in, out *Port, ingress, egress *atomic.Pointer[legState], start time.Time) *udptlPipe {
	return &udptlPipe{
		in: in, out: out, ingress: ingress, egress: egress, start: start,
		clock: func() time.Duration { return time.Since(start) },
	}
}

// forward relays one datagram received from from and counts the outcome.
// The checks are, in order: the source (ingress RestrictSources), the
// size, the egress remote. Received is counted last, so that a reader who
// sees Received == n also sees the outcome of all n datagrams.
func (p *udptlPipe) forward(pkt []byte, from netip.AddrPort) {
	defer p.stats.received.Add(1)
	in, eg := p.ingress.Load(), p.egress.Load()
	if in != nil && !in.allows(from.Addr()) {
		p.stats.wrongSource.Add(1)
		return
	}
	if len(pkt) < minUDPTL || len(pkt) >= bufSize { // a full buffer may be truncated
		p.stats.notUDPTL.Add(1)
		return
	}
	now := p.clock()
	p.stats.lastReceived.mark(now)
	if eg == nil || !eg.remote.IsValid() || p.out == nil {
		p.stats.noRemote.Add(1)
		return
	}
	if _, err := p.out.rtp.WriteToUDPAddrPort(pkt, eg.remote); err != nil {
		p.stats.sendFailed.Add(1)
		return
	}
	p.stats.forwarded.Add(1)
	p.stats.bytes.Add(uint64(len(pkt)))
	p.stats.firstForwarded.mark(now)
	p.stats.lastForwarded.mark(now)
}
