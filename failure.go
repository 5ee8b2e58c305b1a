package byocp

import (
	"strconv"
	"strings"
)

// mapFailure maps the final status code with which the far leg (the
// outgoing call) failed to the status and reason phrase the Bridge sends on
// the caller's leg. The phrase is always byocp's own (reasonPhrase), never
// the far leg's text, and no Warning header is ever copied: both legs are
// separate dialogs and the far side's wording may name its realm, its
// hosts or its software.
//
// A code that means the same thing to the caller as to byocp (about the
// callee, the dialled number or the media of this call) is kept. A code that
// is about byocp's own request or dialog on the far leg (its syntax,
// extensions, session timer, authentication, dialog state) is mapped: it
// refers to a leg the caller never sees, and relaying it would make the
// caller react to it, for example retry with credentials for the far side's
// realm (401/407) or a larger Session-Expires (422). An unknown code is
// treated as the x00 code of its class (RFC 3261 section 8.1.3.2) and then
// mapped as that code.
//
//	far leg                                  sent  why
//	3xx                                      480   redirects are not followed
//	400                                      500   the far side could not read byocp's request: byocp's fault
//	401, 407                                 503   the far side wants credentials byocp does not have;
//	                                               the caller should try another route, or act as on a
//	                                               500 if it has none (RFC 3261 section 21.5.4)
//	402                                      503   the far side refuses service to byocp's account
//	403                                      403   kept: the call is not allowed (barred number, caller ID refused)
//	404                                      404   kept: no such number
//	405, 413, 414, 416, 417, 420, 421, 422,  500   about byocp's request or dialog on the far leg (method,
//	423, 424, 425, 428, 429, 430, 436, 437,        size, URI scheme, extensions, session timer, location,
//	438, 439, 440, 469, 470, 481, 482, 483,        identity, outbound, loops, event, glare, security):
//	489, 491, 493, 494                             nothing the caller can act on
//	406, 415                                 488   the far side accepts no SDP body or answer byocp can
//	                                               use: the media of this call could not be negotiated
//	408                                      408   kept: the callee did not respond in time
//	410                                      410   kept: the number is gone
//	433                                      433   kept: the callee refuses anonymous calls
//	480                                      480   kept
//	484                                      484   kept: the dialled number is incomplete
//	485                                      485   kept: the dialled number is ambiguous
//	486                                      486   kept: busy
//	487                                      480   byocp did not cancel (a caller's CANCEL ends the far leg
//	                                               with sip.ErrCancelled, not a status): the far network
//	                                               ended the attempt, typically on a no-answer timer
//	488                                      488   kept: the offer byocp made from the caller's was refused
//	other 4xx                                500   as 400
//	500                                      500   kept: the far side failed
//	501, 505, 513, 555                       500   about byocp's request (method, SIP version, size, push)
//	502                                      502   kept: the network beyond the far side failed
//	503                                      503   kept: the far side is unavailable, and it is byocp's only
//	                                               route for the call's direction
//	504                                      504   kept: the network beyond the far side timed out
//	580                                      488   preconditions byocp's offer did not carry: media not negotiated
//	other 5xx                                500   as 500
//	600, 603, 604, 606, 607, 608             kept  global failures: busy, declined, no such number anywhere,
//	                                               media not acceptable anywhere, unwanted, rejected
//	other 6xx                                600   as 600
//	below 300 or above 699                   500   not a failure the far side can send
//
// The result is always a final failure, 400-699, never 401, 407, a 3xx or
// another code that refers to byocp's leg, and a fixed point of the table:
// mapFailure of a sent code sends that code again.
func mapFailure(code int) (status int, reason string) {
	status = failureStatus(code)
	return status, reasonPhrase(status)
}

// failureStatus is mapFailure's status.
func failureStatus(code int) int {
	switch {
	case code >= 300 && code <= 399:
		return 480
	case code < 400 || code > 699:
		return 500
	}
	if s, ok := failureCodes[code]; ok {
		return s
	}
	return failureCodes[code/100*100]
}

// failureCodes is mapFailure's table for the codes it knows; every x00 code
// of 4xx-6xx is in it for the class defaults.
var failureCodes = map[int]int{
	400: 500,
	401: 503, 402: 503, 407: 503,
	403: 403, 404: 404, 408: 408, 410: 410, 433: 433,
	405: 500, 413: 500, 414: 500, 416: 500, 417: 500,
	420: 500, 421: 500, 422: 500, 423: 500, 424: 500, 425: 500,
	428: 500, 429: 500, 430: 500, 436: 500, 437: 500, 438: 500, 439: 500,
	440: 500, 469: 500, 470: 500, 481: 500, 482: 500, 483: 500,
	489: 500, 491: 500, 493: 500, 494: 500,
	406: 488, 415: 488,
	480: 480, 484: 484, 485: 485, 486: 486, 487: 480, 488: 488,
	500: 500, 501: 500, 505: 500, 513: 500, 555: 500,
	502: 502, 503: 503, 504: 504,
	580: 488,
	600: 600, 603: 603, 604: 604, 606: 606, 607: 607, 608: 608,
}

