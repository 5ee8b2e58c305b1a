package media

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// worker is one thread of an engine: a goroutine locked to its OS thread
// that waits in epoll_wait on its own epoll set, which holds the RTP
// sockets registered on it and an eventfd that wakes it for commands. On
// each wake-up it reads every ready socket with recvmmsg and hands each
// datagram to the socket's stream, then runs the commands posted
// meanwhile. The set is level-triggered: a socket that still holds
// datagrams after one batch is reported again on the next round, after
// the other ready sockets.
//
// Other goroutines change what it serves only through post, which queues
// a function for the worker's thread to run between two rounds, so a
// stream is never taken away while the worker is inside its forward.
// mu guards pending; everything after it belongs to the worker's thread.
type worker struct {
	epfd, wakefd int
	window       time.Duration // Engine.PollWindow
	load         int           // sockets registered; guarded by engine.mu
	exited       chan struct{} // closed when the thread has closed epfd and wakefd
	rounds       atomic.Uint64 // epoll_wait calls that returned something; for benchmarks

	mu      sync.Mutex
	pending []func() // posted, not run yet

	events [64]unix.EpollEvent
	batch  *batch
	slots  []slot // by epoll event data
	free   []int32
	stop   bool // set by a command: end after this round
}

// slot is a registered socket and what reads it.
type slot struct {
	sock   *socket
	stream stream // nil until serve
	name   string // for logs
	logger *slog.Logger
}

// wakeSlot is the epoll event data of the worker's eventfd.
const wakeSlot = -1

func newWorker(cfg Engine) (*worker, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	wakefd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		_ = unix.Close(epfd)
		return nil, os.NewSyscallError("eventfd", err)
	}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wakefd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: wakeSlot}); err != nil {
		_, _ = unix.Close(epfd), unix.Close(wakefd)
		return nil, os.NewSyscallError("epoll_ctl", err)
	}
	w := &worker{epfd: epfd, wakefd: wakefd, window: cfg.PollWindow, exited: make(chan struct{}), batch: newBatch()}
	go w.run()
	return w, nil
}

// post queues f to run on the worker's thread and wakes the worker; the
// returned channel is closed once f has run.
func (w *worker) post(f func()) <-chan struct{} {
	done := make(chan struct{})
	w.mu.Lock()
	w.pending = append(w.pending, func() { f(); close(done) })
	w.mu.Unlock()
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	_, _ = unix.Write(w.wakefd, one[:]) // fails only when the counter is full: a wake-up is pending anyway
	return done
}

func (w *worker) run() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer close(w.exited)
	timeout := -1 // epoll_wait blocks until a socket is ready
	for !w.stop {
		n, err := unix.EpollWait(w.epfd, w.events[:], timeout)
		if err != nil {
			n = 0 // EINTR
		}
		commands, got := false, 0
		for _, ev := range w.events[:n] {
			if ev.Fd == wakeSlot {
				commands = true
			} else if s := &w.slots[ev.Fd]; s.stream != nil {
				got += w.read(s)
			}
		}
		if commands {
			w.runCommands()
		}
		if n > 0 {
			w.rounds.Add(1)
		}
		// With a poll window, a round that read something is followed by a
		// pause and a look that does not wait, so that what arrives during
		// the pause is read in one round; a look that finds nothing waits
		// again.
		timeout = -1
		if got > 0 && w.window > 0 {
			sleep(w.window)
			timeout = 0
		}
	}
	_, _ = unix.Close(w.epfd), unix.Close(w.wakefd)
}

// sleep blocks the worker's thread for d.
func sleep(d time.Duration) {
	ts := unix.NsecToTimespec(int64(d))
	_ = unix.Nanosleep(&ts, nil)
}

func (w *worker) runCommands() {
	var b [8]byte
	_, _ = unix.Read(w.wakefd, b[:])
	w.mu.Lock()
	cmds := w.pending
	w.pending = nil
	w.mu.Unlock()
	for _, f := range cmds {
		f()
	}
}

// read reads one batch from s's socket and forwards it; it returns how
// many datagrams it read.
func (w *worker) read(s *slot) int {
	n, err := s.sock.read(w.batch)
	if err != nil {
		if !errors.Is(err, unix.EAGAIN) {
			s.logger.Debug(s.name+" read failed", "socket", s.sock, "err", err)
		}
		return 0
	}
	for i := 0; i < n; {
		i = w.forward(s, i, n)
	}
	return n
}

// forward hands datagrams i to n-1 of the batch to s's stream and returns
// where it stopped: at n, or after a datagram whose handling panicked.
// The panic is logged and counted, and the caller goes on with the next
// datagram, so one bad datagram never stops the worker.
func (w *worker) forward(s *slot, i, n int) (next int) {
	defer func() {
		if v := recover(); v != nil {
			s.stream.notePanic()
			s.logger.Error("panic in "+s.name+" recovered", "socket", s.sock, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			next = i + 1
		}
	}()
	for ; i < n; i++ {
		pkt, from := w.batch.packet(i)
		s.stream.forward(pkt, from)
	}
	return n
}

// add registers fd, reporting nothing yet, and returns its slot; -1 with
// an error if the system refuses. It runs on the worker's thread.
func (w *worker) add(s *socket) (int32, error) {
	var i int32
	if k := len(w.free); k > 0 {
		i, w.free = w.free[k-1], w.free[:k-1]
	} else {
		i = int32(len(w.slots))
		w.slots = append(w.slots, slot{})
	}
	if err := unix.EpollCtl(w.epfd, unix.EPOLL_CTL_ADD, s.fd, &unix.EpollEvent{Fd: i}); err != nil {
		w.free = append(w.free, i)
		return -1, os.NewSyscallError("epoll_ctl", err)
	}
	w.slots[i] = slot{sock: s}
	return i, nil
}

// serve makes the worker read s's socket for st. It runs on the worker's
// thread.
func (w *worker) serve(i int32, st stream, name string, logger *slog.Logger) {
	s := &w.slots[i]
	s.stream, s.name, s.logger = st, name, logger
	if err := unix.EpollCtl(w.epfd, unix.EPOLL_CTL_MOD, s.sock.fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: i}); err != nil {
		logger.Error(name+": the engine cannot read its socket", "socket", s.sock, "err", os.NewSyscallError("epoll_ctl", err))
	}
}

// remove deregisters slot i. It runs on the worker's thread.
func (w *worker) remove(i int32) {
	if i < 0 {
		return
	}
	_ = unix.EpollCtl(w.epfd, unix.EPOLL_CTL_DEL, w.slots[i].sock.fd, nil)
	w.slots[i] = slot{}
	w.free = append(w.free, i)
}
