package sdp

import "strings"

// Published session descriptions, as printed by their sources. Unless
// noted, each is verbatim apart from the line endings: lf joins lines with
// LF (the source's own line endings), crlf with CRLF (the line endings
// SDP travels with; the source printed plain lines).

// lf joins SDP lines with bare LF line endings.
func lf(lines ...string) string { return strings.Join(lines, "\n") + "\n" }

// RFC 3264 section 9, Figure 1: an SDP indicating capabilities. Its t=
// line comes before its c= line, which pion/sdp refuses.
var rfc3264Capabilities = crlf(
	"v=0",
	"o=carol 28908764872 28908764872 IN IP4 100.3.6.6",
	"s=-",
	"t=0 0",
	"c=IN IP4 192.0.2.4",
	"m=audio 0 RTP/AVP 0 1 3",
	"a=rtpmap:0 PCMU/8000",
	"a=rtpmap:1 1016/8000",
	"a=rtpmap:3 GSM/8000",
	"m=video 0 RTP/AVP 31 34",
	"a=rtpmap:31 H261/90000",
	"a=rtpmap:34 H263/90000",
)

// RFC 3264 section 10.1, Basic Exchange: Alice's offer, Bob's answer
// (first video stream rejected), Bob's re-offer (new audio port, a second
// audio stream added) and Alice's answer. The s= lines are empty.
var rfc3264Basic = []string{
	crlf(
		"v=0",
		"o=alice 2890844526 2890844526 IN IP4 host.anywhere.com",
		"s=",
		"c=IN IP4 host.anywhere.com",
		"t=0 0",
		"m=audio 49170 RTP/AVP 0",
		"a=rtpmap:0 PCMU/8000",
		"m=video 51372 RTP/AVP 31",
		"a=rtpmap:31 H261/90000",
		"m=video 53000 RTP/AVP 32",
		"a=rtpmap:32 MPV/90000",
	),
	crlf(
		"v=0",
		"o=bob 2890844730 2890844730 IN IP4 host.example.com",
		"s=",
		"c=IN IP4 host.example.com",
		"t=0 0",
		"m=audio 49920 RTP/AVP 0",
		"a=rtpmap:0 PCMU/8000",
		"m=video 0 RTP/AVP 31",
		"m=video 53000 RTP/AVP 32",
		"a=rtpmap:32 MPV/90000",
	),
	crlf(
		"v=0",
		"o=bob 2890844730 2890844731 IN IP4 host.example.com",
		"s=",
		"c=IN IP4 host.example.com",
		"t=0 0",
		"m=audio 65422 RTP/AVP 0",
		"a=rtpmap:0 PCMU/8000",
		"m=video 0 RTP/AVP 31",
		"m=video 53000 RTP/AVP 32",
		"a=rtpmap:32 MPV/90000",
		"m=audio 51434 RTP/AVP 110",
		"a=rtpmap:110 telephone-events/8000",
		"a=recvonly",
	),
	crlf(
		"v=0",
		"o=alice 2890844526 2890844527 IN IP4 host.anywhere.com",
		"s=",
		"c=IN IP4 host.anywhere.com",
		"t=0 0",
		"m=audio 49170 RTP/AVP 0",
		"a=rtpmap:0 PCMU/8000",
		"m=video 0 RTP/AVP 31",
		"a=rtpmap:31 H261/90000",
		"m=video 53000 RTP/AVP 32",
		"a=rtpmap:32 MPV/90000",
		"m=audio 53122 RTP/AVP 110",
		"a=rtpmap:110 telephone-events/8000",
		"a=sendonly",
	),
}

// RFC 3264 section 10.2, One of N Codec Selection: the inactive offer and
// its answer.
var rfc3264OneOfN = []string{
	crlf(
		"v=0",
		"o=alice 2890844526 2890844526 IN IP4 host.anywhere.com",
		"s=",
		"c=IN IP4 host.anywhere.com",
		"t=0 0",
		"m=audio 62986 RTP/AVP 0 4 18",
		"a=rtpmap:0 PCMU/8000",
		"a=rtpmap:4 G723/8000",
		"a=rtpmap:18 G729/8000",
		"a=inactive",
	),
	crlf(
		"v=0",
		"o=bob 2890844730 2890844731 IN IP4 host.example.com",
		"s=",
		"c=IN IP4 host.example.com",
		"t=0 0",
		"m=audio 54344 RTP/AVP 0 4",
		"a=rtpmap:0 PCMU/8000",
		"a=rtpmap:4 G723/8000",
		"a=inactive",
	),
}

