package sdp_test

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/byocp/byocp/sdp"
)

// show prints the m= and direction lines of an SDP.
func show(who string, body []byte) {
	for _, line := range strings.Split(strings.TrimSpace(string(body)), "\r\n") {
		if strings.HasPrefix(line, "o=") || strings.HasPrefix(line, "m=") || line == "a=sendrecv" || line == "a=sendonly" || line == "a=recvonly" {
			fmt.Printf("%-8s %s\n", who, line)
		}
	}
}

// A call from the carrier to Zoom, then Zoom puts it on hold: the
// re-offer from Zoom becomes byocp's offer to the carrier, and the
// carrier's answer becomes byocp's answer to Zoom.
func ExampleLeg() {
	ip := netip.MustParseAddr("198.51.100.7")
	carrier, _ := sdp.NewLeg(sdp.LegConfig{Addr: ip, Port: 40000,
		Origin: &sdp.Origin{Username: "byocp", SessionID: 1, Version: 1, Addr: ip}})
	zoom, _ := sdp.NewLeg(sdp.LegConfig{SRTP: true, Addr: ip, Port: 40002,
		Origin: &sdp.Origin{Username: "byocp", SessionID: 2, Version: 1, Addr: ip}})

	peer := func(o, conn, m, extra string) []byte {
		return []byte("v=0\r\no=" + o + " IN IP4 " + conn + "\r\ns=-\r\nc=IN IP4 " + conn + "\r\nt=0 0\r\n" + m + "\r\n" + extra)
	}
	key := "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:zUz2EECG/Lkf1W69parL55I+oXQ8S1azSocNeqhd\r\n"

	// Call setup: the carrier's INVITE, byocp's INVITE to Zoom, Zoom's 200, byocp's 200.
	off, _ := carrier.ReceiveOffer(peer("- 10 10", "192.0.2.20", "m=audio 4000 RTP/AVP 0 8", ""))
	toZoom, _ := zoom.OfferFrom(off.Media)
	ans, _ := zoom.TakeAnswer(peer("z 20 20", "192.0.2.30", "m=audio 5000 RTP/SAVP 0", key))
	toCarrier, _ := carrier.Answer(ans)
	show("->zoom", toZoom)
	show("->carr", toCarrier)

	// Zoom holds: its re-INVITE is relayed; the carrier's 200 answers it.
	off, _ = zoom.ReceiveOffer(peer("z 20 21", "192.0.2.30", "m=audio 5000 RTP/SAVP 0", key+"a=sendonly\r\n"))
	fmt.Println("relay:", off.Relay)
	toCarrier, _ = carrier.OfferFrom(off.Media)
	ans, _ = carrier.TakeAnswer(peer("- 10 11", "192.0.2.20", "m=audio 4000 RTP/AVP 0", "a=recvonly\r\n"))
	toZoom, _ = zoom.Answer(ans)
	show("->carr", toCarrier)
	show("->zoom", toZoom)
	fmt.Println("Zoom leg:", zoom.Current().Direction, "carrier leg:", carrier.Current().Direction)

	// Zoom refreshes the session with the same SDP: answered on its leg, same version.
	off, _ = zoom.ReceiveOffer(peer("z 20 21", "192.0.2.30", "m=audio 5000 RTP/SAVP 0", key+"a=sendonly\r\n"))
	fmt.Println("refresh:", off.Refresh, "relay:", off.Relay)
	toZoom, _ = zoom.AnswerLocal()
	show("->zoom", toZoom)
	// Output:
	// ->zoom   o=byocp 2 1 IN IP4 198.51.100.7
	// ->zoom   m=audio 40002 RTP/SAVP 0 8
	// ->zoom   a=sendrecv
	// ->carr   o=byocp 1 1 IN IP4 198.51.100.7
	// ->carr   m=audio 40000 RTP/AVP 0
	// ->carr   a=sendrecv
	// relay: true
	// ->carr   o=byocp 1 2 IN IP4 198.51.100.7
	// ->carr   m=audio 40000 RTP/AVP 0
	// ->carr   a=sendonly
	// ->zoom   o=byocp 2 2 IN IP4 198.51.100.7
	// ->zoom   m=audio 40002 RTP/SAVP 0
	// ->zoom   a=recvonly
	// Zoom leg: recvonly carrier leg: sendonly
	// refresh: true relay: false
	// ->zoom   o=byocp 2 2 IN IP4 198.51.100.7
	// ->zoom   m=audio 40002 RTP/SAVP 0
	// ->zoom   a=recvonly
}
