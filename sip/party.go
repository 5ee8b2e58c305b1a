package sip

import (
	"slices"
	"strings"
)

// Party is a calling or called party as the Bridge passes it between legs:
// a number (E.164 with "+" between the legs), an optional display name and
// the caller's privacy request.
type Party struct {
	Number string
	Name   string
	// Withheld says the caller asked for its identity to be withheld
	// (Privacy id, header or user, RFC 3323/3325, or an anonymous From):
	// the other leg's From is then anonymous, while P-Asserted-Identity
	// still carries Number for the trusted peer.
	Withheld bool
	// Privacy is the caller's Privacy header value, passed on as it is;
	// "" when the caller sent none.
	Privacy string
}

// AnonymousFrom is the From of a call whose caller withheld its identity
// (RFC 3323 §4.1.1.3).
var AnonymousFrom = NameAddr{DisplayName: "Anonymous", URI: URI{User: "anonymous", Host: "anonymous.invalid"}}

// CallerIdentity is how an outgoing INVITE names its caller: the From (with
// number, the caller's number as this leg writes it, at host), and the
// P-Asserted-Identity and Privacy header fields. A withheld caller gets
// AnonymousFrom; the asserted identity is still sent, since both sides of
// a BYOC-P SBC are trusted peers (RFC 3325 §5), together with the caller's
// Privacy so that the peer knows not to show it. An unknown number (an
// anonymous caller without an asserted identity) sends no
// P-Asserted-Identity.
func CallerIdentity(caller Party, number, host string) (NameAddr, []Header) {
	from := NameAddr{DisplayName: caller.Name, URI: URI{User: number, Host: host}}
	if caller.Withheld || number == "" {
		from = AnonymousFrom
	}
	var hdrs []Header
	if number != "" {
		hdrs = append(hdrs, Header{Name: "P-Asserted-Identity", Value: "<" + URI{User: number, Host: host}.String() + ">"})
	}
	if caller.Privacy != "" {
		hdrs = append(hdrs, Header{Name: "Privacy", Value: caller.Privacy})
	}
	return from, hdrs
}

// Privacy is the INVITE's Privacy header value, "" if absent.
func (inv *Invite) Privacy() string { return strings.TrimSpace(inv.Header("Privacy")) }

// Withheld reports whether the caller asked for its identity to be
// withheld: a Privacy header with id, header or user (RFC 3323 §4.2, RFC
// 3325 §7), or an anonymous From (user or host "anonymous", or the
// anonymous.invalid host).
func (inv *Invite) Withheld() bool {
	for v := range strings.SplitSeq(inv.Privacy(), ";") {
		if slices.Contains([]string{"id", "header", "user"}, strings.ToLower(strings.TrimSpace(v))) {
			return true
		}
	}
	return isAnonymous(inv.From.URI)
}

func isAnonymous(u URI) bool {
	return strings.EqualFold(u.User, "anonymous") || strings.EqualFold(u.Host, "anonymous.invalid") ||
		strings.EqualFold(u.Host, "anonymous")
}
