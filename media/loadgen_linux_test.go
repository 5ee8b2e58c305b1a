package media

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"testing"
	"time"
	"unsafe"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"golang.org/x/sys/unix"
)

// The load generator plays the carrier and the Zoom peer of many calls at
// once, in a child process, so that its CPU time is not counted as the
// relay's (BenchmarkMediaLoad measures the relay's process). The parent
// passes it two sockets per call (carrier peer, Zoom peer) as inherited
// descriptors 3, 4, 5, ... and a loadPlan as JSON on stdin. It sends 20 ms
// packets from every peer, each peer at its own random phase, the carrier
// plain RTP and the Zoom peer SRTP, reads what the relay forwards, and
// writes a loadResult as JSON on stdout. Latency is measured from the
// header's SSRC and sequence number, which SRTP leaves in the clear.

// loadGenEnv, set in a child's environment, makes TestMain run the load
// generator instead of the tests.
const loadGenEnv = "BYOCP_MEDIA_LOADGEN"

type loadPlan struct {
	Calls    []loadCall
	Duration time.Duration // how long to send
	Interval time.Duration // packet interval of every peer
	Tick     time.Duration // pacing resolution
}

type loadCall struct {
	RelayA, RelayB netip.AddrPort // where the carrier and the Zoom peer send
	Suite          string         // SRTP suite of the Zoom peer
	ZoomKey        []byte         // the Zoom peer's key||salt (the relay's RemoteKey on SideB)
}

type loadResult struct {
	Sent, Received [2]uint64 // per direction: 0 carrier->Zoom, 1 Zoom->carrier
	P50, P99, P999 time.Duration
	Max            time.Duration
}

// latencyBuckets is the latency histogram's resolution and range.
const (
	latencyBucket  = 10 * time.Microsecond
	latencyBuckets = 10000 // 100 ms
	seqSlots       = 1024  // sent times kept per stream
)

// loadPeer is one socket of the generator.
type loadPeer struct {
	fd    int
	to    unix.RawSockaddrInet4
	dir   int // direction of what it sends
	ssrc  uint32
	seq   uint16
	phase time.Duration
	ctx   *srtp.Context // nil for the carrier
	sent  [seqSlots]int64
	other *loadPeer // the peer whose packets this one receives
}

func loadGenMain() {
	runtime.LockOSThread()
	var plan loadPlan
	in := bufio.NewReader(os.Stdin)
	if err := json.NewDecoder(in).Decode(&plan); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen: plan:", err)
		os.Exit(2)
	}
	res, err := runLoadGen(plan)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
	_ = json.NewEncoder(os.Stdout).Encode(res)
	_, _ = io.Copy(io.Discard, in) // the parent closes stdin when it is done
}

