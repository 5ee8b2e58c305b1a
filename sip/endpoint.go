package sip

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// Networks an Endpoint can listen on.
const (
	NetworkUDP = "udp"
	NetworkTCP = "tcp"
	NetworkTLS = "tls"
)

// allowMethods is the Allow header value for every response that carries one.
const allowMethods = "INVITE, ACK, CANCEL, BYE, OPTIONS, PRACK, UPDATE, INFO, REFER, NOTIFY"

// CallHandler receives incoming calls. ServeCall runs on its own goroutine
// and should answer, reject or let the call be cancelled; it may return at
// any time, the call lives on until it is hung up.
type CallHandler interface {
	ServeCall(call *ServerCall)
}

// CallHandlerFunc adapts a function to CallHandler.
type CallHandlerFunc func(call *ServerCall)

// ServeCall calls f(call).
func (f CallHandlerFunc) ServeCall(call *ServerCall) { f(call) }

// EndpointConfig configures an Endpoint. The zero value listens on UDP on a
// free loopback port and rejects every call with 480.
type EndpointConfig struct {
	// Name labels the endpoint in logs (e.g. "carrier", "zoom").
	Name string
	// Network is "udp" (default), "tcp" or "tls".
	Network string
	// Listen is the local host:port to listen on; port 0 picks a free port.
	// Default "127.0.0.1:0".
	Listen string
	// AdvertiseHost is the host written into Via and Contact. Default: the
	// listen IP; required when listening on an unspecified address.
	AdvertiseHost string
	// TLS is used for accepted connections when Network is "tls", and for
	// dialled ones too unless DialTLS is set.
	TLS *tls.Config
	// DialTLS, if set, is used for connections this endpoint dials when
	// Network is "tls" (for example with a client certificate and a
	// verification policy of its own).
	DialTLS *tls.Config
	// Handler receives new incoming calls; nil rejects them with 480.
	Handler CallHandler
	// AcceptSource decides whether src may use this endpoint; nil accepts
	// every source. It runs before anything else: on UDP before a datagram
	// is parsed, on TCP and TLS when a connection is accepted, before the
	// TLS handshake. Refused datagrams are dropped without an answer and
	// refused connections closed; both are counted in Stats().Refused. It
	// must be cheap and safe for concurrent use.
	AcceptSource func(src netip.Addr) bool
	// Limits bounds what strangers and idle connections may cost.
	Limits
	// AnswerTimeout bounds how long an incoming INVITE may stay unanswered
	// before it is rejected with 408. Default 3 minutes.
	AnswerTimeout time.Duration
	// RequestTimeout bounds how long an in-dialog request handed to the
	// dialog's owner (see TakeRequests) may stay unanswered before the
	// dialog answers it 500. Default 30 s, under the peer's 32 s
	// transaction timeout.
	RequestTimeout time.Duration
	// UserAgent is sent in User-Agent and Server headers; default "byocp".
	UserAgent string
	// Logger receives the endpoint's logs; default slog.Default().
	Logger *slog.Logger
}

// Limits bounds what strangers, stalled handshakes and idle connections may
// cost an Endpoint. The zero value gives the defaults below.
type Limits struct {
	// ReplyToRefused answers a refused UDP request with 403 Forbidden
	// instead of dropping it silently. Silence is the safer default: an
	// answer confirms to a scanner that a SIP server is there.
	ReplyToRefused bool
	// HandshakeTimeout bounds the TLS handshake of an accepted connection;
	// default 5 s.
	HandshakeTimeout time.Duration
	// IdleTimeout closes an accepted TCP/TLS connection that has carried no
	// traffic for this long while no call (ringing or answered) uses it;
	// default 3 minutes, negative disables it.
	IdleTimeout time.Duration
	// MaxConnections bounds the accepted TCP/TLS connections open at once;
	// default 4096, negative means no limit. Further connections are
	// closed at accept.
	MaxConnections int
	// MaxConnectionsPerSource bounds the accepted TCP/TLS connections open
	// at once from one IP address; default 256, negative means no limit.
	MaxConnectionsPerSource int
}

