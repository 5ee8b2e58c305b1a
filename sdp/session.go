package sdp

import (
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"

	pion "github.com/pion/sdp/v3"
)

// session is a whole session description as a Leg keeps it: every m-line
// in its position (RFC 3264 section 8: m-lines are never removed or
// reordered, and an answer has as many as its offer).
type session struct {
	lines []mline
}

// mline is one m-line. audio is the stream of an active (port != 0) audio
// m-line, image that of an active T.38 image m-line (udptl t38); other
// m-lines keep only what is needed to reject them in place.
type mline struct {
	typ   string   // media type: "audio", "video", "image", ...
	port  int      // 0 = rejected or disabled
	proto string   // "RTP/AVP", "RTP/SAVP", "udptl", "UDP/TLS/RTP/SAVPF", ...
	fmts  []string // the m-line's formats as written
	audio *Media   // the stream of an active audio m-line, nil otherwise
	image *Image   // the stream of an active T.38 image m-line, nil otherwise
	err   error    // why audio or image is nil for an active m-line of its kind
}

// parseSession reads every m-line of body with Read, whatever its media
// type and protocol (m=image ... udptl t38 included). An active audio or
// T.38 image m-line that cannot be read is kept with its error, so that
// only the streams a Leg negotiates have to be readable.
func parseSession(body []byte) (session, error) {
	d, err := Read(body)
	if err != nil {
		return session{}, err
	}
	s := session{lines: make([]mline, len(d.Media))}
	for i := range d.Media {
		sec := &d.Media[i]
		l := mline{typ: sec.Type, port: sec.Port, proto: sec.Proto, fmts: sec.Formats}
		switch {
		case l.port == 0:
		case l.typ == "audio":
			if m, err := audioMedia(d, i); err != nil {
				l.err = err
			} else {
				l.audio = &m
			}
		case isT38(l.typ, l.proto, l.fmts):
			if m, err := imageStream(d, i); err != nil {
				l.err = err
			} else {
				l.image = &m
			}
		}
		s.lines[i] = l
	}
	return s, nil
}

// active returns the first active audio m-line of an offer: the stream a
// Leg negotiates. Errors wrap ErrNoAudio (no audio m-line, such as a T.38
// re-offer that replaced the audio m-line with m=image), ErrUnacceptable
// (audio m-lines that are all disabled, such as a T.38 re-offer with
// "m=audio 0" next to m=image) or the stream's ErrMalformed. The index is
// -1 with the first two errors, the stream's position with the last.
func (s session) active() (int, Media, error) {
	audio, image := false, false
	for i, l := range s.lines {
		image = image || (l.typ == "image" && l.port != 0)
		if l.typ != "audio" {
			continue
		}
		audio = true
		if l.port == 0 {
			continue
		}
		if l.err != nil {
			return i, Media{}, l.err
		}
		return i, *l.audio, nil
	}
	const t38 = " (T.38 m=image is not relayed, only rejected next to an active audio stream)"
	switch {
	case !audio && image:
		return -1, Media{}, fmt.Errorf("%w%s", ErrNoAudio, t38)
	case !audio:
		return -1, Media{}, ErrNoAudio
	case image:
		return -1, Media{}, fmt.Errorf("%w: no active audio stream%s", ErrUnacceptable, t38)
	}
	return -1, Media{}, fmt.Errorf("%w: no active audio stream", ErrUnacceptable)
}

// t38 returns the first active T.38 image m-line (m=image <port> udptl
// t38) of an offer: the image stream a Leg with an ImagePort negotiates.
// The index is -1 when there is none; the error is the stream's
// ErrMalformed.
func (s session) t38() (int, *Image, error) {
	for i, l := range s.lines {
		if l.port == 0 || !isT38(l.typ, l.proto, l.fmts) {
			continue
		}
		if l.err != nil {
			return i, nil, l.err
		}
		return i, l.image.clone(), nil
	}
	return -1, nil, nil
}

