// Package peeringtest provides a fake Zoom Phone BYOC-P peer for tests, in
// the spirit of net/http/httptest: a real SIP user agent speaking SIP over
// TLS 1.2+ with mutual TLS on a loopback port, with SRTP media keyed by SDES.
// It places calls to a Bridge's Zoom side the way Zoom does (Early Offer,
// E.164 numbers, opus/G.722/PCMU/PCMA/G.729/telephone-event, four SDES
// suites), answers the calls a Bridge sends to Zoom, sends a recognisable
// SRTP pattern and counts what it decrypts intact.
//
// PKI creates the certificates both ends need; the Zoom peer's certificate
// carries the DNS name ZoomName, for the Bridge's peering.Config.PeerNames.
// The Zoom peer sends pattern stream 2 and expects stream 1 (the fake
// carrier's) back.
//
// NewZoom starts a Zoom peer. Zoom.Dial places a call and Zoom.Accept
// returns the calls it receives, each a *Call: Call.SendAudio sends the
// pattern, Call.TalkWith sends it both ways at once with the SBC's other
// leg (a *trunktest.Call), Call.Media counts what arrived and Call.Hangup
// ends the call. Behavior makes the peer ring, send early media or reject
// calls.
//
// # In-dialog requests
//
// Once a call is established the Zoom peer answers the SBC's requests
// itself. A re-INVITE or UPDATE with an offer gets an RFC 3264 answer: the
// first offered codec the peer supports, the offered direction mirrored
// (sendonly → recvonly, recvonly → sendonly, inactive → inactive, sendrecv
// → sendrecv unless the peer holds the call itself) and, for the a=crypto
// tag the peer chooses, its current SDES key (a new one only when the
// suite changes); its SRTP then follows the new address, port, key and
// payload type at once. A re-INVITE without SDP is answered with the
// peer's current SDP as the offer; the SBC's answer is taken from the ACK.
// An UPDATE without SDP (a session refresh), INFO and other requests get
// 200. Call.Requests lists what was received (method, offered direction,
// status), and Call.Direction and Call.Codec say what is in force: after
// the carrier puts the Zoom peer on hold, Direction is sdp.RecvOnly.
// Behavior.RejectReoffers refuses re-offers with a status of your choice,
// to test the SBC's rollback.
//
// A call acts as a Zoom client would with Call.Hold, Call.Resume and
// Call.Reinvite (a re-offer changing the direction, the codec, the SDES
// key or the media port, an offerless re-INVITE, or an offer in an
// UPDATE). These return once the transaction is complete, with a
// *sip.StatusError for a failure status (491 on glare: retry after
// Call.GlareDelay).
//
// # Session timers
//
// The Zoom peer runs the RFC 4028 session timer that the SBC's INVITE or
// 2xx sets up: as refresher it refreshes at half the interval (UPDATE
// without SDP when the SBC allows UPDATE, else a re-INVITE with its
// unchanged SDP), otherwise it hangs up when the SBC lets the session
// expire. Config.SessionExpires offers a timer in the peer's own INVITEs,
// Config.MinSE answers shorter intervals 422, Behavior.Refresher makes the
// peer refresh the calls it receives, Call.Refresh sends a refresh at
// once, and Call.StopRefreshing simulates a peer whose signalling died
// silently, for the SBC's session expiry.
//
// # Media
//
// A call sends SRTP only while SendAudio, TalkWith or StartAudio runs: an
// idle call is silent. Call.StartAudio keeps a stream going in the
// background while a test waits for timers, and Call.StopAudio stops it,
// for the SBC's media timeout.
//
// # RTCP
//
// A call sends RTCP only when a test asks: Call.SendRTCP sends a packet
// the test built, as SRTCP. Config.RTCPMux makes the Zoom peer offer and
// accept a=rtcp-mux (RFC 5761), multiplexing RTCP on the RTP ports when
// the SBC agrees (Call.RTCPMux); Config.RTCPPort gives each call an RTCP
// port of its own, named in a=rtcp (RFC 3605). Call.RTCP and
// Call.WaitRTCP return the SRTCP that arrived, decrypted, and whether it
// came multiplexed.
//
// # T.38 fax
//
// Call.Reinvite with ReinviteOptions.T38 switches a call to fax as a
// gateway does: a re-INVITE whose m=image udptl t38 line replaces the
// audio m-line, with the usual a=T38... attributes, on a UDPTL port the
// call opens on its media address. A Zoom peer whose Behavior.AcceptT38 is set
// answers such offers from the SBC with an image stream of its own;
// without it, it rejects the image stream with port 0, or answers 488
// when the offer has no audio stream left, as a voice-only endpoint does.
// Once in fax mode (Call.T38), Call.SendUDPTL sends datagrams to the
// SBC's image stream and Call.UDPTL and Call.WaitUDPTL return those that
// arrived, byte for byte. A Reinvite without T38 goes back to audio in the
// same m-line. The UDPTL port closes with the call.
package peeringtest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/byocp/byocp/internal/fakepeer"
	"github.com/byocp/byocp/sdp"
	"github.com/byocp/byocp/sip"
)

