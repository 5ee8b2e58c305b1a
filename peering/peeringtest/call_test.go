package peeringtest_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/byocp/byocp/peering/peeringtest"
	"github.com/byocp/byocp/sdp"
)

func ctxFor(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// zoomPair has one fake Zoom peer call another directly (mutual TLS,
// SRTP, no SBC in between) and returns both ends once answered.
func zoomPair(t *testing.T, ctx context.Context) (out, in *peeringtest.Call) {
	t.Helper()
	pki, err := peeringtest.NewPKI("test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var zooms [2]*peeringtest.Zoom
	for i := range zooms {
		if zooms[i], err = peeringtest.NewZoom(peeringtest.Config{PKI: pki}); err != nil {
			t.Fatal(err)
		}
		z := zooms[i]
		t.Cleanup(func() { _ = z.Close() })
	}
	if out, err = zooms[0].Dial(ctx, zooms[1].Addr(), "+14155550100", "+442079460000"); err != nil {
		t.Fatal(err)
	}
	if in, err = zooms[1].Accept(ctx); err != nil {
		t.Fatal(err)
	}
	<-in.Answered()
	return out, in
}

// key is the key||salt of the a=crypto line of an SDP.
func key(t *testing.T, body []byte) []byte {
	t.Helper()
	m, err := sdp.Parse(body)
	if err != nil || len(m.Crypto) == 0 {
		t.Fatalf("SDP without crypto: %v\n%s", err, body)
	}
	return m.Crypto[0].KeySalt
}

// exchange sends n packets each way and waits until all arrived; a Zoom
// peer expects the carrier's stream, so they count as corrupt, but none
// may fail SRTP authentication.
func exchange(t *testing.T, ctx context.Context, a, b *peeringtest.Call, n int) {
	t.Helper()
	sa, sb := a.Media(), b.Media()
	if err := a.SendAudio(ctx, n); err != nil {
		t.Fatal(err)
	}
	if err := b.SendAudio(ctx, n); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); a.Media().Received < sa.Received+uint64(n) || b.Media().Received < sb.Received+uint64(n); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not every packet arrived: %+v / %+v", a.Media(), b.Media())
		}
	}
	if a.Media().AuthFailed != 0 || b.Media().AuthFailed != 0 {
		t.Fatalf("SRTP authentication failed: %+v / %+v", a.Media(), b.Media())
	}
}

// TestRekey: a re-offer with NewKey changes the offerer's key; the
// answerer keeps its own (same suite), and SRTP flows both ways with the
// new keys.
func TestRekey(t *testing.T) {
	ctx := ctxFor(t, 20*time.Second)
	out, in := zoomPair(t, ctx)
	exchange(t, ctx, out, in, 5)
	oldOut, oldIn := key(t, out.LocalSDP()), key(t, in.LocalSDP())
	if err := out.Reinvite(ctx, peeringtest.ReinviteOptions{NewKey: true}); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(key(t, out.LocalSDP()), oldOut) {
		t.Fatal("NewKey kept the key")
	}
	if !bytes.Equal(key(t, in.LocalSDP()), oldIn) {
		t.Fatal("the answerer changed its key for the same suite")
	}
	if !bytes.Equal(key(t, in.RemoteSDP()), key(t, out.LocalSDP())) {
		t.Fatal("the answerer does not know the new key")
	}
	exchange(t, ctx, out, in, 5)

	// The callee re-keys with its answer in the ACK of an offerless
	// re-INVITE, and moves its media too.
	oldAddr := in.MediaAddr()
	if err := in.Reinvite(ctx, peeringtest.ReinviteOptions{WithoutSDP: true, NewKey: true, MoveMedia: true}); err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(key(t, in.LocalSDP()), oldIn) || in.MediaAddr() == oldAddr {
		t.Fatal("the answer in the ACK kept the key or the port")
	}
	if _, err := out.WaitRequests(ctx, 1); err != nil {
		t.Fatal(err)
	}
	exchange(t, ctx, out, in, 5)
	if out.Suite() != "AEAD_AES_256_GCM" || in.Suite() != out.Suite() {
		t.Fatalf("suites %s / %s", out.Suite(), in.Suite())
	}
}

// TestHoldKeepsKeys: a hold and a resume leave both keys as they were.
func TestHoldKeepsKeys(t *testing.T) {
	ctx := ctxFor(t, 20*time.Second)
	out, in := zoomPair(t, ctx)
	kOut, kIn := key(t, out.LocalSDP()), key(t, in.LocalSDP())
	if err := in.Hold(ctx); err != nil {
		t.Fatal(err)
	}
	if out.Direction() != sdp.RecvOnly || in.Direction() != sdp.SendOnly {
		t.Fatalf("directions %s / %s", out.Direction(), in.Direction())
	}
	if err := in.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(key(t, out.LocalSDP()), kOut) || !bytes.Equal(key(t, in.LocalSDP()), kIn) {
		t.Fatal("hold and resume changed a key")
	}
	reqs := out.Requests()
	if len(reqs) != 2 || reqs[0].Direction != sdp.SendOnly || reqs[1].Direction != sdp.SendRecv {
		t.Fatalf("requests %+v", reqs)
	}
	exchange(t, ctx, out, in, 5)
}
