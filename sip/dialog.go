package sip

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// Cause says why a call ended.
type Cause string

// Causes reported by ServerCall.Cause and ClientCall.Cause.
const (
	CauseNone      Cause = ""               // still up
	CauseLocal     Cause = "local hangup"   // Hangup was called
	CauseRemoteBye Cause = "remote BYE"     // the peer sent BYE
	CauseNoAck     Cause = "no ACK"         // the peer never acknowledged our 2xx
	CauseShutdown  Cause = "endpoint close" // the Endpoint was closed
)

// dialog is one established SIP dialog (RFC 3261 §12) seen from our side.
type dialog struct {
	ep           *Endpoint
	key          dialogKey
	local        sip.FromHeader // our URI and tag, written as From
	remote       sip.ToHeader   // peer's URI and tag, written as To
	routeSet     []sip.Uri
	flow         string // remote address of the connection the dialog uses (reliable transports)
	acked        chan struct{}
	ackOnce      sync.Once
	firstAck     []byte // SDP in the ACK of the first 2xx (Delayed Offer's answer); set before acked closes
	done         chan struct{}
	localContact *sip.ContactHeader
	onEnd        func() // called once when the dialog ends, if set

	ownsCallID bool // this side chose the Call-ID (placed the call): RFC 3261 §14.1 glare delays

	mu            sync.Mutex
	remoteTarget  sip.Uri
	cseq          uint32
	remoteCSeq    uint32 // highest CSeq the peer used
	remoteCSeqSet bool
	localSDP      []byte
	ack           *sip.Request // the ACK for our last 2xx to an INVITE, resent on retransmitted 2xx
	cause         Cause
	requests      chan *DialogRequest // set by TakeRequests
	pendingOut    bool                // our re-INVITE or UPDATE offer has no final response yet
	pendingIn     *DialogRequest      // the peer's INVITE or UPDATE offer we have not answered yet
	awaitingAck   *DialogRequest      // the peer's re-INVITE we answered 2xx, until its ACK
}

func newDialog(e *Endpoint, callID, localTag, remoteTag string) *dialog {
	return &dialog{
		ep:           e,
		key:          dialogKey{callID, localTag, remoteTag},
		acked:        make(chan struct{}),
		done:         make(chan struct{}),
		cseq:         rand.Uint32N(1 << 16),
		localContact: e.contact(),
	}
}

// CallID is this leg's Call-ID.
func (d *dialog) CallID() string { return d.key.callID }

// Done is closed when the dialog has ended.
func (d *dialog) Done() <-chan struct{} { return d.done }

// Cause says why the dialog ended; CauseNone while it is up.
func (d *dialog) Cause() Cause {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cause
}

// end marks the dialog ended with cause; it reports false if it had ended already.
func (d *dialog) end(cause Cause) bool {
	d.mu.Lock()
	if d.cause != CauseNone {
		d.mu.Unlock()
		return false
	}
	d.cause = cause
	d.mu.Unlock()
	// Out of the table before Done closes, so that whoever waits on Done
	// sees the dialog gone.
	d.ep.removeDialog(d)
	if d.onEnd != nil {
		d.onEnd()
	}
	close(d.done)
	return true
}

// Hangup sends BYE and ends the dialog. It returns nil at once if the dialog
// had already ended. The dialog counts as ended even if the BYE fails.
func (d *dialog) Hangup(ctx context.Context) error {
	if !d.end(CauseLocal) {
		return nil
	}
	return d.sendBye(ctx)
}

func (d *dialog) sendBye(ctx context.Context) error {
	req := d.newRequest(sip.BYE)
	ctx, cancel := context.WithTimeout(ctx, 64*sip.T1)
	defer cancel()
	res, err := d.ep.client.Do(ctx, req, sipgo.ClientRequestBuild)
	if err != nil {
		return fmt.Errorf("%w: BYE: %v", ErrTransport, err)
	}
	if !res.IsSuccess() && res.StatusCode != 481 {
		return fmt.Errorf("sip: BYE answered %d %s", res.StatusCode, res.Reason)
	}
	return nil
}

