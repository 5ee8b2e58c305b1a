package media

import (
	"fmt"
	"net/netip"
	"slices"
)

// Side names one leg of a Relay.
type Side int

const (
	// SideA is the first leg; the Bridge uses it for the carrier.
	SideA Side = iota
	// SideB is the second leg; the Bridge uses it for Zoom.
	SideB
)

// String returns "A" or "B".
func (s Side) String() string {
	switch s {
	case SideA:
		return "A"
	case SideB:
		return "B"
	}
	return fmt.Sprintf("Side(%d)", int(s))
}

// LegConfig is what a Relay needs to know about one leg.
type LegConfig struct {
	// Remote is where packets for this leg are sent. The zero value means
	// not known yet: packets towards the leg are dropped and counted as
	// NoRemote.
	Remote netip.AddrPort
	// SRTP keys the leg; nil means plain RTP on this leg.
	SRTP *SRTPConfig
	// RestrictSources makes the leg accept packets only from the IP
	// address of Remote (the address the peer signalled in its SDP) or
	// from an address in SourceNetworks, on any source port: many
	// carriers send from a port other than the one in their SDP. Other
	// packets are dropped and counted as WrongSource. An IPv4-mapped IPv6
	// source matches its IPv4 form. While Remote is not known and
	// SourceNetworks is empty, a restricted leg accepts nothing. False
	// (the zero value) accepts any source; that is reasonable for an SRTP
	// leg, whose packets must authenticate, but lets anyone who can reach
	// the port put audio into a plain RTP leg.
	RestrictSources bool
	// SourceNetworks are further networks (typically the carrier's media
	// networks) whose addresses a restricted leg accepts packets from.
	// It is used only with RestrictSources. IPv4 networks may be given in
	// IPv4-mapped form (::ffff:192.0.2.0/120); other IPv6 networks match
	// IPv6 sources only. An invalid Prefix is refused with
	// ErrBadSourceNetwork.
	SourceNetworks []netip.Prefix
	// MaxSSRCs is how many SSRCs the leg's received packets are relayed
	// from at a time; packets of further SSRCs are dropped and counted as
	// TooManySSRCs. An SSRC from which nothing has been relayed for
	// SSRCIdle stops counting, so that a stream that legitimately changes
	// SSRC (a carrier re-route) keeps working. 0 (or less) means
	// DefaultMaxSSRCs; values above MaxSSRCsLimit mean MaxSSRCsLimit.
	MaxSSRCs int
	// Latch is the leg's symmetric-RTP policy; with a policy other than
	// LatchOff it replaces RestrictSources (see Latch). The latched source
	// is kept across SetLeg calls with the same Remote and policy.
	Latch Latch
	// RemoteRTCP is where RTCP for this leg is sent when the peer's SDP
	// names an RTCP port (a=rtcp, RFC 3605); the zero value means the port
	// after the RTP destination's. It is not used with RTCPMux.
	RemoteRTCP netip.AddrPort
	// RTCPMux makes the leg's RTCP travel on its RTP port, both ways (RFC
	// 5761; sdp.State.RTCPMux): RTCP and SRTCP received on the leg's RTP
	// socket are relayed as RTCP (told apart from RTP by their second
	// byte, 192-223, RFC 5761 section 4) instead of being dropped as
	// NotRTP, and RTCP towards the leg goes from its RTP socket to the RTP
	// destination (the latched source, else Remote). RTCP is still relayed
	// from the RTCP socket too, which the relay always reads: an offerer
	// must receive there until the answer has a=rtcp-mux, and a peer may
	// stop multiplexing in a later exchange.
	RTCPMux bool
	// DTMF is how the leg's peer signals DTMF: DTMFPass (RFC 4733 in the
	// media, the zero value) or DTMFInfo (SIP INFO; see Relay.Events and
	// Relay.InjectDTMF).
	DTMF DTMFMode
	// Formats are the payload formats agreed on the leg. The relay
	// renumbers packets between legs by them (a format both legs agreed
	// on gets the payload type the receiving peer expects; any other
	// payload type passes unchanged) and measures jitter in their clock
	// rate. Nil renumbers nothing.
	Formats []Format
}

