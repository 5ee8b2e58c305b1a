package media

import (
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
)

// engine runs the relays of one PortPool on Engine.Workers worker
// threads. Each RTP and RTCP socket of the pool is registered on one
// worker, the one with the fewest, from Allocate until Port.Close;
// Relay.Start then tells that worker which stream reads it. A worker
// starts with its first socket and ends with its last, so an idle pool
// holds no thread.
type engine struct {
	cfg Engine

	mu      sync.Mutex // guards workers, their load, and every socket's w and slot
	workers []*worker  // nil where not running
}

func newEngine(cfg Engine) *engine {
	return &engine{cfg: cfg, workers: make([]*worker, cfg.Workers)}
}

// listen binds a socket on addr and registers it on a worker.
func (e *engine) listen(network string, addr netip.AddrPort) (udpConn, error) {
	s, err := listenSocket(network, addr)
	if err != nil {
		return nil, err
	}
	if err := e.register(s); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("media: engine: %w", err)
	}
	return s, nil
}

// register adds s to the epoll set of the worker with the fewest
// sockets, starting it if it does not run. The socket reports nothing
// until serve gives it a stream, so datagrams wait in it as they would
// for a goroutine not started yet.
func (e *engine) register(s *socket) error {
	e.mu.Lock()
	least, index := -1, 0 // a worker that does not run counts as serving nothing
	for i, w := range e.workers {
		load := 0
		if w != nil {
			load = w.load
		}
		if least < 0 || load < least {
			least, index = load, i
		}
	}
	w := e.workers[index]
	if w == nil {
		var err error
		if w, err = newWorker(e.cfg); err != nil {
			e.mu.Unlock()
			return err
		}
		e.workers[index] = w
	}
	w.load++
	s.engine, s.w = e, w
	var err error
	done := w.post(func() { s.slot, err = w.add(s) })
	e.mu.Unlock()
	<-done
	if err != nil {
		e.unregister(s)
	}
	return err
}

// serve makes s's worker read s and hand every datagram to st.forward,
// logging as name; it returns once the worker does. It does nothing on a
// closed socket.
func (e *engine) serve(s *socket, st stream, name string, logger *slog.Logger) {
	e.mu.Lock()
	w := s.w
	if w == nil {
		e.mu.Unlock()
		return
	}
	done := w.post(func() { w.serve(s.slot, st, name, logger) })
	e.mu.Unlock()
	<-done
}

// unregister takes s off its worker and returns when the worker no
// longer reads s nor runs its stream's forward. If s was the worker's
// last socket, the worker has ended when unregister returns.
func (e *engine) unregister(s *socket) {
	e.mu.Lock()
	w := s.w
	if w == nil {
		e.mu.Unlock()
		return
	}
	s.w = nil
	w.load--
	last := w.load == 0
	if last {
		for i := range e.workers {
			if e.workers[i] == w {
				e.workers[i] = nil
			}
		}
	}
	done := w.post(func() {
		w.remove(s.slot)
		w.stop = last
	})
	e.mu.Unlock()
	<-done
	if last {
		<-w.exited
	}
}