// resendAck repeats our ACK for a retransmitted 2xx (RFC 3261 §13.2.2.4).
func (d *dialog) resendAck() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ack == nil {
		return
	}
	if err := d.ep.client.WriteRequest(d.ack, sipgo.ClientRequestBuild); err != nil {
		d.ep.log.Debug("ACK resend failed", "call_id", d.key.callID, "error", err)
	}
}

// newRequest builds an in-dialog request (RFC 3261 §12.2.1.1).
func (d *dialog) newRequest(method sip.RequestMethod) *sip.Request {
	d.mu.Lock()
	target := d.remoteTarget
	var seq uint32
	if method == sip.ACK {
		seq = d.cseq // caller overrides
	} else {
		d.cseq++
		seq = d.cseq
	}
	d.mu.Unlock()

	routes := d.routeSet
	recipient := target
	if len(routes) > 0 && !routes[0].UriParams.Has("lr") {
		// Strict routing: the first route becomes the Request-URI.
		recipient = routes[0]
		routes = append(append([]sip.Uri{}, routes[1:]...), target)
	}
	req := sip.NewRequest(method, *recipient.Clone())
	for _, r := range routes {
		req.AppendHeader(&sip.RouteHeader{Address: *r.Clone()})
	}
	from := sip.FromHeader{DisplayName: d.local.DisplayName, Address: *d.local.Address.Clone(), Params: d.local.Params.Clone()}
	to := sip.ToHeader{DisplayName: d.remote.DisplayName, Address: *d.remote.Address.Clone(), Params: d.remote.Params.Clone()}
	callID := sip.CallIDHeader(d.key.callID)
	maxFwd := sip.MaxForwardsHeader(70)
	req.AppendHeader(&from)
	req.AppendHeader(&to)
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: seq, MethodName: method})
	req.AppendHeader(&maxFwd)
	if method == sip.INVITE || method == sip.UPDATE {
		req.AppendHeader(d.localContact.Clone())
	}
	req.AppendHeader(sip.NewHeader("User-Agent", d.ep.cfg.UserAgent))
	d.ep.prepare(req, d.destination())
	return req
}

// destination keeps in-dialog requests on the connection the dialog uses
// while it is open (RFC 3261 §18.2.2 spirit, pitfall: Zoom connects from an
// ephemeral port); otherwise the route set or remote target decides.
func (d *dialog) destination() string {
	if d.flow == "" || len(d.routeSet) > 0 {
		return ""
	}
	conn, err := d.ep.ua.TransportLayer().GetConnection(d.ep.network, d.flow)
	if err != nil {
		return ""
	}
	conn.TryClose() // drop the reference GetConnection took
	return d.flow
}

// awaitAck retransmits a 2xx over UDP (T1 doubling to T2) until acked is
// closed or 64*T1 pass (RFC 3261 §13.3.1.4). txAcks carries ACKs that
// matched the INVITE server transaction itself (same branch as the INVITE,
// which RFC 6026 §7.1 passes up from the Accepted state); they are given to
// take. The others reach the dialog through Endpoint.onAck.
func (d *dialog) awaitAck(ctx context.Context, acked <-chan struct{}, txAcks <-chan *sip.Request, take func(*sip.Request), resend func() error) error {
	deadline := time.NewTimer(64 * sip.T1)
	defer deadline.Stop()
	interval := sip.T1
	retransmit := time.NewTimer(interval)
	defer retransmit.Stop()
	reliable := d.ep.network != "UDP"
	for {
		select {
		case <-acked:
			return nil
		case a := <-txAcks:
			take(a)
			return nil
		case <-d.done:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return ErrNoAck
		case <-retransmit.C:
			if !reliable {
				if err := resend(); err != nil {
					d.ep.log.Debug("2xx retransmission failed", "error", err)
				}
			}
			interval = min(2*interval, sip.T2)
			retransmit.Reset(interval)
		}
	}
}
