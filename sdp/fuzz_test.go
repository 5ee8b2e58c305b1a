package sdp

import (
	"errors"
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

// FuzzParseCrypto checks that ParseCrypto never panics and that String
// round-trips every attribute it accepts.
func FuzzParseCrypto(f *testing.F) {
	for _, s := range []string{
		"1 AEAD_AES_256_GCM inline:" + keyGCM256,
		"2 AES_256_CM_HMAC_SHA1_80 inline:" + strings.TrimRight(keyCM256, "="),
		"3 AES_CM_128_HMAC_SHA1_80 inline:" + keyCM128 + "|2^31|1:4 UNENCRYPTED_SRTCP",
		"4 AES_CM_128_HMAC_SHA1_32 inline:" + keyCM128b + "|1:4",
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
	})
}
