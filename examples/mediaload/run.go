//go:build linux && (amd64 || arm64)

package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/byocp/byocp/media"
)

// run is the orchestrator: it parses args, runs the reference and byocp
// (and byocp under a flood) -rounds times, and writes the report to w.
func run(args []string, w io.Writer) error {
	o := &options{}
	fs := flag.NewFlagSet("mediaload", flag.ContinueOnError)
	fs.IntVar(&o.calls, "calls", 200, "concurrent calls (two RTP streams each, one each way)")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "measurement window per run")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "traffic before the window (not measured)")
	fs.DurationVar(&o.drain, "drain", 500*time.Millisecond, "wait after the window for its last packets")
	fs.DurationVar(&o.ptime, "ptime", 20*time.Millisecond, "packet interval per stream")
	fs.StringVar(&o.suite, "suite", "AES_CM_128_HMAC_SHA1_80", "SDES suite on byocp's Zoom side, or none for plain RTP both ways")
	fs.BoolVar(&o.flood, "flood", false, "add a byocp run with call 0's carrier port flooded from a wrong source")
	fs.IntVar(&o.floodRate, "flood-rate", 20000, "flood datagrams per second")
	floodFrom := fs.String("flood-from", "127.0.0.2", "flood source address (127.0.0.0/8)")
	fs.StringVar(&o.ref, "ref", "auto", "reference relay: c, go (raw syscalls), or auto (c if a C compiler is found)")
	ports := fs.String("ports", "20000-29999", "relay port range on 127.0.0.1 (each call uses two RTP/RTCP pairs)")
	fs.IntVar(&o.workers, "gen-workers", 2, "load generator threads")
	fs.IntVar(&o.sockets, "gen-sockets", 4, "load generator sockets per thread (0: one per endpoint, i.e. two per call)")
	fs.DurationVar(&o.tick, "gen-tick", 100*time.Microsecond, "load generator send granularity")
	fs.IntVar(&o.rounds, "rounds", 1, "repeat reference and byocp runs alternately this many times")
	fs.IntVar(&o.engineWorkers, "workers", 1, "media.Engine.Workers of the byocp relay: N epoll worker threads (1, the Bridge's default), 0 for a reader goroutine per socket")
	fs.IntVar(&o.relayProcs, "relay-gomaxprocs", 0, "GOMAXPROCS of the byocp relay process (0: the Go default, one per core)")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the byocp relay process over the window (first round)")
	fs.StringVar(&o.memProfile, "memprofile", "", "write a heap profile of the byocp relay process with the calls established (first round)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if err := o.check(*ports, *floodFrom); err != nil {
		return err
	}

	dir, err := os.MkdirTemp("", "mediaload")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	// The reference relay: the floor.
	ref := runSpec{label: "reference", kind: kindRefGo}
	const floor = "datagrams forwarded unchanged, no SRTP, no checks (the floor)"
	refDesc := "Go on raw system calls (-ref go): one locked thread, epoll + recvfrom/sendto; " + floor
	if o.ref != "go" {
		bin, version, err := buildRefC(dir, false)
		switch {
		case err == nil:
			ref.kind, ref.bin = kindRefC, bin
			refDesc = "C (" + version + ", -O2): one thread, epoll + recvfrom/sendto; " + floor
		case o.ref == "c":
			return fmt.Errorf("building the C reference relay: %w", err)
		default:
			refDesc = "Go on raw system calls, because no C compiler is usable (" + firstLine(err) + "): one locked thread, epoll + recvfrom/sendto; " + floor
		}
	}
	// The floor doing byocp's SRTP work, where it can be built.
	srtpRef, srtpDesc, srtpLib, srtpSkipped := srtpReference(o, dir)
	zoom := "SRTP " + o.suite + " (SDES keys)"
	if o.suite == "none" {
		zoom = "plain RTP (-suite none)"
	}
	byocp := runSpec{label: "byocp", kind: kindByocp, profiles: true}
	readers := "one reader goroutine per socket"
	if o.engineWorkers > 0 {
		readers = fmt.Sprintf("media.Engine: %d epoll worker thread(s), recvmmsg", o.engineWorkers)
	}
	byocpDesc := "media.Relay per call (public API, " + readers + "): side A carrier plain RTP (RestrictSources), side B Zoom " + zoom
	if o.relayProcs > 0 {
		byocpDesc += fmt.Sprintf("; GOMAXPROCS=%d", o.relayProcs)
	}

	r := reporter{w: w, o: o, srtpLib: srtpLib, srtpSkipped: srtpSkipped}
	r.header(args)
	specs := []runSpec{ref}
	descs := []string{refDesc}
	if srtpSkipped == "" {
		specs = append(specs, srtpRef)
		descs = append(descs, srtpDesc)
	}
	specs = append(specs, byocp)
	descs = append(descs, byocpDesc)
	if o.flood {
		f := byocp
		f.label, f.flood, f.profiles = "byocp + flood", true, false
		specs = append(specs, f)
		descs = append(descs, byocpDesc+"; call 0's side A port flooded")
	}
	var rounds []round
	for n := range o.rounds {
		if o.rounds > 1 {
			fmt.Fprintf(w, "\n#### round %d of %d\n", n+1, o.rounds)
		}
		var rd round
		for i, spec := range specs {
			spec.profiles = spec.profiles && n == 0
			res, err := runOne(o, spec)
			if err != nil {
				return fmt.Errorf("%s run: %w", spec.label, err)
			}
			r.result(res, descs[i], rd.byocp)
			switch {
			case spec.flood:
				rd.flood = res
			case spec.kind == kindByocp:
				rd.byocp = res
			case spec.kind == kindRefSRTP:
				rd.srtp = res
			default:
				rd.floor = res
			}
		}
		rounds = append(rounds, rd)
	}
	r.summary(rounds)
	return nil
}

