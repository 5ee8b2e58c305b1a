package sdp

import (
	"bytes"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Description is a session description as Read found it: every line, in
// order, split into the session-level part and one MediaSection per m=
// line. Nothing is dropped or normalized beyond what Read documents, so a
// caller can answer, reject or (later) relay each m-line from it, and
// Marshal writes it back.
type Description struct {
	// Lines are the session-level lines after the v= line, in the order
	// they came: o=, s=, c=, t=, b=, a= and lines of any other type.
	Lines []Line
	// Media are the media sections, one per m= line, in order.
	Media []MediaSection
}

// MediaSection is one m= line and the lines that follow it up to the next
// m= line.
type MediaSection struct {
	// Type is the media type as written: "audio", "video", "image",
	// "application" or anything else.
	Type string
	// Port is the transport port; 0 means the stream is rejected or
	// disabled (RFC 3264).
	Port int
	// PortCount is the number of ports of "<port>/<number of ports>", 0
	// when the m= line gives none.
	PortCount int
	// Proto is the transport protocol as written: "RTP/AVP", "RTP/SAVP",
	// "udptl", "UDP/TLS/RTP/SAVPF", ...
	Proto string
	// Formats are the m= line's formats as written: payload types for RTP,
	// "t38" for T.38 over UDPTL.
	Formats []string
	// Lines are the lines after the m= line, in the order they came: c=,
	// b=, a=, i=, k= and lines of any other type.
	Lines []Line
}

// Line is one line of a session description: "<Type>=<Value>".
type Line struct {
	// Type is the line's type letter, e.g. 'a', 'c' or 'b'.
	Type byte
	// Value is everything after the '=', as written (Read strips spaces and
	// tabs around the whole line only).
	Value string
}

// String returns the line as written, without a line ending.
func (l Line) String() string { return string(rune(l.Type)) + "=" + l.Value }

// Attribute is the value of an a= line split at its first colon, as
// "a=<Key>:<Value>"; a property attribute such as "a=sendrecv" has an
// empty Value.
type Attribute struct {
	Key   string
	Value string
}

// Connection is a c= line: "c=<NetType> <AddrType> <Address>".
type Connection struct {
	NetType  string // "IN"
	AddrType string // "IP4" or "IP6"
	Address  string // as written: an IP address, a host name, "224.2.1.1/127", ...
}

// Addr returns c's address as a unicast IP address. Errors wrap
// ErrMalformed for a c= line without an address, a network type other
// than IN, an address type other than IP4 or IP6, and an address that is
// not an IP address of that family (a host name, a multicast address with
// a TTL, an IPv6 zone).
func (c Connection) Addr() (netip.Addr, error) {
	if c.Address == "" {
		return netip.Addr{}, fmt.Errorf("%w: c= line without an address", ErrMalformed)
	}
	addr, err := netip.ParseAddr(c.Address)
	if err != nil || addr.Zone() != "" || c.NetType != "IN" ||
		!(c.AddrType == "IP4" && addr.Is4() || c.AddrType == "IP6" && addr.Is6()) {
		return netip.Addr{}, fmt.Errorf("%w: c= address %s %s %q", ErrMalformed, c.NetType, c.AddrType, c.Address)
	}
	return addr, nil
}

// Read reads a session description the way real peers write them. It
// never fails on SDP that is readable line by line:
//
//   - lines may end in CRLF, LF or CR, the last one may be unterminated,
//     and spaces and tabs around each line are stripped; blank lines are
//     skipped;
//   - after v=, the session-level lines (o=, s=, c=, t=, b=, a=, ...)
//     may come in any order, and s= and t= may be missing;
//   - within a media section, c=, b=, a= and other lines may come in any
//     order;
//   - lines of any type letter are kept, including ones RFC 4566 does not
//     define, and any m= media type and protocol is read (m=image ...
//     udptl t38, m=application ..., m=video ...).
//
// Read fails, with an error wrapping ErrMalformed, only when the body is
// empty or blank, its first non-blank line is not "v=0" (or "v=" or
// "v=00", which pion/sdp also reads as version 0), a line is not
// "<letter>=<value>", an m= line is not "<media> <port>[/<count>] <proto>
// [<fmt> ...]" (a port above 65535, a count of 0, a field with a control
// character), or there is no o= line before the first m= line. A
// description without m= lines is not an error. Nothing in the result
// aliases body.
func Read(body []byte) (*Description, error) {
	text := string(body)
	d := &Description{}
	var sec *MediaSection
	first, n := true, 0
	for rest := text; rest != ""; {
		var line string
		if i := strings.IndexAny(rest, "\r\n"); i < 0 {
			line, rest = rest, ""
		} else {
			line = rest[:i]
			if rest[i] == '\r' && i+1 < len(rest) && rest[i+1] == '\n' {
				i++
			}
			rest = rest[i+1:]
		}
		n++
		line = strings.Trim(line, " \t")
		if line == "" {
			continue
		}
		if first {
			if v, ok := strings.CutPrefix(line, "v="); !ok || strings.Trim(v, "0") != "" {
				return nil, fmt.Errorf("%w: line %d is not v=0", ErrMalformed, n)
			}
			first = false
			continue
		}
		if len(line) < 2 || line[1] != '=' || !isLetter(line[0]) {
			return nil, fmt.Errorf("%w: line %d is not <type>=<value>", ErrMalformed, n)
		}
		l := Line{Type: line[0], Value: line[2:]}
		switch {
		case l.Type == 'm':
			m, err := readMediaLine(l.Value)
			if err != nil {
				return nil, fmt.Errorf("%w: line %d: %v", ErrMalformed, n, err)
			}
			if sec == nil {
				if _, ok := d.Value('o'); !ok {
					return nil, fmt.Errorf("%w: no o= line before the first m= line", ErrMalformed)
				}
			}
			d.Media = append(d.Media, m)
			sec = &d.Media[len(d.Media)-1]
		case sec != nil:
			sec.Lines = append(sec.Lines, l)
		default:
			d.Lines = append(d.Lines, l)
		}
	}
	if first {
		return nil, fmt.Errorf("%w: empty body", ErrMalformed)
	}
	if _, ok := d.Value('o'); !ok {
		return nil, fmt.Errorf("%w: no o= line", ErrMalformed)
	}
	return d, nil
}

// readMediaLine reads the value of an m= line.
func readMediaLine(v string) (MediaSection, error) {
	f := fields(v)
	if len(f) < 3 {
		return MediaSection{}, fmt.Errorf("m= line has %d fields, want <media> <port> <proto> [<fmt> ...]", len(f))
	}
	for _, s := range f {
		if !isToken(s) {
			return MediaSection{}, fmt.Errorf("m= line field with a control character")
		}
	}
	m := MediaSection{Type: f[0], Proto: f[2]}
	if len(f) > 3 {
		m.Formats = f[3:]
	}
	port, count, hasCount := strings.Cut(f[1], "/")
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return MediaSection{}, fmt.Errorf("m= line port %q", f[1])
	}
	m.Port = int(p)
	if hasCount {
		c, err := strconv.ParseUint(count, 10, 16)
		if err != nil || c == 0 {
			return MediaSection{}, fmt.Errorf("m= line port count %q", f[1])
		}
		m.PortCount = int(c)
	}
	return m, nil
}

