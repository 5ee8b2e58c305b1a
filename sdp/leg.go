package sdp

import (
	"bytes"
	"fmt"
	"net/netip"
	"slices"
)

// LegConfig is what a Leg knows about its side of the call. It does not
// change during the call.
type LegConfig struct {
	// SRTP makes the leg RTP/SAVP keyed with SDES a=crypto lines (the Zoom
	// leg); false makes it plain RTP/AVP (the carrier leg).
	SRTP bool
	// Codecs are the encoding names allowed on this leg, as for
	// FilterFormats; nil allows every format that has a name.
	Codecs []string
	// Suites are the SDES suites accepted on an SRTP leg, in order of
	// preference (see SelectCrypto). byocp's first offer on the leg carries
	// the first of them; later offers keep the suite negotiated. When
	// Suites is empty, byocp offers AES_CM_128_HMAC_SHA1_80 and accepts any
	// usable offered line.
	Suites []Suite
	// Addr is byocp's media address on this leg, written in c= and, unless
	// Origin says otherwise, in o=.
	Addr netip.Addr
	// Port is byocp's RTP port on this leg. It never changes during the
	// call.
	Port int
	// Origin, when not nil, is the leg's o= line as of its first SDP (user
	// name, session id, first version, address); nil means NewOrigin(Addr).
	// The Leg keeps a copy.
	Origin *Origin
	// ImagePort is byocp's UDPTL port for a T.38 image stream on this leg
	// (m=image <ImagePort> udptl t38), relayed as its own stream. 0, the
	// default, relays no T.38: every m=image line is rejected with port 0
	// and an offer without an active audio stream is refused. Set, the leg
	// negotiates the first active T.38 image stream of an offer next to
	// the audio or without it (see the package documentation). It must
	// differ from Port and never changes during the call.
	ImagePort int
	// RTCPMux makes byocp's offers on the leg carry a=rtcp-mux (RFC
	// 5761): RTCP on the RTP port, both ways, once the peer's answer has
	// it too. Until then, and when the answer lacks it, RTCP uses the
	// port after Port, on which byocp receives all along (section 5.1.1).
	// Whatever it is, byocp's answer to an offer with a=rtcp-mux has it,
	// and byocp's offers keep it while it is in effect on the leg (see
	// State.RTCPMux). false, the default, leaves offers as they were.
	RTCPMux bool
}

// Leg is the RFC 3264 offer/answer state of one leg of a call: byocp's
// o= line, its last SDP and the peer's last SDP with every m-line in its
// position, the codecs and payload types agreed, the direction and, on an
// SRTP leg, both keys. A call has two Legs; an offer received on one
// becomes an offer byocp writes on the other, and the answer that comes
// back becomes byocp's answer on the first. Only the first active audio
// stream and, on a leg with an ImagePort, the first active T.38 image
// stream are negotiated; byocp rejects every other m-line (video, a
// second audio stream, T.38 without an ImagePort, anything Read can read)
// with port 0 in its position.
//
// Each exchange is proposed, then committed or rolled back: ReceiveOffer
// and OfferFrom or OfferCurrent propose; Answer, AnswerLocal and
// TakeAnswer commit; Rollback drops the proposal (a re-offer refused on
// the other leg, a failed transaction) and leaves the leg exactly as it
// was, except that o= versions are never reused for a different SDP. A
// method that fails leaves the leg as it was before the exchange began,
// with nothing pending.
//
// byocp's o= version goes up only when its SDP on the leg changes; its
// media address and port never change; its SRTP key changes only when the
// negotiated suite does. A Leg is not safe for concurrent use.
type Leg struct {
	cfg     LegConfig
	origin  Origin // Version is the version of byocp's next changed SDP
	cur     legState
	next    legState // the proposal while pending != idle
	pending pendingKind
}

// pendingKind is which offer is outstanding on a leg.
type pendingKind int

const (
	idle       pendingKind = iota
	theirOffer             // the peer offered; byocp has not answered
	ourOffer               // byocp offered; the peer has not answered
)

