package sdp

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// canonical is body as Marshal writes what Read read from it: CRLF line
// endings, each line stripped of surrounding spaces and tabs, blank lines
// dropped.
func canonical(body string) string {
	var b strings.Builder
	for _, l := range strings.FieldsFunc(body, func(r rune) bool { return r == '\r' || r == '\n' }) {
		if l = strings.Trim(l, " \t"); l != "" {
			b.WriteString(l + "\r\n")
		}
	}
	return b.String()
}

// mlines describes each media section of d as
// "<type> <port>[/<count>] <proto> <fmt>... @<address that applies>".
func mlines(d *Description) []string {
	var out []string
	for i, m := range d.Media {
		port := fmt.Sprint(m.Port)
		if m.PortCount > 0 {
			port += fmt.Sprintf("/%d", m.PortCount)
		}
		addr := "-"
		if c, ok := d.MediaConnection(i); ok {
			addr = c.Address
		}
		out = append(out, strings.Join(append([]string{m.Type, port, m.Proto}, m.Formats...), " ")+" @"+addr)
	}
	return out
}

// TestReadPublished reads published SDP: Marshal writes back every line in
// its place, each m-line is read whatever its media type, and Parse finds
// the audio stream (or reports why it cannot use it).
func TestReadPublished(t *testing.T) {
	ip := netip.MustParseAddr
	tests := []struct {
		name   string
		body   string
		media  []string
		parse  Media // when parseErr is nil
		parseE error
	}{
		{"RFC 3264 9 capabilities (t= before c=)", rfc3264Capabilities,
			[]string{"audio 0 RTP/AVP 0 1 3 @192.0.2.4", "video 0 RTP/AVP 31 34 @192.0.2.4"},
			Media{Addr: ip("192.0.2.4"), Proto: ProtoRTPAVP, Direction: SendRecv, Formats: []Format{
				pcmu, {PayloadType: 1, Name: "1016", ClockRate: 8000}, {PayloadType: 3, Name: "GSM", ClockRate: 8000}}}, nil},
		{"RFC 3264 10.1 offer", rfc3264Basic[0],
			[]string{"audio 49170 RTP/AVP 0 @host.anywhere.com", "video 51372 RTP/AVP 31 @host.anywhere.com", "video 53000 RTP/AVP 32 @host.anywhere.com"},
			Media{}, ErrMalformed},
		{"RFC 3264 10.1 answer", rfc3264Basic[1],
			[]string{"audio 49920 RTP/AVP 0 @host.example.com", "video 0 RTP/AVP 31 @host.example.com", "video 53000 RTP/AVP 32 @host.example.com"},
			Media{}, ErrMalformed},
		{"RFC 3264 10.1 second offer", rfc3264Basic[2],
			[]string{"audio 65422 RTP/AVP 0 @host.example.com", "video 0 RTP/AVP 31 @host.example.com", "video 53000 RTP/AVP 32 @host.example.com", "audio 51434 RTP/AVP 110 @host.example.com"},
			Media{}, ErrMalformed},
		{"RFC 3264 10.1 second answer", rfc3264Basic[3],
			[]string{"audio 49170 RTP/AVP 0 @host.anywhere.com", "video 0 RTP/AVP 31 @host.anywhere.com", "video 53000 RTP/AVP 32 @host.anywhere.com", "audio 53122 RTP/AVP 110 @host.anywhere.com"},
			Media{}, ErrMalformed},
		{"RFC 3264 10.2 offer", rfc3264OneOfN[0], []string{"audio 62986 RTP/AVP 0 4 18 @host.anywhere.com"}, Media{}, ErrMalformed},
		{"RFC 3264 10.2 answer", rfc3264OneOfN[1], []string{"audio 54344 RTP/AVP 0 4 @host.example.com"}, Media{}, ErrMalformed},
		{"RFC 4317 2.1 offer", rfc4317AudioVideo[0],
			[]string{"audio 49170 RTP/AVP 0 8 97 @host.atlanta.example.com", "video 51372 RTP/AVP 31 32 @host.atlanta.example.com"},
			Media{}, ErrMalformed},
		{"RFC 4317 2.1 answer", rfc4317AudioVideo[1],
			[]string{"audio 49174 RTP/AVP 0 @host.biloxi.example.com", "video 49170 RTP/AVP 32 @host.biloxi.example.com"},
			Media{}, ErrMalformed},
		{"RFC 4317 2.4 two audio streams", rfc4317TwoAudio,
			[]string{"audio 49170 RTP/AVP 0 97 @host.atlanta.example.com", "audio 49172 RTP/AVP 98 @host.atlanta.example.com"},
			Media{}, ErrMalformed},
		{"RFC 4317 2.6 first audio declined", rfc4317FirstAudioDeclined,
			[]string{"audio 0 RTP/AVP 0 @host.biloxi.example.com", "audio 49170 RTP/AVP 97 101 @host.biloxi.example.com"},
			Media{}, ErrMalformed},
		{"RFC 4317 2.8 media-level c=", rfc4317VideoElsewhere,
			[]string{"audio 49174 RTP/AVP 0 @host.biloxi.example.com", "video 49172 RTP/AVP 32 @otherhost.biloxi.example.com"},
			Media{}, ErrMalformed},
		{"RFC 4317 5.1 no media", rfc4317NoMedia, nil, Media{}, ErrNoAudio},
		{"RFC 4317 5.2 black hole", rfc4317BlackHole, []string{"audio 23442 RTP/AVP 97 @0.0.0.0"},
			Media{Addr: netip.IPv4Unspecified(), Port: 23442, Proto: ProtoRTPAVP, Direction: SendRecv,
				Formats: []Format{{PayloadType: 97, Name: "iLBC", ClockRate: 8000}}}, nil},
		{"Zoom offer", zoomOffer, []string{"audio 34168 RTP/SAVP 102 9 0 8 18 101 @3.3.3.3"}, zoomMedia, nil},
		{"DIDWW audio and T.38 (FreeSWITCH #1297)", didwwFax,
			[]string{"audio 13960 RTP/AVP 0 8 18 4 101 @46.19.209.78", "image 13962 udptl t38 @46.19.209.78"},
			Media{Addr: ip("46.19.209.78"), Port: 13960, Proto: ProtoRTPAVP, Ptime: 20, Direction: SendRecv, Formats: []Format{
				pcmu, pcma, {PayloadType: 18, Name: "G729", ClockRate: 8000, Fmtp: "annexb=no"},
				{PayloadType: 4, Name: "G723", ClockRate: 8000}, {PayloadType: 101, Name: "telephone-event", ClockRate: 8000}}}, nil},
		{"T.38 re-INVITE (rtpengine #1201)", t38ReInvite, []string{"image 20334 udptl t38 @192.168.171.230"}, Media{}, ErrNoAudio},
		{"Telnyx a=maxptime", telnyxAnswer, []string{"audio 29078 RTP/SAVP 0 101 @64.16.249.226"},
			Media{Addr: ip("64.16.249.226"), Port: 29078, Proto: ProtoRTPSAVP, Ptime: 20, Direction: SendRecv,
				Formats: []Format{pcmu, {PayloadType: 101, Name: "telephone-event", ClockRate: 8000, Fmtp: "0-16"}},
				Crypto:  []Crypto{{Tag: 5, Suite: SuiteAESCM128HMACSHA180, KeySalt: mustKey(keyCM128)}}}, nil},
		{"pjsip b=AS, b=TIAS, a=rtcp (host names)", pjsipOffer, []string{"audio 4000 RTP/SAVP 96 97 98 99 3 0 8 9 120 121 122 @lan-ip"}, Media{}, ErrMalformed},
		{"FreeSWITCH LF-only, a=rtcp-mux", freeswitchLF, []string{"audio 27870 RTP/AVP 9 101 13 @10.0.0.6"},
			Media{Addr: ip("10.0.0.6"), Port: 27870, Proto: ProtoRTPAVP, Ptime: 20, Direction: SendRecv, Formats: []Format{
				{PayloadType: 9, Name: "G722", ClockRate: 8000}, {PayloadType: 101, Name: "telephone-event", ClockRate: 8000, Fmtp: "0-16"},
				{PayloadType: 13, Name: "CN", ClockRate: 8000}},
				RTCP: netip.MustParseAddrPort("10.0.0.6:27870"), RTCPMux: true}, nil},
		{"FreeSWITCH hold with video, b= after a=", freeswitchHold,
			[]string{"audio 11366 RTP/AVP 9 101 @104.197.230.189", "video 11406 RTP/AVP 102 @104.197.230.189"},
			Media{Addr: ip("104.197.230.189"), Port: 11366, Proto: ProtoRTPAVP, Ptime: 20, Direction: RecvOnly, Formats: []Format{
				{PayloadType: 9, Name: "G722", ClockRate: 8000}, {PayloadType: 101, Name: "telephone-event", ClockRate: 8000, Fmtp: "0-16"}},
				RTCP: netip.MustParseAddrPort("104.197.230.189:11367")}, nil},
		{"Mobicents", mobicentsOffer, []string{"audio 37402 RTP/AVP 8 0 3 18 97 102 101 126 @192.168.1.1"},
			Media{Addr: ip("192.168.1.1"), Port: 37402, Proto: ProtoRTPAVP, Ptime: 20, Direction: SendRecv, Formats: []Format{
				{PayloadType: 8, Name: "pcma", ClockRate: 8000}, {PayloadType: 0, Name: "pcmu", ClockRate: 8000},
				{PayloadType: 3, Name: "gsm", ClockRate: 8000}, {PayloadType: 18, Name: "g729", ClockRate: 8000},
				{PayloadType: 97, Name: "l16", ClockRate: 8000}, {PayloadType: 102, Name: "ilbc", ClockRate: 8000},
				{PayloadType: 101, Name: "telephone-event", ClockRate: 8000}, {PayloadType: 126, Name: "telephone-event", ClockRate: 8000}},
				RTCP: netip.MustParseAddrPort("192.168.1.1:37403")}, nil},
		{"Cisco c= after m=", ciscoOffer, []string{"audio 20096 RTP/AVP 0 8 18 9 116 101 @10.10.10.10"}, ciscoMedia, nil},
		{"Cisco without s=", ciscoNoSessionName, []string{"audio 20096 RTP/AVP 0 8 18 9 116 101 @10.10.10.10"}, ciscoMedia, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Read([]byte(tt.body))
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			out, err := d.Marshal()
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if want := canonical(tt.body); string(out) != want {
				t.Errorf("Marshal(Read(x)):\n%s\nwant\n%s", out, want)
			}
			if got := mlines(d); !reflect.DeepEqual(got, tt.media) {
				t.Errorf("m-lines:\n got %q\nwant %q", got, tt.media)
			}
			m, err := Parse([]byte(tt.body))
			if tt.parseE != nil {
				if !errors.Is(err, tt.parseE) {
					t.Errorf("Parse error = %v, want %v", err, tt.parseE)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(m, tt.parse) {
				t.Errorf("Parse:\n got %+v\nwant %+v", m, tt.parse)
			}
		})
	}
}

var ciscoMedia = Media{Addr: netip.MustParseAddr("10.10.10.10"), Port: 20096, Proto: ProtoRTPAVP, Direction: SendRecv, Formats: []Format{
	pcmu, pcma, {PayloadType: 18, Name: "G729", ClockRate: 8000, Fmtp: "annexb=no"}, {PayloadType: 9, Name: "G722", ClockRate: 8000},
	{PayloadType: 116, Name: "iLBC", ClockRate: 8000, Fmtp: "mode=20"}, {PayloadType: 101, Name: "telephone-event", ClockRate: 8000, Fmtp: "0-15"}}}

// TestReadDescription is the whole Description of the DIDWW T.38 offer:
// every line kept, in order, at its level.
func TestReadDescription(t *testing.T) {
	d, err := Read([]byte(didwwFax))
	if err != nil {
		t.Fatal(err)
	}
	a := func(v string) Line { return Line{Type: 'a', Value: v} }
	c := Line{Type: 'c', Value: "IN IP4 46.19.209.78"}
	want := &Description{
		Lines: []Line{{'o', "- 1869739744 1869739744 IN IP4 46.19.209.78"}, {'s', "-"}, {'t', "0 0"}},
		Media: []MediaSection{
			{Type: "audio", Port: 13960, Proto: "RTP/AVP", Formats: []string{"0", "8", "18", "4", "101"}, Lines: []Line{
				c, a("rtpmap:0 PCMU/8000"), a("rtpmap:8 PCMA/8000"), a("rtpmap:18 G729/8000"), a("fmtp:18 annexb=no"),
				a("rtpmap:4 G723/8000"), a("rtpmap:101 telephone-event/8000"), a("sendrecv"), a("ptime:20"), a("direction:both"),
			}},
			{Type: "image", Port: 13962, Proto: "udptl", Formats: []string{"t38"}, Lines: []Line{
				c, a("sendrecv"), a("T38FaxMaxDatagram:612"), a("T38FaxRateManagement:transferredTCF"),
				a("T38FaxUdpEC:t38UDPRedundancy"), a("T38FaxVersion:0"), a("T38MaxBitRate:14400"), a("direction:both"),
			}},
		},
	}
	if !reflect.DeepEqual(d, want) {
		t.Errorf("Read:\n got %+v\nwant %+v", d, want)
	}
	if o, ok := d.Value('o'); !ok || o != "- 1869739744 1869739744 IN IP4 46.19.209.78" {
		t.Errorf("Value('o') = %q, %v", o, ok)
	}
	if _, ok := d.Value('c'); ok {
		t.Error("session-level c= found")
	}
	if _, ok := d.Connection(); ok {
		t.Error("Connection() found a session-level c=")
	}
	img := &d.Media[1]
	if conn, ok := img.Connection(); !ok || conn != (Connection{NetType: "IN", AddrType: "IP4", Address: "46.19.209.78"}) {
		t.Errorf("image Connection() = %+v, %v", conn, ok)
	}
	if got, want := img.Attributes(), []Attribute{
		{"sendrecv", ""}, {"T38FaxMaxDatagram", "612"}, {"T38FaxRateManagement", "transferredTCF"},
		{"T38FaxUdpEC", "t38UDPRedundancy"}, {"T38FaxVersion", "0"}, {"T38MaxBitRate", "14400"}, {"direction", "both"},
	}; !reflect.DeepEqual(got, want) {
		t.Errorf("image Attributes():\n got %q\nwant %q", got, want)
	}
}

// TestReadT38ReInvite: what a T.38 relay needs from an m=image line is
// kept: port, proto, format, attributes (property ones too) and address.
func TestReadT38ReInvite(t *testing.T) {
	d, err := Read([]byte(t38ReInvite))
	if err != nil {
		t.Fatal(err)
	}
	m := &d.Media[0]
	if m.Type != "image" || m.Port != 20334 || m.Proto != "udptl" || !reflect.DeepEqual(m.Formats, []string{"t38"}) {
		t.Errorf("m-line %+v", m)
	}
	for key, want := range map[string]string{
		"T38FaxVersion": "0", "T38MaxBitRate": "14400", "T38FaxFillBitRemoval": "", "T38FaxRateManagement": "transferredTCF",
		"T38FaxMaxBuffer": "2000", "T38FaxMaxDatagram": "400", "T38FaxUdpEC": "t38UDPRedundancy",
	} {
		if got, ok := m.Attribute(key); !ok || got != want {
			t.Errorf("Attribute(%q) = %q, %v, want %q", key, got, ok, want)
		}
	}
	if _, ok := m.Attribute("t38faxversion"); ok {
		t.Error("Attribute is case-insensitive")
	}
	c, ok := d.MediaConnection(0)
	if addr, err := c.Addr(); !ok || err != nil || addr != netip.MustParseAddr("192.168.171.230") {
		t.Errorf("MediaConnection(0) = %+v, %v: %v, %v", c, ok, addr, err)
	}
	if _, ok := m.Connection(); ok {
		t.Error("the image section has no c= of its own")
	}
}

// TestReadTolerance: the shapes of SDP real peers send that a strict
// parser refuses.
func TestReadTolerance(t *testing.T) {
	base := []string{"v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "c=IN IP4 192.0.2.2", "t=0 0", "m=audio 4000 RTP/AVP 0", "a=sendrecv"}
	audio := []string{"audio 4000 RTP/AVP 0 @192.0.2.2"}
	tests := []struct {
		name  string
		body  string
		media []string
		out   string // Marshal's output, when it is not canonical(body)
	}{
		{"CRLF", crlf(base...), audio, ""},
		{"LF only", lf(base...), audio, ""},
		{"CR only", strings.Join(base, "\r") + "\r", audio, ""},
		{"mixed endings, no final newline", "v=0\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\rc=IN IP4 192.0.2.2\nt=0 0\r\nm=audio 4000 RTP/AVP 0", audio, ""},
		{"trailing and leading whitespace, blank lines", "\r\n  \r\n" + strings.Join(base, " \t\r\n\t") + "\r\n \r\n\r\n", audio, ""},
		{"no s=, no t=", crlf("v=0", "o=- 1 1 IN IP4 192.0.2.1", "c=IN IP4 192.0.2.2", "m=audio 4000 RTP/AVP 0"), audio, ""},
		{"session lines in any order", crlf("v=0", "a=tool:x", "t=0 0", "b=AS:64", "c=IN IP4 192.0.2.2", "s=-", "o=- 1 1 IN IP4 192.0.2.1", "m=audio 4000 RTP/AVP 0"), audio, ""},
		{"media lines in any order", crlf("v=0", "o=- 1 1 IN IP4 192.0.2.1", "m=audio 4000 RTP/AVP 0", "a=rtcp:4001", "b=TIAS:64000", "c=IN IP4 192.0.2.2", "i=voice", "b=AS:80"), audio, ""},
		{"unknown line types", crlf("v=0", "o=- 1 1 IN IP4 192.0.2.1", "x=1", "Z=2", "c=IN IP4 192.0.2.2", "m=audio 4000 RTP/AVP 0", "y=3"), audio, ""},
		{"v=00", crlf("v=00", "o=- 1 1 IN IP4 192.0.2.1", "c=IN IP4 192.0.2.2", "m=audio 4000 RTP/AVP 0"), audio,
			crlf("v=0", "o=- 1 1 IN IP4 192.0.2.1", "c=IN IP4 192.0.2.2", "m=audio 4000 RTP/AVP 0")},
		{"tabs and runs of spaces between fields", crlf("v=0", "o=- 1 1 IN IP4 192.0.2.1", "c=IN\tIP4  192.0.2.2", "m=audio\t4000  RTP/AVP \t0"), audio,
			crlf("v=0", "o=- 1 1 IN IP4 192.0.2.1", "c=IN\tIP4  192.0.2.2", "m=audio 4000 RTP/AVP 0")}, // m= is rebuilt from its fields
		{"port count", sdpLines("m=video 5000/2 RTP/AVP 31", "m=audio 4000 RTP/AVP 0"), []string{"video 5000/2 RTP/AVP 31 @192.0.2.2", "audio 4000 RTP/AVP 0 @192.0.2.2"}, ""},
		{"any media type and proto", sdpLines("m=image 0 udptl t38", "m=application 5000 udptl t38", "m=message 7394 TCP/MSRP *", "m=text 0 RTP/AVP 98", "m=x-new 1 X/Y z"),
			[]string{"image 0 udptl t38 @192.0.2.2", "application 5000 udptl t38 @192.0.2.2", "message 7394 TCP/MSRP * @192.0.2.2", "text 0 RTP/AVP 98 @192.0.2.2", "x-new 1 X/Y z @192.0.2.2"}, ""},
		{"m-line without formats", sdpLines("m=video 0 RTP/AVP"), []string{"video 0 RTP/AVP @192.0.2.2"}, ""},
		{"no m-line", sdpLines(), nil, ""},
		{"no c= at all", crlf("v=0", "o=- 1 1 IN IP4 192.0.2.1", "m=audio 0 RTP/AVP 0"), []string{"audio 0 RTP/AVP 0 @-"}, ""},
		{"last c= of a level wins", sdpLines("m=audio 4000 RTP/AVP 0", "c=IN IP4 192.0.2.7", "c=IN IP4 192.0.2.8"), []string{"audio 4000 RTP/AVP 0 @192.0.2.8"}, ""},
		{"non-ASCII and control bytes in values", sdpLines("m=audio 4000 RTP/AVP 0", "a=x:\x00\xff\x01", "i=Ünïcode"), audio, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Read([]byte(tt.body))
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if got := mlines(d); !reflect.DeepEqual(got, tt.media) {
				t.Errorf("m-lines:\n got %q\nwant %q", got, tt.media)
			}
			out, err := d.Marshal()
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			want := tt.out
			if want == "" {
				want = canonical(tt.body)
			}
			if string(out) != want {
				t.Errorf("Marshal(Read(x)):\n%q\nwant\n%q", out, want)
			}
		})
	}
}

// TestReadErrors: what Read refuses. Every error wraps ErrMalformed and
// names the line.
func TestReadErrors(t *testing.T) {
	tests := []struct {
		name, body, detail string
	}{
		{"empty", "", "empty body"},
		{"blank", " \r\n\t\n\r", "empty body"},
		{"no v=", crlf("o=- 1 1 IN IP4 192.0.2.1", "m=audio 4000 RTP/AVP 0"), "line 1 is not v=0"},
		{"v=1", crlf("v=1", "o=- 1 1 IN IP4 192.0.2.1"), "line 1 is not v=0"},
		{"v= after a blank line", "\r\nx=0\r\nv=0\r\n", "line 2 is not v=0"},
		{"SIP message", "INVITE sip:a@192.0.2.1 SIP/2.0\r\n\r\nv=0\r\n", "line 1 is not v=0"},
		{"line without =", crlf("v=0", "o=- 1 1 IN IP4 192.0.2.1", "hello"), "line 3 is not <type>=<value>"},
		{"two-letter type", crlf("v=0", "o=- 1 1 IN IP4 192.0.2.1", "ab=1"), "line 3 is not <type>=<value>"},
		{"digit type", crlf("v=0", "o=- 1 1 IN IP4 192.0.2.1", "1=1"), "line 3 is not <type>=<value>"},
		{"space before =", crlf("v=0", "o=- 1 1 IN IP4 192.0.2.1", "a =sendrecv"), "line 3 is not <type>=<value>"},
		{"no o=", crlf("v=0", "s=-", "c=IN IP4 192.0.2.2", "t=0 0"), "no o= line"},
		{"o= after the first m=", crlf("v=0", "m=audio 4000 RTP/AVP 0", "o=- 1 1 IN IP4 192.0.2.1"), "no o= line before the first m= line"},
		{"m= with two fields", sdpLines("m=audio 4000"), "line 6: m= line has 2 fields"},
		{"m= port not a number", sdpLines("m=audio x RTP/AVP 0"), "line 6: m= line port"},
		{"m= port above 65535", sdpLines("m=audio 65536 RTP/AVP 0"), "line 6: m= line port"},
		{"m= signed port", sdpLines("m=audio +4000 RTP/AVP 0"), "line 6: m= line port"},
		{"m= port count 0", sdpLines("m=video 5000/0 RTP/AVP 31"), "line 6: m= line port count"},
		{"m= empty port count", sdpLines("m=video 5000/ RTP/AVP 31"), "line 6: m= line port count"},
		{"m= control character", sdpLines("m=video 5000 RTP/AVP 31\x00"), "line 6: m= line field with a control character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Read([]byte(tt.body))
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tt.detail) {
				t.Fatalf("Read error = %v, want ErrMalformed with %q", err, tt.detail)
			}
			if d != nil {
				t.Errorf("Read returned %+v with an error", d)
			}
		})
	}
}

