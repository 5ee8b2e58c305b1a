package trunktest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/byocp/byocp/internal/leakcheck"
	"github.com/byocp/byocp/sdp"
	"github.com/byocp/byocp/sip"
	"github.com/byocp/byocp/trunk/trunktest"
)

// mlines lists an SDP's m-lines as "type port proto formats".
func mlines(t *testing.T, body []byte) []string {
	t.Helper()
	d, err := sdp.Read(body)
	if err != nil {
		t.Fatalf("SDP: %v\n%s", err, body)
	}
	var out []string
	for _, m := range d.Media {
		out = append(out, fmt.Sprintf("%s %d %s %s", m.Type, m.Port, m.Proto, strings.Join(m.Formats, " ")))
	}
	return out
}

// imageAttributes returns the a= lines of an SDP's first m=image section.
func imageAttributes(t *testing.T, body []byte) []string {
	t.Helper()
	d, err := sdp.Read(body)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range d.Media {
		if m.Type == "image" {
			var out []string
			for _, a := range m.Attributes() {
				out = append(out, a.Key+":"+a.Value)
			}
			return out
		}
	}
	return nil
}

// faxBothWays sends a datagram each way between two calls in fax mode and
// checks that it arrives byte for byte.
func faxBothWays(t *testing.T, a, b *trunktest.Call, n int) {
	t.Helper()
	ctx := ctxFor(t, 5*time.Second)
	for _, p := range []struct{ from, to *trunktest.Call }{{a, b}, {b, a}} {
		want := p.to.UDPTLStats().Received
		pkt := fmt.Appendf(nil, "\x00%c\x00\x03\xff\xfe\xfd udptl %d", byte(n), n)
		if err := p.from.SendUDPTL(pkt); err != nil {
			t.Fatal(err)
		}
		got, err := p.to.WaitUDPTL(ctx, int(want)+1)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got[want], pkt) {
			t.Fatalf("datagram %q arrived as %q", pkt, got[want])
		}
	}
}

