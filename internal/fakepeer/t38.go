package fakepeer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/byocp/byocp/sdp"
	"github.com/byocp/byocp/sip"
)

// T.38 fax (m=image <port> udptl t38, ITU-T T.38 Annex D). A call starts
// with one audio m-line; from then on the peer's SDP is a list of m-lines
// (session.lines), each carrying the audio stream, the T.38 image stream,
// or nothing (port 0):
//
//   - Its answers answer every offered m-line in its position (RFC 3264
//     section 6): the first active audio stream as before, the first
//     active T.38 image stream with its own UDPTL port and the offer's
//     T.38 attributes echoed when Behavior.AcceptT38 is set, and every
//     other m-line rejected with port 0, keeping its media type, proto and
//     formats. An offer with neither stream it can take gets 488.
//   - Its T.38 re-offer (ReinviteOptions.T38) puts the image stream in the
//     audio stream's m-line, changing the media type in place as real
//     gateways do (RFC 3264 section 8.3.3), or after it with KeepAudio;
//     its next ordinary re-offer puts the audio stream back in the image
//     stream's m-line. No m-line is ever removed or reordered.
//   - Its UDPTL socket is opened on the media IP for the call's first
//     image stream and closed when the call ends; datagrams go to the
//     image stream of the far end's latest SDP and whatever arrives is
//     kept for the test.

// lineKind is what one m-line of the peer's SDP carries.
type lineKind int

const (
	lineAudio lineKind = iota // the audio stream (session.audio)
	lineImage                 // the T.38 image stream (session.image)
	lineOff                   // nothing: rejected or disabled (port 0)
)

// mline is one m-line of the peer's SDP.
type mline struct {
	kind lineKind
	// typ, proto and fmts are those of a lineOff m-line, as written.
	typ, proto string
	fmts       []string
}

// session is an SDP of this peer: its m-lines and the streams they carry.
type session struct {
	// audio is the audio stream; it is kept while no m-line carries it
	// (a fax), so that it comes back as it was.
	audio sdp.Media
	// lines are the m-lines in order; nil is one m-line with the audio
	// stream, as every call starts.
	lines []mline
	// image is the image stream of the lineImage m-line, nil without one.
	image *sdp.Image
}

// mlines returns s's m-lines, the implicit audio m-line included.
func (s session) mlines() []mline {
	if s.lines == nil {
		return []mline{{kind: lineAudio}}
	}
	return s.lines
}

// has reports whether an m-line of s carries the stream of kind k.
func (s session) has(k lineKind) bool {
	return slices.ContainsFunc(s.mlines(), func(l mline) bool { return l.kind == k })
}

// normalize returns s with nil lines when its only m-line is the audio
// stream, so that such an SDP is written exactly as before T.38.
func (s session) normalize() session {
	if len(s.lines) == 1 && s.lines[0].kind == lineAudio {
		s.lines = nil
	}
	if !s.has(lineImage) {
		s.image = nil
	}
	return s
}

// off is m-line l of s disabled: port 0, its media type, proto and
// formats kept.
func (s session) off(l mline) mline {
	switch l.kind {
	case lineAudio:
		fmts := make([]string, 0, len(s.audio.Formats))
		for _, f := range s.audio.Formats {
			fmts = append(fmts, strconv.Itoa(int(f.PayloadType)))
		}
		return mline{kind: lineOff, typ: "audio", proto: s.audio.Proto, fmts: fmts}
	case lineImage:
		return mline{kind: lineOff, typ: "image", proto: s.image.Proto, fmts: slices.Clone(s.image.Formats)}
	}
	return l
}

