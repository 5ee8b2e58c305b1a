//go:build linux && (amd64 || arm64)

package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// The load generator plays the carrier and Zoom for every call: per call
// a carrier endpoint that sends plain RTP to the relay's side A port and
// a Zoom endpoint that sends SRTP (or plain RTP) to side B, one packet per
// ptime each, and each receives the other's stream through the relay.
//
// An endpoint is a stream, not a socket: a few worker goroutines, each
// locked to an OS thread with its own epoll set, own a few sockets on
// 127.0.0.1 each (-gen-sockets; 0 gives every endpoint a socket of its
// own) and serve the endpoints assigned to them. A worker sends the
// packets that are due (within half a tick) with one sendmmsg per socket,
// reads what has arrived with recvmmsg, 64 datagrams a call, telling
// endpoints apart by the relay port a datagram comes from (each relay
// port talks to exactly one endpoint), and sleeps until the next packet
// is due. Arriving packets do not wake it. Nothing is allocated per
// packet. The relay sees what it would see in service: one stream per
// port and direction, each from and to one peer address.
//
// Each packet's payload carries its send time (CLOCK_REALTIME, read when
// the packet is built, just before it is encrypted and handed to
// sendmmsg), the phase it was sent in and a counter. The sockets have
// SO_TIMESTAMPNS on, so the kernel stamps each datagram (CLOCK_REALTIME)
// when it is queued to the socket: latency is that stamp minus the send
// time, which leaves out when the generator got round to reading it.

// Phases of a generator run, carried in each packet.
const (
	phaseWarmup  = 0
	phaseMeasure = 1
	phaseDrain   = 2
	phaseStop    = 3
)

const (
	payloadLen = 160 // PCMU, 20 ms
	rtpLen     = 12 + payloadLen
	lateAfter  = 2 * time.Millisecond // a send this far behind schedule counts as late
)

// genConfig is the generator's configuration, one JSON line on stdin.
type genConfig struct {
	Calls int
	// Relay is the relay's port for each endpoint: 2i is call i's side A
	// (carrier), 2i+1 its side B (Zoom). All on 127.0.0.1.
	Relay []int
	// Suite keys the Zoom endpoints; "" means plain RTP both ways.
	Suite string
	// ZoomKeys[i] is what call i's Zoom endpoint encrypts with (the
	// relay's side B RemoteKey), RelayKeys[i] what the relay encrypts
	// with towards it (side B LocalKey).
	ZoomKeys, RelayKeys [][]byte
	Workers             int
	Sockets             int // per worker; 0 = one per endpoint
	Ptime, Tick         time.Duration
}

// genResult is the generator's report, one JSON line on stdout at stop.
type genResult struct {
	// Groups counts packets sent and received in the measurement window:
	// [0] call 0, [1] the other calls; [..][0] carrier->Zoom (A to B),
	// [..][1] Zoom->carrier (B to A).
	Groups     [2][2]groupStats
	CPU        cpuTime       // generator CPU in the window
	Window     time.Duration // generator's window
	Sends      uint64        // packets sent in all phases
	LateSends  uint64        // sends more than lateAfter behind schedule
	MaxLag     time.Duration // the furthest a send fell behind schedule
	SendErrors uint64
	NoKernelTS uint64 // datagrams without a kernel timestamp (user time used)
	Stray      uint64 // datagrams from a port that is no relay port
}

type groupStats struct {
	Sent     uint64 // sent in the window
	Received uint64 // of those, received (once)
	Dup      uint64 // received again, or out of order
	Foreign  uint64 // another SSRC than the call's stream
	BadAuth  uint64 // SRTP that did not authenticate
	NotRTP   uint64
	Latency  map[int]uint64 // sparse hist of the received ones
	Max      time.Duration
	hist     *hist
}

// endpoint is one stream's sender and the receiver of the stream coming
// back: g.eps[2i] is call i's carrier, g.eps[2i+1] its Zoom.
type endpoint struct {
	sock     *gsock
	dest     syscall.RawSockaddrInet4 // its relay port
	due      int64                    // next send, ns on the generator's clock
	ssrc     uint32
	peerSSRC uint32
	seq      uint16
	ts       uint32
	count    uint32
	last     uint32 // highest counter received
	enc, dec *srtp.Context
	pkt, out []byte // the plain packet, the encrypted one
	sendGrp  *groupStats
	recvGrp  *groupStats
}

