package media

import (
	"net"
	"net/netip"
	"testing"

	"github.com/pion/rtcp"
	"github.com/pion/srtp/v3"
)

// rtcpPeer is a peer's RTCP socket on the port after its RTP port.
func rtcpPeer(t *testing.T, rtpAddr netip.AddrPort) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(rtpAddr.Addr(), rtpAddr.Port()+1)))
	if err != nil {
		t.Skipf("RTCP port of %s taken: %v", rtpAddr, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func senderReport(ssrc uint32) []byte {
	b, _ := (&rtcp.SenderReport{SSRC: ssrc, NTPTime: 0x1122334455667788, RTPTime: 160, PacketCount: 10, OctetCount: 1600,
		Reports: []rtcp.ReceptionReport{{SSRC: 9, FractionLost: 3, TotalLost: 4, LastSequenceNumber: 77, Jitter: 12}}}).Marshal()
	return b
}

// RTCP is relayed on the ports after the RTP ports: plain from the
// carrier becomes SRTCP to Zoom under the relay's key, Zoom's SRTCP is
// authenticated and arrives plain at the carrier, the reports unchanged;
// garbage and forged SRTCP are dropped and counted.
func TestRTCPRelayed(t *testing.T) {
	c := newCall(t, loop4)
	const suite = "AES_CM_128_HMAC_SHA1_80"
	ours, theirs := newKey(t, suite), newKey(t, suite)
	must(t, c.relay.SetLeg(SideA, LegConfig{Remote: c.carrier.Addr()}))
	must(t, c.relay.SetLeg(SideB, LegConfig{Remote: c.zoom.Addr(), SRTP: &SRTPConfig{Suite: suite, LocalKey: ours, RemoteKey: theirs}}))
	carrierRTCP, zoomRTCP := rtcpPeer(t, c.carrier.Addr()), rtcpPeer(t, c.zoom.Addr())
	relayA := netip.AddrPortFrom(c.relay.ports[SideA].Addr().Addr(), c.relay.ports[SideA].Addr().Port()+1)
	relayB := netip.AddrPortFrom(c.relay.ports[SideB].Addr().Addr(), c.relay.ports[SideB].Addr().Port()+1)
	profile := srtp.ProtectionProfileAes128CmHmacSha1_80
	zoomDec, err := srtp.CreateContext(ours[:16], ours[16:], profile)
	must(t, err)
	zoomEnc, err := srtp.CreateContext(theirs[:16], theirs[16:], profile)
	must(t, err)

	sr := senderReport(7)
	_, err = carrierRTCP.WriteToUDPAddrPort(sr, relayA)
	must(t, err)
	got, from := recv(t, zoomRTCP)
	if from != relayB {
		t.Errorf("SRTCP from %s, want the relay's RTCP port %s", from, relayB)
	}
	plain, err := zoomDec.DecryptRTCP(nil, got, nil)
	if err != nil || string(plain) != string(sr) {
		t.Fatalf("Zoom got %x (%v), want the carrier's report %x", plain, err, sr)
	}

	rr, _ := (&rtcp.ReceiverReport{SSRC: 9, Reports: []rtcp.ReceptionReport{{SSRC: 7, LastSequenceNumber: 5}}}).Marshal()
	enc, err := zoomEnc.EncryptRTCP(nil, rr, nil)
	must(t, err)
	_, err = zoomRTCP.WriteToUDPAddrPort(enc, relayB)
	must(t, err)
	if got, _ := recv(t, carrierRTCP); string(got) != string(rr) {
		t.Fatalf("carrier got %x, want Zoom's report %x", got, rr)
	}

	// Garbage on both, a forged SRTCP packet, and the same SRTCP again.
	_, _ = carrierRTCP.WriteToUDPAddrPort([]byte{0x80, 0x10, 0, 1, 0, 0, 0, 1}, relayA) // RTP-ish, not RTCP
	_, _ = zoomRTCP.WriteToUDPAddrPort(sr, relayB)                                      // plain on an SRTP leg: no tag
	_, _ = zoomRTCP.WriteToUDPAddrPort(enc, relayB)                                     // replay
	waitFor(t, "drops", func() bool {
		st := c.relay.Stats()
		return st.AtoB.RTCP.NotRTCP == 1 && st.BtoA.RTCP.AuthFailed == 2
	})
	nothing(t, carrierRTCP)
	st := c.relay.Stats()
	if st.AtoB.RTCP.Forwarded != 1 || st.BtoA.RTCP.Forwarded != 1 {
		t.Fatalf("RTCP stats %+v / %+v", st.AtoB.RTCP, st.BtoA.RTCP)
	}
}

// An SRTCP context lives as long as its key: a re-INVITE that keeps the
// keys keeps the SRTCP index going (no index is encrypted twice).
func TestRTCPKeepsIndexAcrossSetLeg(t *testing.T) {
	c := newCall(t, loop4)
	const suite = "AES_CM_128_HMAC_SHA1_80"
	ours, theirs := newKey(t, suite), newKey(t, suite)
	cfg := LegConfig{Remote: c.zoom.Addr(), SRTP: &SRTPConfig{Suite: suite, LocalKey: ours, RemoteKey: theirs}}
	must(t, c.relay.SetLeg(SideA, LegConfig{Remote: c.carrier.Addr()}))
	must(t, c.relay.SetLeg(SideB, cfg))
	carrierRTCP, zoomRTCP := rtcpPeer(t, c.carrier.Addr()), rtcpPeer(t, c.zoom.Addr())
	relayA := netip.AddrPortFrom(c.relay.ports[SideA].Addr().Addr(), c.relay.ports[SideA].Addr().Port()+1)
	index := func() uint32 {
		_, err := carrierRTCP.WriteToUDPAddrPort(senderReport(7), relayA)
		must(t, err)
		got, _ := recv(t, zoomRTCP)
		// The SRTCP index is the 31 bits before the 10-byte tag.
		i := got[len(got)-14:]
		return (uint32(i[0])<<24 | uint32(i[1])<<16 | uint32(i[2])<<8 | uint32(i[3])) & 0x7fffffff
	}
	first := index()
	must(t, c.relay.SetLeg(SideB, cfg)) // a refresh
	if second := index(); second != first+1 {
		t.Fatalf("SRTCP index %d after %d", second, first)
	}
}

// Relaying RTCP allocates nothing: plain to SRTCP, SRTCP to plain, and
// the drop of garbage. (Forged or replayed SRTCP costs allocations in
// pion's error path: a replay's error value, and for an SSRC that never
// authenticated the state pion builds to check it.)
func TestRTCPForwardDoesNotAllocate(t *testing.T) {
	if raceDetector {
		t.Skip("pion's SRTCP uses a sync.Pool, which allocates under the race detector; .ci/run runs this test without it")
	}
	c := newCall(t, loop4)
	const suite = "AES_CM_128_HMAC_SHA1_80"
	ours, theirs := newKey(t, suite), newKey(t, suite)
	must(t, c.relay.SetLeg(SideA, LegConfig{Remote: c.carrier.Addr()}))
	must(t, c.relay.SetLeg(SideB, LegConfig{Remote: c.zoom.Addr(), SRTP: &SRTPConfig{Suite: suite, LocalKey: ours, RemoteKey: theirs}}))
	// Both peers listen for RTCP: a datagram to a closed port would come
	// back as an ICMP error, whose Go error allocates.
	rtcpPeer(t, c.carrier.Addr())
	rtcpPeer(t, c.zoom.Addr())
	if n := rtcpAllocs(t, c, c.relay.rtcp[SideA], c.relay.rtcp[SideB], theirs); n != 0 {
		t.Fatalf("%v allocations per round", n)
	}
}

// rtcpAllocs returns the allocations per round of relaying, 500 times,
// the carrier's plain SR into a, Zoom's SR as SRTCP under zoomKey into b
// (a new index each round), and a datagram too short for RTCP into a.
func rtcpAllocs(t *testing.T, c *call, a, b interface{ forward([]byte, netip.AddrPort) }, zoomKey []byte) float64 {
	t.Helper()
	zoomEnc, err := srtp.CreateContext(zoomKey[:16], zoomKey[16:], srtp.ProtectionProfileAes128CmHmacSha1_80)
	must(t, err)
	sr := senderReport(7)
	var srtcp [][]byte
	for range 1000 {
		b, err := zoomEnc.EncryptRTCP(nil, sr, nil)
		must(t, err)
		srtcp = append(srtcp, b)
	}
	i := 0
	return testing.AllocsPerRun(500, func() {
		a.forward(sr, c.carrier.Addr())
		b.forward(srtcp[i], c.zoom.Addr())
		a.forward(sr[:4], c.carrier.Addr())
		i++
	})
}
