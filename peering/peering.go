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

	"github.com/byocp/byocp/media"
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
	// as TLS server (when Zoom connects) and, unless ClientCertificates is
	// set, as TLS client (when the SBC dials Zoom). Required.
	Certificates []tls.Certificate
	// ClientCertificates, if set, is presented instead of Certificates when
	// the SBC dials Zoom, which requires a client certificate (mutual TLS).
	// Its leaf needs the clientAuth extended key usage (or none at all).
	// Public CAs are removing clientAuth from TLS server certificates during
	// 2026, so a renewed server certificate may no longer work as client:
	// set this to a certificate issued for clientAuth. Default Certificates.
	ClientCertificates []tls.Certificate
	// RootCAs verifies Zoom's certificate chain (e.g. DigiCert Global Root
	// G2 and the older root side by side). Required.
	RootCAs *x509.CertPool
	// PeerNames are the names Zoom's certificate must carry, from Zoom's
	// onboarding material, e.g. ["*.zoom.example"]. They are checked in
	// both directions, when the SBC dials Zoom and when Zoom connects to
	// the SBC, against the DNS names in the certificate's subject
	// alternative names (not its common name, not its IP addresses); one
	// match is enough. A name is a DNS name or "*." and a DNS name of at
	// least two labels; matching ignores case and follows MatchPeerName: a
	// configured "*.zoom.example" matches exactly one more left-most label
	// ("sipa.zoom.example", not "zoom.example" nor "a.b.zoom.example"), and
	// a certificate wildcard "*.zoom.example" matches a configured
	// "sipa.zoom.example" (RFC 6125). Required unless InsecureChainOnly.
	//
	// With public roots such as DigiCert's, a chain check alone accepts a
	// certificate the CA issued to anyone for any name: PeerNames is what
	// makes the peer Zoom.
	PeerNames []string
	// InsecureChainOnly accepts any certificate that chains to RootCAs with
	// the right key usage, whatever its names, instead of checking
	// PeerNames. It is only safe when RootCAs is a private CA that issues
	// certificates to Zoom alone: with a public CA, whoever gets a
	// certificate from it for any domain can impersonate Zoom to the SBC on
	// the network path and read the SRTP keys of calls. New logs a warning
	// when it is set. It cannot be combined with PeerNames.
	InsecureChainOnly bool
	// AllowedSources are the networks Zoom connects from; default the Peers' IPs.
	// Connections from elsewhere are closed before the TLS handshake.
	AllowedSources []netip.Prefix
	// Limits bounds TLS handshakes, idle connections and connections per
	// source (see sip.Limits); the zero value gives its defaults.
	Limits sip.Limits
	// Codecs are the encoding names allowed on the Zoom leg (default DefaultCodecs).
	Codecs []string
	// SRTPSuites is the SDES suite preference for answering Zoom's offers
	// (default DefaultSRTPSuites).
	SRTPSuites []string
	// ResponseTimeout moves to the next peer when one sends no response at
	// all within it; default 4 s.
	ResponseTimeout time.Duration
	// SessionTimers configures RFC 4028 session timers on the Zoom leg
	// (offered in INVITEs, accepted from the Zoom, refreshed by whichever
	// side the negotiation names); the zero value uses 1800 s and Min-SE 90 s.
	SessionTimers sip.SessionTimers
	// RelayInfo lists the Content-Types of INFO requests from the Zoom that
	// are relayed to the other leg, besides DTMF (application/dtmf-relay
	// and application/dtmf, always relayed). INFO of other types is
	// answered 200 on its own leg and goes no further.
	RelayInfo []string
	// Refer is what byocp does with a REFER (call transfer) from Zoom:
	// sip.ReferReject (the zero value: 403), sip.ReferPass (relay it to the
	// carrier with Refer-To in the carrier's number format, and the
	// carrier's NOTIFYs back) or sip.ReferHandle (byocp calls the target
	// through Zoom and connects it to the carrier leg).
	Refer sip.ReferPolicy
	// RelayT38 offers and accepts T.38 fax (m=image udptl t38) towards
	// Zoom as its own stream, on its own ports, when trunk.Config.RelayT38
	// is set too. Zoom documents no T.38, so the default rejects an image
	// stream with port 0 and the call goes on as audio (G.711
	// pass-through fax).
	RelayT38 bool
	// Latch is the Zoom leg's symmetric-RTP policy (see media.Latch): ""
	// or "signalled" (the default) latches on the first SRTP packet that
	// authenticates, moves with the next authenticated one from a new
	// address and sends to the latched source; "off" sends to the address
	// in Zoom's SDP ("any" is the same as "signalled" on an SRTP leg).
	Latch string
	// DTMF is how Zoom signals DTMF, as trunk.Config.DTMF: "" or
	// "rfc4733" (the default, what Zoom sends) or "info".
	DTMF string
	// FailoverCodes are final responses that move a call to the next peer
	// (default DefaultFailoverCodes).
	FailoverCodes []int
	// RTCPMux offers Zoom SRTCP multiplexed on the RTP port (a=rtcp-mux,
	// RFC 5761) in byocp's offers on the Zoom leg, as
	// trunk.Config.RTCPMux does for the carrier. Off by default.
	RTCPMux bool
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
	if err := c.Refer.Check(); err != nil {
		return fmt.Errorf("Refer: %w", err)
	}
	if _, err := media.ParseLatch(c.Latch); err != nil {
		return fmt.Errorf("Latch: %w", err)
	}
	if _, err := media.ParseDTMFMode(c.DTMF); err != nil {
		return fmt.Errorf("DTMF: %w", err)
	}
	if len(c.Certificates) == 0 {
		return fmt.Errorf("Certificates: the SBC certificate is required for mutual TLS")
	}
	for i, cc := range c.ClientCertificates {
		if len(cc.Certificate) == 0 || cc.PrivateKey == nil {
			return fmt.Errorf("ClientCertificates[%d]: a certificate chain and its private key are required", i)
		}
	}
	if c.RootCAs == nil {
		return fmt.Errorf("RootCAs: the CA pool that signs Zoom's certificates is required")
	}
	switch {
	case len(c.PeerNames) == 0 && !c.InsecureChainOnly:
		return fmt.Errorf("PeerNames: required: the DNS names of Zoom's certificates, from Zoom's onboarding material " +
			"(InsecureChainOnly skips the name check, which is only safe with a CA that issues certificates to Zoom alone)")
	case len(c.PeerNames) > 0 && c.InsecureChainOnly:
		return fmt.Errorf("InsecureChainOnly: set together with PeerNames; set one: PeerNames checks Zoom's names, InsecureChainOnly does not")
	}
	for i, name := range c.PeerNames {
		if err := CheckPeerName(name); err != nil {
			return fmt.Errorf("PeerNames[%d]: %w", i, err)
		}
	}
	if err := c.SessionTimers.Validate(); err != nil {
		return fmt.Errorf("SessionTimers.%w", err)
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
	log := logger.With("side", "zoom")
	if cfg.InsecureChainOnly {
		log.Warn("peering: InsecureChainOnly is set: the names in Zoom's certificate are not checked. " +
			"Any certificate that chains to RootCAs is taken for Zoom; with a public CA, anyone who gets one for any domain " +
			"can impersonate Zoom on the network path and read the SRTP keys of calls. Set PeerNames instead.")
	}
	allowed := cfg.AllowedSources
	ep, err := sip.Listen(sip.EndpointConfig{
		Name:          "zoom",
		Network:       sip.NetworkTLS,
		Listen:        cfg.Listen,
		AdvertiseHost: cfg.AdvertiseHost,
		TLS:           cfg.ServerTLSConfig(),
		DialTLS:       cfg.ClientTLSConfig(),
		Handler:       handler,
		Limits:        cfg.Limits,
		AcceptSource: func(src netip.Addr) bool {
			return slices.ContainsFunc(allowed, func(p netip.Prefix) bool { return p.Contains(src) })
		},
		Logger: logger,
	})
	if err != nil {
		return nil, fmt.Errorf("peering: %w", err)
	}
	return &Peering{cfg: cfg, ep: ep, log: log}, nil
}

