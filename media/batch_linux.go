package media

import (
	"encoding/binary"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// batchSize is how many datagrams one recvmmsg call reads at most. At 50
// packets per second per stream a socket rarely holds more than one; a
// full batch is read again on the next round (the epoll set is
// level-triggered), so a busy socket cannot starve the others.
const batchSize = 16

// batch is a worker's receive area for recvmmsg: batchSize buffers of
// bufSize bytes, each with its source address, preallocated once, so
// that receiving allocates nothing. Only the worker's thread uses it.
type batch struct {
	msgs  [batchSize]mmsghdr
	iovs  [batchSize]unix.Iovec
	names [batchSize]unix.RawSockaddrInet6 // large enough for IPv4 too
	bufs  [batchSize][bufSize]byte
}

// mmsghdr is struct mmsghdr of recvmmsg(2) (Go pads it as C does).
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
}

func newBatch() *batch {
	b := new(batch)
	for i := range b.msgs {
		b.iovs[i].Base = &b.bufs[i][0]
		b.iovs[i].SetLen(bufSize)
		b.msgs[i].hdr.Iov = &b.iovs[i]
		b.msgs[i].hdr.SetIovlen(1)
		b.msgs[i].hdr.Name = (*byte)(unsafe.Pointer(&b.names[i]))
	}
	return b
}

// read reads up to batchSize datagrams waiting on fd without blocking and
// returns how many it read; 0 with EAGAIN when none was waiting.
func (b *batch) read(fd int) (int, error) {
	for i := range b.msgs {
		b.msgs[i].hdr.Namelen = unix.SizeofSockaddrInet6
	}
	n, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(fd), uintptr(unsafe.Pointer(&b.msgs[0])),
		batchSize, unix.MSG_DONTWAIT, 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// packet returns datagram i of the last read and its source address.
func (b *batch) packet(i int) ([]byte, netip.AddrPort) {
	return b.bufs[i][:b.msgs[i].len], sourceOf(&b.names[i])
}

// sourceOf converts a sockaddr_in or sockaddr_in6 as recvmmsg wrote it,
// the way net.UDPConn.ReadFromUDPAddrPort does: an IPv4 socket gives a
// 4-byte address, an IPv6 one a 16-byte address (IPv4-mapped for IPv4
// peers of a dual-stack socket), without zone.
func sourceOf(sa *unix.RawSockaddrInet6) netip.AddrPort {
	port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:])
	if sa.Family == unix.AF_INET {
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), port)
	}
	return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr), port)
}
