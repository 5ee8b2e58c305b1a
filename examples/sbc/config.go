package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/byocp/byocp"
	"github.com/byocp/byocp/media"
	"github.com/byocp/byocp/peering"
	"github.com/byocp/byocp/sdp"
	"github.com/byocp/byocp/sip"
	"github.com/byocp/byocp/trunk"
)

// fileConfig is the YAML schema of the configuration file. The yaml tags are
// the keys as users write them; error messages use the same names.
// sbc.example.yaml documents every key.
type fileConfig struct {
	LogLevel          string         `yaml:"log_level"`
	LogFormat         string         `yaml:"log_format"`
	Carrier           carrierSection `yaml:"carrier"`
	Zoom              zoomSection    `yaml:"zoom"`
	Media             mediaSection   `yaml:"media"`
	MaxCalls          int            `yaml:"max_calls"`
	UnreachableStatus int            `yaml:"unreachable_status"`
}

// carrierSection is the "carrier" key: the SIP trunk to the PSTN carrier.
type carrierSection struct {
	Listen          string           `yaml:"listen"`
	Transport       string           `yaml:"transport"`
	Advertise       string           `yaml:"advertise"`
	Peer            string           `yaml:"peer"`
	AllowedSources  []string         `yaml:"allowed_sources"`
	MediaNetworks   []string         `yaml:"media_networks"`
	Codecs          []string         `yaml:"codecs"`
	Numbering       numberingSection `yaml:"numbering"`
	ResponseTimeout string           `yaml:"response_timeout"`
	Redirects       redirectsSection `yaml:"redirects"`
	RelayInfo       []string         `yaml:"relay_info"`
	Refer           string           `yaml:"refer"`
	T38             string           `yaml:"t38"`
	Latch           string           `yaml:"latch"`
	DTMF            string           `yaml:"dtmf"`
	RTCPMux         bool             `yaml:"rtcp_mux"`
	Limits          limitsSection    `yaml:"limits"`
	SessionTimers   timersSection    `yaml:"session_timers"`
}

// redirectsSection is "carrier.redirects": whether calls to the PSTN
// follow the carrier's redirects (3xx), and to which of its addresses
// (trunk.Redirects).
type redirectsSection struct {
	Follow   bool     `yaml:"follow"`
	Gateways []string `yaml:"gateways"`
}

// numberingSection is "carrier.numbering": how the carrier writes numbers.
type numberingSection struct {
	CountryCode    string `yaml:"country_code"`
	NationalPrefix string `yaml:"national_prefix"`
	Outbound       string `yaml:"outbound"`
}

// zoomSection is the "zoom" key: the BYOC-P peering with Zoom Phone.
type zoomSection struct {
	Listen            string        `yaml:"listen"`
	Advertise         string        `yaml:"advertise"`
	Certificate       string        `yaml:"certificate"`
	Key               string        `yaml:"key"`
	ClientCertificate string        `yaml:"client_certificate"`
	ClientKey         string        `yaml:"client_key"`
	CA                string        `yaml:"ca"`
	PeerNames         []string      `yaml:"peer_names"`
	InsecureChainOnly bool          `yaml:"insecure_chain_only"`
	Peers             []peerEntry   `yaml:"peers"`
	AllowedSources    []string      `yaml:"allowed_sources"`
	Codecs            []string      `yaml:"codecs"`
	SRTPSuites        []string      `yaml:"srtp_suites"`
	ResponseTimeout   string        `yaml:"response_timeout"`
	FailoverCodes     []int         `yaml:"failover_codes"`
	RelayInfo         []string      `yaml:"relay_info"`
	Refer             string        `yaml:"refer"`
	T38               string        `yaml:"t38"`
	Latch             string        `yaml:"latch"`
	DTMF              string        `yaml:"dtmf"`
	RTCPMux           bool          `yaml:"rtcp_mux"`
	Limits            limitsSection `yaml:"limits"`
	SessionTimers     timersSection `yaml:"session_timers"`
}

// limitsSection is "carrier.limits" and "zoom.limits": what refused
// sources, TLS handshakes and idle connections may cost (sip.Limits). The
// durations and counts are strings so that "off" can disable them and an
// explicit 0, which the library would read as "default", is refused.
// Keys that do nothing on a side (handshake_timeout on the carrier side,
// which has no TLS; the connection keys with carrier.transport udp;
// reply_to_refused on a TCP or TLS side) are refused by the side's build.
type limitsSection struct {
	ReplyToRefused          bool   `yaml:"reply_to_refused"`
	HandshakeTimeout        string `yaml:"handshake_timeout"`
	IdleTimeout             string `yaml:"idle_timeout"`
	MaxConnections          string `yaml:"max_connections"`
	MaxConnectionsPerSource string `yaml:"max_connections_per_source"`
}

// timersSection is "carrier.session_timers" and "zoom.session_timers": RFC
// 4028 session timers on a side (sip.SessionTimers). It is either the
// single value off (Off; sip.SessionTimers.Off) or a mapping of expires
// and min_se. The durations are strings so that an explicit 0, which the
// library would read as "default", is refused.
type timersSection struct {
	Expires string `yaml:"expires"`
	MinSE   string `yaml:"min_se"`
	Off     bool   `yaml:"-"` // session_timers: off
}

// orOff marks timersSection as a schema struct that also takes the single
// value off in place of its mapping.
func (timersSection) orOff() {}

