package media

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// loadTiming is how long a load run warms up and then measures.
type loadTiming struct {
	warm, window time.Duration
}

// loadSample is what one run of one relay measured in its window.
type loadSample struct {
	cpu      time.Duration // user + system CPU of the relay's process
	packets  uint64        // packets the relay forwarded
	switches int64         // context switches of the relay's process
	rounds   uint64        // wake-ups of the engine's workers that found something
	foreign  float64       // CPUs busy with neither the relay nor the generator (other jobs, steal)
	res      loadResult    // the generator's view of the whole run
}

// machine is a reading of the CPU time of every process on the machine
// but the benchmark's own (the relay, the generator and the C relay),
// and of the time the hypervisor gave this machine's CPUs to others, to
// tell how much other jobs took during a window. Processes that start
// and end within the window escape it.
type machine struct {
	procs map[int]time.Duration // user + system per process
	steal time.Duration
}

func readMachine(tb testing.TB, ours ...int) machine {
	m := machine{procs: make(map[int]time.Duration)}
	const tick = 10 * time.Millisecond // USER_HZ 100
	stat, err := os.ReadFile("/proc/stat")
	must(tb, err)
	line, _, _ := strings.Cut(string(stat), "\n")
	if f := strings.Fields(line); len(f) > 8 { // cpu user nice system idle iowait irq softirq steal
		n, _ := strconv.ParseInt(f[8], 10, 64)
		m.steal = time.Duration(n) * tick
	}
	ents, err := os.ReadDir("/proc")
	must(tb, err)
	ours = append(ours, os.Getpid())
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || slices.Contains(ours, pid) {
			continue
		}
		st, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // gone
		}
		_, rest, _ := strings.Cut(string(st), ") ")
		f := strings.Fields(rest) // from field 3, state
		var sum int64
		for _, i := range []int{11, 12} { // utime stime
			n, _ := strconv.ParseInt(f[i], 10, 64)
			sum += n
		}
		m.procs[pid] = time.Duration(sum) * tick
	}
	return m
}

// foreignLoad is how many CPUs, on average over window, other jobs took
// between m0 and m1.
func foreignLoad(m0, m1 machine, window time.Duration) float64 {
	d := m1.steal - m0.steal
	for pid, t := range m1.procs {
		d += t - m0.procs[pid] // a process that started meanwhile counts whole
	}
	return float64(d) / float64(window)
}

// loadVariant is one way of relaying that BenchmarkMediaLoad compares.
type loadVariant struct {
	name string
	run  func(tb testing.TB, calls int, tm loadTiming) loadSample
}

const loadSuite = "AES_CM_128_HMAC_SHA1_80"

