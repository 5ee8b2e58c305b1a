package media

import (
	crand "crypto/rand"
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/byocp/byocp/internal/mediapeer"
)

var (
	loop4 = netip.MustParseAddr("127.0.0.1")
	loop6 = netip.MustParseAddr("::1")
)

// ips returns the loopback addresses this host can bind.
func ips(t testing.TB) []netip.Addr {
	out := []netip.Addr{loop4}
	if c, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback}); err == nil {
		_ = c.Close()
		out = append(out, loop6)
	} else {
		t.Logf("no IPv6 loopback: %v", err)
	}
	return out
}

// freeRange returns an even base such that ports [base, base+2*pairs) on
// ip could all be bound a moment ago.
func freeRange(t testing.TB, ip netip.Addr, pairs int) int {
	t.Helper()
	for range 100 {
		base := 20000 + 2*rand.IntN(15000)
		var conns []*net.UDPConn
		for port := base; port < base+2*pairs; port++ {
			c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, uint16(port))))
			if err != nil {
				break
			}
			conns = append(conns, c)
		}
		for _, c := range conns {
			_ = c.Close()
		}
		if len(conns) == 2*pairs {
			return base
		}
	}
	t.Fatal("no free port range")
	return 0
}

// testEngine is the Engine of the pools newPool makes: TestEngine runs
// the relay tests again with one.
var testEngine Engine

func newPool(t testing.TB, ip netip.Addr, pairs int) (*PortPool, int) {
	t.Helper()
	base := freeRange(t, ip, pairs)
	pool, err := NewPortPoolEngine(ip, base, base+2*pairs-1, testEngine)
	if err != nil {
		t.Fatal(err)
	}
	return pool, base
}

func newKey(t testing.TB, suite string) []byte {
	t.Helper()
	n, err := SuiteKeyLen(suite)
	if err != nil {
		t.Fatal(err)
	}
	k := make([]byte, n)
	_, _ = crand.Read(k)
	return k
}

// waitFor polls cond; the deadline only guards against a hang.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// call is a started Relay between a carrier peer (SideA, stream 1) and a
// Zoom peer (SideB, stream 2), each expecting the other's stream.
type call struct {
	pool          *PortPool
	relay         *Relay
	carrier, zoom *mediapeer.Peer
}

func newCall(t testing.TB, ip netip.Addr) *call {
	t.Helper()
	c := &call{}
	c.pool, _ = newPool(t, ip, 2)
	a, err := c.pool.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.pool.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	c.relay = NewRelay(a, b, nil)
	t.Cleanup(func() { _ = c.relay.Close() })
	for _, p := range []**mediapeer.Peer{&c.carrier, &c.zoom} {
		if *p, err = mediapeer.Listen(ip); err != nil {
			t.Fatal(err)
		}
		peer := *p
		t.Cleanup(func() { _ = peer.Close() })
	}
	c.carrier.ExpectStream(2)
	c.zoom.ExpectStream(1)
	c.relay.Start()
	return c
}

// configure keys SideB (and the Zoom peer) with suite, or plain if "".
func (c *call) configure(t testing.TB, suite string) {
	t.Helper()
	var relayB *SRTPConfig
	var zoomKeys *mediapeer.Keys
	if suite != "" {
		ours, theirs := newKey(t, suite), newKey(t, suite)
		relayB = &SRTPConfig{Suite: suite, LocalKey: ours, RemoteKey: theirs}
		zoomKeys = &mediapeer.Keys{Suite: suite, LocalKey: theirs, RemoteKey: ours}
	}
	must(t, c.relay.SetLeg(SideA, LegConfig{Remote: c.carrier.Addr()}))
	must(t, c.relay.SetLeg(SideB, LegConfig{Remote: c.zoom.Addr(), SRTP: relayB}))
	must(t, c.carrier.Configure(c.relay.ports[SideA].Addr(), nil, 0, 1))
	must(t, c.zoom.Configure(c.relay.ports[SideB].Addr(), zoomKeys, 0, 2))
}

// exchange sends n packets each way and checks that all arrive intact.
func (c *call) exchange(t testing.TB, n int) {
	t.Helper()
	c0, z0 := c.carrier.Stats(), c.zoom.Stats()
	errs := make(chan error, 2)
	for _, p := range []*mediapeer.Peer{c.carrier, c.zoom} {
		go func() { errs <- p.Send(t.Context(), n, 200*time.Microsecond) }()
	}
	must(t, <-errs)
	must(t, <-errs)
	want := uint64(n)
	waitFor(t, "packets", func() bool {
		return c.carrier.Stats().Received-c0.Received >= want && c.zoom.Stats().Received-z0.Received >= want
	})
	c1, z1 := c.carrier.Stats(), c.zoom.Stats()
	if c1.Intact-c0.Intact != want || z1.Intact-z0.Intact != want || c1.Corrupt+z1.Corrupt+c1.AuthFailed+z1.AuthFailed != 0 {
		t.Fatalf("want %d intact each way\ncarrier %+v\nzoom    %+v\nrelay   %+v", n, c1, z1, c.relay.Stats())
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