// legState is a leg's offer/answer state: committed (Leg.cur) or proposed
// (Leg.next). Its slices are replaced, never modified in place, so a
// shallow copy plus a copy of the payload-type book is a snapshot.
type legState struct {
	started   bool     // an offer/answer exchange has completed
	local     []mline  // byocp's last SDP on the leg
	body      []byte   // that SDP as sent
	version   uint64   // its o= version
	remote    session  // the peer's last SDP
	peer      Media    // the peer's negotiated audio stream in it, as written
	index     int      // position of the negotiated audio stream; -1 = none
	imgIndex  int      // position of the negotiated image stream; -1 = none
	lastAudio int      // position of the last audio stream negotiated; -1 = none yet
	crypto    Crypto   // byocp's a=crypto line (SRTP legs)
	agreed    []Format // agreed formats as byocp wrote them; nil without audio
	pts       ptBook
	state     State
	offer     Media // while pending: the peer's offer as checked, or byocp's

	// An early answer written by AnswerEarly while the offer is pending:
	// the final answer reuses its o= version when it is the same SDP.
	earlyBody    []byte
	earlyVersion uint64
}

func (s legState) clone() legState {
	s.pts = s.pts.clone()
	return s
}

// Offer is an offer a Leg received from its peer, checked against the
// leg's rules.
type Offer struct {
	// Media is the offered stream as the other leg needs it: the formats
	// allowed on this leg with the peer's payload types, on an SRTP leg the
	// a=crypto line chosen, and the effective direction (with c=0.0.0.0 a
	// sendrecv stream counts as sendonly and a recvonly one as inactive).
	// Addr, Port, RTCP and RTCPMux are the peer's (OfferFrom on the other
	// leg does not carry RTCP over). On a leg with an ImagePort, Image is
	// the offered T.38 image stream, if any; the audio fields are empty
	// when the offer has an image stream and no active audio stream.
	Media Media
	// Refresh reports that the peer's SDP says what its previous one said,
	// whatever its o= version: a session refresh.
	Refresh bool
	// Relay reports that the other leg must see the offer: it is the leg's
	// first, its direction changed, it lacks a codec agreed on the leg, the
	// audio stream came or went, or (on a leg with an ImagePort) the image
	// stream came, went or changed its T.38 or direction attributes
	// compared with the peer's last SDP. When false (a refresh, a media
	// move of either stream, a new key, codecs added) answer on this leg
	// with AnswerLocal.
	Relay bool
}

// NewLeg returns the state of a leg on which nothing is negotiated yet.
// Errors wrap ErrBadCrypto for an unknown suite, or report an invalid
// address, port or origin.
func NewLeg(cfg LegConfig) (*Leg, error) {
	if !cfg.Addr.IsValid() {
		return nil, fmt.Errorf("%w: leg media address", errBadAddr)
	}
	if cfg.Port <= 0 || cfg.Port > 65535 {
		return nil, fmt.Errorf("%w: %d", errBadPort, cfg.Port)
	}
	if cfg.ImagePort < 0 || cfg.ImagePort > 65535 || cfg.ImagePort == cfg.Port {
		return nil, fmt.Errorf("%w: image port %d (RTP port %d)", errBadPort, cfg.ImagePort, cfg.Port)
	}
	for _, s := range cfg.Suites {
		if !s.Known() {
			return nil, fmt.Errorf("%w: %w %s", ErrBadCrypto, ErrUnknownSuite, suiteName(string(s)))
		}
	}
	o := cfg.Origin
	if o == nil {
		o = NewOrigin(cfg.Addr)
	}
	if err := checkOrigin(o); err != nil {
		return nil, err
	}
	cfg.Codecs, cfg.Suites, cfg.Origin = slices.Clone(cfg.Codecs), slices.Clone(cfg.Suites), nil
	return &Leg{cfg: cfg, origin: *o, cur: legState{index: -1, imgIndex: -1, lastAudio: -1}}, nil
}