// UnmarshalYAML reads "session_timers: off" or the mapping. checkNode has
// vetted the node by then.
func (s *timersSection) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode {
		if !strings.EqualFold(n.Value, "off") {
			return fmt.Errorf("line %d: want off or a mapping of keys, not %s", n.Line, describe(n))
		}
		*s = timersSection{Off: true}
		return nil
	}
	type plain timersSection // without UnmarshalYAML
	return n.Decode((*plain)(s))
}

// MarshalYAML writes Off as "session_timers: off".
func (s timersSection) MarshalYAML() (any, error) {
	if s.Off {
		return "off", nil
	}
	type plain timersSection // without MarshalYAML
	return plain(s), nil
}

// peerEntry is one element of "zoom.peers".
type peerEntry struct {
	Name    string `yaml:"name"`
	Address string `yaml:"address"`
}

// mediaSection is the "media" key: the RTP/SRTP relay's ports, and how
// long a call may go without RTP (byocp.Config.MediaTimeout and
// HoldTimeout). The timeouts are strings so that "off" can disable them
// and an explicit 0, which the library would read as "default", is
// refused.
type mediaSection struct {
	IP          string `yaml:"ip"`
	Advertise   string `yaml:"advertise"`
	PortMin     int    `yaml:"port_min"`
	PortMax     int    `yaml:"port_max"`
	Workers     int    `yaml:"workers"`
	Goroutines  bool   `yaml:"goroutines"`
	PollWindow  string `yaml:"poll_window"`
	Timeout     string `yaml:"timeout"`
	HoldTimeout string `yaml:"hold_timeout"`
}

// daemonConfig is a loaded, checked configuration: everything run needs.
type daemonConfig struct {
	// Bridge is ready for byocp.New; run sets Logger and OnCallEnd.
	Bridge byocp.Config
	// LogLevel and LogFormat ("text" or "json") configure the logger.
	LogLevel  slog.Level
	LogFormat string
	// Certificate is the leaf of zoom.certificate, for start-up checks.
	Certificate *x509.Certificate
	// ClientCertificate is the leaf of zoom.client_certificate, nil when
	// the key is not set (Certificate is then presented as client too).
	ClientCertificate *x509.Certificate
	// Roots is the number of certificates read from zoom.ca.
	Roots int
}

// fieldError is a configuration problem at one YAML key.
type fieldError struct {
	Key string // YAML path, e.g. "zoom.peers[1].address"
	Err error
}

func (e *fieldError) Error() string { return e.Key + ": " + e.Err.Error() }
func (e *fieldError) Unwrap() error { return e.Err }

// problems collects fieldErrors so that one run reports every mistake.
type problems []error

func (p *problems) add(key string, err error) { *p = append(*p, &fieldError{Key: key, Err: err}) }

func (p *problems) addf(key, format string, args ...any) { p.add(key, fmt.Errorf(format, args...)) }

func (p problems) err() error { return errors.Join(p...) }

// loadConfig reads, checks and translates the configuration file at path.
// Relative file names in it are relative to the file's directory. Errors
// name the YAML key; several problems come back joined, one per line.
func loadConfig(path string) (daemonConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return daemonConfig{}, err
	}
	fc, err := parseConfig(data)
	if err != nil {
		return daemonConfig{}, err
	}
	return fc.build(filepath.Dir(path))
}

// parseConfig decodes a configuration file without checking values or
// reading the files it names. Unknown keys and values of the wrong type are
// errors naming the key.
func parseConfig(data []byte) (fileConfig, error) {
	var fc fileConfig
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	switch err := dec.Decode(&doc); {
	case errors.Is(err, io.EOF):
		return fc, nil // empty file: build reports the required keys
	case err != nil:
		return fc, err // yaml: line N: ... (a syntax error)
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return fc, err
	default:
		return fc, fmt.Errorf("line %d: only one YAML document is allowed", extra.Line)
	}
	var errs problems
	if len(doc.Content) == 1 {
		checkNode(doc.Content[0], reflect.TypeFor[fileConfig](), "", &errs)
	}
	if len(errs) > 0 {
		return fc, errs.err()
	}
	// checkNode has vetted keys and types; the strict decoder stays as a
	// backstop for anything it does not know about.
	strict := yaml.NewDecoder(bytes.NewReader(data))
	strict.KnownFields(true)
	if err := strict.Decode(&fc); err != nil && !errors.Is(err, io.EOF) {
		return fc, err
	}
	return fc, nil
}

