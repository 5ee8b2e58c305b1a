package byocp_test

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/srtp/v3"

	"github.com/byocp/byocp"
	"github.com/byocp/byocp/media"
	"github.com/byocp/byocp/sdp"
)

// Bridge.Calls shows a call in progress with its media statistics as of
// now, loss and jitter included, and the MOS estimated from them; the
// record at the end carries the same.
func TestCallsShowLiveQuality(t *testing.T) {
	r := newRig(t, nil)
	ctx := ctxFor(t, 20*time.Second)
	out, in := r.carrierCallsZoom(t, ctx)
	exchangeAudio(t, out, in)
	time.Sleep(150 * time.Millisecond) // quality figures are published every 100 ms
	exchangeAudio(t, out, in)
	calls := r.bridge.Calls()
	if len(calls) != 1 {
		t.Fatalf("Calls() = %d calls, want 1", len(calls))
	}
	c := calls[0]
	if c.Direction != byocp.CarrierToZoom || c.Answered.IsZero() || c.Codec == "" || c.Media.AtoB.Forwarded < 90 || c.Media.BtoA.Forwarded < 90 {
		t.Fatalf("call status %+v", c)
	}
	if q := c.Media.AtoB.Quality; q.Expected < 50 || q.Lost != 0 {
		t.Errorf("carrier->Zoom quality %+v", q)
	}
	if c.MOSCarrierToZoom < 4 || c.MOSZoomToCarrier < 4 {
		t.Errorf("MOS %.2f / %.2f for clean loopback audio", c.MOSCarrierToZoom, c.MOSZoomToCarrier)
	}
	_ = out.Hangup(ctx)
	waitDone(t, in, "zoom leg")
	rec := r.record(t)
	if rec.MOSCarrierToZoom < 4 || rec.MOSZoomToCarrier < 4 || rec.Media.BtoA.Quality.Expected < 50 {
		t.Errorf("record MOS %.2f / %.2f, quality %+v", rec.MOSCarrierToZoom, rec.MOSZoomToCarrier, rec.Media.BtoA.Quality)
	}
	if n := len(r.bridge.Calls()); n != 0 {
		t.Errorf("Calls() = %d after the call ended", n)
	}
}

// rtcpSide is a fake peer's RTCP socket (its RTP port + 1, where the
// relay sends its RTCP) and the relay's RTCP port on that leg, with the
// SRTCP contexts of the Zoom leg.
type rtcpSide struct {
	conn     *net.UDPConn
	relay    netip.AddrPort
	enc, dec *srtp.Context
}

