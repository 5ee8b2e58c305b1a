package byocp_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/byocp/byocp"
	"github.com/byocp/byocp/media"
	"github.com/byocp/byocp/peering/peeringtest"
	"github.com/byocp/byocp/sdp"
	"github.com/byocp/byocp/sip"
	"github.com/byocp/byocp/trunk/trunktest"
)

// relayT38 configures a Bridge whose calls relay T.38.
func relayT38(c *byocp.Config) {
	c.Trunk.RelayT38 = true
	c.Peering.RelayT38 = true
}

// faxCall is a call of either test peer with its offer/answer and T.38
// methods.
type faxCall interface {
	fakeCall
	Reinvite(ctx context.Context, o trunktest.ReinviteOptions) error
	Requests() []trunktest.Request
	RemoteSDP() []byte
	T38() bool
	SendUDPTL(data []byte) error
	WaitUDPTL(ctx context.Context, n int) ([][]byte, error)
	UDPTLAddr() netip.AddrPort
}

// streams lists the m-lines of an SDP as "type port proto formats", with
// where its first active image stream is and that stream's a= lines.
func streams(t *testing.T, body []byte) (mlines []string, image netip.AddrPort, attrs []string) {
	t.Helper()
	d, err := sdp.Read(body)
	if err != nil {
		t.Fatalf("SDP: %v\n%s", err, body)
	}
	for i, m := range d.Media {
		mlines = append(mlines, fmt.Sprintf("%s %d %s %s", m.Type, m.Port, m.Proto, strings.Join(m.Formats, " ")))
		if m.Type != "image" || m.Port == 0 || image.IsValid() {
			continue
		}
		c, ok := d.MediaConnection(i)
		addr, err := c.Addr()
		if !ok || err != nil {
			t.Fatalf("image stream without an address: %v\n%s", err, body)
		}
		image = netip.AddrPortFrom(addr, uint16(m.Port))
		for _, a := range m.Attributes() {
			attrs = append(attrs, a.Key+":"+a.Value)
		}
	}
	return mlines, image, attrs
}

// wantMLines checks the m-lines of an SDP by prefix ("audio ", "image 0
// udptl t38", ...), one per m-line.
func wantMLines(t *testing.T, what string, body []byte, prefixes ...string) {
	t.Helper()
	mls, _, _ := streams(t, body)
	ok := len(mls) == len(prefixes)
	for i := 0; ok && i < len(mls); i++ {
		ok = strings.HasPrefix(mls[i], prefixes[i])
	}
	if !ok {
		t.Fatalf("%s: m-lines %q, want %q\n%s", what, mls, prefixes, body)
	}
}

// t38Attributes are the attributes of the test peers' T.38 offers.
var t38Attributes = []string{"T38FaxVersion:0", "T38MaxBitRate:14400", "T38FaxRateManagement:transferredTCF",
	"T38FaxMaxBuffer:262", "T38FaxMaxDatagram:176", "T38FaxUdpEC:t38UDPRedundancy"}

