package sip

import "testing"

func TestParseReferTo(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ReferTo
	}{
		{`<sip:+14155550123@zoom.example>`, ReferTo{URI: URI{Scheme: "sip", User: "+14155550123", Host: "zoom.example"}}},
		{`"Bob" <sips:4155550123@192.0.2.1:5061;user=phone>;foo=bar`, ReferTo{URI: URI{Scheme: "sips", User: "4155550123", Host: "192.0.2.1", Port: 5061}}},
		{`sip:100@[2001:db8::1]:5070;x=y`, ReferTo{URI: URI{Scheme: "sip", User: "100", Host: "2001:db8::1", Port: 5070}}},
		{`<tel:+14155550123>`, ReferTo{URI: URI{Scheme: "sip", User: "+14155550123"}}},
		{`<sip:bob@h?Replaces=12345%40192.0.2.4%3Bto-tag%3D12345%3Bfrom-tag%3D5FFE-3994>`,
			ReferTo{URI: URI{Scheme: "sip", User: "bob", Host: "h"}, Replaces: "12345@192.0.2.4;to-tag=12345;from-tag=5FFE-3994"}},
	} {
		got, err := ParseReferTo(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseReferTo(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "<sip:bob@h", "mailto:bob@h", "<sip:bob@>", "<sip:bob@h:99999>", "<sip:b@h?Replaces=%zz>"} {
		if _, err := ParseReferTo(bad); err == nil {
			t.Errorf("ParseReferTo(%q) accepted", bad)
		}
	}
	// String escapes Replaces so that it reads back the same.
	rt := ReferTo{URI: URI{User: "+1555", Host: "h"}, Replaces: "a@b;to-tag=1;from-tag=2"}
	if back, err := ParseReferTo(rt.String()); err != nil || back.Replaces != rt.Replaces || back.URI.User != "+1555" {
		t.Errorf("round trip of %s: %+v, %v", rt, back, err)
	}
}

func TestSipfrag(t *testing.T) {
	if code, ok := SipfragStatus(Sipfrag(486, "Busy Here")); !ok || code != 486 {
		t.Errorf("SipfragStatus = %d, %v", code, ok)
	}
	for _, bad := range []string{"", "HTTP/1.1 200 OK", "SIP/2.0 abc", "SIP/2.0 99 x"} {
		if _, ok := SipfragStatus([]byte(bad)); ok {
			t.Errorf("SipfragStatus(%q) accepted", bad)
		}
	}
}
