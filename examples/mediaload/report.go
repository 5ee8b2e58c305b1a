//go:build linux && (amd64 || arm64)

package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"
)

// reporter writes the results.
type reporter struct {
	w           io.Writer
	o           *options
	srtpLib     string // libsrtp's version and crypto, for the reference with libsrtp2
	srtpSkipped string // why the reference with libsrtp2 is not run, or ""
}

func (r *reporter) printf(format string, a ...any) { fmt.Fprintf(r.w, format, a...) }

func (r *reporter) header(args []string) {
	o := r.o
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	load, _ := os.ReadFile("/proc/loadavg")
	loadF := strings.Fields(string(load))
	if len(loadF) > 3 {
		loadF = loadF[:3]
	}
	r.printf("mediaload: %d calls, one %d-byte RTP packet (PCMU, %d-byte payload) per %v per stream, both ways (%.0f packets/s into the relay)\n",
		o.calls, rtpLen, payloadLen, o.ptime, float64(2*o.calls)/o.ptime.Seconds())
	socks := fmt.Sprintf("%d sockets each", o.sockets)
	if o.sockets == 0 {
		socks = "one socket per endpoint"
	}
	r.printf("  window %v after %v warm-up, %v drain; generator: %d threads, %s, %v send granularity\n", o.duration, o.warmup, o.drain, o.workers, socks, o.tick)
	r.printf("machine: %s, %d cores, Linux %s, %s %s/%s; load average %s\n", model, runtime.NumCPU(), strings.TrimSpace(string(kernel)),
		runtime.Version(), runtime.GOOS, runtime.GOARCH, strings.Join(loadF, " "))
	r.printf("  shared machines give noisy absolute figures: compare byocp with the reference of the same round\n")
	r.printf("command: go run ./examples/mediaload %s\n", strings.Join(args, " "))
	if r.srtpSkipped != "" {
		r.printf("reference + libsrtp2: skipped, %s\n", r.srtpSkipped)
	}
}

// agg sums the generator's groups.
func agg(gs ...groupStats) (g groupStats, hs []map[int]uint64) {
	for _, s := range gs {
		g.Sent += s.Sent
		g.Received += s.Received
		g.Dup += s.Dup
		g.Foreign += s.Foreign
		g.BadAuth += s.BadAuth
		g.NotRTP += s.NotRTP
		g.Max = max(g.Max, s.Max)
		hs = append(hs, s.Latency)
	}
	return g, hs
}

func all(res *runResult) (groupStats, latency) {
	g := res.gen.Groups
	s, hs := agg(g[0][0], g[0][1], g[1][0], g[1][1])
	return s, summarize(s.Max, hs...)
}

func others(res *runResult) (groupStats, latency) {
	g := res.gen.Groups
	s, hs := agg(g[1][0], g[1][1])
	return s, summarize(s.Max, hs...)
}

func call0(res *runResult) (groupStats, latency) {
	g := res.gen.Groups
	s, hs := agg(g[0][0], g[0][1])
	return s, summarize(s.Max, hs...)
}

func lossPct(s groupStats) float64 {
	if s.Sent == 0 {
		return 0
	}
	return 100 * float64(s.Sent-min(s.Received, s.Sent)) / float64(s.Sent)
}

func fmtLoss(s groupStats) string {
	extra := ""
	if s.Dup+s.Foreign+s.BadAuth+s.NotRTP > 0 {
		extra = fmt.Sprintf("; also received: %d duplicate/out of order, %d foreign SSRC, %d failed SRTP, %d not RTP", s.Dup, s.Foreign, s.BadAuth, s.NotRTP)
	}
	return fmt.Sprintf("%d of %d sent in the window (%.3f%%)%s", s.Sent-min(s.Received, s.Sent), s.Sent, lossPct(s), extra)
}

func fmtDur(d time.Duration) string {
	if d < time.Millisecond {
		return fmt.Sprintf("%d us", d.Microseconds())
	}
	return fmt.Sprintf("%.2f ms", float64(d)/1e6)
}

func fmtLat(l latency) string {
	if l.n == 0 {
		return "none received"
	}
	return fmt.Sprintf("p50 %s, p99 %s, p99.9 %s, max %s", fmtDur(l.p50), fmtDur(l.p99), fmtDur(l.p999), fmtDur(l.maxSeen))
}

