package media

import (
	"errors"
	"net"
	"net/netip"
	"runtime"
	"testing"

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
	must(t, c.carrier.Send(t.Context(), 10, 0))
	must(t, c.zoom.Send(t.Context(), 10, 0))
	waitFor(t, "drops", func() bool {
		st := c.relay.Stats()
		return st.AtoB.NoRemote == 10 && st.BtoA.NoRemote == 10
	})
	// The answers arrive.
	must(t, c.relay.SetLeg(SideA, LegConfig{Remote: c.carrier.Addr()}))
	must(t, c.relay.SetLeg(SideB, LegConfig{Remote: c.zoom.Addr(), SRTP: &SRTPConfig{Suite: suite, LocalKey: ours, RemoteKey: theirs}}))
	c.exchange(t, 20)
	if st := c.relay.Stats(); st.AtoB.Forwarded != 20 || st.BtoA.Forwarded != 20 || c.carrier.Stats().Received != 20 {
		t.Fatalf("stats %+v", st)
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
	r.pipes[SideA].forward(rtpPacket(1, 1, 1))
	must(t, r.Close())
}