// sameSession reports whether two session descriptions say the same thing
// as far as this package reads SDP, whatever their o= lines. Image
// streams are compared (address, port, attributes) only when images is
// true, for a Leg that relays them.
func sameSession(a, b session, images bool) bool {
	return slices.EqualFunc(a.lines, b.lines, func(x, y mline) bool {
		return x.typ == y.typ && x.port == y.port && x.proto == y.proto && slices.Equal(x.fmts, y.fmts) &&
			(x.audio == nil) == (y.audio == nil) && (x.audio == nil || reflect.DeepEqual(*x.audio, *y.audio)) &&
			(!images || reflect.DeepEqual(x.image, y.image))
	})
}

// rejected returns l as a rejected m-line: same type, proto and formats,
// port 0 and nothing else. An m-line byocp wrote keeps the formats it had
// (the payload types of its audio, t38).
func rejected(l mline) mline {
	fmts := l.fmts
	switch {
	case fmts != nil:
	case l.audio != nil:
		for _, f := range l.audio.Formats {
			fmts = append(fmts, strconv.Itoa(int(f.PayloadType)))
		}
	case l.image != nil:
		fmts = l.image.Formats
	}
	return mline{typ: l.typ, proto: l.proto, fmts: fmts}
}

// marshalSession writes byocp's SDP for lines: the active audio m-line as
// Marshal writes it, the active image m-line with its attributes, every
// other m-line rejected with port 0.
func marshalSession(o *Origin, addr netip.Addr, lines []mline) ([]byte, error) {
	if err := checkOrigin(o); err != nil {
		return nil, err
	}
	mds := make([]*pion.MediaDescription, 0, len(lines))
	for _, l := range lines {
		if l.audio != nil || l.image != nil {
			var md *pion.MediaDescription
			var err error
			if l.audio != nil {
				md, err = mediaDescription(*l.audio)
			} else if md, err = imageDescription(l.image); err == nil {
				md.MediaName.Media = l.typ // as the offer wrote it
			}
			if err != nil {
				return nil, err
			}
			mds = append(mds, md)
			continue
		}
		fmts := l.fmts
		if len(fmts) == 0 {
			fmts = []string{"0"} // an m-line needs a format (RFC 4566)
		}
		mds = append(mds, &pion.MediaDescription{MediaName: pion.MediaName{
			Media:   l.typ,
			Port:    pion.RangedPort{Value: 0},
			Protos:  strings.Split(l.proto, "/"),
			Formats: fmts,
		}})
	}
	sd := sessionDescription(o, addr, mds)
	return sd.Marshal()
}

// effective returns the direction m's sender really asks for: the legacy
// hold of RFC 2543 (c= 0.0.0.0, or :: for IPv6; RFC 3264 section 8.4)
// means the sender receives nothing, whatever its direction attribute.
func effective(m Media) Direction {
	d := m.Direction
	if d == "" {
		d = SendRecv
	}
	if m.Addr.IsUnspecified() {
		switch d {
		case SendRecv:
			return SendOnly
		case RecvOnly:
			return Inactive
		}
	}
	return d
}

// reverse returns d as seen from the other end: sendonly becomes recvonly
// and recvonly sendonly.
func (d Direction) reverse() Direction {
	switch d {
	case SendOnly:
		return RecvOnly
	case RecvOnly:
		return SendOnly
	}
	return d
}

func (d Direction) sends() bool    { return d == SendRecv || d == SendOnly || d == "" }
func (d Direction) receives() bool { return d == SendRecv || d == RecvOnly || d == "" }

// intersect returns the direction that does only what both a and b allow.
func intersect(a, b Direction) Direction {
	send, recv := a.sends() && b.sends(), a.receives() && b.receives()
	switch {
	case send && recv:
		return SendRecv
	case send:
		return SendOnly
	case recv:
		return RecvOnly
	}
	return Inactive
}