// ReceiveOffer checks an offer from the leg's peer (in an INVITE,
// re-INVITE or UPDATE) and keeps it as pending. Then either the
// other leg offers Offer.Media with OfferFrom and this leg answers with
// Answer, or, when Offer.Relay is false, this leg answers with
// AnswerLocal; Rollback drops the offer.
//
// On a leg with an ImagePort, an offer with an active T.38 image stream
// needs no active audio stream: a T.38 re-INVITE whose m=image replaced
// the audio m-line, or disabled it with port 0, is accepted, with the
// audio fields of Offer.Media empty.
//
// Errors wrap ErrGlare or ErrPending when an exchange is in progress,
// ErrMalformed for SDP Read refuses or an audio or image stream it cannot
// use, ErrNoAudio for an offer without an audio m-line (such as a T.38
// re-INVITE whose m=image replaced it, on a leg without an ImagePort),
// ErrUnacceptable for the wrong transport, no active audio stream (audio
// disabled next to m=image, without an ImagePort) or no usable a=crypto
// line, and ErrNoCommonCodec when no real codec allowed on the leg is
// offered. A refused offer leaves the leg as it was.
func (l *Leg) ReceiveOffer(body []byte) (Offer, error) {
	switch l.pending {
	case ourOffer:
		return Offer{}, ErrGlare
	case theirOffer:
		return Offer{}, ErrPending
	}
	s, err := parseSession(body)
	if err != nil {
		return Offer{}, err
	}
	imgIdx, img := -1, (*Image)(nil)
	if l.cfg.ImagePort != 0 {
		if imgIdx, img, err = s.t38(); err != nil {
			return Offer{}, err
		}
	}
	idx, m, err := s.active()
	if err != nil && (idx >= 0 || img == nil) {
		return Offer{}, err
	}
	var off Media
	if idx >= 0 {
		if off, err = l.offeredAudio(m); err != nil {
			return Offer{}, err
		}
	}
	off.Image = img

	cur := &l.cur
	images := l.cfg.ImagePort != 0
	refresh := cur.started && sameSession(s, cur.remote, images)
	relay := !refresh && (!cur.started || (idx >= 0) != (cur.index >= 0) ||
		images && !sameImages(img, peerImage(cur.remote)) ||
		idx >= 0 && (off.Direction != effective(cur.peer) || !hasCodecs(off.Formats, cur.agreed)))
	l.next = cur.clone()
	l.next.remote, l.next.peer, l.next.index, l.next.imgIndex, l.next.offer = s, m, idx, imgIdx, off
	l.pending = theirOffer
	out := off
	out.Image = img.clone()
	return Offer{Media: out, Refresh: refresh, Relay: relay}, nil
}

// offeredAudio checks the audio stream of an offer from the peer against
// the leg's rules and returns it as the other leg needs it (Offer.Media).
func (l *Leg) offeredAudio(m Media) (Media, error) {
	if m.Proto != l.proto() {
		return Media{}, fmt.Errorf("%w: this leg requires %s, offer has %s", ErrUnacceptable, l.proto(), m.Proto)
	}
	off := Media{Addr: m.Addr, Port: m.Port, Proto: m.Proto, Ptime: m.Ptime, Direction: effective(m), RTCP: m.RTCP, RTCPMux: m.RTCPMux}
	if l.cfg.SRTP {
		c, ok := SelectCrypto(m.Crypto, l.cfg.Suites)
		if !ok {
			return Media{}, fmt.Errorf("%w: no acceptable SDES crypto line offered", ErrUnacceptable)
		}
		off.Crypto = []Crypto{c}
	}
	off.Formats = named(FilterFormats(m.Formats, l.cfg.Codecs))
	if !HasAudioCodec(off.Formats) {
		return Media{}, fmt.Errorf("%w: offered %s, allowed %v", ErrNoCommonCodec, formatNames(m.Formats), l.cfg.Codecs)
	}
	return off, nil
}

// peerImage returns the first active T.38 image stream of the peer's SDP
// s, nil if none.
func peerImage(s session) *Image {
	if _, img, err := s.t38(); err == nil {
		return img
	}
	return nil
}

// hasCodecs reports whether formats has a format of every codec of want.
func hasCodecs(formats, want []Format) bool {
	for _, w := range want {
		if _, ok := findCodec(formats, codecKey(w)); !ok {
			return false
		}
	}
	return true
}

