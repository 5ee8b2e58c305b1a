package byocp

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/byocp/byocp/sdp"
	"github.com/byocp/byocp/sip"
)

// Call transfer (RFC 3515 REFER), per side policy (sip.ReferPolicy):
// refused, relayed to the other leg (pass), or carried out by byocp as a
// blind transfer (handle). One transfer at a time per call; it is owned by
// the call's goroutine like everything else, and its NOTIFYs to the
// referrer go out in order from one goroutine of their own.

// referTimeout bounds the REFER byocp relays and each NOTIFY it sends.
const referTimeout = 32 * time.Second

// transferSubscription is how long byocp says a transfer's implicit
// subscription lasts in its first NOTIFY (RFC 3515 §2.4.4).
const transferSubscription = "active;expires=120"

// transfer is a REFER being relayed (pass) or carried out (handle).
type transfer struct {
	mode     sip.ReferPolicy
	referrer *leg // the leg the REFER came from
	other    *leg // pass: the leg it was relayed to; handle: the transferee's
	notes    chan note
	cancel   context.CancelFunc // handle: gives up the call to the target
	// then runs after the last NOTIFY has been sent: the referrer's BYE
	// once a handled transfer is connected, so that it never overtakes
	// the NOTIFY that reports it.
	then func(context.Context) error

	mu          sync.Mutex
	closed      bool            // the call ended
	placed      *sip.ClientCall // handle: answered, not yet taken by the engine
	notesClosed bool
}

// note is one NOTIFY to the referrer.
type note struct {
	code  int
	state string // Subscription-State value
}

// onRefer applies the referrer side's policy to a REFER.
func (c *call) onRefer(from, to *leg, r *sip.DialogRequest) {
	policy := from.side.ReferPolicy()
	if policy == "" || policy == sip.ReferReject {
		_ = r.Respond(403, "Forbidden", nil)
		return
	}
	if c.transfer != nil || c.offer != nil {
		_ = r.Respond(491, "Request Pending", nil)
		return
	}
	target, err := sip.ParseReferTo(r.Header("Refer-To"))
	if err != nil {
		_ = r.Respond(400, "Bad Request", nil, warning(err.Error()))
		return
	}
	number, err := from.side.NumberToE164(target.URI.User)
	if err != nil {
		_ = r.Respond(403, "Forbidden", nil, warning("Refer-To: "+err.Error()))
		return
	}
	c.log.Info("transfer requested", "by", from.name, "policy", string(policy), "target", number, "replaces", target.Replaces != "")
	if policy == sip.ReferPass {
		c.passRefer(from, to, r, sip.ReferTo{URI: to.side.TargetURI(number), Replaces: target.Replaces})
		return
	}
	if target.Replaces != "" {
		// An attended transfer names a dialog of the referrer's: byocp
		// does not join calls it did not set up that way.
		_ = r.Respond(403, "Forbidden", nil, warning("Replaces in Refer-To is not handled"))
		return
	}
	c.handleRefer(from, to, r, number)
}

func warning(text string) sip.Header {
	return sip.Header{Name: "Warning", Value: `399 byocp "` + sanitize(text) + `"`}
}

// passRefer relays a REFER to the other leg with target as its Refer-To;
// the other leg's answer, mapped, answers the referrer.
func (c *call) passRefer(from, to *leg, r *sip.DialogRequest, target sip.ReferTo) {
	tr := c.newTransfer(sip.ReferPass, from, to)
	sipLeg := to.sip
	referredBy := "<" + to.side.TargetURI(c.partyOf(from)).String() + ">"
	go func() {
		ctx, cancel := context.WithTimeout(c.b.ctx, referTimeout)
		defer cancel()
		_, err := sipLeg.Send(ctx, "REFER", nil, "", sip.Header{Name: "Refer-To", Value: target.String()},
			sip.Header{Name: "Referred-By", Value: referredBy})
		c.post(func() {
			var se *sip.StatusError
			switch {
			case err == nil:
				_ = r.Respond(202, "Accepted", nil)
				return
			case errors.As(err, &se):
				status, reason := mapFailure(se.Response.StatusCode)
				_ = r.Respond(status, reason, nil)
			default:
				_ = r.Respond(503, "Service Unavailable", nil)
			}
			c.log.Info("relayed REFER refused", "to", to.name, "error", err)
			c.closeTransfer(tr)
		})
	}()
}

