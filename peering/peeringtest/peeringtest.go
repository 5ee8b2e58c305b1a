// Package peeringtest provides a fake Zoom Phone BYOC-P peer for tests, in
// the spirit of net/http/httptest: a real SIP user agent speaking SIP over
// TLS 1.2+ with mutual TLS on a loopback port, with SRTP media keyed by SDES.
// It places calls to a Bridge's Zoom side the way Zoom does (Early Offer,
// E.164 numbers, opus/G.722/PCMU/PCMA/G.729/telephone-event, four SDES
// suites), answers the calls a Bridge sends to Zoom, sends a recognisable
// SRTP pattern and counts what it decrypts intact.
//
// PKI creates the certificates both ends need. The Zoom peer sends pattern
// stream 2 and expects stream 1 (the fake carrier's) back.
package peeringtest

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/netip"

	"github.com/byocp/byocp/internal/fakepeer"
	"github.com/byocp/byocp/internal/mediapeer"
	"github.com/byocp/byocp/sdp"
)

// Stream is the pattern stream id the Zoom peer sends.
const Stream = 2

// Call is one call of the fake Zoom peer.
type Call = fakepeer.Call

// Behavior says how the Zoom peer treats calls it receives.
type Behavior = fakepeer.Behavior

// MediaStats counts a call's packets.
type MediaStats = mediapeer.Stats

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
}

// Zoom is a fake Zoom Phone BYOC-P peer. Its methods (Addr, Dial, Accept,
// SetBehavior, Close) come from the shared fake peer engine.
type Zoom struct {
	*fakepeer.Peer
}

// NewZoom starts a fake Zoom peer. Close it when done.
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
	cert, err := cfg.PKI.Issue("fake-zoom", []netip.Addr{ap.Addr(), netip.MustParseAddr("127.0.0.1"), netip.IPv6Loopback()}, "localhost")
	if err != nil {
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
	}, cfg.Behavior)
	if err != nil {
		return nil, err
	}
	return &Zoom{Peer: p}, nil
}
