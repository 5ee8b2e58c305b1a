package fakepeer

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/byocp/byocp/sdp"
	"github.com/byocp/byocp/sip"
)

// Request is an in-dialog request the peer received, and its answer.
type Request struct {
	Method         string        // "INVITE" (a re-INVITE), "UPDATE", "INFO", ...
	SDP            []byte        // the request's SDP body; nil without one
	Body           []byte        // the request's body as received, of any type
	Direction      sdp.Direction // the direction attribute of the offered stream (sendrecv when absent); "" without SDP
	AckSDP         []byte        // the SDP answer in the ACK of an offerless re-INVITE answered 2xx
	Status         int           // the final status the peer answered with
	SessionExpires time.Duration // the request's Session-Expires; 0 when absent
	Header         func(name string) string
}

// ReinviteOptions say what a re-offer of the peer changes.
type ReinviteOptions struct {
	Direction  sdp.Direction // "" keeps the direction the peer wants (sendrecv unless held)
	Codec      string        // offer only this codec (plus telephone-event)
	NewKey     bool          // new SRTP keys, same suites and tags
	MoveMedia  bool          // a new local media port
	WithoutSDP bool          // an offerless re-INVITE: the offer comes in the 2xx, the answer goes in the ACK
	UseUPDATE  bool          // send the offer in an UPDATE instead of a re-INVITE
	Headers    []sip.Header  // extra header fields
	T38        bool          // offer T.38 fax (m=image udptl t38) in the audio stream's m-line (t38.go)
	KeepAudio  bool          // with T38: keep the audio stream and offer the image stream after it
}

// serveRequests answers the far end's in-dialog requests until the call
// ends.
func (c *Call) serveRequests(reqs <-chan *sip.DialogRequest) {
	for {
		select {
		case r := <-reqs:
			c.onRequest(r)
		case <-c.ended:
			return
		}
	}
}

// onRequest answers one in-dialog request.
func (c *Call) onRequest(r *sip.DialogRequest) {
	st := sip.SessionTimerOf(r.Header)
	rec := Request{Method: r.Method, Body: r.Body, SessionExpires: st.Expires, Header: r.Header}
	if r.HasSDP() {
		rec.SDP = r.Body
		if m, err := sdp.Parse(r.Body); err == nil {
			rec.Direction = m.Direction
			if rec.Direction == "" {
				rec.Direction = sdp.SendRecv
			}
		}
	}
	switch {
	case r.Method == "INVITE" || r.Method == "UPDATE" && r.HasSDP():
		c.onOffer(r, st, rec)
	case r.Method == "UPDATE":
		c.mu.Lock()
		t, hdrs, small := c.peer.answerTimer(st, c.timer, false, "", time.Now())
		c.mu.Unlock()
		if small != nil {
			c.respond(r, rec, 422, nil, small.Header())
			return
		}
		c.setTimer(func(cur *sessionTimer) { *cur = t })
		c.respond(r, rec, 200, nil, hdrs...)
	case r.Method == "REFER" && c.acceptRefer:
		c.respond(r, rec, 202, nil)
		go c.reportTransfer()
	default:
		c.respond(r, rec, 200, nil)
	}
}

// reportTransfer sends the NOTIFYs of a transfer the peer "carried out".
func (c *Call) reportTransfer() {
	l, err := c.dialog()
	if err != nil {
		return
	}
	for _, n := range []struct{ frag, state string }{
		{"SIP/2.0 100 Trying\r\n", "active;expires=60"},
		{"SIP/2.0 200 OK\r\n", "terminated;reason=noresource"},
	} {
		ctx, cancel := context.WithTimeout(c.ctx, 5*time.Second)
		_, err := l.Send(ctx, "NOTIFY", []byte(n.frag), "message/sipfrag;version=2.0",
			sip.Header{Name: "Event", Value: "refer"}, sip.Header{Name: "Subscription-State", Value: n.state})
		cancel()
		if err != nil {
			c.peer.cfg.Logger.Debug("NOTIFY failed", "error", err)
			return
		}
	}
}

// respond records the request with its status, then answers it.
func (c *Call) respond(r *sip.DialogRequest, rec Request, status int, body []byte, hdrs ...sip.Header) {
	rec.Status = status
	c.record(rec)
	reason := "OK"
	if status != 200 {
		reason = statusText(status)
		if status == 422 {
			reason = "Session Interval Too Small"
		}
	}
	if err := r.Respond(status, reason, body, hdrs...); err != nil {
		c.peer.cfg.Logger.Debug("in-dialog response not sent", "method", r.Method, "error", err)
	}
}

