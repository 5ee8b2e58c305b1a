package sip

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// RFC 4028 session timer roles: who refreshes the session.
const (
	RefresherUAC = "uac" // the side that sent the request refreshes
	RefresherUAS = "uas" // the side that answered it refreshes
)

// SessionTimer is what a request or 2xx says about the session timer
// (RFC 4028): the interval, who refreshes, the sender's minimum, and
// whether the sender supports or requires the extension.
type SessionTimer struct {
	Expires   time.Duration // Session-Expires; 0 when absent
	Refresher string        // RefresherUAC, RefresherUAS or "" (not chosen)
	MinSE     time.Duration // Min-SE; 0 when absent
	Supported bool          // "timer" in Supported or Require
}

// SessionTimerOf reads the session timer header fields of a message, given
// its header lookup (Invite.Header, Response.Header, DialogRequest.Header).
// Malformed values count as absent.
func SessionTimerOf(header func(string) string) SessionTimer {
	var st SessionTimer
	if v := firstOf(header, "Session-Expires", "x"); v != "" {
		secs, params, _ := strings.Cut(v, ";")
		if n, err := strconv.Atoi(strings.TrimSpace(secs)); err == nil && n > 0 {
			st.Expires = time.Duration(n) * time.Second
			for p := range strings.SplitSeq(params, ";") {
				name, value, _ := strings.Cut(p, "=")
				if strings.EqualFold(strings.TrimSpace(name), "refresher") {
					switch r := strings.ToLower(strings.TrimSpace(value)); r {
					case RefresherUAC, RefresherUAS:
						st.Refresher = r
					}
				}
			}
		}
	}
	if v := header("Min-SE"); v != "" {
		secs, _, _ := strings.Cut(v, ";")
		if n, err := strconv.Atoi(strings.TrimSpace(secs)); err == nil && n > 0 {
			st.MinSE = time.Duration(n) * time.Second
		}
	}
	st.Supported = hasOptionTag(firstOf(header, "Supported", "k"), "timer") || hasOptionTag(header("Require"), "timer")
	return st
}

// SessionExpiresHeader is a Session-Expires header value: the interval in
// whole seconds and, when refresher is set, the refresher parameter.
func SessionExpiresHeader(expires time.Duration, refresher string) string {
	v := strconv.Itoa(int(expires / time.Second))
	if refresher != "" {
		v += ";refresher=" + refresher
	}
	return v
}

// MinSEHeader is a Min-SE header value in whole seconds.
func MinSEHeader(d time.Duration) string { return strconv.Itoa(int(d / time.Second)) }

// TimerHeaders are the header fields a request offering a session timer
// carries: Supported: timer, Session-Expires (no refresher: the answering
// side chooses, RFC 4028 §7.1) and Min-SE.
func TimerHeaders(expires, minSE time.Duration) []Header {
	return []Header{
		{Name: "Supported", Value: "timer"},
		{Name: "Session-Expires", Value: SessionExpiresHeader(expires, "")},
		{Name: "Min-SE", Value: MinSEHeader(minSE)},
	}
}

// IntervalTooSmall is the 422 a UAS sends when a request's Session-Expires
// is below its Min-SE (RFC 4028 §8.1); use its fields with Reject.
type IntervalTooSmall struct{ MinSE time.Duration }

// Error describes the refusal.
func (e IntervalTooSmall) Error() string {
	return fmt.Sprintf("sip: Session-Expires below Min-SE %s", e.MinSE)
}

// Header is the Min-SE header field the 422 must carry.
func (e IntervalTooSmall) Header() Header { return Header{Name: "Min-SE", Value: MinSEHeader(e.MinSE)} }

// firstOf returns the first non-empty value of the named header fields.
func firstOf(header func(string) string, names ...string) string {
	for _, n := range names {
		if v := header(n); v != "" {
			return v
		}
	}
	return ""
}

// hasOptionTag reports whether a comma-separated option-tag list holds tag.
func hasOptionTag(list, tag string) bool {
	for t := range strings.SplitSeq(list, ",") {
		if strings.EqualFold(strings.TrimSpace(t), tag) {
			return true
		}
	}
	return false
}

// SessionTimers configures RFC 4028 session timers on one side of the SBC.
// The zero value offers and accepts timers with Zoom's values.
type SessionTimers struct {
	// Expires is the session interval offered in INVITEs and the largest
	// one accepted; default 1800 s.
	Expires time.Duration
	// MinSE is the smallest interval accepted (smaller ones get 422) and
	// offered as Min-SE; default 90 s, the RFC 4028 floor. Values below
	// 90 s break RFC 4028 and are meant for tests with short timers.
	MinSE time.Duration
	// Off neither offers nor negotiates session timers on this side; the
	// media timeout is then what ends a call whose peer died silently.
	Off bool
}

// WithDefaults fills in the defaults.
func (s SessionTimers) WithDefaults() SessionTimers {
	if s.Expires <= 0 {
		s.Expires = 1800 * time.Second
	}
	if s.MinSE <= 0 {
		s.MinSE = 90 * time.Second
	}
	return s
}

// Validate checks the values; errors name the field.
func (s SessionTimers) Validate() error {
	d := s.WithDefaults()
	switch {
	case s.Expires < 0 || s.MinSE < 0:
		return fmt.Errorf("Expires/MinSE: negative")
	case d.Expires < d.MinSE:
		return fmt.Errorf("Expires: %s is below MinSE %s", d.Expires, d.MinSE)
	case s.Expires%time.Second != 0 || s.MinSE%time.Second != 0:
		return fmt.Errorf("Expires/MinSE: whole seconds only")
	}
	return nil
}

// Headers are the header fields of an INVITE offering these timers; none
// when Off.
func (s SessionTimers) Headers() []Header {
	if s.Off {
		return nil
	}
	d := s.WithDefaults()
	return TimerHeaders(d.Expires, d.MinSE)
}
