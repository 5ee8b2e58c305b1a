package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/byocp/byocp/internal/leakcheck"
)

// udptlPacket returns a datagram shaped like a UDPTL packet (T.38 Annex
// D): sequence number seq, a primary IFP of n bytes that depend on side
// and seq, and one byte of error recovery (no secondary packets). The
// relay does not read it; the pattern lets the receiver check it byte for
// byte.
func udptlPacket(side byte, seq uint16, n int) []byte {
	b := make([]byte, 2, 4+n)
	binary.BigEndian.PutUint16(b, seq)
	b = append(b, byte(n))
	for i := range n {
		b = append(b, side^byte(seq)^byte(i*7))
	}
	return append(b, 0)
}

// udptlPeer is a bare UDP socket playing a fax endpoint.
type udptlPeer struct {
	conn *net.UDPConn
}

func newUDPTLPeer(t testing.TB, ip netip.Addr) *udptlPeer {
	t.Helper()
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 0)))
	if err != nil {
		t.Skipf("cannot bind %s: %v", ip, err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &udptlPeer{conn: conn}
}

func (p *udptlPeer) addr() netip.AddrPort { return p.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

func (p *udptlPeer) send(t testing.TB, to netip.AddrPort, pkt []byte) {
	t.Helper()
	if _, err := p.conn.WriteToUDPAddrPort(pkt, to); err != nil {
		t.Fatal(err)
	}
}

// expect reads datagrams until it has the given ones, in order, from
// from, and fails on anything else.
func (p *udptlPeer) expect(t testing.TB, from netip.AddrPort, want ...[]byte) {
	t.Helper()
	buf := make([]byte, 4096)
	for i, w := range want {
		_ = p.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, src, err := p.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			t.Fatalf("datagram %d: %v", i, err)
		}
		if src.Addr().Unmap() != from.Addr().Unmap() || src.Port() != from.Port() || !bytes.Equal(buf[:n], w) {
			t.Fatalf("datagram %d from %s: %x, want %x from %s", i, src, buf[:n], w, from)
		}
	}
}

// expectNothing checks that nothing arrives for a moment.
func (p *udptlPeer) expectNothing(t testing.TB) {
	t.Helper()
	buf := make([]byte, 4096)
	_ = p.conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if n, src, err := p.conn.ReadFromUDPAddrPort(buf); err == nil {
		t.Fatalf("unexpected datagram from %s: %x", src, buf[:n])
	}
}

// fax is a started UDPTLRelay between a carrier fax endpoint (SideA) and
// a Zoom one (SideB), both restricted to their signalled address; before
// runs before Start.
type fax struct {
	pool          *PortPool
	relay         *UDPTLRelay
	a, b          netip.AddrPort // the relay's ports
	carrier, zoom *udptlPeer
}

func newFax(t testing.TB, ip netip.Addr, before ...func(*UDPTLRelay)) *fax {
	t.Helper()
	f := &fax{carrier: newUDPTLPeer(t, ip), zoom: newUDPTLPeer(t, ip)}
	f.pool, _ = newPool(t, ip, 2)
	a, err := f.pool.Allocate()
	must(t, err)
	b, err := f.pool.Allocate()
	must(t, err)
	f.a, f.b = a.Addr(), b.Addr()
	f.relay = NewUDPTLRelay(a, b, nil)
	t.Cleanup(func() { _ = f.relay.Close() })
	must(t, f.relay.SetLeg(SideA, UDPTLLegConfig{Remote: f.carrier.addr(), RestrictSources: true}))
	must(t, f.relay.SetLeg(SideB, UDPTLLegConfig{Remote: f.zoom.addr(), RestrictSources: true}))
	for _, fn := range before {
		fn(f.relay)
	}
	f.relay.Start()
	return f
}

// waitUDPTL waits until the relay has read n datagrams in direction dir
// (SideA: A to B) and returns that direction's stats.
func (f *fax) waitUDPTL(t testing.TB, dir Side, n uint64) UDPTLDirectionStats {
	t.Helper()
	get := func() UDPTLDirectionStats {
		if dir == SideA {
			return f.relay.Stats().AtoB
		}
		return f.relay.Stats().BtoA
	}
	waitFor(t, "UDPTL datagrams", func() bool { return get().Received >= n })
	return get()
}

// TestUDPTLRelay sends datagrams of every size from 5 bytes to the
// largest the relay takes both ways, over IPv4 and IPv6: each arrives
// unchanged, from the relay's other port, and is counted.
func TestUDPTLRelay(t *testing.T) {
	for _, ip := range ips(t) {
		t.Run(ip.String(), func(t *testing.T) {
			f := newFax(t, ip)
			before := time.Now()
			var sizes []int
			for n := 1; n < bufSize-4; n += 97 {
				sizes = append(sizes, n)
			}
			sizes = append(sizes, bufSize-5) // a 2047-byte datagram
			var bytesA, bytesB uint64
			for i, n := range sizes {
				pa, pb := udptlPacket(0xa, uint16(i), n), udptlPacket(0xb, uint16(i), n)
				f.carrier.send(t, f.a, pa)
				f.zoom.expect(t, f.b, pa)
				f.zoom.send(t, f.b, pb)
				f.carrier.expect(t, f.a, pb)
				bytesA, bytesB = bytesA+uint64(len(pa)), bytesB+uint64(len(pb))
			}
			k := uint64(len(sizes))
			// The relay counts a datagram just after sending it: the peer
			// may see the last one first.
			f.waitUDPTL(t, SideA, k)
			f.waitUDPTL(t, SideB, k)
			st := f.relay.Stats()
			for _, d := range []struct {
				s UDPTLDirectionStats
				b uint64
			}{{st.AtoB, bytesA}, {st.BtoA, bytesB}} {
				if d.s.Received != k || d.s.Forwarded != k || d.s.Bytes != d.b || d.s.WrongSource+d.s.NotUDPTL+d.s.NoRemote+d.s.SendFailed+d.s.Panics != 0 {
					t.Fatalf("stats %+v", st)
				}
				if d.s.FirstForwarded.Before(before.Add(-stampResolution)) || d.s.LastForwarded.Before(d.s.FirstForwarded) ||
					d.s.LastReceived.Before(d.s.LastForwarded) || d.s.LastReceived.After(time.Now()) {
					t.Fatalf("times %+v", d.s)
				}
			}
		})
	}
}

// TestUDPTLRelayDrops: strangers, datagrams too short or too long, and
// datagrams before the other side's address is known are dropped and
// counted; a restricted leg accepts its peer's IP from any port and its
// SourceNetworks.
func TestUDPTLRelayDrops(t *testing.T) {
	f := newFax(t, loop4)
	otherPort := newUDPTLPeer(t, loop4) // the carrier's IP, another port
	stranger := newUDPTLPeer(t, netip.MustParseAddr("127.0.0.5"))
	pkt := udptlPacket(0xa, 1, 20)

	stranger.send(t, f.a, pkt)
	stranger.send(t, f.b, pkt)
	for _, n := range []int{0, 1, minUDPTL - 1, bufSize, bufSize + 100} {
		f.carrier.send(t, f.a, make([]byte, n))
	}
	otherPort.send(t, f.a, pkt)
	f.zoom.expect(t, f.b, pkt)
	st := f.waitUDPTL(t, SideA, 7)
	if st.WrongSource != 1 || st.NotUDPTL != 5 || st.Forwarded != 1 || st.Received != 7 {
		t.Fatalf("A to B: %+v", st)
	}
	if st := f.waitUDPTL(t, SideB, 1); st.WrongSource != 1 || !st.LastReceived.IsZero() {
		t.Fatalf("B to A: %+v", st)
	}

	// The stranger's network configured: relayed.
	must(t, f.relay.SetLeg(SideA, UDPTLLegConfig{Remote: f.carrier.addr(), RestrictSources: true,
		SourceNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.4/30")}}))
	stranger.send(t, f.a, pkt)
	f.zoom.expect(t, f.b, pkt)

	// Zoom's address unknown: the carrier's datagrams are dropped but
	// count as received T.38.
	must(t, f.relay.SetLeg(SideB, UDPTLLegConfig{RestrictSources: true}))
	f.carrier.send(t, f.a, pkt)
	st = f.waitUDPTL(t, SideA, 9)
	if st.NoRemote != 1 || st.Forwarded != 2 || st.LastReceived.Before(st.LastForwarded) {
		t.Fatalf("A to B: %+v", st)
	}
	// ... and nothing from Zoom is accepted by its restricted leg.
	f.zoom.send(t, f.b, pkt)
	if st := f.waitUDPTL(t, SideB, 2); st.WrongSource != 2 {
		t.Fatalf("B to A: %+v", st)
	}
	f.zoom.expectNothing(t)
	f.carrier.expectNothing(t)
}

// TestUDPTLRelayMove: a re-INVITE that moves the peer's image stream
// moves where the relay sends, and the new address is accepted.
func TestUDPTLRelayMove(t *testing.T) {
	f := newFax(t, loop4)
	f.carrier.send(t, f.a, udptlPacket(0xa, 1, 30))
	f.zoom.expect(t, f.b, udptlPacket(0xa, 1, 30))

	moved := newUDPTLPeer(t, netip.MustParseAddr("127.0.0.3"))
	must(t, f.relay.SetLeg(SideB, UDPTLLegConfig{Remote: moved.addr(), RestrictSources: true}))
	f.carrier.send(t, f.a, udptlPacket(0xa, 2, 30))
	moved.expect(t, f.b, udptlPacket(0xa, 2, 30))
	moved.send(t, f.b, udptlPacket(0xb, 1, 30))
	f.carrier.expect(t, f.a, udptlPacket(0xb, 1, 30))
	f.zoom.send(t, f.b, udptlPacket(0xb, 2, 30)) // the old address
	if st := f.waitUDPTL(t, SideB, 2); st.WrongSource != 1 || st.Forwarded != 1 {
		t.Fatalf("B to A: %+v", st)
	}
	f.zoom.expectNothing(t)
}

// TestUDPTLSetLegErrors: a bad side, a remote of the wrong family or a
// bad source network is refused and changes nothing.
func TestUDPTLSetLegErrors(t *testing.T) {
	f := newFax(t, loop4)
	before := f.relay.legs[SideA].Load()
	for _, tc := range []struct {
		side Side
		cfg  UDPTLLegConfig
		want error
	}{
		{Side(2), UDPTLLegConfig{}, ErrBadSide},
		{Side(-1), UDPTLLegConfig{}, ErrBadSide},
		{SideA, UDPTLLegConfig{Remote: netip.MustParseAddrPort("[2001:db8::1]:4000")}, ErrBadRemote},
		{SideA, UDPTLLegConfig{SourceNetworks: []netip.Prefix{{}}}, ErrBadSourceNetwork},
	} {
		if err := f.relay.SetLeg(tc.side, tc.cfg); !errors.Is(err, tc.want) {
			t.Errorf("SetLeg(%v, %+v) = %v, want %v", tc.side, tc.cfg, err, tc.want)
		}
	}
	if f.relay.legs[SideA].Load() != before {
		t.Fatal("a failed SetLeg changed the leg")
	}
}

// TestUDPTLRelayCloseLeavesNothing: Close, also twice and concurrently,
// ends both readers, closes both sockets and frees both ports; Start
// after Close does nothing. No goroutine or file descriptor is left.
func TestUDPTLRelayCloseLeavesNothing(t *testing.T) {
	pool, base := newPool(t, loop4, 2)
	peer := newUDPTLPeer(t, loop4)
	goroutines, fds := runtime.NumGoroutine(), leakcheck.OpenFDs(t)
	for range 3 {
		a, err := pool.Allocate()
		must(t, err)
		b, err := pool.Allocate()
		must(t, err)
		if a.Number() != base || b.Number() != base+2 {
			t.Fatalf("ports %d, %d not reused (base %d)", a.Number(), b.Number(), base)
		}
		r := NewUDPTLRelay(a, b, nil)
		must(t, r.SetLeg(SideB, UDPTLLegConfig{Remote: peer.addr()}))
		r.Start()
		r.Start() // no second pair of goroutines
		peer.send(t, a.Addr(), udptlPacket(0xa, 1, 10))
		peer.expect(t, b.Addr(), udptlPacket(0xa, 1, 10))
		done := make(chan error, 2)
		go func() { done <- r.Close() }()
		go func() { done <- r.Close() }()
		must(t, <-done)
		must(t, <-done)
		r.Start()
		must(t, r.SetLeg(SideA, UDPTLLegConfig{}))
		if pool.InUse() != 0 {
			t.Fatalf("InUse = %d after Close", pool.InUse())
		}
	}
	leakcheck.Goroutines(t, goroutines, 5*time.Second)
	leakcheck.FDs(t, fds, 5*time.Second)

	// A relay with nil ports, never started, must not panic either.
	r := NewUDPTLRelay(nil, nil, nil)
	r.Start()
	must(t, r.SetLeg(SideA, UDPTLLegConfig{Remote: netip.MustParseAddrPort("127.0.0.1:9")}))
	r.pipes[SideB].forward(udptlPacket(0xb, 1, 10), netip.MustParseAddrPort("127.0.0.1:9"))
	if st := r.Stats().BtoA; st.NoRemote != 1 {
		t.Fatalf("stats %+v", st)
	}
	must(t, r.Close())
}

// TestUDPTLRelayRecoversFromPanic: a datagram whose handling panics is
// counted, and the reader goes on relaying the next ones. No input is
// known to panic, so the test makes the pipe's clock panic for a while.
func TestUDPTLRelayRecoversFromPanic(t *testing.T) {
	f := newFax(t, loop4, func(r *UDPTLRelay) {
		p := r.pipes[SideA]
		clock := p.clock
		p.clock = func() time.Duration {
			if p.stats.panics.Load() < 3 {
				panic("test")
			}
			return clock()
		}
	})
	for i := range uint16(3) {
		f.carrier.send(t, f.a, udptlPacket(0xa, i, 10))
	}
	waitFor(t, "panics counted", func() bool { return f.relay.Stats().AtoB.Panics == 3 })
	f.carrier.send(t, f.a, udptlPacket(0xa, 3, 10))
	f.zoom.expect(t, f.b, udptlPacket(0xa, 3, 10))
	if st := f.waitUDPTL(t, SideA, 4); st.Received != 4 || st.Forwarded != 1 || st.Panics != 3 {
		t.Fatalf("stats %+v", st)
	}
}

// udptlRig is a UDPTLRelay that is not started, both legs restricted and
// sending to sink, so tests drive its pipes directly: fromA is the sink's
// IP on another port, fromB an address in SideB's SourceNetworks.
type udptlRig struct {
	relay        *UDPTLRelay
	sink         *net.UDPConn
	pkt          []byte
	fromA, fromB netip.AddrPort
}

func newUDPTLRig(tb testing.TB) *udptlRig {
	tb.Helper()
	pool, _ := newPool(tb, loop4, 2)
	a, err := pool.Allocate()
	must(tb, err)
	b, err := pool.Allocate()
	must(tb, err)
	sink, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	must(tb, err)
	rig := &udptlRig{relay: NewUDPTLRelay(a, b, nil), sink: sink, pkt: udptlPacket(0xa, 1, 160),
		fromA: netip.MustParseAddrPort("127.0.0.1:5004"), fromB: netip.MustParseAddrPort("127.0.0.9:30000")}
	tb.Cleanup(func() { _, _ = rig.relay.Close(), sink.Close() })
	remote := sink.LocalAddr().(*net.UDPAddr).AddrPort()
	must(tb, rig.relay.SetLeg(SideA, UDPTLLegConfig{Remote: remote, RestrictSources: true}))
	must(tb, rig.relay.SetLeg(SideB, UDPTLLegConfig{Remote: remote, RestrictSources: true,
		SourceNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.8/29")}}))
	return rig
}

// TestUDPTLForwardDoesNotAllocate: forwarding a datagram, socket write
// included, and refusing one allocate nothing.
func TestUDPTLForwardDoesNotAllocate(t *testing.T) {
	rig := newUDPTLRig(t)
	atob, btoa := rig.relay.pipes[SideA], rig.relay.pipes[SideB]
	const runs = 500
	if n := testing.AllocsPerRun(runs, func() {
		atob.forward(rig.pkt, rig.fromA)
		btoa.forward(rig.pkt, rig.fromB)
	}); n != 0 {
		t.Errorf("forward: %v allocs per datagram pair", n)
	}
	wrong, short := netip.MustParseAddrPort("[::ffff:127.0.0.16]:1"), rig.pkt[:minUDPTL-1]
	if n := testing.AllocsPerRun(runs, func() {
		atob.forward(rig.pkt, wrong)
		btoa.forward(short, rig.fromB)
	}); n != 0 {
		t.Errorf("refused: %v allocs per datagram pair", n)
	}
	must(t, rig.relay.SetLeg(SideB, UDPTLLegConfig{RestrictSources: true, SourceNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.8/29")}}))
	if n := testing.AllocsPerRun(runs, func() { atob.forward(rig.pkt, rig.fromA) }); n != 0 {
		t.Errorf("no remote: %v allocs per datagram", n)
	}
	st := rig.relay.Stats()
	if st.AtoB.Forwarded != runs+1 || st.BtoA.Forwarded != runs+1 || st.AtoB.WrongSource != runs+1 ||
		st.BtoA.NotUDPTL != runs+1 || st.AtoB.NoRemote != runs+1 {
		t.Fatalf("stats %+v", st)
	}
}

// BenchmarkUDPTLForward measures one direction of the relay: source
// check (a SourceNetworks match) and the socket write.
func BenchmarkUDPTLForward(b *testing.B) {
	rig := newUDPTLRig(b)
	p := rig.relay.pipes[SideB]
	b.ReportAllocs()
	b.SetBytes(int64(len(rig.pkt)))
	for b.Loop() {
		p.forward(rig.pkt, rig.fromB)
	}
	if st := rig.relay.Stats().BtoA; st.Forwarded != st.Received {
		b.Fatalf("stats %+v", st)
	}
}

// BenchmarkUDPTLRelayLoopback measures the whole relay over real sockets,
// carrier UDPTL in (from a restricted source), out to Zoom, with up to 32
// datagrams in flight.
func BenchmarkUDPTLRelayLoopback(b *testing.B) {
	rig := newUDPTLRig(b)
	rig.relay.Start()
	src, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	must(b, err)
	defer src.Close()
	to := rig.relay.ports[SideA].Addr()
	buf := make([]byte, 2048)
	const window = 32
	lost := 0
	b.ReportAllocs()
	b.SetBytes(int64(len(rig.pkt)))
	for sent := 0; sent < b.N; {
		k := min(window, b.N-sent)
		for range k {
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
		b.Logf("%d windows lost datagrams", lost)
	}
}
