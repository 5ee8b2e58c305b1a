package main

import (
	"crypto/x509"
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/byocp/byocp/media"
	"github.com/byocp/byocp/peering/peeringtest"
	"github.com/byocp/byocp/sip"
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
	if b.Media.IP.String() != "127.0.0.1" || b.Media.PortMin != 31000 || b.Media.PortMax != 31999 ||
		b.Media.Engine.Workers != 1 || b.Media.Engine.PollWindow != 200*time.Microsecond {
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
	if got := b.Peering.PeerNames; len(got) != 1 || got[0] != peeringtest.ZoomName || b.Peering.InsecureChainOnly {
		t.Errorf("zoom.peer_names %q (chain only %v), want the fake Zoom peer's name %q", got, b.Peering.InsecureChainOnly, peeringtest.ZoomName)
	}
	// The certificates are split by TLS role, as public CAs issue them from 2026.
	if len(b.Peering.ClientCertificates) != 1 || cfg.ClientCertificate == nil {
		t.Fatalf("zoom.client_certificate not loaded")
	}
	if !slices.Equal(cfg.Certificate.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) ||
		!slices.Equal(cfg.ClientCertificate.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}) {
		t.Errorf("usages: certificate %v, client certificate %v", cfg.Certificate.ExtKeyUsage, cfg.ClientCertificate.ExtKeyUsage)
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
	for _, k := range []string{"zoom.certificate", "zoom.key", "zoom.client_certificate", "zoom.client_key", "zoom.ca"} {
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
	fc.Zoom.ClientCertificate, fc.Zoom.ClientKey = "loopback/sbc-client.pem", "loopback/sbc-client-key.pem"
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
	// Zoom's names are a placeholder in a reserved domain, not invented facts.
	p := cfg.Bridge.Peering
	if len(p.PeerNames) == 0 || p.InsecureChainOnly || len(p.ClientCertificates) != 1 {
		t.Errorf("zoom: peer_names %q, insecure_chain_only %v, %d client certificates", p.PeerNames, p.InsecureChainOnly, len(p.ClientCertificates))
	}
	for _, n := range p.PeerNames {
		if !strings.HasSuffix(n, ".example") {
			t.Errorf("zoom.peer_names: %q is not a placeholder in the reserved .example domain", n)
		}
	}
	if !strings.Contains(string(data), "onboarding material") {
		t.Error("sbc.example.yaml does not say where Zoom's names come from")
	}
	// The limits it spells out are the library's defaults.
	if want := (sip.Limits{HandshakeTimeout: 5 * time.Second, IdleTimeout: 3 * time.Minute, MaxConnections: 4096, MaxConnectionsPerSource: 256}); p.Limits != want {
		t.Errorf("zoom.limits: %+v, want %+v", p.Limits, want)
	}
	if tr := cfg.Bridge.Trunk; tr.Limits != (sip.Limits{}) || len(tr.MediaNetworks) != 0 {
		t.Errorf("carrier: limits %+v, media_networks %v; want the defaults", tr.Limits, tr.MediaNetworks)
	}
	// So are the session timers and media timeouts it spells out.
	timers := sip.SessionTimers{}.WithDefaults()
	if got := cfg.Bridge.Trunk.SessionTimers; got != timers {
		t.Errorf("carrier.session_timers: %+v, want %+v", got, timers)
	}
	if got := p.SessionTimers; got != timers {
		t.Errorf("zoom.session_timers: %+v, want %+v", got, timers)
	}
	if b := cfg.Bridge; b.MediaTimeout != 60*time.Second || b.HoldTimeout != 2*time.Hour {
		t.Errorf("media.timeout %v, media.hold_timeout %v; want 60s and 2h", b.MediaTimeout, b.HoldTimeout)
	}
	// RTCP multiplexing is not offered, the default.
	if cfg.Bridge.Trunk.RTCPMux || p.RTCPMux {
		t.Errorf("carrier.rtcp_mux %v, zoom.rtcp_mux %v; want false", cfg.Bridge.Trunk.RTCPMux, p.RTCPMux)
	}
	// REFER is refused from both sides by the example, the default.
	if tr := cfg.Bridge.Trunk; tr.Refer != sip.ReferReject || p.Refer != sip.ReferReject || tr.RelayT38 || p.RelayT38 {
		t.Errorf("carrier.refer %q, zoom.refer %q, t38 relay %v/%v; want reject", tr.Refer, p.Refer, tr.RelayT38, p.RelayT38)
	}
	// Redirects are off and only DTMF INFO is relayed, the defaults.
	if tr := cfg.Bridge.Trunk; tr.Redirects.Follow || len(tr.Redirects.Gateways) != 0 || len(tr.RelayInfo) != 0 || len(p.RelayInfo) != 0 {
		t.Errorf("carrier.redirects %+v, carrier.relay_info %q, zoom.relay_info %q; want the defaults", tr.Redirects, tr.RelayInfo, p.RelayInfo)
	}
	for _, want := range []string{"Session-Expires 1800", "Min-SE 90", "session_timers: off",
		"at most 3 redirects", "no DNS", "same SDP offer", "DTMF INFO (application/dtmf-relay, application/dtmf) is always"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("sbc.example.yaml does not mention %q", want)
		}
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
  peer_names: [sip.zoom.test]
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
	for _, name := range []string{"sbc.pem", "sbc-key.pem", "sbc-client.pem", "sbc-client-key.pem", "ca.pem"} {
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
			want: []string{"media.colour: line 17: unknown key"},
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
			name: "negative workers",
			edit: func(s string) string {
				return strings.Replace(s, "port_max: 31999", "port_max: 31999\n  workers: -1", 1)
			},
			want: []string{"media.workers: -1 is negative"},
		},
		{
			name: "poll window too long",
			edit: func(s string) string {
				return strings.Replace(s, "port_max: 31999", "port_max: 31999\n  workers: 1\n  poll_window: 2ms", 1)
			},
			want: []string{`media.poll_window: "2ms" is longer than 1ms`},
		},
		{
			name: "goroutines with workers",
			edit: func(s string) string {
				return strings.Replace(s, "port_max: 31999", "port_max: 31999\n  workers: 2\n  goroutines: true", 1)
			},
			want: []string{"media.goroutines: true together with media.workers"},
		},
		{
			name: "port is not a number",
			edit: func(s string) string { return strings.Replace(s, "port_min: 31000", "port_min: low", 1) },
			want: []string{`media.port_min: line 15: want a whole number, not "low"`},
		},
		{
			name: "bad allowed source",
			edit: func(s string) string {
				return strings.Replace(s, "  peer: 127.0.0.1:5080\n", "  peer: 127.0.0.1:5080\n  allowed_sources: [10.0.0.0/8, ten]\n", 1)
			},
			want: []string{`carrier.allowed_sources[1]: "ten" is not an IP address or prefix`},
		},
		{
			name: "bad media network",
			edit: func(s string) string {
				return strings.Replace(s, "  peer: 127.0.0.1:5080\n", "  peer: 127.0.0.1:5080\n  media_networks: [198.51.100.64/27, 198.51.100.300]\n", 1)
			},
			want: []string{`carrier.media_networks[1]: "198.51.100.300" is not an IP address or prefix`},
		},
		{
			name: "media_networks is not a list",
			edit: func(s string) string {
				return strings.Replace(s, "  peer: 127.0.0.1:5080\n", "  peer: 127.0.0.1:5080\n  media_networks: 198.51.100.64/27\n", 1)
			},
			want: []string{"carrier.media_networks: line 5: want a list"},
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
			want: []string{"zoom.peers: line 11: want a list"},
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
			name: "no peer_names",
			edit: func(s string) string { return strings.Replace(s, "  peer_names: [sip.zoom.test]\n", "", 1) },
			want: []string{"zoom.peer_names: required: the DNS names in Zoom's certificates", "onboarding material", "zoom.insecure_chain_only"},
		},
		{
			name: "peer_names and insecure_chain_only",
			edit: func(s string) string { return strings.Replace(s, "zoom:\n", "zoom:\n  insecure_chain_only: true\n", 1) },
			want: []string{"zoom.insecure_chain_only: true together with zoom.peer_names"},
		},
		{
			name: "bad peer name",
			edit: func(s string) string {
				return strings.Replace(s, "peer_names: [sip.zoom.test]", "peer_names: [sip.zoom.test, 'sip*.zoom.test', '*.test']", 1)
			},
			want: []string{`zoom.peer_names[1]: "sip*.zoom.test" is not a DNS name or *. wildcard`, `zoom.peer_names[2]: "*.test": a wildcard must cover`},
		},
		{
			name: "insecure_chain_only is not a boolean",
			edit: func(s string) string {
				return strings.Replace(s, "zoom:\n", "zoom:\n  insecure_chain_only: sometimes\n", 1)
			},
			want: []string{`zoom.insecure_chain_only: line 6: want true or false, not "sometimes"`},
		},
		{
			name: "client_certificate without client_key",
			edit: func(s string) string {
				return strings.Replace(s, "zoom:\n", "zoom:\n  client_certificate: sbc-client.pem\n", 1)
			},
			want: []string{"zoom.client_key: required when zoom.client_certificate is set"},
		},
		{
			name: "client_key without client_certificate",
			edit: func(s string) string {
				return strings.Replace(s, "zoom:\n", "zoom:\n  client_key: sbc-client-key.pem\n", 1)
			},
			want: []string{"zoom.client_certificate: required when zoom.client_key is set"},
		},
		{
			name: "missing client certificate file",
			edit: func(s string) string {
				return strings.Replace(s, "zoom:\n", "zoom:\n  client_certificate: nope.pem\n  client_key: sbc-client-key.pem\n", 1)
			},
			want: []string{"zoom.client_certificate: open ", "nope.pem: no such file"},
		},
		{
			name: "client key does not match",
			edit: func(s string) string {
				return strings.Replace(s, "zoom:\n", "zoom:\n  client_certificate: sbc-client.pem\n  client_key: sbc-key.pem\n", 1)
			},
			want: []string{"zoom.client_key: ", "sbc-key.pem", "does not match"},
		},
		{
			name: "limits is not a mapping",
			edit: func(s string) string { return strings.Replace(s, "zoom:\n", "zoom:\n  limits: 5s\n", 1) },
			want: []string{`zoom.limits: line 6: want a mapping of keys, not "5s"`},
		},
		{
			name: "unknown limits key",
			edit: func(s string) string {
				return strings.Replace(s, "zoom:\n", "zoom:\n  limits:\n    max_connections_per_ip: 10\n", 1)
			},
			want: []string{"zoom.limits.max_connections_per_ip: line 7: unknown key (known: reply_to_refused, handshake_timeout, idle_timeout, max_connections, max_connections_per_source)"},
		},
		{
			name: "handshake_timeout on the carrier side",
			edit: func(s string) string {
				return strings.Replace(s, "carrier:\n", "carrier:\n  limits: {handshake_timeout: 5s}\n", 1)
			},
			want: []string{"carrier.limits.handshake_timeout: the carrier side has no TLS handshake", "belongs under zoom.limits"},
		},
		{
			name: "connection limits with carrier UDP",
			edit: func(s string) string {
				return strings.Replace(s, "carrier:\n", "carrier:\n  limits: {idle_timeout: 1m, max_connections: 10, max_connections_per_source: 2}\n", 1)
			},
			want: []string{
				"carrier.limits.idle_timeout: applies to accepted TCP connections, and with carrier.transport udp there are none",
				"carrier.limits.max_connections: applies to accepted TCP connections",
				"carrier.limits.max_connections_per_source: applies to accepted TCP connections",
			},
		},
		{
			name: "reply_to_refused with carrier TCP",
			edit: func(s string) string {
				return strings.Replace(s, "carrier:\n", "carrier:\n  transport: tcp\n  limits: {reply_to_refused: true}\n", 1)
			},
			want: []string{"carrier.limits.reply_to_refused: true does nothing with carrier.transport tcp"},
		},
		{
			name: "bad carrier limits",
			edit: func(s string) string {
				return strings.Replace(s, "carrier:\n", "carrier:\n  transport: tcp\n  limits: {idle_timeout: 0, max_connections: -1, max_connections_per_source: many}\n", 1)
			},
			want: []string{
				`carrier.limits.idle_timeout: "0" is not a positive Go duration such as 3m or 90s, nor off`,
				`carrier.limits.max_connections: "-1" is not a positive whole number, nor off (no limit)`,
				`carrier.limits.max_connections_per_source: "many" is not a positive whole number`,
			},
		},
		{
			name: "carrier reply_to_refused is not a boolean",
			edit: func(s string) string {
				return strings.Replace(s, "carrier:\n", "carrier:\n  limits: {reply_to_refused: 403}\n", 1)
			},
			want: []string{`carrier.limits.reply_to_refused: line 3: want true or false, not "403"`},
		},
		{
			name: "reply_to_refused on the Zoom side",
			edit: func(s string) string {
				return strings.Replace(s, "zoom:\n", "zoom:\n  limits: {reply_to_refused: true}\n", 1)
			},
			want: []string{"zoom.limits.reply_to_refused: true does nothing on the Zoom side"},
		},
		{
			name: "handshake_timeout off",
			edit: func(s string) string {
				return strings.Replace(s, "zoom:\n", "zoom:\n  limits: {handshake_timeout: off}\n", 1)
			},
			want: []string{"zoom.limits.handshake_timeout: cannot be turned off"},
		},
		{
			name: "bad zoom limits",
			edit: func(s string) string {
				return strings.Replace(s, "zoom:\n", "zoom:\n  limits: {handshake_timeout: 0s, idle_timeout: 180, max_connections: 0, max_connections_per_source: 2.5}\n", 1)
			},
			want: []string{
				`zoom.limits.handshake_timeout: "0s" is not a positive Go duration such as 5s`,
				`zoom.limits.idle_timeout: "180" is not a positive Go duration such as 3m or 90s, nor off`,
				`zoom.limits.max_connections: "0" is not a positive whole number, nor off (no limit)`,
				`zoom.limits.max_connections_per_source: "2.5" is not a positive whole number`,
			},
		},
		{
			name: "zoom max_connections is not a single value",
			edit: func(s string) string {
				return strings.Replace(s, "zoom:\n", "zoom:\n  limits: {max_connections: [10]}\n", 1)
			},
			want: []string{"zoom.limits.max_connections: line 6: want a single value, not a list"},
		},
		{
			name: "session_timers is neither off nor a mapping",
			edit: func(s string) string { return strings.Replace(s, "carrier:\n", "carrier:\n  session_timers: on\n", 1) },
			want: []string{`carrier.session_timers: line 3: want off or a mapping of keys (expires, min_se), not "on"`},
		},
		{
			name: "session_timers is a list",
			edit: func(s string) string {
				return strings.Replace(s, "zoom:\n", "zoom:\n  session_timers: [1800s, 90s]\n", 1)
			},
			want: []string{"zoom.session_timers: line 6: want off or a mapping of keys (expires, min_se), not a list"},
		},
		{
			name: "unknown session_timers key",
			edit: func(s string) string {
				return strings.Replace(s, "zoom:\n", "zoom:\n  session_timers:\n    off: true\n", 1)
			},
			want: []string{"zoom.session_timers.off: line 7: unknown key (known: expires, min_se); to turn them off, write zoom.session_timers: off in place of the mapping"},
		},
		{
			name: "bad carrier session_timers",
			edit: func(s string) string {
				return strings.Replace(s, "carrier:\n", "carrier:\n  session_timers: {expires: 0, min_se: 1500ms}\n", 1)
			},
			want: []string{
				`carrier.session_timers.expires: "0" is not a positive Go duration in whole seconds such as 1800s or 30m`,
				`carrier.session_timers.min_se: "1500ms" is not whole seconds`,
			},
		},
		{
			name: "session timers below the RFC 4028 floor",
			edit: func(s string) string {
				return strings.Replace(s, "zoom:\n", "zoom:\n  session_timers: {expires: 60s, min_se: 30s}\n", 1)
			},
			want: []string{
				`zoom.session_timers.expires: "60s" is below 90s, the least RFC 4028 allows`,
				`zoom.session_timers.min_se: "30s" is below 90s, the least RFC 4028 allows`,
			},
		},
		{
			name: "expires off",
			edit: func(s string) string {
				return strings.Replace(s, "zoom:\n", "zoom:\n  session_timers: {expires: off}\n", 1)
			},
			want: []string{"zoom.session_timers.expires: off turns off only the whole section: write zoom.session_timers: off"},
		},
		{
			name: "expires below min_se",
			edit: func(s string) string {
				return strings.Replace(s, "carrier:\n", "carrier:\n  session_timers: {expires: 120s, min_se: 5m}\n", 1)
			},
			want: []string{`carrier.session_timers.expires: "120s" is below carrier.session_timers.min_se 300s`},
		},
		{
			name: "min_se above the default expires",
			edit: func(s string) string {
				return strings.Replace(s, "zoom:\n", "zoom:\n  session_timers: {min_se: 1h}\n", 1)
			},
			want: []string{`zoom.session_timers.min_se: "1h" is above zoom.session_timers.expires, default 1800s`},
		},
		{
			name: "expires is not a single value",
			edit: func(s string) string {
				return strings.Replace(s, "carrier:\n", "carrier:\n  session_timers: {expires: [1800s]}\n", 1)
			},
			want: []string{"carrier.session_timers.expires: line 3: want a single value, not a list"},
		},
		{
			name: "bad media timeouts",
			edit: func(s string) string {
				return strings.Replace(s, "media:\n", "media:\n  timeout: 0\n  hold_timeout: 2\n", 1)
			},
			want: []string{
				`media.timeout: "0" is not a positive Go duration such as 3m or 90s, nor off (no timeout)`,
				`media.hold_timeout: "2" is not a positive Go duration such as 3m or 90s, nor off (no timeout)`,
			},
		},
		{
			name: "media timeouts too short",
			edit: func(s string) string {
				return strings.Replace(s, "media:\n", "media:\n  timeout: 5ms\n  hold_timeout: 1ns\n", 1)
			},
			want: []string{`media.timeout: "5ms" is too short to be a timeout`, `media.hold_timeout: "1ns" is too short to be a timeout`},
		},
		{
			name: "media timeout is not a single value",
			edit: func(s string) string { return strings.Replace(s, "media:\n", "media:\n  timeout: {seconds: 60}\n", 1) },
			want: []string{"media.timeout: line 14: want a single value, not a mapping"},
		},
		{
			name: "bad log level",
			edit: func(s string) string { return "log_level: verbose\n" + s },
			want: []string{`log_level: "verbose" is not debug, info, warn or error`},
		},
		{
			name: "two documents",
			edit: func(s string) string { return s + "---\nmax_calls: 1\n" },
			want: []string{"line 17: only one YAML document is allowed"},
		},
		{
			name: "YAML syntax",
			edit: func(s string) string { return s + "max_calls: [1\n" },
			want: []string{"yaml: line ", "did not find expected"},
		},
		{
			name: "repeated key",
			edit: func(s string) string { return s + "max_calls: 1\nmax_calls: 2\n" },
			want: []string{"max_calls: line 18: repeats the key of line 17"},
		},
		{
			name: "bad redirect gateways",
			edit: func(s string) string {
				return strings.Replace(s, "carrier:\n", "carrier:\n  redirects:\n    follow: true\n    gateways: [127.0.0.2:5060, 127.0.0.3, '127.0.0.4:70000', ':5060', 0.0.0.0:5060]\n", 1)
			},
			want: []string{
				`carrier.redirects.gateways[1]: "127.0.0.3" is not host:port`,
				`carrier.redirects.gateways[2]: "127.0.0.4:70000": port "70000" is not 1-65535`,
				`carrier.redirects.gateways[3]: ":5060" is not host:port`,
				`carrier.redirects.gateways[4]: "0.0.0.0:5060" is not an address the carrier can be reached at`,
			},
		},
		{
			name: "redirect gateway outside allowed_sources",
			edit: func(s string) string {
				return strings.Replace(s, "carrier:\n", "carrier:\n  allowed_sources: [127.0.0.0/29]\n  redirects: {follow: true, gateways: [127.0.0.2:5060, 127.0.0.9:5060]}\n", 1)
			},
			want: []string{"carrier.redirects.gateways[1]: 127.0.0.9 is not in carrier.allowed_sources: its responses and requests would be refused"},
		},
		{
			name: "redirect gateway host name without allowed_sources",
			edit: func(s string) string {
				return strings.Replace(s, "carrier:\n", "carrier:\n  redirects: {follow: true, gateways: [127.0.0.2:5060, gw.carrier.example:5060]}\n", 1)
			},
			want: []string{`carrier.allowed_sources: required when carrier.redirects.follow is true and carrier.redirects.gateways[1] is a host name ("gw.carrier.example:5060")`},
		},
		{
			name: "redirect gateways without follow",
			edit: func(s string) string {
				return strings.Replace(s, "carrier:\n", "carrier:\n  redirects:\n    gateways: [127.0.0.2:5060]\n", 1)
			},
			want: []string{"carrier.redirects.gateways: does nothing while carrier.redirects.follow is false (the default)"},
		},
		{
			name: "redirects follow is not a boolean",
			edit: func(s string) string {
				return strings.Replace(s, "carrier:\n", "carrier:\n  redirects:\n    follow: 3\n", 1)
			},
			want: []string{`carrier.redirects.follow: line 4: want true or false, not "3"`},
		},
		{
			name: "redirects is not a mapping",
			edit: func(s string) string { return strings.Replace(s, "carrier:\n", "carrier:\n  redirects: true\n", 1) },
			want: []string{`carrier.redirects: line 3: want a mapping of keys, not "true"`},
		},
		{
			name: "unknown redirects key",
			edit: func(s string) string {
				return strings.Replace(s, "carrier:\n", "carrier:\n  redirects:\n    follow: true\n    max_hops: 5\n", 1)
			},
			want: []string{"carrier.redirects.max_hops: line 5: unknown key (known: follow, gateways)"},
		},
		{
			name: "redirect gateways is not a list",
			edit: func(s string) string {
				return strings.Replace(s, "carrier:\n", "carrier:\n  redirects: {follow: true, gateways: 127.0.0.2:5060}\n", 1)
			},
			want: []string{"carrier.redirects.gateways: line 3: want a list"},
		},
		{
			name: "bad refer policies",
			edit: func(s string) string {
				s = strings.Replace(s, "carrier:\n", "carrier:\n  refer: forward\n", 1)
				return strings.Replace(s, "zoom:\n", "zoom:\n  refer: ''\n", 1)
			},
			want: []string{
				`carrier.refer: "forward": want reject, pass or handle`,
			},
		},
		{
			name: "bad t38 policy",
			edit: func(s string) string {
				return strings.Replace(s, "zoom:\n", "zoom:\n  t38: passthrough\n", 1)
			},
			want: []string{
				`zoom.t38: "passthrough": want reject or relay`,
			},
		},
		{
			name: "bad carrier relay_info",
			edit: func(s string) string {
				return strings.Replace(s, "carrier:\n", "carrier:\n  relay_info: [application/x-foo, dtmf, 'application/x-bar; v=1', 'application/*', application/DTMF-Relay, Application/X-Foo, '', text/]\n", 1)
			},
			want: []string{
				`carrier.relay_info[1]: "dtmf" is not a media type, type/subtype`,
				`carrier.relay_info[2]: "application/x-bar; v=1" has parameters, which INFO requests are not matched by: write application/x-bar`,
				`carrier.relay_info[3]: "application/*": wildcards match nothing`,
				`carrier.relay_info[4]: application/dtmf-relay is DTMF, which is always relayed: leave it out`,
				`carrier.relay_info[5]: application/x-foo repeats carrier.relay_info[0]`,
				`carrier.relay_info[6]: "" is not a media type`,
				`carrier.relay_info[7]: "text/" is not a media type`,
			},
		},
		{
			name: "bad zoom relay_info",
			edit: func(s string) string {
				return strings.Replace(s, "zoom:\n", "zoom:\n  relay_info: [application/x-foo, 'application/x-foo/bar', application/dtmf]\n", 1)
			},
			want: []string{
				`zoom.relay_info[1]: "application/x-foo/bar" is not a media type`,
				`zoom.relay_info[2]: application/dtmf is DTMF, which is always relayed`,
			},
		},
		{
			name: "zoom relay_info is not a list",
			edit: func(s string) string {
				return strings.Replace(s, "zoom:\n", "zoom:\n  relay_info: application/x-foo\n", 1)
			},
			want: []string{"zoom.relay_info: line 6: want a list, not \"application/x-foo\""},
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
	for _, k := range []string{"carrier.listen", "carrier.peer", "zoom.listen", "zoom.peers", "zoom.certificate", "zoom.key", "zoom.ca", "zoom.peer_names", "media.ip"} {
		if !strings.Contains(err.Error(), k+": required") {
			t.Errorf("no %q in:\n%v", k+": required", err)
		}
	}
}

// TestLimitsAndMediaNetworks: carrier.media_networks and the limits
// sections reach trunk.Config and peering.Config; off is -1 (disabled in
// sip.Limits) and left-out keys are 0 (the library's defaults).
func TestLimitsAndMediaNetworks(t *testing.T) {
	for _, tc := range []struct {
		name    string
		carrier string // inserted under carrier:
		zoom    string // inserted under zoom:
		trunk   sip.Limits
		peering sip.Limits
		media   []netip.Prefix
	}{
		{name: "defaults"},
		{
			name:    "media_networks",
			carrier: "  media_networks: [198.51.100.64/27, 198.51.100.77/24, 203.0.113.9, '::ffff:192.0.2.1', 2001:db8::/32]\n",
			media: []netip.Prefix{
				netip.MustParsePrefix("198.51.100.64/27"),
				netip.MustParsePrefix("198.51.100.0/24"), // masked
				netip.MustParsePrefix("203.0.113.9/32"),
				netip.MustParsePrefix("192.0.2.1/32"), // unmapped
				netip.MustParsePrefix("2001:db8::/32"),
			},
		},
		{
			name:    "carrier UDP reply_to_refused",
			carrier: "  transport: udp\n  limits:\n    reply_to_refused: true\n",
			trunk:   sip.Limits{ReplyToRefused: true},
		},
		{
			name:    "carrier TCP limits",
			carrier: "  transport: TCP\n  limits:\n    reply_to_refused: false\n    idle_timeout: 90s\n    max_connections: 100\n    max_connections_per_source: 10\n",
			trunk:   sip.Limits{IdleTimeout: 90 * time.Second, MaxConnections: 100, MaxConnectionsPerSource: 10},
		},
		{
			name:    "carrier TCP limits off",
			carrier: "  transport: tcp\n  limits: {idle_timeout: off, max_connections: OFF, max_connections_per_source: \"off\"}\n",
			trunk:   sip.Limits{IdleTimeout: -1, MaxConnections: -1, MaxConnectionsPerSource: -1},
		},
		{
			name:    "zoom limits",
			zoom:    "  limits:\n    reply_to_refused: false\n    handshake_timeout: 2500ms\n    idle_timeout: 10m\n    max_connections: 64\n    max_connections_per_source: 8\n",
			peering: sip.Limits{HandshakeTimeout: 2500 * time.Millisecond, IdleTimeout: 10 * time.Minute, MaxConnections: 64, MaxConnectionsPerSource: 8},
		},
		{
			name:    "zoom limits off",
			zoom:    "  limits: {idle_timeout: off, max_connections: off, max_connections_per_source: off}\n",
			peering: sip.Limits{IdleTimeout: -1, MaxConnections: -1, MaxConnectionsPerSource: -1},
		},
		{
			name:    "one key, the others default",
			zoom:    "  limits: {max_connections_per_source: 4}\n",
			peering: sip.Limits{MaxConnectionsPerSource: 4},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			yaml := strings.Replace(minimal, "carrier:\n", "carrier:\n"+tc.carrier, 1)
			yaml = strings.Replace(yaml, "zoom:\n", "zoom:\n"+tc.zoom, 1)
			cfg, err := loadConfig(writeConfig(t, yaml))
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.Bridge.Trunk.Limits; got != tc.trunk {
				t.Errorf("carrier.limits: %+v, want %+v", got, tc.trunk)
			}
			if got := cfg.Bridge.Peering.Limits; got != tc.peering {
				t.Errorf("zoom.limits: %+v, want %+v", got, tc.peering)
			}
			if got := cfg.Bridge.Trunk.MediaNetworks; !slices.Equal(got, tc.media) {
				t.Errorf("carrier.media_networks: %v, want %v", got, tc.media)
			}
		})
	}
}

// TestSessionTimersAndMediaTimeouts: carrier.session_timers and
// zoom.session_timers reach trunk.Config and peering.Config (off is
// sip.SessionTimers.Off, left-out keys are 0: the library's defaults);
// media.timeout and media.hold_timeout reach byocp.Config (off is -1,
// which disables them).
func TestSessionTimersAndMediaTimeouts(t *testing.T) {
	for _, tc := range []struct {
		name           string
		carrier        string // inserted under carrier:
		zoom           string // inserted under zoom:
		media          string // inserted under media:
		trunk, peering sip.SessionTimers
		timeout, hold  time.Duration
	}{
		{name: "defaults"},
		{
			name:    "session timers off",
			carrier: "  session_timers: off\n",
			zoom:    "  session_timers: OFF\n",
			trunk:   sip.SessionTimers{Off: true},
			peering: sip.SessionTimers{Off: true},
		},
		{
			name:    "quoted off, one side",
			zoom:    "  session_timers: \"off\"\n",
			peering: sip.SessionTimers{Off: true},
		},
		{
			name:    "session timer values",
			carrier: "  session_timers:\n    expires: 30m\n    min_se: 120s\n",
			zoom:    "  session_timers: {expires: 600s}\n",
			trunk:   sip.SessionTimers{Expires: 1800 * time.Second, MinSE: 120 * time.Second},
			peering: sip.SessionTimers{Expires: 600 * time.Second},
		},
		{
			name:    "min_se up to the default expires",
			zoom:    "  session_timers: {min_se: 1800s}\n",
			peering: sip.SessionTimers{MinSE: 1800 * time.Second},
		},
		{
			name:    "empty section",
			carrier: "  session_timers:\n",
		},
		{
			name:    "media timeouts",
			media:   "  timeout: 30s\n  hold_timeout: 4h\n",
			timeout: 30 * time.Second,
			hold:    4 * time.Hour,
		},
		{
			name:    "media timeouts off",
			media:   "  timeout: off\n  hold_timeout: Off\n",
			timeout: -1,
			hold:    -1,
		},
		{
			name:  "hold_timeout only",
			media: "  hold_timeout: 90m\n",
			hold:  90 * time.Minute,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			yaml := strings.Replace(minimal, "carrier:\n", "carrier:\n"+tc.carrier, 1)
			yaml = strings.Replace(yaml, "zoom:\n", "zoom:\n"+tc.zoom, 1)
			yaml = strings.Replace(yaml, "media:\n", "media:\n"+tc.media, 1)
			cfg, err := loadConfig(writeConfig(t, yaml))
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.Bridge.Trunk.SessionTimers; got != tc.trunk {
				t.Errorf("carrier.session_timers: %+v, want %+v", got, tc.trunk)
			}
			if got := cfg.Bridge.Peering.SessionTimers; got != tc.peering {
				t.Errorf("zoom.session_timers: %+v, want %+v", got, tc.peering)
			}
			if got := cfg.Bridge.MediaTimeout; got != tc.timeout {
				t.Errorf("media.timeout: %v, want %v", got, tc.timeout)
			}
			if got := cfg.Bridge.HoldTimeout; got != tc.hold {
				t.Errorf("media.hold_timeout: %v, want %v", got, tc.hold)
			}
		})
	}
}

// TestRedirectsAndRelayInfo: carrier.redirects reaches trunk.Config, and
// carrier.relay_info and zoom.relay_info reach trunk.Config and
// peering.Config as lower-case media types; a parsed file written back as
// YAML (as TestEndToEnd does) reads the same.
func TestRedirectsAndRelayInfo(t *testing.T) {
	for _, tc := range []struct {
		name          string
		carrier       string // inserted under carrier:
		zoom          string // inserted under zoom:
		redirects     trunk.Redirects
		carrierInfo   []string
		zoomInfo      []string
		allowedSource []netip.Prefix
	}{
		{name: "defaults"},
		{
			name:      "follow, gateways in the default access list",
			carrier:   "  redirects:\n    follow: true\n    gateways: [127.0.0.2:5060, '[::1]:5070']\n",
			redirects: trunk.Redirects{Follow: true, Gateways: []string{"127.0.0.2:5060", "[::1]:5070"}},
		},
		{
			name:          "follow, gateways inside allowed_sources",
			carrier:       "  allowed_sources: [127.0.0.0/29, 192.0.2.0/24]\n  redirects: {follow: true, gateways: [127.0.0.2:5060, '[::ffff:127.0.0.3]:5060', gw.carrier.example:5080]}\n",
			redirects:     trunk.Redirects{Follow: true, Gateways: []string{"127.0.0.2:5060", "[::ffff:127.0.0.3]:5060", "gw.carrier.example:5080"}},
			allowedSource: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/29"), netip.MustParsePrefix("192.0.2.0/24")},
		},
		{
			name:      "follow to the peer only",
			carrier:   "  redirects: {follow: true}\n",
			redirects: trunk.Redirects{Follow: true},
		},
		{
			name:    "follow false, empty gateways",
			carrier: "  redirects: {follow: false, gateways: []}\n",
		},
		{
			name:        "relay_info",
			carrier:     "  relay_info: [application/x-foo, Application/Vnd.Example+XML, ' text/plain ']\n",
			zoom:        "  relay_info: [application/media_control+xml]\n",
			carrierInfo: []string{"application/x-foo", "application/vnd.example+xml", "text/plain"},
			zoomInfo:    []string{"application/media_control+xml"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := strings.Replace(minimal, "carrier:\n", "carrier:\n"+tc.carrier, 1)
			in = strings.Replace(in, "zoom:\n", "zoom:\n"+tc.zoom, 1)
			path := writeConfig(t, in)
			cfg, err := loadConfig(path)
			if err != nil {
				t.Fatal(err)
			}
			tr, p := cfg.Bridge.Trunk, cfg.Bridge.Peering
			if tr.Redirects.Follow != tc.redirects.Follow || !slices.Equal(tr.Redirects.Gateways, tc.redirects.Gateways) {
				t.Errorf("carrier.redirects: %+v, want %+v", tr.Redirects, tc.redirects)
			}
			if !slices.Equal(tr.RelayInfo, tc.carrierInfo) {
				t.Errorf("carrier.relay_info: %q, want %q", tr.RelayInfo, tc.carrierInfo)
			}
			if !slices.Equal(p.RelayInfo, tc.zoomInfo) {
				t.Errorf("zoom.relay_info: %q, want %q", p.RelayInfo, tc.zoomInfo)
			}
			if !slices.Equal(tr.AllowedSources, tc.allowedSource) {
				t.Errorf("carrier.allowed_sources: %v, want %v", tr.AllowedSources, tc.allowedSource)
			}

			fc, err := parseConfig([]byte(in))
			if err != nil {
				t.Fatal(err)
			}
			out, err := yaml.Marshal(fc)
			if err != nil {
				t.Fatal(err)
			}
			again, err := loadConfig(writeConfig(t, string(out)))
			if err != nil {
				t.Fatalf("written back: %v:\n%s", err, out)
			}
			if a := again.Bridge.Trunk; a.Redirects.Follow != tr.Redirects.Follow || !slices.Equal(a.Redirects.Gateways, tr.Redirects.Gateways) ||
				!slices.Equal(a.RelayInfo, tr.RelayInfo) || !slices.Equal(again.Bridge.Peering.RelayInfo, p.RelayInfo) {
				t.Errorf("written back: redirects %+v relay_info %q, %q; want %+v, %q, %q",
					a.Redirects, a.RelayInfo, again.Bridge.Peering.RelayInfo, tr.Redirects, tr.RelayInfo, p.RelayInfo)
			}
		})
	}
}

// TestSessionTimersMarshal: a parsed configuration written back as YAML
// (as TestEndToEnd does) reads the same, "session_timers: off" included.
func TestSessionTimersMarshal(t *testing.T) {
	in := strings.Replace(minimal, "carrier:\n", "carrier:\n  session_timers: off\n", 1)
	in = strings.Replace(in, "zoom:\n", "zoom:\n  session_timers: {expires: 900s}\n", 1)
	fc, err := parseConfig([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	out, err := yaml.Marshal(fc)
	if err != nil {
		t.Fatal(err)
	}
	again, err := parseConfig(out)
	if err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if again.Carrier.SessionTimers != (timersSection{Off: true}) || again.Zoom.SessionTimers != (timersSection{Expires: "900s"}) {
		t.Errorf("carrier %+v, zoom %+v from:\n%s", again.Carrier.SessionTimers, again.Zoom.SessionTimers, out)
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

// carrier.rtcp_mux and zoom.rtcp_mux turn on a=rtcp-mux in the SBC's
// offers on that side (trunk.Config.RTCPMux, peering.Config.RTCPMux); off
// by default. A value that is not a boolean names the key.
func TestRTCPMuxKeys(t *testing.T) {
	for _, tc := range []struct {
		name, carrier, zoom   string
		wantCarrier, wantZoom bool
	}{
		{name: "defaults"},
		{name: "carrier", carrier: "  rtcp_mux: true\n", wantCarrier: true},
		{name: "zoom", zoom: "  rtcp_mux: true\n", wantZoom: true},
		{name: "both, explicit false on the carrier", carrier: "  rtcp_mux: false\n", zoom: "  rtcp_mux: true\n", wantZoom: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := strings.Replace(minimal, "carrier:\n", "carrier:\n"+tc.carrier, 1)
			in = strings.Replace(in, "zoom:\n", "zoom:\n"+tc.zoom, 1)
			cfg, err := loadConfig(writeConfig(t, in))
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Bridge.Trunk.RTCPMux != tc.wantCarrier || cfg.Bridge.Peering.RTCPMux != tc.wantZoom {
				t.Errorf("rtcp_mux: carrier %v, zoom %v; want %v, %v", cfg.Bridge.Trunk.RTCPMux, cfg.Bridge.Peering.RTCPMux, tc.wantCarrier, tc.wantZoom)
			}
		})
	}
	_, err := loadConfig(writeConfig(t, strings.Replace(minimal, "carrier:\n", "carrier:\n  rtcp_mux: sometimes\n", 1)))
	if err == nil || !strings.Contains(err.Error(), "carrier.rtcp_mux") {
		t.Errorf("rtcp_mux: sometimes: %v, want an error naming carrier.rtcp_mux", err)
	}
}

// media.goroutines gives the Bridge a goroutine per socket instead of its
// default engine.
func TestMediaGoroutinesKey(t *testing.T) {
	cfg, err := loadConfig(writeConfig(t, minimal))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Bridge.Media.Goroutines || cfg.Bridge.Media.Engine != (media.Engine{}) {
		t.Errorf("default: %+v, want the Bridge's default engine", cfg.Bridge.Media)
	}
	cfg, err = loadConfig(writeConfig(t, strings.Replace(minimal, "  ip: 127.0.0.1\n", "  ip: 127.0.0.1\n  goroutines: true\n", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Bridge.Media.Goroutines {
		t.Errorf("goroutines: true: %+v", cfg.Bridge.Media)
	}
}
