package trunk

import (
	"errors"
	"fmt"
	"strings"
)

// Number formats for Numbering.Outbound.
const (
	FormatE164       = "e164"        // +14155550100
	FormatE164Digits = "e164-digits" // 14155550100
	FormatNational   = "national"    // national prefix + national number, e.g. 02079460000
)

// ErrBadNumber is returned for a number that cannot be made E.164.
var ErrBadNumber = errors.New("trunk: number cannot be written as E.164")

// Numbering says how the carrier writes telephone numbers.
type Numbering struct {
	// CountryCode is the country calling code of national numbers, e.g. "1"
	// or "44". Empty: the carrier sends E.164 only (with or without "+").
	CountryCode string
	// NationalPrefix is the trunk prefix of national numbers, e.g. "0" in
	// the UK; empty for NANP.
	NationalPrefix string
	// Outbound is how numbers are written towards the carrier: "e164"
	// (default), "e164-digits" or "national".
	Outbound string
}

func (n Numbering) validate() error {
	switch n.Outbound {
	case "", FormatE164, FormatE164Digits:
	case FormatNational:
		if n.CountryCode == "" {
			return fmt.Errorf("Numbering.Outbound: %q needs Numbering.CountryCode", n.Outbound)
		}
	default:
		return fmt.Errorf("Numbering.Outbound: %q is not e164, e164-digits or national", n.Outbound)
	}
	if strings.Trim(n.CountryCode, "0123456789") != "" || len(n.CountryCode) > 3 {
		return fmt.Errorf("Numbering.CountryCode: %q is not a 1-3 digit country code", n.CountryCode)
	}
	return nil
}

// ToE164 turns a number as the carrier sent it into +E.164. It drops visual
// separators and a "tel:" prefix, and reads "00" international and national
// numbers using CountryCode and NationalPrefix.
func (n Numbering) ToE164(s string) (string, error) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "tel:")
	plus := strings.HasPrefix(s, "+")
	digits := strings.Map(func(r rune) rune {
		switch {
		case r >= '0' && r <= '9':
			return r
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')' || (r == '+' && plus):
			return -1
		}
		return 'x'
	}, s)
	if digits == "" || strings.Contains(digits, "x") || len(digits) > 15 {
		return "", fmt.Errorf("%w: %q", ErrBadNumber, s)
	}
	switch {
	case plus:
		return "+" + digits, nil
	case strings.HasPrefix(digits, "00"):
		return "+" + digits[2:], nil
	case n.CountryCode == "":
		return "+" + digits, nil
	case n.NationalPrefix != "" && strings.HasPrefix(digits, n.NationalPrefix):
		return "+" + n.CountryCode + strings.TrimPrefix(digits, n.NationalPrefix), nil
	case n.CountryCode == "1" && len(digits) == 10:
		return "+1" + digits, nil
	case strings.HasPrefix(digits, n.CountryCode):
		return "+" + digits, nil
	case n.NationalPrefix == "":
		return "+" + n.CountryCode + digits, nil
	}
	return "", fmt.Errorf("%w: %q", ErrBadNumber, s)
}

// FromE164 writes a +E.164 number in the carrier's Outbound format. A number
// that is not E.164 (no "+") is passed through unchanged.
func (n Numbering) FromE164(e164 string) string {
	if !strings.HasPrefix(e164, "+") {
		return e164
	}
	switch n.Outbound {
	case FormatE164Digits:
		return e164[1:]
	case FormatNational:
		if rest, ok := strings.CutPrefix(e164[1:], n.CountryCode); ok {
			return n.NationalPrefix + rest
		}
		return "00" + e164[1:]
	}
	return e164
}
