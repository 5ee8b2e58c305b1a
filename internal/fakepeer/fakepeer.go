// Package fakepeer is the SIP and media engine behind byocp's public test
// peers, trunktest.Carrier and peeringtest.Zoom, which wrap its Peer and
// Call in exported types of their own (this package is internal, so its
// methods would not show in their documentation). A Peer is a real SIP user
// agent (byocp's sip package on real sockets) with a real media endpoint
// (internal/mediapeer) that sends a recognisable RTP or SRTP stream and
// checks what comes back.
//
// Once a call is established the Peer owns its in-dialog requests
// (sip TakeRequests): it answers re-INVITEs and UPDATEs with a proper RFC
// 3264 answer and moves its media where the offer says (indialog.go),
// places re-offers of its own (Hold, Reinvite), and runs RFC 4028 session
// timers (timer.go). Offer/answer is done with sdp.Parse and sdp.Marshal
// on a small state of its own (offeranswer.go): simple and predictable.
// T.38 fax (t38.go) adds an image stream on a UDPTL socket of the call's
// own, written and read with sdp.Read and sdp.Description.
package fakepeer

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/byocp/byocp/internal/mediapeer"
	"github.com/byocp/byocp/sdp"
	"github.com/byocp/byocp/sip"
)

// PacketInterval is the pacing of sent audio: 20 ms, as Zoom's a=ptime:20.
const PacketInterval = 20 * time.Millisecond

// Behavior says how a Peer treats the calls it receives.
type Behavior struct {
	// Status is the final response: 0 or 200 answers, 300-699 rejects.
	Status int
	// Ring sends 180 Ringing and waits this long before the final response.
	Ring time.Duration
	// EarlyMedia sends 183 Session Progress with SDP before the final
	// response, so media can flow before the answer.
	EarlyMedia bool
	// AnswerWithoutSDP sends the 200 without SDP: the answer is then only
	// in the 183 of EarlyMedia, as some gateways do.
	AnswerWithoutSDP bool
	// Reason is the reason phrase of a rejection (default a standard one).
	Reason string
	// Headers are extra header fields of a rejection, e.g. a Warning or
	// a Proxy-Authenticate challenge.
	Headers []sip.Header
	// RejectReoffers, when 300-699, answers every re-INVITE and every
	// UPDATE with SDP with this status (calls placed or received while the
	// Behavior is in force; Call.RejectReoffers changes it per call).
	RejectReoffers int
	// Refresher is who refreshes the session of a received call whose
	// INVITE leaves the choice open: sip.RefresherUAS (this peer) or
	// sip.RefresherUAC (default: the caller).
	Refresher string
	// AcceptRefer answers a REFER 202 and reports a transfer done in two
	// NOTIFYs (100 Trying active, 200 OK terminated).
	AcceptRefer bool
	// AcceptT38 accepts the first active T.38 image stream of an offer
	// (m=image udptl t38) on a UDPTL port of the call's own; without it
	// the image stream is rejected with port 0, and an offer without an
	// active audio stream gets 488 (t38.go). A call that offered T.38
	// itself (ReinviteOptions.T38) accepts it from then on.
	AcceptT38 bool
}

