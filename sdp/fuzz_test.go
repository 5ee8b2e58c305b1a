package sdp

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics, that every error it returns is
// classified, and that whatever it accepts Marshal can write and Parse
// reads back unchanged.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		zoomOffer, carrierOffer, ipv6Offer, mediaLevelOffer,
		strings.ReplaceAll(zoomOffer, "\r\n", "\n"),
		strings.ReplaceAll(carrierOffer, "\r\n", "\r"),
		sdpLines("m=audio 4000 RTP/AVP 0", "m=image 4002 udptl t38"),
		didwwFax, t38ReInvite, freeswitchHold, ciscoNoSessionName, rfc3264Capabilities,
		sdpLines("m=audio 0 RTP/SAVP 0 96", "a=rtpmap:96 x/0/0", "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"+keyCM128+"|2^31|1:4 KDR=1"),
		"", "v=0\r\n", "garbage",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := Parse(body)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrNoAudio) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		out, err := Marshal(testOrigin(), m)
		if err != nil {
			t.Fatalf("Marshal(Parse(x)) = %v for %+v", err, m)
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("Parse(Marshal(Parse(x))) = %v\n%q", err, out)
		}
		if !reflect.DeepEqual(m, again) {
			t.Fatalf("round trip differs:\n got %+v\nwant %+v\nSDP %q", again, m, out)
		}
	})
}

// FuzzParseCrypto checks that ParseCrypto never panics, that String
// round-trips every attribute it accepts, and that Usable classifies every
// accepted attribute as usable or unsupported (never invalid), agrees with
// SelectCrypto, never passes an MKI and never quotes a key-sized field.
func FuzzParseCrypto(f *testing.F) {
	for _, s := range []string{
		"1 AEAD_AES_256_GCM inline:" + keyGCM256,
		"2 AES_256_CM_HMAC_SHA1_80 inline:" + strings.TrimRight(keyCM256, "="),
		"3 AES_CM_128_HMAC_SHA1_80 inline:" + keyCM128 + "|2^31|1:4 UNENCRYPTED_SRTCP",
		"4 AES_CM_128_HMAC_SHA1_32 inline:" + keyCM128b + "|1:4",
		"3 AES_CM_128_HMAC_SHA1_80 inline:" + keyCM128 + "|2^31 KDR=0 WSH=64 FEC_ORDER=FEC_SRTP -X",
		"3 AES_CM_128_HMAC_SHA1_80 inline:" + keyCM128 + "|16777215 FEC_KEY=inline:" + keyCM128b,
		"3 AES_CM_128_HMAC_SHA1_80 inline:" + keyCM128 + "|2^20|1:4;inline:" + keyCM128b + "|2^20|2:4",
		"3 AES_CM_128_HMAC_SHA1_80 inline:" + keyCM128 + "|2^00000000000000000000000000001|0000000000000000000000000001:4",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, value string) {
		c, err := ParseCrypto(value)
		if err != nil {
			if !errors.Is(err, ErrBadCrypto) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		again, err := ParseCrypto(c.String())
		if err != nil || !reflect.DeepEqual(c, again) {
			t.Fatalf("round trip of %q: %+v, %v", c.String(), again, err)
		}
		uerr := c.Usable()
		if _, ok := SelectCrypto([]Crypto{c}, []Suite{c.Suite}); ok != (uerr == nil) {
			t.Fatalf("SelectCrypto ok = %v but Usable() = %v", ok, uerr)
		}
		if uerr == nil {
			if c.MKI != "" {
				t.Fatalf("line with MKI %q is usable", c.MKI)
			}
			return
		}
		if !errors.Is(uerr, ErrUnsupportedCrypto) || errors.Is(uerr, ErrBadCrypto) {
			t.Fatalf("Usable() = %v for a parsed line, want ErrUnsupportedCrypto only", uerr)
		}
		for _, field := range strings.FieldsFunc(value, func(r rune) bool { return r == ' ' || r == '\t' || r == ':' || r == '=' || r == '|' || r == ';' }) {
			if len(field) > 24 && strings.Contains(uerr.Error(), field) {
				t.Fatalf("Usable() = %v quotes the %d-byte field %q", uerr, len(field), field)
			}
		}
	})
}

