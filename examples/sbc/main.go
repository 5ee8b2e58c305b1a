// Command sbc is a session border controller daemon between a carrier SIP
// trunk and Zoom Phone BYOC-P, built on package byocp and configured by a
// YAML file:
//
//	go run ./examples/sbc -config examples/sbc/loopback.yaml
//
// sbc.example.yaml documents every key; loopback.yaml runs on 127.0.0.1
// against the project's fake carrier and fake Zoom peer. With -check the
// daemon only checks the configuration and exits.
//
// Logs go to standard error; every call that ends is logged as one "cdr"
// line (a call detail record). SIGINT or SIGTERM hangs up every call (BYE
// on both legs) and exits; a second signal exits at once.
//
// Exit status: 0 after a clean shutdown, 1 when the daemon fails at run
// time (for example a port already in use), 2 for a bad command line or
// configuration.
package main

//go:generate go run ./loopback/gen -out loopback

import (
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/byocp/byocp"
	"github.com/byocp/byocp/media"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // restore the default: a second signal ends the process at once
	}()
	os.Exit(run(ctx, os.Args[1:], os.Stderr))
}

// Exit statuses of run.
const (
	exitOK     = 0
	exitFailed = 1 // the daemon could not start or stop cleanly
	exitUsage  = 2 // bad command line or configuration
)

// run is the daemon without its process: it parses args, loads the
// configuration, serves calls until ctx ends, then hangs up every call. Logs
// and errors go to stderr. It returns the exit status.
func run(ctx context.Context, args []string, stderr io.Writer) int {
	return serve(ctx, args, stderr, nil)
}

// serve is run with a hook for tests: ready, if not nil, receives the
// Bridge once it accepts calls.
func serve(ctx context.Context, args []string, stderr io.Writer, ready func(*byocp.Bridge)) int {
	flags := flag.NewFlagSet("sbc", flag.ContinueOnError)
	flags.SetOutput(stderr)
	configPath := flags.String("config", "", "YAML configuration `file` (see examples/sbc/sbc.example.yaml)")
	check := flags.Bool("check", false, "check the configuration and exit")
	flags.Usage = func() {
		fmt.Fprintln(stderr, "usage: sbc -config FILE [-check]")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if *configPath == "" || flags.NArg() > 0 {
		flags.Usage()
		return exitUsage
	}

	cfg, err := loadConfig(*configPath)
	if err != nil {
		printError(stderr, err)
		return exitUsage
	}
	if *check {
		fmt.Fprintf(stderr, "sbc: %s: configuration OK\n", *configPath)
		return exitOK
	}

	log := newLogger(stderr, cfg.LogLevel, cfg.LogFormat)
	// sipgo logs a few transport events through slog.Default.
	slog.SetDefault(log)
	log.Info("sbc starting", "config", *configPath)
	logCertificate(log, cfg.Certificate, cfg.Roots, time.Now())
	for i, p := range cfg.Bridge.Peering.Peers {
		log.Info("zoom peer", "priority", i+1, "name", p.Name, "address", p.Address)
	}

	cfg.Bridge.Logger = log
	cfg.Bridge.OnCallEnd = func(rec byocp.CallRecord) { logCDR(log, rec) }
	b, err := byocp.New(cfg.Bridge)
	if err != nil {
		printError(stderr, err)
		if errors.Is(err, byocp.ErrConfig) {
			return exitUsage
		}
		return exitFailed
	}
	if ready != nil {
		ready(b)
	}

	// Bridge.Serve would do the same; waiting here lets us log why we stop
	// before the calls are hung up.
	<-ctx.Done()
	log.Info("sbc stopping: hanging up every call", "cause", context.Cause(ctx), "active_calls", b.ActiveCalls())
	if err := b.Close(); err != nil {
		log.Error("sbc stopped with errors", "error", err)
		return exitFailed
	}
	log.Info("sbc stopped")
	return exitOK
}

// printError writes err as "sbc: ..." lines, one per joined error.
func printError(w io.Writer, err error) {
	for line := range strings.SplitSeq(err.Error(), "\n") {
		fmt.Fprintln(w, "sbc:", line)
	}
}

// newLogger builds the daemon's logger; format is "text" or "json".
func newLogger(w io.Writer, level slog.Level, format string) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// certificateWarning is how long before expiry the SBC certificate is
// reported at warning level; Zoom refuses an expired certificate.
const certificateWarning = 30 * 24 * time.Hour

// logCertificate reports the SBC certificate presented to Zoom.
func logCertificate(log *slog.Logger, leaf *x509.Certificate, roots int, now time.Time) {
	if leaf == nil {
		return
	}
	sans := append([]string(nil), leaf.DNSNames...)
	for _, ip := range leaf.IPAddresses {
		sans = append(sans, ip.String())
	}
	attrs := []any{"subject", leaf.Subject.String(), "issuer", leaf.Issuer.String(),
		"san", strings.Join(sans, ","), "not_after", leaf.NotAfter, "zoom_roots", roots}
	switch {
	case now.After(leaf.NotAfter):
		log.Warn("SBC certificate has expired: Zoom will refuse TLS", attrs...)
	case now.Before(leaf.NotBefore):
		log.Warn("SBC certificate is not valid yet: Zoom will refuse TLS", append(attrs, "not_before", leaf.NotBefore)...)
	case leaf.NotAfter.Sub(now) < certificateWarning:
		log.Warn("SBC certificate expires soon", attrs...)
	default:
		log.Info("SBC certificate", attrs...)
	}
}

// logCDR logs a call record as one "cdr" line. Durations are in
// milliseconds; media counters are per direction.
func logCDR(log *slog.Logger, rec byocp.CallRecord) {
	attrs := []slog.Attr{
		slog.String("id", rec.ID),
		slog.String("direction", string(rec.Direction)),
		slog.String("caller", rec.Caller),
		slog.String("callee", rec.Callee),
		slog.Int("status", rec.Status),
		slog.String("reason", rec.Reason),
		slog.String("hangup_by", rec.HangupBy),
		slog.Time("start", rec.Start),
	}
	if !rec.Answered.IsZero() {
		attrs = append(attrs, slog.Time("answered", rec.Answered))
	}
	attrs = append(attrs,
		slog.Time("end", rec.End),
		slog.Int64("setup_ms", rec.SetupTime().Milliseconds()),
		slog.Int64("duration_ms", rec.Duration().Milliseconds()),
		slog.String("carrier_call_id", rec.CarrierCallID),
		slog.String("zoom_call_id", rec.ZoomCallID),
		slog.String("srtp_suite", rec.SRTPSuite),
		slog.String("codec", rec.Codec),
		slog.Group("media",
			mediaAttr("carrier_to_zoom", rec.Media.AtoB),
			mediaAttr("zoom_to_carrier", rec.Media.BtoA)),
	)
	log.LogAttrs(context.Background(), slog.LevelInfo, "cdr", attrs...)
}

func mediaAttr(name string, d media.DirectionStats) slog.Attr {
	return slog.Group(name,
		slog.Uint64("received", d.Received),
		slog.Uint64("forwarded", d.Forwarded),
		slog.Uint64("not_rtp", d.NotRTP),
		slog.Uint64("auth_failed", d.AuthFailed),
		slog.Uint64("no_remote", d.NoRemote),
		slog.Uint64("send_failed", d.SendFailed),
		slog.Uint64("bytes", d.Bytes))
}