// Endpoint is one SIP user agent: a listener, a client and a dialog table.
type Endpoint struct {
	cfg     EndpointConfig
	network string // upper case, as sipgo writes it: "UDP", "TCP", "TLS"
	log     *slog.Logger
	ua      *sipgo.UserAgent
	srv     *sipgo.Server
	client  *sipgo.Client
	parser  *sip.Parser

	addr     netip.AddrPort // bound listen address
	host     string         // advertised host
	udpConn  net.PacketConn // UDP listener, for stateless replies
	listener net.Listener   // TCP or TLS listener

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	stats  counters
	order  orderBook // provisional responses per INVITE being placed, in arrival order

	mu      sync.Mutex
	closed  bool
	dialogs map[dialogKey]*dialog
	pending map[*ServerCall]struct{}
	// Early dialogs: of incoming calls still ringing, by (Call-ID, our To
	// tag, caller's tag); of INVITEs being placed, by (Call-ID, our tag).
	early    map[dialogKey]*ServerCall
	earlyOut map[earlyOutKey]*earlyRoute
	flows    map[string]int // calls per connection (remote address), TCP/TLS only
}

// Listen validates cfg, binds the listener and starts serving.
func Listen(cfg EndpointConfig) (*Endpoint, error) {
	if cfg.Network == "" {
		cfg.Network = NetworkUDP
	}
	cfg.Network = strings.ToLower(cfg.Network)
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.AnswerTimeout <= 0 {
		cfg.AnswerTimeout = 3 * time.Minute
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 30 * time.Second
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "byocp"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = 5 * time.Second
	}
	cfg.IdleTimeout = defaultOr(cfg.IdleTimeout, 3*time.Minute)
	cfg.MaxConnections = defaultOr(cfg.MaxConnections, 4096)
	cfg.MaxConnectionsPerSource = defaultOr(cfg.MaxConnectionsPerSource, 256)
	switch cfg.Network {
	case NetworkUDP, NetworkTCP:
	case NetworkTLS:
		if cfg.TLS == nil {
			return nil, configError("TLS", "required for network tls")
		}
	default:
		return nil, configError("Network", fmt.Sprintf("%q is not udp, tcp or tls", cfg.Network))
	}
	listenAP, err := netip.ParseAddrPort(cfg.Listen)
	if err != nil {
		return nil, configError("Listen", fmt.Sprintf("%q is not an IP:port: %v", cfg.Listen, err))
	}

	e := &Endpoint{
		cfg:      cfg,
		network:  strings.ToUpper(cfg.Network),
		log:      cfg.Logger.With("sip", cfg.Name),
		parser:   sip.NewParser(),
		dialogs:  make(map[dialogKey]*dialog),
		pending:  make(map[*ServerCall]struct{}),
		early:    make(map[dialogKey]*ServerCall),
		earlyOut: make(map[earlyOutKey]*earlyRoute),
		flows:    make(map[string]int),
	}

	switch cfg.Network {
	case NetworkUDP:
		c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(listenAP))
		if err != nil {
			return nil, fmt.Errorf("sip: listen %s udp: %w", cfg.Listen, err)
		}
		e.udpConn = c
		e.addr = c.LocalAddr().(*net.UDPAddr).AddrPort()
	case NetworkTCP, NetworkTLS:
		l, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(listenAP))
		if err != nil {
			return nil, fmt.Errorf("sip: listen %s %s: %w", cfg.Listen, cfg.Network, err)
		}
		e.addr = l.Addr().(*net.TCPAddr).AddrPort()
		var serverTLS *tls.Config
		if cfg.Network == NetworkTLS {
			serverTLS = cfg.TLS
		}
		e.listener = newStreamListener(l, e, serverTLS)
	}
	e.addr = netip.AddrPortFrom(e.addr.Addr().Unmap(), e.addr.Port())

	e.host = cfg.AdvertiseHost
	if e.host == "" {
		if listenAP.Addr().IsUnspecified() {
			e.closeListener()
			return nil, configError("AdvertiseHost", "required when listening on an unspecified address")
		}
		e.host = e.addr.Addr().String()
	} else {
		e.host = strings.Trim(e.host, "[]")
	}

	sipLog := e.log.With("layer", "sipgo")
	uaOpts := []sipgo.UserAgentOption{
		sipgo.WithUserAgent(cfg.UserAgent),
		sipgo.WithUserAgentHostname(sipHost(e.host)),
		sipgo.WithUserAgentParser(e.parser),
		sipgo.WithUserAgentTransportLayerOptions(
			sip.WithTransportLayerLogger(sipLog),
			sip.WithTransportLayerReadFilter(e.filterRead),
		),
		sipgo.WithUserAgentTransactionLayerOptions(
			sip.WithTransactionLayerLogger(sipLog),
			sip.WithTransactionLayerUnhandledResponseHandler(e.onStrayResponse),
		),
	}
	if dial := cmp.Or(cfg.DialTLS, cfg.TLS); dial != nil {
		uaOpts = append(uaOpts, sipgo.WithUserAgenTLSConfig(dial))
	}
	if e.ua, err = sipgo.NewUA(uaOpts...); err != nil {
		e.closeListener()
		return nil, fmt.Errorf("sip: %w", err)
	}
	// Before serving starts: the transport's handler list is not locked.
	e.ua.TransportLayer().OnMessage(e.observe)
	if e.srv, err = sipgo.NewServer(e.ua, sipgo.WithServerLogger(sipLog)); err != nil {
		e.closeListener()
		return nil, fmt.Errorf("sip: %w", err)
	}
	clientOpts := []sipgo.ClientOption{
		sipgo.WithClientLogger(sipLog),
		sipgo.WithClientHostname(sipHost(e.host)),
		sipgo.WithClientPort(int(e.addr.Port())),
	}
	if cfg.Network == NetworkUDP {
		// Send requests from the listening socket so that the peer sees one
		// address for us and our Via is where responses come back.
		clientOpts = append(clientOpts, sipgo.WithClientConnectionAddr(e.addr.String()))
	}
	if e.client, err = sipgo.NewClient(e.ua, clientOpts...); err != nil {
		e.closeListener()
		return nil, fmt.Errorf("sip: %w", err)
	}
	e.registerHandlers()

	e.ctx, e.cancel = context.WithCancel(context.Background())
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		var err error
		switch cfg.Network {
		case NetworkUDP:
			err = e.srv.ServeUDP(e.udpConn)
		case NetworkTCP:
			err = e.srv.ServeTCP(e.listener)
		case NetworkTLS:
			err = e.srv.ServeTLS(e.listener)
		}
		if err != nil && !errors.Is(err, net.ErrClosed) {
			e.log.Error("listener stopped", "error", err)
		}
	}()
	if cfg.Network == NetworkUDP {
		// Requests leave from the listening socket; wait until sipgo has it.
		for i := 0; i < 1000; i++ {
			if c, err := e.ua.TransportLayer().GetConnection("udp", e.udpConn.LocalAddr().String()); err == nil {
				c.TryClose()
				break
			}
			time.Sleep(time.Millisecond)
		}
	}
	e.log.Info("listening", "network", cfg.Network, "addr", e.addr.String(), "advertise", e.host)
	return e, nil
}

