package byocp

import (
	"time"

	"github.com/byocp/byocp/sip"
)

// legTimer is one leg's negotiated session timer (RFC 4028). Each leg has
// its own: Zoom's refreshes are answered on the Zoom leg and never relayed,
// and the carrier leg is refreshed (or watched) on its own schedule.
type legTimer struct {
	interval  time.Duration // 0: no session timer on this leg
	weRefresh bool          // byocp is the refresher on this leg
	last      time.Time     // when the session was last refreshed
	retry     time.Time     // a failed or postponed refresh is tried again then
}

// on reports whether the leg has a session timer.
func (t legTimer) on() bool { return t.interval > 0 }

// refreshDue is when byocp, as refresher, refreshes next: half the
// interval after the last refresh (RFC 4028 §10). Zero when byocp is not
// the refresher.
func (t legTimer) refreshDue() time.Time {
	if !t.on() || !t.weRefresh {
		return time.Time{}
	}
	due := t.last.Add(t.interval / 2)
	if t.retry.After(due) {
		return t.retry
	}
	return due
}

// postpone makes the next refresh attempt wait d from now; the expiry does
// not move.
func (t *legTimer) postpone(now time.Time, d time.Duration) { t.retry = now.Add(d) }

// expires is when the session ends without a refresh: for the refresher's
// peer, the interval minus the smaller of 32 s and a third of it (RFC 4028
// §10, so that BYE goes out before the peer gives up); for byocp as
// refresher, the full interval (its refreshes failed all along).
func (t legTimer) expires() time.Time {
	if !t.on() {
		return time.Time{}
	}
	if t.weRefresh {
		return t.last.Add(t.interval)
	}
	return t.last.Add(t.interval - min(32*time.Second, t.interval/3))
}

// answerTimer negotiates the session timer of a request byocp answers as
// UAS (the initial INVITE or a re-INVITE/UPDATE of the peer): it returns
// the leg's timer and the header fields of the 2xx, or tooSmall (answer
// 422 with its Min-SE) when the requested interval is below our Min-SE
// (RFC 4028 §9).
func answerTimer(req sip.SessionTimer, cfg sip.SessionTimers, now time.Time) (t legTimer, hdrs []sip.Header, tooSmall *sip.IntervalTooSmall) {
	if cfg.Off {
		return legTimer{}, nil, nil
	}
	cfg = cfg.WithDefaults()
	interval := req.Expires
	if interval > 0 && interval < cfg.MinSE {
		return legTimer{}, nil, &sip.IntervalTooSmall{MinSE: cfg.MinSE}
	}
	if interval == 0 || interval > cfg.Expires {
		// No interval asked (we choose), or more than we accept (a UAS may
		// lower it, never below the request's Min-SE).
		interval = max(cfg.Expires, req.MinSE, cfg.MinSE)
		if req.Expires > 0 {
			interval = min(interval, req.Expires)
		}
	}
	refresher := req.Refresher
	if refresher == "" {
		// The peer supports the extension: let it refresh, as Zoom does.
		// Otherwise byocp refreshes; the peer just answers re-INVITEs.
		refresher = sip.RefresherUAC
		if !req.Supported {
			refresher = sip.RefresherUAS
		}
	}
	if refresher == sip.RefresherUAC && !req.Supported {
		refresher = sip.RefresherUAS // a peer without the extension cannot refresh
	}
	hdrs = []sip.Header{
		{Name: "Session-Expires", Value: sip.SessionExpiresHeader(interval, refresher)},
		{Name: "Supported", Value: "timer"},
	}
	if req.Supported {
		hdrs = append(hdrs, sip.Header{Name: "Require", Value: "timer"})
	}
	return legTimer{interval: interval, weRefresh: refresher == sip.RefresherUAS, last: now}, hdrs, nil
}

// dialledTimer reads the session timer of a leg byocp sent the request on
// (the initial INVITE or a refresh) from the 2xx: the peer names the
// refresher there. A 2xx without Session-Expires has no session timer
// (RFC 4028 §7.2); byocp then relies on the media timeout.
func dialledTimer(res sip.SessionTimer, cfg sip.SessionTimers, now time.Time) legTimer {
	if cfg.Off || res.Expires <= 0 {
		return legTimer{}
	}
	return legTimer{interval: res.Expires, weRefresh: res.Refresher != sip.RefresherUAS, last: now}
}

// refreshHeaders are the header fields of a request byocp sends on a leg
// (a refresh or a relayed re-INVITE/UPDATE): the current interval with the
// refresher kept where it is (uac is byocp, the sender).
func (t legTimer) refreshHeaders() []sip.Header {
	if !t.on() {
		return nil
	}
	refresher := sip.RefresherUAS
	if t.weRefresh {
		refresher = sip.RefresherUAC
	}
	return []sip.Header{
		{Name: "Session-Expires", Value: sip.SessionExpiresHeader(t.interval, refresher)},
		{Name: "Supported", Value: "timer"},
	}
}
