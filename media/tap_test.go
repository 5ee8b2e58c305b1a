package media

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/byocp/byocp/internal/leakcheck"
	"github.com/byocp/byocp/internal/mediapeer"
	"github.com/pion/rtp"
)

// tapped is what a test read from a Tap.
type tapped struct {
	TapPacket
	pkt rtp.Packet
}

// readTap reads n packets from tap, failing t if they do not come within
// a few seconds.
func readTap(t testing.TB, tap *Tap, n int) []tapped {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	buf := make([]byte, DefaultTapPacketSize)
	out := make([]tapped, 0, n)
	for len(out) < n {
		p, err := tap.ReadPacket(ctx, buf)
		if err != nil {
			t.Fatalf("packet %d of %d: %v (tap %+v)", len(out)+1, n, err, tap.Stats())
		}
		var r tapped
		r.TapPacket = p
		if err := r.pkt.Unmarshal(bytes.Clone(buf[:p.N])); err != nil {
			t.Fatalf("packet %d is not RTP: %v", len(out)+1, err)
		}
		out = append(out, r)
	}
	return out
}

// expectEOF checks that tap is closed and drained.
func expectEOF(t testing.TB, tap *Tap) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if p, err := tap.ReadPacket(ctx, make([]byte, DefaultTapPacketSize)); err != io.EOF {
		t.Fatalf("ReadPacket = %+v, %v; want io.EOF", p, err)
	}
}

// expectWaiting checks that ReadPacket on tap has nothing to return and
// waits: for ctx, here.
func expectWaiting(t testing.TB, tap *Tap) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if p, err := tap.ReadPacket(ctx, make([]byte, DefaultTapPacketSize)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ReadPacket = %+v, %v; want to wait", p, err)
	}
}

// checkStreams checks that got holds the peers' pattern streams as they
// sent them: SideA's packets carry the carrier's stream (1), SideB's
// Zoom's (2), both in plain RTP of 172 bytes, each direction with
// consecutive sequence numbers starting at its first, perA packets per
// direction, in the order they were sent and received between from and to.
func checkStreams(t testing.TB, got []tapped, perSide int, from, to time.Time) {
	t.Helper()
	var n [2]int
	var next [2]uint16
	var ssrc [2]uint32
	var last [2]time.Time
	for i, p := range got {
		s := p.Side
		if s != SideA && s != SideB {
			t.Fatalf("packet %d: side %v", i, s)
		}
		stream, seq, ok := mediapeer.CheckPayload(p.pkt.Payload)
		if !ok || p.N != 12+mediapeer.PayloadSize || stream != byte(s)+1 || seq != p.pkt.SequenceNumber {
			t.Fatalf("packet %d from side %v: %d bytes, stream %d, pattern seq %d, RTP seq %d, intact %v",
				i, s, p.N, stream, seq, p.pkt.SequenceNumber, ok)
		}
		if n[s] > 0 && (seq != next[s] || p.pkt.SSRC != ssrc[s] || p.Time.Before(last[s])) {
			t.Fatalf("packet %d from side %v: seq %d SSRC %x at %v, want seq %d SSRC %x after %v",
				i, s, seq, p.pkt.SSRC, p.Time, next[s], ssrc[s], last[s])
		}
		if p.Time.Before(from) || p.Time.After(to) {
			t.Fatalf("packet %d from side %v received at %v, outside %v-%v", i, s, p.Time, from, to)
		}
		n[s]++
		next[s], ssrc[s], last[s] = seq+1, p.pkt.SSRC, p.Time
	}
	if n[SideA] != perSide || n[SideB] != perSide {
		t.Fatalf("%d packets from A and %d from B, want %d each", n[SideA], n[SideB], perSide)
	}
}

