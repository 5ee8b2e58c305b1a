package sdp

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

// addBefore returns body with lines inserted before its first line equal
// to at.
func addBefore(body, at string, lines ...string) string {
	if !strings.Contains(body, at+"\r\n") {
		panic("no line " + at)
	}
	return strings.Replace(body, at+"\r\n", strings.Join(lines, "\r\n")+"\r\n"+at+"\r\n", 1)
}

// a=rtcp (RFC 3605) gives the port, and the address when it has one;
// a=rtcp-mux (RFC 5761) is a flag. An a=rtcp that cannot be read is
// ignored, never an error.
func TestParseRTCP(t *testing.T) {
	for _, tt := range []struct {
		name  string
		attrs []string
		rtcp  string // "" = none
		mux   bool
	}{
		{"none", nil, "", false},
		{"port", []string{"a=rtcp:4001"}, "192.0.2.2:4001", false},
		{"port and IPv4 address", []string{"a=rtcp:4001 IN IP4 192.0.2.9"}, "192.0.2.9:4001", false},
		{"port and IPv6 address", []string{"a=rtcp:53020 IN IP6 2001:db8::9"}, "[2001:db8::9]:53020", false},
		{"runs of spaces", []string{"a=rtcp:4001  IN\tIP4 192.0.2.9"}, "192.0.2.9:4001", false},
		{"rtcp-mux", []string{"a=rtcp-mux"}, "", true},
		{"rtcp-mux and a=rtcp at the RTP port", []string{"a=rtcp:4000", "a=rtcp-mux"}, "192.0.2.2:4000", true},
		{"port 0", []string{"a=rtcp:0"}, "", false},
		{"port too large", []string{"a=rtcp:65536"}, "", false},
		{"not a number", []string{"a=rtcp:rtcp"}, "", false},
		{"empty", []string{"a=rtcp:"}, "", false},
		{"address without its types", []string{"a=rtcp:4001 192.0.2.9"}, "", false},
		{"types without an address", []string{"a=rtcp:4001 IN IP4"}, "", false},
		{"host name", []string{"a=rtcp:4001 IN IP4 lan-ip"}, "", false},
		{"IPv6 address as IP4", []string{"a=rtcp:4001 IN IP4 2001:db8::9"}, "", false},
		{"extra field", []string{"a=rtcp:4001 IN IP4 192.0.2.9 x"}, "", false},
		{"the first usable one wins", []string{"a=rtcp:x", "a=rtcp:5001", "a=rtcp:6001"}, "192.0.2.2:5001", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse([]byte(sdpLines(append([]string{"m=audio 4000 RTP/AVP 0"}, tt.attrs...)...)))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			var want netip.AddrPort
			if tt.rtcp != "" {
				want = netip.MustParseAddrPort(tt.rtcp)
			}
			if m.RTCP != want || m.RTCPMux != tt.mux {
				t.Errorf("RTCP %v, RTCPMux %v; want %v, %v", m.RTCP, m.RTCPMux, want, tt.mux)
			}
		})
	}
	t.Run("legacy hold", func(t *testing.T) {
		m, err := Parse([]byte(carrierSDP(2, "0.0.0.0", "m=audio 4000 RTP/AVP 0", "sendrecv") + "a=rtcp:4001\r\n"))
		if err != nil || m.RTCP != netip.MustParseAddrPort("0.0.0.0:4001") {
			t.Errorf("RTCP %v (%v), want 0.0.0.0:4001 as written", m.RTCP, err)
		}
	})
	t.Run("session level", func(t *testing.T) {
		body := crlf("v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "c=IN IP4 192.0.2.2", "t=0 0", "a=rtcp-mux", "a=rtcp:4001", "m=audio 4000 RTP/AVP 0")
		if m, err := Parse([]byte(body)); err != nil || m.RTCP.IsValid() || m.RTCPMux {
			t.Errorf("media-level attributes read at session level: %+v (%v)", m, err)
		}
	})
}

