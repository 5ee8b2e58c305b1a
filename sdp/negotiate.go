package sdp

import (
	"fmt"
	"strings"
)

// FilterFormats returns the offered formats whose Name matches one of
// allowed, case-insensitively, in offer order. telephone-event and CN are
// kept only when listed. A nil or empty allowed keeps every format. The
// result never shares memory with offered.
func FilterFormats(offered []Format, allowed []string) []Format {
	var out []Format
	for _, f := range offered {
		if len(allowed) == 0 || containsFold(allowed, f.Name) {
			out = append(out, f)
		}
	}
	return out
}

// HasAudioCodec reports whether formats holds at least one real codec: a
// named format that is neither telephone-event nor CN.
func HasAudioCodec(formats []Format) bool {
	for _, f := range formats {
		if f.Name != "" && !f.IsTelephoneEvent() && !f.IsComfortNoise() {
			return true
		}
	}
	return false
}

// AnswerFormats checks the formats of an answer against those of the offer
// it answers and returns the answered formats that match an offered one,
// in answer order. A match has the same encoding name (case-insensitive)
// and clock rate, so telephone-event/48000 does not match
// telephone-event/8000; the payload types must be equal unless both are
// dynamic (96-127), as an answer may renumber dynamic types. It returns
// ErrNoCommonCodec when no real codec (see HasAudioCodec) is left.
func AnswerFormats(offered, answered []Format) ([]Format, error) {
	var out []Format
	for _, a := range answered {
		for _, o := range offered {
			if formatsMatch(o, a) {
				out = append(out, a)
				break
			}
		}
	}
	if !HasAudioCodec(out) {
		return out, fmt.Errorf("%w: offered %s, answered %s", ErrNoCommonCodec, formatNames(offered), formatNames(answered))
	}
	return out, nil
}

func formatsMatch(o, a Format) bool {
	samePT := o.PayloadType == a.PayloadType || (o.PayloadType >= 96 && a.PayloadType >= 96)
	return samePT && o.Name != "" && strings.EqualFold(o.Name, a.Name) && o.ClockRate == a.ClockRate
}

func containsFold(list []string, s string) bool {
	for _, l := range list {
		if strings.EqualFold(l, s) {
			return true
		}
	}
	return false
}

// formatNames lists formats as "PT name/rate" for error messages.
func formatNames(fs []Format) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, f := range fs {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%d:%s/%d", f.PayloadType, f.Name, f.ClockRate)
	}
	b.WriteByte(']')
	return b.String()
}
