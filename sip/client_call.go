package sip

import (
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
func (e *Endpoint) Invite(ctx context.Context, r InviteRequest) (*ClientCall, error) {
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
	tx, err := e.client.TransactionRequest(txCtx, req, sipgo.ClientRequestBuild)
	if err != nil {
		switch {
		case ctx.Err() != nil:
			return nil, ErrCancelled
		case txCtx.Err() != nil:
			return nil, fmt.Errorf("%w: INVITE to %s: no connection within %s: %v", ErrNoResponse, dest, setup, err)
		}
		return nil, fmt.Errorf("%w: INVITE to %s: %v", ErrTransport, dest, err)
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

	for {
		select {
		case res := <-tx.Responses():
			noResponse = nil
			switch {
			case res.IsProvisional():
				provisional = true
				if cancelWanted && !cancelSent {
					cancelDeadline, cancelSent = e.sendCancel(req, dest), true
				}
				if res.StatusCode > 100 && r.OnProvisional != nil && !cancelWanted {
					r.OnProvisional(responseFrom(res))
				}
			case res.IsSuccess():
				call, err := e.establish(req, res, localTag, dest, tx)
				if err != nil {
					return nil, err
				}
				if cancelWanted {
					// The 2xx crossed our CANCEL (RFC 5407 §3.1.2): ACK, then BYE.
					_ = call.Hangup(context.Background())
					return nil, ErrCancelled
				}
				return call, nil
			default:
				keepTx = true
				if cancelWanted {
					return nil, ErrCancelled
				}
				return nil, &StatusError{Response: responseFrom(res)}
			}
		case <-tx.Done():
			if cancelWanted {
				return nil, ErrCancelled
			}
			if err := tx.Err(); errors.Is(err, sip.ErrTransactionTimeout) {
				return nil, fmt.Errorf("%w: INVITE to %s timed out", ErrNoResponse, dest)
			}
			return nil, fmt.Errorf("%w: INVITE to %s: %v", ErrTransport, dest, tx.Err())
		case <-noResponse:
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

// newInvite builds the initial INVITE of a new dialog.
func (e *Endpoint) newInvite(r InviteRequest) (*sip.Request, string) {
	req := sip.NewRequest(sip.INVITE, r.RequestURI.sipgo())
	localTag := sip.GenerateTagN(16)
	from := &sip.FromHeader{DisplayName: r.From.DisplayName, Address: r.From.URI.sipgo(), Params: sip.NewParams()}
	from.Params.Add("tag", localTag)
	to := &sip.ToHeader{DisplayName: r.To.DisplayName, Address: r.To.URI.sipgo(), Params: sip.NewParams()}
	callID := sip.CallIDHeader(uuid.NewString())
	maxFwd := sip.MaxForwardsHeader(70)
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: 1 + uint32(time.Now().UnixNano()&0x7fff), MethodName: sip.INVITE})
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
	tx.OnRetransmission(func(r *sip.Response) {
		if r.IsSuccess() {
			d.resendAck()
		}
	})
	return &ClientCall{dialog: d, answer: responseFrom(res)}, nil
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