// BenchmarkMediaLoad relays the media of many calls at once: every call
// has a carrier peer sending plain RTP and a Zoom peer sending SRTP (the
// "-plain" variants: plain RTP), 20 ms packets each way (50 packets/s per
// direction, each peer at a random phase), from a generator in a child
// process. It measures the relay process's CPU time (getrusage, user +
// system) per forwarded packet in a window after a warm-up, for each
// variant, taking turns within each round. The "c" variant is
// testdata/crelay.c, the minimal epoll relay (no SRTP, no checks); it is
// skipped without gcc. Run it with
//
//	go test -run '^$' -bench MediaLoad -benchtime 5x ./media
//
// where 5x means five rounds (about a minute and a half each, both call
// counts). Other jobs on the machine make a relay look cheaper (starved,
// it reads more packets per wake-up) and the machine's speed drifts, so a
// round whose window saw other jobs take more than 0.15 CPUs is left out,
// and each variant is also compared with the C relay of the same round.
// Per variant it reports the mean cpu-ns/pkt, the median ratio to "c" of
// the same round (x-c), the worst latency p99 seen by the generator
// (p99-us), lost packets, and the rounds counted. Every run is printed on
// stdout as well. The relay's process keeps a goroutine parked in Go's
// netpoller throughout, as a Bridge's SIP listeners do.
//
// BYOCP_LOAD_VARIANTS=pump,w1,c selects variants; BYOCP_LOAD_CALLS=20
// and BYOCP_LOAD_INTERVAL=2ms change the load (the same packet rate on
// fewer calls: hot caches); BYOCP_LOAD_DIRECT=1 adds "direct", the peers
// sending to each other without a relay (the harness's own latency).
func BenchmarkMediaLoad(b *testing.B) {
	variants := loadVariants(b)
	tm := loadTiming{warm: 500 * time.Millisecond, window: 2 * time.Second}
	callCounts := []int{200, 1000}
	if v := os.Getenv("BYOCP_LOAD_CALLS"); v != "" {
		n, _ := strconv.Atoi(v)
		callCounts = []int{n}
	}
	const maxForeign = 0.15
	for _, calls := range callCounts {
		b.Run(fmt.Sprintf("calls=%d", calls), func(b *testing.B) {
			sum := make([]loadSample, len(variants))
			ratios := make([][]float64, len(variants))
			clean := make([]int, len(variants))
			p99 := make([]time.Duration, len(variants))
			lost := make([]uint64, len(variants))
			for round := 0; b.Loop(); round++ {
				cost := make([]float64, len(variants)) // this round's, 0 if contended
				ref := -1
				for k := range variants {
					i := (k + round) % len(variants)
					s := variants[i].run(b, calls, tm)
					lostNow := s.res.Sent[0] + s.res.Sent[1] - s.res.Received[0] - s.res.Received[1]
					wakes := "-"
					if s.rounds > 0 {
						wakes = fmt.Sprintf("%.1f", float64(s.packets)/float64(s.rounds))
					}
					verdict := "ok"
					if s.foreign > maxForeign {
						verdict = "contended"
					}
					// Printed rather than logged: a benchmark's log keeps only its last lines.
					fmt.Printf("calls %d round %d %-10s %6.0f cpu-ns/pkt %6.0f pkts/s %6.0f ctxsw/s %5s pkts/wake  latency p50 %v p99 %v p99.9 %v max %v  lost %d  other jobs %.2f CPUs: %s\n",
						calls, round, variants[i].name, float64(s.cpu)/float64(s.packets), float64(s.packets)/tm.window.Seconds(),
						float64(s.switches)/tm.window.Seconds(), wakes,
						s.res.P50, s.res.P99, s.res.P999, s.res.Max.Round(time.Microsecond), lostNow, s.foreign, verdict)
					if variants[i].name == "c" {
						ref = i
					}
					if verdict != "ok" || s.packets == 0 {
						continue
					}
					cost[i] = float64(s.cpu) / float64(s.packets)
					clean[i]++
					sum[i].cpu += s.cpu
					sum[i].packets += s.packets
					p99[i] = max(p99[i], s.res.P99)
					lost[i] += lostNow
				}
				for i := range variants {
					if ref >= 0 && cost[ref] > 0 && cost[i] > 0 {
						ratios[i] = append(ratios[i], cost[i]/cost[ref])
					}
				}
			}
			for i, v := range variants {
				if clean[i] == 0 {
					continue
				}
				b.ReportMetric(float64(sum[i].cpu)/float64(sum[i].packets), v.name+"-cpu-ns/pkt")
				if r := ratios[i]; len(r) > 0 && v.name != "c" {
					slices.Sort(r)
					b.ReportMetric(r[len(r)/2], v.name+"-x-c")
				}
				b.ReportMetric(float64(p99[i].Microseconds()), v.name+"-p99-us")
				b.ReportMetric(float64(lost[i]), v.name+"-lost")
				b.ReportMetric(float64(clean[i]), v.name+"-rounds")
			}
		})
	}
}

