package byocp_test

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/byocp/byocp"
	"github.com/byocp/byocp/peering"
	"github.com/byocp/byocp/peering/peeringtest"
	"github.com/byocp/byocp/sip"
	"github.com/byocp/byocp/trunk"
	"github.com/byocp/byocp/trunk/trunktest"
)

// rig is a Bridge between a fake carrier and a fake Zoom peer on loopback.
type rig struct {
	pki     *peeringtest.PKI
	bridge  *byocp.Bridge
	carrier *trunktest.Carrier
	zoom    *peeringtest.Zoom
	records chan byocp.CallRecord
}

func testLogger() *slog.Logger {
	if os.Getenv("BYOCP_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// newRig starts the three parts; edit adjusts the Bridge config.
func newRig(t testing.TB, edit func(*byocp.Config)) *rig {
	return newRigOn(t, "127.0.0.1", edit)
}

// newRigOn starts the three parts on the loopback address ip.
func newRigOn(t testing.TB, ip string, edit func(*byocp.Config)) *rig {
	t.Helper()
	pki, err := peeringtest.NewPKI("test CA", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	listen := netip.AddrPortFrom(netip.MustParseAddr(ip), 0).String()
	zoom, err := peeringtest.NewZoom(peeringtest.Config{PKI: pki, Listen: listen, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = zoom.Close() })
	carrier, err := trunktest.NewCarrier(trunktest.Config{Listen: listen, Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = carrier.Close() })
	return newRigWith(t, &rig{pki: pki, carrier: carrier, zoom: zoom}, edit)
}

// newRigWith starts a Bridge between the peers of base.
func newRigWith(t testing.TB, base *rig, edit func(*byocp.Config)) *rig {
	t.Helper()
	ip := base.carrier.Addr().Addr()
	sbcCert, err := base.pki.Issue("sbc", []netip.Addr{ip})
	if err != nil {
		t.Fatal(err)
	}
	listen := netip.AddrPortFrom(ip, 0).String()
	r := &rig{pki: base.pki, carrier: base.carrier, zoom: base.zoom, records: make(chan byocp.CallRecord, 16)}
	cfg := byocp.Config{
		Trunk: trunk.Config{Listen: listen, Peer: r.carrier.Addr().String()},
		Peering: peering.Config{
			Listen:       listen,
			Peers:        []peering.Peer{{Name: "zone A", Address: r.zoom.Addr().String()}},
			Certificates: []tls.Certificate{sbcCert},
			RootCAs:      base.pki.Pool(),
			PeerNames:    []string{peeringtest.ZoomName},
		},
		Media:     byocp.MediaConfig{IP: ip, PortMin: 40000, PortMax: 40999},
		OnCallEnd: func(rec byocp.CallRecord) { r.records <- rec },
		Logger:    testLogger(),
	}
	if edit != nil {
		edit(&cfg)
	}
	b, err := byocp.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	r.bridge = b
	return r
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// record waits for the Bridge's record of the next call that ends.
func (r *rig) record(t *testing.T) byocp.CallRecord {
	t.Helper()
	select {
	case rec := <-r.records:
		return rec
	case <-time.After(10 * time.Second):
		t.Fatal("no call record")
	}
	return byocp.CallRecord{}
}

func ctxWithCancel(parent context.Context) (context.Context, context.CancelFunc) {
	return context.WithCancel(parent)
}

// TestMain routes sipgo's few global-logger messages (connection teardown
// warnings) to the test logger, so test and benchmark output stays readable.
func TestMain(m *testing.M) {
	slog.SetDefault(testLogger())
	os.Exit(m.Run())
}

// fakeCall is a call of either test peer, a *trunktest.Call or a
// *peeringtest.Call, for the helpers that serve both directions.
type fakeCall interface {
	trunktest.Talker
	Answered() <-chan struct{}
	Done() <-chan struct{}
	Invite() *sip.Invite
	TalkWith(ctx context.Context, other trunktest.Talker, count int) error
	Hangup(ctx context.Context) error
	Description() string
}

// carrierCallsZoom places a call from the fake carrier through the Bridge
// and waits until the fake Zoom peer has answered it.
func (r *rig) carrierCallsZoom(t *testing.T, ctx context.Context) (out *trunktest.Call, in *peeringtest.Call) {
	t.Helper()
	out, err := r.carrier.Dial(ctx, r.bridge.TrunkAddr(), "14155550100", "+442079460000")
	if err != nil {
		t.Fatalf("carrier call: %v", err)
	}
	if in, err = r.zoom.Accept(ctx); err != nil {
		t.Fatal(err)
	}
	answered(t, in)
	return out, in
}

// zoomCallsCarrier places a call from the fake Zoom peer through the Bridge
// and waits until the fake carrier has answered it.
func (r *rig) zoomCallsCarrier(t *testing.T, ctx context.Context) (out *peeringtest.Call, in *trunktest.Call) {
	t.Helper()
	out, err := r.zoom.Dial(ctx, r.bridge.PeeringAddr(), "+442079460000", "+14155550100")
	if err != nil {
		t.Fatalf("zoom call: %v", err)
	}
	if in, err = r.carrier.Accept(ctx); err != nil {
		t.Fatal(err)
	}
	answered(t, in)
	return out, in
}
