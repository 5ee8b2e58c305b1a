//go:build linux && (amd64 || arm64)

package main

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"io"
	"net/netip"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/byocp/byocp/media"
)

// runRelay is the relay under test: byocp's media package through its
// public API, as the Bridge uses it. Per call it allocates two Ports from
// a PortPool on 127.0.0.1 and wires them into a media.Relay: side A is
// the carrier (plain RTP, RestrictSources to the carrier's IP, as the
// Bridge configures it), side B is Zoom (SRTP with SDES keys, or plain
// RTP with -suite none). Side B is first keyed with only its LocalKey (our
// offer), then given both remotes and Zoom's key (the answer), as in a
// call. The control protocol is the reference relay's (see
// csrc/refrelay.c; the srtp line as the one built with libsrtp2 takes
// it, and left out with -suite none), plus:
//
//	srtp SUITE LOCAL0 REMOTE0 ...  before calls: side B's keys, hex
//	mem                            -> mem k=v ... (heap and stacks, after GC)
//
// MEDIALOAD_CPUPROFILE names a file for a CPU profile of the measurement
// window (from the first mark to the second); MEDIALOAD_MEMPROFILE one for
// a heap profile of the established calls, written at mem.
func runRelay() error {
	cpuProfile, memProfile := os.Getenv("MEDIALOAD_CPUPROFILE"), os.Getenv("MEDIALOAD_MEMPROFILE")
	if memProfile != "" {
		runtime.MemProfileRate = 1
	}
	started := time.Now()
	in := bufio.NewReaderSize(os.Stdin, 1<<20)
	var base, setup memSample
	var (
		suite         string
		local, remote [][]byte
		relays        []*media.Relay
		marks         int
	)
	defer func() {
		for _, r := range relays {
			_ = r.Close()
		}
	}()
	for {
		line, err := in.ReadString('\n')
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "srtp":
			if len(f) < 2 || len(f)%2 != 0 {
				return fmt.Errorf("srtp: want a suite and key pairs")
			}
			suite = f[1]
			for i := 2; i < len(f); i += 2 {
				l, err1 := hex.DecodeString(f[i])
				r, err2 := hex.DecodeString(f[i+1])
				if err1 != nil || err2 != nil {
					return fmt.Errorf("srtp: bad key")
				}
				local, remote = append(local, l), append(remote, r)
			}
		case "calls":
			n, lo, hi, err := parseCalls(f)
			if err != nil {
				return err
			}
			if suite != "" && len(local) != n {
				return fmt.Errorf("calls: %d calls but %d keys", n, len(local))
			}
			workers, _ := strconv.Atoi(os.Getenv("MEDIALOAD_WORKERS"))
			pool, err := media.NewPortPoolEngine(netip.AddrFrom4(loopback), lo, hi, media.Engine{Workers: workers})
			if err != nil {
				return err
			}
			base = sampleMem() // after the pool: one per Bridge, not per call
			var ports strings.Builder
			ports.WriteString("ports")
			for i := range n {
				a, err := pool.Allocate()
				if err != nil {
					return err
				}
				b, err := pool.Allocate()
				if err != nil {
					return err
				}
				r := media.NewRelay(a, b, nil)
				relays = append(relays, r)
				if suite != "" { // our offer to Zoom: our key only
					if err := r.SetLeg(media.SideB, media.LegConfig{SRTP: &media.SRTPConfig{Suite: suite, LocalKey: local[i]}}); err != nil {
						return err
					}
				}
				fmt.Fprintf(&ports, " %d %d", a.Number(), b.Number())
			}
			fmt.Println(ports.String())
		case "remotes":
			if len(f)-1 != 2*len(relays) {
				return fmt.Errorf("remotes: want %d ports, have %d", 2*len(relays), len(f)-1)
			}
			for i, r := range relays {
				pa, errA := strconv.Atoi(f[1+2*i])
				pb, errB := strconv.Atoi(f[2+2*i])
				if errA != nil || errB != nil {
					return fmt.Errorf("remotes: bad port")
				}
				a := media.LegConfig{Remote: netip.AddrPortFrom(netip.AddrFrom4(loopback), uint16(pa)), RestrictSources: true}
				b := media.LegConfig{Remote: netip.AddrPortFrom(netip.AddrFrom4(loopback), uint16(pb))}
				if suite != "" {
					b.SRTP = &media.SRTPConfig{Suite: suite, LocalKey: local[i], RemoteKey: remote[i]}
				}
				if err := r.SetLeg(media.SideA, a); err != nil {
					return err
				}
				if err := r.SetLeg(media.SideB, b); err != nil {
					return err
				}
				r.Start()
			}
			local, remote = nil, nil
			setup = sampleMem()
			fmt.Println("ready")
		case "mem":
			now := sampleMem()
			if memProfile != "" {
				if err := writeHeapProfile(memProfile); err != nil {
					return err
				}
			}
			fmt.Printf("mem calls=%d heapBase=%d heapSetup=%d heapNow=%d stackBase=%d stackSetup=%d stackNow=%d goroutines=%d\n",
				len(relays), base.heap, setup.heap, now.heap, base.stack, setup.stack, now.stack, runtime.NumGoroutine())
		case "mark":
			marks++
			if cpuProfile != "" && marks <= 2 {
				if marks == 1 {
					pf, err := os.Create(cpuProfile)
					if err != nil {
						return err
					}
					if err := pprof.StartCPUProfile(pf); err != nil {
						return err
					}
					defer pf.Close()
				} else {
					pprof.StopCPUProfile()
				}
			}
			cpu := selfCPU()
			var line strings.Builder
			fmt.Fprintf(&line, "mark %d %d %d", time.Since(started).Nanoseconds(), cpu.User.Microseconds(), cpu.Sys.Microseconds())
			var sum, call0 media.Stats
			for i, r := range relays {
				st := r.Stats()
				addStats(&sum.AtoB, st.AtoB)
				addStats(&sum.BtoA, st.BtoA)
				if i == 0 {
					call0 = st
				}
			}
			fmt.Fprintf(&line, " received=%d forwarded=%d preempted=%d", sum.AtoB.Received+sum.BtoA.Received, sum.AtoB.Forwarded+sum.BtoA.Forwarded, cpu.Preempted)
			writeStats(&line, "AtoB.", sum.AtoB)
			writeStats(&line, "BtoA.", sum.BtoA)
			writeStats(&line, "call0.AtoB.", call0.AtoB)
			writeStats(&line, "call0.BtoA.", call0.BtoA)
			fmt.Println(line.String())
		case "stop":
			for _, r := range relays {
				_ = r.Close()
			}
			relays = nil
			fmt.Println("bye")
			return nil
		default:
			return fmt.Errorf("unknown command %q", f[0])
		}
	}
}

