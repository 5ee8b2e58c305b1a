//go:build linux && (amd64 || arm64)

package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// The load generator, the flood sender and the Go reference relay talk to
// the kernel directly: no net.UDPConn, no per-packet allocation, no
// netpoller between them and the socket. Everything here is IPv4 loopback.

// loopback is 127.0.0.1.
var loopback = [4]byte{127, 0, 0, 1}

// isLoopback reports whether ip lies in 127.0.0.0/8, the only network this
// tool ever sends to.
func isLoopback(ip [4]byte) bool { return ip[0] == 127 }

// sockaddr4 builds a raw IPv4 socket address.
func sockaddr4(ip [4]byte, port int) syscall.RawSockaddrInet4 {
	sa := syscall.RawSockaddrInet4{Family: syscall.AF_INET, Addr: ip}
	p := (*[2]byte)(unsafe.Pointer(&sa.Port))
	p[0], p[1] = byte(port>>8), byte(port)
	return sa
}

// udpSocket opens a non-blocking UDP socket bound to ip:port (0 = any
// port) and returns it with the port it got.
func udpSocket(ip [4]byte, port int) (fd, bound int, err error) {
	fd, err = syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, 0, fmt.Errorf("socket: %w", err)
	}
	if err = syscall.Bind(fd, &syscall.SockaddrInet4{Port: port, Addr: ip}); err != nil {
		_ = syscall.Close(fd)
		return -1, 0, fmt.Errorf("bind %d.%d.%d.%d:%d: %w", ip[0], ip[1], ip[2], ip[3], port, err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		_ = syscall.Close(fd)
		return -1, 0, fmt.Errorf("getsockname: %w", err)
	}
	return fd, sa.(*syscall.SockaddrInet4).Port, nil
}

// sendto sends b to sa without blocking.
func sendto(fd int, b []byte, sa *syscall.RawSockaddrInet4) error {
	_, _, e := syscall.RawSyscall6(syscall.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)),
		syscall.MSG_DONTWAIT, uintptr(unsafe.Pointer(sa)), unsafe.Sizeof(*sa))
	if e != 0 {
		return e
	}
	return nil
}

// recvfrom reads one datagram without blocking and without its source.
func recvfrom(fd int, b []byte) (int, error) {
	n, _, e := syscall.RawSyscall6(syscall.SYS_RECVFROM, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)),
		syscall.MSG_DONTWAIT, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// mmsghdr is struct mmsghdr of recvmmsg(2) and sendmmsg(2).
type mmsghdr struct {
	hdr syscall.Msghdr
	len uint32
	_   [4]byte
}

// recvmmsg reads up to len(msgs) datagrams without blocking.
func recvmmsg(fd int, msgs []mmsghdr) (int, error) {
	n, _, e := syscall.RawSyscall6(syscall.SYS_RECVMMSG, uintptr(fd), uintptr(unsafe.Pointer(&msgs[0])), uintptr(len(msgs)),
		syscall.MSG_DONTWAIT, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// sendmmsg sends up to len(msgs) datagrams on a connected socket without
// blocking.
func sendmmsg(fd int, msgs []mmsghdr) (int, error) {
	n, _, e := syscall.RawSyscall6(sysSendmmsg, uintptr(fd), uintptr(unsafe.Pointer(&msgs[0])), uintptr(len(msgs)),
		syscall.MSG_DONTWAIT, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

var noPwait2 atomic.Bool

// epollWait waits up to d (negative: forever) for events. It uses
// epoll_pwait2 for a sub-millisecond timeout where the kernel has it
// (5.11+), else epoll_wait with d rounded up to a millisecond. EINTR (the
// Go runtime preempts with signals) returns no events.
func epollWait(epfd int, ev []syscall.EpollEvent, d time.Duration) (int, error) {
	if d >= 0 && !noPwait2.Load() {
		ts := syscall.NsecToTimespec(int64(d))
		n, _, e := syscall.Syscall6(sysEpollPwait2, uintptr(epfd), uintptr(unsafe.Pointer(&ev[0])), uintptr(len(ev)),
			uintptr(unsafe.Pointer(&ts)), 0, 0)
		switch e {
		case 0:
			return int(n), nil
		case syscall.EINTR:
			return 0, nil
		case syscall.ENOSYS:
			noPwait2.Store(true)
		default:
			return 0, e
		}
	}
	ms := -1
	if d >= 0 {
		ms = int((d + time.Millisecond - 1) / time.Millisecond)
	}
	n, err := syscall.EpollWait(epfd, ev, ms)
	if errors.Is(err, syscall.EINTR) {
		return 0, nil
	}
	return n, err
}

// setTimerSlack makes the calling thread's timers precise to 1 us instead
// of the default 50 us, so that the generator's sub-millisecond schedule
// holds. The caller must have locked its OS thread.
func setTimerSlack() {
	const prSetTimerslack = 29
	_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, prSetTimerslack, 1000, 0)
}

// rxTimestamp returns the kernel receive time (SO_TIMESTAMPNS, CLOCK_REALTIME
// nanoseconds) from a control message buffer, or 0 if there is none.
func rxTimestamp(ctrl []byte) int64 {
	const hdrLen = 16 // struct cmsghdr on 64-bit: len uint64, level, type int32
	for len(ctrl) >= hdrLen {
		l := int(binary.NativeEndian.Uint64(ctrl))
		level := int32(binary.NativeEndian.Uint32(ctrl[8:]))
		typ := int32(binary.NativeEndian.Uint32(ctrl[12:]))
		if l < hdrLen || l > len(ctrl) {
			return 0
		}
		if level == syscall.SOL_SOCKET && typ == syscall.SO_TIMESTAMPNS && l >= hdrLen+16 {
			sec := int64(binary.NativeEndian.Uint64(ctrl[hdrLen:]))
			nsec := int64(binary.NativeEndian.Uint64(ctrl[hdrLen+8:]))
			return sec*1e9 + nsec
		}
		l = (l + 7) &^ 7
		if l > len(ctrl) {
			return 0
		}
		ctrl = ctrl[l:]
	}
	return 0
}

// cpuTime is a process's CPU time so far, from getrusage(RUSAGE_SELF),
// and how often it was preempted (involuntary context switches).
type cpuTime struct {
	User, Sys time.Duration
	Preempted int64
}

func selfCPU() cpuTime {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return cpuTime{User: time.Duration(ru.Utime.Nano()), Sys: time.Duration(ru.Stime.Nano()), Preempted: ru.Nivcsw}
}

// raiseNoFile raises the soft RLIMIT_NOFILE to the hard limit (the Go
// runtime does this for itself since Go 1.19; this states it).
func raiseNoFile() {
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil && rl.Cur < rl.Max {
		rl.Cur = rl.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
}