// place returns the m-lines of a re-offer of s that carries only the
// stream of kind k: in its own m-line, else in the other stream's (the
// media type changes in place: voice to fax and back), else in the first
// disabled m-line of its media type, else in a new m-line at the end.
// With keep, the stream already offered in s (the audio, for a T.38
// offer that keeps it) stays where it is and k takes a place of its own.
func (s session) place(k lineKind, keep bool) []mline {
	cur := s.mlines()
	lines := make([]mline, len(cur), len(cur)+1)
	at := slices.IndexFunc(cur, func(l mline) bool { return l.kind == k })
	if at < 0 && !keep {
		at = slices.IndexFunc(cur, func(l mline) bool { return l.kind != lineOff })
	}
	if at < 0 {
		at = slices.IndexFunc(cur, func(l mline) bool { return l.kind == lineOff && matches(k, l) })
	}
	for i, l := range cur {
		switch {
		case i == at:
			lines[i] = mline{kind: k}
		case keep && l.kind != lineOff:
			lines[i] = l
		default:
			lines[i] = s.off(l)
		}
	}
	if at < 0 {
		lines = append(lines, mline{kind: k})
	}
	return lines
}

// matches reports whether a disabled m-line can carry a stream of kind k.
func matches(k lineKind, l mline) bool {
	if k == lineImage {
		return isT38(l.typ, l.proto, l.fmts)
	}
	return l.typ == "audio"
}

// isT38 reports whether an m-line is a T.38 image stream over UDPTL: media
// type image, proto udptl, format t38 (in any case, as byocp reads them).
func isT38(typ, proto string, fmts []string) bool {
	return strings.EqualFold(typ, "image") && strings.EqualFold(proto, sdp.ProtoUDPTL) &&
		slices.ContainsFunc(fmts, func(f string) bool { return strings.EqualFold(f, "t38") })
}

// T38Attributes are the T.38 attributes of the peer's own T.38 offers, as
// a typical gateway writes them: version 0, 14.4 kbit/s, TCF transferred,
// 262-byte buffer, 176-byte datagrams, redundancy for error correction.
var T38Attributes = []sdp.Attribute{
	{Key: "T38FaxVersion", Value: "0"},
	{Key: "T38MaxBitRate", Value: "14400"},
	{Key: "T38FaxRateManagement", Value: "transferredTCF"},
	{Key: "T38FaxMaxBuffer", Value: "262"},
	{Key: "T38FaxMaxDatagram", Value: "176"},
	{Key: "T38FaxUdpEC", Value: "t38UDPRedundancy"},
}

// write writes s with o: for a single audio m-line exactly sdp.Marshal's
// SDP, otherwise its session-level lines (c= the audio stream's address,
// else the media IP) and each m-line in order.
func (c *Call) write(o *sdp.Origin, s session) ([]byte, error) {
	if s.lines == nil {
		return sdp.Marshal(o, s.audio)
	}
	base := s.audio
	if !s.has(lineAudio) || !base.Addr.IsValid() {
		base = sdp.Media{Addr: c.peer.sdpIP(), Proto: cmp.Or(s.audio.Proto, sdp.ProtoRTPAVP)}
	}
	body, err := sdp.Marshal(o, base)
	if err != nil {
		return nil, err
	}
	d, err := sdp.Read(body)
	if err != nil {
		return nil, err
	}
	audio := d.Media[0]
	d.Media = make([]sdp.MediaSection, 0, len(s.lines))
	for _, l := range s.lines {
		switch l.kind {
		case lineAudio:
			d.Media = append(d.Media, audio)
		case lineImage:
			sec := sdp.MediaSection{Type: "image", Port: s.image.Port, Proto: s.image.Proto, Formats: s.image.Formats}
			for _, a := range s.image.Attributes {
				v := a.Key
				if a.Value != "" {
					v += ":" + a.Value
				}
				sec.Lines = append(sec.Lines, sdp.Line{Type: 'a', Value: v})
			}
			d.Media = append(d.Media, sec)
		default:
			d.Media = append(d.Media, sdp.MediaSection{Type: l.typ, Proto: l.proto, Formats: l.fmts})
		}
	}
	return d.Marshal()
}

// activeStreams returns the positions of the first active audio m-line
// and the first active T.38 image m-line of d, -1 for none.
func activeStreams(d *sdp.Description) (audio, image int) {
	audio, image = -1, -1
	for i, m := range d.Media {
		if m.Port == 0 {
			continue
		}
		if audio < 0 && m.Type == "audio" {
			audio = i
		}
		if image < 0 && isT38(m.Type, m.Proto, m.Formats) {
			image = i
		}
	}
	return audio, image
}

