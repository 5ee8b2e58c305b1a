package byocp

import (
	"github.com/byocp/byocp/sdp"
	"github.com/byocp/byocp/sip"
)

// The call while it rings: early dialogs on both legs (RFC 3262, RFC
// 3311). Everything here runs on the call's goroutine, inside the
// outgoing leg's Dial (sip.EarlyHooks).

// earlyOffer is byocp's offer to a Delayed Offer caller from the callee's
// early SDP: sent once, in a reliable provisional response, to a caller
// that supports 100rel (its answer comes in the PRACK, see
// onEarlyRequest). The callee's side of the relay follows every early
// SDP; the caller's side waits for that answer.
func (c *call) earlyOffer(m sdp.Media, st sdp.State) ([]byte, error) {
	if err := c.setLeg(!c.inZoom, st); err != nil {
		return nil, err
	}
	if c.earlyOffered || !c.in.Reliable() {
		// Without 100rel the offer waits for the 200 (answered in the
		// ACK); once made, it is not made again.
		return nil, nil
	}
	body, err := c.inSDP.OfferFrom(m)
	if err != nil {
		return nil, err
	}
	c.earlyOffered = true
	return body, nil
}

// onEarlyRequest serves a request of an early dialog, from the caller
// (PRACK with SDP, UPDATE) or from the callee (UPDATE):
//   - the PRACK that answers byocp's early offer to a Delayed Offer
//     caller completes that leg's offer/answer and points the relay at
//     the caller; an unusable answer fails the call with 488;
//   - an offer on a leg whose offer/answer is complete is answered on its
//     own leg when it only moves media or refreshes the session;
//   - any other offer before the answer (one that changes codecs or
//     direction, or comes while the INVITE's own offer is open) gets 488:
//     byocp does not carry session changes across the legs before the
//     call is answered;
//   - a request without SDP gets 200.
func (c *call) onEarlyRequest(r *sip.EarlyRequest) {
	inLeg := r.CallID() == c.in.CallID()
	legSDP, zoom := c.outSDP, !c.inZoom
	if inLeg {
		legSDP, zoom = c.inSDP, c.inZoom
	}
	switch {
	case r.Body == nil:
		_ = r.Respond(200, "OK", nil)
	case r.Answer && inLeg && c.earlyOffered && !c.earlyAnswered:
		if _, err := c.inSDP.TakeAnswer(r.Body); err != nil {
			c.log.Warn("unusable SDP answer in the caller's PRACK", "error", err)
			_ = r.Respond(488, "Not Acceptable Here", nil)
			c.failSetup(offerNotAcceptable("SDP answer in PRACK: %v", err))
			return
		}
		c.earlyAnswered = true
		if err := c.setLeg(zoom, c.inSDP.Current()); err != nil {
			_ = r.Respond(500, "Server Internal Error", nil)
			c.failSetup(&callError{status: 500, reason: "Server Internal Error", detail: err.Error()})
			return
		}
		_ = r.Respond(200, "OK", nil)
	default:
		off, err := legSDP.ReceiveOffer(r.Body)
		if err != nil {
			respondEarlyRefusal(r, "offer before the answer: "+err.Error())
			return
		}
		if off.Relay {
			legSDP.Rollback()
			respondEarlyRefusal(r, "session change before the answer is not relayed")
			return
		}
		body, err := legSDP.AnswerLocal()
		if err != nil {
			respondEarlyRefusal(r, err.Error())
			return
		}
		if err := c.setLeg(zoom, legSDP.Current()); err != nil {
			c.log.Warn("early media move", "error", err)
		}
		_ = r.Respond(200, "OK", body)
	}
}

func respondEarlyRefusal(r *sip.EarlyRequest, why string) {
	_ = r.Respond(488, "Not Acceptable Here", nil, sip.Header{Name: "Warning", Value: `399 byocp "` + sanitize(why) + `"`})
}

// failSetup gives up the call while it rings: the outgoing INVITE is
// cancelled and the caller gets e.
func (c *call) failSetup(e *callError) {
	if c.setupErr == nil {
		c.setupErr = e
	}
	if c.dialCancel != nil {
		c.dialCancel()
	}
}
