package sdp

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
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
		name := fields[1]
		if strings.TrimLeft(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != "" || len(name) > 40 {
			name = "(not a suite name)" // misplaced fields: it could be the key
		}
		return Crypto{}, fmt.Errorf("%w: %w %s", ErrBadCrypto, ErrUnknownSuite, name)
	}
	if err := c.parseKeyParams(fields[2]); err != nil {
		return Crypto{}, fmt.Errorf("%w: tag %d %s: %s", ErrBadCrypto, tag, c.Suite, err)
	}
	return c, nil
}

// parseKeyParams fills KeySalt, Lifetime and MKI from
// "inline:<key||salt>[|lifetime][|MKI:length]".
func (c *Crypto) parseKeyParams(kp string) error {
	method, info, _ := strings.Cut(kp, ":")
	if !strings.EqualFold(method, "inline") {
		return errors.New("key method is not inline") // method may be the key itself: never echo it
	}
	if strings.Contains(info, ";") {
		return errors.New("more than one key is not supported")
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
// order that is offered with a valid key (the first such line when a suite
// is offered twice). With nil or empty prefs it returns the first valid
// offered line. ok is false when none qualifies.
func SelectCrypto(offered []Crypto, prefs []Suite) (c Crypto, ok bool) {
	if len(prefs) == 0 {
		for _, o := range offered {
			if o.valid() {
				return o, true
			}
		}
		return Crypto{}, false
	}
	for _, p := range prefs {
		for _, o := range offered {
			if o.Suite == p && o.valid() {
				return o, true
			}
		}
	}
	return Crypto{}, false
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
