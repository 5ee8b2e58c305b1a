package trunk

import (
	"errors"
	"testing"
)

func TestToE164(t *testing.T) {
	us := Numbering{CountryCode: "1"}
	uk := Numbering{CountryCode: "44", NationalPrefix: "0"}
	tests := []struct {
		name string
		n    Numbering
		in   string
		want string
		err  bool
	}{
		{"already E.164", us, "+14155550100", "+14155550100", false},
		{"NANP 10 digits", us, "4155550100", "+14155550100", false},
		{"NANP 11 digits", us, "14155550100", "+14155550100", false},
		{"international 00", uk, "0014155550100", "+14155550100", false},
		{"UK national", uk, "02079460000", "+442079460000", false},
		{"separators", us, "(415) 555-0100", "+14155550100", false},
		{"tel URI", us, "tel:+1-415-555-0100", "+14155550100", false},
		{"no country code: digits are E.164", Numbering{}, "442079460000", "+442079460000", false},
		{"letters", us, "anonymous", "", true},
		{"empty", us, "", "", true},
		{"too long", us, "+1234567890123456", "", true},
		{"plus in the middle", us, "1+2", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.n.ToE164(tt.in)
			if tt.err {
				if !errors.Is(err, ErrBadNumber) {
					t.Fatalf("ToE164(%q) = %q, %v; want ErrBadNumber", tt.in, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ToE164(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestFromE164(t *testing.T) {
	tests := []struct {
		n    Numbering
		in   string
		want string
	}{
		{Numbering{}, "+14155550100", "+14155550100"},
		{Numbering{Outbound: FormatE164Digits}, "+14155550100", "14155550100"},
		{Numbering{Outbound: FormatNational, CountryCode: "44", NationalPrefix: "0"}, "+442079460000", "02079460000"},
		{Numbering{Outbound: FormatNational, CountryCode: "44", NationalPrefix: "0"}, "+14155550100", "0014155550100"},
		{Numbering{Outbound: FormatNational, CountryCode: "1"}, "+14155550100", "4155550100"},
		{Numbering{Outbound: FormatE164Digits}, "anonymous", "anonymous"},
	}
	for _, tt := range tests {
		if got := tt.n.FromE164(tt.in); got != tt.want {
			t.Errorf("%+v FromE164(%q) = %q, want %q", tt.n, tt.in, got, tt.want)
		}
	}
}