// TestTapBothDirections checks that a Tap gets the plain RTP of both
// directions of a call whose Zoom leg is SRTP (and of one that is SRTP on
// both legs), and io.EOF when the Relay closes.
func TestTapBothDirections(t *testing.T) {
	for _, tc := range []struct{ name, suite string }{
		{"plain", ""}, {"SRTP", "AES_CM_128_HMAC_SHA1_80"}, {"SRTP/GCM", "AEAD_AES_256_GCM"}, {"SRTPBothLegs", "AES_256_CM_HMAC_SHA1_32"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCall(t, loop4)
			c.configure(t, tc.suite)
			if tc.name == "SRTPBothLegs" {
				ours, theirs := newKey(t, "AEAD_AES_128_GCM"), newKey(t, "AEAD_AES_128_GCM")
				must(t, c.relay.SetLeg(SideA, LegConfig{Remote: c.carrier.Addr(),
					SRTP: &SRTPConfig{Suite: "AEAD_AES_128_GCM", LocalKey: ours, RemoteKey: theirs}}))
				must(t, c.carrier.Configure(c.relay.ports[SideA].Addr(),
					&mediapeer.Keys{Suite: "AEAD_AES_128_GCM", LocalKey: theirs, RemoteKey: ours}, 0, 1))
			}
			tap := &Tap{}
			c.relay.SetTap(tap)
			from := time.Now()
			c.exchange(t, 50)
			got := readTap(t, tap, 100)
			checkStreams(t, got, 50, from, time.Now())
			if st := tap.Stats(); st != (TapStats{Queued: 100, Delivered: 100}) {
				t.Fatalf("tap stats %+v", st)
			}
			must(t, c.relay.Close())
			expectEOF(t, tap)
			expectEOF(t, tap)
		})
	}
}

// TestTapSlowConsumer checks that a Tap whose reader is behind drops and
// counts packets, and that the relay forwards every packet all the same.
func TestTapSlowConsumer(t *testing.T) {
	c := newCall(t, loop4)
	c.configure(t, "AES_CM_128_HMAC_SHA1_80")
	tap := &Tap{Packets: 8}
	c.relay.SetTap(tap)

	// Nobody reads: 8 packets are queued, the rest dropped.
	from := time.Now()
	c.exchange(t, 50) // every packet arrives intact at both peers
	if st := c.relay.Stats(); st.AtoB.Forwarded != 50 || st.BtoA.Forwarded != 50 {
		t.Fatalf("relay stats %+v", st)
	}
	if st := tap.Stats(); st != (TapStats{Queued: 8, Dropped: 92}) {
		t.Fatalf("tap stats %+v", st)
	}
	got := readTap(t, tap, 8) // the first 8 packets the relay forwarded
	to := time.Now()
	for i, p := range got {
		for _, q := range got[i+1:] {
			if q.Side == p.Side && q.pkt.SequenceNumber != p.pkt.SequenceNumber+1 {
				t.Fatalf("side %v: seq %d follows %d", p.Side, q.pkt.SequenceNumber, p.pkt.SequenceNumber)
			}
			if q.Side == p.Side {
				break
			}
		}
		if _, _, ok := mediapeer.CheckPayload(p.pkt.Payload); !ok || p.Time.Before(from) || p.Time.After(to) {
			t.Fatalf("packet %d: %+v", i, p)
		}
	}
	expectWaiting(t, tap)

	// A reader that takes 5 ms per packet while 20 ms of audio come every
	// millisecond: it gets some packets, the relay still forwards all.
	var wg sync.WaitGroup
	var read int
	wg.Go(func() {
		buf := make([]byte, DefaultTapPacketSize)
		for {
			if _, err := tap.ReadPacket(context.Background(), buf); err != nil {
				if err != io.EOF {
					t.Error(err)
				}
				return
			}
			read++
			time.Sleep(5 * time.Millisecond)
		}
	})
	errs := make(chan error, 2)
	for _, p := range []*mediapeer.Peer{c.carrier, c.zoom} {
		go func() { errs <- p.Send(t.Context(), 200, time.Millisecond) }()
	}
	must(t, <-errs)
	must(t, <-errs)
	waitFor(t, "packets", func() bool {
		return c.carrier.Stats().Received == 250 && c.zoom.Stats().Received == 250
	})
	if s := c.carrier.Stats(); s.Intact != 250 {
		t.Fatalf("carrier %+v", s)
	}
	if s := c.zoom.Stats(); s.Intact != 250 {
		t.Fatalf("zoom %+v", s)
	}
	if st := c.relay.Stats(); st.AtoB.Forwarded != 250 || st.BtoA.Forwarded != 250 {
		t.Fatalf("relay stats %+v", st)
	}
	must(t, c.relay.Close())
	wg.Wait()
	st := tap.Stats()
	if st.Queued+st.Dropped != 500 || st.Delivered != st.Queued || st.Dropped <= 92 || read != int(st.Queued)-8 {
		t.Fatalf("tap stats %+v, read %d", st, read)
	}
	t.Logf("slow reader: %d packets read, %d dropped", read, st.Dropped-92)
}