// Answer answers the pending offer with what the other leg answered (the
// Media its TakeAnswer returned), commits the exchange and returns byocp's
// SDP. The answer lists the codecs of other that the offer has, with the
// offer's payload types and other's fmtp; its direction is other's, as far
// as the offer allows; its ptime is other's. On an SRTP leg it answers the
// chosen a=crypto line with byocp's key on the leg, a new one when the
// suite changed. An offered T.38 image stream is answered with byocp's
// ImagePort and other.Image's attributes when other.Image is not nil, and
// rejected in its position otherwise. An offered audio stream is rejected
// when other has no real codec of it but answered the image stream. Every
// other m-line is rejected. The answer has a=rtcp-mux when the offer has
// it (RFC 5761), whatever other says: each leg's RTCP is its own.
//
// Errors wrap ErrState when no offer from the peer is pending,
// ErrNoCommonCodec when other has no real codec of the offered audio
// stream and no image stream to answer, and ErrUnacceptable when the
// offer has only an image stream and other does not answer it; the offer
// is then dropped.
func (l *Leg) Answer(other Media) ([]byte, error) {
	if l.pending != theirOffer {
		return nil, ErrState
	}
	n := &l.next
	off := n.offer
	var formats []Format
	for _, f := range other.Formats {
		k := codecKey(f)
		o, ok := findCodec(off.Formats, k)
		if _, dup := findCodec(formats, k); !ok || dup || n.index < 0 {
			continue
		}
		f.PayloadType = o.PayloadType
		formats = append(formats, f)
	}
	var img *Image
	if n.imgIndex >= 0 {
		img = other.Image
	}
	if !HasAudioCodec(formats) {
		switch {
		case img == nil && n.index >= 0:
			l.Rollback()
			return nil, fmt.Errorf("%w: offered %s, other leg answered %s", ErrNoCommonCodec, formatNames(off.Formats), formatNames(other.Formats))
		case img == nil:
			l.Rollback()
			return nil, fmt.Errorf("%w: the other leg did not answer the T.38 image stream", ErrUnacceptable)
		}
		formats = nil
	}
	return l.answer(formats, intersect(effective(other), off.Direction.reverse()), other.Ptime, img)
}

// AnswerLocal answers the pending offer from the leg's own state, commits
// the exchange and returns byocp's SDP: the codecs agreed on the leg (in
// the order byocp wrote them, with the offer's payload types), byocp's
// current direction as far as the offer allows, and its current ptime and
// key; an offered image stream is answered with the T.38 attributes of
// byocp's current image stream on the leg, and rejected when the leg has
// none. Use it when Offer.Relay is false; for a refresh it returns byocp's
// previous SDP unchanged, o= version included.
//
// Errors wrap ErrState when no offer from the peer is pending or nothing
// was negotiated before, ErrNoCommonCodec when the offered audio stream
// lacks every agreed real codec, and ErrUnacceptable when an offer with
// only an image stream comes while the leg has none; the offer is then
// dropped.
func (l *Leg) AnswerLocal() ([]byte, error) {
	if l.pending != theirOffer {
		return nil, ErrState
	}
	if !l.cur.started {
		l.Rollback()
		return nil, ErrState
	}
	cur, n := &l.cur, &l.next
	off := n.offer
	var formats []Format
	if n.index >= 0 {
		for _, a := range cur.agreed {
			if o, ok := findCodec(off.Formats, codecKey(a)); ok {
				a.PayloadType = o.PayloadType
				formats = append(formats, a)
			}
		}
		if !HasAudioCodec(formats) {
			l.Rollback()
			return nil, fmt.Errorf("%w: offered %s, agreed %s", ErrNoCommonCodec, formatNames(off.Formats), formatNames(cur.agreed))
		}
	}
	var img *Image
	if n.imgIndex >= 0 && cur.imgIndex >= 0 {
		img = cur.local[cur.imgIndex].image
	}
	if n.index < 0 {
		if img == nil {
			l.Rollback()
			return nil, fmt.Errorf("%w: T.38 image stream offered alone, none negotiated on the leg", ErrUnacceptable)
		}
		return l.answer(nil, "", 0, img)
	}
	ours := cur.local[cur.index].audio
	return l.answer(formats, intersect(ours.Direction, off.Direction.reverse()), ours.Ptime, img)
}