// audioAt reads the audio stream of m-line i of d, with d's session-level
// lines, as sdp.Parse reads a body's first audio stream.
func audioAt(d *sdp.Description, i int) (sdp.Media, error) {
	one := sdp.Description{Lines: d.Lines, Media: []sdp.MediaSection{d.Media[i]}}
	body, err := one.Marshal()
	if err != nil {
		return sdp.Media{}, err
	}
	return sdp.Parse(body)
}

// imageAt reads the T.38 image stream of m-line i of d: where the far end
// receives UDPTL, and its T.38 attributes.
func imageAt(d *sdp.Description, i int) (sdp.Image, error) {
	sec := &d.Media[i]
	img := sdp.Image{Port: sec.Port, Proto: sec.Proto, Formats: slices.Clone(sec.Formats)}
	conn, ok := d.MediaConnection(i)
	if !ok {
		return sdp.Image{}, fmt.Errorf("%w: no c= address for the image stream", sdp.ErrMalformed)
	}
	var err error
	if img.Addr, err = conn.Addr(); err != nil {
		return sdp.Image{}, err
	}
	for _, a := range sec.Attributes() {
		if len(a.Key) >= 3 && strings.EqualFold(a.Key[:3], "T38") {
			img.Attributes = append(img.Attributes, a)
		}
	}
	return img, nil
}

