package sdp

import (
	"fmt"
	"net/netip"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// The two legs of a test call: byocp's media address and fixed port on
// each, the codecs trunk and peering allow by default, and fixed origins so
// that o= lines can be golden.
var (
	carrierAddr = netip.MustParseAddr("198.51.100.7")
	zoomAddr    = netip.MustParseAddr("203.0.113.5")
)

func carrierLegConfig() LegConfig {
	return LegConfig{
		Codecs: []string{"PCMU", "PCMA", "G722", "G729", "telephone-event"},
		Addr:   carrierAddr,
		Port:   40000,
		Origin: &Origin{Username: "byocp", SessionID: 1001, Version: 1, Addr: carrierAddr},
	}
}

func zoomLegConfig() LegConfig {
	return LegConfig{
		SRTP:   true,
		Codecs: []string{"opus", "G722", "PCMU", "PCMA", "G729", "telephone-event"},
		Suites: zoomPrefs,
		Addr:   zoomAddr,
		Port:   40002,
		Origin: &Origin{Username: "byocp", SessionID: 2002, Version: 1, Addr: zoomAddr},
	}
}

// carrierInvite is a carrier's offer with telephone-event on 96.
var carrierInvite = crlf(
	"v=0",
	"o=- 1700000000 1700000000 IN IP4 198.51.100.10",
	"s=-",
	"c=IN IP4 198.51.100.20",
	"t=0 0",
	"m=audio 4000 RTP/AVP 0 8 96",
	"a=rtpmap:0 PCMU/8000",
	"a=rtpmap:8 PCMA/8000",
	"a=rtpmap:96 telephone-event/8000",
	"a=fmtp:96 0-16",
	"a=ptime:20",
	"a=sendrecv",
)

// carrierSDP is the carrier's SDP with o= version v, the given c= address
// and m-line, and a direction line (none when dir is "").
func carrierSDP(v int, conn, mline, dir string) string {
	lines := []string{
		"v=0",
		fmt.Sprintf("o=- 1700000000 %d IN IP4 198.51.100.10", v),
		"s=-",
		"c=IN IP4 " + conn,
		"t=0 0",
		mline,
		"a=rtpmap:0 PCMU/8000",
		"a=rtpmap:8 PCMA/8000",
		"a=rtpmap:18 G729/8000",
		"a=rtpmap:96 telephone-event/8000",
		"a=fmtp:96 0-16",
		"a=ptime:20",
	}
	if dir != "" {
		lines = append(lines, "a="+dir)
	}
	return crlf(lines...)
}

// zoomSDP is zoomOffer with o= version v, a direction line appended (none
// when dir is "") and each pair of replace applied once.
func zoomSDP(v int, dir string, replace ...string) string {
	s := strings.Replace(zoomOffer, "282321 56390", fmt.Sprintf("282321 %d", v), 1)
	for i := 0; i+1 < len(replace); i += 2 {
		if !strings.Contains(s, replace[i]) {
			panic("zoomOffer has no " + replace[i])
		}
		s = strings.Replace(s, replace[i], replace[i+1], 1)
	}
	if dir != "" {
		s += "a=" + dir + "\r\n"
	}
	return s
}

// zoomAnswerSDP is Zoom's answer with o= version v: PCMU and
// telephone-event, the given a=crypto line and direction.
func zoomAnswerSDP(v int, tePT int, crypto, dir string) string {
	return crlf(
		"v=0",
		fmt.Sprintf("o=Sonus_UAS 990001 %d IN IP4 2.2.2.2", v),
		"s=SIP Media Capabilities",
		"c=IN IP4 3.3.3.3",
		"t=0 0",
		fmt.Sprintf("m=audio 34170 RTP/SAVP 0 %d", tePT),
		"a=rtpmap:0 PCMU/8000",
		fmt.Sprintf("a=rtpmap:%d telephone-event/8000", tePT),
		fmt.Sprintf("a=fmtp:%d 0-15", tePT),
		"a=ptime:20",
		"a=crypto:"+crypto,
		"a="+dir,
	)
}

// byocpSDP is an SDP as byocp writes it on the carrier ("carrier") or the
// Zoom leg, with o= version v and the given media lines.
func byocpSDP(leg string, v int, media ...string) string {
	origin, addr := "o=byocp 1001 %d IN IP4 198.51.100.7", "c=IN IP4 198.51.100.7"
	if leg == "zoom" {
		origin, addr = "o=byocp 2002 %d IN IP4 203.0.113.5", "c=IN IP4 203.0.113.5"
	}
	return crlf(append([]string{"v=0", fmt.Sprintf(origin, v), "s=byocp", addr, "t=0 0"}, media...)...)
}

// fixtureKeys are the keys the tests' peers use; every other inline key
// in byocp's SDP is byocp's own, random, and shown as a placeholder.
var fixtureKeys = map[string]bool{keyGCM256: true, keyCM256: true, keyCM128: true, keyCM128b: true, keyCM256alt: true}

var inlineKey = regexp.MustCompile(`inline:([A-Za-z0-9+/=]+)`)

// testCall is a call through byocp: its two legs, and names for byocp's
// random keys.
type testCall struct {
	t       *testing.T
	carrier *Leg
	zoom    *Leg
	keys    map[string]string // key -> placeholder "{K1}", "{K2}", ...
}

func newTestCall(t *testing.T) *testCall {
	t.Helper()
	carrier, err := NewLeg(carrierLegConfig())
	if err != nil {
		t.Fatal(err)
	}
	zoom, err := NewLeg(zoomLegConfig())
	if err != nil {
		t.Fatal(err)
	}
	return &testCall{t: t, carrier: carrier, zoom: zoom, keys: map[string]string{}}
}

// redact replaces byocp's own keys with placeholders numbered in the
// order they first appear in the call, so a key that stays the same keeps
// its name.
func (c *testCall) redact(b []byte) string {
	return inlineKey.ReplaceAllStringFunc(string(b), func(m string) string {
		k := strings.TrimPrefix(m, "inline:")
		if fixtureKeys[k] {
			return m
		}
		if _, ok := c.keys[k]; !ok {
			c.keys[k] = fmt.Sprintf("{K%d}", len(c.keys)+1)
		}
		return "inline:" + c.keys[k]
	})
}

// key returns byocp's key with the given placeholder.
func (c *testCall) key(name string) []byte {
	for k, n := range c.keys {
		if n == name {
			return mustKey(k)
		}
	}
	c.t.Fatalf("no key %s", name)
	return nil
}

func (c *testCall) leg(name string) (*Leg, *Leg) {
	if name == "zoom" {
		return c.zoom, c.carrier
	}
	return c.carrier, c.zoom
}

func (c *testCall) golden(what string, got []byte, want string) {
	c.t.Helper()
	if g := c.redact(got); g != want {
		c.t.Errorf("%s:\n got:\n%s\nwant:\n%s", what, g, want)
	}
}

// step is one offer/answer exchange through byocp.
type step struct {
	name string
	from string // "carrier" or "zoom": the leg whose peer sends the (re-)INVITE
	// offer is the peer's offer; "" is a re-INVITE without SDP, answered
	// on the same leg (wantOffer is then byocp's offer in the 200 and
	// answer the peer's answer in the ACK).
	offer          string
	refresh, relay bool
	wantOffer      string // byocp's offer on the other leg; "" to skip the check
	// answer is the answer of the other leg's peer; "" refuses the offer
	// (488): both legs roll back.
	answer     string
	wantAnswer string // byocp's answer on leg from; "" to skip the check
	check      func(t *testing.T, c *testCall)
}

func (c *testCall) step(s step) {
	c.t.Helper()
	x, y := c.leg(s.from)
	if s.offer == "" {
		ob, err := x.OfferCurrent()
		if err != nil {
			c.t.Fatalf("OfferCurrent: %v", err)
		}
		c.golden("offer in the 200", ob, s.wantOffer)
		if _, err := x.TakeAnswer([]byte(s.answer)); err != nil {
			c.t.Fatalf("TakeAnswer(ACK): %v", err)
		}
		return
	}
	off, err := x.ReceiveOffer([]byte(s.offer))
	if err != nil {
		c.t.Fatalf("ReceiveOffer: %v", err)
	}
	if off.Refresh != s.refresh || off.Relay != s.relay {
		c.t.Errorf("ReceiveOffer: Refresh %v Relay %v, want %v %v", off.Refresh, off.Relay, s.refresh, s.relay)
	}
	var ab []byte
	if !off.Relay {
		if ab, err = x.AnswerLocal(); err != nil {
			c.t.Fatalf("AnswerLocal: %v", err)
		}
	} else {
		xBefore, yBefore := x.Current(), y.Current()
		ob, err := y.OfferFrom(off.Media)
		if err != nil {
			c.t.Fatalf("OfferFrom: %v", err)
		}
		if s.wantOffer != "" {
			c.golden("byocp's offer on the other leg", ob, s.wantOffer)
		}
		if s.answer == "" { // 488 on the other leg, relayed
			y.Rollback()
			x.Rollback()
			if !reflect.DeepEqual(x.Current(), xBefore) || !reflect.DeepEqual(y.Current(), yBefore) {
				c.t.Errorf("state changed by a refused re-offer")
			}
			return
		}
		ans, err := y.TakeAnswer([]byte(s.answer))
		if err != nil {
			c.t.Fatalf("TakeAnswer: %v", err)
		}
		if ab, err = x.Answer(ans); err != nil {
			c.t.Fatalf("Answer: %v", err)
		}
	}
	if s.wantAnswer != "" {
		c.golden("byocp's answer", ab, s.wantAnswer)
	}
}

// The two ways a call is set up, with byocp's SDP on both legs.
var (
	// carrierToZoom: the carrier offers telephone-event on 96, byocp offers
	// Zoom the same numbers and one SDES line, Zoom answers.
	carrierToZoom = step{
		from: "carrier", offer: carrierInvite, relay: true,
		wantOffer: byocpSDP("zoom", 1,
			"m=audio 40002 RTP/SAVP 0 8 96",
			"a=rtpmap:0 PCMU/8000",
			"a=rtpmap:8 PCMA/8000",
			"a=rtpmap:96 telephone-event/8000",
			"a=fmtp:96 0-16",
			"a=ptime:20",
			"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{K1}",
			"a=sendrecv",
		),
		answer: zoomAnswerSDP(990001, 96, "1 AES_CM_128_HMAC_SHA1_80 inline:"+keyCM128, "sendrecv"),
		wantAnswer: byocpSDP("carrier", 1,
			"m=audio 40000 RTP/AVP 0 96",
			"a=rtpmap:0 PCMU/8000",
			"a=rtpmap:96 telephone-event/8000",
			"a=fmtp:96 0-15",
			"a=ptime:20",
			"a=sendrecv",
		),
	}
	// zoomToCarrier: Zoom's offer (six codecs, four suites) becomes a plain
	// offer to the carrier, which answers telephone-event on 96 instead of
	// Zoom's 101; byocp answers Zoom's tag 3 with its own key.
	zoomToCarrier = step{
		from: "zoom", offer: zoomOffer, relay: true,
		wantOffer: byocpSDP("carrier", 1,
			"m=audio 40000 RTP/AVP 9 0 8 18 101",
			"a=rtpmap:9 G722/8000",
			"a=rtpmap:0 PCMU/8000",
			"a=rtpmap:8 PCMA/8000",
			"a=rtpmap:18 G729/8000",
			"a=rtpmap:101 telephone-event/8000",
			"a=fmtp:101 0-15",
			"a=ptime:20",
			"a=sendrecv",
		),
		answer: carrierSDP(1700000000, "198.51.100.20", "m=audio 4000 RTP/AVP 0 96", "sendrecv"),
		wantAnswer: byocpSDP("zoom", 1,
			"m=audio 40002 RTP/SAVP 0 101",
			"a=rtpmap:0 PCMU/8000",
			"a=rtpmap:101 telephone-event/8000",
			"a=fmtp:101 0-16",
			"a=ptime:20",
			"a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:{K1}",
			"a=sendrecv",
		),
	}
)

func TestLegSetup(t *testing.T) {
	t.Run("carrier to Zoom", func(t *testing.T) {
		c := newTestCall(t)
		c.step(carrierToZoom)
		z, k := c.zoom.Current(), c.carrier.Current()
		want := State{
			Remote:    netip.MustParseAddrPort("3.3.3.3:34170"),
			Direction: SendRecv,
			Codecs: []Codec{
				{Format: Format{PayloadType: 0, Name: "PCMU", ClockRate: 8000}, LocalPT: 0},
				{Format: Format{PayloadType: 96, Name: "telephone-event", ClockRate: 8000, Fmtp: "0-15"}, LocalPT: 96},
			},
			Ptime: 20, Suite: SuiteAESCM128HMACSHA180, LocalKey: c.key("{K1}"), RemoteKey: mustKey(keyCM128),
		}
		if !reflect.DeepEqual(z, want) {
			t.Errorf("Zoom leg:\n got %+v\nwant %+v", z, want)
		}
		want = State{
			Remote:    netip.MustParseAddrPort("198.51.100.20:4000"),
			Direction: SendRecv,
			Codecs: []Codec{
				{Format: Format{PayloadType: 0, Name: "PCMU", ClockRate: 8000}, LocalPT: 0},
				{Format: Format{PayloadType: 96, Name: "telephone-event", ClockRate: 8000, Fmtp: "0-16"}, LocalPT: 96},
			},
			Ptime: 20,
		}
		if !reflect.DeepEqual(k, want) {
			t.Errorf("carrier leg:\n got %+v\nwant %+v", k, want)
		}
	})
	t.Run("Zoom to carrier", func(t *testing.T) {
		c := newTestCall(t)
		c.step(zoomToCarrier)
		z, k := c.zoom.Current(), c.carrier.Current()
		if z.Remote != netip.MustParseAddrPort("3.3.3.3:34168") || z.Suite != SuiteAESCM128HMACSHA180 ||
			string(z.RemoteKey) != string(mustKey(keyCM128)) || string(z.LocalKey) != string(c.key("{K1}")) {
			t.Errorf("Zoom leg: %+v", z)
		}
		// Zoom sends and receives telephone-event as 101, the carrier
		// receives it as 96 but sends it as byocp's 101.
		wantK := []Codec{
			{Format: Format{PayloadType: 0, Name: "PCMU", ClockRate: 8000}, LocalPT: 0},
			{Format: Format{PayloadType: 96, Name: "telephone-event", ClockRate: 8000, Fmtp: "0-16"}, LocalPT: 101},
		}
		if !reflect.DeepEqual(k.Codecs, wantK) || k.Remote != netip.MustParseAddrPort("198.51.100.20:4000") || k.Suite != "" || k.LocalKey != nil {
			t.Errorf("carrier leg: %+v", k)
		}
		if got, want := PayloadMap(z, k), map[uint8]uint8{0: 0, 101: 96}; !reflect.DeepEqual(got, want) {
			t.Errorf("PayloadMap(Zoom, carrier) = %v, want %v", got, want)
		}
		if got, want := PayloadMap(k, z), map[uint8]uint8{0: 0, 101: 101}; !reflect.DeepEqual(got, want) {
			t.Errorf("PayloadMap(carrier, Zoom) = %v, want %v", got, want)
		}
	})
}

// carrierAnswer is the carrier's answer with o= version v: PCMU and
// telephone-event on 96, and a direction.
func carrierAnswer(v int, dir string) string {
	return carrierSDP(v, "198.51.100.20", "m=audio 4000 RTP/AVP 0 96", dir)
}

// The carrier leg's SDP when the carrier dialled (byocp answered it) and
// when Zoom dialled (byocp offered it Zoom's codecs the carrier allows).
func carrierAnswered(v int, dir, tePT, teFmtp string) string {
	return byocpSDP("carrier", v,
		"m=audio 40000 RTP/AVP 0 "+tePT,
		"a=rtpmap:0 PCMU/8000",
		"a=rtpmap:"+tePT+" telephone-event/8000",
		"a=fmtp:"+tePT+" "+teFmtp,
		"a=ptime:20",
		"a="+dir,
	)
}

func carrierOffered(v int, dir, tePT string) string {
	return byocpSDP("carrier", v,
		"m=audio 40000 RTP/AVP 9 0 8 18 "+tePT,
		"a=rtpmap:9 G722/8000",
		"a=rtpmap:0 PCMU/8000",
		"a=rtpmap:8 PCMA/8000",
		"a=rtpmap:18 G729/8000",
		"a=rtpmap:"+tePT+" telephone-event/8000",
		"a=fmtp:"+tePT+" 0-15",
		"a=ptime:20",
		"a="+dir,
	)
}

// zoomAnswered is byocp's answer to Zoom: PCMU and telephone-event 101
// (Zoom's number) with the carrier's fmtp, byocp's key on tag 3.
func zoomAnswered(v int, dir, key string) string {
	return byocpSDP("zoom", v,
		"m=audio 40002 RTP/SAVP 0 101",
		"a=rtpmap:0 PCMU/8000",
		"a=rtpmap:101 telephone-event/8000",
		"a=fmtp:101 0-16",
		"a=ptime:20",
		"a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:"+key,
		"a="+dir,
	)
}

// zoomOffered is byocp's offer to Zoom on a carrier->Zoom call.
func zoomOffered(v int, dir, tag string, formats ...string) string {
	pts := make([]string, len(formats))
	var attrs []string
	for i, f := range formats {
		pt, rest, _ := strings.Cut(f, " ")
		pts[i] = pt
		attrs = append(attrs, "a=rtpmap:"+pt+" "+rest)
		if strings.HasPrefix(rest, "telephone-event") {
			attrs = append(attrs, "a=fmtp:"+pt+" 0-16")
		}
	}
	lines := append([]string{"m=audio 40002 RTP/SAVP " + strings.Join(pts, " ")}, attrs...)
	lines = append(lines, "a=ptime:20", "a=crypto:"+tag+" AES_CM_128_HMAC_SHA1_80 inline:{K1}", "a="+dir)
	return byocpSDP("zoom", v, lines...)
}

func TestLegReOffers(t *testing.T) {
	// Zoom re-keys: its tags 3 and 4 swap keys.
	rekeyed := []string{"3 AES_CM_128_HMAC_SHA1_80 inline:" + keyCM128, "3 AES_CM_128_HMAC_SHA1_80 inline:" + keyCM128b,
		"4 AES_CM_128_HMAC_SHA1_32 inline:" + keyCM128b, "4 AES_CM_128_HMAC_SHA1_32 inline:" + keyCM128}
	tests := []struct {
		name  string
		setup step
		steps []step
		check func(t *testing.T, c *testCall)
	}{
		{
			name:  "carrier->Zoom: Zoom holds (sendonly), refreshes, resumes",
			setup: carrierToZoom,
			steps: []step{
				{
					name: "hold", from: "zoom", offer: zoomSDP(56391, "sendonly"), relay: true,
					// Zoom's six codecs minus opus; the carrier keeps 96 for
					// telephone-event, the number both sides used on its leg.
					wantOffer:  carrierOffered(2, "sendonly", "96"),
					answer:     carrierAnswer(1700000001, "recvonly"),
					wantAnswer: zoomAnswered(2, "recvonly", "{K1}"), // Zoom's 101, byocp's key on Zoom's tag 3
					check: func(t *testing.T, c *testCall) {
						z, k := c.zoom.Current(), c.carrier.Current()
						if z.Direction != RecvOnly || k.Direction != SendOnly {
							t.Errorf("directions: Zoom %s, carrier %s", z.Direction, k.Direction)
						}
						if got, want := PayloadMap(z, k), map[uint8]uint8{0: 0, 101: 96}; !reflect.DeepEqual(got, want) {
							t.Errorf("PayloadMap(Zoom, carrier) = %v, want %v", got, want)
						}
						if got, want := PayloadMap(k, z), map[uint8]uint8{0: 0, 96: 101}; !reflect.DeepEqual(got, want) {
							t.Errorf("PayloadMap(carrier, Zoom) = %v, want %v", got, want)
						}
					},
				},
				{
					name: "refresh, same version", from: "zoom", offer: zoomSDP(56391, "sendonly"), refresh: true,
					wantAnswer: zoomAnswered(2, "recvonly", "{K1}"),
				},
				{
					name: "resume", from: "zoom", offer: zoomSDP(56392, ""), relay: true,
					wantOffer:  carrierOffered(3, "sendrecv", "96"),
					answer:     carrierAnswer(1700000002, "sendrecv"),
					wantAnswer: zoomAnswered(3, "sendrecv", "{K1}"),
				},
				{
					name: "refresh, version bumped", from: "zoom", offer: zoomSDP(56393, ""), refresh: true,
					wantAnswer: zoomAnswered(3, "sendrecv", "{K1}"),
				},
			},
			check: func(t *testing.T, c *testCall) {
				if z := c.zoom.Current(); z.Direction != SendRecv || string(z.LocalKey) != string(c.key("{K1}")) || len(c.keys) != 1 {
					t.Errorf("Zoom leg after resume: %+v, keys %v", z, c.keys)
				}
			},
		},
		{
			name:  "Zoom->carrier: Zoom goes inactive; carrier re-INVITEs without SDP",
			setup: zoomToCarrier,
			steps: []step{
				{
					name: "inactive", from: "zoom", offer: zoomSDP(56391, "inactive"), relay: true,
					// byocp's offers to the carrier keep the 101 it offered first.
					wantOffer:  carrierOffered(2, "inactive", "101"),
					answer:     carrierAnswer(1700000001, "inactive"),
					wantAnswer: zoomAnswered(2, "inactive", "{K1}"),
				},
				{
					name: "no SDP from the carrier", from: "carrier",
					wantOffer: carrierOffered(2, "inactive", "101"), // unchanged, same version
					answer:    carrierAnswer(1700000001, "inactive"),
				},
				{
					name: "no SDP from Zoom", from: "zoom",
					wantOffer: zoomAnswered(2, "inactive", "{K1}"),
					answer:    zoomAnswerSDP(990001, 101, "3 AES_CM_128_HMAC_SHA1_80 inline:"+keyCM128b, "inactive"),
				},
			},
			check: func(t *testing.T, c *testCall) {
				z, k := c.zoom.Current(), c.carrier.Current()
				if z.Direction != Inactive || k.Direction != Inactive {
					t.Errorf("directions: Zoom %s, carrier %s", z.Direction, k.Direction)
				}
				if string(z.RemoteKey) != string(mustKey(keyCM128b)) || string(z.LocalKey) != string(c.key("{K1}")) {
					t.Error("Zoom's new key in the ACK not taken, or byocp's key changed")
				}
				if z.Remote != netip.MustParseAddrPort("3.3.3.3:34170") {
					t.Errorf("Zoom remote %v", z.Remote)
				}
			},
		},
		{
			name:  "carrier->Zoom: legacy hold (c=0.0.0.0) and resume by the carrier, Zoom re-keys in its answer",
			setup: carrierToZoom,
			steps: []step{
				{
					name: "hold", from: "carrier", offer: carrierSDP(1700000001, "0.0.0.0", "m=audio 4000 RTP/AVP 0 8 96", "sendrecv"), relay: true,
					wantOffer:  zoomOffered(2, "sendonly", "1", "0 PCMU/8000", "8 PCMA/8000", "96 telephone-event/8000"),
					answer:     zoomAnswerSDP(990002, 96, "1 AES_CM_128_HMAC_SHA1_80 inline:"+keyCM128b, "recvonly"),
					wantAnswer: carrierAnswered(2, "recvonly", "96", "0-15"),
					check: func(t *testing.T, c *testCall) {
						z, k := c.zoom.Current(), c.carrier.Current()
						if k.Remote != netip.MustParseAddrPort("0.0.0.0:4000") || k.Direction != RecvOnly || z.Direction != SendOnly {
							t.Errorf("carrier %v %s, Zoom %s", k.Remote, k.Direction, z.Direction)
						}
						if string(z.RemoteKey) != string(mustKey(keyCM128b)) || string(z.LocalKey) != string(c.key("{K1}")) {
							t.Error("Zoom's new key not taken, or byocp's key changed")
						}
					},
				},
				{
					name: "resume", from: "carrier", offer: carrierSDP(1700000002, "198.51.100.20", "m=audio 4000 RTP/AVP 0 8 96", "sendrecv"), relay: true,
					wantOffer:  zoomOffered(3, "sendrecv", "1", "0 PCMU/8000", "8 PCMA/8000", "96 telephone-event/8000"),
					answer:     zoomAnswerSDP(990003, 96, "1 AES_CM_128_HMAC_SHA1_80 inline:"+keyCM128b, "sendrecv"),
					wantAnswer: carrierAnswered(3, "sendrecv", "96", "0-15"),
				},
			},
		},
		{
			name:  "carrier->Zoom: codec change by the carrier",
			setup: carrierToZoom,
			steps: []step{{
				name: "PCMA only", from: "carrier", offer: carrierSDP(1700000001, "198.51.100.20", "m=audio 4000 RTP/AVP 8 96", "sendrecv"), relay: true,
				wantOffer: zoomOffered(2, "sendrecv", "1", "8 PCMA/8000", "96 telephone-event/8000"),
				answer: strings.ReplaceAll(zoomAnswerSDP(990002, 96, "1 AES_CM_128_HMAC_SHA1_80 inline:"+keyCM128, "sendrecv"),
					"RTP/SAVP 0 96\r\na=rtpmap:0 PCMU/8000", "RTP/SAVP 8 96\r\na=rtpmap:8 PCMA/8000"),
				wantAnswer: byocpSDP("carrier", 2,
					"m=audio 40000 RTP/AVP 8 96",
					"a=rtpmap:8 PCMA/8000",
					"a=rtpmap:96 telephone-event/8000",
					"a=fmtp:96 0-15",
					"a=ptime:20",
					"a=sendrecv",
				),
			}},
			check: func(t *testing.T, c *testCall) {
				if got := c.zoom.Current().Codecs[0].Name; got != "PCMA" {
					t.Errorf("Zoom leg codec %s", got)
				}
			},
		},
		{
			name:  "carrier->Zoom: re-offer refused by Zoom rolls back both legs",
			setup: carrierToZoom,
			steps: []step{
				{
					name: "G729 only, refused", from: "carrier", offer: carrierSDP(1700000001, "198.51.100.20", "m=audio 4000 RTP/AVP 18 96", "sendrecv"), relay: true,
					wantOffer: zoomOffered(2, "sendrecv", "1", "18 G729/8000", "96 telephone-event/8000"),
				},
				{
					name: "no SDP from Zoom: the SDP of before, version 1", from: "zoom",
					wantOffer: carrierToZoom.wantOffer,
					answer:    carrierToZoom.answer,
				},
				{
					// Version 2 went to the refused offer and is not reused.
					name: "hold by the carrier", from: "carrier", offer: carrierSDP(1700000002, "198.51.100.20", "m=audio 4000 RTP/AVP 0 8 96", "sendonly"), relay: true,
					wantOffer:  zoomOffered(3, "sendonly", "1", "0 PCMU/8000", "8 PCMA/8000", "96 telephone-event/8000"),
					answer:     zoomAnswerSDP(990002, 96, "1 AES_CM_128_HMAC_SHA1_80 inline:"+keyCM128, "recvonly"),
					wantAnswer: carrierAnswered(2, "recvonly", "96", "0-15"),
				},
			},
		},
		{
			name:  "carrier->Zoom: media move by the carrier is answered on its leg, same version",
			setup: carrierToZoom,
			steps: []step{{
				name: "move", from: "carrier", offer: carrierSDP(1700000001, "198.51.100.30", "m=audio 5000 RTP/AVP 0 8 96", "sendrecv"),
				wantAnswer: carrierToZoom.wantAnswer,
			}},
			check: func(t *testing.T, c *testCall) {
				if got := c.carrier.Current().Remote; got != netip.MustParseAddrPort("198.51.100.30:5000") {
					t.Errorf("carrier remote %v", got)
				}
			},
		},
		{
			name:  "Zoom->carrier: Zoom re-keys, then drops the suite in use",
			setup: zoomToCarrier,
			steps: []step{
				{
					name: "new key, same suite", from: "zoom", offer: zoomSDP(56391, "", rekeyed...),
					wantAnswer: zoomAnswered(1, "sendrecv", "{K1}"),
					check: func(t *testing.T, c *testCall) {
						if z := c.zoom.Current(); string(z.RemoteKey) != string(mustKey(keyCM128b)) || string(z.LocalKey) != string(c.key("{K1}")) {
							t.Error("new remote key not taken, or byocp's key changed")
						}
					},
				},
				{
					name: "AES_256 only", from: "zoom",
					offer: zoomSDP(56392, "", zoomCryptoLines[1]+"\r\n", "", zoomCryptoLines[3]+"\r\n", "", zoomCryptoLines[4]+"\r\n", ""),
					wantAnswer: byocpSDP("zoom", 2,
						"m=audio 40002 RTP/SAVP 0 101",
						"a=rtpmap:0 PCMU/8000",
						"a=rtpmap:101 telephone-event/8000",
						"a=fmtp:101 0-16",
						"a=ptime:20",
						"a=crypto:2 AES_256_CM_HMAC_SHA1_80 inline:{K2}",
						"a=sendrecv",
					),
				},
			},
			check: func(t *testing.T, c *testCall) {
				z := c.zoom.Current()
				if z.Suite != SuiteAES256CMHMACSHA180 || string(z.LocalKey) != string(c.key("{K2}")) || string(z.RemoteKey) != string(mustKey(keyCM256)) {
					t.Errorf("Zoom leg after suite change: %+v", z)
				}
			},
		},
		{
			name:  "Zoom->carrier: Zoom adds video; the m-line stays, rejected, in byocp's later offers",
			setup: zoomToCarrier,
			steps: []step{
				{
					name: "video added", from: "zoom", offer: zoomSDP(56391, "") + "m=video 34170 RTP/SAVP 97\r\na=rtpmap:97 H264/90000\r\n",
					wantAnswer: zoomAnswered(2, "sendrecv", "{K1}") + "m=video 0 RTP/SAVP 97\r\n",
				},
				{
					name: "carrier holds", from: "carrier", offer: carrierSDP(1700000001, "198.51.100.20", "m=audio 4000 RTP/AVP 0 96", "sendonly"), relay: true,
					wantOffer: byocpSDP("zoom", 3,
						"m=audio 40002 RTP/SAVP 0 101",
						"a=rtpmap:0 PCMU/8000",
						"a=rtpmap:101 telephone-event/8000",
						"a=fmtp:101 0-16",
						"a=ptime:20",
						"a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:{K1}",
						"a=sendonly",
						"m=video 0 RTP/SAVP 97",
					),
					answer: zoomAnswerSDP(56392, 101, "3 AES_CM_128_HMAC_SHA1_80 inline:"+keyCM128, "recvonly") + "m=video 0 RTP/SAVP 97\r\n",
					// byocp's last SDP on the carrier leg was its offer.
					wantAnswer: byocpSDP("carrier", 2,
						"m=audio 40000 RTP/AVP 0 96",
						"a=rtpmap:0 PCMU/8000",
						"a=rtpmap:96 telephone-event/8000",
						"a=fmtp:96 0-15",
						"a=ptime:20",
						"a=recvonly",
					),
				},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestCall(t)
			c.step(tt.setup)
			for _, s := range tt.steps {
				t.Run(s.name, func(t *testing.T) {
					c.t = t
					c.step(s)
					if s.check != nil {
						s.check(t, c)
					}
				})
			}
			c.t = t
			if tt.check != nil {
				tt.check(t, c)
			}
		})
	}
}