// fields splits s at runs of spaces and tabs, the SDP field separators.
func fields(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '\t' })
}

// isLetter reports whether c is an ASCII letter: an SDP line type.
func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// isToken reports whether s is a non-empty field of an m= line: no
// spaces and no control characters.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

// Value returns the value of the first session-level line of the given
// type, e.g. d.Value('o') for the o= line.
func (d *Description) Value(typ byte) (string, bool) {
	for _, l := range d.Lines {
		if l.Type == typ {
			return l.Value, true
		}
	}
	return "", false
}

// Attributes returns the session-level a= lines, in order.
func (d *Description) Attributes() []Attribute { return attributes(d.Lines) }

// Connection returns the session-level c= line (the last one if there are
// several).
func (d *Description) Connection() (Connection, bool) { return connection(d.Lines) }

// MediaConnection returns the c= line that applies to d.Media[i]: its own
// (the last one if there are several), else the session-level one.
func (d *Description) MediaConnection(i int) (Connection, bool) {
	if c, ok := d.Media[i].Connection(); ok {
		return c, true
	}
	return d.Connection()
}

// Attributes returns the section's a= lines, in order.
func (m *MediaSection) Attributes() []Attribute { return attributes(m.Lines) }

// Attribute returns the value of the section's first a= line with the
// given key (case-sensitive), e.g. m.Attribute("T38FaxVersion").
func (m *MediaSection) Attribute(key string) (string, bool) {
	for _, a := range m.Attributes() {
		if a.Key == key {
			return a.Value, true
		}
	}
	return "", false
}

