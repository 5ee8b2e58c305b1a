package sip

import (
	"bufio"
	"bytes"
	"net"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// filterRead sees every UDP datagram before sipgo parses it. sipgo drops
// what its parser rejects without a word; here a request the parser rejects
// gets a stateless 400 Bad Request when its Via, From, To, Call-ID and CSeq
// can still be read, and is logged and dropped otherwise.
func (e *Endpoint) filterRead(info sip.TransportReadProps, data []byte) ([]byte, error) {
	if info.Transport != "UDP" || len(bytes.TrimSpace(data)) == 0 {
		return data, nil
	}
	if _, err := e.parser.ParseSIP(data); err == nil {
		return data, nil
	} else {
		e.rejectMalformed(data, info.RemoteAddr, err)
	}
	return nil, nil
}

// rejectMalformed writes a 400 for an unparseable request, if one is possible.
func (e *Endpoint) rejectMalformed(data []byte, src net.Addr, parseErr error) {
	res, ok := badRequestFor(data, parseErr)
	if !ok {
		e.log.Warn("unparseable SIP datagram dropped", "source", src.String(), "error", parseErr)
		return
	}
	e.log.Warn("malformed SIP request answered 400", "source", src.String(), "error", parseErr)
	if _, err := e.udpConn.WriteTo(res, src); err != nil {
		e.log.Debug("400 not sent", "error", err)
	}
}

// badRequestFor builds a 400 from the raw header lines a response needs.
// It reports false for responses, ACKs and requests missing those headers.
func badRequestFor(data []byte, parseErr error) ([]byte, bool) {
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
	warning := strings.Map(func(r rune) rune {
		if r == '"' || r == '\\' || r < 0x20 || r > 0x7e {
			return ' '
		}
		return r
	}, parseErr.Error())
	if len(warning) > 120 {
		warning = warning[:120]
	}
	var b bytes.Buffer
	b.WriteString("SIP/2.0 400 Bad Request\r\n")
	for _, v := range vias {
		b.WriteString("Via: " + v + "\r\n")
	}
	b.WriteString("From: " + from + "\r\nTo: " + to + "\r\nCall-ID: " + callID + "\r\nCSeq: " + cseq + "\r\n")
	b.WriteString("Warning: 399 byocp \"" + warning + "\"\r\nContent-Length: 0\r\n\r\n")
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