// gsock is one of the generator's sockets, with the batch of datagrams
// queued on it for the next sendmmsg.
type gsock struct {
	fd, port int
	msgs     []mmsghdr
	iovs     []syscall.Iovec
	grps     []*groupStats // per queued datagram: where to count it once sent (nil outside the window)
	n        int
}

type generator struct {
	cfg    genConfig
	base   time.Time
	phase  atomic.Uint32
	eps    []*endpoint
	byPort []int32 // relay port -> endpoint index, -1 for none
	wk     []*worker
	wg     sync.WaitGroup
	failed atomic.Value // error
}

func (g *generator) mono() int64 { return int64(time.Since(g.base)) }

const recvBatch = 64

type worker struct {
	g     *generator
	eps   []*endpoint // by first send time
	socks []*gsock
	next  int
	epfd  int

	msgs   []mmsghdr
	iovs   []syscall.Iovec
	names  []syscall.RawSockaddrInet4
	bufs   [][]byte
	ctrl   [][]byte
	plain  []byte
	encHdr rtp.Header
	decHdr rtp.Header

	stats                              [2][2]groupStats
	sends, late, sendErr, noKTS, stray uint64
	maxLag                             int64
}

func profileOf(suite string) (srtp.ProtectionProfile, int, error) {
	p, ok := map[string]srtp.ProtectionProfile{
		"AES_CM_128_HMAC_SHA1_80": srtp.ProtectionProfileAes128CmHmacSha1_80,
		"AES_CM_128_HMAC_SHA1_32": srtp.ProtectionProfileAes128CmHmacSha1_32,
		"AES_256_CM_HMAC_SHA1_80": srtp.ProtectionProfileAes256CmHmacSha1_80,
		"AES_256_CM_HMAC_SHA1_32": srtp.ProtectionProfileAes256CmHmacSha1_32,
		"AEAD_AES_128_GCM":        srtp.ProtectionProfileAeadAes128Gcm,
		"AEAD_AES_256_GCM":        srtp.ProtectionProfileAeadAes256Gcm,
	}[suite]
	if !ok {
		return 0, 0, fmt.Errorf("unknown SRTP suite %q", suite)
	}
	k, err := p.KeyLen()
	if err != nil {
		return 0, 0, err
	}
	return p, k, nil
}

func newContext(p srtp.ProtectionProfile, keyLen int, key []byte) (*srtp.Context, error) {
	if len(key) <= keyLen {
		return nil, fmt.Errorf("SRTP key of %d bytes is too short", len(key))
	}
	return srtp.CreateContext(key[:keyLen], key[keyLen:], p)
}

