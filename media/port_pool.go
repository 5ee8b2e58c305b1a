package media

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
)

// PortPool hands out local UDP ports for media from a configured range.
// Each allocation is an even RTP port and its RTCP neighbour (port+1),
// both bound on the pool's address. It is safe for concurrent use.
type PortPool struct {
	ip      netip.Addr
	network string
	first   int     // lowest even RTP port in the range
	engine  *engine // runs the relays on the pool's ports; nil: one goroutine per direction

	mu    sync.Mutex
	used  []bool // indexed by (port-first)/2
	next  int    // slot where the next search starts
	inUse int
}

// NewPortPool binds on ip (e.g. 127.0.0.1, ::1, 0.0.0.0) and serves even
// RTP ports in [min, max]; the RTCP socket is port+1, so max-min must be
// >= 1. Errors name the problem and wrap ErrBadPortRange.
func NewPortPool(ip netip.Addr, min, max int) (*PortPool, error) {
	if !ip.IsValid() {
		return nil, fmt.Errorf("%w: no IP address", ErrBadPortRange)
	}
	if min < 1 || max > 65535 || max < min {
		return nil, fmt.Errorf("%w: [%d, %d] is not within [1, 65535]", ErrBadPortRange, min, max)
	}
	first := min + min%2
	if first+1 > max {
		return nil, fmt.Errorf("%w: [%d, %d] holds no even port with an RTCP neighbour", ErrBadPortRange, min, max)
	}
	ip = ip.Unmap()
	network := "udp4"
	switch {
	case ip == netip.IPv6Unspecified():
		network = "udp" // dual stack
	case ip.Is6():
		network = "udp6"
	}
	return &PortPool{
		ip:      ip,
		network: network,
		first:   first,
		used:    make([]bool, (max-first+1)/2),
	}, nil
}

// Allocate binds the next free even port and its RTCP neighbour (port+1),
// skipping ports that the operating system refuses (in use by something
// else) and cycling through the range. It returns an error wrapping
// ErrNoPorts when no pair is free. Safe for concurrent use.
func (p *PortPool) Allocate() (*Port, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for range p.used {
		slot := p.next
		p.next = (p.next + 1) % len(p.used)
		if p.used[slot] {
			continue
		}
		number := p.first + 2*slot
		rtp, err := p.listenRTP(number)
		if err != nil {
			continue
		}
		rtcp, err := p.listenRTP(number + 1)
		if err != nil {
			_ = rtp.Close()
			continue
		}
		p.used[slot] = true
		p.inUse++
		return &Port{pool: p, number: number, rtp: rtp, rtcp: rtcp}, nil
	}
	return nil, fmt.Errorf("%w: %d-%d on %s", ErrNoPorts, p.first, p.first+2*len(p.used)-1, p.ip)
}

// InUse reports how many ports are currently allocated, counting RTP
// ports (one per Port).
func (p *PortPool) InUse() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.inUse
}

func (p *PortPool) listen(port int) (*net.UDPConn, error) {
	return net.ListenUDP(p.network, net.UDPAddrFromAddrPort(netip.AddrPortFrom(p.ip, uint16(port))))
}

// listenRTP binds a media socket (RTP or RTCP): on the pool's engine if
// it has one.
func (p *PortPool) listenRTP(port int) (udpConn, error) {
	if p.engine != nil {
		return p.engine.listen(p.network, netip.AddrPortFrom(p.ip, uint16(port)))
	}
	return p.listen(port)
}

func (p *PortPool) release(number int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	slot := (number - p.first) / 2
	if p.used[slot] {
		p.used[slot] = false
		p.inUse--
	}
}

// Port is one allocated media port pair: the RTP socket on an even port
// and the RTCP socket on the next one.
type Port struct {
	pool   *PortPool
	number int
	rtp    udpConn
	rtcp   udpConn

	closeOnce sync.Once
	closeErr  error
}

// Number returns the RTP port number, the one to put in an SDP m= line.
func (p *Port) Number() int { return p.number }

// Addr returns the bound RTP address.
func (p *Port) Addr() netip.AddrPort {
	return netip.AddrPortFrom(p.pool.ip, uint16(p.number))
}

// Close closes both sockets and returns the number to the pool. It is
// idempotent; only the first call can return an error.
func (p *Port) Close() error {
	p.closeOnce.Do(func() {
		p.closeErr = errors.Join(p.rtp.Close(), p.rtcp.Close())
		p.pool.release(p.number)
	})
	return p.closeErr
}

// udpConn is a Port's RTP socket as the relays write to it: a
// *net.UDPConn, which a pump goroutine reads, or on a pool with an engine
// a *socket, which a worker reads.
type udpConn interface {
	WriteToUDPAddrPort(b []byte, addr netip.AddrPort) (int, error)
	Close() error
}

// String returns the bound RTP address.
func (p *Port) String() string { return p.Addr().String() }
