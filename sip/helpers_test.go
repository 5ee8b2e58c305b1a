package sip

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"github.com/byocp/byocp/internal/leakcheck"
)

// Test SDP bodies. Their content does not matter to this package; the tests
// only check that they travel unchanged.
const (
	offerSDP   = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
	answerSDP  = "v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 41000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
	reofferSDP = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=sendonly\r\n"
)

// waitLong bounds every "eventually" in the tests; it is far above what
// loopback needs and only matters when something is broken.
const waitLong = 5 * time.Second

// testLogger discards logs unless BYOCP_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("BYOCP_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func init() {
	// sipgo logs a few things through its package default logger.
	sip.SetDefaultLogger(testLogger())
}

// listenEP starts an Endpoint and closes it when the test ends.
func listenEP(t testing.TB, cfg EndpointConfig) *Endpoint {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testLogger()
	}
	ep, err := Listen(cfg)
	if err != nil {
		t.Fatalf("Listen(%+v): %v", cfg, err)
	}
	t.Cleanup(func() { _ = ep.Close() })
	return ep
}

// callQueue is a CallHandler that hands every incoming call to the test.
type callQueue chan *ServerCall

func (q callQueue) ServeCall(c *ServerCall) { q <- c }

func (q callQueue) next(t testing.TB) *ServerCall {
	t.Helper()
	select {
	case c := <-q:
		return c
	case <-time.After(waitLong):
		t.Fatal("no incoming call reached the handler")
		return nil
	}
}

// eventually polls cond until it holds or waitLong passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLong)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// closedSoon reports whether ch is closed within waitLong.
func closedSoon(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	case <-time.After(waitLong):
		return false
	}
}

// ---------------------------------------------------------------------------
// A raw SIP peer: a bare socket that sends hand-written SIP text and records
// what arrives, so that tests control every byte and every retransmission.

// rawMsg is one message a raw peer received.
type rawMsg struct {
	data []byte
	from netip.AddrPort
	msg  sip.Message // nil when sipgo's parser rejects data
}

func (m rawMsg) req() *sip.Request {
	r, _ := m.msg.(*sip.Request)
	return r
}

func (m rawMsg) res() *sip.Response {
	r, _ := m.msg.(*sip.Response)
	return r
}

// String is the message text, for failure output.
func (m rawMsg) String() string { return string(m.data) }

// rawPeer is a raw UDP socket or one TCP/TLS connection.
type rawPeer struct {
	t    testing.TB
	udp  *net.UDPConn
	conn net.Conn // stream transports
	in   chan rawMsg
	done chan struct{}
}

// newRawUDP binds a raw UDP peer on ip (port 0).
func newRawUDP(t testing.TB, ip string) *rawPeer {
	t.Helper()
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(ip), 0)))
	if err != nil {
		t.Fatal(err)
	}
	p := &rawPeer{t: t, udp: c, in: make(chan rawMsg, 256), done: make(chan struct{})}
	go p.readUDP()
	t.Cleanup(p.close)
	return p
}

// newRawStream wraps a connected TCP or TLS connection as a raw peer.
func newRawStream(t testing.TB, conn net.Conn) *rawPeer {
	p := &rawPeer{t: t, conn: conn, in: make(chan rawMsg, 256), done: make(chan struct{})}
	go p.readStream()
	t.Cleanup(p.close)
	return p
}

func (p *rawPeer) close() {
	if p.udp != nil {
		_ = p.udp.Close()
	} else {
		_ = p.conn.Close()
	}
	<-p.done
}

func (p *rawPeer) readUDP() {
	defer close(p.done)
	buf := make([]byte, 65535)
	for {
		n, from, err := p.udp.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		data := bytes.Clone(buf[:n])
		m, _ := sip.ParseMessage(data)
		p.in <- rawMsg{data: data, from: netip.AddrPortFrom(from.Addr().Unmap(), from.Port()), msg: m}
	}
}

// readStream splits the byte stream into messages by Content-Length.
func (p *rawPeer) readStream() {
	defer close(p.done)
	from, _ := netip.ParseAddrPort(p.conn.RemoteAddr().String())
	var pending []byte
	buf := make([]byte, 65535)
	for {
		n, err := p.conn.Read(buf)
		if err != nil {
			return
		}
		pending = append(pending, buf[:n]...)
		for {
			pending = bytes.TrimLeft(pending, "\r\n") // keep-alives
			end := bytes.Index(pending, []byte("\r\n\r\n"))
			if end < 0 {
				break
			}
			length := 0
			for _, v := range headerValues(pending[:end+4], "Content-Length", "l") {
				_, _ = fmt.Sscan(v, &length)
			}
			total := end + 4 + length
			if len(pending) < total {
				break
			}
			data := bytes.Clone(pending[:total])
			pending = pending[total:]
			m, _ := sip.ParseMessage(data)
			p.in <- rawMsg{data: data, from: from, msg: m}
		}
	}
}