// runGenerator is the generator process: the configuration on stdin, the
// endpoints' ports on stdout, then commands (go, phase N, stop).
func runGenerator() error {
	in := bufio.NewReaderSize(os.Stdin, 1<<20)
	line, err := in.ReadString('\n')
	if err != nil {
		return fmt.Errorf("reading configuration: %w", err)
	}
	var cfg genConfig
	if err := json.Unmarshal([]byte(line), &cfg); err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	g, err := newGenerator(cfg)
	if err != nil {
		return err
	}
	ports := make([]int, len(g.eps))
	for i, e := range g.eps {
		ports[i] = e.sock.port
	}
	if err := writeJSON(os.Stdout, map[string][]int{"endpoints": ports}); err != nil {
		return err
	}
	var cpu1, cpu2 cpuTime
	var t1, t2 int64
	for {
		line, err := in.ReadString('\n')
		if err != nil {
			g.stop()
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		switch cmd := strings.TrimSpace(line); cmd {
		case "go":
			g.start()
			fmt.Println("going")
		case "phase 1":
			if name := os.Getenv("MEDIALOAD_GEN_CPUPROFILE"); name != "" { // for working on the generator
				if f, err := os.Create(name); err == nil {
					_ = pprof.StartCPUProfile(f)
					defer f.Close()
				}
			}
			cpu1, t1 = selfCPU(), g.mono()
			g.phase.Store(phaseMeasure)
			fmt.Println("phase 1")
		case "phase 2":
			pprof.StopCPUProfile()
			g.phase.Store(phaseDrain)
			cpu2, t2 = selfCPU(), g.mono()
			fmt.Println("phase 2")
		case "stop":
			g.stop()
			if err, _ := g.failed.Load().(error); err != nil {
				return err
			}
			res := g.result()
			res.CPU = cpuTime{User: cpu2.User - cpu1.User, Sys: cpu2.Sys - cpu1.Sys}
			res.Window = time.Duration(t2 - t1)
			return writeJSON(os.Stdout, res)
		default:
			return fmt.Errorf("unknown command %q", cmd)
		}
	}
}

func writeJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

func newGenerator(cfg genConfig) (*generator, error) {
	n := cfg.Calls
	if n < 1 || len(cfg.Relay) != 2*n || cfg.Ptime <= 0 {
		return nil, fmt.Errorf("bad configuration: %d calls, %d relay ports, ptime %v", n, len(cfg.Relay), cfg.Ptime)
	}
	cfg.Workers = min(max(cfg.Workers, 1), n) // every worker serves at least one call
	if cfg.Tick <= 0 {
		cfg.Tick = 100 * time.Microsecond
	}
	var profile srtp.ProtectionProfile
	var keyLen int
	if cfg.Suite != "" {
		var err error
		if profile, keyLen, err = profileOf(cfg.Suite); err != nil {
			return nil, err
		}
		if len(cfg.ZoomKeys) != n || len(cfg.RelayKeys) != n {
			return nil, fmt.Errorf("want %d key pairs, have %d and %d", n, len(cfg.ZoomKeys), len(cfg.RelayKeys))
		}
	}
	g := &generator{cfg: cfg, byPort: make([]int32, 65536)}
	for i := range g.byPort {
		g.byPort[i] = -1
	}
	g.wk = make([]*worker, cfg.Workers)
	for w := range g.wk {
		epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
		if err != nil {
			return nil, fmt.Errorf("epoll_create1: %w", err)
		}
		g.wk[w] = newWorker(g, epfd)
	}
	g.eps = make([]*endpoint, 2*n)
	for k := range g.eps {
		call, port := k/2, cfg.Relay[k]
		if port < 1 || port > 65535 || g.byPort[port] >= 0 {
			return nil, fmt.Errorf("bad or repeated relay port %d", port)
		}
		g.byPort[port] = int32(k)
		e := &endpoint{
			dest: sockaddr4(loopback, port),
			ssrc: rand.Uint32(), seq: uint16(rand.Uint32()), ts: rand.Uint32(),
			pkt: make([]byte, rtpLen), out: make([]byte, 0, rtpLen+64),
		}
		if k%2 == 1 && cfg.Suite != "" {
			var err error
			if e.enc, err = newContext(profile, keyLen, cfg.ZoomKeys[call]); err != nil {
				return nil, err
			}
			if e.dec, err = newContext(profile, keyLen, cfg.RelayKeys[call]); err != nil {
				return nil, err
			}
		}
		g.eps[k] = e
	}
	for k, e := range g.eps {
		e.peerSSRC = g.eps[k^1].ssrc
		e.pkt[0] = 0x80 // V=2, PT 0 (PCMU)
		binary.BigEndian.PutUint32(e.pkt[8:], e.ssrc)
		for i := 12 + 13; i < rtpLen; i++ {
			e.pkt[i] = 0xff // PCMU silence
		}
		w := g.wk[(k/2)%len(g.wk)]
		grp := min(k/2, 1)
		e.sendGrp = &w.stats[grp][k%2]
		e.recvGrp = &w.stats[grp][(k^1)%2]
		w.eps = append(w.eps, e)
	}
	for _, w := range g.wk {
		socks := cfg.Sockets
		if socks <= 0 || socks > len(w.eps) {
			socks = len(w.eps)
		}
		for i := range socks {
			s, err := newGsock()
			if err != nil {
				return nil, err
			}
			ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(i)}
			if err := syscall.EpollCtl(w.epfd, syscall.EPOLL_CTL_ADD, s.fd, &ev); err != nil {
				return nil, fmt.Errorf("epoll_ctl: %w", err)
			}
			w.socks = append(w.socks, s)
		}
		for i, e := range w.eps {
			e.sock = w.socks[i%socks]
		}
	}
	return g, nil
}