// Config configures a Peer.
type Config struct {
	Name    string
	Network string      // "udp" or "tls"
	Listen  string      // IP:port; default "127.0.0.1:0"
	TLS     *tls.Config // for "tls"
	// SRTP makes the media leg RTP/SAVP with SDES keys.
	SRTP bool
	// OfferSuites are the SDES suites offered when placing calls, tags 1..n.
	OfferSuites []sdp.Suite
	// AnswerSuites is the suite preference when answering.
	AnswerSuites []sdp.Suite
	// Formats are offered when placing calls and accepted (by name) when answering.
	Formats []sdp.Format
	// Stream is the pattern stream id this peer sends; Expect the one it
	// expects to receive (0 accepts any).
	Stream, Expect byte
	// AcceptSource, if set, limits who may send requests.
	AcceptSource func(netip.Addr) bool
	Logger       *slog.Logger

	// SessionExpires, when positive, offers a session timer in placed
	// calls' INVITEs (Supported: timer, Session-Expires, Min-SE).
	SessionExpires time.Duration
	// MinSE is the smallest session interval accepted (smaller ones get
	// 422) and the Min-SE offered; 0 accepts any and offers
	// min(90 s, SessionExpires).
	MinSE time.Duration
	// NoSessionTimer makes the peer ignore RFC 4028: no timer headers in
	// its answers and requests, no refreshes, no expiry.
	NoSessionTimer bool
	// RefreshWithReinvite refreshes with a re-INVITE even when the far end
	// allows UPDATE.
	RefreshWithReinvite bool
	// DropFirstReinviteResponse (UDP only) drops the first datagram from
	// the far end after each re-INVITE the peer sends: the first copy of
	// its response, as if lost.
	DropFirstReinviteResponse bool
	// SDPMediaIP, when valid, is the media address the peer writes in its
	// SDP instead of its media socket's: a peer behind NAT, whose RTP
	// comes from an address its SDP does not name.
	SDPMediaIP netip.Addr
	// RTCPMux puts a=rtcp-mux (RFC 5761) in the peer's offers and in its
	// answers to offers that have it; without it the peer ignores
	// a=rtcp-mux (rtcp.go).
	RTCPMux bool
	// RTCPPort gives each call an RTCP port of its own, named in a=rtcp
	// (RFC 3605) in the peer's SDP (rtcp.go).
	RTCPPort bool
}

// Peer is a fake SIP peer with media.
type Peer struct {
	cfg      Config
	ep       *sip.Endpoint
	mediaIP  netip.Addr
	incoming chan *Call
	ready    chan struct{} // closed once New has set ep
	bg       sync.WaitGroup

	mu       sync.Mutex
	behavior Behavior
	calls    map[*Call]struct{}
	closed   bool
	wg       sync.WaitGroup

	dropMu    sync.Mutex
	dropArmed bool
	dropFrom  netip.Addr
	dropped   int
}

// New starts a Peer listening on cfg.Listen.
func New(cfg Config, b Behavior) (*Peer, error) {
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.DropFirstReinviteResponse && !strings.EqualFold(cfg.Network, sip.NetworkUDP) {
		return nil, fmt.Errorf("fakepeer: DropFirstReinviteResponse needs network udp, not %q", cfg.Network)
	}
	p := &Peer{cfg: cfg, behavior: b, incoming: make(chan *Call, 64), calls: make(map[*Call]struct{}), ready: make(chan struct{})}
	accept := cfg.AcceptSource
	if cfg.DropFirstReinviteResponse {
		accept = p.acceptSource
	}
	ep, err := sip.Listen(sip.EndpointConfig{
		Name:         cfg.Name,
		Network:      cfg.Network,
		Listen:       cfg.Listen,
		TLS:          cfg.TLS,
		Handler:      sip.CallHandlerFunc(p.serveCall),
		AcceptSource: accept,
		UserAgent:    cfg.Name,
		Logger:       cfg.Logger,
	})
	if err != nil {
		return nil, err
	}
	p.ep = ep
	p.mediaIP = ep.Addr().Addr()
	close(p.ready)
	return p, nil
}

// acceptSource is the endpoint's AcceptSource with DropFirstReinviteResponse:
// it runs for every datagram before it is parsed, so refusing one drops it.
func (p *Peer) acceptSource(src netip.Addr) bool {
	p.dropMu.Lock()
	if p.dropArmed && src == p.dropFrom {
		p.dropArmed = false
		p.dropped++
		p.dropMu.Unlock()
		return false
	}
	p.dropMu.Unlock()
	return p.cfg.AcceptSource == nil || p.cfg.AcceptSource(src)
}

// armDrop makes the next datagram from src be dropped, when the peer is
// configured to; the returned function disarms it.
func (p *Peer) armDrop(src netip.Addr) (disarm func()) {
	if !p.cfg.DropFirstReinviteResponse {
		return func() {}
	}
	p.dropMu.Lock()
	p.dropArmed, p.dropFrom = true, src.Unmap()
	p.dropMu.Unlock()
	return func() {
		p.dropMu.Lock()
		p.dropArmed = false
		p.dropMu.Unlock()
	}
}

// Dropped is the number of datagrams DropFirstReinviteResponse dropped.
func (p *Peer) Dropped() int {
	p.dropMu.Lock()
	defer p.dropMu.Unlock()
	return p.dropped
}