// FuzzReOffer sends a re-offer from either peer into an established
// carrier->Zoom call and plays it through: answered on its leg or relayed
// to the other, whose peer accepts byocp's offer. A refused offer must
// leave the leg unchanged; an accepted one must give an answer with the
// offer's m-lines in place, byocp's fixed address and port, byocp's key
// unless the suite changed, and the same SDP again for a repeat of the
// offer.
func FuzzReOffer(f *testing.F) {
	for _, s := range []string{
		zoomOffer, carrierInvite,
		strings.Replace(zoomOffer, "t=0 0", "t=0 0\r\na=sendonly", 1),
		strings.Replace(carrierInvite, "198.51.100.20", "0.0.0.0", 1),
		strings.Replace(carrierInvite, "0 8 96", "8 18 96", 1),
		zoomOfferWith("|2^31|1:4", 3) + "m=video 5000 RTP/SAVP 97\r\n",
		sdpLines("m=video 4000 RTP/AVP 96", "m=audio 4002 RTP/AVP 0 8", "a=inactive"),
		didwwFax, didwwAudio, t38ReInvite, strings.Replace(didwwFax, "m=audio 13960", "m=audio 0", 1),
		carrierSDP(1700000001, "198.51.100.20", "m=audio 4000 RTP/AVP 0 96", "sendrecv") + faxSection,
		zoomSDP(56391, "") + "m=image 34170 udptl t38\r\n",
	} {
		f.Add([]byte(s), strings.Contains(s, "SAVP"))
	}
	f.Fuzz(func(t *testing.T, body []byte, fromZoom bool) {
		c := newTestCall(t)
		c.step(carrierToZoom)
		x, y := c.carrier, c.zoom
		if fromZoom {
			x, y = y, x
		}
		before, otherBefore := x.Current(), y.Current()
		off, err := x.ReceiveOffer(body)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrNoAudio) && !errors.Is(err, ErrUnacceptable) && !errors.Is(err, ErrNoCommonCodec) {
				t.Fatalf("unclassified error: %v", err)
			}
			if !reflect.DeepEqual(x.Current(), before) {
				t.Fatal("refused offer changed the leg")
			}
			if _, err := x.OfferCurrent(); err != nil {
				t.Fatalf("leg left pending: %v", err)
			}
			return
		}
		if off.Refresh && off.Relay {
			t.Fatal("a refresh is relayed")
		}
		var answer []byte
		if !off.Relay {
			if answer, err = x.AnswerLocal(); err != nil {
				t.Fatalf("AnswerLocal: %v", err)
			}
			if !reflect.DeepEqual(y.Current(), otherBefore) {
				t.Fatal("a local answer changed the other leg")
			}
		} else {
			ob, err := y.OfferFrom(off.Media)
			if errors.Is(err, ErrNoCommonCodec) {
				x.Rollback()
				return
			}
			if err != nil {
				t.Fatalf("OfferFrom: %v", err)
			}
			peerAnswer := mirror(t, ob)
			ans, err := y.TakeAnswer(peerAnswer)
			if err != nil {
				t.Fatalf("TakeAnswer(%q): %v", peerAnswer, err)
			}
			if answer, err = x.Answer(ans); err != nil {
				t.Fatalf("Answer: %v", err)
			}
		}

		offer, _ := parseSession(body)
		got, err := parseSession(answer)
		if err != nil {
			t.Fatalf("byocp's answer does not parse: %v\n%s", err, answer)
		}
		idx, _, _ := offer.active()
		if len(got.lines) != len(offer.lines) || got.lines[idx].audio == nil {
			t.Fatalf("answer m-lines %+v for offer m-lines %+v", got.lines, offer.lines)
		}
		for i, l := range got.lines {
			if i != idx && l.port != 0 {
				t.Fatalf("m-line %d not rejected", i)
			}
		}
		st := x.Current()
		if a := got.lines[idx].audio; a.Port != x.cfg.Port || a.Addr != x.cfg.Addr || st.Index != idx {
			t.Fatalf("answer at %v:%d, index %d", a.Addr, a.Port, st.Index)
		}
		if st.Suite == before.Suite && string(st.LocalKey) != string(before.LocalKey) {
			t.Fatal("byocp's key changed with the suite unchanged")
		}

		again, err := x.ReceiveOffer(body)
		if err != nil || !again.Refresh {
			t.Fatalf("repeated offer: %+v, %v", again, err)
		}
		if b, err := x.AnswerLocal(); err != nil || string(b) != string(answer) {
			t.Fatalf("answer to the repeated offer differs (%v):\n%s\nwas\n%s", err, b, answer)
		}
	})
}

