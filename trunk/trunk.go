package trunk

import (
	"cmp"
	"context"
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
	// MediaNetworks are networks the carrier's media may come from besides
	// the address in its SDP (for carriers whose media gateways send from
	// other addresses than they signal). RTP on the carrier leg is accepted
	// only from the SDP's address or these networks, on any port.
	MediaNetworks []netip.Prefix
	// Limits bounds what refused sources and idle TCP connections cost
	// (see sip.Limits); the zero value gives its defaults. Refused sources
	// get no answer unless Limits.ReplyToRefused is set.
	Limits sip.Limits
	// Codecs are the encoding names allowed on the carrier leg
	// (default DefaultCodecs).
	Codecs []string
	// Numbering says how the carrier writes numbers.
	Numbering Numbering
	// ResponseTimeout gives up on an INVITE the carrier does not answer at
	// all (not even 100 Trying); default 5 s.
	ResponseTimeout time.Duration
	// SessionTimers configures RFC 4028 session timers on the carrier leg
	// (offered in INVITEs, accepted from the carrier, refreshed by whichever
	// side the negotiation names); the zero value uses 1800 s and Min-SE 90 s.
	SessionTimers sip.SessionTimers
	// RelayInfo lists the Content-Types of INFO requests from the carrier that
	// are relayed to the other leg, besides DTMF (application/dtmf-relay
	// and application/dtmf, always relayed). INFO of other types is
	// answered 200 on its own leg and goes no further.
	RelayInfo []string
	// Refer is what byocp does with a REFER (call transfer) from the
	// carrier: sip.ReferReject (the zero value: 403), sip.ReferPass (relay
	// it to Zoom with Refer-To in E.164, and Zoom's NOTIFYs back) or
	// sip.ReferHandle (byocp calls the target through this trunk and
	// connects it to the Zoom leg).
	Refer sip.ReferPolicy
	// RelayT38 lets the carrier's T.38 fax (m=image udptl t38) through as
	// its own stream, on its own ports, when peering.Config.RelayT38 is
	// set too. Otherwise (the default) an image stream is rejected with
	// port 0 and the call goes on as audio (G.711 pass-through fax).
	RelayT38 bool
	// Latch is the carrier leg's symmetric-RTP policy (see media.Latch):
	// "" or "signalled" (the default) latches on the first valid RTP
	// packet from the IP address in the carrier's SDP or MediaNetworks
	// and then relays only from that source and sends to it; "any" takes
	// the first valid packet from anywhere (a carrier behind NAT, whose
	// SDP names a private address); "off" accepts RTP from the SDP's IP
	// or MediaNetworks on any port and sends to the SDP's address.
	Latch string
	// DTMF is how the carrier signals DTMF: "" or "rfc4733" (the default:
	// telephone-event packets in the RTP, relayed as they are; INFO
	// relayed as INFO) or "info" (SIP INFO application/dtmf-relay or
	// application/dtmf). With "info", byocp interworks with a Zoom leg on
	// RFC 4733: Zoom's events become INFO to the carrier, the carrier's
	// INFO digits become events in the media to Zoom.
	DTMF string
	// Redirects says whether Dial follows the carrier's redirects (3xx)
	// and to which addresses; the zero value follows none.
	Redirects Redirects
	// RTCPMux offers the carrier RTCP multiplexed on the RTP port
	// (a=rtcp-mux, RFC 5761) in byocp's offers on the carrier leg; it is
	// used when the carrier's answer has a=rtcp-mux too. Off (the
	// default), the offers are as they were and RTCP uses the port after
	// the RTP port. Either way byocp accepts a=rtcp-mux in the carrier's
	// offers, and receives RTCP on both ports.
	RTCPMux bool
}

// MaxRedirects is the most redirects Trunk.Dial follows for one call:
// after the first INVITE, at most this many more are sent because of 3xx
// responses, so that carriers redirecting to each other cannot loop.
const MaxRedirects = 3