func TestT38PeerToPeer(t *testing.T) {
	goroutines, fds := runtime.NumGoroutine(), leakcheck.OpenFDs(t)
	func() {
		ctx := ctxFor(t, 20*time.Second)
		a := newCarrier(t, trunktest.Config{})
		b := newCarrier(t, trunktest.Config{Behavior: trunktest.Behavior{AcceptT38: true}})
		out, in := callPair(t, ctx, a, b)
		if out.T38() || out.UDPTLAddr().IsValid() || out.SendUDPTL([]byte("early")) == nil {
			t.Fatal("a new call is in fax mode")
		}

		// To fax: m=image in the audio m-line, answered by b.
		if err := out.Reinvite(ctx, trunktest.ReinviteOptions{T38: true}); err != nil {
			t.Fatal(err)
		}
		if !out.T38() || !in.T38() {
			t.Fatalf("T38 %v / %v after the fax re-INVITE", out.T38(), in.T38())
		}
		reqs := in.Requests()
		if len(reqs) != 1 || reqs[0].Status != 200 || reqs[0].Direction != "" {
			t.Fatalf("requests %+v", reqs)
		}
		want := []string{fmt.Sprintf("image %d udptl t38", out.UDPTLAddr().Port())}
		if got := mlines(t, reqs[0].SDP); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("fax offer m-lines %q, want %q\n%s", got, want, reqs[0].SDP)
		}
		attrs := []string{"T38FaxVersion:0", "T38MaxBitRate:14400", "T38FaxRateManagement:transferredTCF",
			"T38FaxMaxBuffer:262", "T38FaxMaxDatagram:176", "T38FaxUdpEC:t38UDPRedundancy"}
		if got := imageAttributes(t, reqs[0].SDP); fmt.Sprint(got) != fmt.Sprint(attrs) {
			t.Fatalf("fax offer attributes %q, want %q", got, attrs)
		}
		want = []string{fmt.Sprintf("image %d udptl t38", in.UDPTLAddr().Port())}
		if got := mlines(t, out.RemoteSDP()); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("fax answer m-lines %q, want %q", got, want)
		}
		if got := imageAttributes(t, out.RemoteSDP()); fmt.Sprint(got) != fmt.Sprint(attrs) {
			t.Fatalf("fax answer attributes %q, want the offer's echoed", got)
		}
		if out.UDPTLAddr().Addr() != a.Addr().Addr() || out.UDPTLAddr() == out.MediaAddr() {
			t.Fatalf("UDPTL port %s, media %s", out.UDPTLAddr(), out.MediaAddr())
		}
		faxBothWays(t, out, in, 1)
		// A re-offer in fax mode keeps the image stream and its port.
		port := out.UDPTLAddr()
		if err := out.Reinvite(ctx, trunktest.ReinviteOptions{T38: true}); err != nil {
			t.Fatal(err)
		}
		if out.UDPTLAddr() != port || !in.T38() {
			t.Fatal("a fax refresh moved or lost the image stream")
		}

		// Back to audio, in the same m-line, with the audio as before.
		if err := out.Reinvite(ctx, trunktest.ReinviteOptions{}); err != nil {
			t.Fatal(err)
		}
		if out.T38() || in.T38() || out.SendUDPTL([]byte("late!")) == nil {
			t.Fatal("still in fax mode after the re-INVITE back to audio")
		}
		want = []string{fmt.Sprintf("audio %d RTP/AVP 0 8 18 101", out.MediaAddr().Port())}
		if got := mlines(t, in.Requests()[2].SDP); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("audio offer m-lines %q, want %q", got, want)
		}
		if err := out.TalkWith(ctx, in, 25); err != nil {
			t.Fatal(err)
		}
		// Both send stream 1 (a carrier calling a carrier): count arrivals.
		if out.Media().Received < 20 || in.Media().Received < 20 {
			t.Fatalf("audio after the fax: %s / %s", out.Description(), in.Description())
		}

		// Image next to audio, accepted.
		if err := out.Reinvite(ctx, trunktest.ReinviteOptions{T38: true, KeepAudio: true}); err != nil {
			t.Fatal(err)
		}
		if !out.T38() || !in.T38() {
			t.Fatal("audio and image offer not in fax mode")
		}
		if got := mlines(t, out.RemoteSDP()); len(got) != 2 || !strings.HasPrefix(got[0], "audio ") || !strings.HasPrefix(got[1], "image ") {
			t.Fatalf("audio and image answer %q", got)
		}
		faxBothWays(t, out, in, 2)
		if err := out.Reinvite(ctx, trunktest.ReinviteOptions{}); err != nil {
			t.Fatal(err)
		}
		if got := mlines(t, out.LocalSDP()); len(got) != 2 || got[1] != "image 0 udptl t38" || out.T38() {
			t.Fatalf("audio after audio and image: %q", got)
		}
		// a offered T.38 itself: it takes it from b now.
		if err := in.Reinvite(ctx, trunktest.ReinviteOptions{T38: true}); err != nil || !out.T38() {
			t.Fatalf("fax offer to a carrier that offered fax: %v", err)
		}
		if err := in.Reinvite(ctx, trunktest.ReinviteOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := out.Reinvite(ctx, trunktest.ReinviteOptions{T38: true, Codec: "PCMA"}); err == nil {
			t.Fatal("T38 with Codec was accepted")
		}
		if err := out.Reinvite(ctx, trunktest.ReinviteOptions{KeepAudio: true}); err == nil {
			t.Fatal("KeepAudio without T38 was accepted")
		}
		if err := out.Hangup(ctx); err != nil {
			t.Fatal(err)
		}
		<-in.Done()
		if s := out.UDPTLStats(); s.Sent != 2 || s.Received != 2 || len(out.UDPTL()) != 2 {
			t.Fatalf("UDPTL stats %+v", s)
		}
		_ = a.Close()
		_ = b.Close()
	}()
	leakcheck.Goroutines(t, goroutines, 5*time.Second)
	leakcheck.FDs(t, fds, 5*time.Second)
}

