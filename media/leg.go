package media

import (
	"fmt"
	"net/netip"
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
}

// legState is the immutable configuration of one leg, swapped atomically
// by SetLeg and read by both reader goroutines. Its srtp contexts are each
// used by one goroutine only: dec by the leg's own reader, enc by the
// other leg's reader.
type legState struct {
	remote netip.AddrPort // invalid = not known
	srtp   *srtpLeg       // nil = plain RTP
}

func newLegState(cfg LegConfig, old *legState, local netip.Addr) (*legState, error) {
	s := &legState{}
	if cfg.Remote.IsValid() && cfg.Remote.Port() != 0 {
		remote := netip.AddrPortFrom(cfg.Remote.Addr().Unmap(), cfg.Remote.Port())
		if local.IsValid() && local != netip.IPv6Unspecified() && remote.Addr().Is4() != local.Is4() {
			return nil, fmt.Errorf("%w: %s from %s", ErrBadRemote, remote, local)
		}
		s.remote = remote
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
