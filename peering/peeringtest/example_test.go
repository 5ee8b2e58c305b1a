package peeringtest_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
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
// between the fake carrier and the fake Zoom peer, on loopback. Its
// certificate, from the same PKI, names 127.0.0.1, the address the fake
// Zoom peer dials.
func sbcUnderTest(carrier *trunktest.Carrier, zoom *peeringtest.Zoom, pki *peeringtest.PKI) *byocp.Bridge {
	loopback := netip.MustParseAddr("127.0.0.1")
	cert, err := pki.Issue("sbc.example", []netip.Addr{loopback})
	if err != nil {
		log.Fatal(err)
	}
	bridge, err := byocp.New(byocp.Config{
		Trunk: trunk.Config{Listen: "127.0.0.1:0", Peer: carrier.Addr().String()},
		Peering: peering.Config{
			Listen:       "127.0.0.1:0",
			Peers:        []peering.Peer{{Name: "zone A", Address: zoom.Addr().String()}},
			Certificates: []tls.Certificate{cert},
			RootCAs:      pki.Pool(),
			PeerNames:    []string{peeringtest.ZoomName}, // the name in the fake Zoom peer's certificate
		},
		Media:  byocp.MediaConfig{IP: loopback, PortMin: 43000, PortMax: 43999},
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		log.Fatal(err)
	}
	return bridge
}

// ExampleNewZoom places a call from the fake Zoom peer through the SBC
// under test to the fake carrier, exchanges a second of audio in both
// directions (SRTP on the Zoom leg, RTP on the carrier leg) and hangs up
// from Zoom, the way a vendor's test checks its SBC's Zoom side.
func ExampleNewZoom() {
	pki, err := peeringtest.NewPKI("example CA", time.Hour)
	if err != nil {
		log.Fatal(err)
	}
	zoom, err := peeringtest.NewZoom(peeringtest.Config{PKI: pki})
	if err != nil {
		log.Fatal(err)
	}
	defer zoom.Close()
	carrier, err := trunktest.NewCarrier(trunktest.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer carrier.Close()
	sbc := sbcUnderTest(carrier, zoom, pki)
	defer sbc.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	call, err := zoom.Dial(ctx, sbc.PeeringAddr(), "+442079460000", "+14155550100")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("SRTP suite chosen by the SBC:", call.Suite())
	atCarrier, err := carrier.Accept(ctx) // the same call, as the SBC sent it to the carrier
	if err != nil {
		log.Fatal(err)
	}
	<-atCarrier.Answered()
	if err := call.TalkWith(ctx, atCarrier, 50); err != nil { // 50 packets of 20 ms each way
		log.Fatal(err)
	}
	fmt.Println("Zoom -> carrier audio intact:", atCarrier.Media().Intact >= 45) // at least 90 %
	fmt.Println("carrier -> Zoom audio intact:", call.Media().Intact >= 45)      // at least 90 %
	if err := call.Hangup(ctx); err != nil {
		log.Fatal(err)
	}
	<-atCarrier.Done()
	fmt.Println("the carrier got the BYE:", atCarrier.HungUpByPeer())
	// Output:
	// SRTP suite chosen by the SBC: AES_CM_128_HMAC_SHA1_80
	// Zoom -> carrier audio intact: true
	// carrier -> Zoom audio intact: true
	// the carrier got the BYE: true
}

// ExampleZoom_Accept lets the fake carrier call a Zoom user through the
// SBC under test and checks the INVITE the fake Zoom peer received: the
// SBC turned the carrier's national numbers into E.164.
func ExampleZoom_Accept() {
	pki, err := peeringtest.NewPKI("example CA", time.Hour)
	if err != nil {
		log.Fatal(err)
	}
	zoom, err := peeringtest.NewZoom(peeringtest.Config{PKI: pki})
	if err != nil {
		log.Fatal(err)
	}
	defer zoom.Close()
	carrier, err := trunktest.NewCarrier(trunktest.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer carrier.Close()
	sbc := sbcUnderTest(carrier, zoom, pki)
	defer sbc.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	call, err := carrier.Dial(ctx, sbc.TrunkAddr(), "14155550100", "14155550199")
	if err != nil {
		log.Fatal(err)
	}
	atZoom, err := zoom.Accept(ctx)
	if err != nil {
		log.Fatal(err)
	}
	inv := atZoom.Invite()
	fmt.Println("Zoom was called at", inv.RequestURI.User, "by", inv.From.URI.User)
	fmt.Println("SRTP suite chosen by Zoom:", atZoom.Suite())
	<-atZoom.Answered() // Accept returns on the INVITE; once answered, Hangup sends BYE
	if err := atZoom.Hangup(ctx); err != nil {
		log.Fatal(err)
	}
	<-call.Done()
	fmt.Println("the carrier got the BYE:", call.HungUpByPeer())
	// Output:
	// Zoom was called at +14155550199 by +14155550100
	// SRTP suite chosen by Zoom: AES_CM_128_HMAC_SHA1_80
	// the carrier got the BYE: true
}

// ExampleBehavior starts a fake Zoom peer that rejects calls as busy and
// calls it from a second fake Zoom peer: Dial returns the rejection as a
// *sip.StatusError.
func ExampleBehavior() {
	pki, err := peeringtest.NewPKI("example CA", time.Hour)
	if err != nil {
		log.Fatal(err)
	}
	busy, err := peeringtest.NewZoom(peeringtest.Config{PKI: pki, Behavior: peeringtest.Behavior{Status: 486}})
	if err != nil {
		log.Fatal(err)
	}
	defer busy.Close()
	caller, err := peeringtest.NewZoom(peeringtest.Config{PKI: pki})
	if err != nil {
		log.Fatal(err)
	}
	defer caller.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = caller.Dial(ctx, busy.Addr(), "+14155550100", "+442079460000")
	var rejected *sip.StatusError
	if errors.As(err, &rejected) {
		fmt.Println("rejected with", rejected.Response.StatusCode)
	}
	fmt.Println("listening on loopback:", busy.Addr().Addr() == netip.MustParseAddr("127.0.0.1"))
	// Output:
	// rejected with 486
	// listening on loopback: true
}

// ExamplePKI_IssueWith issues the certificates a vendor's test needs to
// check its SBC's peer-identity policy: an impostor from the same CA with
// another name, and a Zoom certificate without the clientAuth usage,
// presented by a fake Zoom peer through Config.Certificate.
func ExamplePKI_IssueWith() {
	pki, err := peeringtest.NewPKI("example CA", time.Hour)
	if err != nil {
		log.Fatal(err)
	}
	impostor, err := pki.IssueWith(peeringtest.IssueOptions{CommonName: "impostor", DNSNames: []string{"sip.impostor.test"}})
	if err != nil {
		log.Fatal(err)
	}
	serverOnly, err := pki.IssueWith(peeringtest.IssueOptions{
		CommonName:   "zoom",
		DNSNames:     []string{peeringtest.ZoomName},
		ExtKeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err != nil {
		log.Fatal(err)
	}
	zoom, err := peeringtest.NewZoom(peeringtest.Config{PKI: pki, Certificate: &serverOnly})
	if err != nil {
		log.Fatal(err)
	}
	defer zoom.Close()
	fmt.Println(impostor.Leaf.DNSNames, serverOnly.Leaf.DNSNames, serverOnly.Leaf.ExtKeyUsage[0] == x509.ExtKeyUsageServerAuth)
	// Output:
	// [sip.impostor.test] [sip.zoom.test] true
}

// ExampleCall_Hold has the fake Zoom peer put the PSTN caller on hold, as
// a Zoom user does, on a call from the fake carrier through the SBC under
// test, and take it off hold again: the carrier sees the SBC's re-INVITEs.
func ExampleCall_Hold() {
	pki, err := peeringtest.NewPKI("example CA", time.Hour)
	if err != nil {
		log.Fatal(err)
	}
	zoom, err := peeringtest.NewZoom(peeringtest.Config{PKI: pki})
	if err != nil {
		log.Fatal(err)
	}
	defer zoom.Close()
	carrier, err := trunktest.NewCarrier(trunktest.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer carrier.Close()
	sbc := sbcUnderTest(carrier, zoom, pki)
	defer sbc.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	call, err := carrier.Dial(ctx, sbc.TrunkAddr(), "14155550100", "14155550199")
	if err != nil {
		log.Fatal(err)
	}
	atZoom, err := zoom.Accept(ctx)
	if err != nil {
		log.Fatal(err)
	}
	<-atZoom.Answered()
	if err := atZoom.Hold(ctx); err != nil { // a re-INVITE with a=sendonly over TLS
		log.Fatal(err)
	}
	fmt.Println("on hold: Zoom", atZoom.Direction(), "- carrier", call.Direction())
	for _, r := range call.Requests() { // what the SBC sent to the carrier
		fmt.Println("the carrier received:", r.Method, r.Direction, "answered", r.Status)
	}
	if err := atZoom.Resume(ctx); err != nil {
		log.Fatal(err)
	}
	fmt.Println("resumed: Zoom", atZoom.Direction(), "- carrier", call.Direction())
	fmt.Println("SRTP suite kept:", atZoom.Suite())
	// Output:
	// on hold: Zoom sendonly - carrier recvonly
	// the carrier received: INVITE sendonly answered 200
	// resumed: Zoom sendrecv - carrier sendrecv
	// SRTP suite kept: AES_CM_128_HMAC_SHA1_80
}
