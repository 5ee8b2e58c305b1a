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

// stream is one direction of a relay as a pump or an engine runs it: the
// port it reads, its receive buffer (owned by the one reader goroutine, so
// that nothing is allocated per datagram; an engine reads into its own),
// what it does with each datagram, and where it counts a recovered panic.
type stream interface {
	socket() udpConn // nil: nothing to read
	buffer() []byte
	forward(pkt []byte, from netip.AddrPort)
	notePanic()
}

// servedConn is a socket that an engine's worker reads (socket_linux.go):
// serve hands it the stream, instead of a goroutine of the pump's. Each
// socket knows its own pool's engine, so a relay may join ports of pools
// with and without one.
type servedConn interface {
	serve(s stream, name string, logger *slog.Logger)
}

// pump is the life cycle the relays share: one reader per direction,
// started once, and stopped by closing the ports. The reader is a
// goroutine of the pump's, or, for a port of a pool with an engine, the
// engine's worker (engine_linux.go); closing the port takes it off the
// worker. A panic while handling a datagram is logged and counted, and
// the reader goes on, so one bad datagram never stops a call's media.
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
func (p *pump) start(streams ...stream) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.started || p.closed.Load() {
		return
	}
	p.started = true
	for _, s := range streams {
		switch conn := s.socket().(type) {
		case nil:
		case *net.UDPConn:
			p.wg.Add(1)
			go p.run(s, conn)
		case servedConn: // a socket of its pool's engine: a worker reads it
			conn.serve(s, p.name, p.logger)
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

func (p *pump) run(s stream, conn *net.UDPConn) {
	defer p.wg.Done()
	for !p.serve(s, conn) {
	}
}

// serve reads and forwards until the port closes (true), or until handling
// a datagram panics (false). The recover is set up once per serve, not per
// datagram.
func (p *pump) serve(s stream, in *net.UDPConn) (closed bool) {
	buf := s.buffer()
	defer func() {
		if v := recover(); v != nil {
			s.notePanic()
			p.logger.Error("panic in "+p.name+" recovered", "port", in.LocalAddr().String(), "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			closed = false
		}
	}()
	for {
		n, from, err := in.ReadFromUDPAddrPort(buf)
		if err != nil {
			if p.closed.Load() || errors.Is(err, net.ErrClosed) {
				return true
			}
			p.logger.Debug(p.name+" read failed", "port", in.LocalAddr().String(), "err", err)
			continue
		}
		s.forward(buf[:n], from)
	}
}