// Marshal writes a=rtcp (with the address only when it is not the
// stream's) and a=rtcp-mux before the direction, and Parse reads them
// back.
func TestMarshalRTCP(t *testing.T) {
	addr := netip.MustParseAddr("203.0.113.5")
	for _, tt := range []struct {
		name  string
		rtcp  netip.AddrPort
		mux   bool
		lines []string
	}{
		{"port", netip.AddrPortFrom(addr, 40001), false, []string{"a=rtcp:40001"}},
		{"address", netip.MustParseAddrPort("203.0.113.9:40001"), false, []string{"a=rtcp:40001 IN IP4 203.0.113.9"}},
		{"IPv6 address", netip.MustParseAddrPort("[2001:db8::9]:40001"), false, []string{"a=rtcp:40001 IN IP6 2001:db8::9"}},
		{"mux", netip.AddrPort{}, true, []string{"a=rtcp-mux"}},
		{"both", netip.AddrPortFrom(addr, 40000), true, []string{"a=rtcp:40000", "a=rtcp-mux"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := Media{Addr: addr, Port: 40000, Proto: ProtoRTPAVP, Formats: []Format{pcmu}, RTCP: tt.rtcp, RTCPMux: tt.mux}
			out, err := Marshal(testOrigin(), m)
			if err != nil {
				t.Fatal(err)
			}
			want := "a=rtpmap:0 PCMU/8000\r\n" + strings.Join(tt.lines, "\r\n") + "\r\na=sendrecv\r\n"
			if !strings.HasSuffix(string(out), want) {
				t.Errorf("Marshal:\n%s\nwant it to end with\n%s", out, want)
			}
			back, err := Parse(out)
			m.Direction = SendRecv
			if err != nil || !reflect.DeepEqual(back, m) {
				t.Errorf("Parse(Marshal(m)) = %+v (%v), want %+v", back, err, m)
			}
		})
	}
	for _, bad := range []netip.AddrPort{netip.AddrPortFrom(addr, 0), netip.AddrPortFrom(netip.MustParseAddr("fe80::1%eth0"), 40001)} {
		m := Media{Addr: addr, Port: 40000, Proto: ProtoRTPAVP, Formats: []Format{pcmu}, RTCP: bad}
		if _, err := Marshal(testOrigin(), m); !errors.Is(err, errBadAddr) {
			t.Errorf("Marshal with RTCP %v: %v, want errBadAddr", bad, err)
		}
	}
}

