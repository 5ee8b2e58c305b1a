package media

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/byocp/byocp/internal/leakcheck"
	"github.com/byocp/byocp/internal/mediapeer"
	"golang.org/x/sys/unix"
)

// TestEngine runs the relay tests again, on real loopback sockets, with
// every pool on an engine: the same behaviour is expected of both ways of
// reading the sockets.
func TestEngine(t *testing.T) {
	t.Cleanup(func() { testEngine = Engine{} })
	for _, e := range []Engine{{Workers: 1}, {Workers: 2, PollWindow: 100 * time.Microsecond}} {
		testEngine = e
		for _, tc := range []struct {
			name string
			test func(*testing.T)
		}{
			{"PortPool", TestPortPool},
			{"PortPoolSkipsPortsInUse", TestPortPoolSkipsPortsInUse},
			{"PortPoolConcurrent", TestPortPoolConcurrent},
			{"ForwardDoesNotAllocate", TestForwardDoesNotAllocate},
			{"RelayPlain", TestRelayPlain},
			{"RelaySRTP", TestRelaySRTP},
			{"RelayNoRemote", TestRelayNoRemote},
			{"RelayGarbage", TestRelayGarbage},
			{"RelayWrongKeyAndReplay", TestRelayWrongKeyAndReplay},
			{"RelaySequenceWrapAndRenegotiation", TestRelaySequenceWrapAndRenegotiation},
			{"RelayCloseLeavesNothing", TestRelayCloseLeavesNothing},
			{"RelayRestrictSources", TestRelayRestrictSources},
			{"RelayRestrictSourcesDualStack", TestRelayRestrictSourcesDualStack},
			{"RelayDuplicateSentOnce", TestRelayDuplicateSentOnce},
			{"RelaySequenceWrapNoDuplicates", TestRelaySequenceWrapNoDuplicates},
			{"RelayNinthSSRC", TestRelayNinthSSRC},
			{"RelayRekeyRestartsIndices", TestRelayRekeyRestartsIndices},
			{"RelayRecoversFromPanic", TestRelayRecoversFromPanic},
			{"RTTMeasured", TestRTTMeasured},
			{"UDPTLRelay", TestUDPTLRelay},
			{"UDPTLRelayDrops", TestUDPTLRelayDrops},
			{"UDPTLRelayMove", TestUDPTLRelayMove},
			{"UDPTLRelayCloseLeavesNothing", TestUDPTLRelayCloseLeavesNothing},
			{"UDPTLRelayRecoversFromPanic", TestUDPTLRelayRecoversFromPanic},
			{"UDPTLForwardDoesNotAllocate", TestUDPTLForwardDoesNotAllocate},
			{"LatchAnyFollowsNAT", TestLatchAnyFollowsNAT},
			{"LatchSignalled", TestLatchSignalled},
			{"LatchSRTPMovesOnAuthenticatedPacket", TestLatchSRTPMovesOnAuthenticatedPacket},
			{"RTCPRelayed", TestRTCPRelayed},
			{"RTCPKeepsIndexAcrossSetLeg", TestRTCPKeepsIndexAcrossSetLeg},
			{"RTCPMuxCarrier", TestRTCPMuxCarrier},
			{"RTCPMuxZoom", TestRTCPMuxZoom},
			{"RTCPNotMuxed", TestRTCPNotMuxed},
			{"RTCPMuxDoesNotAllocate", TestRTCPMuxDoesNotAllocate},
			{"PayloadTypesMapped", TestPayloadTypesMapped},
			{"DTMFEventsReported", TestDTMFEventsReported},
			{"DTMFInjected", TestDTMFInjected},
			{"RelayQuality", TestRelayQuality},
			{"TapBothDirections", TestTapBothDirections},
			{"TapSlowConsumer", TestTapSlowConsumer},
			{"TapAttachDetach", TestTapAttachDetach},
			{"TapCloseEndsReaders", TestTapCloseEndsReaders},
			{"TapDoesNotAllocate", TestTapDoesNotAllocate},
		} {
			t.Run(fmt.Sprintf("%s/workers=%d", tc.name, e.Workers), tc.test)
		}
	}
}

