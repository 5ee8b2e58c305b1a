// Command sbc is a session border controller daemon between a carrier SIP
// trunk and Zoom Phone BYOC-P, built on package byocp and configured by a
// YAML file:
//
//	go run ./examples/sbc -config examples/sbc/loopback.yaml
//
// sbc.example.yaml documents every key; loopback.yaml runs on 127.0.0.1
// against the project's fake carrier and fake Zoom peer. With -check the
// daemon only checks the configuration and exits; it also warns, on
// standard error and with exit status 0, about certificates that expire
// within 30 days (or have expired), about the certificate presented to Zoom
// as TLS client (zoom.client_certificate, else zoom.certificate) lacking the
// clientAuth extended key usage, about zoom.certificate lacking serverAuth,
// and about zoom.insecure_chain_only. The daemon logs the same warnings at
// start.
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
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/byocp/byocp"
	"github.com/byocp/byocp/media"
	"github.com/byocp/byocp/peering"
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
		warnings := certificateWarnings(cfg, time.Now())
		if cfg.Bridge.Peering.InsecureChainOnly {
			warnings = append(warnings, warning{"zoom.insecure_chain_only", "true: the names in Zoom's certificates are not checked, " +
				"so anyone holding a certificate from a CA in zoom.ca, for any domain, can impersonate Zoom on the network path " +
				"and read the SRTP keys of calls; set zoom.peer_names instead"})
		}
		for _, w := range warnings {
			fmt.Fprintf(stderr, "sbc: warning: %s: %s\n", w.Key, w.Msg)
		}
		if len(warnings) > 0 {
			fmt.Fprintf(stderr, "sbc: %s: configuration OK, with %d warning(s)\n", *configPath, len(warnings))
		} else {
			fmt.Fprintf(stderr, "sbc: %s: configuration OK\n", *configPath)
		}
		return exitOK
	}

	log := newLogger(stderr, cfg.LogLevel, cfg.LogFormat)
	// sipgo logs a few transport events through slog.Default.
	slog.SetDefault(log)
	log.Info("sbc starting", "config", *configPath)
	logCertificate(log, "SBC certificate", cfg.Certificate, cfg.Roots)
	if cfg.ClientCertificate != nil {
		logCertificate(log, "SBC client certificate", cfg.ClientCertificate, cfg.Roots)
	}
	for _, w := range certificateWarnings(cfg, time.Now()) {
		log.Warn(w.Msg, "key", w.Key)
	}
	if names := cfg.Bridge.Peering.PeerNames; len(names) > 0 {
		log.Info("zoom certificate names", "peer_names", strings.Join(names, ","))
	}
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

// certificateWarning is how long before expiry a certificate is reported
// at warning level; Zoom refuses an expired certificate.
const certificateWarning = 30 * 24 * time.Hour

// logCertificate reports a certificate presented to Zoom at info level;
// certificateWarnings reports its problems.
func logCertificate(log *slog.Logger, msg string, leaf *x509.Certificate, roots int) {
	if leaf == nil {
		return
	}
	sans := append([]string(nil), leaf.DNSNames...)
	for _, ip := range leaf.IPAddresses {
		sans = append(sans, ip.String())
	}
	log.Info(msg, "subject", leaf.Subject.String(), "issuer", leaf.Issuer.String(),
		"san", strings.Join(sans, ","), "ext_key_usage", extKeyUsages(leaf), "not_after", leaf.NotAfter, "zoom_roots", roots)
}

// warning is a problem that does not stop the daemon, at one YAML key.
type warning struct {
	Key string // e.g. "zoom.client_certificate"
	Msg string
}