// newGsock opens a generator socket on 127.0.0.1 with kernel receive
// time stamps and a receive buffer for bursts of many streams.
func newGsock() (*gsock, error) {
	fd, port, err := udpSocket(loopback, 0)
	if err != nil {
		return nil, err
	}
	if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1); err != nil {
		return nil, fmt.Errorf("SO_TIMESTAMPNS: %w", err)
	}
	_ = syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4<<20) // capped by net.core.rmem_max
	const batch = 64
	s := &gsock{fd: fd, port: port, msgs: make([]mmsghdr, batch), iovs: make([]syscall.Iovec, batch), grps: make([]*groupStats, batch)}
	for i := range s.msgs {
		s.msgs[i].hdr.Iov = &s.iovs[i]
		s.msgs[i].hdr.Iovlen = 1
		s.msgs[i].hdr.Namelen = syscall.SizeofSockaddrInet4
	}
	return s, nil
}

func newWorker(g *generator, epfd int) *worker {
	w := &worker{
		g: g, epfd: epfd,
		msgs: make([]mmsghdr, recvBatch), iovs: make([]syscall.Iovec, recvBatch),
		names: make([]syscall.RawSockaddrInet4, recvBatch),
		bufs:  make([][]byte, recvBatch), ctrl: make([][]byte, recvBatch),
		plain: make([]byte, 2048),
	}
	for i := range w.msgs {
		w.bufs[i] = make([]byte, 2048)
		w.ctrl[i] = make([]byte, 64)
		w.iovs[i].Base = &w.bufs[i][0]
		w.iovs[i].SetLen(len(w.bufs[i]))
		w.msgs[i].hdr.Name = (*byte)(unsafe.Pointer(&w.names[i]))
		w.msgs[i].hdr.Iov = &w.iovs[i]
		w.msgs[i].hdr.Iovlen = 1
		w.msgs[i].hdr.Control = &w.ctrl[i][0]
	}
	for i := range w.stats {
		for j := range w.stats[i] {
			w.stats[i][j].hist = new(hist)
		}
	}
	return w
}

// start schedules every endpoint's first packet, spread evenly over the
// first ptime (carrier streams in the first half, Zoom streams in the
// second), and starts the workers.
func (g *generator) start() {
	g.base = time.Now()
	n := len(g.eps)
	first := int64(time.Millisecond)
	for k, e := range g.eps {
		slot := k/2 + (k%2)*(n/2)
		e.due = first + int64(slot)*int64(g.cfg.Ptime)/int64(n)
	}
	for _, w := range g.wk {
		slices.SortFunc(w.eps, func(a, b *endpoint) int { return int(a.due - b.due) })
		g.wg.Add(1)
		go w.run()
	}
}

func (g *generator) stop() {
	g.phase.Store(phaseStop)
	g.wg.Wait()
}

func (w *worker) run() {
	defer w.g.wg.Done()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	setTimerSlack()
	g := w.g
	period, half := int64(g.cfg.Ptime), int64(g.cfg.Tick)/2
	evs := make([]syscall.EpollEvent, 128)
	for {
		ph := g.phase.Load()
		if ph >= phaseStop {
			return
		}
		now := g.mono()
		for range w.eps { // at most one round per pass
			e := w.eps[w.next]
			if e.due > now+half {
				break
			}
			if lag := now - e.due; lag > w.maxLag {
				w.maxLag = lag
			}
			if now-e.due > int64(lateAfter) {
				w.late++
			}
			w.queue(e, byte(ph))
			e.due += period
			if w.next++; w.next == len(w.eps) {
				w.next = 0
			}
		}
		for _, s := range w.socks {
			w.flush(s)
		}
		// Read what arrived since the last pass. Arrivals do not wake the
		// worker (the kernel has stamped them), only its schedule does:
		// the relay's sends then cost what a send to another machine
		// would, without waking a thread here.
		n, err := epollWait(w.epfd, evs, 0)
		if err != nil {
			g.failed.Store(fmt.Errorf("epoll_wait: %w", err))
			return
		}
		for _, ev := range evs[:n] {
			w.receive(w.socks[ev.Fd])
		}
		if wait := w.eps[w.next].due - half - g.mono(); wait > 0 {
			ts := syscall.NsecToTimespec(wait)
			_ = syscall.Nanosleep(&ts, nil)
		}
	}
}

