package byocp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/byocp/byocp/media"
	"github.com/byocp/byocp/sdp"
	"github.com/byocp/byocp/sip"
)

// legSDPConfig is the offer/answer configuration of one leg: plain RTP on
// the carrier, SRTP with Zoom's suites on Zoom, each side's codecs and
// whether byocp offers it RTCP multiplexing, and the leg's fixed media
// address and port.
func (c *call) legSDPConfig(zoom bool, port *media.Port) sdp.LegConfig {
	cfg := sdp.LegConfig{Addr: c.b.cfg.Media.advertise(), Port: port.Number(), Codecs: c.b.trunk.Codecs(), ImagePort: c.imagePort(zoom),
		RTCPMux: c.b.trunk.RTCPMux()}
	if zoom {
		cfg.SRTP = true
		cfg.RTCPMux = c.b.peering.RTCPMux()
		cfg.Codecs = c.b.peering.Codecs()
		for _, s := range c.b.peering.SRTPSuites() {
			cfg.Suites = append(cfg.Suites, sdp.Suite(s))
		}
	}
	return cfg
}

// sdpOf is a leg's offer/answer state.
func (c *call) sdpOf(l *leg) *sdp.Leg {
	if l == c.legs[0] {
		return c.inSDP
	}
	return c.outSDP
}

// acceptOffer checks the caller's offer against its leg's rules and writes
// byocp's offer for the other leg from it.
func (c *call) acceptOffer(inv *sip.Invite) ([]byte, *callError) {
	var err error
	if c.inSDP, err = sdp.NewLeg(c.legSDPConfig(c.inZoom, c.inPort)); err != nil {
		return nil, &callError{status: 500, reason: "Server Internal Error", detail: err.Error()}
	}
	if c.outSDP, err = sdp.NewLeg(c.legSDPConfig(!c.inZoom, c.outPort)); err != nil {
		return nil, &callError{status: 500, reason: "Server Internal Error", detail: err.Error()}
	}
	offerSDP := inv.SDP() // a SIP-I body's ISUP part stays on its leg
	var from sdp.Media
	switch {
	case offerSDP != nil:
		off, err := c.inSDP.ReceiveOffer(offerSDP)
		if err != nil {
			return nil, offerNotAcceptable("SDP offer: %v", err)
		}
		from, c.inOffer = off.Media, off.Media
	case c.inZoom:
		return nil, offerNotAcceptable("INVITE without SDP offer (Zoom sends Early Offer)")
	default:
		// Delayed Offer from the carrier: Zoom requires Early Offer, so
		// byocp offers Zoom the carrier side's codecs; Zoom's answer becomes
		// byocp's offer in the 200 to the carrier, answered in its ACK.
		c.delayed = true
		from = sdp.Media{Formats: defaultFormats(c.b.trunk.Codecs()), Ptime: 20, Direction: sdp.SendRecv}
	}
	offer, err := c.outSDP.OfferFrom(from)
	if err != nil {
		if errors.Is(err, sdp.ErrNoCommonCodec) {
			return nil, offerNotAcceptable("no codec in common with the other leg")
		}
		return nil, &callError{status: 500, reason: "Server Internal Error", detail: err.Error()}
	}
	if len(from.Crypto) > 0 {
		c.rec.SRTPSuite = string(from.Crypto[0].Suite)
	}
	// The carrier's media is accepted from its signalled address at once;
	// a Zoom caller's leg is keyed when byocp answers (early or final).
	if !c.inZoom && !c.delayed {
		lc := c.legConfig(false, mediaAddr(from))
		lc.RemoteRTCP = rtcpAddr(lc.Remote, from.RTCP)
		if err := c.relay.SetLeg(c.mediaSide(false), lc); err != nil {
			return nil, offerNotAcceptable("caller media: %v", err)
		}
	}
	// Towards Zoom, byocp's key is known from its offer: SRTP is ready to
	// go out as soon as Zoom's address is known.
	if c.inZoom {
		return offer, nil
	}
	ours, err := sdp.Parse(offer)
	if err != nil || len(ours.Crypto) != 1 {
		return nil, &callError{status: 500, reason: "Server Internal Error", detail: fmt.Sprintf("own offer: %v", err)}
	}
	c.rec.SRTPSuite = string(ours.Crypto[0].Suite)
	lc := c.legConfig(true, netip.AddrPort{})
	lc.SRTP = &media.SRTPConfig{Suite: string(ours.Crypto[0].Suite), LocalKey: ours.Crypto[0].KeySalt}
	if err := c.relay.SetLeg(media.SideB, lc); err != nil {
		return nil, &callError{status: 500, reason: "Server Internal Error", detail: err.Error()}
	}
	return offer, nil
}

