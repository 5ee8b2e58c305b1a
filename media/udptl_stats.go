package media

import (
	"sync/atomic"
	"time"
)

// UDPTLStats holds a UDPTLRelay's datagram counters per direction. For a
// call record: T.38 was relayed when Forwarded is non-zero in a
// direction, from FirstForwarded to LastForwarded.
type UDPTLStats struct {
	AtoB UDPTLDirectionStats // datagrams read on SideA and sent on SideB
	BtoA UDPTLDirectionStats // datagrams read on SideB and sent on SideA
}

// UDPTLDirectionStats counts what happened to the datagrams of one
// direction. Every received datagram is either forwarded or counted in
// exactly one of the drop counters; the checks run in the order of the
// fields below, so a datagram from a refused source is WrongSource
// whatever it holds.
//
// The times are readings of the relay's monotonic clock with the
// resolution of DirectionStats.LastRTP (100 ms): each is the arrival time
// of the datagram it describes truncated to a multiple of 100 ms since the
// relay was created; the zero Time if there has been none.
type UDPTLDirectionStats struct {
	Received    uint64 // datagrams read on the ingress side
	Forwarded   uint64 // datagrams written to the egress side
	WrongSource uint64 // dropped: source IP refused by the ingress leg's RestrictSources
	NotUDPTL    uint64 // dropped: shorter than a UDPTL packet (5 bytes), or filled the 2048-byte buffer
	NoRemote    uint64 // dropped: the egress side's remote is not known yet
	SendFailed  uint64 // dropped: the egress socket refused the write
	Bytes       uint64 // bytes of the datagrams forwarded (UDP payload)
	Panics      uint64 // datagrams whose handling panicked; recovered, the reader kept serving (also counted in Received)

	// LastReceived is when the ingress leg last sent a datagram that
	// passed the checks of WrongSource and NotUDPTL, whether or not it was
	// forwarded: "T.38 arrives from the leg", for a media timeout while a
	// call is a fax.
	LastReceived time.Time
	// FirstForwarded and LastForwarded are when the first and the last
	// datagram counted in Forwarded arrived.
	FirstForwarded time.Time
	LastForwarded  time.Time
}

// udptlCounters is the live, atomic form of UDPTLDirectionStats.
type udptlCounters struct {
	received, forwarded, wrongSource, notUDPTL, noRemote, sendFailed, bytes, panics atomic.Uint64
	lastReceived, lastForwarded                                                     stamp
	firstForwarded                                                                  firstStamp
}

func (c *udptlCounters) snapshot(start time.Time) UDPTLDirectionStats {
	return UDPTLDirectionStats{
		Received:       c.received.Load(),
		Forwarded:      c.forwarded.Load(),
		WrongSource:    c.wrongSource.Load(),
		NotUDPTL:       c.notUDPTL.Load(),
		NoRemote:       c.noRemote.Load(),
		SendFailed:     c.sendFailed.Load(),
		Bytes:          c.bytes.Load(),
		Panics:         c.panics.Load(),
		LastReceived:   c.lastReceived.time(start),
		FirstForwarded: c.firstForwarded.time(start),
		LastForwarded:  c.lastForwarded.time(start),
	}
}

// firstStamp is the first clock reading marked, truncated to
// stampResolution, written once by a pipe's reader goroutine and read by
// Stats.
type firstStamp struct {
	at  atomic.Int64 // the truncated clock reading + 1; 0 = never
	set bool         // reader goroutine only
}

// mark records a datagram at clock reading now (>= 0) if none was before.
func (s *firstStamp) mark(now time.Duration) {
	if !s.set {
		s.set = true
		s.at.Store(int64(now-now%stampResolution) + 1)
	}
}

// time returns the published reading as a time after start; the zero Time
// if nothing was published.
func (s *firstStamp) time(start time.Time) time.Time {
	if v := s.at.Load(); v != 0 {
		return start.Add(time.Duration(v - 1))
	}
	return time.Time{}
}
