package sdp_test

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/byocp/byocp/sdp"
)

// An offer as Zoom sends it (keys shortened to one suite).
const zoomOffer = "v=0\r\n" +
	"o=Sonus_UAC 282321 56390 IN IP4 2.2.2.2\r\n" +
	"s=SIP Media Capabilities\r\n" +
	"c=IN IP4 3.3.3.3\r\n" +
	"t=0 0\r\n" +
	"m=audio 34168 RTP/SAVP 102 9 0 8 18 101\r\n" +
	"a=ptime:20\r\n" +
	"a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:zUz2EECG/Lkf1W69parL55I+oXQ8S1azSocNeqhd\r\n" +
	"a=rtpmap:102 opus/48000/2\r\n" +
	"a=fmtp:102 useinbandfec=1;maxaveragebitrate=40000\r\n" +
	"a=rtpmap:101 telephone-event/8000\r\n" +
	"a=fmtp:101 0-15\r\n"

func ExampleParse() {
	m, err := sdp.Parse([]byte(zoomOffer))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(netip.AddrPortFrom(m.Addr, uint16(m.Port)), m.Proto, m.Direction, m.Ptime)
	for _, f := range m.Formats {
		fmt.Printf("%d %s/%d %q\n", f.PayloadType, f.Name, f.ClockRate, f.Fmtp)
	}
	for _, c := range m.Crypto {
		fmt.Println(c.Tag, c.Suite, len(c.KeySalt))
	}
	// Output:
	// 3.3.3.3:34168 RTP/SAVP sendrecv 20
	// 102 opus/48000 "useinbandfec=1;maxaveragebitrate=40000"
	// 9 G722/8000 ""
	// 0 PCMU/8000 ""
	// 8 PCMA/8000 ""
	// 18 G729/8000 ""
	// 101 telephone-event/8000 "0-15"
	// 3 AES_CM_128_HMAC_SHA1_80 30
}

// The Bridge turns Zoom's offer into the carrier leg's offer: its own relay
// address, plain RTP, no keys, only the codecs the trunk takes.
func ExampleMarshal() {
	m, err := sdp.Parse([]byte(zoomOffer))
	if err != nil {
		fmt.Println(err)
		return
	}
	m.Addr, m.Port = netip.MustParseAddr("198.51.100.7"), 40000
	m.Proto, m.Crypto = sdp.ProtoRTPAVP, nil
	m.Formats = sdp.FilterFormats(m.Formats, []string{"PCMU", "PCMA", "telephone-event"})

	// Real code keeps one sdp.NewOrigin per leg; fixed values keep the
	// output stable here.
	carrierLeg := &sdp.Origin{Username: "byocp", SessionID: 1, Version: 1, Addr: netip.MustParseAddr("198.51.100.7")}
	body, err := sdp.Marshal(carrierLeg, m)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(strings.ReplaceAll(string(body), "\r\n", "\n"))
	// Output:
	// v=0
	// o=byocp 1 1 IN IP4 198.51.100.7
	// s=byocp
	// c=IN IP4 198.51.100.7
	// t=0 0
	// m=audio 40000 RTP/AVP 0 8 101
	// a=rtpmap:0 PCMU/8000
	// a=rtpmap:8 PCMA/8000
	// a=rtpmap:101 telephone-event/8000
	// a=fmtp:101 0-15
	// a=ptime:20
	// a=sendrecv
}

// Answering Zoom: one a=crypto line echoing an offered tag and suite, with
// a fresh key of our own.
func ExampleSelectCrypto() {
	offer, err := sdp.Parse([]byte(zoomOffer))
	if err != nil {
		fmt.Println(err)
		return
	}
	chosen, ok := sdp.SelectCrypto(offer.Crypto, []sdp.Suite{sdp.SuiteAESCM128HMACSHA180, sdp.SuiteAEADAES256GCM})
	if !ok {
		fmt.Println("no acceptable suite: answer 488")
		return
	}
	ours, err := sdp.NewCrypto(chosen.Tag, chosen.Suite)
	if err != nil {
		fmt.Println(err)
		return
	}
	answer := sdp.Media{
		Addr: netip.MustParseAddr("203.0.113.5"), Port: 40002, Proto: sdp.ProtoRTPSAVP,
		Formats: offer.Formats[:1], Crypto: []sdp.Crypto{ours}, Ptime: offer.Ptime,
	}
	// Decrypt what Zoom sends with chosen.KeySalt, encrypt what we send
	// with ours.KeySalt.
	zoomLeg := sdp.NewOrigin(netip.MustParseAddr("203.0.113.5"))
	body, err := sdp.Marshal(zoomLeg, answer)
	if err != nil {
		fmt.Println(err)
		return
	}
	for line := range strings.SplitSeq(string(body), "\r\n") {
		if head, _, ok := strings.Cut(line, "inline:"); ok {
			fmt.Println(head+"inline:", "<fresh 30-byte key>")
		}
	}
	// Output:
	// a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline: <fresh 30-byte key>
}
