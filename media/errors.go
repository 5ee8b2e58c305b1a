package media

import "errors"

var (
	// ErrBadPortRange is returned by NewPortPool when the address or the
	// port range cannot hold a single RTP/RTCP port pair.
	ErrBadPortRange = errors.New("media: bad port range")
	// ErrNoPorts is returned by PortPool.Allocate when every port pair in
	// the range is allocated or refused by the operating system.
	ErrNoPorts = errors.New("media: no free media ports")
	// ErrBadEngine is returned by Engine.Validate and NewPortPoolEngine
	// for a negative Workers or a PollWindow out of range.
	ErrBadEngine = errors.New("media: bad engine")
	// ErrUnsupportedSuite is returned by Relay.SetLeg for an SRTP crypto
	// suite name it does not know.
	ErrUnsupportedSuite = errors.New("media: unsupported SRTP crypto suite")
	// ErrBadKey is returned by Relay.SetLeg when a key||salt does not have
	// the length the suite requires.
	ErrBadKey = errors.New("media: bad SRTP key length")
	// ErrBadSide is returned by Relay.SetLeg for a Side other than SideA or
	// SideB.
	ErrBadSide = errors.New("media: bad relay side")
	// ErrBadRemote is returned by Relay.SetLeg when the remote address
	// cannot be reached from the leg's port (IPv4 versus IPv6).
	ErrBadRemote = errors.New("media: remote address family does not match the local port")
	// ErrBadSourceNetwork is returned by Relay.SetLeg when
	// LegConfig.SourceNetworks holds an invalid netip.Prefix.
	ErrBadSourceNetwork = errors.New("media: bad source network")
	// ErrKeyReused is returned by Relay.SetLeg for an SRTP LocalKey that
	// the Relay encrypted with before, on either side, and that is not the
	// side's current LocalKey. A fresh context for an old key would start
	// again at SRTP indices already used with it (keystream reuse, RFC
	// 3711 section 9); a key is kept by passing it unchanged, with the
	// same suite, in every SetLeg of its side.
	ErrKeyReused = errors.New("media: SRTP local key used before")
	// ErrNoRemote is returned by InjectDTMF while the leg's remote
	// address is not known.
	ErrNoRemote = errors.New("media: remote not known")
	// ErrClosed is returned by InjectDTMF once the Relay is closed.
	ErrClosed = errors.New("media: relay closed")
	// ErrBadLatch is returned by Relay.SetLeg for an unknown Latch policy.
	ErrBadLatch = errors.New("media: unknown latch policy")
)