// Stream is the pattern stream id the Zoom peer sends.
const Stream = 2

// ZoomName is the DNS name in the fake Zoom peer's default certificate
// (beside "localhost" and its IP addresses): the name to put into
// peering.Config.PeerNames of a Bridge under test. The .test top-level
// domain is reserved for testing (RFC 2606), so no real host has it.
const ZoomName = "sip.zoom.test"

// Formats are the payload formats Zoom offers, in Zoom's order.
var Formats = []sdp.Format{
	{PayloadType: 102, Name: "opus", ClockRate: 48000, Channels: 2, Fmtp: "useinbandfec=1;maxaveragebitrate=40000"},
	{PayloadType: 9, Name: "G722", ClockRate: 8000},
	{PayloadType: 0, Name: "PCMU", ClockRate: 8000},
	{PayloadType: 8, Name: "PCMA", ClockRate: 8000},
	{PayloadType: 18, Name: "G729", ClockRate: 8000},
	{PayloadType: 101, Name: "telephone-event", ClockRate: 8000, Fmtp: "0-15"},
}

// Suites are the SDES suites Zoom offers, in Zoom's order (tags 1-4).
var Suites = []sdp.Suite{
	sdp.SuiteAEADAES256GCM,
	sdp.SuiteAES256CMHMACSHA180,
	sdp.SuiteAESCM128HMACSHA180,
	sdp.SuiteAESCM128HMACSHA132,
}

