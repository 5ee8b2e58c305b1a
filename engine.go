package byocp

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/byocp/byocp/sip"
)

// dialogLeg is what the engine needs of an established sip.ServerCall or
// sip.ClientCall.
type dialogLeg interface {
	Reinvite(ctx context.Context, body []byte, hdrs []sip.Header, ackBody func(sip.Response) []byte) (sip.Response, error)
	Send(ctx context.Context, method string, body []byte, contentType string, hdrs ...sip.Header) (sip.Response, error)
	Hangup(ctx context.Context) error
	Done() <-chan struct{}
	Cause() sip.Cause
	GlareDelay() time.Duration
}

// leg is one side of an established call as the engine sees it.
type leg struct {
	name   string // HangupCarrier or HangupZoom
	zoom   bool
	sip    dialogLeg
	reqs   <-chan *sip.DialogRequest
	timers sip.SessionTimers // this side's configuration
	timer  legTimer          // negotiated on this leg
	update bool              // the peer allows UPDATE (refresh with it)
	// infoTypes are the INFO Content-Types relayed from this leg besides
	// DTMF.
	infoTypes []string
	side      side // the side this leg's peer is on (its configuration)
}

// event is the completion of work the engine started on another goroutine
// (a request sent on a leg): apply runs on the engine's goroutine.
type event struct{ apply func() }

// endReason says why the engine stopped.
type endReason struct {
	by     string // HangupCarrier, HangupZoom or HangupBridge
	reason string
	// hangup lists the legs to send BYE on (a leg the peer ended is gone).
	hangup []*leg
}

// serve is the established call's event loop: the one goroutine that owns
// the call's state from the answer to the end. It reacts to requests from
// either leg, to the completion of requests it sent, to the session timers
// of each leg, to the media watch and to the Bridge closing, and returns
// once the call has ended on both legs.
func (c *call) serve(in, out *leg) {
	c.legs = [2]*leg{in, out}
	c.events = make(chan event, 4)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var end endReason
loop:
	for {
		c.rearm(timer, time.Now())
		// The legs are read afresh each time: a transfer byocp carries out
		// replaces one (refer.go).
		in, out := c.legs[0], c.legs[1]
		select {
		case r := <-in.reqs:
			c.onRequest(in, out, r)
		case r := <-out.reqs:
			c.onRequest(out, in, r)
		case ev := <-c.events:
			ev.apply()
		case ev := <-c.relay.Events():
			c.eventInfo(ev)
		case <-timer.C:
			if e, stop := c.onTick(time.Now()); stop {
				end = e
				break loop
			}
		case <-in.sip.Done():
			end = endReason{by: in.name, reason: string(in.sip.Cause()), hangup: []*leg{out}}
			break loop
		case <-out.sip.Done():
			end = endReason{by: out.name, reason: string(out.sip.Cause()), hangup: []*leg{in}}
			break loop
		case <-c.b.ctx.Done():
			end = endReason{by: HangupBridge, reason: "bridge closed", hangup: []*leg{in, out}}
			break loop
		}
		if c.ending != nil {
			end = *c.ending
			break loop
		}
	}
	c.rec.HangupBy, c.rec.Reason = end.by, end.reason
	c.endTransfer()
	c.hangupLegs(end.hangup...)
	c.drain()
}

// rearm sets the loop's one timer to the earliest deadline: a leg's
// session refresh or expiry, or the next media check.
func (c *call) rearm(t *time.Timer, now time.Time) {
	next := c.mediaCheckAt
	for _, l := range c.legs {
		for _, at := range []time.Time{l.timer.refreshDue(), l.timer.expires()} {
			if !at.IsZero() && (next.IsZero() || at.Before(next)) {
				next = at
			}
		}
	}
	if c.refreshing != nil {
		// A refresh is on its way: its own deadline is the leg's expiry.
		next = c.mediaCheckAt
		for _, l := range c.legs {
			if at := l.timer.expires(); !at.IsZero() && (next.IsZero() || at.Before(next)) {
				next = at
			}
		}
	}
	d := time.Hour
	if !next.IsZero() {
		d = max(next.Sub(now), 0)
	}
	t.Reset(d)
}