// TestTapAttachDetach checks SetTap's life cycle: detach, replace, a
// detached Tap left open, a Tap attached to a closed Relay.
func TestTapAttachDetach(t *testing.T) {
	c := newCall(t, loop4)
	c.configure(t, "AES_CM_128_HMAC_SHA1_80")
	c.exchange(t, 5) // before any tap

	t1 := &Tap{}
	c.relay.SetTap(t1)
	from := time.Now()
	c.exchange(t, 10)
	c.relay.SetTap(nil)
	to := time.Now()
	c.exchange(t, 10) // detached: not tapped
	checkStreams(t, readTap(t, t1, 20), 10, from, to)
	expectWaiting(t, t1) // detached, not closed

	t2 := &Tap{Packets: 64, PacketSize: 256}
	c.relay.SetTap(t2)
	c.relay.SetTap(t2) // again: no change
	from = time.Now()
	c.exchange(t, 10)
	c.relay.SetTap(t1) // t1 replaces t2
	to = time.Now()
	c.exchange(t, 3)
	checkStreams(t, readTap(t, t2, 20), 10, from, to)
	checkStreams(t, readTap(t, t1, 6), 3, to, time.Now())
	expectWaiting(t, t2)

	// Close closes the attached tap only.
	must(t, c.relay.Close())
	expectEOF(t, t1)
	expectWaiting(t, t2)
	must(t, t2.Close())
	must(t, t2.Close())
	expectEOF(t, t2)
	if st := t2.Stats(); st != (TapStats{Queued: 20, Delivered: 20}) {
		t.Fatalf("t2 stats %+v", st)
	}

	// A Tap attached to a closed Relay is closed at once.
	t3 := &Tap{}
	c.relay.SetTap(t3)
	expectEOF(t, t3)
	c.relay.SetTap(nil)
}

// TestTapCloseEndsReaders checks that closing the Relay ends readers
// blocked in ReadPacket with io.EOF once they have drained the queue, and
// that nothing is left running.
func TestTapCloseEndsReaders(t *testing.T) {
	base := runtime.NumGoroutine()
	c := newCall(t, loop4)
	c.configure(t, "AEAD_AES_128_GCM")
	tap := &Tap{}
	c.relay.SetTap(tap)
	const readers = 3
	var wg sync.WaitGroup
	var mu sync.Mutex
	var got []tapped
	for range readers {
		wg.Go(func() {
			buf := make([]byte, 512)
			for {
				p, err := tap.ReadPacket(context.Background(), buf)
				if err == io.EOF {
					return
				}
				if err != nil {
					t.Error(err)
					return
				}
				r := tapped{TapPacket: p}
				if err := r.pkt.Unmarshal(bytes.Clone(buf[:p.N])); err != nil {
					t.Error(err)
				}
				mu.Lock()
				got = append(got, r)
				mu.Unlock()
			}
		})
	}
	c.exchange(t, 40)
	must(t, c.relay.Close())
	wg.Wait()
	if len(got) != 80 {
		t.Fatalf("readers got %d packets, want 80 (tap %+v)", len(got), tap.Stats())
	}
	seen := map[[2]uint32]bool{}
	for _, p := range got {
		k := [2]uint32{uint32(p.Side), uint32(p.pkt.SequenceNumber)}
		if _, _, ok := mediapeer.CheckPayload(p.pkt.Payload); !ok || seen[k] {
			t.Fatalf("packet %+v: intact %v, seen before %v", p.TapPacket, ok, seen[k])
		}
		seen[k] = true
	}
	_, _ = c.carrier.Close(), c.zoom.Close()
	leakcheck.Goroutines(t, base, 5*time.Second)
}

