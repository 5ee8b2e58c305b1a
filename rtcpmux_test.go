package byocp_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/byocp/byocp"
	"github.com/byocp/byocp/peering/peeringtest"
	"github.com/byocp/byocp/trunk/trunktest"
	"github.com/pion/rtcp"
)

// newRTCPRig starts a Bridge between a carrier and a Zoom peer configured
// as given.
func newRTCPRig(t *testing.T, carrier trunktest.Config, zoom peeringtest.Config, edit func(*byocp.Config)) *rig {
	t.Helper()
	pki, err := peeringtest.NewPKI("test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	zoom.PKI, zoom.Logger, carrier.Logger = pki, testLogger(), testLogger()
	z, err := peeringtest.NewZoom(zoom)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = z.Close() })
	c, err := trunktest.NewCarrier(carrier)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return newRigWith(t, &rig{pki: pki, carrier: c, zoom: z}, edit)
}

// rtcpCall is a call's RTCP as both test peers do it.
type rtcpCall interface {
	SendRTCP(pkt []byte) error
	WaitRTCP(ctx context.Context, n int) ([]trunktest.RTCPPacket, error)
	RTCPMux() bool
	LocalSDP() []byte
	RemoteSDP() []byte
}

// sendRTCP sends an RTCP report from one peer and checks that the other
// gets it, byte for byte, multiplexed on its RTP port or not.
func sendRTCP(t *testing.T, from, to rtcpCall, pkt []byte, muxed bool) {
	t.Helper()
	if err := from.SendRTCP(pkt); err != nil {
		t.Fatal(err)
	}
	got, err := to.WaitRTCP(ctxFor(t, 5*time.Second), 1)
	if err != nil {
		t.Fatalf("no RTCP arrived: %v", err)
	}
	if !bytes.Equal(got[0].Data, pkt) || got[0].Muxed != muxed {
		t.Fatalf("got %x (muxed %v), want %x (muxed %v)", got[0].Data, got[0].Muxed, pkt, muxed)
	}
}

// hasMux reports whether an SDP has a=rtcp-mux.
func hasMux(sdp []byte) bool { return strings.Contains(string(sdp), "\r\na=rtcp-mux\r\n") }

// A carrier that offers a=rtcp-mux gets it in the Bridge's answer, and
// its RTCP, sent on its RTP port, reaches Zoom as SRTCP as Zoom's leg
// negotiated: multiplexed when the Bridge offers Zoom a=rtcp-mux
// (peering.Config.RTCPMux) and Zoom accepts it, else on the RTCP port
// Zoom names in a=rtcp. Zoom's reports come back to the carrier's RTP
// port. Audio flows alongside.
func TestRTCPMuxCarrierToZoom(t *testing.T) {
	sr, _ := (&rtcp.SenderReport{SSRC: 0x1111, NTPTime: 1 << 32, RTPTime: 160, PacketCount: 1, OctetCount: 160}).Marshal()
	rr, _ := (&rtcp.ReceiverReport{SSRC: 0x2222, Reports: []rtcp.ReceptionReport{{SSRC: 0x1111, LastSequenceNumber: 9}}}).Marshal()
	for _, tc := range []struct {
		name    string
		zoom    peeringtest.Config
		zoomMux bool // peering.Config.RTCPMux
		zoomLeg bool // multiplexing on the Zoom leg
	}{
		{name: "Zoom multiplexes", zoom: peeringtest.Config{RTCPMux: true}, zoomMux: true, zoomLeg: true},
		{name: "Zoom on its a=rtcp port", zoom: peeringtest.Config{RTCPPort: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRTCPRig(t, trunktest.Config{RTCPMux: true}, tc.zoom, func(c *byocp.Config) { c.Peering.RTCPMux = tc.zoomMux })
			ctx := ctxFor(t, 20*time.Second)
			out, in := r.carrierCallsZoom(t, ctx)
			if !hasMux(out.LocalSDP()) || !hasMux(out.RemoteSDP()) || !out.RTCPMux() {
				t.Fatalf("carrier leg not multiplexed:\ncarrier's offer:\n%s\nBridge's answer:\n%s", out.LocalSDP(), out.RemoteSDP())
			}
			if hasMux(in.RemoteSDP()) != tc.zoomMux || in.RTCPMux() != tc.zoomLeg {
				t.Fatalf("Zoom leg multiplexed %v, want %v; the Bridge's offer:\n%s", in.RTCPMux(), tc.zoomLeg, in.RemoteSDP())
			}
			if !tc.zoomLeg && in.RTCPAddr().Port() == in.MediaAddr().Port()+1 {
				t.Skip("the system gave Zoom's RTCP port the number after its RTP port: a=rtcp would go untested")
			}
			exchangeAudio(t, out, in)
			sendRTCP(t, out, in, sr, tc.zoomLeg)
			sendRTCP(t, in, out, rr, true)
			exchangeAudio(t, out, in)
			if err := out.Hangup(ctx); err != nil {
				t.Fatal(err)
			}
			waitDone(t, in, "zoom leg")
			rec := r.record(t)
			if a, b := rec.Media.AtoB, rec.Media.BtoA; a.RTCP.Forwarded != 1 || b.RTCP.Forwarded != 1 || a.NotRTP+b.NotRTP != 0 {
				t.Errorf("RTCP not relayed once each way: carrier to Zoom %+v, Zoom to carrier %+v", a, b)
			}
		})
	}
}

