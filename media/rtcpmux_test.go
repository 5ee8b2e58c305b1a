package media

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/byocp/byocp/internal/mediapeer"
	"github.com/pion/rtcp"
)

// muxReceiverReport is an RTCP receiver report from ssrc.
func muxReceiverReport(ssrc uint32) []byte {
	b, _ := (&rtcp.ReceiverReport{SSRC: ssrc, Reports: []rtcp.ReceptionReport{{SSRC: 7, LastSequenceNumber: 5, Jitter: 3}}}).Marshal()
	return b
}

// waitRTCP waits for the n-th RTCP packet at p and returns it.
func waitRTCP(t *testing.T, p *mediapeer.Peer, n int) mediapeer.RTCPPacket {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	got, err := p.WaitRTCP(ctx, n)
	if err != nil {
		t.Fatalf("%d RTCP packets of %d: %v", len(got), n, err)
	}
	return got[n-1]
}

// muxedCall keys a call like call.configure with an SRTP Zoom leg, with
// RTCP multiplexed on the legs the flags name, on both the relay and the
// peers' side.
func (c *call) muxed(t *testing.T, carrier, zoom bool) (carrierLeg, zoomLeg LegConfig) {
	t.Helper()
	const suite = "AES_CM_128_HMAC_SHA1_80"
	ours, theirs := newKey(t, suite), newKey(t, suite)
	carrierLeg = LegConfig{Remote: c.carrier.Addr(), RTCPMux: carrier}
	zoomLeg = LegConfig{Remote: c.zoom.Addr(), RTCPMux: zoom, SRTP: &SRTPConfig{Suite: suite, LocalKey: ours, RemoteKey: theirs}}
	must(t, c.relay.SetLeg(SideA, carrierLeg))
	must(t, c.relay.SetLeg(SideB, zoomLeg))
	must(t, c.carrier.Configure(c.relay.ports[SideA].Addr(), nil, 0, 1))
	must(t, c.zoom.Configure(c.relay.ports[SideB].Addr(), &mediapeer.Keys{Suite: suite, LocalKey: theirs, RemoteKey: ours}, 0, 2))
	c.carrier.ConfigureRTCP(carrier, netip.AddrPort{})
	c.zoom.ConfigureRTCP(zoom, netip.AddrPort{})
	return carrierLeg, zoomLeg
}

// rtcpAddrOf is the RTCP socket's address of a relay side.
func (c *call) rtcpAddrOf(side Side) netip.AddrPort {
	a := c.relay.ports[side].Addr()
	return netip.AddrPortFrom(a.Addr(), a.Port()+1)
}

// The carrier multiplexes RTCP on its RTP port (RTCPMux), Zoom does not
// and names its RTCP port in a=rtcp (RemoteRTCP): the carrier's reports,
// sent on its RTP port, reach Zoom's RTCP port as SRTCP from the relay's
// RTCP port, and Zoom's SRTCP reaches the carrier plain on its RTP port,
// from the relay's RTP port. RTP flows alongside. RTCP arriving on both of
// the carrier side's sockets at once goes through the one RTCP pipe.
func TestRTCPMuxCarrier(t *testing.T) {
	c := newCall(t, loop4)
	_, zoomLeg := c.muxed(t, true, false)
	zoomRTCP, err := c.zoom.OpenRTCP()
	must(t, err)
	zoomLeg.RemoteRTCP = zoomRTCP
	must(t, c.relay.SetLeg(SideB, zoomLeg))
	c.zoom.ConfigureRTCP(false, c.rtcpAddrOf(SideB))

	c.exchange(t, 20)
	sr := senderReport(7)
	must(t, c.carrier.SendRTCP(sr))
	if got := waitRTCP(t, c.zoom, 1); string(got.Data) != string(sr) || got.Muxed {
		t.Fatalf("Zoom got %x (muxed %v), want the carrier's report %x on its RTCP port", got.Data, got.Muxed, sr)
	}
	rr := muxReceiverReport(9)
	must(t, c.zoom.SendRTCP(rr))
	if got := waitRTCP(t, c.carrier, 1); string(got.Data) != string(rr) || !got.Muxed {
		t.Fatalf("carrier got %x (muxed %v), want Zoom's report %x on its RTP port", got.Data, got.Muxed, rr)
	}

	// The carrier's RTCP on its RTP port and on its RTCP port at once: the
	// relay's two readers of side A share the RTCP pipe.
	side, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loop4, 0)))
	must(t, err)
	defer side.Close()
	const n = 50
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for range n {
			_ = c.carrier.SendRTCP(sr)
		}
	}()
	go func() {
		defer wg.Done()
		for range n {
			_, _ = side.WriteToUDPAddrPort(sr, c.rtcpAddrOf(SideA))
		}
	}()
	wg.Wait()
	waitFor(t, "RTCP from both sockets", func() bool { return c.relay.Stats().AtoB.RTCP.Received == 1+2*n })
	c.exchange(t, 20)

	st := c.relay.Stats()
	if st.AtoB.RTCP.Forwarded != 1+2*n || st.BtoA.RTCP.Forwarded != 1 || st.AtoB.NotRTP != 0 || st.AtoB.Received != 40 {
		t.Fatalf("relay stats:\nA->B %+v\nB->A %+v", st.AtoB, st.BtoA)
	}
	waitFor(t, "SRTCP at Zoom", func() bool { return len(c.zoom.RTCP()) == 1+2*n })
	for _, p := range c.zoom.RTCP() {
		if string(p.Data) != string(sr) || p.Muxed {
			t.Fatalf("Zoom got %x (muxed %v)", p.Data, p.Muxed)
		}
	}
	if cs, zs := c.carrier.Stats(), c.zoom.Stats(); cs.RTCP != 1 || zs.RTCP != 0 || cs.NotRTP+zs.NotRTP+cs.Corrupt+zs.Corrupt+zs.AuthFailed != 0 {
		t.Fatalf("peers: carrier %+v, Zoom %+v", cs, zs)
	}
}

