package sip

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/google/uuid"
)

// InviteRequest describes a call to place with Endpoint.Invite.
type InviteRequest struct {
	// RequestURI is the INVITE's Request-URI.
	RequestURI URI
	// Destination is the next hop as host:port; "" sends to RequestURI's host.
	Destination string
	// From and To are this leg's identities; tags are generated.
	From NameAddr
	To   NameAddr
	// SDP is the offer (Early Offer); it must not be empty.
	SDP []byte
	// Headers are extra header fields (e.g. P-Asserted-Identity).
	Headers []Header
	// ResponseTimeout gives up on a peer that sends no response at all
	// within it (no 100 Trying); 0 waits for the transaction timer (32 s).
	ResponseTimeout time.Duration
	// OnProvisional is called for every provisional response above 100.
	OnProvisional func(Response)
	// OnEarlyRequest is called, on Invite's goroutine, for each request
	// the callee sends in an early dialog of this INVITE (an UPDATE, RFC
	// 3311) and for each request that arrives on EarlyRequests; it must
	// answer it (EarlyRequest.Respond). Nil answers an UPDATE with an
	// offer 488 and other requests 200.
	OnEarlyRequest func(*EarlyRequest)
	// EarlyRequests are early-dialog requests from elsewhere that
	// OnEarlyRequest serves on the same goroutine as this INVITE's own
	// events: a B2BUA passes the caller leg's ServerCall.EarlyRequests, so
	// that one goroutine owns the call's state while it rings.
	EarlyRequests <-chan *EarlyRequest

	// Set by the first attempt, reused by a retry after 422 (RFC 4028
	// §7.4): the same Call-ID and From tag with the next CSeq.
	callID, fromTag string
	cseq            uint32
}

// retryAfter422 returns the request to resend after a 422 Session
// Interval Too Small: its Session-Expires and Min-SE raised to the 422's
// Min-SE. It reports false when the request offered no session timer or
// the 422 names no larger minimum.
func (r InviteRequest) retryAfter422(res Response) (InviteRequest, bool) {
	minSE := SessionTimerOf(res.Header).MinSE
	asked := SessionTimerOf(func(name string) string {
		for _, h := range r.Headers {
			if strings.EqualFold(h.Name, name) {
				return h.Value
			}
		}
		return ""
	}).Expires
	if asked == 0 || minSE <= asked {
		return r, false
	}
	next := r
	next.Headers = nil
	for _, h := range r.Headers {
		switch {
		case strings.EqualFold(h.Name, "Session-Expires"):
			h.Value = SessionExpiresHeader(minSE, "")
		case strings.EqualFold(h.Name, "Min-SE"):
			h.Value = MinSEHeader(minSE)
		}
		next.Headers = append(next.Headers, h)
	}
	next.cseq++
	return next, true
}

// ClientCall is the UAC side of an answered outgoing call.
type ClientCall struct {
	*dialog
	answer Response
}

// Answer is the 2xx that established the call.
func (c *ClientCall) Answer() Response { return c.answer }

// Invite places a call: it sends the INVITE, reports provisional responses to
// r.OnProvisional and returns once a final response arrives. A 2xx is ACKed
// and returned as a ClientCall; other finals return a *StatusError. If ctx
// ends first the INVITE is cancelled (CANCEL after the first provisional
// response, RFC 3261 §9.1) and ErrCancelled returned; a 2xx that crosses the
// CANCEL is ACKed and hung up.
//
// A 422 (Session Interval Too Small) to an INVITE that offered a session
// timer is answered by byocp itself: the INVITE is sent again with the
// Session-Expires the 422 asks for (RFC 4028 §7.4), up to twice.
func (e *Endpoint) Invite(ctx context.Context, r InviteRequest) (*ClientCall, error) {
	for attempt := 0; ; attempt++ {
		call, err := e.invite(ctx, &r)
		var se *StatusError
		if attempt < 2 && errors.As(err, &se) && se.Response.StatusCode == 422 {
			if next, ok := r.retryAfter422(se.Response); ok {
				e.log.Info("422 Session Interval Too Small: retrying", "call_id", r.callID, "min_se", se.Response.Header("Min-SE"))
				r = next
				continue
			}
		}
		return call, err
	}
}

