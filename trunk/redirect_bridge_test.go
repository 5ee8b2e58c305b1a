package trunk_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/byocp/byocp"
	"github.com/byocp/byocp/peering"
	"github.com/byocp/byocp/peering/peeringtest"
	"github.com/byocp/byocp/sip"
	"github.com/byocp/byocp/trunk"
	"github.com/byocp/byocp/trunk/trunktest"
)

// bridgeRig is a Bridge between a fake Zoom and the fake carrier peer,
// with a second fake carrier gw, the carrier's other gateway.
type bridgeRig struct {
	zoom     *peeringtest.Zoom
	peer, gw *trunktest.Carrier
	bridge   *byocp.Bridge
}

func newBridgeRig(t *testing.T, follow bool) *bridgeRig {
	t.Helper()
	r := &bridgeRig{}
	var err error
	if r.gw, err = trunktest.NewCarrier(trunktest.Config{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.gw.Close() })
	if r.peer, err = trunktest.NewCarrier(trunktest.Config{Behavior: trunktest.Behavior{Status: 302,
		Headers: []sip.Header{{Name: "Contact", Value: fmt.Sprintf("<sip:+442079460000@%s>;q=0.5", r.gw.Addr())}}}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.peer.Close() })
	pki, err := peeringtest.NewPKI("test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if r.zoom, err = peeringtest.NewZoom(peeringtest.Config{PKI: pki}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.zoom.Close() })
	loopback := netip.MustParseAddr("127.0.0.1")
	cert, err := pki.Issue("sbc.example", []netip.Addr{loopback})
	if err != nil {
		t.Fatal(err)
	}
	r.bridge, err = byocp.New(byocp.Config{
		Trunk: trunk.Config{
			Listen: "127.0.0.1:0", Peer: r.peer.Addr().String(),
			Redirects: trunk.Redirects{Follow: follow, Gateways: []string{r.gw.Addr().String()}},
		},
		Peering: peering.Config{
			Listen:       "127.0.0.1:0",
			Peers:        []peering.Peer{{Name: "zone A", Address: r.zoom.Addr().String()}},
			Certificates: []tls.Certificate{cert},
			RootCAs:      pki.Pool(),
			PeerNames:    []string{peeringtest.ZoomName},
		},
		Media:  byocp.MediaConfig{IP: loopback, PortMin: 45000, PortMax: 45999},
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.bridge.Close() })
	return r
}

// TestBridgeRedirectFollowed: Zoom calls out; the carrier redirects to its
// other gateway, which answers; both carriers got the Bridge's offer byte
// for byte, and audio flows both ways through the gateway.
func TestBridgeRedirectFollowed(t *testing.T) {
	r := newBridgeRig(t, true)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	call, err := r.zoom.Dial(ctx, r.bridge.PeeringAddr(), "+14155550100", "+442079460000")
	if err != nil {
		t.Fatalf("Zoom's call: %v", err)
	}
	atPeer, err := r.peer.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	atGW, err := r.gw.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(atPeer.Invite().Body, atGW.Invite().Body) {
		t.Errorf("offers differ:\npeer:\n%s\ngateway:\n%s", atPeer.Invite().Body, atGW.Invite().Body)
	}
	if err := atGW.TalkWith(ctx, call, 25); err != nil {
		t.Fatal(err)
	}
	if call.Media().Intact < 20 || atGW.Media().Intact < 20 {
		t.Errorf("audio: Zoom %s; gateway %s", call.Description(), atGW.Description())
	}
	if err := call.Hangup(ctx); err != nil {
		t.Error(err)
	}
	if err := atGW.Wait(ctx); err != nil || !atGW.HungUpByPeer() {
		t.Errorf("gateway's call: %v, hung up by the SBC %v", err, atGW.HungUpByPeer())
	}
}

// TestBridgeRedirectNotFollowed: with following off, Zoom's call gets 480
// for the carrier's 302, and the gateway receives nothing.
func TestBridgeRedirectNotFollowed(t *testing.T) {
	r := newBridgeRig(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := r.zoom.Dial(ctx, r.bridge.PeeringAddr(), "+14155550100", "+442079460000")
	var se *sip.StatusError
	if !errors.As(err, &se) || se.Response.StatusCode != 480 {
		t.Fatalf("Zoom's call: %v, want 480", err)
	}
	if se.Response.Header("Contact") != "" {
		t.Errorf("the carrier's Contact reached Zoom: %q", se.Response.Header("Contact"))
	}
	short, stop := context.WithTimeout(ctx, 200*time.Millisecond)
	defer stop()
	if c, err := r.gw.Accept(short); err == nil {
		t.Errorf("the gateway received an INVITE to %s", c.Invite().RequestURI)
	}
}
