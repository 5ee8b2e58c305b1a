package sip

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// oddRequest is a request written the way tests need it: every line given.
func oddRequest(lines ...string) string {
	return strings.Join(lines, "\r\n") + "\r\n\r\n"
}

// TestMalformedRequestsGet400: requests the parser rejects, and INVITEs
// missing what a dialog needs, get 400 Bad Request with Via, Call-ID and
// CSeq echoed and a Warning saying why.
func TestMalformedRequestsGet400(t *testing.T) {
	t.Parallel()
	for _, ip := range []string{"127.0.0.1", "::1"} {
		t.Run(ip, func(t *testing.T) {
			t.Parallel()
			testMalformedRequestsGet400(t, ip)
		})
	}
}

func testMalformedRequestsGet400(t *testing.T, ip string) {
	ep := listenEP(t, EndpointConfig{Name: "uas", Handler: make(callQueue, 8), Listen: sipHostPort(netip.AddrPortFrom(netip.MustParseAddr(ip), 0))})
	ruri := "sip:+14155550199@" + sipHostPort(ep.Addr())

	for _, tc := range []struct {
		name    string
		replace [2]string // applied to a valid INVITE
		warning string    // expected in the Warning text; "" = no Warning needed
	}{
		{"CSeq not a number", [2]string{"CSeq: 1 INVITE", "CSeq: abc INVITE"}, "abc"},
		{"CSeq without method", [2]string{"CSeq: 1 INVITE", "CSeq: 1"}, "CSeq"},
		{"CSeq number too large", [2]string{"CSeq: 1 INVITE", "CSeq: 99999999999999999999 INVITE"}, "399"},
		{"Via without sent-by", [2]string{"Via: SIP/2.0/UDP ", "Via: SIP/2.0/UDP\r\nX-Old-Via: "}, "Via"},
		{"Via with bad protocol", [2]string{"Via: SIP/2.0/UDP ", "Via: garbage "}, "Via"},
		{"Via without transport", [2]string{"Via: SIP/2.0/UDP ", "Via: SIP/2.0 "}, "Via"},
		{"Content-Length not a number", [2]string{"Content-Length: ", "Content-Length: abc\r\nX-Old-Length: "}, "abc"},
		{"Content-Length negative", [2]string{"Content-Length: ", "Content-Length: -5\r\nX-Old-Length: "}, "-5"},
		{"Content-Length beyond the datagram", [2]string{"Content-Length: ", "Content-Length: 5000\r\nX-Old-Length: "}, "body"},
		{"Max-Forwards not a number", [2]string{"Max-Forwards: 70", "Max-Forwards: seventy"}, "seventy"},
		{"From unparseable", [2]string{"From: <sip:alice@127.0.0.1>;tag=f1", "From: <sip:alice@127.0.0.1;tag=f1"}, "bracket"},
		{"INVITE without Contact", [2]string{"Contact: <sip:alice@127.0.0.1>\r\n", ""}, "missing Contact"},
		{"INVITE without From tag", [2]string{"From: <sip:alice@127.0.0.1>;tag=f1", "From: <sip:alice@127.0.0.1>"}, "missing From tag"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := newRawUDP(t, ip)
			via := fmt.Sprintf("Via: SIP/2.0/UDP %s;branch=z9hG4bK%s", raw.hostPort(), unique("bad"))
			callID := unique("bad-")
			valid := sipMsg("INVITE "+ruri+" SIP/2.0", []string{
				via,
				"Max-Forwards: 70",
				"From: <sip:alice@127.0.0.1>;tag=f1",
				"To: <" + ruri + ">",
				"Call-ID: " + callID,
				"CSeq: 1 INVITE",
				"Contact: <sip:alice@127.0.0.1>",
				"Content-Type: application/sdp",
			}, offerSDP)
			bad := strings.Replace(valid, tc.replace[0], tc.replace[1], 1)
			if bad == valid {
				t.Fatalf("replacement %q not applied", tc.replace[0])
			}
			raw.send(ep.Addr(), bad)
			res := raw.expect("400", func(m rawMsg) bool {
				return headerValue(m.data, "Call-ID", "i") == callID && strings.HasPrefix(startLine(m.data), "SIP/2.0 ")
			})
			if got := startLine(res.data); got != "SIP/2.0 400 Bad Request" {
				t.Fatalf("got %q, want 400:\n%s", got, res)
			}
			wantCSeq := headerValue([]byte(bad), "CSeq")
			if got := headerValue(res.data, "CSeq"); got != wantCSeq {
				t.Errorf("CSeq %q, want %q echoed", got, wantCSeq)
			}
			wantVia := headerValue([]byte(bad), "Via")
			if got := headerValue(res.data, "Via", "v"); !strings.HasPrefix(got, wantVia) {
				t.Errorf("Via %q, want %q echoed", got, wantVia)
			}
			if got := headerValue(res.data, "To", "t"); !strings.Contains(got, "tag=") {
				t.Errorf("To %q without tag", got)
			}
			if w := headerValue(res.data, "Warning"); !strings.HasPrefix(w, "399 ") || !strings.Contains(w, tc.warning) {
				t.Errorf("Warning %q, want 399 mentioning %q", w, tc.warning)
			}
		})
	}
}