// onOffer answers a re-INVITE or an UPDATE with SDP.
func (c *Call) onOffer(r *sip.DialogRequest, st sip.SessionTimer, rec Request) {
	c.offerMu.Lock()
	defer c.offerMu.Unlock()
	c.mu.Lock()
	reject := c.rejectReoffers
	t, hdrs, small := c.peer.answerTimer(st, c.timer, false, "", time.Now())
	c.mu.Unlock()
	switch {
	case reject >= 300:
		c.respond(r, rec, reject, nil)
		return
	case small != nil:
		c.respond(r, rec, 422, nil, small.Header())
		return
	}
	if !r.HasSDP() {
		c.offerInAnswer(r, rec, t, hdrs)
		return
	}
	ans, n, err := c.answerSession(r.Body, answerOpts{})
	var body []byte
	var version uint64
	if err == nil {
		body, version, err = c.propose(ans)
	}
	if err == nil {
		err = c.commit(ans, body, version, r.Body, n)
	}
	if err != nil {
		c.peer.cfg.Logger.Info("re-offer not acceptable", "method", r.Method, "error", err)
		c.respond(r, rec, 488, nil)
		return
	}
	c.setTimer(func(cur *sessionTimer) { *cur = t })
	c.respond(r, rec, 200, body, hdrs...)
}

// offerInAnswer answers a re-INVITE without SDP: this peer's current SDP
// is the offer, the answer comes in the ACK.
func (c *Call) offerInAnswer(r *sip.DialogRequest, rec Request, t sessionTimer, hdrs []sip.Header) {
	c.mu.Lock()
	local, body, version := c.local, c.localSDP, c.version
	c.mu.Unlock()
	rec.Status = 200
	c.setTimer(func(cur *sessionTimer) { *cur = t })
	if err := r.Respond(200, "OK", body, hdrs...); err != nil {
		c.record(rec)
		return
	}
	select {
	case ack, ok := <-r.Ack():
		if ok && len(ack) > 0 {
			rec.AckSDP = ack
			local, n, err := c.takeSessionAnswer(local, ack)
			if err == nil {
				err = c.commit(local, body, version, ack, n)
			}
			if err != nil {
				c.peer.cfg.Logger.Warn("unusable answer in an ACK", "error", err)
			}
		}
	case <-c.ended:
	}
	c.record(rec)
}

// record adds a received request to the call's list.
func (c *Call) record(rec Request) {
	c.mu.Lock()
	c.requests = append(c.requests, rec)
	close(c.reqNotify)
	c.reqNotify = make(chan struct{})
	c.mu.Unlock()
}

// Requests returns the in-dialog requests the peer received, oldest first.
func (c *Call) Requests() []Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.requests)
}

// WaitRequests waits until the peer has received at least n in-dialog
// requests and returns them all.
func (c *Call) WaitRequests(ctx context.Context, n int) ([]Request, error) {
	for {
		c.mu.Lock()
		if len(c.requests) >= n {
			out := slices.Clone(c.requests)
			c.mu.Unlock()
			return out, nil
		}
		notify, got := c.reqNotify, len(c.requests)
		c.mu.Unlock()
		select {
		case <-notify:
		case <-c.ended:
			return c.Requests(), fmt.Errorf("fakepeer: the call ended after %d of %d requests", got, n)
		case <-ctx.Done():
			return c.Requests(), ctx.Err()
		}
	}
}

// RejectReoffers makes the peer answer the re-INVITEs and UPDATEs with
// SDP of this call with status (300-699); 0 accepts them again.
func (c *Call) RejectReoffers(status int) {
	c.mu.Lock()
	c.rejectReoffers = status
	c.mu.Unlock()
}

// GlareDelay is how long RFC 3261 §14.1 says to wait before retrying a
// re-INVITE that got 491; 0 before the call is answered.
func (c *Call) GlareDelay() time.Duration {
	l, err := c.dialog()
	if err != nil {
		return 0
	}
	return l.GlareDelay()
}

// reinvite sends a re-INVITE, losing the first copy of its response when
// Config.DropFirstReinviteResponse says so.
func (c *Call) reinvite(ctx context.Context, l leg, body []byte, hdrs []sip.Header, ackBody func(sip.Response) []byte) (sip.Response, error) {
	disarm := c.peer.armDrop(c.remoteIP)
	defer disarm()
	return l.Reinvite(ctx, body, hdrs, ackBody)
}

// Hold puts the far end on hold: a re-INVITE with a=sendonly.
func (c *Call) Hold(ctx context.Context) error {
	return c.Reinvite(ctx, ReinviteOptions{Direction: sdp.SendOnly})
}

// Resume takes the call off hold: a re-INVITE with a=sendrecv.
func (c *Call) Resume(ctx context.Context) error {
	return c.Reinvite(ctx, ReinviteOptions{Direction: sdp.SendRecv})
}