// RFC 4317 examples. "Note that the subject line (s=) contains a single
// space character" (section 1), kept here.
var (
	// Section 2.1, Audio and Video 1: offer and answer.
	rfc4317AudioVideo = []string{
		crlf(
			"v=0",
			"o=alice 2890844526 2890844526 IN IP4 host.atlanta.example.com",
			"s= ",
			"c=IN IP4 host.atlanta.example.com",
			"t=0 0",
			"m=audio 49170 RTP/AVP 0 8 97",
			"a=rtpmap:0 PCMU/8000",
			"a=rtpmap:8 PCMA/8000",
			"a=rtpmap:97 iLBC/8000",
			"m=video 51372 RTP/AVP 31 32",
			"a=rtpmap:31 H261/90000",
			"a=rtpmap:32 MPV/90000",
		),
		crlf(
			"v=0",
			"o=bob 2808844564 2808844564 IN IP4 host.biloxi.example.com",
			"s= ",
			"c=IN IP4 host.biloxi.example.com",
			"t=0 0",
			"m=audio 49174 RTP/AVP 0",
			"a=rtpmap:0 PCMU/8000",
			"m=video 49170 RTP/AVP 32",
			"a=rtpmap:32 MPV/90000",
		),
	}
	// Section 2.4, Two Audio Streams: the offer.
	rfc4317TwoAudio = crlf(
		"v=0",
		"o=alice 2890844526 2890844526 IN IP4 host.atlanta.example.com",
		"s= ",
		"c=IN IP4 host.atlanta.example.com",
		"t=0 0",
		"m=audio 49170 RTP/AVP 0 97",
		"a=rtpmap:0 PCMU/8000",
		"a=rtpmap:97 iLBC/8000",
		"m=audio 49172 RTP/AVP 98",
		"a=rtpmap:98 telephone-event/8000",
		"a=sendonly",
	)
	// Section 2.6, Audio Only 1: the answer, which declines the first
	// audio stream.
	rfc4317FirstAudioDeclined = crlf(
		"v=0",
		"o=bob 2808844564 2808844564 IN IP4 host.biloxi.example.com",
		"s= ",
		"c=IN IP4 host.biloxi.example.com",
		"t=0 0",
		"m=audio 0 RTP/AVP 0",
		"a=rtpmap:0 PCMU/8000",
		"m=audio 49170 RTP/AVP 97 101",
		"a=rtpmap:97 iLBC/8000",
		"a=rtpmap:101 telephone-event/8000",
	)
	// Section 2.8, Audio and Video 6: the answer, with a media-level c=.
	rfc4317VideoElsewhere = crlf(
		"v=0",
		"o=bob 2808844564 2808844564 IN IP4 host.biloxi.example.com",
		"s= ",
		"c=IN IP4 host.biloxi.example.com",
		"t=0 0",
		"m=audio 49174 RTP/AVP 0",
		"a=rtpmap:0 PCMU/8000",
		"m=video 49172 RTP/AVP 32",
		"c=IN IP4 otherhost.biloxi.example.com",
		"a=rtpmap:32 MPV/90000",
	)
	// Section 5.1, No Media, Then Audio Added: the offer without m= lines.
	rfc4317NoMedia = crlf(
		"v=0",
		"o=alice 2890844526 2890844526 IN IP4 host.atlanta.example.com",
		"s= ",
		"c=IN IP4 host.atlanta.example.com",
		"t=0 0",
	)
	// Section 5.2, Hold and Unhold 2: the offer with c=0.0.0.0.
	rfc4317BlackHole = crlf(
		"v=0",
		"o=alice 2890844526 2890844526 IN IP4 host.atlanta.example.com",
		"s= ",
		"c=IN IP4 0.0.0.0",
		"t=0 0",
		"m=audio 23442 RTP/AVP 97",
		"a=rtpmap:97 iLBC/8000",
	)
)

// didwwFax is the INVITE SDP of a DIDWW SBC offering audio and T.38 at
// once, from https://github.com/signalwire/freeswitch/issues/1297 (its
// Content-Length, 526, matches these lines with CRLF). t= comes before
// any c=, each m-line has its own c=, and a=direction:both is not an RFC
// attribute. pion/sdp refuses it ("invalid value 'image'").
var didwwFax = crlf(
	"v=0",
	"o=- 1869739744 1869739744 IN IP4 46.19.209.78",
	"s=-",
	"t=0 0",
	"m=audio 13960 RTP/AVP 0 8 18 4 101",
	"c=IN IP4 46.19.209.78",
	"a=rtpmap:0 PCMU/8000",
	"a=rtpmap:8 PCMA/8000",
	"a=rtpmap:18 G729/8000",
	"a=fmtp:18 annexb=no",
	"a=rtpmap:4 G723/8000",
	"a=rtpmap:101 telephone-event/8000",
	"a=sendrecv",
	"a=ptime:20",
	"a=direction:both",
	"m=image 13962 udptl t38",
	"c=IN IP4 46.19.209.78",
	"a=sendrecv",
	"a=T38FaxMaxDatagram:612",
	"a=T38FaxRateManagement:transferredTCF",
	"a=T38FaxUdpEC:t38UDPRedundancy",
	"a=T38FaxVersion:0",
	"a=T38MaxBitRate:14400",
	"a=direction:both",
)