func (e *Endpoint) invite(ctx context.Context, r *InviteRequest) (*ClientCall, error) {
	if len(r.SDP) == 0 {
		return nil, fmt.Errorf("sip: Invite: SDP offer is required (Early Offer)")
	}
	e.mu.Lock()
	closed := e.closed
	e.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	req, localTag := e.newInvite(r)
	r.callID, r.fromTag, r.cseq = req.CallID().Value(), localTag, req.CSeq().SeqNo
	dest := req.Destination()

	// The context bounds connection setup (TCP connect, TLS handshake) only:
	// by ResponseTimeout when set, so a peer that accepts nothing or stalls
	// the handshake counts as silent, and by the caller's ctx.
	var noResponse <-chan time.Time
	setup := 64 * sip.T1
	if r.ResponseTimeout > 0 {
		t := time.NewTimer(r.ResponseTimeout)
		defer t.Stop()
		noResponse = t.C
		setup = min(setup, r.ResponseTimeout)
	}
	txCtx, txCancel := context.WithTimeout(ctx, setup)
	defer txCancel()
	key := inviteKey{req.CallID().Value(), req.CSeq().SeqNo}
	order := e.order.watch(key) // before sending: the answer may be quick
	defer e.order.unwatch(key)
	early, unwatchEarly := e.watchEarly(req.CallID().Value(), localTag)
	defer unwatchEarly()
	tx, err := e.client.TransactionRequest(txCtx, req, sipgo.ClientRequestBuild)
	if err != nil {
		switch {
		case ctx.Err() != nil:
			return nil, ErrCancelled
		case txCtx.Err() != nil:
			return nil, fmt.Errorf("%w: INVITE to %s: no connection within %s: %w", ErrNoResponse, dest, setup, err)
		}
		return nil, fmt.Errorf("%w: INVITE to %s: %w", ErrTransport, dest, err)
	}
	// A non-2xx final leaves the transaction to run out Timer D, so that
	// retransmissions of that response are ACKed again (RFC 3261 §17.1.1.2).
	keepTx := false
	defer func() {
		if !keepTx {
			tx.Terminate()
		}
	}()

	ctxDone := ctx.Done()
	provisional := false
	cancelWanted, cancelSent := false, false
	var cancelDeadline <-chan time.Time

	var txFinal *sip.Response
	prack := newPracker(e, req, dest)
	// handle takes one response; done reports that Invite returns.
	handle := func(res *sip.Response) (call *ClientCall, done bool, err error) {
		noResponse = nil
		switch {
		case res.IsProvisional():
			prack.take(res) // RFC 3262: a reliable 1xx gets its PRACK
			provisional = true
			if cancelWanted && !cancelSent {
				cancelDeadline, cancelSent = e.sendCancel(req, dest), true
			}
			if res.StatusCode > 100 && r.OnProvisional != nil && !cancelWanted {
				r.OnProvisional(responseFrom(res))
			}
			return nil, false, nil
		case res.IsSuccess():
			call, err := e.establish(req, res, localTag, dest, tx)
			if err != nil {
				return nil, true, err
			}
			// The transaction stays for Timer M (RFC 6026): the 2xx of other
			// forks reach establish's retransmission handler. Its state
			// machine hands this 2xx up too; take it, or it would block.
			keepTx = true
			if txFinal == nil || !txFinal.IsSuccess() {
				awaitPassUp(tx)
			}
			if cancelWanted {
				// The 2xx crossed our CANCEL (RFC 5407 §3.1.2): ACK, then BYE.
				_ = call.Hangup(context.Background())
				return nil, true, ErrCancelled
			}
			return call, true, nil
		default:
			// The transaction runs on for Timer D; nobody reads its
			// responses any more, so drain them or it would block.
			keepTx = true
			go drainResponses(tx)
			if cancelWanted {
				return nil, true, ErrCancelled
			}
			return nil, true, &StatusError{Response: responseFrom(res)}
		}
	}

	for {
		select {
		case <-order.notify:
			// Responses in the order they arrived (see arrivals); the
			// transaction's own channel is only drained below.
			batch := order.take()
			for i, r := range batch {
				if call, done, err := handle(r); done {
					if call != nil {
						// Another fork's 2xx that came in right behind this
						// one; later ones reach establish's retransmission
						// handler.
						for _, r := range append(batch[i+1:], order.take()...) {
							if r.IsSuccess() && r.To() != nil && tagOf(r.To().Params) != call.key.remoteTag {
								e.hangupFork(req, localTag, dest, r)
							}
						}
					}
					return call, err
				}
			}
		case r := <-tx.Responses():
			if !r.IsProvisional() {
				txFinal = r // the transaction's copy of a final, in case it ends first
			}
		case er := <-early.ch:
			r.serveEarly(er)
		case er := <-r.EarlyRequests:
			r.serveEarly(er)
		case <-tx.Done():
			// A reliable transport ends the transaction as soon as its
			// final is in, possibly before the transport's reader has
			// queued that final: take what arrived, in order, then the
			// transaction's own copy, waiting a moment for the queue.
			wait := time.NewTimer(100 * time.Millisecond)
			for waiting := true; waiting; {
				for _, r := range order.take() {
					if call, done, err := handle(r); done {
						wait.Stop()
						return call, err
					}
				}
				if txFinal != nil {
					wait.Stop()
					if call, done, err := handle(txFinal); done {
						return call, err
					}
				}
				select {
				case <-order.notify:
				case <-wait.C:
					waiting = false
				}
			}
			if cancelWanted {
				return nil, ErrCancelled
			}
			if err := tx.Err(); errors.Is(err, sip.ErrTransactionTimeout) {
				return nil, fmt.Errorf("%w: INVITE to %s timed out", ErrNoResponse, dest)
			}
			return nil, fmt.Errorf("%w: INVITE to %s: %w", ErrTransport, dest, tx.Err())
		case <-noResponse:
			// The peer may be slow rather than dead: whatever it still
			// sends for this INVITE must not ring a phone or set up a call
			// nobody will use (the caller moves on to the next peer).
			keepTx = true
			e.abandon(req, localTag, dest, tx)
			return nil, fmt.Errorf("%w: INVITE to %s: nothing within %s", ErrNoResponse, dest, r.ResponseTimeout)
		case <-ctxDone:
			ctxDone = nil
			cancelWanted = true
			if provisional {
				cancelDeadline, cancelSent = e.sendCancel(req, dest), true
			} else {
				// No provisional yet: CANCEL must wait for one, but not longer
				// than the INVITE transaction would.
				cancelDeadline = time.After(64 * sip.T1)
			}
		case <-cancelDeadline:
			return nil, ErrCancelled
		}
	}
}