// checkNode walks the YAML tree against the schema type t and reports
// unknown and repeated keys and values of the wrong shape, naming each by
// its YAML path.
func checkNode(n *yaml.Node, t reflect.Type, path string, errs *problems) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // "key:" or "key: ~" leaves the zero value
	}
	key := path
	if key == "" {
		key = "(top level)"
	}
	switch t.Kind() {
	case reflect.Struct:
		if t.Implements(reflect.TypeFor[orOff]()) {
			if n.Kind == yaml.ScalarNode && strings.EqualFold(n.Value, "off") {
				return
			}
			if n.Kind != yaml.MappingNode {
				errs.addf(key, "line %d: want off or a mapping of keys (%s), not %s", n.Line, strings.Join(tagsOf(t), ", "), describe(n))
				return
			}
		}
		if n.Kind != yaml.MappingNode {
			errs.addf(key, "line %d: want a mapping of keys, not %s", n.Line, describe(n))
			return
		}
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			sub := k.Value
			if path != "" {
				sub = path + "." + k.Value
			}
			if line, dup := seen[k.Value]; dup {
				errs.addf(sub, "line %d: repeats the key of line %d", k.Line, line)
				continue
			}
			seen[k.Value] = k.Line
			f, ok := fieldByTag(t, k.Value)
			if !ok {
				hint := ""
				if t.Implements(reflect.TypeFor[orOff]()) {
					hint = fmt.Sprintf("; to turn them off, write %s: off in place of the mapping", key)
				}
				errs.addf(sub, "line %d: unknown key (known: %s)%s", k.Line, strings.Join(tagsOf(t), ", "), hint)
				continue
			}
			checkNode(v, f.Type, sub, errs)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			errs.addf(key, "line %d: want a list, not %s", n.Line, describe(n))
			return
		}
		for i, e := range n.Content {
			elem := fmt.Sprintf("%s[%d]", path, i)
			if e.Kind == yaml.ScalarNode && e.Tag == "!!null" {
				// The decoder would drop it silently, shifting the rest.
				errs.addf(elem, "line %d: empty (null) list element; quote %q if it is meant as text", e.Line, e.Value)
				continue
			}
			checkNode(e, t.Elem(), elem, errs)
		}
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			errs.addf(key, "line %d: want a single value, not %s", n.Line, describe(n))
		}
	case reflect.Int:
		var v int
		if n.Kind != yaml.ScalarNode || n.Decode(&v) != nil {
			errs.addf(key, "line %d: want a whole number, not %s", n.Line, describe(n))
		}
	case reflect.Bool:
		var v bool
		if n.Kind != yaml.ScalarNode || n.Decode(&v) != nil {
			errs.addf(key, "line %d: want true or false, not %s", n.Line, describe(n))
		}
	default:
		panic("sbc: config schema uses unsupported kind " + t.Kind().String())
	}
}

// orOff is a schema struct that also takes the single value off in place
// of its mapping, such as session_timers: off.
type orOff interface{ orOff() }

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return strconv.Quote(n.Value)
}

