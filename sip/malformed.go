package sip

import (
	"bufio"
	"bytes"
	"net"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// filterRead sees every UDP datagram before sipgo does. In this order, and
// so cheapest first:
//   - a datagram from a source AcceptSource refuses is dropped (or, with
//     ReplyToRefused, answered 403 statelessly) before it is parsed;
//   - a request the parser rejects, or one missing a mandatory header, gets
//     a stateless 400 Bad Request when its Via, From, To, Call-ID and CSeq
//     can still be read; anything else that cannot be parsed, or a response
//     that cannot be matched, is dropped.
//
// Only what passes reaches sipgo, so no per-source state (sipgo keeps a
// connection-pool entry per remote ip:port) is ever created for refused or
// unparseable traffic.
func (e *Endpoint) filterRead(info sip.TransportReadProps, data []byte) (out []byte, _ error) {
	if info.Transport != "UDP" {
		return data, nil // stream connections were checked at accept
	}
	defer func() {
		if v := recover(); v != nil {
			e.notePanic("datagram filter", "", v)
			out = nil
		}
	}()
	if !e.sourceAllowed(addrOf(info.RemoteAddr)) {
		e.stats.refused.Add(1)
		if e.cfg.ReplyToRefused {
			e.replyStateless(data, info.RemoteAddr, 403, "Forbidden", "")
		}
		return nil, nil
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return data, nil // keep-alive CRLF: sipgo skips it
	}
	msg, err := e.parser.ParseSIP(data)
	if err != nil {
		e.stats.malformed.Add(1)
		e.log.Warn("unparseable SIP datagram", "source", info.RemoteAddr.String(), "error", err)
		e.replyStateless(data, info.RemoteAddr, 400, "Bad Request", err.Error())
		return nil, nil
	}
	switch m := msg.(type) {
	case *sip.Request:
		if problem := requestProblem(m); problem != "" {
			e.stats.malformed.Add(1)
			e.log.Warn("bad request", "method", m.Method, "problem", problem, "source", info.RemoteAddr.String(), "call_id", callIDOf(m))
			if !m.IsAck() {
				e.replyStateless(data, info.RemoteAddr, 400, "Bad Request", problem)
			}
			return nil, nil
		}
	case *sip.Response:
		if problem := responseProblem(m); problem != "" {
			e.stats.malformed.Add(1)
			e.log.Warn("bad response dropped", "problem", problem, "source", info.RemoteAddr.String())
			return nil, nil
		}
	}
	return data, nil
}

// replyStateless answers a datagram with a stateless response built from
// its raw header lines, if one is possible (see statelessResponse).
func (e *Endpoint) replyStateless(data []byte, src net.Addr, code int, reason, warning string) {
	res, ok := statelessResponse(data, code, reason, warning)
	if !ok {
		return
	}
	if _, err := e.udpConn.WriteTo(res, src); err != nil {
		e.log.Debug("stateless response not sent", "code", code, "error", err)
	}
}

// badRequestFor builds a 400 from the raw header lines a response needs.
// It reports false for responses, ACKs and requests missing those headers.
func badRequestFor(data []byte, parseErr error) ([]byte, bool) {
	return statelessResponse(data, 400, "Bad Request", parseErr.Error())
}

// statelessResponse builds a response with code and reason from the raw
// header lines a response needs, with a Warning carrying warning when it is
// not empty. It reports false for responses, ACKs and requests missing
// those headers.
func statelessResponse(data []byte, code int, reason, warning string) ([]byte, bool) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), len(data)+1)
	if !sc.Scan() {
		return nil, false
	}
	start := strings.Fields(sc.Text())
	if len(start) != 3 || start[2] != "SIP/2.0" || start[0] == "ACK" || strings.HasPrefix(start[0], "SIP/") {
		return nil, false
	}
	var vias []string
	var from, to, callID, cseq string
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			break
		}
		name, value, found := strings.Cut(line, ":")
		if !found {
			continue
		}
		value = strings.TrimSpace(value)
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "via", "v":
			vias = append(vias, value)
		case "from", "f":
			from = value
		case "to", "t":
			to = value
		case "call-id", "i":
			callID = value
		case "cseq":
			cseq = value
		}
	}
	if len(vias) == 0 || from == "" || to == "" || callID == "" || cseq == "" {
		return nil, false
	}
	// A bare CR (or another control character) inside an echoed value would
	// break the response's framing.
	for _, v := range append(vias, from, to, callID, cseq) {
		if strings.ContainsFunc(v, isCtl) {
			return nil, false
		}
	}
	if !hasTagParam(to) {
		to += ";tag=" + sip.GenerateTagN(10)
	}
	warning = strings.Map(func(r rune) rune {
		if r == '"' || r == '\\' || r < 0x20 || r > 0x7e {
			return ' '
		}
		return r
	}, warning)
	if len(warning) > 120 {
		warning = warning[:120]
	}
	var b bytes.Buffer
	b.WriteString("SIP/2.0 " + strconv.Itoa(code) + " " + reason + "\r\n")
	for _, v := range vias {
		b.WriteString("Via: " + v + "\r\n")
	}
	b.WriteString("From: " + from + "\r\nTo: " + to + "\r\nCall-ID: " + callID + "\r\nCSeq: " + cseq + "\r\n")
	if warning != "" {
		b.WriteString("Warning: 399 byocp \"" + warning + "\"\r\n")
	}
	b.WriteString("Content-Length: 0\r\n\r\n")
	return b.Bytes(), true
}

// isCtl reports the control characters a header value may not carry (RFC
// 3261 §25.1: CR and LF only as line ends, HTAB allowed).
func isCtl(r rune) bool {
	return (r < 0x20 && r != '\t') || r == 0x7f
}

// hasTagParam reports whether a raw To value has a non-empty tag header
// parameter; "tag=" inside the URI does not count.
func hasTagParam(to string) bool {
	params := to
	if i := strings.LastIndexByte(to, '>'); i >= 0 {
		params = to[i+1:]
	}
	_, params, _ = strings.Cut(params, ";")
	for p := range strings.SplitSeq(params, ";") {
		name, value, _ := strings.Cut(p, "=")
		if strings.EqualFold(strings.TrimSpace(name), "tag") && strings.TrimSpace(value) != "" {
			return true
		}
	}
	return false
}
