package media

import (
	"net"
	"net/netip"
	"testing"
	"time"
)

// rawRelay is a started plain RTP Relay between two raw loopback sockets,
// for tests that look at addresses and headers.
type rawRelay struct {
	relay *Relay
	a, b  *net.UDPConn // peers of SideA and SideB
}

func newRawRelay(t *testing.T) *rawRelay {
	t.Helper()
	pool, _ := newPool(t, loop4, 2)
	pa, err := pool.Allocate()
	must(t, err)
	pb, err := pool.Allocate()
	must(t, err)
	r := &rawRelay{relay: NewRelay(pa, pb, nil)}
	t.Cleanup(func() { _ = r.relay.Close() })
	for _, c := range []**net.UDPConn{&r.a, &r.b} {
		*c, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		must(t, err)
		conn := *c
		t.Cleanup(func() { _ = conn.Close() })
	}
	r.relay.Start()
	return r
}

func addrOf(c *net.UDPConn) netip.AddrPort { return c.LocalAddr().(*net.UDPAddr).AddrPort() }

// send writes pkt from conn to side's port.
func (r *rawRelay) send(t *testing.T, conn *net.UDPConn, side Side, pkt []byte) {
	t.Helper()
	_, err := conn.WriteToUDPAddrPort(pkt, r.relay.ports[side].Addr())
	must(t, err)
}

// recv reads one packet on conn, or fails after a while.
func recv(t *testing.T, conn *net.UDPConn) ([]byte, netip.AddrPort) {
	t.Helper()
	buf := make([]byte, 2048)
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, from, err := conn.ReadFromUDPAddrPort(buf)
	must(t, err)
	return buf[:n], from
}

// nothing checks that conn gets no packet for a moment.
func nothing(t *testing.T, conn *net.UDPConn) {
	t.Helper()
	buf := make([]byte, 2048)
	_ = conn.SetReadDeadline(time.Now().Add(150 * time.Millisecond))
	if n, from, err := conn.ReadFromUDPAddrPort(buf); err == nil {
		t.Fatalf("unexpected %d bytes from %s", n, from)
	}
}

// A plain leg with LatchAny (a carrier behind NAT, pitfall 1): its SDP
// names 10.0.0.5:4000, its RTP comes from elsewhere. The first valid
// packet latches; packets towards the leg go to the latched source, and
// packets from any other source are dropped and counted. Only SetLeg with
// another Remote (a re-INVITE that moves the media) frees the latch.
func TestLatchAnyFollowsNAT(t *testing.T) {
	r := newRawRelay(t)
	must(t, r.relay.SetLeg(SideA, LegConfig{Remote: netip.MustParseAddrPort("10.0.0.5:4000"), Latch: LatchAny}))
	must(t, r.relay.SetLeg(SideB, LegConfig{Remote: addrOf(r.b)}))

	r.send(t, r.a, SideA, rtpPacket(1, 7, 1))
	recv(t, r.b)
	if got := r.relay.Latched(SideA); got != addrOf(r.a) {
		t.Fatalf("latched %s, want %s", got, addrOf(r.a))
	}
	// Zoom's packets go to where the carrier's come from, not its SDP.
	r.send(t, r.b, SideB, rtpPacket(2, 9, 1))
	recv(t, r.a)

	// Another source, even with valid RTP, is not the peer.
	stranger, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	must(t, err)
	defer stranger.Close()
	r.send(t, stranger, SideA, rtpPacket(1, 7, 2))
	nothing(t, r.b)
	waitFor(t, "drop", func() bool { return r.relay.Stats().AtoB.WrongSource == 1 })

	// The same Remote again (a refresh) keeps the latch.
	must(t, r.relay.SetLeg(SideA, LegConfig{Remote: netip.MustParseAddrPort("10.0.0.5:4000"), Latch: LatchAny}))
	r.send(t, stranger, SideA, rtpPacket(1, 7, 3))
	nothing(t, r.b)
	// A new Remote (the media moved) latches afresh.
	must(t, r.relay.SetLeg(SideA, LegConfig{Remote: netip.MustParseAddrPort("10.0.0.6:4000"), Latch: LatchAny}))
	r.send(t, stranger, SideA, rtpPacket(1, 7, 4))
	recv(t, r.b)
	if got := r.relay.Latched(SideA); got != addrOf(stranger) {
		t.Fatalf("latched %s after the move, want %s", got, addrOf(stranger))
	}
	if st := r.relay.Stats(); st.AtoB.Relatched != 2 {
		t.Fatalf("Relatched %d, want 2: %+v", st.AtoB.Relatched, st.AtoB)
	}
}