// addr is the peer's local address.
func (p *rawPeer) addr() netip.AddrPort {
	if p.udp != nil {
		return p.udp.LocalAddr().(*net.UDPAddr).AddrPort()
	}
	ap, _ := netip.ParseAddrPort(p.conn.LocalAddr().String())
	return ap
}

// hostPort is the peer's address as written in Via and Contact.
func (p *rawPeer) hostPort() string { return sipHostPort(p.addr()) }

// send writes text to to (ignored on stream peers).
func (p *rawPeer) send(to netip.AddrPort, text string) {
	p.t.Helper()
	var err error
	if p.udp != nil {
		_, err = p.udp.WriteToUDPAddrPort([]byte(text), to)
	} else {
		_, err = p.conn.Write([]byte(text))
	}
	if err != nil {
		p.t.Fatalf("raw peer send: %v", err)
	}
}

// expect returns the first message matching match within waitLong; the
// messages before it are discarded.
func (p *rawPeer) expect(what string, match func(rawMsg) bool) rawMsg {
	p.t.Helper()
	m, ok := p.within(waitLong, match)
	if !ok {
		p.t.Fatalf("raw peer %s: no %s arrived", p.addr(), what)
	}
	return m
}

// within returns the first message matching match that arrives within d.
func (p *rawPeer) within(d time.Duration, match func(rawMsg) bool) (rawMsg, bool) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case m := <-p.in:
			if match(m) {
				return m, true
			}
		case <-timer.C:
			return rawMsg{}, false
		}
	}
}

// anything matches every message, even unparseable ones.
func anything(rawMsg) bool { return true }

// isRequest matches requests with the given method.
func isRequest(method sip.RequestMethod) func(rawMsg) bool {
	return func(m rawMsg) bool { r := m.req(); return r != nil && r.Method == method }
}

// isResponse matches responses with the given code to the given method.
func isResponse(code int, method sip.RequestMethod) func(rawMsg) bool {
	return func(m rawMsg) bool {
		r := m.res()
		return r != nil && int(r.StatusCode) == code && r.CSeq() != nil && r.CSeq().MethodName == method
	}
}

// isFinal matches any final response to method.
func isFinal(method sip.RequestMethod) func(rawMsg) bool {
	return func(m rawMsg) bool {
		r := m.res()
		return r != nil && r.StatusCode >= 200 && r.CSeq() != nil && r.CSeq().MethodName == method
	}
}

// headerValues returns the raw values of the named header fields in the
// header section of data, in order; names are matched case-insensitively
// (pass the compact form too where there is one).
func headerValues(data []byte, names ...string) []string {
	head, _, _ := bytes.Cut(data, []byte("\r\n\r\n"))
	lines := strings.Split(string(head), "\r\n")
	var out []string
	for _, line := range lines[1:] {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		for _, n := range names {
			if strings.EqualFold(strings.TrimSpace(name), n) {
				out = append(out, strings.TrimSpace(value))
			}
		}
	}
	return out
}

// headerValue is the first value of the named header field, "" if none.
func headerValue(data []byte, names ...string) string {
	if v := headerValues(data, names...); len(v) > 0 {
		return v[0]
	}
	return ""
}

// startLine is the first line of data.
func startLine(data []byte) string {
	line, _, _ := bytes.Cut(data, []byte("\r\n"))
	return string(line)
}

// sipMsg joins a start line, header lines and a body into one message with
// the right Content-Length.
func sipMsg(start string, headers []string, body string) string {
	var b strings.Builder
	b.WriteString(start + "\r\n")
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(body), body)
	return b.String()
}

// reply builds a response to a request the peer received: Via, From, To,
// Call-ID and CSeq are copied byte for byte from it, and toTag is added to To
// unless it has one. extra are further header lines.
func reply(req rawMsg, code int, reason, toTag string, extra []string, body string) string {
	var hdrs []string
	for _, v := range headerValues(req.data, "Via", "v") {
		hdrs = append(hdrs, "Via: "+v)
	}
	to := headerValue(req.data, "To", "t")
	if toTag != "" && !strings.Contains(to, "tag=") {
		to += ";tag=" + toTag
	}
	hdrs = append(hdrs,
		"From: "+headerValue(req.data, "From", "f"),
		"To: "+to,
		"Call-ID: "+headerValue(req.data, "Call-ID", "i"),
		"CSeq: "+headerValue(req.data, "CSeq"),
	)
	hdrs = append(hdrs, extra...)
	if body != "" {
		hdrs = append(hdrs, "Content-Type: application/sdp")
	}
	return sipMsg(fmt.Sprintf("SIP/2.0 %d %s", code, reason), hdrs, body)
}