// mediaAddr is where a stream's peer receives media; the zero AddrPort on
// a legacy hold (c=0.0.0.0).
func mediaAddr(m sdp.Media) netip.AddrPort {
	if !m.Addr.IsValid() || m.Addr.IsUnspecified() || m.Port == 0 {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(m.Addr, uint16(m.Port))
}

// rtcpAddr is where a peer receiving RTP at remote receives RTCP, from
// its a=rtcp: the zero AddrPort (the port after remote's) when it names
// none, and on a legacy hold (remote zero), where nothing is sent.
func rtcpAddr(remote, rtcp netip.AddrPort) netip.AddrPort {
	if !remote.IsValid() || !rtcp.IsValid() || rtcp.Addr().IsUnspecified() || rtcp.Port() == 0 {
		return netip.AddrPort{}
	}
	return rtcp
}

// onProvisional relays 180/183 to the caller, with byocp's own reason
// phrase. Each new SDP of an early dialog becomes early media: checked
// without committing the offer/answer (the final answer commits),
// answered to the caller, and the relay pointed at both ends, so that the
// relay follows the latest early SDP of whichever fork or peer sent it,
// while byocp's own ports never move. A provisional response without SDP
// after early media (a 180 after a 183) carries byocp's early answer again,
// so that the caller does not stop playing it. To a Delayed Offer caller
// that supports 100rel, the first early SDP becomes byocp's offer, sent
// once in a reliable provisional response (see earlyOffer).
func (c *call) onProvisional(res sip.Response) {
	var body []byte
	if sdpBody := res.SDP(); sdpBody != nil {
		dlg := earlyDialog{res.CallID(), res.ToTag()}
		if !bytes.Equal(c.early[dlg], sdpBody) {
			if inBody, err := c.earlyMedia(res); err != nil {
				c.log.Warn("early SDP ignored", "status", res.StatusCode, "error", err)
			} else {
				if c.early == nil {
					c.early = make(map[earlyDialog][]byte)
				}
				c.early[dlg] = sdpBody
				if c.delayed {
					body = inBody // byocp's offer, once
				} else {
					c.earlyIn = inBody
				}
			}
		}
	}
	if !c.delayed {
		body = c.earlyIn
	}
	if err := c.in.Progress(res.StatusCode, reasonPhrase(res.StatusCode), body); err != nil {
		c.log.Debug("provisional not relayed", "status", res.StatusCode, "error", err)
	}
}

// earlyMedia takes a provisional response's SDP for early media and
// returns byocp's early answer to the caller (for a Delayed Offer caller,
// see earlyOffer).
func (c *call) earlyMedia(res sip.Response) ([]byte, error) {
	m, st, err := c.outSDP.PeekAnswer(res.SDP())
	if err != nil {
		return nil, err
	}
	if c.delayed {
		return c.earlyOffer(m, st)
	}
	inBody, err := c.inSDP.AnswerEarly(m)
	if err != nil {
		return nil, err
	}
	ours, err := sdp.Parse(inBody)
	if err != nil {
		return nil, err
	}
	// The caller's leg first (its keys), then the callee's address: no
	// packet may pass before both ends are keyed.
	in := sdp.State{Remote: mediaAddr(c.inOffer), Direction: ours.Direction, RemoteRTCP: c.inOffer.RTCP, RTCPMux: ours.RTCPMux}
	for _, f := range ours.Formats {
		// byocp's number for each format it answered, and the caller's.
		for _, g := range c.inOffer.Formats {
			if strings.EqualFold(f.Name, g.Name) && f.ClockRate == g.ClockRate {
				in.Codecs = append(in.Codecs, sdp.Codec{Format: g, LocalPT: f.PayloadType})
				break
			}
		}
	}
	if len(ours.Crypto) == 1 && len(c.inOffer.Crypto) == 1 {
		in.Suite, in.LocalKey, in.RemoteKey = ours.Crypto[0].Suite, ours.Crypto[0].KeySalt, c.inOffer.Crypto[0].KeySalt
	}
	if err := c.setLeg(c.inZoom, in); err != nil {
		return nil, err
	}
	if err := c.setLeg(!c.inZoom, st); err != nil {
		return nil, err
	}
	return inBody, nil
}

// takeAnswer commits the callee's final answer on both legs and returns
// byocp's answer to the caller. The answer is the 2xx's SDP, or that of a
// 183 from the same dialog when the 2xx has none; never one from another
// Zoom peer tried before.
func (c *call) takeAnswer(answer sip.Response) ([]byte, *callError) {
	body := answer.SDP()
	if body == nil {
		// The answer came in a 183 of the same early dialog (the fork
		// that answered, of the peer that answered).
		body = c.early[earlyDialog{answer.CallID(), answer.ToTag()}]
	}
	if len(body) == 0 {
		return nil, notAcceptable("answer without SDP")
	}
	m, err := c.outSDP.TakeAnswer(body)
	if err != nil {
		return nil, notAcceptable("SDP answer: %v", err)
	}
	var inBody []byte
	switch {
	case c.delayed && c.earlyAnswered:
		// The caller's leg was settled in the early dialog (offer in a
		// reliable 183, answer in its PRACK): the 200 repeats that SDP,
		// which the caller ignores (RFC 3261 §13.2.1), and the ACK
		// carries no answer.
		inBody, c.delayed = c.inSDP.Local(), false
	case c.delayed:
		// The callee's answer is byocp's offer to the caller (again, if
		// the early one was never answered).
		c.inSDP.Rollback()
		inBody, err = c.inSDP.OfferFrom(m)
	default:
		inBody, err = c.inSDP.Answer(m)
	}
	if err != nil {
		return nil, notAcceptable("SDP answer: %v", err)
	}
	if c.delayed {
		// Only the callee's leg is negotiated until the caller's ACK.
		err = c.setLeg(!c.inZoom, c.outSDP.Current())
	} else {
		err = c.applyRelay()
	}
	if err != nil {
		return nil, notAcceptable("media: %v", err)
	}
	for _, f := range c.outSDP.Current().Codecs {
		if !f.IsTelephoneEvent() && !f.IsComfortNoise() {
			c.rec.Codec = fmt.Sprintf("%s/%d", f.Name, f.ClockRate)
			break
		}
	}
	return inBody, nil
}

// takeAckAnswer takes the caller's answer from its ACK (Delayed Offer) and
// points the relay at it.
func (c *call) takeAckAnswer() error {
	ack := c.in.AckSDP()
	if ack == nil {
		c.inSDP.Rollback()
		return errors.New("no SDP in the ACK")
	}
	if _, err := c.inSDP.TakeAnswer(ack); err != nil {
		return err
	}
	return c.applyRelay()
}

// defaultFormats are the payload formats byocp offers for codec names when
// it writes an offer of its own (Delayed Offer): static payload types where
// RFC 3551 has them, dynamic ones as Zoom numbers them.
func defaultFormats(names []string) []sdp.Format {
	known := map[string]sdp.Format{
		"pcmu":            {PayloadType: 0, Name: "PCMU", ClockRate: 8000},
		"pcma":            {PayloadType: 8, Name: "PCMA", ClockRate: 8000},
		"g722":            {PayloadType: 9, Name: "G722", ClockRate: 8000},
		"g729":            {PayloadType: 18, Name: "G729", ClockRate: 8000, Fmtp: "annexb=no"},
		"opus":            {PayloadType: 102, Name: "opus", ClockRate: 48000, Channels: 2},
		"telephone-event": {PayloadType: 101, Name: "telephone-event", ClockRate: 8000, Fmtp: "0-16"},
	}
	var out []sdp.Format
	for _, n := range names {
		if f, ok := known[strings.ToLower(n)]; ok {
			out = append(out, f)
		}
	}
	return out
}

// relayConfig is the relay's configuration of one leg from what it
// negotiated: where its RTP and RTCP go, RTCP multiplexing, formats and
// keys.
func (c *call) relayConfig(zoom bool, st sdp.State) media.LegConfig {
	remote := st.Remote
	if !remote.Addr().IsValid() || remote.Addr().IsUnspecified() || remote.Port() == 0 {
		remote = netip.AddrPort{} // legacy hold: send nothing
	}
	lc := c.legConfig(zoom, remote)
	lc.RemoteRTCP, lc.RTCPMux = rtcpAddr(remote, st.RemoteRTCP), st.RTCPMux
	lc.Formats = relayFormats(st.Codecs)
	if st.Suite != "" {
		lc.SRTP = &media.SRTPConfig{Suite: string(st.Suite), LocalKey: st.LocalKey, RemoteKey: st.RemoteKey}
	}
	return lc
}

// legConfig is the relay configuration of one leg without its keys. The
// carrier leg is plain RTP, so it takes packets only from the address the
// carrier signalled or the trunk's MediaNetworks (any port); the Zoom leg
// is protected by SRTP authentication instead, and Zoom's media address
// differs from its signalling address.
func (c *call) legConfig(zoom bool, remote netip.AddrPort) media.LegConfig {
	lc := media.LegConfig{Remote: remote, Latch: c.b.peering.MediaLatch(), DTMF: c.b.peering.DTMFMode()}
	if !zoom {
		lc.RestrictSources = true
		lc.SourceNetworks = c.b.trunk.MediaNetworks()
		lc.Latch = c.b.trunk.MediaLatch()
		lc.DTMF = c.b.trunk.DTMFMode()
	}
	return lc
}

// relayFormats are the formats a leg agreed, as the relay renumbers
// payload types between the legs and times jitter with them.
func relayFormats(codecs []sdp.Codec) []media.Format {
	out := make([]media.Format, 0, len(codecs))
	for _, c := range codecs {
		out = append(out, media.Format{Name: c.Name, ClockRate: c.ClockRate, RecvPT: c.LocalPT, SendPT: c.PayloadType})
	}
	return out
}

// applyRelay points the relay at what both legs have negotiated.
func (c *call) applyRelay() error {
	// The caller's leg first: a Zoom caller's keys before any packet can
	// go to it.
	if err := c.setLeg(c.inZoom, c.inSDP.Current()); err != nil {
		return err
	}
	return c.setLeg(!c.inZoom, c.outSDP.Current())
}

// onHold reports whether either leg is on hold: its stream is sendonly,
// recvonly or inactive. A leg faxing with T.38 instead of audio is not.
func (c *call) onHold() bool {
	held := func(st sdp.State) bool {
		return st.Direction != sdp.SendRecv && !(st.Image != nil && st.Remote == netip.AddrPort{})
	}
	return held(c.inSDP.Current()) || held(c.outSDP.Current())
}

// relayOp is a re-offer from one leg being relayed to the other.
type relayOp struct {
	from, to *leg
	req      *sip.DialogRequest
	timer    legTimer     // from's session timer as the request renegotiates it
	hdrs     []sip.Header // the timer's header fields for from's 2xx
}

// relayOffer handles a re-INVITE or UPDATE with SDP from leg from. A pure
// refresh, a media move or a re-key of that leg is answered on its own leg;
// a change the other leg must see (hold, resume, codecs) is offered to it,
// and its answer rewritten for from. A re-INVITE without SDP gets byocp's
// current SDP on that leg as an offer, answered in the ACK.
func (c *call) relayOffer(from, to *leg, r *sip.DialogRequest) {
	t, hdrs, small := answerTimer(sip.SessionTimerOf(r.Header), from.timers, time.Now())
	if small != nil {
		_ = r.Respond(422, "Session Interval Too Small", nil, small.Header())
		return
	}
	fromSDP, toSDP := c.sdpOf(from), c.sdpOf(to)
	if !r.HasSDP() {
		c.offerCurrent(from, to, r, t, hdrs)
		return
	}
	off, err := fromSDP.ReceiveOffer(r.SDP())
	if err != nil {
		respondSDPError(r, err)
		return
	}
	if !off.Relay {
		body, err := fromSDP.AnswerLocal()
		if err != nil {
			respondSDPError(r, err)
			return
		}
		// The relay first: the peer may send to what byocp answered the
		// moment the answer arrives.
		if err := c.applyRelay(); err != nil {
			c.log.Warn("relay not updated", "error", err)
		}
		if err := r.Respond(200, "OK", body, hdrs...); err == nil {
			from.timer = t
		}
		return
	}
	offer, err := toSDP.OfferFrom(off.Media)
	if err != nil {
		fromSDP.Rollback()
		respondSDPError(r, err)
		return
	}
	op := &relayOp{from: from, to: to, req: r, timer: t, hdrs: hdrs}
	c.offer = op
	toHdrs := to.timer.refreshHeaders()
	sipLeg, update := to.sip, r.Method == "UPDATE" && to.update
	c.log.Info("relaying re-offer", "from", from.name, "to", to.name, "method", r.Method)
	go func() {
		ctx, cancel := context.WithTimeout(c.b.ctx, 30*time.Second)
		defer cancel()
		var res sip.Response
		var err error
		if update {
			res, err = sipLeg.Send(ctx, "UPDATE", offer, "application/sdp", toHdrs...)
		} else {
			res, err = sipLeg.Reinvite(ctx, offer, toHdrs, nil)
		}
		c.post(func() { c.relayDone(op, res, err) })
	}()
}

// relayDone completes a relayed re-offer with the other leg's answer.
func (c *call) relayDone(op *relayOp, res sip.Response, err error) {
	c.offer = nil
	fromSDP, toSDP := c.sdpOf(op.from), c.sdpOf(op.to)
	if err != nil {
		fromSDP.Rollback()
		toSDP.Rollback()
		var se *sip.StatusError
		switch {
		case errors.Is(err, sip.ErrPending) || errors.As(err, &se) && se.Response.StatusCode == 491:
			// The other leg's peer has an offer of its own in flight: the
			// requester tries again after its glare delay.
			_ = op.req.Respond(491, "Request Pending", nil)
		case errors.As(err, &se) && se.Response.StatusCode != 408 && se.Response.StatusCode != 481:
			status, reason := mapFailure(se.Response.StatusCode)
			_ = op.req.Respond(status, reason, nil)
		default:
			// 408, 481 or no answer at all: the other leg is gone.
			_ = op.req.Respond(500, "Server Internal Error", nil)
			c.log.Warn("re-offer failed on the other leg, ending the call", "to", op.to.name, "error", err)
			c.endCall(endReason{by: HangupBridge, reason: "re-INVITE failed on the " + op.to.name + " leg", hangup: c.legs[:]})
		}
		return
	}
	now := time.Now()
	op.to.timer.last = now // a successful re-INVITE or UPDATE refreshes the session
	m, err := toSDP.TakeAnswer(res.SDP())
	if err != nil {
		// An answer byocp cannot use (such as a voice-only peer that
		// accepts a fax re-offer with every stream rejected): the offerer
		// is refused and the other leg offered its previous session again;
		// only when even that fails does the call end.
		fromSDP.Rollback()
		_ = op.req.Respond(488, "Not Acceptable Here", nil)
		c.log.Warn("unusable answer to a relayed re-offer, restoring the session", "to", op.to.name, "error", err)
		if !c.restore(op.to) {
			c.endCall(endReason{by: HangupBridge, reason: "unusable SDP answer on the " + op.to.name + " leg", hangup: c.legs[:]})
		}
		return
	}
	body, err := fromSDP.Answer(m)
	if err != nil {
		_ = op.req.Respond(488, "Not Acceptable Here", nil)
		c.endCall(endReason{by: HangupBridge, reason: "no answer possible on the " + op.from.name + " leg", hangup: c.legs[:]})
		return
	}
	// The relay first: the offerer may send to what byocp answered the
	// moment the answer arrives.
	if err := c.applyRelay(); err != nil {
		c.log.Warn("relay not updated", "error", err)
	}
	if err := op.req.Respond(200, "OK", body, op.hdrs...); err == nil {
		op.from.timer = op.timer
	}
	c.mediaSince = now
}

// offerCurrent answers a re-INVITE without SDP with byocp's current SDP on
// that leg as an offer; the peer's answer comes in the ACK.
func (c *call) offerCurrent(from, to *leg, r *sip.DialogRequest, t legTimer, hdrs []sip.Header) {
	fromSDP := c.sdpOf(from)
	body, err := fromSDP.OfferCurrent()
	if err != nil {
		respondSDPError(r, err)
		return
	}
	if err := r.Respond(200, "OK", body, hdrs...); err != nil {
		fromSDP.Rollback()
		return
	}
	from.timer = t
	go func() {
		select {
		case ack, ok := <-r.Ack():
			c.post(func() { c.ackAnswer(from, to, ack, ok) })
		case <-c.done:
		}
	}()
}

// ackAnswer takes the answer of an ACK to byocp's offer on leg from. When
// it changes what the other leg sees (hold or resume), that change is
// offered to the other leg.
func (c *call) ackAnswer(from, to *leg, body []byte, acked bool) {
	fromSDP := c.sdpOf(from)
	if !acked || len(body) == 0 {
		fromSDP.Rollback()
		return
	}
	before := fromSDP.Current().Direction
	m, err := fromSDP.TakeAnswer(body)
	if err != nil {
		c.log.Warn("unusable answer in an ACK, ending the call", "leg", from.name, "error", err)
		c.endCall(endReason{by: HangupBridge, reason: "unusable SDP in the ACK on the " + from.name + " leg", hangup: c.legs[:]})
		return
	}
	if err := c.applyRelay(); err != nil {
		c.log.Warn("relay not updated", "error", err)
	}
	if fromSDP.Current().Direction == before || c.offer != nil {
		return
	}
	c.reoffer(to, m)
}

// reoffer offers the other leg a change its peer did not ask for (the
// answer in an ACK put the call on hold or resumed it); the result only
// updates the relay.
func (c *call) reoffer(to *leg, m sdp.Media) {
	toSDP := c.sdpOf(to)
	offer, err := toSDP.OfferFrom(m)
	if err != nil {
		c.log.Warn("re-offer not possible", "to", to.name, "error", err)
		return
	}
	c.sendReoffer(to, offer)
}

// sendReoffer sends byocp's own re-offer on leg to; reofferDone takes the
// outcome.
func (c *call) sendReoffer(to *leg, offer []byte) {
	c.offer = &relayOp{to: to}
	sipLeg, hdrs := to.sip, to.timer.refreshHeaders()
	go func() {
		ctx, cancel := context.WithTimeout(c.b.ctx, 30*time.Second)
		defer cancel()
		res, err := sipLeg.Reinvite(ctx, offer, hdrs, nil)
		c.post(func() { c.reofferDone(to, res, err) })
	}()
}

// reofferDone takes the answer to a re-offer byocp made on its own.
func (c *call) reofferDone(to *leg, res sip.Response, err error) {
	c.offer = nil
	toSDP := c.sdpOf(to)
	if err != nil {
		toSDP.Rollback()
		c.log.Warn("re-offer refused", "to", to.name, "error", err)
		return
	}
	to.timer.last = time.Now()
	if _, err := toSDP.TakeAnswer(res.SDP()); err != nil {
		c.log.Warn("unusable answer to a re-offer", "to", to.name, "error", err)
		return
	}
	if err := c.applyRelay(); err != nil {
		c.log.Warn("relay not updated", "error", err)
	}
	c.mediaSince = time.Now()
}

// restore offers leg to its peer byocp's current SDP there, the session
// as it was before an exchange that failed on the peer's side; the answer
// only updates the relay. It reports false when no such offer can be made.
func (c *call) restore(to *leg) bool {
	toSDP := c.sdpOf(to)
	offer, err := toSDP.OfferCurrent()
	if err != nil {
		return false
	}
	c.sendReoffer(to, offer)
	return true
}

// respondSDPError answers an offer the leg's state refused.
func respondSDPError(r *sip.DialogRequest, err error) {
	switch {
	case errors.Is(err, sdp.ErrGlare):
		_ = r.Respond(491, "Request Pending", nil)
	case errors.Is(err, sdp.ErrPending):
		_ = r.Respond(500, "Server Internal Error", nil, sip.Header{Name: "Retry-After", Value: "2"})
	default:
		_ = r.Respond(488, "Not Acceptable Here", nil)
	}
}
