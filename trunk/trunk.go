package trunk

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/byocp/byocp/sip"
)

// DefaultCodecs are offered to and accepted from the carrier when
// Config.Codecs is empty.
var DefaultCodecs = []string{"PCMU", "PCMA", "G722", "G729", "telephone-event"}

// Config configures the carrier side.
type Config struct {
	// Listen is the local SIP address for the carrier, IP:port
	// (e.g. "0.0.0.0:5060"). Required.
	Listen string
	// Transport is "udp" (default) or "tcp".
	Transport string
	// AdvertiseHost is written into Via and Contact; default the Listen IP.
	AdvertiseHost string
	// Peer is the carrier's SIP signalling address, host:port, where calls
	// to the PSTN go. Required.
	Peer string
	// AllowedSources are the networks the carrier sends from (IP ACL).
	// Default: the Peer's address only.
	AllowedSources []netip.Prefix
	// Codecs are the encoding names allowed on the carrier leg
	// (default DefaultCodecs).
	Codecs []string
	// Numbering says how the carrier writes numbers.
	Numbering Numbering
	// ResponseTimeout gives up on an INVITE the carrier does not answer at
	// all (not even 100 Trying); default 5 s.
	ResponseTimeout time.Duration
}

// Validate checks the configuration; errors name the field.
func (c Config) Validate() error {
	if c.Listen == "" {
		return fmt.Errorf("Listen: required")
	}
	if _, err := netip.ParseAddrPort(c.Listen); err != nil {
		return fmt.Errorf("Listen: %q is not IP:port", c.Listen)
	}
	switch strings.ToLower(c.Transport) {
	case "", sip.NetworkUDP, sip.NetworkTCP:
	default:
		return fmt.Errorf("Transport: %q is not udp or tcp", c.Transport)
	}
	if c.Peer == "" {
		return fmt.Errorf("Peer: required")
	}
	if _, port, err := net.SplitHostPort(c.Peer); err != nil {
		return fmt.Errorf("Peer: %q is not host:port", c.Peer)
	} else if p, err := strconv.Atoi(port); err != nil || p <= 0 || p > 65535 {
		return fmt.Errorf("Peer: port %q out of range", port)
	}
	if len(c.AllowedSources) == 0 {
		if _, err := c.peerPrefix(); err != nil {
			return fmt.Errorf("AllowedSources: required when Peer is a host name: %v", err)
		}
	}
	if ip, err := netip.ParseAddrPort(c.Listen); err == nil && ip.Addr().IsUnspecified() && c.AdvertiseHost == "" {
		return fmt.Errorf("AdvertiseHost: required when Listen is %s", c.Listen)
	}
	return c.Numbering.validate()
}

func (c Config) peerPrefix() (netip.Prefix, error) {
	host, _, _ := net.SplitHostPort(c.Peer)
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Prefix{}, err
	}
	ip = ip.Unmap()
	return netip.PrefixFrom(ip, ip.BitLen()), nil
}

// Trunk is the carrier side's SIP endpoint.
type Trunk struct {
	cfg      Config
	ep       *sip.Endpoint
	peerHost string
	peerPort int
}

// New validates cfg and starts listening. Incoming calls from allowed
// sources go to handler.
func New(cfg Config, handler sip.CallHandler, logger *slog.Logger) (*Trunk, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(cfg.Codecs) == 0 {
		cfg.Codecs = DefaultCodecs
	}
	if cfg.ResponseTimeout <= 0 {
		cfg.ResponseTimeout = 5 * time.Second
	}
	if len(cfg.AllowedSources) == 0 {
		p, _ := cfg.peerPrefix()
		cfg.AllowedSources = []netip.Prefix{p}
	}
	if logger == nil {
		logger = slog.Default()
	}
	host, port, _ := net.SplitHostPort(cfg.Peer)
	t := &Trunk{cfg: cfg, peerHost: host}
	t.peerPort, _ = strconv.Atoi(port)
	allowed := cfg.AllowedSources
	ep, err := sip.Listen(sip.EndpointConfig{
		Name:          "carrier",
		Network:       cfg.Transport,
		Listen:        cfg.Listen,
		AdvertiseHost: cfg.AdvertiseHost,
		Handler:       handler,
		AcceptSource: func(src netip.Addr) bool {
			for _, p := range allowed {
				if p.Contains(src) {
					return true
				}
			}
			return false
		},
		Logger: logger,
	})
	if err != nil {
		return nil, fmt.Errorf("trunk: %w", err)
	}
	t.ep = ep
	return t, nil
}

// Addr is the local SIP address the carrier sends to.
func (t *Trunk) Addr() netip.AddrPort { return t.ep.Addr() }

// Codecs are the encoding names allowed on the carrier leg.
func (t *Trunk) Codecs() []string { return t.cfg.Codecs }

// Parties reads caller and callee of a carrier INVITE as E.164: the callee
// from the Request-URI, the caller from P-Asserted-Identity or From.
func (t *Trunk) Parties(inv *sip.Invite) (from, to sip.Party, err error) {
	callee, err := t.cfg.Numbering.ToE164(inv.RequestURI.User)
	if err != nil {
		return from, to, fmt.Errorf("callee: %w", err)
	}
	caller := inv.Caller()
	name := inv.From.DisplayName
	callerE164, err := t.cfg.Numbering.ToE164(caller)
	if err != nil {
		// Anonymous or alphanumeric callers are passed on as they are.
		callerE164 = caller
	}
	return sip.Party{Number: callerE164, Name: name}, sip.Party{Number: callee}, nil
}

// Dial places a call to the carrier with numbers in the carrier's format.
func (t *Trunk) Dial(ctx context.Context, from, to sip.Party, sdp []byte, onProvisional func(sip.Response)) (*sip.ClientCall, error) {
	callee := t.cfg.Numbering.FromE164(to.Number)
	caller := t.cfg.Numbering.FromE164(from.Number)
	return t.ep.Invite(ctx, sip.InviteRequest{
		RequestURI:      sip.URI{User: callee, Host: t.peerHost, Port: t.peerPort},
		Destination:     t.cfg.Peer,
		From:            sip.NameAddr{DisplayName: from.Name, URI: sip.URI{User: caller, Host: t.ep.Host()}},
		To:              sip.NameAddr{URI: sip.URI{User: callee, Host: t.peerHost}},
		SDP:             sdp,
		ResponseTimeout: t.cfg.ResponseTimeout,
		OnProvisional:   onProvisional,
	})
}

// Close stops the listener and closes every connection.
func (t *Trunk) Close() error { return t.ep.Close() }
