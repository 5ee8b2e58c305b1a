package trunktest_test

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/byocp/byocp"
	"github.com/byocp/byocp/peering"
	"github.com/byocp/byocp/peering/peeringtest"
	"github.com/byocp/byocp/sdp"
	"github.com/byocp/byocp/sip"
	"github.com/byocp/byocp/trunk"
	"github.com/byocp/byocp/trunk/trunktest"
)

// These tests run the test peers against a byocp.Bridge, the way a
// vendor's end-to-end tests run them against its SBC: each shows how a
// test of one in-dialog scenario uses the peers' API.

type sbcRig struct {
	carrier *trunktest.Carrier
	zoom    *peeringtest.Zoom
	bridge  *byocp.Bridge
}

func newSBC(t *testing.T, ccfg trunktest.Config, zcfg peeringtest.Config, edit func(*byocp.Config)) *sbcRig {
	t.Helper()
	pki, err := peeringtest.NewPKI("test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	zcfg.PKI = pki
	r := &sbcRig{carrier: newCarrier(t, ccfg)}
	if r.zoom, err = peeringtest.NewZoom(zcfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.zoom.Close() })
	loopback := netip.MustParseAddr("127.0.0.1")
	cert, err := pki.Issue("sbc.example", []netip.Addr{loopback})
	if err != nil {
		t.Fatal(err)
	}
	cfg := byocp.Config{
		Trunk: trunk.Config{Listen: "127.0.0.1:0", Peer: r.carrier.Addr().String()},
		Peering: peering.Config{
			Listen:       "127.0.0.1:0",
			Peers:        []peering.Peer{{Name: "zone A", Address: r.zoom.Addr().String()}},
			Certificates: []tls.Certificate{cert},
			RootCAs:      pki.Pool(),
			PeerNames:    []string{peeringtest.ZoomName},
		},
		Media:  byocp.MediaConfig{IP: loopback, PortMin: 44000, PortMax: 44999},
		Logger: slog.New(slog.DiscardHandler),
	}
	if edit != nil {
		edit(&cfg)
	}
	if r.bridge, err = byocp.New(cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.bridge.Close() })
	return r
}

// carrierCallsZoom places a call carrier -> SBC -> Zoom and returns both
// ends once Zoom answered.
func (r *sbcRig) carrierCallsZoom(t *testing.T) (*trunktest.Call, *peeringtest.Call) {
	t.Helper()
	ctx := ctxFor(t, 10*time.Second)
	call, err := r.carrier.Dial(ctx, r.bridge.TrunkAddr(), "14155550100", "+442079460000")
	if err != nil {
		t.Fatal(err)
	}
	atZoom, err := r.zoom.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	<-atZoom.Answered()
	return call, atZoom
}

func talk(t *testing.T, call *trunktest.Call, atZoom *peeringtest.Call) {
	t.Helper()
	before, beforeZ := call.Media().Intact, atZoom.Media().Intact
	if err := call.TalkWith(ctxFor(t, 10*time.Second), atZoom, 25); err != nil {
		t.Fatal(err)
	}
	if call.Media().Intact-before < 20 || atZoom.Media().Intact-beforeZ < 20 {
		t.Fatalf("audio: carrier %s; Zoom %s", call.Description(), atZoom.Description())
	}
}

// TestSBCRekeyFromZoom: Zoom re-keys; the SBC answers on the Zoom leg
// alone (the carrier sees nothing) and SRTP goes on with the new key.
func TestSBCRekeyFromZoom(t *testing.T) {
	r := newSBC(t, trunktest.Config{}, peeringtest.Config{}, nil)
	call, atZoom := r.carrierCallsZoom(t)
	ctx := ctxFor(t, 10*time.Second)
	if err := atZoom.Reinvite(ctx, peeringtest.ReinviteOptions{NewKey: true}); err != nil {
		t.Fatal(err)
	}
	talk(t, call, atZoom)
	if n := len(call.Requests()); n != 0 {
		t.Errorf("the carrier received %d requests for Zoom's re-key", n)
	}
	if atZoom.Media().AuthFailed != 0 {
		t.Errorf("SRTP: %+v", atZoom.Media())
	}
}

