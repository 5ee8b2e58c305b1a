package sdp

import (
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	pion "github.com/pion/sdp/v3"
)

// pionParse is Parse as it was before Read: pion/sdp v3 with byocp's
// repairs (bare CR, unterminated last line, missing s=). The parity tests
// check that Parse gives the same Media for every input both accept, but
// for the fields Parse has read since (see sincePion).
func pionParse(body []byte) (Media, error) {
	text, err := pionNormalize(body)
	if err != nil {
		return Media{}, err
	}
	var sd pion.SessionDescription
	if err := sd.UnmarshalString(text); err != nil {
		return Media{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if sd.Origin.NetworkType == "" {
		return Media{}, fmt.Errorf("%w: no o= line", ErrMalformed)
	}
	for _, md := range sd.MediaDescriptions {
		if md.MediaName.Media == "audio" {
			return pionAudioMedia(&sd, md)
		}
	}
	return Media{}, ErrNoAudio
}

func pionNormalize(body []byte) (string, error) {
	s := string(body)
	if strings.TrimSpace(s) == "" {
		return "", fmt.Errorf("%w: empty body", ErrMalformed)
	}
	bareCR := false
	for i := 0; i < len(s); i++ {
		if s[i] == '\r' && (i+1 == len(s) || s[i+1] != '\n') {
			bareCR = true
		}
	}
	if bareCR {
		s = strings.ReplaceAll(s, "\r\n", "\n")
		s = strings.ReplaceAll(s, "\r", "\n")
	}
	if !strings.HasSuffix(s, "\n") {
		s = strings.TrimRight(s, " \t") + "\n"
	}
	if !strings.Contains(s, "\ns=") {
		if i := strings.Index(s, "\no="); i >= 0 {
			end := i + 1 + strings.IndexByte(s[i+1:], '\n')
			s = s[:end] + "\ns=-" + s[end:]
		}
	}
	return s, nil
}

func pionAudioMedia(sd *pion.SessionDescription, md *pion.MediaDescription) (Media, error) {
	m := Media{
		Port:      md.MediaName.Port.Value,
		Proto:     strings.Join(md.MediaName.Protos, "/"),
		Direction: SendRecv,
	}
	ci := md.ConnectionInformation
	if ci == nil {
		ci = sd.ConnectionInformation
	}
	if ci == nil || ci.Address == nil || ci.Address.Address == "" {
		return Media{}, fmt.Errorf("%w: no c= address for the audio stream", ErrMalformed)
	}
	addr, err := netip.ParseAddr(ci.Address.Address)
	if err != nil || addr.Zone() != "" ||
		(ci.AddressType == "IP4" && !addr.Is4()) || (ci.AddressType == "IP6" && !addr.Is6()) {
		return Media{}, fmt.Errorf("%w: c= address", ErrMalformed)
	}
	m.Addr = addr
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
	for _, a := range sd.Attributes {
		if d := Direction(a.Key); d.valid() {
			m.Direction = d
		}
	}
	var seenRtpmap, seenFmtp [128]bool
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

// sincePion returns m without what Parse has read since it stopped using
// pion/sdp: a=rtcp and a=rtcp-mux (TestParse and TestReadPublished check
// those).
func sincePion(m Media) Media {
	m.RTCP, m.RTCPMux = netip.AddrPort{}, false
	return m
}

// parityFixtures are the SDP bodies of this package's tests that pion/sdp
// accepts, with the line-ending variants Parse always repaired.
func parityFixtures() map[string]string {
	fx := map[string]string{
		"zoom offer":         zoomOffer,
		"carrier offer":      carrierOffer,
		"ipv6 offer":         ipv6Offer,
		"media-level c=":     mediaLevelOffer,
		"carrier invite":     carrierInvite,
		"zoom answer":        zoomAnswerSDP(990001, 96, "1 AES_CM_128_HMAC_SHA1_80 inline:"+keyCM128, "sendrecv"),
		"carrier answer":     carrierAnswer(1700000000, "sendrecv"),
		"carrier hold":       carrierSDP(1700000001, "0.0.0.0", "m=audio 4000 RTP/AVP 0 8 96", "sendrecv"),
		"zoom sendonly":      zoomSDP(56391, "sendonly"),
		"zoom MKI":           zoomOfferWith("|2^31|1:4", 1, 2, 3, 4),
		"zoom with video":    zoomSDP(56391, "") + "m=video 34170 RTP/SAVP 97\r\na=rtpmap:97 H264/90000\r\n",
		"carrier missing s=": strings.Replace(carrierOffer, "s=-\r\n", "", 1),
		"video then audio":   sdpLines("m=video 0 RTP/AVP 31", "m=audio 4000 RTP/AVP 0", "m=audio 4002 RTP/AVP 8"),
		"rtpmap edge cases": sdpLines("m=audio 4000 RTP/AVP 0 96 97 98 99",
			"a=rtpmap:0 bogus", "a=rtpmap:96 AMR-WB/16000/1", "a=rtpmap:96 PCMA/8000", "a=rtpmap:97 two words/8000",
			"a=rtpmap:99\tL16/16000", "a=rtpmap:100 opus/48000/2", "a=fmtp:96  mode-change-capability=2",
			"a=fmtp:96 second=ignored", "a=fmtp:98", "a=ptime:abc"),
		"rfc4317 5.2 offer": rfc4317BlackHole,
		"freeswitch lf":     freeswitchLF,
		"freeswitch hold":   freeswitchHold,
		"mobicents":         mobicentsOffer,
		"cisco c= after m=": ciscoOffer,
		"cisco without s=":  ciscoNoSessionName,
		"telnyx maxptime":   telnyxAnswer,
		"didww audio only":  didwwAudio,
	}
	for name, body := range map[string]string{"zoom offer": zoomOffer, "carrier offer": carrierOffer} {
		fx[name+", LF"] = strings.ReplaceAll(body, "\r\n", "\n")
		fx[name+", CR"] = strings.ReplaceAll(body, "\r\n", "\r")
		fx[name+", no final newline"] = strings.TrimSuffix(body, "\r\n")
	}
	return fx
}

// TestParseParity: for the fixtures, which pion/sdp accepts, Parse gives
// exactly what the pion-based Parse gave.
func TestParseParity(t *testing.T) {
	for name, body := range parityFixtures() {
		t.Run(name, func(t *testing.T) {
			want, err := pionParse([]byte(body))
			if err != nil {
				t.Fatalf("pion-based Parse: %v", err)
			}
			got, err := Parse([]byte(body))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := sincePion(got); !reflect.DeepEqual(got, want) {
				t.Errorf("Parse:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}

// hasPaddedLine reports whether a line of body starts or ends with a space
// or tab, which pion/sdp keeps in attribute values and Read strips.
func hasPaddedLine(body []byte) bool {
	for _, l := range strings.FieldsFunc(string(body), func(r rune) bool { return r == '\r' || r == '\n' }) {
		if strings.Trim(l, " \t") != l {
			return true
		}
	}
	return false
}

// pionSplitsLine reports whether body has a v=, o=, c= or t= line with a
// "<letter>=" after its fields: pion/sdp reads only the fields it expects
// and takes the rest of the line as the next line, so that
// "v=0 o=- 1 1 IN IP4 192.0.2.1" counts as two lines there.
var pionSplitsLine = regexp.MustCompile(`(?m)^[ \t]*[voct]=.*[ \t][a-zA-Z]=`).Match

// FuzzParseParity compares Parse with the pion-based Parse: whatever both
// accept gives the same Media (for bodies without padded lines), and
// whatever pion accepted Parse accepts too, except for m= lines Read
// refuses (a signed port or count, a count of 0, control characters) and
// lines pion/sdp splits in two (see pionSplitsLine).
func FuzzParseParity(f *testing.F) {
	for _, body := range parityFixtures() {
		f.Add([]byte(body))
	}
	f.Add([]byte(sdpLines("m=audio +4000 RTP/AVP 0")))
	f.Add([]byte("v=\no= 0 0 IN\nt=\nm=audio 0 AVP 0\nc=IN IP4 0.0.0.0"))
	f.Add([]byte("v=0 o=0 0 0 IN IP4 0 s=0\nc=IN IP4 10.0.0.0 t=000\nm=audio 0 RTP/AVP 0\na=0"))
	f.Fuzz(func(t *testing.T, body []byte) {
		want, werr := pionParse(body)
		got, err := Parse(body)
		switch {
		case werr != nil:
			return // Parse is the more tolerant one
		case err != nil:
			if errors.Is(err, ErrMalformed) && strings.Contains(err.Error(), "m= line") || pionSplitsLine(body) {
				return
			}
			t.Fatalf("Parse = %v, pion-based Parse accepted it: %+v", err, want)
		case !hasPaddedLine(body) && !reflect.DeepEqual(sincePion(got), want):
			t.Fatalf("Parse:\n got %+v\nwant %+v", got, want)
		}
	})
}
