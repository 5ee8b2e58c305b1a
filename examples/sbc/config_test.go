package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/byocp/byocp/trunk"
)

func TestLoopbackConfigLoads(t *testing.T) {
	cfg, err := loadConfig("loopback.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Bridge.Validate(); err != nil {
		t.Fatal(err)
	}
	b := cfg.Bridge
	if b.Trunk.Listen != "127.0.0.1:5070" || b.Trunk.Peer != "127.0.0.1:5080" {
		t.Errorf("carrier: %+v", b.Trunk)
	}
	if b.Peering.Listen != "127.0.0.1:5071" || len(b.Peering.Peers) != 1 || b.Peering.Peers[0].Address != "127.0.0.1:5081" {
		t.Errorf("zoom: listen %q peers %+v", b.Peering.Listen, b.Peering.Peers)
	}
	if b.Peering.ResponseTimeout != 2*time.Second {
		t.Errorf("zoom.response_timeout: %v", b.Peering.ResponseTimeout)
	}
	if b.Media.IP.String() != "127.0.0.1" || b.Media.PortMin != 31000 || b.Media.PortMax != 31999 {
		t.Errorf("media: %+v", b.Media)
	}
	// The certificate paths are relative to the file's directory.
	if len(b.Peering.Certificates) != 1 || cfg.Certificate == nil || cfg.Roots != 1 || b.Peering.RootCAs == nil {
		t.Fatalf("certificates not loaded: %d chains, roots %d", len(b.Peering.Certificates), cfg.Roots)
	}
	if err := cfg.Certificate.VerifyHostname("127.0.0.1"); err != nil {
		t.Errorf("loopback SBC certificate: %v", err)
	}
	if err := cfg.Certificate.VerifyHostname("::1"); err != nil {
		t.Errorf("loopback SBC certificate: %v", err)
	}
	if left := time.Until(cfg.Certificate.NotAfter); left < 5*365*24*time.Hour {
		t.Errorf("loopback SBC certificate expires in %v: regenerate with go run ./examples/sbc/loopback/gen", left)
	}
}

// TestExampleConfig checks sbc.example.yaml against the schema: with its
// (absent) files it fails on the files alone; with the loopback files in
// their place it is a valid configuration.
func TestExampleConfig(t *testing.T) {
	_, err := loadConfig("sbc.example.yaml")
	if err == nil {
		t.Fatal("sbc.example.yaml loaded, but its certificate files should not exist")
	}
	keys := map[string]bool{}
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var fe *fieldError
		if !errors.As(e, &fe) || !errors.Is(e, fs.ErrNotExist) {
			t.Errorf("unexpected error: %v", e)
			continue
		}
		keys[fe.Key] = true
	}
	for _, k := range []string{"zoom.certificate", "zoom.key", "zoom.ca"} {
		if !keys[k] {
			t.Errorf("no missing-file error for %s in:\n%v", k, err)
		}
	}

	data, err := os.ReadFile("sbc.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	fc, err := parseConfig(data)
	if err != nil {
		t.Fatal(err)
	}
	fc.Zoom.Certificate, fc.Zoom.Key, fc.Zoom.CA = "loopback/sbc.pem", "loopback/sbc-key.pem", "loopback/ca.pem"
	cfg, err := fc.build(".")
	if err != nil {
		t.Fatalf("sbc.example.yaml with loopback certificates: %v", err)
	}
	if n := len(cfg.Bridge.Peering.Peers); n != 4 {
		t.Errorf("%d Zoom peers, want primary and secondary DC zones A and B", n)
	}
	if cfg.Bridge.Trunk.Numbering.Outbound != trunk.FormatE164 || cfg.Bridge.Trunk.Numbering.CountryCode != "1" {
		t.Errorf("numbering: %+v", cfg.Bridge.Trunk.Numbering)
	}
	if len(cfg.Bridge.Peering.AllowedSources) != 2 || len(cfg.Bridge.Trunk.AllowedSources) != 1 {
		t.Errorf("allowed sources: carrier %v zoom %v", cfg.Bridge.Trunk.AllowedSources, cfg.Bridge.Peering.AllowedSources)
	}
}

