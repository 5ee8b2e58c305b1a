package sip

import (
	"context"
	"errors"
	"fmt"
	"sync"

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
	ctx      context.Context
	cancel   context.CancelFunc
	final    chan struct{}

	mu        sync.Mutex
	finalSent bool
	cancelled bool
	d         *dialog
}

func newServerCall(e *Endpoint, req *sip.Request, tx sip.ServerTransaction) *ServerCall {
	c := &ServerCall{
		ep:       e,
		req:      req,
		tx:       tx,
		invite:   inviteFrom(req),
		localTag: tagOf(req.To().Params), // set by Endpoint.onInvite
		final:    make(chan struct{}),
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
// INVITE). It stays alive after a successful Answer until the call ends.
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
// with an optional SDP body.
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
	if err := c.tx.Respond(c.response(code, reason, sdp)); err != nil {
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

// Answer sends 200 OK with the SDP answer, retransmits it over UDP until the
// caller's ACK arrives and then returns; the dialog is established from the
// moment the 200 is sent. If no ACK arrives within 64*T1 the call is hung up
// and ErrNoAck returned. ErrCancelled means the caller's CANCEL won the race.
func (c *ServerCall) Answer(ctx context.Context, sdp []byte) error {
	if err := c.claimFinal(); err != nil {
		return err
	}
	d := newDialog(c.ep, c.invite.CallID, c.localTag, tagOf(c.req.From().Params))
	d.local = sip.FromHeader{DisplayName: c.req.To().DisplayName, Address: *c.req.To().Address.Clone(), Params: sip.NewParams()}
	d.local.Params.Add("tag", c.localTag)
	d.remote = sip.ToHeader{DisplayName: c.req.From().DisplayName, Address: *c.req.From().Address.Clone(), Params: c.req.From().Params.Clone()}
	d.remoteTarget = *c.req.Contact().Address.Clone()
	for _, h := range c.req.GetHeaders("Record-Route") {
		if rr, ok := h.(*sip.RecordRouteHeader); ok {
			d.routeSet = append(d.routeSet, *rr.Address.Clone())
		}
	}
	if c.ep.network != "UDP" {
		d.flow = c.req.Source()
	}
	d.localSDP = sdp
	if err := c.ep.addDialog(d); err != nil {
		close(c.final)
		return err
	}
	c.mu.Lock()
	c.d = d
	c.mu.Unlock()

	res := c.response(200, "OK", sdp)
	res.AppendHeader(sip.NewHeader("Allow", allowMethods))
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
	if err := d.awaitAck(ctx, c.tx.Acks(), resend); err != nil {
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
