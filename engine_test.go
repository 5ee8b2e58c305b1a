package byocp_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/byocp/byocp"
	"github.com/byocp/byocp/sdp"
	"github.com/byocp/byocp/sip"
	"github.com/byocp/byocp/trunk/trunktest"
)

// TestMediaTimeoutEndsSilentCall: an answered call on which no RTP flows
// ends after MediaTimeout with BYE on both legs, and the record says why.
func TestMediaTimeoutEndsSilentCall(t *testing.T) {
	r := newRig(t, func(c *byocp.Config) { c.MediaTimeout = 300 * time.Millisecond })
	ctx := ctxFor(t, 20*time.Second)
	out, in := r.carrierCallsZoom(t, ctx)
	waitDone(t, out, "carrier leg")
	waitDone(t, in, "zoom leg")
	if !out.HungUpByPeer() || !in.HungUpByPeer() {
		t.Error("both legs should get BYE from the Bridge")
	}
	rec := r.record(t)
	if rec.HangupBy != byocp.HangupBridge || !strings.Contains(rec.Reason, "media timeout") {
		t.Errorf("record: hung up by %q, reason %q", rec.HangupBy, rec.Reason)
	}
}

// TestMediaFlowKeepsCall: while both legs send RTP the call stays up well
// past MediaTimeout; when the media stops, the timeout ends it.
func TestMediaFlowKeepsCall(t *testing.T) {
	r := newRig(t, func(c *byocp.Config) { c.MediaTimeout = 600 * time.Millisecond })
	ctx := ctxFor(t, 20*time.Second)
	out, in := r.zoomCallsCarrier(t, ctx)
	// 75 packets of 20 ms each way: 1.5 s of audio, almost 4 timeouts.
	if err := out.TalkWith(ctx, in, 75); err != nil {
		t.Fatal(err)
	}
	select {
	case <-out.Done():
		t.Fatal("call ended while media flowed")
	default:
	}
	waitDone(t, out, "zoom leg")
	rec := r.record(t)
	if !strings.Contains(rec.Reason, "media timeout") || rec.Duration() < time.Second {
		t.Errorf("record: reason %q after %s", rec.Reason, rec.Duration())
	}
}

// TestNoMediaTimeoutWhenDisabled: a negative MediaTimeout leaves a silent
// call up.
func TestNoMediaTimeoutWhenDisabled(t *testing.T) {
	r := newRig(t, func(c *byocp.Config) { c.MediaTimeout = -1 })
	ctx := ctxFor(t, 20*time.Second)
	out, in := r.carrierCallsZoom(t, ctx)
	time.Sleep(500 * time.Millisecond)
	select {
	case <-out.Done():
		t.Fatal("silent call ended with the media timeout disabled")
	default:
	}
	_ = out.Hangup(ctx)
	waitDone(t, in, "zoom leg")
}

// phone is a call of either test peer with the abilities of a phone or
// PBX: both *trunktest.Call and *peeringtest.Call.
type phone interface {
	fakeCall
	Hold(ctx context.Context) error
	Resume(ctx context.Context) error
	Reinvite(ctx context.Context, o trunktest.ReinviteOptions) error
	Refresh(ctx context.Context) error
	StopRefreshing()
	SessionTimer() trunktest.SessionTimer
	Direction() sdp.Direction
	Codec() string
	Requests() []trunktest.Request
	WaitRequests(ctx context.Context, n int) ([]trunktest.Request, error)
	RejectReoffers(status int)
	GlareDelay() time.Duration
	HungUpByPeer() bool
	SendInfo(ctx context.Context, contentType string, body []byte) error
	Refer(ctx context.Context, target string) error
}

// callBothWays runs f on a carrier->Zoom call and on a Zoom->carrier call,
// with the carrier's and Zoom's ends of each.
func callBothWays(t *testing.T, edit func(*byocp.Config), f func(t *testing.T, r *rig, carrier, zoom phone)) {
	t.Run("carrier->zoom", func(t *testing.T) {
		r := newRig(t, edit)
		out, in := r.carrierCallsZoom(t, ctxFor(t, 30*time.Second))
		f(t, r, out, in)
	})
	t.Run("zoom->carrier", func(t *testing.T) {
		r := newRig(t, edit)
		out, in := r.zoomCallsCarrier(t, ctxFor(t, 30*time.Second))
		f(t, r, in, out)
	})
}

