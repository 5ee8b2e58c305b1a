package sip

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// pracker acknowledges the reliable provisional responses (RFC 3262) to
// one outgoing INVITE: each 1xx with Require: 100rel and an RSeq gets one
// PRACK in its early dialog, retransmissions of it none.
type pracker struct {
	e      *Endpoint
	invite *sip.Request
	dest   string

	mu   sync.Mutex
	seen map[string]uint32 // early dialog (To tag) -> highest RSeq acknowledged
	cseq uint32            // CSeq of the last PRACK, above the INVITE's
}

func newPracker(e *Endpoint, invite *sip.Request, dest string) *pracker {
	return &pracker{e: e, invite: invite, dest: dest, seen: make(map[string]uint32), cseq: invite.CSeq().SeqNo}
}

// take sends the PRACK a reliable provisional response asks for.
func (p *pracker) take(res *sip.Response) {
	if !res.IsProvisional() || res.StatusCode == 100 || !hasOptionTag(headerOf(res, "Require"), "100rel") {
		return
	}
	rseq, err := strconv.ParseUint(strings.TrimSpace(headerOf(res, "RSeq")), 10, 32)
	to, contact := res.To(), res.Contact()
	if err != nil || rseq == 0 || to == nil || contact == nil {
		return // not a usable reliable provisional: nothing to acknowledge
	}
	tag := tagOf(to.Params)
	p.mu.Lock()
	if last, ok := p.seen[tag]; ok && uint32(rseq) <= last {
		p.mu.Unlock()
		return // a retransmission
	}
	p.seen[tag] = uint32(rseq)
	p.cseq++
	cseq := p.cseq
	p.mu.Unlock()

	req := sip.NewRequest(sip.PRACK, *contact.Address.Clone())
	for _, h := range slices.Backward(res.GetHeaders("Record-Route")) {
		if rr, ok := h.(*sip.RecordRouteHeader); ok {
			req.AppendHeader(&sip.RouteHeader{Address: *rr.Address.Clone()})
		}
	}
	req.AppendHeader(sip.HeaderClone(p.invite.From()))
	req.AppendHeader(sip.HeaderClone(to))
	req.AppendHeader(sip.HeaderClone(p.invite.CallID()))
	req.AppendHeader(&sip.CSeqHeader{SeqNo: cseq, MethodName: sip.PRACK})
	maxFwd := sip.MaxForwardsHeader(70)
	req.AppendHeader(&maxFwd)
	req.AppendHeader(sip.NewHeader("RAck", strconv.FormatUint(rseq, 10)+" "+strconv.FormatUint(uint64(p.invite.CSeq().SeqNo), 10)+" INVITE"))
	req.AppendHeader(sip.NewHeader("User-Agent", p.e.cfg.UserAgent))
	p.e.prepare(req, p.dest)
	go func() {
		ctx, cancel := context.WithTimeout(p.e.ctx, 64*sip.T1)
		defer cancel()
		if _, err := p.e.client.Do(ctx, req, sipgo.ClientRequestBuild); err != nil {
			p.e.log.Debug("PRACK failed", "call_id", callIDOf(req), "error", err)
		}
	}()
}

func headerOf(m interface{ GetHeader(string) sip.Header }, name string) string {
	if h := m.GetHeader(name); h != nil {
		return h.Value()
	}
	return ""
}