// Stats returns the Zoom endpoint's counters: refused sources, malformed
// requests, recovered panics, connections and handshakes.
func (p *Peering) Stats() sip.EndpointStats { return p.ep.Stats() }

// Addr is the local SIP over TLS address Zoom connects to.
func (p *Peering) Addr() netip.AddrPort { return p.ep.Addr() }

// RelayInfo lists the INFO Content-Types relayed from Zoom besides DTMF.
func (p *Peering) RelayInfo() []string { return p.cfg.RelayInfo }

// DTMFMode is how Zoom signals DTMF.
func (p *Peering) DTMFMode() media.DTMFMode {
	m, _ := media.ParseDTMFMode(p.cfg.DTMF)
	return m
}

// MediaLatch is the Zoom leg's symmetric-RTP policy.
func (p *Peering) MediaLatch() media.Latch {
	l, _ := media.ParseLatch(p.cfg.Latch)
	return l
}

// RelayT38 reports whether the Zoom side accepts a T.38 image stream.
func (p *Peering) RelayT38() bool { return p.cfg.RelayT38 }

// RTCPMux reports whether byocp's offers to Zoom propose RTCP
// multiplexing (a=rtcp-mux).
func (p *Peering) RTCPMux() bool { return p.cfg.RTCPMux }

// ReferPolicy is what byocp does with a REFER from Zoom.
func (p *Peering) ReferPolicy() sip.ReferPolicy { return p.cfg.Refer }

