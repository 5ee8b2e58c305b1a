package media

import (
	"fmt"
	"net/netip"
	"time"
)

// Engine says how the relays on a PortPool's ports read their sockets
// (see "Engines" in the package documentation). The zero value is
// NewPortPool's: one goroutine per direction of each relay, woken by Go's
// netpoller for each packet, on every system. (A byocp.Bridge runs its
// pool on one worker unless configured otherwise.)
//
// With Workers > 0 on Linux, that many worker threads serve all the
// pool's sockets with epoll and recvmmsg, one wake-up for all the packets
// waiting. On other systems such a pool uses goroutines as with the zero
// value. On the 2-core development machine, 200 SRTP calls cost a third
// less CPU per packet on one worker than on goroutines, and 37% less with
// a 200 µs PollWindow (README.md, Performance).
type Engine struct {
	// Workers is the number of worker threads; 0 means one goroutine per
	// direction instead. One worker relays a few hundred calls; a worker
	// runs on one core at a time, so more are needed only when one core is
	// not enough, and more than GOMAXPROCS only add wake-ups. Each socket
	// goes to the worker that serves the fewest.
	Workers int
	// PollWindow makes a worker that has just read packets pause this
	// long before it looks again, so that what arrives meanwhile is read
	// in the same wake-up: fewer wake-ups, at the price of up to
	// PollWindow of latency per packet. 0 (the default) looks again at
	// once. At most MaxPollWindow.
	PollWindow time.Duration
}

// MaxPollWindow bounds Engine.PollWindow.
const MaxPollWindow = time.Millisecond

// Validate reports a negative Workers or a PollWindow out of range, with
// an error that wraps ErrBadEngine and names the field.
func (e Engine) Validate() error {
	switch {
	case e.Workers < 0:
		return fmt.Errorf("%w: Workers: %d is negative", ErrBadEngine, e.Workers)
	case e.PollWindow < 0 || e.PollWindow > MaxPollWindow:
		return fmt.Errorf("%w: PollWindow: %s is not within 0-%s", ErrBadEngine, e.PollWindow, MaxPollWindow)
	}
	return nil
}

// NewPortPoolEngine is NewPortPool for a pool whose relays run on engine.
// Errors wrap ErrBadPortRange or ErrBadEngine.
func NewPortPoolEngine(ip netip.Addr, min, max int, engine Engine) (*PortPool, error) {
	if err := engine.Validate(); err != nil {
		return nil, err
	}
	p, err := NewPortPool(ip, min, max)
	if err != nil {
		return nil, err
	}
	if engine.Workers > 0 {
		p.engine = newEngine(engine)
	}
	return p, nil
}