// answer writes byocp's answer to the pending offer and commits it: the
// audio stream with formats (rejected when there are none), the image
// stream with img's attributes (rejected when img is nil), every other
// m-line rejected.
func (l *Leg) answer(formats []Format, dir Direction, ptime int, img *Image) ([]byte, error) {
	n := &l.next
	off := n.offer
	lines := make([]mline, len(n.remote.lines))
	for i, r := range n.remote.lines {
		lines[i] = rejected(r)
	}
	st := noAudio(l.cur.state)
	if len(formats) > 0 {
		m := Media{Addr: l.cfg.Addr, Port: l.cfg.Port, Proto: off.Proto, Formats: formats, Ptime: ptime, Direction: dir, RTCPMux: off.RTCPMux}
		st = State{RemoteRTCP: off.RTCP, RTCPMux: off.RTCPMux}
		if l.cfg.SRTP {
			sel := off.Crypto[0]
			ours := n.crypto
			if ours.Suite != sel.Suite { // first answer, or the peer dropped our suite
				c, err := NewCrypto(sel.Tag, sel.Suite)
				if err != nil {
					l.Rollback()
					return nil, err
				}
				ours = c
			}
			ours.Tag = sel.Tag
			n.crypto = ours
			m.Crypto = []Crypto{ours}
			st.Suite, st.LocalKey, st.RemoteKey = sel.Suite, ours.KeySalt, sel.KeySalt
		}
		lines[n.index] = mline{typ: "audio", port: m.Port, proto: m.Proto, audio: &m}
		st.Remote = netip.AddrPortFrom(off.Addr, uint16(off.Port))
		st.Direction, st.Ptime, st.Index = dir, off.Ptime, n.index
		for _, f := range formats {
			theirs, _ := findCodec(off.Formats, codecKey(f))
			st.Codecs = append(st.Codecs, Codec{Format: theirs, LocalPT: f.PayloadType})
		}
	}
	if img != nil {
		r := n.remote.lines[n.imgIndex]
		ours := &Image{Addr: l.cfg.Addr, Port: l.cfg.ImagePort, Proto: r.proto, Formats: r.fmts, Attributes: slices.Clone(img.Attributes)}
		lines[n.imgIndex] = mline{typ: r.typ, port: ours.Port, proto: ours.Proto, fmts: ours.Formats, image: ours}
		st.Image = off.Image.clone()
	}
	if err := l.write(lines); err != nil {
		l.Rollback()
		return nil, err
	}
	if len(formats) > 0 {
		n.agreed, n.lastAudio = formats, n.index
		n.pts.learn(formats, off.Formats)
	} else {
		n.agreed, n.index, n.peer = nil, -1, Media{}
	}
	if img == nil {
		n.imgIndex = -1
	}
	n.state, n.started = st, true
	l.commit()
	return bytes.Clone(l.cur.body), nil
}

// noAudio is the State of a leg without an audio stream whose previous
// State was prev: nothing to send to, inactive, no codecs, and the keys of
// prev so that the relay keeps its SRTP contexts.
func noAudio(prev State) State {
	return State{Direction: Inactive, Index: -1, Suite: prev.Suite, LocalKey: prev.LocalKey, RemoteKey: prev.RemoteKey}
}