// certificateWarnings checks the certificates presented to Zoom at time
// now: validity (expired, not yet valid, expiring within
// certificateWarning) of every configured certificate, serverAuth on
// zoom.certificate (presented when Zoom connects) and clientAuth on the
// certificate presented when the SBC dials Zoom.
func certificateWarnings(cfg daemonConfig, now time.Time) []warning {
	var out []warning
	type presented struct {
		key  string
		leaf *x509.Certificate
	}
	certs := []presented{{"zoom.certificate", cfg.Certificate}}
	client := certs[0]
	if cfg.ClientCertificate != nil {
		client = presented{"zoom.client_certificate", cfg.ClientCertificate}
		certs = append(certs, client)
	}
	for _, c := range certs {
		if c.leaf == nil {
			continue
		}
		name := strconv.Quote(c.leaf.Subject.CommonName)
		switch left := c.leaf.NotAfter.Sub(now); {
		case left <= 0:
			out = append(out, warning{c.key, fmt.Sprintf("certificate %s expired on %s: Zoom refuses it; renew it",
				name, c.leaf.NotAfter.UTC().Format(time.DateOnly))})
		case now.Before(c.leaf.NotBefore):
			out = append(out, warning{c.key, fmt.Sprintf("certificate %s is not valid before %s: Zoom refuses it until then",
				name, c.leaf.NotBefore.UTC().Format(time.DateTime))})
		case left < certificateWarning:
			out = append(out, warning{c.key, fmt.Sprintf("certificate %s expires on %s, in %d day(s): renew it before Zoom refuses it",
				name, c.leaf.NotAfter.UTC().Format(time.DateOnly), int(left.Hours()/24))})
		}
	}
	if leaf := cfg.Certificate; leaf != nil && !peering.HasExtKeyUsage(leaf, x509.ExtKeyUsageServerAuth) {
		out = append(out, warning{"zoom.certificate", fmt.Sprintf("certificate %q lacks the serverAuth extended key usage "+
			"(it has: %s) but is presented to Zoom as TLS server: Zoom will refuse the calls it sends to the SBC",
			leaf.Subject.CommonName, extKeyUsages(leaf))})
	}
	if leaf := client.leaf; leaf != nil && !peering.HasExtKeyUsage(leaf, x509.ExtKeyUsageClientAuth) {
		msg := fmt.Sprintf("certificate %q lacks the clientAuth extended key usage (it has: %s) but is presented to Zoom "+
			"as TLS client when the SBC calls Zoom: Zoom will refuse calls to Zoom", leaf.Subject.CommonName, extKeyUsages(leaf))
		if client.key == "zoom.certificate" {
			msg += "; set zoom.client_certificate and zoom.client_key to a certificate issued for clientAuth " +
				"(public CAs stop putting clientAuth into server certificates during 2026)"
		}
		out = append(out, warning{client.key, msg})
	}
	return out
}

// extKeyUsages lists a certificate's extended key usages by their RFC 5280
// names; "none" means the extension is absent (any usage).
func extKeyUsages(leaf *x509.Certificate) string {
	var names []string
	for _, u := range leaf.ExtKeyUsage {
		switch u {
		case x509.ExtKeyUsageServerAuth:
			names = append(names, "serverAuth")
		case x509.ExtKeyUsageClientAuth:
			names = append(names, "clientAuth")
		case x509.ExtKeyUsageAny:
			names = append(names, "any")
		default:
			names = append(names, fmt.Sprintf("usage %d", int(u)))
		}
	}
	for _, oid := range leaf.UnknownExtKeyUsage {
		names = append(names, oid.String())
	}
	if len(names) == 0 {
		return "none (any usage)"
	}
	return strings.Join(names, ",")
}

// logCDR logs a call record as one "cdr" line. Durations are in
// milliseconds; media counters are per direction, and last_rtp (absent
// when there was none) is when the direction's sending leg last sent valid
// RTP, to 100 ms: after a "media timeout" it shows which leg went silent,
// and when. rtt_carrier_ms and rtt_zoom_ms are each leg's round trip from
// byocp, 0 when its peers' RTCP gave none.
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
			mediaAttr("carrier_to_zoom", rec.Media.AtoB, rec.MOSCarrierToZoom),
			mediaAttr("zoom_to_carrier", rec.Media.BtoA, rec.MOSZoomToCarrier),
			slog.Float64("rtt_carrier_ms", milliseconds(rec.RTTCarrier)),
			slog.Float64("rtt_zoom_ms", milliseconds(rec.RTTZoom))),
	)
	log.LogAttrs(context.Background(), slog.LevelInfo, "cdr", attrs...)
}

// milliseconds is d in milliseconds, to the microsecond.
func milliseconds(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func mediaAttr(name string, d media.DirectionStats, mos float64) slog.Attr {
	attrs := []any{
		slog.Uint64("received", d.Received),
		slog.Uint64("forwarded", d.Forwarded),
		slog.Uint64("wrong_source", d.WrongSource),
		slog.Uint64("not_rtp", d.NotRTP),
		slog.Uint64("too_many_ssrcs", d.TooManySSRCs),
		slog.Uint64("duplicate", d.Duplicate),
		slog.Uint64("auth_failed", d.AuthFailed),
		slog.Uint64("no_remote", d.NoRemote),
		slog.Uint64("send_failed", d.SendFailed),
		slog.Uint64("bytes", d.Bytes),
		slog.Uint64("relatched", d.Relatched),
		slog.Int64("expected", d.Quality.Expected),
		slog.Int64("lost", d.Quality.Lost),
		slog.Float64("jitter_ms", milliseconds(d.Quality.Jitter)),
		slog.Float64("mos", float64(int(mos*100))/100),
	}
	if !d.LastRTP.IsZero() {
		attrs = append(attrs, slog.Time("last_rtp", d.LastRTP))
	}
	return slog.Group(name, attrs...)
}
