package media

import (
	"encoding/binary"
	"math/rand/v2"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/byocp/byocp/internal/mediapeer"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// forwardRig is a Relay that is not started: SideA plain, SideB SRTP,
// both with a remote, so tests drive its pipes directly. peer encrypts
// like the Zoom side would.
type forwardRig struct {
	relay *Relay
	sink  *net.UDPConn // SideA's and SideB's remote
	peer  *srtp.Context
	pkt   []byte // plain 172-byte RTP packet
}

func newForwardRig(tb testing.TB, suite string) *forwardRig {
	tb.Helper()
	pool, _ := newPool(tb, loop4, 2)
	a, err := pool.Allocate()
	must(tb, err)
	b, err := pool.Allocate()
	must(tb, err)
	sink, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	must(tb, err)
	rig := &forwardRig{relay: NewRelay(a, b, nil), sink: sink, pkt: rtpPacket(1, 0x1234, 0)}
	tb.Cleanup(func() { _, _ = rig.relay.Close(), sink.Close() })
	ours, theirs := newKey(tb, suite), newKey(tb, suite)
	remote := sink.LocalAddr().(*net.UDPAddr).AddrPort()
	must(tb, rig.relay.SetLeg(SideA, LegConfig{Remote: remote}))
	must(tb, rig.relay.SetLeg(SideB, LegConfig{Remote: remote, SRTP: &SRTPConfig{Suite: suite, LocalKey: ours, RemoteKey: theirs}}))
	profile := suites[suite]
	keyLen, _ := profile.KeyLen()
	rig.peer, err = srtp.CreateContext(theirs[:keyLen], theirs[keyLen:], profile)
	must(tb, err)
	return rig
}

// srtpPackets returns n consecutive SRTP packets from the peer.
func (rig *forwardRig) srtpPackets(tb testing.TB, first uint16, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = make([]byte, 0, 256)
	}
	rig.encryptInto(tb, out, first)
	return out
}

// encryptInto overwrites dst with consecutive SRTP packets from the peer,
// reusing dst's memory.
func (rig *forwardRig) encryptInto(tb testing.TB, dst [][]byte, first uint16) {
	plain := rtpPacket(2, 0x5678, 0)
	var h rtp.Header
	for i := range dst {
		seq := first + uint16(i)
		binary.BigEndian.PutUint16(plain[2:], seq)
		binary.BigEndian.PutUint32(plain[4:], uint32(seq)*160)
		mediapeer.FillPayload(plain[12:], 2, seq)
		var err error
		dst[i], err = rig.peer.EncryptRTP(dst[i][:0], plain, &h)
		must(tb, err)
	}
}

