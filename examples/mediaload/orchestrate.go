//go:build linux && (amd64 || arm64)

package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/byocp/byocp/media"
)

// options are mediaload's flags.
type options struct {
	calls                                int
	duration, warmup, drain, ptime, tick time.Duration
	suite                                string // SDES suite on side B, or "none"
	flood                                bool
	floodRate                            int
	floodFrom                            [4]byte
	ref                                  string // auto, c, go
	portMin, portMax                     int
	workers, sockets                     int
	relayProcs                           int // GOMAXPROCS of the byocp relay; 0 = default
	engineWorkers                        int // media.Engine.Workers of the byocp relay; 0 = goroutine per socket
	rounds                               int
	cpuProfile, memProfile               string
}

// relayKind is which relay a run measures.
type relayKind int

const (
	kindRefC    relayKind = iota // the floor in C
	kindRefGo                    // the floor in Go, without a C compiler
	kindRefSRTP                  // the C floor plus side B's SRTP with libsrtp2
	kindByocp
)

// runSpec is one run: a relay under the load, with or without the flood.
type runSpec struct {
	label    string
	kind     relayKind
	bin      string // the relay's executable
	flood    bool
	profiles bool // pass -cpuprofile/-memprofile to this run's relay
}

// runResult is what one run measured, over the measurement window.
type runResult struct {
	spec     runSpec
	window   time.Duration      // the relay's window, between its two marks
	cpu      cpuTime            // the relay's CPU time in it
	counters map[string]float64 // the relay's counters: increase over the window
	mem      map[string]float64 // byocp: the mem reply
	gen      genResult
	floodCPU time.Duration
	flood    map[string]float64
	loadavg  []float64 // at the window's start
	// Datagrams the kernel dropped at full receive buffers from the start
	// of the window to the end of the drain, at the relay's sockets and
	// at the generator's; ok is false if /proc/net/udp was unreadable.
	relayDrops, genDrops uint64
	dropsOK              bool
}

func (r *runResult) forwarded() float64 { return r.counters["forwarded"] }

