package media

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
)

func TestNewPortPoolErrors(t *testing.T) {
	for _, r := range [][2]int{{0, 10}, {10, 10}, {11, 12}, {20, 10}, {65534, 65536}, {-4, 10}} {
		if _, err := NewPortPool(loop4, r[0], r[1]); !errors.Is(err, ErrBadPortRange) {
			t.Errorf("NewPortPool(%v): %v", r, err)
		}
	}
	if _, err := NewPortPool(netip.Addr{}, 10000, 10001); !errors.Is(err, ErrBadPortRange) {
		t.Errorf("no IP: %v", err)
	}
	if _, err := NewPortPool(loop4, 11, 13); err != nil { // odd min: 12/13
		t.Errorf("[11, 13]: %v", err)
	}
}

func TestPortPool(t *testing.T) {
	for _, ip := range ips(t) {
		t.Run(ip.String(), func(t *testing.T) {
			pool, base := newPool(t, ip, 3)
			var ports []*Port
			for i := range 3 {
				p, err := pool.Allocate()
				must(t, err)
				if p.Number() != base+2*i || p.Number()%2 != 0 || p.Addr() != netip.AddrPortFrom(ip, uint16(p.Number())) {
					t.Fatalf("allocation %d: port %d (%s), base %d", i, p.Number(), p.Addr(), base)
				}
				// Both the RTP port and its RTCP neighbour are bound.
				for _, port := range []int{p.Number(), p.Number() + 1} {
					if c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, uint16(port)))); err == nil {
						_ = c.Close()
						t.Fatalf("port %d is not bound", port)
					}
				}
				ports = append(ports, p)
			}
			if _, err := pool.Allocate(); !errors.Is(err, ErrNoPorts) {
				t.Fatalf("exhausted pool: %v", err)
			}
			if pool.InUse() != 3 {
				t.Fatalf("InUse = %d", pool.InUse())
			}
			must(t, ports[1].Close())
			must(t, ports[1].Close()) // idempotent
			if pool.InUse() != 2 {
				t.Fatalf("InUse after Close = %d", pool.InUse())
			}
			p, err := pool.Allocate()
			must(t, err)
			if p.Number() != ports[1].Number() {
				t.Fatalf("got %d, want the returned %d", p.Number(), ports[1].Number())
			}
			for _, p := range append(ports, p) {
				_ = p.Close()
			}
			if pool.InUse() != 0 {
				t.Fatalf("InUse after closing all = %d", pool.InUse())
			}
		})
	}
}

func TestPortPoolSkipsPortsInUse(t *testing.T) {
	for _, held := range []int{0, 1} { // the RTP port, then the RTCP port
		pool, base := newPool(t, loop4, 2)
		c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(loop4, uint16(base+held))))
		must(t, err)
		p, err := pool.Allocate()
		must(t, err)
		if p.Number() != base+2 {
			t.Errorf("held %d: got port %d, want %d", base+held, p.Number(), base+2)
		}
		if _, err := pool.Allocate(); !errors.Is(err, ErrNoPorts) {
			t.Errorf("held %d: %v", base+held, err)
		}
		_ = c.Close()
		p2, err := pool.Allocate() // the freed pair is found again, cycling
		must(t, err)
		if p2.Number() != base {
			t.Errorf("after release got %d, want %d", p2.Number(), base)
		}
		_, _ = p.Close(), p2.Close()
	}
}

func TestPortPoolConcurrent(t *testing.T) {
	const workers, each = 8, 4
	pool, _ := newPool(t, loop4, workers*each)
	var mu sync.Mutex
	seen := map[int]bool{}
	var all []*Port
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				p, err := pool.Allocate()
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if seen[p.Number()] || p.Number()%2 != 0 {
					t.Errorf("port %d handed out twice or odd", p.Number())
				}
				seen[p.Number()] = true
				all = append(all, p)
				mu.Unlock()
				_ = pool.InUse()
			}
		})
	}
	wg.Wait()
	if pool.InUse() != workers*each {
		t.Fatalf("InUse = %d", pool.InUse())
	}
	for _, p := range all {
		wg.Go(func() { _ = p.Close() })
	}
	wg.Wait()
	if pool.InUse() != 0 {
		t.Fatalf("InUse after Close = %d", pool.InUse())
	}
}
