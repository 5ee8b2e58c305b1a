package sip

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// ServerCall is an incoming INVITE and, once answered, the UAS side of its
// dialog. Exactly one final response is sent: by Answer, by Reject, by the
// Endpoint when the caller cancels (487) or when nobody answers in time (408).
type ServerCall struct {
	ep       *Endpoint
	req      *sip.Request
	tx       sip.ServerTransaction
	invite   *Invite
	localTag string
	flow     string // remote address of the connection (TCP/TLS), "" on UDP
	ctx      context.Context
	cancel   context.CancelFunc
	final    chan struct{}

	mu        sync.Mutex
	finalSent bool
	cancelled bool
	d         *dialog
	requests  chan *DialogRequest // set by TakeRequests before Answer

	// Reliable provisional responses and the early dialog (reliable.go).
	rel          relMode
	rseq         uint32         // RSeq of the last reliable provisional
	unacked      *reliable1xx   // sent, awaiting its PRACK
	queued       []*reliable1xx // waiting behind unacked
	earlySDPSent bool           // a reliable provisional carried SDP
	earlyOwned   bool           // EarlyRequests was called
	earlyCh      chan *EarlyRequest
}

func newServerCall(e *Endpoint, req *sip.Request, tx sip.ServerTransaction) *ServerCall {
	c := &ServerCall{
		ep:       e,
		req:      req,
		tx:       tx,
		invite:   inviteFrom(req),
		localTag: tagOf(req.To().Params), // set by Endpoint.onInvite
		final:    make(chan struct{}),
		rel:      relModeOf(req),
		earlyCh:  make(chan *EarlyRequest, 4),
	}
	if e.network != "UDP" {
		c.flow = req.Source()
	}
	c.ctx, c.cancel = context.WithCancel(e.ctx)
	tx.OnCancel(func(*sip.Request) { c.markCancelled() })
	return c
}

// Invite describes the incoming INVITE.
func (c *ServerCall) Invite() *Invite { return c.invite }

// Context is cancelled when the caller cancels, the call is not answered in
// time, a final non-2xx response is sent, or the Endpoint closes. Use it for
// work done on the caller's behalf before answering (e.g. the other leg's
// INVITE). After a successful Answer it stays alive until the call ends,
// and it is cancelled then.
func (c *ServerCall) Context() context.Context { return c.ctx }

// Cancelled reports whether the caller sent CANCEL before a final response.
func (c *ServerCall) Cancelled() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cancelled
}

func (c *ServerCall) markCancelled() {
	c.mu.Lock()
	if c.finalSent {
		c.mu.Unlock()
		return
	}
	c.finalSent, c.cancelled = true, true
	c.mu.Unlock()
	close(c.final)
	c.cancel()
}

// claimFinal reserves the right to send the final response.
func (c *ServerCall) claimFinal() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.finalSent {
		if c.cancelled {
			return ErrCancelled
		}
		return ErrAlreadyAnswered
	}
	c.finalSent = true
	return nil
}

func (c *ServerCall) response(code int, reason string, body []byte) *sip.Response {
	res := sip.NewResponseFromRequest(c.req, code, reason, body)
	if code < 300 {
		res.AppendHeader(c.ep.contact())
	}
	if body != nil {
		res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	}
	res.AppendHeader(sip.NewHeader("Server", c.ep.cfg.UserAgent))
	return res
}

// Progress sends a provisional response (180 Ringing, 183 Session Progress)
// with an optional SDP body. To a caller that requires 100rel it goes
// reliably, and to one that supports it when it carries SDP (see
// Reliable); a reliable one sent while another awaits its PRACK is queued
// behind it, and Progress returns at once either way.
func (c *ServerCall) Progress(code int, reason string, sdp []byte) error {
	if code <= 100 || code >= 200 {
		return fmt.Errorf("sip: Progress: %d is not a provisional status", code)
	}
	c.mu.Lock()
	done := c.finalSent
	c.mu.Unlock()
	if done {
		return ErrAlreadyAnswered
	}
	res := c.response(code, reason, sdp)
	if c.rel == relRequired || c.rel == relSupported && sdp != nil {
		if err := c.progressReliable(res, sdp); err != nil {
			return fmt.Errorf("%w: %d: %v", ErrTransport, code, err)
		}
		return nil
	}
	if err := c.tx.Respond(res); err != nil {
		return fmt.Errorf("%w: %d: %v", ErrTransport, code, err)
	}
	return nil
}