// Addr is the peer's SIP address.
func (p *Peer) Addr() netip.AddrPort { return p.ep.Addr() }

// SetBehavior changes how later incoming calls are treated.
func (p *Peer) SetBehavior(b Behavior) {
	p.mu.Lock()
	p.behavior = b
	p.mu.Unlock()
}

func (p *Peer) currentBehavior() Behavior {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.behavior
}

func (p *Peer) track(c *Call) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.calls[c] = struct{}{}
	p.wg.Add(1)
	return true
}

func (p *Peer) untrack(c *Call) {
	p.mu.Lock()
	delete(p.calls, c)
	p.mu.Unlock()
	p.wg.Done()
}

// goBackground runs f on a goroutine Close waits for.
func (p *Peer) goBackground(f func()) {
	p.bg.Add(1)
	go func() {
		defer p.bg.Done()
		f()
	}()
}

// Close hangs up every call, stops listening and frees every socket.
func (p *Peer) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	calls := make([]*Call, 0, len(p.calls))
	for c := range p.calls {
		calls = append(calls, c)
	}
	p.mu.Unlock()
	for _, c := range calls {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = c.Hangup(ctx)
		cancel()
	}
	p.wg.Wait()
	p.bg.Wait() // every call has ended: its goroutines are on their way out
	return p.ep.Close()
}

