package trunktest_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net/netip"
	"time"

	"github.com/byocp/byocp"
	"github.com/byocp/byocp/peering"
	"github.com/byocp/byocp/peering/peeringtest"
	"github.com/byocp/byocp/sip"
	"github.com/byocp/byocp/trunk"
	"github.com/byocp/byocp/trunk/trunktest"
)

// sbcUnderTest stands for the SBC a vendor tests: here a byocp.Bridge
// between the fake carrier and the fake Zoom peer, on loopback.
func sbcUnderTest(carrier *trunktest.Carrier, zoom *peeringtest.Zoom, pki *peeringtest.PKI, edit ...func(*byocp.Config)) *byocp.Bridge {
	loopback := netip.MustParseAddr("127.0.0.1")
	cert, err := pki.Issue("sbc.example", []netip.Addr{loopback})
	if err != nil {
		log.Fatal(err)
	}
	cfg := byocp.Config{
		Trunk: trunk.Config{Listen: "127.0.0.1:0", Peer: carrier.Addr().String()},
		Peering: peering.Config{
			Listen:       "127.0.0.1:0",
			Peers:        []peering.Peer{{Name: "zone A", Address: zoom.Addr().String()}},
			Certificates: []tls.Certificate{cert},
			RootCAs:      pki.Pool(),
			PeerNames:    []string{peeringtest.ZoomName},
		},
		Media:  byocp.MediaConfig{IP: loopback, PortMin: 42000, PortMax: 42999},
		Logger: slog.New(slog.DiscardHandler),
	}
	for _, e := range edit {
		e(&cfg)
	}
	bridge, err := byocp.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	return bridge
}

