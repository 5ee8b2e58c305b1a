package fakepeer

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/byocp/byocp/internal/mediapeer"
	"github.com/byocp/byocp/sdp"
)

// The fake peer's offer/answer is deliberately simple (RFC 3264 for one
// audio stream, and a T.38 image stream as t38.go says):
//
//   - Its answer picks the first offered codec it supports (with
//     telephone-event when offered), mirrors the offered direction as far
//     as the direction it wants allows (sendonly → recvonly, recvonly →
//     sendonly, inactive → inactive, sendrecv → sendrecv while it is not
//     holding), and on SRTP answers the chosen a=crypto tag with its
//     current key, a new one only when the suite changed (or on request).
//   - Its re-offers are its current SDP with what was asked changed
//     (direction, codec, key, port), with the next o= version; an
//     unchanged SDP keeps its version.
//   - Its media follows what was negotiated: the far end's address, port,
//     key and payload type, from the moment the exchange completes.

// negotiated is what the call's media uses.
type negotiated struct {
	remote netip.AddrPort  // where the far end receives
	keys   *mediapeer.Keys // nil on plain RTP
	codec  sdp.Format      // the codec, numbered as the far end receives it
	dir    sdp.Direction   // from this peer's point of view

	// RTCP (rtcp.go): multiplexed on the RTP ports (both SDPs have
	// a=rtcp-mux), else sent to rtcp (the far end's a=rtcp; zero = the
	// port after remote's).
	rtcpMux bool
	rtcp    netip.AddrPort

	// The T.38 image stream (t38.go); the audio fields above stay as they
	// were while the SDP has no audio stream.
	t38   bool           // an image stream is negotiated
	udptl netip.AddrPort // where the far end receives UDPTL; zero without an address
}

// answerOpts change an answer from the default.
type answerOpts struct {
	want   sdp.Direction  // the direction this peer wants; "" = Call.want
	codec  string         // accept only this codec (plus telephone-event)
	newKey bool           // a new SRTP key even for the same suite
	port   netip.AddrPort // a port opened for a media move; zero = current
}

// effective is the direction the sender of m really asks for: the legacy
// hold of RFC 2543 (c=0.0.0.0) means it receives nothing.
func effective(m sdp.Media) sdp.Direction {
	d := m.Direction
	if d == "" {
		d = sdp.SendRecv
	}
	if m.Addr.IsUnspecified() {
		switch d {
		case sdp.SendRecv:
			return sdp.SendOnly
		case sdp.RecvOnly:
			return sdp.Inactive
		}
	}
	return d
}

// reverse is d seen from the other end.
func reverse(d sdp.Direction) sdp.Direction {
	switch d {
	case sdp.SendOnly:
		return sdp.RecvOnly
	case sdp.RecvOnly:
		return sdp.SendOnly
	}
	return d
}

func sends(d sdp.Direction) bool    { return d == sdp.SendRecv || d == sdp.SendOnly || d == "" }
func receives(d sdp.Direction) bool { return d == sdp.SendRecv || d == sdp.RecvOnly || d == "" }

// intersect is the direction that does only what both a and b allow.
func intersect(a, b sdp.Direction) sdp.Direction {
	send, recv := sends(a) && sends(b), receives(a) && receives(b)
	switch {
	case send && recv:
		return sdp.SendRecv
	case send:
		return sdp.SendOnly
	case recv:
		return sdp.RecvOnly
	}
	return sdp.Inactive
}

// validDirection checks a direction given by a test.
func validDirection(d sdp.Direction) error {
	switch d {
	case "", sdp.SendRecv, sdp.SendOnly, sdp.RecvOnly, sdp.Inactive:
		return nil
	}
	return fmt.Errorf("fakepeer: %q is not sendrecv, sendonly, recvonly or inactive", d)
}

// firstCodec is the first real codec of formats (not telephone-event or CN).
func firstCodec(formats []sdp.Format) (sdp.Format, bool) {
	for _, f := range formats {
		if f.Name != "" && !f.IsTelephoneEvent() && !f.IsComfortNoise() {
			return f, true
		}
	}
	return sdp.Format{}, false
}

// mediaTarget is where the far end of m receives; keep when m names no
// address (legacy hold, port 0).
func mediaTarget(m sdp.Media, keep netip.AddrPort) netip.AddrPort {
	if !m.Addr.IsValid() || m.Addr.IsUnspecified() || m.Port == 0 {
		return keep
	}
	return netip.AddrPortFrom(m.Addr.Unmap(), uint16(m.Port))
}