// maxRetryAfter caps a relayed Retry-After, in seconds.
const maxRetryAfter = 3600

// failureRetryAfter returns the Retry-After value to send with status, the
// code mapFailure chose for the far leg's final code, given the far leg's
// Retry-After header value ("" when it had none); ok is false when none is
// to be sent.
//
// Retry-After is relayed only when the code is kept (status == code), so the
// far side's advice still describes what the caller receives, and only for
// the codes RFC 3261 section 20.33 gives it a meaning with that the table
// keeps: 404, 480, 486, 500, 503, 600 and 603. It matters most for 503,
// where it tells the caller's network how long to send elsewhere. Only the
// delta-seconds number is kept, written by byocp: the comment (free text,
// "120 (in a meeting)") and parameters (";duration=") are dropped. The value
// is capped at maxRetryAfter, one hour, so that a far side cannot keep the
// caller's network away from byocp for longer. A value that does not start
// with a number is not relayed.
func failureRetryAfter(code, status int, value string) (string, bool) {
	if code != status {
		return "", false
	}
	switch status {
	case 404, 480, 486, 500, 503, 600, 603:
	default:
		return "", false
	}
	value = strings.TrimLeft(value, " \t")
	end := 0
	for end < len(value) && value[end] >= '0' && value[end] <= '9' {
		end++
	}
	if end == 0 {
		return "", false
	}
	if end < len(value) && !strings.ContainsRune(" \t(;", rune(value[end])) {
		return "", false // "12abc": not delta-seconds
	}
	n, err := strconv.ParseUint(value[:end], 10, 64)
	if err != nil || n > maxRetryAfter {
		n = maxRetryAfter // only a range error: the digits are checked
	}
	return strconv.FormatUint(n, 10), true
}

// reasonPhrase returns byocp's reason phrase for a SIP status code: the
// phrase of RFC 3261 section 21 or of the RFC that registered the code with
// IANA, and for a code without one the name of its class ("Request
// Failure" for an unknown 4xx, RFC 3261 section 7.2). It never returns "".
func reasonPhrase(code int) string {
	if p, ok := reasonPhrases[code]; ok {
		return p
	}
	switch code / 100 {
	case 1:
		return "Provisional"
	case 2:
		return "Success"
	case 3:
		return "Redirection"
	case 4:
		return "Request Failure"
	case 5:
		return "Server Failure"
	case 6:
		return "Global Failure"
	}
	return "Unknown Status"
}

// reasonPhrases are the IANA-registered SIP response codes with their
// standard phrases.
var reasonPhrases = map[int]string{
	100: "Trying",
	180: "Ringing",
	181: "Call Is Being Forwarded",
	182: "Queued",
	183: "Session Progress",
	199: "Early Dialog Terminated",
	200: "OK",
	202: "Accepted",
	204: "No Notification",
	300: "Multiple Choices",
	301: "Moved Permanently",
	302: "Moved Temporarily",
	305: "Use Proxy",
	380: "Alternative Service",
	400: "Bad Request",
	401: "Unauthorized",
	402: "Payment Required",
	403: "Forbidden",
	404: "Not Found",
	405: "Method Not Allowed",
	406: "Not Acceptable",
	407: "Proxy Authentication Required",
	408: "Request Timeout",
	410: "Gone",
	412: "Conditional Request Failed",
	413: "Request Entity Too Large",
	414: "Request-URI Too Long",
	415: "Unsupported Media Type",
	416: "Unsupported URI Scheme",
	417: "Unknown Resource-Priority",
	420: "Bad Extension",
	421: "Extension Required",
	422: "Session Interval Too Small",
	423: "Interval Too Brief",
	424: "Bad Location Information",
	425: "Bad Alert Message",
	428: "Use Identity Header",
	429: "Provide Referrer Identity",
	430: "Flow Failed",
	433: "Anonymity Disallowed",
	436: "Bad Identity Info",
	437: "Unsupported Credential",
	438: "Invalid Identity Header",
	439: "First Hop Lacks Outbound Support",
	440: "Max-Breadth Exceeded",
	469: "Bad Info Package",
	470: "Consent Needed",
	480: "Temporarily Unavailable",
	481: "Call/Transaction Does Not Exist",
	482: "Loop Detected",
	483: "Too Many Hops",
	484: "Address Incomplete",
	485: "Ambiguous",
	486: "Busy Here",
	487: "Request Terminated",
	488: "Not Acceptable Here",
	489: "Bad Event",
	491: "Request Pending",
	493: "Undecipherable",
	494: "Security Agreement Required",
	500: "Server Internal Error",
	501: "Not Implemented",
	502: "Bad Gateway",
	503: "Service Unavailable",
	504: "Server Time-out",
	505: "Version Not Supported",
	513: "Message Too Large",
	555: "Push Notification Service Not Supported",
	580: "Precondition Failure",
	600: "Busy Everywhere",
	603: "Decline",
	604: "Does Not Exist Anywhere",
	606: "Not Acceptable",
	607: "Unwanted",
	608: "Rejected",
}
