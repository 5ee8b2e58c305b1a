package sdp_test

import (
	"fmt"
	"net/netip"

	"github.com/byocp/byocp/sdp"
)

// A carrier->Zoom call on legs that relay T.38: the carrier's re-INVITE
// replaces its audio m-line with m=image; byocp offers Zoom its image
// stream in the same m-line, with the carrier's T.38 attributes, and
// answers the carrier with Zoom's. Each State then tells the UDPTL relay
// where the peer's image stream is.
func ExampleLeg_t38() {
	ip := netip.MustParseAddr("198.51.100.7")
	carrier, _ := sdp.NewLeg(sdp.LegConfig{Addr: ip, Port: 40000, ImagePort: 40004,
		Origin: &sdp.Origin{Username: "byocp", SessionID: 1, Version: 1, Addr: ip}})
	zoom, _ := sdp.NewLeg(sdp.LegConfig{SRTP: true, Addr: ip, Port: 40002, ImagePort: 40006,
		Origin: &sdp.Origin{Username: "byocp", SessionID: 2, Version: 1, Addr: ip}})
	peer := func(o, conn, m, extra string) []byte {
		return []byte("v=0\r\no=" + o + " IN IP4 " + conn + "\r\ns=-\r\nc=IN IP4 " + conn + "\r\nt=0 0\r\n" + m + "\r\n" + extra)
	}
	key := "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:zUz2EECG/Lkf1W69parL55I+oXQ8S1azSocNeqhd\r\n"

	// The call is set up with audio.
	off, _ := carrier.ReceiveOffer(peer("- 10 10", "192.0.2.20", "m=audio 4000 RTP/AVP 0", ""))
	_, _ = zoom.OfferFrom(off.Media)
	ans, _ := zoom.TakeAnswer(peer("z 20 20", "192.0.2.30", "m=audio 5000 RTP/SAVP 0", key))
	_, _ = carrier.Answer(ans)

	// The carrier's T.38 re-INVITE, relayed to Zoom.
	off, _ = carrier.ReceiveOffer(peer("- 10 11", "192.0.2.20", "m=image 4002 udptl t38",
		"a=T38FaxVersion:0\r\na=T38MaxBitRate:14400\r\na=T38FaxRateManagement:transferredTCF\r\n"))
	fmt.Println("relay:", off.Relay, "audio formats:", len(off.Media.Formats))
	toZoom, _ := zoom.OfferFrom(off.Media)
	ans, _ = zoom.TakeAnswer(peer("z 20 21", "192.0.2.30", "m=image 5002 udptl t38",
		"a=T38FaxVersion:0\r\na=T38MaxBitRate:9600\r\na=T38FaxRateManagement:transferredTCF\r\n"))
	toCarrier, _ := carrier.Answer(ans)
	show("->zoom", toZoom)
	show("->carr", toCarrier)
	k, z := carrier.Current(), zoom.Current()
	fmt.Println("carrier UDPTL:", netip.AddrPortFrom(k.Image.Addr, uint16(k.Image.Port)), "audio index:", k.Index)
	fmt.Println("Zoom UDPTL:", netip.AddrPortFrom(z.Image.Addr, uint16(z.Image.Port)), z.Image.Attributes[1].Value)
	// Output:
	// relay: true audio formats: 0
	// ->zoom   o=byocp 2 2 IN IP4 198.51.100.7
	// ->zoom   m=image 40006 udptl t38
	// ->carr   o=byocp 1 2 IN IP4 198.51.100.7
	// ->carr   m=image 40004 udptl t38
	// carrier UDPTL: 192.0.2.20:4002 audio index: -1
	// Zoom UDPTL: 192.0.2.30:5002 9600
}