// minimal is a valid configuration; the bad cases edit it.
const minimal = `
carrier:
  listen: 127.0.0.1:5070
  peer: 127.0.0.1:5080
zoom:
  listen: 127.0.0.1:5071
  certificate: sbc.pem
  key: sbc-key.pem
  ca: ca.pem
  peers:
    - {name: A, address: 127.0.0.1:5081}
media:
  ip: 127.0.0.1
  port_min: 31000
  port_max: 31999
`

// writeConfig writes yaml and the loopback PEM files into a fresh
// directory and returns the configuration file's path.
func writeConfig(t *testing.T, yaml string) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"sbc.pem", "sbc-key.pem", "ca.pem"} {
		data, err := os.ReadFile(filepath.Join("loopback", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "sbc.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestMinimalConfig(t *testing.T) {
	cfg, err := loadConfig(writeConfig(t, minimal))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Bridge.Peering.Peers[0].Name != "A" || cfg.LogFormat != "text" || cfg.LogLevel.String() != "INFO" {
		t.Errorf("%+v", cfg)
	}
}

func TestBadConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(string) string // from minimal
		want []string            // substrings of the error
	}{
		{
			name: "missing carrier.peer",
			edit: func(s string) string { return strings.Replace(s, "  peer: 127.0.0.1:5080\n", "", 1) },
			want: []string{"carrier.peer: required"},
		},
		{
			name: "bad peer address",
			edit: func(s string) string {
				return strings.Replace(s, "address: 127.0.0.1:5081", "address: zoom.example:5061", 1)
			},
			want: []string{`zoom.peers[0].address: "zoom.example:5061" is not IP:port`},
		},
		{
			name: "missing certificate file",
			edit: func(s string) string { return strings.Replace(s, "certificate: sbc.pem", "certificate: nope.pem", 1) },
			want: []string{"zoom.certificate: open ", "nope.pem: no such file"},
		},
		{
			name: "certificate is not PEM",
			edit: func(s string) string { return strings.Replace(s, "certificate: sbc.pem", "certificate: sbc.yaml", 1) },
			want: []string{"zoom.certificate: ", "no PEM CERTIFICATE block"},
		},
		{
			name: "key does not match",
			edit: func(s string) string { return strings.Replace(s, "key: sbc-key.pem", "key: ca.pem", 1) },
			want: []string{"zoom.key: ", "ca.pem"},
		},
		{
			name: "unknown key",
			edit: func(s string) string { return s + "  colour: blue\n" },
			want: []string{"media.colour: line 16: unknown key"},
		},
		{
			name: "unknown top-level key",
			edit: func(s string) string { return "maxcalls: 3\n" + s },
			want: []string{"maxcalls: line 1: unknown key"},
		},
		{
			name: "bad duration",
			edit: func(s string) string { return strings.Replace(s, "zoom:\n", "zoom:\n  response_timeout: 4\n", 1) },
			want: []string{`zoom.response_timeout: "4" is not a positive Go duration`},
		},
		{
			name: "bad port range",
			edit: func(s string) string { return strings.Replace(s, "port_max: 31999", "port_max: 31001", 1) },
			want: []string{"media.port_max: 31000-31001 must hold at least two"},
		},
		{
			name: "port is not a number",
			edit: func(s string) string { return strings.Replace(s, "port_min: 31000", "port_min: low", 1) },
			want: []string{`media.port_min: line 14: want a whole number, not "low"`},
		},
		{
			name: "bad allowed source",
			edit: func(s string) string {
				return strings.Replace(s, "  peer: 127.0.0.1:5080\n", "  peer: 127.0.0.1:5080\n  allowed_sources: [10.0.0.0/8, ten]\n", 1)
			},
			want: []string{`carrier.allowed_sources[1]: "ten" is not an IP address or prefix`},
		},
		{
			name: "listen 0.0.0.0 without advertise",
			edit: func(s string) string { return strings.Replace(s, "listen: 127.0.0.1:5071", "listen: 0.0.0.0:5071", 1) },
			want: []string{"zoom.advertise: required when zoom.listen is 0.0.0.0:5071"},
		},
		{
			name: "several problems at once",
			edit: func(s string) string {
				s = strings.Replace(s, "  peer: 127.0.0.1:5080\n", "", 1)
				return strings.Replace(s, "ip: 127.0.0.1", "ip: localhost", 1)
			},
			want: []string{"carrier.peer: required", `media.ip: "localhost" is not an IP address`},
		},
		{
			name: "peers is not a list",
			edit: func(s string) string {
				return strings.Replace(s, "  peers:\n    - {name: A, address: 127.0.0.1:5081}", "  peers: 127.0.0.1:5081", 1)
			},
			want: []string{"zoom.peers: line 10: want a list"},
		},
		{
			name: "unknown SRTP suite",
			edit: func(s string) string {
				return strings.Replace(s, "zoom:\n", "zoom:\n  srtp_suites: [AES_CM_128_HMAC_SHA1_80, AES_CM_256_HMAC_SHA1_80]\n", 1)
			},
			want: []string{`zoom.srtp_suites[1]: unknown SDES suite "AES_CM_256_HMAC_SHA1_80"`},
		},
		{
			name: "null list element",
			edit: func(s string) string {
				return strings.Replace(s, "zoom:\n", "zoom:\n  srtp_suites: [AES_CM_128_HMAC_SHA1_80, NULL]\n", 1)
			},
			want: []string{`zoom.srtp_suites[1]: line 6: empty (null) list element; quote "NULL"`},
		},
		{
			name: "bad log level",
			edit: func(s string) string { return "log_level: verbose\n" + s },
			want: []string{`log_level: "verbose" is not debug, info, warn or error`},
		},
		{
			name: "two documents",
			edit: func(s string) string { return s + "---\nmax_calls: 1\n" },
			want: []string{"line 16: only one YAML document is allowed"},
		},
		{
			name: "YAML syntax",
			edit: func(s string) string { return s + "max_calls: [1\n" },
			want: []string{"yaml: line ", "did not find expected"},
		},
		{
			name: "repeated key",
			edit: func(s string) string { return s + "max_calls: 1\nmax_calls: 2\n" },
			want: []string{"max_calls: line 17: repeats the key of line 16"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadConfig(writeConfig(t, tc.edit(minimal)))
			if err == nil {
				t.Fatal("no error")
			}
			t.Log(err)
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestEmptyConfigNamesRequiredKeys(t *testing.T) {
	_, err := loadConfig(writeConfig(t, "# nothing\n"))
	if err == nil {
		t.Fatal("no error")
	}
	for _, k := range []string{"carrier.listen", "carrier.peer", "zoom.listen", "zoom.peers", "zoom.certificate", "zoom.key", "zoom.ca", "media.ip"} {
		if !strings.Contains(err.Error(), k+": required") {
			t.Errorf("no %q in:\n%v", k+": required", err)
		}
	}
}

// TestCountryCodeQuotedOrNot: YAML reads an unquoted 44 as a number; the
// key takes it as the string "44" either way.
func TestCountryCodeQuotedOrNot(t *testing.T) {
	for _, v := range []string{`"44"`, `44`} {
		yaml := strings.Replace(minimal, "  peer: 127.0.0.1:5080\n",
			"  peer: 127.0.0.1:5080\n  numbering: {country_code: "+v+", national_prefix: 0, outbound: national}\n", 1)
		cfg, err := loadConfig(writeConfig(t, yaml))
		if err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		if n := cfg.Bridge.Trunk.Numbering; n.CountryCode != "44" || n.NationalPrefix != "0" || n.Outbound != trunk.FormatNational {
			t.Errorf("%s: numbering %+v", v, n)
		}
	}
}