// serveEarly hands an early-dialog request to OnEarlyRequest, or answers
// it: 488 to an UPDATE with an offer, 200 to anything else.
func (r *InviteRequest) serveEarly(er *EarlyRequest) {
	switch {
	case r.OnEarlyRequest != nil:
		r.OnEarlyRequest(er)
	case er.Method == string(sip.UPDATE) && er.Body != nil:
		_ = er.Respond(488, "Not Acceptable Here", nil)
	default:
		_ = er.Respond(200, "OK", nil)
	}
}

// abandon watches an INVITE the caller gave up on without a response, until
// its transaction ends (Timer B at most): a late provisional response gets
// a CANCEL (RFC 3261 §9.1), a late 2xx is ACKed and hung up with BYE, and a
// late failure is ACKed by the transaction layer. Nothing of it reaches the
// caller.
func (e *Endpoint) abandon(invite *sip.Request, localTag, dest string, tx sip.ClientTransaction) {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		tx.Terminate()
		return
	}
	e.wg.Add(1)
	e.mu.Unlock()
	go func() {
		defer e.wg.Done()
		defer tx.Terminate()
		defer e.recoverPanic("abandoned INVITE", invite.CallID().Value())
		timerB := time.NewTimer(64 * sip.T1)
		defer timerB.Stop()
		cancelled := false
		for {
			select {
			case res := <-tx.Responses():
				switch {
				case res.IsProvisional():
					if !cancelled && res.StatusCode > 100 {
						cancelled = true
						e.log.Info("late provisional for an abandoned INVITE: cancelling", "call_id", invite.CallID().Value(), "status", res.StatusCode)
						e.sendCancel(invite, dest)
					}
				case res.IsSuccess():
					e.log.Info("late 2xx for an abandoned INVITE: ACK and BYE", "call_id", invite.CallID().Value())
					call, err := e.establish(invite, res, localTag, dest, tx)
					if err != nil {
						e.log.Debug("late 2xx unusable", "error", err)
						return
					}
					ctx, stop := context.WithTimeout(e.ctx, 64*sip.T1)
					_ = call.Hangup(ctx)
					stop()
					return
				default:
					return // the transaction layer ACKs it
				}
			case <-tx.Done():
				return
			case <-timerB.C:
				return
			case <-e.ctx.Done():
				return
			}
		}
	}()
}

