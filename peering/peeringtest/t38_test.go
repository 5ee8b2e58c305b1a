package peeringtest_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/byocp/byocp/peering/peeringtest"
)

// TestT38KeepsKeys: two Zoom peers, the callee accepting T.38, switch to
// fax and back. In fax mode an offerless re-INVITE and a refresh by
// re-INVITE keep the image stream; back on audio both SDES keys are as
// before and SRTP flows.
func TestT38KeepsKeys(t *testing.T) {
	ctx := ctxFor(t, 20*time.Second)
	pki, err := peeringtest.NewPKI("test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	caller, err := peeringtest.NewZoom(peeringtest.Config{PKI: pki, RefreshWithReinvite: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = caller.Close() })
	callee, err := peeringtest.NewZoom(peeringtest.Config{PKI: pki, Behavior: peeringtest.Behavior{AcceptT38: true}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = callee.Close() })
	out, err := caller.Dial(ctx, callee.Addr(), "+14155550100", "+442079460000")
	if err != nil {
		t.Fatal(err)
	}
	in, err := callee.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	<-in.Answered()
	kOut, kIn := key(t, out.LocalSDP()), key(t, in.LocalSDP())

	if err := out.Reinvite(ctx, peeringtest.ReinviteOptions{T38: true}); err != nil {
		t.Fatal(err)
	}
	if !out.T38() || !in.T38() || bytes.Contains(out.LocalSDP(), []byte("a=crypto")) || bytes.Contains(in.LocalSDP(), []byte("m=audio")) {
		t.Fatalf("fax offer and answer:\n%s\n%s", out.LocalSDP(), in.LocalSDP())
	}
	// The caller asks for the callee's offer: its fax SDP, answered in the
	// ACK; then it refreshes by re-INVITE with its own.
	if err := out.Reinvite(ctx, peeringtest.ReinviteOptions{WithoutSDP: true}); err != nil {
		t.Fatal(err)
	}
	if err := out.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if !out.T38() || !in.T38() {
		t.Fatal("an offerless re-INVITE or a refresh left fax mode")
	}
	for i, data := range []string{"\x00\x00\x00\x03abc", "\x00\x01\x00\x03def"} {
		if err := out.SendUDPTL([]byte(data)); err != nil {
			t.Fatal(err)
		}
		if err := in.SendUDPTL([]byte(strings.ToUpper(data))); err != nil {
			t.Fatal(err)
		}
		got, err := in.WaitUDPTL(ctx, i+1)
		if err != nil || string(got[i]) != data {
			t.Fatalf("callee got %q: %v", got, err)
		}
		if got, err = out.WaitUDPTL(ctx, i+1); err != nil || string(got[i]) != strings.ToUpper(data) {
			t.Fatalf("caller got %q: %v", got, err)
		}
	}

	if err := in.Reinvite(ctx, peeringtest.ReinviteOptions{}); err != nil {
		t.Fatal(err)
	}
	if out.T38() || in.T38() {
		t.Fatal("still in fax mode")
	}
	if !bytes.Equal(key(t, out.LocalSDP()), kOut) || !bytes.Equal(key(t, in.LocalSDP()), kIn) {
		t.Fatal("the fax changed a key")
	}
	exchange(t, ctx, out, in, 5)
	if s := in.UDPTLStats(); s.Sent != 2 || s.Received != 2 {
		t.Fatalf("UDPTL stats %+v", s)
	}
	if err := out.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	<-in.Done()
	if err := in.SendUDPTL([]byte("after")); err == nil {
		t.Fatal("SendUDPTL after the call")
	}
}