// round is one round's runs; srtp and flood are nil where not run.
type round struct{ floor, srtp, byocp, flood *runResult }

// srtpReference builds the C reference relay with libsrtp2 and returns
// its run, its description and libsrtp's version and crypto, or why it
// is not run.
func srtpReference(o *options, dir string) (spec runSpec, desc, lib, skipped string) {
	spec = runSpec{label: "reference + libsrtp2", kind: kindRefSRTP}
	switch {
	case o.suite == "none":
		return spec, "", "", "-suite none: byocp does no SRTP, so the floor is its reference"
	case !refSRTPSuites[o.suite]:
		return spec, "", "", "it does AES_CM_128_HMAC_SHA1_80 and _32, not " + o.suite
	}
	bin, version, err := buildRefC(dir, true)
	var ee *exec.Error
	switch {
	case errors.As(err, &ee):
		return spec, "", "", "no C compiler (" + firstLine(err) + ")"
	case err != nil:
		return spec, "", "", "libsrtp2 is not usable (" + firstLine(err) + "); apt-get install libsrtp2-dev"
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		return spec, "", "", fmt.Sprintf("the relay built with libsrtp2 does not run (%v)", err)
	}
	spec.bin, lib = bin, strings.TrimSpace(string(out))
	if os.Getenv("LIBSRTP2_CFLAGS")+os.Getenv("LIBSRTP2_LIBS") != "" {
		cflags, libs := libsrtp2Flags()
		lib += " from " + strings.Join(slices.Concat(cflags, libs), " ")
	}
	return spec, "C (" + version + ", -O2; " + lib + "): the floor plus byocp's SRTP work on side B: " +
		"A->B srtp_protect with the call's side B local key, B->A srtp_unprotect with its remote key " +
		"(replay window 64, failures dropped); two srtp_t per call, one per direction", lib, ""
}

func (o *options) check(ports, floodFrom string) error {
	if o.calls < 1 {
		return errors.New("-calls must be at least 1")
	}
	if o.duration <= 0 || o.warmup < 0 || o.drain < 0 || o.ptime <= 0 || o.tick <= 0 {
		return errors.New("-duration, -ptime and -gen-tick must be positive, -warmup and -drain not negative")
	}
	if o.suite != "none" {
		if _, err := media.SuiteKeyLen(o.suite); err != nil {
			return err
		}
		if _, _, err := profileOf(o.suite); err != nil {
			return err
		}
	}
	if o.ref != "auto" && o.ref != "c" && o.ref != "go" {
		return fmt.Errorf("-ref %q: want auto, c or go", o.ref)
	}
	if _, err := fmt.Sscanf(ports, "%d-%d", &o.portMin, &o.portMax); err != nil || o.portMin < 1024 || o.portMax > 65535 || o.portMin > o.portMax {
		return fmt.Errorf("-ports %q: want MIN-MAX within 1024-65535", ports)
	}
	if pairs := (o.portMax - o.portMin + 1) / 2; pairs < 2*o.calls {
		return fmt.Errorf("-ports %s holds %d RTP/RTCP pairs; %d calls need %d", ports, pairs, o.calls, 2*o.calls)
	}
	ip, err := netip.ParseAddr(floodFrom)
	if err != nil || !ip.Is4() || !isLoopback(ip.As4()) {
		return fmt.Errorf("-flood-from %q: want an IPv4 address in 127.0.0.0/8", floodFrom)
	}
	o.floodFrom = ip.As4()
	if o.floodRate < 1 || o.floodRate > 200000 {
		return errors.New("-flood-rate must be within 1-200000")
	}
	if o.engineWorkers < 0 {
		return errors.New("-workers must not be negative")
	}
	if o.relayProcs < 0 {
		return errors.New("-relay-gomaxprocs must not be negative")
	}
	if o.workers < 1 || o.rounds < 1 || o.sockets < 0 {
		return errors.New("-gen-workers and -rounds must be at least 1, -gen-sockets at least 0")
	}
	return nil
}

func firstLine(err error) string {
	var ee *exec.Error
	if errors.As(err, &ee) {
		return ee.Name + " not found"
	}
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}
