package sdp

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	pion "github.com/pion/sdp/v3"
)

// Origin is one leg's o= line. A B2BUA keeps one per leg and writes that
// leg's SDP from it, so nothing of the other leg's SDP (user name, session
// id, addresses) leaks across. An Origin is not safe for concurrent use.
type Origin struct {
	Username  string
	SessionID uint64
	Version   uint64
	Addr      netip.Addr
}

// NewOrigin returns an Origin for a leg whose signalling address is addr,
// with user name "byocp" and a random session id below 2^62 (from
// crypto/rand) that is also the first version.
func NewOrigin(addr netip.Addr) *Origin {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails since Go 1.24
	id := binary.BigEndian.Uint64(b[:]) >> 2
	return &Origin{Username: "byocp", SessionID: id, Version: id, Addr: addr}
}

// Bump increments the version; call it whenever the SDP sent on the leg
// differs from the previous one (RFC 3264 section 8). A retransmitted or
// re-sent identical offer keeps its version.
func (o *Origin) Bump() { o.Version++ }

// Marshal writes a complete SDP for m with CRLF line endings: v=, o= from o,
// s=byocp, a session-level c=, t=0 0, then m=audio with m.Formats in order,
// an a=rtpmap for every named format (static ones too), a=fmtp where set,
// a=ptime when positive, the a=crypto lines, a=rtcp when m.RTCP is set
// (with its address when it is not m.Addr), a=rtcp-mux with m.RTCPMux and
// the direction attribute (sendrecv when m.Direction is empty). It does
// not bump o.Version.
//
// A rejected stream (Port 0) may have an invalid Addr, written as the
// unspecified address of the origin's family, and no formats, written as
// payload type 0 so the m-line stays valid.
func Marshal(o *Origin, m Media) ([]byte, error) {
	if err := checkOrigin(o); err != nil {
		return nil, err
	}
	if m.Port < 0 || m.Port > 65535 {
		return nil, fmt.Errorf("%w: %d", errBadPort, m.Port)
	}
	addr := m.Addr
	if !addr.IsValid() {
		if m.Port != 0 {
			return nil, fmt.Errorf("%w: media address for port %d", errBadAddr, m.Port)
		}
		addr = netip.IPv4Unspecified()
		if !o.Addr.Is4() {
			addr = netip.IPv6Unspecified()
		}
	}
	md, err := mediaDescription(m)
	if err != nil {
		return nil, err
	}
	sd := sessionDescription(o, addr, []*pion.MediaDescription{md})
	return sd.Marshal()
}

// checkOrigin returns Marshal's error for an Origin it cannot write.
func checkOrigin(o *Origin) error {
	if o == nil {
		return errNilOrigin
	}
	if !validToken(o.Username) {
		return fmt.Errorf("%w: o= user name %q", errBadValue, o.Username)
	}
	if !o.Addr.IsValid() {
		return fmt.Errorf("%w: origin address", errBadAddr)
	}
	return nil
}

// sessionDescription is the session byocp writes on a leg: o= from o,
// s=byocp, a session-level c= for addr, t=0 0 and the m-lines mds.
func sessionDescription(o *Origin, addr netip.Addr, mds []*pion.MediaDescription) pion.SessionDescription {
	return pion.SessionDescription{
		Origin: pion.Origin{
			Username:       o.Username,
			SessionID:      o.SessionID,
			SessionVersion: o.Version,
			NetworkType:    "IN",
			AddressType:    addrType(o.Addr),
			UnicastAddress: o.Addr.WithZone("").String(),
		},
		SessionName: "byocp",
		ConnectionInformation: &pion.ConnectionInformation{
			NetworkType: "IN",
			AddressType: addrType(addr),
			Address:     &pion.Address{Address: addr.WithZone("").String()},
		},
		TimeDescriptions:  []pion.TimeDescription{{}},
		MediaDescriptions: mds,
	}
}

// mediaDescription builds the m=audio section of Marshal.
func mediaDescription(m Media) (*pion.MediaDescription, error) {
	if m.Proto == "" || strings.ContainsFunc(m.Proto, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return nil, fmt.Errorf("%w: proto %q", errBadValue, m.Proto)
	}
	dir := m.Direction
	if dir == "" {
		dir = SendRecv
	}
	if !dir.valid() {
		return nil, fmt.Errorf("%w: %q", errBadDirection, m.Direction)
	}
	md := &pion.MediaDescription{
		MediaName: pion.MediaName{
			Media:   "audio",
			Port:    pion.RangedPort{Value: m.Port},
			Protos:  strings.Split(m.Proto, "/"),
			Formats: make([]string, 0, max(len(m.Formats), 1)),
		},
		Attributes: make([]pion.Attribute, 0, 2*len(m.Formats)+len(m.Crypto)+4),
	}
	if len(m.Formats) == 0 {
		if m.Port != 0 {
			return nil, fmt.Errorf("%w: no formats on port %d", errBadFormat, m.Port)
		}
		md.MediaName.Formats = append(md.MediaName.Formats, "0")
	}
	for _, f := range m.Formats {
		if f.PayloadType > 127 || (f.Name != "" && !validToken(f.Name)) || strings.ContainsAny(f.Fmtp, "\r\n") {
			return nil, fmt.Errorf("%w: payload type %d %q", errBadFormat, f.PayloadType, f.Name)
		}
		pt := strconv.Itoa(int(f.PayloadType))
		md.MediaName.Formats = append(md.MediaName.Formats, pt)
		if f.Name != "" {
			v := pt + " " + f.Name + "/" + strconv.FormatUint(uint64(f.ClockRate), 10)
			if f.Channels > 0 {
				v += "/" + strconv.Itoa(int(f.Channels))
			}
			md.Attributes = append(md.Attributes, pion.NewAttribute("rtpmap", v))
		}
		if f.Fmtp != "" {
			md.Attributes = append(md.Attributes, pion.NewAttribute("fmtp", pt+" "+f.Fmtp))
		}
	}
	if m.Ptime > 0 {
		md.Attributes = append(md.Attributes, pion.NewAttribute("ptime", strconv.Itoa(m.Ptime)))
	}
	for _, c := range m.Crypto {
		if !c.validForSDP() {
			return nil, fmt.Errorf("%w: cannot write tag %d %s", ErrBadCrypto, c.Tag, c.Suite)
		}
		md.Attributes = append(md.Attributes, pion.NewAttribute("crypto", c.String()))
	}
	if m.RTCP.IsValid() {
		a := m.RTCP.Addr()
		if m.RTCP.Port() == 0 || a.Zone() != "" {
			return nil, fmt.Errorf("%w: a=rtcp %s", errBadAddr, m.RTCP)
		}
		v := strconv.Itoa(int(m.RTCP.Port()))
		if a != m.Addr {
			v += " IN " + addrType(a) + " " + a.String()
		}
		md.Attributes = append(md.Attributes, pion.NewAttribute("rtcp", v))
	}
	if m.RTCPMux {
		md.Attributes = append(md.Attributes, pion.NewPropertyAttribute("rtcp-mux"))
	}
	md.Attributes = append(md.Attributes, pion.NewPropertyAttribute(string(dir)))
	return md, nil
}

func addrType(a netip.Addr) string {
	if a.Is4() {
		return "IP4"
	}
	return "IP6"
}
