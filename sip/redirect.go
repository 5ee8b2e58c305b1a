package sip

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
)

// RedirectTarget is one Contact of a 3xx response: an address the
// redirecting server suggests sending the request to instead (RFC 3261
// §8.1.3.4).
type RedirectTarget struct {
	// URI is the Contact's SIP or SIPS URI: scheme (in lower case), user,
	// host and port. Its transport and maddr parameters are reported
	// below; other URI parameters (user=phone, ...) and URI headers are
	// not kept.
	URI URI
	// Transport is the URI's transport parameter in lower case ("udp",
	// "tcp", "tls", ...); "" when it has none.
	Transport string
	// MAddr is the URI's maddr parameter: when set, the address to send the
	// request to in place of URI.Host (RFC 3261 §19.1.1); "" when absent.
	MAddr string
	// Q is the Contact's q-value, its preference between 0 and 1
	// (RFC 3261 §20.10); 1 when it has none.
	Q float64
	// Expires is the Contact's expires parameter, how long the address
	// stays valid (RFC 3261 §20.10); 0 when it has none or it is not a
	// number.
	Expires time.Duration
}

// Port is the port a request to the target goes to: the URI's port, or
// when it names none 5061 for a SIPS URI or transport "tls" and 5060
// otherwise (RFC 3261 §19.1.2).
func (t RedirectTarget) Port() int {
	if t.URI.Port > 0 {
		return t.URI.Port
	}
	if t.URI.Scheme == "sips" || t.Transport == "tls" {
		return 5061
	}
	return 5060
}

// Destination is the host:port a request to the target goes to: MAddr
// when set, else the URI's host, with Port; IPv6 addresses in brackets.
func (t RedirectTarget) Destination() string {
	return hostPort(cmp.Or(t.MAddr, t.URI.Host), t.Port())
}

// RedirectTargets returns the Contacts of a 3xx response in order of
// preference: highest q-value first, Contacts of equal q-value in the
// order the response lists them. It reads every Contact value, whether
// the response has several Contact header fields, several comma-separated
// values in one, or both, in name-addr ("<sip:...>;q=0.5") or addr-spec
// ("sip:...;q=0.5") form. In the addr-spec form every parameter after the
// URI is a header parameter (RFC 3261 §20.10), so a transport or maddr
// written there is not the URI's and is not reported.
//
// Only SIP and SIPS URIs are returned. Left out are: Contacts of other
// schemes (tel:, mailto:, http:...), which name no host to send a SIP
// request to; the wildcard "*"; Contacts whose q-value is not a number
// between 0 and 1; and Contacts with expires=0, which are no longer
// valid. RedirectTargets returns nil for a response that is not a 3xx or
// has no usable Contact.
func (r Response) RedirectTargets() []RedirectTarget {
	if r.res == nil || r.StatusCode < 300 || r.StatusCode > 399 {
		return nil
	}
	var out []RedirectTarget
	for _, h := range r.res.GetHeaders("Contact") {
		for _, c := range contactsOf(h) {
			if t, ok := redirectTarget(c); ok {
				out = append(out, t)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b RedirectTarget) int { return cmp.Compare(b.Q, a.Q) })
	return out
}

// contactsOf returns the Contact values of a header field: itself when
// the parser already made it a ContactHeader, else its text parsed as
// Contact values (a header added by hand, as a generic header).
func contactsOf(h sip.Header) []*sip.ContactHeader {
	if c, ok := h.(*sip.ContactHeader); ok {
		return []*sip.ContactHeader{c}
	}
	parsed, err := sip.HeadersParser(sip.DefaultHeadersParser()).ParseHeader(nil, []byte("Contact: "+h.Value()))
	if err != nil {
		return nil
	}
	var out []*sip.ContactHeader
	for _, p := range parsed {
		if c, ok := p.(*sip.ContactHeader); ok {
			out = append(out, c)
		}
	}
	return out
}

// redirectTarget reads one Contact value; ok is false for one
// RedirectTargets leaves out.
func redirectTarget(c *sip.ContactHeader) (RedirectTarget, bool) {
	u := c.Address
	scheme := strings.ToLower(u.Scheme)
	if u.Wildcard || (scheme != "sip" && scheme != "sips") || u.Host == "" {
		return RedirectTarget{}, false
	}
	t := RedirectTarget{URI: uriFrom(u), Q: 1}
	t.URI.Scheme = scheme
	t.Transport = strings.ToLower(paramOf(u.UriParams, "transport"))
	t.MAddr = strings.Trim(paramOf(u.UriParams, "maddr"), "[]")
	if q, ok := paramLookup(c.Params, "q"); ok {
		v, err := strconv.ParseFloat(strings.TrimSpace(q), 64)
		if err != nil || v < 0 || v > 1 {
			return RedirectTarget{}, false
		}
		t.Q = v
	}
	if e, ok := paramLookup(c.Params, "expires"); ok {
		secs, err := strconv.ParseUint(strings.TrimSpace(e), 10, 32)
		switch {
		case err == nil && secs == 0:
			return RedirectTarget{}, false
		case err == nil:
			t.Expires = time.Duration(secs) * time.Second
		}
		// A malformed expires is ignored, as RFC 3261 §10.3 step 6
		// has a registrar do: the Contact itself is still usable.
	}
	return t, true
}

// paramOf is the value of a parameter, "" when absent.
func paramOf(params sip.HeaderParams, name string) string {
	v, _ := paramLookup(params, name)
	return v
}

// paramLookup finds a parameter by name, case-insensitively (RFC 3261
// §7.3.1: parameter names are case-insensitive).
func paramLookup(params sip.HeaderParams, name string) (string, bool) {
	for _, kv := range params {
		if strings.EqualFold(kv.K, name) {
			return kv.V, true
		}
	}
	return "", false
}