// OfferFrom proposes byocp's offer on this leg for what the other leg
// offered (Offer.Media from its ReceiveOffer, or the Media of an answer
// the other leg's peer gave to OfferCurrent) and returns the SDP to send.
// The offer has the codecs of m allowed on this leg, numbered with this
// leg's payload types (see the package documentation), m's effective
// direction and ptime, byocp's fixed address and port, byocp's a=crypto
// line on an SRTP leg (its current tag, suite and key once negotiated, a
// new key for the first suite of LegConfig.Suites before) and the leg's
// other m-lines still rejected, and a=rtcp-mux when LegConfig.RTCPMux is
// set or RTCP multiplexing is in effect on the leg (m's RTCP and RTCPMux
// are not carried over). Commit it with TakeAnswer, or drop it with
// Rollback when the peer refuses it.
//
// When m.Image is not nil and the leg has an ImagePort, the offer also has
// "m=image <ImagePort> udptl t38" with m.Image's attributes; when m has no
// audio formats, it has only that image stream. Without an ImagePort,
// m.Image is dropped and the offer has no image stream (the caller's T.38
// policy decides whether that is acceptable). Where the audio and image
// m-lines go among the leg's m-lines is described in the package
// documentation.
//
// Errors wrap ErrPending when an exchange is in progress on this leg and
// ErrNoCommonCodec when no real codec of m is allowed on this leg and
// there is no image stream to offer instead.
func (l *Leg) OfferFrom(m Media) ([]byte, error) {
	if l.pending != idle {
		return nil, ErrPending
	}
	l.next = l.cur.clone()
	n := &l.next
	var img *Image
	if m.Image != nil && l.cfg.ImagePort != 0 {
		img = &Image{Addr: l.cfg.Addr, Port: l.cfg.ImagePort, Proto: ProtoUDPTL, Formats: []string{formatT38},
			Attributes: slices.Clone(m.Image.Attributes)}
	}
	var our *Media
	if len(m.Formats) > 0 || img == nil {
		our = &Media{
			Addr:      l.cfg.Addr,
			Port:      l.cfg.Port,
			Proto:     l.proto(),
			Formats:   n.pts.number(named(FilterFormats(m.Formats, l.cfg.Codecs))),
			Ptime:     m.Ptime,
			Direction: effective(m),
			RTCPMux:   l.cfg.RTCPMux || l.cur.state.RTCPMux,
		}
		if !HasAudioCodec(our.Formats) {
			l.Rollback()
			t38 := ""
			if m.Image != nil && l.cfg.ImagePort == 0 {
				t38 = " (T.38 is not relayed on this leg)"
			}
			return nil, fmt.Errorf("%w: other leg offered %s, allowed %v%s", ErrNoCommonCodec, formatNames(m.Formats), l.cfg.Codecs, t38)
		}
		if l.cfg.SRTP {
			if n.crypto.Suite == "" { // no audio negotiated on the leg yet
				c, err := NewCrypto(1, l.offerSuite())
				if err != nil {
					l.Rollback()
					return nil, err
				}
				n.crypto = c
			}
			our.Crypto = []Crypto{n.crypto}
		}
	}
	lines, audioAt, imageAt := layout(n.local, n.lastAudio, our != nil, img != nil)
	var off Media
	if our != nil {
		lines[audioAt] = mline{typ: "audio", port: our.Port, proto: our.Proto, audio: our}
		off = *our
	}
	if img != nil {
		lines[imageAt] = mline{typ: "image", port: img.Port, proto: img.Proto, fmts: img.Formats, image: img}
		off.Image = img
	}
	if err := l.write(lines); err != nil {
		l.Rollback()
		return nil, err
	}
	n.offer, n.index, n.imgIndex = off, audioAt, imageAt
	l.pending = ourOffer
	return bytes.Clone(n.body), nil
}

// OfferCurrent proposes byocp's current SDP on the leg, unchanged and with
// the same o= version, as the offer for a re-INVITE that came without one;
// the answer (in the ACK) goes to TakeAnswer. Errors wrap ErrPending when
// an exchange is in progress and ErrState before the leg's first exchange
// completed.
func (l *Leg) OfferCurrent() ([]byte, error) {
	if l.pending != idle {
		return nil, ErrPending
	}
	if !l.cur.started {
		return nil, ErrState
	}
	l.next = l.cur.clone()
	n := &l.next
	n.index, n.imgIndex = activeLines(n.local) // the streams of byocp's SDP as sent
	n.offer = Media{}
	if n.index >= 0 {
		n.offer = *n.local[n.index].audio
	}
	if n.imgIndex >= 0 {
		n.offer.Image = n.local[n.imgIndex].image
	}
	l.pending = ourOffer
	return bytes.Clone(l.cur.body), nil
}

// TakeAnswer checks the peer's answer to byocp's pending offer and commits
// the exchange. It returns the answered stream as the other leg needs it:
// the codecs agreed (with the peer's payload types), the peer's key on an
// SRTP leg and the effective direction, and the peer's image stream
// (Media.Image) when byocp offered one and the peer accepted it. RTCP
// multiplexing is in effect (State.RTCPMux) when byocp's offer and the
// answer both have a=rtcp-mux.
//
// The answer must keep the audio stream at its position with a port, use
// the offer's transport, share a real codec with the offer (dynamic
// payload types may be renumbered) and, on an SRTP leg, carry exactly one
// usable a=crypto line for the offered tag and suite. When byocp offered
// an image stream, the answer may reject it (port 0; the State then has
// no Image) or, if it accepts the image stream, reject the audio stream;
// not both. Errors wrap ErrState when byocp has no offer pending,
// ErrMalformed, ErrNoCommonCodec or ErrUnacceptable; the offer is then
// dropped as by Rollback.
func (l *Leg) TakeAnswer(body []byte) (Media, error) {
	if l.pending != ourOffer {
		return Media{}, ErrState
	}
	a, err := l.takeAnswer(body)
	if err != nil {
		l.Rollback()
		return Media{}, err
	}
	return a, nil
}

