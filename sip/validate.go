package sip

import (
	"strings"

	"github.com/emiago/sipgo/sip"
)

// singleHeaders must appear exactly once in every request (RFC 3261 §8.1.1).
// Via may repeat; Contact is checked per method. Max-Forwards may be
// missing (it then counts as 70: a B2BUA never forwards the request itself,
// so its absence is harmless, and refusing it would drop real calls) but
// not repeated.
var singleHeaders = []string{"From", "To", "Call-ID", "CSeq"}

// requestProblem names the first reason req cannot be processed, or ""
// when it is acceptable. A request with a problem gets 400 Bad Request (an
// ACK is dropped, since nothing answers an ACK). Every handler may rely on
// From (with a tag), To, Call-ID, CSeq and Via being present once a
// request passed, and INVITE and UPDATE on one Contact.
func requestProblem(req *sip.Request) string {
	if len(req.GetHeaders("Via")) == 0 {
		return "missing Via"
	}
	for _, name := range singleHeaders {
		switch n := len(req.GetHeaders(name)); {
		case n == 0:
			return "missing " + name
		case n > 1:
			return "more than one " + name
		}
	}
	if len(req.GetHeaders("Max-Forwards")) > 1 {
		return "more than one Max-Forwards"
	}
	if req.From() == nil || req.To() == nil || req.CallID() == nil || req.CSeq() == nil || req.Via() == nil {
		// A header of that name was there but did not parse as one.
		return "unreadable mandatory header"
	}
	if strings.TrimSpace(req.CallID().Value()) == "" {
		return "empty Call-ID"
	}
	if tagOf(req.From().Params) == "" {
		return "missing From tag"
	}
	if sip.RequestMethod(strings.TrimSpace(string(req.CSeq().MethodName))) != req.Method {
		return "CSeq method does not match the request method"
	}
	switch req.Method {
	case sip.INVITE, sip.UPDATE:
		// RFC 3261 §8.1.1.8, RFC 3311 §5.1: a target-refresh request carries
		// exactly one Contact.
		switch n := len(req.GetHeaders("Contact")); {
		case n == 0:
			return "missing Contact"
		case n > 1:
			return "more than one Contact"
		}
		if req.Contact() == nil {
			return "unreadable Contact"
		}
	}
	return ""
}

// responseProblem names the first reason a response cannot be matched to a
// transaction or dialog, or "" when it is acceptable. Such responses are
// dropped.
func responseProblem(res *sip.Response) string {
	if res.Via() == nil {
		return "missing Via"
	}
	for _, name := range []string{"From", "To", "Call-ID", "CSeq"} {
		switch n := len(res.GetHeaders(name)); {
		case n == 0:
			return "missing " + name
		case n > 1:
			return "more than one " + name
		}
	}
	if res.From() == nil || res.To() == nil || res.CallID() == nil || res.CSeq() == nil {
		return "unreadable mandatory header"
	}
	return ""
}
