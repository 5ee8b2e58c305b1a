package peering

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/byocp/byocp/sdp"
	"github.com/byocp/byocp/sip"
)

// DefaultCodecs are offered to and accepted from Zoom when Config.Codecs is empty.
var DefaultCodecs = []string{"opus", "G722", "PCMU", "PCMA", "G729", "telephone-event"}

// DefaultSRTPSuites is the SDES suite preference used to answer Zoom's
// offers when Config.SRTPSuites is empty. Offers to Zoom always carry
// AES_CM_128_HMAC_SHA1_80, the suite every Zoom edge accepts.
var DefaultSRTPSuites = []string{
	string(sdp.SuiteAESCM128HMACSHA180),
	string(sdp.SuiteAES256CMHMACSHA180),
	string(sdp.SuiteAEADAES256GCM),
	string(sdp.SuiteAESCM128HMACSHA132),
}

// DefaultFailoverCodes are the final responses that move a call to the next peer.
var DefaultFailoverCodes = []int{503}

// Peer is one Zoom SIP zone.
type Peer struct {
	// Name labels the peer in logs, e.g. "US West zone A".
	Name string
	// Address is the peer's SIP over TLS address, IP:port (e.g. "203.0.113.10:5061").
	Address string
}

// Config configures the Zoom side.
type Config struct {
	// Listen is the local SIP over TLS address, IP:port (e.g. "0.0.0.0:5061"). Required.
	Listen string
	// AdvertiseHost is written into Via and Contact; default the Listen IP.
	AdvertiseHost string
	// Peers are Zoom's SIP zones in priority order. Required.
	Peers []Peer
	// Certificates is the SBC's certificate chain and key, presented to Zoom
	// as TLS server and as TLS client. Required.
	Certificates []tls.Certificate
	// RootCAs verifies Zoom's certificate chain (e.g. DigiCert Global Root
	// G2 and the older root side by side). Required.
	RootCAs *x509.CertPool
	// AllowedSources are the networks Zoom connects from; default the Peers' IPs.
	AllowedSources []netip.Prefix
	// Codecs are the encoding names allowed on the Zoom leg (default DefaultCodecs).
	Codecs []string
	// SRTPSuites is the SDES suite preference for answering Zoom's offers
	// (default DefaultSRTPSuites).
	SRTPSuites []string
	// ResponseTimeout moves to the next peer when one sends no response at
	// all within it; default 4 s.
	ResponseTimeout time.Duration
	// FailoverCodes are final responses that move a call to the next peer
	// (default DefaultFailoverCodes).
	FailoverCodes []int
}

// Validate checks the configuration; errors name the field.
func (c Config) Validate() error {
	if c.Listen == "" {
		return fmt.Errorf("Listen: required")
	}
	ap, err := netip.ParseAddrPort(c.Listen)
	if err != nil {
		return fmt.Errorf("Listen: %q is not IP:port", c.Listen)
	}
	if ap.Addr().IsUnspecified() && c.AdvertiseHost == "" {
		return fmt.Errorf("AdvertiseHost: required when Listen is %s", c.Listen)
	}
	if len(c.Peers) == 0 {
		return fmt.Errorf("Peers: at least one Zoom peer is required")
	}
	for i, p := range c.Peers {
		if _, err := netip.ParseAddrPort(p.Address); err != nil {
			return fmt.Errorf("Peers[%d].Address: %q is not IP:port", i, p.Address)
		}
	}
	if len(c.Certificates) == 0 {
		return fmt.Errorf("Certificates: the SBC certificate is required for mutual TLS")
	}
	if c.RootCAs == nil {
		return fmt.Errorf("RootCAs: the CA pool that signs Zoom's certificates is required")
	}
	for i, s := range c.SRTPSuites {
		if !sdp.Suite(s).Known() {
			return fmt.Errorf("SRTPSuites[%d]: unknown SDES suite %q", i, s)
		}
	}
	for i, code := range c.FailoverCodes {
		if code < 300 || code > 699 {
			return fmt.Errorf("FailoverCodes[%d]: %d is not a final failure status", i, code)
		}
	}
	return nil
}

// TLSConfig is the TLS configuration used on both accepted and dialled
// connections: TLS 1.2 minimum, our certificate presented, the peer's
// certificate required and its chain verified against RootCAs without a
// host name check (Zoom's SIP headers carry IP addresses).
func (c Config) TLSConfig() *tls.Config {
	roots := c.RootCAs
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: c.Certificates,
		ClientAuth:   tls.RequireAnyClientCert,
		// Verification is done in VerifyConnection: chain only, for both roles.
		InsecureSkipVerify: true, //nolint:gosec // replaced by VerifyConnection below
		VerifyConnection: func(cs tls.ConnectionState) error {
			return verifyChain(cs.PeerCertificates, roots)
		},
	}
}

// ErrPeerCertificate is wrapped by TLS handshake failures caused by the
// peer's certificate.
var ErrPeerCertificate = errors.New("peering: peer certificate not trusted")

func verifyChain(certs []*x509.Certificate, roots *x509.CertPool) error {
	if len(certs) == 0 {
		return fmt.Errorf("%w: no certificate presented", ErrPeerCertificate)
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	_, err := certs[0].Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return fmt.Errorf("%w: %v", ErrPeerCertificate, err)
	}
	return nil
}