// TestT38VoiceOnly: a carrier without Behavior.AcceptT38 refuses a fax
// re-INVITE whose m=image replaced the audio with 488, and rejects an
// image stream next to the audio with port 0; the call stays audio.
func TestT38VoiceOnly(t *testing.T) {
	ctx := ctxFor(t, 20*time.Second)
	out, in := callPair(t, ctx, newCarrier(t, trunktest.Config{}), newCarrier(t, trunktest.Config{}))
	err := out.Reinvite(ctx, trunktest.ReinviteOptions{T38: true})
	var se *sip.StatusError
	if !errors.As(err, &se) || se.Response.StatusCode != 488 || out.T38() || in.T38() {
		t.Fatalf("fax offer to a voice-only carrier: %v", err)
	}
	if r := in.Requests(); len(r) != 1 || r[0].Status != 488 {
		t.Fatalf("requests %+v", r)
	}
	if err := out.Reinvite(ctx, trunktest.ReinviteOptions{T38: true, KeepAudio: true}); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprint([]string{fmt.Sprintf("audio %d RTP/AVP 0 101", in.MediaAddr().Port()), "image 0 udptl t38"})
	if got := mlines(t, out.RemoteSDP()); fmt.Sprint(got) != want || out.T38() || in.T38() {
		t.Fatalf("voice-only answer to audio and image %q, want %s", got, want)
	}
	if err := out.Reinvite(ctx, trunktest.ReinviteOptions{}); err != nil {
		t.Fatal(err)
	}
	want = fmt.Sprint([]string{fmt.Sprintf("audio %d RTP/AVP 0 8 18 101", out.MediaAddr().Port()), "image 0 udptl t38"})
	if got := mlines(t, out.LocalSDP()); fmt.Sprint(got) != want {
		t.Fatalf("audio re-offer after a refused fax %q, want %s", got, want)
	}
	if err := out.TalkWith(ctx, in, 10); err != nil {
		t.Fatal(err)
	}
	if out.Media().Received < 8 || in.Media().Received < 8 {
		t.Fatalf("audio: %s / %s", out.Description(), in.Description())
	}
}

// A call whose INVITE offers fax only, as a T.38-only fax server's
// gateway may: a carrier with AcceptT38 answers with the image stream
// alone, and a voice-only one rejects the call with 488.
func TestT38InviteImageOnly(t *testing.T) {
	ctx := ctxFor(t, 10*time.Second)
	b := newCarrier(t, trunktest.Config{Behavior: trunktest.Behavior{AcceptT38: true}})
	for _, accept := range []bool{true, false} {
		b.SetBehavior(trunktest.Behavior{AcceptT38: accept})
		offer := "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
			"m=video 5000 RTP/AVP 31\r\nm=image 4002 udptl t38\r\na=T38FaxVersion:0\r\na=T38MaxBitRate:9600\r\n"
		call, res, err := rawInvite(ctx, t, b, offer)
		if !accept {
			var se *sip.StatusError
			if !errors.As(err, &se) || se.Response.StatusCode != 488 {
				t.Fatalf("voice-only carrier: %v", err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		in, err := b.Accept(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got := mlines(t, res.Body)
		want := []string{"video 0 RTP/AVP 31", fmt.Sprintf("image %d udptl t38", in.UDPTLAddr().Port())}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("answer m-lines %q, want %q", got, want)
		}
		if a := imageAttributes(t, res.Body); fmt.Sprint(a) != "[T38FaxVersion:0 T38MaxBitRate:9600]" {
			t.Fatalf("answer attributes %q", a)
		}
		select {
		case <-in.Answered():
		case <-ctx.Done():
			t.Fatal("not answered")
		}
		if !in.T38() {
			t.Fatal("not in fax mode")
		}
		if err := in.SendUDPTL([]byte("\x00\x00\x01\x02\x03")); err != nil {
			t.Fatal(err)
		}
		if err := call.Hangup(ctx); err != nil {
			t.Fatal(err)
		}
		<-in.Done()
	}
}

// rawInvite sends an INVITE with the SDP offer of our choice to the
// carrier from a bare SIP endpoint and returns its 2xx; the call is hung
// up with the returned ClientCall.
func rawInvite(ctx context.Context, t *testing.T, to *trunktest.Carrier, offer string) (*sip.ClientCall, sip.Response, error) {
	t.Helper()
	ep, err := sip.Listen(sip.EndpointConfig{Name: "raw", Listen: "127.0.0.1:0", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ep.Close() })
	host := to.Addr().Addr().String()
	call, err := ep.Invite(ctx, sip.InviteRequest{
		RequestURI:  sip.URI{User: "14155550199", Host: host, Port: int(to.Addr().Port())},
		Destination: to.Addr().String(),
		From:        sip.NameAddr{URI: sip.URI{User: "fax", Host: ep.Host()}},
		To:          sip.NameAddr{URI: sip.URI{User: "14155550199", Host: host}},
		SDP:         []byte(offer),
	})
	if err != nil {
		return nil, sip.Response{}, err
	}
	return call, call.Answer(), nil
}
