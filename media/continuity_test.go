package media

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// header reads a relayed plain RTP packet's header.
func header(t *testing.T, pkt []byte) rtp.Header {
	t.Helper()
	var h rtp.Header
	if _, err := h.Unmarshal(pkt); err != nil {
		t.Fatalf("not RTP: %v", err)
	}
	return h
}

// stampedPacket is rtpPacket with its own timestamp.
func stampedPacket(ssrc uint32, seq uint16, ts uint32) []byte {
	p := rtpPacket(1, ssrc, seq)
	binary.BigEndian.PutUint32(p[4:], ts)
	return p
}

// When signalling gives side A another peer (a transfer's target, a
// re-INVITE that moves the media to another media server), the new
// peer's stream reaches side B as the continuation of the old one: the
// same SSRC, the next sequence number, a timestamp moved on by the time
// in between, and the marker bit on the first packet. Packets of the old
// SSRC that arrive late keep their places. Without a new peer, a new SSRC
// passes unchanged.
func TestSourceChangeKeepsStreamContinuous(t *testing.T) {
	r := newRawRelay(t)
	must(t, r.relay.SetLeg(SideA, LegConfig{Remote: addrOf(r.a)}))
	must(t, r.relay.SetLeg(SideB, LegConfig{Remote: addrOf(r.b)}))
	for seq := uint16(100); seq < 105; seq++ {
		r.send(t, r.a, SideA, stampedPacket(0xaaaa, seq, 1000+160*uint32(seq-100)))
		if h := header(t, first(recv(t, r.b))); h.SSRC != 0xaaaa || h.SequenceNumber != seq || h.Marker {
			t.Fatalf("before the change: %+v", h)
		}
	}
	// Another SSRC from the same peer (some gateways send events from an
	// SSRC of their own) passes unchanged.
	r.send(t, r.a, SideA, stampedPacket(0xeeee, 7, 5))
	if h := header(t, first(recv(t, r.b))); h.SSRC != 0xeeee || h.SequenceNumber != 7 || h.Timestamp != 5 {
		t.Fatalf("a second SSRC was rewritten: %+v", h)
	}
	r.send(t, r.a, SideA, stampedPacket(0xaaaa, 105, 1000+160*5))
	_ = first(recv(t, r.b))

	// The transfer: a new peer on side A, with its own SSRC, sequence and
	// timestamps.
	target, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	must(t, err)
	defer target.Close()
	time.Sleep(40 * time.Millisecond) // time passes between the streams
	must(t, r.relay.SetLeg(SideA, LegConfig{Remote: addrOf(target)}))
	before := time.Now()
	r.send(t, target, SideA, stampedPacket(0xbbbb, 40000, 7777))
	h := header(t, first(recv(t, r.b)))
	elapsed := time.Since(before) + 40*time.Millisecond
	if h.SSRC != 0xaaaa || h.SequenceNumber != 106 || !h.Marker {
		t.Fatalf("first packet of the new source: %+v, want SSRC aaaa, seq 106, marker", h)
	}
	// 1000+800 was the last timestamp sent; at least 40 ms (320 samples)
	// have passed, and not much more than elapsed.
	if d := h.Timestamp - 1800; d < 320 || time.Duration(d)*time.Second/8000 > elapsed+time.Second {
		t.Errorf("timestamp moved %d samples, want about %s", d, elapsed)
	}
	tsOff := h.Timestamp - 7777
	for i := uint16(1); i < 5; i++ {
		r.send(t, target, SideA, stampedPacket(0xbbbb, 40000+i, 7777+160*uint32(i)))
		g := header(t, first(recv(t, r.b)))
		if g.SSRC != 0xaaaa || g.SequenceNumber != 106+i || g.Timestamp != 7777+160*uint32(i)+tsOff || g.Marker {
			t.Fatalf("packet %d of the new source: %+v", i, g)
		}
	}
	if st := r.relay.Stats().AtoB; st.SourceChanges != 1 {
		t.Fatalf("SourceChanges %d, want 1", st.SourceChanges)
	}

	// The way back is untouched: side A's new peer gets side B's stream
	// as it is.
	r.send(t, r.b, SideB, stampedPacket(0xcccc, 9, 9))
	if g := header(t, first(recv(t, target))); g.SSRC != 0xcccc || g.SequenceNumber != 9 {
		t.Fatalf("B to A: %+v", g)
	}
}