// lastOffer is the last in-dialog request p received, failing the test
// when it received fewer than n.
func lastOffer(t *testing.T, p phone, n int) trunktest.Request {
	t.Helper()
	reqs, err := p.WaitRequests(ctxFor(t, 10*time.Second), n)
	if err != nil {
		t.Fatalf("%s: %d in-dialog requests, want %d: %v", p.Description(), len(p.Requests()), n, err)
	}
	return reqs[n-1]
}

// TestHoldAndResumeRelayed: hold (sendonly) and resume from either side,
// in both call directions, reach the other side as re-offers with the
// matching direction, and audio flows again after the resume.
func TestHoldAndResumeRelayed(t *testing.T) {
	callBothWays(t, nil, func(t *testing.T, r *rig, carrier, zoom phone) {
		ctx := ctxFor(t, 30*time.Second)
		for _, tc := range []struct {
			name         string
			holder, held phone
		}{{"Zoom holds", zoom, carrier}, {"carrier holds", carrier, zoom}} {
			before := len(tc.held.Requests())
			if err := tc.holder.Hold(ctx); err != nil {
				t.Fatalf("%s: Hold: %v", tc.name, err)
			}
			if got := lastOffer(t, tc.held, before+1); got.Method != "INVITE" || got.Direction != sdp.SendOnly {
				t.Errorf("%s: the held side got %s %q, want a re-INVITE with sendonly", tc.name, got.Method, got.Direction)
			}
			if d := tc.held.Direction(); d != sdp.RecvOnly {
				t.Errorf("%s: the held side's direction is %q, want recvonly", tc.name, d)
			}
			if err := tc.holder.Resume(ctx); err != nil {
				t.Fatalf("%s: Resume: %v", tc.name, err)
			}
			if got := lastOffer(t, tc.held, before+2); got.Direction != sdp.SendRecv {
				t.Errorf("%s: resume reached the other side as %q", tc.name, got.Direction)
			}
			exchangeAudio(t, carrier, zoom)
		}
		_ = carrier.Hangup(ctx)
		waitDone(t, zoom, "zoom leg")
	})
}

// TestMediaChangesAnsweredOnTheirLeg: a refresh, a media move and a re-key
// are answered on the leg that sent them and never reach the other side;
// audio keeps flowing with the new address and keys.
func TestMediaChangesAnsweredOnTheirLeg(t *testing.T) {
	callBothWays(t, nil, func(t *testing.T, r *rig, carrier, zoom phone) {
		ctx := ctxFor(t, 30*time.Second)
		for _, tc := range []struct {
			name string
			p    phone
			do   func() error
		}{
			{"Zoom refresh", zoom, func() error { return zoom.Refresh(ctx) }},
			{"carrier refresh", carrier, func() error { return carrier.Refresh(ctx) }},
			{"Zoom re-key", zoom, func() error { return zoom.Reinvite(ctx, trunktest.ReinviteOptions{NewKey: true}) }},
			{"carrier media move", carrier, func() error { return carrier.Reinvite(ctx, trunktest.ReinviteOptions{MoveMedia: true}) }},
			{"Zoom media move", zoom, func() error { return zoom.Reinvite(ctx, trunktest.ReinviteOptions{MoveMedia: true}) }},
		} {
			other := carrier
			if tc.p == carrier {
				other = zoom
			}
			before := len(other.Requests())
			if err := tc.do(); err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if n := len(other.Requests()); n != before {
				t.Errorf("%s reached the other side: %+v", tc.name, other.Requests()[before:])
			}
			exchangeAudio(t, carrier, zoom)
		}
		_ = zoom.Hangup(ctx)
		waitDone(t, carrier, "carrier leg")
	})
}

