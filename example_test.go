package byocp_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"log"
	"log/slog"
	"net/netip"
	"time"

	"github.com/byocp/byocp"
	"github.com/byocp/byocp/peering"
	"github.com/byocp/byocp/peering/peeringtest"
	"github.com/byocp/byocp/trunk"
	"github.com/byocp/byocp/trunk/trunktest"
)

// ExampleNew wires a Bridge between a carrier and Zoom. Here both are the
// project's test peers on loopback; in production Trunk.Peer is the
// carrier's SIP address, Peering.Peers are Zoom's SIP zones and the
// certificates come from files (see examples/sbc).
func ExampleNew() {
	pki, _ := peeringtest.NewPKI("example CA", time.Hour)
	zoom, _ := peeringtest.NewZoom(peeringtest.Config{PKI: pki})
	defer zoom.Close()
	carrier, _ := trunktest.NewCarrier(trunktest.Config{})
	defer carrier.Close()
	sbcCert, _ := pki.Issue("sbc.example", []netip.Addr{netip.MustParseAddr("127.0.0.1")})

	bridge, err := byocp.New(byocp.Config{
		Trunk: trunk.Config{
			Listen: "127.0.0.1:0",
			Peer:   carrier.Addr().String(),
			// The carrier sends national numbers; Zoom gets +E.164.
			Numbering: trunk.Numbering{CountryCode: "1"},
		},
		Peering: peering.Config{
			Listen:       "127.0.0.1:0",
			Peers:        []peering.Peer{{Name: "zone A", Address: zoom.Addr().String()}},
			Certificates: []tls.Certificate{sbcCert},
			RootCAs:      pki.Pool(),
			PeerNames:    []string{peeringtest.ZoomName}, // from Zoom's onboarding material in production
		},
		Media:  byocp.MediaConfig{IP: netip.MustParseAddr("127.0.0.1"), PortMin: 41000, PortMax: 41999},
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer bridge.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	call, err := carrier.Dial(ctx, bridge.TrunkAddr(), "4155550100", "4155550199")
	if err != nil {
		log.Fatal(err)
	}
	atZoom, _ := zoom.Accept(ctx)
	<-atZoom.Answered()
	fmt.Println("Zoom was called at", atZoom.Invite().RequestURI.User, "by", atZoom.Invite().From.URI.User)
	fmt.Println("SRTP suite on the Zoom leg:", atZoom.Suite())
	_ = call.Hangup(ctx)
	<-atZoom.Done()
	// Output:
	// Zoom was called at +14155550199 by +14155550100
	// SRTP suite on the Zoom leg: AES_CM_128_HMAC_SHA1_80
}