// Reject sends a final response with status code 300-699 and extra header
// fields (for example Retry-After with 503).
func (c *ServerCall) Reject(code int, reason string, hdrs ...Header) error {
	if code < 300 || code > 699 {
		return fmt.Errorf("sip: Reject: %d is not a failure status", code)
	}
	if err := c.claimFinal(); err != nil {
		return err
	}
	defer close(c.final)
	defer c.cancel()
	res := c.response(code, reason, nil)
	for _, h := range hdrs {
		res.AppendHeader(sip.NewHeader(h.Name, h.Value))
	}
	if err := c.tx.Respond(res); err != nil {
		return fmt.Errorf("%w: %d: %v", ErrTransport, code, err)
	}
	return nil
}

// Answer sends 200 OK with the SDP answer and extra header fields (e.g. the
// session timer's), retransmits it over UDP until the
// caller's ACK arrives and then returns; the dialog is established from the
// moment the 200 is sent. If no ACK arrives within 64*T1 the call is hung up
// and ErrNoAck returned. ErrCancelled means the caller's CANCEL won the race.
// A reliable provisional response with SDP that has not had its PRACK is
// waited for first (RFC 3262 §3).
func (c *ServerCall) Answer(ctx context.Context, sdp []byte, hdrs ...Header) error {
	if !c.awaitSDPPrack(ctx) {
		c.mu.Lock()
		cancelled, sent := c.cancelled, c.finalSent
		c.mu.Unlock()
		switch {
		case cancelled:
			return ErrCancelled
		case sent:
			return ErrAlreadyAnswered // failed for want of a PRACK
		}
		return fmt.Errorf("sip: Answer: waiting for a PRACK: %w", ctx.Err())
	}
	if err := c.claimFinal(); err != nil {
		return err
	}
	d := newDialog(c.ep, c.invite.CallID, c.localTag, tagOf(c.req.From().Params))
	d.remoteCSeq, d.remoteCSeqSet = c.req.CSeq().SeqNo, true
	d.local = sip.FromHeader{DisplayName: c.req.To().DisplayName, Address: *c.req.To().Address.Clone(), Params: sip.NewParams()}
	d.local.Params.Add("tag", c.localTag)
	d.remote = sip.ToHeader{DisplayName: c.req.From().DisplayName, Address: *c.req.From().Address.Clone(), Params: c.req.From().Params.Clone()}
	d.remoteTarget = *c.req.Contact().Address.Clone()
	for _, h := range c.req.GetHeaders("Record-Route") {
		if rr, ok := h.(*sip.RecordRouteHeader); ok {
			d.routeSet = append(d.routeSet, *rr.Address.Clone())
		}
	}
	d.flow = c.flow
	d.localSDP = sdp
	c.mu.Lock()
	d.requests = c.requests
	c.mu.Unlock()
	// The call's context ends with its dialog: without this, every answered
	// call would stay a child of the Endpoint's context forever.
	d.onEnd = c.cancel
	if err := c.ep.addDialog(d); err != nil {
		close(c.final)
		c.cancel()
		return err
	}
	c.mu.Lock()
	c.d = d
	c.mu.Unlock()

	res := c.response(200, "OK", sdp)
	res.AppendHeader(sip.NewHeader("Allow", allowMethods))
	for _, h := range hdrs {
		res.AppendHeader(sip.NewHeader(h.Name, h.Value))
	}
	err := c.tx.Respond(res)
	close(c.final)
	if err == nil && errors.Is(c.tx.Err(), sip.ErrTransactionCanceled) {
		err = ErrCancelled
	}
	if err != nil {
		d.end(CauseLocal)
		if errors.Is(err, ErrCancelled) {
			return err
		}
		return fmt.Errorf("%w: 200: %v", ErrTransport, err)
	}
	resend := func() error {
		if err := c.tx.Respond(res); err != nil {
			return c.ep.srv.WriteResponse(res)
		}
		return nil
	}
	if err := d.awaitAck(ctx, d.acked, c.tx.Acks(), d.ackReceived, resend); err != nil {
		if errors.Is(err, ErrNoAck) && d.end(CauseNoAck) {
			_ = d.sendBye(context.Background())
		}
		return err
	}
	return nil
}