// udptlTarget is where the far end of img receives UDPTL; zero when it
// names no address (port 0, c=0.0.0.0).
func udptlTarget(img sdp.Image) netip.AddrPort {
	if !img.Addr.IsValid() || img.Addr.IsUnspecified() || img.Port == 0 {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(img.Addr.Unmap(), uint16(img.Port))
}

// errNoStream refuses an offer with neither an audio stream nor a T.38
// image stream the peer accepts.
var errNoStream = errors.New("fakepeer: no active audio stream, and no T.38 image stream the peer accepts")

// answerSession writes this peer's answer to the offer body, every m-line
// answered in its position, and what the call uses once it is sent. It
// changes nothing but may open the call's UDPTL socket.
func (c *Call) answerSession(body []byte, o answerOpts) (session, negotiated, error) {
	d, err := sdp.Read(body)
	if err != nil {
		return session{}, negotiated{}, err
	}
	c.mu.Lock()
	cur, n, accept := c.local, c.neg, c.acceptT38
	c.mu.Unlock()
	audio, image := activeStreams(d)
	if !accept {
		image = -1
	}
	if audio < 0 && image < 0 {
		return session{}, negotiated{}, errNoStream
	}
	ans := session{audio: cur.audio, lines: make([]mline, len(d.Media))}
	for i, m := range d.Media {
		ans.lines[i] = mline{kind: lineOff, typ: m.Type, proto: m.Proto, fmts: slices.Clone(m.Formats)}
	}
	n.t38, n.udptl = false, netip.AddrPort{}
	if audio >= 0 {
		off, err := audioAt(d, audio)
		if err != nil {
			return session{}, negotiated{}, err
		}
		a, an, err := c.buildAnswer(off, o)
		if err != nil {
			return session{}, negotiated{}, err
		}
		ans.audio, ans.lines[audio] = a, mline{kind: lineAudio}
		n = an
	}
	if image >= 0 {
		off, err := imageAt(d, image)
		if err != nil {
			return session{}, negotiated{}, err
		}
		u, err := c.openUDPTL()
		if err != nil {
			return session{}, negotiated{}, err
		}
		ans.image = &sdp.Image{Addr: c.peer.sdpIP(), Port: int(u.addr.Port()), Proto: off.Proto,
			Formats: slices.Clone(off.Formats), Attributes: off.Attributes}
		ans.lines[image] = mline{kind: lineImage}
		n.t38, n.udptl = true, udptlTarget(off)
	}
	return ans.normalize(), n, nil
}

// offerSession is this peer's re-offer: the audio stream m (as reoffer
// wrote it) in its m-line, or with t38 the T.38 image stream instead of it
// (keepAudio: next to it).
func (c *Call) offerSession(m sdp.Media, t38, keepAudio bool) (session, error) {
	c.mu.Lock()
	cur := c.local
	c.mu.Unlock()
	s := session{audio: m, image: cur.image}
	if !t38 {
		s.lines = cur.place(lineAudio, false)
		return s.normalize(), nil
	}
	if keepAudio && !cur.has(lineAudio) {
		return session{}, errors.New("fakepeer: KeepAudio, but the peer's SDP has no audio stream")
	}
	c.mu.Lock()
	c.acceptT38 = true // a gateway that offers T.38 takes it too
	c.mu.Unlock()
	if s.image == nil {
		u, err := c.openUDPTL()
		if err != nil {
			return session{}, err
		}
		s.image = &sdp.Image{Addr: c.peer.sdpIP(), Port: int(u.addr.Port()), Proto: sdp.ProtoUDPTL,
			Formats: []string{"t38"}, Attributes: slices.Clone(T38Attributes)}
	}
	s.lines = cur.place(lineImage, keepAudio)
	return s.normalize(), nil
}

// takeSessionAnswer checks the far end's answer to this peer's offer and
// returns the peer's SDP as the exchange leaves it and what the call uses
// with it. The audio stream offered must be accepted in its m-line; the
// image stream too, unless the audio stream was offered next to it (the
// image m-line is then disabled and the call stays audio).
func (c *Call) takeSessionAnswer(offer session, body []byte) (session, negotiated, error) {
	if offer.lines == nil {
		_, n, err := c.takeAnswer(offer.audio, body)
		return offer, n, err
	}
	d, err := sdp.Read(body)
	if err != nil {
		return session{}, negotiated{}, err
	}
	out := offer
	out.lines = slices.Clone(offer.lines)
	c.mu.Lock()
	n := c.neg
	c.mu.Unlock()
	n.t38, n.udptl = false, netip.AddrPort{}
	var audio negotiated
	hasAudio := false
	for i, l := range offer.lines {
		var m *sdp.MediaSection
		if i < len(d.Media) {
			m = &d.Media[i]
		}
		switch l.kind {
		case lineAudio:
			if m == nil || m.Type != "audio" || m.Port == 0 {
				return session{}, negotiated{}, errors.New("answer rejects the audio stream")
			}
			ans, err := audioAt(d, i)
			if err != nil {
				return session{}, negotiated{}, err
			}
			if _, audio, err = c.takeAudioAnswer(offer.audio, ans); err != nil {
				return session{}, negotiated{}, err
			}
			hasAudio = true
		case lineImage:
			if m == nil || m.Port == 0 {
				if !offer.has(lineAudio) {
					return session{}, negotiated{}, errors.New("answer rejects the T.38 image stream")
				}
				out.lines[i] = offer.off(l)
				continue
			}
			if !isT38(m.Type, m.Proto, m.Formats) {
				return session{}, negotiated{}, fmt.Errorf("answer has m=%s %s %v where the peer offered T.38", m.Type, m.Proto, m.Formats)
			}
			img, err := imageAt(d, i)
			if err != nil {
				return session{}, negotiated{}, err
			}
			n.t38, n.udptl = true, udptlTarget(img)
		}
	}
	if hasAudio {
		audio.t38, audio.udptl = n.t38, n.udptl
		n = audio
	}
	return out.normalize(), n, nil
}

// udptlPort is a call's UDPTL socket and what arrived on it.
type udptlPort struct {
	conn *net.UDPConn
	addr netip.AddrPort
	done chan struct{} // closed when the reader returns

	mu     sync.Mutex
	got    [][]byte
	sent   uint64
	notify chan struct{} // closed and replaced when a datagram arrives
}

// openUDPTL returns the call's UDPTL socket, opening it on the media IP
// the first time; sip.ErrClosed once the call is over.
func (c *Call) openUDPTL() (*udptlPort, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.udptlClosed {
		return nil, sip.ErrClosed
	}
	if c.udptl != nil {
		return c.udptl, nil
	}
	ip := c.peer.mediaIP.Unmap()
	network := "udp6"
	if ip.Is4() {
		network = "udp4"
	}
	conn, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 0)))
	if err != nil {
		return nil, fmt.Errorf("fakepeer: UDPTL port: %w", err)
	}
	u := &udptlPort{conn: conn, addr: conn.LocalAddr().(*net.UDPAddr).AddrPort(), done: make(chan struct{}), notify: make(chan struct{})}
	go u.receive()
	c.udptl = u
	return u, nil
}

