package sdp

import (
	"encoding/base64"
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func mustKey(s string) []byte {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

var (
	zoomMedia = Media{
		Addr:  netip.MustParseAddr("3.3.3.3"),
		Port:  34168,
		Proto: ProtoRTPSAVP,
		Formats: []Format{
			{PayloadType: 102, Name: "opus", ClockRate: 48000, Channels: 2, Fmtp: "useinbandfec=1;maxaveragebitrate=40000;maxplaybackrate=16000"},
			{PayloadType: 9, Name: "G722", ClockRate: 8000},
			{PayloadType: 0, Name: "PCMU", ClockRate: 8000},
			{PayloadType: 8, Name: "PCMA", ClockRate: 8000},
			{PayloadType: 18, Name: "G729", ClockRate: 8000},
			{PayloadType: 101, Name: "telephone-event", ClockRate: 8000, Fmtp: "0-15"},
		},
		Crypto: []Crypto{
			{Tag: 1, Suite: SuiteAEADAES256GCM, KeySalt: mustKey(keyGCM256)},
			{Tag: 2, Suite: SuiteAES256CMHMACSHA180, KeySalt: mustKey(keyCM256)},
			{Tag: 3, Suite: SuiteAESCM128HMACSHA180, KeySalt: mustKey(keyCM128)},
			{Tag: 4, Suite: SuiteAESCM128HMACSHA132, KeySalt: mustKey(keyCM128b)},
		},
		Ptime:     20,
		Direction: SendRecv,
	}
	carrierMedia = Media{
		Addr:  netip.MustParseAddr("198.51.100.20"),
		Port:  4000,
		Proto: ProtoRTPAVP,
		Formats: []Format{
			{PayloadType: 0, Name: "PCMU", ClockRate: 8000},
			{PayloadType: 8, Name: "PCMA", ClockRate: 8000}, // no rtpmap: RFC 3551 name
			{PayloadType: 18, Name: "G729", ClockRate: 8000, Fmtp: "annexb=no"},
			{PayloadType: 101, Name: "telephone-event", ClockRate: 8000, Fmtp: "0-16"},
		},
		Ptime:     20,
		Direction: SendRecv,
		RTCP:      netip.MustParseAddrPort("198.51.100.20:4001"), // a=rtcp:4001
	}
)

// sdpLines builds a minimal valid SDP around the given media section lines.
func sdpLines(media ...string) string {
	return crlf(append([]string{"v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "c=IN IP4 192.0.2.2", "t=0 0"}, media...)...)
}

func TestParse(t *testing.T) {
	pcmu := []Format{{PayloadType: 0, Name: "PCMU", ClockRate: 8000}}
	addr2 := netip.MustParseAddr("192.0.2.2")
	tests := []struct {
		name string
		body string
		want Media
	}{
		{"zoom offer", zoomOffer, zoomMedia},
		{"carrier offer", carrierOffer, carrierMedia},
		{"ipv6", ipv6Offer, Media{
			Addr: netip.MustParseAddr("2001:db8::20"), Port: 5004, Proto: ProtoRTPAVP,
			Formats: []Format{
				{PayloadType: 8, Name: "PCMA", ClockRate: 8000},
				{PayloadType: 96, Name: "telephone-event", ClockRate: 8000},
			},
			Direction: RecvOnly,
		}},
		{"media-level c= wins", mediaLevelOffer, Media{
			Addr: netip.MustParseAddr("192.0.2.99"), Port: 6000, Proto: ProtoRTPAVP, Formats: pcmu, Direction: SendOnly,
		}},
		{"LF only", strings.ReplaceAll(carrierOffer, "\r\n", "\n"), carrierMedia},
		{"bare CR", strings.ReplaceAll(carrierOffer, "\r\n", "\r"), carrierMedia},
		{"no final newline", strings.TrimSuffix(carrierOffer, "\r\n"), carrierMedia},
		{"leading blank lines", "\r\n\r\n" + carrierOffer, carrierMedia},
		{"trailing blanks", carrierOffer + "\r\n \t", carrierMedia},
		{"missing s=", strings.Replace(carrierOffer, "s=-\r\n", "", 1), carrierMedia},
		{"session-level direction", crlf("v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "c=IN IP4 192.0.2.2", "t=0 0", "a=inactive", "m=audio 4000 RTP/AVP 0"),
			Media{Addr: addr2, Port: 4000, Proto: ProtoRTPAVP, Formats: pcmu, Direction: Inactive}},
		{"media-level direction overrides session", crlf("v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "c=IN IP4 192.0.2.2", "t=0 0", "a=inactive", "m=audio 4000 RTP/AVP 0", "a=sendonly"),
			Media{Addr: addr2, Port: 4000, Proto: ProtoRTPAVP, Formats: pcmu, Direction: SendOnly}},
		{"rejected stream, hold address", crlf("v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "c=IN IP4 0.0.0.0", "t=0 0", "m=audio 0 RTP/AVP 0"),
			Media{Addr: netip.IPv4Unspecified(), Port: 0, Proto: ProtoRTPAVP, Formats: pcmu, Direction: SendRecv}},
		{"first audio m-line of two, after video", sdpLines("m=video 0 RTP/AVP 31", "m=audio 4000 RTP/AVP 0", "m=audio 4002 RTP/AVP 8"),
			Media{Addr: addr2, Port: 4000, Proto: ProtoRTPAVP, Formats: pcmu, Direction: SendRecv}},
		{"port range ignored", sdpLines("m=audio 4000/2 RTP/AVP 0"),
			Media{Addr: addr2, Port: 4000, Proto: ProtoRTPAVP, Formats: pcmu, Direction: SendRecv}},
		{"unknown, non-RFC and bad crypto lines skipped", sdpLines("m=audio 4000 RTP/SAVP 0",
			"a=crypto:1 AES_CM_256_HMAC_SHA1_80 inline:"+keyCM256,
			"a=crypto:2 F8_128_HMAC_SHA1_80 inline:"+keyCM128,
			"a=crypto:3 AEAD_AES_256_GCM inline:"+keyCM256, // 46 bytes, wants 44
			"a=crypto:x AES_CM_128_HMAC_SHA1_80 inline:"+keyCM128,
			"a=crypto:5 AES_CM_128_HMAC_SHA1_80 inline:"+keyCM128),
			Media{Addr: addr2, Port: 4000, Proto: ProtoRTPSAVP, Formats: pcmu, Direction: SendRecv,
				Crypto: []Crypto{{Tag: 5, Suite: SuiteAESCM128HMACSHA180, KeySalt: mustKey(keyCM128)}}}},
		{"rtpmap edge cases", sdpLines("m=audio 4000 RTP/AVP 0 96 97 98 99",
			"a=rtpmap:0 bogus",           // unreadable: static name stays
			"a=rtpmap:96 AMR-WB/16000/1", // channels
			"a=rtpmap:96 PCMA/8000",      // second rtpmap for 96 ignored
			"a=rtpmap:97 two words/8000", // not a token: no name
			"a=rtpmap:99\tL16/16000",     // tab separator
			"a=rtpmap:100 opus/48000/2",  // not on the m-line
			"a=fmtp:96  mode-change-capability=2 ",
			"a=fmtp:96 second=ignored",
			"a=fmtp:98", // empty
			"a=ptime:abc"),
			Media{Addr: addr2, Port: 4000, Proto: ProtoRTPAVP, Direction: SendRecv, Formats: []Format{
				{PayloadType: 0, Name: "PCMU", ClockRate: 8000},
				{PayloadType: 96, Name: "AMR-WB", ClockRate: 16000, Channels: 1, Fmtp: "mode-change-capability=2"},
				{PayloadType: 97},
				{PayloadType: 98},
				{PayloadType: 99, Name: "L16", ClockRate: 16000},
			}}},
		{"T.38 image next to audio", sdpLines("m=audio 4000 RTP/AVP 0", "m=image 4002 udptl t38"),
			Media{Addr: addr2, Port: 4000, Proto: ProtoRTPAVP, Formats: pcmu, Direction: SendRecv}},
		{"T.38 image and application before audio", sdpLines("m=image 4002 udptl t38", "a=T38FaxVersion:0", "m=application 5000 udptl t38", "m=audio 4000 RTP/AVP 0"),
			Media{Addr: addr2, Port: 4000, Proto: ProtoRTPAVP, Formats: pcmu, Direction: SendRecv}},
		{"a= before t=", crlf("v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "a=sendonly", "c=IN IP4 192.0.2.2", "t=0 0", "m=audio 4000 RTP/AVP 0"),
			Media{Addr: addr2, Port: 4000, Proto: ProtoRTPAVP, Formats: pcmu, Direction: SendOnly}},
		{"t= before c=, no s=, b= lines", crlf("v=0", "o=- 1 1 IN IP4 192.0.2.1", "t=0 0", "b=AS:84", "c=IN IP4 192.0.2.2", "m=audio 4000 RTP/AVP 0", "a=recvonly", "b=TIAS:64000"),
			Media{Addr: addr2, Port: 4000, Proto: ProtoRTPAVP, Formats: pcmu, Direction: RecvOnly}},
		{"unknown line types and attributes", sdpLines("x=whatever", "m=audio 4000 RTP/AVP 0", "y=1", "a=direction:both", "a=X-nat:0", "a=sendonly"),
			Media{Addr: addr2, Port: 4000, Proto: ProtoRTPAVP, Formats: pcmu, Direction: SendOnly}},
		{"padded lines", strings.ReplaceAll(carrierOffer, "\r\n", " \t\r\n"), carrierMedia},
		{"last media-level c= wins", sdpLines("m=audio 4000 RTP/AVP 0", "c=IN IP4 192.0.2.8", "c=IN IP4 192.0.2.9"),
			Media{Addr: netip.MustParseAddr("192.0.2.9"), Port: 4000, Proto: ProtoRTPAVP, Formats: pcmu, Direction: SendRecv}},
		{"ipv4-mapped in IP6", crlf("v=0", "o=- 1 1 IN IP6 ::1", "s=-", "c=IN IP6 ::ffff:192.0.2.5", "t=0 0", "m=audio 4000 RTP/AVP 0"),
			Media{Addr: netip.MustParseAddr("::ffff:192.0.2.5"), Port: 4000, Proto: ProtoRTPAVP, Formats: pcmu, Direction: SendRecv}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.body))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		body string
		want error
	}{
		{"empty", "", ErrMalformed},
		{"whitespace", " \r\n\t\r\n", ErrMalformed},
		{"garbage", "hello world", ErrMalformed},
		{"binary", "\x00\x01\xff=\x02", ErrMalformed},
		{"only v=", "v=0\r\n", ErrMalformed},
		{"SIP message", "INVITE sip:+15551234@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP x\r\n\r\n", ErrMalformed},
		{"no m-line", sdpLines(), ErrNoAudio},
		{"video only", sdpLines("m=video 5000 RTP/AVP 96"), ErrNoAudio},
		{"T.38 only", sdpLines("m=image 4002 udptl t38"), ErrNoAudio},
		{"no v=", strings.TrimPrefix(carrierOffer, "v=0\r\n"), ErrMalformed},
		{"v=1", strings.Replace(carrierOffer, "v=0", "v=1", 1), ErrMalformed},
		{"no o=", strings.Replace(carrierOffer, "o=- 1700000000 1700000000 IN IP4 198.51.100.10\r\n", "", 1), ErrMalformed},
		{"o= only in a media section", crlf("v=0", "s=-", "c=IN IP4 192.0.2.2", "t=0 0", "m=audio 4000 RTP/AVP 0", "o=- 1 1 IN IP4 192.0.2.1"), ErrMalformed},
		{"line without =", sdpLines("m=audio 4000 RTP/AVP 0", "a=sendrecv", "sendonly"), ErrMalformed},
		{"line type not a letter", sdpLines("m=audio 4000 RTP/AVP 0", "1=x"), ErrMalformed},
		{"m= without proto", sdpLines("m=audio 4000"), ErrMalformed},
		{"m= port count 0", sdpLines("m=audio 4000/0 RTP/AVP 0"), ErrMalformed},
		{"m= with control character", sdpLines("m=audio 4000 RTP/AVP 0 \x01"), ErrMalformed},
		{"c= not IN", crlf("v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "c=ATM NSAP 47.0091", "t=0 0", "m=audio 4000 RTP/AVP 0"), ErrMalformed},
		{"c= unknown address type", crlf("v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "c=IN IP5 192.0.2.2", "t=0 0", "m=audio 4000 RTP/AVP 0"), ErrMalformed},
		{"no c=", crlf("v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "t=0 0", "m=audio 4000 RTP/AVP 0"), ErrMalformed},
		{"c= without address", crlf("v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "c=IN IP4", "t=0 0", "m=audio 4000 RTP/AVP 0"), ErrMalformed},
		{"c= host name", crlf("v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "c=IN IP4 media.example.com", "t=0 0", "m=audio 4000 RTP/AVP 0"), ErrMalformed},
		{"c= multicast ttl", crlf("v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "c=IN IP4 224.2.1.1/127", "t=0 0", "m=audio 4000 RTP/AVP 0"), ErrMalformed},
		{"c= IP4 with v6 address", crlf("v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "c=IN IP4 2001:db8::1", "t=0 0", "m=audio 4000 RTP/AVP 0"), ErrMalformed},
		{"c= IP6 with v4 address", crlf("v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "c=IN IP6 192.0.2.2", "t=0 0", "m=audio 4000 RTP/AVP 0"), ErrMalformed},
		{"c= zone", crlf("v=0", "o=- 1 1 IN IP6 ::1", "s=-", "c=IN IP6 fe80::1%eth0", "t=0 0", "m=audio 4000 RTP/AVP 0"), ErrMalformed},
		{"payload type > 127", sdpLines("m=audio 4000 RTP/AVP 0 128"), ErrMalformed},
		{"payload type not a number", sdpLines("m=audio 4000 RTP/AVP PCMU"), ErrMalformed},
		{"no formats", sdpLines("m=audio 4000 RTP/AVP"), ErrMalformed},
		{"port out of range", sdpLines("m=audio 70000 RTP/AVP 0"), ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse([]byte(tt.body))
			if !errors.Is(err, tt.want) {
				t.Fatalf("Parse error = %v, want %v", err, tt.want)
			}
			if !reflect.DeepEqual(got, Media{}) {
				t.Errorf("Parse returned %+v with an error", got)
			}
		})
	}
}

// Pitfall 36: pion appends into a reused SessionDescription. Parsing the
// offer again after other bodies must give the same result as the first time.
func TestParseIsStateless(t *testing.T) {
	first, err := Parse([]byte(zoomOffer))
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{carrierOffer, ipv6Offer, "garbage", zoomOffer} {
		_, _ = Parse([]byte(body))
	}
	again, err := Parse([]byte(zoomOffer))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(first, again) {
		t.Errorf("second parse differs:\n got %+v\nwant %+v", again, first)
	}
}

// The result must not alias the input buffer, which a SIP stack reuses.
func TestParseDoesNotAliasBody(t *testing.T) {
	body := []byte(zoomOffer)
	got, err := Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	for i := range body {
		body[i] = 'x'
	}
	if !reflect.DeepEqual(got, zoomMedia) {
		t.Errorf("result changed with the input buffer: %+v", got)
	}
}

func BenchmarkParseZoomOffer(b *testing.B) {
	body := []byte(zoomOffer)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := Parse(body); err != nil {
			b.Fatal(err)
		}
	}
}