// newInvite builds the initial INVITE of a new dialog.
func (e *Endpoint) newInvite(r *InviteRequest) (*sip.Request, string) {
	req := sip.NewRequest(sip.INVITE, r.RequestURI.sipgo())
	localTag := cmp.Or(r.fromTag, sip.GenerateTagN(16))
	from := &sip.FromHeader{DisplayName: r.From.DisplayName, Address: r.From.URI.sipgo(), Params: sip.NewParams()}
	from.Params.Add("tag", localTag)
	to := &sip.ToHeader{DisplayName: r.To.DisplayName, Address: r.To.URI.sipgo(), Params: sip.NewParams()}
	callID := sip.CallIDHeader(cmp.Or(r.callID, uuid.NewString()))
	seq := cmp.Or(r.cseq, 1+uint32(time.Now().UnixNano()&0x7fff))
	maxFwd := sip.MaxForwardsHeader(70)
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: seq, MethodName: sip.INVITE})
	req.AppendHeader(&maxFwd)
	req.AppendHeader(e.contact())
	req.AppendHeader(sip.NewHeader("Allow", allowMethods))
	req.AppendHeader(sip.NewHeader("User-Agent", e.cfg.UserAgent))
	for _, h := range r.Headers {
		req.AppendHeader(sip.NewHeader(h.Name, h.Value))
	}
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(r.SDP)
	e.prepare(req, r.Destination)
	return req, localTag
}

// sendCancel sends CANCEL for req (RFC 3261 §9.1) and returns a deadline for
// the INVITE's final response.
func (e *Endpoint) sendCancel(invite *sip.Request, dest string) <-chan time.Time {
	cancel := sip.NewRequest(sip.CANCEL, *invite.Recipient.Clone())
	cancel.AppendHeader(invite.Via().Clone())
	for _, h := range invite.GetHeaders("Route") {
		cancel.AppendHeader(sip.HeaderClone(h))
	}
	cancel.AppendHeader(sip.HeaderClone(invite.From()))
	cancel.AppendHeader(sip.HeaderClone(invite.To()))
	cancel.AppendHeader(sip.HeaderClone(invite.CallID()))
	cancel.AppendHeader(&sip.CSeqHeader{SeqNo: invite.CSeq().SeqNo, MethodName: sip.CANCEL})
	maxFwd := sip.MaxForwardsHeader(70)
	cancel.AppendHeader(&maxFwd)
	cancel.SetBody(nil)
	e.prepare(cancel, dest)
	go func() {
		ctx, stop := context.WithTimeout(e.ctx, 64*sip.T1)
		defer stop()
		if _, err := e.client.Do(ctx, cancel, sipgo.ClientRequestBuild); err != nil {
			e.log.Debug("CANCEL failed", "error", err)
		}
	}()
	return time.After(64 * sip.T1)
}

