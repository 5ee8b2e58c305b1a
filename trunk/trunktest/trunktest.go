// Package trunktest provides a fake PSTN carrier for tests, in the spirit of
// net/http/httptest: a real SIP user agent on a loopback UDP (or TCP) port
// with a real RTP endpoint. It places calls to a Bridge's carrier side,
// answers the calls a Bridge sends to the carrier, sends a recognisable RTP
// pattern and counts what it receives intact.
//
// Media is plain RTP (RTP/AVP) offering PCMU, PCMA, G.729 and
// telephone-event/8000. The carrier sends pattern stream 1 and expects
// stream 2 (the fake Zoom peer's) back.
package trunktest

import (
	"log/slog"

	"github.com/byocp/byocp/internal/fakepeer"
	"github.com/byocp/byocp/internal/mediapeer"
	"github.com/byocp/byocp/sdp"
)

// Stream is the pattern stream id the carrier sends.
const Stream = 1

// Call is one call of the fake carrier.
type Call = fakepeer.Call

// Behavior says how the carrier treats calls it receives.
type Behavior = fakepeer.Behavior

// MediaStats counts a call's packets.
type MediaStats = mediapeer.Stats

// Formats are the payload formats the carrier offers and accepts.
var Formats = []sdp.Format{
	{PayloadType: 0, Name: "PCMU", ClockRate: 8000},
	{PayloadType: 8, Name: "PCMA", ClockRate: 8000},
	{PayloadType: 18, Name: "G729", ClockRate: 8000, Fmtp: "annexb=no"},
	{PayloadType: 101, Name: "telephone-event", ClockRate: 8000, Fmtp: "0-16"},
}

// Config configures a Carrier. The zero value listens on UDP on a free
// loopback port and answers every call at once.
type Config struct {
	// Listen is the carrier's SIP address; default "127.0.0.1:0".
	Listen string
	// Network is "udp" (default) or "tcp".
	Network string
	// Behavior says how received calls are treated.
	Behavior Behavior
	// Formats overrides the offered and accepted formats (default Formats).
	Formats []sdp.Format
	// Logger receives the carrier's SIP logs; default discards them.
	Logger *slog.Logger
}

// Carrier is a fake PSTN carrier. Its methods (Addr, Dial, Accept,
// SetBehavior, Close) come from the shared fake peer engine.
type Carrier struct {
	*fakepeer.Peer
}

// NewCarrier starts a fake carrier. Close it when done.
func NewCarrier(cfg Config) (*Carrier, error) {
	if cfg.Network == "" {
		cfg.Network = "udp"
	}
	if len(cfg.Formats) == 0 {
		cfg.Formats = Formats
	}
	p, err := fakepeer.New(fakepeer.Config{
		Name:    "fake-carrier",
		Network: cfg.Network,
		Listen:  cfg.Listen,
		Formats: cfg.Formats,
		Stream:  Stream,
		Expect:  2,
		Logger:  cfg.Logger,
	}, cfg.Behavior)
	if err != nil {
		return nil, err
	}
	return &Carrier{Peer: p}, nil
}