// branchOf is the branch parameter of a message's top Via.
func branchOf(m sip.Message) string {
	var via *sip.ViaHeader
	switch m := m.(type) {
	case *sip.Request:
		via = m.Via()
	case *sip.Response:
		via = m.Via()
	}
	if via == nil {
		return ""
	}
	b, _ := via.Params.Get("branch")
	return b
}

// sipHostPort writes an address as a SIP host:port, IPv6 in brackets.
func sipHostPort(ap netip.AddrPort) string {
	return hostPort(ap.Addr().String(), int(ap.Port()))
}

var rawSeq atomic.Uint64

// unique returns a fresh token for Call-IDs, tags and branches.
func unique(prefix string) string {
	return fmt.Sprintf("%s%d%x", prefix, rawSeq.Add(1), time.Now().UnixNano()&0xffffff)
}

// ---------------------------------------------------------------------------
// A raw UAC: the caller side of one dialog, written by hand.

type rawUAC struct {
	*rawPeer
	ep        netip.AddrPort // the endpoint under test
	transport string         // "UDP", "TCP" or "TLS"
	callID    string
	fromTag   string
	toTag     string // learned from the first response with one
	branch    string // the INVITE's branch
	cseq      int
	contact   string // remote target from the 2xx Contact
}

func newRawUAC(p *rawPeer, ep netip.AddrPort, transport string) *rawUAC {
	return &rawUAC{rawPeer: p, ep: ep, transport: transport, callID: unique("call-"), fromTag: unique("ft"), cseq: 1}
}

func (u *rawUAC) via(branch string) string {
	return fmt.Sprintf("Via: SIP/2.0/%s %s;branch=%s;rport", u.transport, u.hostPort(), branch)
}

func (u *rawUAC) from() string {
	return fmt.Sprintf("From: \"Alice\" <sip:+14155550100@%s>;tag=%s", u.hostPort(), u.fromTag)
}

func (u *rawUAC) to(withTag bool) string {
	to := fmt.Sprintf("To: <sip:+14155550199@%s>", sipHostPort(u.ep))
	if withTag && u.toTag != "" {
		to += ";tag=" + u.toTag
	}
	return to
}

func (u *rawUAC) ruri() string { return "sip:+14155550199@" + sipHostPort(u.ep) }

// invite is the initial INVITE; extra header lines are appended.
func (u *rawUAC) invite(extra ...string) string {
	u.branch = "z9hG4bK" + unique("inv")
	hdrs := []string{
		u.via(u.branch),
		"Max-Forwards: 70",
		u.from(),
		u.to(false),
		"Call-ID: " + u.callID,
		fmt.Sprintf("CSeq: %d INVITE", u.cseq),
		fmt.Sprintf("Contact: <sip:alice@%s;transport=%s>", u.hostPort(), strings.ToLower(u.transport)),
		"Content-Type: application/sdp",
	}
	return sipMsg("INVITE "+u.ruri()+" SIP/2.0", append(hdrs, extra...), offerSDP)
}

// cancel is the CANCEL of the last INVITE (same branch, RFC 3261 §9.1).
func (u *rawUAC) cancel() string {
	return sipMsg("CANCEL "+u.ruri()+" SIP/2.0", []string{
		u.via(u.branch), "Max-Forwards: 70", u.from(), u.to(false),
		"Call-ID: " + u.callID, fmt.Sprintf("CSeq: %d CANCEL", u.cseq),
	}, "")
}

// ackNon2xx acknowledges a failure response: same branch, To from it.
func (u *rawUAC) ackNon2xx(res rawMsg) string {
	return sipMsg("ACK "+u.ruri()+" SIP/2.0", []string{
		u.via(u.branch), "Max-Forwards: 70", u.from(), "To: " + headerValue(res.data, "To", "t"),
		"Call-ID: " + u.callID, fmt.Sprintf("CSeq: %d ACK", u.cseq),
	}, "")
}