// queue builds e's next packet and queues it on e's socket.
func (w *worker) queue(e *endpoint, phase byte) {
	p := e.pkt
	e.seq++
	e.ts += payloadLen
	e.count++
	binary.BigEndian.PutUint16(p[2:], e.seq)
	binary.BigEndian.PutUint32(p[4:], e.ts)
	p[12+8] = phase
	binary.BigEndian.PutUint32(p[12+9:], e.count)
	binary.BigEndian.PutUint64(p[12:], uint64(time.Now().UnixNano()))
	out := p
	if e.enc != nil {
		var err error
		if out, err = e.enc.EncryptRTP(e.out[:0], p, &w.encHdr); err != nil {
			w.sendErr++
			return
		}
	}
	s := e.sock
	if s.n == len(s.msgs) {
		w.flush(s)
	}
	s.msgs[s.n].hdr.Name = (*byte)(unsafe.Pointer(&e.dest))
	s.iovs[s.n].Base = &out[0]
	s.iovs[s.n].SetLen(len(out))
	s.grps[s.n] = nil
	if phase == phaseMeasure {
		s.grps[s.n] = e.sendGrp
	}
	s.n++
}

// flush sends what is queued on s.
func (w *worker) flush(s *gsock) {
	for done := 0; done < s.n; {
		k, err := sendmmsg(s.fd, s.msgs[done:s.n])
		if err != nil || k <= 0 {
			w.sendErr += uint64(s.n - done)
			break
		}
		for _, grp := range s.grps[done : done+k] {
			if grp != nil {
				grp.Sent++
			}
		}
		w.sends += uint64(k)
		done += k
	}
	s.n = 0
}

// receive reads everything queued on s.
func (w *worker) receive(s *gsock) {
	for {
		for i := range w.msgs {
			w.msgs[i].hdr.Namelen = syscall.SizeofSockaddrInet4
			w.msgs[i].hdr.Controllen = uint64(len(w.ctrl[i]))
			w.msgs[i].hdr.Flags = 0
		}
		n, err := recvmmsg(s.fd, w.msgs)
		if err != nil || n <= 0 {
			return
		}
		for i := range n {
			port := int(w.names[i].Port>>8 | w.names[i].Port<<8)
			k := w.g.byPort[port]
			if k < 0 {
				w.stray++
				continue
			}
			rx := rxTimestamp(w.ctrl[i][:w.msgs[i].hdr.Controllen])
			if rx == 0 {
				w.noKTS++
				rx = time.Now().UnixNano()
			}
			w.handle(w.g.eps[k], w.bufs[i][:w.msgs[i].len], rx)
		}
		if n < len(w.msgs) {
			return
		}
	}
}

func (w *worker) handle(e *endpoint, pkt []byte, rx int64) {
	grp := e.recvGrp
	if e.dec != nil {
		plain, err := e.dec.DecryptRTP(w.plain, pkt, &w.decHdr)
		if err != nil {
			grp.BadAuth++
			return
		}
		pkt = plain
	}
	if len(pkt) < rtpLen || pkt[0]>>6 != 2 {
		grp.NotRTP++
		return
	}
	if binary.BigEndian.Uint32(pkt[8:]) != e.peerSSRC {
		grp.Foreign++
		return
	}
	count := binary.BigEndian.Uint32(pkt[12+9:])
	if count <= e.last {
		grp.Dup++
		return
	}
	e.last = count
	if pkt[12+8] != phaseMeasure {
		return
	}
	grp.Received++
	grp.hist.add(time.Duration(rx - int64(binary.BigEndian.Uint64(pkt[12:]))))
}

// result merges the workers' counters.
func (g *generator) result() genResult {
	var r genResult
	var hs [2][2][]*hist
	for _, w := range g.wk {
		r.Sends += w.sends
		r.LateSends += w.late
		r.SendErrors += w.sendErr
		r.NoKernelTS += w.noKTS
		r.Stray += w.stray
		r.MaxLag = max(r.MaxLag, time.Duration(w.maxLag))
		for i := range w.stats {
			for j, s := range w.stats[i] {
				t := &r.Groups[i][j]
				t.Sent += s.Sent
				t.Received += s.Received
				t.Dup += s.Dup
				t.Foreign += s.Foreign
				t.BadAuth += s.BadAuth
				t.NotRTP += s.NotRTP
				t.Max = max(t.Max, s.hist.max)
				hs[i][j] = append(hs[i][j], s.hist)
			}
		}
	}
	for i := range hs {
		for j := range hs[i] {
			var m hist
			for _, h := range hs[i][j] {
				for b, c := range h.counts {
					m.counts[b] += c
				}
			}
			r.Groups[i][j].Latency = m.sparse()
		}
	}
	return r
}
