package sip

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
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
const allowMethods = "INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, INFO"

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
	// TLS is used for accepted and dialled connections when Network is "tls".
	TLS *tls.Config
	// Handler receives new incoming calls; nil rejects them with 480.
	Handler CallHandler
	// AcceptSource decides whether a request from src may use this endpoint;
	// nil accepts every source. Refused requests get 403 Forbidden.
	AcceptSource func(src netip.Addr) bool
	// AnswerTimeout bounds how long an incoming INVITE may stay unanswered
	// before it is rejected with 408. Default 3 minutes.
	AnswerTimeout time.Duration
	// UserAgent is sent in User-Agent and Server headers; default "byocp".
	UserAgent string
	// Logger receives the endpoint's logs; default slog.Default().
	Logger *slog.Logger
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

	mu      sync.Mutex
	closed  bool
	dialogs map[dialogKey]*dialog
	pending map[*ServerCall]struct{}
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
	if cfg.UserAgent == "" {
		cfg.UserAgent = "byocp"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
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
		cfg:     cfg,
		network: strings.ToUpper(cfg.Network),
		log:     cfg.Logger.With("sip", cfg.Name),
		parser:  sip.NewParser(),
		dialogs: make(map[dialogKey]*dialog),
		pending: make(map[*ServerCall]struct{}),
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
		e.listener = l
		if cfg.Network == NetworkTLS {
			e.listener = tls.NewListener(l, cfg.TLS)
		}
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
	if cfg.TLS != nil {
		uaOpts = append(uaOpts, sipgo.WithUserAgenTLSConfig(cfg.TLS))
	}
	if e.ua, err = sipgo.NewUA(uaOpts...); err != nil {
		e.closeListener()
		return nil, fmt.Errorf("sip: %w", err)
	}
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

// registerHandlers routes every method through the source check.
func (e *Endpoint) registerHandlers() {
	guard := func(h sipgo.RequestHandler) sipgo.RequestHandler {
		return func(req *sip.Request, tx sip.ServerTransaction) {
			if e.cfg.AcceptSource != nil && !e.cfg.AcceptSource(sourceAddr(req)) {
				e.log.Warn("request from refused source", "method", req.Method, "source", req.Source())
				if !req.IsAck() {
					e.reply(req, tx, 403, "Forbidden")
				}
				return
			}
			h(req, tx)
		}
	}
	e.srv.OnInvite(guard(e.onInvite))
	e.srv.OnAck(guard(e.onAck))
	e.srv.OnBye(guard(e.onInDialog))
	e.srv.OnUpdate(guard(e.onInDialog))
	e.srv.OnInfo(guard(e.onInDialog))
	e.srv.OnOptions(guard(e.onOptions))
	e.srv.OnCancel(guard(func(req *sip.Request, tx sip.ServerTransaction) {
		e.reply(req, tx, 481, "Call/Transaction Does Not Exist")
	}))
	e.srv.OnNoRoute(guard(func(req *sip.Request, tx sip.ServerTransaction) {
		if req.IsAck() {
			return
		}
		e.reply(req, tx, 405, "Method Not Allowed", sip.NewHeader("Allow", allowMethods))
	}))
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
	if problem := checkInvite(req); problem != "" {
		e.log.Warn("bad INVITE", "problem", problem, "source", req.Source())
		e.reply(req, tx, 400, "Bad Request", sip.NewHeader("Warning", `399 byocp "`+problem+`"`))
		return
	}
	if mf := req.MaxForwards(); mf != nil && mf.Val() == 0 {
		e.reply(req, tx, 483, "Too Many Hops")
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
	e.mu.Unlock()

	if e.cfg.Handler == nil {
		_ = call.Reject(480, "Temporarily Unavailable")
	} else {
		go e.cfg.Handler.ServeCall(call)
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
	e.mu.Unlock()
}

// checkInvite names the first missing mandatory header of an INVITE.
func checkInvite(req *sip.Request) string {
	switch {
	case req.From() == nil:
		return "missing From"
	case req.To() == nil:
		return "missing To"
	case req.CallID() == nil || req.CallID().Value() == "":
		return "missing Call-ID"
	case req.Contact() == nil:
		return "missing Contact"
	case tagOf(req.From().Params) == "":
		return "missing From tag"
	}
	return ""
}

func (e *Endpoint) onAck(req *sip.Request, _ sip.ServerTransaction) {
	if d := e.lookupIncoming(req); d != nil {
		d.ackReceived()
	}
}

// onInDialog handles BYE, re-INVITE, UPDATE and INFO.
func (e *Endpoint) onInDialog(req *sip.Request, tx sip.ServerTransaction) {
	d := e.lookupIncoming(req)
	if d == nil {
		e.reply(req, tx, 481, "Call/Transaction Does Not Exist")
		return
	}
	d.handleRequest(req, tx)
}

// onStrayResponse sees responses that match no transaction: retransmitted
// 2xx to our INVITEs after the transaction ended. They are re-ACKed.
func (e *Endpoint) onStrayResponse(res *sip.Response) {
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
	return nil
}

func (e *Endpoint) removeDialog(d *dialog) {
	e.mu.Lock()
	if e.dialogs[d.key] == d {
		delete(e.dialogs, d.key)
	}
	e.mu.Unlock()
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