// parkNetpollReader parks a goroutine in a read on an idle UDP socket for
// the rest of the benchmark, as a Bridge's SIP listeners are: with a
// goroutine waiting in Go's netpoller, an idle thread of the runtime
// sleeps in the netpoller rather than on a futex.
func parkNetpollReader(tb testing.TB) {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	must(tb, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 64)
		for {
			if _, err := conn.Read(buf); err != nil {
				return
			}
		}
	}()
	tb.Cleanup(func() { _ = conn.Close(); <-done })
}

func loadVariants(tb testing.TB) []loadVariant {
	var vs []loadVariant
	for _, v := range []struct {
		name  string
		cfg   Engine
		suite string
	}{
		{"pump", Engine{}, loadSuite},
		{"w1", Engine{Workers: 1}, loadSuite},
		{"w1-win200", Engine{Workers: 1, PollWindow: 200 * time.Microsecond}, loadSuite},
		{"w1-win500", Engine{Workers: 1, PollWindow: 500 * time.Microsecond}, loadSuite},
		{"w2", Engine{Workers: 2}, loadSuite},
		{"w2-win200", Engine{Workers: 2, PollWindow: 200 * time.Microsecond}, loadSuite},
		{"pump-plain", Engine{}, ""},
		{"w1-plain", Engine{Workers: 1}, ""},
	} {
		vs = append(vs, loadVariant{v.name, func(tb testing.TB, calls int, tm loadTiming) loadSample {
			return runRelayLoad(tb, calls, tm, v.cfg, v.suite)
		}})
	}
	if os.Getenv("BYOCP_LOAD_DIRECT") != "" {
		vs = append(vs, loadVariant{"direct", runDirectLoad})
	}
	if crelay := buildCRelay(tb); crelay != "" {
		vs = append(vs, loadVariant{"c", func(tb testing.TB, calls int, tm loadTiming) loadSample {
			return runCRelayLoad(tb, crelay, calls, tm)
		}})
	}
	if only := os.Getenv("BYOCP_LOAD_VARIANTS"); only != "" {
		vs = slices.DeleteFunc(vs, func(v loadVariant) bool { return !slices.Contains(strings.Split(only, ","), v.name) })
	}
	parkNetpollReader(tb)
	return vs
}