// Zoom multiplexes SRTCP on its RTP port, the carrier uses the port after
// its RTP port: Zoom's SRTCP, on its RTP port, is authenticated and
// reaches the carrier's RTCP port plain; the carrier's RTCP, on the
// relay's RTCP port, reaches Zoom's RTP port as SRTCP from the relay's RTP
// port. Forged SRTCP on the muxed port fails authentication there.
func TestRTCPMuxZoom(t *testing.T) {
	c := newCall(t, loop4)
	c.muxed(t, false, true)
	carrierRTCP := rtcpPeer(t, c.carrier.Addr())

	c.exchange(t, 20)
	sr := senderReport(7)
	must(t, c.carrier.SendRTCP(sr)) // from its RTP port to the relay's RTCP port
	if got := waitRTCP(t, c.zoom, 1); string(got.Data) != string(sr) || !got.Muxed {
		t.Fatalf("Zoom got %x (muxed %v), want the carrier's report %x on its RTP port", got.Data, got.Muxed, sr)
	}
	rr := muxReceiverReport(9)
	must(t, c.zoom.SendRTCP(rr))
	got, from := recv(t, carrierRTCP)
	if string(got) != string(rr) || from != c.rtcpAddrOf(SideA) {
		t.Fatalf("carrier's RTCP port got %x from %s, want Zoom's report %x from %s", got, from, rr, c.rtcpAddrOf(SideA))
	}
	c.exchange(t, 20)

	forged := append(muxReceiverReport(9), make([]byte, 14)...) // an SRTCP trailer and tag of zeros
	forged[len(forged)-14] = 0x80
	_, err := carrierRTCP.WriteToUDPAddrPort(forged, c.relay.ports[SideB].Addr())
	must(t, err)
	waitFor(t, "the forged SRTCP", func() bool { return c.relay.Stats().BtoA.RTCP.AuthFailed == 1 })
	st := c.relay.Stats()
	if st.AtoB.RTCP.Forwarded != 1 || st.BtoA.RTCP.Forwarded != 1 || st.BtoA.NotRTP != 0 || st.BtoA.Received != 40 {
		t.Fatalf("relay stats:\nA->B %+v\nB->A %+v", st.AtoB, st.BtoA)
	}
}

// Without RTCPMux, RTCP on the RTP port is not relayed: it is counted as
// NotRTP, and the RTCP pipe never sees it.
func TestRTCPNotMuxed(t *testing.T) {
	c := newCall(t, loop4)
	c.muxed(t, false, false)
	c.carrier.ConfigureRTCP(true, netip.AddrPort{}) // the carrier multiplexes, unasked
	zoomRTCP := rtcpPeer(t, c.zoom.Addr())
	must(t, c.carrier.SendRTCP(senderReport(7)))
	waitFor(t, "the drop", func() bool { return c.relay.Stats().AtoB.NotRTP == 1 })
	nothing(t, zoomRTCP)
	if st := c.relay.Stats(); st.AtoB.RTCP.Received != 0 || st.AtoB.Received != 1 {
		t.Fatalf("relay stats: %+v", st.AtoB)
	}
	if n := len(c.zoom.RTCP()); n != 0 {
		t.Fatalf("Zoom got %d RTCP packets", n)
	}
}

// Relaying RTCP multiplexed on the RTP ports allocates nothing: plain to
// SRTCP and SRTCP to plain, entered through the RTP pipes.
func TestRTCPMuxDoesNotAllocate(t *testing.T) {
	if raceDetector {
		t.Skip("pion's SRTCP uses a sync.Pool, which allocates under the race detector; .ci/run runs this test without it")
	}
	c := newCall(t, loop4)
	carrierLeg, zoomLeg := c.muxed(t, true, true)
	// The RTCP goes to sockets nobody reads: the test peers keep the RTCP
	// they receive, and their allocations would count here.
	for _, leg := range []*LegConfig{&carrierLeg, &zoomLeg} {
		sink, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		must(t, err)
		t.Cleanup(func() { _ = sink.Close() })
		leg.Remote = sink.LocalAddr().(*net.UDPAddr).AddrPort()
	}
	must(t, c.relay.SetLeg(SideA, carrierLeg))
	must(t, c.relay.SetLeg(SideB, zoomLeg))
	if n := rtcpAllocs(t, c, c.relay.pipes[SideA], c.relay.pipes[SideB], zoomLeg.SRTP.RemoteKey); n != 0 {
		t.Fatalf("%v allocations per round", n)
	}
	st := c.relay.Stats()
	if st.AtoB.RTCP.Forwarded != 501 || st.BtoA.RTCP.Forwarded != 501 || st.AtoB.RTCP.NotRTCP != 501 || st.AtoB.Received+st.BtoA.Received != 0 {
		t.Fatalf("relay stats:\nA->B %+v\nB->A %+v", st.AtoB, st.BtoA)
	}
}
