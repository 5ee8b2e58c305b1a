package sip

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// ErrPending is returned by Reinvite and by Send for an UPDATE with an
// offer while another INVITE or offer on the dialog, sent or received, has
// no final response yet (RFC 3261 §14.1, RFC 3311 §5.1): try again after it.
var ErrPending = errors.New("sip: an INVITE or offer is pending on the dialog")

// DialogRequest is a request the peer sent within an established dialog
// (re-INVITE, UPDATE, INFO, ...) that the dialog's owner answers with
// Respond. It reaches the owner through Requests once the owner has called
// TakeRequests; an owner that never answers gets its request answered 500
// after Endpoint's RequestTimeout, so that the peer is never left waiting.
// BYE and in-dialog OPTIONS are answered by the dialog itself and never
// reach the owner.
type DialogRequest struct {
	Method      string // "INVITE", "UPDATE", "INFO", ...
	CSeq        uint32
	Body        []byte
	ContentType string

	d    *dialog
	req  *sip.Request
	tx   sip.ServerTransaction
	once sync.Once
	done chan struct{} // closed once the final response is sent
	ack  chan []byte   // INVITE answered 2xx: the ACK's body; closed if none comes

	ackOnce sync.Once
	acked   chan struct{} // closed when the ACK for our 2xx arrived
}

// Header returns the first value of the named header field, "" if absent.
func (r *DialogRequest) Header(name string) string {
	if h := r.req.GetHeader(name); h != nil {
		return h.Value()
	}
	return ""
}

// HasSDP reports whether the request carries an SDP body (an offer, or for
// an UPDATE or PRACK possibly an answer).
func (r *DialogRequest) HasSDP() bool { return r.SDP() != nil }

// Respond sends the final response (code 200-699) with an optional SDP
// body and extra header fields; only the first call sends anything. A 2xx
// to an INVITE is retransmitted over UDP until the ACK arrives (RFC 3261
// §13.3.1.4), whose body, if any, Ack then delivers; without an ACK within
// 64*T1 the dialog ends with CauseNoAck and BYE.
func (r *DialogRequest) Respond(code int, reason string, body []byte, hdrs ...Header) error {
	if code < 200 || code > 699 {
		return fmt.Errorf("sip: Respond: %d is not a final status", code)
	}
	err := ErrAlreadyAnswered
	r.once.Do(func() { err = r.respond(code, reason, body, hdrs) })
	return err
}

func (r *DialogRequest) respond(code int, reason string, body []byte, hdrs []Header) error {
	defer close(r.done)
	d := r.d
	if d.Cause() != CauseNone && code < 300 {
		// The dialog ended (BYE crossed the request): no session to accept
		// it into (RFC 3261 §15.1.2).
		code, reason, body, hdrs = 487, "Request Terminated", nil, nil
	}
	isInvite := r.req.Method == sip.INVITE
	res := sip.NewResponseFromRequest(r.req, code, reason, body)
	if code < 300 && (isInvite || r.req.Method == sip.UPDATE) {
		res.AppendHeader(d.localContact.Clone())
	}
	if isInvite && code < 300 {
		res.AppendHeader(sip.NewHeader("Allow", allowMethods))
	}
	if body != nil {
		res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	}
	res.AppendHeader(sip.NewHeader("Server", d.ep.cfg.UserAgent))
	for _, h := range hdrs {
		res.AppendHeader(sip.NewHeader(h.Name, h.Value))
	}
	if isInvite && code < 300 {
		d.mu.Lock()
		d.awaitingAck = r
		d.mu.Unlock()
	}
	d.settle(r)
	if err := r.tx.Respond(res); err != nil {
		if isInvite && code < 300 {
			d.mu.Lock()
			d.awaitingAck = nil
			d.mu.Unlock()
			r.ackOnce.Do(func() { close(r.ack) })
		}
		return fmt.Errorf("%w: %d to %s: %v", ErrTransport, code, r.Method, err)
	}
	if isInvite && code < 300 {
		go r.retransmitUntilAck(res)
	}
	return nil
}

