package sdp

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Parse returns the first m=audio stream of an SDP body, read with Read:
// other m-lines (video, T.38 image, application, a second audio stream)
// are skipped, whatever their media type or protocol.
//
// Errors wrap ErrNoAudio when the body has no audio m-line, and ErrMalformed
// when Read refuses the body, or the stream lists a payload type that is
// not 0-127 or none at all, or its c= address (media-level, else
// session-level) is missing or not an IP address of its family (a host
// name, a multicast TTL).
//
// a=crypto lines with an unknown suite or an unusable key are skipped, an
// a=rtpmap that cannot be read leaves the format with its RFC 3551 name
// (static payload types) or no name (dynamic ones), and an a=rtcp that
// cannot be read (a port that is not 1-65535, an address that is not an
// IP address of its family, a missing field) is ignored like an absent
// one.
func Parse(body []byte) (Media, error) {
	d, err := Read(body)
	if err != nil {
		return Media{}, err
	}
	for i := range d.Media {
		if d.Media[i].Type == "audio" {
			return audioMedia(d, i)
		}
	}
	return Media{}, ErrNoAudio
}

// audioMedia reduces media section i of d, an audio stream, to a Media.
func audioMedia(d *Description, i int) (Media, error) {
	sec := &d.Media[i]
	m := Media{
		Port:      sec.Port,
		Proto:     sec.Proto,
		Direction: SendRecv,
	}
	c, ok := d.MediaConnection(i)
	if !ok {
		return Media{}, fmt.Errorf("%w: no c= address for the audio stream", ErrMalformed)
	}
	var err error
	if m.Addr, err = c.Addr(); err != nil {
		return Media{}, err
	}
	if len(sec.Formats) == 0 {
		return Media{}, fmt.Errorf("%w: audio m-line lists no formats", ErrMalformed)
	}
	m.Formats = make([]Format, len(sec.Formats))
	for i, f := range sec.Formats {
		pt, err := strconv.ParseUint(f, 10, 8)
		if err != nil || pt > 127 {
			return Media{}, fmt.Errorf("%w: payload type %q", ErrMalformed, f)
		}
		m.Formats[i] = staticFormats[uint8(pt)]
		m.Formats[i].PayloadType = uint8(pt)
	}

	for _, a := range d.Attributes() { // session-level direction applies unless overridden
		if dir := Direction(a.Key); dir.valid() {
			m.Direction = dir
		}
	}
	var seenRtpmap, seenFmtp [128]bool // the first line for a payload type wins
	seenRTCP := false                  // so does the first usable a=rtcp
	for _, a := range sec.Attributes() {
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
		case "rtcp":
			if rtcp, ok := parseRTCP(a.Value, m.Addr); ok && !seenRTCP {
				m.RTCP, seenRTCP = rtcp, true
			}
		case "rtcp-mux":
			m.RTCPMux = true
		default:
			if dir := Direction(a.Key); dir.valid() {
				m.Direction = dir
			}
		}
	}
	return m, nil
}

// parseRTCP parses an a=rtcp value, "<port> [<nettype> <addrtype>
// <connection-address>]" (RFC 3605 section 2.1), into where RTCP goes:
// the port at the value's address, or at addr (the stream's c= address)
// when it gives none.
func parseRTCP(v string, addr netip.Addr) (netip.AddrPort, bool) {
	f := fields(v)
	if len(f) != 1 && len(f) != 4 {
		return netip.AddrPort{}, false
	}
	port, err := strconv.ParseUint(f[0], 10, 16)
	if err != nil || port == 0 {
		return netip.AddrPort{}, false
	}
	if len(f) == 4 {
		if addr, err = (Connection{NetType: f[1], AddrType: f[2], Address: f[3]}).Addr(); err != nil {
			return netip.AddrPort{}, false
		}
	}
	return netip.AddrPortFrom(addr, uint16(port)), true
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
