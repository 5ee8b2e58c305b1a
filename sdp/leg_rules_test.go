package sdp

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// TestLegDirections relays a direction from the carrier to Zoom and
// Zoom's answer back: A's sendonly is B's sendonly, B's recvonly is A's
// recvonly, and a legacy hold (c=0.0.0.0) counts as not receiving.
func TestLegDirections(t *testing.T) {
	tests := []struct {
		offered, conn string    // the carrier's re-offer
		wantOffer     Direction // byocp's offer to Zoom
		answered      string    // Zoom's answer
		zoomConn      string
		wantAnswer    Direction // byocp's answer to the carrier
		carrier, zoom Direction // State.Direction afterwards
	}{
		{"sendonly", "198.51.100.20", SendOnly, "recvonly", "3.3.3.3", RecvOnly, RecvOnly, SendOnly},
		{"recvonly", "198.51.100.20", RecvOnly, "sendonly", "3.3.3.3", SendOnly, SendOnly, RecvOnly},
		{"inactive", "198.51.100.20", Inactive, "inactive", "3.3.3.3", Inactive, Inactive, Inactive},
		{"sendonly", "198.51.100.20", SendOnly, "inactive", "3.3.3.3", Inactive, Inactive, Inactive},
		{"sendrecv", "0.0.0.0", SendOnly, "recvonly", "3.3.3.3", RecvOnly, RecvOnly, SendOnly},
		{"", "0.0.0.0", SendOnly, "recvonly", "3.3.3.3", RecvOnly, RecvOnly, SendOnly},
		{"recvonly", "0.0.0.0", Inactive, "inactive", "3.3.3.3", Inactive, Inactive, Inactive},
		{"sendrecv", "198.51.100.20", SendRecv, "sendrecv", "0.0.0.0", SendOnly, SendOnly, RecvOnly},
		{"sendrecv", "198.51.100.20", SendRecv, "sendrecv", "3.3.3.3", SendRecv, SendRecv, SendRecv},
	}
	for _, tt := range tests {
		t.Run(tt.offered+"@"+tt.conn+"/"+tt.answered+"@"+tt.zoomConn, func(t *testing.T) {
			c := newTestCall(t)
			c.step(carrierToZoom)
			off, err := c.carrier.ReceiveOffer([]byte(carrierSDP(1700000001, tt.conn, "m=audio 4000 RTP/AVP 0 8 96", tt.offered)))
			if err != nil {
				t.Fatal(err)
			}
			if off.Relay != (tt.wantOffer != SendRecv) {
				t.Errorf("Relay = %v", off.Relay)
			}
			ob, err := c.zoom.OfferFrom(off.Media)
			if err != nil {
				t.Fatal(err)
			}
			if m, _ := Parse(ob); m.Direction != tt.wantOffer || m.Addr != zoomAddr {
				t.Errorf("offer to Zoom: %s at %v, want %s at %v", m.Direction, m.Addr, tt.wantOffer, zoomAddr)
			}
			ans := strings.Replace(zoomAnswerSDP(990002, 96, "1 AES_CM_128_HMAC_SHA1_80 inline:"+keyCM128, tt.answered), "c=IN IP4 3.3.3.3", "c=IN IP4 "+tt.zoomConn, 1)
			am, err := c.zoom.TakeAnswer([]byte(ans))
			if err != nil {
				t.Fatal(err)
			}
			ab, err := c.carrier.Answer(am)
			if err != nil {
				t.Fatal(err)
			}
			if m, _ := Parse(ab); m.Direction != tt.wantAnswer || m.Addr != carrierAddr {
				t.Errorf("answer to the carrier: %s at %v, want %s at %v", m.Direction, m.Addr, tt.wantAnswer, carrierAddr)
			}
			if k, z := c.carrier.Current().Direction, c.zoom.Current().Direction; k != tt.carrier || z != tt.zoom {
				t.Errorf("State directions: carrier %s, Zoom %s, want %s, %s", k, z, tt.carrier, tt.zoom)
			}
		})
	}
}

