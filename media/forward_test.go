package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/byocp/byocp/internal/mediapeer"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// forwardRig is a Relay that is not started: SideA plain, SideB SRTP,
// both with a remote and restricted sources, so tests drive its pipes
// directly. peer encrypts like the Zoom side would; fromA and fromB are
// accepted sources of SideA (the remote's IP, another port) and SideB (in
// its SourceNetworks).
type forwardRig struct {
	relay        *Relay
	sink         *net.UDPConn // SideA's and SideB's remote
	peer         *srtp.Context
	pkt          []byte // plain 172-byte RTP packet
	suite        string
	ours, theirs []byte // SideB's LocalKey and RemoteKey
	fromA, fromB netip.AddrPort
	now          atomic.Int64 // the pipes' clock after fakeClock
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
	rig := &forwardRig{relay: NewRelay(a, b, nil), sink: sink, pkt: rtpPacket(1, 0x1234, 0), suite: suite,
		ours: newKey(tb, suite), theirs: newKey(tb, suite),
		fromA: netip.MustParseAddrPort("127.0.0.1:5004"), fromB: netip.MustParseAddrPort("127.0.0.9:30000")}
	tb.Cleanup(func() { _, _ = rig.relay.Close(), sink.Close() })
	must(tb, rig.relay.SetLeg(SideA, rig.legA()))
	must(tb, rig.relay.SetLeg(SideB, rig.legB(rig.ours)))
	profile := suites[suite]
	keyLen, _ := profile.KeyLen()
	rig.peer, err = srtp.CreateContext(rig.theirs[:keyLen], rig.theirs[keyLen:], profile)
	must(tb, err)
	return rig
}

func (rig *forwardRig) remote() netip.AddrPort { return rig.sink.LocalAddr().(*net.UDPAddr).AddrPort() }

// legA is SideA's configuration: plain, accepting the sink's IP.
func (rig *forwardRig) legA() LegConfig {
	return LegConfig{Remote: rig.remote(), RestrictSources: true}
}