// TestTapDoesNotAllocate checks the relay's side (queuing, and dropping
// when full) and the reader's side of a Tap for allocations, and that
// what is tapped is the plain packet in both directions. It uses an AEAD
// suite: pion's AES-CM ciphers take buffers from a sync.Pool, which under
// the race detector drops a share of what is put back, so that a round
// with two AES-CM operations allocates now and then.
func TestTapDoesNotAllocate(t *testing.T) {
	rig := newForwardRig(t, "AEAD_AES_128_GCM")
	rig.fakeClock()
	atob, btoa := rig.relay.pipes[SideA], rig.relay.pipes[SideB]
	tap := &Tap{Packets: 4}
	rig.relay.SetTap(tap)
	const runs = 500
	buf := make([]byte, DefaultTapPacketSize)
	ctx := context.Background()

	pkts := rig.srtpPackets(t, 100, 2*runs+2)
	plain := make([][]byte, len(pkts)) // what the peer encrypted
	for k := range plain {
		plain[k] = rtpPacket(2, 0x5678, 100+uint16(k))
	}
	var seqA uint16
	i := 0
	if n := testing.AllocsPerRun(runs, func() {
		seqA++
		binary.BigEndian.PutUint16(rig.pkt[2:], seqA)
		if _, _, ok := atob.transform(rig.pkt, rig.fromA); !ok {
			t.Fatal("RTP->SRTP dropped")
		}
		if _, _, ok := btoa.transform(pkts[i], rig.fromB); !ok {
			t.Fatal("SRTP->RTP dropped")
		}
		p, err := tap.ReadPacket(ctx, buf)
		if err != nil || p.Side != SideA || !bytes.Equal(buf[:p.N], rig.pkt) {
			t.Fatalf("RTP->SRTP tapped %+v %x, %v", p, buf[:p.N], err)
		}
		if p, err = tap.ReadPacket(ctx, buf); err != nil || p.Side != SideB || !bytes.Equal(buf[:p.N], plain[i]) {
			t.Fatalf("SRTP->RTP tapped %+v %x, %v", p, buf[:p.N], err)
		}
		i++
	}); n != 0 {
		t.Errorf("tap and read: %v allocs per round", n)
	}

	// Nobody reads: the queue fills, then packets are dropped.
	if n := testing.AllocsPerRun(runs, func() {
		seqA++
		binary.BigEndian.PutUint16(rig.pkt[2:], seqA)
		if _, _, ok := atob.transform(rig.pkt, rig.fromA); !ok {
			t.Fatal("RTP->SRTP dropped")
		}
	}); n != 0 {
		t.Errorf("full tap: %v allocs per packet", n)
	}
	if st := tap.Stats(); st.Queued != 2*(runs+1)+4 || st.Dropped != runs+1-4 || st.Delivered != 2*(runs+1) {
		t.Fatalf("tap stats %+v", st)
	}
}

// TestTapQueue drives a Tap's queue directly: several writers race as
// the two directions of a relay would, several readers take packets, and
// every packet is queued and read once, in order per writer, or dropped.
func TestTapQueue(t *testing.T) {
	const writers, readers, perWriter = 4, 2, 20000
	tap := &Tap{Packets: 16, PacketSize: 64}
	tap.init()
	var wg sync.WaitGroup
	got := make([][]uint32, readers)
	for r := range readers {
		wg.Go(func() {
			buf := make([]byte, 64)
			last := make([]int64, writers)
			for i := range last {
				last[i] = -1
			}
			for {
				p, err := tap.ReadPacket(context.Background(), buf)
				if err == io.EOF {
					return
				}
				w, seq := binary.BigEndian.Uint32(buf), binary.BigEndian.Uint32(buf[4:])
				if err != nil || w >= writers || p.N != 8+int(w)%50 || p.Side != Side(w%2) {
					t.Errorf("read %+v %x, %v", p, buf[:p.N], err)
					return
				}
				if int64(seq) <= last[w] { // one reader sees each writer's packets in order
					t.Errorf("writer %d: seq %d after %d", w, seq, last[w])
				}
				last[w] = int64(seq)
				got[r] = append(got[r], w<<24|seq)
			}
		})
	}
	var writersWG sync.WaitGroup
	for w := range writers {
		writersWG.Go(func() {
			pkt := make([]byte, 64)
			binary.BigEndian.PutUint32(pkt, uint32(w))
			for seq := range perWriter {
				binary.BigEndian.PutUint32(pkt[4:], uint32(seq))
				tap.offer(Side(w%2), pkt[:8+w%50], time.Time{})
				if seq%1000 == 0 {
					runtime.Gosched()
				}
			}
		})
	}
	writersWG.Wait()
	must(t, tap.Close())
	tap.offer(SideA, make([]byte, 8), time.Time{}) // closed: ignored
	wg.Wait()
	st := tap.Stats()
	seen := map[uint32]bool{}
	for _, g := range got {
		for _, k := range g {
			if seen[k] {
				t.Fatalf("writer %d packet %d read twice", k>>24, k&0xffffff)
			}
			seen[k] = true
		}
	}
	if st.Queued+st.Dropped != writers*perWriter || st.Delivered != st.Queued || uint64(len(seen)) != st.Queued || st.TooLarge != 0 {
		t.Fatalf("tap stats %+v, %d distinct packets read", st, len(seen))
	}
	t.Logf("tap stats %+v", st)
}