// Hangup sends BYE if the call was answered and is still up. Before Answer it
// rejects the call with 480.
func (c *ServerCall) Hangup(ctx context.Context) error {
	c.mu.Lock()
	d := c.d
	c.mu.Unlock()
	if d == nil {
		err := c.Reject(480, "Temporarily Unavailable")
		if errors.Is(err, ErrAlreadyAnswered) || errors.Is(err, ErrCancelled) {
			return nil
		}
		return err
	}
	return d.Hangup(ctx)
}

// Done is closed when the answered call has ended; it is never closed for a
// call that was not answered.
func (c *ServerCall) Done() <-chan struct{} {
	c.mu.Lock()
	d := c.d
	c.mu.Unlock()
	if d == nil {
		return nil
	}
	return d.done
}

// Cause says why the answered call ended; CauseNone while it is up.
func (c *ServerCall) Cause() Cause {
	c.mu.Lock()
	d := c.d
	c.mu.Unlock()
	if d == nil {
		return CauseNone
	}
	return d.Cause()
}

// CallID is this leg's Call-ID.
func (c *ServerCall) CallID() string { return c.invite.CallID }

// TakeRequests makes the caller the owner of the call's in-dialog requests
// (see DialogRequest); it may be called before Answer, so that no request
// arriving right after the 200 is answered by default.
func (c *ServerCall) TakeRequests() <-chan *DialogRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.d != nil {
		return c.d.TakeRequests()
	}
	if c.requests == nil {
		c.requests = make(chan *DialogRequest, 4)
	}
	return c.requests
}

// answered returns the dialog of an answered call, or ErrNotAnswered.
func (c *ServerCall) answered() (*dialog, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.d == nil {
		return nil, ErrNotAnswered
	}
	return c.d, nil
}

// Reinvite sends a re-INVITE on the answered call; see ClientCall.Reinvite.
func (c *ServerCall) Reinvite(ctx context.Context, body []byte, hdrs []Header, ackBody func(Response) []byte) (Response, error) {
	d, err := c.answered()
	if err != nil {
		return Response{}, err
	}
	return d.Reinvite(ctx, body, hdrs, ackBody)
}

// Send sends a non-INVITE request on the answered call; see ClientCall.Send.
func (c *ServerCall) Send(ctx context.Context, method string, body []byte, contentType string, hdrs ...Header) (Response, error) {
	d, err := c.answered()
	if err != nil {
		return Response{}, err
	}
	return d.Send(ctx, method, body, contentType, hdrs...)
}

// GlareDelay is how long to wait before retrying a re-INVITE that got 491;
// the answering side waits 0 to 2 s (RFC 3261 §14.1).
func (c *ServerCall) GlareDelay() time.Duration {
	if d, err := c.answered(); err == nil {
		return d.GlareDelay()
	}
	return 0
}

// AckSDP is the SDP of the caller's ACK to the 200 that Answer sent: the
// answer to byocp's offer when the INVITE had none (Delayed Offer); nil
// when the ACK had no SDP or has not arrived (Answer returns after it).
func (c *ServerCall) AckSDP() []byte {
	d, err := c.answered()
	if err != nil {
		return nil
	}
	select {
	case <-d.acked:
		return d.firstAck
	default:
		return nil
	}
}
