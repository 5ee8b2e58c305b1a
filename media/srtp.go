package media

import (
	"bytes"
	"fmt"
	"sync"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// SRTPConfig keys one SRTP leg with SDES master key||salt material, as
// decoded from the inline key of an RFC 4568 a=crypto line.
type SRTPConfig struct {
	// Suite is the RFC 4568 / RFC 6188 / RFC 7714 suite name:
	// "AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32",
	// "AES_256_CM_HMAC_SHA1_80", "AES_256_CM_HMAC_SHA1_32",
	// "AEAD_AES_128_GCM" or "AEAD_AES_256_GCM". Other names are refused
	// with ErrUnsupportedSuite.
	Suite string
	// LocalKey is the key||salt we encrypt with (the key in our SDP).
	LocalKey []byte
	// RemoteKey is the key||salt we decrypt with (the key in the peer's
	// SDP); nil until the peer's SDP is known.
	RemoteKey []byte
}

// suites maps RFC suite names to pion protection profiles.
var suites = map[string]srtp.ProtectionProfile{
	"AES_CM_128_HMAC_SHA1_80": srtp.ProtectionProfileAes128CmHmacSha1_80,
	"AES_CM_128_HMAC_SHA1_32": srtp.ProtectionProfileAes128CmHmacSha1_32,
	"AES_256_CM_HMAC_SHA1_80": srtp.ProtectionProfileAes256CmHmacSha1_80,
	"AES_256_CM_HMAC_SHA1_32": srtp.ProtectionProfileAes256CmHmacSha1_32,
	"AEAD_AES_128_GCM":        srtp.ProtectionProfileAeadAes128Gcm,
	"AEAD_AES_256_GCM":        srtp.ProtectionProfileAeadAes256Gcm,
}

// SuiteKeyLen returns the length of the key||salt the named suite needs
// (30, 46, 28 or 44 bytes). It returns an error wrapping
// ErrUnsupportedSuite for an unknown name.
func SuiteKeyLen(suite string) (int, error) {
	profile, ok := suites[suite]
	if !ok {
		return 0, fmt.Errorf("%w: %q", ErrUnsupportedSuite, suite)
	}
	keyLen, _ := profile.KeyLen()
	saltLen, _ := profile.SaltLen()
	return keyLen + saltLen, nil
}

// srtpLeg is the immutable SRTP part of a legState. Its enc and dec are
// mutable but each used by one goroutine only (see legState).
type srtpLeg struct {
	suite        string
	localKey     []byte
	remoteKey    []byte
	enc          *encoder       // protects packets sent on the leg (LocalKey)
	dec          *sharedContext // unprotects SRTP and SRTCP received on the leg (RemoteKey); nil until known
	overhead     int            // authentication tag bytes after the payload
	rtcpOverhead int            // SRTCP index and tag bytes
}

// sharedContext is one pion Context per key, for SRTP and SRTCP alike
// (RFC 3711 derives both session keys from the master key; the Context
// keeps their indices and replay windows apart). The RTP reader of a leg
// and its RTCP reader may be different goroutines, so mu serialises
// them; it is practically never contended, RTCP being a few packets a
// second. One Context instead of one per protocol saves about 2.4 KiB
// per key.
type sharedContext struct {
	mu  sync.Mutex
	ctx *srtp.Context
}

func (c *sharedContext) DecryptRTP(dst, src []byte, h *rtp.Header) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ctx.DecryptRTP(dst, src, h)
}

func (c *sharedContext) EncryptRTP(dst, src []byte, h *rtp.Header) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ctx.EncryptRTP(dst, src, h)
}

func (c *sharedContext) DecryptRTCP(dst, src []byte, h *rtcp.Header) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ctx.DecryptRTCP(dst, src, h)
}

func (c *sharedContext) EncryptRTCP(dst, src []byte, h *rtcp.Header) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ctx.EncryptRTCP(dst, src, h)
}

// keepsEncoder reports whether a leg configured with cfg keeps l's
// encoder: same suite, same LocalKey.
func (l *srtpLeg) keepsEncoder(cfg *SRTPConfig) bool {
	return l != nil && l.suite == cfg.Suite && bytes.Equal(l.localKey, cfg.LocalKey)
}

// newSRTPLeg validates cfg and builds its contexts. Contexts of old whose
// suite and key are unchanged are kept, so that the rollover counter, the
// indices already sent and the replay window survive a re-negotiation
// that does not re-key. Refusing a LocalKey used before is the caller's
// job (Relay.SetLeg).
func newSRTPLeg(cfg *SRTPConfig, old *srtpLeg) (*srtpLeg, error) {
	profile, ok := suites[cfg.Suite]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnsupportedSuite, cfg.Suite)
	}
	keyLen, _ := profile.KeyLen()
	saltLen, _ := profile.SaltLen()
	if len(cfg.LocalKey) != keyLen+saltLen {
		return nil, fmt.Errorf("%w: local key is %d bytes, %s needs %d", ErrBadKey, len(cfg.LocalKey), cfg.Suite, keyLen+saltLen)
	}
	if cfg.RemoteKey != nil && len(cfg.RemoteKey) != keyLen+saltLen {
		return nil, fmt.Errorf("%w: remote key is %d bytes, %s needs %d", ErrBadKey, len(cfg.RemoteKey), cfg.Suite, keyLen+saltLen)
	}
	tag, _ := profile.AuthTagRTPLen()
	rtcpTag, _ := profile.AuthTagRTCPLen()
	aeadTag, _ := profile.AEADAuthTagLen()
	l := &srtpLeg{
		suite:        cfg.Suite,
		localKey:     bytes.Clone(cfg.LocalKey),
		remoteKey:    bytes.Clone(cfg.RemoteKey),
		overhead:     tag + aeadTag,
		rtcpOverhead: rtcpTag + aeadTag,
	}
	if old.keepsEncoder(cfg) {
		l.enc = old.enc
	} else {
		// One context for SRTP and SRTCP: it lives exactly as long as
		// the key, so no SRTCP index is ever encrypted twice with it
		// either.
		ctx, err := srtp.CreateContext(cfg.LocalKey[:keyLen], cfg.LocalKey[keyLen:], profile)
		if err != nil {
			return nil, fmt.Errorf("media: local SRTP context: %w", err)
		}
		l.enc = newEncoder(&sharedContext{ctx: ctx})
	}
	sameSuite := old != nil && old.suite == cfg.Suite
	switch {
	case cfg.RemoteKey == nil:
	case sameSuite && old.dec != nil && bytes.Equal(old.remoteKey, cfg.RemoteKey):
		l.dec = old.dec
	default:
		ctx, err := srtp.CreateContext(cfg.RemoteKey[:keyLen], cfg.RemoteKey[keyLen:], profile,
			srtp.SRTPReplayProtection(replayWindow), srtp.SRTCPReplayProtection(replayWindow))
		if err != nil {
			return nil, fmt.Errorf("media: remote SRTP context: %w", err)
		}
		l.dec = &sharedContext{ctx: ctx}
	}
	return l, nil
}

// replayWindow is the SRTP replay window, in packets.
const replayWindow = 64