// onTick handles due timers: session refresh and expiry per leg, and the
// media watch. It reports the end of the call when one of them ends it.
func (c *call) onTick(now time.Time) (endReason, bool) {
	for _, l := range c.legs {
		if exp := l.timer.expires(); !exp.IsZero() && !now.Before(exp) {
			c.log.Warn("session timer expired", "leg", l.name, "interval", l.timer.interval)
			return endReason{by: HangupBridge, reason: "session expired on the " + l.name + " leg", hangup: c.legs[:]}, true
		}
		if due := l.timer.refreshDue(); !due.IsZero() && !now.Before(due) && c.refreshing == nil {
			c.refresh(l)
		}
	}
	if !c.mediaCheckAt.IsZero() && !now.Before(c.mediaCheckAt) {
		if e, stop := c.checkMedia(now); stop {
			return e, true
		}
	}
	return endReason{}, false
}

// onRequest handles a request the peer of leg from sent within the dialog.
func (c *call) onRequest(from, to *leg, r *sip.DialogRequest) {
	switch {
	case r.Method == "UPDATE" && !r.HasSDP():
		c.answerRefresh(from, r) // a session refresh without SDP
	case r.Method == "INVITE" || r.Method == "UPDATE":
		if c.offer != nil {
			// A re-offer is being relayed: the peers cross (RFC 3261 §14.2).
			_ = r.Respond(491, "Request Pending", nil)
			return
		}
		c.relayOffer(from, to, r)
	case r.Method == "INFO":
		c.relayInfo(from, to, r)
	case r.Method == "REFER":
		c.onRefer(from, to, r)
	case r.Method == "NOTIFY":
		c.onNotify(from, r)
	default:
		// Other methods: answered on their own leg.
		_ = r.Respond(200, "OK", nil)
	}
}

// relayInfo passes an INFO to the other leg when its Content-Type is DTMF
// (application/dtmf-relay or application/dtmf: digits and durations kept,
// the body goes as it came) or on the leg's RelayInfo list, and answers it
// with the other side's answer, mapped. Any other INFO is answered 200 on
// its own leg. A DTMF INFO from a side that signals DTMF with INFO
// towards one that uses RFC 4733 is played into the media instead
// (dtmf.go).
func (c *call) relayInfo(from, to *leg, r *sip.DialogRequest) {
	ct, _, _ := strings.Cut(r.ContentType, ";")
	ct = strings.ToLower(strings.TrimSpace(ct))
	if ct != "application/dtmf-relay" && ct != "application/dtmf" && !slices.ContainsFunc(from.infoTypes, func(t string) bool {
		return strings.EqualFold(strings.TrimSpace(t), ct)
	}) {
		_ = r.Respond(200, "OK", nil)
		return
	}
	if (ct == "application/dtmf-relay" || ct == "application/dtmf") && injectsDTMF(from, to) {
		c.injectInfo(from, to, r, ct)
		return
	}
	sipLeg, body, contentType := to.sip, r.Body, r.ContentType
	go func() {
		ctx, cancel := context.WithTimeout(c.b.ctx, 30*time.Second)
		defer cancel()
		_, err := sipLeg.Send(ctx, "INFO", body, contentType)
		c.post(func() {
			var se *sip.StatusError
			switch {
			case err == nil:
				_ = r.Respond(200, "OK", nil)
			case errors.As(err, &se):
				status, reason := mapFailure(se.Response.StatusCode)
				_ = r.Respond(status, reason, nil)
			default:
				_ = r.Respond(500, "Server Internal Error", nil)
			}
		})
	}()
}

// answerRefresh answers an UPDATE without SDP on its own leg (it is never
// relayed: each leg has its own timer) and restarts the leg's timer.
func (c *call) answerRefresh(l *leg, r *sip.DialogRequest) {
	t, hdrs, small := answerTimer(sip.SessionTimerOf(r.Header), l.timers, time.Now())
	if small != nil {
		_ = r.Respond(422, "Session Interval Too Small", nil, small.Header())
		return
	}
	if err := r.Respond(200, "OK", nil, hdrs...); err != nil {
		c.log.Debug("refresh answer not sent", "leg", l.name, "error", err)
		return
	}
	l.timer = t
}

