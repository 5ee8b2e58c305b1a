package media_test

import (
	"fmt"
	"log"
	"log/slog"
	"net/netip"

	"github.com/byocp/byocp/media"
)

// A call that switches to T.38 gets a UDPTLRelay on a second Port per
// leg; their numbers go in the m=image lines, the peers' UDPTL addresses
// from their SDP into SetLeg.
func ExampleUDPTLRelay() {
	pool, err := media.NewPortPool(netip.MustParseAddr("127.0.0.1"), 41000, 41999)
	if err != nil {
		log.Fatal(err)
	}
	carrier, _ := pool.Allocate() // error handling elided
	zoom, _ := pool.Allocate()
	fax := media.NewUDPTLRelay(carrier, zoom, slog.Default())
	_ = fax.SetLeg(media.SideA, media.UDPTLLegConfig{
		Remote:          netip.MustParseAddrPort("198.51.100.7:20334"), // the carrier's m=image
		RestrictSources: true,
		SourceNetworks:  []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")},
	})
	_ = fax.SetLeg(media.SideB, media.UDPTLLegConfig{
		Remote:          netip.MustParseAddrPort("203.0.113.10:34172"), // Zoom's m=image
		RestrictSources: true,
	})
	fax.Start()
	_ = fax.Close() // returns both ports to the pool
	st := fax.Stats()
	fmt.Println("in use:", pool.InUse(), "T.38 relayed:", st.AtoB.Forwarded+st.BtoA.Forwarded > 0)
	// Output: in use: 0 T.38 relayed: false
}