// learn takes the To tag and remote target from a response.
func (u *rawUAC) learn(res rawMsg) {
	r := res.res()
	if r == nil {
		return
	}
	if tag := tagOf(r.To().Params); tag != "" {
		u.toTag = tag
	}
	if c := r.Contact(); c != nil {
		u.contact = c.Address.String()
	}
}

// ack2xx acknowledges the 2xx: a new transaction to the remote target.
func (u *rawUAC) ack2xx(branch string) string {
	if branch == "" {
		branch = "z9hG4bK" + unique("ack")
	}
	return sipMsg("ACK "+u.contact+" SIP/2.0", []string{
		u.via(branch), "Max-Forwards: 70", u.from(), u.to(true),
		"Call-ID: " + u.callID, fmt.Sprintf("CSeq: %d ACK", u.cseq),
	}, "")
}

// inDialog is a new in-dialog request (next CSeq) with an optional SDP body.
func (u *rawUAC) inDialog(method string, body string, extra ...string) string {
	u.cseq++
	hdrs := []string{
		u.via("z9hG4bK" + unique("dlg")), "Max-Forwards: 70", u.from(), u.to(true),
		"Call-ID: " + u.callID, fmt.Sprintf("CSeq: %d %s", u.cseq, method),
	}
	if method == "INVITE" || method == "UPDATE" {
		hdrs = append(hdrs, fmt.Sprintf("Contact: <sip:alice@%s;transport=%s>", u.hostPort(), strings.ToLower(u.transport)))
	}
	if body != "" {
		hdrs = append(hdrs, "Content-Type: application/sdp")
	}
	target := u.contact
	if target == "" {
		target = u.ruri()
	}
	return sipMsg(method+" "+target+" SIP/2.0", append(hdrs, extra...), body)
}

// establish runs INVITE → 200 → ACK against an endpoint whose handler is q
// and answers with answerSDP; it returns the answered ServerCall.
func (u *rawUAC) establish(t testing.TB, q callQueue) *ServerCall {
	t.Helper()
	u.send(u.ep, u.invite())
	call := q.next(t)
	answered := make(chan error, 1)
	go func() { answered <- call.Answer(context.Background(), []byte(answerSDP)) }()
	ok := u.expect("200 to INVITE", isResponse(200, sip.INVITE))
	u.learn(ok)
	u.send(u.ep, u.ack2xx(""))
	select {
	case err := <-answered:
		if err != nil {
			t.Fatalf("Answer: %v", err)
		}
	case <-time.After(waitLong):
		t.Fatal("Answer did not return after the ACK")
	}
	return call
}

// ---------------------------------------------------------------------------
// A throw-away PKI for the TLS tests.

type testPKI struct {
	ca    *x509.Certificate
	key   *ecdsa.PrivateKey
	pool  *x509.CertPool
	nextN int64
}

func newTestPKI(t testing.TB) *testPKI {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "byocp sip test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &testPKI{ca: ca, key: key, pool: pool, nextN: 2}
}

// issue makes a certificate for server and client use with the given IP SANs.
func (p *testPKI) issue(t testing.TB, cn string, ips ...netip.Addr) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(p.nextN),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	p.nextN++
	for _, ip := range ips {
		tmpl.IPAddresses = append(tmpl.IPAddresses, ip.AsSlice())
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// mutualTLS is a config that presents cert and requires a peer certificate
// from the same CA in both directions. accepted counts handshakes this side
// accepted as a server (GetConfigForClient runs only on the server side).
func (p *testPKI) mutualTLS(cert tls.Certificate, accepted *atomic.Int32) *tls.Config {
	cfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		RootCAs:      p.pool,
		ClientCAs:    p.pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
	}
	if accepted != nil {
		cfg.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
			accepted.Add(1)
			return nil, nil
		}
	}
	return cfg
}

// ---------------------------------------------------------------------------
// Goroutine accounting.

// goroutinesSettle waits until the number of goroutines is at most baseline
// and fails with a dump of all stacks if it never gets there. sipgo keeps
// timers (time.AfterFunc) for ended transactions, but those are not
// goroutines until they fire and find nothing to do.
func goroutinesSettle(t testing.TB, baseline int) {
	t.Helper()
	leakcheck.Goroutines(t, baseline, waitLong)
}

// closeWithin closes ep and fails if Close takes longer than d or errors.
func closeWithin(t testing.TB, ep *Endpoint, d time.Duration) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- ep.Close() }()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, net.ErrClosed) {
			t.Errorf("Close %s: %v", ep.Network(), err)
		}
	case <-time.After(d):
		t.Fatalf("Close of the %s endpoint did not return within %s", ep.Network(), d)
	}
}
