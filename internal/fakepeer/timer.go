package fakepeer

import (
	"context"
	"errors"
	"time"

	"github.com/byocp/byocp/sip"
)

// sessionTimer is a call's RFC 4028 session timer as this peer runs it.
type sessionTimer struct {
	interval  time.Duration // 0: no session timer
	refresher bool          // this peer refreshes
	last      time.Time     // the last refresh: a 2xx to a re-INVITE or UPDATE, either way
	retry     time.Time     // a failed refresh is tried again then
	stopped   bool          // StopRefreshing: this peer never refreshes again
	refreshes int           // refreshes this peer sent that got a 2xx
	expired   bool          // the far end did not refresh: this peer hung up
}

func (t sessionTimer) on() bool { return t.interval > 0 }

// next is when the timer fires: a refresh due (refresh true) or, when the
// far end refreshes, the moment to give up on it (RFC 4028 §10: the
// interval minus the smaller of 32 s and a third of it). Zero when nothing
// is due.
func (t sessionTimer) next() (at time.Time, refresh bool) {
	if !t.on() || t.expired {
		return time.Time{}, false
	}
	if t.refresher {
		if t.stopped {
			return time.Time{}, false
		}
		due := t.last.Add(t.interval / 2)
		if t.retry.After(due) {
			due = t.retry
		}
		return due, true
	}
	return t.last.Add(t.interval - min(32*time.Second, t.interval/3)), false
}

// requestHeaders are the session timer header fields of a re-INVITE or
// UPDATE this peer sends: the interval with the refresher where it is
// (uac is this peer, the sender).
func (t sessionTimer) requestHeaders() []sip.Header {
	if !t.on() {
		return nil
	}
	refresher := sip.RefresherUAS
	if t.refresher {
		refresher = sip.RefresherUAC
	}
	return []sip.Header{
		{Name: "Session-Expires", Value: sip.SessionExpiresHeader(t.interval, refresher)},
		{Name: "Supported", Value: "timer"},
	}
}

// answerTimer negotiates the session timer of a request this peer answers
// (the INVITE of a received call, or a re-INVITE or UPDATE): the timer and
// the header fields of the 2xx, or tooSmall (answer 422) when the interval
// asked is below Config.MinSE. Any answered request refreshes the session.
// pref is Behavior.Refresher, used for the first INVITE when it leaves the
// refresher open.
func (p *Peer) answerTimer(req sip.SessionTimer, cur sessionTimer, initial bool, pref string, now time.Time) (t sessionTimer, hdrs []sip.Header, tooSmall *sip.IntervalTooSmall) {
	t = cur
	t.last, t.retry = now, time.Time{}
	if p.cfg.NoSessionTimer || req.Expires <= 0 {
		return t, nil, nil // a request without Session-Expires leaves the timer as it was
	}
	if p.cfg.MinSE > 0 && req.Expires < p.cfg.MinSE {
		return cur, nil, &sip.IntervalTooSmall{MinSE: p.cfg.MinSE}
	}
	refresher := req.Refresher
	if refresher == "" {
		switch {
		case !initial && cur.on() && cur.refresher:
			refresher = sip.RefresherUAS
		case !initial && cur.on():
			refresher = sip.RefresherUAC
		case pref == sip.RefresherUAS:
			refresher = sip.RefresherUAS
		default:
			refresher = sip.RefresherUAC
		}
	}
	if !req.Supported {
		refresher = sip.RefresherUAS // a far end without the extension cannot refresh
	}
	t.interval, t.refresher = req.Expires, refresher == sip.RefresherUAS
	hdrs = []sip.Header{{Name: "Session-Expires", Value: sip.SessionExpiresHeader(req.Expires, refresher)}}
	if req.Supported {
		hdrs = append(hdrs, sip.Header{Name: "Require", Value: "timer"})
	}
	hdrs = append(hdrs, sip.Header{Name: "Supported", Value: "timer"})
	return t, hdrs, nil
}

// dialledTimer reads the session timer from the 2xx to a request this
// peer sent (the INVITE of a placed call, or a re-INVITE or UPDATE): the
// far end names the refresher there. A 2xx without Session-Expires has no
// session timer for an INVITE, and leaves it as it was in a dialog.
func (p *Peer) dialledTimer(res sip.SessionTimer, cur sessionTimer, initial bool, now time.Time) sessionTimer {
	t := cur
	t.last, t.retry = now, time.Time{}
	if p.cfg.NoSessionTimer {
		return t
	}
	if res.Expires <= 0 {
		if initial {
			return sessionTimer{}
		}
		return t
	}
	t.interval, t.refresher = res.Expires, res.Refresher != sip.RefresherUAS
	return t
}

