package media

import (
	"testing"
)

// FuzzForward feeds arbitrary datagrams to every packet path of a relay
// between a plain leg and an SRTP leg, with payload-type mapping, DTMF
// interworking and latching on: RTP and RTCP, in both directions. Nothing
// may panic, and every datagram must be forwarded or counted in exactly
// one drop counter.
func FuzzForward(f *testing.F) {
	c := newCall(f, loop4)
	const suite = "AES_CM_128_HMAC_SHA1_80"
	ours, theirs := newKey(f, suite), newKey(f, suite)
	must(f, c.relay.SetLeg(SideA, LegConfig{Remote: c.carrier.Addr(), Latch: LatchAny, Formats: dtmfFormats}))
	must(f, c.relay.SetLeg(SideB, LegConfig{Remote: c.zoom.Addr(), SRTP: &SRTPConfig{Suite: suite, LocalKey: ours, RemoteKey: theirs},
		Formats: dtmfFormats, DTMF: DTMFInfo}))
	for _, seed := range [][]byte{rtpPacket(1, 7, 1), eventPacket(7, 2, 160, 5, true, 800), senderReport(7), {0x80}, nil} {
		f.Add(seed)
	}
	a, b := c.relay.pipes[SideA], c.relay.pipes[SideB]
	ra, rb := c.relay.rtcp[SideA], c.relay.rtcp[SideB]
	f.Fuzz(func(t *testing.T, data []byte) {
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