func TestNewPortPoolEngineErrors(t *testing.T) {
	for _, e := range []Engine{{Workers: -1}, {Workers: 1, PollWindow: -1}, {Workers: 1, PollWindow: MaxPollWindow + 1}} {
		if _, err := NewPortPoolEngine(loop4, 20000, 20001, e); !errors.Is(err, ErrBadEngine) {
			t.Errorf("%+v: %v", e, err)
		}
	}
	if _, err := NewPortPoolEngine(loop4, 10, 10, Engine{Workers: 1}); !errors.Is(err, ErrBadPortRange) {
		t.Errorf("bad range: %v", err)
	}
	pool, err := NewPortPoolEngine(loop4, 20000, 20001, Engine{})
	if err != nil || pool.engine != nil {
		t.Errorf("Workers 0: %v, engine %v", err, pool.engine)
	}
}

// enginePool returns a pool for calls calls on an engine of cfg, with
// room to spare for ports that the peers' sockets may take.
func enginePool(t testing.TB, cfg Engine, calls int) *PortPool {
	t.Helper()
	pairs := 2*calls + 16
	base := freeRange(t, loop4, pairs)
	pool, err := NewPortPoolEngine(loop4, base, base+2*pairs-1, cfg)
	must(t, err)
	return pool
}

// runningWorkers counts the pool's workers that run.
func runningWorkers(pool *PortPool) (n int) {
	pool.engine.mu.Lock()
	defer pool.engine.mu.Unlock()
	for _, w := range pool.engine.workers {
		if w != nil {
			n++
		}
	}
	return n
}

// engineCall is a started Relay on an engine pool between a carrier peer
// (plain) and a Zoom peer (SRTP).
func newEngineCall(t *testing.T, pool *PortPool, suite string) *call {
	t.Helper()
	c := &call{pool: pool}
	a, err := pool.Allocate()
	must(t, err)
	b, err := pool.Allocate()
	must(t, err)
	c.relay = NewRelay(a, b, nil)
	for _, p := range []**mediapeer.Peer{&c.carrier, &c.zoom} {
		if *p, err = mediapeer.Listen(loop4); err != nil {
			t.Fatal(err)
		}
	}
	c.carrier.ExpectStream(2)
	c.zoom.ExpectStream(1)
	c.relay.Start()
	c.configure(t, suite)
	return c
}

func (c *call) close(t testing.TB) {
	must(t, c.relay.Close())
	_, _ = c.carrier.Close(), c.zoom.Close()
}

// TestEngineManyRelaysOneWorker runs 40 SRTP calls at once on one worker:
// every packet of every call arrives intact, both ways.
func TestEngineManyRelaysOneWorker(t *testing.T) {
	const calls = 40
	pool := enginePool(t, Engine{Workers: 1}, calls)
	cs := make([]*call, calls)
	for i := range cs {
		cs[i] = newEngineCall(t, pool, allSuites[i%len(allSuites)])
	}
	if n := runningWorkers(pool); n != 1 {
		t.Fatalf("%d workers run", n)
	}
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Go(func() { c.exchange(t, 100) })
	}
	wg.Wait()
	for _, c := range cs {
		c.close(t)
	}
	if n := runningWorkers(pool); n != 0 || pool.InUse() != 0 {
		t.Fatalf("after Close: %d workers, %d ports", n, pool.InUse())
	}
}

