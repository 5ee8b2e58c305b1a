package byocp_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/byocp/byocp"
	"github.com/byocp/byocp/peering/peeringtest"
	"github.com/byocp/byocp/sip"
)

// With Trunk.Refer "pass", a carrier REFER goes to Zoom with Refer-To in
// E.164 at Zoom's address, Replaces kept; Zoom's 202 answers the carrier
// and Zoom's NOTIFYs reach the carrier as status lines.
func TestReferPassedFromCarrierToZoom(t *testing.T) {
	r := newRig(t, func(c *byocp.Config) { c.Trunk.Refer = sip.ReferPass })
	r.zoom.SetBehavior(peeringtest.Behavior{AcceptRefer: true})
	ctx := ctxFor(t, 20*time.Second)
	out, in := r.carrierCallsZoom(t, ctx)

	if err := out.Refer(ctx, "sip:14155550123@carrier.example"); err != nil {
		t.Fatalf("REFER: %v", err)
	}
	got, err := in.WaitRequests(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	refer := got[0]
	if refer.Method != "REFER" {
		t.Fatalf("Zoom got %s, want REFER", refer.Method)
	}
	rt, err := sip.ParseReferTo(refer.Header("Refer-To"))
	if err != nil || rt.URI.User != "+14155550123" || rt.URI.Host == "carrier.example" || rt.Replaces != "" {
		t.Errorf("Refer-To at Zoom %q (%+v, %v): want +14155550123 at Zoom's address", refer.Header("Refer-To"), rt, err)
	}
	notifies, err := out.WaitRequests(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	var frags []string
	for _, n := range notifies {
		if n.Method != "NOTIFY" || !strings.EqualFold(n.Header("Event"), "refer") {
			t.Errorf("carrier got %s Event %q, want NOTIFY Event refer", n.Method, n.Header("Event"))
		}
		frags = append(frags, strings.TrimSpace(string(n.Body)))
	}
	if len(frags) != 2 || frags[0] != "SIP/2.0 100 Trying" || frags[1] != "SIP/2.0 200 OK" ||
		!strings.HasPrefix(notifies[1].Header("Subscription-State"), "terminated") {
		t.Errorf("NOTIFYs at the carrier %q, last state %q", frags, notifies[1].Header("Subscription-State"))
	}

	// An attended transfer: Replaces travels as it came.
	const replaces = "abc@192.0.2.9;to-tag=1;from-tag=2"
	if err := out.Refer(ctx, "sip:14155550123@carrier.example?Replaces=abc%40192.0.2.9%3Bto-tag%3D1%3Bfrom-tag%3D2"); err != nil {
		t.Fatalf("second REFER: %v", err)
	}
	got, err = in.WaitRequests(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if rt, err := sip.ParseReferTo(got[1].Header("Refer-To")); err != nil || rt.Replaces != replaces {
		t.Errorf("Replaces at Zoom %q (%v), want %q", got[1].Header("Refer-To"), err, replaces)
	}
	exchangeAudio(t, out, in)
	_ = out.Hangup(ctx)
	waitDone(t, in, "zoom leg")
}

// With Peering.Refer "handle", byocp carries out Zoom's blind transfer: it
// calls the target through Zoom from the carrier's number, re-INVITEs the
// carrier with the new media, tells the referrer 100 then 200 in NOTIFYs
// and hangs it up; the carrier then talks with the target.
func TestReferHandledByBridge(t *testing.T) {
	r := newRig(t, func(c *byocp.Config) { c.Peering.Refer = sip.ReferHandle })
	ctx := ctxFor(t, 30*time.Second)
	out, in := r.carrierCallsZoom(t, ctx)
	exchangeAudio(t, out, in)

	if err := in.Refer(ctx, "sip:+442079460001@sbc.example"); err != nil {
		t.Fatalf("REFER: %v", err)
	}
	target, err := r.zoom.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if inv := target.Invite(); inv.RequestURI.User != "+442079460001" || inv.Caller() != "+14155550100" {
		t.Errorf("transfer call to %s from %s, want +442079460001 from +14155550100", inv.RequestURI.User, inv.Caller())
	}
	answered(t, target)
	waitDone(t, in, "referrer's leg")
	if !in.HungUpByPeer() {
		t.Error("referrer's leg not ended by the bridge")
	}
	var frags []string
	for _, rq := range in.Requests() {
		if rq.Method == "NOTIFY" {
			frags = append(frags, strings.TrimSpace(string(rq.Body)))
		}
	}
	if len(frags) == 0 || frags[0] != "SIP/2.0 100 Trying" || frags[len(frags)-1] != "SIP/2.0 200 OK" {
		t.Errorf("referrer's NOTIFYs %q: want 100 Trying first, 200 OK last", frags)
	}
	reinvites, err := out.WaitRequests(ctx, 1)
	if err != nil || reinvites[0].Method != "INVITE" || reinvites[0].SDP == nil {
		t.Fatalf("carrier got %+v (%v), want a re-INVITE with the new media", reinvites, err)
	}
	exchangeAudio(t, out, target)
	// The carrier heard the referrer and then the target as one stream:
	// one SSRC, no jump, one marked resynchronisation (RFC 7160).
	if m := out.Media(); m.SSRCChanges != 0 || m.SeqJumps != 0 || m.Resyncs != 1 {
		t.Errorf("carrier's media %+v, want one continuous stream across the transfer", m)
	}
	_ = out.Hangup(ctx)
	waitDone(t, target, "target's leg")
	rec := r.record(t)
	if !rec.Transferred || rec.ZoomCallID != target.Invite().CallID {
		t.Errorf("record Transferred=%v ZoomCallID=%q, want true and the target call's", rec.Transferred, rec.ZoomCallID)
	}
}

// A handled transfer whose target is busy is reported to the referrer
// (486 in the final NOTIFY) and the call goes on; an attended transfer
// (Replaces) is refused with 403.
func TestReferHandledTargetBusy(t *testing.T) {
	r := newRig(t, func(c *byocp.Config) { c.Peering.Refer = sip.ReferHandle })
	ctx := ctxFor(t, 30*time.Second)
	out, in := r.carrierCallsZoom(t, ctx)
	var se *sip.StatusError
	if err := in.Refer(ctx, "sip:+442079460001@sbc.example?Replaces=x%40y%3Bto-tag%3D1%3Bfrom-tag%3D2"); !errors.As(err, &se) || se.Response.StatusCode != 403 {
		t.Fatalf("REFER with Replaces: %v, want 403", err)
	}
	r.zoom.SetBehavior(peeringtest.Behavior{Status: 486})
	if err := in.Refer(ctx, "sip:+442079460001@sbc.example"); err != nil {
		t.Fatalf("REFER: %v", err)
	}
	if _, err := r.zoom.Accept(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := in.WaitRequests(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if last := strings.TrimSpace(string(got[len(got)-1].Body)); last != "SIP/2.0 486 Busy Here" {
		t.Errorf("final NOTIFY %q, want SIP/2.0 486 Busy Here", last)
	}
	exchangeAudio(t, out, in)
	_ = out.Hangup(ctx)
	waitDone(t, in, "zoom leg")
}

// The carrier's blind transfer with Trunk.Refer "handle": the target is
// called through the trunk in the carrier's number format, takes the
// carrier's place (the caller's leg), and Zoom is re-offered the new
// media on its SRTP leg.
func TestReferHandledFromCarrier(t *testing.T) {
	r := newRig(t, func(c *byocp.Config) { c.Trunk.Refer = sip.ReferHandle })
	ctx := ctxFor(t, 30*time.Second)
	out, in := r.carrierCallsZoom(t, ctx)
	exchangeAudio(t, out, in)
	if err := out.Refer(ctx, "sip:14155550123@carrier.example"); err != nil {
		t.Fatalf("REFER: %v", err)
	}
	target, err := r.carrier.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if inv := target.Invite(); !strings.HasSuffix(inv.RequestURI.User, "4155550123") || inv.Caller() != "+442079460000" {
		t.Errorf("transfer call to %q from %q, want +14155550123 (carrier format) from +442079460000", inv.RequestURI.User, inv.Caller())
	}
	answered(t, target)
	waitDone(t, out, "referrer's leg")
	reinvites, err := in.WaitRequests(ctx, 1)
	if err != nil || reinvites[0].Method != "INVITE" {
		t.Fatalf("Zoom got %+v (%v), want a re-INVITE", reinvites, err)
	}
	exchangeAudio(t, target, in)
	// Zoom's SRTP stream from byocp went on across the transfer.
	if m := in.Media(); m.SSRCChanges != 0 || m.SeqJumps != 0 || m.Resyncs != 1 {
		t.Errorf("Zoom's media %+v, want one continuous stream across the transfer", m)
	}
	_ = in.Hangup(ctx)
	waitDone(t, target, "target's leg")
	if rec := r.record(t); !rec.Transferred || rec.CarrierCallID != target.Invite().CallID {
		t.Errorf("record Transferred=%v CarrierCallID=%q", rec.Transferred, rec.CarrierCallID)
	}
}