// setTimer changes the call's session timer and wakes its goroutine.
func (c *Call) setTimer(change func(*sessionTimer)) {
	c.mu.Lock()
	change(&c.timer)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// runTimer refreshes the session when this peer is the refresher, and
// hangs up when the far end is and lets it expire. It returns when the
// call ends.
func (c *Call) runTimer() {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		c.mu.Lock()
		at, _ := c.timer.next()
		c.mu.Unlock()
		var fire <-chan time.Time
		if !at.IsZero() {
			t.Reset(max(time.Until(at), 0))
			fire = t.C
		}
		select {
		case <-fire:
			c.onTimer()
		case <-c.wake:
		case <-c.ended:
			return
		}
	}
}

// onTimer acts on a timer that fired, if it is still due.
func (c *Call) onTimer() {
	c.mu.Lock()
	at, refresh := c.timer.next()
	interval := c.timer.interval
	c.mu.Unlock()
	if at.IsZero() || time.Now().Before(at) {
		return
	}
	if refresh {
		if err := c.refresh(c.ctx, true); err != nil {
			c.peer.cfg.Logger.Warn("session refresh failed", "call_id", c.CallID(), "error", err)
			c.setTimer(func(t *sessionTimer) { t.retry = time.Now().Add(max(interval/8, 100*time.Millisecond)) })
		}
		return
	}
	c.peer.cfg.Logger.Warn("session expired: the far end did not refresh", "call_id", c.CallID(), "interval", interval)
	c.setTimer(func(t *sessionTimer) { t.expired = true })
	ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
	defer cancel()
	_ = c.Hangup(ctx)
}

// refresh sends a session refresh: an UPDATE without SDP when the far end
// allows UPDATE (and Config.RefreshWithReinvite is off), else a re-INVITE
// with this peer's current SDP, unchanged, o= version included.
func (c *Call) refresh(ctx context.Context, auto bool) error {
	l, err := c.dialog()
	if err != nil {
		return err
	}
	c.mu.Lock()
	update := c.updateOK && !c.peer.cfg.RefreshWithReinvite
	hdrs := c.timer.requestHeaders()
	stopped := c.timer.stopped
	c.mu.Unlock()
	if auto && stopped {
		return nil
	}
	var res sip.Response
	if update {
		if res, err = l.Send(ctx, "UPDATE", nil, "", hdrs...); err != nil {
			return err
		}
	} else {
		c.offerMu.Lock()
		defer c.offerMu.Unlock()
		c.mu.Lock()
		local, body, version := c.local, c.localSDP, c.version
		c.mu.Unlock()
		if res, err = c.reinvite(ctx, l, body, hdrs, nil); err != nil {
			return err
		}
		local, n, err := c.takeSessionAnswer(local, res.Body)
		if err == nil {
			err = c.commit(local, body, version, res.Body, n)
		}
		if err != nil {
			return errors.Join(errors.New("fakepeer: unusable answer to a refresh"), err)
		}
	}
	c.setTimer(func(t *sessionTimer) {
		*t = c.peer.dialledTimer(sip.SessionTimerOf(res.Header), *t, false, time.Now())
		t.refreshes++
	})
	return nil
}

// TimerState is a call's negotiated session timer as this peer sees it.
type TimerState struct {
	Interval  time.Duration // 0: no session timer
	Refresher bool          // this peer refreshes
	Stopped   bool          // StopRefreshing was called
	Refreshes int           // refreshes this peer sent that got a 2xx
	Expired   bool          // the far end let the session expire: this peer hung up
}

// SessionTimer returns the call's session timer state.
func (c *Call) SessionTimer() TimerState {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.timer
	return TimerState{Interval: t.interval, Refresher: t.refresher, Stopped: t.stopped, Refreshes: t.refreshes, Expired: t.expired}
}

// StopRefreshing makes this peer stop refreshing the call's session, as a
// peer whose signalling died silently; it still answers requests. When
// the far end is the refresher nothing changes.
func (c *Call) StopRefreshing() {
	c.setTimer(func(t *sessionTimer) { t.stopped = true })
}

// Refresh sends a session refresh now (see refresh), whoever the refresher
// is, and returns once it is answered.
func (c *Call) Refresh(ctx context.Context) error { return c.refresh(ctx, false) }
