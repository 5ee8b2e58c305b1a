// Command demo runs a complete byocp session border controller on loopback
// and proves it carries calls: it starts a Bridge between a fake carrier
// (SIP over UDP, plain RTP) and a fake Zoom Phone peer (SIP over mutual TLS,
// SRTP), places one call each way, exchanges three seconds of audio in both
// directions, hangs up once from each side and prints a report. It exits 0
// only if every check passed.
//
//	go run ./examples/demo
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"time"

	"github.com/byocp/byocp"
	"github.com/byocp/byocp/peering"
	"github.com/byocp/byocp/peering/peeringtest"
	"github.com/byocp/byocp/trunk"
	"github.com/byocp/byocp/trunk/trunktest"
)

// packets is three seconds of 20 ms audio.
const packets = 150

// call is what the demo needs of a call of either test peer, a
// *trunktest.Call or a *peeringtest.Call, so that one helper serves both
// directions.
type call interface {
	trunktest.Talker // SendAudio and Media
	Answered() <-chan struct{}
	Done() <-chan struct{}
	SetupTime() time.Duration
	TalkWith(ctx context.Context, other trunktest.Talker, count int) error
	Hangup(ctx context.Context) error
	HungUpByPeer() bool
}

func main() {
	verbose := flag.Bool("v", false, "log SIP and media events to stderr")
	flag.Parse()
	level := slog.LevelError
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	// sipgo logs a few connection-teardown warnings through the default logger.
	slog.SetDefault(logger)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := run(ctx, os.Stdout, logger); err != nil {
		fmt.Fprintf(os.Stdout, "\nFAIL: %v\n", err)
		os.Exit(1)
	}
	fmt.Fprintln(os.Stdout, "\nPASS: every check passed")
}

// checks collects failed checks; the demo fails if any failed.
type checks struct{ failed []string }

func (c *checks) expect(ok bool, format string, args ...any) {
	if !ok {
		c.failed = append(c.failed, fmt.Sprintf(format, args...))
	}
}

func (c *checks) err() error {
	if len(c.failed) == 0 {
		return nil
	}
	return fmt.Errorf("%d check(s) failed: %v", len(c.failed), c.failed)
}

// run starts the three parts, places the two calls and writes the report.
func run(ctx context.Context, w io.Writer, logger *slog.Logger) error {
	loopback := netip.MustParseAddr("127.0.0.1")
	pki, err := peeringtest.NewPKI("byocp demo CA", time.Hour)
	if err != nil {
		return err
	}
	zoom, err := peeringtest.NewZoom(peeringtest.Config{PKI: pki, Logger: logger})
	if err != nil {
		return err
	}
	defer zoom.Close()
	carrier, err := trunktest.NewCarrier(trunktest.Config{Logger: logger})
	if err != nil {
		return err
	}
	defer carrier.Close()
	sbcCert, err := pki.Issue("byocp demo SBC", []netip.Addr{loopback})
	if err != nil {
		return err
	}
	records := make(chan byocp.CallRecord, 4)
	bridge, err := byocp.New(byocp.Config{
		Trunk: trunk.Config{Listen: "127.0.0.1:0", Peer: carrier.Addr().String()},
		Peering: peering.Config{
			Listen:       "127.0.0.1:0",
			Peers:        []peering.Peer{{Name: "zone A", Address: zoom.Addr().String()}},
			Certificates: []tls.Certificate{sbcCert},
			RootCAs:      pki.Pool(),
			PeerNames:    []string{peeringtest.ZoomName}, // the name in the fake Zoom's certificate
		},
		Media:     byocp.MediaConfig{IP: loopback, PortMin: 30000, PortMax: 30999},
		OnCallEnd: func(r byocp.CallRecord) { records <- r },
		Logger:    logger,
	})
	if err != nil {
		return err
	}
	defer bridge.Close()

	fmt.Fprintf(w, "byocp demo: carrier %s (UDP) <-> SBC carrier side %s | SBC Zoom side %s (TLS) <-> Zoom %s (TLS)\n",
		carrier.Addr(), bridge.TrunkAddr(), bridge.PeeringAddr(), zoom.Addr())

	var c checks
	var caller, callee call
	// Call 1: the carrier calls a Zoom user; the carrier hangs up.
	fmt.Fprintln(w, "\nCall 1: carrier -> Zoom, carrier hangs up")
	caller, err = carrier.Dial(ctx, bridge.TrunkAddr(), "14155550100", "+442079460000")
	if err != nil {
		return fmt.Errorf("call 1: %w", err)
	}
	callee, err = zoom.Accept(ctx)
	if err != nil {
		return fmt.Errorf("call 1: %w", err)
	}
	talk(ctx, &c, w, "carrier", caller, "Zoom", callee)
	hangup(ctx, &c, caller, callee)
	report(ctx, &c, w, records, byocp.HangupCarrier)

	// Call 2: a Zoom user calls out to the PSTN; Zoom hangs up.
	fmt.Fprintln(w, "\nCall 2: Zoom -> carrier, Zoom hangs up")
	caller, err = zoom.Dial(ctx, bridge.PeeringAddr(), "+442079460000", "+14155550100")
	if err != nil {
		return fmt.Errorf("call 2: %w", err)
	}
	callee, err = carrier.Accept(ctx)
	if err != nil {
		return fmt.Errorf("call 2: %w", err)
	}
	talk(ctx, &c, w, "Zoom", caller, "carrier", callee)
	hangup(ctx, &c, caller, callee)
	report(ctx, &c, w, records, byocp.HangupZoom)

	c.expect(bridge.ActiveCalls() == 0, "calls still active after hang-up: %d", bridge.ActiveCalls())
	c.expect(bridge.MediaPortsInUse() == 0, "media ports still in use: %d", bridge.MediaPortsInUse())
	return c.err()
}