func TestConnectionAddr(t *testing.T) {
	for _, tt := range []struct {
		c    Connection
		want string // "" for an error
	}{
		{Connection{"IN", "IP4", "192.0.2.1"}, "192.0.2.1"},
		{Connection{"IN", "IP6", "2001:db8::1"}, "2001:db8::1"},
		{Connection{"IN", "IP6", "::ffff:192.0.2.1"}, "::ffff:192.0.2.1"},
		{Connection{"IN", "IP4", "0.0.0.0"}, "0.0.0.0"},
		{Connection{"IN", "IP4", ""}, ""},
		{Connection{"IN", "IP4", "host.example.com"}, ""},
		{Connection{"IN", "IP4", "224.2.1.1/127"}, ""},
		{Connection{"IN", "IP4", "2001:db8::1"}, ""},
		{Connection{"IN", "IP6", "192.0.2.1"}, ""},
		{Connection{"IN", "IP6", "fe80::1%eth0"}, ""},
		{Connection{"ATM", "IP4", "192.0.2.1"}, ""},
		{Connection{"IN", "ip4", "192.0.2.1"}, ""},
	} {
		addr, err := tt.c.Addr()
		if tt.want == "" {
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("%+v: Addr() = %v, %v, want ErrMalformed", tt.c, addr, err)
			}
			continue
		}
		if err != nil || addr != netip.MustParseAddr(tt.want) {
			t.Errorf("%+v: Addr() = %v, %v", tt.c, addr, err)
		}
	}
}