// TestLegMLinePositions: an offer whose audio is not the first m-line is
// answered with every m-line in place, the others rejected, and byocp's
// later offers on that leg keep them.
func TestLegMLinePositions(t *testing.T) {
	c := newTestCall(t)
	invite := strings.Replace(zoomOffer, "m=audio", "m=video 34166 RTP/SAVP 97 98\r\na=rtpmap:97 H264/90000\r\nm=audio", 1) +
		"m=audio 34172 RTP/SAVP 0\r\n"
	c.step(step{
		from: "zoom", offer: invite, relay: true,
		answer: carrierSDP(1700000000, "198.51.100.20", "m=audio 4000 RTP/AVP 0 96", "sendrecv"),
		wantAnswer: byocpSDP("zoom", 1,
			"m=video 0 RTP/SAVP 97 98",
			"m=audio 40002 RTP/SAVP 0 101",
			"a=rtpmap:0 PCMU/8000",
			"a=rtpmap:101 telephone-event/8000",
			"a=fmtp:101 0-16",
			"a=ptime:20",
			"a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:{K1}",
			"a=sendrecv",
			"m=audio 0 RTP/SAVP 0",
		),
	})
	if got := c.zoom.Current().Index; got != 1 {
		t.Errorf("Index = %d, want 1", got)
	}
	c.step(step{
		from: "carrier", offer: carrierSDP(1700000001, "198.51.100.20", "m=audio 4000 RTP/AVP 0 96", "sendonly"), relay: true,
		wantOffer: byocpSDP("zoom", 2,
			"m=video 0 RTP/SAVP 97 98",
			"m=audio 40002 RTP/SAVP 0 101",
			"a=rtpmap:0 PCMU/8000",
			"a=rtpmap:101 telephone-event/8000",
			"a=fmtp:101 0-16",
			"a=ptime:20",
			"a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:{K1}",
			"a=sendonly",
			"m=audio 0 RTP/SAVP 0",
		),
		answer: "v=0\r\no=Sonus_UAC 282321 56391 IN IP4 2.2.2.2\r\ns=-\r\nc=IN IP4 3.3.3.3\r\nt=0 0\r\n" +
			"m=video 0 RTP/SAVP 97\r\n" +
			"m=audio 34168 RTP/SAVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:" + keyCM128 + "\r\na=recvonly\r\n" +
			"m=audio 0 RTP/SAVP 0\r\n",
	})
	if z := c.zoom.Current(); z.Direction != SendOnly || z.Index != 1 {
		t.Errorf("Zoom leg: %s at %d", z.Direction, z.Index)
	}

	// An answer that drops the audio stream's position is refused.
	if _, err := c.zoom.OfferFrom(Media{Formats: []Format{pcmu}}); err != nil {
		t.Fatal(err)
	}
	short := zoomAnswerSDP(56392, 101, "3 AES_CM_128_HMAC_SHA1_80 inline:"+keyCM128, "sendrecv")
	if _, err := c.zoom.TakeAnswer([]byte(short)); !errors.Is(err, ErrUnacceptable) {
		t.Errorf("TakeAnswer with audio at the wrong position: %v", err)
	}
}