// Peering is the Zoom side's SIP endpoint.
type Peering struct {
	cfg Config
	ep  *sip.Endpoint
	log *slog.Logger
}

// New validates cfg and starts listening for Zoom's TLS connections.
func New(cfg Config, handler sip.CallHandler, logger *slog.Logger) (*Peering, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(cfg.Codecs) == 0 {
		cfg.Codecs = DefaultCodecs
	}
	if len(cfg.SRTPSuites) == 0 {
		cfg.SRTPSuites = DefaultSRTPSuites
	}
	if len(cfg.FailoverCodes) == 0 {
		cfg.FailoverCodes = DefaultFailoverCodes
	}
	if cfg.ResponseTimeout <= 0 {
		cfg.ResponseTimeout = 4 * time.Second
	}
	if len(cfg.AllowedSources) == 0 {
		for _, p := range cfg.Peers {
			ip := netip.MustParseAddrPort(p.Address).Addr().Unmap()
			cfg.AllowedSources = append(cfg.AllowedSources, netip.PrefixFrom(ip, ip.BitLen()))
		}
	}
	if logger == nil {
		logger = slog.Default()
	}
	allowed := cfg.AllowedSources
	ep, err := sip.Listen(sip.EndpointConfig{
		Name:          "zoom",
		Network:       sip.NetworkTLS,
		Listen:        cfg.Listen,
		AdvertiseHost: cfg.AdvertiseHost,
		TLS:           cfg.TLSConfig(),
		Handler:       handler,
		AcceptSource: func(src netip.Addr) bool {
			return slices.ContainsFunc(allowed, func(p netip.Prefix) bool { return p.Contains(src) })
		},
		Logger: logger,
	})
	if err != nil {
		return nil, fmt.Errorf("peering: %w", err)
	}
	return &Peering{cfg: cfg, ep: ep, log: logger.With("side", "zoom")}, nil
}

// Addr is the local SIP over TLS address Zoom connects to.
func (p *Peering) Addr() netip.AddrPort { return p.ep.Addr() }

// Codecs are the encoding names allowed on the Zoom leg.
func (p *Peering) Codecs() []string { return p.cfg.Codecs }

// SRTPSuites is the SDES suite preference for answering Zoom's offers.
func (p *Peering) SRTPSuites() []string { return p.cfg.SRTPSuites }

// Parties reads caller and callee of a Zoom INVITE: the callee from the
// Request-URI, the caller from P-Asserted-Identity or From. Zoom sends E.164
// with "+"; a callee without it is refused.
func (p *Peering) Parties(inv *sip.Invite) (from, to sip.Party, err error) {
	callee := inv.RequestURI.User
	if !isE164(callee) {
		return from, to, fmt.Errorf("callee %q is not E.164", callee)
	}
	caller := inv.Caller()
	return sip.Party{Number: caller, Name: inv.From.DisplayName}, sip.Party{Number: callee}, nil
}

func isE164(s string) bool {
	digits, ok := strings.CutPrefix(s, "+")
	return ok && len(digits) >= 3 && len(digits) <= 15 && strings.Trim(digits, "0123456789") == ""
}

// Dial places a call to Zoom, trying the peers in order. It moves to the
// next peer on a transport failure, on silence for ResponseTimeout and on a
// FailoverCodes response; the last peer's outcome is returned.
func (p *Peering) Dial(ctx context.Context, from, to sip.Party, offer []byte, onProvisional func(sip.Response)) (*sip.ClientCall, error) {
	var lastErr error
	for i, peer := range p.cfg.Peers {
		host, port, _ := net.SplitHostPort(peer.Address)
		portN, _ := strconv.Atoi(port)
		call, err := p.ep.Invite(ctx, sip.InviteRequest{
			RequestURI:      sip.URI{User: to.Number, Host: host, Port: portN},
			Destination:     peer.Address,
			From:            sip.NameAddr{DisplayName: from.Name, URI: sip.URI{User: from.Number, Host: p.ep.Host()}},
			To:              sip.NameAddr{URI: sip.URI{User: to.Number, Host: host}},
			SDP:             offer,
			Headers:         []sip.Header{{Name: "P-Asserted-Identity", Value: "<sip:" + from.Number + "@" + p.ep.Host() + ">"}},
			ResponseTimeout: p.cfg.ResponseTimeout,
			OnProvisional:   onProvisional,
		})
		if err == nil {
			return call, nil
		}
		lastErr = err
		if !p.failover(err) || ctx.Err() != nil {
			return nil, err
		}
		if i+1 < len(p.cfg.Peers) {
			p.log.Warn("Zoom peer failed, trying next", "peer", peer.Name, "address", peer.Address, "error", err)
		}
	}
	return nil, lastErr
}

func (p *Peering) failover(err error) bool {
	var se *sip.StatusError
	if errors.As(err, &se) {
		return slices.Contains(p.cfg.FailoverCodes, se.Response.StatusCode)
	}
	return errors.Is(err, sip.ErrTransport) || errors.Is(err, sip.ErrNoResponse)
}

// Close stops the listener and closes every connection.
func (p *Peering) Close() error { return p.ep.Close() }