// TestCodecChangeRelayed: a re-offer with another codec reaches the other
// side, which ends up on that codec, and audio flows.
func TestCodecChangeRelayed(t *testing.T) {
	callBothWays(t, nil, func(t *testing.T, r *rig, carrier, zoom phone) {
		ctx := ctxFor(t, 30*time.Second)
		if err := carrier.Reinvite(ctx, trunktest.ReinviteOptions{Codec: "PCMA"}); err != nil {
			t.Fatal(err)
		}
		if zoom.Codec() != "PCMA" || carrier.Codec() != "PCMA" {
			t.Errorf("codecs after the change: Zoom %q, carrier %q, want PCMA", zoom.Codec(), carrier.Codec())
		}
		exchangeAudio(t, carrier, zoom)
		_ = carrier.Hangup(ctx)
		waitDone(t, zoom, "zoom leg")
	})
}

// TestReinviteWithoutSDP: a re-INVITE without SDP gets byocp's current SDP
// as an offer in the 200, the answer comes in the ACK, nothing reaches the
// other side, and the call goes on.
func TestReinviteWithoutSDP(t *testing.T) {
	callBothWays(t, nil, func(t *testing.T, r *rig, carrier, zoom phone) {
		ctx := ctxFor(t, 30*time.Second)
		for _, p := range []phone{zoom, carrier} {
			if err := p.Reinvite(ctx, trunktest.ReinviteOptions{WithoutSDP: true}); err != nil {
				t.Fatalf("%s: offerless re-INVITE: %v", p.Description(), err)
			}
		}
		if n := len(carrier.Requests()) + len(zoom.Requests()); n != 0 {
			t.Errorf("offerless re-INVITEs were relayed: %d requests", n)
		}
		exchangeAudio(t, carrier, zoom)
		_ = carrier.Hangup(ctx)
		waitDone(t, zoom, "zoom leg")
	})
}

// TestRefusedReofferRollsBack: a re-offer the other side refuses gets the
// failure back (mapped) and leaves both legs as they were.
func TestRefusedReofferRollsBack(t *testing.T) {
	callBothWays(t, nil, func(t *testing.T, r *rig, carrier, zoom phone) {
		ctx := ctxFor(t, 30*time.Second)
		carrier.RejectReoffers(488)
		err := zoom.Hold(ctx)
		var se *sip.StatusError
		if !errors.As(err, &se) || se.Response.StatusCode != 488 {
			t.Fatalf("Hold refused by the carrier: %v, want 488", err)
		}
		if zoom.Direction() != sdp.SendRecv || carrier.Direction() != sdp.SendRecv {
			t.Errorf("directions after the refusal: Zoom %q, carrier %q", zoom.Direction(), carrier.Direction())
		}
		exchangeAudio(t, carrier, zoom)
		carrier.RejectReoffers(0)
		if err := zoom.Hold(ctx); err != nil {
			t.Fatalf("Hold after the refusal: %v", err)
		}
		_ = carrier.Hangup(ctx)
		waitDone(t, zoom, "zoom leg")
	})
}

// TestGlare: both sides re-INVITE at once; whoever gets 491 retries after
// its glare delay, and both holds end up applied.
func TestGlare(t *testing.T) {
	callBothWays(t, nil, func(t *testing.T, r *rig, carrier, zoom phone) {
		ctx := ctxFor(t, 30*time.Second)
		errs := make(chan error, 2)
		glared := 0
		var mu sync.Mutex
		for _, p := range []phone{carrier, zoom} {
			go func() {
				for {
					err := p.Hold(ctx)
					var se *sip.StatusError
					if errors.Is(err, sip.ErrPending) || errors.As(err, &se) && se.Response.StatusCode == 491 {
						mu.Lock()
						glared++
						mu.Unlock()
						time.Sleep(p.GlareDelay())
						continue
					}
					errs <- err
					return
				}
			}()
		}
		for range 2 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("491s: %d", glared)
		if d := carrier.Direction(); d != sdp.Inactive {
			t.Errorf("both held: carrier's direction %q, want inactive", d)
		}
		_ = carrier.Hangup(ctx)
		waitDone(t, zoom, "zoom leg")
	})
}

