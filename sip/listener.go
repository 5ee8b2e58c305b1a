package sip

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"
)

// streamListener is the TCP/TLS listener an Endpoint gives sipgo. Every
// connection is checked before anything is read from it: a refused source
// is closed at once (no TLS handshake, no parsing), and so is a connection
// beyond MaxConnections or MaxConnectionsPerSource. TLS handshakes run on
// their own goroutine under HandshakeTimeout, so a client that never sends
// a ClientHello costs one goroutine until the deadline and cannot block
// accepting. Connections handed to sipgo are closed after IdleTimeout
// without traffic unless they carry a call.
type streamListener struct {
	raw   net.Listener
	ep    *Endpoint
	tls   *tls.Config // nil for plain TCP
	ready chan net.Conn
	done  chan struct{}
	wg    sync.WaitGroup // accept loop and handshakes

	mu        sync.Mutex
	perSource map[netip.Addr]int
	total     int
	shaking   map[net.Conn]struct{} // TLS handshakes in progress
	closed    bool
	closeOnce sync.Once
}

func newStreamListener(raw net.Listener, ep *Endpoint, tlsConf *tls.Config) *streamListener {
	l := &streamListener{
		raw:       raw,
		ep:        ep,
		tls:       tlsConf,
		ready:     make(chan net.Conn),
		done:      make(chan struct{}),
		perSource: make(map[netip.Addr]int),
		shaking:   make(map[net.Conn]struct{}),
	}
	l.wg.Add(1)
	go l.acceptLoop()
	return l
}

// Accept returns the next connection that passed the checks (and, for TLS,
// its handshake).
func (l *streamListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ready:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// Close stops accepting, aborts handshakes in progress and waits for them.
// Connections already handed out are closed by their owner.
func (l *streamListener) Close() error {
	var err error
	l.closeOnce.Do(func() {
		l.mu.Lock()
		l.closed = true
		shaking := make([]net.Conn, 0, len(l.shaking))
		for c := range l.shaking {
			shaking = append(shaking, c)
		}
		l.mu.Unlock()
		for _, c := range shaking {
			_ = c.Close() // releases its slot, which takes l.mu
		}
		close(l.done)
		err = l.raw.Close()
		l.wg.Wait()
	})
	return err
}

// Addr is the listening address.
func (l *streamListener) Addr() net.Addr { return l.raw.Addr() }

func (l *streamListener) acceptLoop() {
	defer l.wg.Done()
	var backoff time.Duration
	for {
		c, err := l.raw.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: wait and retry, as
			// net/http does, rather than spinning or giving up.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			l.ep.log.Warn("accept failed", "error", err, "retry_in", backoff)
			select {
			case <-time.After(backoff):
				continue
			case <-l.done:
				return
			}
		}
		backoff = 0
		l.admit(c)
	}
}

// admit applies the source check and the connection caps, then hands the
// connection on (after its TLS handshake).
func (l *streamListener) admit(c net.Conn) {
	src := addrOf(c.RemoteAddr())
	if !l.ep.sourceAllowed(src) {
		l.ep.stats.refused.Add(1)
		l.ep.log.Debug("connection from refused source closed", "source", c.RemoteAddr().String())
		_ = c.Close()
		return
	}
	if !l.reserve(src) {
		l.ep.stats.connsRefused.Add(1)
		l.ep.log.Warn("connection refused: limit reached", "source", src.String(),
			"max_connections", l.ep.cfg.MaxConnections, "max_per_source", l.ep.cfg.MaxConnectionsPerSource)
		_ = c.Close()
		return
	}
	tc := &trackedConn{Conn: c, l: l, src: src, remote: c.RemoteAddr().String()}
	if l.tls == nil {
		l.handOver(tc)
		return
	}
	tlsConn := tls.Server(tc, l.tls)
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		_ = tlsConn.Close()
		return
	}
	l.shaking[tlsConn] = struct{}{}
	l.wg.Add(1)
	l.mu.Unlock()
	go l.handshake(tlsConn, tc)
}

// handshake completes a TLS handshake within HandshakeTimeout.
func (l *streamListener) handshake(c *tls.Conn, tc *trackedConn) {
	defer l.wg.Done()
	defer l.ep.recoverPanic("TLS handshake", "")
	ctx, cancel := context.WithTimeout(context.Background(), l.ep.cfg.HandshakeTimeout)
	err := c.HandshakeContext(ctx)
	cancel()
	l.mu.Lock()
	delete(l.shaking, c)
	l.mu.Unlock()
	if err != nil {
		l.ep.stats.handshakeFail.Add(1)
		l.ep.log.Info("TLS handshake failed", "source", tc.remote, "error", err)
		_ = c.Close()
		return
	}
	tc.tlsConn = c
	l.handOver(c) // closing c closes tc, which releases the slot
}

// handOver gives a connection to sipgo's accept loop, or closes it if the
// listener closes first.
func (l *streamListener) handOver(c net.Conn) {
	select {
	case l.ready <- c:
	case <-l.done:
		_ = c.Close()
	}
}

// reserve counts a new connection from src against the caps.
func (l *streamListener) reserve(src netip.Addr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	if limit := l.ep.cfg.MaxConnections; limit > 0 && l.total >= limit {
		return false
	}
	if limit := l.ep.cfg.MaxConnectionsPerSource; limit > 0 && l.perSource[src] >= limit {
		return false
	}
	l.total++
	l.perSource[src]++
	l.ep.stats.conns.Add(1)
	return true
}

func (l *streamListener) release(src netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if l.perSource[src]--; l.perSource[src] <= 0 {
		delete(l.perSource, src) // no state outlives a source's connections
	}
	l.ep.stats.conns.Add(-1)
}

// trackedConn is an accepted connection: it releases its slot when closed
// and ends itself after IdleTimeout without traffic unless a call uses it.
type trackedConn struct {
	net.Conn
	l       *streamListener
	src     netip.Addr
	remote  string
	tlsConn *tls.Conn // set once the handshake is done
	once    sync.Once
}

// Read reads with the idle timeout: when it expires and the endpoint has a
// pending call or a dialog on this connection, reading goes on; otherwise
// the connection reports EOF and sipgo closes it.
func (c *trackedConn) Read(b []byte) (int, error) {
	idle := c.l.ep.cfg.IdleTimeout
	// During a TLS handshake (tlsConn not set yet) the handshake deadline
	// rules; the reads are the handshake goroutine's own.
	armed := idle > 0 && (c.l.tls == nil || c.tlsConn != nil)
	for {
		if armed {
			_ = c.Conn.SetReadDeadline(time.Now().Add(idle))
		}
		n, err := c.Conn.Read(b)
		if err == nil || !armed || !isTimeout(err) {
			return n, err
		}
		if c.l.ep.flowInUse(c.remote) {
			continue
		}
		c.l.ep.stats.idleEnd.Add(1)
		c.l.ep.log.Debug("idle connection closed", "remote", c.remote, "idle", idle)
		return n, io.EOF
	}
}

// Close closes the connection and releases its slot once.
func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.src) })
	return err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// addrOf returns the IP of a net.Addr, IPv4-mapped addresses unmapped.
func addrOf(a net.Addr) netip.Addr {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.AddrPort().Addr().Unmap()
	case *net.UDPAddr:
		return a.AddrPort().Addr().Unmap()
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}