// Accept waits for the next call the peer receives. The call is handled by
// the peer's Behavior; use its methods to wait for the outcome.
func (p *Peer) Accept(ctx context.Context) (*Call, error) {
	select {
	case c := <-p.incoming:
		return c, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Dial places a call from number from to number to at target (a Bridge's
// SIP address). It returns once the call is answered; a rejection is a
// *sip.StatusError, a cancelled ctx sip.ErrCancelled.
func (p *Peer) Dial(ctx context.Context, target netip.AddrPort, from, to string) (*Call, error) {
	return p.DialWithHeaders(ctx, target, from, to)
}

// DialWithHeaders is Dial with extra header fields in the INVITE, e.g.
// Privacy and P-Asserted-Identity for a caller who withholds its number.
// A header named "From" replaces the From's name-addr (its tag is added).
func (p *Peer) DialWithHeaders(ctx context.Context, target netip.AddrPort, from, to string, headers ...sip.Header) (*Call, error) {
	c, err := p.newCall(false, target.Addr())
	if err != nil {
		return nil, err
	}
	offer, err := c.firstAudio()
	if err != nil {
		c.fail(0)
		return nil, err
	}
	body, version, err := c.propose(session{audio: offer})
	if err != nil {
		c.fail(0)
		return nil, err
	}
	c.mu.Lock()
	c.local, c.localSDP, c.version = session{audio: offer}, body, version
	c.mu.Unlock()
	host := target.Addr().String()
	fromAddr := sip.NameAddr{DisplayName: "Test " + p.cfg.Name, URI: sip.URI{User: from, Host: p.ep.Host()}}
	var extra []sip.Header
	for _, h := range headers {
		if strings.EqualFold(h.Name, "From") {
			na, err := sip.ParseNameAddr(h.Value)
			if err != nil {
				c.fail(0)
				return nil, err
			}
			fromAddr = na
			continue
		}
		extra = append(extra, h)
	}
	extra = append(extra, p.offerTimerHeaders()...)
	out, err := p.ep.Invite(ctx, sip.InviteRequest{
		RequestURI:  sip.URI{User: to, Host: host, Port: int(target.Port())},
		Destination: target.String(),
		From:        fromAddr,
		To:          sip.NameAddr{URI: sip.URI{User: to, Host: host}},
		Headers:     extra,
		SDP:         body,
		OnProvisional: func(r sip.Response) {
			c.mu.Lock()
			c.provisional = append(c.provisional, r.StatusCode)
			if r.Header("RSeq") != "" && strings.Contains(strings.ToLower(r.Header("Require")), "100rel") {
				c.reliable = append(c.reliable, r.StatusCode)
			}
			c.mu.Unlock()
			if r.HasSDP() {
				if err := c.earlyAnswer(offer, r.Body); err != nil {
					p.cfg.Logger.Warn("bad early SDP", "error", err)
				}
			}
		},
	})
	if err != nil {
		var se *sip.StatusError
		status := 0
		if errors.As(err, &se) {
			status = se.Response.StatusCode
		} else if errors.Is(err, sip.ErrCancelled) {
			status = 487
		}
		c.fail(status)
		return nil, err
	}
	// At once, so that no request of the far end is answered by default.
	reqs := out.TakeRequests()
	p.goBackground(func() { c.serveRequests(reqs) })
	c.answer = out.Answer()
	answerBody := c.answer.Body
	if !c.answer.HasSDP() {
		c.mu.Lock()
		answerBody = c.remoteSDP // the answer of a 183 (RFC 3261 §13.2.1)
		c.mu.Unlock()
	}
	if err := c.finalAnswer(offer, body, version, answerBody); err != nil {
		_ = out.Hangup(context.Background())
		c.fail(0)
		return nil, fmt.Errorf("fakepeer: answer: %w", err)
	}
	c.mu.Lock()
	c.updateOK = allows(c.answer.Header("Allow"), "UPDATE")
	c.timer = p.dialledTimer(sip.SessionTimerOf(c.answer.Header), c.timer, true, time.Now())
	c.mu.Unlock()
	c.established(out)
	return c, nil
}

// firstAudio is the audio stream of the peer's first offer: every format
// it has, on the call's media port, and on SRTP a new key for each of its
// suites (tags 1..n).
func (c *Call) firstAudio() (sdp.Media, error) {
	cfg := c.peer.cfg
	m := sdp.Media{
		Addr:      c.peer.sdpIP(),
		Port:      int(c.media.Addr().Port()),
		Proto:     sdp.ProtoRTPAVP,
		Formats:   cfg.Formats,
		Ptime:     20,
		Direction: sdp.SendRecv,
		RTCP:      c.rtcpSDP(),
		RTCPMux:   cfg.RTCPMux,
	}
	if cfg.SRTP {
		m.Proto = sdp.ProtoRTPSAVP
		for i, s := range cfg.OfferSuites {
			cr, err := sdp.NewCrypto(i+1, s)
			if err != nil {
				return sdp.Media{}, err
			}
			m.Crypto = append(m.Crypto, cr)
		}
	}
	return m, nil
}

// offerTimerHeaders are the session timer header fields of an INVITE the
// peer sends: none unless Config.SessionExpires is set.
func (p *Peer) offerTimerHeaders() []sip.Header {
	if p.cfg.SessionExpires <= 0 || p.cfg.NoSessionTimer {
		return nil
	}
	minSE := p.cfg.MinSE
	if minSE <= 0 {
		minSE = min(90*time.Second, p.cfg.SessionExpires)
	}
	return sip.TimerHeaders(p.cfg.SessionExpires, minSE)
}

// allows reports whether an Allow header value lists method.
func allows(allow, method string) bool {
	for m := range strings.SplitSeq(allow, ",") {
		if strings.EqualFold(strings.TrimSpace(m), method) {
			return true
		}
	}
	return false
}

func (p *Peer) newCall(incoming bool, remote netip.Addr) (*Call, error) {
	m, err := mediapeer.Listen(p.mediaIP)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := p.currentBehavior()
	c := &Call{peer: p, Incoming: incoming, media: m, started: time.Now(), remoteIP: remote.Unmap(),
		answered: make(chan struct{}), ended: make(chan struct{}), wake: make(chan struct{}, 1),
		ctx: ctx, cancel: cancel,
		origin: *sdp.NewOrigin(p.mediaIP), want: sdp.SendRecv, reqNotify: make(chan struct{}),
		rejectReoffers: b.RejectReoffers, acceptRefer: b.AcceptRefer, acceptT38: b.AcceptT38}
	c.version, c.maxVersion = c.origin.Version, c.origin.Version
	if p.cfg.Expect != 0 {
		m.ExpectStream(p.cfg.Expect)
	}
	if p.cfg.RTCPPort {
		if c.rtcpAddr, err = m.OpenRTCP(); err != nil {
			_ = m.Close()
			cancel()
			return nil, err
		}
	}
	if !p.track(c) {
		_ = m.Close()
		cancel()
		return nil, sip.ErrClosed
	}
	return c, nil
}

// serveCall handles a call the peer receives, following its Behavior.
func (p *Peer) serveCall(sc *sip.ServerCall) {
	<-p.ready
	c, err := p.newCall(true, sc.Invite().Source.Addr())
	if err != nil {
		_ = sc.Reject(503, "Service Unavailable")
		return
	}
	c.invite = sc.Invite()
	c.server = sc
	b := p.currentBehavior()
	c.rejectReoffers, c.acceptRefer, c.acceptT38 = b.RejectReoffers, b.AcceptRefer, b.AcceptT38

	// The media is keyed before Accept reports the call, so that a test can
	// send audio on it at once.
	answer, err := c.answerInvite(sc.Invite().Body)
	select {
	case p.incoming <- c:
	default:
		p.cfg.Logger.Warn("incoming call queue full; call is handled but not reported by Accept")
	}
	if err != nil {
		_ = sc.Reject(488, "Not Acceptable Here")
		c.fail(488)
		return
	}
	timer, timerHdrs, small := p.answerTimer(sip.SessionTimerOf(sc.Invite().Header), sessionTimer{}, true, b.Refresher, time.Now())
	if small != nil {
		_ = sc.Reject(422, "Session Interval Too Small", small.Header())
		c.fail(422)
		return
	}
	if b.EarlyMedia {
		if err := sc.Progress(183, "Session Progress", answer); err != nil {
			c.fail(0)
			return
		}
	} else if b.Ring > 0 {
		_ = sc.Progress(180, "Ringing", nil)
	}
	if b.Ring > 0 {
		select {
		case <-time.After(b.Ring):
		case <-sc.Context().Done():
		}
	}
	if sc.Cancelled() {
		c.fail(487)
		return
	}
	if b.Status >= 300 {
		_ = sc.Reject(b.Status, cmp.Or(b.Reason, statusText(b.Status)), b.Headers...)
		c.fail(b.Status)
		return
	}
	final := answer
	if b.AnswerWithoutSDP {
		final = nil
	}
	// Before Answer: no request right after the 200 is answered by default.
	reqs := sc.TakeRequests()
	p.goBackground(func() { c.serveRequests(reqs) })
	c.mu.Lock()
	c.updateOK = allows(sc.Invite().Header("Allow"), "UPDATE")
	timer.last = time.Now()
	c.timer = timer
	c.mu.Unlock()
	if err := sc.Answer(context.Background(), final, timerHdrs...); err != nil {
		status := 0
		if errors.Is(err, sip.ErrCancelled) {
			status = 487
		}
		c.fail(status)
		return
	}
	c.mu.Lock()
	c.timer.last = time.Now() // the session starts with the ACK
	c.mu.Unlock()
	c.established(sc)
}

func statusText(code int) string {
	switch code {
	case 202:
		return "Accepted"
	case 486:
		return "Busy Here"
	case 404:
		return "Not Found"
	case 480:
		return "Temporarily Unavailable"
	case 488:
		return "Not Acceptable Here"
	case 500:
		return "Server Internal Error"
	case 503:
		return "Service Unavailable"
	case 603:
		return "Decline"
	}
	return "Rejected"
}

// leg is what a Call needs of an established sip.ServerCall or sip.ClientCall.
type leg interface {
	Hangup(ctx context.Context) error
	Done() <-chan struct{}
	Cause() sip.Cause
	CallID() string
	Reinvite(ctx context.Context, body []byte, hdrs []sip.Header, ackBody func(sip.Response) []byte) (sip.Response, error)
	Send(ctx context.Context, method string, body []byte, contentType string, hdrs ...sip.Header) (sip.Response, error)
	GlareDelay() time.Duration
}

// Call is one call of a fake peer, placed or received.
type Call struct {
	peer     *Peer
	Incoming bool // received rather than placed
	media    *mediapeer.Peer
	started  time.Time
	remoteIP netip.Addr // the far end's signalling address
	answered chan struct{}
	ended    chan struct{}
	wake     chan struct{} // the session timer changed
	ctx      context.Context
	cancel   context.CancelFunc // ends ctx when the call ends
	invite   *sip.Invite
	server   *sip.ServerCall
	answer   sip.Response

	// offerMu makes offer/answer exchanges, sent or received, one at a time.
	offerMu sync.Mutex

	mu          sync.Mutex
	leg         leg
	status      int
	setup       time.Duration
	provisional []int
	reliable    []int // provisional responses sent reliably (RFC 3262)
	hungUp      bool  // we sent the BYE
	endOnce     sync.Once

	// Offer/answer state (offeranswer.go).
	origin     sdp.Origin    // our o= line
	version    uint64        // o= version of localSDP
	maxVersion uint64        // highest o= version used
	local      session       // our current SDP's streams (offer or answer)
	localSDP   []byte        // our current SDP
	remoteSDP  []byte        // the far end's current SDP
	want       sdp.Direction // the direction this peer wants (Hold, Resume)
	neg        negotiated    // what media uses now

	// In-dialog state (indialog.go, timer.go).
	rejectReoffers int
	acceptRefer    bool
	acceptT38      bool
	requests       []Request
	reqNotify      chan struct{} // closed and replaced when a request is recorded
	updateOK       bool          // the far end allows UPDATE
	timer          sessionTimer

	audioCancel context.CancelFunc
	audioDone   chan struct{}

	// T.38 (t38.go): the UDPTL socket, opened for the first image stream.
	udptl       *udptlPort
	udptlClosed bool // the call is over: no socket opens any more

	rtcpAddr netip.AddrPort // the call's RTCP port with Config.RTCPPort (rtcp.go); zero without
}

func (c *Call) established(l leg) {
	c.mu.Lock()
	c.leg = l
	c.status = 200
	c.setup = time.Since(c.started)
	c.mu.Unlock()
	close(c.answered)
	c.peer.goBackground(c.runTimer)
	go func() {
		<-l.Done()
		c.finish()
	}()
}

// established returns the call's dialog once it is answered.
func (c *Call) dialog() (leg, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.leg == nil {
		select {
		case <-c.ended:
			return nil, sip.ErrClosed
		default:
		}
		return nil, sip.ErrNotAnswered
	}
	return c.leg, nil
}

func (c *Call) fail(status int) {
	c.mu.Lock()
	c.status = status
	c.mu.Unlock()
	c.finish()
}

func (c *Call) finish() {
	c.endOnce.Do(func() {
		c.cancel()
		_ = c.media.Close()
		close(c.ended)
		c.closeUDPTL()
		c.peer.untrack(c)
	})
}

// Answered is closed when the call is answered.
func (c *Call) Answered() <-chan struct{} { return c.answered }

// Done is closed when the call is over: rejected, cancelled or hung up.
func (c *Call) Done() <-chan struct{} { return c.ended }

// Wait blocks until the call is over or ctx ends.
func (c *Call) Wait(ctx context.Context) error {
	select {
	case <-c.ended:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Status is the call's final status: 200 when answered, the rejection code,
// 487 when cancelled, 0 while pending or when the call failed otherwise.
func (c *Call) Status() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status
}

// SetupTime is the time from INVITE to answer.
func (c *Call) SetupTime() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.setup
}

// Provisional lists the provisional status codes a placed call received.
func (c *Call) Provisional() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int(nil), c.provisional...)
}

// ReliableProvisional lists the provisional status codes a placed call
// received reliably: with Require: 100rel and an RSeq (RFC 3262).
func (c *Call) ReliableProvisional() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int(nil), c.reliable...)
}