// newTestCallWith is newTestCall with the legs' configurations edited.
func newTestCallWith(t *testing.T, edit func(carrier, zoom *LegConfig)) *testCall {
	t.Helper()
	kc, zc := carrierLegConfig(), zoomLegConfig()
	edit(&kc, &zc)
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

// checkRTCP checks what a leg negotiated for RTCP.
func checkRTCP(t *testing.T, leg string, st State, mux bool, remote string) {
	t.Helper()
	var want netip.AddrPort
	if remote != "" {
		want = netip.MustParseAddrPort(remote)
	}
	if st.RTCPMux != mux || st.RemoteRTCP != want {
		t.Errorf("%s leg: RTCPMux %v, RemoteRTCP %v; want %v, %v", leg, st.RTCPMux, st.RemoteRTCP, mux, want)
	}
}

// A carrier that offers a=rtcp-mux gets it in byocp's answer, and
// multiplexing is in effect on its leg only: byocp's offer to Zoom does
// not carry it over, nor the carrier's a=rtcp. While in use, byocp's own
// offers on the leg keep it (its current SDP offered in a 200 too); an
// answer that drops it ends it, and an answer that has it to an offer
// without it does not start it (RFC 8035).
func TestLegRTCPMuxAnswered(t *testing.T) {
	c := newTestCall(t)
	setup := carrierToZoom
	setup.offer = addBefore(carrierInvite, "a=sendrecv", "a=rtcp:4001", "a=rtcp-mux")
	setup.answer = addBefore(setup.answer, "a=sendrecv", "a=rtcp:34171")
	answered := addBefore(setup.wantAnswer, "a=sendrecv", "a=rtcp-mux")
	setup.wantAnswer = answered // wantOffer is carrierToZoom's: nothing of the carrier's RTCP
	c.step(setup)
	checkRTCP(t, "carrier", c.carrier.Current(), true, "198.51.100.20:4001")
	checkRTCP(t, "Zoom", c.zoom.Current(), false, "3.3.3.3:34171")

	c.step(step{
		name: "re-INVITE without SDP from the carrier", from: "carrier",
		wantOffer: answered, // byocp's current SDP: a=rtcp-mux and the same version
		answer:    addBefore(carrierAnswer(1700000001, "sendrecv"), "a=sendrecv", "a=rtcp-mux"),
	})
	checkRTCP(t, "carrier", c.carrier.Current(), true, "")

	c.step(step{
		name: "Zoom holds", from: "zoom", offer: zoomSDP(56391, "sendonly"), relay: true,
		wantOffer:  addBefore(carrierOffered(2, "sendonly", "96"), "a=sendonly", "a=rtcp-mux"), // still in use: offered again
		answer:     carrierAnswer(1700000002, "recvonly"),                                      // without it
		wantAnswer: zoomAnswered(2, "recvonly", "{K1}"),
	})
	checkRTCP(t, "carrier", c.carrier.Current(), false, "")

	c.step(step{
		name: "Zoom resumes", from: "zoom", offer: zoomSDP(56392, ""), relay: true,
		wantOffer:  carrierOffered(3, "sendrecv", "96"), // not in use, not configured: not offered
		answer:     addBefore(carrierAnswer(1700000003, "sendrecv"), "a=sendrecv", "a=rtcp-mux"),
		wantAnswer: zoomAnswered(3, "sendrecv", "{K1}"),
	})
	checkRTCP(t, "carrier", c.carrier.Current(), false, "")
	checkRTCP(t, "Zoom", c.zoom.Current(), false, "")
}

// With LegConfig.RTCPMux, byocp's offers on the leg carry a=rtcp-mux, and
// multiplexing is in effect when the answer has it too. The other leg's
// SDP is as without it. A re-offer from the peer decides for itself: one
// without a=rtcp-mux is answered without it, and ends multiplexing.
func TestLegRTCPMuxOffered(t *testing.T) {
	c := newTestCallWith(t, func(_, zoom *LegConfig) { zoom.RTCPMux = true })
	setup := carrierToZoom
	setup.wantOffer = addBefore(setup.wantOffer, "a=sendrecv", "a=rtcp-mux")
	setup.answer = addBefore(setup.answer, "a=sendrecv", "a=rtcp-mux")
	c.step(setup) // wantAnswer is carrierToZoom's: the carrier offered no a=rtcp-mux
	checkRTCP(t, "Zoom", c.zoom.Current(), true, "")
	checkRTCP(t, "carrier", c.carrier.Current(), false, "")

	c.step(step{
		name: "Zoom holds without a=rtcp-mux", from: "zoom", offer: zoomSDP(56391, "sendonly"), relay: true,
		wantOffer:  carrierOffered(2, "sendonly", "96"),
		answer:     carrierAnswer(1700000001, "recvonly"),
		wantAnswer: zoomAnswered(2, "recvonly", "{K1}"),
	})
	checkRTCP(t, "Zoom", c.zoom.Current(), false, "")

	resume := zoomSDP(56392, "") + "a=rtcp-mux\r\n"
	resumed := addBefore(zoomAnswered(3, "sendrecv", "{K1}"), "a=sendrecv", "a=rtcp-mux")
	c.step(step{
		name: "Zoom resumes with a=rtcp-mux", from: "zoom", offer: resume, relay: true,
		wantOffer:  carrierOffered(3, "sendrecv", "96"),
		answer:     carrierAnswer(1700000002, "sendrecv"),
		wantAnswer: resumed,
	})
	checkRTCP(t, "Zoom", c.zoom.Current(), true, "")
	c.step(step{name: "refresh", from: "zoom", offer: resume, refresh: true, wantAnswer: resumed})
	checkRTCP(t, "Zoom", c.zoom.Current(), true, "")

	t.Run("answer without a=rtcp-mux", func(t *testing.T) {
		c := newTestCallWith(t, func(_, zoom *LegConfig) { zoom.RTCPMux = true })
		setup := carrierToZoom
		setup.wantOffer = addBefore(setup.wantOffer, "a=sendrecv", "a=rtcp-mux")
		c.step(setup)
		checkRTCP(t, "Zoom", c.zoom.Current(), false, "")
	})
}

// A re-offer that moves only the peer's RTCP port is no refresh: it is
// answered on its own leg (byocp's SDP unchanged) and the leg's State
// follows it.
func TestLegRTCPPortMoved(t *testing.T) {
	c := newTestCall(t)
	c.step(carrierToZoom)
	checkRTCP(t, "carrier", c.carrier.Current(), false, "")
	moved := strings.Replace(addBefore(carrierInvite, "a=sendrecv", "a=rtcp:4005 IN IP4 198.51.100.21"),
		"1700000000 1700000000", "1700000000 1700000001", 1)
	c.step(step{name: "RTCP moved", from: "carrier", offer: moved, wantAnswer: carrierToZoom.wantAnswer})
	checkRTCP(t, "carrier", c.carrier.Current(), false, "198.51.100.21:4005")
}