// TestTapShortBufferAndTooLarge checks the two size limits.
func TestTapShortBufferAndTooLarge(t *testing.T) {
	if DefaultTapPacketSize < bufSize-1 {
		t.Fatalf("DefaultTapPacketSize %d: the relay forwards packets of up to %d bytes", DefaultTapPacketSize, bufSize-1)
	}
	pkt := rtpPacket(1, 7, 7)
	small := &Tap{PacketSize: 100}
	small.init()
	small.offer(SideB, pkt, time.Time{})
	if st := small.Stats(); st != (TapStats{TooLarge: 1}) {
		t.Fatalf("stats %+v", st)
	}
	tap := &Tap{}
	tap.init()
	at := time.Now()
	tap.offer(SideB, pkt, at)
	tap.offer(SideA, pkt[:12], at)
	buf := make([]byte, 50)
	p, err := tap.ReadPacket(context.Background(), buf)
	if !errors.Is(err, io.ErrShortBuffer) || p != (TapPacket{Side: SideB, Time: at, N: 50}) || !bytes.Equal(buf, pkt[:50]) {
		t.Fatalf("ReadPacket = %+v, %v", p, err)
	}
	p, err = tap.ReadPacket(context.Background(), buf) // the next packet
	if err != nil || p.N != 12 || p.Side != SideA {
		t.Fatalf("ReadPacket = %+v, %v", p, err)
	}
	if st := tap.Stats(); st != (TapStats{Queued: 2, Delivered: 2}) {
		t.Fatalf("stats %+v", st)
	}
	// A zero Tap can be closed and read.
	var zero Tap
	must(t, zero.Close())
	expectEOF(t, &zero)
}

// BenchmarkForwardRTPToSRTPTap is BenchmarkForwardRTPToSRTP with a Tap
// attached: "read" with a reader draining it in another goroutine,
// "full" with nobody reading (every packet is dropped).
func BenchmarkForwardRTPToSRTPTap(b *testing.B) {
	for _, read := range []bool{true, false} {
		name := "full"
		if read {
			name = "read"
		}
		b.Run(name, func(b *testing.B) {
			rig := newForwardRig(b, "AES_CM_128_HMAC_SHA1_80")
			p := rig.relay.pipes[SideA]
			tap := &Tap{}
			rig.relay.SetTap(tap)
			var wg sync.WaitGroup
			if read {
				wg.Go(func() {
					buf := make([]byte, DefaultTapPacketSize)
					for {
						if _, err := tap.ReadPacket(context.Background(), buf); err != nil {
							return
						}
					}
				})
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(rig.pkt)))
			for i := 0; b.Loop(); i++ {
				binary.BigEndian.PutUint16(rig.pkt[2:], uint16(i))
				if _, _, ok := p.transform(rig.pkt, rig.fromA); !ok {
					b.Fatal("dropped")
				}
			}
			b.StopTimer()
			_ = tap.Close()
			wg.Wait()
			st := tap.Stats()
			b.ReportMetric(float64(st.Dropped)/float64(st.Queued+st.Dropped), "dropped/op")
		})
	}
}
