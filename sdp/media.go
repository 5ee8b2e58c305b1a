package sdp

import (
	"net/netip"
	"strings"
)

// Transport protocols of the two legs: plain RTP toward the carrier, SRTP
// with SDES keys toward Zoom.
const (
	ProtoRTPAVP  = "RTP/AVP"
	ProtoRTPSAVP = "RTP/SAVP"
)

// Direction is a stream's RFC 3264 direction attribute.
type Direction string

// Directions. A stream without a direction attribute is SendRecv.
const (
	SendRecv Direction = "sendrecv"
	SendOnly Direction = "sendonly"
	RecvOnly Direction = "recvonly"
	Inactive Direction = "inactive"
)

// valid reports whether d is one of the four RFC 3264 directions.
func (d Direction) valid() bool {
	switch d {
	case SendRecv, SendOnly, RecvOnly, Inactive:
		return true
	}
	return false
}

// Format is one payload format of an audio m-line.
type Format struct {
	PayloadType uint8
	// Name is the encoding name from a=rtpmap, or the RFC 3551 name of a
	// static payload type without one, e.g. "PCMU", "opus",
	// "telephone-event". It is "" for a dynamic payload type with no
	// (usable) a=rtpmap.
	Name      string
	ClockRate uint32
	Channels  uint16 // 0 when not given
	Fmtp      string // a=fmtp parameters, "" if none
}

// IsTelephoneEvent reports whether f carries RFC 4733 DTMF events.
func (f Format) IsTelephoneEvent() bool { return strings.EqualFold(f.Name, "telephone-event") }

// IsComfortNoise reports whether f is RFC 3389 comfort noise (CN).
func (f Format) IsComfortNoise() bool { return strings.EqualFold(f.Name, "CN") }

// staticFormats are the RFC 3551 audio payload types with fixed meanings,
// used when an m-line lists one without an a=rtpmap.
var staticFormats = map[uint8]Format{
	0:  {PayloadType: 0, Name: "PCMU", ClockRate: 8000},
	3:  {PayloadType: 3, Name: "GSM", ClockRate: 8000},
	4:  {PayloadType: 4, Name: "G723", ClockRate: 8000},
	5:  {PayloadType: 5, Name: "DVI4", ClockRate: 8000},
	6:  {PayloadType: 6, Name: "DVI4", ClockRate: 16000},
	7:  {PayloadType: 7, Name: "LPC", ClockRate: 8000},
	8:  {PayloadType: 8, Name: "PCMA", ClockRate: 8000},
	9:  {PayloadType: 9, Name: "G722", ClockRate: 8000}, // RFC 3551 4.5.2: 8000 despite 16 kHz sampling
	10: {PayloadType: 10, Name: "L16", ClockRate: 44100, Channels: 2},
	11: {PayloadType: 11, Name: "L16", ClockRate: 44100},
	12: {PayloadType: 12, Name: "QCELP", ClockRate: 8000},
	13: {PayloadType: 13, Name: "CN", ClockRate: 8000},
	14: {PayloadType: 14, Name: "MPA", ClockRate: 90000},
	15: {PayloadType: 15, Name: "G728", ClockRate: 8000},
	16: {PayloadType: 16, Name: "DVI4", ClockRate: 11025},
	17: {PayloadType: 17, Name: "DVI4", ClockRate: 22050},
	18: {PayloadType: 18, Name: "G729", ClockRate: 8000},
}

// Media is the audio stream of a session description, reduced to what a
// relay and a B2BUA need, and, for a Leg that relays T.38, its image
// stream. Everything else in the SDP (other attributes, bandwidth, the
// peer's o= line, other m-lines) is dropped on purpose, as far as Media
// goes (Read's Description keeps it all): the Bridge writes each leg's
// SDP from its own state.
//
// In a Leg's offers and answers the audio fields are empty (no Formats,
// Port 0) when the session has no audio stream: a T.38 re-offer whose
// m=image replaced the audio, or disabled it. Parse and Marshal read and
// write the audio stream only and leave Image nil.
type Media struct {
	// Addr is the connection address; a media-level c= wins over the
	// session-level one. 0.0.0.0 (RFC 2543 hold) is returned as is.
	Addr      netip.Addr
	Port      int       // 0 = stream rejected / disabled
	Proto     string    // "RTP/AVP", "RTP/SAVP", ...
	Formats   []Format  // in m-line order
	Crypto    []Crypto  // a=crypto lines in order
	Ptime     int       // 0 when absent
	Direction Direction // SendRecv when absent
	// RTCP is where the stream's sender receives RTCP when its a=rtcp
	// attribute (RFC 3605) says so: that port, at the attribute's address
	// or else at Addr (0.0.0.0 returned as is). The zero AddrPort when
	// there is no usable a=rtcp: RTCP then goes to the port after Port
	// (RFC 3550 section 11), or to Port itself with RTCPMux.
	RTCP netip.AddrPort
	// RTCPMux reports a=rtcp-mux (RFC 5761): the sender can send and
	// receive RTCP on the RTP port. It is in effect on a stream when both
	// the offer and the answer have it (see Leg).
	RTCPMux bool
	// Image is the T.38 image stream (m=image ... udptl t38) a Leg with an
	// ImagePort negotiates; nil when there is none, or it is rejected.
	Image *Image
}
