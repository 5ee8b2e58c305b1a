package sdp

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Suite is an SRTP crypto-suite name as written in a=crypto (RFC 4568,
// RFC 6188, RFC 7714).
type Suite string

// Suites. Zoom offers the first four, in this order, with tags 1-4.
const (
	SuiteAEADAES256GCM      Suite = "AEAD_AES_256_GCM"
	SuiteAES256CMHMACSHA180 Suite = "AES_256_CM_HMAC_SHA1_80"
	SuiteAESCM128HMACSHA180 Suite = "AES_CM_128_HMAC_SHA1_80"
	SuiteAESCM128HMACSHA132 Suite = "AES_CM_128_HMAC_SHA1_32"
	SuiteAES256CMHMACSHA132 Suite = "AES_256_CM_HMAC_SHA1_32"
	SuiteAEADAES128GCM      Suite = "AEAD_AES_128_GCM"
)

// KeyLen is the length in bytes of the suite's master key plus master salt:
// 30 for the AES_CM_128 suites, 46 for the AES_256_CM suites, 44 for
// AEAD_AES_256_GCM and 28 for AEAD_AES_128_GCM; 0 for unknown suites.
func (s Suite) KeyLen() int {
	switch s {
	case SuiteAESCM128HMACSHA180, SuiteAESCM128HMACSHA132:
		return 16 + 14
	case SuiteAES256CMHMACSHA180, SuiteAES256CMHMACSHA132:
		return 32 + 14
	case SuiteAEADAES256GCM:
		return 32 + 12
	case SuiteAEADAES128GCM:
		return 16 + 12
	}
	return 0
}

// Known reports whether s is a suite this package parses and generates keys
// for. Names are case-sensitive, so non-RFC spellings such as
// AES_CM_256_HMAC_SHA1_80 are unknown.
func (s Suite) Known() bool { return s.KeyLen() > 0 }

// maxTag is the largest RFC 4568 tag (1*9DIGIT).
const maxTag = 999999999

// Crypto is an RFC 4568 a=crypto attribute with a single inline key.
// ParseCrypto and String keep a lifetime, an MKI and session parameters as
// written; Usable tells whether byocp can key its relay from the line.
type Crypto struct {
	Tag           int
	Suite         Suite
	KeySalt       []byte // decoded master key || master salt
	Lifetime      string // e.g. "2^31", "" if absent
	MKI           string // e.g. "1:4", "" if absent
	SessionParams string // everything after the key-params, "" if none
}

// ParseCrypto parses value, the attribute value after "crypto:", e.g.
// "1 AES_CM_128_HMAC_SHA1_80 inline:<key||salt>|2^31|1:4". Padded and
// unpadded base64 are accepted. Errors wrap ErrBadCrypto (and
// ErrUnknownSuite for a suite that is not Known); they never contain key
// material, so they are safe to log.
func ParseCrypto(value string) (Crypto, error) {
	fields := strings.Fields(value)
	if len(fields) < 3 {
		return Crypto{}, fmt.Errorf("%w: want tag, suite and key-params, got %d fields", ErrBadCrypto, len(fields))
	}
	tag, ok := parseTag(fields[0])
	if !ok {
		return Crypto{}, fmt.Errorf("%w: bad tag", ErrBadCrypto)
	}
	c := Crypto{Tag: tag, Suite: Suite(fields[1]), SessionParams: strings.Join(fields[3:], " ")}
	if !c.Suite.Known() {
		return Crypto{}, fmt.Errorf("%w: %w %s", ErrBadCrypto, ErrUnknownSuite, suiteName(fields[1]))
	}
	if err := c.parseKeyParams(fields[2]); err != nil {
		return Crypto{}, fmt.Errorf("%w: tag %d %s: %w", ErrBadCrypto, tag, c.Suite, err)
	}
	return c, nil
}

// suiteName returns name for an error message, or a placeholder when it
// does not look like a suite name: misplaced fields could put the key
// there, and errors must never carry key material.
func suiteName(name string) string {
	if strings.TrimLeft(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != "" || len(name) > 40 {
		return "(not a suite name)"
	}
	return name
}

// errMultipleKeys is ParseCrypto's error detail for a line with several
// key-params ("inline:K1|2^20|1:4;inline:K2|2^20|2:4", RFC 4568 section
// 6.1): Crypto holds one key and the relay uses one master key per
// direction.
var errMultipleKeys = fmt.Errorf("%w: more than one key", ErrUnsupportedCrypto)

// parseKeyParams fills KeySalt, Lifetime and MKI from
// "inline:<key||salt>[|lifetime][|MKI:length]".
func (c *Crypto) parseKeyParams(kp string) error {
	method, info, _ := strings.Cut(kp, ":")
	if !strings.EqualFold(method, "inline") {
		return errors.New("key method is not inline") // method may be the key itself: never echo it
	}
	if strings.Contains(info, ";") {
		return errMultipleKeys
	}
	parts := strings.Split(info, "|")
	switch len(parts) {
	case 1:
	case 2:
		if strings.Contains(parts[1], ":") {
			c.MKI = parts[1]
		} else {
			c.Lifetime = parts[1]
		}
		if !validLifetime(c.Lifetime) && !validMKI(c.MKI) {
			return fmt.Errorf("bad lifetime or MKI %q", parts[1])
		}
	case 3:
		c.Lifetime, c.MKI = parts[1], parts[2]
		if !validLifetime(c.Lifetime) || !validMKI(c.MKI) {
			return fmt.Errorf("bad lifetime or MKI %q|%q", c.Lifetime, c.MKI)
		}
	default:
		return errors.New("too many '|' fields in key-info")
	}
	key, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(parts[0], "="))
	if err != nil {
		return errors.New("key is not base64")
	}
	if want := c.Suite.KeyLen(); len(key) != want {
		return fmt.Errorf("key+salt is %d bytes, want %d", len(key), want)
	}
	c.KeySalt = key
	return nil
}

// String returns the attribute value (without "crypto:"), with the key in
// standard padded base64 and lifetime, MKI and session parameters as given.
func (c Crypto) String() string {
	var b strings.Builder
	b.Grow(40 + base64.StdEncoding.EncodedLen(len(c.KeySalt)) + len(c.Lifetime) + len(c.MKI) + len(c.SessionParams))
	b.WriteString(strconv.Itoa(c.Tag))
	b.WriteByte(' ')
	b.WriteString(string(c.Suite))
	b.WriteString(" inline:")
	b.WriteString(base64.StdEncoding.EncodeToString(c.KeySalt))
	if c.Lifetime != "" {
		b.WriteByte('|')
		b.WriteString(c.Lifetime)
	}
	if c.MKI != "" {
		b.WriteByte('|')
		b.WriteString(c.MKI)
	}
	if c.SessionParams != "" {
		b.WriteByte(' ')
		b.WriteString(c.SessionParams)
	}
	return b.String()
}

// NewCrypto returns an attribute with a fresh random master key and salt
// from crypto/rand, e.g. for the answer to an offered tag and suite.
func NewCrypto(tag int, suite Suite) (Crypto, error) {
	if tag < 0 || tag > maxTag {
		return Crypto{}, fmt.Errorf("%w: tag %d out of range", ErrBadCrypto, tag)
	}
	if !suite.Known() {
		return Crypto{}, fmt.Errorf("%w: %w %q", ErrBadCrypto, ErrUnknownSuite, suite)
	}
	key := make([]byte, suite.KeyLen())
	_, _ = rand.Read(key) // never fails since Go 1.24
	return Crypto{Tag: tag, Suite: suite, KeySalt: key}, nil
}

// SelectCrypto returns the offered line to answer: the first suite in prefs
// order that is offered on a line byocp can honour, that is one for which
// Usable returns nil (the first such line when a suite is offered twice).
// A line with an MKI, a short lifetime or a session parameter byocp does not
// implement is skipped, so another line of the same suite or the next
// preferred suite is chosen. With nil or empty prefs it returns the first
// usable offered line. ok is false when none qualifies; the Bridge then
// answers 488.
func SelectCrypto(offered []Crypto, prefs []Suite) (c Crypto, ok bool) {
	if len(prefs) == 0 {
		for _, o := range offered {
			if o.Usable() == nil {
				return o, true
			}
		}
		return Crypto{}, false
	}
	for _, p := range prefs {
		for _, o := range offered {
			if o.Suite == p && o.Usable() == nil {
				return o, true
			}
		}
	}
	return Crypto{}, false
}

// minLifetime is the shortest master key lifetime Usable accepts, in
// packets: 2^24, the smallest power of two that covers 24 hours of 10 ms
// packets (8,640,000); at 20 ms it lasts 93 hours.
const minLifetime = 1 << 24

// Usable reports whether byocp's relay can key SRTP from c exactly as
// offered. It returns nil, or an error wrapping ErrUnsupportedCrypto that
// names what byocp does not implement, or one wrapping ErrBadCrypto when c is
// not a valid attribute at all (unknown suite, wrong key length, tag out of
// range, malformed lifetime or MKI), which only a Crypto built by hand can
// be. Errors never contain key material.
//
// The relay (pion/srtp) keys each direction with one master key and no MKI,
// derives its session keys once, always encrypts and authenticates RTP and
// RTCP, and byocp never re-keys during a call (re-INVITEs are answered with
// the SDP already sent). Accordingly:
//
//   - An MKI ("|1:4") is unsupported: the offerer would append an MKI field
//     to every packet and the relay would fail to authenticate all of them.
//   - A lifetime ("|2^31", "|2147483648") is accepted when it is at least
//     2^24 packets (see minLifetime); byocp does not count packets against
//     it. A shorter one is unsupported: the offerer would have to re-key
//     during a long call and the audio would stop when the key expired.
//   - Session parameters (RFC 4568 section 6.3), names case-insensitive:
//     KDR=0, derivation once and the default, is accepted and any other KDR
//     is unsupported; UNENCRYPTED_SRTP, UNENCRYPTED_SRTCP and
//     UNAUTHENTICATED_SRTP are unsupported; FEC_ORDER=FEC_SRTP, the default
//     order, is accepted (the relay applies no FEC) and FEC_ORDER=SRTP_FEC
//     and FEC_KEY= are unsupported; WSH= (a window size hint) is accepted
//     and ignored, as a hint may be, since the relay keeps its own replay
//     window; a parameter starting with "-" is optional and ignored; any
//     other parameter is unsupported, as RFC 4568 section 6.3.7 makes
//     unknown parameters mandatory.
//
// A line with more than one key never gets this far: ParseCrypto refuses it
// with an error wrapping ErrUnsupportedCrypto, and Parse skips it.
func (c Crypto) Usable() error {
	if err := c.check(); err != nil {
		return err
	}
	if c.MKI != "" {
		mki := c.MKI
		if len(mki) > 16 {
			mki = "(long)"
		}
		return c.unsupported("MKI " + mki + " (the relay sends and expects no MKI field)")
	}
	if n := lifetimePackets(c.Lifetime); c.Lifetime != "" && n < minLifetime {
		return c.unsupported(fmt.Sprintf("key lifetime of %d packets is below 2^24 and byocp does not re-key during a call", n))
	}
	for _, p := range strings.Fields(c.SessionParams) {
		if why := unsupportedParam(p); why != "" {
			return c.unsupported("session parameter " + why)
		}
	}
	return nil
}

// check returns an error wrapping ErrBadCrypto when c is not an attribute
// ParseCrypto could have returned.
func (c Crypto) check() error {
	switch {
	case !c.Suite.Known():
		return fmt.Errorf("%w: %w %s", ErrBadCrypto, ErrUnknownSuite, suiteName(string(c.Suite)))
	case c.Tag < 0 || c.Tag > maxTag:
		return fmt.Errorf("%w: tag %d out of range", ErrBadCrypto, c.Tag)
	case len(c.KeySalt) != c.Suite.KeyLen():
		return fmt.Errorf("%w: tag %d %s: key+salt is %d bytes, want %d", ErrBadCrypto, c.Tag, c.Suite, len(c.KeySalt), c.Suite.KeyLen())
	case c.Lifetime != "" && !validLifetime(c.Lifetime):
		return fmt.Errorf("%w: tag %d %s: bad lifetime", ErrBadCrypto, c.Tag, c.Suite)
	case c.MKI != "" && !validMKI(c.MKI):
		return fmt.Errorf("%w: tag %d %s: bad MKI", ErrBadCrypto, c.Tag, c.Suite)
	}
	return nil
}

func (c Crypto) unsupported(why string) error {
	return fmt.Errorf("%w: tag %d %s: %s", ErrUnsupportedCrypto, c.Tag, c.Suite, why)
}

// lifetimePackets returns the number of packets a valid lifetime ("2^31",
// "1048576") allows, saturating at the largest uint64.
func lifetimePackets(s string) uint64 {
	if exp, ok := strings.CutPrefix(s, "2^"); ok {
		n, err := strconv.ParseUint(exp, 10, 64)
		if err != nil || n >= 64 {
			return math.MaxUint64
		}
		return 1 << n
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return math.MaxUint64 // only a range error: s is digits
	}
	return n
}

// unsupportedParam returns "" for a session parameter byocp honours or may
// ignore, else what is wrong with it for an error message. The message
// never repeats a value that could be a key (FEC_KEY's, an unknown one's).
func unsupportedParam(p string) string {
	name, value, hasValue := strings.Cut(p, "=")
	switch upper := strings.ToUpper(name); upper {
	case "KDR":
		if !hasValue || len(value) > 2 || !isDigits(value) {
			return "KDR with a malformed rate"
		}
		if n, _ := strconv.Atoi(value); n == 0 {
			return ""
		}
		return "KDR=" + value + " (the relay derives session keys once)"
	case "UNENCRYPTED_SRTP", "UNENCRYPTED_SRTCP", "UNAUTHENTICATED_SRTP":
		return upper + " (the relay always encrypts and authenticates)"
	case "FEC_ORDER":
		switch strings.ToUpper(value) {
		case "FEC_SRTP":
			return ""
		case "SRTP_FEC":
			return "FEC_ORDER=SRTP_FEC (the relay applies no FEC)"
		}
		return "FEC_ORDER with a malformed order"
	case "FEC_KEY":
		return "FEC_KEY (the relay applies no FEC and uses one key)"
	case "WSH":
		if hasValue && isDigits(value) {
			return ""
		}
		return "WSH with a malformed size"
	}
	if strings.HasPrefix(p, "-") {
		return ""
	}
	if len(name) > 24 || strings.TrimLeft(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") != "" {
		name = "(not a parameter name)"
	}
	return name + " is unknown, so mandatory (RFC 4568 section 6.3.7)"
}

// valid reports whether c could be used to key an SRTP context.
func (c Crypto) valid() bool {
	return c.Suite.Known() && len(c.KeySalt) == c.Suite.KeyLen() && c.Tag >= 0 && c.Tag <= maxTag
}

// validForSDP reports whether c.String() fits on one a=crypto line and
// parses back to c.
func (c Crypto) validForSDP() bool {
	return c.valid() &&
		(c.Lifetime == "" || validLifetime(c.Lifetime)) &&
		(c.MKI == "" || validMKI(c.MKI)) &&
		c.SessionParams == strings.Join(strings.Fields(c.SessionParams), " ")
}

func parseTag(s string) (int, bool) {
	if len(s) > 9 || !isDigits(s) {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// validLifetime checks RFC 4568 lifetime = ["2^"] 1*(DIGIT).
func validLifetime(s string) bool {
	return isDigits(strings.TrimPrefix(s, "2^"))
}

// validMKI checks RFC 4568 mki-value ":" mki-length, the length being 1-128.
func validMKI(s string) bool {
	v, l, ok := strings.Cut(s, ":")
	if !ok || !isDigits(v) || len(l) > 3 || !isDigits(l) {
		return false
	}
	n, _ := strconv.Atoi(l)
	return n >= 1 && n <= 128
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
