package media

import (
	"fmt"
	"net/netip"
	"strings"
	"sync/atomic"
)

// Latch is a leg's symmetric-RTP policy (RFC 4961): whether the relay
// learns the peer's media source from the packets it sends, relays only
// from that source, and sends the leg's packets back to it.
type Latch int

const (
	// LatchOff (the zero value) learns nothing: packets are accepted as
	// RestrictSources says and sent to Remote.
	LatchOff Latch = iota
	// LatchSignalled latches the source (address and port) of the leg's
	// first valid packet: on a plain RTP leg one from the IP address of
	// Remote or from SourceNetworks, on an SRTP leg one that
	// authenticates, from anywhere. From then on the leg relays only
	// packets from that source and sends to it. On an SRTP leg an
	// authenticated packet from a new source moves the latch; on a plain
	// leg only SetLeg with another Remote (a re-INVITE that moves the
	// peer's media) does.
	LatchSignalled
	// LatchAny is LatchSignalled for peers behind NAT, whose packets come
	// from an address their SDP does not name: on a plain RTP leg the
	// first valid packet from any source latches.
	LatchAny
)

// String returns "off", "signalled" or "any".
func (l Latch) String() string {
	switch l {
	case LatchOff:
		return "off"
	case LatchSignalled:
		return "signalled"
	case LatchAny:
		return "any"
	}
	return "Latch(?)"
}

// ParseLatch reads a latch policy as configurations write it: "" or
// "signalled" (LatchSignalled, the default of a configuration), "any" or
// "off".
func ParseLatch(s string) (Latch, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "signalled", "signaled":
		return LatchSignalled, nil
	case "any":
		return LatchAny, nil
	case "off":
		return LatchOff, nil
	}
	return LatchOff, fmt.Errorf("%w: %q (want signalled, any or off)", ErrBadLatch, s)
}

// latchState is the source a leg has latched on; it outlives SetLeg calls
// that keep the leg's Remote and policy. Written by the leg's reader,
// read by the other leg's reader for the destination.
type latchState struct {
	policy Latch
	addr   atomic.Pointer[netip.AddrPort] // nil until the first valid packet
}

// latched is the source the leg latched on; the zero AddrPort if none.
func (l *latchState) latched() netip.AddrPort {
	if l != nil {
		if a := l.addr.Load(); a != nil {
			return *a
		}
	}
	return netip.AddrPort{}
}

// check decides on a packet from from before it is validated: accept it
// as from the latched source (ok, no relatch), accept it and latch on it
// once it proves valid (relatch), or refuse it (!ok).
func (s *legState) checkLatch(from netip.AddrPort) (ok, relatch bool) {
	l := s.latch
	cur := l.addr.Load()
	switch {
	case cur != nil && *cur == from:
		return true, false
	case s.srtp != nil:
		return true, true // authentication decides
	case cur != nil:
		return false, false
	case l.policy == LatchAny || s.signalled(from.Addr()):
		return true, true
	}
	return false, false
}

// latch makes from the leg's source. It allocates, but only when the
// source changes.
func (l *latchState) latch(from netip.AddrPort) {
	a := netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
	l.addr.Store(&a)
}