// Config configures a Zoom peer. Only PKI is required.
type Config struct {
	// PKI issues the peer's certificate; the SBC's certificate must chain
	// to Trust (default PKI's CA).
	PKI *PKI
	// Certificate, if set, is presented instead of the default one (issued
	// by PKI for ZoomName, "localhost" and the listen and loopback
	// addresses, usable as TLS server and client), both when the peer
	// accepts and when it dials TLS connections. Use PKI.IssueWith to test
	// refusals: another name, or a missing serverAuth or clientAuth usage.
	Certificate *tls.Certificate
	// Trust verifies the SBC's certificate; default PKI.Pool().
	Trust *x509.CertPool
	// Listen is the peer's SIP over TLS address; default "127.0.0.1:0".
	Listen string
	// Behavior says how received calls are treated.
	Behavior Behavior
	// OfferSuites are the SDES suites offered when placing calls (default Suites).
	OfferSuites []sdp.Suite
	// Formats overrides the offered and accepted formats (default Formats).
	Formats []sdp.Format
	// Logger receives the peer's SIP logs; default discards them.
	Logger *slog.Logger

	// SessionExpires, when positive, offers an RFC 4028 session timer in
	// the INVITEs the Zoom peer sends: Supported: timer, Session-Expires
	// with this interval (the SBC chooses the refresher) and Min-SE.
	// Whole seconds; 0 offers none. Whatever it is, the Zoom peer runs the
	// session timer the SBC's 2xx or INVITE sets up (see
	// Call.SessionTimer).
	SessionExpires time.Duration
	// MinSE is the smallest session interval the Zoom peer accepts: an
	// INVITE, re-INVITE or UPDATE asking less is answered 422 with this
	// Min-SE. It is also the Min-SE the Zoom peer offers. 0 accepts any
	// interval and offers min(90 s, SessionExpires).
	MinSE time.Duration
	// NoSessionTimer makes the Zoom peer one without RFC 4028 support: it
	// ignores Session-Expires in what it receives, answers without
	// session timer header fields, never refreshes and never lets a
	// session expire.
	NoSessionTimer bool
	// RefreshWithReinvite makes the Zoom peer refresh sessions with a
	// re-INVITE (its unchanged SDP) even when the SBC allows UPDATE.
	RefreshWithReinvite bool
	// RTCPMux makes the Zoom peer support RTCP multiplexing (RFC 5761): its
	// offers have a=rtcp-mux, and so do its answers to offers that have
	// it; once both SDPs of an exchange have it, Call.SendRTCP sends on
	// the RTP port and the SBC's RTCP is expected there (Call.RTCPMux).
	// Without it, the Zoom peer ignores a=rtcp-mux in the SBC's offers.
	RTCPMux bool
	// RTCPPort gives each call an RTCP port of its own (Call.RTCPAddr, the
	// system picks the number), written in the Zoom peer's SDP as a=rtcp (RFC
	// 3605): without multiplexing, RTCP is sent from it and the SBC's
	// arrives on it. Without RTCPPort a call receives RTCP only
	// multiplexed on its RTP port, and sends it from there to the port
	// after the SBC's RTP port.
	RTCPPort bool
}

// Zoom is a fake Zoom Phone BYOC-P peer: a SIP user agent speaking SIP over
// TLS with mutual TLS on a loopback port, with an SRTP endpoint per call.
// NewZoom starts one; Close stops it.
type Zoom struct {
	p *fakepeer.Peer
}

// NewZoom starts a fake Zoom peer listening on cfg.Listen with a
// certificate from cfg.PKI (or cfg.Certificate). It returns an error when
// cfg.PKI is nil or cfg.Listen is not IP:port. Close it when done, e.g.
// with t.Cleanup.
func NewZoom(cfg Config) (*Zoom, error) {
	if cfg.PKI == nil {
		return nil, fmt.Errorf("peeringtest: Config.PKI: required")
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	if cfg.Trust == nil {
		cfg.Trust = cfg.PKI.Pool()
	}
	if len(cfg.OfferSuites) == 0 {
		cfg.OfferSuites = Suites
	}
	if len(cfg.Formats) == 0 {
		cfg.Formats = Formats
	}
	ap, err := netip.ParseAddrPort(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("peeringtest: Config.Listen: %w", err)
	}
	var cert tls.Certificate
	if cfg.Certificate != nil {
		cert = *cfg.Certificate
	} else if cert, err = cfg.PKI.IssueWith(IssueOptions{
		CommonName: "fake-zoom",
		DNSNames:   []string{ZoomName, "localhost"},
		IPs:        []netip.Addr{ap.Addr(), netip.MustParseAddr("127.0.0.1"), netip.IPv6Loopback()},
	}); err != nil {
		return nil, err
	}
	tlsConf := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    cfg.Trust,
		RootCAs:      cfg.Trust,
	}
	p, err := fakepeer.New(fakepeer.Config{
		Name:         "fake-zoom",
		Network:      "tls",
		Listen:       cfg.Listen,
		TLS:          tlsConf,
		SRTP:         true,
		OfferSuites:  cfg.OfferSuites,
		AnswerSuites: Suites,
		Formats:      cfg.Formats,
		Stream:       Stream,
		Expect:       1,
		Logger:       cfg.Logger,

		SessionExpires:      cfg.SessionExpires,
		MinSE:               cfg.MinSE,
		NoSessionTimer:      cfg.NoSessionTimer,
		RefreshWithReinvite: cfg.RefreshWithReinvite,
		RTCPMux:             cfg.RTCPMux,
		RTCPPort:            cfg.RTCPPort,
	}, cfg.Behavior.internal())
	if err != nil {
		return nil, err
	}
	return &Zoom{p: p}, nil
}

