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
}

// Leg is the RFC 3264 offer/answer state of one leg of a call: byocp's
// o= line, its last SDP and the peer's last SDP with every m-line in its
// position, the codecs and payload types agreed, the direction and, on an
// SRTP leg, both keys. A call has two Legs; an offer received on one
// becomes an offer byocp writes on the other, and the answer that comes
// back becomes byocp's answer on the first. Only the first active audio
// stream is negotiated; byocp rejects every other m-line (video, a second
// audio stream, T.38 m=image, anything Read can read) with port 0 in its
// position.
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
	started bool     // an offer/answer exchange has completed
	local   []mline  // byocp's last SDP on the leg
	body    []byte   // that SDP as sent
	version uint64   // its o= version
	remote  session  // the peer's last SDP
	peer    Media    // the peer's negotiated stream in it, as written
	index   int      // position of the negotiated stream
	crypto  Crypto   // byocp's a=crypto line (SRTP legs)
	agreed  []Format // agreed formats as byocp wrote them
	pts     ptBook
	state   State
	offer   Media // while pending: the peer's offer as checked, or byocp's

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
	// Addr and Port are the peer's.
	Media Media
	// Refresh reports that the peer's SDP says what its previous one said,
	// whatever its o= version: a session refresh.
	Refresh bool
	// Relay reports that the other leg must see the offer: it is the leg's
	// first, its direction changed, or it lacks a codec agreed on the leg.
	// When false (a refresh, a media move, a new key, codecs added) answer
	// on this leg with AnswerLocal.
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
	return &Leg{cfg: cfg, origin: *o}, nil
}

// ReceiveOffer checks an offer from the leg's peer (in an INVITE,
// re-INVITE or UPDATE) and keeps it as pending. Then either the
// other leg offers Offer.Media with OfferFrom and this leg answers with
// Answer, or, when Offer.Relay is false, this leg answers with
// AnswerLocal; Rollback drops the offer.
//
// Errors wrap ErrGlare or ErrPending when an exchange is in progress,
// ErrMalformed for SDP Read refuses or an audio stream it cannot use,
// ErrNoAudio for an offer without an audio m-line (such as a T.38
// re-INVITE whose m=image replaced it), ErrUnacceptable for the wrong
// transport, no active audio stream (audio disabled next to m=image) or no
// usable a=crypto line, and ErrNoCommonCodec when no real codec allowed on
// the leg is offered. A refused offer leaves the leg as it was.
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
	idx, m, err := s.active()
	if err != nil {
		return Offer{}, err
	}
	if m.Proto != l.proto() {
		return Offer{}, fmt.Errorf("%w: this leg requires %s, offer has %s", ErrUnacceptable, l.proto(), m.Proto)
	}
	off := Media{Addr: m.Addr, Port: m.Port, Proto: m.Proto, Ptime: m.Ptime, Direction: effective(m)}
	if l.cfg.SRTP {
		c, ok := SelectCrypto(m.Crypto, l.cfg.Suites)
		if !ok {
			return Offer{}, fmt.Errorf("%w: no acceptable SDES crypto line offered", ErrUnacceptable)
		}
		off.Crypto = []Crypto{c}
	}
	off.Formats = named(FilterFormats(m.Formats, l.cfg.Codecs))
	if !HasAudioCodec(off.Formats) {
		return Offer{}, fmt.Errorf("%w: offered %s, allowed %v", ErrNoCommonCodec, formatNames(m.Formats), l.cfg.Codecs)
	}

	cur := &l.cur
	refresh := cur.started && sameSession(s, cur.remote)
	relay := !refresh && (!cur.started || off.Direction != effective(cur.peer) || !hasCodecs(off.Formats, cur.agreed))
	l.next = cur.clone()
	l.next.remote, l.next.peer, l.next.index, l.next.offer = s, m, idx, off
	l.pending = theirOffer
	return Offer{Media: off, Refresh: refresh, Relay: relay}, nil
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
// suite changed. Every m-line but the negotiated one is rejected.
//
// Errors wrap ErrState when no offer from the peer is pending and
// ErrNoCommonCodec when other has no real codec of the offer; the
// offer is then dropped.
func (l *Leg) Answer(other Media) ([]byte, error) {
	if l.pending != theirOffer {
		return nil, ErrState
	}
	off := l.next.offer
	var formats []Format
	for _, f := range other.Formats {
		k := codecKey(f)
		o, ok := findCodec(off.Formats, k)
		if _, dup := findCodec(formats, k); !ok || dup {
			continue
		}
		f.PayloadType = o.PayloadType
		formats = append(formats, f)
	}
	if !HasAudioCodec(formats) {
		l.Rollback()
		return nil, fmt.Errorf("%w: offered %s, other leg answered %s", ErrNoCommonCodec, formatNames(off.Formats), formatNames(other.Formats))
	}
	return l.answer(formats, intersect(effective(other), off.Direction.reverse()), other.Ptime)
}