func (l *Leg) takeAnswer(body []byte) (Media, error) {
	n := &l.next
	s, err := parseSession(body)
	if err != nil {
		return Media{}, err
	}
	img, err := l.answeredImage(s)
	if err != nil {
		return Media{}, err
	}
	audio := n.index >= 0
	if audio && (n.index >= len(s.lines) || s.lines[n.index].typ != "audio" || s.lines[n.index].port == 0) {
		if img == nil {
			return Media{}, fmt.Errorf("%w: answer rejects the audio stream", ErrUnacceptable)
		}
		audio = false // the image stream goes on alone
	}
	if !audio && img == nil {
		return Media{}, fmt.Errorf("%w: answer rejects the T.38 image stream, byocp offered no audio", ErrUnacceptable)
	}
	st, out := noAudio(l.cur.state), Media{}
	var agreed []Format
	if audio {
		var a Media
		if a, st, agreed, out, err = l.answeredAudio(s); err != nil {
			return Media{}, err
		}
		n.peer, n.lastAudio = a, n.index
		n.pts.learn(n.offer.Formats, a.Formats)
	} else {
		n.peer, n.index = Media{}, -1
	}
	if img == nil {
		n.imgIndex = -1
	}
	st.Image, out.Image = img, img.clone()
	n.remote, n.agreed, n.state, n.started = s, agreed, st, true
	l.commit()
	return out, nil
}

// answeredAudio checks the audio stream of the peer's answer s to byocp's
// pending offer, which has it at the offer's position with a port, and
// returns it as written, the State it negotiates, the agreed formats as
// byocp wrote them and the stream as the other leg needs it.
func (l *Leg) answeredAudio(s session) (a Media, st State, agreed []Format, out Media, err error) {
	n := &l.next
	off := n.offer
	if err := s.lines[n.index].err; err != nil {
		return a, st, nil, out, err
	}
	a = *s.lines[n.index].audio
	if a.Proto != off.Proto {
		return a, st, nil, out, fmt.Errorf("%w: answer has %s, offer had %s", ErrUnacceptable, a.Proto, off.Proto)
	}
	answered, err := AnswerFormats(off.Formats, a.Formats)
	if err != nil {
		return a, st, nil, out, err
	}
	if l.cfg.SRTP {
		ours := off.Crypto[0]
		if len(a.Crypto) != 1 || a.Crypto[0].Tag != ours.Tag || a.Crypto[0].Suite != ours.Suite {
			return a, st, nil, out, fmt.Errorf("%w: answer must carry exactly one a=crypto for tag %d %s", ErrUnacceptable, ours.Tag, ours.Suite)
		}
		if err := a.Crypto[0].Usable(); err != nil {
			return a, st, nil, out, fmt.Errorf("%w: %w", ErrUnacceptable, err)
		}
		st.Suite, st.LocalKey, st.RemoteKey = ours.Suite, ours.KeySalt, a.Crypto[0].KeySalt
	} else if len(a.Crypto) > 0 {
		return a, st, nil, out, fmt.Errorf("%w: plain RTP answer carries a=crypto", ErrUnacceptable)
	}

	var formats []Format
	for _, f := range answered {
		if _, dup := findCodec(formats, codecKey(f)); dup {
			continue
		}
		ours, _ := findCodec(off.Formats, codecKey(f))
		formats, agreed = append(formats, f), append(agreed, ours)
		st.Codecs = append(st.Codecs, Codec{Format: f, LocalPT: ours.PayloadType})
	}
	st.Remote = netip.AddrPortFrom(a.Addr, uint16(a.Port))
	st.RemoteRTCP, st.RTCPMux = a.RTCP, off.RTCPMux && a.RTCPMux
	st.Direction = intersect(off.Direction, effective(a).reverse())
	st.Ptime, st.Index = a.Ptime, n.index
	out = a
	out.Formats, out.Direction = formats, effective(a)
	return a, st, agreed, out, nil
}