// TestEnginePanicSparesOtherCalls breaks one call so that handling each
// of its packets panics, on the worker that also serves a healthy call:
// the panics are counted, and the healthy call, the broken call's other
// direction and, once mended, the broken call itself keep relaying.
func TestEnginePanicSparesOtherCalls(t *testing.T) {
	pool := enginePool(t, Engine{Workers: 1}, 2)
	healthy, broken := newEngineCall(t, pool, "AES_CM_128_HMAC_SHA1_80"), newEngineCall(t, pool, "AES_CM_128_HMAC_SHA1_80")
	defer healthy.close(t)
	defer broken.close(t)
	good := broken.relay.legs[SideB].Load()
	bad := *good
	bad.srtp = &srtpLeg{suite: good.srtp.suite, dec: good.srtp.dec, overhead: good.srtp.overhead} // enc nil: A->B panics
	broken.relay.legs[SideB].Store(&bad)

	errs := make(chan error, 1)
	go func() { errs <- broken.carrier.Send(t.Context(), 50, 0) }() // bursts: several per batch
	healthy.exchange(t, 100)
	must(t, <-errs)
	waitFor(t, "panics counted", func() bool { return broken.relay.Stats().AtoB.Panics == 50 })
	if st := broken.relay.Stats().AtoB; st.Received != 50 || st.Forwarded != 0 {
		t.Fatalf("broken direction: %+v", st)
	}
	must(t, broken.zoom.Send(t.Context(), 20, 0)) // the other direction of the broken call
	waitFor(t, "B to A", func() bool { return broken.carrier.Stats().Intact == 20 })
	broken.relay.legs[SideB].Store(good)
	broken.exchange(t, 20)
}

// TestEngineCloseLeavesNothing closes calls on two workers, one while its
// peers keep sending: the workers end, the goroutines, descriptors and
// ports are back where they were, nothing more is delivered from the
// closed ports, and their numbers can be bound again.
func TestEngineCloseLeavesNothing(t *testing.T) {
	goroutines, fds := runtime.NumGoroutine(), leakcheck.OpenFDs(t)
	pool := enginePool(t, Engine{Workers: 2}, 4)
	var cs []*call
	for range 4 {
		c := newEngineCall(t, pool, "AEAD_AES_128_GCM")
		c.exchange(t, 20)
		cs = append(cs, c)
	}
	if n := runningWorkers(pool); n != 2 {
		t.Fatalf("%d workers run", n)
	}
	// Close the first call while both its peers send.
	c := cs[0]
	ports := [2]netip.AddrPort{c.relay.ports[SideA].Addr(), c.relay.ports[SideB].Addr()}
	var wg sync.WaitGroup
	for _, p := range []*mediapeer.Peer{c.carrier, c.zoom} {
		wg.Go(func() { _ = p.Send(t.Context(), 500, 20*time.Microsecond) })
	}
	waitFor(t, "traffic both ways", func() bool {
		st := c.relay.Stats()
		return st.AtoB.Forwarded > 20 && st.BtoA.Forwarded > 20
	})
	must(t, c.relay.Close())
	st := c.relay.Stats()
	wg.Wait()
	time.Sleep(50 * time.Millisecond)
	if c.relay.Stats() != st {
		t.Fatalf("relay counted after Close: %+v then %+v", st, c.relay.Stats())
	}
	// What the peers received is at most what the relay had forwarded
	// when Close returned (some may still have been on their way).
	if z, k := c.zoom.Stats(), c.carrier.Stats(); z.Received > st.AtoB.Forwarded || k.Received > st.BtoA.Forwarded {
		t.Fatalf("Zoom received %d, carrier %d; relay %+v", z.Received, k.Received, st)
	}
	for _, addr := range ports {
		conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(addr))
		if err != nil {
			t.Fatalf("port %s still bound: %v", addr, err)
		}
		_ = conn.Close()
	}
	_, _ = c.carrier.Close(), c.zoom.Close()
	for _, c := range cs[1:] {
		c.exchange(t, 20) // the others still relay
		c.close(t)
	}
	if n := runningWorkers(pool); n != 0 || pool.InUse() != 0 {
		t.Fatalf("after Close: %d workers, %d ports", n, pool.InUse())
	}
	leakcheck.Goroutines(t, goroutines, 5*time.Second)
	leakcheck.FDs(t, fds, 5*time.Second)
}