// legB is SideB's configuration with LocalKey local, accepting 127.0.0.8/29.
func (rig *forwardRig) legB(local []byte) LegConfig {
	return LegConfig{Remote: rig.remote(), SRTP: &SRTPConfig{Suite: rig.suite, LocalKey: local, RemoteKey: rig.theirs},
		RestrictSources: true, SourceNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.8/29")}}
}

// fakeClock makes both pipes read rig.now (nanoseconds) as their clock.
func (rig *forwardRig) fakeClock() {
	for _, p := range rig.relay.pipes {
		p.clock = func() time.Duration { return time.Duration(rig.now.Load()) }
	}
}

// decrypter returns a context that decrypts what the relay sends on SideB
// under LocalKey key, as the Zoom peer would.
func (rig *forwardRig) decrypter(tb testing.TB, key []byte) *srtp.Context {
	tb.Helper()
	profile := suites[rig.suite]
	keyLen, _ := profile.KeyLen()
	ctx, err := srtp.CreateContext(key[:keyLen], key[keyLen:], profile)
	must(tb, err)
	return ctx
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
	rig.fakeClock() // no SSRC goes idle, however slow the machine
	atob, btoa := rig.relay.pipes[SideA], rig.relay.pipes[SideB]
	const runs = 500

	var seq uint16
	if n := testing.AllocsPerRun(runs, func() {
		seq++
		binary.BigEndian.PutUint16(rig.pkt[2:], seq)
		if _, _, ok := atob.transform(rig.pkt, rig.fromA); !ok {
			t.Fatal("RTP->SRTP dropped")
		}
	}); n != 0 {
		t.Errorf("RTP->SRTP: %v allocs per packet", n)
	}

	pkts := rig.srtpPackets(t, 65000, 2*runs+2) // crosses the wrap
	i := 0
	if n := testing.AllocsPerRun(runs, func() {
		out, _, ok := btoa.transform(pkts[i], rig.fromB)
		if !ok || len(out) != len(rig.pkt) {
			t.Fatalf("SRTP->RTP packet %d: ok %v, %d bytes", i, ok, len(out))
		}
		i++
	}); n != 0 {
		t.Errorf("SRTP->RTP: %v allocs per packet", n)
	}
	// The full path, including the socket write.
	if n := testing.AllocsPerRun(runs, func() {
		btoa.forward(pkts[i], rig.fromB)
		i++
	}); n != 0 {
		t.Errorf("SRTP->RTP forward: %v allocs per packet", n)
	}

	csrc := rtpPacket(1, 1, 1)[:24]
	csrc[0] |= 4                  // 4 CSRCs need 28 bytes
	full := make([]byte, bufSize) // RTP, but it filled the receive buffer
	copy(full, rig.pkt)
	g := append(garbage(), csrc, full)
	short := rig.pkt[:14] // RTP, but too short for an SRTP tag
	j := 0
	if n := testing.AllocsPerRun(runs, func() {
		b := g[j%len(g)]
		j++
		_, _, okA := atob.transform(b, rig.fromA)
		_, _, okB := btoa.transform(b, rig.fromB)
		_, _, okShort := btoa.transform(short, rig.fromB)
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

	// Refused sources, duplicates and SSRCs beyond the limit.
	wrongA, wrongB := netip.MustParseAddrPort("127.0.0.5:5004"), netip.MustParseAddrPort("[::ffff:127.0.0.16]:1")
	for k := range DefaultMaxSSRCs - 1 { // the table is full
		if _, _, ok := atob.transform(rtpPacket(1, uint32(k), 0), rig.fromA); !ok {
			t.Fatalf("SSRC %d dropped", k)
		}
	}
	ssrc := uint32(1 << 20)
	if n := testing.AllocsPerRun(runs, func() {
		ssrc++
		binary.BigEndian.PutUint32(rig.pkt[8:], ssrc)
		_, _, okSSRC := atob.transform(rig.pkt, rig.fromA)
		binary.BigEndian.PutUint32(rig.pkt[8:], 0x1234)
		_, _, okDup := atob.transform(rig.pkt, rig.fromA)
		_, _, okA := atob.transform(rig.pkt, wrongA)
		_, _, okB := btoa.transform(pkts[0], wrongB)
		if okSSRC || okDup || okA || okB {
			t.Fatalf("forwarded: new SSRC %v, duplicate %v, wrong source %v %v", okSSRC, okDup, okA, okB)
		}
	}); n != 0 {
		t.Errorf("refused packets: %v allocs per packet", n)
	}
	st = rig.relay.Stats()
	if st.AtoB.TooManySSRCs != runs+1 || st.AtoB.Duplicate != runs+1 || st.AtoB.WrongSource != runs+1 || st.BtoA.WrongSource != runs+1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestLastRTP checks, on a fake clock, when each direction's LastRTP and
// LastForwarded move: with every valid packet (to stampResolution),
// whether or not it is forwarded, never for packets that are not valid RTP
// from the leg, and not at all once packets stop.
func TestLastRTP(t *testing.T) {
	rig := newForwardRig(t, "AES_CM_128_HMAC_SHA1_80")
	rig.fakeClock()
	atob, btoa := rig.relay.pipes[SideA], rig.relay.pipes[SideB]
	start := atob.start
	if btoa.start != start {
		t.Fatal("the pipes' clocks start at different times")
	}
	at := func(d time.Duration) time.Time { return start.Add(d) }
	type want struct{ rtpA, fwdA, rtpB, fwdB time.Duration } // -1 = zero Time
	check := func(what string, w want) {
		t.Helper()
		st := rig.relay.Stats()
		for _, c := range []struct {
			name string
			got  time.Time
			want time.Duration
		}{
			{"AtoB.LastRTP", st.AtoB.LastRTP, w.rtpA}, {"AtoB.LastForwarded", st.AtoB.LastForwarded, w.fwdA},
			{"BtoA.LastRTP", st.BtoA.LastRTP, w.rtpB}, {"BtoA.LastForwarded", st.BtoA.LastForwarded, w.fwdB},
		} {
			if c.want < 0 && !c.got.IsZero() || c.want >= 0 && !c.got.Equal(at(c.want)) {
				t.Fatalf("%s: %s = %v (%v after start), want %v after start\nstats %+v",
					what, c.name, c.got, c.got.Sub(start), c.want, st)
			}
		}
	}
	set := func(d time.Duration) { rig.now.Store(int64(d)) }
	var seqA uint16
	sendA := func(from netip.AddrPort) {
		seqA++
		atob.forward(rtpPacket(1, 0x1234, seqA), from)
	}
	pktsB := rig.srtpPackets(t, 0, 100)
	nextB := 0
	sendB := func() {
		btoa.forward(pktsB[nextB], rig.fromB)
		nextB++
	}

	check("nothing yet", want{-1, -1, -1, -1})

	// Packets that are not valid RTP from the leg.
	set(time.Second)
	forged := bytes.Clone(pktsB[50])
	forged[len(forged)-1] ^= 1
	for _, g := range garbage() {
		atob.forward(g, rig.fromA)
		btoa.forward(g, rig.fromB)
	}
	sendA(netip.MustParseAddrPort("127.0.0.5:5004")) // wrong source
	btoa.forward(pktsB[0], netip.MustParseAddrPort("127.0.0.16:30000"))
	btoa.forward(forged, rig.fromB)
	btoa.forward(rig.pkt, rig.fromB) // plain RTP on the SRTP leg
	check("invalid packets", want{-1, -1, -1, -1})
	if st := rig.relay.Stats(); st.AtoB.Received == 0 || st.BtoA.AuthFailed != 2 || st.AtoB.Forwarded+st.BtoA.Forwarded != 0 {
		t.Fatalf("stats %+v", st)
	}

	// Valid packets, one direction at a time.
	set(2 * time.Second)
	sendA(rig.fromA)
	check("A sent", want{2 * time.Second, 2 * time.Second, -1, -1})
	set(3 * time.Second)
	sendB()
	check("B sent", want{2 * time.Second, 2 * time.Second, 3 * time.Second, 3 * time.Second})

	// Packets every 30 ms: the time of the last one, truncated to
	// stampResolution.
	var last time.Duration
	for i := 1; i <= 30; i++ {
		now := 3*time.Second + time.Duration(i)*30*time.Millisecond
		set(now)
		sendB()
		last = now.Truncate(stampResolution)
		check(fmt.Sprintf("B packet %d at %v", i, now), want{2 * time.Second, 2 * time.Second, last, last})
	}
	if last != 3900*time.Millisecond {
		t.Fatalf("last packet at %v", last)
	}

	// Packets stop: nothing moves, however long.
	set(time.Hour)
	check("silence", want{2 * time.Second, 2 * time.Second, last, last})

	// A replay and a wrong source on B do not count; A still does.
	btoa.forward(pktsB[nextB-1], rig.fromB)
	sendA(rig.fromA)
	check("replay on B", want{time.Hour, time.Hour, last, last})

	// Valid RTP that is not forwarded counts in LastRTP only.
	set(time.Hour + time.Second) // a duplicate SRTP index
	atob.forward(rtpPacket(1, 0x1234, seqA), rig.fromA)
	check("duplicate", want{time.Hour + time.Second, time.Hour, last, last})
	cfg := rig.legA()
	cfg.MaxSSRCs = 1
	must(t, rig.relay.SetLeg(SideA, cfg))
	set(time.Hour + 2*time.Second) // a second SSRC while the first is live
	atob.forward(rtpPacket(1, 0x9999, 1), rig.fromA)
	check("too many SSRCs", want{time.Hour + 2*time.Second, time.Hour, last, last})
	noRemote := rig.legB(rig.ours)
	noRemote.Remote = netip.AddrPort{}
	must(t, rig.relay.SetLeg(SideB, noRemote))
	set(time.Hour + 3*time.Second) // SideB's remote is not known
	sendA(rig.fromA)
	check("no remote on B", want{time.Hour + 3*time.Second, time.Hour, last, last})
	if st := rig.relay.Stats().AtoB; st.Duplicate != 1 || st.TooManySSRCs != 1 || st.NoRemote != 1 {
		t.Fatalf("stats %+v", st)
	}
	// SRTP before the leg's RemoteKey is known cannot be authenticated:
	// it does not count.
	must(t, rig.relay.SetLeg(SideB, LegConfig{Remote: rig.remote(), SRTP: &SRTPConfig{Suite: rig.suite, LocalKey: rig.ours}}))
	set(time.Hour + 4*time.Second)
	sendB()
	check("no RemoteKey on B", want{time.Hour + 3*time.Second, time.Hour, last, last})
	if st := rig.relay.Stats().BtoA; st.NoRemote != 1 {
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
		if _, _, ok := btoa.transform(pkt, rig.fromB); ok {
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
	// The forged SSRCs took no slot: authentic ones are still relayed.
	for ssrc := range uint32(DefaultMaxSSRCs) {
		pkt, err := rig.peer.EncryptRTP(nil, rtpPacket(2, 1000+ssrc, 1), nil)
		must(t, err)
		if _, _, ok := btoa.transform(pkt, rig.fromB); !ok {
			t.Fatalf("authentic SSRC %d dropped: stats %+v", 1000+ssrc, rig.relay.Stats().BtoA)
		}
	}
}

// TestSSRCFloodDoesNotGrowHeap sends 200,000 valid RTP packets, each from
// a new SSRC, through the full forward path towards the SRTP leg, with one
// legitimate stream among them, while the clock runs. The flood takes only
// the free slots as they expire, never the live stream's, and all it can
// make the LocalKey encrypt is SSRCsPerKey SSRCs.
func TestSSRCFloodDoesNotGrowHeap(t *testing.T) {
	rig := newForwardRig(t, "AES_CM_128_HMAC_SHA1_80")
	rig.fakeClock()
	atob := rig.relay.pipes[SideA]
	legit := rtpPacket(1, 0xfeed, 0)
	flood := rtpPacket(1, 0, 0)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const n, every = 200000, 50
	legitSent := 0
	for i := range n {
		if i%every == 0 {
			binary.BigEndian.PutUint16(legit[2:], uint16(legitSent))
			atob.forward(legit, rig.fromA)
			legitSent++
		}
		binary.BigEndian.PutUint32(flood[8:], uint32(i+1)*2654435761) // distinct, random-looking
		binary.BigEndian.PutUint16(flood[2:], uint16(i))
		atob.forward(flood, rig.fromA)
		if i == 999 { // the clock has not moved yet: the table is full
			if st := rig.relay.Stats().AtoB; st.Forwarded != uint64(legitSent)+DefaultMaxSSRCs-1 {
				t.Fatalf("before the first expiry: stats %+v", st)
			}
		}
		if i%250 == 249 {
			rig.now.Add(int64(SSRCIdle / 4))
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grow := int64(after.HeapAlloc) - int64(before.HeapAlloc); grow > 1<<20 {
		t.Fatalf("heap grew %d bytes", grow)
	}
	st := rig.relay.Stats().AtoB
	floodForwarded := uint64(SSRCsPerKey - 1) // the key's SSRCs, less the legitimate one
	if st.Received != uint64(n+legitSent) || st.Forwarded != uint64(legitSent)+floodForwarded ||
		st.TooManySSRCs != n-floodForwarded || st.Duplicate+st.SendFailed+st.NoRemote+st.WrongSource != 0 {
		t.Fatalf("%d legitimate packets: stats %+v", legitSent, st)
	}
	if e := rig.relay.legs[SideB].Load().srtp.enc; e.n != SSRCsPerKey {
		t.Fatalf("encoder holds %d SSRCs", e.n)
	}
}

// TestForwardDuplicateIndex checks which SRTP indices towards the SRTP leg
// are sent: each at most once, and the packet sent is the first one.
func TestForwardDuplicateIndex(t *testing.T) {
	rig := newForwardRig(t, "AES_CM_128_HMAC_SHA1_80")
	atob := rig.relay.pipes[SideA]
	dec := rig.decrypter(t, rig.ours)
	send := func(seq uint16, payload byte) bool {
		pkt := rtpPacket(1, 0xabc, seq)
		pkt[len(pkt)-1] = payload
		out, _, ok := atob.transform(pkt, rig.fromA)
		if ok {
			plain, err := dec.DecryptRTP(nil, out, nil)
			if err != nil || !bytes.Equal(plain, pkt) {
				t.Fatalf("seq %d: decrypts to %x, %v", seq, plain, err)
			}
		}
		return ok
	}
	for _, tc := range []struct {
		seq     uint16
		payload byte
		sent    bool
	}{
		{100, 1, true},
		{100, 2, false}, // same index, other payload
		{99, 1, true},   // late, within the window
		{99, 3, false},
		{101, 1, true},
		{102, 1, true},
		{101, 4, false},
		{39, 1, true},  // 63 below the highest
		{38, 1, false}, // 64 below: outside the window
		{39, 2, false},
		{200, 1, true},  // a jump
		{150, 1, true},  // 50 below, never sent
		{136, 1, false}, // 64 below
		{20000, 1, true},
		{52000, 1, true},
		{65530, 1, true},
		{65535, 1, true},
		{0, 1, true},      // ROC 1
		{65535, 2, false}, // ROC 0 again: sent
		{65534, 1, true},  // ROC 0, never sent
		{5, 1, true},
		{0, 2, false},
		{65530, 2, false},
		{40000, 1, false}, // ROC 0: far behind
	} {
		if got := send(tc.seq, tc.payload); got != tc.sent {
			t.Fatalf("seq %d payload %d: sent %v, want %v", tc.seq, tc.payload, got, tc.sent)
		}
	}
	st := rig.relay.Stats().AtoB
	if st.Duplicate != 10 || st.Forwarded != 0 { // transform does not send
		t.Fatalf("stats %+v", st)
	}
	// Plain egress (SRTP -> RTP) does not drop duplicates: nothing is
	// encrypted, and SRTP replay protection rejects a replayed packet.
	btoa := rig.relay.pipes[SideB]
	pkts := rig.srtpPackets(t, 7, 1)
	if _, _, ok := btoa.transform(pkts[0], rig.fromB); !ok {
		t.Fatal("SRTP packet dropped")
	}
	if _, _, ok := btoa.transform(pkts[0], rig.fromB); ok {
		t.Fatal("replayed SRTP packet forwarded")
	}
	if st := rig.relay.Stats().BtoA; st.AuthFailed != 1 || st.Duplicate != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestForwardSSRCLimit checks MaxSSRCs and SSRCIdle on a fake clock.
func TestForwardSSRCLimit(t *testing.T) {
	rig := newForwardRig(t, "AEAD_AES_128_GCM")
	rig.fakeClock()
	cfg := rig.legA()
	cfg.MaxSSRCs = 2
	must(t, rig.relay.SetLeg(SideA, cfg))
	atob := rig.relay.pipes[SideA]
	seqs := map[uint32]uint16{}
	send := func(ssrc uint32) bool {
		seqs[ssrc]++
		_, _, ok := atob.transform(rtpPacket(1, ssrc, seqs[ssrc]), rig.fromA)
		return ok
	}
	expect := func(what string, ssrc uint32, want bool) {
		t.Helper()
		if got := send(ssrc); got != want {
			t.Fatalf("%s: SSRC %d sent %v, want %v (stats %+v)", what, ssrc, got, want, rig.relay.Stats().AtoB)
		}
	}
	expect("first", 1, true)
	expect("second", 2, true)
	expect("third", 3, false)
	rig.now.Add(int64(SSRCIdle - 1))
	expect("keep 1 alive", 1, true)
	expect("third, 2 not idle long enough", 3, false)
	rig.now.Add(1)
	expect("third, 2 idle", 3, true) // a re-route: 3 takes 2's place
	expect("1 keeps its place", 1, true)
	expect("2 lost its place", 2, false)
	expect("3 keeps its place", 3, true)
	rig.now.Add(int64(SSRCIdle))
	expect("3, although 1 went idle", 3, true)
	// 2 comes back in 1's place. Its index window survived under the
	// LocalKey: an index it already sent stays refused.
	seqs[2] = 0 // index 1 was sent at the start
	expect("2 back, old index", 2, false)
	expect("2 back, new index", 2, true)
	if st := rig.relay.Stats().AtoB; st.TooManySSRCs != 3 || st.Duplicate != 1 {
		t.Fatalf("stats %+v", st)
	}

	// The default, and the bound.
	for _, tc := range []struct{ in, want int }{{0, DefaultMaxSSRCs}, {-3, DefaultMaxSSRCs}, {1, 1}, {MaxSSRCsLimit + 1, MaxSSRCsLimit}} {
		cfg.MaxSSRCs = tc.in
		must(t, rig.relay.SetLeg(SideA, cfg))
		if got := rig.relay.legs[SideA].Load().maxSSRCs; got != tc.want {
			t.Errorf("MaxSSRCs %d: limit %d, want %d", tc.in, got, tc.want)
		}
	}
	// MaxSSRCsLimit SSRCs at once fit the table.
	rig.now.Add(int64(SSRCIdle))
	for ssrc := range uint32(MaxSSRCsLimit) {
		expect("up to the limit", 100+ssrc, true)
	}
	expect("beyond the limit", 99, false)
}

// TestForwardRekeyRestartsIndices checks that the indices sent are those
// of the current LocalKey: a re-key may send an index again, the same key
// may not.
func TestForwardRekeyRestartsIndices(t *testing.T) {
	rig := newForwardRig(t, "AES_256_CM_HMAC_SHA1_80")
	atob := rig.relay.pipes[SideA]
	send := func(seq uint16) bool {
		_, _, ok := atob.transform(rtpPacket(1, 42, seq), rig.fromA)
		return ok
	}
	for seq := range uint16(10) {
		if !send(seq) {
			t.Fatalf("seq %d dropped", seq)
		}
	}
	// A re-INVITE that keeps the key keeps the indices sent.
	must(t, rig.relay.SetLeg(SideB, rig.legB(rig.ours)))
	if send(5) {
		t.Fatal("index sent again under the same key")
	}
	// A new key starts afresh; the packets decrypt under it.
	k2 := newKey(t, rig.suite)
	must(t, rig.relay.SetLeg(SideB, rig.legB(k2)))
	dec := rig.decrypter(t, k2)
	for seq := range uint16(10) {
		pkt := rtpPacket(1, 42, seq)
		out, _, ok := atob.transform(pkt, rig.fromA)
		if !ok {
			t.Fatalf("seq %d dropped after re-key", seq)
		}
		if plain, err := dec.DecryptRTP(nil, out, nil); err != nil || !bytes.Equal(plain, pkt) {
			t.Fatalf("seq %d after re-key: %v", seq, err)
		}
	}
	if send(5) {
		t.Fatal("index sent twice under the new key")
	}
	if st := rig.relay.Stats().AtoB; st.Duplicate != 2 {
		t.Fatalf("stats %+v", st)
	}
}

// TestSetLegKeyReuse checks that no LocalKey gets a second context.
func TestSetLegKeyReuse(t *testing.T) {
	rig := newForwardRig(t, "AES_CM_128_HMAC_SHA1_80")
	k1 := rig.ours
	k2 := newKey(t, rig.suite)
	before := rig.relay.legs[SideB].Load()
	for _, tc := range []struct {
		name string
		side Side
		cfg  LegConfig
		want error
	}{
		{"same key", SideB, rig.legB(k1), nil},
		{"other suite, same bytes", SideB, LegConfig{SRTP: &SRTPConfig{Suite: "AES_CM_128_HMAC_SHA1_32", LocalKey: k1}}, ErrKeyReused},
		{"on the other side", SideA, LegConfig{SRTP: &SRTPConfig{Suite: rig.suite, LocalKey: k1}}, ErrKeyReused},
		{"new key", SideB, rig.legB(k2), nil},
		{"back to the old key", SideB, rig.legB(k1), ErrKeyReused},
		{"plain", SideB, LegConfig{Remote: rig.remote()}, nil},
		{"back after plain", SideB, rig.legB(k2), ErrKeyReused},
	} {
		if err := rig.relay.SetLeg(tc.side, tc.cfg); !errors.Is(err, tc.want) {
			t.Fatalf("%s: %v, want %v", tc.name, err, tc.want)
		}
		if tc.name == "same key" && rig.relay.legs[SideB].Load().srtp.enc != before.srtp.enc {
			t.Fatal("same key: new encoder")
		}
	}
	if rig.relay.legs[SideB].Load().srtp != nil {
		t.Fatal("a refused SetLeg changed the leg")
	}
}

func TestLegAllows(t *testing.T) {
	remote := netip.MustParseAddrPort("[::ffff:192.0.2.7]:4000") // mapped, as some SDP parsers give it
	for _, tc := range []struct {
		name string
		cfg  LegConfig
		yes  []string
		no   []string
	}{
		{"unrestricted", LegConfig{}, []string{"192.0.2.7", "203.0.113.1", "2001:db8::1"}, nil},
		{"nothing known", LegConfig{RestrictSources: true}, nil, []string{"192.0.2.7", "0.0.0.0", "::"}},
		{"remote", LegConfig{Remote: remote, RestrictSources: true},
			[]string{"192.0.2.7", "::ffff:192.0.2.7"}, []string{"192.0.2.8", "::192.0.2.7", "2001:db8::1"}},
		{"networks", LegConfig{Remote: remote, RestrictSources: true, SourceNetworks: []netip.Prefix{
			netip.MustParsePrefix("198.51.100.77/24"), netip.MustParsePrefix("::ffff:203.0.113.0/120"),
			netip.MustParsePrefix("2001:db8:1::/48"), netip.MustParsePrefix("198.51.100.0/24")}},
			[]string{"192.0.2.7", "198.51.100.1", "::ffff:198.51.100.255", "203.0.113.9", "::ffff:203.0.113.9", "2001:db8:1::5", "2001:db8:1:ffff::1"},
			[]string{"198.51.101.1", "203.0.114.1", "2001:db8:2::1", "192.0.2.6"}},
		{"v6 remote with zone", LegConfig{Remote: netip.MustParseAddrPort("[fe80::1%eth0]:4000"), RestrictSources: true},
			[]string{"fe80::1", "fe80::1%eth1"}, []string{"fe80::2"}},
		{"networks without restriction", LegConfig{SourceNetworks: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}},
			[]string{"192.0.2.7"}, nil},
	} {
		st, err := newLegState(tc.cfg, nil, netip.Addr{})
		must(t, err)
		for _, ip := range tc.yes {
			if !st.allows(netip.MustParseAddr(ip)) {
				t.Errorf("%s: %s refused", tc.name, ip)
			}
		}
		for _, ip := range tc.no {
			if st.allows(netip.MustParseAddr(ip)) {
				t.Errorf("%s: %s allowed", tc.name, ip)
			}
		}
	}
	st, err := newLegState(LegConfig{SourceNetworks: []netip.Prefix{netip.MustParsePrefix("::ffff:10.1.2.3/104"), netip.MustParsePrefix("10.0.0.0/8")}}, nil, netip.Addr{})
	must(t, err)
	if len(st.nets) != 1 || st.nets[0] != netip.MustParsePrefix("10.0.0.0/8") {
		t.Errorf("networks normalised to %v", st.nets)
	}
	if _, err := newLegState(LegConfig{SourceNetworks: []netip.Prefix{{}}}, nil, netip.Addr{}); !errors.Is(err, ErrBadSourceNetwork) {
		t.Errorf("invalid network: %v", err)
	}
}

// FuzzSentIndex drives one encoder with packets of three SSRCs whose
// sequence numbers jump by fuzzed amounts, and checks against pion that
// every packet admitted is encrypted at the index the encoder recorded,
// that no index is encrypted twice, and that only indices sent already or
// outside the window are refused.
func FuzzSentIndex(f *testing.F) {
	f.Add([]byte{0, 0xff, 0xf0, 0, 0, 0x20, 0x10, 0xff, 0xff, 0x01, 0x80, 0x00})
	f.Add([]byte{0x70, 0x7f, 0xff, 0x70, 0x7f, 0xff, 0x70, 0x7f, 0xff, 0x71, 0x00, 0x01})
	f.Add([]byte{0x02, 0x00, 0x00, 0x02, 0x00, 0x00, 0x12, 0xff, 0xc1, 0x02, 0x00, 0x3f})
	const suite = "AES_CM_128_HMAC_SHA1_80"
	profile := suites[suite]
	key := make([]byte, 30)
	for i := range key {
		key[i] = byte(i)
	}
	f.Fuzz(func(t *testing.T, ops []byte) {
		enc, err := srtp.CreateContext(key[:16], key[16:], profile)
		must(t, err)
		check, err := srtp.CreateContext(key[:16], key[16:], profile, srtp.SRTPNoReplayProtection())
		must(t, err)
		e := newEncoder(&sharedContext{ctx: enc})
		var seq [3]uint16
		sent := map[uint64]bool{}
		var high [3]uint64
		var started [3]bool
		for len(ops) >= 3 {
			k := int(ops[0]&0x0f) % 3
			step := int16(binary.BigEndian.Uint16(ops[1:])) >> (ops[0] >> 4 & 7)
			ops = ops[3:]
			seq[k] += uint16(step)
			ssrc := uint32(k + 1)
			i := e.lookup(ssrc)
			if i < 0 {
				t.Fatal("encoder full")
			}
			var index uint64
			if i < e.n {
				index = uint64(int64(e.streams[i].high) + indexDelta(e.streams[i].high, seq[k]))
			} else {
				index = uint64(seq[k])
			}
			id := uint64(ssrc)<<48 | index
			if !e.admit(i, ssrc, seq[k]) {
				if !sent[id] && index+indexWindow > high[k] {
					t.Fatalf("SSRC %d seq %d (index %d, highest %d) refused", ssrc, seq[k], index, high[k])
				}
				continue
			}
			if sent[id] {
				t.Fatalf("SSRC %d index %d encrypted twice", ssrc, index)
			}
			sent[id] = true
			if !started[k] || index > high[k] {
				high[k], started[k] = index, true
			}
			out, err := enc.EncryptRTP(nil, rtpPacket(1, ssrc, seq[k]), nil)
			must(t, err)
			// The packet authenticates only at the index the encoder recorded.
			check.SetROC(ssrc, uint32(index>>16))
			if _, err := check.DecryptRTP(nil, out, nil); err != nil {
				t.Fatalf("SSRC %d seq %d: pion did not encrypt at index %d: %v", ssrc, seq[k], index, err)
			}
			if roc, _ := enc.ROC(ssrc); uint64(roc) != e.streams[i].high>>16 {
				t.Fatalf("SSRC %d: pion's ROC %d, encoder's highest index %d", ssrc, roc, e.streams[i].high)
			}
		}
	})
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
		rig.relay.pipes[SideA].transform(b, rig.fromA)
		rig.relay.pipes[SideB].transform(b, rig.fromB)
	})
}

// BenchmarkForwardRTPToSRTP measures the carrier-to-Zoom path: source
// check (the signalled IP, another port), SSRC table, index window,
// encryption.
func BenchmarkForwardRTPToSRTP(b *testing.B) {
	rig := newForwardRig(b, "AES_CM_128_HMAC_SHA1_80")
	p := rig.relay.pipes[SideA]
	b.ReportAllocs()
	b.SetBytes(int64(len(rig.pkt)))
	for i := 0; b.Loop(); i++ {
		binary.BigEndian.PutUint16(rig.pkt[2:], uint16(i))
		if _, _, ok := p.transform(rig.pkt, rig.fromA); !ok {
			b.Fatal("dropped")
		}
	}
}

// BenchmarkForwardSRTPToRTP measures the Zoom-to-carrier path: source
// check (a SourceNetworks match), authentication, decryption, SSRC table.
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
		if _, _, ok := p.transform(pkts[next], rig.fromB); !ok {
			b.Fatal("dropped")
		}
		next++
	}
}

// BenchmarkRelayLoopback measures the whole relay over real sockets,
// carrier RTP in (from a restricted source), Zoom SRTP out, with up to 32
// packets in flight.
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