// runOne starts the relay, the generator and, for a flood run, the flood
// sender; sets up the calls; drives warm-up, window and drain; and
// collects what every process measured. All processes are stopped when
// it returns.
func runOne(o *options, spec runSpec) (res *runResult, err error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	life := o.warmup + o.duration + o.drain + time.Minute + time.Duration(o.calls)*20*time.Millisecond
	deadline := fmt.Sprintf("%s=%d", deadlineEnv, int(life.Seconds())+1)
	setupWait := 30*time.Second + time.Duration(o.calls)*10*time.Millisecond
	const cmdWait = 15 * time.Second

	var relay *child
	switch spec.kind {
	case kindRefC:
		relay, err = startChild("reference relay (C)", spec.bin, deadline)
	case kindRefGo:
		relay, err = startChild("reference relay (Go)", self, deadline, roleEnv+"=ref")
	case kindRefSRTP:
		relay, err = startChild("reference relay (C, libsrtp2)", spec.bin, deadline)
	case kindByocp:
		env := []string{deadline, roleEnv + "=relay"}
		if o.engineWorkers > 0 {
			env = append(env, fmt.Sprintf("MEDIALOAD_WORKERS=%d", o.engineWorkers))
		}
		if o.relayProcs > 0 {
			env = append(env, fmt.Sprintf("GOMAXPROCS=%d", o.relayProcs))
		}
		if spec.profiles && o.cpuProfile != "" {
			env = append(env, "MEDIALOAD_CPUPROFILE="+o.cpuProfile)
		}
		if spec.profiles && o.memProfile != "" {
			env = append(env, "MEDIALOAD_MEMPROFILE="+o.memProfile)
		}
		relay, err = startChild("byocp relay", self, env...)
	}
	if err != nil {
		return nil, err
	}
	defer relay.kill()

	// Keys for the Zoom side: the relay's (side B LocalKey) and Zoom's
	// (side B RemoteKey), fresh for every run. The floor gets none: both
	// its endpoints send plain RTP.
	srtpOn := (spec.kind == kindByocp || spec.kind == kindRefSRTP) && o.suite != "none"
	var zoomKeys, relayKeys [][]byte
	if srtpOn {
		n, err := media.SuiteKeyLen(o.suite)
		if err != nil {
			return nil, err
		}
		var line strings.Builder
		line.WriteString("srtp " + o.suite)
		for range o.calls {
			l, r := make([]byte, n), make([]byte, n)
			_, _ = rand.Read(l)
			_, _ = rand.Read(r)
			relayKeys, zoomKeys = append(relayKeys, l), append(zoomKeys, r)
			fmt.Fprintf(&line, " %s %s", hex.EncodeToString(l), hex.EncodeToString(r))
		}
		if err := relay.send(line.String()); err != nil {
			return nil, err
		}
	}
	if err := relay.send(fmt.Sprintf("calls %d %d %d", o.calls, o.portMin, o.portMax)); err != nil {
		return nil, err
	}
	f, err := relay.expect("ports", setupWait)
	if err != nil {
		return nil, err
	}
	relayPorts, err := atois(f[1:], 2*o.calls)
	if err != nil {
		return nil, fmt.Errorf("%s: ports: %w", relay.name, err)
	}

	gen, err := startChild("load generator", self, deadline, roleEnv+"=gen")
	if err != nil {
		return nil, err
	}
	defer gen.kill()
	cfg := genConfig{Calls: o.calls, Relay: relayPorts, Workers: o.workers, Sockets: o.sockets, Ptime: o.ptime, Tick: o.tick}
	if srtpOn {
		cfg.Suite, cfg.ZoomKeys, cfg.RelayKeys = o.suite, zoomKeys, relayKeys
	}
	if err := writeJSON(gen.in, cfg); err != nil {
		return nil, err
	}
	var eps struct{ Endpoints []int }
	if err := gen.expectJSON(&eps, setupWait); err != nil {
		return nil, err
	}
	if len(eps.Endpoints) != 2*o.calls {
		return nil, fmt.Errorf("generator: %d endpoints for %d calls", len(eps.Endpoints), o.calls)
	}
	var remotes strings.Builder
	remotes.WriteString("remotes")
	for _, p := range eps.Endpoints {
		fmt.Fprintf(&remotes, " %d", p)
	}
	if err := relay.send(remotes.String()); err != nil {
		return nil, err
	}
	if _, err := relay.expect("ready", setupWait); err != nil {
		return nil, err
	}

	res = &runResult{spec: spec}
	var flood *child
	if spec.flood {
		if flood, err = startChild("flood sender", self, deadline, roleEnv+"=flood"); err != nil {
			return nil, err
		}
		defer flood.kill()
		fc := floodConfig{From: fmt.Sprintf("%d.%d.%d.%d", o.floodFrom[0], o.floodFrom[1], o.floodFrom[2], o.floodFrom[3]), Target: relayPorts[0], Rate: o.floodRate}
		if err := writeJSON(flood.in, fc); err != nil {
			return nil, err
		}
		if _, err := flood.expect("flooding", setupWait); err != nil {
			return nil, err
		}
	}

	if err := gen.send("go"); err != nil {
		return nil, err
	}
	if _, err := gen.expect("going", cmdWait); err != nil {
		return nil, err
	}
	time.Sleep(o.warmup)

	if spec.kind == kindByocp {
		if err := relay.send("mem"); err != nil {
			return nil, err
		}
		f, err := relay.expect("mem", cmdWait)
		if err != nil {
			return nil, err
		}
		res.mem = kv(f[1:])
	}
	res.loadavg = loadAverage()
	relaySet, genSet := make(map[int]bool), make(map[int]bool)
	for _, p := range relayPorts {
		relaySet[p] = true
	}
	for _, p := range eps.Endpoints {
		genSet[p] = true
	}
	rd1, ok1 := udpDrops(relaySet)
	gd1, _ := udpDrops(genSet)
	m1, err := relayMark(relay, cmdWait)
	if err != nil {
		return nil, err
	}
	var fc1 time.Duration
	if flood != nil {
		fc1 = procCPU(flood.cmd.Process.Pid)
	}
	if err := gen.send("phase 1"); err != nil {
		return nil, err
	}
	if _, err := gen.expect("phase", cmdWait); err != nil {
		return nil, err
	}

	time.Sleep(o.duration)

	m2, err := relayMark(relay, cmdWait)
	if err != nil {
		return nil, err
	}
	if flood != nil {
		res.floodCPU = procCPU(flood.cmd.Process.Pid) - fc1
	}
	if err := gen.send("phase 2"); err != nil {
		return nil, err
	}
	if _, err := gen.expect("phase", cmdWait); err != nil {
		return nil, err
	}

	time.Sleep(o.drain)
	rd2, ok2 := udpDrops(relaySet)
	gd2, _ := udpDrops(genSet)
	res.relayDrops, res.genDrops, res.dropsOK = rd2-rd1, gd2-gd1, ok1 && ok2

	if err := gen.send("stop"); err != nil {
		return nil, err
	}
	if err := gen.expectJSON(&res.gen, cmdWait); err != nil {
		return nil, err
	}
	if err := gen.wait(cmdWait); err != nil {
		return nil, err
	}
	if flood != nil {
		if err := flood.send("stop"); err != nil {
			return nil, err
		}
		f, err := flood.expect("flooded", cmdWait)
		if err != nil {
			return nil, err
		}
		res.flood = kv(f[1:])
		if err := flood.wait(cmdWait); err != nil {
			return nil, err
		}
	}
	if err := relay.send("stop"); err != nil {
		return nil, err
	}
	if _, err := relay.expect("bye", cmdWait+time.Duration(o.calls)*time.Millisecond); err != nil {
		return nil, err
	}
	if err := relay.wait(cmdWait); err != nil {
		return nil, err
	}

	res.window = m2.at - m1.at
	res.cpu = cpuTime{User: m2.cpu.User - m1.cpu.User, Sys: m2.cpu.Sys - m1.cpu.Sys}
	res.counters = make(map[string]float64)
	for k, v := range m2.counters {
		res.counters[k] = v - m1.counters[k]
	}
	return res, nil
}

// loadAverage reads the 1, 5 and 15 minute load averages.
func loadAverage() []float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return nil
	}
	var v []float64
	for _, f := range strings.Fields(string(b))[:3] {
		x, _ := strconv.ParseFloat(f, 64)
		v = append(v, x)
	}
	return v
}

func relayMark(relay *child, timeout time.Duration) (mark, error) {
	if err := relay.send("mark"); err != nil {
		return mark{}, err
	}
	f, err := relay.expect("mark", timeout)
	if err != nil {
		return mark{}, err
	}
	return parseMark(f)
}

func atois(f []string, want int) ([]int, error) {
	if len(f) != want {
		return nil, fmt.Errorf("want %d numbers, have %d", want, len(f))
	}
	v := make([]int, len(f))
	for i, s := range f {
		var err error
		if v[i], err = strconv.Atoi(s); err != nil {
			return nil, err
		}
	}
	return v, nil
}