// perPacket is the relay's CPU time per forwarded packet.
func perPacket(res *runResult) time.Duration {
	if res.forwarded() == 0 {
		return 0
	}
	return time.Duration(float64(res.cpu.User+res.cpu.Sys) / res.forwarded())
}

func us(d time.Duration) float64 { return float64(d) / 1e3 }

func (r *reporter) result(res *runResult, desc string, noFlood *runResult) {
	o := r.o
	win := res.window.Seconds()
	fwd := res.forwarded()
	r.printf("\n== %s: %s\n", res.spec.label, desc)
	r.printf("   calls           %d (%d relay sockets for media)\n", o.calls, 2*o.calls)
	r.printf("   relayed         %.0f packets/s (%.0f in %.2f s; %.0f/s sent into it)\n", fwd/win, fwd, win, float64(2*o.calls)/o.ptime.Seconds())
	pp := perPacket(res)
	cpu := res.cpu.User + res.cpu.Sys
	floodNote := ""
	if res.spec.flood {
		floodNote = ", including reading and dropping the flood"
	}
	r.printf("   relay CPU       %.2f us/packet (user %.2f + system %.2f); %.1f%% of one core%s\n",
		us(pp), us(res.cpu.User)/fwd, us(res.cpu.Sys)/fwd, 100*cpu.Seconds()/win, floodNote)
	s, lat := all(res)
	r.printf("   loss            %s\n", fmtLoss(s))
	if res.dropsOK && res.relayDrops+res.genDrops > 0 {
		r.printf("   kernel drops    %d at the relay's sockets, %d at the generator's (receive buffer full, from the window's start to the drain's end)\n", res.relayDrops, res.genDrops)
	}
	r.printf("   latency         %s (send to arrival at the far endpoint, through the relay)\n", fmtLat(lat))
	g := res.gen
	handled := float64(s.Sent + s.Received)
	gcpu := g.CPU.User + g.CPU.Sys
	genLine := fmt.Sprintf("%.1f%% of one core", 100*gcpu.Seconds()/max(g.Window.Seconds(), 1e-9))
	if handled > 0 {
		genLine = fmt.Sprintf("%.2f us per packet sent or received, ", us(gcpu)/handled) + genLine
	}
	odd := ""
	if g.SendErrors+g.Stray+g.NoKernelTS > 0 {
		odd = fmt.Sprintf("; %d send errors, %d datagrams from unknown ports, %d without kernel time stamp", g.SendErrors, g.Stray, g.NoKernelTS)
	}
	r.printf("   generator       %s; %d sends more than %v late (max %s)%s\n", genLine, g.LateSends, lateAfter, fmtDur(max(g.MaxLag, 0)), odd)
	floodPart := ""
	if res.spec.flood {
		floodPart = fmt.Sprintf(", flood sender %.0f%%", 100*res.floodCPU.Seconds()/win)
	}
	load := ""
	if len(res.loadavg) > 0 {
		load = fmt.Sprintf("; load average %.2f at the window's start", res.loadavg[0])
	}
	r.printf("   CPU shares      relay %.0f%%, generator %.0f%%%s of one core; the relay was preempted %.0f times/s%s\n",
		100*cpu.Seconds()/win, 100*gcpu.Seconds()/max(g.Window.Seconds(), 1e-9), floodPart, res.counters["preempted"]/win, load)
	if res.spec.kind == kindRefSRTP {
		c := res.counters
		r.printf("   libsrtp2        A->B (RTP->SRTP) protected %.0f, B->A (SRTP->RTP) unprotected %.0f; dropped: protect failed %.0f, unprotect failed %.0f\n",
			c["protected"], c["unprotected"], c["protectFailed"], c["unprotectFailed"])
	}
	if res.spec.kind == kindByocp {
		r.mediaStats(res)
		if !res.spec.flood {
			r.memory(res)
		}
	}
	if res.spec.flood {
		r.floodResult(res, noFlood)
	}
	if notes := saturation(res); len(notes) > 0 {
		r.printf("   note            %s\n", strings.Join(notes, "; "))
	}
}