// A new peer that keeps its SSRC and sequence (a re-INVITE that only
// moves the same endpoint's media) is not renumbered; one that keeps its
// SSRC but restarts its sequence numbers is carried on.
func TestSourceChangeSameSSRC(t *testing.T) {
	r := newRawRelay(t)
	must(t, r.relay.SetLeg(SideA, LegConfig{Remote: addrOf(r.a)}))
	must(t, r.relay.SetLeg(SideB, LegConfig{Remote: addrOf(r.b)}))
	for seq := uint16(10); seq < 13; seq++ {
		r.send(t, r.a, SideA, stampedPacket(0x1234, seq, uint32(seq)*160))
		_ = first(recv(t, r.b))
	}
	moved, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	must(t, err)
	defer moved.Close()
	must(t, r.relay.SetLeg(SideA, LegConfig{Remote: addrOf(moved)}))
	r.send(t, moved, SideA, stampedPacket(0x1234, 13, 13*160))
	if h := header(t, first(recv(t, r.b))); h.SequenceNumber != 13 || h.Timestamp != 13*160 || h.Marker {
		t.Fatalf("a continuing stream was rewritten: %+v", h)
	}
	if st := r.relay.Stats().AtoB; st.SourceChanges != 0 {
		t.Fatalf("SourceChanges %d, want 0", st.SourceChanges)
	}
	// Moved again, and this time the stream restarts at 1.
	must(t, r.relay.SetLeg(SideA, LegConfig{Remote: addrOf(r.a)}))
	r.send(t, r.a, SideA, stampedPacket(0x1234, 1, 160))
	if h := header(t, first(recv(t, r.b))); h.SSRC != 0x1234 || h.SequenceNumber != 14 || !h.Marker {
		t.Fatalf("a restarted stream: %+v, want seq 14 with marker", h)
	}
}

// The RTCP of a source carried onto the stream says what the egress peer
// sees: its SR goes out under the stream's SSRC with the RTP timestamp
// moved like the stream's, and the egress peer's report block about the
// stream comes back to the new source about its own SSRC, with the
// highest sequence number moved back.
func TestSourceChangeRewritesRTCP(t *testing.T) {
	r := newRawRelay(t)
	must(t, r.relay.SetLeg(SideA, LegConfig{Remote: addrOf(r.a)}))
	must(t, r.relay.SetLeg(SideB, LegConfig{Remote: addrOf(r.b)}))
	r.send(t, r.a, SideA, stampedPacket(0xaaaa, 500, 8000))
	_ = first(recv(t, r.b))

	target, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loop4, 0)))
	must(t, err)
	defer target.Close()
	targetRTCP := rtcpPeer(t, addrOf(target))
	bRTCP := rtcpPeer(t, addrOf(r.b))
	must(t, r.relay.SetLeg(SideA, LegConfig{Remote: addrOf(target)}))
	r.send(t, target, SideA, stampedPacket(0xbbbb, 3, 300))
	h := header(t, first(recv(t, r.b)))
	seqOff, tsOff := h.SequenceNumber-3, h.Timestamp-300

	relayRTCP := func(s Side) netip.AddrPort {
		a := r.relay.ports[s].Addr()
		return netip.AddrPortFrom(a.Addr(), a.Port()+1)
	}
	sr, _ := (&rtcp.SenderReport{SSRC: 0xbbbb, NTPTime: 1, RTPTime: 460, PacketCount: 2, OctetCount: 320}).Marshal()
	sdes, _ := (&rtcp.SourceDescription{Chunks: []rtcp.SourceDescriptionChunk{{Source: 0xbbbb,
		Items: []rtcp.SourceDescriptionItem{{Type: rtcp.SDESCNAME, Text: "target@example"}}}}}).Marshal()
	_, err = targetRTCP.WriteToUDPAddrPort(append(sr, sdes...), relayRTCP(SideA))
	must(t, err)
	got, _ := recv(t, bRTCP)
	pkts, err := rtcp.Unmarshal(got)
	must(t, err)
	gotSR, ok := pkts[0].(*rtcp.SenderReport)
	if !ok || gotSR.SSRC != 0xaaaa || gotSR.RTPTime != 460+tsOff || gotSR.PacketCount != 2 {
		t.Fatalf("SR at B: %+v, want SSRC aaaa, RTP time %d", pkts[0], 460+tsOff)
	}
	if d, ok := pkts[1].(*rtcp.SourceDescription); !ok || d.Chunks[0].Source != 0xaaaa || d.Chunks[0].Items[0].Text != "target@example" {
		t.Fatalf("SDES at B: %+v", pkts[1])
	}

	rr, _ := (&rtcp.ReceiverReport{SSRC: 0xcccc, Reports: []rtcp.ReceptionReport{
		{SSRC: 0xaaaa, LastSequenceNumber: 1<<16 | uint32(h.SequenceNumber)},
		{SSRC: 0x5555, LastSequenceNumber: 42},
	}}).Marshal()
	_, err = bRTCP.WriteToUDPAddrPort(rr, relayRTCP(SideB))
	must(t, err)
	got, _ = recv(t, targetRTCP)
	pkts, err = rtcp.Unmarshal(got)
	must(t, err)
	gotRR, ok := pkts[0].(*rtcp.ReceiverReport)
	if !ok || gotRR.SSRC != 0xcccc || gotRR.Reports[0].SSRC != 0xbbbb ||
		gotRR.Reports[0].LastSequenceNumber != 1<<16|uint32(h.SequenceNumber)-uint32(seqOff) ||
		gotRR.Reports[1].SSRC != 0x5555 || gotRR.Reports[1].LastSequenceNumber != 42 {
		t.Fatalf("RR at the new source: %+v", pkts[0])
	}
}