// TestGarbageIsDropped: datagrams that are not a request with enough header
// fields to answer get no response, and the endpoint keeps working.
func TestGarbageIsDropped(t *testing.T) {
	t.Parallel()
	ep := listenEP(t, EndpointConfig{Name: "uas"})
	raw := newRawUDP(t, "127.0.0.1")
	noise := make([]byte, 700)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range noise {
		noise[i] = byte(rng.UintN(256))
	}
	for _, tc := range []struct{ name, data string }{
		{"hello", "hello"},
		{"random bytes", string(noise)},
		{"CRLF keep-alive", "\r\n"},
		{"double CRLF keep-alive", "\r\n\r\n"},
		{"NUL bytes", "\x00\x00\x00\x00"},
		{"wrong SIP version", oddRequest("OPTIONS sip:x@127.0.0.1 SIP/3.0", "CSeq: x", "Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK1")},
		{"malformed ACK", oddRequest("ACK sip:x@127.0.0.1 SIP/2.0", "Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK2",
			"From: <sip:a@b>;tag=1", "To: <sip:x@y>;tag=2", "Call-ID: garbage-ack", "CSeq: abc ACK", "Content-Length: 0")},
		{"malformed response", oddRequest("SIP/2.0 200 OK", "Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK3",
			"From: <sip:a@b>;tag=1", "To: <sip:x@y>;tag=2", "Call-ID: garbage-res", "CSeq: abc INVITE", "Content-Length: 0")},
		{"stray response", oddRequest("SIP/2.0 200 OK", "Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK4",
			"From: <sip:a@b>;tag=1", "To: <sip:x@y>;tag=2", "Call-ID: stray", "CSeq: 1 INVITE", "Content-Length: 0")},
		{"bad request without Call-ID", oddRequest("OPTIONS sip:x@127.0.0.1 SIP/2.0", "Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK5",
			"From: <sip:a@b>;tag=1", "To: <sip:x@y>", "CSeq: abc OPTIONS", "Content-Length: 0")},
	} {
		raw.send(ep.Addr(), tc.data)
		if m, ok := raw.within(200*time.Millisecond, anything); ok {
			t.Errorf("%s: got a response:\n%s", tc.name, m)
		}
	}
	uac := newRawUAC(raw, ep.Addr(), "UDP")
	uac.send(ep.Addr(), uac.inDialog("OPTIONS", ""))
	uac.expect("200 for OPTIONS after the garbage", isResponse(200, sip.OPTIONS))
}