// With trunk.Config.RTCPMux the Bridge offers the carrier a=rtcp-mux on a
// call from Zoom; a carrier that accepts it multiplexes RTCP, and Zoom's
// SRTCP reaches it on its RTP port.
func TestRTCPMuxOfferedToCarrier(t *testing.T) {
	r := newRTCPRig(t, trunktest.Config{RTCPMux: true}, peeringtest.Config{RTCPPort: true}, func(c *byocp.Config) { c.Trunk.RTCPMux = true })
	ctx := ctxFor(t, 20*time.Second)
	out, in := r.zoomCallsCarrier(t, ctx)
	if !hasMux(in.RemoteSDP()) || !in.RTCPMux() || hasMux(out.RemoteSDP()) || out.RTCPMux() {
		t.Fatalf("carrier leg multiplexed %v, Zoom leg %v\nthe Bridge's offer to the carrier:\n%s\nits answer to Zoom:\n%s",
			in.RTCPMux(), out.RTCPMux(), in.RemoteSDP(), out.RemoteSDP())
	}
	if out.RTCPAddr().Port() == out.MediaAddr().Port()+1 {
		t.Skip("the system gave Zoom's RTCP port the number after its RTP port: a=rtcp would go untested")
	}
	rr, _ := (&rtcp.ReceiverReport{SSRC: 0x3333}).Marshal()
	sendRTCP(t, out, in, rr, true)
	sr, _ := (&rtcp.SenderReport{SSRC: 0x4444, NTPTime: 1 << 32}).Marshal()
	sendRTCP(t, in, out, sr, false)
	exchangeAudio(t, out, in)
	_ = out.Hangup(ctx)
	waitDone(t, in, "carrier leg")
}

// Early media multiplexes RTCP too: the carrier's leg is multiplexed from
// the Bridge's early answer (the 183), so Zoom's SRTCP sent before the
// call is answered reaches the carrier's RTP port.
func TestRTCPMuxEarlyMedia(t *testing.T) {
	r := newRTCPRig(t, trunktest.Config{RTCPMux: true}, peeringtest.Config{
		Behavior: peeringtest.Behavior{EarlyMedia: true, Ring: 2 * time.Second}}, nil)
	ctx := ctxFor(t, 20*time.Second)
	type result struct {
		call *trunktest.Call
		err  error
	}
	placed := make(chan result, 1)
	go func() {
		c, err := r.carrier.Dial(ctx, r.bridge.TrunkAddr(), "14155550100", "+442079460000")
		placed <- result{c, err}
	}()
	in, err := r.zoom.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Zoom's early SRTCP, sent until the Bridge had time to take the 183.
	rr, _ := (&rtcp.ReceiverReport{SSRC: 0x5555}).Marshal()
	for range 10 {
		if err := in.SendRTCP(rr); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	select {
	case <-in.Answered():
		t.Fatal("answered before the early RTCP was sent; lengthen Ring")
	default:
	}
	res := <-placed
	if res.err != nil {
		t.Fatal(res.err)
	}
	out := res.call
	got := out.RTCP()
	if len(got) == 0 || !got[0].Muxed || !bytes.Equal(got[0].Data, rr) {
		t.Fatalf("early RTCP at the carrier: %+v", got)
	}
	_ = out.Hangup(ctx)
	waitDone(t, in, "zoom leg")
}
