package media

import (
	"crypto/sha256"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Relay moves RTP between two Ports, decrypting and encrypting SRTP per
// leg. Payload bytes are forwarded as received, the payload type as the
// legs' Formats map it, and SSRC, sequence number and timestamp as
// received except where the stream must stay continuous (injected DTMF,
// a new peer on a side; see "Stream continuity" in the package
// documentation).
type Relay struct {
	ports  [2]*Port
	legs   [2]atomic.Pointer[legState]
	pipes  [2]*pipe     // indexed by ingress side
	rtcp   [2]*rtcpPipe // the same for RTCP
	rtt    [2]legRTT    // round trip to each side's peer, measured by the RTCP pipes
	events chan Event   // DTMF events for legs with DTMFInfo
	logger *slog.Logger

	setMu    sync.Mutex          // serialises SetLeg and SetTap
	usedKeys [][sha256.Size]byte // SHA-256 of every LocalKey given an encrypt context; guarded by setMu

	pump pump
}

// NewRelay returns a Relay between ports a (SideA) and b (SideB). It takes
// ownership of both ports: Close closes them. Until SetLeg gives a side a
// remote address, packets towards that side are dropped. A nil logger
// discards logs.
func NewRelay(a, b *Port, logger *slog.Logger) *Relay {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := &Relay{ports: [2]*Port{a, b}, logger: logger}
	r.pump = pump{name: "media relay", ports: r.ports, logger: logger}
	start := time.Now()
	r.pipes[SideA] = newPipe(a, b, &r.legs[SideA], &r.legs[SideB], start)
	r.pipes[SideB] = newPipe(b, a, &r.legs[SideB], &r.legs[SideA], start)
	r.events = make(chan Event, 8) // digits are pressed a few a second; the call reads them at once
	r.pipes[SideA].side, r.pipes[SideB].side = SideA, SideB
	r.pipes[SideA].events, r.pipes[SideB].events = r.events, r.events
	r.rtcp[SideA] = newRTCPPipe(a, b, &r.legs[SideA], &r.legs[SideB], start)
	r.rtcp[SideB] = newRTCPPipe(b, a, &r.legs[SideB], &r.legs[SideA], start)
	r.rtcp[SideA].fwd, r.rtcp[SideA].rev = r.pipes[SideA], r.pipes[SideB]
	r.rtcp[SideB].fwd, r.rtcp[SideB].rev = r.pipes[SideB], r.pipes[SideA]
	r.rtcp[SideA].reports = rtcpReports{from: &r.rtt[SideA], to: &r.rtt[SideB]}
	r.rtcp[SideB].reports = rtcpReports{from: &r.rtt[SideB], to: &r.rtt[SideA]}
	r.pipes[SideA].rtcp, r.pipes[SideB].rtcp = r.rtcp[SideA], r.rtcp[SideB]
	return r
}

// SetLeg (re)configures one side. It can be called at any time, before or
// after Start, and repeatedly: typically once with only LocalKey when our
// offer is built, and again when the answer brings Remote and RemoteKey.
// The new configuration replaces the old one atomically. Keys that are
// unchanged (same suite, same bytes) keep their SRTP context (rollover
// counter, SRTP indices already sent, replay window); changed keys start a
// fresh one. A LocalKey that this Relay encrypted with before, on either
// side, is refused unless it is the side's current one: a fresh context
// would encrypt at indices already used with that key. A configuration
// with another Remote or RemoteKey than before is another peer: the first
// SSRC it sends is carried onto the stream the other side received (see
// "Stream continuity" in the package documentation). Errors wrap
// ErrBadSide, ErrUnsupportedSuite, ErrBadKey, ErrKeyReused, ErrBadRemote
// or ErrBadSourceNetwork, and leave the previous configuration in place.
func (r *Relay) SetLeg(side Side, cfg LegConfig) error {
	if side != SideA && side != SideB {
		return fmt.Errorf("%w: %d", ErrBadSide, int(side))
	}
	r.setMu.Lock()
	defer r.setMu.Unlock()
	var local netip.Addr
	if p := r.ports[side]; p != nil {
		local = p.pool.ip
	}
	old := r.legs[side].Load()
	st, err := newLegState(cfg, old, local)
	if err != nil {
		return fmt.Errorf("media: leg %s: %w", side, err)
	}
	if st.srtp != nil && (old == nil || old.srtp == nil || st.srtp.enc != old.srtp.enc) {
		sum := sha256.Sum256(st.srtp.localKey)
		if slices.Contains(r.usedKeys, sum) {
			return fmt.Errorf("media: leg %s: %w", side, ErrKeyReused)
		}
		r.usedKeys = append(r.usedKeys, sum)
	}
	r.legs[side].Store(st)
	if peerChanged(old, st) {
		r.pipes[side].epoch.Add(1) // continuity.go
	}
	// Both directions' payload-type mappings depend on both legs.
	a, b := r.legs[SideA].Load(), r.legs[SideB].Load()
	r.pipes[SideA].pts.Store(newPTTable(formatsOf(a), formatsOf(b)))
	r.pipes[SideB].pts.Store(newPTTable(formatsOf(b), formatsOf(a)))
	suite := "none"
	if st.srtp != nil {
		suite = st.srtp.suite
	}
	r.logger.Debug("media leg configured", "side", side.String(), "remote", st.remote,
		"srtp", suite, "remoteKey", st.srtp != nil && st.srtp.dec != nil,
		"restrictSources", st.restrict, "sourceNetworks", len(st.nets), "maxSSRCs", st.maxSSRCs,
		"latch", st.latchPolicy().String(), "formats", len(st.formats))
	return nil
}

// Start starts exactly one reader per side: a goroutine of its own, or on
// a pool with an Engine the worker that serves the side's socket. Each
// reads datagrams from its side's RTP socket; drops, counting them, datagrams
// from sources its side does not accept, what is not RTP (shorter than 12
// bytes, version != 2, bad header), SRTP packets that fail authentication,
// packets of SSRCs beyond the limits and, towards an SRTP side, packets
// whose SRTP index was sent already; decrypts if its side is SRTP,
// encrypts if the other side is SRTP; and writes to the other side's
// remote from the other side's socket. Start after Start or Close does
// nothing.
func (r *Relay) Start() {
	r.pump.start(r.pipes[SideA], r.pipes[SideB], r.rtcp[SideA], r.rtcp[SideB])
}

// Close stops both readers and waits for them (a side on an engine is
// taken off its worker before its socket closes), closes the ports'
// sockets and returns the port numbers to their pool. It closes the Tap
// attached with SetTap, if any. It is idempotent and safe to call
// concurrently with Start, SetLeg and SetTap.
func (r *Relay) Close() error {
	return r.pump.close(func() {
		r.closeTap()
		st := r.Stats()
		r.logger.Debug("media relay closed", "atob", st.AtoB, "btoa", st.BtoA)
	})
}

// Stats returns the packet counters of both directions, their Quality
// (loss, jitter, and the round trip to each side's peer), and when each
// direction last carried valid RTP (LastRTP) and forwarded a packet
// (LastForwarded). It only loads atomics and may be called at any time,
// also after Close, from any goroutine; an engine enforcing a media
// timeout polls it, for example every few seconds, and compares
// time.Since(st.AtoB.LastRTP) (SideA's leg, the Bridge's carrier) and
// time.Since(st.BtoA.LastRTP) (SideB's, Zoom) with its timeout, counting
// from the answer while a LastRTP is still zero.
func (r *Relay) Stats() Stats {
	a, b := r.pipes[SideA], r.pipes[SideB]
	st := Stats{AtoB: a.stats.snapshot(a.start), BtoA: b.stats.snapshot(b.start)}
	st.AtoB.Quality, st.BtoA.Quality = a.quality.snapshot(), b.quality.snapshot()
	st.AtoB.Quality.RTT, st.BtoA.Quality.RTT = r.rtt[SideA].rtt(), r.rtt[SideB].rtt()
	st.AtoB.RTCP, st.BtoA.RTCP = r.rtcp[SideA].stats.snapshot(), r.rtcp[SideB].stats.snapshot()
	return st
}

// Events delivers the DTMF digits sent as RFC 4733 events towards a leg
// whose peer uses SIP INFO (DTMFInfo), once each, when they end. Reports
// nobody reads are dropped and counted (DirectionStats.DTMFDropped).
func (r *Relay) Events() <-chan Event { return r.events }

// Latched is the source side's leg latched on (see Latch), the zero
// AddrPort while it has none or latching is off.
func (r *Relay) Latched(side Side) netip.AddrPort {
	if side != SideA && side != SideB {
		return netip.AddrPort{}
	}
	if st := r.legs[side].Load(); st != nil {
		return st.latch.latched()
	}
	return netip.AddrPort{}
}

func (p *pipe) socket() udpConn {
	if p.in == nil {
		return nil
	}
	return p.in.rtp
}

// buffer is the receive buffer of the pipe's reader goroutine, made when
// that goroutine starts; on an engine the worker reads into its own.
func (p *pipe) buffer() []byte { return lazyRecvBuf(&p.buf) }
func (p *pipe) notePanic()     { p.stats.panics.Add(1) }