// Reinvite sends a re-offer as o says and returns once it is answered (and
// ACKed). The new SDP is in force from then on; a failure leaves the call
// as it was.
func (c *Call) Reinvite(ctx context.Context, o ReinviteOptions) (err error) {
	l, err := c.dialog()
	if err != nil {
		return err
	}
	if err := validDirection(o.Direction); err != nil {
		return err
	}
	switch {
	case o.WithoutSDP && o.UseUPDATE:
		return errors.New("fakepeer: an UPDATE without SDP is a refresh: use Refresh")
	case o.NewKey && !c.peer.cfg.SRTP:
		return errors.New("fakepeer: NewKey on a plain RTP call")
	case o.T38 && (o.Direction != "" || o.Codec != "" || o.NewKey || o.MoveMedia || o.WithoutSDP):
		return errors.New("fakepeer: T38 offers the image stream only: no Direction, Codec, NewKey, MoveMedia or WithoutSDP")
	case o.KeepAudio && !o.T38:
		return errors.New("fakepeer: KeepAudio without T38")
	}
	c.offerMu.Lock()
	defer c.offerMu.Unlock()
	var port netip.AddrPort
	if o.MoveMedia {
		if port, err = c.media.Open(); err != nil {
			return err
		}
		defer func() {
			if err != nil {
				c.media.Drop(port)
			}
		}()
	}
	c.mu.Lock()
	hdrs := append(c.timer.requestHeaders(), o.Headers...)
	c.mu.Unlock()
	if o.WithoutSDP {
		return c.reinviteWithoutSDP(ctx, l, o, port, hdrs)
	}
	m, err := c.reoffer(o.Direction, o.Codec, o.NewKey, port)
	if err != nil {
		return err
	}
	s, err := c.offerSession(m, o.T38, o.KeepAudio)
	if err != nil {
		return err
	}
	body, version, err := c.propose(s)
	if err != nil {
		return err
	}
	var res sip.Response
	if o.UseUPDATE {
		res, err = l.Send(ctx, "UPDATE", body, "application/sdp", hdrs...)
	} else {
		res, err = c.reinvite(ctx, l, body, hdrs, nil)
	}
	if err != nil {
		return err
	}
	s, n, err := c.takeSessionAnswer(s, res.Body)
	if err != nil {
		return fmt.Errorf("fakepeer: unusable answer to a re-offer: %w", err)
	}
	if port.IsValid() {
		if err := c.media.Use(port); err != nil {
			return err
		}
	}
	if err := c.commit(s, body, version, res.Body, n); err != nil {
		return err
	}
	if s.has(lineAudio) {
		c.mu.Lock()
		c.want = m.Direction
		c.mu.Unlock()
	}
	c.setTimer(func(t *sessionTimer) { *t = c.peer.dialledTimer(sip.SessionTimerOf(res.Header), *t, false, time.Now()) })
	return nil
}

// reinviteWithoutSDP sends an offerless re-INVITE: the far end's offer
// comes in the 2xx, this peer's answer (built as o says) goes in the ACK.
func (c *Call) reinviteWithoutSDP(ctx context.Context, l leg, o ReinviteOptions, port netip.AddrPort, hdrs []sip.Header) error {
	var commit func() error
	var answerErr error
	res, err := c.reinvite(ctx, l, nil, hdrs, func(res sip.Response) []byte {
		if !res.HasSDP() {
			answerErr = errors.New("fakepeer: 2xx to an offerless re-INVITE without an offer")
			return nil
		}
		ans, n, err := c.answerSession(res.Body, answerOpts{want: o.Direction, codec: o.Codec, newKey: o.NewKey, port: port})
		if err != nil {
			answerErr = err
			return nil
		}
		body, version, err := c.propose(ans)
		if err != nil {
			answerErr = err
			return nil
		}
		commit = func() error { return c.commit(ans, body, version, res.Body, n) }
		return body
	})
	if err != nil {
		return err
	}
	if answerErr != nil {
		return fmt.Errorf("fakepeer: no answer to the offer in the 2xx (ACK sent without SDP): %w", answerErr)
	}
	if port.IsValid() {
		if err := c.media.Use(port); err != nil {
			return err
		}
	}
	if err := commit(); err != nil {
		return err
	}
	if o.Direction != "" {
		c.mu.Lock()
		c.want = o.Direction
		c.mu.Unlock()
	}
	c.setTimer(func(t *sessionTimer) { *t = c.peer.dialledTimer(sip.SessionTimerOf(res.Header), *t, false, time.Now()) })
	return nil
}

// SendInfo sends an INFO with body of contentType in the answered call and
// returns once it is answered; a failure status is a *sip.StatusError.
func (c *Call) SendInfo(ctx context.Context, contentType string, body []byte) error {
	l, err := c.dialog()
	if err != nil {
		return err
	}
	_, err = l.Send(ctx, "INFO", body, contentType)
	return err
}

// Refer asks the far end to transfer the call to target (a SIP URI, the
// Refer-To) and returns once it answered; a refusal is a *sip.StatusError.
func (c *Call) Refer(ctx context.Context, target string) error {
	l, err := c.dialog()
	if err != nil {
		return err
	}
	_, err = l.Send(ctx, "REFER", nil, "", sip.Header{Name: "Refer-To", Value: "<" + target + ">"},
		sip.Header{Name: "Referred-By", Value: "<sip:" + c.peer.ep.Host() + ">"})
	return err
}