func TestForwardDoesNotAllocate(t *testing.T) {
	rig := newForwardRig(t, "AES_CM_128_HMAC_SHA1_80")
	atob, btoa := rig.relay.pipes[SideA], rig.relay.pipes[SideB]
	const runs = 500

	var seq uint16
	if n := testing.AllocsPerRun(runs, func() {
		seq++
		binary.BigEndian.PutUint16(rig.pkt[2:], seq)
		if _, _, ok := atob.transform(rig.pkt); !ok {
			t.Fatal("RTP->SRTP dropped")
		}
	}); n != 0 {
		t.Errorf("RTP->SRTP: %v allocs per packet", n)
	}

	pkts := rig.srtpPackets(t, 65000, 2*runs+2) // crosses the wrap
	i := 0
	if n := testing.AllocsPerRun(runs, func() {
		out, _, ok := btoa.transform(pkts[i])
		if !ok || len(out) != len(rig.pkt) {
			t.Fatalf("SRTP->RTP packet %d: ok %v, %d bytes", i, ok, len(out))
		}
		i++
	}); n != 0 {
		t.Errorf("SRTP->RTP: %v allocs per packet", n)
	}
	// The full path, including the socket write.
	if n := testing.AllocsPerRun(runs, func() {
		btoa.forward(pkts[i])
		i++
	}); n != 0 {
		t.Errorf("SRTP->RTP forward: %v allocs per packet", n)
	}

	csrc := rtpPacket(1, 1, 1)[:24]
	csrc[0] |= 4 // 4 CSRCs need 28 bytes
	g := append(garbage(), csrc)
	short := rig.pkt[:14] // RTP, but too short for an SRTP tag
	j := 0
	if n := testing.AllocsPerRun(runs, func() {
		b := g[j%len(g)]
		j++
		_, _, okA := atob.transform(b)
		_, _, okB := btoa.transform(b)
		_, _, okShort := btoa.transform(short)
		if okA || okB || okShort {
			t.Fatalf("garbage %x forwarded", b)
		}
	}); n != 0 {
		t.Errorf("garbage: %v allocs per datagram", n)
	}
	st := rig.relay.Stats()
	if st.AtoB.NotRTP == 0 || st.BtoA.NotRTP == 0 || st.BtoA.AuthFailed != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestForgedSRTPDoesNotGrowHeap floods the SRTP leg with packets from
// random SSRCs with bad tags (pitfall 37).
func TestForgedSRTPDoesNotGrowHeap(t *testing.T) {
	rig := newForwardRig(t, "AES_CM_128_HMAC_SHA1_80")
	btoa := rig.relay.pipes[SideB]
	pkt, _ := rig.peer.EncryptRTP(nil, rig.pkt, nil)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const n = 50000
	for range n {
		binary.BigEndian.PutUint32(pkt[8:], rand.Uint32())
		if _, _, ok := btoa.transform(pkt); ok {
			t.Fatal("forged packet accepted")
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grow := int64(after.HeapAlloc) - int64(before.HeapAlloc); grow > 1<<20 {
		t.Fatalf("heap grew %d bytes", grow)
	}
	if st := rig.relay.Stats().BtoA; st.AuthFailed != n {
		t.Fatalf("stats %+v", st)
	}
}

// FuzzRTPHeaderLen checks that rtpHeaderLen agrees with pion's parser and
// that no input makes the forward path panic.
func FuzzRTPHeaderLen(f *testing.F) {
	for _, g := range garbage() {
		f.Add(g)
	}
	f.Add(rtpPacket(1, 1, 1))
	ext := rtpPacket(1, 1, 1)
	ext[0] |= 0x10
	binary.BigEndian.PutUint32(ext[12:], 0xbede0002)
	f.Add(ext)
	rig := newForwardRig(f, "AEAD_AES_128_GCM")
	f.Fuzz(func(t *testing.T, b []byte) {
		n := rtpHeaderLen(b)
		var h rtp.Header
		m, err := h.Unmarshal(b)
		switch {
		case n >= 0 && (err != nil || m != n):
			t.Fatalf("rtpHeaderLen = %d, Unmarshal = %d, %v", n, m, err)
		case n < 0 && err == nil && b[0]>>6 == 2 && (b[1]&0x7f < 64 || b[1]&0x7f > 95):
			t.Fatalf("rtpHeaderLen refused what Unmarshal accepts (%d)", m)
		}
		rig.relay.pipes[SideA].transform(b)
		rig.relay.pipes[SideB].transform(b)
	})
}

func BenchmarkForwardRTPToSRTP(b *testing.B) {
	rig := newForwardRig(b, "AES_CM_128_HMAC_SHA1_80")
	p := rig.relay.pipes[SideA]
	b.ReportAllocs()
	b.SetBytes(int64(len(rig.pkt)))
	for i := 0; b.Loop(); i++ {
		binary.BigEndian.PutUint16(rig.pkt[2:], uint16(i))
		if _, _, ok := p.transform(rig.pkt); !ok {
			b.Fatal("dropped")
		}
	}
}

func BenchmarkForwardSRTPToRTP(b *testing.B) {
	rig := newForwardRig(b, "AES_CM_128_HMAC_SHA1_80")
	p := rig.relay.pipes[SideB]
	b.ReportAllocs()
	b.SetBytes(int64(len(rig.pkt)))
	pkts := rig.srtpPackets(b, 0, 4096)
	next, seq := 0, uint16(0)
	for b.Loop() {
		if next == len(pkts) { // replay protection needs fresh packets
			b.StopTimer()
			seq += uint16(len(pkts))
			rig.encryptInto(b, pkts, seq)
			next = 0
			b.StartTimer()
		}
		if _, _, ok := p.transform(pkts[next]); !ok {
			b.Fatal("dropped")
		}
		next++
	}
}

// BenchmarkRelayLoopback measures the whole relay over real sockets,
// carrier RTP in, Zoom SRTP out, with up to 32 packets in flight.
func BenchmarkRelayLoopback(b *testing.B) {
	rig := newForwardRig(b, "AES_CM_128_HMAC_SHA1_80")
	rig.relay.Start()
	src, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	must(b, err)
	defer src.Close()
	to := rig.relay.ports[SideA].Addr()
	buf := make([]byte, 2048)
	const window = 32
	lost := 0
	b.ReportAllocs()
	var seq uint16
	for sent := 0; sent < b.N; {
		k := min(window, b.N-sent)
		for range k {
			seq++
			binary.BigEndian.PutUint16(rig.pkt[2:], seq)
			if _, err := src.WriteToUDPAddrPort(rig.pkt, to); err != nil {
				b.Fatal(err)
			}
		}
		sent += k
		_ = rig.sink.SetReadDeadline(time.Now().Add(time.Second))
		for range k {
			if _, err := rig.sink.Read(buf); err != nil {
				lost++
				break
			}
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pkts/s")
	if lost > 0 {
		b.Logf("%d windows lost packets", lost)
	}
}