// Redirects configures how Trunk.Dial treats a redirect (3xx) from the
// carrier.
//
// With Follow off (the default) a 3xx is returned to the caller of Dial as
// the *sip.StatusError it is; the Bridge answers its caller 480.
//
// With Follow on, Dial sends the INVITE again to the 3xx's Contacts in
// order of their q-values (see sip.Response.RedirectTargets), but only to
// those whose address is one of the carrier's own: the Peer or one of
// Gateways. The address of a Contact is its maddr parameter, else its host,
// with its port or 5060 when it names none; it is compared with Peer and
// Gateways as written, IP addresses by value and host names
// case-insensitively, without DNS look-ups. A Contact is also left out
// when it is a SIPS URI or names a transport other than the trunk's (the
// trunk speaks plain SIP over its own transport only), or when the same
// Request-URI was already tried at the same address for this call.
//
// Each new INVITE carries the same SDP offer, byte for byte (the same
// keys, the same o= line and version), the same From, To and other header
// fields, and a Request-URI made from the Contact: its user part when it
// has one, else the callee's number, at the Contact's host and port. It is
// a new INVITE transaction with its own Call-ID. A target that answers 3xx
// is followed in turn (its Contacts are tried before the remaining ones of
// the earlier 3xx); a target that cannot be reached (sip.ErrTransport,
// sip.ErrNoResponse) or answers 5xx is given up for the next Contact; any
// other answer ends Dial with it. At most MaxRedirects redirects are
// followed per call. When no Contact is left to try, Dial returns the last
// failure: a 3xx none of whose Contacts qualifies is returned unchanged,
// and the Bridge answers 480.
//
// Each redirect followed is logged at Info level, each Contact left out at
// Warn level.
type Redirects struct {
	// Follow turns following redirects on; default off.
	Follow bool
	// Gateways are the carrier's other signalling addresses a redirect may
	// point to, each host:port (usually IP:port, e.g.
	// "198.51.100.21:5060"). Peer always counts and need not be listed.
	// When Follow is on, their IP addresses are also added to the default
	// AllowedSources (their responses and requests must get through); with
	// AllowedSources set, each gateway IP must be inside it, and a gateway
	// given by host name needs AllowedSources.
	Gateways []string
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
	if err := c.SessionTimers.Validate(); err != nil {
		return fmt.Errorf("SessionTimers.%w", err)
	}
	if err := c.validateRedirects(); err != nil {
		return err
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
	for i, p := range c.MediaNetworks {
		if !p.IsValid() {
			return fmt.Errorf("MediaNetworks[%d]: not a valid network", i)
		}
	}
	return c.Numbering.validate()
}

// validateRedirects checks Redirects.Gateways: each host:port, and with
// Follow on inside AllowedSources (or, by default, added to it).
func (c Config) validateRedirects() error {
	for i, g := range c.Redirects.Gateways {
		host, port, err := net.SplitHostPort(g)
		if err != nil || host == "" {
			return fmt.Errorf("Redirects.Gateways[%d]: %q is not host:port", i, g)
		}
		if p, err := strconv.Atoi(port); err != nil || p <= 0 || p > 65535 {
			return fmt.Errorf("Redirects.Gateways[%d]: port %q out of range", i, port)
		}
		if !c.Redirects.Follow {
			continue
		}
		ip, err := netip.ParseAddr(host)
		switch {
		case err != nil && len(c.AllowedSources) == 0:
			return fmt.Errorf("AllowedSources: required when Redirects.Gateways[%d] is a host name (%q)", i, g)
		case err == nil && len(c.AllowedSources) > 0 && !slices.ContainsFunc(c.AllowedSources, func(p netip.Prefix) bool { return p.Contains(ip.Unmap()) }):
			return fmt.Errorf("Redirects.Gateways[%d]: %s is not in AllowedSources: its responses would be refused", i, ip)
		}
	}
	return nil
}

// defaultSources is AllowedSources when none are configured: the Peer's
// address, and with Redirects.Follow the gateways' addresses. cfg is valid.
func (c Config) defaultSources() []netip.Prefix {
	p, _ := c.peerPrefix()
	out := []netip.Prefix{p}
	if !c.Redirects.Follow {
		return out
	}
	for _, g := range c.Redirects.Gateways {
		host, _, _ := net.SplitHostPort(g)
		if ip, err := netip.ParseAddr(host); err == nil {
			ip = ip.Unmap()
			if p := netip.PrefixFrom(ip, ip.BitLen()); !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out
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
	log      *slog.Logger
	peerHost string
	peerPort int
	// gateways are the addresses redirects may be followed to: the Peer
	// first, then Redirects.Gateways.
	gateways []gateway
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
		cfg.AllowedSources = cfg.defaultSources()
	}
	if logger == nil {
		logger = slog.Default()
	}
	host, port, _ := net.SplitHostPort(cfg.Peer)
	t := &Trunk{cfg: cfg, log: logger, peerHost: host}
	t.peerPort, _ = strconv.Atoi(port)
	t.gateways = gatewaysOf(cfg)
	allowed := cfg.AllowedSources
	ep, err := sip.Listen(sip.EndpointConfig{
		Name:          "carrier",
		Network:       cfg.Transport,
		Listen:        cfg.Listen,
		AdvertiseHost: cfg.AdvertiseHost,
		Handler:       handler,
		Limits:        cfg.Limits,
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

// MediaNetworks are the extra networks carrier media may come from.
func (t *Trunk) MediaNetworks() []netip.Prefix { return t.cfg.MediaNetworks }

// Stats returns the carrier endpoint's counters: refused sources,
// malformed requests, recovered panics, connections.
func (t *Trunk) Stats() sip.EndpointStats { return t.ep.Stats() }

// RelayInfo lists the INFO Content-Types relayed from the carrier besides
// DTMF.
func (t *Trunk) RelayInfo() []string { return t.cfg.RelayInfo }

// DTMFMode is how the carrier signals DTMF.
func (t *Trunk) DTMFMode() media.DTMFMode {
	m, _ := media.ParseDTMFMode(t.cfg.DTMF)
	return m
}

// MediaLatch is the carrier leg's symmetric-RTP policy.
func (t *Trunk) MediaLatch() media.Latch {
	l, _ := media.ParseLatch(t.cfg.Latch)
	return l
}

// RelayT38 reports whether the carrier side accepts a T.38 image stream.
func (t *Trunk) RelayT38() bool { return t.cfg.RelayT38 }

// RTCPMux reports whether byocp's offers to the carrier propose RTCP
// multiplexing (a=rtcp-mux).
func (t *Trunk) RTCPMux() bool { return t.cfg.RTCPMux }

// ReferPolicy is what byocp does with a REFER from the carrier.
func (t *Trunk) ReferPolicy() sip.ReferPolicy { return t.cfg.Refer }

// NumberToE164 converts a number as the carrier writes it (the user part
// of a Refer-To it sent) to E.164.
func (t *Trunk) NumberToE164(user string) (string, error) { return t.cfg.Numbering.ToE164(user) }

// TargetURI is the URI that names an E.164 number towards the carrier (a
// Refer-To byocp relays to it): the number in the carrier's format at the
// carrier's host.
func (t *Trunk) TargetURI(e164 string) sip.URI {
	return sip.URI{User: t.cfg.Numbering.FromE164(e164), Host: t.peerHost, Port: t.peerPort}
}

// SessionTimers is the carrier leg's session timer configuration, with
// defaults filled in.
func (t *Trunk) SessionTimers() sip.SessionTimers { return t.cfg.SessionTimers.WithDefaults() }

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
	callerE164, err := t.cfg.Numbering.ToE164(caller)
	if err != nil {
		// Unknown or alphanumeric callers are passed on as they are.
		callerE164 = caller
	}
	return sip.Party{Number: callerE164, Name: inv.From.DisplayName, Withheld: inv.Withheld(), Privacy: inv.Privacy()},
		sip.Party{Number: callee}, nil
}

// Dial places a call to the carrier with numbers in the carrier's format.
// The caller is named in From and P-Asserted-Identity, with From anonymous
// when the caller withheld its identity (see sip.CallerIdentity).
//
// A redirect (3xx) is followed as Config.Redirects says; by default it is
// returned as a *sip.StatusError like any other failure status.
//
// The INVITE says Supported: 100rel: byocp acknowledges the carrier's
// reliable provisional responses with PRACK (RFC 3262).
func (t *Trunk) Dial(ctx context.Context, from, to sip.Party, sdp []byte, early sip.EarlyHooks) (*sip.ClientCall, error) {
	callee := t.cfg.Numbering.FromE164(to.Number)
	fromAddr, identity := sip.CallerIdentity(from, t.cfg.Numbering.FromE164(from.Number), t.ep.Host())
	req := sip.InviteRequest{
		RequestURI:      sip.URI{User: callee, Host: t.peerHost, Port: t.peerPort},
		Destination:     t.cfg.Peer,
		From:            fromAddr,
		To:              sip.NameAddr{URI: sip.URI{User: callee, Host: t.peerHost}},
		Headers:         supports100rel(append(slices.Clip(identity), t.cfg.SessionTimers.Headers()...)),
		SDP:             sdp,
		ResponseTimeout: t.cfg.ResponseTimeout,
	}
	early.Apply(&req)
	call, err := t.ep.Invite(ctx, req)
	var se *sip.StatusError
	if !errors.As(err, &se) || se.Response.StatusCode/100 != 3 {
		return call, err
	}
	if !t.cfg.Redirects.Follow {
		t.log.Info("carrier redirected the call: not followed (Redirects.Follow is off)",
			"status", se.Response.StatusCode, "contact", se.Response.Header("Contact"), "call_id", se.Response.CallID())
		return call, err
	}
	return t.followRedirects(ctx, req, callee, err)
}

// followRedirects follows the 3xx in err, the answer to the INVITE req,
// as Redirects describes, and returns the outcome of the last INVITE sent.
func (t *Trunk) followRedirects(ctx context.Context, req sip.InviteRequest, callee string, err error) (*sip.ClientCall, error) {
	tried := map[string]bool{redirectKey(req): true}
	var pending []sip.InviteRequest // the next INVITEs to send, first first
	from := req.Destination
	for hops := 0; ; hops++ {
		var se *sip.StatusError
		isStatus := errors.As(err, &se)
		switch {
		case isStatus && se.Response.StatusCode/100 == 3:
			next := t.redirectRequests(req, callee, se.Response, tried)
			if len(next) == 0 {
				t.log.Warn("carrier redirect not followed: no Contact qualifies",
					"status", se.Response.StatusCode, "from", from, "contact", se.Response.Header("Contact"), "call_id", se.Response.CallID())
			}
			// Depth first: the newest redirect's targets before the
			// remaining ones of earlier redirects.
			pending = append(next, pending...)
		case isStatus && se.Response.StatusCode/100 == 5,
			errors.Is(err, sip.ErrTransport), errors.Is(err, sip.ErrNoResponse):
			if len(pending) > 0 {
				t.log.Info("carrier redirect target failed, trying the next", "target", from, "error", err)
			}
		default:
			return nil, err // another failure, or cancelled
		}
		if len(pending) == 0 {
			return nil, err
		}
		if hops == MaxRedirects {
			t.log.Warn("carrier redirects not followed: limit reached", "limit", MaxRedirects, "from", from, "error", err)
			return nil, err
		}
		if ctx.Err() != nil {
			return nil, sip.ErrCancelled
		}
		req, pending = pending[0], pending[1:]
		t.log.Info("following carrier redirect", "from", from, "request_uri", req.RequestURI.String(),
			"destination", req.Destination, "hop", hops+1, "after", err.Error())
		from = req.Destination
		var call *sip.ClientCall
		if call, err = t.ep.Invite(ctx, req); err == nil {
			return call, nil
		}
	}
}

// redirectRequests returns the INVITEs to send for the Contacts of res, a
// 3xx to the INVITE req, in q order: those the trunk may follow that are
// not in tried yet. They are added to tried.
func (t *Trunk) redirectRequests(req sip.InviteRequest, callee string, res sip.Response, tried map[string]bool) []sip.InviteRequest {
	var out []sip.InviteRequest
	for _, target := range res.RedirectTargets() {
		next, why := t.redirectRequest(req, callee, target)
		if why == "" {
			if key := redirectKey(next); tried[key] {
				why = "already tried"
			} else {
				tried[key] = true
				out = append(out, next)
				continue
			}
		}
		t.log.Warn("carrier redirect target left out", "contact", target.URI.String(), "destination", target.Destination(),
			"reason", why, "status", res.StatusCode, "call_id", res.CallID())
	}
	return out
}

// redirectRequest makes the INVITE for one Contact of a 3xx to req: why
// says why the trunk does not follow it, "" when it does.
func (t *Trunk) redirectRequest(req sip.InviteRequest, callee string, target sip.RedirectTarget) (next sip.InviteRequest, why string) {
	if target.URI.Scheme == "sips" {
		return req, "SIPS URI: the trunk has no TLS"
	}
	transport := cmp.Or(strings.ToLower(t.cfg.Transport), sip.NetworkUDP)
	if target.Transport != "" && target.Transport != transport {
		return req, "transport " + target.Transport + ", the trunk uses " + transport
	}
	host, port := cmp.Or(target.MAddr, target.URI.Host), target.Port()
	if !slices.ContainsFunc(t.gateways, func(g gateway) bool { return g.matches(host, port) }) {
		return req, "not the Peer or one of Redirects.Gateways"
	}
	next = req
	next.RequestURI = sip.URI{User: cmp.Or(target.URI.User, callee), Host: target.URI.Host, Port: target.URI.Port}
	next.Destination = target.Destination()
	return next, ""
}

// redirectKey identifies an INVITE's target: the user and host of its
// Request-URI and the host:port it is sent to (which holds the port, so
// that "sip:u@h" and "sip:u@h:5060" are the same target).
func redirectKey(r sip.InviteRequest) string {
	return r.RequestURI.User + "@" + strings.ToLower(r.RequestURI.Host) + " via " + strings.ToLower(r.Destination)
}

// gateway is an address of the carrier redirects may be followed to.
type gateway struct {
	host string     // a host name in lower case, without a final dot
	ip   netip.Addr // or an IP address (then host is "")
	port int
}

// gatewaysOf returns the Peer and Redirects.Gateways of a valid cfg.
func gatewaysOf(cfg Config) []gateway {
	var out []gateway
	for _, a := range append([]string{cfg.Peer}, cfg.Redirects.Gateways...) {
		host, port, _ := net.SplitHostPort(a)
		g := gateway{host: strings.TrimSuffix(strings.ToLower(host), ".")}
		g.port, _ = strconv.Atoi(port)
		if ip, err := netip.ParseAddr(host); err == nil {
			g.host, g.ip = "", ip.Unmap().WithZone("")
		}
		out = append(out, g)
	}
	return out
}

// matches reports whether host:port is this gateway: IP addresses compare
// by value, host names case-insensitively; nothing is resolved.
func (g gateway) matches(host string, port int) bool {
	if port != g.port {
		return false
	}
	if g.ip.IsValid() {
		ip, err := netip.ParseAddr(strings.Trim(host, "[]"))
		return err == nil && ip.Unmap().WithZone("") == g.ip
	}
	return g.host != "" && strings.TrimSuffix(strings.ToLower(host), ".") == g.host
}

// Close stops the listener and closes every connection.
func (t *Trunk) Close() error { return t.ep.Close() }

// supports100rel adds 100rel to the Supported header of hdrs, or adds one.
func supports100rel(hdrs []sip.Header) []sip.Header {
	for i, h := range hdrs {
		if strings.EqualFold(h.Name, "Supported") {
			hdrs[i].Value += ", 100rel"
			return hdrs
		}
	}
	return append(hdrs, sip.Header{Name: "Supported", Value: "100rel"})
}
