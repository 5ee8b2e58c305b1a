package sip

import "testing"

func TestUserOf(t *testing.T) {
	for in, want := range map[string]string{
		`"A" <sip:+14155550100@192.0.2.1:5061>`: "+14155550100",
		`<tel:+14155550100>`:                    "+14155550100",
		`sip:alice@example.com;user=phone`:      "alice",
		`<sips:+442079460000@zoom.example>`:     "+442079460000",
	} {
		if got := userOf(in); got != want {
			t.Errorf("userOf(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestURIString(t *testing.T) {
	for u, want := range map[URI]string{
		{User: "+14155550100", Host: "192.0.2.1", Port: 5060}: "sip:+14155550100@192.0.2.1:5060",
		{Scheme: "sips", Host: "::1", Port: 5061}:             "sips:[::1]:5061",
		{User: "x", Host: "example.com"}:                      "sip:x@example.com",
	} {
		if got := u.String(); got != want {
			t.Errorf("%+v.String() = %q, want %q", u, got, want)
		}
	}
}