// fieldByTag finds the field of key; fields tagged "-" are not keys.
func fieldByTag(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		if f := t.Field(i); tagOf(f) == key && key != "-" {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func tagsOf(t reflect.Type) []string {
	var tags []string
	for i := range t.NumField() {
		if tag := tagOf(t.Field(i)); tag != "-" {
			tags = append(tags, tag)
		}
	}
	return tags
}

func tagOf(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return name
}

// build checks every value, reads the certificate files (relative names
// are relative to dir) and translates the file into a daemonConfig. It
// reports every problem it finds, then runs byocp.Config.Validate as a
// final check.
func (fc fileConfig) build(dir string) (daemonConfig, error) {
	var errs problems
	dc := daemonConfig{LogLevel: slog.LevelInfo, LogFormat: "text"}

	if fc.LogLevel != "" {
		if err := dc.LogLevel.UnmarshalText([]byte(fc.LogLevel)); err != nil {
			errs.addf("log_level", "%q is not debug, info, warn or error", fc.LogLevel)
		}
	}
	switch strings.ToLower(fc.LogFormat) {
	case "", "text":
	case "json":
		dc.LogFormat = "json"
	default:
		errs.addf("log_format", "%q is not text or json", fc.LogFormat)
	}

	dc.Bridge.Trunk = fc.Carrier.build(&errs)
	dc.Bridge.Peering = fc.Zoom.build(&errs)
	dc.Bridge.Media, dc.Bridge.MediaTimeout, dc.Bridge.HoldTimeout = fc.Media.build(&errs)

	dc.Bridge.MaxCalls = fc.MaxCalls
	if fc.MaxCalls < 0 {
		errs.addf("max_calls", "%d is negative (0 means no limit)", fc.MaxCalls)
	}
	dc.Bridge.UnreachableStatus = fc.UnreachableStatus
	if s := fc.UnreachableStatus; s != 0 && (s < 400 || s > 699) {
		errs.addf("unreachable_status", "%d is not a 4xx, 5xx or 6xx status", s)
	}

	// Files last, so that a sample with absent files reports nothing else.
	dc.Bridge.Peering.Certificates, dc.Certificate = loadKeyPair("zoom.certificate", resolve(dir, fc.Zoom.Certificate), "zoom.key", resolve(dir, fc.Zoom.Key), &errs)
	if fc.Zoom.ClientCertificate != "" && fc.Zoom.ClientKey != "" {
		dc.Bridge.Peering.ClientCertificates, dc.ClientCertificate = loadKeyPair("zoom.client_certificate", resolve(dir, fc.Zoom.ClientCertificate), "zoom.client_key", resolve(dir, fc.Zoom.ClientKey), &errs)
	}
	dc.Bridge.Peering.RootCAs, dc.Roots = loadRoots(resolve(dir, fc.Zoom.CA), &errs)

	if len(errs) > 0 {
		return dc, errs.err()
	}
	// Anything left that the library refuses; its message names Go fields.
	if err := dc.Bridge.Validate(); err != nil {
		return dc, err
	}
	return dc, nil
}

func (c carrierSection) build(errs *problems) trunk.Config {
	tc := trunk.Config{
		Listen:        c.Listen,
		Transport:     strings.ToLower(c.Transport),
		AdvertiseHost: c.Advertise,
		Peer:          c.Peer,
		Codecs:        c.Codecs,
		Numbering: trunk.Numbering{
			CountryCode:    c.Numbering.CountryCode,
			NationalPrefix: c.Numbering.NationalPrefix,
			Outbound:       c.Numbering.Outbound,
		},
	}
	listen := checkListen("carrier.listen", c.Listen, errs)
	switch tc.Transport {
	case "", "udp", "tcp":
	default:
		errs.addf("carrier.transport", "%q is not udp or tcp", c.Transport)
	}
	checkAdvertise("carrier", c.Advertise, listen, errs)
	peerIsIP := false
	if c.Peer == "" {
		errs.addf("carrier.peer", "required: the carrier's SIP address, host:port")
	} else if host, port, err := net.SplitHostPort(c.Peer); err != nil || host == "" {
		errs.addf("carrier.peer", "%q is not host:port", c.Peer)
	} else if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		errs.addf("carrier.peer", "%q: port %q is not 1-65535", c.Peer, port)
	} else {
		_, err := netip.ParseAddr(host)
		peerIsIP = err == nil
	}
	tc.AllowedSources = parsePrefixes("carrier.allowed_sources", c.AllowedSources, errs)
	if c.Peer != "" && !peerIsIP && len(c.AllowedSources) == 0 {
		errs.addf("carrier.allowed_sources", "required when carrier.peer is a host name")
	}
	tc.MediaNetworks = parsePrefixes("carrier.media_networks", c.MediaNetworks, errs)
	checkNames("carrier.codecs", c.Codecs, errs)
	n := c.Numbering
	if strings.Trim(n.CountryCode, "0123456789") != "" || len(n.CountryCode) > 3 {
		errs.addf("carrier.numbering.country_code", "%q is not a 1-3 digit country code", n.CountryCode)
	}
	if strings.Trim(n.NationalPrefix, "0123456789") != "" {
		errs.addf("carrier.numbering.national_prefix", "%q is not digits", n.NationalPrefix)
	}
	switch n.Outbound {
	case "", trunk.FormatE164, trunk.FormatE164Digits:
	case trunk.FormatNational:
		if n.CountryCode == "" {
			errs.addf("carrier.numbering.outbound", "%q needs carrier.numbering.country_code", n.Outbound)
		}
	default:
		errs.addf("carrier.numbering.outbound", "%q is not %s, %s or %s", n.Outbound, trunk.FormatE164, trunk.FormatE164Digits, trunk.FormatNational)
	}
	tc.ResponseTimeout = parseDuration("carrier.response_timeout", c.ResponseTimeout, errs)

	lim := c.Limits
	if lim.HandshakeTimeout != "" {
		errs.addf("carrier.limits.handshake_timeout", "the carrier side has no TLS handshake to time (carrier.transport is udp or tcp); "+
			"handshake_timeout belongs under zoom.limits")
		lim.HandshakeTimeout = ""
	}
	switch tc.Transport {
	case "", "udp":
		lim.refuse("carrier", "applies to accepted TCP connections, and with carrier.transport udp there are none "+
			"(set carrier.transport: tcp, or remove the key)", errs)
	case "tcp":
		if lim.ReplyToRefused {
			errs.addf("carrier.limits.reply_to_refused", "true does nothing with carrier.transport tcp: a connection from a source "+
				"outside carrier.allowed_sources is closed when accepted, before it can send a request to answer (only UDP requests get the 403)")
		}
	}
	tc.Limits = lim.build("carrier", errs)
	tc.SessionTimers = c.SessionTimers.build("carrier", errs)
	tc.RelayInfo = parseMediaTypes("carrier.relay_info", c.RelayInfo, errs)
	tc.Refer = parseRefer("carrier.refer", c.Refer, errs)
	tc.RelayT38 = parseT38("carrier.t38", c.T38, errs)
	tc.Latch = parseLatch("carrier.latch", c.Latch, errs)
	tc.DTMF = parseDTMF("carrier.dtmf", c.DTMF, errs)
	tc.RTCPMux = c.RTCPMux
	tc.Redirects = c.buildRedirects(tc.AllowedSources, errs)
	return tc
}

// buildRedirects translates carrier.redirects; sources are the parsed
// carrier.allowed_sources. Each gateway is host:port, as carrier.peer is.
// With follow true, a gateway's IP must lie inside carrier.allowed_sources
// when that is set (its responses and requests would be refused), and a
// gateway given by host name needs carrier.allowed_sources (the default
// access list is made of IP addresses: the peer's and the gateways'), as
// trunk.Config.Validate requires. Gateways with follow false do nothing
// and are refused.
func (c carrierSection) buildRedirects(sources []netip.Prefix, errs *problems) trunk.Redirects {
	r := c.Redirects
	rd := trunk.Redirects{Follow: r.Follow}
	if !r.Follow && len(r.Gateways) > 0 {
		errs.addf("carrier.redirects.gateways", "does nothing while carrier.redirects.follow is false (the default): "+
			"set follow: true to follow the carrier's redirects to these gateways, or remove the key")
		return rd
	}
	// Inside-the-list checks only against a list that parsed in full, so
	// that a mistake in allowed_sources is not reported twice.
	sourcesOK := len(sources) == len(c.AllowedSources)
	hostName := -1 // the first gateway given by host name
	for i, g := range r.Gateways {
		key := fmt.Sprintf("carrier.redirects.gateways[%d]", i)
		host, port, err := net.SplitHostPort(g)
		if err != nil || host == "" {
			errs.addf(key, "%q is not host:port", g)
			continue
		}
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			errs.addf(key, "%q: port %q is not 1-65535", g, port)
			continue
		}
		ip, err := netip.ParseAddr(host)
		switch {
		case err != nil:
			if hostName < 0 {
				hostName = i
			}
		case ip.IsUnspecified():
			errs.addf(key, "%q is not an address the carrier can be reached at", g)
			continue
		case len(sources) > 0 && sourcesOK && !slices.ContainsFunc(sources, func(p netip.Prefix) bool { return p.Contains(ip.Unmap()) }):
			errs.addf(key, "%s is not in carrier.allowed_sources: its responses and requests would be refused; add its network there", ip)
			continue
		}
		rd.Gateways = append(rd.Gateways, g)
	}
	if hostName >= 0 && len(c.AllowedSources) == 0 {
		errs.addf("carrier.allowed_sources", "required when carrier.redirects.follow is true and carrier.redirects.gateways[%d] is a host name (%q): "+
			"give the carrier's networks, or the gateway as IP:port", hostName, r.Gateways[hostName])
	}
	return rd
}