// didwwAudio is didwwFax without its m=image section: the same peer's
// audio-only SDP.
var didwwAudio = didwwFax[:strings.Index(didwwFax, "m=image")]

// t38ReInvite is a T.38 re-INVITE that replaces the audio m-line with
// m=image, from https://github.com/sipwise/rtpengine/issues/1201 (Bob's
// SDP). a=T38FaxFillBitRemoval is a property attribute.
var t38ReInvite = crlf(
	"v=0",
	"o=name 1614699264 1614699267 IN IP4 192.168.171.230",
	"s=name",
	"c=IN IP4 192.168.171.230",
	"t=0 0",
	"m=image 20334 udptl t38",
	"a=T38FaxVersion:0",
	"a=T38MaxBitRate:14400",
	"a=T38FaxFillBitRemoval",
	"a=T38FaxRateManagement:transferredTCF",
	"a=T38FaxMaxBuffer:2000",
	"a=T38FaxMaxDatagram:400",
	"a=T38FaxUdpEC:t38UDPRedundancy",
)

// t38DisabledAudio is a T.38 re-INVITE that disables the audio m-line
// (port 0) and adds m=image after it, from
// https://github.com/sipwise/rtpengine/issues/686 (the SDP rtpengine
// received; the trailing dots of the trace are line ends).
var t38DisabledAudio = crlf(
	"v=0",
	"o=UserA 3272146361 4237707437 IN IP4 192.168.2.2",
	"s=Session SDP",
	"c=IN IP4 192.168.2.2",
	"t=0 0",
	"m=audio 0 RTP/AVP 8 101",
	"m=image 49158 udptl t38",
	"c=IN IP4 192.168.2.2",
	"a=T38FaxVersion:0",
	"a=T38FaxRateManagement:transferredTCF",
)

// telnyxAnswer is Telnyx's 183/200 SDP from its support article "TLS and
// SRTP" (https://support.telnyx.com/en/articles/4404575-tls-and-srtp), with
// a=maxptime; the published key is replaced by a fixture key.
var telnyxAnswer = crlf(
	"v=0",
	"o=root 301488255 301488255 IN IP4 64.16.249.226",
	"s=Asterisk PBX 13.34.0",
	"c=IN IP4 64.16.249.226",
	"t=0 0",
	"m=audio 29078 RTP/SAVP 0 101",
	"a=crypto:5 AES_CM_128_HMAC_SHA1_80 inline:"+keyCM128,
	"a=rtpmap:0 PCMU/8000",
	"a=rtpmap:101 telephone-event/8000",
	"a=fmtp:101 0-16",
	"a=ptime:20",
	"a=maxptime:150",
	"a=sendrecv",
)

// pjsipOffer is a pjsua INVITE to a SIP trunk, from
// https://github.com/pjsip/pjproject/issues/4746: b=AS before t=, a
// session-level a=X-nat, c= and b=TIAS at media level and a=rtcp with an
// address. The reporter replaced the addresses with "lan-ip"; the
// a=crypto lines after a=ssrc are left out (the issue cuts them short).
var pjsipOffer = crlf(
	"v=0",
	"o=- 3975477235 3975477235 IN IP4 lan-ip",
	"s=pjmedia",
	"b=AS:84",
	"t=0 0",
	"a=X-nat:0",
	"m=audio 4000 RTP/SAVP 96 97 98 99 3 0 8 9 120 121 122",
	"c=IN IP4 lan-ip",
	"b=TIAS:64000",
	"a=rtcp:4001 IN IP4 lan-ip",
	"a=sendrecv",
	"a=rtpmap:96 speex/16000",
	"a=rtpmap:97 speex/8000",
	"a=rtpmap:98 speex/32000",
	"a=rtpmap:99 iLBC/8000",
	"a=fmtp:99 mode=30",
	"a=rtpmap:3 GSM/8000",
	"a=rtpmap:0 PCMU/8000",
	"a=rtpmap:8 PCMA/8000",
	"a=rtpmap:9 G722/8000",
	"a=rtpmap:120 telephone-event/16000",
	"a=fmtp:120 0-16",
	"a=rtpmap:121 telephone-event/8000",
	"a=fmtp:121 0-16",
	"a=rtpmap:122 telephone-event/32000",
	"a=fmtp:122 0-16",
	"a=ssrc:1074186683 cname:1e030ddf1ca93eca",
)