// TestEngineStartCloseRace starts and closes relays from several
// goroutines at once, with traffic; run with -race.
func TestEngineStartCloseRace(t *testing.T) {
	goroutines := runtime.NumGoroutine()
	pool := enginePool(t, Engine{Workers: 2}, 16)
	sink, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	must(t, err)
	defer sink.Close()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 10 {
				a, err := pool.Allocate()
				if err != nil {
					t.Error(err)
					return
				}
				b, err := pool.Allocate()
				if err != nil {
					t.Error(err)
					return
				}
				r := NewRelay(a, b, nil)
				_ = r.SetLeg(SideB, LegConfig{Remote: sink.LocalAddr().(*net.UDPAddr).AddrPort()})
				go r.Start()
				for i := range 5 {
					_, _ = sink.WriteToUDPAddrPort(rtpPacket(1, 7, uint16(i)), a.Addr())
				}
				go r.Start()
				_ = r.Close()
				r.Start()
			}
		})
	}
	wg.Wait()
	if n := runningWorkers(pool); n != 0 || pool.InUse() != 0 {
		t.Fatalf("after Close: %d workers, %d ports", n, pool.InUse())
	}
	leakcheck.Goroutines(t, goroutines, 5*time.Second)
}

// TestEngineSocketDoesNotAllocate checks the engine's own share of the
// packet path: reading a batch, converting its source addresses and
// sending, for IPv4 and IPv6.
func TestEngineSocketDoesNotAllocate(t *testing.T) {
	for _, ip := range ips(t) {
		t.Run(ip.String(), func(t *testing.T) {
			network := "udp4"
			if ip.Is6() {
				network = "udp6"
			}
			rx, err := listenSocket(network, netip.AddrPortFrom(ip, 0))
			must(t, err)
			defer rx.Close()
			tx, err := listenSocket(network, netip.AddrPortFrom(ip, 0))
			must(t, err)
			defer tx.Close()
			to, from := socketAddr(t, rx), socketAddr(t, tx)
			b := newBatch()
			pkt := rtpPacket(1, 7, 1)
			if n := testing.AllocsPerRun(200, func() {
				for range 3 {
					if _, err := tx.WriteToUDPAddrPort(pkt, to); err != nil {
						t.Fatal(err)
					}
				}
				n, err := rx.read(b)
				if err != nil || n != 3 {
					t.Fatalf("read %d, %v", n, err)
				}
				for i := range n {
					got, src := b.packet(i)
					if len(got) != len(pkt) || src != from {
						t.Fatalf("datagram %d: %d bytes from %s, want %d from %s", i, len(got), src, len(pkt), from)
					}
				}
			}); n != 0 {
				t.Errorf("%v allocs per round", n)
			}
		})
	}
}

// socketAddr returns where s is bound.
func socketAddr(t *testing.T, s *socket) netip.AddrPort {
	t.Helper()
	sa, err := unix.Getsockname(s.fd)
	must(t, err)
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
	case *unix.SockaddrInet6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), uint16(sa.Port))
	}
	t.Fatalf("socket bound to %v", sa)
	return netip.AddrPort{}
}

// TestEngineBeforeStartAndDirectClose: datagrams that reach an engine's
// socket before Start wait there and are relayed once it starts, as with
// a goroutine; a Port closed under a running relay (which owns it; a
// misuse) makes sends towards it fail and be counted, and the worker goes
// on serving the other calls.
func TestEngineBeforeStartAndDirectClose(t *testing.T) {
	pool := enginePool(t, Engine{Workers: 1}, 2)
	other := newEngineCall(t, pool, "")
	defer other.close(t)
	a, err := pool.Allocate()
	must(t, err)
	b, err := pool.Allocate()
	must(t, err)
	r := NewRelay(a, b, nil)
	defer r.Close()
	sink, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	must(t, err)
	defer sink.Close()
	must(t, r.SetLeg(SideB, LegConfig{Remote: sink.LocalAddr().(*net.UDPAddr).AddrPort()}))
	src := newRawSender(t, loop4, a.Addr())
	for i := range 3 {
		src.send(t, 1, uint16(i), 0)
	}
	time.Sleep(20 * time.Millisecond)
	if st := r.Stats().AtoB; st.Received != 0 {
		t.Fatalf("read before Start: %+v", st)
	}
	r.Start()
	waitFor(t, "datagrams sent before Start", func() bool { return r.Stats().AtoB.Forwarded == 3 })

	must(t, b.Close()) // under the running relay
	for i := range 5 {
		src.send(t, 1, uint16(10+i), 0)
	}
	waitFor(t, "sends to the closed port", func() bool { return r.Stats().AtoB.Received == 8 })
	if st := r.Stats().AtoB; st.Forwarded != 3 || st.SendFailed != 5 {
		t.Fatalf("after closing SideB's port: %+v", st)
	}
	other.exchange(t, 20)
}