// TestValidOddRequestsAccepted: valid messages written in unusual but legal
// ways (RFC 4475 §3.1.1 style) are not rejected: OPTIONS gets 200 and a
// compact-form INVITE reaches the call handler.
func TestValidOddRequestsAccepted(t *testing.T) {
	t.Parallel()
	q := make(callQueue, 1)
	ep := listenEP(t, EndpointConfig{Name: "uas", Handler: q})
	raw := newRawUDP(t, "127.0.0.1")
	hp := raw.hostPort()
	target := sipHostPort(ep.Addr())
	for _, tc := range []struct {
		name  string
		lines []string
	}{
		{"compact header forms", []string{
			"OPTIONS sip:" + target + " SIP/2.0",
			"v: SIP/2.0/UDP " + hp + ";branch=z9hG4bK-odd1", "f: <sip:a@example.com>;tag=1", "t: <sip:" + target + ">",
			"i: odd1", "CSeq: 1 OPTIONS", "l: 0"}},
		{"extra linear white space", []string{
			"OPTIONS sip:" + target + " SIP/2.0",
			"Via:   SIP/2.0/UDP   " + hp + ";branch=z9hG4bK-odd2", "From:<sip:a@example.com>;tag=1", "To:   <sip:" + target + ">",
			"Call-ID:    odd2", "CSeq:   2   OPTIONS", "Max-Forwards:   70", "Content-Length:   0"}},
		{"unknown and folded header fields", []string{
			"OPTIONS sip:" + target + " SIP/2.0",
			"Via: SIP/2.0/UDP " + hp + ";branch=z9hG4bK-odd3", "From: <sip:a@example.com>;tag=1", "To: <sip:" + target + ">",
			"Call-ID: odd3", "CSeq: 3 OPTIONS", "NewFangledHeader:   newfangled value", " continued newfangled value",
			"UnknownHeaderWithUnusualValue: ;;,,;;,;", "X-Long: " + strings.Repeat("x", 1000), "Content-Length: 0"}},
		{"lower-case names and escaped display name", []string{
			"OPTIONS sip:" + target + " SIP/2.0",
			"via: SIP/2.0/UDP " + hp + ";branch=z9hG4bK-odd4", `from: "J Rosenberg \\\"" <sip:a@example.com>;tag=1`,
			"to: <sip:" + target + ">", "call-id: odd4", "cseq: 4 OPTIONS", "content-length: 0"}},
		{"no Max-Forwards, body of an unknown type", []string{
			"OPTIONS sip:" + target + ";user=phone SIP/2.0",
			"Via: SIP/2.0/UDP " + hp + ";branch=z9hG4bK-odd5", "From: <sip:a@example.com>;tag=1", "To: <sip:" + target + ">",
			"Call-ID: odd5", "CSeq: 5 OPTIONS", "Content-Type: text/plain", "Content-Length: 5\r\n\r\nhello"}},
	} {
		text := oddRequest(tc.lines...)
		if strings.HasSuffix(text, "hello\r\n\r\n") {
			text = strings.TrimSuffix(text, "\r\n\r\n")
		}
		raw.send(ep.Addr(), text)
		callID := headerValue([]byte(text), "Call-ID", "i")
		res, ok := raw.within(waitLong, func(m rawMsg) bool { return headerValue(m.data, "Call-ID", "i") == callID })
		if !ok {
			t.Errorf("%s: no response", tc.name)
			continue
		}
		if got := startLine(res.data); got != "SIP/2.0 200 OK" {
			t.Errorf("%s: %s, want 200:\n%s", tc.name, got, res)
		}
	}

	invite := oddRequest(
		"INVITE sip:+14155550199@"+target+" SIP/2.0",
		"v: SIP/2.0/UDP "+hp+";branch=z9hG4bK-oddinv", "f: \"Alice\" <sip:+14155550100@127.0.0.1>;tag=1",
		"t: <sip:+14155550199@"+target+">", "i: oddinv", "CSeq: 1 INVITE", "m: <sip:alice@"+hp+">",
		"c: application/sdp", "X-Unknown: yes", fmt.Sprintf("l: %d\r\n\r\n%s", len(offerSDP), offerSDP))
	raw.send(ep.Addr(), strings.TrimSuffix(invite, "\r\n\r\n"))
	call := q.next(t)
	if string(call.Invite().Body) != offerSDP || call.Invite().From.DisplayName != "Alice" || call.Invite().Header("X-Unknown") != "yes" {
		t.Errorf("compact INVITE read as %+v", call.Invite())
	}
	_ = call.Reject(486, "Busy Here")
	raw.expect("486", isResponse(486, sip.INVITE))
}