func parseCalls(f []string) (n, lo, hi int, err error) {
	if len(f) != 4 {
		return 0, 0, 0, fmt.Errorf("want: calls N MIN MAX")
	}
	v := make([]int, 3)
	for i := range v {
		if v[i], err = strconv.Atoi(f[1+i]); err != nil {
			return 0, 0, 0, fmt.Errorf("calls: %w", err)
		}
	}
	if v[0] < 1 {
		return 0, 0, 0, fmt.Errorf("calls: %d calls", v[0])
	}
	return v[0], v[1], v[2], nil
}

type memSample struct{ heap, stack uint64 }

// sampleMem collects garbage, then reads the live heap (HeapInuse: spans
// holding objects) and goroutine stacks (StackInuse).
func sampleMem() memSample {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return memSample{heap: m.HeapInuse, stack: m.StackInuse}
}

func writeHeapProfile(name string) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func addStats(s *media.DirectionStats, d media.DirectionStats) {
	s.Received += d.Received
	s.Forwarded += d.Forwarded
	s.WrongSource += d.WrongSource
	s.NotRTP += d.NotRTP
	s.AuthFailed += d.AuthFailed
	s.NoRemote += d.NoRemote
	s.TooManySSRCs += d.TooManySSRCs
	s.Duplicate += d.Duplicate
	s.SendFailed += d.SendFailed
	s.Panics += d.Panics
}

// dropReasons names DirectionStats' drop counters in their order.
var dropReasons = []string{"WrongSource", "NotRTP", "AuthFailed", "NoRemote", "TooManySSRCs", "Duplicate", "SendFailed", "Panics"}

func writeStats(w io.Writer, prefix string, s media.DirectionStats) {
	v := []uint64{s.WrongSource, s.NotRTP, s.AuthFailed, s.NoRemote, s.TooManySSRCs, s.Duplicate, s.SendFailed, s.Panics}
	fmt.Fprintf(w, " %sReceived=%d %sForwarded=%d", prefix, s.Received, prefix, s.Forwarded)
	for i, name := range dropReasons {
		fmt.Fprintf(w, " %s%s=%d", prefix, name, v[i])
	}
}