// NumberToE164 checks a number as Zoom writes it (the user part of a
// Refer-To it sent): E.164 with its +.
func (p *Peering) NumberToE164(user string) (string, error) {
	if !isE164(user) {
		return "", fmt.Errorf("%q is not E.164", user)
	}
	return user, nil
}

// TargetURI is the URI that names an E.164 number towards Zoom (a
// Refer-To byocp relays to it): the number at the first Zoom peer's
// address.
func (p *Peering) TargetURI(e164 string) sip.URI {
	host, port, _ := net.SplitHostPort(p.cfg.Peers[0].Address)
	n, _ := strconv.Atoi(port)
	return sip.URI{User: e164, Host: host, Port: n}
}

// SessionTimers is the Zoom leg's session timer configuration, with
// defaults filled in.
func (p *Peering) SessionTimers() sip.SessionTimers { return p.cfg.SessionTimers.WithDefaults() }

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
	caller := sip.Party{Number: inv.Caller(), Name: inv.From.DisplayName, Withheld: inv.Withheld(), Privacy: inv.Privacy()}
	return caller, sip.Party{Number: callee}, nil
}

func isE164(s string) bool {
	digits, ok := strings.CutPrefix(s, "+")
	return ok && len(digits) >= 3 && len(digits) <= 15 && strings.Trim(digits, "0123456789") == ""
}

// Dial places a call to Zoom, trying the peers in order. It moves to the
// next peer on a transport failure, on silence for ResponseTimeout and on a
// FailoverCodes response; the last peer's outcome is returned.
func (p *Peering) Dial(ctx context.Context, from, to sip.Party, offer []byte, early sip.EarlyHooks) (*sip.ClientCall, error) {
	fromAddr, identity := sip.CallerIdentity(from, from.Number, p.ep.Host())
	var lastErr error
	for i, peer := range p.cfg.Peers {
		host, port, _ := net.SplitHostPort(peer.Address)
		portN, _ := strconv.Atoi(port)
		req := sip.InviteRequest{
			RequestURI:      sip.URI{User: to.Number, Host: host, Port: portN},
			Destination:     peer.Address,
			From:            fromAddr,
			To:              sip.NameAddr{URI: sip.URI{User: to.Number, Host: host}},
			SDP:             offer,
			Headers:         append(slices.Clip(identity), p.cfg.SessionTimers.Headers()...),
			ResponseTimeout: p.cfg.ResponseTimeout,
		}
		early.Apply(&req)
		call, err := p.ep.Invite(ctx, req)
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