// AnswerLocal answers the pending offer from the leg's own state, commits
// the exchange and returns byocp's SDP: the codecs agreed on the leg (in
// the order byocp wrote them, with the offer's payload types), byocp's
// current direction as far as the offer allows, and its current ptime and
// key. Use it when Offer.Relay is false; for a refresh it returns byocp's
// previous SDP unchanged, o= version included.
//
// Errors wrap ErrState when no offer from the peer is pending or nothing
// was negotiated before, and ErrNoCommonCodec when the offer lacks every
// agreed real codec; the offer is then dropped.
func (l *Leg) AnswerLocal() ([]byte, error) {
	if l.pending != theirOffer {
		return nil, ErrState
	}
	if !l.cur.started {
		l.Rollback()
		return nil, ErrState
	}
	off := l.next.offer
	var formats []Format
	for _, a := range l.cur.agreed {
		if o, ok := findCodec(off.Formats, codecKey(a)); ok {
			a.PayloadType = o.PayloadType
			formats = append(formats, a)
		}
	}
	if !HasAudioCodec(formats) {
		l.Rollback()
		return nil, fmt.Errorf("%w: offered %s, agreed %s", ErrNoCommonCodec, formatNames(off.Formats), formatNames(l.cur.agreed))
	}
	ours := l.cur.local[l.cur.index].audio
	return l.answer(formats, intersect(ours.Direction, off.Direction.reverse()), ours.Ptime)
}

// answer writes byocp's answer to the pending offer and commits it.
func (l *Leg) answer(formats []Format, dir Direction, ptime int) ([]byte, error) {
	n := &l.next
	off := n.offer
	m := Media{Addr: l.cfg.Addr, Port: l.cfg.Port, Proto: off.Proto, Formats: formats, Ptime: ptime, Direction: dir}
	var st State
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
	lines := make([]mline, len(n.remote.lines))
	for i, r := range n.remote.lines {
		lines[i] = rejected(r)
	}
	lines[n.index] = mline{typ: "audio", port: m.Port, proto: m.Proto, audio: &m}
	if err := l.write(lines); err != nil {
		l.Rollback()
		return nil, err
	}
	st.Remote = netip.AddrPortFrom(off.Addr, uint16(off.Port))
	st.Direction, st.Ptime, st.Index = dir, off.Ptime, n.index
	for _, f := range formats {
		theirs, _ := findCodec(off.Formats, codecKey(f))
		st.Codecs = append(st.Codecs, Codec{Format: theirs, LocalPT: f.PayloadType})
	}
	n.state, n.agreed, n.started = st, formats, true
	n.pts.learn(formats, off.Formats)
	l.commit()
	return bytes.Clone(l.cur.body), nil
}

