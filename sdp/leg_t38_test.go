package sdp

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// faxSection is the m=image section of didwwFax: T.38 over UDPTL.
var faxSection = didwwFax[strings.Index(didwwFax, "m=image"):]

// refuseOffer checks that the leg refuses an offer with an error wrapping
// want and stays as it was, with nothing pending.
func refuseOffer(t *testing.T, l *Leg, body string, want error) {
	t.Helper()
	before := l.Current()
	if _, err := l.ReceiveOffer([]byte(body)); !errors.Is(err, want) {
		t.Fatalf("ReceiveOffer = %v, want %v", err, want)
	}
	if !reflect.DeepEqual(l.Current(), before) {
		t.Error("a refused offer changed the leg")
	}
	if _, err := l.OfferCurrent(); err != nil {
		t.Fatalf("leg left pending: %v", err)
	}
	l.Rollback()
}

// TestLegT38Offer: an INVITE that offers audio and T.38 at once (DIDWW,
// FreeSWITCH issue 1297) is answered with the image stream rejected in
// its position; Zoom sees the audio stream only. The same with T.38 as
// m=application.
func TestLegT38Offer(t *testing.T) {
	zoomOffer := byocpSDP("zoom", 1,
		"m=audio 40002 RTP/SAVP 0 8 18 101",
		"a=rtpmap:0 PCMU/8000",
		"a=rtpmap:8 PCMA/8000",
		"a=rtpmap:18 G729/8000",
		"a=fmtp:18 annexb=no",
		"a=rtpmap:101 telephone-event/8000",
		"a=ptime:20",
		"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{K1}",
		"a=sendrecv",
	)
	answer := func(rejected string) string {
		return byocpSDP("carrier", 1,
			"m=audio 40000 RTP/AVP 0 101",
			"a=rtpmap:0 PCMU/8000",
			"a=rtpmap:101 telephone-event/8000",
			"a=fmtp:101 0-15",
			"a=ptime:20",
			"a=sendrecv",
			rejected,
		)
	}
	for _, tt := range []struct {
		name, offer, rejected string
	}{
		{"m=image", didwwFax, "m=image 0 udptl t38"},
		{"m=application", strings.Replace(didwwFax, "m=image", "m=application", 1), "m=application 0 udptl t38"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestCall(t)
			c.step(step{
				from: "carrier", offer: tt.offer, relay: true,
				wantOffer:  zoomOffer,
				answer:     zoomAnswerSDP(990001, 101, "1 AES_CM_128_HMAC_SHA1_80 inline:"+keyCM128, "sendrecv"),
				wantAnswer: answer(tt.rejected),
			})
			if k := c.carrier.Current(); k.Remote.String() != "46.19.209.78:13960" || k.Index != 0 || k.Direction != SendRecv {
				t.Errorf("carrier leg %+v", k)
			}
		})
	}
}

