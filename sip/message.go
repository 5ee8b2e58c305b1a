package sip

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// URI is a SIP or SIPS URI reduced to what a B2BUA rewrites.
type URI struct {
	Scheme string // "sip" or "sips"; "" means "sip"
	User   string // e.g. "+14155550100"
	Host   string // host name or IP address (IPv6 without brackets)
	Port   int    // 0 = default port
}

// String renders the URI, e.g. "sip:+14155550100@192.0.2.1:5060".
func (u URI) String() string {
	var b strings.Builder
	s := u.Scheme
	if s == "" {
		s = "sip"
	}
	b.WriteString(s)
	b.WriteByte(':')
	if u.User != "" {
		b.WriteString(u.User)
		b.WriteByte('@')
	}
	if strings.Contains(u.Host, ":") {
		b.WriteString("[" + u.Host + "]")
	} else {
		b.WriteString(u.Host)
	}
	if u.Port > 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(u.Port))
	}
	return b.String()
}

func (u URI) sipgo() sip.Uri {
	s := u.Scheme
	if s == "" {
		s = "sip"
	}
	return sip.Uri{Scheme: s, User: u.User, Host: sipHost(u.Host), Port: u.Port}
}

// sipHost writes a host as SIP headers need it: IPv6 addresses in brackets.
func sipHost(h string) string {
	if strings.Contains(h, ":") && !strings.HasPrefix(h, "[") {
		return "[" + h + "]"
	}
	return h
}

func uriFrom(u sip.Uri) URI {
	return URI{Scheme: u.Scheme, User: u.User, Host: strings.Trim(u.Host, "[]"), Port: u.Port}
}

// NameAddr is a From, To or P-Asserted-Identity value without parameters.
type NameAddr struct {
	DisplayName string
	URI         URI
}

// ParseNameAddr reads a name-addr such as `"Anonymous"
// <sip:anonymous@anonymous.invalid>`; header parameters (a tag) are
// ignored.
func ParseNameAddr(s string) (NameAddr, error) {
	var u sip.Uri
	params := sip.NewParams()
	name, err := sip.ParseAddressValue(s, &u, &params)
	if err != nil {
		return NameAddr{}, fmt.Errorf("sip: name-addr %q: %w", s, err)
	}
	return NameAddr{DisplayName: name, URI: uriFrom(u)}, nil
}

// Header is one extra header field to send.
type Header struct {
	Name  string
	Value string
}

// Invite is what an incoming INVITE carries that the application may use to
// build the other leg. Nothing here identifies this leg's transaction or
// dialog except CallID, which must never be copied to another leg.
type Invite struct {
	RequestURI  URI
	From        NameAddr
	To          NameAddr
	CallID      string
	Body        []byte
	ContentType string
	Source      netip.AddrPort // address the request came from
	Transport   string         // "UDP", "TCP" or "TLS"
	req         *sip.Request
}

// Header returns the first value of the named header field, "" if absent.
func (inv *Invite) Header(name string) string {
	if inv.req == nil {
		return ""
	}
	if h := inv.req.GetHeader(name); h != nil {
		return h.Value()
	}
	return ""
}

// Caller is the calling party's user part (usually the number): from
// P-Asserted-Identity (RFC 3325) when present, else from From; "" when
// neither names the caller (an anonymous From without an asserted identity).
func (inv *Invite) Caller() string {
	if pai := inv.Header("P-Asserted-Identity"); pai != "" {
		if u := userOf(pai); u != "" {
			return u
		}
	}
	if isAnonymous(inv.From.URI) {
		return ""
	}
	return inv.From.URI.User
}

// userOf extracts the user part of a name-addr such as `"A" <sip:+1555@h>`
// or `<tel:+1555>`.
func userOf(nameAddr string) string {
	s := nameAddr
	if i := strings.IndexByte(s, '<'); i >= 0 {
		s = s[i+1:]
	}
	for _, scheme := range []string{"sips:", "sip:", "tel:"} {
		if rest, ok := strings.CutPrefix(s, scheme); ok {
			s = rest
			break
		}
	}
	if i := strings.IndexAny(s, "@;>"); i >= 0 {
		s = s[:i]
	}
	return s
}

// Response is a SIP response reduced to what a B2BUA relays.
type Response struct {
	StatusCode  int
	Reason      string
	Body        []byte
	ContentType string
	res         *sip.Response
}

// Header returns the first value of the named header field, "" if absent.
func (r Response) Header(name string) string {
	if r.res == nil {
		return ""
	}
	if h := r.res.GetHeader(name); h != nil {
		return h.Value()
	}
	return ""
}

// HasSDP reports whether the response carries SDP (alone, or as a part of
// a multipart body).
func (r Response) HasSDP() bool { return r.SDP() != nil }

// CallID is the Call-ID of the response's leg.
func (r Response) CallID() string {
	if r.res == nil {
		return ""
	}
	return callIDOf(r.res)
}

// ToTag is the To tag of the response: it names the (early) dialog the
// response belongs to; "" for a 100 Trying without one.
func (r Response) ToTag() string {
	if r.res == nil || r.res.To() == nil {
		return ""
	}
	return tagOf(r.res.To().Params)
}

func responseFrom(res *sip.Response) Response {
	r := Response{StatusCode: int(res.StatusCode), Reason: res.Reason, Body: res.Body(), res: res}
	if ct := res.ContentType(); ct != nil {
		r.ContentType = ct.Value()
	}
	return r
}

func inviteFrom(req *sip.Request) *Invite {
	inv := &Invite{RequestURI: uriFrom(req.Recipient), Body: req.Body(), Transport: req.Transport(), req: req}
	if f := req.From(); f != nil {
		inv.From = NameAddr{DisplayName: f.DisplayName, URI: uriFrom(f.Address)}
	}
	if t := req.To(); t != nil {
		inv.To = NameAddr{DisplayName: t.DisplayName, URI: uriFrom(t.Address)}
	}
	if c := req.CallID(); c != nil {
		inv.CallID = c.Value()
	}
	if ct := req.ContentType(); ct != nil {
		inv.ContentType = ct.Value()
	}
	if ap, err := netip.ParseAddrPort(req.Source()); err == nil {
		inv.Source = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return inv
}

// sourceAddr returns the IP a request came from.
func sourceAddr(req *sip.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(req.Source())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

func isSDP(contentType string) bool {
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(contentType)), "application/sdp")
}

func tagOf(params sip.HeaderParams) string {
	t, _ := params.Get("tag")
	return t
}

// String is the INVITE as received, start line, header fields and body.
func (inv *Invite) String() string {
	if inv.req == nil {
		return ""
	}
	return inv.req.String()
}

// String is the response as received, status line, header fields and body.
func (r Response) String() string {
	if r.res == nil {
		return ""
	}
	return r.res.String()
}