// buildAnswer writes this peer's answer to the offer off, and what the
// media uses once it is sent. It changes nothing.
func (c *Call) buildAnswer(off sdp.Media, o answerOpts) (sdp.Media, negotiated, error) {
	cfg := c.peer.cfg
	c.mu.Lock()
	want, cur, suite, localKey := c.want, c.neg, sdp.Suite(""), []byte(nil)
	if cur.keys != nil {
		suite, localKey = sdp.Suite(cur.keys.Suite), cur.keys.LocalKey
	}
	port := c.local.audio.Port
	c.mu.Unlock()
	if port == 0 {
		port = int(c.media.Addr().Port())
	}
	if o.port.IsValid() {
		port = int(o.port.Port())
	}
	if o.want != "" {
		want = o.want
	}
	names := make([]string, 0, len(cfg.Formats))
	for _, f := range cfg.Formats {
		if o.codec == "" || f.IsTelephoneEvent() || strings.EqualFold(f.Name, o.codec) {
			names = append(names, f.Name)
		}
	}
	var formats []sdp.Format
	haveCodec := false
	for _, f := range sdp.FilterFormats(off.Formats, names) { // one codec plus telephone-event
		switch {
		case f.IsTelephoneEvent():
			formats = append(formats, f)
		case !haveCodec && !f.IsComfortNoise() && f.Name != "":
			formats, haveCodec = append(formats, f), true
		}
	}
	codec, ok := firstCodec(formats)
	if !ok {
		return sdp.Media{}, negotiated{}, sdp.ErrNoCommonCodec
	}
	ans := sdp.Media{Addr: c.peer.sdpIP(), Port: port, Proto: sdp.ProtoRTPAVP, Formats: formats, Ptime: 20,
		Direction: intersect(want, reverse(effective(off))), RTCP: c.rtcpSDP(), RTCPMux: cfg.RTCPMux && off.RTCPMux}
	n := negotiated{remote: mediaTarget(off, cur.remote), codec: codec, dir: ans.Direction, rtcpMux: ans.RTCPMux, rtcp: off.RTCP}
	if cfg.SRTP {
		if off.Proto != sdp.ProtoRTPSAVP {
			return sdp.Media{}, negotiated{}, fmt.Errorf("offer is %s, want RTP/SAVP", off.Proto)
		}
		cr, ok := sdp.SelectCrypto(off.Crypto, cfg.AnswerSuites)
		if !ok {
			return sdp.Media{}, negotiated{}, errors.New("no acceptable crypto")
		}
		local := sdp.Crypto{Tag: cr.Tag, Suite: cr.Suite, KeySalt: localKey}
		if cr.Suite != suite || localKey == nil || o.newKey {
			var err error
			if local, err = sdp.NewCrypto(cr.Tag, cr.Suite); err != nil {
				return sdp.Media{}, negotiated{}, err
			}
		}
		ans.Proto = sdp.ProtoRTPSAVP
		ans.Crypto = []sdp.Crypto{local}
		n.keys = &mediapeer.Keys{Suite: string(cr.Suite), LocalKey: local.KeySalt, RemoteKey: cr.KeySalt}
	} else if off.Proto != sdp.ProtoRTPAVP {
		return sdp.Media{}, negotiated{}, fmt.Errorf("offer is %s, want RTP/AVP", off.Proto)
	}
	return ans, n, nil
}

// takeAnswer checks the far end's answer to this peer's offer and returns
// what the media uses with it.
func (c *Call) takeAnswer(offer sdp.Media, body []byte) (sdp.Media, negotiated, error) {
	ans, err := sdp.Parse(body)
	if err != nil {
		return sdp.Media{}, negotiated{}, err
	}
	return c.takeAudioAnswer(offer, ans)
}

// takeAudioAnswer checks the far end's answer ans to this peer's audio
// stream offer and returns what the media uses with it.
func (c *Call) takeAudioAnswer(offer, ans sdp.Media) (sdp.Media, negotiated, error) {
	if ans.Port == 0 {
		return sdp.Media{}, negotiated{}, errors.New("answer rejects the audio stream")
	}
	if ans.Proto != offer.Proto {
		return sdp.Media{}, negotiated{}, fmt.Errorf("answer is %s, offer was %s", ans.Proto, offer.Proto)
	}
	codec, ok := firstCodec(ans.Formats)
	if !ok {
		return sdp.Media{}, negotiated{}, errors.New("answer has no codec")
	}
	c.mu.Lock()
	keep := c.neg.remote
	c.mu.Unlock()
	n := negotiated{remote: mediaTarget(ans, keep), codec: codec, dir: intersect(offer.Direction, reverse(effective(ans))),
		rtcpMux: offer.RTCPMux && ans.RTCPMux, rtcp: ans.RTCP}
	if c.peer.cfg.SRTP {
		if len(ans.Crypto) != 1 {
			return sdp.Media{}, negotiated{}, fmt.Errorf("answer has %d crypto lines, want 1", len(ans.Crypto))
		}
		var local []byte
		for _, cr := range offer.Crypto {
			if cr.Tag == ans.Crypto[0].Tag && cr.Suite == ans.Crypto[0].Suite {
				local = cr.KeySalt
			}
		}
		if local == nil {
			return sdp.Media{}, negotiated{}, fmt.Errorf("answer crypto tag %d %s was not offered", ans.Crypto[0].Tag, ans.Crypto[0].Suite)
		}
		n.keys = &mediapeer.Keys{Suite: string(ans.Crypto[0].Suite), LocalKey: local, RemoteKey: ans.Crypto[0].KeySalt}
	}
	return ans, n, nil
}