// Addr is the bound listen address.
func (e *Endpoint) Addr() netip.AddrPort { return e.addr }

// Network is the endpoint's transport in lower case: "udp", "tcp" or "tls".
func (e *Endpoint) Network() string { return e.cfg.Network }

// Host is the host advertised in Via and Contact.
func (e *Endpoint) Host() string { return e.host }

// ActiveDialogs is the number of established dialogs.
func (e *Endpoint) ActiveDialogs() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.dialogs)
}

func (e *Endpoint) closeListener() {
	if e.udpConn != nil {
		_ = e.udpConn.Close()
	}
	if e.listener != nil {
		_ = e.listener.Close()
	}
}

// Close stops the listener, cancels unanswered incoming calls, terminates
// all transactions and closes every connection. Established dialogs are
// dropped without BYE: hang calls up before closing the endpoint.
func (e *Endpoint) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	pending := make([]*ServerCall, 0, len(e.pending))
	for c := range e.pending {
		pending = append(pending, c)
	}
	dialogs := make([]*dialog, 0, len(e.dialogs))
	for _, d := range e.dialogs {
		dialogs = append(dialogs, d)
	}
	e.mu.Unlock()

	for _, c := range pending {
		_ = c.Reject(503, "Service Unavailable")
	}
	for _, d := range dialogs {
		d.end(CauseShutdown)
	}
	e.cancel()
	e.closeListener()
	// Let the accept loop return before sipgo clears its connection pool:
	// a connection accepted just before the listener closed is added to the
	// pool after it, and would otherwise stay open with its reader.
	e.wg.Wait()
	return e.ua.Close()
}