// switchToFax has sender re-INVITE the call to T.38 (m=image in place of
// m=audio) and checks the exchange on both legs: receiver got an
// image-only offer on a UDPTL port of the Bridge's (not sender's), with
// sender's T.38 attributes, and sender got an image-only answer on another
// Bridge port, with receiver's.
func switchToFax(t *testing.T, ctx context.Context, r *rig, sender, receiver faxCall) {
	t.Helper()
	before := len(receiver.Requests())
	if err := sender.Reinvite(ctx, trunktest.ReinviteOptions{T38: true}); err != nil {
		t.Fatalf("fax re-INVITE: %v", err)
	}
	if !sender.T38() || !receiver.T38() {
		t.Fatalf("not in fax mode: %s / %s", sender.Description(), receiver.Description())
	}
	reqs := receiver.Requests()
	if len(reqs) != before+1 || reqs[before].Method != "INVITE" || reqs[before].Status != 200 {
		t.Fatalf("the fax re-INVITE reached the other side as %+v", reqs[before:])
	}
	wantMLines(t, "offer to the receiver", reqs[before].SDP, "image ")
	wantMLines(t, "answer to the sender", sender.RemoteSDP(), "image ")
	_, toReceiver, offered := streams(t, reqs[before].SDP)
	_, toSender, answered := streams(t, sender.RemoteSDP())
	ip := r.bridge.TrunkAddr().Addr()
	for _, p := range []netip.AddrPort{toReceiver, toSender} {
		if p.Addr() != ip || p.Port() < 40000 || p.Port() > 40999 {
			t.Fatalf("the Bridge's image stream is at %s, want %s in its media port range", p, ip)
		}
	}
	if toReceiver == toSender || toReceiver == sender.UDPTLAddr() || toSender == receiver.UDPTLAddr() {
		t.Fatalf("image streams: Bridge %s (to sender) / %s (to receiver), peers %s (sender) / %s (receiver)",
			toSender, toReceiver, sender.UDPTLAddr(), receiver.UDPTLAddr())
	}
	if fmt.Sprint(offered) != fmt.Sprint(t38Attributes) || fmt.Sprint(answered) != fmt.Sprint(t38Attributes) {
		t.Fatalf("T.38 attributes: offered %q, answered %q, want %q both ways", offered, answered, t38Attributes)
	}
}

// sendFax sends n UDPTL datagrams (of different lengths, tagged) from
// one call in fax mode and checks that the other receives them byte for
// byte, in order.
func sendFax(t *testing.T, ctx context.Context, from, to faxCall, n int, tag byte) {
	t.Helper()
	have, err := to.WaitUDPTL(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	sent := make([][]byte, n)
	for i := range sent {
		// A UDPTL packet: sequence number, IFP length, IFP, no redundancy.
		ifp := append([]byte{0x06, tag}, bytes.Repeat([]byte{byte(i)}, i%7)...)
		sent[i] = append([]byte{0, byte(i), byte(len(ifp))}, append(ifp, 0x00)...)
		if err := from.SendUDPTL(sent[i]); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond) // paced, as a fax gateway's datagrams are
	}
	got, err := to.WaitUDPTL(ctx, len(have)+n)
	if err != nil {
		t.Fatalf("%v: %d of %d datagrams arrived", err, len(got)-len(have), n)
	}
	for i, pkt := range got[len(have):] {
		if !bytes.Equal(pkt, sent[i]) {
			t.Fatalf("datagram %d: sent %x, received %x", i, sent[i], pkt)
		}
	}
}

// talkAgain sends audioPackets each way and checks that at least 90 % of
// them arrive intact on each side, counting from now (exchangeAudio
// counts from the start of the call).
func talkAgain(t *testing.T, a, b fakeCall) {
	t.Helper()
	ia, ib := a.Media(), b.Media()
	if err := a.TalkWith(ctxFor(t, 10*time.Second), b, audioPackets); err != nil {
		t.Fatal(err)
	}
	want := uint64(audioPackets * 9 / 10)
	for deadline := time.Now().Add(2 * time.Second); a.Media().Intact-ia.Intact < want || b.Media().Intact-ib.Intact < want; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("audio: %d and %d of %d packets intact (%s / %s)", a.Media().Intact-ia.Intact, b.Media().Intact-ib.Intact,
				audioPackets, a.Description(), b.Description())
		}
	}
	if a.Media().Corrupt != ia.Corrupt || b.Media().Corrupt != ib.Corrupt || a.Media().AuthFailed != ia.AuthFailed || b.Media().AuthFailed != ib.AuthFailed {
		t.Fatalf("corrupt or undecryptable audio: %+v / %+v", a.Media(), b.Media())
	}
}

// wantUDPTL checks the record's UDPTL counts (AtoB is carrier->Zoom).
func wantUDPTL(t *testing.T, rec byocp.CallRecord, carrierToZoom, zoomToCarrier uint64) {
	t.Helper()
	s := rec.UDPTL
	if s.AtoB.Forwarded != carrierToZoom || s.BtoA.Forwarded != zoomToCarrier ||
		s.AtoB.Received != carrierToZoom || s.BtoA.Received != zoomToCarrier {
		t.Fatalf("record UDPTL %+v, want %d datagrams carrier->Zoom and %d Zoom->carrier, all forwarded", s, carrierToZoom, zoomToCarrier)
	}
	if carrierToZoom > 0 && (s.AtoB.Bytes == 0 || s.AtoB.FirstForwarded.IsZero()) {
		t.Fatalf("record UDPTL %+v: no bytes or time", s)
	}
}

