package mediapeer

import (
	"context"
	"crypto/rand"
	"errors"
	"net/netip"
	"testing"
	"time"
)

func TestPayloadRoundTrip(t *testing.T) {
	p := make([]byte, PayloadSize)
	for _, seq := range []uint16{0, 1, 65535} {
		FillPayload(p, 7, seq)
		stream, got, ok := CheckPayload(p)
		if !ok || stream != 7 || got != seq {
			t.Fatalf("CheckPayload(seq %d) = %d, %d, %v", seq, stream, got, ok)
		}
		p[100]++
		if _, _, ok := CheckPayload(p); ok {
			t.Fatalf("a flipped byte passed")
		}
	}
	if _, _, ok := CheckPayload(p[:PayloadSize-1]); ok {
		t.Fatal("a short payload passed")
	}
	FillPayload(make([]byte, 3), 1, 1) // must not panic
}

func key(t *testing.T, n int) []byte {
	t.Helper()
	k := make([]byte, n)
	_, _ = rand.Read(k)
	return k
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func pair(t *testing.T) (a, b *Peer) {
	t.Helper()
	var err error
	if a, err = Listen(netip.MustParseAddr("127.0.0.1")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	if b, err = Listen(netip.MustParseAddr("127.0.0.1")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return a, b
}

func TestPeerToPeer(t *testing.T) {
	for _, tc := range []struct {
		suite  string
		keyLen int
	}{{"", 0}, {"AES_CM_128_HMAC_SHA1_80", 30}, {"AES_CM_128_HMAC_SHA1_32", 30},
		{"AES_256_CM_HMAC_SHA1_80", 46}, {"AEAD_AES_128_GCM", 28}, {"AEAD_AES_256_GCM", 44}} {
		t.Run(tc.suite, func(t *testing.T) {
			a, b := pair(t)
			var ka, kb *Keys
			if tc.suite != "" {
				k1, k2 := key(t, tc.keyLen), key(t, tc.keyLen)
				ka = &Keys{Suite: tc.suite, LocalKey: k1, RemoteKey: k2}
				kb = &Keys{Suite: tc.suite, LocalKey: k2, RemoteKey: k1}
			}
			if err := a.Configure(b.Addr(), ka, 0, 1); err != nil {
				t.Fatal(err)
			}
			if err := b.Configure(a.Addr(), kb, 0, 2); err != nil {
				t.Fatal(err)
			}
			b.ExpectStream(1)
			a.SetSequence(65530) // crosses the wrap
			if err := a.Send(context.Background(), 20, 0); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "20 packets", func() bool { return b.Stats().Received == 20 })
			if s := b.Stats(); s.Intact != 20 {
				t.Fatalf("stats %+v", s)
			}
			b.ExpectStream(9)
			if err := a.Send(context.Background(), 1, 0); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "a corrupt packet", func() bool { return b.Stats().Corrupt == 1 })
		})
	}
}

func TestPeerWrongKeyAndErrors(t *testing.T) {
	a, b := pair(t)
	const suite = "AES_CM_128_HMAC_SHA1_80"
	if err := b.Send(context.Background(), 1, 0); !errors.Is(err, ErrNotConfigured) {
		t.Fatalf("Send before Configure: %v", err)
	}
	if err := a.Configure(b.Addr(), &Keys{Suite: "NOPE", LocalKey: key(t, 30)}, 0, 1); !errors.Is(err, ErrUnsupportedSuite) {
		t.Fatalf("unknown suite: %v", err)
	}
	if err := a.Configure(b.Addr(), &Keys{Suite: suite, LocalKey: key(t, 29)}, 0, 1); !errors.Is(err, ErrBadKey) {
		t.Fatalf("short key: %v", err)
	}
	if err := a.Configure(b.Addr(), &Keys{Suite: suite, LocalKey: key(t, 30)}, 0, 1); err != nil {
		t.Fatal(err)
	}
	if err := b.Configure(a.Addr(), &Keys{Suite: suite, LocalKey: key(t, 30), RemoteKey: key(t, 30)}, 0, 2); err != nil {
		t.Fatal(err)
	}
	if err := a.Send(context.Background(), 5, 0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "auth failures", func() bool { return b.Stats().AuthFailed == 5 })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := a.Send(ctx, 5, time.Millisecond); !errors.Is(err, context.Canceled) {
		t.Fatalf("Send with a cancelled context: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestMove: a port opened with Open receives at once; Use makes the Peer
// send from it and closes the old one; Drop closes an unused one.
func TestMove(t *testing.T) {
	a, b := pair(t)
	if err := a.Configure(b.Addr(), nil, 0, 1); err != nil {
		t.Fatal(err)
	}
	old := a.Addr()
	moved, err := a.Open()
	if err != nil {
		t.Fatal(err)
	}
	if moved == old || a.Addr() != old {
		t.Fatalf("Open: %s, Addr %s (was %s)", moved, a.Addr(), old)
	}
	for _, to := range []netip.AddrPort{old, moved} { // both receive
		if err := b.Configure(to, nil, 0, 2); err != nil {
			t.Fatal(err)
		}
		if err := b.Send(context.Background(), 1, 0); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "2 packets", func() bool { return a.Stats().Received == 2 })
	if err := a.Use(moved); err != nil {
		t.Fatal(err)
	}
	if a.Addr() != moved {
		t.Fatalf("Addr %s after Use(%s)", a.Addr(), moved)
	}
	b.ExpectStream(1)
	if err := a.Send(context.Background(), 3, 0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "3 packets", func() bool { return b.Stats().Intact == 3 })
	if err := a.Use(old); err == nil {
		t.Fatal("Use of a port not opened")
	}
	spare, err := a.Open()
	if err != nil {
		t.Fatal(err)
	}
	a.Drop(spare)
	a.Drop(spare) // unknown now: ignored
	if a.Remote() != b.Addr() {
		t.Fatalf("Remote %s", a.Remote())
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Open(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Open after Close: %v", err)
	}
}

// TestRTCP: RTCP goes multiplexed on the RTP ports, or to an RTCP port
// opened with OpenRTCP from the sender's own; SRTCP is protected and
// checked with the stream's keys, and arrives decrypted.
func TestRTCP(t *testing.T) {
	sr := []byte{0x80, 200, 0, 6, 0, 0, 0, 7, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 160, 0, 0, 0, 1, 0, 0, 0, 160}
	for _, suite := range []string{"", "AES_CM_128_HMAC_SHA1_80"} {
		t.Run(suite, func(t *testing.T) {
			a, b := pair(t)
			var ka, kb *Keys
			if suite != "" {
				k1, k2 := key(t, 30), key(t, 30)
				ka, kb = &Keys{Suite: suite, LocalKey: k1, RemoteKey: k2}, &Keys{Suite: suite, LocalKey: k2, RemoteKey: k1}
			}
			if err := a.SendRTCP(sr); !errors.Is(err, ErrNotConfigured) {
				t.Fatalf("SendRTCP before Configure: %v", err)
			}
			if err := a.Configure(b.Addr(), ka, 0, 1); err != nil {
				t.Fatal(err)
			}
			if err := b.Configure(a.Addr(), kb, 0, 2); err != nil {
				t.Fatal(err)
			}
			if err := a.SendRTCP(sr[:4]); err == nil {
				t.Fatal("SendRTCP sent a packet that is not RTCP")
			}
			a.ConfigureRTCP(true, netip.AddrPort{})
			if err := a.SendRTCP(sr); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			got, err := b.WaitRTCP(ctx, 1)
			if err != nil || string(got[0].Data) != string(sr) || !got[0].Muxed || b.Stats().RTCP != 1 {
				t.Fatalf("muxed: %+v (%v), stats %+v", got, err, b.Stats())
			}
			port, err := b.OpenRTCP()
			if err != nil {
				t.Fatal(err)
			}
			if again, _ := b.OpenRTCP(); again != port {
				t.Fatalf("OpenRTCP again: %s, want %s", again, port)
			}
			a.ConfigureRTCP(false, port)
			if err := a.SendRTCP(sr); err != nil {
				t.Fatal(err)
			}
			got, err = b.WaitRTCP(ctx, 2)
			if err != nil || string(got[1].Data) != string(sr) || got[1].Muxed || b.Stats().RTCP != 1 {
				t.Fatalf("on the RTCP port: %+v (%v), stats %+v", got, err, b.Stats())
			}
			if s := b.Stats(); s.Corrupt+s.NotRTP+s.AuthFailed != 0 {
				t.Fatalf("stats %+v", s)
			}
		})
	}
}
