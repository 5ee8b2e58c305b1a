package media

import (
	"encoding/binary"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// socket is a non-blocking UDP socket that Go's netpoller does not know:
// the RTP or RTCP socket of a Port whose pool has an engine. A socket in the
// netpoller wakes one of the runtime's threads for every datagram that
// arrives and every one sent, even when nothing waits on it, which costs
// more than the engine saves; so the engine's sockets are made here, read
// only by their worker (recvmmsg) and written by whoever forwards to them
// (sendto).
//
// Its descriptor is used under mu held shared and closed under mu held
// exclusively, so a descriptor number is never used after Close, when the
// system may have given it to another file.
type socket struct {
	mu        sync.RWMutex
	fd        int            // -1 once closed
	family    int            // unix.AF_INET or unix.AF_INET6
	addr      netip.AddrPort // bound address, for logs
	closeOnce sync.Once
	closeErr  error

	engine *engine
	w      *worker // the worker whose epoll set holds fd; guarded by engine.mu, nil once closed
	slot   int32   // in w's table
}

// listenSocket binds a UDP socket on addr the way net.ListenUDP(network)
// does: network "udp4" is IPv4 only, "udp6" IPv6 only, "udp" (on ::) both.
func listenSocket(network string, addr netip.AddrPort) (*socket, error) {
	family := unix.AF_INET6
	if network == "udp4" {
		family = unix.AF_INET
	}
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	s := &socket{fd: fd, family: family, addr: addr}
	if family == unix.AF_INET6 {
		v6only := 0
		if network == "udp6" {
			v6only = 1
		}
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, v6only); err != nil {
			_ = unix.Close(fd)
			return nil, os.NewSyscallError("setsockopt", err)
		}
	}
	var sa unix.RawSockaddrInet6
	n, err := s.sockaddr(&sa, addr)
	if err == nil {
		_, _, errno := unix.Syscall(unix.SYS_BIND, uintptr(fd), uintptr(unsafe.Pointer(&sa)), n)
		if errno != 0 {
			err = os.NewSyscallError("bind", errno)
		}
	}
	if err != nil {
		_ = unix.Close(fd)
		return nil, &net.OpError{Op: "listen", Net: network, Addr: net.UDPAddrFromAddrPort(addr), Err: err}
	}
	return s, nil
}

// sockaddr writes addr into sa as the socket's family wants it (an IPv4
// address as IPv4-mapped IPv6 on an IPv6 socket) and returns its length.
func (s *socket) sockaddr(sa *unix.RawSockaddrInet6, addr netip.AddrPort) (uintptr, error) {
	ip := addr.Addr()
	port := (*[2]byte)(unsafe.Pointer(&sa.Port))[:]
	binary.BigEndian.PutUint16(port, addr.Port())
	if s.family == unix.AF_INET {
		if !ip.Unmap().Is4() {
			return 0, unix.EAFNOSUPPORT
		}
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		sa4.Family, sa4.Addr = unix.AF_INET, ip.Unmap().As4()
		return unix.SizeofSockaddrInet4, nil
	}
	sa.Family, sa.Addr = unix.AF_INET6, ip.As16()
	return unix.SizeofSockaddrInet6, nil
}

// WriteToUDPAddrPort sends b to addr at once: it never waits. A full
// send buffer (EAGAIN) is an error like any other, so that one slow
// socket cannot hold up the other calls on its worker.
func (s *socket) WriteToUDPAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	var sa unix.RawSockaddrInet6
	n, err := s.sockaddr(&sa, addr)
	if err != nil {
		return 0, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.fd < 0 {
		return 0, net.ErrClosed
	}
	r, _, errno := unix.Syscall6(unix.SYS_SENDTO, uintptr(s.fd), uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)),
		0, uintptr(unsafe.Pointer(&sa)), n)
	if errno != 0 {
		return 0, errno
	}
	return int(r), nil
}

// serve makes the socket's worker read it for st, logging as name; it
// returns once the worker does. It does nothing once the socket is
// closed.
func (s *socket) serve(st stream, name string, logger *slog.Logger) {
	s.engine.serve(s, st, name, logger)
}

// String returns the bound address.
func (s *socket) String() string { return s.addr.String() }

// read reads a batch of datagrams into b without blocking; see batch.read.
func (s *socket) read(b *batch) (int, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.fd < 0 {
		return 0, net.ErrClosed
	}
	return b.read(s.fd)
}

// Close takes the socket off its worker, which is done with it when
// Close returns, and closes it. It is idempotent.
func (s *socket) Close() error {
	s.closeOnce.Do(func() {
		if s.engine != nil {
			s.engine.unregister(s)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if err := unix.Close(s.fd); err != nil {
			s.closeErr = os.NewSyscallError("close", err)
		}
		s.fd = -1
	})
	return s.closeErr
}