// TestLegT38ReOffer: a carrier that switches a call to T.38 with a
// re-offer adding m=image to its audio (the DIDWW SDP of FreeSWITCH issue
// 1297) gets an answer keeping the audio and rejecting the image in its
// position, on its own leg; the call goes on as audio (G.711 pass-through
// fax). A re-offer whose m=image replaced the audio m-line, or that
// disables the audio, is refused (488) and leaves the call as it was.
// Both roles of the carrier leg: byocp answered its first offer
// (carrier->Zoom) or made it (Zoom->carrier).
func TestLegT38ReOffer(t *testing.T) {
	t.Run("carrier->Zoom", func(t *testing.T) {
		c := newTestCall(t)
		c.step(step{
			from: "carrier", offer: didwwAudio, relay: true,
			answer: zoomAnswerSDP(990001, 101, "1 AES_CM_128_HMAC_SHA1_80 inline:"+keyCM128, "sendrecv"),
			wantAnswer: byocpSDP("carrier", 1,
				"m=audio 40000 RTP/AVP 0 101",
				"a=rtpmap:0 PCMU/8000",
				"a=rtpmap:101 telephone-event/8000",
				"a=fmtp:101 0-15",
				"a=ptime:20",
				"a=sendrecv",
			),
		})
		zoomBefore, carrierBefore := c.zoom.Current(), c.carrier.Current()
		faxAnswer := byocpSDP("carrier", 2,
			"m=audio 40000 RTP/AVP 0 101",
			"a=rtpmap:0 PCMU/8000",
			"a=rtpmap:101 telephone-event/8000",
			"a=fmtp:101 0-15",
			"a=ptime:20",
			"a=sendrecv",
			"m=image 0 udptl t38",
		)
		fax := strings.Replace(didwwFax, "1869739744 1869739744", "1869739744 1869739745", 1)
		c.step(step{from: "carrier", offer: fax, wantAnswer: faxAnswer})
		if !reflect.DeepEqual(c.zoom.Current(), zoomBefore) || !reflect.DeepEqual(c.carrier.Current(), carrierBefore) {
			t.Errorf("the T.38 re-offer changed the call:\ncarrier %+v\nZoom %+v", c.carrier.Current(), c.zoom.Current())
		}
		c.step(step{from: "carrier", offer: fax, refresh: true, wantAnswer: faxAnswer}) // retransmitted re-INVITE

		refuseOffer(t, c.carrier, t38ReInvite, ErrNoAudio)
		refuseOffer(t, c.carrier, strings.Replace(fax, "m=audio 13960", "m=audio 0", 1), ErrUnacceptable)

		// Zoom holds: byocp's offer to the carrier keeps the rejected image.
		c.step(step{
			from: "zoom", offer: zoomSDP(56391, "sendonly"), relay: true,
			wantOffer: carrierOffered(3, "sendonly", "101") + "m=image 0 udptl t38\r\n",
			answer: strings.NewReplacer("a=sendrecv\r\na=ptime:20", "a=recvonly\r\na=ptime:20", "m=image 13962", "m=image 0").
				Replace(didwwFax),
		})
		if z, k := c.zoom.Current(), c.carrier.Current(); z.Direction != RecvOnly || k.Direction != SendOnly || k.Index != 0 {
			t.Errorf("after hold: Zoom %s, carrier %s at %d", z.Direction, k.Direction, k.Index)
		}
	})

	t.Run("Zoom->carrier", func(t *testing.T) {
		c := newTestCall(t)
		c.step(zoomToCarrier)
		zoomBefore := c.zoom.Current()
		carrierFax := carrierSDP(1700000001, "198.51.100.20", "m=audio 4000 RTP/AVP 0 96", "sendrecv") + faxSection
		faxAnswer := carrierAnswered(2, "sendrecv", "96", "0-15") + "m=image 0 udptl t38\r\n"
		c.step(step{from: "carrier", offer: carrierFax, wantAnswer: faxAnswer})
		if !reflect.DeepEqual(c.zoom.Current(), zoomBefore) {
			t.Error("the T.38 re-offer changed the Zoom leg")
		}
		if k := c.carrier.Current(); k.Remote.String() != "198.51.100.20:4000" || k.Index != 0 || k.Direction != SendRecv {
			t.Errorf("carrier leg %+v", k)
		}

		image := strings.Replace(t38ReInvite, "o=name 1614699264 1614699267", "o=- 1700000000 1700000002", 1)
		refuseOffer(t, c.carrier, image, ErrNoAudio)
		refuseOffer(t, c.carrier, strings.Replace(carrierFax, "m=audio 4000", "m=audio 0", 1), ErrUnacceptable)

		// Back from fax: the carrier disables the image stream again.
		done := strings.Replace(carrierFax, "m=image 13962", "m=image 0", 1)
		c.step(step{from: "carrier", offer: done, wantAnswer: faxAnswer})
	})

	t.Run("Zoom adds m=image", func(t *testing.T) {
		c := newTestCall(t)
		c.step(zoomToCarrier)
		c.step(step{
			from: "zoom", offer: zoomSDP(56391, "") + "m=image 34170 udptl t38\r\na=T38FaxVersion:0\r\n",
			wantAnswer: zoomAnswered(2, "sendrecv", "{K1}") + "m=image 0 udptl t38\r\n",
		})
	})
}