func (z zoomSection) build(errs *problems) peering.Config {
	pc := peering.Config{
		Listen:        z.Listen,
		AdvertiseHost: z.Advertise,
		Codecs:        z.Codecs,
		SRTPSuites:    z.SRTPSuites,
		FailoverCodes: z.FailoverCodes,
	}
	listen := checkListen("zoom.listen", z.Listen, errs)
	checkAdvertise("zoom", z.Advertise, listen, errs)
	if len(z.Peers) == 0 {
		errs.addf("zoom.peers", "required: at least one Zoom SIP zone, in priority order")
	}
	first := map[netip.AddrPort]int{}
	for i, p := range z.Peers {
		key := fmt.Sprintf("zoom.peers[%d].address", i)
		ap, err := netip.ParseAddrPort(p.Address)
		switch {
		case p.Address == "":
			errs.addf(key, "required: the zone's SIP over TLS address, IP:port")
			continue
		case err != nil:
			errs.addf(key, "%q is not IP:port", p.Address)
			continue
		case ap.Port() == 0 || ap.Addr().IsUnspecified():
			errs.addf(key, "%q is not an address Zoom can be reached at", p.Address)
			continue
		}
		if j, dup := first[ap]; dup {
			errs.addf(key, "%s repeats zoom.peers[%d]", ap, j)
			continue
		}
		first[ap] = i
		name := p.Name
		if name == "" {
			name = p.Address
		}
		pc.Peers = append(pc.Peers, peering.Peer{Name: name, Address: ap.String()})
	}
	if z.Certificate == "" {
		errs.addf("zoom.certificate", "required: PEM file with the SBC's certificate chain")
	}
	if z.Key == "" {
		errs.addf("zoom.key", "required: PEM file with the SBC's private key")
	}
	switch {
	case z.ClientCertificate != "" && z.ClientKey == "":
		errs.addf("zoom.client_key", "required when zoom.client_certificate is set: PEM file with its private key")
	case z.ClientCertificate == "" && z.ClientKey != "":
		errs.addf("zoom.client_certificate", "required when zoom.client_key is set: PEM file with the SBC's TLS client certificate chain")
	}
	if z.CA == "" {
		errs.addf("zoom.ca", "required: PEM file with the roots that sign Zoom's certificates")
	}
	pc.PeerNames = z.PeerNames
	pc.InsecureChainOnly = z.InsecureChainOnly
	switch {
	case len(z.PeerNames) == 0 && !z.InsecureChainOnly:
		errs.addf("zoom.peer_names", "required: the DNS names in Zoom's certificates, from Zoom's onboarding material "+
			"(zoom.insecure_chain_only: true skips the name check, which is unsafe with public CAs)")
	case len(z.PeerNames) > 0 && z.InsecureChainOnly:
		errs.addf("zoom.insecure_chain_only", "true together with zoom.peer_names: set one (peer_names checks Zoom's names, insecure_chain_only does not)")
	}
	for i, name := range z.PeerNames {
		if err := peering.CheckPeerName(name); err != nil {
			errs.add(fmt.Sprintf("zoom.peer_names[%d]", i), err)
		}
	}
	pc.AllowedSources = parsePrefixes("zoom.allowed_sources", z.AllowedSources, errs)
	checkNames("zoom.codecs", z.Codecs, errs)
	for i, s := range z.SRTPSuites {
		if !sdp.Suite(s).Known() {
			errs.addf(fmt.Sprintf("zoom.srtp_suites[%d]", i), "unknown SDES suite %q (names are case-sensitive, as in RFC 4568: AES_CM_128_HMAC_SHA1_80)", s)
		}
	}
	pc.ResponseTimeout = parseDuration("zoom.response_timeout", z.ResponseTimeout, errs)
	for i, code := range z.FailoverCodes {
		if code < 300 || code > 699 {
			errs.addf(fmt.Sprintf("zoom.failover_codes[%d]", i), "%d is not a final failure status (300-699)", code)
		}
	}
	if z.Limits.ReplyToRefused {
		errs.addf("zoom.limits.reply_to_refused", "true does nothing on the Zoom side: Zoom connects over TLS, and a connection from a source "+
			"outside zoom.allowed_sources is closed when accepted, before it can send a request to answer")
	}
	pc.Limits = z.Limits.build("zoom", errs)
	pc.SessionTimers = z.SessionTimers.build("zoom", errs)
	pc.RelayInfo = parseMediaTypes("zoom.relay_info", z.RelayInfo, errs)
	pc.Refer = parseRefer("zoom.refer", z.Refer, errs)
	pc.RelayT38 = parseT38("zoom.t38", z.T38, errs)
	pc.Latch = parseLatch("zoom.latch", z.Latch, errs)
	pc.DTMF = parseDTMF("zoom.dtmf", z.DTMF, errs)
	pc.RTCPMux = z.RTCPMux
	return pc
}