// ExampleNewCarrier places a call from the fake carrier through the SBC
// under test to the fake Zoom peer, exchanges a second of audio in both
// directions and hangs up from the carrier, the way a vendor's test checks
// its SBC's carrier side.
func ExampleNewCarrier() {
	carrier, err := trunktest.NewCarrier(trunktest.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer carrier.Close()
	pki, err := peeringtest.NewPKI("example CA", time.Hour)
	if err != nil {
		log.Fatal(err)
	}
	zoom, err := peeringtest.NewZoom(peeringtest.Config{PKI: pki})
	if err != nil {
		log.Fatal(err)
	}
	defer zoom.Close()
	sbc := sbcUnderTest(carrier, zoom, pki)
	defer sbc.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	call, err := carrier.Dial(ctx, sbc.TrunkAddr(), "+14155550100", "+442079460000")
	if err != nil {
		log.Fatal(err)
	}
	atZoom, err := zoom.Accept(ctx) // the same call, as the SBC sent it to Zoom
	if err != nil {
		log.Fatal(err)
	}
	<-atZoom.Answered()
	if err := call.TalkWith(ctx, atZoom, 50); err != nil { // 50 packets of 20 ms each way
		log.Fatal(err)
	}
	fmt.Println("carrier -> Zoom audio intact:", atZoom.Media().Intact >= 45) // at least 90 %
	fmt.Println("Zoom -> carrier audio intact:", call.Media().Intact >= 45)   // at least 90 %
	if err := call.Hangup(ctx); err != nil {
		log.Fatal(err)
	}
	<-atZoom.Done()
	fmt.Println("Zoom got the BYE:", atZoom.HungUpByPeer())
	// Output:
	// carrier -> Zoom audio intact: true
	// Zoom -> carrier audio intact: true
	// Zoom got the BYE: true
}

// ExampleCarrier_Accept lets the fake Zoom peer call out to the PSTN
// through the SBC under test: the fake carrier rings for a moment, answers,
// and is hung up by the SBC when Zoom hangs up.
func ExampleCarrier_Accept() {
	carrier, err := trunktest.NewCarrier(trunktest.Config{Behavior: trunktest.Behavior{Ring: 100 * time.Millisecond}})
	if err != nil {
		log.Fatal(err)
	}
	defer carrier.Close()
	pki, err := peeringtest.NewPKI("example CA", time.Hour)
	if err != nil {
		log.Fatal(err)
	}
	zoom, err := peeringtest.NewZoom(peeringtest.Config{PKI: pki})
	if err != nil {
		log.Fatal(err)
	}
	defer zoom.Close()
	sbc := sbcUnderTest(carrier, zoom, pki)
	defer sbc.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	call, err := zoom.Dial(ctx, sbc.PeeringAddr(), "+442079460000", "+14155550100")
	if err != nil {
		log.Fatal(err)
	}
	atCarrier, err := carrier.Accept(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("the carrier was asked for", atCarrier.Invite().RequestURI.User)
	fmt.Println("Zoom heard ringing:", call.Provisional())
	<-atCarrier.Answered()
	_ = call.Hangup(ctx)
	if err := atCarrier.Wait(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println("status", atCarrier.Status(), "- hung up by the SBC:", atCarrier.HungUpByPeer())
	// Output:
	// the carrier was asked for +14155550100
	// Zoom heard ringing: [180]
	// status 200 - hung up by the SBC: true
}

// ExampleBehavior makes a fake carrier reject every call as busy, and calls
// it from a second fake carrier: Dial returns the rejection as a
// *sip.StatusError.
func ExampleBehavior() {
	busy, err := trunktest.NewCarrier(trunktest.Config{Behavior: trunktest.Behavior{Status: 486}})
	if err != nil {
		log.Fatal(err)
	}
	defer busy.Close()
	caller, err := trunktest.NewCarrier(trunktest.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer caller.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = caller.Dial(ctx, busy.Addr(), "14155550100", "14155550199")
	var rejected *sip.StatusError
	if errors.As(err, &rejected) {
		fmt.Println("rejected with", rejected.Response.StatusCode, rejected.Response.Reason)
	}
	atBusy, err := busy.Accept(ctx)
	if err != nil {
		log.Fatal(err)
	}
	<-atBusy.Done()
	fmt.Println("the busy carrier's call ended with", atBusy.Status())
	// Output:
	// rejected with 486 Busy Here
	// the busy carrier's call ended with 486
}

// ExampleCall_Hold puts the far end on hold from the fake carrier, as a
// PBX behind the carrier would, through the SBC under test, and takes it
// off hold again. The SBC relays each re-INVITE to the fake Zoom peer,
// which answers it as a Zoom client does: the direction shows on both ends.
func ExampleCall_Hold() {
	carrier, err := trunktest.NewCarrier(trunktest.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer carrier.Close()
	pki, err := peeringtest.NewPKI("example CA", time.Hour)
	if err != nil {
		log.Fatal(err)
	}
	zoom, err := peeringtest.NewZoom(peeringtest.Config{PKI: pki})
	if err != nil {
		log.Fatal(err)
	}
	defer zoom.Close()
	sbc := sbcUnderTest(carrier, zoom, pki)
	defer sbc.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	call, err := carrier.Dial(ctx, sbc.TrunkAddr(), "+14155550100", "+442079460000")
	if err != nil {
		log.Fatal(err)
	}
	atZoom, err := zoom.Accept(ctx)
	if err != nil {
		log.Fatal(err)
	}
	<-atZoom.Answered()
	if err := call.Hold(ctx); err != nil { // a re-INVITE with a=sendonly
		log.Fatal(err)
	}
	fmt.Println("on hold: carrier", call.Direction(), "- Zoom", atZoom.Direction())
	held := atZoom.Requests()[0] // the re-INVITE the SBC sent to Zoom
	fmt.Println("Zoom received:", held.Method, held.Direction, "answered", held.Status)
	if err := call.Resume(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println("resumed: carrier", call.Direction(), "- Zoom", atZoom.Direction())
	if err := call.TalkWith(ctx, atZoom, 50); err != nil {
		log.Fatal(err)
	}
	fmt.Println("audio intact after the resume:", call.Media().Intact >= 45 && atZoom.Media().Intact >= 45)
	// Output:
	// on hold: carrier sendonly - Zoom recvonly
	// Zoom received: INVITE sendonly answered 200
	// resumed: carrier sendrecv - Zoom sendrecv
	// audio intact after the resume: true
}
