package media

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime/debug"
	"sync"
	"sync/atomic"
)

// stream is one direction of a relay as a pump runs it: the port it reads,
// its receive buffer (owned by the one reader goroutine, so that nothing
// is allocated per datagram), what it does with each datagram, and where
// it counts a recovered panic.
type stream interface {
	input() *Port
	buffer() []byte
	forward(pkt []byte, from netip.AddrPort)
	notePanic()
}

// pump is the life cycle the relays share: one reader goroutine per
// direction, started once, and stopped by closing the ports. A panic while
// handling a datagram is logged and counted, and the reader goes on, so
// one bad datagram never stops a call's media.
type pump struct {
	name   string // "media relay", "UDPTL relay": for logs
	ports  [2]*Port
	logger *slog.Logger

	mu        sync.Mutex // guards started and closed
	started   bool
	closed    atomic.Bool
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// start launches a reader for each stream with a port; a second start, or
// one after close, does nothing.
func (p *pump) start(streams [2]stream) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.started || p.closed.Load() {
		return
	}
	p.started = true
	for _, s := range streams {
		if s.input() != nil {
			p.wg.Add(1)
			go p.run(s)
		}
	}
	p.logger.Debug(p.name+" started", "a", p.ports[SideA], "b", p.ports[SideB])
}

// close closes the ports (their numbers go back to the pool), which ends
// the readers, and waits for them. It is idempotent; done runs once, after
// the readers have stopped.
func (p *pump) close(done func()) error {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.closed.Store(true)
		p.mu.Unlock()
		var errs []error
		for i, port := range p.ports {
			if port != nil && (i == 0 || port != p.ports[0]) {
				errs = append(errs, port.Close())
			}
		}
		p.wg.Wait()
		p.closeErr = errors.Join(errs...)
		done()
	})
	return p.closeErr
}

func (p *pump) run(s stream) {
	defer p.wg.Done()
	for !p.serve(s) {
	}
}

// serve reads and forwards until the port closes (true), or until handling
// a datagram panics (false). The recover is set up once per serve, not per
// datagram.
func (p *pump) serve(s stream) (closed bool) {
	in, buf := s.input(), s.buffer()
	defer func() {
		if v := recover(); v != nil {
			s.notePanic()
			p.logger.Error("panic in "+p.name+" recovered", "port", in, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			closed = false
		}
	}()
	for {
		n, from, err := in.rtp.ReadFromUDPAddrPort(buf)
		if err != nil {
			if p.closed.Load() || errors.Is(err, net.ErrClosed) {
				return true
			}
			p.logger.Debug(p.name+" read failed", "port", in, "err", err)
			continue
		}
		s.forward(buf[:n], from)
	}
}