// runRelayLoad runs calls Relays on a fresh pool with engine under the
// generator's load, the Zoom side keyed with suite ("": plain RTP).
func runRelayLoad(tb testing.TB, calls int, tm loadTiming, engine Engine, suite string) loadSample {
	peers := newLoadPeers(tb, calls) // first: their ephemeral ports are then outside the pool's range
	defer peers.close()
	base := freeRange(tb, loop4, 2*calls)
	pool, err := NewPortPoolEngine(loop4, base, base+4*calls-1, engine)
	must(tb, err)
	relays := make([]*Relay, calls)
	plan := loadPlan{Calls: make([]loadCall, calls)}
	for i := range relays {
		a, err := pool.Allocate()
		must(tb, err)
		b, err := pool.Allocate()
		must(tb, err)
		r := NewRelay(a, b, nil)
		relays[i] = r
		var keys *SRTPConfig
		var theirs []byte
		if suite != "" {
			theirs = newKey(tb, suite)
			keys = &SRTPConfig{Suite: suite, LocalKey: newKey(tb, suite), RemoteKey: theirs}
		}
		must(tb, r.SetLeg(SideA, LegConfig{Remote: peers.addrs[2*i], RestrictSources: true}))
		must(tb, r.SetLeg(SideB, LegConfig{Remote: peers.addrs[2*i+1], RestrictSources: true, SRTP: keys}))
		r.Start()
		plan.Calls[i] = loadCall{RelayA: a.Addr(), RelayB: b.Addr(), Suite: suite, ZoomKey: theirs}
	}
	forwarded := func() (n uint64) {
		for _, r := range relays {
			st := r.Stats()
			n += st.AtoB.Forwarded + st.BtoA.Forwarded
		}
		return n
	}
	gen := startLoadGen(tb, peers, plan, tm)
	gen.waitReady(tb)
	time.Sleep(tm.warm)
	m0, cpu0, n0, cs0, w0 := readMachine(tb, gen.cmd.Process.Pid), selfCPU(), forwarded(), ctxSwitches(), engineRounds(pool)
	time.Sleep(tm.window)
	cpu1, n1, cs1, w1, m1 := selfCPU(), forwarded(), ctxSwitches(), engineRounds(pool), readMachine(tb, gen.cmd.Process.Pid)
	res := gen.result(tb)
	for _, r := range relays {
		must(tb, r.Close())
	}
	if pool.InUse() != 0 {
		tb.Fatalf("%d ports in use after Close", pool.InUse())
	}
	return loadSample{cpu: cpu1 - cpu0, packets: n1 - n0, switches: cs1 - cs0, rounds: w1 - w0,
		foreign: foreignLoad(m0, m1, tm.window), res: res}
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loadPeers are the generator's sockets, bound here so that their
// addresses are known, and inherited by the child.
type loadPeers struct {
	files []*os.File
	addrs []netip.AddrPort
}

func newLoadPeers(tb testing.TB, calls int) *loadPeers {
	p := &loadPeers{}
	for range 2 * calls {
		f, addr := bindRaw(tb)
		p.files = append(p.files, f)
		p.addrs = append(p.addrs, addr)
	}
	return p
}

func (p *loadPeers) close() {
	for _, f := range p.files {
		_ = f.Close()
	}
}

// bindRaw binds a UDP socket on 127.0.0.1 outside Go's netpoller.
func bindRaw(tb testing.TB) (*os.File, netip.AddrPort) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	must(tb, err)
	must(tb, unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}))
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 1<<20)
	sa, err := unix.Getsockname(fd)
	must(tb, err)
	addr := netip.AddrPortFrom(netip.AddrFrom4(sa.(*unix.SockaddrInet4).Addr), uint16(sa.(*unix.SockaddrInet4).Port))
	return os.NewFile(uintptr(fd), "udp "+addr.String()), addr
}

// loadGen is a running generator process.
type loadGen struct {
	cmd *exec.Cmd
	in  interface{ Close() error }
	out *bufio.Reader
}

func startLoadGen(tb testing.TB, peers *loadPeers, plan loadPlan, tm loadTiming) *loadGen {
	plan.Duration = tm.warm + tm.window + 500*time.Millisecond
	plan.Interval = 20 * time.Millisecond
	if v := os.Getenv("BYOCP_LOAD_INTERVAL"); v != "" {
		plan.Interval, _ = time.ParseDuration(v)
	}
	plan.Tick = 100 * time.Microsecond
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), loadGenEnv+"=1")
	cmd.ExtraFiles = peers.files
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	must(tb, err)
	out, err := cmd.StdoutPipe()
	must(tb, err)
	must(tb, cmd.Start())
	must(tb, json.NewEncoder(in).Encode(plan))
	return &loadGen{cmd: cmd, in: in, out: bufio.NewReader(out)}
}

func (g *loadGen) waitReady(tb testing.TB) {
	line, err := g.out.ReadString('\n')
	if err != nil || line != "ready\n" {
		tb.Fatalf("load generator: %q, %v", line, err)
	}
}

func (g *loadGen) result(tb testing.TB) loadResult {
	var res loadResult
	err := json.NewDecoder(g.out).Decode(&res)
	_ = g.in.Close()
	_ = g.cmd.Wait()
	must(tb, err)
	return res
}

// buildCRelay compiles testdata/crelay.c, or returns "" without a C
// compiler.
func buildCRelay(tb testing.TB) string {
	cc, err := exec.LookPath("gcc")
	if err != nil {
		tb.Logf("no gcc, no C relay: %v", err)
		return ""
	}
	bin := filepath.Join(tb.TempDir(), "crelay")
	if out, err := exec.Command(cc, "-O2", "-o", bin, "testdata/crelay.c").CombinedOutput(); err != nil {
		tb.Fatalf("gcc: %v\n%s", err, out)
	}
	return bin
}

