package sdp

import (
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// byocp's UDPTL ports on the two legs of a test call that relays T.38.
const (
	carrierImagePort = 40004
	zoomImagePort    = 40006
)

// newT38Call is a test call whose legs relay T.38 on the given UDPTL
// ports (0: not on that leg).
func newT38Call(t *testing.T, carrierImage, zoomImage int) *testCall {
	t.Helper()
	kc, zc := carrierLegConfig(), zoomLegConfig()
	kc.ImagePort, zc.ImagePort = carrierImage, zoomImage
	carrier, err := NewLeg(kc)
	if err != nil {
		t.Fatal(err)
	}
	zoom, err := NewLeg(zc)
	if err != nil {
		t.Fatal(err)
	}
	return &testCall{t: t, carrier: carrier, zoom: zoom, keys: map[string]string{}}
}

// zoomT38 are the T.38 attributes of Zoom's side in these tests, with the
// values of the T.38 Annex D style example (T38FaxMaxBuffer 262,
// T38FaxMaxDatagram 176); Zoom's real T.38 SDP is not published.
var zoomT38 = []string{
	"a=T38FaxVersion:0",
	"a=T38MaxBitRate:14400",
	"a=T38FaxRateManagement:transferredTCF",
	"a=T38FaxMaxBuffer:262",
	"a=T38FaxMaxDatagram:176",
	"a=T38FaxUdpEC:t38UDPRedundancy",
}

// bobT38 are the T.38 attributes of t38ReInvite (rtpengine issue 1201),
// with its property attribute a=T38FaxFillBitRemoval.
var bobT38 = []string{
	"a=T38FaxVersion:0",
	"a=T38MaxBitRate:14400",
	"a=T38FaxFillBitRemoval",
	"a=T38FaxRateManagement:transferredTCF",
	"a=T38FaxMaxBuffer:2000",
	"a=T38FaxMaxDatagram:400",
	"a=T38FaxUdpEC:t38UDPRedundancy",
}

// didwwT38 are the attributes byocp relays of didwwFax's image stream:
// a=direction:both is dropped.
var didwwT38 = []string{
	"a=sendrecv",
	"a=T38FaxMaxDatagram:612",
	"a=T38FaxRateManagement:transferredTCF",
	"a=T38FaxUdpEC:t38UDPRedundancy",
	"a=T38FaxVersion:0",
	"a=T38MaxBitRate:14400",
}

// zoomImageSDP is Zoom's SDP with o= version v and only an image stream
// on port 34172 with zoomT38: its answer, or its own T.38 re-INVITE.
func zoomImageSDP(v int) string {
	return crlf(append([]string{
		"v=0",
		fmt.Sprintf("o=Sonus_UAS 990001 %d IN IP4 2.2.2.2", v),
		"s=SIP Media Capabilities",
		"c=IN IP4 3.3.3.3",
		"t=0 0",
		"m=image 34172 udptl t38",
	}, zoomT38...)...)
}

// section joins an m= line and its attributes.
func section(mline string, attrs []string) []string { return append([]string{mline}, attrs...) }

// replaced returns lines with line i replaced by s.
func replaced(lines []string, i int, s string) []string {
	out := append([]string{}, lines...)
	out[i] = s
	return out
}

// attrs parses "a=" lines into Attributes.
func attrs(lines []string) []Attribute {
	out := make([]Attribute, len(lines))
	for i, l := range lines {
		out[i] = attribute(strings.TrimPrefix(l, "a="))
	}
	return out
}

// image is the Image a peer wrote at addr with the given attribute lines.
func image(addr string, attrLines []string) *Image {
	ap := netip.MustParseAddrPort(addr)
	return &Image{Addr: ap.Addr(), Port: int(ap.Port()), Proto: "udptl", Formats: []string{"t38"}, Attributes: attrs(attrLines)}
}

// checkImage compares a leg's negotiated image stream with want.
func checkImage(t *testing.T, leg string, got State, want *Image) {
	t.Helper()
	if !reflect.DeepEqual(got.Image, want) {
		t.Errorf("%s leg image:\n got %+v\nwant %+v", leg, got.Image, want)
	}
}

// checkNoAudio checks the State of a leg whose audio stream is gone: no
// Remote, inactive, no codecs, Index -1, its keys kept.
func checkNoAudio(t *testing.T, leg string, got, before State) {
	t.Helper()
	if got.Remote.IsValid() || got.Direction != Inactive || got.Codecs != nil || got.Index != -1 || got.Ptime != 0 ||
		got.Suite != before.Suite || string(got.LocalKey) != string(before.LocalKey) || string(got.RemoteKey) != string(before.RemoteKey) {
		t.Errorf("%s leg without audio: %+v (before %+v)", leg, got, before)
	}
}

// TestLegT38AudioAndImage: an INVITE offering audio and T.38 at once
// (DIDWW, FreeSWITCH issue 1297) is relayed with both streams when both
// legs relay T.38; the image attributes pass through in order (without
// a=direction:both), and Zoom's answered ones come back. When Zoom
// rejects the image stream, so does byocp.
func TestLegT38AudioAndImage(t *testing.T) {
	zoomOffer := byocpSDP("zoom", 1, append([]string{
		"m=audio 40002 RTP/SAVP 0 8 18 101",
		"a=rtpmap:0 PCMU/8000",
		"a=rtpmap:8 PCMA/8000",
		"a=rtpmap:18 G729/8000",
		"a=fmtp:18 annexb=no",
		"a=rtpmap:101 telephone-event/8000",
		"a=ptime:20",
		"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{K1}",
		"a=sendrecv",
	}, section("m=image 40006 udptl t38", didwwT38)...)...)
	audio := []string{
		"m=audio 40000 RTP/AVP 0 101",
		"a=rtpmap:0 PCMU/8000",
		"a=rtpmap:101 telephone-event/8000",
		"a=fmtp:101 0-15",
		"a=ptime:20",
		"a=sendrecv",
	}
	zoomAudio := zoomAnswerSDP(990001, 101, "1 AES_CM_128_HMAC_SHA1_80 inline:"+keyCM128, "sendrecv")

	t.Run("accepted", func(t *testing.T) {
		c := newT38Call(t, carrierImagePort, zoomImagePort)
		off, err := c.carrier.ReceiveOffer([]byte(didwwFax))
		if err != nil {
			t.Fatal(err)
		}
		if want := image("46.19.209.78:13962", didwwT38); !reflect.DeepEqual(off.Media.Image, want) || off.Media.Port != 13960 {
			t.Errorf("Offer.Media: %+v, image %+v", off.Media, off.Media.Image)
		}
		c.carrier.Rollback()
		c.step(step{
			from: "carrier", offer: didwwFax, relay: true,
			wantOffer:  zoomOffer,
			answer:     zoomAudio + crlf(section("m=image 34172 udptl t38", zoomT38)...),
			wantAnswer: byocpSDP("carrier", 1, append(audio, section("m=image 40004 udptl t38", zoomT38)...)...),
		})
		k, z := c.carrier.Current(), c.zoom.Current()
		checkImage(t, "carrier", k, image("46.19.209.78:13962", didwwT38))
		checkImage(t, "Zoom", z, image("3.3.3.3:34172", zoomT38))
		if k.Remote.String() != "46.19.209.78:13960" || k.Index != 0 || z.Remote.String() != "3.3.3.3:34170" || z.Index != 0 {
			t.Errorf("audio: carrier %+v, Zoom %+v", k, z)
		}
		// The same INVITE again (a retransmission handled as a refresh).
		c.step(step{from: "carrier", offer: didwwFax, refresh: true,
			wantAnswer: byocpSDP("carrier", 1, append(audio, section("m=image 40004 udptl t38", zoomT38)...)...)})
	})

	t.Run("rejected by Zoom", func(t *testing.T) {
		c := newT38Call(t, carrierImagePort, zoomImagePort)
		c.step(step{
			from: "carrier", offer: didwwFax, relay: true,
			wantOffer:  zoomOffer,
			answer:     zoomAudio + "m=image 0 udptl t38\r\n",
			wantAnswer: byocpSDP("carrier", 1, append(audio, "m=image 0 udptl t38")...),
		})
		checkImage(t, "carrier", c.carrier.Current(), nil)
		checkImage(t, "Zoom", c.zoom.Current(), nil)
	})

	t.Run("not relayed on the Zoom leg", func(t *testing.T) {
		c := newT38Call(t, carrierImagePort, 0)
		c.step(step{
			from: "carrier", offer: didwwFax, relay: true,
			wantOffer:  zoomOffer[:strings.Index(zoomOffer, "m=image")],
			answer:     zoomAudio,
			wantAnswer: byocpSDP("carrier", 1, append(audio, "m=image 0 udptl t38")...),
		})
		checkImage(t, "carrier", c.carrier.Current(), nil)
		// A T.38 re-INVITE cannot be offered to Zoom: both legs roll back.
		off, err := c.carrier.ReceiveOffer([]byte(t38ReInvite))
		if err != nil || !off.Relay {
			t.Fatalf("ReceiveOffer: %+v, %v", off, err)
		}
		before := c.zoom.Current()
		if _, err := c.zoom.OfferFrom(off.Media); !errors.Is(err, ErrNoCommonCodec) {
			t.Fatalf("OfferFrom(image only) on a leg without ImagePort = %v", err)
		}
		c.carrier.Rollback()
		if !reflect.DeepEqual(c.zoom.Current(), before) {
			t.Error("the refused offer changed the Zoom leg")
		}
		c.step(step{from: "carrier", offer: didwwFax, refresh: true,
			wantAnswer: byocpSDP("carrier", 1, append(audio, "m=image 0 udptl t38")...)})
	})
}

// TestLegT38ReInvite: on a carrier->Zoom call the carrier switches to
// T.38 with a re-INVITE whose m=image replaced the audio (rtpengine issue
// 1201). byocp changes the Zoom leg's m-line to image in place, and back
// to audio after the fax, with Zoom's key and payload types as before.
// Refreshes and moves are answered on the carrier leg; changed T.38
// attributes are relayed.
func TestLegT38ReInvite(t *testing.T) {
	c := newT38Call(t, carrierImagePort, zoomImagePort)
	c.step(carrierToZoom)
	zoomBefore := c.zoom.Current()

	off, err := c.carrier.ReceiveOffer([]byte(t38ReInvite))
	if err != nil {
		t.Fatal(err)
	}
	if m := off.Media; m.Port != 0 || m.Formats != nil || m.Proto != "" || !reflect.DeepEqual(m.Image, image("192.168.171.230:20334", bobT38)) {
		t.Errorf("Offer.Media of an image-only offer: %+v, image %+v", m, m.Image)
	}
	c.carrier.Rollback()

	faxAnswer := byocpSDP("carrier", 2, section("m=image 40004 udptl t38", zoomT38)...)
	c.step(step{
		from: "carrier", offer: t38ReInvite, relay: true,
		wantOffer:  byocpSDP("zoom", 2, section("m=image 40006 udptl t38", bobT38)...),
		answer:     zoomImageSDP(990002),
		wantAnswer: faxAnswer,
	})
	k, z := c.carrier.Current(), c.zoom.Current()
	checkNoAudio(t, "carrier", k, State{})
	checkNoAudio(t, "Zoom", z, zoomBefore)
	checkImage(t, "carrier", k, image("192.168.171.230:20334", bobT38))
	checkImage(t, "Zoom", z, image("3.3.3.3:34172", zoomT38))

	// A session refresh, with and without a new o= version, and a UDPTL
	// move: answered on the carrier leg with the same SDP.
	c.step(step{from: "carrier", offer: t38ReInvite, refresh: true, wantAnswer: faxAnswer})
	bumped := strings.Replace(t38ReInvite, "1614699264 1614699267", "1614699264 1614699268", 1)
	c.step(step{from: "carrier", offer: bumped, refresh: true, wantAnswer: faxAnswer})
	moved := strings.Replace(bumped, "m=image 20334", "m=image 20336", 1)
	c.step(step{from: "carrier", offer: moved, wantAnswer: faxAnswer})
	checkImage(t, "carrier", c.carrier.Current(), image("192.168.171.230:20336", bobT38))

	// Other T.38 attributes are relayed; Zoom's unchanged answer gives the
	// carrier the same SDP, with the same version.
	slower := strings.Replace(moved, "a=T38MaxBitRate:14400", "a=T38MaxBitRate:9600", 1)
	c.step(step{
		from: "carrier", offer: slower, relay: true,
		wantOffer:  byocpSDP("zoom", 3, section("m=image 40006 udptl t38", replaced(bobT38, 1, "a=T38MaxBitRate:9600"))...),
		answer:     zoomImageSDP(990003),
		wantAnswer: faxAnswer,
	})

	// Back to audio: the image m-line becomes audio again on both legs.
	c.step(step{
		from: "carrier", offer: carrierSDP(1700000002, "198.51.100.20", "m=audio 4000 RTP/AVP 0 8 96", "sendrecv"), relay: true,
		wantOffer:  zoomOffered(4, "sendrecv", "1", "0 PCMU/8000", "8 PCMA/8000", "96 telephone-event/8000"),
		answer:     zoomAnswerSDP(990004, 96, "1 AES_CM_128_HMAC_SHA1_80 inline:"+keyCM128, "sendrecv"),
		wantAnswer: carrierAnswered(3, "sendrecv", "96", "0-15"),
	})
	k, z = c.carrier.Current(), c.zoom.Current()
	if !reflect.DeepEqual(z, zoomBefore) {
		t.Errorf("Zoom leg after the fax:\n got %+v\nwant %+v", z, zoomBefore)
	}
	if k.Remote.String() != "198.51.100.20:4000" || k.Index != 0 || k.Image != nil || len(c.keys) != 1 {
		t.Errorf("carrier leg after the fax: %+v", k)
	}
}

// TestLegT38DisabledAudio: on a Zoom->carrier call the carrier switches
// to T.38 with a re-INVITE that disables the audio next to m=image
// (rtpengine issue 686) and back with one that disables the image. The
// carrier's m-lines are answered in place; Zoom's single m-line changes
// type in place.
func TestLegT38DisabledAudio(t *testing.T) {
	c := newT38Call(t, carrierImagePort, zoomImagePort)
	c.step(zoomToCarrier)
	zoomBefore := c.zoom.Current()
	c.step(step{
		from: "carrier", offer: t38DisabledAudio, relay: true,
		wantOffer: byocpSDP("zoom", 2, "m=image 40006 udptl t38", "a=T38FaxVersion:0", "a=T38FaxRateManagement:transferredTCF"),
		answer:    zoomImageSDP(990002),
		wantAnswer: byocpSDP("carrier", 2, append([]string{"m=audio 0 RTP/AVP 8 101"},
			section("m=image 40004 udptl t38", zoomT38)...)...),
	})
	checkNoAudio(t, "carrier", c.carrier.Current(), State{})
	checkNoAudio(t, "Zoom", c.zoom.Current(), zoomBefore)
	checkImage(t, "carrier", c.carrier.Current(), image("192.168.2.2:49158", []string{"a=T38FaxVersion:0", "a=T38FaxRateManagement:transferredTCF"}))

	back := carrierSDP(1700000001, "198.51.100.20", "m=audio 4000 RTP/AVP 0 96", "sendrecv") + "m=image 0 udptl t38\r\n"
	c.step(step{
		from: "carrier", offer: back, relay: true,
		wantOffer:  zoomAnswered(3, "sendrecv", "{K1}"),
		answer:     zoomAnswerSDP(990003, 101, "3 AES_CM_128_HMAC_SHA1_80 inline:"+keyCM128, "sendrecv"),
		wantAnswer: carrierAnswered(3, "sendrecv", "96", "0-15") + "m=image 0 udptl t38\r\n",
	})
	if z := c.zoom.Current(); z.Index != 0 || z.Image != nil || string(z.LocalKey) != string(zoomBefore.LocalKey) || len(c.keys) != 1 {
		t.Errorf("Zoom leg after the fax: %+v", z)
	}
	if k := c.carrier.Current(); k.Index != 0 || k.Image != nil || k.Remote.String() != "198.51.100.20:4000" {
		t.Errorf("carrier leg after the fax: %+v", k)
	}
}

// TestLegT38FromZoom: on a carrier->Zoom call Zoom switches to T.38 (its
// SDP has no a=crypto then); the carrier's m-line changes type in place;
// a re-INVITE without SDP during the fax gets byocp's image SDP; Zoom's
// key survives.
func TestLegT38FromZoom(t *testing.T) {
	c := newT38Call(t, carrierImagePort, zoomImagePort)
	c.step(carrierToZoom)
	zoomBefore := c.zoom.Current()
	bob := strings.Replace(t38ReInvite, "o=name 1614699264 1614699267", "o=- 1700000000 1700000001", 1)
	zoomFax := byocpSDP("zoom", 2, section("m=image 40006 udptl t38", bobT38)...)
	c.step(step{
		from: "zoom", offer: strings.Replace(zoomImageSDP(56391), "Sonus_UAS 990001", "Sonus_UAC 282321", 1), relay: true,
		wantOffer:  byocpSDP("carrier", 2, section("m=image 40004 udptl t38", zoomT38)...),
		answer:     bob,
		wantAnswer: zoomFax,
	})
	checkNoAudio(t, "Zoom", c.zoom.Current(), zoomBefore)
	checkImage(t, "carrier", c.carrier.Current(), image("192.168.171.230:20334", bobT38))

	// The carrier re-INVITEs without SDP: byocp's current SDP, unchanged,
	// and the carrier's answer in the ACK moves its UDPTL port.
	c.step(step{
		from: "carrier", wantOffer: byocpSDP("carrier", 2, section("m=image 40004 udptl t38", zoomT38)...),
		answer: strings.Replace(bob, "m=image 20334", "m=image 20338", 1),
	})
	checkImage(t, "carrier", c.carrier.Current(), image("192.168.171.230:20338", bobT38))

	// Zoom goes back to audio.
	c.step(step{
		from: "zoom", offer: zoomSDP(56392, ""), relay: true,
		wantOffer:  carrierOffered(3, "sendrecv", "96"),
		answer:     carrierAnswer(1700000002, "sendrecv"),
		wantAnswer: zoomAnswered(3, "sendrecv", "{K1}"),
	})
	if z := c.zoom.Current(); z.Index != 0 || z.Image != nil || z.Remote.String() != "3.3.3.3:34168" || len(c.keys) != 1 {
		t.Errorf("Zoom leg after the fax: %+v", z)
	}
}

// TestLegT38Rollback: a T.38 re-INVITE that Zoom refuses rolls both legs
// back; the call goes on as audio, and the o= version of the refused
// offer is not reused.
func TestLegT38Rollback(t *testing.T) {
	c := newT38Call(t, carrierImagePort, zoomImagePort)
	c.step(carrierToZoom)
	c.step(step{
		from: "carrier", offer: t38ReInvite, relay: true,
		wantOffer: byocpSDP("zoom", 2, section("m=image 40006 udptl t38", bobT38)...),
	})
	c.step(step{
		from: "carrier", offer: carrierSDP(1700000001, "198.51.100.20", "m=audio 4000 RTP/AVP 0 8 96", "sendonly"), relay: true,
		wantOffer:  zoomOffered(3, "sendonly", "1", "0 PCMU/8000", "8 PCMA/8000", "96 telephone-event/8000"),
		answer:     zoomAnswerSDP(990002, 96, "1 AES_CM_128_HMAC_SHA1_80 inline:"+keyCM128, "recvonly"),
		wantAnswer: carrierAnswered(2, "recvonly", "96", "0-15"),
	})
	if k, z := c.carrier.Current(), c.zoom.Current(); k.Image != nil || z.Image != nil || k.Index != 0 || z.Index != 0 {
		t.Errorf("after the refused fax: carrier %+v, Zoom %+v", k, z)
	}

	// The same refusal from an answer that rejects the only stream.
	off, err := c.carrier.ReceiveOffer([]byte(t38ReInvite))
	if err != nil {
		t.Fatal(err)
	}
	before := c.zoom.Current()
	if _, err := c.zoom.OfferFrom(off.Media); err != nil {
		t.Fatal(err)
	}
	if _, err := c.zoom.TakeAnswer([]byte(strings.Replace(zoomImageSDP(990003), "m=image 34172", "m=image 0", 1))); !errors.Is(err, ErrUnacceptable) {
		t.Errorf("TakeAnswer rejecting the only stream = %v", err)
	}
	if _, err := c.carrier.Answer(Media{}); !errors.Is(err, ErrUnacceptable) {
		t.Errorf("Answer(nothing) to an image-only offer = %v", err)
	}
	if !reflect.DeepEqual(c.zoom.Current(), before) {
		t.Error("the refused answer changed the Zoom leg")
	}
}

// TestLegT38Answers: answers to byocp's offer with audio and image: one
// that rejects the audio but keeps the image goes on as fax; one that
// turns the image m-line into something else is refused.
func TestLegT38Answers(t *testing.T) {
	c := newT38Call(t, carrierImagePort, zoomImagePort)
	off, err := c.carrier.ReceiveOffer([]byte(didwwFax))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.zoom.OfferFrom(off.Media); err != nil {
		t.Fatal(err)
	}
	video := zoomAnswerSDP(990001, 101, "1 AES_CM_128_HMAC_SHA1_80 inline:"+keyCM128, "sendrecv") + "m=video 34172 RTP/SAVP 97\r\n"
	if _, err := c.zoom.TakeAnswer([]byte(video)); !errors.Is(err, ErrUnacceptable) {
		t.Fatalf("TakeAnswer with video for image = %v", err)
	}
	c.carrier.Rollback()

	c.step(step{
		from: "carrier", offer: didwwFax, relay: true,
		answer: strings.Replace(zoomImageSDP(990001), "m=image", "m=audio 0 RTP/SAVP 0\r\nm=image", 1),
		wantAnswer: byocpSDP("carrier", 1, append([]string{"m=audio 0 RTP/AVP 0 8 18 4 101"},
			section("m=image 40004 udptl t38", zoomT38)...)...),
	})
	checkNoAudio(t, "carrier", c.carrier.Current(), State{})
	checkNoAudio(t, "Zoom", c.zoom.Current(), State{})
	checkImage(t, "Zoom", c.zoom.Current(), image("3.3.3.3:34172", zoomT38))
}

// TestLegT38EarlyAnswer: a 183 with audio and image is early media for
// both streams; the final answer with the same SDP gives the caller the
// same SDP.
func TestLegT38EarlyAnswer(t *testing.T) {
	c := newT38Call(t, carrierImagePort, zoomImagePort)
	off, err := c.carrier.ReceiveOffer([]byte(didwwFax))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.zoom.OfferFrom(off.Media); err != nil {
		t.Fatal(err)
	}
	early := []byte(zoomAnswerSDP(990001, 101, "1 AES_CM_128_HMAC_SHA1_80 inline:"+keyCM128, "sendrecv") + crlf(section("m=image 34172 udptl t38", zoomT38)...))
	m, st, err := c.zoom.PeekAnswer(early)
	if err != nil {
		t.Fatal(err)
	}
	checkImage(t, "early Zoom", st, image("3.3.3.3:34172", zoomT38))
	if !reflect.DeepEqual(m.Image, image("3.3.3.3:34172", zoomT38)) || c.zoom.Current().Image != nil {
		t.Errorf("PeekAnswer: image %+v, Zoom leg %+v", m.Image, c.zoom.Current())
	}
	earlyBody, err := c.carrier.AnswerEarly(m)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(earlyBody), "m=image 40004 udptl t38\r\na=T38FaxVersion:0\r\n") || c.carrier.Current().Image != nil {
		t.Errorf("AnswerEarly: %s", earlyBody)
	}
	final, err := c.zoom.TakeAnswer(early)
	if err != nil {
		t.Fatal(err)
	}
	body, err := c.carrier.Answer(final)
	if err != nil || string(body) != string(earlyBody) {
		t.Errorf("final answer (%v):\n%s\nearly:\n%s", err, body, earlyBody)
	}
	checkImage(t, "carrier", c.carrier.Current(), image("46.19.209.78:13962", didwwT38))
}