// build translates section.limits ("carrier" or "zoom"). Empty keys leave
// the library's defaults (zero values); "off" is -1, which sip.Limits
// reads as disabled.
func (l limitsSection) build(section string, errs *problems) sip.Limits {
	key := section + ".limits."
	return sip.Limits{
		ReplyToRefused:          l.ReplyToRefused,
		HandshakeTimeout:        parseLimitDuration(key+"handshake_timeout", l.HandshakeTimeout, false, errs),
		IdleTimeout:             parseLimitDuration(key+"idle_timeout", l.IdleTimeout, true, errs),
		MaxConnections:          parseLimitCount(key+"max_connections", l.MaxConnections, errs),
		MaxConnectionsPerSource: parseLimitCount(key+"max_connections_per_source", l.MaxConnectionsPerSource, errs),
	}
}

// refuse reports every connection key (idle_timeout, max_connections,
// max_connections_per_source) set in section.limits, with why, and clears
// it so that its value is not reported as well.
func (l *limitsSection) refuse(section, why string, errs *problems) {
	for _, f := range []struct {
		name  string
		value *string
	}{
		{"idle_timeout", &l.IdleTimeout},
		{"max_connections", &l.MaxConnections},
		{"max_connections_per_source", &l.MaxConnectionsPerSource},
	} {
		if *f.value != "" {
			errs.add(section+".limits."+f.name, errors.New(why))
			*f.value = ""
		}
	}
}

// RFC 4028 session timer values (sip.SessionTimers): the library's
// defaults, and the least interval RFC 4028 allows (Min-SE, and so
// Session-Expires, must be at least 90 seconds).
const (
	defaultSessionExpires = 1800 * time.Second
	defaultMinSE          = 90 * time.Second
	minSessionInterval    = 90 * time.Second
)

// build translates section.session_timers ("carrier" or "zoom"). Empty
// keys leave the library's defaults (zero values); off is
// sip.SessionTimers.Off. Values must be whole seconds (the headers carry
// seconds), at least RFC 4028's 90 s (the library takes shorter ones for
// tests only), with expires not below min_se.
func (s timersSection) build(section string, errs *problems) sip.SessionTimers {
	if s.Off {
		return sip.SessionTimers{Off: true}
	}
	key := section + ".session_timers."
	before := len(*errs)
	st := sip.SessionTimers{
		Expires: parseTimerInterval(section, "expires", s.Expires, errs),
		MinSE:   parseTimerInterval(section, "min_se", s.MinSE, errs),
	}
	if len(*errs) > before {
		return st
	}
	if d := st.WithDefaults(); d.Expires < d.MinSE {
		if s.Expires != "" {
			errs.addf(key+"expires", "%q is below %smin_se %s: the session interval cannot be shorter than the least one accepted",
				s.Expires, key, seconds(d.MinSE))
		} else {
			errs.addf(key+"min_se", "%q is above %sexpires, default %s: set expires to at least min_se",
				s.MinSE, key, seconds(d.Expires))
		}
	}
	return st
}

// parseTimerInterval reads section.session_timers.name: empty is the
// library's default (0); anything else must be a Go duration of whole
// seconds, at least minSessionInterval.
func parseTimerInterval(section, name, s string, errs *problems) time.Duration {
	key := section + ".session_timers." + name
	if s == "" {
		return 0
	}
	if strings.EqualFold(s, "off") {
		errs.addf(key, "off turns off only the whole section: write %s.session_timers: off", section)
		return 0
	}
	d, err := time.ParseDuration(s)
	switch {
	case err != nil || d <= 0:
		errs.addf(key, "%q is not a positive Go duration in whole seconds such as 1800s or 30m", s)
	case d%time.Second != 0:
		errs.addf(key, "%q is not whole seconds: Session-Expires and Min-SE carry seconds", s)
	case d < minSessionInterval:
		errs.addf(key, "%q is below %s, the least RFC 4028 allows", s, seconds(minSessionInterval))
	default:
		return d
	}
	return 0
}

// seconds writes d as whole seconds, as the SIP headers do: "1800s".
func seconds(d time.Duration) string { return strconv.FormatInt(int64(d/time.Second), 10) + "s" }

// minMediaTimeout is the shortest media.timeout and media.hold_timeout
// byocp.Config.Validate takes.
const minMediaTimeout = 10 * time.Millisecond

