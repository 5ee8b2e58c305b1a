package trunk

import (
	"strings"
	"testing"

	"github.com/byocp/byocp/sip"
)

func TestConfigValidate(t *testing.T) {
	good := Config{Listen: "127.0.0.1:5060", Peer: "127.0.0.1:5080"}
	if err := good.Validate(); err != nil {
		t.Fatalf("good config: %v", err)
	}
	tests := []struct {
		field string
		edit  func(*Config)
	}{
		{"Listen", func(c *Config) { c.Listen = "" }},
		{"Listen", func(c *Config) { c.Listen = "localhost" }},
		{"Transport", func(c *Config) { c.Transport = "sctp" }},
		{"Peer", func(c *Config) { c.Peer = "" }},
		{"Peer", func(c *Config) { c.Peer = "127.0.0.1:99999" }},
		{"AllowedSources", func(c *Config) { c.Peer = "carrier.example:5060" }},
		{"AdvertiseHost", func(c *Config) { c.Listen = "0.0.0.0:5060" }},
		{"Numbering.Outbound", func(c *Config) { c.Numbering.Outbound = "local" }},
		{"Numbering.Outbound", func(c *Config) { c.Numbering.Outbound = FormatNational }},
		{"Numbering.CountryCode", func(c *Config) { c.Numbering.CountryCode = "+1" }},
	}
	for _, tt := range tests {
		c := good
		tt.edit(&c)
		err := c.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), tt.field+":") {
			t.Errorf("config %+v: error %v, want it to name %s", c, err, tt.field)
		}
	}
}

func TestParties(t *testing.T) {
	tr := &Trunk{cfg: Config{Numbering: Numbering{CountryCode: "44", NationalPrefix: "0"}}}
	inv := &sip.Invite{
		RequestURI: sip.URI{User: "02079460000", Host: "sbc"},
		From:       sip.NameAddr{DisplayName: "Alice", URI: sip.URI{User: "01632960001", Host: "carrier"}},
	}
	from, to, err := tr.Parties(inv)
	if err != nil {
		t.Fatal(err)
	}
	if to.Number != "+442079460000" || from.Number != "+441632960001" || from.Name != "Alice" {
		t.Errorf("from %+v to %+v", from, to)
	}
	inv.RequestURI.User = "service"
	if _, _, err := tr.Parties(inv); err == nil {
		t.Error("a callee that is not a number was accepted")
	}
}