// sipgo's server transaction sends 100 Trying by itself when the INVITE
// has no response after Timer_1xx (200 ms), from a timer goroutine that
// reads the request. onInvite answers 100 at once itself, after writing
// its To tag into the request; a handler delayed past 200 ms (a loaded
// machine) would race that write with the timer's read. The timer is
// therefore pushed out of reach: byocp's own 100 always comes first and
// stops it.
func init() { sip.Timer_1xx = 24 * time.Hour }

// registerHandlers routes every method through guard.
func (e *Endpoint) registerHandlers() {
	e.srv.OnInvite(e.guard(e.onInvite))
	e.srv.OnAck(e.guard(e.onAck))
	e.srv.OnBye(e.guard(e.onInDialog))
	e.srv.OnUpdate(e.guard(e.onInDialog))
	e.srv.OnInfo(e.guard(e.onInDialog))
	e.srv.OnRefer(e.guard(e.onInDialog))
	e.srv.OnNotify(e.guard(e.onInDialog))
	e.srv.OnPrack(e.guard(e.onInDialog))
	e.srv.OnOptions(e.guard(e.onOptions))
	e.srv.OnCancel(e.guard(func(req *sip.Request, tx sip.ServerTransaction) {
		e.reply(req, tx, 481, "Call/Transaction Does Not Exist")
	}))
	e.srv.OnNoRoute(e.guard(func(req *sip.Request, tx sip.ServerTransaction) {
		if req.IsAck() {
			return
		}
		e.reply(req, tx, 405, "Method Not Allowed", sip.NewHeader("Allow", allowMethods))
	}))
}

// guard wraps a handler: it checks the source (again, for requests that
// reached sipgo some other way), answers 400 to requests missing a
// mandatory header so that no handler sees one, and recovers a panic into
// a 500 so that one bad message cannot take the process down.
func (e *Endpoint) guard(h sipgo.RequestHandler) sipgo.RequestHandler {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		defer func() {
			if v := recover(); v != nil {
				e.notePanic("request handler", callIDOf(req), v)
				if !req.IsAck() {
					e.replyBare(req, tx, 500, "Server Internal Error")
				}
			}
		}()
		if !e.sourceAllowed(sourceAddr(req)) {
			e.stats.refused.Add(1)
			if e.cfg.ReplyToRefused && !req.IsAck() {
				e.replyBare(req, tx, 403, "Forbidden")
			}
			return
		}
		if problem := requestProblem(req); problem != "" {
			e.stats.malformed.Add(1)
			e.log.Warn("bad request", "method", req.Method, "problem", problem, "source", req.Source(), "call_id", callIDOf(req))
			if !req.IsAck() {
				e.replyBare(req, tx, 400, "Bad Request", sip.NewHeader("Warning", `399 byocp "`+problem+`"`))
			}
			return
		}
		h(req, tx)
	}
}

// sourceAllowed applies AcceptSource.
func (e *Endpoint) sourceAllowed(src netip.Addr) bool {
	return e.cfg.AcceptSource == nil || e.cfg.AcceptSource(src)
}

// recoverPanic is deferred at the top of every goroutine that handles
// network input outside a request handler.
func (e *Endpoint) recoverPanic(where, callID string) {
	if v := recover(); v != nil {
		e.notePanic(where, callID, v)
	}
}

func (e *Endpoint) notePanic(where, callID string, v any) {
	e.stats.panics.Add(1)
	e.log.Error("panic recovered, still serving", "in", where, "call_id", callID, "panic", fmt.Sprint(v),
		"stack", string(debug.Stack()))
}