// answeredImage returns the peer's image stream in its answer s to
// byocp's pending offer: nil when byocp offered none or the answer rejects
// it. Errors wrap ErrUnacceptable for an answer that turns the m-line
// into another stream, or the stream's ErrMalformed.
func (l *Leg) answeredImage(s session) (*Image, error) {
	i := l.next.imgIndex
	if i < 0 || i >= len(s.lines) || s.lines[i].port == 0 {
		return nil, nil
	}
	r := s.lines[i]
	if !isT38(r.typ, r.proto, r.fmts) {
		return nil, fmt.Errorf("%w: answer has m=%s %s %v where byocp offered T.38 (m=image udptl t38)", ErrUnacceptable, r.typ, r.proto, r.fmts)
	}
	if r.err != nil {
		return nil, r.err
	}
	return r.image.clone(), nil
}

// AnswerEarly writes byocp's answer to the pending offer from the other
// leg's early answer (the SDP of a 183) without committing anything: the
// offer stays pending for the final Answer, which writes the same SDP (the
// same key and o= version) when it gets the same media, and the next
// version when the final answer differs. Errors are Answer's; the offer
// stays pending after them too.
func (l *Leg) AnswerEarly(other Media) ([]byte, error) {
	if l.pending != theirOffer {
		return nil, ErrState
	}
	cur, next := l.cur.clone(), l.next.clone()
	body, err := l.Answer(other)
	early := l.cur
	l.cur, l.next, l.pending = cur, next, theirOffer
	if err != nil {
		return nil, err
	}
	l.next.crypto = early.crypto // the key the peer may already use
	l.next.earlyBody, l.next.earlyVersion = early.body, early.version
	return body, nil
}

// PeekAnswer checks an early answer from the peer (the SDP of a 183) to
// byocp's pending offer and returns what TakeAnswer would, without
// committing: the offer stays pending for the final answer, and the State
// is what the leg would have negotiated (for early media).
func (l *Leg) PeekAnswer(body []byte) (Media, State, error) {
	if l.pending != ourOffer {
		return Media{}, State{}, ErrState
	}
	cur, next := l.cur.clone(), l.next.clone()
	m, err := l.TakeAnswer(body)
	st := l.cur.state.clone()
	l.cur, l.next, l.pending = cur, next, ourOffer
	if err != nil {
		return Media{}, State{}, err
	}
	return m, st, nil
}

// Rollback drops the pending offer, whichever side made it, and leaves the
// leg as it was before. It does nothing when no offer is pending.
func (l *Leg) Rollback() {
	l.pending, l.next = idle, legState{}
}

// Current returns what the leg has negotiated, as of the last committed
// exchange; the zero State before the first.
func (l *Leg) Current() State {
	return l.cur.state.clone()
}

// commit makes the proposal the leg's state.
func (l *Leg) commit() {
	l.cur, l.next, l.pending = l.next, legState{}, idle
}

// write marshals lines as byocp's SDP in the proposal: with the previous
// o= version when the SDP is unchanged, else with the next version.
func (l *Leg) write(lines []mline) error {
	n := &l.next
	o := l.origin
	if n.body == nil && n.earlyBody != nil {
		o.Version = n.earlyVersion
		body, err := marshalSession(&o, l.cfg.Addr, lines)
		if err != nil {
			return err
		}
		if bytes.Equal(body, n.earlyBody) {
			n.local, n.body, n.version = lines, body, o.Version
			return nil
		}
		o.Version = l.origin.Version
	}
	if n.body != nil {
		o.Version = n.version
		body, err := marshalSession(&o, l.cfg.Addr, lines)
		if err != nil {
			return err
		}
		if bytes.Equal(body, n.body) {
			n.local = lines
			return nil
		}
		o.Version = l.origin.Version
	}
	body, err := marshalSession(&o, l.cfg.Addr, lines)
	if err != nil {
		return err
	}
	n.local, n.body, n.version = lines, body, o.Version
	l.origin.Version++ // never reused, even if this proposal is rolled back
	return nil
}

func (l *Leg) proto() string {
	if l.cfg.SRTP {
		return ProtoRTPSAVP
	}
	return ProtoRTPAVP
}

func (l *Leg) offerSuite() Suite {
	if len(l.cfg.Suites) > 0 {
		return l.cfg.Suites[0]
	}
	return SuiteAESCM128HMACSHA180
}
