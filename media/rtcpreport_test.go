package media

import (
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/srtp/v3"
)

// receiverReport is an RR of ssrc with one report block on SSRC 7 that
// gives lsr and dlsr.
func receiverReport(ssrc, lsr, dlsr uint32) []byte {
	b, _ := (&rtcp.ReceiverReport{SSRC: ssrc, Reports: []rtcp.ReceptionReport{{SSRC: 7, LastSequenceNumber: 5,
		LastSenderReport: lsr, Delay: dlsr}}}).Marshal()
	return b
}

// srWithNTP is an SR of SSRC 7 with the NTP timestamp ntp and no report
// blocks.
func srWithNTP(ntp uint64) []byte {
	b, _ := (&rtcp.SenderReport{SSRC: 7, NTPTime: ntp, RTPTime: 160, PacketCount: 1, OctetCount: 160}).Marshal()
	return b
}

// srLSR is the middle 32 bits of senderReport's NTP timestamp: what a
// report on it gives as LSR.
const srLSR = 0x33445566

// dlsrOf is d in DLSR's unit, 1/65536 s, rounded down as a peer does.
func dlsrOf(d time.Duration) uint32 { return uint32(int64(d) * 65536 / int64(time.Second)) }

// The round trip is the time between the SR and the report at the relay
// less DLSR, smoothed with gain 1/8; reports that match no SR, LSR 0,
// and results below 0 or above 10 s do not count.
func TestRTTFromReports(t *testing.T) {
	var a, b legRTT
	toB := rtcpReports{from: &a, to: &b} // what the pipe A->B sees
	fromB := rtcpReports{from: &b, to: &a}
	const ntp = 0x1122334455667788
	lsr := uint32(srLSR)
	sec := time.Second
	toB.observe(srWithNTP(ntp), 1*sec)
	if a.rtt() != 0 || b.rtt() != 0 {
		t.Fatalf("an SR alone measured %v / %v", a.rtt(), b.rtt())
	}
	for _, r := range []struct {
		pipe *rtcpReports
		pkt  []byte
		at   time.Duration
	}{
		{&fromB, receiverReport(9, lsr+1, 0), 1500 * time.Millisecond},         // no such SR
		{&fromB, receiverReport(9, 0, 0), 1500 * time.Millisecond},             // no SR received
		{&fromB, receiverReport(9, lsr, dlsrOf(sec)), 1500 * time.Millisecond}, // held longer than it has been: negative
		{&fromB, receiverReport(9, lsr, 0), 12 * sec},                          // 11 s: absurd
		{&toB, receiverReport(9, lsr, 0), 1500 * time.Millisecond},             // B's report read as A's: no SR went to A
	} {
		r.pipe.observe(r.pkt, r.at)
	}
	if a.rtt() != 0 || b.rtt() != 0 {
		t.Fatalf("rejected reports measured %v / %v", a.rtt(), b.rtt())
	}
	// B held the SR 500 ms and reports 600 ms after it passed: 100 ms.
	fromB.observe(receiverReport(9, lsr, dlsrOf(500*time.Millisecond)), 1600*time.Millisecond)
	if got := b.rtt(); got != 100*time.Millisecond || a.rtt() != 0 {
		t.Fatalf("RTT %v (A %v), want 100ms for B only", got, a.rtt())
	}
	// A later report on the same SR: 180 ms, smoothed to 110 ms.
	fromB.observe(receiverReport(9, lsr, dlsrOf(1500*time.Millisecond)), 2680*time.Millisecond)
	if got := b.rtt(); got != 110*time.Millisecond {
		t.Fatalf("smoothed RTT %v, want 110ms", got)
	}
	// The ring remembers the last srNotes SRs.
	for i := range srNotes {
		toB.observe(srWithNTP(uint64(i+1)<<16), 3*sec)
	}
	fromB.observe(receiverReport(9, lsr, 0), 3*sec)
	if got := b.rtt(); got != 110*time.Millisecond {
		t.Fatalf("a report on an SR pushed out of the ring changed the RTT to %v", got)
	}
	fromB.observe(receiverReport(9, 1, 0), 3*sec+190*time.Millisecond) // the oldest noted: 190 ms
	if got := b.rtt(); got != 120*time.Millisecond {
		t.Fatalf("RTT %v, want 120ms", got)
	}
	// An SR that passed twice counts from its last passage.
	var c legRTT
	c.noteSR(lsr, sec)
	c.noteSR(lsr, 2*sec)
	c.report(lsr, 0, 2100*time.Millisecond)
	if got := c.rtt(); got != 100*time.Millisecond {
		t.Fatalf("RTT %v from a duplicated SR, want 100ms", got)
	}
}