// onNotify takes a NOTIFY. One about a REFER byocp relayed (pass) goes to
// the referrer with its sipfrag reduced to a status line and its failure
// codes mapped; the notifier gets 200 at once. Others get 481: byocp holds
// no other subscription.
func (c *call) onNotify(from *leg, r *sip.DialogRequest) {
	tr := c.transfer
	event, _, _ := strings.Cut(r.Header("Event"), ";")
	if tr == nil || tr.mode != sip.ReferPass || tr.other != from || !strings.EqualFold(strings.TrimSpace(event), "refer") {
		_ = r.Respond(481, "Subscription Does Not Exist", nil)
		return
	}
	_ = r.Respond(200, "OK", nil)
	code, ok := sip.SipfragStatus(r.Body)
	if !ok {
		return
	}
	state := "active"
	if strings.HasPrefix(strings.ToLower(strings.TrimSpace(r.Header("Subscription-State"))), "terminated") {
		state = "terminated;reason=noresource"
	}
	c.notifyReferrer(tr, code, state)
	if strings.HasPrefix(state, "terminated") {
		c.closeTransfer(tr)
	}
}

// handleRefer carries out a blind transfer: 202 to the referrer, then a
// call from the transferee to number on the referrer's side. The outcome
// comes back to transferPlaced on the call's goroutine.
func (c *call) handleRefer(from, to *leg, r *sip.DialogRequest, number string) {
	slot := c.slotOf(from)
	port := c.inPort
	if slot == 1 {
		port = c.outPort
	}
	legSDP, err := sdp.NewLeg(c.legSDPConfig(from.zoom, port))
	if err != nil {
		_ = r.Respond(500, "Server Internal Error", nil)
		return
	}
	cur := c.sdpOf(to).Current()
	m := sdp.Media{Direction: sdp.SendRecv, Ptime: cur.Ptime}
	for _, f := range cur.Codecs {
		m.Formats = append(m.Formats, f.Format)
	}
	offer, err := legSDP.OfferFrom(m)
	if err != nil {
		_ = r.Respond(488, "Not Acceptable Here", nil, warning("transfer offer: "+err.Error()))
		return
	}
	if err := r.Respond(202, "Accepted", nil); err != nil {
		return
	}
	tr := c.newTransfer(sip.ReferHandle, from, to)
	c.notifyReferrer(tr, 100, transferSubscription)
	ctx, cancel := context.WithCancel(c.b.ctx)
	tr.cancel = cancel
	caller := sip.Party{Number: c.partyOf(to)}
	side := from.side
	go func() {
		defer cancel()
		placed, err := side.Dial(ctx, caller, sip.Party{Number: number}, offer, sip.EarlyHooks{
			OnProvisional: func(res sip.Response) {
				tr.send(note{code: res.StatusCode, state: "active"})
			},
		})
		if err == nil && !tr.hold(placed) {
			// The call ended while the target answered: nobody takes it.
			ctx, stop := context.WithTimeout(context.Background(), hangupTimeout)
			_ = placed.Hangup(ctx)
			stop()
			return
		}
		c.post(func() { c.transferPlaced(tr, legSDP, err) })
	}()
}

// transferPlaced completes a blind transfer once the call to the target
// has its outcome. Answered, it takes the referrer's place: same media
// port and relay side, its own offer/answer state and session timer; the
// transferee's leg is re-offered the new media, the referrer is told 200
// and hung up. Failed, the referrer is told the mapped failure and the
// call goes on as it was.
func (c *call) transferPlaced(tr *transfer, legSDP *sdp.Leg, err error) {
	placed := tr.take()
	if err != nil || placed == nil {
		var se *sip.StatusError
		code := 503
		if errors.As(err, &se) {
			code, _ = mapFailure(se.Response.StatusCode)
		}
		c.log.Info("transfer failed", "error", err)
		c.notifyReferrer(tr, code, "terminated;reason=noresource")
		c.closeTransfer(tr)
		return
	}
	answer := placed.Answer()
	m, aerr := legSDP.TakeAnswer(answer.SDP())
	if aerr != nil {
		c.log.Warn("transfer target's answer unusable", "error", aerr)
		go c.hangupLeg(placed.Hangup)
		c.notifyReferrer(tr, 488, "terminated;reason=noresource")
		c.closeTransfer(tr)
		return
	}
	old := tr.referrer
	now := time.Now()
	n := &leg{name: old.name, zoom: old.zoom, sip: placed, reqs: placed.TakeRequests(), timers: old.side.SessionTimers(),
		timer:  dialledTimer(sip.SessionTimerOf(answer.Header), old.side.SessionTimers(), now),
		update: allows(answer.Header("Allow"), "UPDATE"), infoTypes: old.infoTypes, side: old.side}
	slot := c.slotOf(old)
	c.legs[slot] = n
	if slot == 0 {
		c.inSDP = legSDP
	} else {
		c.outSDP = legSDP
	}
	if old.zoom {
		c.rec.ZoomCallID = placed.CallID()
	} else {
		c.rec.CarrierCallID = placed.CallID()
	}
	if err := c.setLeg(n.zoom, legSDP.Current()); err != nil {
		c.log.Warn("relay not updated for the transfer target", "error", err)
	}
	c.log.Info("transfer connected", "target_call_id", placed.CallID())
	c.rec.Transferred = true
	c.publish()
	if c.offer == nil {
		c.reoffer(tr.other, m)
	} else {
		c.log.Warn("transferee not re-offered: a re-offer is in flight")
	}
	c.mediaSince = now
	c.notifyReferrer(tr, 200, "terminated;reason=noresource")
	tr.then = old.sip.Hangup // written before closeNotes: the NOTIFY goroutine reads it after
	c.closeTransfer(tr)
}

