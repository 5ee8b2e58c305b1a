package trunktest_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/byocp/byocp/sdp"
	"github.com/byocp/byocp/sip"
	"github.com/byocp/byocp/trunk/trunktest"
)

func ctxFor(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func newCarrier(t *testing.T, cfg trunktest.Config) *trunktest.Carrier {
	t.Helper()
	c, err := trunktest.NewCarrier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// callPair has fake carrier a call fake carrier b directly (no SBC in
// between) and returns both ends once the call is answered.
func callPair(t *testing.T, ctx context.Context, a, b *trunktest.Carrier) (out, in *trunktest.Call) {
	t.Helper()
	out, err := a.Dial(ctx, b.Addr(), "14155550100", "14155550199")
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	if in, err = b.Accept(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-in.Answered():
	case <-ctx.Done():
		t.Fatal("not answered")
	}
	// Hang up before the carriers close (cleanups run last in, first out),
	// so that no Close sends a BYE to a carrier already closed.
	t.Cleanup(func() {
		_ = out.Hangup(context.Background())
		<-in.Done()
	})
	return out, in
}

func wantDirections(t *testing.T, what string, out, in *trunktest.Call, dOut, dIn sdp.Direction) {
	t.Helper()
	if out.Direction() != dOut || in.Direction() != dIn {
		t.Fatalf("%s: directions %s / %s, want %s / %s", what, out.Direction(), in.Direction(), dOut, dIn)
	}
}

func TestHoldResumePeerToPeer(t *testing.T) {
	ctx := ctxFor(t, 20*time.Second)
	out, in := callPair(t, ctx, newCarrier(t, trunktest.Config{}), newCarrier(t, trunktest.Config{}))
	wantDirections(t, "answered", out, in, sdp.SendRecv, sdp.SendRecv)
	before := out.LocalSDP()
	if err := out.Hold(ctx); err != nil {
		t.Fatal(err)
	}
	wantDirections(t, "held", out, in, sdp.SendOnly, sdp.RecvOnly)
	reqs := in.Requests()
	if len(reqs) != 1 || reqs[0].Method != "INVITE" || reqs[0].Direction != sdp.SendOnly || reqs[0].Status != 200 {
		t.Fatalf("requests %+v", reqs)
	}
	if bytes.Equal(before, out.LocalSDP()) {
		t.Fatal("the hold offer is the SDP of the INVITE")
	}
	// The held side answers a refresh of the holder with its hold kept.
	if err := in.Reinvite(ctx, trunktest.ReinviteOptions{}); err != nil {
		t.Fatal(err)
	}
	wantDirections(t, "after the held side's re-offer", out, in, sdp.SendOnly, sdp.RecvOnly)
	if err := out.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	wantDirections(t, "resumed", out, in, sdp.SendRecv, sdp.SendRecv)
	if err := out.Reinvite(ctx, trunktest.ReinviteOptions{Direction: sdp.Inactive, UseUPDATE: true}); err != nil {
		t.Fatal(err)
	}
	wantDirections(t, "inactive by UPDATE", out, in, sdp.Inactive, sdp.Inactive)
	if r := in.Requests()[2]; r.Method != "UPDATE" || r.Direction != sdp.Inactive {
		t.Fatalf("request %+v", r)
	}
	if err := out.Reinvite(ctx, trunktest.ReinviteOptions{Direction: "sideways"}); err == nil {
		t.Fatal("a bad direction was accepted")
	}
	if err := out.Reinvite(ctx, trunktest.ReinviteOptions{NewKey: true}); err == nil {
		t.Fatal("NewKey on plain RTP was accepted")
	}
}

func TestCodecChangeAndMediaMove(t *testing.T) {
	ctx := ctxFor(t, 20*time.Second)
	out, in := callPair(t, ctx, newCarrier(t, trunktest.Config{}), newCarrier(t, trunktest.Config{}))
	if out.Codec() != "PCMU" || in.Codec() != "PCMU" {
		t.Fatalf("codecs %s / %s", out.Codec(), in.Codec())
	}
	if err := out.Reinvite(ctx, trunktest.ReinviteOptions{Codec: "PCMA"}); err != nil {
		t.Fatal(err)
	}
	if out.Codec() != "PCMA" || in.Codec() != "PCMA" {
		t.Fatalf("codecs after the change %s / %s", out.Codec(), in.Codec())
	}
	if err := out.Reinvite(ctx, trunktest.ReinviteOptions{Codec: "opus"}); err == nil {
		t.Fatal("a codec the carrier does not have was offered")
	}
	old := in.MediaAddr()
	if err := in.Reinvite(ctx, trunktest.ReinviteOptions{MoveMedia: true}); err != nil {
		t.Fatal(err)
	}
	moved := in.MediaAddr()
	if moved == old {
		t.Fatal("MoveMedia kept the port")
	}
	m, err := sdp.Parse(out.RemoteSDP())
	if err != nil || m.Port != int(moved.Port()) {
		t.Fatalf("the far end has port %d, want %d (%v)", m.Port, moved.Port(), err)
	}
	// Both ends send to the new port and from it: everything arrives (as
	// corrupt patterns: a carrier expects the Zoom peer's stream).
	if err := out.SendAudio(ctx, 10); err != nil {
		t.Fatal(err)
	}
	if err := in.SendAudio(ctx, 10); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "audio on the new port", func() bool { return in.Media().Received == 10 && out.Media().Received == 10 })
}

func TestReinviteWithoutSDP(t *testing.T) {
	ctx := ctxFor(t, 20*time.Second)
	out, in := callPair(t, ctx, newCarrier(t, trunktest.Config{}), newCarrier(t, trunktest.Config{}))
	offer := in.LocalSDP()
	if err := out.Reinvite(ctx, trunktest.ReinviteOptions{WithoutSDP: true, Direction: sdp.SendOnly}); err != nil {
		t.Fatal(err)
	}
	reqs, err := in.WaitRequests(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	r := reqs[0]
	if r.Method != "INVITE" || r.SDP != nil || r.Direction != "" || r.AckSDP == nil || r.Status != 200 {
		t.Fatalf("request %+v", r)
	}
	if !bytes.Equal(in.LocalSDP(), offer) {
		t.Fatal("the offer in the 200 is not the current SDP")
	}
	wantDirections(t, "held in the ACK", out, in, sdp.SendOnly, sdp.RecvOnly)
	if !bytes.Equal(out.LocalSDP(), r.AckSDP) {
		t.Fatal("the ACK's SDP is not the holder's answer")
	}
	if err := out.Reinvite(ctx, trunktest.ReinviteOptions{WithoutSDP: true, UseUPDATE: true}); err == nil {
		t.Fatal("an UPDATE without SDP was sent as a re-offer")
	}
}

func TestRejectReoffers(t *testing.T) {
	ctx := ctxFor(t, 20*time.Second)
	b := newCarrier(t, trunktest.Config{Behavior: trunktest.Behavior{RejectReoffers: 488}})
	out, in := callPair(t, ctx, newCarrier(t, trunktest.Config{}), b)
	before := out.LocalSDP()
	err := out.Hold(ctx)
	var se *sip.StatusError
	if !errors.As(err, &se) || se.Response.StatusCode != 488 {
		t.Fatalf("Hold: %v, want a 488", err)
	}
	wantDirections(t, "after the refused hold", out, in, sdp.SendRecv, sdp.SendRecv)
	if !bytes.Equal(out.LocalSDP(), before) {
		t.Fatal("a refused re-offer changed the caller's SDP")
	}
	if r := in.Requests(); len(r) != 1 || r[0].Status != 488 {
		t.Fatalf("requests %+v", r)
	}
	if err := out.Refresh(ctx); err != nil { // UPDATE without SDP: still answered
		t.Fatal(err)
	}
	in.RejectReoffers(0)
	if err := out.Hold(ctx); err != nil {
		t.Fatal(err)
	}
	wantDirections(t, "held", out, in, sdp.SendOnly, sdp.RecvOnly)
}

func TestRefresh(t *testing.T) {
	ctx := ctxFor(t, 20*time.Second)
	a := newCarrier(t, trunktest.Config{RefreshWithReinvite: true})
	out, in := callPair(t, ctx, a, newCarrier(t, trunktest.Config{}))
	offer := out.LocalSDP()
	if err := out.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if err := in.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	r := in.Requests()
	if len(r) != 1 || r[0].Method != "INVITE" || !bytes.Equal(r[0].SDP, offer) {
		t.Fatalf("the refresh is not a re-INVITE with the unchanged SDP: %+v", r)
	}
	if r := out.Requests(); len(r) != 1 || r[0].Method != "UPDATE" || r[0].SDP != nil {
		t.Fatalf("the callee's refresh is not an UPDATE without SDP: %+v", r)
	}
	if out.SessionTimer().Refreshes != 1 || in.SessionTimer().Refreshes != 1 {
		t.Fatalf("refreshes %d / %d", out.SessionTimer().Refreshes, in.SessionTimer().Refreshes)
	}
}

// TestSessionTimer: the caller offers 2 s, the callee lets it refresh; the
// caller refreshes every second until it stops, and the callee hangs up
// when the session expires.
func TestSessionTimer(t *testing.T) {
	ctx := ctxFor(t, 20*time.Second)
	a := newCarrier(t, trunktest.Config{SessionExpires: 2 * time.Second, MinSE: time.Second})
	out, in := callPair(t, ctx, a, newCarrier(t, trunktest.Config{}))
	if st := out.SessionTimer(); st.Interval != 2*time.Second || !st.Refresher {
		t.Fatalf("caller's timer %+v", st)
	}
	if st := in.SessionTimer(); st.Interval != 2*time.Second || st.Refresher {
		t.Fatalf("callee's timer %+v", st)
	}
	reqs, err := in.WaitRequests(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reqs {
		if r.Method != "UPDATE" || r.SessionExpires != 2*time.Second || r.Status != 200 {
			t.Fatalf("refresh %+v", r)
		}
		if v := r.Header("Session-Expires"); v != "2;refresher=uac" {
			t.Fatalf("Session-Expires %q", v)
		}
	}
	out.StopRefreshing()
	select {
	case <-out.Done():
	case <-ctx.Done():
		t.Fatal("the session did not expire")
	}
	if !in.SessionTimer().Expired || !out.HungUpByPeer() {
		t.Fatalf("callee %+v, caller hung up by peer: %v", in.SessionTimer(), out.HungUpByPeer())
	}
	if n := len(in.Requests()); n > 3 {
		t.Fatalf("%d refreshes after StopRefreshing", n-2)
	}
}

// TestSessionTimerCalleeRefreshes: Behavior.Refresher makes the callee the
// refresher, and Min-SE below the callee's MinSE is raised by a 422.
func TestSessionTimerCalleeRefreshes(t *testing.T) {
	ctx := ctxFor(t, 20*time.Second)
	a := newCarrier(t, trunktest.Config{SessionExpires: time.Second, RefreshWithReinvite: true})
	b := newCarrier(t, trunktest.Config{MinSE: 2 * time.Second, Behavior: trunktest.Behavior{Refresher: sip.RefresherUAS}})
	out, err := a.Dial(ctx, b.Addr(), "14155550100", "14155550199")
	if err != nil {
		t.Fatal(err)
	}
	first, err := b.Accept(ctx) // 422 Session Interval Too Small
	if err != nil {
		t.Fatal(err)
	}
	<-first.Done()
	if first.Status() != 422 {
		t.Fatalf("first INVITE: status %d, want 422", first.Status())
	}
	in, err := b.Accept(ctx) // the INVITE again with 2 s
	if err != nil {
		t.Fatal(err)
	}
	<-in.Answered()
	if st := in.SessionTimer(); st.Interval != 2*time.Second || !st.Refresher {
		t.Fatalf("callee's timer %+v (want 2 s after the 422)", st)
	}
	if st := out.SessionTimer(); st.Interval != 2*time.Second || st.Refresher {
		t.Fatalf("caller's timer %+v", st)
	}
	reqs, err := out.WaitRequests(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if reqs[0].Method != "UPDATE" || reqs[0].Header("Session-Expires") != "2;refresher=uac" {
		t.Fatalf("refresh %+v", reqs[0])
	}
	// A re-INVITE of the caller keeps the callee the refresher.
	if err := out.Hold(ctx); err != nil {
		t.Fatal(err)
	}
	var hold trunktest.Request
	for _, r := range in.Requests() {
		if r.Method == "INVITE" {
			hold = r
		}
	}
	if hold.Header == nil || hold.Header("Session-Expires") != "2;refresher=uas" {
		t.Fatalf("hold request %+v", hold)
	}
	if st := in.SessionTimer(); !st.Refresher {
		t.Fatalf("callee's timer after the hold %+v", st)
	}
}

func TestNoSessionTimer(t *testing.T) {
	ctx := ctxFor(t, 20*time.Second)
	a := newCarrier(t, trunktest.Config{SessionExpires: time.Second})
	out, in := callPair(t, ctx, a, newCarrier(t, trunktest.Config{NoSessionTimer: true}))
	if out.SessionTimer().Interval != 0 || in.SessionTimer().Interval != 0 {
		t.Fatalf("timers %+v / %+v", out.SessionTimer(), in.SessionTimer())
	}
	time.Sleep(1200 * time.Millisecond)
	if n := len(in.Requests()); n != 0 {
		t.Fatalf("%d refreshes without a session timer", n)
	}
}

// TestLostReinviteResponse: the lossy carrier drops the first copy of the
// 200 to its re-INVITE; the retransmission completes it.
func TestLostReinviteResponse(t *testing.T) {
	ctx := ctxFor(t, 20*time.Second)
	lossy := newCarrier(t, trunktest.Config{DropFirstReinviteResponse: true})
	out, in := callPair(t, ctx, lossy, newCarrier(t, trunktest.Config{}))
	start := time.Now()
	if err := out.Hold(ctx); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 400*time.Millisecond {
		t.Errorf("Hold took %s: the first 200 was not lost", took)
	}
	if lossy.Dropped() != 1 {
		t.Errorf("Dropped = %d", lossy.Dropped())
	}
	wantDirections(t, "held", out, in, sdp.SendOnly, sdp.RecvOnly)
	if _, err := trunktest.NewCarrier(trunktest.Config{Network: "tcp", DropFirstReinviteResponse: true}); err == nil {
		t.Error("DropFirstReinviteResponse accepted on TCP")
	}
}

func TestStartStopAudio(t *testing.T) {
	ctx := ctxFor(t, 20*time.Second)
	out, in := callPair(t, ctx, newCarrier(t, trunktest.Config{}), newCarrier(t, trunktest.Config{}))
	if err := out.StartAudio(ctx); err != nil {
		t.Fatal(err)
	}
	if err := out.StartAudio(ctx); err != nil { // already running: nothing
		t.Fatal(err)
	}
	waitFor(t, "10 packets", func() bool { return in.Media().Received >= 10 })
	out.StopAudio()
	sent := out.Media().Sent
	time.Sleep(100 * time.Millisecond)
	if out.Media().Sent != sent {
		t.Fatal("audio went on after StopAudio")
	}
	waitFor(t, "every packet", func() bool { return in.Media().Received == sent })
	out.StopAudio() // nothing to stop
	_ = out.Hangup(ctx)
	<-in.Done()
	if err := out.StartAudio(ctx); err == nil {
		t.Fatal("StartAudio on an ended call")
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