// observe walks compound packets: an SR's own report blocks and those of
// an RR after it count, packets of other types are skipped, and padding
// is not read as a report block.
func TestRTTCompoundPackets(t *testing.T) {
	var a, b legRTT
	toB := rtcpReports{from: &a, to: &b}
	fromB := rtcpReports{from: &b, to: &a}
	toB.observe(srWithNTP(0x0000_1000_2000_0000), time.Second)
	toB.observe(srWithNTP(0x0000_3000_4000_0000), time.Second)
	sdes, _ := (&rtcp.SourceDescription{Chunks: []rtcp.SourceDescriptionChunk{{Source: 9,
		Items: []rtcp.SourceDescriptionItem{{Type: rtcp.SDESCNAME, Text: "zoom"}}}}}).Marshal()
	// B's SR (noted towards A) with a block on the first SR, an SDES, an
	// RR with a block on the second.
	sr, _ := (&rtcp.SenderReport{SSRC: 9, NTPTime: 0x0000_5000_6000_0000,
		Reports: []rtcp.ReceptionReport{{SSRC: 7, LastSenderReport: 0x1000_2000, Delay: 0}}}).Marshal()
	compound := append(append(append([]byte{}, sr...), sdes...), receiverReport(9, 0x3000_4000, dlsrOf(time.Second))...)
	fromB.observe(compound, 2100*time.Millisecond)
	// 1.1 s, then 100 ms: 1100 + (100-1100)/8 = 975 ms.
	if got := b.rtt(); got != 975*time.Millisecond {
		t.Fatalf("RTT %v, want 975ms", got)
	}
	// A reports on B's SR 50 ms later.
	toB.observe(receiverReport(7, 0x5000_6000, 0), 2150*time.Millisecond)
	if got := a.rtt(); got != 50*time.Millisecond {
		t.Fatalf("A's RTT %v, want 50ms", got)
	}

	// Padding that looks like a report block is not one.
	var c, d legRTT
	r := rtcpReports{from: &c, to: &d}
	c.noteSR(0x0102_0304, 0)
	rr := receiverReport(9, 1, 1)[:8] // an RR header with no blocks
	rr[0] |= 0x20                     // padded
	pad := make([]byte, reportBlockLen)
	copy(pad[lsrOffset:], []byte{1, 2, 3, 4})
	pad[len(pad)-1] = reportBlockLen
	rr = append(rr, pad...)
	rr[0] = rr[0]&^0x1f | 1     // one block, it says
	rr[3] = byte(len(rr)/4 - 1) // the length counts the padding
	r.observe(rr, time.Second)
	if got := c.rtt(); got != 0 {
		t.Fatalf("padding read as a report block: RTT %v", got)
	}
	rr[0] &^= 0x20 // the same bytes unpadded are a block, its DLSR the padding's length
	r.observe(rr, time.Second)
	if got, want := c.rtt(), time.Second-reportBlockLen*time.Second/65536; got != want {
		t.Fatalf("RTT %v, want %v", got, want)
	}
}

