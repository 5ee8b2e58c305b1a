package media

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
)

// Relay moves RTP between two Ports, decrypting and encrypting SRTP per
// leg. Header fields (SSRC, sequence number, timestamp, payload type) and
// payload bytes are forwarded as received.
type Relay struct {
	ports  [2]*Port
	legs   [2]atomic.Pointer[legState]
	pipes  [2]*pipe // indexed by ingress side
	logger *slog.Logger

	setMu sync.Mutex // serialises SetLeg

	mu        sync.Mutex // guards started and closed
	started   bool
	closed    atomic.Bool
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// NewRelay returns a Relay between ports a (SideA) and b (SideB). It takes
// ownership of both ports: Close closes them. Until SetLeg gives a side a
// remote address, packets towards that side are dropped. A nil logger
// discards logs.
func NewRelay(a, b *Port, logger *slog.Logger) *Relay {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	r := &Relay{ports: [2]*Port{a, b}, logger: logger}
	r.pipes[SideA] = newPipe(a, b, &r.legs[SideA], &r.legs[SideB])
	r.pipes[SideB] = newPipe(b, a, &r.legs[SideB], &r.legs[SideA])
	return r
}

// SetLeg (re)configures one side. It can be called at any time, before or
// after Start, and repeatedly: typically once with only LocalKey when our
// offer is built, and again when the answer brings Remote and RemoteKey.
// The new configuration replaces the old one atomically. Keys that are
// unchanged keep their SRTP context (rollover counter, replay window);
// changed keys start a fresh one. Errors wrap ErrBadSide,
// ErrUnsupportedSuite, ErrBadKey or ErrBadRemote, and leave the previous
// configuration in place.
func (r *Relay) SetLeg(side Side, cfg LegConfig) error {
	if side != SideA && side != SideB {
		return fmt.Errorf("%w: %d", ErrBadSide, int(side))
	}
	r.setMu.Lock()
	defer r.setMu.Unlock()
	var local netip.Addr
	if p := r.ports[side]; p != nil {
		local = p.pool.ip
	}
	st, err := newLegState(cfg, r.legs[side].Load(), local)
	if err != nil {
		return fmt.Errorf("media: leg %s: %w", side, err)
	}
	r.legs[side].Store(st)
	suite := "none"
	if st.srtp != nil {
		suite = st.srtp.suite
	}
	r.logger.Debug("media leg configured", "side", side.String(), "remote", st.remote,
		"srtp", suite, "remoteKey", st.srtp != nil && st.srtp.dec != nil)
	return nil
}

// Start launches exactly one reader goroutine per side. Each reads
// datagrams from its side's RTP socket; drops what is not RTP (shorter than
// 12 bytes, version != 2, bad header) and SRTP packets that fail
// authentication, counting them; decrypts if its side is SRTP, encrypts if
// the other side is SRTP; and writes to the other side's remote from the
// other side's socket. Start after Start or Close does nothing.
func (r *Relay) Start() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started || r.closed.Load() {
		return
	}
	r.started = true
	for _, p := range r.pipes {
		if p.in != nil {
			r.wg.Add(1)
			go r.run(p)
		}
	}
	r.logger.Debug("media relay started", "a", r.ports[SideA], "b", r.ports[SideB])
}

// Close stops both reader goroutines by closing the ports' sockets, waits
// for them, and returns the port numbers to their pool. It is idempotent
// and safe to call concurrently with Start and SetLeg.
func (r *Relay) Close() error {
	r.closeOnce.Do(func() {
		r.mu.Lock()
		r.closed.Store(true)
		r.mu.Unlock()
		var errs []error
		for i, p := range r.ports {
			if p != nil && (i == 0 || p != r.ports[0]) {
				errs = append(errs, p.Close())
			}
		}
		r.wg.Wait()
		r.closeErr = errors.Join(errs...)
		st := r.Stats()
		r.logger.Debug("media relay closed", "atob", st.AtoB, "btoa", st.BtoA)
	})
	return r.closeErr
}

// Stats returns the packet counters of both directions.
func (r *Relay) Stats() Stats {
	return Stats{AtoB: r.pipes[SideA].stats.snapshot(), BtoA: r.pipes[SideB].stats.snapshot()}
}

// run is the reader goroutine of one side.
func (r *Relay) run(p *pipe) {
	defer r.wg.Done()
	for {
		n, err := p.in.rtp.Read(p.buf)
		if err != nil {
			if r.closed.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			r.logger.Debug("media read failed", "port", p.in, "err", err)
			continue
		}
		if n >= len(p.buf) { // possibly truncated
			p.stats.notRTP.Add(1)
			p.stats.received.Add(1)
			continue
		}
		p.forward(p.buf[:n])
	}
}