// newTransfer starts tracking a transfer and its NOTIFYs to the referrer.
func (c *call) newTransfer(mode sip.ReferPolicy, referrer, other *leg) *transfer {
	tr := &transfer{mode: mode, referrer: referrer, other: other, notes: make(chan note, 16)}
	c.transfer = tr
	sipLeg := referrer.sip
	go func() {
		defer func() {
			if tr.then != nil {
				c.hangupLeg(tr.then)
			}
		}()
		for n := range tr.notes {
			ctx, cancel := context.WithTimeout(c.b.ctx, referTimeout)
			_, err := sipLeg.Send(ctx, "NOTIFY", sip.Sipfrag(n.code, reasonPhrase(n.code)), "message/sipfrag;version=2.0",
				sip.Header{Name: "Event", Value: "refer"}, sip.Header{Name: "Subscription-State", Value: n.state})
			cancel()
			if err != nil {
				c.log.Debug("NOTIFY to the referrer failed", "error", err)
			}
		}
	}()
	return tr
}

// notifyReferrer queues a NOTIFY for the referrer.
func (c *call) notifyReferrer(tr *transfer, code int, state string) {
	tr.send(note{code: code, state: state})
}

// closeTransfer ends byocp's part in a transfer: no more NOTIFYs.
func (c *call) closeTransfer(tr *transfer) {
	if c.transfer == tr {
		c.transfer = nil
	}
	tr.closeNotes()
}

// send queues a NOTIFY. Progress is dropped when the queue is nearly full
// (a slow referrer); the final NOTIFY always has room.
func (tr *transfer) send(n note) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.notesClosed || !strings.HasPrefix(n.state, "terminated") && len(tr.notes) >= cap(tr.notes)-2 {
		return
	}
	tr.notes <- n
}

func (tr *transfer) closeNotes() {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if !tr.notesClosed {
		tr.notesClosed = true
		close(tr.notes)
	}
}

// endTransfer gives up a transfer in progress when the call ends; a call
// to the target answered but not yet taken is hung up.
func (c *call) endTransfer() {
	tr := c.transfer
	if tr == nil {
		return
	}
	c.transfer = nil
	if tr.cancel != nil {
		tr.cancel()
	}
	tr.closeNotes()
	if placed := tr.close(); placed != nil {
		go c.hangupLeg(placed.Hangup)
	}
}

// hold keeps the answered call to the target for the engine; false once
// the call has ended.
func (tr *transfer) hold(placed *sip.ClientCall) bool {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.closed {
		return false
	}
	tr.placed = placed
	return true
}

func (tr *transfer) take() *sip.ClientCall {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	p := tr.placed
	tr.placed = nil
	return p
}

func (tr *transfer) close() *sip.ClientCall {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.closed = true
	p := tr.placed
	tr.placed = nil
	return p
}

// slotOf is a leg's position: 0 for the caller's leg, 1 for the callee's.
func (c *call) slotOf(l *leg) int {
	if c.legs[1] == l {
		return 1
	}
	return 0
}

// partyOf is the number of the party on leg l, in E.164.
func (c *call) partyOf(l *leg) string {
	if c.slotOf(l) == 0 {
		return c.rec.Caller
	}
	return c.rec.Callee
}
