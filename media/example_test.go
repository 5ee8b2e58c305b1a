package media_test

import (
	"log"
	"log/slog"
	"net/netip"

	"github.com/byocp/byocp/media"
)

// A Bridge allocates one Port per leg, advertises their numbers in SDP and
// wires a Relay, keying the Zoom leg as the offer and answer are known.
func Example() {
	pool, err := media.NewPortPool(netip.MustParseAddr("0.0.0.0"), 40000, 49999)
	if err != nil {
		log.Fatal(err)
	}
	carrier, _ := pool.Allocate() // error handling elided
	zoom, _ := pool.Allocate()
	relay := media.NewRelay(carrier, zoom, slog.Default())
	defer relay.Close()

	// Our offer to Zoom carries zoom.Number() and our key.
	ourKey := make([]byte, 30) // from crypto/rand in real use
	_ = relay.SetLeg(media.SideB, media.LegConfig{
		SRTP: &media.SRTPConfig{Suite: "AES_CM_128_HMAC_SHA1_80", LocalKey: ourKey},
	})
	relay.Start()

	// Zoom's answer brings its address and key; the carrier's SDP its
	// address. The plain carrier leg accepts media only from that IP (any
	// port) and from the carrier's media network.
	zoomKey := make([]byte, 30)
	_ = relay.SetLeg(media.SideB, media.LegConfig{
		Remote: netip.MustParseAddrPort("203.0.113.10:30000"),
		SRTP:   &media.SRTPConfig{Suite: "AES_CM_128_HMAC_SHA1_80", LocalKey: ourKey, RemoteKey: zoomKey},
	})
	_ = relay.SetLeg(media.SideA, media.LegConfig{
		Remote:          netip.MustParseAddrPort("198.51.100.7:4000"),
		RestrictSources: true,
		SourceNetworks:  []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")},
	})
}