// runCRelayLoad runs the C relay with two sockets per call under the
// generator's load.
func runCRelayLoad(tb testing.TB, bin string, calls int, tm loadTiming) loadSample {
	peers := newLoadPeers(tb, calls)
	defer peers.close()
	relay := newLoadPeers(tb, calls) // the relay's sockets: A, B per call
	defer relay.close()
	cmd := exec.Command(bin)
	cmd.ExtraFiles = relay.files
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	must(tb, err)
	outPipe, err := cmd.StdoutPipe()
	must(tb, err)
	out := bufio.NewReader(outPipe)
	must(tb, cmd.Start())
	defer func() { _ = in.Close(); _ = cmd.Wait() }()
	plan := loadPlan{Calls: make([]loadCall, calls)}
	var script strings.Builder
	for i := range calls {
		a, b := 3+2*i, 4+2*i
		fmt.Fprintf(&script, "%d %d %s %d\n", a, b, peers.addrs[2*i+1].Addr(), peers.addrs[2*i+1].Port())
		fmt.Fprintf(&script, "%d %d %s %d\n", b, a, peers.addrs[2*i].Addr(), peers.addrs[2*i].Port())
		plan.Calls[i] = loadCall{RelayA: relay.addrs[2*i], RelayB: relay.addrs[2*i+1], Suite: loadSuite, ZoomKey: newKey(tb, loadSuite)}
	}
	script.WriteString("go\n")
	_, err = in.Write([]byte(script.String()))
	must(tb, err)
	if line, err := out.ReadString('\n'); err != nil || line != "ready\n" {
		tb.Fatalf("C relay: %q, %v", line, err)
	}
	mark := func() (time.Duration, uint64) {
		_, err := in.Write([]byte("mark\n"))
		must(tb, err)
		line, err := out.ReadString('\n')
		must(tb, err)
		f := strings.Fields(line)
		if len(f) != 3 {
			tb.Fatalf("C relay: %q", line)
		}
		u, _ := strconv.ParseInt(f[0], 10, 64)
		s, _ := strconv.ParseInt(f[1], 10, 64)
		n, _ := strconv.ParseUint(f[2], 10, 64)
		return time.Duration(u + s), n
	}
	gen := startLoadGen(tb, peers, plan, tm)
	gen.waitReady(tb)
	time.Sleep(tm.warm)
	m0 := readMachine(tb, gen.cmd.Process.Pid, cmd.Process.Pid)
	c0, n0 := mark()
	time.Sleep(tm.window)
	c1, n1 := mark()
	m1 := readMachine(tb, gen.cmd.Process.Pid, cmd.Process.Pid)
	res := gen.result(tb)
	return loadSample{cpu: c1 - c0, packets: n1 - n0, foreign: foreignLoad(m0, m1, tm.window), res: res}
}

// runDirectLoad runs the generator with each call's peers sending to
// each other, without a relay: the latency floor of the harness.
func runDirectLoad(tb testing.TB, calls int, tm loadTiming) loadSample {
	peers := newLoadPeers(tb, calls)
	defer peers.close()
	plan := loadPlan{Calls: make([]loadCall, calls)}
	for i := range calls {
		plan.Calls[i] = loadCall{RelayA: peers.addrs[2*i+1], RelayB: peers.addrs[2*i]}
	}
	gen := startLoadGen(tb, peers, plan, tm)
	gen.waitReady(tb)
	res := gen.result(tb)
	return loadSample{packets: 1, res: res}
}

func ctxSwitches() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return int64(ru.Nvcsw + ru.Nivcsw)
}

// engineRounds sums the rounds of pool's workers.
func engineRounds(pool *PortPool) (rounds uint64) {
	e := pool.engine
	if e == nil {
		return 0
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, w := range e.workers {
		if w != nil {
			rounds += w.rounds.Load()
		}
	}
	return rounds
}