// establish builds the dialog from a 2xx and sends the ACK.
func (e *Endpoint) establish(invite *sip.Request, res *sip.Response, localTag, dest string, tx sip.ClientTransaction) (*ClientCall, error) {
	to := res.To()
	contact := res.Contact()
	if to == nil || tagOf(to.Params) == "" || contact == nil {
		// Without a tag or Contact there is no dialog to ACK within.
		return nil, fmt.Errorf("sip: 2xx without To tag or Contact from %s", dest)
	}
	d := newDialog(e, invite.CallID().Value(), localTag, tagOf(to.Params))
	d.ownsCallID = true
	d.local = *invite.From()
	d.local.Params = invite.From().Params.Clone()
	d.remote = sip.ToHeader{DisplayName: to.DisplayName, Address: *to.Address.Clone(), Params: to.Params.Clone()}
	d.remoteTarget = *contact.Address.Clone()
	d.cseq = invite.CSeq().SeqNo
	d.localSDP = invite.Body()
	rr := res.GetHeaders("Record-Route")
	for _, h := range slices.Backward(rr) {
		if r, ok := h.(*sip.RecordRouteHeader); ok {
			d.routeSet = append(d.routeSet, *r.Address.Clone())
		}
	}
	if e.network != "UDP" {
		d.flow = dest
	}
	ack := d.newRequest(sip.ACK)
	ack.CSeq().SeqNo = invite.CSeq().SeqNo
	ack.SetBody(nil)
	d.ack = ack
	if err := e.addDialog(d); err != nil {
		return nil, err
	}
	d.resendAck()
	if tx != nil {
		tx.OnRetransmission(func(r *sip.Response) {
			switch {
			case !r.IsSuccess():
			case r.To() != nil && tagOf(r.To().Params) != d.key.remoteTag:
				e.hangupFork(invite, localTag, dest, r) // another fork answered too
			default:
				d.resendAck()
			}
		})
	}
	return &ClientCall{dialog: d, answer: responseFrom(res)}, nil
}

// hangupFork ACKs a 2xx to invite from a fork other than the one that
// answered the call, then ends that dialog with BYE: only one fork can be
// the call (RFC 3261 §13.2.2.4).
func (e *Endpoint) hangupFork(invite *sip.Request, localTag, dest string, res *sip.Response) {
	if d := e.lookupOutgoing(res); d != nil {
		d.resendAck() // a retransmission: that fork is being hung up already
		return
	}
	call, err := e.establish(invite, res, localTag, dest, nil)
	if err != nil {
		e.log.Debug("2xx of another fork unusable", "error", err)
		return
	}
	e.log.Info("2xx from a second fork: ACK and BYE", "call_id", call.CallID())
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return
	}
	e.wg.Add(1)
	e.mu.Unlock()
	go func() {
		defer e.wg.Done()
		ctx, cancel := context.WithTimeout(e.ctx, 64*sip.T1)
		defer cancel()
		_ = call.Hangup(ctx)
	}()
}

// Options sends an out-of-dialog OPTIONS to dest (host:port) and returns
// the final response; it is how keep-alives probe a peer.
func (e *Endpoint) Options(ctx context.Context, target URI, dest string) (Response, error) {
	req := sip.NewRequest(sip.OPTIONS, target.sipgo())
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: "byocp", Host: sipHost(e.host)}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: target.sipgo()})
	req.AppendHeader(sip.NewHeader("User-Agent", e.cfg.UserAgent))
	e.prepare(req, dest)
	res, err := e.client.Do(ctx, req)
	if err != nil {
		if strings.Contains(err.Error(), "timeout") {
			return Response{}, fmt.Errorf("%w: OPTIONS to %s: %v", ErrNoResponse, dest, err)
		}
		return Response{}, fmt.Errorf("%w: OPTIONS to %s: %v", ErrTransport, dest, err)
	}
	return responseFrom(res), nil
}

// drainResponses reads a client transaction's responses until it ends, so
// that its state machine never blocks handing one up.
func drainResponses(tx sip.ClientTransaction) {
	for {
		select {
		case <-tx.Responses():
		case <-tx.Done():
			return
		}
	}
}

// awaitPassUp takes from a client transaction the 2xx that Invite already
// acted on (from the arrival-order queue): the state machine blocks until
// that 2xx is read, and answers later ones (retransmissions, other forks)
// through the retransmission handler instead.
func awaitPassUp(tx sip.ClientTransaction) {
	timeout := time.NewTimer(time.Second)
	defer timeout.Stop()
	for {
		select {
		case r := <-tx.Responses():
			if r.IsSuccess() {
				return
			}
		case <-tx.Done():
			return
		case <-timeout.C:
			return
		}
	}
}