// retransmitUntilAck repeats the 2xx to a re-INVITE until its ACK.
func (r *DialogRequest) retransmitUntilAck(res *sip.Response) {
	d := r.d
	defer d.ep.recoverPanic("re-INVITE 2xx", d.key.callID)
	resend := func() error {
		if err := r.tx.Respond(res); err != nil {
			return d.ep.srv.WriteResponse(res)
		}
		return nil
	}
	err := d.awaitAck(context.Background(), r.acked, r.tx.Acks(), r.takeAck, resend)
	d.mu.Lock()
	if d.awaitingAck == r {
		d.awaitingAck = nil
	}
	d.mu.Unlock()
	if err != nil {
		r.ackOnce.Do(func() { close(r.ack) })
		if errors.Is(err, ErrNoAck) && d.end(CauseNoAck) {
			_ = d.sendBye(context.Background())
		}
	}
}

// takeAck records the ACK of the 2xx: its body for Ack, once.
func (r *DialogRequest) takeAck(ack *sip.Request) {
	r.ackOnce.Do(func() {
		r.ack <- ack.Body()
		close(r.acked)
	})
}

// Ack delivers the body of the ACK to a 2xx answer of a re-INVITE (nil
// when it has none: the ACK of a re-INVITE that carried an offer). The
// channel is closed without a value when no ACK came. Only re-INVITEs
// answered 2xx get an ACK; for other requests the channel stays empty.
func (r *DialogRequest) Ack() <-chan []byte { return r.ack }

// Done is closed once the final response has been sent.
func (r *DialogRequest) Done() <-chan struct{} { return r.done }

// TakeRequests makes the caller the owner of the dialog's in-dialog
// requests: from now on re-INVITE, UPDATE, INFO and other methods arrive on
// the returned channel and wait for the owner's Respond. Before it is
// called (and for owners that never call it), the dialog answers them
// itself: 200 with its current SDP for re-INVITE and UPDATE with an offer,
// 403 for REFER, 200 for the rest.
func (d *dialog) TakeRequests() <-chan *DialogRequest {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.requests == nil {
		d.requests = make(chan *DialogRequest, 4)
	}
	return d.requests
}

// handleRequest answers an in-dialog request from the peer, or hands it to
// the owner and keeps its transaction until the owner has answered.
func (d *dialog) handleRequest(req *sip.Request, tx sip.ServerTransaction) {
	switch req.Method {
	case sip.BYE:
		// Ended before the 200 goes out: the peer may act on the 200 at once.
		d.end(CauseRemoteBye)
		d.ep.reply(req, tx, 200, "OK")
		return
	case sip.OPTIONS:
		d.ep.reply(req, tx, 200, "OK", sip.NewHeader("Allow", allowMethods), sip.NewHeader("Accept", "application/sdp"))
		return
	}
	r := &DialogRequest{Method: string(req.Method), CSeq: req.CSeq().SeqNo, Body: req.Body(),
		d: d, req: req, tx: tx, done: make(chan struct{}), ack: make(chan []byte, 1), acked: make(chan struct{})}
	if ct := req.ContentType(); ct != nil {
		r.ContentType = ct.Value()
	}
	if code, reason, hdrs := d.admit(r); code != 0 {
		r.once.Do(func() {
			close(r.done)
			d.ep.reply(req, tx, code, reason, hdrs...)
		})
		return
	}
	if c := req.Contact(); c != nil && (req.Method == sip.INVITE || req.Method == sip.UPDATE) {
		d.mu.Lock()
		d.remoteTarget = *c.Address.Clone() // target refresh (RFC 3261 §12.2.2)
		d.mu.Unlock()
	}
	d.mu.Lock()
	owner := d.requests
	d.mu.Unlock()
	if owner == nil {
		d.answerItself(r)
		return
	}
	select {
	case owner <- r:
	case <-d.done:
		_ = r.Respond(481, "Call/Transaction Does Not Exist", nil)
		return
	default:
		// The owner is not reading: answer rather than block the peer.
		_ = r.Respond(500, "Server Internal Error", nil, Header{Name: "Retry-After", Value: "1"})
		return
	}
	// sipgo ends the transaction when this handler returns: keep it until
	// the owner answers, or answer for an owner that never does.
	timer := time.NewTimer(d.ep.cfg.RequestTimeout)
	defer timer.Stop()
	select {
	case <-r.done:
	case <-tx.Done():
	case <-timer.C:
		d.ep.log.Warn("in-dialog request not answered in time", "method", r.Method, "call_id", d.key.callID)
		_ = r.Respond(500, "Server Internal Error", nil)
	case <-d.done:
		_ = r.Respond(487, "Request Terminated", nil) // BYE crossed it (RFC 3261 §15.1.2)
	}
}

