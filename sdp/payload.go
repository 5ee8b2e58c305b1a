package sdp

import (
	"maps"
	"strconv"
	"strings"
)

// codecKey identifies a codec across legs, whatever its payload type: the
// encoding name (case-insensitive) and clock rate, as AnswerFormats
// matches them.
func codecKey(f Format) string {
	return strings.ToLower(f.Name) + "/" + strconv.FormatUint(uint64(f.ClockRate), 10)
}

// named returns the formats that have an encoding name: a dynamic payload
// type without a=rtpmap means nothing on the other leg.
func named(fs []Format) []Format {
	var out []Format
	for _, f := range fs {
		if f.Name != "" {
			out = append(out, f)
		}
	}
	return out
}

// findCodec returns the format of fs with key k.
func findCodec(fs []Format, k string) (Format, bool) {
	for _, f := range fs {
		if codecKey(f) == k {
			return f, true
		}
	}
	return Format{}, false
}

// ptBook is what one leg's SDPs have said about payload types so far: the
// number byocp and the peer last wrote for each codec, and which codec
// each number stands for. A payload type keeps its codec for the whole
// session (RFC 3264 section 8.3.2), so numbers are only ever added.
type ptBook struct {
	ours   map[string]uint8 // codec key -> payload type byocp last wrote
	theirs map[string]uint8 // codec key -> payload type the peer last wrote
	bound  map[uint8]string // payload type -> codec key, by either side
}

func (b ptBook) clone() ptBook {
	return ptBook{ours: maps.Clone(b.ours), theirs: maps.Clone(b.theirs), bound: maps.Clone(b.bound)}
}

// learn records the formats of one offer/answer exchange.
func (b *ptBook) learn(ours, theirs []Format) {
	if b.bound == nil {
		b.ours, b.theirs, b.bound = map[string]uint8{}, map[string]uint8{}, map[uint8]string{}
	}
	for _, f := range named(theirs) {
		b.theirs[codecKey(f)], b.bound[f.PayloadType] = f.PayloadType, codecKey(f)
	}
	for _, f := range named(ours) {
		b.ours[codecKey(f)], b.bound[f.PayloadType] = f.PayloadType, codecKey(f)
	}
}

// number gives the formats of an offer byocp makes on this leg this leg's
// payload types: the number byocp wrote for the codec before (so its
// offers stay stable), else the one the peer used, else the number the
// other leg used, else the lowest free dynamic one (96-127). A number is
// never given to a second codec, nor a static one (0-95) to a codec other
// than its RFC 3551 one. A codec listed twice, or for which no number is
// left, is dropped.
func (b ptBook) number(formats []Format) []Format {
	out := make([]Format, 0, len(formats))
	used := map[uint8]bool{}
	for _, f := range formats {
		k := codecKey(f)
		if _, dup := findCodec(out, k); dup {
			continue
		}
		free := func(pt uint8) bool {
			if used[pt] || pt > 127 {
				return false
			}
			if st, ok := staticFormats[pt]; ok && codecKey(st) != k {
				return false
			}
			c, ok := b.bound[pt]
			return !ok || c == k
		}
		var candidates []uint8
		if pt, ok := b.ours[k]; ok {
			candidates = append(candidates, pt)
		}
		if pt, ok := b.theirs[k]; ok {
			candidates = append(candidates, pt)
		}
		candidates = append(candidates, f.PayloadType)
		for pt := uint8(96); pt <= 127; pt++ {
			candidates = append(candidates, pt)
		}
		for _, pt := range candidates {
			if free(pt) {
				f.PayloadType, used[pt] = pt, true
				out = append(out, f)
				break
			}
		}
	}
	return out
}
