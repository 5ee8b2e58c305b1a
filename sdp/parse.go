package sdp

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	pion "github.com/pion/sdp/v3"
)

// Parse returns the first m=audio stream of an SDP body.
//
// Errors wrap ErrNoAudio when the body has no audio m-line, and ErrMalformed
// when it is empty, is not SDP pion/sdp accepts, lists a payload type that is
// not 0-127 or none at all, or when the stream's c= address is missing,
// unparseable (a host name, a multicast TTL) or of the wrong IP family.
//
// Before handing the body to pion/sdp, Parse turns bare CR line endings
// into LF, ends the last line, and inserts "s=-" when the s= line is
// missing. a=crypto lines with an unknown suite or an unusable key are
// skipped, and an a=rtpmap that cannot be read leaves the format with its
// RFC 3551 name (static payload types) or no name (dynamic ones).
func Parse(body []byte) (Media, error) {
	text, err := normalize(body)
	if err != nil {
		return Media{}, err
	}
	// Always a fresh value: pion appends to a reused SessionDescription.
	var sd pion.SessionDescription
	if err := sd.UnmarshalString(text); err != nil {
		return Media{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if sd.Origin.NetworkType == "" {
		return Media{}, fmt.Errorf("%w: no o= line", ErrMalformed)
	}
	for _, md := range sd.MediaDescriptions {
		if md.MediaName.Media == "audio" {
			return audioMedia(&sd, md)
		}
	}
	return Media{}, ErrNoAudio
}

// normalize works around the strictness of pion/sdp for input real peers
// send; see Parse. It copies body, so no result aliases the caller's buffer.
func normalize(body []byte) (string, error) {
	s := string(body)
	if strings.TrimSpace(s) == "" {
		return "", fmt.Errorf("%w: empty body", ErrMalformed)
	}
	if hasBareCR(s) { // pion ends lines at LF: a bare CR would stay inside a value
		s = strings.ReplaceAll(s, "\r\n", "\n")
		s = strings.ReplaceAll(s, "\r", "\n")
	}
	if !strings.HasSuffix(s, "\n") { // pion needs the last line ended
		s = strings.TrimRight(s, " \t") + "\n"
	}
	if !strings.Contains(s, "\ns=") {
		if i := strings.Index(s, "\no="); i >= 0 {
			end := i + 1 + strings.IndexByte(s[i+1:], '\n') // s ends with LF
			s = s[:end] + "\ns=-" + s[end:]
		}
	}
	return s, nil
}

func hasBareCR(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '\r' && (i+1 == len(s) || s[i+1] != '\n') {
			return true
		}
	}
	return false
}

// audioMedia reduces one pion media description to a Media.
func audioMedia(sd *pion.SessionDescription, md *pion.MediaDescription) (Media, error) {
	m := Media{
		Port:      md.MediaName.Port.Value,
		Proto:     strings.Join(md.MediaName.Protos, "/"),
		Direction: SendRecv,
	}
	ci := md.ConnectionInformation
	if ci == nil {
		ci = sd.ConnectionInformation
	}
	var err error
	if m.Addr, err = connAddr(ci); err != nil {
		return Media{}, err
	}
	if len(md.MediaName.Formats) == 0 {
		return Media{}, fmt.Errorf("%w: audio m-line lists no formats", ErrMalformed)
	}
	m.Formats = make([]Format, len(md.MediaName.Formats))
	for i, f := range md.MediaName.Formats {
		pt, err := strconv.ParseUint(f, 10, 8)
		if err != nil || pt > 127 {
			return Media{}, fmt.Errorf("%w: payload type %q", ErrMalformed, f)
		}
		m.Formats[i] = staticFormats[uint8(pt)]
		m.Formats[i].PayloadType = uint8(pt)
	}

	for _, a := range sd.Attributes { // session-level direction applies unless overridden
		if d := Direction(a.Key); d.valid() {
			m.Direction = d
		}
	}
	var seenRtpmap, seenFmtp [128]bool // the first line for a payload type wins
	for _, a := range md.Attributes {
		switch a.Key {
		case "rtpmap":
			pt, rest, ok := splitPT(a.Value)
			if !ok || seenRtpmap[pt] {
				continue
			}
			seenRtpmap[pt] = true
			name, rate, ch, ok := parseRtpmap(rest)
			if !ok {
				continue
			}
			for i := range m.Formats {
				if f := &m.Formats[i]; f.PayloadType == pt {
					f.Name, f.ClockRate, f.Channels = name, rate, ch
				}
			}
		case "fmtp":
			pt, rest, ok := splitPT(a.Value)
			if !ok || seenFmtp[pt] {
				continue
			}
			seenFmtp[pt] = true
			for i := range m.Formats {
				if f := &m.Formats[i]; f.PayloadType == pt {
					f.Fmtp = rest
				}
			}
		case "ptime":
			if n, err := strconv.Atoi(strings.TrimSpace(a.Value)); err == nil && n > 0 {
				m.Ptime = n
			}
		case "crypto":
			if c, err := ParseCrypto(a.Value); err == nil {
				m.Crypto = append(m.Crypto, c)
			}
		default:
			if d := Direction(a.Key); d.valid() {
				m.Direction = d
			}
		}
	}
	return m, nil
}

// connAddr returns the unicast address of a c= line.
func connAddr(ci *pion.ConnectionInformation) (netip.Addr, error) {
	if ci == nil || ci.Address == nil || ci.Address.Address == "" {
		return netip.Addr{}, fmt.Errorf("%w: no c= address for the audio stream", ErrMalformed)
	}
	addr, err := netip.ParseAddr(ci.Address.Address)
	if err != nil || addr.Zone() != "" ||
		(ci.AddressType == "IP4" && !addr.Is4()) || (ci.AddressType == "IP6" && !addr.Is6()) {
		return netip.Addr{}, fmt.Errorf("%w: c= address %s %q", ErrMalformed, ci.AddressType, ci.Address.Address)
	}
	return addr, nil
}

// splitPT splits "<payload type> <rest>" as in a=rtpmap and a=fmtp values.
func splitPT(v string) (pt uint8, rest string, ok bool) {
	s := strings.TrimLeft(v, " \t")
	if i := strings.IndexAny(s, " \t"); i >= 0 {
		s, rest = s[:i], s[i+1:]
	}
	n, err := strconv.ParseUint(s, 10, 8)
	if err != nil || n > 127 {
		return 0, "", false
	}
	return uint8(n), strings.TrimSpace(rest), true
}

// parseRtpmap parses "<encoding name>/<clock rate>[/<channels>]".
func parseRtpmap(s string) (name string, rate uint32, channels uint16, ok bool) {
	name, s, _ = strings.Cut(s, "/")
	rs, cs, hasCh := strings.Cut(s, "/")
	r, err := strconv.ParseUint(rs, 10, 32)
	if err != nil || !validToken(name) {
		return "", 0, 0, false
	}
	if hasCh {
		c, err := strconv.ParseUint(cs, 10, 16)
		if err != nil {
			return "", 0, 0, false
		}
		channels = uint16(c)
	}
	return name, uint32(r), channels, true
}

// validToken reports whether s is non-empty and free of spaces, control
// characters and '/', so it can be written as an encoding name or o= user.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == 0x7f || c == '/' {
			return false
		}
	}
	return true
}