// Connection returns the section's own c= line (the last one if there are
// several); see Description.MediaConnection for the one that applies.
func (m *MediaSection) Connection() (Connection, bool) { return connection(m.Lines) }

func attributes(lines []Line) []Attribute {
	var out []Attribute
	for _, l := range lines {
		if l.Type == 'a' {
			out = append(out, attribute(l.Value))
		}
	}
	return out
}

// attribute splits an a= value at its first colon; a colon at the start
// belongs to the key.
func attribute(v string) Attribute {
	if i := strings.IndexByte(v, ':'); i > 0 {
		return Attribute{Key: v[:i], Value: v[i+1:]}
	}
	return Attribute{Key: v}
}

func connection(lines []Line) (Connection, bool) {
	var c Connection
	found := false
	for _, l := range lines {
		if l.Type != 'c' {
			continue
		}
		f := fields(l.Value)
		f = append(f, "", "", "")
		c, found = Connection{NetType: f[0], AddrType: f[1], Address: f[2]}, true
	}
	return c, found
}

// Marshal writes d with CRLF line endings: "v=0", the session-level lines,
// then each media section's m= line and lines. Read gives back the same
// Description for the output. Errors report what Read could not read
// back: no o= line, a line type that is not a letter or is 'm', a value
// with a CR or LF or ending in a space or tab, an empty media type, proto
// or format or one with a space or control character, or a port or port
// count above 65535.
func (d *Description) Marshal() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("v=0\r\n")
	origin := false
	for _, l := range d.Lines {
		if err := writeLine(&b, l); err != nil {
			return nil, err
		}
		origin = origin || l.Type == 'o'
	}
	if !origin {
		return nil, fmt.Errorf("%w: no o= line", errBadValue)
	}
	for _, m := range d.Media {
		if m.Port < 0 || m.Port > 65535 || m.PortCount < 0 || m.PortCount > 65535 {
			return nil, fmt.Errorf("%w: m= port %d/%d", errBadPort, m.Port, m.PortCount)
		}
		if !isToken(m.Type) || !isToken(m.Proto) {
			return nil, fmt.Errorf("%w: m= media %q proto %q", errBadValue, m.Type, m.Proto)
		}
		b.WriteString("m=" + m.Type + " " + strconv.Itoa(m.Port))
		if m.PortCount > 0 {
			b.WriteString("/" + strconv.Itoa(m.PortCount))
		}
		b.WriteString(" " + m.Proto)
		for _, f := range m.Formats {
			if !isToken(f) {
				return nil, fmt.Errorf("%w: m= format %q", errBadValue, f)
			}
			b.WriteString(" " + f)
		}
		b.WriteString("\r\n")
		for _, l := range m.Lines {
			if err := writeLine(&b, l); err != nil {
				return nil, err
			}
		}
	}
	return b.Bytes(), nil
}

// writeLine writes one line other than v= and m=, after checking that Read
// reads it back as it is.
func writeLine(b *bytes.Buffer, l Line) error {
	if !isLetter(l.Type) || l.Type == 'm' || strings.ContainsAny(l.Value, "\r\n") ||
		strings.HasSuffix(l.Value, " ") || strings.HasSuffix(l.Value, "\t") {
		return fmt.Errorf("%w: line %q", errBadValue, l.String())
	}
	b.WriteByte(l.Type)
	b.WriteByte('=')
	b.WriteString(l.Value)
	b.WriteString("\r\n")
	return nil
}