// TestT38RelayCarrierToZoom: on a Bridge that relays T.38, the carrier
// switches a call to fax with the usual re-INVITE (m=image replacing
// m=audio). Zoom, which accepts T.38, gets the image stream on the
// Bridge's own UDPTL port, both answer, and datagrams pass byte for byte
// both ways; a re-INVITE back to audio restores the audio m-line and the
// audio flows again; the record counts the datagrams.
func TestT38RelayCarrierToZoom(t *testing.T) {
	t.Parallel()
	r := newRig(t, relayT38)
	r.zoom.SetBehavior(peeringtest.Behavior{AcceptT38: true})
	ctx := ctxFor(t, 30*time.Second)
	out, in := r.carrierCallsZoom(t, ctx)
	exchangeAudio(t, out, in)

	switchToFax(t, ctx, r, out, in)
	sendFax(t, ctx, out, in, 20, 'c')
	sendFax(t, ctx, in, out, 15, 'z')

	if err := out.Reinvite(ctx, trunktest.ReinviteOptions{}); err != nil {
		t.Fatalf("re-INVITE back to audio: %v", err)
	}
	if out.T38() || in.T38() {
		t.Fatal("still in fax mode after the re-INVITE back to audio")
	}
	reqs := in.Requests()
	wantMLines(t, "Zoom's offer back to audio", reqs[len(reqs)-1].SDP, "audio ")
	wantMLines(t, "the carrier's answer back to audio", out.RemoteSDP(), "audio ")
	talkAgain(t, out, in)

	if err := out.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	waitDone(t, in, "Zoom leg")
	rec := r.record(t)
	if rec.Status != 200 || rec.HangupBy != byocp.HangupCarrier {
		t.Errorf("record: %+v", rec)
	}
	wantUDPTL(t, rec, 20, 15)
}

// TestT38RelayZoomToCarrier: the same with the call placed by Zoom,
// switched to fax by Zoom (the carrier accepts T.38) and switched back to
// audio by the carrier, whose audio m-line returns in the image stream's
// place with Zoom's SRTP keyed as before.
func TestT38RelayZoomToCarrier(t *testing.T) {
	t.Parallel()
	r := newRig(t, relayT38)
	r.carrier.SetBehavior(trunktest.Behavior{AcceptT38: true})
	ctx := ctxFor(t, 30*time.Second)
	out, in := r.zoomCallsCarrier(t, ctx)
	exchangeAudio(t, out, in)

	switchToFax(t, ctx, r, out, in)
	sendFax(t, ctx, in, out, 12, 'c')
	sendFax(t, ctx, out, in, 18, 'z')

	if err := in.Reinvite(ctx, trunktest.ReinviteOptions{}); err != nil {
		t.Fatalf("the carrier's re-INVITE back to audio: %v", err)
	}
	if out.T38() || in.T38() {
		t.Fatal("still in fax mode after the re-INVITE back to audio")
	}
	reqs := out.Requests()
	wantMLines(t, "Zoom's offer back to audio", reqs[len(reqs)-1].SDP, "audio ")
	wantMLines(t, "the carrier's answer back to audio", in.RemoteSDP(), "audio ")
	talkAgain(t, out, in)

	if err := out.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	waitDone(t, in, "carrier leg")
	rec := r.record(t)
	if rec.Status != 200 || rec.HangupBy != byocp.HangupZoom {
		t.Errorf("record: %+v", rec)
	}
	wantUDPTL(t, rec, 12, 18)
}