// replyBare answers a request that may lack headers a normal response
// copies: it builds the response without touching them, and never panics.
func (e *Endpoint) replyBare(req *sip.Request, tx sip.ServerTransaction, code int, reason string, hdrs ...sip.Header) {
	defer func() {
		if v := recover(); v != nil {
			e.notePanic("bare reply", callIDOf(req), v)
		}
	}()
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	if to := res.To(); to != nil && tagOf(to.Params) == "" {
		to.Params = to.Params.Clone()
		if to.Params == nil {
			to.Params = sip.NewParams()
		}
		to.Params.Add("tag", sip.GenerateTagN(16))
	}
	res.AppendHeader(sip.NewHeader("Server", e.cfg.UserAgent))
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	if err := tx.Respond(res); err != nil {
		e.log.Debug("response not sent", "code", code, "error", err)
	}
}

func callIDOf(m interface{ CallID() *sip.CallIDHeader }) string {
	if c := m.CallID(); c != nil {
		return c.Value()
	}
	return ""
}

// reply sends a response without a body.
func (e *Endpoint) reply(req *sip.Request, tx sip.ServerTransaction, code int, reason string, hdrs ...sip.Header) {
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	if code > 100 && res.To() != nil && tagOf(res.To().Params) == "" {
		res.To().Params.Add("tag", sip.GenerateTagN(16))
	}
	res.AppendHeader(sip.NewHeader("Server", e.cfg.UserAgent))
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	if err := tx.Respond(res); err != nil {
		e.log.Debug("response not sent", "code", code, "error", err)
	}
}

func (e *Endpoint) onOptions(req *sip.Request, tx sip.ServerTransaction) {
	if d := e.lookupIncoming(req); d != nil || tagOf(req.To().Params) == "" {
		e.reply(req, tx, 200, "OK",
			sip.NewHeader("Allow", allowMethods),
			sip.NewHeader("Accept", "application/sdp"))
		return
	}
	e.reply(req, tx, 481, "Call/Transaction Does Not Exist")
}

func (e *Endpoint) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if req.To() != nil && tagOf(req.To().Params) != "" {
		e.onInDialog(req, tx)
		return
	}
	if mf := req.MaxForwards(); mf != nil && mf.Val() == 0 {
		e.reply(req, tx, 483, "Too Many Hops")
		return
	}
	if unsupported := unsupportedRequire(headerOf(req, "Require")); unsupported != "" {
		// RFC 3261 §8.2.2.3: an extension the caller requires and byocp
		// does not implement.
		e.reply(req, tx, 420, "Bad Extension", sip.NewHeader("Unsupported", unsupported))
		return
	}
	// Our To tag goes into the request itself before any response is sent,
	// so that every response to it, including the 487 sipgo's transaction
	// builds on CANCEL, carries the same tag (RFC 3261 §8.2.6.2). The first
	// Respond below orders this write before sipgo's later reads.
	req.To().Params.Add("tag", sip.GenerateTagN(16))
	// A B2BUA answers 100 at once: the other leg may take a while.
	e.reply(req, tx, 100, "Trying")

	call := newServerCall(e, req, tx)
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		_ = call.Reject(503, "Service Unavailable")
		return
	}
	e.pending[call] = struct{}{}
	e.early[call.earlyKey()] = call
	e.addFlowLocked(call.flow)
	e.mu.Unlock()

	if e.cfg.Handler == nil {
		_ = call.Reject(480, "Temporarily Unavailable")
	} else {
		go func() {
			defer func() {
				if v := recover(); v != nil {
					e.notePanic("call handler", call.invite.CallID, v)
					_ = call.Reject(500, "Server Internal Error")
				}
			}()
			e.cfg.Handler.ServeCall(call)
		}()
	}
	// Keep the transaction until a final response is sent or it ends, so
	// that sipgo does not terminate it under the handler.
	timer := time.NewTimer(e.cfg.AnswerTimeout)
	defer timer.Stop()
	select {
	case <-call.final:
	case <-tx.Done():
		call.markCancelled()
	case <-timer.C:
		e.log.Warn("incoming call not answered in time", "call_id", call.invite.CallID)
		_ = call.Reject(408, "Request Timeout")
	}
	e.mu.Lock()
	delete(e.pending, call)
	delete(e.early, call.earlyKey())
	e.removeFlowLocked(call.flow)
	e.mu.Unlock()
}