// Garbage compound RTCP is walked without panicking or reading out of
// bounds while a mapping is in force.
func TestRewriteRTCPGarbage(t *testing.T) {
	p := &pipe{}
	p.mapping.mapped, p.mapping.in, p.mapping.out, p.mapping.seqOff, p.mapping.tsOff = true, 1, 2, 3, 4
	for _, pkt := range [][]byte{
		{0x81, 200, 0, 6, 0, 0, 0, 1},                      // SR length beyond the packet
		{0x9f, 201, 0, 1, 0, 0, 0, 1},                      // RR claiming 31 blocks, none there
		{0x83, 202, 0, 2, 0, 0, 0, 1, 1, 200, 0, 0},        // SDES item longer than the chunk
		{0x85, 203, 0, 1, 0, 0, 0, 1},                      // BYE claiming 5 SSRCs
		{0x81, 202, 0, 1, 0, 0, 0, 1, 1},                   // truncated
		{0x81, 202, 0, 2, 0, 0, 0, 1, 1, 0, 0, 0, 9, 9, 9}, // SDES padded oddly
	} {
		rewriteRTCP(pkt, p, p)
	}
	sr, _ := (&rtcp.SenderReport{SSRC: 1, Reports: []rtcp.ReceptionReport{{SSRC: 2}}}).Marshal()
	bye, _ := (&rtcp.Goodbye{Sources: []uint32{1}}).Marshal()
	pkt := append(sr, bye...)
	if n := testing.AllocsPerRun(100, func() { rewriteRTCP(pkt, p, p) }); n != 0 {
		t.Errorf("rewriteRTCP allocates %.1f times per packet", n)
	}
}

func first(pkt []byte, _ netip.AddrPort) []byte { return pkt }

// Packets are encrypted in place, in the buffer they arrived in: the
// longest relayed packet (maxPacket bytes) still fits with its SRTP tag,
// and a longer one is dropped as NotRTP.
func TestLongestPacketEncryptedInPlace(t *testing.T) {
	r := newRawRelay(t)
	const suite = "AES_CM_128_HMAC_SHA1_80"
	must(t, r.relay.SetLeg(SideA, LegConfig{Remote: addrOf(r.a)}))
	must(t, r.relay.SetLeg(SideB, LegConfig{Remote: addrOf(r.b), SRTP: &SRTPConfig{Suite: suite, LocalKey: newKey(t, suite)}}))
	long := make([]byte, maxPacket+1)
	copy(long, rtpPacket(1, 5, 1))
	r.send(t, r.a, SideA, long)
	r.send(t, r.a, SideA, long[:maxPacket])
	got, _ := recv(t, r.b)
	if len(got) != maxPacket+10 {
		t.Fatalf("got %d bytes, want the %d-byte packet with its 10-byte tag", len(got), maxPacket)
	}
	waitFor(t, "stats", func() bool { return r.relay.Stats().AtoB.Received == 2 })
	if st := r.relay.Stats().AtoB; st.NotRTP != 1 || st.Forwarded != 1 {
		t.Fatalf("stats %+v, want the longer packet dropped as NotRTP", st)
	}
}

// The timestamp of a carried source moves on in the clock of the packet's
// format, also when the legs number that format differently: opus at 48
// kHz, 111 on side A and 96 on side B.
func TestSourceChangeClockOfRenumberedFormat(t *testing.T) {
	r := newRawRelay(t)
	must(t, r.relay.SetLeg(SideA, LegConfig{Remote: addrOf(r.a), Formats: []Format{{Name: "opus", ClockRate: 48000, RecvPT: 111, SendPT: 111}}}))
	must(t, r.relay.SetLeg(SideB, LegConfig{Remote: addrOf(r.b), Formats: []Format{{Name: "opus", ClockRate: 48000, RecvPT: 96, SendPT: 96}}}))
	opus := func(ssrc uint32, seq uint16, ts uint32) []byte {
		p := stampedPacket(ssrc, seq, ts)
		p[1] = 111
		return p
	}
	r.send(t, r.a, SideA, opus(0xaaaa, 1, 960))
	if h := header(t, first(recv(t, r.b))); h.PayloadType != 96 {
		t.Fatalf("payload type %d, want 96", h.PayloadType)
	}
	time.Sleep(40 * time.Millisecond)
	moved, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	must(t, err)
	defer moved.Close()
	must(t, r.relay.SetLeg(SideA, LegConfig{Remote: addrOf(moved), Formats: []Format{{Name: "opus", ClockRate: 48000, RecvPT: 111, SendPT: 111}}}))
	r.send(t, moved, SideA, opus(0xbbbb, 500, 77))
	h := header(t, first(recv(t, r.b)))
	// At least 40 ms at 48 kHz: 1920 samples (8 kHz would give 320).
	if d := h.Timestamp - 960; h.SSRC != 0xaaaa || d < 1920 || d > 48000*10 {
		t.Fatalf("carried packet %+v: timestamp moved %d samples, want 40 ms or more at 48 kHz", h, d)
	}
}