func TestDescriptionMarshalErrors(t *testing.T) {
	good := func() *Description {
		d, err := Read([]byte(didwwFax))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	for _, tt := range []struct {
		name string
		edit func(d *Description)
		want error
	}{
		{"no o=", func(d *Description) { d.Lines = d.Lines[1:] }, errBadValue},
		{"m line in session lines", func(d *Description) { d.Lines = append(d.Lines, Line{'m', "audio 0 RTP/AVP 0"}) }, errBadValue},
		{"m line in a section", func(d *Description) { d.Media[0].Lines = append(d.Media[0].Lines, Line{'m', "audio 0 RTP/AVP 0"}) }, errBadValue},
		{"type not a letter", func(d *Description) { d.Lines = append(d.Lines, Line{'1', "x"}) }, errBadValue},
		{"value with LF", func(d *Description) { d.Media[1].Lines[1].Value = "sendrecv\na=x" }, errBadValue},
		{"value with CR", func(d *Description) { d.Lines[1].Value = "-\r" }, errBadValue},
		{"value ending in a space", func(d *Description) { d.Lines[1].Value = "- " }, errBadValue},
		{"value ending in a tab", func(d *Description) { d.Lines[1].Value = "-\t" }, errBadValue},
		{"empty media type", func(d *Description) { d.Media[1].Type = "" }, errBadValue},
		{"media type with a space", func(d *Description) { d.Media[1].Type = "im age" }, errBadValue},
		{"empty proto", func(d *Description) { d.Media[1].Proto = "" }, errBadValue},
		{"format with a control character", func(d *Description) { d.Media[1].Formats = []string{"t38\x00"} }, errBadValue},
		{"empty format", func(d *Description) { d.Media[1].Formats = []string{""} }, errBadValue},
		{"port above 65535", func(d *Description) { d.Media[1].Port = 65536 }, errBadPort},
		{"negative port", func(d *Description) { d.Media[1].Port = -1 }, errBadPort},
		{"port count above 65535", func(d *Description) { d.Media[1].PortCount = 65536 }, errBadPort},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := good()
			tt.edit(d)
			out, err := d.Marshal()
			if !errors.Is(err, tt.want) || out != nil {
				t.Errorf("Marshal = %q, %v, want %v", out, err, tt.want)
			}
		})
	}
}