func (e *Endpoint) onAck(req *sip.Request, _ sip.ServerTransaction) {
	if d := e.lookupIncoming(req); d != nil {
		d.ackReceived(req)
	}
}

// onInDialog handles BYE, re-INVITE, UPDATE, INFO, REFER, NOTIFY and
// PRACK: within a dialog, or else within an early dialog (early.go).
func (e *Endpoint) onInDialog(req *sip.Request, tx sip.ServerTransaction) {
	d := e.lookupIncoming(req)
	if d == nil && e.onEarly(req, tx) {
		return
	}
	if d == nil {
		e.reply(req, tx, 481, "Call/Transaction Does Not Exist")
		return
	}
	d.handleRequest(req, tx)
}

// onStrayResponse sees responses that match no transaction: retransmitted
// 2xx to our INVITEs after the transaction ended. They are re-ACKed.
func (e *Endpoint) onStrayResponse(res *sip.Response) {
	defer e.recoverPanic("stray response", callIDOf(res))
	if !res.IsSuccess() || res.CSeq() == nil || res.CSeq().MethodName != sip.INVITE {
		return
	}
	if d := e.lookupOutgoing(res); d != nil {
		d.resendAck()
	}
}

type dialogKey struct{ callID, localTag, remoteTag string }

func (e *Endpoint) addDialog(d *dialog) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return ErrClosed
	}
	e.dialogs[d.key] = d
	e.addFlowLocked(d.flow)
	return nil
}

func (e *Endpoint) removeDialog(d *dialog) {
	e.mu.Lock()
	if e.dialogs[d.key] == d {
		delete(e.dialogs, d.key)
		e.removeFlowLocked(d.flow)
	}
	e.mu.Unlock()
}

// addFlowLocked counts a call on the connection to remote ("" for UDP).
func (e *Endpoint) addFlowLocked(remote string) {
	if remote != "" {
		e.flows[remote]++
	}
}

func (e *Endpoint) removeFlowLocked(remote string) {
	if remote == "" {
		return
	}
	if e.flows[remote]--; e.flows[remote] <= 0 {
		delete(e.flows, remote)
	}
}

// flowInUse reports whether a pending call or a dialog uses the connection
// to remote, which keeps that connection open past IdleTimeout.
func (e *Endpoint) flowInUse(remote string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.flows[remote] > 0
}

// lookupIncoming finds the dialog of a request we received: our tag is in To.
func (e *Endpoint) lookupIncoming(req *sip.Request) *dialog {
	if req.CallID() == nil || req.From() == nil || req.To() == nil {
		return nil
	}
	k := dialogKey{req.CallID().Value(), tagOf(req.To().Params), tagOf(req.From().Params)}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.dialogs[k]
}

// lookupOutgoing finds the dialog of a response to our request: our tag is in From.
func (e *Endpoint) lookupOutgoing(res *sip.Response) *dialog {
	if res.CallID() == nil || res.From() == nil || res.To() == nil {
		return nil
	}
	k := dialogKey{res.CallID().Value(), tagOf(res.From().Params), tagOf(res.To().Params)}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.dialogs[k]
}

// contact is this endpoint's Contact header.
func (e *Endpoint) contact() *sip.ContactHeader {
	c := &sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "byocp", Host: sipHost(e.host), Port: int(e.addr.Port())}}
	if e.network != "UDP" {
		c.Address.UriParams = sip.NewParams()
		c.Address.UriParams.Add("transport", strings.ToLower(e.network))
	}
	return c
}

// prepare sets transport, destination and local address of an outgoing request.
func (e *Endpoint) prepare(req *sip.Request, destination string) {
	req.SetTransport(e.network)
	if destination != "" {
		req.SetDestination(destination)
	}
}

// hostPort joins host and port, bracketing IPv6.
func hostPort(host string, port int) string {
	return net.JoinHostPort(strings.Trim(host, "[]"), strconv.Itoa(port))
}

// defaultOr returns def for zero, zero for negative ("disabled") and v
// otherwise.
func defaultOr[T int | time.Duration](v, def T) T {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}