// saturation lists signs that the run was not below saturation.
func saturation(res *runResult) []string {
	var notes []string
	s, _ := all(res)
	if s.Received < s.Sent {
		notes = append(notes, "packets were lost")
	}
	if res.gen.LateSends > res.gen.Sends/100 {
		notes = append(notes, "the generator fell behind its schedule, so the offered load was lower and burstier than intended")
	}
	if n := float64(runtime.NumCPU()); len(res.loadavg) > 0 && res.loadavg[0] > n {
		notes = append(notes, fmt.Sprintf("the machine was busy: load average %.2f on %.0f cores, this run included", res.loadavg[0], n))
	}
	return notes
}

func (r *reporter) mediaStats(res *runResult) {
	c := res.counters
	dir := func(p, name string) string {
		return fmt.Sprintf("%s received %.0f, forwarded %.0f", name, c[p+"Received"], c[p+"Forwarded"])
	}
	var drops []string
	for _, p := range []string{"AtoB.", "BtoA."} {
		for _, d := range dropReasons {
			if v := c[p+d]; v != 0 {
				drops = append(drops, fmt.Sprintf("%s %.0f (%s)", d, v, strings.TrimSuffix(p, ".")))
			}
		}
	}
	if len(drops) == 0 {
		drops = []string{"none"}
	}
	a, b := "A->B (RTP->SRTP)", "B->A (SRTP->RTP)"
	if r.o.suite == "none" {
		a, b = "A->B", "B->A"
	}
	r.printf("   media.Stats     %s; %s; dropped: %s\n", dir("AtoB.", a), dir("BtoA.", b), strings.Join(drops, ", "))
}

func (r *reporter) memory(res *runResult) {
	m := res.mem
	n := m["calls"]
	if n == 0 {
		return
	}
	heap := (m["heapNow"] - m["heapBase"]) / n
	stack := (m["stackNow"] - m["stackBase"]) / n
	setup := (m["heapSetup"] - m["heapBase"] + m["stackSetup"] - m["stackBase"]) / n
	r.printf("   memory per call %.1f KiB established (Go heap %.1f KiB + goroutine stacks %.1f KiB), %.1f KiB before the first packet\n",
		(heap+stack)/1024, heap/1024, stack/1024, setup/1024)
	r.printf("                   = the Relay, its 2 Ports (4 sockets' Go state), SSRC tables, 2 SRTP contexts (SRTP and\n")
	r.printf("                   SRTCP) with their per-SSRC state, and with goroutines 4 reader goroutines and their receive\n")
	r.printf("                   buffers; not the PortPool, an engine's workers, kernel socket buffers, or the runtime's\n")
	r.printf("                   off-heap netpoll descriptors\n")
}

func (r *reporter) floodResult(res, noFlood *runResult) {
	c := res.counters
	rate := res.flood["sent"] / max(res.flood["seconds"], 1e-9)
	r.printf("   flood           %.0f datagrams/s from %d.%d.%d.%d to call 0's side A (carrier) port (%.0f in all); in the window the relay dropped %.0f as WrongSource\n",
		rate, r.o.floodFrom[0], r.o.floodFrom[1], r.o.floodFrom[2], r.o.floodFrom[3], res.flood["sent"], c["call0.AtoB.WrongSource"])
	os, ol := others(res)
	r.printf("   other calls     loss %s; %s\n", fmtLoss(os), fmtLat(ol))
	if noFlood != nil {
		ns, nl := others(noFlood)
		r.printf("     without flood loss %s; %s\n", fmtLoss(ns), fmtLat(nl))
	}
	cs, cl := call0(res)
	r.printf("   call 0          loss %s; %s\n", fmtLoss(cs), fmtLat(cl))
}

// median returns the median of v, which it sorts.
func median(v []float64) float64 {
	slices.Sort(v)
	m := v[len(v)/2]
	if len(v)%2 == 0 {
		m = (v[len(v)/2-1] + m) / 2
	}
	return m
}