// The result must not alias the input buffer, which a SIP stack reuses.
func TestReadDoesNotAliasBody(t *testing.T) {
	body := []byte(didwwFax)
	d, err := Read(body)
	if err != nil {
		t.Fatal(err)
	}
	for i := range body {
		body[i] = 'x'
	}
	if out, _ := d.Marshal(); string(out) != didwwFax {
		t.Errorf("result changed with the input buffer:\n%s", out)
	}
}

// FuzzReader checks that Read never panics, that its errors are
// classified, that Marshal writes whatever Read returns and that reading
// that back gives the same Description and the same bytes again; and that
// Parse and the Leg's reader agree with Read on what is readable.
func FuzzReader(f *testing.F) {
	for _, s := range []string{
		zoomOffer, carrierOffer, ipv6Offer, mediaLevelOffer, didwwFax, t38ReInvite, telnyxAnswer, pjsipOffer,
		freeswitchLF, freeswitchHold, mobicentsOffer, ciscoNoSessionName, rfc3264Capabilities, rfc3264Basic[2],
		rfc4317VideoElsewhere, rfc4317NoMedia, strings.ReplaceAll(carrierOffer, "\r\n", "\r"),
		"v=0\r\no=x\r\nm=video 1/2 a b c\r\nk=\r\nm=image 0 udptl t38 \r\n", "v=0\n o=\t-\t\n", "", "v=0", "garbage",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		d, err := Read(body)
		_, perr := Parse(body)
		_, serr := parseSession(body)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("unclassified error: %v", err)
			}
			if perr == nil || serr == nil {
				t.Fatalf("Read failed (%v) but Parse = %v, parseSession = %v", err, perr, serr)
			}
			return
		}
		if serr != nil {
			t.Fatalf("Read succeeded but parseSession = %v", serr)
		}
		if errors.Is(perr, ErrNoAudio) != !hasAudio(d) {
			t.Fatalf("Parse = %v for m-lines %q", perr, mlines(d))
		}
		out, err := d.Marshal()
		if err != nil {
			t.Fatalf("Marshal(Read(x)) = %v for %+v", err, d)
		}
		again, err := Read(out)
		if err != nil {
			t.Fatalf("Read(Marshal(Read(x))) = %v\n%q", err, out)
		}
		if !reflect.DeepEqual(d, again) {
			t.Fatalf("round trip differs:\n got %+v\nwant %+v\nSDP %q", again, d, out)
		}
		if out2, err := again.Marshal(); err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("second Marshal differs (%v):\n%q\n%q", err, out2, out)
		}
	})
}

func hasAudio(d *Description) bool {
	for _, m := range d.Media {
		if m.Type == "audio" {
			return true
		}
	}
	return false
}

func BenchmarkReadT38Offer(b *testing.B) {
	body := []byte(didwwFax)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := Read(body); err != nil {
			b.Fatal(err)
		}
	}
}
