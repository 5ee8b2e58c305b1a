package media

import (
	"testing"
)

// FuzzForward feeds arbitrary datagrams to every packet path of a relay
// between a plain leg and an SRTP leg, with payload-type mapping, DTMF
// interworking and latching on, RTCP multiplexed on the SRTP leg: RTP
// and RTCP (with the reports the relay reads for the round-trip time), in
// both directions. A datagram that starts with 0xff (never RTP or RTCP)
// also stands for a change of peer on both legs, so that later packets
// are carried onto the streams (continuity.go) and RTCP is rewritten to
// match. Nothing may panic, and every datagram must be forwarded or
// counted in exactly one drop counter.
func FuzzForward(f *testing.F) {
	c := newCall(f, loop4)
	const suite = "AES_CM_128_HMAC_SHA1_80"
	ours, theirs := newKey(f, suite), newKey(f, suite)
	must(f, c.relay.SetLeg(SideA, LegConfig{Remote: c.carrier.Addr(), Latch: LatchAny, Formats: dtmfFormats}))
	must(f, c.relay.SetLeg(SideB, LegConfig{Remote: c.zoom.Addr(), SRTP: &SRTPConfig{Suite: suite, LocalKey: ours, RemoteKey: theirs},
		Formats: dtmfFormats, DTMF: DTMFInfo, RTCPMux: true}))
	compound := append(senderReport(7), receiverReport(9, srLSR, 1)...) // an SR and a report on it
	for _, seed := range [][]byte{rtpPacket(1, 7, 1), eventPacket(7, 2, 160, 5, true, 800), senderReport(7), compound,
		receiverReport(9, srLSR, 0), {0x80}, {0xff}, nil} {
		f.Add(seed)
	}
	a, b := c.relay.pipes[SideA], c.relay.pipes[SideB]
	ra, rb := c.relay.rtcp[SideA], c.relay.rtcp[SideB]
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 0 && data[0] == 0xff {
			a.epoch.Add(1) // what SetLeg with another peer does
			b.epoch.Add(1)
		}
		a.forward(data, c.carrier.Addr())
		b.forward(data, c.zoom.Addr())
		ra.forward(data, c.carrier.Addr())
		rb.forward(data, c.zoom.Addr())
		for _, d := range []DirectionStats{a.stats.snapshot(a.start), b.stats.snapshot(b.start)} {
			counted := d.Forwarded + d.WrongSource + d.NotRTP + d.AuthFailed + d.NoRemote + d.TooManySSRCs + d.Duplicate + d.SendFailed + d.DTMFWithheld
			if d.Received != counted || d.Panics != 0 {
				t.Fatalf("RTP counters do not add up: %+v", d)
			}
		}
		for _, r := range []RTCPStats{ra.stats.snapshot(), rb.stats.snapshot()} {
			if r.Received != r.Forwarded+r.WrongSource+r.NotRTCP+r.AuthFailed+r.NoRemote+r.SendFailed || r.Panics != 0 {
				t.Fatalf("RTCP counters do not add up: %+v", r)
			}
		}
	})
}