func (r *reporter) summary(rounds []round) {
	o := r.o
	r.printf("\n== summary\n")
	var ratios, srtpRatios []float64
	for i, rd := range rounds {
		b := perPacket(rd.byocp)
		ratio := float64(b) / float64(perPacket(rd.floor))
		ratios = append(ratios, ratio)
		prefix := "  "
		if len(rounds) > 1 {
			prefix = fmt.Sprintf("  round %d: ", i+1)
		}
		r.printf("%sCPU per relayed packet, byocp / reference: %.2f / %.2f us = %.2fx\n", prefix, us(b), us(perPacket(rd.floor)), ratio)
		if rd.srtp != nil {
			s := float64(b) / float64(perPacket(rd.srtp))
			srtpRatios = append(srtpRatios, s)
			r.printf("%*sbyocp / reference + libsrtp2: %.2f / %.2f us = %.2fx\n", len(prefix)+len("CPU per relayed packet, "), "", us(b), us(perPacket(rd.srtp)), s)
		}
	}
	ratio := median(ratios)
	srtpRatio := 0.0
	if len(srtpRatios) > 0 {
		srtpRatio = median(srtpRatios)
	}
	if len(ratios) > 1 {
		r.printf("  median ratio of %d rounds: %.2fx", len(ratios), ratio)
		if len(srtpRatios) > 0 {
			r.printf(" (to the reference), %.2fx (to the reference + libsrtp2)", srtpRatio)
		}
		r.printf("\n")
	}
	first := rounds[0]
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT met"
	}
	r.printf("  targets (the CPU ratio: median of the rounds; the rest: round 1):\n")
	r.printf("    CPU per packet within 1.2x of a minimal C relay: %.2fx, %s", ratio, verdict(ratio <= 1.2))
	if first.floor.spec.kind != kindRefC {
		r.printf(" (the reference here is the Go raw-syscall relay, not C)")
	}
	r.printf("\n")
	if len(srtpRatios) > 0 {
		r.printf("    informational, no target: CPU per packet against the same C relay doing byocp's SRTP with libsrtp2: %.2fx (%s)\n", srtpRatio, r.srtpLib)
		if strings.Contains(r.srtpLib, "NSS") {
			r.printf("      this libsrtp2 does AES through NSS, which sets up a cipher context for every packet; libsrtp2 built\n")
			r.printf("      with OpenSSL (--enable-openssl) is several times faster: LIBSRTP2_CFLAGS and LIBSRTP2_LIBS choose one\n")
		}
	} else {
		r.printf("    informational, no target: CPU per packet against the same C relay doing byocp's SRTP with libsrtp2: not measured (%s)\n", r.srtpSkipped)
	}
	bs, bl := all(first.byocp)
	if o.calls == 200 {
		r.printf("    latency p99 <= 1 ms at 200 calls: %s, %s\n", fmtDur(bl.p99), verdict(bl.n > 0 && bl.p99 <= time.Millisecond))
	} else {
		r.printf("    latency p99 <= 1 ms at 200 calls: not judged at %d calls (p99 here %s)\n", o.calls, fmtDur(bl.p99))
	}
	rs, _ := all(first.floor)
	r.printf("    no loss below saturation: byocp %.3f%%, reference %.3f%%", lossPct(bs), lossPct(rs))
	if first.srtp != nil {
		ss, _ := all(first.srtp)
		r.printf(", reference + libsrtp2 %.3f%%", lossPct(ss))
	}
	switch {
	case bs.Received >= bs.Sent:
		r.printf(", met\n")
	case rs.Received >= rs.Sent:
		r.printf(", NOT met (the reference lost nothing under the same load)\n")
	default:
		r.printf(" (both lost packets: this load saturates the machine)\n")
	}
	if m := first.byocp.mem; m["calls"] > 0 {
		per := (m["heapNow"] - m["heapBase"] + m["stackNow"] - m["stackBase"]) / m["calls"]
		r.printf("    memory per established call <= 16 KiB: %.1f KiB, %s\n", per/1024, verdict(per <= 16*1024))
	}
	if first.flood != nil {
		fs, fl := others(first.flood)
		ns, nl := others(first.byocp)
		ok := fs.Received >= fs.Sent || lossPct(fs) <= lossPct(ns)
		r.printf("    a flood on call 0 leaves the others unaffected: loss %.3f%% (without flood %.3f%%), p99 %s (without %s), %s\n",
			lossPct(fs), lossPct(ns), fmtDur(fl.p99), fmtDur(nl.p99), map[bool]string{true: "no loss added", false: "loss added"}[ok])
	}
}