// TestBadRequestFor covers the stateless 400 builder directly.
func TestBadRequestFor(t *testing.T) {
	t.Parallel()
	parseErr := errors.New(`bad "thing"` + "\x01\\" + strings.Repeat("y", 200))
	in := oddRequest("MESSAGE sip:x@example.com SIP/2.0",
		"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1", "v: SIP/2.0/TCP 192.0.2.2;branch=z9hG4bK2",
		"From: <sip:a@example.com>;tag=1", "To: <sip:x@example.com>", "Call-ID: c1", "CSeq: nope MESSAGE")
	out, ok := badRequestFor([]byte(in), parseErr)
	if !ok {
		t.Fatal("no 400 for a request with all needed header fields")
	}
	if vias := headerValues(out, "Via"); len(vias) != 2 || !strings.Contains(vias[1], "192.0.2.2") {
		t.Errorf("Vias %q, want both in order", vias)
	}
	w := headerValue(out, "Warning")
	if !strings.HasPrefix(w, `399 byocp "`) || strings.Count(w, `"`) != 2 || strings.ContainsAny(w, "\x01\\") || len(w) > 140 {
		t.Errorf("Warning %q: want one quoted, sanitised, bounded text", w)
	}
	if !bytes.HasSuffix(out, []byte("Content-Length: 0\r\n\r\n")) {
		t.Errorf("400 does not end with Content-Length: 0:\n%s", out)
	}
	for _, tc := range []struct{ to, kept string }{
		{"<sip:x@example.com>;tag=keep", "<sip:x@example.com>;tag=keep"},
		{"<sip:x@example.com>; TAG = keep ;foo", "<sip:x@example.com>; TAG = keep ;foo"},
		{"<sip:x@example.com;tag=uri-param>", ""},
		{"<sip:tag=x@example.com>", ""},
		{"sip:x@example.com;tag=", ""},
	} {
		out, _ = badRequestFor([]byte(strings.Replace(in, "To: <sip:x@example.com>", "To: "+tc.to, 1)), parseErr)
		got := headerValue(out, "To")
		if tc.kept != "" && got != tc.kept {
			t.Errorf("To %q became %q, want the request's tag kept", tc.to, got)
		}
		if tc.kept == "" && !strings.HasPrefix(got, tc.to+";tag=") {
			t.Errorf("To %q became %q, want a tag added", tc.to, got)
		}
	}
	lf := strings.ReplaceAll(in, "\r\n", "\n")
	if _, ok := badRequestFor([]byte(lf), parseErr); !ok {
		t.Error("no 400 for an LF-only request")
	}
	for name, text := range map[string]string{
		"ACK":         strings.Replace(in, "MESSAGE sip:", "ACK sip:", 1),
		"response":    strings.Replace(in, "MESSAGE sip:x@example.com SIP/2.0", "SIP/2.0 200 OK", 1),
		"no Call-ID":  strings.Replace(in, "Call-ID: c1\r\n", "", 1),
		"no Via":      strings.NewReplacer("Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1\r\n", "", "v: SIP/2.0/TCP 192.0.2.2;branch=z9hG4bK2\r\n", "").Replace(in),
		"no CSeq":     strings.Replace(in, "CSeq: nope MESSAGE\r\n", "", 1),
		"empty":       "",
		"not SIP/2.0": strings.Replace(in, "SIP/2.0\r\n", "SIP/1.0\r\n", 1),
	} {
		if out, ok := badRequestFor([]byte(text), parseErr); ok {
			t.Errorf("%s: got a 400:\n%s", name, out)
		}
	}
}

// echoedOracle is an OPTIONS request made of the input's Via, From, To,
// Call-ID and CSeq lines, cut the way badRequestFor reads them: if sipgo
// parses it, the 400 built from the input must parse too.
func echoedOracle(data []byte) string {
	var b strings.Builder
	b.WriteString("OPTIONS sip:x@127.0.0.1 SIP/2.0\r\n")
	lines := strings.Split(string(data), "\n")
	for _, line := range lines[1:] {
		line = strings.TrimSuffix(line, "\r")
		if line == "" {
			break
		}
		name, _, _ := strings.Cut(line, ":")
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "via", "v", "from", "f", "to", "t", "call-id", "i", "cseq":
			b.WriteString(line + "\r\n")
		}
	}
	b.WriteString("Content-Length: 0\r\n\r\n")
	return b.String()
}

