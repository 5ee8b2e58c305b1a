package media

import (
	"sync/atomic"
	"time"
)

// Stats holds a Relay's packet counters per direction.
type Stats struct {
	AtoB DirectionStats // packets read on SideA and sent on SideB
	BtoA DirectionStats // packets read on SideB and sent on SideA
}

// DirectionStats counts what happened to the datagrams of one direction.
// Every received datagram is either forwarded or counted in exactly one of
// the drop counters. The checks run in the order of the fields below, so
// a datagram from a refused source is WrongSource whatever it holds.
//
// LastRTP and LastForwarded tell when the direction's ingress leg last
// sent media, for a media timeout. Both are readings of the Relay's
// monotonic clock (time.Since and Sub on them ignore wall-clock changes),
// the zero Time if there has been no such packet yet. To keep atomic
// writes off the packet path they have a resolution of 100 ms: each is the
// arrival time of the last packet it describes truncated to a multiple of
// 100 ms since the Relay was created, never later than that packet and
// less than 100 ms before it. So LastRTP is never before LastForwarded.
type DirectionStats struct {
	Received     uint64 // datagrams read on the ingress side's RTP socket, but RTCP multiplexed there (RTCPMux), which RTCP counts
	Forwarded    uint64 // packets written to the egress side
	WrongSource  uint64 // dropped: source IP refused by the ingress leg's RestrictSources
	NotRTP       uint64 // dropped: not an RTP packet (too short, version != 2, bad header, RTCP on a leg without RTCPMux, longer than 1984 bytes)
	AuthFailed   uint64 // dropped: SRTP authentication/decryption failed (incl. replay)
	NoRemote     uint64 // dropped: egress remote or keys (ingress RemoteKey) not known yet
	TooManySSRCs uint64 // dropped: a new SSRC while the ingress leg relays MaxSSRCs others, or the egress LocalKey has encrypted SSRCsPerKey SSRCs
	Duplicate    uint64 // dropped: towards an SRTP leg, its SRTP index was sent already or is 64 or more below the SSRC's highest
	SendFailed   uint64 // dropped: encryption failed or the egress socket refused the write
	Bytes        uint64 // payload bytes forwarded (after the RTP header, before any SRTP tag)
	Panics       uint64 // datagrams whose handling panicked; recovered, the reader kept serving (also counted in Received)
	Relatched    uint64 // times the ingress leg latched on a source, the first included (see Latch)
	DTMFWithheld uint64 // dropped: RFC 4733 event packets not sent because the egress leg uses DTMFInfo
	DTMFEvents   uint64 // of those events, the digits reported on Relay.Events (once each)
	DTMFDropped  uint64 // of those, reports dropped because nobody read Relay.Events
	DTMFInjected uint64 // event packets InjectDTMF sent in this direction
	// SourceChanges counts the times the ingress stream changed SSRC and
	// the relay carried the egress stream on across the change: the egress
	// peer keeps receiving one SSRC with continuous sequence numbers and
	// timestamps (see "Stream continuity" in the package documentation).
	SourceChanges uint64

	// Quality is the ingress leg's loss and jitter, measured on every
	// valid packet, and the round trip to its peer, measured from the
	// RTCP reports relayed.
	Quality Quality
	// RTCP counts the direction's RTCP datagrams.
	RTCP RTCPStats

	// LastRTP is when the ingress leg last sent valid RTP: a packet that
	// passed the checks of WrongSource, NotRTP and AuthFailed (on an SRTP
	// leg: it authenticated and was not a replay), whether or not it was
	// forwarded. Packets dropped after those checks, as NoRemote (the
	// egress remote is not known yet), TooManySSRCs, Duplicate or
	// SendFailed, count. Refused sources, garbage, forged or replayed
	// SRTP, and SRTP that arrives before the leg's RemoteKey is known (it
	// cannot be authenticated) do not. This is "RTP arrives from the leg"
	// for a media timeout. On a plain leg without RestrictSources anyone
	// who can reach the port can keep it fresh.
	LastRTP time.Time
	// LastForwarded is when a packet counted in Forwarded last arrived
	// (it was read, then written to the egress side).
	LastForwarded time.Time
}

// stampResolution is the resolution of the times a stamp publishes. Media
// timeouts are tens of seconds; publishing only when a packet's time
// truncated to it changes costs one atomic store per 100 ms instead of one
// per packet (one in five packets at 20 ms packetisation).
const stampResolution = 100 * time.Millisecond

// counters is the live, atomic form of DirectionStats.
type counters struct {
	received, forwarded, wrongSource, notRTP, authFailed, noRemote atomic.Uint64
	tooManySSRCs, duplicate, sendFailed, bytes, panics, relatched  atomic.Uint64
	dtmfEvents, dtmfDropped, dtmfInjected, dtmfWithheld            atomic.Uint64
	sourceChanges                                                  atomic.Uint64
	lastRTP, lastForwarded                                         stamp
}

// stamp is a time of a pipe's clock truncated to stampResolution, written
// by the pipe's reader goroutine and read by Stats.
type stamp struct {
	at   atomic.Int64  // the truncated clock reading + 1; 0 = never
	next time.Duration // the reading from which at changes; reader goroutine only
}

// mark records a packet at clock reading now (>= 0, not decreasing). Until
// the reading reaches the next multiple of stampResolution it is one
// comparison.
func (s *stamp) mark(now time.Duration) {
	if now >= s.next {
		t := now - now%stampResolution
		s.next = t + stampResolution
		s.at.Store(int64(t) + 1)
	}
}

// time returns the published reading as a time after start, the time at
// which the clock read 0; the zero Time if nothing was published.
func (s *stamp) time(start time.Time) time.Time {
	if v := s.at.Load(); v != 0 {
		return start.Add(time.Duration(v - 1))
	}
	return time.Time{}
}

func (c *counters) snapshot(start time.Time) DirectionStats {
	return DirectionStats{
		Received:      c.received.Load(),
		Forwarded:     c.forwarded.Load(),
		WrongSource:   c.wrongSource.Load(),
		NotRTP:        c.notRTP.Load(),
		AuthFailed:    c.authFailed.Load(),
		NoRemote:      c.noRemote.Load(),
		TooManySSRCs:  c.tooManySSRCs.Load(),
		Duplicate:     c.duplicate.Load(),
		SendFailed:    c.sendFailed.Load(),
		Bytes:         c.bytes.Load(),
		Panics:        c.panics.Load(),
		Relatched:     c.relatched.Load(),
		DTMFWithheld:  c.dtmfWithheld.Load(),
		DTMFEvents:    c.dtmfEvents.Load(),
		DTMFDropped:   c.dtmfDropped.Load(),
		DTMFInjected:  c.dtmfInjected.Load(),
		SourceChanges: c.sourceChanges.Load(),
		LastRTP:       c.lastRTP.time(start),
		LastForwarded: c.lastForwarded.time(start),
	}
}