// admit applies the dialog's ordering rules to a new request: CSeq must
// grow (RFC 3261 §12.2.2), and an INVITE or offer may not overlap another
// (RFC 3261 §14.2, RFC 3311 §5.2). It returns the rejection, or code 0.
func (d *dialog) admit(r *DialogRequest) (int, string, []sip.Header) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.remoteCSeqSet && r.CSeq <= d.remoteCSeq {
		return 500, "Server Internal Error", []sip.Header{sip.NewHeader("Warning", `399 byocp "CSeq out of order"`)}
	}
	d.remoteCSeq, d.remoteCSeqSet = r.CSeq, true
	offer := r.Method == string(sip.INVITE) || r.Method == string(sip.UPDATE) && r.HasSDP()
	if !offer {
		return 0, "", nil
	}
	if d.pendingOut {
		return 491, "Request Pending", nil
	}
	if d.pendingIn != nil {
		retry := strconv.Itoa(rand.IntN(11))
		return 500, "Server Internal Error", []sip.Header{sip.NewHeader("Retry-After", retry)}
	}
	d.pendingIn = r
	return 0, "", nil
}

// settle clears the pending state once r has its final response.
func (d *dialog) settle(r *DialogRequest) {
	d.mu.Lock()
	if d.pendingIn == r {
		d.pendingIn = nil
	}
	d.mu.Unlock()
}

// answerItself is the answer for an owner that did not take the requests:
// the session stays as negotiated.
func (d *dialog) answerItself(r *DialogRequest) {
	if r.req.Method == sip.REFER {
		// A transfer needs an owner that can carry it out.
		_ = r.Respond(403, "Forbidden", nil)
		return
	}
	d.mu.Lock()
	sdp := d.localSDP
	d.mu.Unlock()
	var body []byte
	if r.req.Method == sip.INVITE || r.req.Method == sip.UPDATE && r.HasSDP() {
		body = sdp
	}
	if err := r.Respond(200, "OK", body); err != nil {
		d.ep.log.Debug("in-dialog response not sent", "method", r.Method, "error", err)
	}
}

// ackReceived takes an ACK that matched this dialog: the ACK of a re-INVITE
// answered 2xx (same CSeq), or else of the dialog's first INVITE.
func (d *dialog) ackReceived(req *sip.Request) {
	d.mu.Lock()
	r := d.awaitingAck
	d.mu.Unlock()
	if r != nil && req.CSeq() != nil && req.CSeq().SeqNo == r.CSeq {
		r.takeAck(req)
		return
	}
	d.ackOnce.Do(func() {
		d.firstAck = SDPOf(contentTypeOf(req), req.Body())
		close(d.acked)
	})
}

// contentTypeOf is a request's Content-Type value, "" without one.
func contentTypeOf(req *sip.Request) string {
	if ct := req.ContentType(); ct != nil {
		return ct.Value()
	}
	return ""
}

