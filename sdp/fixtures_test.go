package sdp

import "strings"

// Real random keys of the right length for each suite (zoom-byocp.md 3.1:
// Zoom's published sample masks them).
const (
	keyGCM256   = "XtN63Sq94N+c4Iw4YyZXhVEDei6jgfu+up5gajTutuDE6/h5BJdS2XW5xOU="     // 44 bytes
	keyCM256    = "/ZTc37SGpQfHM+oaHxldqmIF4Z+EdVf4TFnHKJTYr5z1w6ZX2p7ernrEL9fEJg==" // 46 bytes
	keyCM128    = "zUz2EECG/Lkf1W69parL55I+oXQ8S1azSocNeqhd"                         // 30 bytes
	keyCM128b   = "3dF65Juega0TEEbAqDadOYLEfFGgH6G7ziNmgm+d"                         // 30 bytes
	keyCM256alt = "7KZ23T5Gp/nWO9bAx9sJeLPCYbUmaMoq6EFiUtfvFloVtJt6SLYcJPKWFYXi8g==" // 46 bytes
)

// crlf joins SDP lines the way they travel.
func crlf(lines ...string) string { return strings.Join(lines, "\r\n") + "\r\n" }

// zoomOffer is Zoom's BYOC-P offer (KB0073073, zoom-byocp.md 3.1) with real
// keys. The source is cut off after the Opus fmtp: maxplaybackrate and the
// lines after it (rtpmaps for 9/0/8/18/101, fmtp:101) are inferred.
var zoomOffer = crlf(
	"v=0",
	"o=Sonus_UAC 282321 56390 IN IP4 2.2.2.2",
	"s=SIP Media Capabilities",
	"c=IN IP4 3.3.3.3",
	"t=0 0",
	"m=audio 34168 RTP/SAVP 102 9 0 8 18 101",
	"a=ptime:20",
	"a=crypto:1 AEAD_AES_256_GCM inline:"+keyGCM256,
	"a=crypto:2 AES_256_CM_HMAC_SHA1_80 inline:"+keyCM256,
	"a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:"+keyCM128,
	"a=crypto:4 AES_CM_128_HMAC_SHA1_32 inline:"+keyCM128b,
	"a=rtpmap:102 opus/48000/2",
	"a=fmtp:102 useinbandfec=1;maxaveragebitrate=40000;maxplaybackrate=16000",
	"a=rtpmap:9 G722/8000",
	"a=rtpmap:0 PCMU/8000",
	"a=rtpmap:8 PCMA/8000",
	"a=rtpmap:18 G729/8000",
	"a=rtpmap:101 telephone-event/8000",
	"a=fmtp:101 0-15",
)

// zoomPrefs is the Bridge's default SDES preference for answering Zoom
// (peering.DefaultSRTPSuites, repeated here because sdp cannot import
// peering): tag 3, then 2, 1 and 4 of zoomOffer.
var zoomPrefs = []Suite{SuiteAESCM128HMACSHA180, SuiteAES256CMHMACSHA180, SuiteAEADAES256GCM, SuiteAESCM128HMACSHA132}

// zoomCryptoLines are zoomOffer's a=crypto lines by tag.
var zoomCryptoLines = map[int]string{
	1: "a=crypto:1 AEAD_AES_256_GCM inline:" + keyGCM256,
	2: "a=crypto:2 AES_256_CM_HMAC_SHA1_80 inline:" + keyCM256,
	3: "a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:" + keyCM128,
	4: "a=crypto:4 AES_CM_128_HMAC_SHA1_32 inline:" + keyCM128b,
}

// zoomOfferWith returns zoomOffer with suffix appended to the a=crypto
// lines of the given tags, e.g. "|2^31|1:4" or " UNENCRYPTED_SRTCP".
func zoomOfferWith(suffix string, tags ...int) string {
	s := zoomOffer
	for _, tag := range tags {
		line := zoomCryptoLines[tag]
		if !strings.Contains(s, line+"\r\n") {
			panic("zoomOffer has no line " + line)
		}
		s = strings.Replace(s, line+"\r\n", line+suffix+"\r\n", 1)
	}
	return s
}

// carrierOffer is a typical carrier trunk offer: rtpmaps for some static
// payload types only, attributes byocp ignores, explicit a=sendrecv.
var carrierOffer = crlf(
	"v=0",
	"o=- 1700000000 1700000000 IN IP4 198.51.100.10",
	"s=-",
	"c=IN IP4 198.51.100.20",
	"t=0 0",
	"m=audio 4000 RTP/AVP 0 8 18 101",
	"a=rtpmap:0 PCMU/8000",
	"a=rtpmap:18 G729/8000",
	"a=fmtp:18 annexb=no",
	"a=rtpmap:101 telephone-event/8000",
	"a=fmtp:101 0-16",
	"a=rtcp:4001",
	"a=silenceSupp:off - - - -",
	"a=ptime:20",
	"a=maxptime:40",
	"a=sendrecv",
)

// ipv6Offer uses IN IP6 for origin and connection.
var ipv6Offer = crlf(
	"v=0",
	"o=- 42 42 IN IP6 2001:db8::10",
	"s=-",
	"c=IN IP6 2001:db8::20",
	"t=0 0",
	"m=audio 5004 RTP/AVP 8 96",
	"a=rtpmap:96 telephone-event/8000",
	"a=recvonly",
)

// mediaLevelOffer has a media-level c= that must win over the session one.
var mediaLevelOffer = crlf(
	"v=0",
	"o=- 1 1 IN IP4 192.0.2.1",
	"s=-",
	"c=IN IP4 192.0.2.1",
	"t=0 0",
	"m=audio 6000 RTP/AVP 0",
	"c=IN IP4 192.0.2.99",
	"a=sendonly",
)
