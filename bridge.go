package byocp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/byocp/byocp/media"
	"github.com/byocp/byocp/peering"
	"github.com/byocp/byocp/sip"
	"github.com/byocp/byocp/trunk"
)

// Bridge is a BYOC-P session border controller: a back-to-back user agent
// between a carrier trunk and Zoom Phone, relaying media between plain RTP
// and SRTP. Create it with New; it serves until Close or, with Serve, until
// its context ends.
type Bridge struct {
	cfg     Config
	log     *slog.Logger
	trunk   *trunk.Trunk
	peering *peering.Peering
	ports   *media.PortPool

	ready  chan struct{}   // closed when New has finished; calls wait for it
	ctx    context.Context // cancelled by Close: every call hangs up
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	closed bool
	calls  int
	active map[*call]struct{} // calls being set up or answered, for Calls
	panics atomic.Uint64      // recovered in call goroutines

	closeOnce sync.Once
	closeErr  error
}

// New validates cfg, binds the carrier and Zoom listeners and the media
// port range, and starts accepting calls.
func New(cfg Config) (*Bridge, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.UnreachableStatus == 0 {
		cfg.UnreachableStatus = 503
	}
	cfg.MediaTimeout = orDefault(cfg.MediaTimeout, defaultMediaTimeout)
	cfg.HoldTimeout = orDefault(cfg.HoldTimeout, defaultHoldTimeout)
	b := &Bridge{cfg: cfg, log: cfg.Logger, ready: make(chan struct{})}
	b.ctx, b.cancel = context.WithCancel(context.Background())

	minP, maxP := cfg.Media.ports()
	ports, err := media.NewPortPoolEngine(cfg.Media.IP, minP, maxP, cfg.Media.engine())
	if err != nil {
		return nil, fmt.Errorf("%w: Media: %v", ErrConfig, err)
	}
	b.ports = ports
	if b.trunk, err = trunk.New(cfg.Trunk, sip.CallHandlerFunc(b.serveCarrier), cfg.Logger); err != nil {
		return nil, err
	}
	if b.peering, err = peering.New(cfg.Peering, sip.CallHandlerFunc(b.serveZoom), cfg.Logger); err != nil {
		_ = b.trunk.Close()
		return nil, err
	}
	close(b.ready)
	b.log.Info("bridge ready", "carrier", b.trunk.Addr().String(), "zoom", b.peering.Addr().String(),
		"media", fmt.Sprintf("%s:%d-%d", cfg.Media.IP, minP, maxP))
	return b, nil
}

// TrunkAddr is the SIP address the carrier sends calls to.
func (b *Bridge) TrunkAddr() netip.AddrPort { return b.trunk.Addr() }

// PeeringAddr is the SIP over TLS address Zoom sends calls to.
func (b *Bridge) PeeringAddr() netip.AddrPort { return b.peering.Addr() }

// ActiveCalls is the number of calls in progress (ringing or answered).
func (b *Bridge) ActiveCalls() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.calls
}

// MediaPortsInUse is the number of RTP ports held by calls.
func (b *Bridge) MediaPortsInUse() int { return b.ports.InUse() }

// Serve blocks until ctx ends, then closes the Bridge.
func (b *Bridge) Serve(ctx context.Context) error {
	select {
	case <-ctx.Done():
	case <-b.ctx.Done():
	}
	return b.Close()
}

// Close ends every call (BYE on both legs of answered calls, a final
// response to unanswered ones), then releases every socket and port. It
// waits for the calls to finish and is safe to call more than once.
func (b *Bridge) Close() error {
	b.closeOnce.Do(func() {
		b.mu.Lock()
		b.closed = true
		b.mu.Unlock()
		b.cancel()
		b.wg.Wait()
		b.closeErr = errors.Join(b.trunk.Close(), b.peering.Close())
		b.log.Info("bridge closed")
	})
	return b.closeErr
}

// admit registers a new call; it refuses when closing or at MaxCalls.
func (b *Bridge) admit() (ok bool, overloaded bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return false, false
	}
	if b.cfg.MaxCalls > 0 && b.calls >= b.cfg.MaxCalls {
		return false, true
	}
	b.calls++
	b.wg.Add(1)
	return true, false
}

func (b *Bridge) release() {
	b.mu.Lock()
	b.calls--
	b.mu.Unlock()
	b.wg.Done()
}

func (b *Bridge) serveCarrier(in *sip.ServerCall) { b.serve(in, CarrierToZoom) }
func (b *Bridge) serveZoom(in *sip.ServerCall)    { b.serve(in, ZoomToCarrier) }

func (b *Bridge) serve(in *sip.ServerCall, dir Direction) {
	// A call can arrive between a listener starting and New returning.
	select {
	case <-b.ready:
	case <-in.Context().Done():
		return
	}
	ok, overloaded := b.admit()
	if !ok {
		reason := "Service Unavailable"
		if overloaded {
			b.log.Warn("call refused: MaxCalls reached", "max_calls", b.cfg.MaxCalls)
		}
		_ = in.Reject(503, reason, sip.Header{Name: "Retry-After", Value: "5"})
		return
	}
	c := newCall(b, in, dir)
	b.mu.Lock()
	if b.active == nil {
		b.active = make(map[*call]struct{})
	}
	b.active[c] = struct{}{}
	b.mu.Unlock()
	b.runCall(c)
	b.mu.Lock()
	delete(b.active, c)
	b.mu.Unlock()
	b.release()
	// Reported after release: the call no longer counts and its ports are free.
	if b.cfg.OnCallEnd != nil {
		b.cfg.OnCallEnd(c.rec)
	}
}

// runCall runs one call and survives its panic: the call's deferred
// cleanup (relay, ports) has run by then, the caller gets 500 if it had no
// final response yet, and the panic is logged and counted.
func (b *Bridge) runCall(c *call) {
	defer func() {
		if v := recover(); v != nil {
			b.panics.Add(1)
			c.log.Error("panic in call, call ended", "panic", fmt.Sprint(v), "carrier_call_id", c.rec.CarrierCallID,
				"zoom_call_id", c.rec.ZoomCallID, "stack", string(debug.Stack()))
			_ = c.in.Reject(500, "Server Internal Error")
			c.rec.Status, c.rec.Reason = 500, fmt.Sprintf("internal error: %v", v)
		}
	}()
	c.run()
}

// Stats are a Bridge's counters of refused, malformed and survived input.
type Stats struct {
	Carrier sip.EndpointStats // the carrier side's SIP endpoint
	Zoom    sip.EndpointStats // the Zoom side's SIP endpoint
	// CallPanics counts panics recovered in call goroutines: each ended
	// its call and nothing else.
	CallPanics uint64
}

// Stats returns the Bridge's counters.
func (b *Bridge) Stats() Stats {
	return Stats{Carrier: b.trunk.Stats(), Zoom: b.peering.Stats(), CallPanics: b.panics.Load()}
}

// orDefault returns def for zero, zero (disabled) for negative, v otherwise.
func orDefault(v, def time.Duration) time.Duration {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}