// TestT38NotRelayed: unless both sides relay T.38 (the default is
// neither), a fax re-INVITE whose m=image replaced the audio gets 488 from
// the Bridge, from either side; the other side never sees it (though it
// would accept T.38) and the call goes on as audio. The offer that adds
// m=image next to the audio is TestSippT38Reinvite's.
func TestT38NotRelayed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		edit func(*byocp.Config)
	}{
		{"default", nil},
		{"carrier side only", func(c *byocp.Config) { c.Trunk.RelayT38 = true }},
		{"Zoom side only", func(c *byocp.Config) { c.Peering.RelayT38 = true }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, tc.edit)
			r.zoom.SetBehavior(peeringtest.Behavior{AcceptT38: true})
			ctx := ctxFor(t, 30*time.Second)
			out, in := r.carrierCallsZoom(t, ctx)
			exchangeAudio(t, out, in)
			for _, c := range []struct {
				name           string
				sender, callee faxCall
			}{{"carrier", out, in}, {"Zoom", in, out}} {
				err := c.sender.Reinvite(ctx, trunktest.ReinviteOptions{T38: true})
				var se *sip.StatusError
				if !errors.As(err, &se) || se.Response.StatusCode != 488 {
					t.Fatalf("%s's fax re-INVITE: %v, want 488", c.name, err)
				}
				if c.sender.T38() || c.callee.T38() || len(c.callee.Requests()) != 0 {
					t.Fatalf("%s's fax re-INVITE went through: %+v", c.name, c.callee.Requests())
				}
			}
			talkAgain(t, out, in)
			// Both legs are as they were: a re-INVITE goes on.
			if err := out.Hold(ctx); err != nil {
				t.Fatal(err)
			}
			if err := out.Resume(ctx); err != nil {
				t.Fatal(err)
			}
			talkAgain(t, out, in)
			if err := out.Hangup(ctx); err != nil {
				t.Fatal(err)
			}
			waitDone(t, in, "Zoom leg")
			if rec := r.record(t); rec.Status != 200 || rec.UDPTL != (media.UDPTLStats{}) {
				t.Errorf("record: %+v", rec)
			}
		})
	}
}

// TestT38RelayRefusedByZoom: on a Bridge that relays T.38, a Zoom peer
// that does not take T.38 refuses the carrier's image-only re-INVITE with
// 488, which the carrier gets; with m=image next to the audio it rejects
// the image stream with port 0, and so does the Bridge's answer to the
// carrier. Either way the call goes on as audio.
func TestT38RelayRefusedByZoom(t *testing.T) {
	t.Parallel()
	r := newRig(t, relayT38)
	ctx := ctxFor(t, 30*time.Second)
	out, in := r.carrierCallsZoom(t, ctx)
	exchangeAudio(t, out, in)

	err := out.Reinvite(ctx, trunktest.ReinviteOptions{T38: true})
	var se *sip.StatusError
	if !errors.As(err, &se) || se.Response.StatusCode != 488 {
		t.Fatalf("fax re-INVITE refused by Zoom: %v, want 488", err)
	}
	reqs := in.Requests()
	if len(reqs) != 1 || reqs[0].Status != 488 {
		t.Fatalf("Zoom's requests %+v", reqs)
	}
	wantMLines(t, "the offer Zoom refused", reqs[0].SDP, "image ")
	if out.T38() || in.T38() {
		t.Fatal("in fax mode after a refusal")
	}
	talkAgain(t, out, in)

	if err := out.Reinvite(ctx, trunktest.ReinviteOptions{T38: true, KeepAudio: true}); err != nil {
		t.Fatalf("audio and image re-INVITE: %v", err)
	}
	reqs = in.Requests()
	wantMLines(t, "the audio and image offer to Zoom", reqs[len(reqs)-1].SDP, "audio ", "image ")
	wantMLines(t, "the answer to the carrier", out.RemoteSDP(), "audio ", "image 0 udptl t38")
	if out.T38() || in.T38() {
		t.Fatal("in fax mode after the image stream was rejected")
	}
	talkAgain(t, out, in)
	if err := out.Reinvite(ctx, trunktest.ReinviteOptions{}); err != nil {
		t.Fatal(err)
	}
	talkAgain(t, out, in)

	if err := out.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	waitDone(t, in, "Zoom leg")
	rec := r.record(t)
	if rec.Status != 200 || rec.HangupBy != byocp.HangupCarrier {
		t.Errorf("record: %+v", rec)
	}
	wantUDPTL(t, rec, 0, 0)
}