// Truncated and garbage compound packets neither panic nor measure
// anything.
func TestRTTTruncatedAndGarbage(t *testing.T) {
	var a, b legRTT
	r := rtcpReports{from: &a, to: &b}
	a.noteSR(0x3344_5566, 0)
	good := append(srWithNTP(0x0000_1000_2000_0000), receiverReport(9, 0x3344_5566, 0)...)
	for n := range len(good) {
		r.observe(good[:n], time.Second)
	}
	bad := func(edit func(p []byte)) []byte {
		p := append([]byte{}, good...)
		edit(p)
		return p
	}
	srLen := len(srWithNTP(0))
	for _, p := range [][]byte{
		nil, {0x80}, {0x80, 201, 0, 0},
		bad(func(p []byte) { p[srLen] = 0x40 | 1 }),                // the RR is version 1
		bad(func(p []byte) { p[0] = 0x40 }),                        // the SR is version 1: nothing after it is read
		bad(func(p []byte) { p[2], p[3] = 0xff, 0xff }),            // the SR claims more than there is
		bad(func(p []byte) { p[3] = 1 }),                           // an SR of 8 bytes: too short for its sender info
		bad(func(p []byte) { p[srLen+3] = 1 }),                     // an RR of 8 bytes: no room for its block
		bad(func(p []byte) { p[srLen] |= 0x20; p[len(p)-1] = 0 }),  // padding of 0 octets
		bad(func(p []byte) { p[srLen] |= 0x20; p[len(p)-1] = 99 }), // padding beyond the packet
	} {
		r.observe(p, time.Second)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	junk := make([]byte, 1500)
	for range 2000 {
		p := junk[:rng.IntN(len(junk))]
		for i := range p {
			p[i] = byte(rng.Uint32())
		}
		if len(p) > 1 && rng.IntN(2) == 0 {
			p[0], p[1] = 0x80|p[0]&0x3f, byte(200+rng.IntN(2)) // mostly valid headers
		}
		r.observe(p, time.Second)
	}
	if a.rtt() != 0 {
		t.Fatalf("garbage measured %v", a.rtt())
	}
	r.observe(good, time.Second)
	if a.rtt() != time.Second {
		t.Fatalf("the intact packet measured %v, want 1s", a.rtt())
	}
}

// FuzzRTCPReports feeds arbitrary compound packets to the report parser,
// with one leg on both ends so that a packet's SRs and reports can meet.
// Nothing may panic, and any round trip measured lies within 0 and 10 s.
func FuzzRTCPReports(f *testing.F) {
	lsr := uint32(srLSR)
	f.Add(append(senderReport(7), receiverReport(9, lsr, 3)...))
	f.Add(append(srWithNTP(0x1122334455667788), receiverReport(9, 0x33445566, 1)...))
	f.Add(receiverReport(9, lsr, 0))
	f.Add([]byte{0xa0, 201, 0, 1, 0, 0, 0, 4})
	f.Fuzz(func(t *testing.T, data []byte) {
		var l legRTT
		r := rtcpReports{from: &l, to: &l}
		r.observe(data, time.Second)
		r.observe(data, 2*time.Second)
		if got := l.rtt(); got < 0 || got > maxRTT {
			t.Fatalf("RTT %v", got)
		}
	})
}

// rtcpEnd is a peer's RTCP socket, speaking SRTCP when enc and dec are
// set, and the relay's RTCP port on its side.
type rtcpEnd struct {
	conn     *net.UDPConn
	relay    netip.AddrPort
	enc, dec *srtp.Context
}

func newRTCPEnd(t *testing.T, c *call, side Side, enc, dec *srtp.Context) *rtcpEnd {
	peer := c.carrier.Addr()
	if side == SideB {
		peer = c.zoom.Addr()
	}
	p := c.relay.ports[side].Addr()
	return &rtcpEnd{conn: rtcpPeer(t, peer), relay: netip.AddrPortFrom(p.Addr(), p.Port()+1), enc: enc, dec: dec}
}

func (e *rtcpEnd) send(t *testing.T, pkt []byte) {
	t.Helper()
	if e.enc != nil {
		var err error
		pkt, err = e.enc.EncryptRTCP(nil, pkt, nil)
		must(t, err)
	}
	_, err := e.conn.WriteToUDPAddrPort(pkt, e.relay)
	must(t, err)
}

func (e *rtcpEnd) receive(t *testing.T) []byte {
	t.Helper()
	pkt, _ := recv(t, e.conn)
	if e.dec != nil {
		var err error
		pkt, err = e.dec.DecryptRTCP(nil, pkt, nil)
		must(t, err)
	}
	return pkt
}

// measureRTT has sender's SR relayed to peer, which replies after a while
// with reports on it: one on an SR that never passed and one whose DLSR is
// longer than the SR was held, both relayed but not measured, then a true
// one. It returns the round trip rtt reads after each.
func measureRTT(t *testing.T, sender, peer *rtcpEnd, rtt func() time.Duration) (rejected, measured time.Duration) {
	t.Helper()
	sender.send(t, senderReport(7))
	pkts, err := rtcp.Unmarshal(peer.receive(t))
	must(t, err)
	at := time.Now()
	sr, ok := pkts[0].(*rtcp.SenderReport)
	if !ok {
		t.Fatalf("peer got %T, want the SR", pkts[0])
	}
	lsr := uint32(sr.NTPTime >> 16)
	peer.send(t, receiverReport(9, lsr^0x8000, dlsrOf(time.Since(at))))
	sender.receive(t)
	peer.send(t, receiverReport(9, lsr, dlsrOf(time.Since(at)+2*time.Second)))
	sender.receive(t)
	rejected = rtt()
	time.Sleep(20 * time.Millisecond) // the peer holds the SR a little
	peer.send(t, receiverReport(9, lsr, dlsrOf(time.Since(at))))
	sender.receive(t) // relayed, so the relay has read it
	return rejected, rtt()
}

// A relay between two loopback peers measures each leg's round trip from
// the SRs and RRs it relays, plain and SRTCP alike: Stats().BtoA's RTT is
// the Zoom leg's (the carrier's SR, Zoom's RR), AtoB's the carrier leg's.
// Reports that match no SR, or give a DLSR longer than the time since the
// SR passed, measure nothing.
func TestRTTMeasured(t *testing.T) {
	for _, suite := range []string{"", "AES_CM_128_HMAC_SHA1_80", "AEAD_AES_128_GCM"} {
		name := suite
		if name == "" {
			name = "plain"
		}
		t.Run(name, func(t *testing.T) {
			c := newCall(t, loop4)
			must(t, c.relay.SetLeg(SideA, LegConfig{Remote: c.carrier.Addr()}))
			zoomLeg := LegConfig{Remote: c.zoom.Addr()}
			var zoomEnc, zoomDec *srtp.Context
			if suite != "" {
				ours, theirs := newKey(t, suite), newKey(t, suite)
				zoomLeg.SRTP = &SRTPConfig{Suite: suite, LocalKey: ours, RemoteKey: theirs}
				zoomEnc, zoomDec = srtcpContext(t, suite, theirs), srtcpContext(t, suite, ours)
			}
			must(t, c.relay.SetLeg(SideB, zoomLeg))
			carrier := newRTCPEnd(t, c, SideA, nil, nil)
			zoom := newRTCPEnd(t, c, SideB, zoomEnc, zoomDec)
			stats := c.relay.Stats

			rejected, zoomRTT := measureRTT(t, carrier, zoom, func() time.Duration { return stats().BtoA.Quality.RTT })
			if rejected != 0 || zoomRTT <= 0 || zoomRTT >= time.Second {
				t.Fatalf("Zoom leg RTT %v after the rejected reports, %v after the true one", rejected, zoomRTT)
			}
			if got := stats().AtoB.Quality.RTT; got != 0 {
				t.Fatalf("carrier leg RTT %v, measured from no report of the carrier", got)
			}
			rejected, carrierRTT := measureRTT(t, zoom, carrier, func() time.Duration { return stats().AtoB.Quality.RTT })
			if rejected != 0 || carrierRTT <= 0 || carrierRTT >= time.Second {
				t.Fatalf("carrier leg RTT %v after the rejected reports, %v after the true one", rejected, carrierRTT)
			}
			// Every report was relayed, measured or not (the counter
			// follows the send the peer saw).
			waitFor(t, "RTCP counters", func() bool {
				st := stats()
				return st.AtoB.RTCP.Forwarded == 4 && st.BtoA.RTCP.Forwarded == 4
			})
			if got := stats().BtoA.Quality.RTT; got != zoomRTT {
				t.Fatalf("Zoom leg RTT %v after the carrier leg's was measured, was %v", got, zoomRTT)
			}
		})
	}
}

// srtcpContext is a pion SRTCP context for suite keyed with key||salt.
func srtcpContext(t *testing.T, suite string, keySalt []byte) *srtp.Context {
	t.Helper()
	var profile srtp.ProtectionProfile
	switch suite {
	case "AES_CM_128_HMAC_SHA1_80":
		profile = srtp.ProtectionProfileAes128CmHmacSha1_80
	case "AEAD_AES_128_GCM":
		profile = srtp.ProtectionProfileAeadAes128Gcm
	default:
		t.Fatalf("no profile for %s", suite)
	}
	keyLen, err := profile.KeyLen()
	must(t, err)
	ctx, err := srtp.CreateContext(keySalt[:keyLen], keySalt[keyLen:], profile)
	must(t, err)
	return ctx
}

// Measuring the round trip allocates nothing: a plain SR noted on its way
// to Zoom and Zoom's SRTCP report on it matched, on top of relaying both.
func TestRTTDoesNotAllocate(t *testing.T) {
	c := newCall(t, loop4)
	const suite = "AES_CM_128_HMAC_SHA1_80"
	ours, theirs := newKey(t, suite), newKey(t, suite)
	must(t, c.relay.SetLeg(SideA, LegConfig{Remote: c.carrier.Addr()}))
	must(t, c.relay.SetLeg(SideB, LegConfig{Remote: c.zoom.Addr(), SRTP: &SRTPConfig{Suite: suite, LocalKey: ours, RemoteKey: theirs}}))
	rtcpPeer(t, c.carrier.Addr())
	rtcpPeer(t, c.zoom.Addr())
	zoomEnc := srtcpContext(t, suite, theirs)
	sr := senderReport(7)
	rr := append(receiverReport(9, srLSR, 0), receiverReport(9, 1, 0)...)
	var srtcp [][]byte
	for range 1000 {
		b, err := zoomEnc.EncryptRTCP(nil, rr, nil)
		must(t, err)
		srtcp = append(srtcp, b)
	}
	i := 0
	a, b := c.relay.rtcp[SideA], c.relay.rtcp[SideB]
	round := func() {
		a.forward(sr, c.carrier.Addr())
		b.forward(srtcp[i], c.zoom.Addr())
		i++
	}
	round()
	if got := c.relay.Stats().BtoA.Quality.RTT; got <= 0 || got >= time.Second {
		t.Fatalf("RTT %v", got)
	}
	if raceDetector {
		t.Skip("pion's SRTCP uses a sync.Pool, which allocates under the race detector; .ci/run runs this test without it")
	}
	if n := testing.AllocsPerRun(500, round); n != 0 {
		t.Fatalf("%v allocations per round", n)
	}
}