// talk waits for the answer and sends audio both ways at once.
func talk(ctx context.Context, c *checks, w io.Writer, callerName string, caller call, calleeName string, callee call) {
	select {
	case <-callee.Answered():
	case <-ctx.Done():
		c.expect(false, "callee never answered")
		return
	}
	fmt.Fprintf(w, "  answered in %s (as seen by the caller)\n", caller.SetupTime().Round(time.Millisecond))
	err := caller.TalkWith(ctx, callee, packets)
	c.expect(err == nil, "audio could not be sent: %v", err)
	for _, dir := range []struct {
		from, to string
		tx, rx   call
	}{{callerName, calleeName, caller, callee}, {calleeName, callerName, callee, caller}} {
		sent, got := dir.tx.Media(), dir.rx.Media()
		fmt.Fprintf(w, "  %-7s -> %-7s sent %3d, received %3d, intact %3d\n", dir.from, dir.to, sent.Sent, got.Received, got.Intact)
		c.expect(sent.Sent == packets, "%s sent %d of %d packets", dir.from, sent.Sent, packets)
		c.expect(got.Intact >= packets*95/100, "%s -> %s: only %d of %d packets intact", dir.from, dir.to, got.Intact, packets)
		c.expect(got.Corrupt == 0 && got.AuthFailed == 0, "%s -> %s: %d corrupt, %d failed SRTP authentication", dir.from, dir.to, got.Corrupt, got.AuthFailed)
	}
}

// hangup ends the call from the caller and checks the callee got the BYE.
func hangup(ctx context.Context, c *checks, caller, callee call) {
	c.expect(caller.Hangup(ctx) == nil, "caller could not hang up")
	select {
	case <-callee.Done():
		c.expect(callee.HungUpByPeer(), "callee's leg ended without a BYE from the SBC")
	case <-time.After(5 * time.Second):
		c.expect(false, "callee's leg was not hung up")
	}
}

// report prints the SBC's call record and checks it.
func report(ctx context.Context, c *checks, w io.Writer, records <-chan byocp.CallRecord, wantHangup string) {
	select {
	case r := <-records:
		fmt.Fprintf(w, "  SBC record: %s %s -> %s, status %d, setup %s, %s, SRTP %s, hung up by %s\n",
			r.Direction, r.Caller, r.Callee, r.Status, r.SetupTime().Round(time.Millisecond), r.Codec, r.SRTPSuite, r.HangupBy)
		fmt.Fprintf(w, "  SBC relay: carrier->Zoom %d forwarded, Zoom->carrier %d forwarded, %d dropped\n",
			r.Media.AtoB.Forwarded, r.Media.BtoA.Forwarded,
			r.Media.AtoB.NotRTP+r.Media.AtoB.AuthFailed+r.Media.BtoA.NotRTP+r.Media.BtoA.AuthFailed)
		c.expect(r.Status == 200, "call status %d, want 200", r.Status)
		c.expect(r.HangupBy == wantHangup, "hung up by %q, want %q", r.HangupBy, wantHangup)
		c.expect(r.SRTPSuite != "", "no SRTP suite negotiated")
	case <-ctx.Done():
		c.expect(false, "no call record: %v", errors.Unwrap(ctx.Err()))
	}
}