// TestT38FaxAndMediaTimeout: a fax is media. With the audio and image
// streams both active (m=image added next to m=audio), gateways stop RTP
// and send UDPTL only, and the call must outlive the media timeout; with
// the image stream alone and nothing flowing, the media timeout must end
// it as it ends a silent audio call.
func TestT38FaxAndMediaTimeout(t *testing.T) {
	t.Parallel()
	for _, keepAudio := range []bool{true, false} {
		t.Run(fmt.Sprintf("keep audio %v", keepAudio), func(t *testing.T) {
			t.Parallel()
			r := newRig(t, func(c *byocp.Config) { relayT38(c); c.MediaTimeout = time.Second })
			r.zoom.SetBehavior(peeringtest.Behavior{AcceptT38: true})
			ctx := ctxFor(t, 30*time.Second)
			out, in := r.carrierCallsZoom(t, ctx)
			if err := out.Reinvite(ctx, trunktest.ReinviteOptions{T38: true, KeepAudio: keepAudio}); err != nil {
				t.Fatal(err)
			}
			for deadline := time.Now().Add(2500 * time.Millisecond); time.Now().Before(deadline); {
				if keepAudio { // a live fax, no RTP
					_ = out.SendUDPTL([]byte("\x00\x01\x02\x06\x00\x00"))
					_ = in.SendUDPTL([]byte("\x00\x01\x02\x06\x00\x00"))
				}
				select {
				case <-out.Done():
				case <-time.After(50 * time.Millisecond):
					continue
				}
				break
			}
			select {
			case <-out.Done():
				if keepAudio {
					t.Fatalf("a live fax ended: %+v", r.record(t))
				}
				if rec := r.record(t); !strings.Contains(rec.Reason, "media timeout") {
					t.Fatalf("record: %+v", rec)
				}
			default:
				if !keepAudio {
					t.Fatal("a silent fax outlived the media timeout")
				}
				_ = out.Hangup(ctx)
				r.record(t)
			}
		})
	}
}

// TestT38StrangerUDPTL: UDPTL is not authenticated, so the Bridge takes
// T.38 datagrams on each leg only from that leg's peer (the IP address of
// its image stream), as media.UDPTLLegConfig recommends: a stranger's
// datagrams to either of the Bridge's image ports are dropped.
func TestT38StrangerUDPTL(t *testing.T) {
	t.Parallel()
	r := newRig(t, relayT38)
	r.zoom.SetBehavior(peeringtest.Behavior{AcceptT38: true})
	ctx := ctxFor(t, 30*time.Second)
	out, in := r.carrierCallsZoom(t, ctx)
	switchToFax(t, ctx, r, out, in)
	reqs := in.Requests()
	_, toZoom, _ := streams(t, reqs[len(reqs)-1].SDP)
	_, toCarrier, _ := streams(t, out.RemoteSDP())
	for _, port := range []netip.AddrPort{toZoom, toCarrier} {
		// Another loopback address stands for a stranger on the Internet.
		conn, err := net.DialUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2)}, net.UDPAddrFromAddrPort(port))
		if err != nil {
			t.Skipf("no second loopback address: %v", err)
		}
		_, err = conn.Write([]byte("\x00\x07\x02\x06\x00\x00 not from the peer"))
		_ = conn.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	sendFax(t, ctx, out, in, 1, 'c') // after the strangers' datagrams
	sendFax(t, ctx, in, out, 1, 'z')
	if err := out.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	waitDone(t, in, "Zoom leg")
	rec := r.record(t)
	if u := rec.UDPTL; u.AtoB.WrongSource != 1 || u.BtoA.WrongSource != 1 || u.AtoB.Forwarded != 1 || u.BtoA.Forwarded != 1 {
		t.Errorf("record UDPTL %+v, want one datagram from a wrong source each way and the peers' one forwarded", rec.UDPTL)
	}
}