// refresh sends a session refresh on leg l as its refresher: UPDATE
// without SDP when the peer allows UPDATE, else a re-INVITE with the leg's
// current SDP (RFC 4028 §10). A 408 or 481, or no answer, ends the call;
// other failures leave the session to expire.
func (c *call) refresh(l *leg) {
	hdrs := l.timer.refreshHeaders()
	var body []byte
	if !l.update {
		if c.offer != nil {
			// A re-offer in flight refreshes the session when it completes.
			l.timer.postpone(time.Now(), l.timer.interval/8)
			return
		}
		var err error
		if body, err = c.sdpOf(l).OfferCurrent(); err != nil {
			c.log.Debug("refresh postponed", "leg", l.name, "error", err)
			l.timer.postpone(time.Now(), l.timer.interval/8)
			return
		}
	}
	c.refreshing = l
	update, sipLeg := l.update, l.sip
	go func() {
		ctx, cancel := context.WithTimeout(c.b.ctx, 32*time.Second)
		defer cancel()
		var res sip.Response
		var err error
		if update {
			res, err = sipLeg.Send(ctx, "UPDATE", nil, "", hdrs...)
		} else {
			res, err = sipLeg.Reinvite(ctx, body, hdrs, nil)
		}
		c.post(func() { c.refreshDone(l, res, err) })
	}()
}

func (c *call) refreshDone(l *leg, res sip.Response, err error) {
	c.refreshing = nil
	now := time.Now()
	legSDP := c.sdpOf(l)
	if !l.update {
		if err == nil {
			if _, aerr := legSDP.TakeAnswer(res.SDP()); aerr != nil {
				c.log.Warn("unusable answer to a refresh", "leg", l.name, "error", aerr)
			} else if rerr := c.applyRelay(); rerr != nil {
				c.log.Warn("relay not updated", "error", rerr)
			}
		} else {
			legSDP.Rollback()
		}
	}
	var se *sip.StatusError
	switch {
	case err == nil:
		t := dialledTimer(sip.SessionTimerOf(res.Header), l.timers, now)
		if !t.on() {
			t = l.timer // the 2xx dropped the header: keep refreshing as before
			t.last = now
		}
		l.timer = t
	case errors.As(err, &se) && (se.Response.StatusCode == 408 || se.Response.StatusCode == 481),
		errors.Is(err, sip.ErrNoResponse), errors.Is(err, sip.ErrTransport):
		c.log.Warn("session refresh failed, ending the call", "leg", l.name, "error", err)
		c.endCall(endReason{by: HangupBridge, reason: "session refresh failed on the " + l.name + " leg", hangup: c.legs[:]})
	case errors.As(err, &se) && se.Response.StatusCode == 491:
		// Glare with the peer's own re-INVITE: try again after the delay.
		l.timer.postpone(now, l.sip.GlareDelay())
	default:
		c.log.Warn("session refresh refused", "leg", l.name, "error", err)
		// Try again an eighth of the interval later; expiry still ends the
		// call if every attempt fails.
		l.timer.postpone(now, l.timer.interval/8)
	}
}

// post hands work done on another goroutine back to the engine. It never
// blocks the caller past the call's end.
func (c *call) post(f func()) {
	select {
	case c.events <- event{apply: f}:
	case <-c.done:
	}
}

// endCall makes the loop end the call after the current event.
func (c *call) endCall(e endReason) {
	if c.ending == nil {
		c.ending = &e
	}
}

// hangupLegs sends BYE on the given legs at once.
func (c *call) hangupLegs(legs ...*leg) {
	done := make(chan struct{}, len(legs))
	for _, l := range legs {
		go func() {
			c.hangupLeg(l.sip.Hangup)
			done <- struct{}{}
		}()
	}
	for range legs {
		<-done
	}
}

// drain lets every goroutine the engine started finish: they post their
// results, which nobody applies any more.
func (c *call) drain() {
	close(c.done)
}
