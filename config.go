package byocp

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/byocp/byocp/media"
	"github.com/byocp/byocp/peering"
	"github.com/byocp/byocp/trunk"
)

// Media timeout defaults (Config.MediaTimeout, Config.HoldTimeout).
const (
	defaultMediaTimeout = 60 * time.Second
	defaultHoldTimeout  = 2 * time.Hour
)

// ErrConfig is wrapped by every error Config.Validate returns.
var ErrConfig = errors.New("byocp: invalid configuration")

// MediaConfig says where the relay takes its ports.
type MediaConfig struct {
	// IP is the local address media ports bind to. Required.
	IP netip.Addr
	// AdvertiseIP is the address written into SDP c= lines on both legs;
	// default IP. Required when IP is unspecified (0.0.0.0 or ::).
	AdvertiseIP netip.Addr
	// PortMin and PortMax bound the RTP ports (RTCP uses port+1);
	// default 20000-29999. Each call uses two ports per leg.
	PortMin, PortMax int
	// Engine says how the relay reads its sockets (see media.Engine).
	// The zero value means DefaultEngine: one worker thread (on Linux)
	// waits in epoll and relays every call's packets, reading all that
	// are waiting at each wake-up, for a third less CPU per packet than a
	// goroutine per socket. Raise Workers when one core cannot carry the
	// calls (one worker relays several hundred calls); a PollWindow of
	// 200µs saves a little more CPU at up to 200µs of latency. On other
	// systems the engine falls back to goroutines.
	Engine media.Engine
	// Goroutines gives each direction of each call a goroutine of its
	// own, woken by Go's netpoller for each packet (media.Engine's zero
	// value), instead of the engine; Engine must then be left zero.
	Goroutines bool
}

// DefaultEngine is the media engine of a Bridge whose MediaConfig leaves
// Engine zero: one worker thread.
var DefaultEngine = media.Engine{Workers: 1}

// engine is the media.Engine the Bridge's port pool runs on.
func (m MediaConfig) engine() media.Engine {
	switch {
	case m.Goroutines:
		return media.Engine{}
	case m.Engine == media.Engine{}:
		return DefaultEngine
	}
	return m.Engine
}

// Config configures a Bridge.
type Config struct {
	// Trunk is the carrier side.
	Trunk trunk.Config
	// Peering is the Zoom side.
	Peering peering.Config
	// Media configures the RTP/SRTP relay.
	Media MediaConfig
	// MaxCalls bounds concurrent calls; further INVITEs get 503 with
	// Retry-After. 0 means no limit beyond the media port range.
	MaxCalls int
	// UnreachableStatus is sent to the caller when the other side cannot be
	// reached at all (transport failure or no response); default 503.
	UnreachableStatus int
	// MediaTimeout ends an answered call when a leg sends no RTP for this
	// long while the call is not on hold: its peer or its media path is
	// gone. Default 60 s; negative disables it.
	MediaTimeout time.Duration
	// HoldTimeout ends a call on hold (a leg sendonly, recvonly or
	// inactive) when neither leg has sent RTP for this long. Default 2 h;
	// negative disables it.
	HoldTimeout time.Duration
	// TapCall, if set, is called once per call when its media relay is
	// set up, before the call is offered to the other side, with the
	// record so far (ID, Direction, Caller, Callee, Start and the caller's
	// Call-ID). A non-nil *media.Tap it returns receives the audio of both
	// directions as plain RTP, decrypted, from SideA (the carrier) and
	// SideB (Zoom), until the call ends: then the Bridge closes it, and
	// its ReadPacket returns io.EOF once drained. The Bridge never waits
	// for the Tap's reader; what a slow reader misses is counted in
	// CallRecord.Tap. nil means no tap for this call. TapCall runs on the
	// call's goroutine and should return quickly: the reader runs in a
	// goroutine of its own. See media.Tap.
	TapCall func(CallRecord) *media.Tap
	// OnCallEnd, if set, receives a record of every call when it ends,
	// after its ports are released and it no longer counts in ActiveCalls.
	// It runs on the call's goroutine and should return quickly.
	OnCallEnd func(CallRecord)
	// Logger receives the Bridge's logs; default slog.Default().
	Logger *slog.Logger
}

// Validate checks the configuration. Errors wrap ErrConfig and name the
// field, e.g. "Peering.RootCAs: ...".
func (c Config) Validate() error {
	if err := c.Trunk.Validate(); err != nil {
		return fmt.Errorf("%w: Trunk.%v", ErrConfig, err)
	}
	if err := c.Peering.Validate(); err != nil {
		return fmt.Errorf("%w: Peering.%v", ErrConfig, err)
	}
	if !c.Media.IP.IsValid() {
		return fmt.Errorf("%w: Media.IP: required", ErrConfig)
	}
	if c.Media.IP.IsUnspecified() && !c.Media.AdvertiseIP.IsValid() {
		return fmt.Errorf("%w: Media.AdvertiseIP: required when Media.IP is %s", ErrConfig, c.Media.IP)
	}
	if c.Media.AdvertiseIP.IsValid() && c.Media.AdvertiseIP.IsUnspecified() {
		return fmt.Errorf("%w: Media.AdvertiseIP: %s is not an address peers can send to", ErrConfig, c.Media.AdvertiseIP)
	}
	minP, maxP := c.Media.ports()
	if minP < 1024 || maxP > 65535 || maxP-minP < 3 {
		return fmt.Errorf("%w: Media.PortMin/PortMax: %d-%d must lie within 1024-65535 and hold at least two port pairs", ErrConfig, minP, maxP)
	}
	if err := c.Media.Engine.Validate(); err != nil {
		return fmt.Errorf("%w: Media.Engine: %v", ErrConfig, err)
	}
	if c.Media.Goroutines && c.Media.Engine != (media.Engine{}) {
		return fmt.Errorf("%w: Media.Goroutines: set together with Media.Engine %+v", ErrConfig, c.Media.Engine)
	}
	if c.MaxCalls < 0 {
		return fmt.Errorf("%w: MaxCalls: %d is negative", ErrConfig, c.MaxCalls)
	}
	if c.MediaTimeout > 0 && c.MediaTimeout < 10*time.Millisecond {
		return fmt.Errorf("%w: MediaTimeout: %s is too short to be a timeout", ErrConfig, c.MediaTimeout)
	}
	if c.HoldTimeout > 0 && c.HoldTimeout < 10*time.Millisecond {
		return fmt.Errorf("%w: HoldTimeout: %s is too short to be a timeout", ErrConfig, c.HoldTimeout)
	}
	if s := c.UnreachableStatus; s != 0 && (s < 400 || s > 699) {
		return fmt.Errorf("%w: UnreachableStatus: %d is not a 4xx-6xx status", ErrConfig, s)
	}
	return nil
}

func (m MediaConfig) ports() (int, int) {
	if m.PortMin == 0 && m.PortMax == 0 {
		return 20000, 29999
	}
	return m.PortMin, m.PortMax
}

func (m MediaConfig) advertise() netip.Addr {
	if m.AdvertiseIP.IsValid() {
		return m.AdvertiseIP
	}
	return m.IP
}