// freeswitchLF is a FreeSWITCH offer with LF line endings, a=rtcp-mux and
// a=rtcp with an address, from the rtpengine offer dump in
// https://github.com/sipwise/rtpengine/issues/565.
var freeswitchLF = lf(
	"v=0",
	"o=FreeSWITCH 1527842016 1527842017 IN IP4 10.0.0.6",
	"s=FreeSWITCH",
	"c=IN IP4 10.0.0.6",
	"t=0 0",
	"m=audio 27870 RTP/AVP 9 101 13",
	"a=rtpmap:9 G722/8000",
	"a=rtpmap:101 telephone-event/8000",
	"a=fmtp:101 0-16",
	"a=rtpmap:13 CN/8000",
	"a=rtcp-mux",
	"a=rtcp:27870 IN IP4 10.0.0.6",
	"a=ptime:20",
)

// freeswitchHold is FreeSWITCH's SDP putting a call on hold (recvonly),
// with a video stream whose b=AS comes after a= lines, from
// https://github.com/BelledonneCommunications/linphone-desktop/issues/7.
var freeswitchHold = lf(
	"v=0",
	"o=FreeSWITCH 1468325773 1468325775 IN IP4 104.197.230.189",
	"s=FreeSWITCH",
	"c=IN IP4 104.197.230.189",
	"t=0 0",
	"m=audio 11366 RTP/AVP 9 101",
	"a=rtpmap:9 G722/8000",
	"a=rtpmap:101 telephone-event/8000",
	"a=fmtp:101 0-16",
	"a=ptime:20",
	"a=recvonly",
	"a=rtcp:11367",
	"m=video 11406 RTP/AVP 102",
	"a=rtpmap:102 H264/90000",
	"a=fmtp:102 profile-level-id=42801F;packetization-mode=1",
	"b=AS:1024",
	"a=rtcp-fb:102 ccm fir",
	"a=rtcp-fb:102 ccm tmmbr",
	"a=rtcp-fb:102 nack",
	"a=rtcp-fb:102 nack pli",
	"a=recvonly",
	"a=rtcp:11407",
)

// mobicentsOffer is a Mobicents Media Server offer with session- and
// media-level c=, a=rtcp with an address, lower-case encoding names and
// two telephone-event formats, from
// https://github.com/RestComm/media-core/issues/61.
var mobicentsOffer = crlf(
	"v=0",
	"o=- 1448892712200 1 IN IP4 192.16.1.1",
	"s=Mobicents Media Server",
	"c=IN IP4 192.168.1.1",
	"t=0 0",
	"m=audio 37402 RTP/AVP 8 0 3 18 97 102 101 126",
	"c=IN IP4 192.168.1.1",
	"a=sendrecv",
	"a=rtcp:37403 IN IP4 192.168.1.1",
	"a=ptime:20",
	"a=rtpmap:102 ilbc/8000",
	"a=rtpmap:0 pcmu/8000",
	"a=rtpmap:101 telephone-event/8000",
	"a=rtpmap:18 g729/8000",
	"a=rtpmap:3 gsm/8000",
	"a=rtpmap:97 l16/8000",
	"a=rtpmap:8 pcma/8000",
	"a=rtpmap:126 telephone-event/8000",
	"a=ssrc:2288651527 cname:mfLS0DTrHQa+uLNF",
)

// ciscoOffer is a Cisco 7960 INVITE SDP with its c= line after the m=
// line, from https://github.com/sipcapture/captagent/issues/4.
var ciscoOffer = crlf(
	"v=0",
	"o=Cisco-SIPUA 7221 0 IN IP4 10.10.10.10",
	"s=SIP Call",
	"t=0 0",
	"m=audio 20096 RTP/AVP 0 8 18 9 116 101",
	"c=IN IP4 10.10.10.10",
	"a=rtpmap:0 PCMU/8000",
	"a=rtpmap:8 PCMA/8000",
	"a=rtpmap:18 G729/8000",
	"a=fmtp:18 annexb=no",
	"a=rtpmap:9 G722/8000",
	"a=rtpmap:116 iLBC/8000",
	"a=fmtp:116 mode=20",
	"a=rtpmap:101 telephone-event/8000",
	"a=fmtp:101 0-15",
	"a=sendrecv",
)

// ciscoNoSessionName is ciscoOffer without its s= line: not a published
// capture (none was at hand), but the shape pion/sdp refuses as a syntax
// error and byocp has repaired since its first release.
var ciscoNoSessionName = strings.Replace(ciscoOffer, "s=SIP Call\r\n", "", 1)
