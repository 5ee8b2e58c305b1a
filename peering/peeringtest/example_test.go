package peeringtest_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/netip"
	"time"

	"github.com/byocp/byocp/peering/peeringtest"
	"github.com/byocp/byocp/sip"
)

// ExampleNewZoom starts a fake Zoom peer that rejects calls as busy and
// calls it from a second fake Zoom peer, the way a vendor's test would call
// its own SBC's Zoom side.
func ExampleNewZoom() {
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