// mirror returns a peer's answer accepting every format of offer, with
// the reverse direction and, on RTP/SAVP, a new key for the offered line.
func mirror(t *testing.T, offer []byte) []byte {
	m, err := Parse(offer)
	if err != nil {
		t.Fatalf("byocp's offer does not parse: %v", err)
	}
	a := Media{Addr: netip.MustParseAddr("192.0.2.50"), Port: 6000, Proto: m.Proto, Formats: m.Formats, Direction: m.Direction.reverse()}
	for _, c := range m.Crypto {
		k, err := NewCrypto(c.Tag, c.Suite)
		if err != nil {
			t.Fatal(err)
		}
		a.Crypto = []Crypto{k}
	}
	b, err := Marshal(&Origin{Username: "peer", SessionID: 9, Version: 9, Addr: a.Addr}, a)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzReOfferT38 is FuzzReOffer on legs that relay T.38 (both have an
// ImagePort): a re-offer from either peer into an established
// carrier->Zoom call, played through as there, then the peer's first SDP
// again (back to audio after a fax). Besides FuzzReOffer's checks, an
// accepted offer must get an answer whose only active m-lines are the
// audio stream (at State.Index, byocp's port) and the offer's first T.38
// image stream (byocp's ImagePort) when State.Image says it was
// negotiated, with at least one of them; byocp's offer on the other leg
// must have at most one of each.
func FuzzReOfferT38(f *testing.F) {
	for _, s := range []string{
		zoomOffer, carrierInvite, didwwFax, didwwAudio, t38ReInvite, t38DisabledAudio,
		strings.Replace(didwwFax, "m=audio 13960", "m=audio 0", 1),
		strings.Replace(t38ReInvite, "m=image 20334 udptl t38", "m=IMAGE 20334 UDPTL T38", 1),
		strings.Replace(t38ReInvite, "c=IN IP4 192.168.171.230\r\n", "", 1),
		strings.Replace(t38ReInvite, "m=image 20334 udptl", "m=image 20334 TCP", 1),
		carrierSDP(1700000001, "198.51.100.20", "m=audio 4000 RTP/AVP 0 96", "sendrecv") + faxSection,
		carrierSDP(1700000001, "198.51.100.20", "m=audio 4000 RTP/AVP 0 96", "sendrecv") + "m=image 0 udptl t38\r\n",
		zoomImageSDP(56391),
		zoomSDP(56391, "") + "m=image 34170 udptl t38\r\na=T38FaxVersion:0\r\n",
		zoomSDP(56391, "", "m=audio", "m=image 34172 udptl t38\r\nm=audio"),
	} {
		f.Add([]byte(s), strings.Contains(s, "SAVP") || strings.Contains(s, "Sonus"))
	}
	f.Fuzz(func(t *testing.T, body []byte, fromZoom bool) {
		c := newT38Call(t, carrierImagePort, zoomImagePort)
		c.step(carrierToZoom)
		x, y, first := c.carrier, c.zoom, carrierInvite
		if fromZoom {
			x, y, first = y, x, zoomOffer
		}
		if !playT38(t, x, y, body) {
			return
		}
		if !playT38(t, x, y, []byte(first)) {
			t.Fatalf("the peer's first SDP refused after %q", body)
		}
		if st := x.Current(); st.Index < 0 || st.Image != nil {
			t.Fatalf("back to audio: %+v", st)
		}
	})
}

// playT38 sends body as a re-offer to leg x, relays it to leg y when it
// must, answers it, checks the answers and reports whether x accepted it.
func playT38(t *testing.T, x, y *Leg, body []byte) bool {
	t.Helper()
	before, otherBefore := x.Current(), y.Current()
	off, err := x.ReceiveOffer(body)
	if err != nil {
		if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrNoAudio) && !errors.Is(err, ErrUnacceptable) && !errors.Is(err, ErrNoCommonCodec) {
			t.Fatalf("unclassified error: %v", err)
		}
		if !reflect.DeepEqual(x.Current(), before) {
			t.Fatal("refused offer changed the leg")
		}
		if _, err := x.OfferCurrent(); err != nil {
			t.Fatalf("leg left pending: %v", err)
		}
		x.Rollback()
		return false
	}
	if off.Refresh && off.Relay {
		t.Fatal("a refresh is relayed")
	}
	var answer []byte
	if !off.Relay {
		if answer, err = x.AnswerLocal(); err != nil {
			t.Fatalf("AnswerLocal: %v", err)
		}
		if !reflect.DeepEqual(y.Current(), otherBefore) {
			t.Fatal("a local answer changed the other leg")
		}
	} else {
		ob, err := y.OfferFrom(off.Media)
		if errors.Is(err, ErrNoCommonCodec) {
			x.Rollback()
			return false
		}
		if err != nil {
			t.Fatalf("OfferFrom: %v", err)
		}
		checkStreams(t, y, ob, nil)
		ans, err := y.TakeAnswer(mirrorT38(t, ob))
		if err != nil {
			t.Fatalf("TakeAnswer: %v", err)
		}
		if answer, err = x.Answer(ans); err != nil {
			t.Fatalf("Answer: %v", err)
		}
	}
	checkStreams(t, x, answer, body)
	again, err := x.ReceiveOffer(body)
	if err != nil || !again.Refresh {
		t.Fatalf("repeated offer: %+v, %v", again, err)
	}
	if b, err := x.AnswerLocal(); err != nil || string(b) != string(answer) {
		t.Fatalf("answer to the repeated offer differs (%v):\n%s\nwas\n%s", err, b, answer)
	}
	return true
}

// checkStreams checks byocp's SDP sdp on leg l: at most one active audio
// and one active image m-line, at byocp's ports, at least one of them,
// where l's State says; for an answer to offer, as many m-lines as the
// offer, the audio where the offer has its first active audio and the
// image where it has its first active T.38 stream.
func checkStreams(t *testing.T, l *Leg, sdp, offer []byte) {
	t.Helper()
	got, err := parseSession(sdp)
	if err != nil {
		t.Fatalf("byocp's SDP does not parse: %v\n%s", err, sdp)
	}
	audio, image := -1, -1
	for i, m := range got.lines {
		switch {
		case m.port == 0:
		case m.audio != nil && audio < 0 && m.audio.Port == l.cfg.Port && m.audio.Addr == l.cfg.Addr:
			audio = i
		case m.image != nil && image < 0 && m.image.Port == l.cfg.ImagePort && m.image.Addr == l.cfg.Addr:
			image = i
		default:
			t.Fatalf("m-line %d active: %+v\n%s", i, m, sdp)
		}
	}
	if audio < 0 && image < 0 {
		t.Fatalf("no active stream:\n%s", sdp)
	}
	if offer == nil {
		return
	}
	o, _ := parseSession(offer)
	oa, _, _ := o.active()
	oi, _, _ := o.t38()
	st := l.Current()
	if len(got.lines) != len(o.lines) || audio != st.Index || (audio >= 0 && audio != oa) ||
		(image >= 0) != (st.Image != nil) || (image >= 0 && image != oi) {
		t.Fatalf("answer audio %d image %d (State %d, %v) to offer audio %d image %d:\n%s", audio, image, st.Index, st.Image, oa, oi, sdp)
	}
}

// mirrorT38 returns a peer's answer accepting every stream byocp offered:
// the audio as mirror does, the image with T.38 attributes of its own.
func mirrorT38(t *testing.T, offer []byte) []byte {
	t.Helper()
	s, err := parseSession(offer)
	if err != nil {
		t.Fatalf("byocp's offer does not parse: %v", err)
	}
	addr := netip.MustParseAddr("192.0.2.50")
	lines := make([]mline, len(s.lines))
	for i, m := range s.lines {
		lines[i] = rejected(m)
		switch {
		case m.audio != nil:
			a := Media{Addr: addr, Port: 6000, Proto: m.audio.Proto, Formats: m.audio.Formats, Direction: m.audio.Direction.reverse()}
			for _, c := range m.audio.Crypto {
				k, err := NewCrypto(c.Tag, c.Suite)
				if err != nil {
					t.Fatal(err)
				}
				a.Crypto = []Crypto{k}
			}
			lines[i] = mline{typ: "audio", port: a.Port, proto: a.Proto, audio: &a}
		case m.image != nil:
			img := &Image{Addr: addr, Port: 6002, Proto: m.proto, Formats: m.fmts, Attributes: attrs(zoomT38)}
			lines[i] = mline{typ: m.typ, port: img.Port, proto: img.Proto, fmts: img.Formats, image: img}
		}
	}
	b, err := marshalSession(&Origin{Username: "peer", SessionID: 9, Version: 9, Addr: addr}, addr, lines)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