// TestLost200ToReinvite: the first copy of byocp's 200 to a carrier's
// re-INVITE is lost; the retransmission keeps the call.
func TestLost200ToReinvite(t *testing.T) {
	base := newRig(t, nil)
	lossy, err := trunktest.NewCarrier(trunktest.Config{DropFirstReinviteResponse: true, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer lossy.Close()
	r := newRigWith(t, &rig{pki: base.pki, carrier: lossy, zoom: base.zoom}, nil)
	ctx := ctxFor(t, 30*time.Second)
	out, in := r.carrierCallsZoom(t, ctx)
	if err := out.Refresh(ctx); err != nil { // a refresh by re-INVITE
		t.Fatalf("refresh with its 200 lost once: %v", err)
	}
	if err := out.Hold(ctx); err != nil {
		t.Fatalf("hold with its 200 lost once: %v", err)
	}
	if lossy.Dropped() < 1 {
		t.Fatal("nothing was dropped: the test did not test")
	}
	exchangeAudio(t, out, in)
	_ = out.Hangup(ctx)
	waitDone(t, in, "zoom leg")
}

// TestSessionTimers: a call lives across several refreshes by the carrier
// (the refresher it negotiated); when the carrier stops refreshing, the
// session expires and the Bridge ends the call on both legs. byocp itself
// refreshes the Zoom leg, where it is the refresher.
func TestSessionTimers(t *testing.T) {
	short := sip.SessionTimers{Expires: 2 * time.Second, MinSE: time.Second}
	base := newRig(t, nil)
	carrier, err := trunktest.NewCarrier(trunktest.Config{SessionExpires: 2 * time.Second, MinSE: time.Second,
		Behavior: trunktest.Behavior{Refresher: sip.RefresherUAS}, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer carrier.Close()
	r := newRigWith(t, &rig{pki: base.pki, carrier: carrier, zoom: base.zoom}, func(c *byocp.Config) {
		c.Trunk.SessionTimers, c.Peering.SessionTimers = short, short
		c.MediaTimeout = -1
	})
	ctx := ctxFor(t, 30*time.Second)
	out, in := r.carrierCallsZoom(t, ctx)
	if st := out.SessionTimer(); st.Interval != 2*time.Second || !st.Refresher {
		t.Fatalf("carrier's session timer %+v, want 2 s with the carrier refreshing", st)
	}
	// Three refresh intervals.
	deadline := time.Now().Add(10 * time.Second)
	for out.SessionTimer().Refreshes < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("carrier refreshed %d times", out.SessionTimer().Refreshes)
		}
		time.Sleep(50 * time.Millisecond)
	}
	select {
	case <-out.Done():
		t.Fatal("call ended while refreshed")
	default:
	}
	// byocp refreshed the Zoom leg meanwhile (its 2xx named byocp refresher).
	if zt := in.SessionTimer(); zt.Interval != 2*time.Second || zt.Refresher {
		t.Errorf("Zoom leg session timer %+v, want 2 s refreshed by byocp", zt)
	}
	refreshes := 0
	for _, q := range in.Requests() {
		if q.SessionExpires > 0 && q.Status == 200 {
			refreshes++
		}
	}
	if refreshes < 2 {
		t.Errorf("byocp refreshed the Zoom leg %d times: %+v", refreshes, in.Requests())
	}
	out.StopRefreshing()
	waitDone(t, out, "carrier leg")
	waitDone(t, in, "zoom leg")
	rec := r.record(t)
	if !strings.Contains(rec.Reason, "session expired on the carrier leg") {
		t.Errorf("record reason %q", rec.Reason)
	}
}

// TestHoldTimeout: a call on hold with no media ends after HoldTimeout,
// not MediaTimeout; the record says so.
func TestHoldTimeout(t *testing.T) {
	r := newRig(t, func(c *byocp.Config) {
		c.MediaTimeout = 200 * time.Millisecond
		c.HoldTimeout = 900 * time.Millisecond
	})
	ctx := ctxFor(t, 30*time.Second)
	out, in := r.carrierCallsZoom(t, ctx)
	start := time.Now()
	if err := in.Hold(ctx); err != nil {
		t.Fatal(err)
	}
	waitDone(t, out, "carrier leg")
	rec := r.record(t)
	if !strings.Contains(rec.Reason, "hold timeout") {
		t.Errorf("record reason %q, want the hold timeout", rec.Reason)
	}
	if held := time.Since(start); held < 600*time.Millisecond {
		t.Errorf("call on hold ended after %s, before the hold timeout", held)
	}
}

// TestReofferTimeoutEndsCall: a re-offer the other leg answers 408 (its
// peer is gone) ends the call cleanly on both legs, with a reason.
func TestReofferTimeoutEndsCall(t *testing.T) {
	r := newRig(t, nil)
	ctx := ctxFor(t, 30*time.Second)
	out, in := r.carrierCallsZoom(t, ctx)
	out.RejectReoffers(408)
	err := in.Hold(ctx)
	var se *sip.StatusError
	if !errors.As(err, &se) || se.Response.StatusCode != 500 {
		t.Errorf("Hold answered %v, want 500", err)
	}
	waitDone(t, out, "carrier leg")
	waitDone(t, in, "zoom leg")
	rec := r.record(t)
	if rec.HangupBy != byocp.HangupBridge || !strings.Contains(rec.Reason, "re-INVITE failed on the carrier leg") {
		t.Errorf("record: %q by %q", rec.Reason, rec.HangupBy)
	}
	if r.bridge.ActiveCalls() != 0 {
		t.Errorf("%d calls still active", r.bridge.ActiveCalls())
	}
}

// TestInfoDTMFRelayed: DTMF in SIP INFO (application/dtmf-relay and
// application/dtmf) reaches the other leg with digits and durations as
// sent, both ways; an INFO of another type is answered on its own leg
// unless that side's RelayInfo lists it.
func TestInfoDTMFRelayed(t *testing.T) {
	callBothWays(t, func(c *byocp.Config) { c.Trunk.RelayInfo = []string{"application/x-carrier-event"} },
		func(t *testing.T, r *rig, carrier, zoom phone) {
			ctx := ctxFor(t, 30*time.Second)
			relayRelay := []byte("Signal=5\r\nDuration=160\r\n")
			for _, tc := range []struct {
				from, to    phone
				ct          string
				body        []byte
				wantRelayed bool
			}{
				{zoom, carrier, "application/dtmf-relay", relayRelay, true},
				{carrier, zoom, "application/dtmf-relay", []byte("Signal=#\r\nDuration=250\r\n"), true},
				{carrier, zoom, "application/dtmf", []byte("7"), true},
				{zoom, carrier, "application/x-zoom-event", []byte("ping"), false},
				{carrier, zoom, "application/x-carrier-event", []byte("pong"), true},
			} {
				before := len(tc.to.Requests())
				if err := tc.from.SendInfo(ctx, tc.ct, tc.body); err != nil {
					t.Fatalf("INFO %s: %v", tc.ct, err)
				}
				got := tc.to.Requests()[before:]
				if !tc.wantRelayed {
					if len(got) != 0 {
						t.Errorf("INFO %s relayed: %+v", tc.ct, got)
					}
					continue
				}
				if len(got) != 1 || got[0].Method != "INFO" || string(got[0].Body) != string(tc.body) || got[0].Header("Content-Type") != tc.ct {
					t.Errorf("INFO %s: the other side got %+v", tc.ct, got)
				}
			}
			_ = carrier.Hangup(ctx)
			waitDone(t, zoom, "zoom leg")
		})
}

// TestReferRefused: a REFER from either side gets 403 and the call goes on.
func TestReferRefused(t *testing.T) {
	callBothWays(t, nil, func(t *testing.T, r *rig, carrier, zoom phone) {
		ctx := ctxFor(t, 30*time.Second)
		for _, p := range []phone{carrier, zoom} {
			err := p.Refer(ctx, "sip:+14155550123@127.0.0.1")
			var se *sip.StatusError
			if !errors.As(err, &se) || se.Response.StatusCode != 403 {
				t.Errorf("%s: REFER answered %v, want 403", p.Description(), err)
			}
		}
		exchangeAudio(t, carrier, zoom)
		_ = carrier.Hangup(ctx)
		waitDone(t, zoom, "zoom leg")
	})
}