// Reinvite sends a re-INVITE within the dialog with body as its offer (nil
// sends an offerless re-INVITE, whose 2xx carries the peer's offer), waits
// for the final response, and ACKs a 2xx with ackBody(response) as body
// (ackBody may be nil: an ACK without body). It returns the 2xx, or a
// *StatusError for a failure (491 on glare: retry after GlareDelay), or
// ErrPending while another INVITE or offer is pending. A failed re-INVITE
// leaves the dialog and its session as they were (RFC 3261 §14.1).
func (d *dialog) Reinvite(ctx context.Context, body []byte, hdrs []Header, ackBody func(Response) []byte) (Response, error) {
	if err := d.beginOffer(); err != nil {
		return Response{}, err
	}
	defer d.endOffer()
	req := d.newRequest(sip.INVITE)
	req.AppendHeader(sip.NewHeader("Allow", allowMethods))
	d.addBody(req, body, "application/sdp", hdrs)
	ctx, cancel := context.WithTimeout(ctx, 64*sip.T1)
	defer cancel()
	tx, err := d.ep.client.TransactionRequest(ctx, req, sipgo.ClientRequestBuild)
	if err != nil {
		return Response{}, fmt.Errorf("%w: re-INVITE: %w", ErrTransport, err)
	}
	defer tx.Terminate()
	ended := d.done
	var grace <-chan time.Time
	for {
		select {
		case res := <-tx.Responses():
			if res.IsProvisional() {
				continue
			}
			r := responseFrom(res)
			if !res.IsSuccess() {
				return r, &StatusError{Response: r}
			}
			if c := res.Contact(); c != nil {
				d.mu.Lock()
				d.remoteTarget = *c.Address.Clone()
				d.mu.Unlock()
			}
			ack := d.newRequest(sip.ACK)
			ack.CSeq().SeqNo = req.CSeq().SeqNo
			var ab []byte
			if ackBody != nil {
				ab = ackBody(r)
			}
			d.addBody(ack, ab, "application/sdp", nil)
			d.mu.Lock()
			d.ack = ack
			d.mu.Unlock()
			d.resendAck()
			tx.OnRetransmission(func(r *sip.Response) {
				if r.IsSuccess() {
					d.resendAck()
				}
			})
			return r, nil
		case <-tx.Done():
			if errors.Is(tx.Err(), sip.ErrTransactionTimeout) {
				return Response{}, fmt.Errorf("%w: re-INVITE timed out", ErrNoResponse)
			}
			return Response{}, fmt.Errorf("%w: re-INVITE: %w", ErrTransport, tx.Err())
		case <-ctx.Done():
			return Response{}, fmt.Errorf("%w: re-INVITE: %w", ErrNoResponse, ctx.Err())
		case <-ended:
			// The dialog ended (a BYE): the final response, often sent just
			// before that BYE, may still be on its way.
			ended, grace = nil, time.After(4*sip.T1)
		case <-grace:
			return Response{}, ErrClosed
		}
	}
}

// Send sends a non-INVITE request within the dialog (UPDATE, INFO,
// OPTIONS, ...) with an optional body and returns its final response; a
// failure status is returned as a *StatusError. An UPDATE with a body is an
// offer and gets ErrPending while another offer is pending.
func (d *dialog) Send(ctx context.Context, method string, body []byte, contentType string, hdrs ...Header) (Response, error) {
	m := sip.RequestMethod(method)
	switch m {
	case sip.INVITE, sip.ACK, sip.BYE, sip.CANCEL:
		return Response{}, fmt.Errorf("sip: Send: use Reinvite, Hangup or Invite's context for %s", method)
	}
	if m == sip.UPDATE && len(body) > 0 {
		if err := d.beginOffer(); err != nil {
			return Response{}, err
		}
		defer d.endOffer()
	}
	req := d.newRequest(m)
	d.addBody(req, body, contentType, hdrs)
	ctx, cancel := context.WithTimeout(ctx, 64*sip.T1)
	defer cancel()
	res, err := d.ep.client.Do(ctx, req, sipgo.ClientRequestBuild)
	if err != nil {
		return Response{}, fmt.Errorf("%w: %s: %w", ErrTransport, method, err)
	}
	r := responseFrom(res)
	if !res.IsSuccess() {
		return r, &StatusError{Response: r}
	}
	if c := res.Contact(); c != nil && m == sip.UPDATE {
		d.mu.Lock()
		d.remoteTarget = *c.Address.Clone()
		d.mu.Unlock()
	}
	return r, nil
}

// addBody sets a request's body, its Content-Type and extra headers.
func (d *dialog) addBody(req *sip.Request, body []byte, contentType string, hdrs []Header) {
	for _, h := range hdrs {
		req.AppendHeader(sip.NewHeader(h.Name, h.Value))
	}
	if len(body) > 0 {
		req.AppendHeader(sip.NewHeader("Content-Type", contentType))
	}
	req.SetBody(body)
}

// beginOffer marks an outgoing INVITE or offer as pending.
func (d *dialog) beginOffer() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cause != CauseNone {
		return ErrClosed
	}
	if d.pendingOut || d.pendingIn != nil {
		return ErrPending
	}
	d.pendingOut = true
	return nil
}

func (d *dialog) endOffer() {
	d.mu.Lock()
	d.pendingOut = false
	d.mu.Unlock()
}

// GlareDelay is how long to wait before retrying a re-INVITE that got 491
// (RFC 3261 §14.1): 2.1 to 4 s when this side chose the Call-ID (it placed
// the call), 0 to 2 s otherwise, in units of 10 ms.
func (d *dialog) GlareDelay() time.Duration {
	if d.ownsCallID {
		return 2100*time.Millisecond + time.Duration(rand.IntN(191))*10*time.Millisecond
	}
	return time.Duration(rand.IntN(201)) * 10 * time.Millisecond
}
