package media

import "sync/atomic"

// Stats holds a Relay's packet counters per direction.
type Stats struct {
	AtoB DirectionStats // packets read on SideA and sent on SideB
	BtoA DirectionStats // packets read on SideB and sent on SideA
}

// DirectionStats counts what happened to the datagrams of one direction.
// Every received datagram is either forwarded or counted in exactly one of
// the drop counters.
type DirectionStats struct {
	Received   uint64 // datagrams read on the ingress side
	Forwarded  uint64 // packets written to the egress side
	NotRTP     uint64 // dropped: not an RTP packet (too short, version != 2, bad header, RTCP, oversized)
	AuthFailed uint64 // dropped: SRTP authentication/decryption failed (incl. replay)
	NoRemote   uint64 // dropped: egress remote or keys (ingress RemoteKey) not known yet
	SendFailed uint64 // dropped: the egress socket refused the write
	Bytes      uint64 // payload bytes forwarded (after the RTP header, before any SRTP tag)
}

// counters is the live, atomic form of DirectionStats.
type counters struct {
	received, forwarded, notRTP, authFailed, noRemote, sendFailed, bytes atomic.Uint64
}

func (c *counters) snapshot() DirectionStats {
	return DirectionStats{
		Received:   c.received.Load(),
		Forwarded:  c.forwarded.Load(),
		NotRTP:     c.notRTP.Load(),
		AuthFailed: c.authFailed.Load(),
		NoRemote:   c.noRemote.Load(),
		SendFailed: c.sendFailed.Load(),
		Bytes:      c.bytes.Load(),
	}
}
