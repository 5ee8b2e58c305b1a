package sip

import (
	"sync"

	"github.com/emiago/sipgo/sip"
)

// maxQueued bounds the responses queued for one INVITE: a peer that floods
// provisional responses loses the excess, never the final.
const maxQueued = 64

// arrivals are the responses to one outgoing INVITE, queued in the order
// they arrived. sipgo hands every message to its transaction layer on a
// goroutine of its own, so a 200 right behind a 180 (in the same TLS
// segment, say) can reach the transaction first, which then drops the 180
// as late. The transport's own handler runs on the reader goroutine in
// arrival order; Invite takes its decisions from this queue and only
// drains the transaction's channel.
type arrivals struct {
	notify chan struct{} // a response was queued

	mu    sync.Mutex
	queue []*sip.Response
}

// take returns the queued responses, oldest first, and empties the queue.
func (a *arrivals) take() []*sip.Response {
	a.mu.Lock()
	defer a.mu.Unlock()
	q := a.queue
	a.queue = nil
	return q
}

func (a *arrivals) add(res *sip.Response) {
	a.mu.Lock()
	if len(a.queue) < maxQueued || !res.IsProvisional() {
		a.queue = append(a.queue, res)
	}
	a.mu.Unlock()
	select {
	case a.notify <- struct{}{}:
	default:
	}
}

// inviteKey names an INVITE transaction by its Call-ID and CSeq number,
// both known before it is sent.
type inviteKey struct {
	callID string
	cseq   uint32
}

// orderBook maps each INVITE being placed to its arrivals.
type orderBook struct {
	mu      sync.Mutex
	invites map[inviteKey]*arrivals
}

func (b *orderBook) watch(k inviteKey) *arrivals {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.invites == nil {
		b.invites = make(map[inviteKey]*arrivals)
	}
	a := &arrivals{notify: make(chan struct{}, 1)}
	b.invites[k] = a
	return a
}

func (b *orderBook) unwatch(k inviteKey) {
	b.mu.Lock()
	delete(b.invites, k)
	b.mu.Unlock()
}

// observe runs on the transport's reader goroutine for every message, in
// arrival order: it queues the responses to INVITEs being placed.
func (e *Endpoint) observe(msg sip.Message) {
	res, ok := msg.(*sip.Response)
	if !ok {
		return
	}
	cseq, callID := res.CSeq(), res.CallID()
	if cseq == nil || callID == nil || cseq.MethodName != sip.INVITE {
		return
	}
	e.order.mu.Lock()
	a := e.order.invites[inviteKey{callID.Value(), cseq.SeqNo}]
	e.order.mu.Unlock()
	if a != nil {
		a.add(res)
	}
}
