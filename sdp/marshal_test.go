package sdp

import (
	"errors"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func testOrigin() *Origin {
	return &Origin{Username: "byocp", SessionID: 4611686018427387903, Version: 7, Addr: netip.MustParseAddr("203.0.113.1")}
}

func TestMarshalGolden(t *testing.T) {
	answer := Media{
		Addr:    netip.MustParseAddr("203.0.113.5"),
		Port:    40000,
		Proto:   ProtoRTPSAVP,
		Formats: []Format{pcmu, te101},
		Crypto:  []Crypto{{Tag: 3, Suite: SuiteAESCM128HMACSHA180, KeySalt: mustKey(keyCM128), Lifetime: "2^31", MKI: "1:4"}},
		Ptime:   20,
	}
	tests := []struct {
		name string
		o    *Origin
		m    Media
		want string
	}{
		{"answer to Zoom", testOrigin(), answer, crlf(
			"v=0",
			"o=byocp 4611686018427387903 7 IN IP4 203.0.113.1",
			"s=byocp",
			"c=IN IP4 203.0.113.5",
			"t=0 0",
			"m=audio 40000 RTP/SAVP 0 101",
			"a=rtpmap:0 PCMU/8000",
			"a=rtpmap:101 telephone-event/8000",
			"a=fmtp:101 0-15",
			"a=ptime:20",
			"a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:"+keyCM128+"|2^31|1:4",
			"a=sendrecv",
		)},
		{"IPv6 carrier offer on hold", &Origin{Username: "byocp", SessionID: 1, Version: 2, Addr: netip.MustParseAddr("2001:db8::1")},
			Media{Addr: netip.MustParseAddr("2001:db8::5"), Port: 4000, Proto: ProtoRTPAVP, Formats: []Format{opus, pcma}, Direction: SendOnly},
			crlf(
				"v=0",
				"o=byocp 1 2 IN IP6 2001:db8::1",
				"s=byocp",
				"c=IN IP6 2001:db8::5",
				"t=0 0",
				"m=audio 4000 RTP/AVP 102 8",
				"a=rtpmap:102 opus/48000/2",
				"a=rtpmap:8 PCMA/8000",
				"a=sendonly",
			)},
		{"rejected stream without address or formats", testOrigin(), Media{Proto: ProtoRTPAVP}, crlf(
			"v=0",
			"o=byocp 4611686018427387903 7 IN IP4 203.0.113.1",
			"s=byocp",
			"c=IN IP4 0.0.0.0",
			"t=0 0",
			"m=audio 0 RTP/AVP 0",
			"a=sendrecv",
		)},
		{"rejected stream keeps given formats", testOrigin(), Media{Addr: netip.MustParseAddr("203.0.113.5"), Proto: ProtoRTPSAVP, Formats: []Format{pcma}, Direction: Inactive}, crlf(
			"v=0",
			"o=byocp 4611686018427387903 7 IN IP4 203.0.113.1",
			"s=byocp",
			"c=IN IP4 203.0.113.5",
			"t=0 0",
			"m=audio 0 RTP/SAVP 8",
			"a=rtpmap:8 PCMA/8000",
			"a=inactive",
		)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Marshal(tt.o, tt.m)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if string(got) != tt.want {
				t.Errorf("Marshal:\n got %q\nwant %q", got, tt.want)
			}
			if _, err := Parse(got); err != nil {
				t.Errorf("Parse(Marshal()) = %v", err)
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	for name, body := range map[string]string{"zoom": zoomOffer, "carrier": carrierOffer, "ipv6": ipv6Offer, "media-level c=": mediaLevelOffer} {
		t.Run(name, func(t *testing.T) {
			first, err := Parse([]byte(body))
			if err != nil {
				t.Fatal(err)
			}
			out, err := Marshal(testOrigin(), first)
			if err != nil {
				t.Fatal(err)
			}
			again, err := Parse(out)
			if err != nil {
				t.Fatalf("re-parse: %v\n%s", err, out)
			}
			if !reflect.DeepEqual(first, again) {
				t.Errorf("round trip differs:\n got %+v\nwant %+v", again, first)
			}
			if strings.Contains(strings.ReplaceAll(string(out), "\r\n", ""), "\n") {
				t.Error("output has bare LF line endings")
			}
		})
	}
}

// Nothing from the peer's SDP but the stream itself may reach the other leg.
func TestMarshalHidesPeer(t *testing.T) {
	m, err := Parse([]byte(zoomOffer))
	if err != nil {
		t.Fatal(err)
	}
	m.Addr = netip.MustParseAddr("203.0.113.5")
	out, err := Marshal(testOrigin(), m)
	if err != nil {
		t.Fatal(err)
	}
	for _, leak := range []string{"Sonus_UAC", "2.2.2.2", "3.3.3.3", "SIP Media Capabilities", "282321"} {
		if strings.Contains(string(out), leak) {
			t.Errorf("output contains %q", leak)
		}
	}
}

func TestMarshalErrors(t *testing.T) {
	good := Media{Addr: netip.MustParseAddr("203.0.113.5"), Port: 4000, Proto: ProtoRTPAVP, Formats: []Format{pcmu}}
	with := func(f func(*Media)) Media {
		m := good
		m.Formats = append([]Format(nil), good.Formats...)
		f(&m)
		return m
	}
	tests := []struct {
		name string
		o    *Origin
		m    Media
		want error
	}{
		{"nil origin", nil, good, errNilOrigin},
		{"origin without address", &Origin{Username: "byocp"}, good, errBadAddr},
		{"origin user with space", &Origin{Username: "a b", Addr: netip.MustParseAddr("192.0.2.1")}, good, errBadValue},
		{"empty origin user", &Origin{Addr: netip.MustParseAddr("192.0.2.1")}, good, errBadValue},
		{"no media address", testOrigin(), with(func(m *Media) { m.Addr = netip.Addr{} }), errBadAddr},
		{"negative port", testOrigin(), with(func(m *Media) { m.Port = -1 }), errBadPort},
		{"port too big", testOrigin(), with(func(m *Media) { m.Port = 65536 }), errBadPort},
		{"no formats", testOrigin(), with(func(m *Media) { m.Formats = nil }), errBadFormat},
		{"payload type 128", testOrigin(), with(func(m *Media) { m.Formats[0].PayloadType = 128 }), errBadFormat},
		{"name with space", testOrigin(), with(func(m *Media) { m.Formats[0].Name = "PC MU" }), errBadFormat},
		{"name with slash", testOrigin(), with(func(m *Media) { m.Formats[0].Name = "PCMU/8000" }), errBadFormat},
		{"fmtp injects a line", testOrigin(), with(func(m *Media) { m.Formats[0].Fmtp = "x\r\na=crypto:1 X" }), errBadFormat},
		{"empty proto", testOrigin(), with(func(m *Media) { m.Proto = "" }), errBadValue},
		{"proto with space", testOrigin(), with(func(m *Media) { m.Proto = "RTP/AVP 0" }), errBadValue},
		{"bad direction", testOrigin(), with(func(m *Media) { m.Direction = "hold" }), errBadDirection},
		{"short crypto key", testOrigin(), with(func(m *Media) {
			m.Crypto = []Crypto{{Tag: 1, Suite: SuiteAESCM128HMACSHA180, KeySalt: make([]byte, 16)}}
		}), ErrBadCrypto},
		{"crypto lifetime injects a line", testOrigin(), with(func(m *Media) {
			m.Crypto = []Crypto{{Tag: 1, Suite: SuiteAESCM128HMACSHA180, KeySalt: mustKey(keyCM128), Lifetime: "2^31\r\na=x"}}
		}), ErrBadCrypto},
		{"crypto session params inject a line", testOrigin(), with(func(m *Media) {
			m.Crypto = []Crypto{{Tag: 1, Suite: SuiteAESCM128HMACSHA180, KeySalt: mustKey(keyCM128), SessionParams: "KDR=1\r\na=x"}}
		}), ErrBadCrypto},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := Marshal(tt.o, tt.m)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Marshal error = %v, want %v", err, tt.want)
			}
			if out != nil {
				t.Errorf("Marshal returned output with an error: %q", out)
			}
		})
	}
}

func TestOrigin(t *testing.T) {
	addr := netip.MustParseAddr("203.0.113.1")
	a, b := NewOrigin(addr), NewOrigin(addr)
	if a.Username != "byocp" || a.Addr != addr {
		t.Errorf("NewOrigin = %+v", a)
	}
	if a.SessionID >= 1<<62 || a.Version != a.SessionID {
		t.Errorf("NewOrigin session id %d, version %d", a.SessionID, a.Version)
	}
	if a.SessionID == b.SessionID {
		t.Errorf("two origins share session id %d", a.SessionID)
	}
	v := a.Version
	m := Media{Addr: addr, Port: 4000, Proto: ProtoRTPAVP, Formats: []Format{pcmu}}
	if _, err := Marshal(a, m); err != nil {
		t.Fatal(err)
	}
	if a.Version != v {
		t.Errorf("Marshal changed the version to %d", a.Version)
	}
	a.Bump()
	out, _ := Marshal(a, m)
	if a.Version != v+1 || !strings.Contains(string(out), "\r\no=byocp ") ||
		!strings.Contains(string(out), " "+strconv.FormatUint(v+1, 10)+" IN IP4 203.0.113.1\r\n") {
		t.Errorf("after Bump: version %d, SDP %q", a.Version, out)
	}
}

func BenchmarkMarshal(b *testing.B) {
	m, err := Parse([]byte(zoomOffer))
	if err != nil {
		b.Fatal(err)
	}
	o := testOrigin()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Marshal(o, m); err != nil {
			b.Fatal(err)
		}
	}
}
