package trunktest_test

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/byocp/byocp"
	"github.com/byocp/byocp/peering/peeringtest"
	"github.com/byocp/byocp/trunk/trunktest"
)

// ExampleCall_SendUDPTL switches a call to T.38 fax from the fake carrier,
// as the gateway of a fax machine does, through an SBC that relays T.38,
// to a fake Zoom peer that accepts it. The carrier's UDPTL datagrams reach
// Zoom byte for byte; a re-INVITE without T38 goes back to audio.
func ExampleCall_SendUDPTL() {
	carrier, err := trunktest.NewCarrier(trunktest.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer carrier.Close()
	pki, err := peeringtest.NewPKI("example CA", time.Hour)
	if err != nil {
		log.Fatal(err)
	}
	zoom, err := peeringtest.NewZoom(peeringtest.Config{PKI: pki, Behavior: peeringtest.Behavior{AcceptT38: true}})
	if err != nil {
		log.Fatal(err)
	}
	defer zoom.Close()
	sbc := sbcUnderTest(carrier, zoom, pki, func(c *byocp.Config) {
		c.Trunk.RelayT38, c.Peering.RelayT38 = true, true
	})
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
	if err := call.Reinvite(ctx, trunktest.ReinviteOptions{T38: true}); err != nil {
		log.Fatal(err)
	}
	fmt.Println("fax: carrier", call.T38(), "- Zoom", atZoom.T38())
	offer := string(atZoom.Requests()[0].SDP) // the re-INVITE the SBC sent to Zoom
	fmt.Println("Zoom was offered m=image:", strings.Contains(offer, "m=image "), "- m=audio:", strings.Contains(offer, "m=audio "))

	// A gateway repeats its first T.38 packet (redundancy); each is one
	// UDPTL datagram: sequence number, IFP packet, no error recovery.
	packet := []byte{0x00, 0x00, 0x02, 0x00, 0x01, 0x00}
	for range 3 {
		if err := call.SendUDPTL(packet); err != nil {
			log.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	got, err := atZoom.WaitUDPTL(ctx, 1)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("Zoom received the datagram intact:", bytes.Equal(got[0], packet))

	if err := call.Reinvite(ctx, trunktest.ReinviteOptions{}); err != nil { // back to audio
		log.Fatal(err)
	}
	fmt.Println("fax after the re-INVITE back to audio:", call.T38(), "-", atZoom.T38())
	// Output:
	// fax: carrier true - Zoom true
	// Zoom was offered m=image: true - m=audio: false
	// Zoom received the datagram intact: true
	// fax after the re-INVITE back to audio: false - false
}
