package media

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/byocp/byocp/internal/mediapeer"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

var allSuites = []string{
	"AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32", "AES_256_CM_HMAC_SHA1_80",
	"AES_256_CM_HMAC_SHA1_32", "AEAD_AES_128_GCM", "AEAD_AES_256_GCM",
}

func TestRelayPlain(t *testing.T) {
	for _, ip := range ips(t) {
		t.Run(ip.String(), func(t *testing.T) {
			c := newCall(t, ip)
			c.configure(t, "")
			c.exchange(t, 50)
			waitCounted(t, c.relay, 50)
			st := c.relay.Stats()
			if st.AtoB.Forwarded != 50 || st.BtoA.Forwarded != 50 || st.AtoB.Bytes != 50*mediapeer.PayloadSize {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

func TestRelaySRTP(t *testing.T) {
	for _, suite := range allSuites {
		t.Run(suite, func(t *testing.T) {
			c := newCall(t, loop4)
			c.configure(t, suite)
			c.exchange(t, 50)
			waitCounted(t, c.relay, 50)
			st := c.relay.Stats()
			for _, d := range []DirectionStats{st.AtoB, st.BtoA} {
				if d.Received != 50 || d.Forwarded != 50 || d.Bytes != 50*mediapeer.PayloadSize {
					t.Fatalf("stats %+v", st)
				}
			}
		})
	}
	t.Run("IPv6", func(t *testing.T) {
		ips := ips(t)
		if len(ips) < 2 {
			t.Skip("no IPv6 loopback")
		}
		c := newCall(t, ips[1])
		c.configure(t, "AEAD_AES_256_GCM")
		c.exchange(t, 50)
	})
	t.Run("SRTPBothLegs", func(t *testing.T) {
		c := newCall(t, loop4)
		c.configure(t, "AES_256_CM_HMAC_SHA1_80")
		ours, theirs := newKey(t, "AEAD_AES_128_GCM"), newKey(t, "AEAD_AES_128_GCM")
		must(t, c.relay.SetLeg(SideA, LegConfig{Remote: c.carrier.Addr(),
			SRTP: &SRTPConfig{Suite: "AEAD_AES_128_GCM", LocalKey: ours, RemoteKey: theirs}}))
		must(t, c.carrier.Configure(c.relay.ports[SideA].Addr(),
			&mediapeer.Keys{Suite: "AEAD_AES_128_GCM", LocalKey: theirs, RemoteKey: ours}, 0, 1))
		c.exchange(t, 50)
	})
}

func TestRelayNoRemote(t *testing.T) {
	c := newCall(t, loop4)
	const suite = "AES_CM_128_HMAC_SHA1_80"
	ours, theirs := newKey(t, suite), newKey(t, suite)
	// The offer is built: SideB has only our key, SideA knows nothing.
	must(t, c.relay.SetLeg(SideB, LegConfig{SRTP: &SRTPConfig{Suite: suite, LocalKey: ours}}))
	must(t, c.carrier.Configure(c.relay.ports[SideA].Addr(), nil, 0, 1))
	must(t, c.zoom.Configure(c.relay.ports[SideB].Addr(), &mediapeer.Keys{Suite: suite, LocalKey: theirs, RemoteKey: ours}, 0, 2))
	before := time.Now()
	must(t, c.carrier.Send(t.Context(), 10, 0))
	must(t, c.zoom.Send(t.Context(), 10, 0))
	waitFor(t, "drops", func() bool {
		st := c.relay.Stats()
		return st.AtoB.NoRemote == 10 && st.BtoA.NoRemote == 10
	})
	// The carrier's RTP arrived although it could not be forwarded;
	// Zoom's SRTP could not be authenticated yet, so it does not count.
	st := c.relay.Stats()
	if at := st.AtoB.LastRTP; !at.After(before.Add(-stampResolution)) || at.After(time.Now()) || !st.AtoB.LastForwarded.IsZero() ||
		!st.BtoA.LastRTP.IsZero() || !st.BtoA.LastForwarded.IsZero() {
		t.Fatalf("before the answers: stats %+v", st)
	}
	// The answers arrive.
	must(t, c.relay.SetLeg(SideA, LegConfig{Remote: c.carrier.Addr()}))
	must(t, c.relay.SetLeg(SideB, LegConfig{Remote: c.zoom.Addr(), SRTP: &SRTPConfig{Suite: suite, LocalKey: ours, RemoteKey: theirs}}))
	before = time.Now()
	c.exchange(t, 20)
	waitFor(t, "relay counters", func() bool {
		st := c.relay.Stats()
		return st.AtoB.Forwarded >= 20 && st.BtoA.Forwarded >= 20
	})
	after := time.Now()
	st = c.relay.Stats()
	if st.AtoB.Forwarded != 20 || st.BtoA.Forwarded != 20 || c.carrier.Stats().Received != 20 {
		t.Fatalf("stats %+v", st)
	}
	// The times are those of packets of the exchange, less than
	// stampResolution earlier.
	for _, at := range []time.Time{st.AtoB.LastRTP, st.AtoB.LastForwarded, st.BtoA.LastRTP, st.BtoA.LastForwarded} {
		if !at.After(before.Add(-stampResolution)) || at.After(after) {
			t.Fatalf("last packet at %v, exchange from %v to %v: stats %+v", at, before, after, st)
		}
	}
	if st.AtoB.LastRTP.Before(st.AtoB.LastForwarded) || st.BtoA.LastRTP.Before(st.BtoA.LastForwarded) {
		t.Fatalf("LastRTP before LastForwarded: stats %+v", st)
	}
}

// rtpPacket marshals a 172-byte RTP packet carrying the test pattern.
func rtpPacket(stream byte, ssrc uint32, seq uint16) []byte {
	p := rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(seq) * 160, SSRC: ssrc},
		Payload: make([]byte, mediapeer.PayloadSize)}
	mediapeer.FillPayload(p.Payload, stream, seq)
	b, _ := p.Marshal()
	return b
}

func garbage() [][]byte {
	var g [][]byte
	for n := 1; n < 12; n++ {
		g = append(g, make([]byte, n))
	}
	v0 := rtpPacket(1, 1, 1)
	v0[0] = 0
	rtcp := rtpPacket(1, 1, 1)
	rtcp[1] = 200 // RTCP sender report
	csrc := make([]byte, 20)
	csrc[0] = 0x8f // 15 CSRCs announced, none present
	ext := make([]byte, 16)
	ext[0], ext[12], ext[13], ext[15] = 0x90, 0xbe, 0xde, 9 // extension longer than the packet
	extElem := make([]byte, 20)
	extElem[0], extElem[12], extElem[13], extElem[15], extElem[16], extElem[17] = 0x90, 0x10, 0x00, 1, 0x05, 10 // two-byte element past the end
	return append(g, v0, rtcp, csrc, ext, extElem)
}

func TestRelayGarbage(t *testing.T) {
	c := newCall(t, loop4)
	c.configure(t, "AES_CM_128_HMAC_SHA1_80")
	raw, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	must(t, err)
	defer raw.Close()
	g := garbage()
	g = append(g, make([]byte, bufSize+10)) // oversized
	for _, side := range []Side{SideA, SideB} {
		for _, b := range g {
			_, err := raw.WriteToUDPAddrPort(b, c.relay.ports[side].Addr())
			must(t, err)
		}
	}
	// On the SRTP leg, a valid header too short for the tag is not RTP,
	// and a forged tag fails authentication.
	_, _ = raw.WriteToUDPAddrPort(rtpPacket(2, 5, 5)[:14], c.relay.ports[SideB].Addr())
	_, _ = raw.WriteToUDPAddrPort(rtpPacket(2, 5, 5), c.relay.ports[SideB].Addr())
	n := uint64(len(g))
	waitFor(t, "garbage", func() bool {
		st := c.relay.Stats()
		return st.AtoB.Received == n && st.BtoA.Received == n+2
	})
	st := c.relay.Stats()
	if st.AtoB.NotRTP != n || st.BtoA.NotRTP != n+1 || st.BtoA.AuthFailed != 1 || st.AtoB.Forwarded+st.BtoA.Forwarded != 0 {
		t.Fatalf("stats %+v", st)
	}
	c.exchange(t, 5) // the relay still works, and nothing else arrived
	if c.carrier.Stats().Received != 5 || c.zoom.Stats().Received != 5 {
		t.Fatalf("carrier %+v, zoom %+v", c.carrier.Stats(), c.zoom.Stats())
	}
}

func TestRelayWrongKeyAndReplay(t *testing.T) {
	const suite = "AES_CM_128_HMAC_SHA1_80"
	c := newCall(t, loop4)
	ours, theirs := newKey(t, suite), newKey(t, suite)
	must(t, c.relay.SetLeg(SideA, LegConfig{Remote: c.carrier.Addr()}))
	must(t, c.relay.SetLeg(SideB, LegConfig{Remote: c.zoom.Addr(), SRTP: &SRTPConfig{Suite: suite, LocalKey: ours, RemoteKey: theirs}}))
	must(t, c.zoom.Configure(c.relay.ports[SideB].Addr(), &mediapeer.Keys{Suite: suite, LocalKey: theirs, RemoteKey: ours}, 0, 2))

	// An attacker (or a stale re-key) with the wrong key.
	bad, err := mediapeer.Listen(loop4)
	must(t, err)
	defer bad.Close()
	must(t, bad.Configure(c.relay.ports[SideB].Addr(), &mediapeer.Keys{Suite: suite, LocalKey: newKey(t, suite)}, 0, 2))
	must(t, bad.Send(t.Context(), 20, 0))
	must(t, c.zoom.Send(t.Context(), 20, 0))
	waitFor(t, "packets", func() bool { return c.relay.Stats().BtoA.Received == 40 })
	if st := c.relay.Stats().BtoA; st.AuthFailed != 20 || st.Forwarded != 20 {
		t.Fatalf("stats %+v", st)
	}
	waitFor(t, "good packets", func() bool { return c.carrier.Stats().Received == 20 })
	if s := c.carrier.Stats(); s.Intact != 20 {
		t.Fatalf("carrier %+v", s)
	}

	// A replayed packet is rejected.
	enc, err := srtp.CreateContext(theirs[:16], theirs[16:], srtp.ProtectionProfileAes128CmHmacSha1_80)
	must(t, err)
	raw, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	must(t, err)
	defer raw.Close()
	for _, seq := range []uint16{1000, 1001} {
		pkt, err := enc.EncryptRTP(nil, rtpPacket(2, 77, seq), nil)
		must(t, err)
		for range 2 {
			_, err = raw.WriteToUDPAddrPort(pkt, c.relay.ports[SideB].Addr())
			must(t, err)
		}
	}
	waitFor(t, "replays", func() bool { return c.relay.Stats().BtoA.Received == 44 })
	if st := c.relay.Stats().BtoA; st.AuthFailed != 22 || st.Forwarded != 22 {
		t.Fatalf("stats %+v", st)
	}
}

func TestRelaySequenceWrapAndRenegotiation(t *testing.T) {
	const suite = "AEAD_AES_256_GCM"
	c := newCall(t, loop4)
	c.configure(t, suite)
	c.carrier.SetSequence(65500)
	c.zoom.SetSequence(65500)
	c.exchange(t, 100) // crosses the wrap both ways
	// A re-INVITE with unchanged keys keeps the contexts (ROC is now 1).
	b := c.relay.legs[SideB].Load().srtp
	must(t, c.relay.SetLeg(SideB, LegConfig{Remote: c.zoom.Addr(),
		SRTP: &SRTPConfig{Suite: suite, LocalKey: b.localKey, RemoteKey: b.remoteKey}}))
	must(t, c.relay.SetLeg(SideA, LegConfig{Remote: c.carrier.Addr()}))
	c.exchange(t, 20)
	// A re-key starts fresh contexts for the new keys only.
	ours, theirs := newKey(t, suite), newKey(t, suite)
	must(t, c.relay.SetLeg(SideB, LegConfig{Remote: c.zoom.Addr(),
		SRTP: &SRTPConfig{Suite: suite, LocalKey: ours, RemoteKey: theirs}}))
	must(t, c.zoom.Configure(c.relay.ports[SideB].Addr(), &mediapeer.Keys{Suite: suite, LocalKey: theirs, RemoteKey: ours}, 0, 2))
	c.zoom.SetSequence(1) // a new stream may restart anywhere
	c.exchange(t, 20)
	// Zoom's restarted stream reaches the carrier as the continuation of
	// the one before (continuity.go): one SSRC, no jump, one marked
	// resynchronisation.
	if s := c.carrier.Stats(); s.SSRCChanges != 0 || s.SeqJumps != 0 || s.Resyncs != 1 {
		t.Fatalf("carrier %+v, want the stream continued across the re-key", s)
	}
	if s := c.zoom.Stats(); s.SSRCChanges != 0 || s.SeqJumps != 0 || s.Resyncs != 0 {
		t.Fatalf("zoom %+v, want the carrier's stream unchanged", s)
	}
}

func TestSetLegErrors(t *testing.T) {
	c := newCall(t, loop4)
	c.configure(t, "AES_CM_128_HMAC_SHA1_80")
	before := c.relay.legs[SideB].Load()
	k30 := newKey(t, "AES_CM_128_HMAC_SHA1_80")
	for _, tc := range []struct {
		side Side
		cfg  LegConfig
		want error
	}{
		{Side(2), LegConfig{}, ErrBadSide},
		{Side(-1), LegConfig{}, ErrBadSide},
		{SideB, LegConfig{SRTP: &SRTPConfig{Suite: "AES_CM_256_HMAC_SHA1_80", LocalKey: k30}}, ErrUnsupportedSuite},
		{SideB, LegConfig{SRTP: &SRTPConfig{Suite: "AES_256_CM_HMAC_SHA1_80", LocalKey: k30}}, ErrBadKey},
		{SideB, LegConfig{SRTP: &SRTPConfig{Suite: "AEAD_AES_256_GCM", LocalKey: make([]byte, 42)}}, ErrBadKey},
		{SideB, LegConfig{SRTP: &SRTPConfig{Suite: "AES_CM_128_HMAC_SHA1_80", LocalKey: k30, RemoteKey: k30[:29]}}, ErrBadKey},
		{SideB, LegConfig{SRTP: &SRTPConfig{Suite: "AES_CM_128_HMAC_SHA1_80"}}, ErrBadKey},
		{SideB, LegConfig{Remote: netip.MustParseAddrPort("[2001:db8::1]:4000")}, ErrBadRemote},
	} {
		if err := c.relay.SetLeg(tc.side, tc.cfg); !errors.Is(err, tc.want) {
			t.Errorf("SetLeg(%v, %+v) = %v, want %v", tc.side, tc.cfg, err, tc.want)
		}
	}
	if c.relay.legs[SideB].Load() != before {
		t.Fatal("a failed SetLeg changed the leg")
	}
	// An IPv4-mapped remote is accepted on an IPv4 port.
	must(t, c.relay.SetLeg(SideA, LegConfig{Remote: netip.AddrPortFrom(netip.AddrFrom16(c.carrier.Addr().Addr().As16()), c.carrier.Addr().Port())}))
	c.exchange(t, 5)
}

func TestRelayCloseLeavesNothing(t *testing.T) {
	before := runtime.NumGoroutine()
	pool, base := newPool(t, loop4, 2)
	for range 3 {
		a, err := pool.Allocate()
		must(t, err)
		b, err := pool.Allocate()
		must(t, err)
		if a.Number() != base || b.Number() != base+2 {
			t.Fatalf("ports %d, %d not reused (base %d)", a.Number(), b.Number(), base)
		}
		r := NewRelay(a, b, nil)
		peer, err := mediapeer.Listen(loop4)
		must(t, err)
		must(t, r.SetLeg(SideB, LegConfig{Remote: peer.Addr()}))
		r.Start()
		r.Start() // no second pair of goroutines
		must(t, peer.Configure(a.Addr(), nil, 0, 1))
		must(t, peer.Send(t.Context(), 5, 0))
		waitFor(t, "packets", func() bool { return r.Stats().AtoB.Received == 5 })
		done := make(chan error, 2)
		go func() { done <- r.Close() }()
		go func() { done <- r.Close() }()
		must(t, <-done)
		must(t, <-done)
		r.Start() // after Close: nothing
		must(t, r.SetLeg(SideA, LegConfig{}))
		_ = peer.Close()
		if pool.InUse() != 0 {
			t.Fatalf("InUse = %d after Close", pool.InUse())
		}
	}
	waitFor(t, "goroutines to end", func() bool { return runtime.NumGoroutine() <= before })
	// A relay that never started, with nil ports, must not panic either.
	r := NewRelay(nil, nil, nil)
	r.Start()
	must(t, r.SetLeg(SideA, LegConfig{Remote: netip.MustParseAddrPort("127.0.0.1:9")}))
	r.pipes[SideA].forward(rtpPacket(1, 1, 1), netip.MustParseAddrPort("127.0.0.1:9"))
	must(t, r.Close())
}

// rawSender is a bare UDP socket that sends hand-made packets to a relay
// port; unlike a mediapeer.Peer, it can send duplicates and any SSRC.
type rawSender struct {
	conn *net.UDPConn
	to   netip.AddrPort
}

func newRawSender(t testing.TB, ip netip.Addr, to netip.AddrPort) *rawSender {
	t.Helper()
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 0)))
	if err != nil {
		t.Skipf("cannot bind %s: %v", ip, err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &rawSender{conn: conn, to: to}
}

func (s *rawSender) addr() netip.AddrPort { return s.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

// send sends one carrier packet (stream 1); a non-zero mark spoils the
// payload's pattern, so that the Zoom peer would count it Corrupt.
func (s *rawSender) send(t testing.TB, ssrc uint32, seq uint16, mark byte) {
	t.Helper()
	pkt := rtpPacket(1, ssrc, seq)
	pkt[len(pkt)-1] ^= mark
	if _, err := s.conn.WriteToUDPAddrPort(pkt, s.to); err != nil {
		t.Fatal(err)
	}
}

// waitAtoB waits until the relay has read n datagrams on SideA and the
// Zoom peer has received what it forwarded, and returns the relay's stats.
func (c *call) waitAtoB(t testing.TB, n uint64) DirectionStats {
	t.Helper()
	waitFor(t, "relay", func() bool { return c.relay.Stats().AtoB.Received >= n })
	st := c.relay.Stats().AtoB
	waitFor(t, "Zoom peer", func() bool { return c.zoom.Stats().Received >= st.Forwarded })
	return st
}

// expectZoom checks the Zoom peer's counters: only intact packets.
func (c *call) expectZoom(t testing.TB, intact uint64) {
	t.Helper()
	if s := c.zoom.Stats(); s.Received != intact || s.Intact != intact {
		t.Fatalf("Zoom peer %+v, want %d intact; relay %+v", s, intact, c.relay.Stats().AtoB)
	}
}

// TestRelayRestrictSources sends valid RTP to a restricted carrier leg
// from the signalled peer, from another port of its IP, from a third
// address and from a configured network.
func TestRelayRestrictSources(t *testing.T) {
	c := newCall(t, loop4)
	c.configure(t, "AES_CM_128_HMAC_SHA1_80")
	carrierLeg := LegConfig{Remote: c.carrier.Addr(), RestrictSources: true}
	must(t, c.relay.SetLeg(SideA, carrierLeg))
	to := c.relay.ports[SideA].Addr()
	otherPort := newRawSender(t, loop4, to) // the carrier's IP, not its SDP port
	stranger := newRawSender(t, netip.MustParseAddr("127.0.0.5"), to)
	if otherPort.addr().Port() == c.carrier.Addr().Port() {
		t.Fatal("same port")
	}

	// An attacker with a valid stream, then the signalled peer.
	for i := range uint16(20) {
		stranger.send(t, 0xbad, i, 0)
	}
	must(t, c.carrier.Send(t.Context(), 5, 0))
	for i := range uint16(5) {
		otherPort.send(t, 0x0a, 100+i, 0)
	}
	st := c.waitAtoB(t, 30)
	if st.WrongSource != 20 || st.Forwarded != 10 {
		t.Fatalf("stats %+v", st)
	}
	c.expectZoom(t, 10)

	// With the stranger's network configured, it is relayed; an
	// IPv4-mapped Remote is the same address.
	carrierLeg.SourceNetworks = []netip.Prefix{netip.MustParsePrefix("127.0.0.4/30")}
	carrierLeg.Remote = netip.AddrPortFrom(netip.AddrFrom16(c.carrier.Addr().Addr().As16()), c.carrier.Addr().Port())
	must(t, c.relay.SetLeg(SideA, carrierLeg))
	for i := range uint16(3) {
		stranger.send(t, 0xbad, 20+i, 0)
		otherPort.send(t, 0x0a, 105+i, 0)
	}
	st = c.waitAtoB(t, 36)
	if st.WrongSource != 20 || st.Forwarded != 16 {
		t.Fatalf("stats %+v", st)
	}
	c.expectZoom(t, 16)

	// Restricted with no Remote and no networks: nothing.
	must(t, c.relay.SetLeg(SideA, LegConfig{RestrictSources: true}))
	must(t, c.carrier.Send(t.Context(), 2, 0))
	stranger.send(t, 0xbad, 30, 0)
	if st = c.waitAtoB(t, 39); st.WrongSource != 23 || st.Forwarded != 16 {
		t.Fatalf("stats %+v", st)
	}
	// Unrestricted (the zero value): anyone.
	must(t, c.relay.SetLeg(SideA, LegConfig{Remote: c.carrier.Addr()}))
	stranger.send(t, 0xbad, 31, 0)
	if st = c.waitAtoB(t, 40); st.Forwarded != 17 {
		t.Fatalf("stats %+v", st)
	}
	c.expectZoom(t, 17)
}

// TestRelayRestrictSourcesDualStack checks a port bound on [::], where
// IPv4 sources arrive IPv4-mapped.
func TestRelayRestrictSourcesDualStack(t *testing.T) {
	if conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv6unspecified}); err != nil {
		t.Skipf("no dual-stack socket: %v", err)
	} else {
		_ = conn.Close()
	}
	pool, _ := newPool(t, netip.IPv6Unspecified(), 2)
	a, err := pool.Allocate()
	must(t, err)
	b, err := pool.Allocate()
	must(t, err)
	r := NewRelay(a, b, nil)
	t.Cleanup(func() { _ = r.Close() })
	sink, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	must(t, err)
	defer sink.Close()
	to := netip.AddrPortFrom(loop4, uint16(a.Number()))
	good, bad := newRawSender(t, loop4, to), newRawSender(t, netip.MustParseAddr("127.0.0.5"), to)
	must(t, r.SetLeg(SideA, LegConfig{Remote: netip.MustParseAddrPort("127.0.0.1:4000"), RestrictSources: true}))
	must(t, r.SetLeg(SideB, LegConfig{Remote: sink.LocalAddr().(*net.UDPAddr).AddrPort()}))
	r.Start()
	bad.send(t, 1, 1, 0)
	good.send(t, 2, 1, 0)
	waitFor(t, "packets", func() bool { return r.Stats().AtoB.Received == 2 })
	if st := r.Stats().AtoB; st.WrongSource != 1 || st.Forwarded != 1 {
		t.Fatalf("stats %+v", st)
	}
	buf := make([]byte, 2048)
	_ = sink.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := sink.Read(buf)
	must(t, err)
	if binary.BigEndian.Uint32(buf[8:n]) != 2 {
		t.Fatalf("relayed SSRC %d", binary.BigEndian.Uint32(buf[8:]))
	}
}

// TestRelayDuplicateSentOnce sends two packets with the same SSRC and
// sequence number but different payloads towards the SRTP leg: only the
// first is encrypted and sent.
func TestRelayDuplicateSentOnce(t *testing.T) {
	c := newCall(t, loop4)
	c.configure(t, "AES_CM_128_HMAC_SHA1_80")
	raw := newRawSender(t, loop4, c.relay.ports[SideA].Addr())
	raw.send(t, 7, 1000, 0)
	raw.send(t, 7, 1000, 0x55) // same index, other payload
	raw.send(t, 7, 1000, 0)    // a plain resend
	raw.send(t, 7, 1001, 0)    // marks the end
	st := c.waitAtoB(t, 4)
	if st.Duplicate != 2 || st.Forwarded != 2 {
		t.Fatalf("stats %+v", st)
	}
	c.expectZoom(t, 2)
}

// TestRelaySequenceWrapNoDuplicates crosses the 16-bit wrap with
// duplicates and late packets on both sides of it.
func TestRelaySequenceWrapNoDuplicates(t *testing.T) {
	c := newCall(t, loop4)
	c.configure(t, "AEAD_AES_128_GCM")
	raw := newRawSender(t, loop4, c.relay.ports[SideA].Addr())
	var want uint64
	for seq := uint16(65500); seq != 20; seq++ {
		raw.send(t, 9, seq, 0)
		want++
		if seq == 2 {
			raw.send(t, 9, 65535, 0x55) // before the wrap, sent
			raw.send(t, 9, 0, 0x55)     // after the wrap, sent
			raw.send(t, 9, 65534, 0x55) // sent
		}
	}
	st := c.waitAtoB(t, want+3)
	if st.Duplicate != 3 || st.Forwarded != want {
		t.Fatalf("stats %+v", st)
	}
	c.expectZoom(t, want)
	// The mediapeer streams cross it too.
	c.carrier.SetSequence(65530)
	c.exchange(t, 20)
}

// TestRelayNinthSSRC sends from nine SSRCs: the ninth is dropped while the
// eight others are live, and a limit of 2 drops the third.
func TestRelayNinthSSRC(t *testing.T) {
	c := newCall(t, loop4)
	c.configure(t, "AES_CM_128_HMAC_SHA1_80")
	must(t, c.relay.SetLeg(SideA, LegConfig{Remote: c.carrier.Addr(), RestrictSources: true}))
	raw := newRawSender(t, loop4, c.relay.ports[SideA].Addr())
	for ssrc := range uint32(DefaultMaxSSRCs + 1) {
		raw.send(t, 100+ssrc, 1, 0)
	}
	raw.send(t, 100, 2, 0) // the first is still relayed
	st := c.waitAtoB(t, DefaultMaxSSRCs+2)
	if st.TooManySSRCs != 1 || st.Forwarded != DefaultMaxSSRCs+1 {
		t.Fatalf("stats %+v", st)
	}
	c.expectZoom(t, DefaultMaxSSRCs+1)

	// On SideB (Zoom, SRTP), after authentication, with MaxSSRCs 2.
	b := c.relay.legs[SideB].Load().srtp
	must(t, c.relay.SetLeg(SideB, LegConfig{Remote: c.zoom.Addr(), MaxSSRCs: 2,
		SRTP: &SRTPConfig{Suite: b.suite, LocalKey: b.localKey, RemoteKey: b.remoteKey}}))
	profile := suites[b.suite]
	keyLen, _ := profile.KeyLen()
	enc, err := srtp.CreateContext(b.remoteKey[:keyLen], b.remoteKey[keyLen:], profile)
	must(t, err)
	zoomRaw := newRawSender(t, loop4, c.relay.ports[SideB].Addr())
	for _, p := range []struct {
		ssrc uint32
		seq  uint16
	}{{1, 50}, {2, 50}, {3, 50}, {1, 51}} {
		pkt, err := enc.EncryptRTP(nil, rtpPacket(2, p.ssrc, p.seq), nil)
		must(t, err)
		_, err = zoomRaw.conn.WriteToUDPAddrPort(pkt, zoomRaw.to)
		must(t, err)
	}
	waitFor(t, "SideB packets", func() bool { return c.relay.Stats().BtoA.Received == 4 })
	if st := c.relay.Stats().BtoA; st.TooManySSRCs != 1 || st.Forwarded != 3 || st.AuthFailed != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestRelayRekeyRestartsIndices sends the same sequence numbers before and
// after a re-key of the Zoom leg: under the new key they are new indices.
func TestRelayRekeyRestartsIndices(t *testing.T) {
	const suite = "AES_CM_128_HMAC_SHA1_32"
	c := newCall(t, loop4)
	c.configure(t, suite)
	raw := newRawSender(t, loop4, c.relay.ports[SideA].Addr())
	for seq := range uint16(5) {
		raw.send(t, 3, seq, 0)
	}
	c.waitAtoB(t, 5)
	c.expectZoom(t, 5)
	ours, theirs := newKey(t, suite), newKey(t, suite)
	must(t, c.relay.SetLeg(SideB, LegConfig{Remote: c.zoom.Addr(), SRTP: &SRTPConfig{Suite: suite, LocalKey: ours, RemoteKey: theirs}}))
	must(t, c.zoom.Configure(c.relay.ports[SideB].Addr(), &mediapeer.Keys{Suite: suite, LocalKey: theirs, RemoteKey: ours}, 0, 2))
	for seq := range uint16(5) {
		raw.send(t, 3, seq, 0)
	}
	raw.send(t, 3, 4, 0x55) // but not twice under the new key either
	raw.send(t, 3, 5, 0)
	st := c.waitAtoB(t, 12)
	if st.Forwarded != 11 || st.Duplicate != 1 {
		t.Fatalf("stats %+v", st)
	}
	c.expectZoom(t, 11)
}

// TestRelayRecoversFromPanic: a datagram whose handling panics is counted
// and dropped, and the reader goes on relaying the next ones. No input is
// known to panic, so the test puts the relay into a state it never reaches
// by itself (an SRTP egress leg without an encoder).
func TestRelayRecoversFromPanic(t *testing.T) {
	ip := netip.MustParseAddr("127.0.0.1")
	c := newCall(t, ip)
	c.configure(t, "AES_CM_128_HMAC_SHA1_80")
	good := c.relay.legs[SideB].Load()
	broken := *good
	broken.srtp = &srtpLeg{suite: good.srtp.suite, dec: good.srtp.dec, overhead: good.srtp.overhead} // enc nil
	c.relay.legs[SideB].Store(&broken)
	must(t, c.carrier.Send(t.Context(), 3, 200*time.Microsecond))
	waitFor(t, "panics counted", func() bool { return c.relay.Stats().AtoB.Panics == 3 })
	c.relay.legs[SideB].Store(good)
	c.exchange(t, 20)
}

// waitCounted waits until the relay has counted n received datagrams each
// way: a peer may read a packet before the relay's reader has counted it.
func waitCounted(t *testing.T, r *Relay, n uint64) {
	t.Helper()
	waitFor(t, "relay counters", func() bool {
		st := r.Stats()
		return st.AtoB.Received >= n && st.BtoA.Received >= n
	})
}