// TestSBCCodecChangeFromZoom: Zoom re-offers PCMA only; the SBC relays the
// change to the carrier and audio flows with the new codec.
func TestSBCCodecChangeFromZoom(t *testing.T) {
	r := newSBC(t, trunktest.Config{}, peeringtest.Config{}, nil)
	call, atZoom := r.carrierCallsZoom(t)
	ctx := ctxFor(t, 10*time.Second)
	if err := atZoom.Reinvite(ctx, peeringtest.ReinviteOptions{Codec: "PCMA"}); err != nil {
		t.Fatal(err)
	}
	if call.Codec() != "PCMA" || atZoom.Codec() != "PCMA" {
		t.Fatalf("codecs: carrier %s, Zoom %s", call.Codec(), atZoom.Codec())
	}
	talk(t, call, atZoom)
}

// TestSBCReinviteWithoutSDP: Zoom sends a re-INVITE without SDP and
// answers the SBC's offer (in its 200) with a=sendonly in the ACK; the
// SBC then offers the hold to the carrier.
func TestSBCReinviteWithoutSDP(t *testing.T) {
	r := newSBC(t, trunktest.Config{}, peeringtest.Config{}, nil)
	call, atZoom := r.carrierCallsZoom(t)
	ctx := ctxFor(t, 10*time.Second)
	if err := atZoom.Reinvite(ctx, peeringtest.ReinviteOptions{WithoutSDP: true, Direction: sdp.SendOnly}); err != nil {
		t.Fatal(err)
	}
	reqs, err := call.WaitRequests(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if reqs[0].Method != "INVITE" || reqs[0].Direction != sdp.SendOnly || call.Direction() != sdp.RecvOnly {
		t.Fatalf("carrier: %+v, direction %s", reqs[0], call.Direction())
	}
}

// TestSBCRejectedReoffer: the carrier refuses the relayed hold with 488;
// Zoom's re-INVITE fails and the call goes on as before.
func TestSBCRejectedReoffer(t *testing.T) {
	r := newSBC(t, trunktest.Config{Behavior: trunktest.Behavior{RejectReoffers: 488}}, peeringtest.Config{}, nil)
	call, atZoom := r.carrierCallsZoom(t)
	ctx := ctxFor(t, 10*time.Second)
	err := atZoom.Hold(ctx)
	var se *sip.StatusError
	if !errors.As(err, &se) || se.Response.StatusCode < 400 {
		t.Fatalf("Hold: %v, want a failure status", err)
	}
	if atZoom.Direction() != sdp.SendRecv || call.Direction() != sdp.SendRecv {
		t.Fatalf("directions: Zoom %s, carrier %s", atZoom.Direction(), call.Direction())
	}
	talk(t, call, atZoom)
}

// TestSBCLostReinviteResponse: the SBC's 200 to the carrier's re-INVITE is
// lost once; the SBC retransmits it and the hold completes.
func TestSBCLostReinviteResponse(t *testing.T) {
	r := newSBC(t, trunktest.Config{DropFirstReinviteResponse: true}, peeringtest.Config{}, nil)
	call, atZoom := r.carrierCallsZoom(t)
	ctx := ctxFor(t, 10*time.Second)
	start := time.Now()
	if err := call.Hold(ctx); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 400*time.Millisecond || r.carrier.Dropped() != 1 {
		t.Errorf("Hold took %s, %d datagrams dropped", took, r.carrier.Dropped())
	}
	if call.Direction() != sdp.SendOnly || atZoom.Direction() != sdp.RecvOnly {
		t.Fatalf("directions: carrier %s, Zoom %s", call.Direction(), atZoom.Direction())
	}
	if err := call.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	talk(t, call, atZoom)
}

// TestSBCSessionExpiry: the carrier is the refresher of a 2 s session and
// stops refreshing; the SBC ends the call on both legs. On the Zoom leg
// the SBC refreshes, and the fake Zoom peer sees its refreshes.
func TestSBCSessionExpiry(t *testing.T) {
	short := sip.SessionTimers{Expires: 2 * time.Second, MinSE: time.Second}
	r := newSBC(t, trunktest.Config{SessionExpires: 2 * time.Second, MinSE: time.Second}, peeringtest.Config{},
		func(c *byocp.Config) { c.Trunk.SessionTimers, c.Peering.SessionTimers = short, short })
	call, atZoom := r.carrierCallsZoom(t)
	if st := call.SessionTimer(); st.Interval != 2*time.Second || !st.Refresher {
		t.Fatalf("carrier's session timer %+v", st)
	}
	if st := atZoom.SessionTimer(); st.Interval != 2*time.Second || st.Refresher {
		t.Fatalf("Zoom's session timer %+v", st)
	}
	ctx := ctxFor(t, 15*time.Second)
	if _, err := atZoom.WaitRequests(ctx, 1); err != nil { // the SBC's refresh
		t.Fatal(err)
	}
	for call.SessionTimer().Refreshes == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	call.StopRefreshing()
	if err := call.Wait(ctx); err != nil {
		t.Fatal("the SBC did not end the expired session")
	}
	<-atZoom.Done()
	if !call.HungUpByPeer() || !atZoom.HungUpByPeer() {
		t.Fatalf("hung up by the SBC: carrier %v, Zoom %v", call.HungUpByPeer(), atZoom.HungUpByPeer())
	}
	if atZoom.SessionTimer().Expired {
		t.Fatal("the SBC let Zoom's session expire")
	}
}

// TestSBCMediaTimeout: media flows both ways under StartAudio; when the
// carrier stops sending, the SBC's media timeout ends the call.
func TestSBCMediaTimeout(t *testing.T) {
	r := newSBC(t, trunktest.Config{}, peeringtest.Config{}, func(c *byocp.Config) { c.MediaTimeout = 400 * time.Millisecond })
	call, atZoom := r.carrierCallsZoom(t)
	ctx := ctxFor(t, 10*time.Second)
	if err := call.StartAudio(ctx); err != nil {
		t.Fatal(err)
	}
	if err := atZoom.StartAudio(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-call.Done():
		t.Fatalf("the call ended with media flowing: %s", call.Description())
	case <-time.After(time.Second):
	}
	call.StopAudio()
	stopped := time.Now()
	if err := call.Wait(ctx); err != nil {
		t.Fatal("no media timeout")
	}
	if took := time.Since(stopped); took < 300*time.Millisecond {
		t.Errorf("the call ended %s after the carrier went silent", took)
	}
	if !call.HungUpByPeer() {
		t.Error("the SBC did not hang up")
	}
}

// TestSBCGlare: the carrier and Zoom put each other on hold at the same
// time. Refused re-INVITEs (491) are retried after GlareDelay; in the end
// both holds went through.
func TestSBCGlare(t *testing.T) {
	r := newSBC(t, trunktest.Config{}, peeringtest.Config{}, nil)
	call, atZoom := r.carrierCallsZoom(t)
	ctx := ctxFor(t, 30*time.Second)
	type holder interface {
		Hold(ctx context.Context) error
		GlareDelay() time.Duration
	}
	var wg sync.WaitGroup
	for _, c := range []holder{call, atZoom} {
		wg.Go(func() {
			for {
				err := c.Hold(ctx)
				var se *sip.StatusError
				switch {
				case err == nil:
					return
				case errors.As(err, &se) && se.Response.StatusCode == 491, errors.Is(err, sip.ErrPending):
					time.Sleep(c.GlareDelay())
				default:
					t.Errorf("Hold: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if call.Direction() != sdp.Inactive || atZoom.Direction() != sdp.Inactive {
		t.Fatalf("directions: carrier %s, Zoom %s", call.Direction(), atZoom.Direction())
	}
}