// reoffer is this peer's current SDP as a new offer, changed as asked.
func (c *Call) reoffer(dir sdp.Direction, codec string, newKey bool, port netip.AddrPort) (sdp.Media, error) {
	c.mu.Lock()
	m := c.local.audio
	m.Formats, m.Crypto = slices.Clone(m.Formats), slices.Clone(m.Crypto)
	if dir == "" {
		dir = c.want
	}
	c.mu.Unlock()
	if len(m.Formats) == 0 { // no audio yet: a call whose INVITE offered fax only
		var err error
		if m, err = c.firstAudio(); err != nil {
			return sdp.Media{}, err
		}
	}
	m.Direction = dir
	m.RTCP, m.RTCPMux = c.rtcpSDP(), c.peer.cfg.RTCPMux
	if port.IsValid() {
		m.Port = int(port.Port())
	}
	if codec != "" {
		pick := func(from []sdp.Format) []sdp.Format {
			var out []sdp.Format
			for _, f := range from {
				if strings.EqualFold(f.Name, codec) || f.IsTelephoneEvent() {
					out = append(out, f)
				}
			}
			if _, ok := firstCodec(out); !ok {
				return nil
			}
			return out
		}
		formats := pick(m.Formats)
		if formats == nil {
			formats = pick(c.peer.cfg.Formats)
		}
		if formats == nil {
			return sdp.Media{}, fmt.Errorf("fakepeer: codec %q is not one of the peer's formats", codec)
		}
		m.Formats = formats
	}
	if newKey {
		if !c.peer.cfg.SRTP {
			return sdp.Media{}, errors.New("fakepeer: NewKey on a plain RTP call")
		}
		for i, cr := range m.Crypto {
			nc, err := sdp.NewCrypto(cr.Tag, cr.Suite)
			if err != nil {
				return sdp.Media{}, err
			}
			m.Crypto[i] = nc
		}
	}
	return m, nil
}

// propose writes s as this peer's SDP: with the current o= version when it
// is the SDP last sent, with the next unused one otherwise. Nothing is
// committed; a version once used is never used for another SDP.
func (c *Call) propose(s session) ([]byte, uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	o := c.origin
	o.Version = c.version
	body, err := c.write(&o, s)
	if err != nil {
		return nil, 0, err
	}
	if c.localSDP == nil || bytes.Equal(body, c.localSDP) {
		return body, o.Version, nil
	}
	o.Version = c.maxVersion + 1
	if body, err = c.write(&o, s); err != nil {
		return nil, 0, err
	}
	c.maxVersion = o.Version
	return body, o.Version, nil
}

// commit makes an exchange the call's state and points the media at it:
// the RTP at the audio stream when the SDP has one, SendUDPTL at the image
// stream.
func (c *Call) commit(local session, body []byte, version uint64, remoteBody []byte, n negotiated) error {
	if local.has(lineAudio) {
		if err := c.media.Configure(n.remote, n.keys, n.codec.PayloadType, c.peer.cfg.Stream); err != nil {
			return err
		}
		c.media.ConfigureRTCP(n.rtcpMux, n.rtcp)
	}
	c.mu.Lock()
	c.local, c.localSDP, c.version = local, body, version
	c.remoteSDP = remoteBody
	c.neg = n
	c.mu.Unlock()
	return nil
}

// answerInvite answers the offer of a received call's INVITE and keys the
// media.
func (c *Call) answerInvite(body []byte) ([]byte, error) {
	ans, n, err := c.answerSession(body, answerOpts{})
	if err != nil {
		return nil, err
	}
	out, version, err := c.propose(ans)
	if err != nil {
		return nil, err
	}
	if err := c.commit(ans, out, version, body, n); err != nil {
		return nil, err
	}
	return out, nil
}

// earlyAnswer keys the media from the answer in a 183 to a placed call's
// offer; the 200 commits.
func (c *Call) earlyAnswer(offer sdp.Media, body []byte) error {
	_, n, err := c.takeAnswer(offer, body)
	if err != nil {
		return err
	}
	if err := c.media.Configure(n.remote, n.keys, n.codec.PayloadType, c.peer.cfg.Stream); err != nil {
		return err
	}
	c.media.ConfigureRTCP(n.rtcpMux, n.rtcp)
	c.mu.Lock()
	c.remoteSDP, c.neg = body, n
	c.mu.Unlock()
	return nil
}

// finalAnswer commits the answer to a placed call's offer.
func (c *Call) finalAnswer(offer sdp.Media, offerBody []byte, version uint64, body []byte) error {
	if len(body) == 0 {
		return errors.New("no SDP answer")
	}
	_, n, err := c.takeAnswer(offer, body)
	if err != nil {
		return err
	}
	return c.commit(session{audio: offer}, offerBody, version, body, n)
}

// Direction is the call's media direction from this peer's point of view:
// "sendrecv", "sendonly" (it holds the far end), "recvonly" (the far end
// holds it) or "inactive"; "" before anything was negotiated.
func (c *Call) Direction() sdp.Direction {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.neg.dir
}

// Codec is the encoding name of the codec in use, e.g. "PCMU"; "" before
// anything was negotiated.
func (c *Call) Codec() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.neg.codec.Name
}