// Suite is the SDES suite of an SRTP call ("" for plain RTP).
func (c *Call) Suite() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.neg.keys == nil {
		return ""
	}
	return c.neg.keys.Suite
}

// Invite is the INVITE a received call arrived with (nil for placed calls).
func (c *Call) Invite() *sip.Invite { return c.invite }

// AnswerResponse is the 2xx a placed call was answered with.
func (c *Call) AnswerResponse() sip.Response { return c.answer }

// LocalSDP is the SDP body this peer sent last (offer or answer).
func (c *Call) LocalSDP() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.localSDP
}

// RemoteSDP is the SDP this peer received last (offer or answer).
func (c *Call) RemoteSDP() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.remoteSDP
}

// CallID is this leg's Call-ID ("" before it exists).
func (c *Call) CallID() string {
	if c.invite != nil {
		return c.invite.CallID
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.leg == nil {
		return ""
	}
	return c.leg.CallID()
}

// SendAudio sends count packets of the pattern stream, 20 ms apart.
func (c *Call) SendAudio(ctx context.Context, count int) error {
	return c.media.Send(ctx, count, PacketInterval)
}

// StartAudio sends the pattern stream every 20 ms in the background until
// StopAudio, ctx ends or the call ends. It returns an error when the call
// is over or its media has no remote address yet; a second StartAudio
// while the stream runs does nothing.
func (c *Call) StartAudio(ctx context.Context) error {
	select {
	case <-c.ended:
		return sip.ErrClosed
	default:
	}
	if !c.media.Remote().IsValid() {
		return mediapeer.ErrNotConfigured
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.audioDone != nil {
		select {
		case <-c.audioDone:
		default:
			return nil // running
		}
	}
	actx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	c.audioCancel, c.audioDone = cancel, done
	c.peer.goBackground(func() {
		defer close(done)
		defer cancel()
		stop := context.AfterFunc(c.ctx, cancel)
		defer stop()
		_ = c.media.Send(actx, math.MaxInt, PacketInterval)
	})
	return nil
}

// StopAudio stops the stream of StartAudio and returns once no more
// packet goes out; it does nothing when no stream runs.
func (c *Call) StopAudio() {
	c.mu.Lock()
	cancel, done := c.audioCancel, c.audioDone
	c.audioCancel, c.audioDone = nil, nil
	c.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// Talker is the far end of TalkWith: a Call, or a public wrapper of one.
type Talker interface {
	SendAudio(ctx context.Context, count int) error
	// IntactPackets is the far end's Stats().Intact.
	IntactPackets() uint64
}

// IntactPackets is c.Media().Intact; it makes a Call a Talker.
func (c *Call) IntactPackets() uint64 { return c.Media().Intact }

// TalkWith sends count packets of pattern audio from c and from other at
// the same time, 20 ms apart, then waits up to a second for the last ones to
// arrive, so that Media shows the outcome in both directions. It returns
// the first send error.
func (c *Call) TalkWith(ctx context.Context, other Talker, count int) error {
	errc := make(chan error, 1)
	go func() { errc <- other.SendAudio(ctx, count) }()
	err := c.SendAudio(ctx, count)
	if oerr := <-errc; err == nil {
		err = oerr
	}
	for i := 0; i < 100 && (c.Media().Intact < uint64(count) || other.IntactPackets() < uint64(count)); i++ {
		select {
		case <-time.After(10 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return err
}

// Media returns the call's media counters.
func (c *Call) Media() mediapeer.Stats { return c.media.Stats() }

// MediaAddr is the address the call's media is received on and sent from.
func (c *Call) MediaAddr() netip.AddrPort { return c.media.Addr() }

// Hangup ends the call: BYE when answered, otherwise a 480 to an incoming
// call. It returns nil when the call had already ended.
func (c *Call) Hangup(ctx context.Context) error {
	c.mu.Lock()
	l := c.leg
	c.hungUp = l != nil
	c.mu.Unlock()
	if l == nil {
		if c.server != nil {
			return c.server.Hangup(ctx)
		}
		return nil
	}
	return l.Hangup(ctx)
}

// HungUpByPeer reports whether the far end (the Bridge) ended the call.
func (c *Call) HungUpByPeer() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.leg != nil && c.leg.Cause() == sip.CauseRemoteBye
}

// Description summarises the call for reports.
func (c *Call) Description() string {
	s := c.Media()
	var b strings.Builder
	fmt.Fprintf(&b, "status %d, setup %s, sent %d, received %d, intact %d", c.Status(), c.SetupTime().Round(time.Millisecond), s.Sent, s.Received, s.Intact)
	if suite := c.Suite(); suite != "" {
		fmt.Fprintf(&b, ", %s", suite)
	}
	if d := c.Direction(); d != "" && d != sdp.SendRecv {
		fmt.Fprintf(&b, ", %s", d)
	}
	if u := c.UDPTLStats(); c.T38() || u != (UDPTLStats{}) {
		fmt.Fprintf(&b, ", T.38 %v, UDPTL sent %d, received %d", c.T38(), u.Sent, u.Received)
	}
	return b.String()
}

// sdpIP is the media address the peer writes in its SDP.
func (p *Peer) sdpIP() netip.Addr {
	if p.cfg.SDPMediaIP.IsValid() {
		return p.cfg.SDPMediaIP
	}
	return p.mediaIP
}