// build translates the media section: the relay's configuration, then
// media.timeout and media.hold_timeout (0 for the library's defaults, -1
// for off).
func (m mediaSection) build(errs *problems) (mc byocp.MediaConfig, timeout, holdTimeout time.Duration) {
	if m.IP == "" {
		errs.addf("media.ip", "required: the local address media ports bind to")
	} else if ip, err := netip.ParseAddr(m.IP); err != nil {
		errs.addf("media.ip", "%q is not an IP address", m.IP)
	} else {
		mc.IP = ip
	}
	if m.Advertise != "" {
		if ip, err := netip.ParseAddr(m.Advertise); err != nil {
			errs.addf("media.advertise", "%q is not an IP address (SDP c= lines carry addresses)", m.Advertise)
		} else if ip.IsUnspecified() {
			errs.addf("media.advertise", "%s is not an address peers can send to", ip)
		} else {
			mc.AdvertiseIP = ip
		}
	} else if mc.IP.IsValid() && mc.IP.IsUnspecified() {
		errs.addf("media.advertise", "required when media.ip is %s: the address written into SDP", mc.IP)
	}
	mc.PortMin, mc.PortMax = m.PortMin, m.PortMax
	switch {
	case m.PortMin == 0 && m.PortMax == 0: // the library's default range
	case m.PortMin == 0:
		errs.addf("media.port_min", "required when media.port_max is set")
	case m.PortMax == 0:
		errs.addf("media.port_max", "required when media.port_min is set")
	case m.PortMin < 1024 || m.PortMin > 65535:
		errs.addf("media.port_min", "%d is not within 1024-65535", m.PortMin)
	case m.PortMax < 1024 || m.PortMax > 65535:
		errs.addf("media.port_max", "%d is not within 1024-65535", m.PortMax)
	case m.PortMax-m.PortMin < 3:
		errs.addf("media.port_max", "%d-%d must hold at least two RTP/RTCP port pairs (media.port_max - media.port_min >= 3)", m.PortMin, m.PortMax)
	}
	mc.Engine.Workers = m.Workers
	if m.Workers < 0 {
		errs.addf("media.workers", "%d is negative", m.Workers)
	}
	if mc.Engine.PollWindow = parseDuration("media.poll_window", m.PollWindow, errs); mc.Engine.PollWindow > media.MaxPollWindow {
		errs.addf("media.poll_window", "%q is longer than %s", m.PollWindow, media.MaxPollWindow)
	}
	if mc.Goroutines = m.Goroutines; m.Goroutines && (m.Workers != 0 || m.PollWindow != "") {
		errs.addf("media.goroutines", "true together with media.workers or media.poll_window")
	}
	timeout = parseLimitDuration("media.timeout", m.Timeout, true, errs)
	holdTimeout = parseLimitDuration("media.hold_timeout", m.HoldTimeout, true, errs)
	for _, t := range []struct {
		key, value string
		d          *time.Duration
	}{{"media.timeout", m.Timeout, &timeout}, {"media.hold_timeout", m.HoldTimeout, &holdTimeout}} {
		if *t.d > 0 && *t.d < minMediaTimeout {
			errs.addf(t.key, "%q is too short to be a timeout (RTP comes every 20ms or so); give tens of seconds, or off", t.value)
			*t.d = 0
		}
	}
	return mc, timeout, holdTimeout
}

// checkListen parses a listen address; it returns the zero value on error.
func checkListen(key, s string, errs *problems) netip.AddrPort {
	if s == "" {
		errs.addf(key, "required: local IP:port")
		return netip.AddrPort{}
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		errs.addf(key, "%q is not IP:port", s)
	}
	return ap
}

// checkAdvertise checks section.advertise: a host name or IP address, which
// an unspecified listen address makes required.
func checkAdvertise(section, host string, listen netip.AddrPort, errs *problems) {
	key := section + ".advertise"
	if host == "" {
		if listen.IsValid() && listen.Addr().IsUnspecified() {
			errs.addf(key, "required when %s.listen is %s: the host written into Via and Contact", section, listen)
		}
		return
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.IsUnspecified() {
			errs.addf(key, "%s is not an address peers can reach", ip)
		}
		return
	}
	if strings.Trim(strings.ToLower(host), "abcdefghijklmnopqrstuvwxyz0123456789-.") != "" {
		errs.addf(key, "%q is not an IP address or host name (no port)", host)
	}
}

// parsePrefixes reads a list of IP prefixes; a bare address is a one-host
// prefix.
func parsePrefixes(key string, list []string, errs *problems) []netip.Prefix {
	var out []netip.Prefix
	for i, s := range list {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
		} else if ip, err := netip.ParseAddr(s); err == nil {
			ip = ip.Unmap()
			out = append(out, netip.PrefixFrom(ip, ip.BitLen()))
		} else {
			errs.addf(fmt.Sprintf("%s[%d]", key, i), "%q is not an IP address or prefix such as 198.51.100.0/28", s)
		}
	}
	return out
}

func parseDuration(key, s string, errs *problems) time.Duration {
	if s == "" {
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		errs.addf(key, "%q is not a positive Go duration such as 4s or 1500ms", s)
		return 0
	}
	return d
}

// parseLimitDuration reads a duration of a limits section, or
// media.timeout or media.hold_timeout: empty is the library's default
// (0), "off" (when canOff) disables it (-1), anything
// else must be a positive Go duration. An explicit 0 is refused: the
// library would read it as the default, not as "no timeout".
func parseLimitDuration(key, s string, canOff bool, errs *problems) time.Duration {
	switch {
	case s == "":
		return 0
	case strings.EqualFold(s, "off"):
		if canOff {
			return -1
		}
		errs.addf(key, "cannot be turned off: without it a client that never finishes its TLS handshake holds a connection; "+
			"give a positive Go duration such as 5s, or leave the key out for the default")
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		if canOff {
			errs.addf(key, "%q is not a positive Go duration such as 3m or 90s, nor off (no timeout)", s)
		} else {
			errs.addf(key, "%q is not a positive Go duration such as 5s or 1500ms", s)
		}
		return 0
	}
	return d
}

// parseLimitCount reads a connection count of a limits section: empty is
// the library's default (0), "off" is no limit (-1), anything else must
// be a positive whole number. An explicit 0 is refused: the library would
// read it as the default, and max_calls reads it as "no limit".
func parseLimitCount(key, s string, errs *problems) int {
	switch {
	case s == "":
		return 0
	case strings.EqualFold(s, "off"):
		return -1
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		errs.addf(key, "%q is not a positive whole number, nor off (no limit)", s)
		return 0
	}
	return n
}