// TestLegT38Streams: which m=image lines a leg with an ImagePort relays,
// and which attributes: only the first active T.38 stream over UDPTL (in
// any case, answered as written), T.38 attributes and directions in order.
func TestLegT38Streams(t *testing.T) {
	head := "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n"
	c := newT38Call(t, carrierImagePort, zoomImagePort)
	off, err := c.carrier.ReceiveOffer([]byte(head +
		"m=image 5000 TCP t38\r\n" +
		"m=IMAGE 5002 UDPTL T38\r\nc=IN IP4 192.0.2.9\r\na=rtcp:5003\r\na=t38faxversion:3\r\na=ptime:20\r\na=X-vendor\r\na=T38VendorInfo:0 0 0\r\na=inactive\r\na=T38FaxUdpEC:t38UDPFEC\r\n" +
		"m=image 5004 udptl t38\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := &Image{Addr: netip.MustParseAddr("192.0.2.9"), Port: 5002, Proto: "UDPTL", Formats: []string{"T38"},
		Attributes: attrs([]string{"a=t38faxversion:3", "a=T38VendorInfo:0 0 0", "a=inactive", "a=T38FaxUdpEC:t38UDPFEC"})}
	if !reflect.DeepEqual(off.Media.Image, want) {
		t.Fatalf("Offer.Media.Image = %+v", off.Media.Image)
	}
	ob, err := c.zoom.OfferFrom(off.Media)
	if err != nil {
		t.Fatal(err)
	}
	if i := strings.Index(string(ob), "m=image"); i < 0 || string(ob[i:]) != "m=image 40006 udptl t38\r\na=t38faxversion:3\r\na=T38VendorInfo:0 0 0\r\na=inactive\r\na=T38FaxUdpEC:t38UDPFEC\r\n" {
		t.Errorf("offer to Zoom:\n%s", ob)
	}
	c.zoom.Rollback()
	ab, err := c.carrier.Answer(Media{Formats: []Format{{Name: "PCMU", ClockRate: 8000}}, Image: &Image{Attributes: attrs(zoomT38)}})
	if err != nil {
		t.Fatal(err)
	}
	wantTail := "m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\nm=image 0 TCP t38\r\nm=IMAGE 40004 UDPTL T38\r\n" +
		crlf(zoomT38...) + "m=image 0 udptl t38\r\n"
	if !strings.HasSuffix(string(ab), wantTail) {
		t.Errorf("answer:\n%s\nwant it to end in:\n%s", ab, wantTail)
	}
	if st := c.carrier.Current(); st.Index != 0 || !reflect.DeepEqual(st.Image, want) {
		t.Errorf("carrier State %+v, image %+v", st, st.Image)
	}

	// An image stream without a usable address is refused like audio.
	d, err := NewLeg(LegConfig{Addr: carrierAddr, Port: 40000, ImagePort: 40004})
	if err != nil {
		t.Fatal(err)
	}
	noAddr := "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\nm=image 5002 udptl t38\r\n"
	if _, err := d.ReceiveOffer([]byte(noAddr)); !errors.Is(err, ErrMalformed) {
		t.Errorf("image stream without c= = %v", err)
	}
}

// TestLegImagePort: NewLeg checks ImagePort like Port, and refuses
// byocp's RTP port for it.
func TestLegImagePort(t *testing.T) {
	for _, p := range []int{-1, 65536, 40000} {
		if _, err := NewLeg(LegConfig{Addr: carrierAddr, Port: 40000, ImagePort: p}); err == nil {
			t.Errorf("ImagePort %d accepted", p)
		}
	}
	for _, p := range []int{0, 1, 40002, 65535} {
		if _, err := NewLeg(LegConfig{Addr: carrierAddr, Port: 40000, ImagePort: p}); err != nil {
			t.Errorf("ImagePort %d: %v", p, err)
		}
	}
}