// TestEngineRelayDoesNotAllocate counts the whole process's allocations
// while packets go through a worker, RTP in and SRTP out: the worker's
// round, the read, the checks, the encryption and the send allocate
// nothing.
func TestEngineRelayDoesNotAllocate(t *testing.T) {
	pool := enginePool(t, Engine{Workers: 1}, 1)
	a, err := pool.Allocate()
	must(t, err)
	b, err := pool.Allocate()
	must(t, err)
	r := NewRelay(a, b, nil)
	defer r.Close()
	src, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	must(t, err)
	defer src.Close()
	sink, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	must(t, err)
	defer sink.Close()
	suite := "AES_CM_128_HMAC_SHA1_80"
	must(t, r.SetLeg(SideA, LegConfig{Remote: src.LocalAddr().(*net.UDPAddr).AddrPort(), RestrictSources: true}))
	must(t, r.SetLeg(SideB, LegConfig{Remote: sink.LocalAddr().(*net.UDPAddr).AddrPort(),
		SRTP: &SRTPConfig{Suite: suite, LocalKey: newKey(t, suite), RemoteKey: newKey(t, suite)}}))
	r.Start()
	pkt, buf := rtpPacket(1, 7, 0), make([]byte, 2048)
	to := a.Addr()
	_ = sink.SetReadDeadline(time.Now().Add(time.Minute))
	seq := uint16(0)
	relay := func() {
		seq++
		binary.BigEndian.PutUint16(pkt[2:], seq)
		if _, err := src.WriteToUDPAddrPort(pkt, to); err != nil {
			t.Fatal(err)
		}
		if _, _, err := sink.ReadFromUDPAddrPort(buf); err != nil {
			t.Fatal(err)
		}
	}
	relay() // the SSRC's first packet creates pion's state for it
	if n := testing.AllocsPerRun(300, relay); n != 0 {
		t.Errorf("%v allocations per packet", n)
	}
}

// TestEngineOneSidedRelay starts relays whose ports are not both from
// the engine's pool: only SideB's port (SideA nil), and SideA's from a
// pool without engine. Each socket is read by its own pool's way.
func TestEngineOneSidedRelay(t *testing.T) {
	pool := enginePool(t, Engine{Workers: 1}, 2)
	plain, _ := newPool(t, loop4, 1)
	sink, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	must(t, err)
	defer sink.Close()
	for _, name := range []string{"nil SideA", "SideA without engine"} {
		t.Run(name, func(t *testing.T) {
			var a *Port
			if name != "nil SideA" {
				a, err = plain.Allocate()
				must(t, err)
			}
			b, err := pool.Allocate()
			must(t, err)
			r := NewRelay(a, b, nil)
			defer r.Close()
			must(t, r.SetLeg(SideA, LegConfig{Remote: sink.LocalAddr().(*net.UDPAddr).AddrPort()}))
			r.Start()
			src := newRawSender(t, loop4, b.Addr())
			src.send(t, 1, 1, 0)
			waitFor(t, "B to A", func() bool { return r.Stats().BtoA.Received == 1 })
			if a != nil {
				if st := r.Stats().BtoA; st.Forwarded != 1 {
					t.Fatalf("B to A: %+v", st)
				}
			}
		})
	}
}