// LatchSignalled on a plain leg: only the signalled IP (any port) may
// latch; then only the latched address and port are relayed, and the
// relay sends to it rather than to the SDP's port.
func TestLatchSignalled(t *testing.T) {
	r := newRawRelay(t)
	sdpPort := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), 9) // the SDP's port; RTP comes from another
	must(t, r.relay.SetLeg(SideA, LegConfig{Remote: sdpPort, Latch: LatchSignalled}))
	must(t, r.relay.SetLeg(SideB, LegConfig{Remote: addrOf(r.b)}))

	other, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2)})
	if err != nil {
		t.Skipf("no 127.0.0.2: %v", err)
	}
	defer other.Close()
	r.send(t, other, SideA, rtpPacket(1, 7, 1)) // not the signalled IP
	nothing(t, r.b)
	r.send(t, r.a, SideA, []byte("not rtp")) // the signalled IP, but invalid: no latch
	r.send(t, r.a, SideA, rtpPacket(1, 7, 2))
	recv(t, r.b)
	r.send(t, r.b, SideB, rtpPacket(2, 9, 1))
	if _, from := recv(t, r.a); from != r.relay.ports[SideA].Addr() {
		t.Fatalf("from %s", from)
	}
	second, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	must(t, err)
	defer second.Close()
	r.send(t, second, SideA, rtpPacket(1, 7, 3)) // the signalled IP, another port: latched already
	nothing(t, r.b)
	st := r.relay.Stats().AtoB
	if st.WrongSource != 2 || st.NotRTP != 1 || st.Relatched != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// On an SRTP leg, only an authenticated packet latches or moves the latch:
// a forged one from a new address moves nothing.
func TestLatchSRTPMovesOnAuthenticatedPacket(t *testing.T) {
	c := newCall(t, loop4)
	c.configure(t, "AES_CM_128_HMAC_SHA1_80")
	cfg := LegConfig{Remote: c.zoom.Addr(), SRTP: c.relay.legs[SideB].Load().srtpConfig(t), Latch: LatchSignalled}
	must(t, c.relay.SetLeg(SideB, cfg))
	c.exchange(t, 3)
	if got := c.relay.Latched(SideB); got != c.zoom.Addr() {
		t.Fatalf("latched %s, want %s", got, c.zoom.Addr())
	}
	forger, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	must(t, err)
	defer forger.Close()
	_, _ = forger.WriteToUDPAddrPort(rtpPacket(2, 5, 99), c.relay.ports[SideB].Addr())
	waitFor(t, "forgery", func() bool { return c.relay.Stats().BtoA.AuthFailed == 1 })
	if got := c.relay.Latched(SideB); got != c.zoom.Addr() {
		t.Fatalf("a forged packet moved the latch to %s", got)
	}
	c.exchange(t, 3)
}

// srtpConfig is the SRTPConfig the leg was set with, to set it again.
func (s *legState) srtpConfig(t *testing.T) *SRTPConfig {
	t.Helper()
	if s == nil || s.srtp == nil {
		t.Fatal("leg has no SRTP")
	}
	return &SRTPConfig{Suite: s.srtp.suite, LocalKey: s.srtp.localKey, RemoteKey: s.srtp.remoteKey}
}
