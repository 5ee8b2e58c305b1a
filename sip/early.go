package sip

import (
	"fmt"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// EarlyRequest is a request the peer sent within an early dialog, before
// the INVITE's final response: an UPDATE (RFC 3311), or a PRACK carrying a
// session description (RFC 3262 §5). Its owner answers it with Respond; one
// that never answers gets it answered 500 after the Endpoint's
// RequestTimeout.
//
// The owner of a ServerCall's early requests takes them with
// ServerCall.EarlyRequests; those of an INVITE byocp sends reach
// InviteRequest.OnEarlyRequest on Invite's goroutine.
type EarlyRequest struct {
	Method      string // "UPDATE" or "PRACK"
	CSeq        uint32
	Body        []byte // the session description, nil when there is none
	ContentType string
	// Answer reports that Body answers byocp's offer: a PRACK to a reliable
	// provisional response that carried byocp's offer. Otherwise a Body is
	// an offer, to be answered in the response.
	Answer bool

	ep   *Endpoint
	req  *sip.Request
	tx   sip.ServerTransaction
	once sync.Once
	done chan struct{}
}

func newEarlyRequest(e *Endpoint, req *sip.Request, tx sip.ServerTransaction) *EarlyRequest {
	r := &EarlyRequest{Method: string(req.Method), CSeq: req.CSeq().SeqNo, ep: e, req: req, tx: tx, done: make(chan struct{})}
	r.ContentType = contentTypeOf(req)
	r.Body = SDPOf(r.ContentType, req.Body())
	return r
}

// CallID is the Call-ID of the leg the request came on.
func (r *EarlyRequest) CallID() string { return callIDOf(r.req) }

// Header returns the first value of the named header field, "" if absent.
func (r *EarlyRequest) Header(name string) string { return headerOf(r.req, name) }

// Respond sends the final response (200-699) with an optional SDP body and
// extra header fields; only the first call sends anything.
func (r *EarlyRequest) Respond(code int, reason string, body []byte, hdrs ...Header) error {
	if code < 200 || code > 699 {
		return fmt.Errorf("sip: Respond: %d is not a final status", code)
	}
	err := ErrAlreadyAnswered
	r.once.Do(func() {
		defer close(r.done)
		res := sip.NewResponseFromRequest(r.req, code, reason, body)
		if code < 300 && r.req.Method == sip.UPDATE {
			res.AppendHeader(r.ep.contact())
		}
		if body != nil {
			res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
		}
		res.AppendHeader(sip.NewHeader("Server", r.ep.cfg.UserAgent))
		for _, h := range hdrs {
			res.AppendHeader(sip.NewHeader(h.Name, h.Value))
		}
		err = nil
		if e := r.tx.Respond(res); e != nil {
			err = fmt.Errorf("%w: %d to %s: %v", ErrTransport, code, r.Method, e)
		}
	})
	return err
}

// deliverEarly hands r to its owner through ch and keeps the transaction
// until the owner answers: sipgo ends it when the handler returns. A full
// channel (an owner that is not reading) gets 500 with Retry-After at
// once, an owner too slow 500 after RequestTimeout. Once ended is closed
// (the INVITE has its final response) nobody reads ch any more: the peer
// is asked to retry, in the dialog the final response established.
func (e *Endpoint) deliverEarly(ch chan<- *EarlyRequest, r *EarlyRequest, ended <-chan struct{}) {
	retry := Header{Name: "Retry-After", Value: "1"}
	select {
	case ch <- r:
	case <-ended:
		_ = r.Respond(500, "Server Internal Error", nil, retry)
		return
	default:
		_ = r.Respond(500, "Server Internal Error", nil, retry)
		return
	}
	timer := time.NewTimer(e.cfg.RequestTimeout)
	defer timer.Stop()
	select {
	case <-r.done:
	case <-r.tx.Done():
	case <-ended:
		_ = r.Respond(500, "Server Internal Error", nil, retry)
	case <-timer.C:
		e.log.Warn("early-dialog request not answered in time", "method", r.Method, "call_id", r.CallID())
		_ = r.Respond(500, "Server Internal Error", nil)
	}
}

// earlyOutKey names the early dialogs of an INVITE this endpoint sent: the
// requests its callee sends in them carry our From tag in their To.
type earlyOutKey struct{ callID, localTag string }

// earlyRoute is where the requests of an outgoing INVITE's early dialogs
// go while Invite runs; done is closed when it returns.
type earlyRoute struct {
	ch   chan *EarlyRequest
	done chan struct{}
}

// watchEarly routes the requests the callee sends in the early dialogs of
// an outgoing INVITE to the returned route, until unwatch.
func (e *Endpoint) watchEarly(callID, localTag string) (*earlyRoute, func()) {
	r := &earlyRoute{ch: make(chan *EarlyRequest, 4), done: make(chan struct{})}
	k := earlyOutKey{callID, localTag}
	e.mu.Lock()
	e.earlyOut[k] = r
	e.mu.Unlock()
	return r, func() {
		e.mu.Lock()
		if e.earlyOut[k] == r {
			delete(e.earlyOut, k)
		}
		e.mu.Unlock()
		close(r.done)
	}
}

// onEarly routes a request that matched no dialog: a request within an
// early dialog of a ServerCall still ringing, or of an INVITE this
// endpoint is placing. It reports false for a request of neither.
func (e *Endpoint) onEarly(req *sip.Request, tx sip.ServerTransaction) bool {
	if req.CallID() == nil || req.From() == nil || req.To() == nil {
		return false
	}
	callID, toTag, fromTag := req.CallID().Value(), tagOf(req.To().Params), tagOf(req.From().Params)
	e.mu.Lock()
	call := e.early[dialogKey{callID, toTag, fromTag}]
	out := e.earlyOut[earlyOutKey{callID, toTag}]
	e.mu.Unlock()
	switch {
	case call != nil:
		call.onEarlyRequest(req, tx)
		return true
	case out != nil && req.Method == sip.UPDATE:
		e.deliverEarly(out.ch, newEarlyRequest(e, req, tx), out.done)
		return true
	}
	return false
}

// EarlyHooks are how the caller of a Dial (trunk.Trunk, peering.Peering)
// follows an outgoing call while it rings; see the InviteRequest fields
// of the same names. The zero value ignores provisional responses and
// answers early requests by default.
type EarlyHooks struct {
	OnProvisional  func(Response)
	OnEarlyRequest func(*EarlyRequest)
	EarlyRequests  <-chan *EarlyRequest
}

// Apply sets the hooks on r.
func (h EarlyHooks) Apply(r *InviteRequest) {
	r.OnProvisional, r.OnEarlyRequest, r.EarlyRequests = h.OnProvisional, h.OnEarlyRequest, h.EarlyRequests
}
