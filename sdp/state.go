package sdp

import (
	"bytes"
	"net/netip"
	"slices"
)

// State is what one leg of a call has negotiated, as the media relay and
// the call need it. The zero State means nothing is negotiated yet.
type State struct {
	// Remote is where the peer receives media, from its last SDP. On a
	// legacy hold (c=0.0.0.0, or :: for IPv6) its address is unspecified
	// and Direction does not send.
	Remote netip.AddrPort
	// RemoteRTCP is where the peer receives RTCP when its last SDP names
	// a port for it with a=rtcp (RFC 3605; the address is the attribute's,
	// else the audio stream's c= address, 0.0.0.0 returned as is). The
	// zero AddrPort when it names none: RTCP then goes to the port after
	// Remote's (RFC 3550 section 11). With RTCPMux, RTCP goes to Remote.
	RemoteRTCP netip.AddrPort
	// RTCPMux reports that RTCP travels on the RTP ports of this leg, both
	// ways (RFC 5761): the offer and the answer of the leg's last
	// exchange both have a=rtcp-mux. byocp still receives RTCP on the
	// port after its RTP port then.
	RTCPMux bool
	// Direction is the stream's direction on this leg from byocp's side:
	// SendOnly means byocp sends to the peer and the peer sends nothing,
	// RecvOnly the opposite. Anything but SendRecv means the call is on
	// hold on this leg, from either end.
	Direction Direction
	// Codecs are the agreed formats, in the order of the answer.
	Codecs []Codec
	// Ptime is the peer's a=ptime, 0 when it gave none.
	Ptime int
	// Suite is the negotiated SDES suite, "" on a plain RTP leg.
	Suite Suite
	// LocalKey is the key||salt byocp encrypts with (its a=crypto on this
	// leg). It stays the same for the whole call unless the suite changes.
	LocalKey []byte
	// RemoteKey is the key||salt the peer encrypts with (its a=crypto).
	// When it changes, the relay starts a new decrypt context for this
	// leg's incoming direction only.
	RemoteKey []byte
	// Index is the position of the stream among the leg's m-lines, -1
	// when the leg has no audio stream (T.38 only).
	Index int
	// Image is the peer's T.38 image stream, when one is negotiated on a
	// leg with a LegConfig.ImagePort: its Addr and Port are where the peer
	// receives UDPTL (from its last SDP; 0.0.0.0 is returned as is), its
	// Attributes the T.38 attributes it wrote. nil when there is none or
	// it was rejected.
	//
	// While a leg has an image stream and no audio stream (a T.38
	// re-INVITE replaced or disabled the audio), the audio fields say
	// so: Remote and RemoteRTCP are the zero AddrPort, RTCPMux is false,
	// Direction is Inactive, Codecs is empty, Ptime is 0 and Index is -1.
	// Suite, LocalKey and RemoteKey keep the keys of the leg's last audio
	// stream, so that a relay keeps its SRTP contexts for when the audio
	// comes back.
	Image *Image
}

// Codec is a format agreed on a leg with the payload type each end uses
// for it. The two are equal unless the answer renumbered a dynamic payload
// type, which RFC 3264 section 6.1 allows: each end receives the number it
// wrote.
type Codec struct {
	// Format is the format as the peer wrote it. Its PayloadType is the
	// number the peer receives, so byocp sends packets of this codec to
	// the peer with it.
	Format
	// LocalPT is the number byocp wrote for the codec: the peer sends with
	// it.
	LocalPT uint8
}

// clone returns a State that shares no memory with s.
func (s State) clone() State {
	s.Codecs = slices.Clone(s.Codecs)
	s.LocalKey = bytes.Clone(s.LocalKey)
	s.RemoteKey = bytes.Clone(s.RemoteKey)
	s.Image = s.Image.clone()
	return s
}

// PayloadMap returns how the relay renumbers packets received on the leg
// from and sent on the leg to: the payload type from's peer sends each
// codec with (byocp's number on from) mapped to the one to's peer expects
// (its own number on to), for every codec agreed on both legs. Payload
// types missing from the map belong to no codec agreed on both legs.
func PayloadMap(from, to State) map[uint8]uint8 {
	m := make(map[uint8]uint8, len(from.Codecs))
	for _, c := range from.Codecs {
		for _, d := range to.Codecs {
			if codecKey(c.Format) == codecKey(d.Format) {
				m[c.LocalPT] = d.PayloadType
				break
			}
		}
	}
	return m
}