// parseMediaTypes reads carrier.relay_info or zoom.relay_info: the
// Content-Types of INFO requests relayed to the other leg besides DTMF.
// The library matches an INFO's media type, without its parameters and
// ignoring case, so each entry must be a bare type/subtype; it comes back
// in lower case. Parameters, wildcards, the DTMF types (always relayed)
// and repeats are refused: they would match nothing or change nothing.
func parseMediaTypes(key string, list []string, errs *problems) []string {
	var out []string
	first := map[string]int{}
	for i, s := range list {
		elem := fmt.Sprintf("%s[%d]", key, i)
		base, _, params := strings.Cut(s, ";")
		mt, _, err := mime.ParseMediaType(base)
		typ, sub, slash := strings.Cut(mt, "/")
		switch {
		case err != nil || !slash || typ == "" || sub == "":
			errs.addf(elem, "%q is not a media type, type/subtype such as application/vnd.example+xml", s)
		case strings.Contains(mt, "*"):
			errs.addf(elem, "%q: wildcards match nothing; list each media type", s)
		case params:
			errs.addf(elem, "%q has parameters, which INFO requests are not matched by: write %s", s, mt)
		case mt == "application/dtmf-relay" || mt == "application/dtmf":
			errs.addf(elem, "%s is DTMF, which is always relayed: leave it out", mt)
		default:
			if j, dup := first[mt]; dup {
				errs.addf(elem, "%s repeats %s[%d]", mt, key, j)
				continue
			}
			first[mt] = i
			out = append(out, mt)
		}
	}
	return out
}

func checkNames(key string, names []string, errs *problems) {
	for i, s := range names {
		if strings.TrimSpace(s) == "" {
			errs.addf(fmt.Sprintf("%s[%d]", key, i), "empty codec name")
		}
	}
}

// resolve makes a file name from the configuration relative to dir; an
// empty name stays empty.
func resolve(dir, name string) string {
	if name == "" || filepath.IsAbs(name) {
		return name
	}
	return filepath.Join(dir, name)
}

// loadKeyPair reads a certificate chain and its key (zoom.certificate and
// zoom.key, or zoom.client_certificate and zoom.client_key); certKey and
// keyKey name the YAML keys in errors.
func loadKeyPair(certKey, certFile, keyKey, keyFile string, errs *problems) ([]tls.Certificate, *x509.Certificate) {
	if certFile == "" || keyFile == "" {
		return nil, nil // reported as required
	}
	certPEM, certErr := os.ReadFile(certFile)
	if certErr != nil {
		errs.add(certKey, certErr)
	} else if certs, err := parseCertificates(certFile, certPEM); err != nil {
		errs.add(certKey, err)
		certErr = err
	} else if len(certs) == 0 {
		certErr = fmt.Errorf("%s: no PEM CERTIFICATE block", certFile)
		errs.add(certKey, certErr)
	}
	keyPEM, keyErr := os.ReadFile(keyFile)
	if keyErr != nil {
		errs.add(keyKey, keyErr)
	}
	if certErr != nil || keyErr != nil {
		return nil, nil
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		errs.add(keyKey, fmt.Errorf("%s: %w", keyFile, err))
		return nil, nil
	}
	return []tls.Certificate{pair}, pair.Leaf
}

// loadRoots reads zoom.ca into a pool; it also returns how many
// certificates the pool holds.
func loadRoots(file string, errs *problems) (*x509.CertPool, int) {
	if file == "" {
		return nil, 0 // reported as required
	}
	data, err := os.ReadFile(file)
	if err != nil {
		errs.add("zoom.ca", err)
		return nil, 0
	}
	certs, err := parseCertificates(file, data)
	if err != nil {
		errs.add("zoom.ca", err)
		return nil, 0
	}
	if len(certs) == 0 {
		errs.addf("zoom.ca", "%s: no PEM CERTIFICATE block", file)
		return nil, 0
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, len(certs)
}

// parseCertificates parses every CERTIFICATE block of a PEM file and skips
// other blocks (bundles often carry comments or keys).
func parseCertificates(file string, data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for n := 1; ; n++ {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return certs, nil
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: PEM block %d: %w", file, n, err)
		}
		certs = append(certs, c)
	}
}

// parseRefer reads carrier.refer or zoom.refer: reject (the default),
// pass or handle.
func parseRefer(key, v string, errs *problems) sip.ReferPolicy {
	p := sip.ReferPolicy(strings.ToLower(strings.TrimSpace(v)))
	if err := p.Check(); err != nil {
		errs.addf(key, "%q: want reject, pass or handle", v)
		return ""
	}
	return p
}

// parseT38 reads carrier.t38 or zoom.t38: reject (the default) or relay.
func parseT38(key, v string, errs *problems) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "reject":
		return false
	case "relay":
		return true
	}
	errs.addf(key, "%q: want reject or relay", v)
	return false
}

// parseLatch reads carrier.latch or zoom.latch: signalled (the default),
// any or off.
func parseLatch(key, v string, errs *problems) string {
	if _, err := media.ParseLatch(v); err != nil {
		errs.addf(key, "%q: want signalled, any or off", v)
		return ""
	}
	return strings.ToLower(strings.TrimSpace(v))
}

// parseDTMF reads carrier.dtmf or zoom.dtmf: rfc4733 (the default) or info.
func parseDTMF(key, v string, errs *problems) string {
	if _, err := media.ParseDTMFMode(v); err != nil {
		errs.addf(key, "%q: want rfc4733 or info", v)
		return ""
	}
	return strings.ToLower(strings.TrimSpace(v))
}