// OfferFrom proposes byocp's offer on this leg for what the other leg
// offered (Offer.Media from its ReceiveOffer, or the Media of an answer
// the other leg's peer gave to OfferCurrent) and returns the SDP to send.
// The offer has the codecs of m allowed on this leg, numbered with this
// leg's payload types (see the package documentation), m's effective
// direction and ptime, byocp's fixed address and port, byocp's a=crypto
// line on an SRTP leg (its current tag, suite and key once negotiated, a
// new key for the first suite of LegConfig.Suites before) and the leg's
// other m-lines still rejected. Commit it with TakeAnswer, or drop it with
// Rollback when the peer refuses it.
//
// Errors wrap ErrPending when an exchange is in progress on this leg and
// ErrNoCommonCodec when no real codec of m is allowed on this leg.
func (l *Leg) OfferFrom(m Media) ([]byte, error) {
	if l.pending != idle {
		return nil, ErrPending
	}
	l.next = l.cur.clone()
	n := &l.next
	our := Media{
		Addr:      l.cfg.Addr,
		Port:      l.cfg.Port,
		Proto:     l.proto(),
		Formats:   n.pts.number(named(FilterFormats(m.Formats, l.cfg.Codecs))),
		Ptime:     m.Ptime,
		Direction: effective(m),
	}
	if !HasAudioCodec(our.Formats) {
		l.Rollback()
		return nil, fmt.Errorf("%w: other leg offered %s, allowed %v", ErrNoCommonCodec, formatNames(m.Formats), l.cfg.Codecs)
	}
	if l.cfg.SRTP {
		if !n.started {
			c, err := NewCrypto(1, l.offerSuite())
			if err != nil {
				l.Rollback()
				return nil, err
			}
			n.crypto = c
		}
		our.Crypto = []Crypto{n.crypto}
	}
	lines := []mline{{}}
	if n.started {
		lines = slices.Clone(n.local)
	}
	lines[n.index] = mline{typ: "audio", port: our.Port, proto: our.Proto, audio: &our}
	if err := l.write(lines); err != nil {
		l.Rollback()
		return nil, err
	}
	n.offer = our
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
	l.next.offer = *l.cur.local[l.cur.index].audio
	l.pending = ourOffer
	return bytes.Clone(l.cur.body), nil
}

// TakeAnswer checks the peer's answer to byocp's pending offer and commits
// the exchange. It returns the answered stream as the other leg needs it:
// the codecs agreed (with the peer's payload types), the peer's key on an
// SRTP leg and the effective direction.
//
// The answer must keep the audio stream at its position with a port, use
// the offer's transport, share a real codec with the offer (dynamic
// payload types may be renumbered) and, on an SRTP leg, carry exactly one
// usable a=crypto line for the offered tag and suite. Errors wrap ErrState
// when byocp has no offer pending, ErrMalformed, ErrNoCommonCodec or
// ErrUnacceptable; the offer is then dropped as by Rollback.
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
	off := n.offer
	s, err := parseSession(body)
	if err != nil {
		return Media{}, err
	}
	if n.index >= len(s.lines) || s.lines[n.index].typ != "audio" || s.lines[n.index].port == 0 {
		return Media{}, fmt.Errorf("%w: answer rejects the audio stream", ErrUnacceptable)
	}
	if err := s.lines[n.index].err; err != nil {
		return Media{}, err
	}
	a := *s.lines[n.index].audio
	if a.Proto != off.Proto {
		return Media{}, fmt.Errorf("%w: answer has %s, offer had %s", ErrUnacceptable, a.Proto, off.Proto)
	}
	answered, err := AnswerFormats(off.Formats, a.Formats)
	if err != nil {
		return Media{}, err
	}
	var st State
	if l.cfg.SRTP {
		ours := off.Crypto[0]
		if len(a.Crypto) != 1 || a.Crypto[0].Tag != ours.Tag || a.Crypto[0].Suite != ours.Suite {
			return Media{}, fmt.Errorf("%w: answer must carry exactly one a=crypto for tag %d %s", ErrUnacceptable, ours.Tag, ours.Suite)
		}
		if err := a.Crypto[0].Usable(); err != nil {
			return Media{}, fmt.Errorf("%w: %w", ErrUnacceptable, err)
		}
		st.Suite, st.LocalKey, st.RemoteKey = ours.Suite, ours.KeySalt, a.Crypto[0].KeySalt
	} else if len(a.Crypto) > 0 {
		return Media{}, fmt.Errorf("%w: plain RTP answer carries a=crypto", ErrUnacceptable)
	}

	var formats, agreed []Format
	for _, f := range answered {
		if _, dup := findCodec(formats, codecKey(f)); dup {
			continue
		}
		ours, _ := findCodec(off.Formats, codecKey(f))
		formats, agreed = append(formats, f), append(agreed, ours)
		st.Codecs = append(st.Codecs, Codec{Format: f, LocalPT: ours.PayloadType})
	}
	st.Remote = netip.AddrPortFrom(a.Addr, uint16(a.Port))
	st.Direction = intersect(off.Direction, effective(a).reverse())
	st.Ptime, st.Index = a.Ptime, n.index
	n.remote, n.peer, n.agreed, n.state, n.started = s, a, agreed, st, true
	n.pts.learn(off.Formats, a.Formats)
	l.commit()

	out := a
	out.Formats, out.Direction = formats, effective(a)
	return out, nil
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
