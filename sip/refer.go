package sip

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// ReferPolicy is what byocp does with a REFER (RFC 3515, call transfer)
// that the peer of one side sends within a call.
type ReferPolicy string

const (
	// ReferReject refuses every REFER with 403 Forbidden: the default.
	ReferReject ReferPolicy = "reject"
	// ReferPass relays the REFER to the other leg with its Refer-To
	// rewritten for that side (number format and host), and relays the
	// NOTIFYs that report the transfer's progress (message/sipfrag) back.
	// A Replaces header in Refer-To (attended transfer) goes as it came.
	ReferPass ReferPolicy = "pass"
	// ReferHandle makes byocp carry out a blind transfer itself: it calls
	// the Refer-To target on the referrer's side, connects that call to
	// the other leg (a re-INVITE with the new media), reports progress to
	// the referrer in NOTIFYs and ends the referrer's leg. A Refer-To with
	// Replaces (attended transfer) is refused with 403.
	ReferHandle ReferPolicy = "handle"
)

// Check reports an unknown policy; "" counts as ReferReject.
func (p ReferPolicy) Check() error {
	switch p {
	case "", ReferReject, ReferPass, ReferHandle:
		return nil
	}
	return fmt.Errorf("unknown REFER policy %q (want reject, pass or handle)", string(p))
}

// ReferTo is the target of a REFER: the Refer-To URI and the Replaces
// header it may carry (RFC 3891, an attended transfer).
type ReferTo struct {
	URI URI
	// Replaces is the Replaces header value (decoded) of the Refer-To URI,
	// "" when it has none.
	Replaces string
}

// ParseReferTo reads a Refer-To header value: a name-addr or addr-spec
// with a sip, sips or tel URI, whose headers part may carry Replaces.
func ParseReferTo(v string) (ReferTo, error) {
	v = strings.TrimSpace(v)
	if i := strings.IndexByte(v, '<'); i >= 0 {
		j := strings.IndexByte(v[i:], '>')
		if j < 0 {
			return ReferTo{}, fmt.Errorf("sip: Refer-To %q: unterminated <", v)
		}
		v = v[i+1 : i+j]
	} else if i := strings.IndexByte(v, ';'); i >= 0 {
		v = v[:i] // addr-spec: what follows ; are header parameters
	}
	var rt ReferTo
	uri, hdrs, _ := strings.Cut(v, "?")
	for h := range strings.SplitSeq(hdrs, "&") {
		name, val, _ := strings.Cut(h, "=")
		if strings.EqualFold(name, "Replaces") {
			dec, err := url.PathUnescape(val)
			if err != nil {
				return ReferTo{}, fmt.Errorf("sip: Refer-To Replaces %q: %w", val, err)
			}
			rt.Replaces = dec
		}
	}
	scheme, rest, ok := strings.Cut(uri, ":")
	scheme = strings.ToLower(scheme)
	if !ok || (scheme != "sip" && scheme != "sips" && scheme != "tel") {
		return ReferTo{}, fmt.Errorf("sip: Refer-To %q: not a sip, sips or tel URI", v)
	}
	rest, _, _ = strings.Cut(rest, ";") // URI parameters (user=phone, ...)
	if scheme == "tel" {
		rt.URI = URI{Scheme: "sip", User: rest}
		return rt, nil
	}
	rt.URI.Scheme = scheme
	user, hostport, ok := strings.Cut(rest, "@")
	if !ok {
		user, hostport = "", rest
	}
	user, err := url.PathUnescape(user)
	if err != nil {
		return ReferTo{}, fmt.Errorf("sip: Refer-To %q: %w", v, err)
	}
	rt.URI.User = user
	host, port := hostport, ""
	if strings.HasPrefix(hostport, "[") {
		if k := strings.IndexByte(hostport, ']'); k > 0 {
			host, port = hostport[1:k], strings.TrimPrefix(hostport[k+1:], ":")
		}
	} else if k := strings.LastIndexByte(hostport, ':'); k >= 0 {
		host, port = hostport[:k], hostport[k+1:]
	}
	rt.URI.Host = host
	if port != "" {
		if rt.URI.Port, err = strconv.Atoi(port); err != nil || rt.URI.Port <= 0 || rt.URI.Port > 65535 {
			return ReferTo{}, fmt.Errorf("sip: Refer-To %q: bad port", v)
		}
	}
	if rt.URI.Host == "" {
		return ReferTo{}, fmt.Errorf("sip: Refer-To %q: no host", v)
	}
	return rt, nil
}

// String renders the Refer-To header value, Replaces escaped into the
// URI's headers part.
func (r ReferTo) String() string {
	s := "<" + r.URI.String()
	if r.Replaces != "" {
		s += "?Replaces=" + escapeHeaderValue(r.Replaces)
	}
	return s + ">"
}

// escapeHeaderValue escapes a URI header value (RFC 3261 hvalue): the
// characters that would end it or the URI, and anything not printable.
func escapeHeaderValue(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		ch := v[i]
		switch {
		case ch >= 'a' && ch <= 'z', ch >= 'A' && ch <= 'Z', ch >= '0' && ch <= '9',
			strings.IndexByte("-_.!~*'()[]/:+$", ch) >= 0:
			b.WriteByte(ch)
		default:
			fmt.Fprintf(&b, "%%%02X", ch)
		}
	}
	return b.String()
}

// Sipfrag is the message/sipfrag body of a NOTIFY about a REFER (RFC
// 3515 §2.4.5): the status line of a response to the transfer's INVITE.
// Only the status line is written, so that nothing of the leg the
// transfer happened on travels in it.
func Sipfrag(code int, reason string) []byte {
	return []byte(fmt.Sprintf("SIP/2.0 %d %s\r\n", code, reason))
}

// SipfragStatus reads the status code of a message/sipfrag body; false
// when it does not begin with a SIP status line.
func SipfragStatus(body []byte) (int, bool) {
	line, _, _ := strings.Cut(string(body), "\n")
	f := strings.Fields(line)
	if len(f) < 2 || !strings.EqualFold(f[0], "SIP/2.0") {
		return 0, false
	}
	code, err := strconv.Atoi(f[1])
	if err != nil || code < 100 || code > 699 {
		return 0, false
	}
	return code, true
}