// TestLegErrors: refused offers and answers, and methods called out of
// order, leave the leg as it was.
func TestLegErrors(t *testing.T) {
	ready := func(t *testing.T) *testCall {
		c := newTestCall(t)
		c.step(zoomToCarrier)
		return c
	}
	offers := []struct {
		name string
		leg  string
		body string
		want error
	}{
		{"RTP/SAVP to the carrier", "carrier", strings.Replace(carrierAnswer(1700000001, "sendrecv"), "RTP/AVP", "RTP/SAVP", 1), ErrUnacceptable},
		{"RTP/AVP to Zoom", "zoom", strings.Replace(zoomSDP(56391, ""), "RTP/SAVP", "RTP/AVP", 1), ErrUnacceptable},
		{"only MKI keys", "zoom", zoomOfferWith("|2^31|1:4", 1, 2, 3, 4), ErrUnacceptable},
		{"no common codec", "carrier", carrierSDP(1700000001, "198.51.100.20", "m=audio 4000 RTP/AVP 3", "sendrecv"), ErrNoCommonCodec},
		{"audio disabled", "carrier", carrierSDP(1700000001, "198.51.100.20", "m=audio 0 RTP/AVP 0", "sendrecv"), ErrUnacceptable},
		{"no audio", "carrier", sdpLines("m=video 4000 RTP/AVP 96"), ErrNoAudio},
		{"garbage", "zoom", "v=0\r\nbogus\r\n", ErrMalformed},
	}
	for _, tt := range offers {
		t.Run("offer "+tt.name, func(t *testing.T) {
			c := ready(t)
			x, _ := c.leg(tt.leg)
			before := x.Current()
			if _, err := x.ReceiveOffer([]byte(tt.body)); !errors.Is(err, tt.want) {
				t.Fatalf("ReceiveOffer = %v, want %v", err, tt.want)
			}
			if !reflect.DeepEqual(x.Current(), before) {
				t.Error("state changed")
			}
			if _, err := x.OfferCurrent(); err != nil { // nothing left pending
				t.Errorf("OfferCurrent after a refused offer: %v", err)
			}
		})
	}

	answers := []struct {
		name string
		body string
		want error
	}{
		{"wrong tag", zoomAnswerSDP(990002, 101, "1 AES_CM_128_HMAC_SHA1_80 inline:"+keyCM128, "sendrecv"), ErrUnacceptable},
		{"wrong suite", zoomAnswerSDP(990002, 101, "3 AES_CM_128_HMAC_SHA1_32 inline:"+keyCM128, "sendrecv"), ErrUnacceptable},
		{"MKI", zoomAnswerSDP(990002, 101, "3 AES_CM_128_HMAC_SHA1_80 inline:"+keyCM128+"|2^31|1:4", "sendrecv"), ErrUnacceptable},
		{"no key", strings.Replace(zoomAnswerSDP(990002, 101, "3 AES_CM_128_HMAC_SHA1_80 inline:"+keyCM128, "sendrecv"), "a=crypto:", "a=x-crypto:", 1), ErrUnacceptable},
		{"plain", strings.Replace(zoomAnswerSDP(990002, 101, "3 AES_CM_128_HMAC_SHA1_80 inline:"+keyCM128, "sendrecv"), "RTP/SAVP", "RTP/AVP", 1), ErrUnacceptable},
		{"audio rejected", strings.Replace(zoomAnswerSDP(990002, 101, "3 AES_CM_128_HMAC_SHA1_80 inline:"+keyCM128, "sendrecv"), "34170", "0", 1), ErrUnacceptable},
		{"codec not offered", strings.Replace(zoomAnswerSDP(990002, 101, "3 AES_CM_128_HMAC_SHA1_80 inline:"+keyCM128, "sendrecv"), "RTP/SAVP 0 101\r\na=rtpmap:0 PCMU/8000", "RTP/SAVP 9 101\r\na=rtpmap:9 G722/8000", 1), ErrNoCommonCodec},
		{"garbage", "v=0\r\n", ErrMalformed},
	}
	for _, tt := range answers {
		t.Run("answer "+tt.name, func(t *testing.T) {
			c := ready(t)
			before := c.zoom.Current()
			if _, err := c.zoom.OfferFrom(Media{Formats: []Format{pcmu, te101}, Direction: SendOnly}); err != nil {
				t.Fatal(err)
			}
			if _, err := c.zoom.TakeAnswer([]byte(tt.body)); !errors.Is(err, tt.want) {
				t.Fatalf("TakeAnswer = %v, want %v", err, tt.want)
			}
			if !reflect.DeepEqual(c.zoom.Current(), before) {
				t.Error("state changed")
			}
			b, err := c.zoom.OfferCurrent() // rolled back: byocp's SDP of before
			if err != nil || c.redact(b) != zoomToCarrier.wantAnswer {
				t.Errorf("OfferCurrent after a refused answer = %v\n%s", err, c.redact(b))
			}
		})
	}

	t.Run("out of order", func(t *testing.T) {
		c := newTestCall(t)
		if _, err := c.zoom.OfferCurrent(); !errors.Is(err, ErrState) {
			t.Errorf("OfferCurrent before the first exchange = %v", err)
		}
		if _, err := c.zoom.TakeAnswer([]byte(zoomOffer)); !errors.Is(err, ErrState) {
			t.Errorf("TakeAnswer with no offer = %v", err)
		}
		if _, err := c.zoom.Answer(Media{}); !errors.Is(err, ErrState) {
			t.Errorf("Answer with no offer = %v", err)
		}
		if _, err := c.zoom.ReceiveOffer([]byte(zoomOffer)); err != nil {
			t.Fatal(err)
		}
		if _, err := c.zoom.AnswerLocal(); !errors.Is(err, ErrState) {
			t.Errorf("AnswerLocal on a first offer = %v", err)
		}

		c = ready(t)
		if _, err := c.zoom.ReceiveOffer([]byte(zoomSDP(56391, "sendonly"))); err != nil {
			t.Fatal(err)
		}
		if _, err := c.zoom.ReceiveOffer([]byte(zoomSDP(56392, "sendonly"))); !errors.Is(err, ErrPending) {
			t.Errorf("second offer while the first is pending = %v", err)
		}
		if _, err := c.zoom.OfferCurrent(); !errors.Is(err, ErrPending) {
			t.Errorf("offer while the peer's is pending = %v", err)
		}
		if _, err := c.zoom.TakeAnswer([]byte(zoomOffer)); !errors.Is(err, ErrState) {
			t.Errorf("TakeAnswer while the peer's offer is pending = %v", err)
		}
		c.zoom.Rollback()

		if _, err := c.zoom.OfferCurrent(); err != nil {
			t.Fatal(err)
		}
		if _, err := c.zoom.ReceiveOffer([]byte(zoomSDP(56391, "sendonly"))); !errors.Is(err, ErrGlare) {
			t.Errorf("offer while byocp's is outstanding = %v", err)
		}
		if _, err := c.zoom.OfferFrom(Media{Formats: []Format{pcmu}}); !errors.Is(err, ErrPending) {
			t.Errorf("second offer by byocp = %v", err)
		}
		if _, err := c.zoom.AnswerLocal(); !errors.Is(err, ErrState) {
			t.Errorf("AnswerLocal while byocp's offer is outstanding = %v", err)
		}
		if _, err := c.zoom.TakeAnswer([]byte(zoomAnswerSDP(990002, 101, "3 AES_CM_128_HMAC_SHA1_80 inline:"+keyCM128, "sendrecv"))); err != nil {
			t.Errorf("byocp's offer was lost: %v", err)
		}
	})

	t.Run("other leg without common codec", func(t *testing.T) {
		c := ready(t)
		if _, err := c.carrier.OfferFrom(Media{Formats: []Format{opus, te101}}); !errors.Is(err, ErrNoCommonCodec) {
			t.Errorf("OfferFrom(opus) on the carrier leg = %v", err)
		}
		off, err := c.zoom.ReceiveOffer([]byte(zoomSDP(56391, "sendonly")))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.zoom.Answer(Media{Formats: []Format{te101}}); !errors.Is(err, ErrNoCommonCodec) {
			t.Errorf("Answer(telephone-event only) = %v", err)
		}
		if _, err := c.zoom.Answer(off.Media); !errors.Is(err, ErrState) {
			t.Errorf("Answer after a failed Answer = %v (the offer must be dropped)", err)
		}
	})
}

func TestNewLeg(t *testing.T) {
	good := carrierLegConfig()
	for _, tt := range []struct {
		name string
		edit func(*LegConfig)
	}{
		{"no address", func(c *LegConfig) { c.Addr = netip.Addr{} }},
		{"port 0", func(c *LegConfig) { c.Port = 0 }},
		{"port 65536", func(c *LegConfig) { c.Port = 65536 }},
		{"unknown suite", func(c *LegConfig) { c.Suites = []Suite{"NULL"} }},
		{"bad origin", func(c *LegConfig) { c.Origin = &Origin{Username: "a b", Addr: carrierAddr} }},
	} {
		cfg := good
		tt.edit(&cfg)
		if _, err := NewLeg(cfg); err == nil {
			t.Errorf("%s: NewLeg succeeded", tt.name)
		}
	}
	cfg := good
	cfg.Origin = nil
	l, err := NewLeg(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.OfferFrom(Media{Formats: []Format{pcmu}}); err != nil {
		t.Fatal(err)
	}
	if o := l.origin; o.Username != "byocp" || o.Addr != carrierAddr || o.SessionID == 1001 {
		t.Errorf("default origin %+v", o)
	}
}