// receive keeps every datagram that arrives until the socket closes.
func (u *udptlPort) receive() {
	defer close(u.done)
	buf := make([]byte, 64<<10)
	for {
		n, _, err := u.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		u.mu.Lock()
		u.got = append(u.got, slices.Clone(buf[:n]))
		close(u.notify)
		u.notify = make(chan struct{})
		u.mu.Unlock()
	}
}

// closeUDPTL closes the call's UDPTL socket, if any, and waits for its
// reader; no socket opens after it.
func (c *Call) closeUDPTL() {
	c.mu.Lock()
	u := c.udptl
	c.udptlClosed = true
	c.mu.Unlock()
	if u != nil {
		_ = u.conn.Close()
		<-u.done
	}
}

// SendUDPTL sends data, one UDPTL datagram as it is, from the call's UDPTL
// port to the image stream of the far end's latest SDP. It fails when the
// call is over or no T.38 image stream is negotiated.
func (c *Call) SendUDPTL(data []byte) error {
	c.mu.Lock()
	u, closed, n := c.udptl, c.udptlClosed, c.neg
	c.mu.Unlock()
	switch {
	case closed:
		return sip.ErrClosed
	case !n.t38 || u == nil:
		return errors.New("fakepeer: no T.38 image stream negotiated")
	case !n.udptl.IsValid():
		return errors.New("fakepeer: the far end's image stream has no address")
	}
	if _, err := u.conn.WriteToUDPAddrPort(data, n.udptl); err != nil {
		return err
	}
	u.mu.Lock()
	u.sent++
	u.mu.Unlock()
	return nil
}

// UDPTL returns copies of the datagrams that arrived on the call's UDPTL
// port, oldest first.
func (c *Call) UDPTL() [][]byte {
	u := c.udptlPort()
	if u == nil {
		return nil
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	return cloneAll(u.got)
}

// WaitUDPTL waits until at least n datagrams arrived on the call's UDPTL
// port and returns them all (see UDPTL). It returns what arrived and an
// error when ctx ends or the call ends first.
func (c *Call) WaitUDPTL(ctx context.Context, n int) ([][]byte, error) {
	for {
		var notify chan struct{}
		if u := c.udptlPort(); u != nil {
			u.mu.Lock()
			if len(u.got) >= n {
				out := cloneAll(u.got)
				u.mu.Unlock()
				return out, nil
			}
			notify = u.notify
			u.mu.Unlock()
		}
		var poll <-chan time.Time
		if notify == nil { // the port opens with the call's first image stream
			poll = time.After(20 * time.Millisecond)
		}
		select {
		case <-notify:
		case <-poll:
		case <-c.ended:
			return c.UDPTL(), fmt.Errorf("fakepeer: the call ended after %d of %d UDPTL datagrams", len(c.UDPTL()), n)
		case <-ctx.Done():
			return c.UDPTL(), ctx.Err()
		}
	}
}

func cloneAll(in [][]byte) [][]byte {
	out := make([][]byte, len(in))
	for i, b := range in {
		out[i] = slices.Clone(b)
	}
	return out
}

func (c *Call) udptlPort() *udptlPort {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.udptl
}

// UDPTLStats counts a call's UDPTL datagrams.
type UDPTLStats struct {
	Sent     uint64 // sent by SendUDPTL
	Received uint64 // arrived on the call's UDPTL port
}

// UDPTLStats returns the call's UDPTL counters.
func (c *Call) UDPTLStats() UDPTLStats {
	u := c.udptlPort()
	if u == nil {
		return UDPTLStats{}
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	return UDPTLStats{Sent: u.sent, Received: uint64(len(u.got))}
}

// UDPTLAddr is the call's UDPTL port; the zero AddrPort until the call's
// first T.38 image stream opened it.
func (c *Call) UDPTLAddr() netip.AddrPort {
	if u := c.udptlPort(); u != nil {
		return u.addr
	}
	return netip.AddrPort{}
}

// T38 reports whether the call's last offer/answer exchange negotiated a
// T.38 image stream.
func (c *Call) T38() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.neg.t38
}