func newRTCPSide(t *testing.T, peer netip.AddrPort, relaySDP []byte) *rtcpSide {
	t.Helper()
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(peer.Addr(), peer.Port()+1)))
	if err != nil {
		t.Skipf("RTCP port after %s taken: %v", peer, err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	m, err := sdp.Parse(relaySDP)
	if err != nil {
		t.Fatal(err)
	}
	return &rtcpSide{conn: conn, relay: netip.AddrPortFrom(m.Addr, uint16(m.Port+1))}
}

// keys gives the side SRTCP contexts: it encrypts with the key of its
// own SDP and decrypts with the relay's.
func (s *rtcpSide) keys(t *testing.T, own, relay []byte) {
	t.Helper()
	ctx := func(body []byte) *srtp.Context {
		m, err := sdp.Parse(body)
		if err != nil || len(m.Crypto) == 0 || m.Crypto[0].Suite != "AES_CM_128_HMAC_SHA1_80" {
			t.Fatalf("crypto of %s: %v", body, err)
		}
		c, err := srtp.CreateContext(m.Crypto[0].KeySalt[:16], m.Crypto[0].KeySalt[16:], srtp.ProtectionProfileAes128CmHmacSha1_80)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	s.enc, s.dec = ctx(own), ctx(relay)
}

func (s *rtcpSide) send(t *testing.T, pkt []byte) {
	t.Helper()
	if s.enc != nil {
		var err error
		if pkt, err = s.enc.EncryptRTCP(nil, pkt, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.conn.WriteToUDPAddrPort(pkt, s.relay); err != nil {
		t.Fatal(err)
	}
}

func (s *rtcpSide) receive(t *testing.T) []byte {
	t.Helper()
	buf := make([]byte, 1500)
	_ = s.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _, err := s.conn.ReadFromUDP(buf)
	if err != nil {
		t.Fatal(err)
	}
	if s.dec != nil {
		plain, err := s.dec.DecryptRTCP(nil, buf[:n], nil)
		if err != nil {
			t.Fatal(err)
		}
		return plain
	}
	return buf[:n]
}

// delay has sender's SR relayed to peer, which reports on it after hold
// with a DLSR of 0, as if the network took that long: the relay measures
// a round trip of at least hold on peer's leg.
func delay(t *testing.T, sender, peer *rtcpSide, hold time.Duration) {
	t.Helper()
	sr, _ := (&rtcp.SenderReport{SSRC: 1, NTPTime: uint64(time.Now().UnixNano()), RTPTime: 8000, PacketCount: 50}).Marshal()
	sender.send(t, sr)
	pkts, err := rtcp.Unmarshal(peer.receive(t))
	if err != nil {
		t.Fatal(err)
	}
	got, ok := pkts[0].(*rtcp.SenderReport)
	if !ok {
		t.Fatalf("peer got %T, want the SR", pkts[0])
	}
	time.Sleep(hold)
	rr, _ := (&rtcp.ReceiverReport{SSRC: 2, Reports: []rtcp.ReceptionReport{{SSRC: 1,
		LastSenderReport: uint32(got.NTPTime >> 16)}}}).Marshal()
	peer.send(t, rr)
	sender.receive(t)
}

// The RTCP a call's peers exchange through the relay gives each leg's
// round trip, which Bridge.Calls and the record show and the MOS counts:
// with 200 ms on each leg, lower than loss and jitter alone give.
func TestCallsShowRTT(t *testing.T) {
	r := newRig(t, nil)
	ctx := ctxFor(t, 20*time.Second)
	out, in := r.carrierCallsZoom(t, ctx)
	exchangeAudio(t, out, in) // the relay latches on both peers
	carrier := newRTCPSide(t, out.MediaAddr(), out.RemoteSDP())
	zoom := newRTCPSide(t, in.MediaAddr(), in.RemoteSDP())
	zoom.keys(t, in.LocalSDP(), in.RemoteSDP())
	const hold = 200 * time.Millisecond
	delay(t, carrier, zoom, hold)
	delay(t, zoom, carrier, hold)
	time.Sleep(150 * time.Millisecond) // quality figures are published every 100 ms

	calls := r.bridge.Calls()
	if len(calls) != 1 {
		t.Fatalf("Calls() = %d calls, want 1", len(calls))
	}
	checkRTT := func(what string, st media.Stats, codec string, rttCarrier, rttZoom time.Duration, mos [2]float64) {
		t.Helper()
		if rttCarrier < hold || rttCarrier > 5*time.Second || rttZoom < hold || rttZoom > 5*time.Second ||
			rttCarrier != st.AtoB.Quality.RTT || rttZoom != st.BtoA.Quality.RTT {
			t.Fatalf("%s: RTT carrier %v, Zoom %v; quality %+v / %+v", what, rttCarrier, rttZoom, st.AtoB.Quality, st.BtoA.Quality)
		}
		name, _, _ := strings.Cut(codec, "/")
		for i, q := range []media.Quality{st.AtoB.Quality, st.BtoA.Quality} {
			without := media.MOS(name, q.LossRate(), q.Jitter, 0)
			with := media.MOS(name, q.LossRate(), q.Jitter, rttCarrier+rttZoom)
			if mos[i] != with || mos[i] >= without {
				t.Errorf("%s: MOS %.3f of direction %d, want %.3f with both legs' delay (%.3f without)", what, mos[i], i, with, without)
			}
		}
	}
	c := calls[0]
	checkRTT("Calls", c.Media, c.Codec, c.RTTCarrier, c.RTTZoom, [2]float64{c.MOSCarrierToZoom, c.MOSZoomToCarrier})
	_ = out.Hangup(ctx)
	waitDone(t, in, "zoom leg")
	rec := r.record(t)
	checkRTT("record", rec.Media, rec.Codec, rec.RTTCarrier, rec.RTTZoom, [2]float64{rec.MOSCarrierToZoom, rec.MOSZoomToCarrier})
}
