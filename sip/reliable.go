package sip

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Reliable provisional responses (RFC 3262), UAS side. A caller whose
// INVITE has Require: 100rel gets every provisional response above 100
// reliably; one that has only Supported: 100rel gets those that carry a
// session description reliably (early media must not be lost), the others
// not. A reliable provisional carries Require: 100rel and an RSeq, is
// retransmitted from T1, doubling, until its PRACK, and a second one waits
// until the first is acknowledged (§3). A final 2xx waits for the PRACK of
// one that carried a session description. One not acknowledged within
// 64*T1 fails the INVITE with 500 (§3, "SHOULD reject with a 5xx").

// relMode is what the caller's INVITE says about 100rel.
type relMode int

const (
	relNone relMode = iota
	relSupported
	relRequired
)

// reliable1xx is a reliable provisional response sent or waiting to be.
type reliable1xx struct {
	res   *sip.Response
	rseq  uint32
	sdp   bool          // it carries a session description
	offer bool          // that description is byocp's offer (the INVITE had none)
	acked chan struct{} // closed by its PRACK
}

// maxQueued1xx bounds the reliable provisionals waiting behind an
// unacknowledged one; more are dropped (a later final response or
// provisional supersedes them).
const maxQueued1xx = 8

func relModeOf(req *sip.Request) relMode {
	switch {
	case hasOptionTag(headerOf(req, "Require"), "100rel"):
		return relRequired
	case hasOptionTag(firstOf(func(n string) string { return headerOf(req, n) }, "Supported", "k"), "100rel"):
		return relSupported
	}
	return relNone
}

// Reliable reports whether provisional responses with a session
// description go to this caller reliably (its INVITE supports or requires
// 100rel): byocp may then put its offer in one when the INVITE had none,
// and the answer comes in the PRACK (see EarlyRequests).
func (c *ServerCall) Reliable() bool { return c.rel != relNone }

// progressReliable sends a provisional response reliably, or queues it
// behind the one awaiting its PRACK.
func (c *ServerCall) progressReliable(res *sip.Response, sdp []byte) error {
	c.mu.Lock()
	if c.finalSent {
		c.mu.Unlock()
		return ErrAlreadyAnswered
	}
	c.rseq++
	if c.rseq == 0 {
		c.rseq = 1
	}
	r := &reliable1xx{res: res, rseq: c.rseq, sdp: sdp != nil, acked: make(chan struct{})}
	r.offer = r.sdp && c.invite.SDP() == nil && !c.earlySDPSent
	c.earlySDPSent = c.earlySDPSent || r.sdp
	res.AppendHeader(sip.NewHeader("Require", "100rel"))
	res.AppendHeader(sip.NewHeader("RSeq", strconv.FormatUint(uint64(r.rseq), 10)))
	if c.unacked != nil {
		if len(c.queued) >= maxQueued1xx {
			c.mu.Unlock()
			c.ep.log.Debug("reliable provisional dropped: too many waiting for PRACK", "call_id", c.invite.CallID, "status", res.StatusCode)
			return nil
		}
		c.queued = append(c.queued, r)
		c.mu.Unlock()
		return nil
	}
	c.unacked = r
	c.mu.Unlock()
	return c.sendReliable(r)
}

// sendReliable sends r and retransmits it until its PRACK.
func (c *ServerCall) sendReliable(r *reliable1xx) error {
	if err := c.tx.Respond(r.res); err != nil {
		return err
	}
	go c.retransmitReliable(r)
	return nil
}

// retransmitReliable repeats r from T1, doubling, until its PRACK, a final
// response or 64*T1; then the INVITE fails with 500.
func (c *ServerCall) retransmitReliable(r *reliable1xx) {
	defer c.ep.recoverPanic("reliable provisional", c.invite.CallID)
	interval := sip.T1
	deadline := time.NewTimer(64 * sip.T1)
	defer deadline.Stop()
	for {
		t := time.NewTimer(interval)
		select {
		case <-r.acked:
			t.Stop()
			return
		case <-c.final:
			t.Stop()
			return
		case <-deadline.C:
			t.Stop()
			c.ep.log.Warn("reliable provisional not acknowledged: failing the INVITE", "call_id", c.invite.CallID, "rseq", r.rseq)
			_ = c.Reject(500, "Server Internal Error", Header{Name: "Warning", Value: `399 byocp "no PRACK"`})
			return
		case <-t.C:
			if err := c.tx.Respond(r.res); err != nil {
				return
			}
			interval *= 2
		}
	}
}

