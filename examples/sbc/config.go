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
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/byocp/byocp"
	"github.com/byocp/byocp/peering"
	"github.com/byocp/byocp/sdp"
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
	Codecs          []string         `yaml:"codecs"`
	Numbering       numberingSection `yaml:"numbering"`
	ResponseTimeout string           `yaml:"response_timeout"`
}

// numberingSection is "carrier.numbering": how the carrier writes numbers.
type numberingSection struct {
	CountryCode    string `yaml:"country_code"`
	NationalPrefix string `yaml:"national_prefix"`
	Outbound       string `yaml:"outbound"`
}

// zoomSection is the "zoom" key: the BYOC-P peering with Zoom Phone.
type zoomSection struct {
	Listen          string      `yaml:"listen"`
	Advertise       string      `yaml:"advertise"`
	Certificate     string      `yaml:"certificate"`
	Key             string      `yaml:"key"`
	CA              string      `yaml:"ca"`
	Peers           []peerEntry `yaml:"peers"`
	AllowedSources  []string    `yaml:"allowed_sources"`
	Codecs          []string    `yaml:"codecs"`
	SRTPSuites      []string    `yaml:"srtp_suites"`
	ResponseTimeout string      `yaml:"response_timeout"`
	FailoverCodes   []int       `yaml:"failover_codes"`
}

// peerEntry is one element of "zoom.peers".
type peerEntry struct {
	Name    string `yaml:"name"`
	Address string `yaml:"address"`
}

// mediaSection is the "media" key: the RTP/SRTP relay's ports.
type mediaSection struct {
	IP        string `yaml:"ip"`
	Advertise string `yaml:"advertise"`
	PortMin   int    `yaml:"port_min"`
	PortMax   int    `yaml:"port_max"`
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
				errs.addf(sub, "line %d: unknown key (known: %s)", k.Line, strings.Join(tagsOf(t), ", "))
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
	default:
		panic("sbc: config schema uses unsupported kind " + t.Kind().String())
	}
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return strconv.Quote(n.Value)
}

func fieldByTag(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		if f := t.Field(i); tagOf(f) == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func tagsOf(t reflect.Type) []string {
	var tags []string
	for i := range t.NumField() {
		tags = append(tags, tagOf(t.Field(i)))
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
	dc.Bridge.Media = fc.Media.build(&errs)

	dc.Bridge.MaxCalls = fc.MaxCalls
	if fc.MaxCalls < 0 {
		errs.addf("max_calls", "%d is negative (0 means no limit)", fc.MaxCalls)
	}
	dc.Bridge.UnreachableStatus = fc.UnreachableStatus
	if s := fc.UnreachableStatus; s != 0 && (s < 400 || s > 699) {
		errs.addf("unreachable_status", "%d is not a 4xx, 5xx or 6xx status", s)
	}

	// Files last, so that a sample with absent files reports nothing else.
	dc.Bridge.Peering.Certificates, dc.Certificate = loadKeyPair(resolve(dir, fc.Zoom.Certificate), resolve(dir, fc.Zoom.Key), &errs)
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
	return tc
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
	if z.CA == "" {
		errs.addf("zoom.ca", "required: PEM file with the roots that sign Zoom's certificates")
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
	return pc
}

func (m mediaSection) build(errs *problems) byocp.MediaConfig {
	var mc byocp.MediaConfig
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
	return mc
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

// loadKeyPair reads zoom.certificate and zoom.key.
func loadKeyPair(certFile, keyFile string, errs *problems) ([]tls.Certificate, *x509.Certificate) {
	if certFile == "" || keyFile == "" {
		return nil, nil // reported as required
	}
	certPEM, certErr := os.ReadFile(certFile)
	if certErr != nil {
		errs.add("zoom.certificate", certErr)
	} else if certs, err := parseCertificates(certFile, certPEM); err != nil {
		errs.add("zoom.certificate", err)
		certErr = err
	} else if len(certs) == 0 {
		certErr = fmt.Errorf("%s: no PEM CERTIFICATE block", certFile)
		errs.add("zoom.certificate", certErr)
	}
	keyPEM, keyErr := os.ReadFile(keyFile)
	if keyErr != nil {
		errs.add("zoom.key", keyErr)
	}
	if certErr != nil || keyErr != nil {
		return nil, nil
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		errs.add("zoom.key", fmt.Errorf("%s: %w", keyFile, err))
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