// Addr is the Zoom peer's SIP over TLS address: the address to give a
// Bridge as a Zoom peer (peering.Config.Peers), and the source of the
// calls it places.
func (z *Zoom) Addr() netip.AddrPort { return z.p.Addr() }

// Dial places a call from the number from to the number to at target, the
// Zoom side of the SBC under test (for a Bridge, Bridge.PeeringAddr), the
// way Zoom does: E.164 numbers (with "+") as the user parts of the From
// and of the Request-URI and To, and an Early Offer of Config.Formats over
// RTP/SAVP with an SDES key for each of Config.OfferSuites. The TLS
// connection presents the Zoom peer's certificate and requires the SBC's
// to chain to Config.Trust and to name target's IP address.
//
// Dial returns once the call is answered: the returned Call's SRTP is then
// keyed from the SBC's answer, and SendAudio and TalkWith can be used at
// once. Provisional responses are recorded (see Call.Provisional); a 183
// with SDP sets up early media. When the call is not answered Dial returns
// a nil Call and an error: a *sip.StatusError holding the final response
// when the SBC rejected the call, sip.ErrCancelled when ctx ended first
// (the INVITE is cancelled), sip.ErrTransport or sip.ErrNoResponse when
// target could not be reached (a refused TLS handshake included) or did
// not answer, sip.ErrClosed after Close, or an error describing an answer
// whose SDP the peer cannot use, such as a crypto suite or tag it did not
// offer (the call is then hung up).
func (z *Zoom) Dial(ctx context.Context, target netip.AddrPort, from, to string) (*Call, error) {
	return wrap(z.p.Dial(ctx, target, from, to))
}

// DialWithHeaders is Dial with extra header fields in the INVITE, e.g.
// Privacy and P-Asserted-Identity for a caller who withholds its number. A
// header named "From" replaces the From's display name and URI (the tag is
// still added); the others are appended.
func (z *Zoom) DialWithHeaders(ctx context.Context, target netip.AddrPort, from, to string, headers ...sip.Header) (*Call, error) {
	return wrap(z.p.DialWithHeaders(ctx, target, from, to, headers...))
}

// Accept waits for the next call the Zoom peer receives and returns it, in
// the order the INVITEs arrived. It returns as soon as the INVITE is in,
// with the call's SRTP already keyed from the offer (the first suite of
// Suites the offer has): the call is then answered or rejected as the
// Behavior in force says, so wait on the Call's Answered or Done for the
// outcome. Calls whose offer the peer cannot accept (plain RTP/AVP, no
// acceptable crypto, no common codec) are rejected with 488 and still
// returned.
//
// Accept returns ctx's error when ctx ends first; it does not return
// because of Close. Up to 64 calls wait to be accepted; later ones are
// handled but not returned.
func (z *Zoom) Accept(ctx context.Context) (*Call, error) {
	return wrap(z.p.Accept(ctx))
}

// SetBehavior changes how the Zoom peer treats the calls it receives from
// now on; calls already received keep the Behavior they arrived under. It
// is safe to call while calls are in progress.
func (z *Zoom) SetBehavior(b Behavior) { z.p.SetBehavior(b.internal()) }

// Close hangs up every call of the Zoom peer (BYE for answered calls, 480
// for received calls not yet answered), waits for them to end, stops
// listening and frees every socket. Dial returns sip.ErrClosed afterwards.
// Calling Close again returns nil.
func (z *Zoom) Close() error { return z.p.Close() }