// onEarlyRequest takes a request of this call's early dialog: a PRACK, or
// an UPDATE.
func (c *ServerCall) onEarlyRequest(req *sip.Request, tx sip.ServerTransaction) {
	if req.Method == sip.PRACK {
		c.onPrack(req, tx)
		return
	}
	if req.Method != sip.UPDATE {
		c.ep.reply(req, tx, 481, "Call/Transaction Does Not Exist")
		return
	}
	r := newEarlyRequest(c.ep, req, tx)
	c.mu.Lock()
	offerOut := c.unacked != nil && c.unacked.offer
	owned := c.earlyOwned
	c.mu.Unlock()
	switch {
	case r.Body == nil:
		_ = r.Respond(200, "OK", nil)
	case offerOut:
		// Our offer in a reliable provisional awaits its answer (RFC 3311 §5.2).
		_ = r.Respond(491, "Request Pending", nil)
	case !owned:
		_ = r.Respond(488, "Not Acceptable Here", nil)
	default:
		c.ep.deliverEarly(c.earlyCh, r, c.final)
	}
}

// onPrack acknowledges the reliable provisional a PRACK names (RFC 3262
// §3): its retransmissions stop and the next one waiting is sent. A PRACK
// that names none gets 481. One with a session description goes to the
// owner of the early requests: the answer to byocp's offer, or an offer.
func (c *ServerCall) onPrack(req *sip.Request, tx sip.ServerTransaction) {
	rseq, cseq, method, ok := parseRAck(headerOf(req, "RAck"))
	c.mu.Lock()
	r := c.unacked
	if !ok || r == nil || rseq != r.rseq || cseq != c.req.CSeq().SeqNo || method != string(sip.INVITE) {
		c.mu.Unlock()
		c.ep.reply(req, tx, 481, "Call/Transaction Does Not Exist")
		return
	}
	c.unacked = nil
	var next *reliable1xx
	if len(c.queued) > 0 && !c.finalSent {
		next, c.queued = c.queued[0], c.queued[1:]
		c.unacked = next
	}
	owned := c.earlyOwned
	c.mu.Unlock()
	close(r.acked)
	if next != nil {
		if err := c.sendReliable(next); err != nil {
			c.ep.log.Debug("reliable provisional not sent", "call_id", c.invite.CallID, "error", err)
		}
	}
	er := newEarlyRequest(c.ep, req, tx)
	er.Answer = r.offer
	if er.Body == nil || !owned {
		_ = er.Respond(200, "OK", nil)
		return
	}
	c.ep.deliverEarly(c.earlyCh, er, c.final)
}

// parseRAck reads an RAck header value: "response-num CSeq-num Method".
func parseRAck(v string) (rseq, cseq uint32, method string, ok bool) {
	f := strings.Fields(v)
	if len(f) != 3 {
		return 0, 0, "", false
	}
	r, err1 := strconv.ParseUint(f[0], 10, 32)
	s, err2 := strconv.ParseUint(f[1], 10, 32)
	if err1 != nil || err2 != nil {
		return 0, 0, "", false
	}
	return uint32(r), uint32(s), strings.ToUpper(f[2]), true
}

// EarlyRequests makes the caller the owner of the requests the caller of
// this INVITE sends in its early dialog before the final response: a
// PRACK with a session description (the answer to byocp's offer in a
// reliable provisional, see EarlyRequest.Answer) and UPDATE with an offer.
// Without an owner, an UPDATE offer gets 488 and a PRACK's description is
// ignored.
func (c *ServerCall) EarlyRequests() <-chan *EarlyRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.earlyOwned = true
	return c.earlyCh
}

// awaitSDPPrack waits, before a 2xx, for the PRACK of a reliable
// provisional that carried a session description (RFC 3262 §3). It
// returns false when the INVITE ended first (cancelled, or failed for want
// of a PRACK) or ctx did.
func (c *ServerCall) awaitSDPPrack(ctx context.Context) bool {
	c.mu.Lock()
	var wait []*reliable1xx
	if c.unacked != nil && c.unacked.sdp {
		wait = append(wait, c.unacked)
	}
	for _, r := range c.queued {
		if r.sdp {
			wait = append(wait, r)
		}
	}
	c.mu.Unlock()
	for _, r := range wait {
		select {
		case <-r.acked:
		case <-c.final:
			return false
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// earlyKey is the key of this call's early dialog in Endpoint.early.
func (c *ServerCall) earlyKey() dialogKey {
	return dialogKey{c.invite.CallID, c.localTag, tagOf(c.req.From().Params)}
}

// supportedExtensions are the option tags byocp implements in a Require
// header of an INVITE.
var supportedExtensions = []string{"100rel", "timer"}

// unsupportedRequire returns the option tags of a Require value that byocp
// does not implement, comma-separated; "" when there are none.
func unsupportedRequire(require string) string {
	var out []string
	for t := range strings.SplitSeq(require, ",") {
		t = strings.TrimSpace(t)
		if t == "" || slices.ContainsFunc(supportedExtensions, func(s string) bool { return strings.EqualFold(s, t) }) {
			continue
		}
		out = append(out, t)
	}
	return strings.Join(out, ", ")
}
