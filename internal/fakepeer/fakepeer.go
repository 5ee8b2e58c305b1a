// Package fakepeer is the SIP and media engine behind byocp's public test
// peers, trunktest.Carrier and peeringtest.Zoom. A Peer is a real SIP user
// agent (byocp's sip package on real sockets) with a real media endpoint
// (internal/mediapeer) that sends a recognisable RTP or SRTP stream and
// checks what comes back.
package fakepeer

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
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
}

// Peer is a fake SIP peer with media.
type Peer struct {
	cfg      Config
	ep       *sip.Endpoint
	mediaIP  netip.Addr
	incoming chan *Call
	ready    chan struct{} // closed once New has set ep

	mu       sync.Mutex
	behavior Behavior
	calls    map[*Call]struct{}
	closed   bool
	wg       sync.WaitGroup
}

// New starts a Peer listening on cfg.Listen.
func New(cfg Config, b Behavior) (*Peer, error) {
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	p := &Peer{cfg: cfg, behavior: b, incoming: make(chan *Call, 64), calls: make(map[*Call]struct{}), ready: make(chan struct{})}
	ep, err := sip.Listen(sip.EndpointConfig{
		Name:         cfg.Name,
		Network:      cfg.Network,
		Listen:       cfg.Listen,
		TLS:          cfg.TLS,
		Handler:      sip.CallHandlerFunc(p.serveCall),
		AcceptSource: cfg.AcceptSource,
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

// Addr is the peer's SIP address.
func (p *Peer) Addr() netip.AddrPort { return p.ep.Addr() }

// SetBehavior changes how later incoming calls are treated.
func (p *Peer) SetBehavior(b Behavior) {
	p.mu.Lock()
	p.behavior = b
	p.mu.Unlock()
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
	c, err := p.newCall(false)
	if err != nil {
		return nil, err
	}
	offer := sdp.Media{
		Addr:    p.mediaIP,
		Port:    int(c.media.Addr().Port()),
		Proto:   sdp.ProtoRTPAVP,
		Formats: p.cfg.Formats,
		Ptime:   20,
	}
	if p.cfg.SRTP {
		offer.Proto = sdp.ProtoRTPSAVP
		for i, s := range p.cfg.OfferSuites {
			cr, err := sdp.NewCrypto(i+1, s)
			if err != nil {
				c.fail(0)
				return nil, err
			}
			offer.Crypto = append(offer.Crypto, cr)
		}
	}
	c.offer = offer
	body, err := sdp.Marshal(sdp.NewOrigin(p.mediaIP), offer)
	if err != nil {
		c.fail(0)
		return nil, err
	}
	c.localSDP = body
	host := target.Addr().String()
	out, err := p.ep.Invite(ctx, sip.InviteRequest{
		RequestURI:  sip.URI{User: to, Host: host, Port: int(target.Port())},
		Destination: target.String(),
		From:        sip.NameAddr{DisplayName: "Test " + p.cfg.Name, URI: sip.URI{User: from, Host: p.ep.Host()}},
		To:          sip.NameAddr{URI: sip.URI{User: to, Host: host}},
		SDP:         body,
		OnProvisional: func(r sip.Response) {
			c.mu.Lock()
			c.provisional = append(c.provisional, r.StatusCode)
			c.mu.Unlock()
			if r.HasSDP() {
				if err := c.useAnswer(r.Body); err != nil {
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
	c.answer = out.Answer()
	if err := c.useAnswer(c.answer.Body); err != nil {
		_ = out.Hangup(context.Background())
		c.fail(0)
		return nil, fmt.Errorf("fakepeer: answer: %w", err)
	}
	c.established(out)
	return c, nil
}

func (p *Peer) newCall(incoming bool) (*Call, error) {
	m, err := mediapeer.Listen(p.mediaIP)
	if err != nil {
		return nil, err
	}
	c := &Call{peer: p, Incoming: incoming, media: m, started: time.Now(),
		answered: make(chan struct{}), ended: make(chan struct{})}
	if p.cfg.Expect != 0 {
		m.ExpectStream(p.cfg.Expect)
	}
	if !p.track(c) {
		_ = m.Close()
		return nil, sip.ErrClosed
	}
	return c, nil
}

// serveCall handles a call the peer receives, following its Behavior.
func (p *Peer) serveCall(sc *sip.ServerCall) {
	<-p.ready
	c, err := p.newCall(true)
	if err != nil {
		_ = sc.Reject(503, "Service Unavailable")
		return
	}
	c.invite = sc.Invite()
	c.server = sc
	select {
	case p.incoming <- c:
	default:
		p.cfg.Logger.Warn("incoming call queue full; call is handled but not reported by Accept")
	}
	p.mu.Lock()
	b := p.behavior
	p.mu.Unlock()

	answer, err := c.answerOffer(sc.Invite().Body)
	if err != nil {
		_ = sc.Reject(488, "Not Acceptable Here")
		c.fail(488)
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
		_ = sc.Reject(b.Status, statusText(b.Status))
		c.fail(b.Status)
		return
	}
	if err := sc.Answer(context.Background(), answer); err != nil {
		status := 0
		if errors.Is(err, sip.ErrCancelled) {
			status = 487
		}
		c.fail(status)
		return
	}
	c.established(sc)
}

func statusText(code int) string {
	switch code {
	case 486:
		return "Busy Here"
	case 404:
		return "Not Found"
	case 480:
		return "Temporarily Unavailable"
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
}

// Call is one call of a fake peer, placed or received.
type Call struct {
	peer     *Peer
	Incoming bool // received rather than placed
	media    *mediapeer.Peer
	started  time.Time
	answered chan struct{}
	ended    chan struct{}
	offer    sdp.Media // our offer (placed calls)
	invite   *sip.Invite
	server   *sip.ServerCall
	answer   sip.Response

	mu          sync.Mutex
	leg         leg
	status      int
	setup       time.Duration
	provisional []int
	localSDP    []byte
	remoteSDP   []byte
	suite       sdp.Suite
	hungUp      bool // we sent the BYE
	endOnce     sync.Once
}

// useAnswer keys the media from the far end's answer to our offer.
func (c *Call) useAnswer(body []byte) error {
	ans, err := sdp.Parse(body)
	if err != nil {
		return err
	}
	if len(ans.Formats) == 0 {
		return errors.New("answer has no formats")
	}
	var keys *mediapeer.Keys
	if c.peer.cfg.SRTP {
		if len(ans.Crypto) != 1 {
			return fmt.Errorf("answer has %d crypto lines, want 1", len(ans.Crypto))
		}
		var local []byte
		for _, cr := range c.offer.Crypto {
			if cr.Tag == ans.Crypto[0].Tag && cr.Suite == ans.Crypto[0].Suite {
				local = cr.KeySalt
			}
		}
		if local == nil {
			return fmt.Errorf("answer crypto tag %d %s was not offered", ans.Crypto[0].Tag, ans.Crypto[0].Suite)
		}
		keys = &mediapeer.Keys{Suite: string(ans.Crypto[0].Suite), LocalKey: local, RemoteKey: ans.Crypto[0].KeySalt}
	}
	c.mu.Lock()
	c.remoteSDP = body
	if keys != nil {
		c.suite = sdp.Suite(keys.Suite)
	}
	c.mu.Unlock()
	return c.media.Configure(netip.AddrPortFrom(ans.Addr, uint16(ans.Port)), keys, ans.Formats[0].PayloadType, c.peer.cfg.Stream)
}

// answerOffer builds our answer to an offer and keys the media.
func (c *Call) answerOffer(body []byte) ([]byte, error) {
	offer, err := sdp.Parse(body)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(c.peer.cfg.Formats))
	for _, f := range c.peer.cfg.Formats {
		names = append(names, f.Name)
	}
	offered := sdp.FilterFormats(offer.Formats, names)
	var formats []sdp.Format
	for _, f := range offered { // one codec plus telephone-event
		if f.IsTelephoneEvent() || (len(formats) == 0 && !f.IsComfortNoise()) {
			formats = append(formats, f)
		}
	}
	if !sdp.HasAudioCodec(formats) {
		return nil, sdp.ErrNoCommonCodec
	}
	ans := sdp.Media{Addr: c.peer.mediaIP, Port: int(c.media.Addr().Port()), Proto: sdp.ProtoRTPAVP, Formats: formats, Ptime: 20}
	var keys *mediapeer.Keys
	if c.peer.cfg.SRTP {
		if offer.Proto != sdp.ProtoRTPSAVP {
			return nil, fmt.Errorf("offer is %s, want RTP/SAVP", offer.Proto)
		}
		cr, ok := sdp.SelectCrypto(offer.Crypto, c.peer.cfg.AnswerSuites)
		if !ok {
			return nil, errors.New("no acceptable crypto")
		}
		local, err := sdp.NewCrypto(cr.Tag, cr.Suite)
		if err != nil {
			return nil, err
		}
		ans.Proto = sdp.ProtoRTPSAVP
		ans.Crypto = []sdp.Crypto{local}
		keys = &mediapeer.Keys{Suite: string(cr.Suite), LocalKey: local.KeySalt, RemoteKey: cr.KeySalt}
	} else if offer.Proto != sdp.ProtoRTPAVP {
		return nil, fmt.Errorf("offer is %s, want RTP/AVP", offer.Proto)
	}
	out, err := sdp.Marshal(sdp.NewOrigin(c.peer.mediaIP), ans)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.remoteSDP, c.localSDP = body, out
	if keys != nil {
		c.suite = sdp.Suite(keys.Suite)
	}
	c.mu.Unlock()
	if err := c.media.Configure(netip.AddrPortFrom(offer.Addr, uint16(offer.Port)), keys, formats[0].PayloadType, c.peer.cfg.Stream); err != nil {
		return nil, err
	}
	return out, nil
}

func (c *Call) established(l leg) {
	c.mu.Lock()
	c.leg = l
	c.status = 200
	c.setup = time.Since(c.started)
	c.mu.Unlock()
	close(c.answered)
	go func() {
		<-l.Done()
		c.finish()
	}()
}

func (c *Call) fail(status int) {
	c.mu.Lock()
	c.status = status
	c.mu.Unlock()
	c.finish()
}

func (c *Call) finish() {
	c.endOnce.Do(func() {
		_ = c.media.Close()
		close(c.ended)
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

// Suite is the SDES suite of an SRTP call ("" for plain RTP).
func (c *Call) Suite() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.suite)
}

// Invite is the INVITE a received call arrived with (nil for placed calls).
func (c *Call) Invite() *sip.Invite { return c.invite }

// AnswerResponse is the 2xx a placed call was answered with.
func (c *Call) AnswerResponse() sip.Response { return c.answer }

// LocalSDP and RemoteSDP are the SDP bodies this peer sent and received.
func (c *Call) LocalSDP() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.localSDP
}

// RemoteSDP is the SDP this peer received (offer or answer).
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

// TalkWith sends count packets of pattern audio from c and from other at
// the same time, 20 ms apart, then waits up to a second for the last ones to
// arrive, so that Media shows the outcome in both directions. It returns
// the first send error.
func (c *Call) TalkWith(ctx context.Context, other *Call, count int) error {
	errc := make(chan error, 1)
	go func() { errc <- other.SendAudio(ctx, count) }()
	err := c.SendAudio(ctx, count)
	if oerr := <-errc; err == nil {
		err = oerr
	}
	for i := 0; i < 100 && (c.Media().Intact < uint64(count) || other.Media().Intact < uint64(count)); i++ {
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
	return b.String()
}