func runLoadGen(plan loadPlan) (loadResult, error) {
	var res loadResult
	peers := make([]*loadPeer, 0, 2*len(plan.Calls))
	for i, c := range plan.Calls {
		carrier := &loadPeer{fd: 3 + 2*i, to: sockaddrOf(c.RelayA), dir: 0, ssrc: 0x10000000 + uint32(i)}
		zoom := &loadPeer{fd: 4 + 2*i, to: sockaddrOf(c.RelayB), dir: 1, ssrc: 0x20000000 + uint32(i)}
		if c.Suite == "" {
			zoom.ctx = nil
			carrier.other, zoom.other = zoom, carrier
			peers = append(peers, carrier, zoom)
			continue
		}
		profile := suites[c.Suite]
		keyLen, _ := profile.KeyLen()
		ctx, err := srtp.CreateContext(c.ZoomKey[:keyLen], c.ZoomKey[keyLen:], profile)
		if err != nil {
			return res, err
		}
		zoom.ctx = ctx
		carrier.other, zoom.other = zoom, carrier
		peers = append(peers, carrier, zoom)
	}
	for _, p := range peers {
		p.phase = time.Duration(rand.Int64N(int64(plan.Interval)))
		p.seq = uint16(rand.Uint32())
		if err := unix.SetNonblock(p.fd, true); err != nil {
			return res, err
		}
	}
	schedule := slices.Clone(peers)
	slices.SortFunc(schedule, func(a, b *loadPeer) int { return int(a.phase - b.phase) })

	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return res, err
	}
	for i, p := range peers {
		if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, p.fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(i)}); err != nil {
			return res, err
		}
	}
	tfd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return res, err
	}
	tick := unix.NsecToTimespec(int64(plan.Tick))
	if err := unix.TimerfdSettime(tfd, 0, &unix.ItimerSpec{Interval: tick, Value: tick}, nil); err != nil {
		return res, err
	}
	if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, tfd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: -1}); err != nil {
		return res, err
	}

	var hist [latencyBuckets + 1]uint64
	var hdr rtp.Header
	plain := make([]byte, 12+160)
	wire := make([]byte, 2048)
	buf := make([]byte, 2048)
	events := make([]unix.EpollEvent, 256)
	fmt.Println("ready")
	start := time.Now()
	next, cycle := 0, time.Duration(0)
	sending := true
	stopAt := start.Add(plan.Duration)
	drainUntil := stopAt.Add(300 * time.Millisecond)
	for {
		n, err := unix.EpollWait(ep, events, 10)
		if err != nil && err != unix.EINTR {
			return res, err
		}
		now := time.Now()
		if sending && now.After(stopAt) {
			sending = false
		}
		if !sending && now.After(drainUntil) {
			break
		}
		for _, ev := range events[:max(n, 0)] {
			if ev.Fd < 0 {
				var b [8]byte
				_, _ = unix.Read(tfd, b[:])
				continue
			}
			p := peers[ev.Fd]
			for {
				m, err := unix.Read(p.fd, buf)
				if err != nil || m < 12 {
					break
				}
				o := p.other
				res.Received[o.dir]++
				seq := binary.BigEndian.Uint16(buf[2:])
				if sent := o.sent[seq%seqSlots]; sent != 0 {
					d := time.Duration(now.UnixNano() - sent)
					hist[min(int(d/latencyBucket), latencyBuckets)]++
					res.Max = max(res.Max, d)
				}
			}
		}
		for sending {
			p := schedule[next]
			due := start.Add(cycle + p.phase)
			if due.After(now) {
				break
			}
			p.seq++
			plain[0], plain[1] = 0x80, 0
			binary.BigEndian.PutUint16(plain[2:], p.seq)
			binary.BigEndian.PutUint32(plain[4:], uint32(p.seq)*160)
			binary.BigEndian.PutUint32(plain[8:], p.ssrc)
			out := plain
			if p.ctx != nil {
				if _, err := hdr.Unmarshal(plain); err != nil {
					return res, err
				}
				if out, err = p.ctx.EncryptRTP(wire, plain, &hdr); err != nil {
					return res, err
				}
			}
			p.sent[p.seq%seqSlots] = time.Now().UnixNano()
			if sendRaw4(p.fd, out, &p.to) == nil {
				res.Sent[p.dir]++
			}
			if next++; next == len(schedule) {
				next, cycle = 0, cycle+plan.Interval
			}
		}
	}
	var total, seen uint64
	for _, h := range hist {
		total += h
	}
	for i, h := range hist {
		seen += h
		at := time.Duration(i+1) * latencyBucket
		if res.P50 == 0 && seen*2 >= total {
			res.P50 = at
		}
		if res.P99 == 0 && seen*100 >= total*99 {
			res.P99 = at
		}
		if res.P999 == 0 && seen*1000 >= total*999 {
			res.P999 = at
		}
	}
	return res, nil
}

// sockaddrOf returns ap (IPv4) as a sockaddr_in.
func sockaddrOf(ap netip.AddrPort) unix.RawSockaddrInet4 {
	sa := unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: ap.Addr().As4()}
	binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:], ap.Port())
	return sa
}

// sendRaw4 sends b to sa without allocating.
func sendRaw4(fd int, b []byte, sa *unix.RawSockaddrInet4) error {
	_, _, e := unix.Syscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)),
		unix.MSG_DONTWAIT, uintptr(unsafe.Pointer(sa)), unsafe.Sizeof(*sa))
	if e != 0 {
		return e
	}
	return nil
}

func TestMain(m *testing.M) {
	if os.Getenv(loadGenEnv) != "" {
		loadGenMain()
		os.Exit(0)
	}
	os.Exit(m.Run())
}