// legState is the immutable configuration of one leg, swapped atomically
// by SetLeg and read by both reader goroutines. Its srtp contexts are each
// used by one goroutine only: dec by the leg's own reader, enc by the
// other leg's reader.
type legState struct {
	remote     netip.AddrPort // invalid = not known
	srtp       *srtpLeg       // nil = plain RTP
	restrict   bool           // RestrictSources
	remoteIP   netip.Addr     // remote's address without zone; invalid = not known
	nets       []netip.Prefix // SourceNetworks, masked, IPv4-mapped ones as IPv4
	maxSSRCs   int            // 1..MaxSSRCsLimit
	latch      *latchState    // nil with LatchOff
	formats    []Format
	remoteRTCP netip.AddrPort // invalid = RTP destination's port + 1
	rtcpMux    bool           // RTCP on the RTP port, both ways
	dtmf       DTMFMode
}

func newLegState(cfg LegConfig, old *legState, local netip.Addr) (*legState, error) {
	s := &legState{restrict: cfg.RestrictSources, maxSSRCs: DefaultMaxSSRCs, formats: slices.Clone(cfg.Formats), dtmf: cfg.DTMF, rtcpMux: cfg.RTCPMux}
	if cfg.Remote.IsValid() && cfg.Remote.Port() != 0 {
		remote := netip.AddrPortFrom(cfg.Remote.Addr().Unmap(), cfg.Remote.Port())
		if local.IsValid() && local != netip.IPv6Unspecified() && remote.Addr().Is4() != local.Is4() {
			return nil, fmt.Errorf("%w: %s from %s", ErrBadRemote, remote, local)
		}
		s.remote = remote
		s.remoteIP = remote.Addr().WithZone("")
	}
	if cfg.RemoteRTCP.IsValid() && cfg.RemoteRTCP.Port() != 0 {
		s.remoteRTCP = netip.AddrPortFrom(cfg.RemoteRTCP.Addr().Unmap(), cfg.RemoteRTCP.Port())
	}
	for _, n := range cfg.SourceNetworks {
		if !n.IsValid() {
			return nil, fmt.Errorf("%w: %s", ErrBadSourceNetwork, n)
		}
		if n.Addr().Is4In6() && n.Bits() >= 96 {
			n = netip.PrefixFrom(n.Addr().Unmap(), n.Bits()-96)
		}
		if n = n.Masked(); !slices.Contains(s.nets, n) {
			s.nets = append(s.nets, n)
		}
	}
	switch {
	case cfg.MaxSSRCs > MaxSSRCsLimit:
		s.maxSSRCs = MaxSSRCsLimit
	case cfg.MaxSSRCs > 0:
		s.maxSSRCs = cfg.MaxSSRCs
	}
	switch {
	case cfg.Latch == LatchOff:
	case old != nil && old.latch != nil && old.latch.policy == cfg.Latch && old.remote == s.remote:
		s.latch = old.latch // the same peer media: the latch holds
	case cfg.Latch == LatchSignalled || cfg.Latch == LatchAny:
		s.latch = &latchState{policy: cfg.Latch}
	default:
		return nil, fmt.Errorf("%w: %d", ErrBadLatch, int(cfg.Latch))
	}
	if cfg.SRTP != nil {
		var oldSRTP *srtpLeg
		if old != nil {
			oldSRTP = old.srtp
		}
		var err error
		if s.srtp, err = newSRTPLeg(cfg.SRTP, oldSRTP); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// allows reports whether a packet from ip may enter the leg. It does not
// allocate.
func (s *legState) allows(ip netip.Addr) bool {
	return !s.restrict || s.signalled(ip)
}

// signalled reports whether ip is the address of the leg's Remote or in
// its SourceNetworks. It does not allocate.
func (s *legState) signalled(ip netip.Addr) bool {
	ip = ip.Unmap().WithZone("")
	if s.remoteIP.IsValid() && ip == s.remoteIP {
		return true
	}
	for _, n := range s.nets {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// destination is where the leg's packets go: the latched source, else
// Remote; the zero AddrPort when neither is known. It does not allocate.
func (s *legState) destination() netip.AddrPort {
	if s == nil {
		return netip.AddrPort{}
	}
	if a := s.latch.latched(); a.IsValid() {
		return a
	}
	return s.remote
}

func formatsOf(s *legState) []Format {
	if s == nil {
		return nil
	}
	return s.formats
}

func (s *legState) latchPolicy() Latch {
	if s.latch == nil {
		return LatchOff
	}
	return s.latch.policy
}