// FuzzBadRequestFor: badRequestFor never panics; when it answers, the answer
// is one well-framed 400 with an empty body, and it parses with sipgo's
// parser whenever the header fields it echoes do.
func FuzzBadRequestFor(f *testing.F) {
	f.Add([]byte(oddRequest("INVITE sip:x@127.0.0.1 SIP/2.0", "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK1",
		"From: <sip:a@b>;tag=1", "To: <sip:x@127.0.0.1>", "Call-ID: c1", "CSeq: abc INVITE", "Content-Length: 0")))
	f.Add([]byte(oddRequest("OPTIONS sip:x@127.0.0.1 SIP/2.0", "v: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK1",
		"f: <sip:a@b>;tag=1", "t: <sip:x@127.0.0.1>;tag=2", "i: c2", "CSeq: 1 OPTIONS", "l: abc")))
	f.Add([]byte(oddRequest("BYE sip:x@[::1]:5060 SIP/2.0", "Via: SIP/2.0/TCP [::1]:5070;branch=z9hG4bK1",
		"Via: SIP/2.0/UDP 192.0.2.1;received=192.0.2.9", "From: \"A\" <sip:a@b>;tag=1", "To: sip:x@y",
		"Call-ID: c3@host", "CSeq: 99999999999 BYE", "Max-Forwards: x")))
	f.Add([]byte("INVITE sip:x SIP/2.0\nVia: garbage\nFrom: f\nTo: t;tag=\nCall-ID: i\nCSeq: 1\n\n"))
	f.Add([]byte("0 0 SIP/2.0 \nV:\nF:0\nT:0\nCAll-ID:00\nCSeq:0\r00"))      // bare CR in an echoed value
	f.Add([]byte("0 0 SIP/2.0\nv:0/0/ 0\nf:A:00\nt:A:tag=\ni:0\nCSeq:0 00")) // "tag=" inside the To URI
	f.Add([]byte("hello"))
	f.Add([]byte("\r\n\r\n"))
	f.Add([]byte("SIP/2.0 400 Bad Request\r\nVia: x\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		out, ok := badRequestFor(data, errors.New("fuzz: "+string(data[:min(len(data), 40)])))
		if !ok {
			return
		}
		if !bytes.HasPrefix(out, []byte("SIP/2.0 400 Bad Request\r\n")) {
			t.Fatalf("400 starts with %q", startLine(out))
		}
		if i := bytes.Index(out, []byte("\r\n\r\n")); i != len(out)-4 {
			t.Fatalf("400 header section ends at %d of %d:\n%q", i, len(out), out)
		}
		if bytes.Count(out, []byte("\n")) != bytes.Count(out, []byte("\r\n")) || bytes.Count(out, []byte("\r")) != bytes.Count(out, []byte("\r\n")) {
			t.Fatalf("bare CR or LF in the 400:\n%q", out)
		}
		oracle, err := sip.ParseMessage([]byte(echoedOracle(data)))
		if err != nil {
			return // the echoed header fields are broken already
		}
		if r, ok := oracle.(*sip.Request); !ok || r.Via() == nil || r.From() == nil || r.To() == nil || r.CallID() == nil || r.CSeq() == nil {
			return
		}
		msg, err := sip.ParseMessage(out)
		if err != nil {
			t.Fatalf("400 does not parse (%v) although its echoed fields do:\n%q\nfrom\n%q", err, out, data)
		}
		res, ok := msg.(*sip.Response)
		if !ok || res.StatusCode != 400 || len(res.Body()) != 0 || res.To() == nil || tagOf(res.To().Params) == "" {
			t.Fatalf("parsed 400 wrong: %q", out)
		}
	})
}

// BenchmarkBadRequestFor: the cost of answering one malformed datagram.
func BenchmarkBadRequestFor(b *testing.B) {
	data := []byte(sipMsg("INVITE sip:+14155550199@192.0.2.1:5060 SIP/2.0", []string{
		"Via: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bK776asdhds;rport",
		"Max-Forwards: 70",
		"From: \"Alice\" <sip:+14155550100@192.0.2.9>;tag=1928301774",
		"To: <sip:+14155550199@192.0.2.1>",
		"Call-ID: a84b4c76e66710@pc33.example.com",
		"CSeq: abc INVITE",
		"Contact: <sip:alice@192.0.2.9:5060>",
		"Content-Type: application/sdp",
	}, offerSDP))
	parseErr := errors.New(`strconv.ParseUint: parsing "abc": invalid syntax`)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, ok := badRequestFor(data, parseErr); !ok {
			b.Fatal("no 400")
		}
	}
}
