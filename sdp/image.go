package sdp

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	pion "github.com/pion/sdp/v3"
)

// ProtoUDPTL is the transport of a T.38 image stream byocp relays,
// "m=image <port> udptl t38" (ITU-T T.38 Annex D, RFC 3362). Offers may
// write it in any case ("UDPTL"); byocp writes it in lower case in its own
// offers and as the offer wrote it in its answers.
const ProtoUDPTL = "udptl"

// formatT38 is the format of a T.38 image stream.
const formatT38 = "t38"

// Image is a T.38 fax image stream, "m=image <port> udptl t38", as a relay
// and the other leg need it. A Leg reads one only when its
// LegConfig.ImagePort is set (see the package documentation).
type Image struct {
	// Addr is the connection address; a media-level c= wins over the
	// session-level one. 0.0.0.0 is returned as is.
	Addr netip.Addr
	// Port is where the stream's UDPTL datagrams go; 0 = rejected or
	// disabled.
	Port int
	// Proto is the transport as written: "udptl" in any case. T.38 over
	// TCP (TCP, TCP/TLS/UDPTL...) is not relayed.
	Proto string
	// Formats are the m-line's formats as written: "t38".
	Formats []string
	// Attributes are the stream's T.38 attributes (every a= line whose
	// name starts with "T38", in any case: T38FaxVersion, T38MaxBitRate,
	// T38FaxRateManagement, T38FaxMaxBuffer, T38FaxMaxDatagram,
	// T38FaxUdpEC, T38FaxFillBitRemoval, T38FaxTranscodingMMR,
	// T38FaxTranscodingJBIG, T38FaxMaxIFP, T38VendorInfo, ...) and its
	// direction attributes (a=sendrecv, sendonly, recvonly, inactive), in
	// order and as written. They pass through byocp unchanged: what one
	// leg's peer offered or answered is what byocp offers or answers on the
	// other. Other a= lines (a=rtcp, a=ptime, ICE, a=direction:both, ...)
	// are dropped, as for audio, and so are lines that are not valid SDP
	// attributes (a name with a space, a control character).
	Attributes []Attribute
}

// clone returns an Image that shares no memory with m; nil for nil.
func (m *Image) clone() *Image {
	if m == nil {
		return nil
	}
	c := *m
	c.Formats = slices.Clone(m.Formats)
	c.Attributes = slices.Clone(m.Attributes)
	return &c
}

// isT38 reports whether an m-line is a T.38 image stream over UDPTL, the
// one kind of image stream a Leg relays: media type image, proto udptl
// and the format t38 (all in any case).
func isT38(typ, proto string, fmts []string) bool {
	return strings.EqualFold(typ, "image") && strings.EqualFold(proto, ProtoUDPTL) &&
		slices.ContainsFunc(fmts, func(f string) bool { return strings.EqualFold(f, formatT38) })
}

// imageStream reduces media section i of d, a T.38 image stream, to an
// Image. Errors wrap ErrMalformed when its c= address is missing or not an
// IP address of its family.
func imageStream(d *Description, i int) (Image, error) {
	sec := &d.Media[i]
	m := Image{Port: sec.Port, Proto: sec.Proto, Formats: slices.Clone(sec.Formats)}
	c, ok := d.MediaConnection(i)
	if !ok {
		return Image{}, fmt.Errorf("%w: no c= address for the image stream", ErrMalformed)
	}
	var err error
	if m.Addr, err = c.Addr(); err != nil {
		return Image{}, err
	}
	for _, a := range sec.Attributes() {
		if relayedImageAttribute(a.Key) && validAttribute(a) {
			m.Attributes = append(m.Attributes, a)
		}
	}
	return m, nil
}

// relayedImageAttribute reports whether an a= line of an image stream is
// passed through to the other leg: a T.38 attribute or a direction.
func relayedImageAttribute(key string) bool {
	return len(key) >= 3 && strings.EqualFold(key[:3], "T38") || Direction(key).valid()
}

// imageDescription builds byocp's m=image section for m: its port, proto
// and formats, and its attributes in order. Errors wrap errBadValue for a
// proto, format or attribute that cannot be written as it is.
func imageDescription(m *Image) (*pion.MediaDescription, error) {
	if !isToken(m.Proto) || strings.Contains(m.Proto, "/") || len(m.Formats) == 0 {
		return nil, fmt.Errorf("%w: image proto %q formats %q", errBadValue, m.Proto, m.Formats)
	}
	md := &pion.MediaDescription{
		MediaName: pion.MediaName{
			Media:   "image",
			Port:    pion.RangedPort{Value: m.Port},
			Protos:  []string{m.Proto},
			Formats: slices.Clone(m.Formats),
		},
		Attributes: make([]pion.Attribute, 0, len(m.Attributes)),
	}
	for _, f := range m.Formats {
		if !isToken(f) {
			return nil, fmt.Errorf("%w: image format %q", errBadValue, f)
		}
	}
	for _, a := range m.Attributes {
		if !validAttribute(a) {
			return nil, fmt.Errorf("%w: image attribute %q:%q", errBadValue, a.Key, a.Value)
		}
		md.Attributes = append(md.Attributes, pion.NewAttribute(a.Key, a.Value))
	}
	return md, nil
}

// validAttribute reports whether a can be written as an a= line that Read
// reads back as a: a key without spaces, colons or control characters,
// and a value without control characters other than tab that does not end
// in a space or tab.
func validAttribute(a Attribute) bool {
	if !isToken(a.Key) || strings.ContainsRune(a.Key, ':') {
		return false
	}
	for i := 0; i < len(a.Value); i++ {
		if c := a.Value[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return !strings.HasSuffix(a.Value, " ") && !strings.HasSuffix(a.Value, "\t")
}

// sameImages reports whether two images say the same to the other leg:
// the same T.38 and direction attributes, in the same order. Address and
// port are the peer's business on its own leg.
func sameImages(a, b *Image) bool {
	if a == nil || b == nil {
		return a == b
	}
	return slices.Equal(a.Attributes, b.Attributes)
}
