package media

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// Tap defaults (Tap.Packets, Tap.PacketSize).
const (
	// DefaultTapPackets is the default length of a Tap's queue: 2.5 s of
	// both directions of a call at 20 ms per packet.
	DefaultTapPackets = 256
	// DefaultTapPacketSize is the default size of a Tap's slots: every
	// packet a Relay forwards fits (it drops datagrams of 2048 bytes or
	// more).
	DefaultTapPacketSize = 2048
)

// Tap receives a copy of the RTP a Relay forwards, in both directions, for
// a recorder, analytics or a voice AI. Attach it with Relay.SetTap and read
// it with ReadPacket, in a goroutine of its own.
//
// What it receives: every packet the Relay forwards, as plain RTP (header
// included) as it arrived on its ingress leg, decrypted if that leg is
// SRTP, and never the SRTP the Relay sends on. That is each packet after
// the source, RTP and SRTP authentication checks, the SSRC limit and the
// SRTP index check, before it is encrypted for the egress leg: what the
// far end gets. Packets the Relay drops are not tapped, nor are packets
// while the far leg's address is not known yet (NoRemote), RTCP or T.38.
// A packet whose write to the socket then fails (SendFailed) has been
// tapped already.
//
// The Relay never waits for the Tap. Each packet is copied into a slot of
// a queue of Packets slots allocated once, when the Tap is first used;
// when the queue is full because the reader is behind, the packet is not
// queued and counts as Dropped, and the Relay forwards it all the same.
// Tapping costs the Relay one copy of the packet, a few atomic operations
// and a send on a channel that never waits, without allocating; a Relay
// without a Tap pays one atomic load per packet.
//
// The zero value is a Tap with the defaults. Packets and PacketSize must
// not change once the Tap is in use. A Tap is for one Relay at a time.
type Tap struct {
	// Packets is how many packets the queue holds; 0 (or less) means
	// DefaultTapPackets.
	Packets int
	// PacketSize is the largest packet the queue holds; larger packets
	// are not queued and count as TooLarge. 0 (or less) means
	// DefaultTapPacketSize, which every packet a Relay forwards fits. The
	// queue takes Packets*PacketSize bytes (512 KiB by default); a tap of
	// G.711 calls (172-byte packets at 20 ms, 492 at 60 ms) can use 512.
	PacketSize int

	once   sync.Once
	size   int        // slot size
	slots  []tapSlot  // the ring; slot i's packet is data[i*size:]
	data   []byte     // the slots' bytes
	feeds  [2]tapFeed // what the pipes of each direction hold while attached
	wake   chan struct{}
	done   chan struct{} // closed by Close
	closed atomic.Bool

	// Vyukov's bounded queue: positions only grow; slot p%len(slots)
	// holds position p once its seq is p+1, and is free for position
	// p+len(slots) once its seq is p+len(slots).
	_    [64]byte
	tail atomic.Uint64 // next position to write (the relay's goroutines)
	_    [56]byte
	head atomic.Uint64 // next position to read (ReadPacket)
	_    [56]byte

	queued, delivered, dropped, tooLarge atomic.Uint64
}

// TapPacket describes a packet ReadPacket copied into the caller's buffer.
type TapPacket struct {
	// Side is the leg the packet arrived on: SideA for the direction
	// AtoB, SideB for BtoA. The Bridge's SideA is the carrier, SideB Zoom.
	Side Side
	// Time is when the Relay received the packet, a reading of the
	// monotonic clock.
	Time time.Time
	// N is the packet's length: the packet is buf[:N].
	N int
}

// TapStats counts the packets a Relay had for a Tap. Every packet offered
// to the Tap while it is attached and open is counted in exactly one of
// Queued, Dropped and TooLarge; Queued - Delivered packets are waiting in
// the queue.
type TapStats struct {
	Queued    uint64 // copied into the queue
	Delivered uint64 // returned by ReadPacket
	Dropped   uint64 // not queued: the queue was full (the reader was behind)
	TooLarge  uint64 // not queued: longer than PacketSize
}

// tapSlot is one packet in a Tap's queue.
type tapSlot struct {
	seq  atomic.Uint64
	side Side
	n    int
	at   time.Time
}

// tapFeed is a Tap as the pipe of one direction holds it.
type tapFeed struct {
	t    *Tap
	side Side
}

func (f *tapFeed) offer(pkt []byte, at time.Time) { f.t.offer(f.side, pkt, at) }

// init allocates the queue on first use.
func (t *Tap) init() {
	t.once.Do(func() {
		n, size := t.Packets, t.PacketSize
		if n <= 0 {
			n = DefaultTapPackets
		}
		if size <= 0 {
			size = DefaultTapPacketSize
		}
		t.size = size
		t.slots = make([]tapSlot, n)
		for i := range t.slots {
			t.slots[i].seq.Store(uint64(i))
		}
		t.data = make([]byte, n*size)
		t.feeds = [2]tapFeed{{t: t, side: SideA}, {t: t, side: SideB}}
		t.wake = make(chan struct{}, 1)
		t.done = make(chan struct{})
	})
}

// offer queues a copy of pkt, or counts why not. It never waits: another
// relay goroutine that takes the same position first makes it try the
// next one.
func (t *Tap) offer(side Side, pkt []byte, at time.Time) {
	if t.closed.Load() {
		return
	}
	if len(pkt) > t.size {
		t.tooLarge.Add(1)
		return
	}
	n := uint64(len(t.slots))
	pos := t.tail.Load()
	for {
		s := &t.slots[pos%n]
		switch seq := s.seq.Load(); {
		case seq == pos:
			if !t.tail.CompareAndSwap(pos, pos+1) {
				pos = t.tail.Load()
				continue
			}
			i := int(pos%n) * t.size
			s.n = copy(t.data[i:i+t.size], pkt)
			s.side, s.at = side, at
			s.seq.Store(pos + 1)
			t.queued.Add(1)
			t.signal()
			return
		case seq < pos: // the slot still holds position pos-n: full
			t.dropped.Add(1)
			return
		default: // another goroutine took pos
			pos = t.tail.Load()
		}
	}
}

// signal wakes a waiting ReadPacket, if any, without waiting itself.
func (t *Tap) signal() {
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// next copies the oldest queued packet into buf, if there is one.
func (t *Tap) next(buf []byte) (p TapPacket, truncated, ok bool) {
	n := uint64(len(t.slots))
	pos := t.head.Load()
	for {
		s := &t.slots[pos%n]
		switch seq := s.seq.Load(); {
		case seq == pos+1:
			if !t.head.CompareAndSwap(pos, pos+1) {
				pos = t.head.Load()
				continue
			}
			i := int(pos%n) * t.size
			p = TapPacket{Side: s.side, Time: s.at, N: copy(buf, t.data[i:i+s.n])}
			truncated = p.N < s.n
			s.seq.Store(pos + n)
			t.delivered.Add(1)
			if t.head.Load() != t.tail.Load() {
				t.signal() // for another reader, or the next call
			}
			return p, truncated, true
		case seq <= pos: // empty, or the slot is still being written
			return p, false, false
		default: // another reader took pos
			pos = t.head.Load()
		}
	}
}

// ReadPacket copies the oldest queued packet into buf and describes it.
// If the queue is empty it waits until a packet is queued, the Tap is
// closed or ctx ends. Packets of one direction come in the order the
// Relay forwarded them; the two directions are interleaved in about the
// order they arrived.
//
// It returns io.EOF once the Tap is closed (by Close, or by the Relay it
// is attached to closing) and every packet queued before has been read,
// and ctx.Err() when ctx ends first. A buf shorter than the packet gets
// its first len(buf) bytes (N = len(buf)) and an error wrapping
// io.ErrShortBuffer; a buf of PacketSize bytes always suffices.
//
// ReadPacket does not allocate. It may be called from several goroutines;
// each packet goes to one of them.
func (t *Tap) ReadPacket(ctx context.Context, buf []byte) (TapPacket, error) {
	t.init()
	for {
		closed := t.closed.Load() // before next: a packet queued before Close is read
		if p, truncated, ok := t.next(buf); ok {
			if truncated {
				return p, fmt.Errorf("media: tap: %w: packet longer than %d bytes", io.ErrShortBuffer, len(buf))
			}
			return p, nil
		}
		if closed {
			return TapPacket{}, io.EOF
		}
		select {
		case <-t.wake:
		case <-t.done:
		case <-ctx.Done():
			return TapPacket{}, ctx.Err()
		}
	}
}

// Close stops the Tap taking packets; ReadPacket returns those queued,
// then io.EOF. A packet a Relay is queuing while Close runs may still be
// read. Close is idempotent and always returns nil. A Relay closes the
// Tap attached to it when it closes.
func (t *Tap) Close() error {
	t.init()
	if !t.closed.Swap(true) {
		close(t.done)
	}
	return nil
}

// Stats returns the Tap's counters. It only loads atomics and may be
// called at any time, from any goroutine.
func (t *Tap) Stats() TapStats {
	return TapStats{
		Queued:    t.queued.Load(),
		Delivered: t.delivered.Load(),
		Dropped:   t.dropped.Load(),
		TooLarge:  t.tooLarge.Load(),
	}
}

// SetTap attaches t to the Relay, replacing the Tap attached before, or
// detaches the Tap with t == nil. From then on, each direction hands t
// every packet it forwards (see Tap), without waiting for it. It may be
// called at any time, before or after Start, and from any goroutine.
//
// A Tap that SetTap replaces or detaches stays open: its reader gets what
// was queued (and possibly a packet the Relay was forwarding while SetTap
// ran) and then waits, for another SetTap or for its Close. The
// Relay closes the Tap attached to it when it closes, so that its reader
// gets io.EOF once the queue is drained; SetTap on a closed Relay closes
// t at once.
func (r *Relay) SetTap(t *Tap) {
	r.setMu.Lock()
	defer r.setMu.Unlock()
	for side, p := range r.pipes {
		if t == nil {
			p.tap.Store(nil)
			continue
		}
		t.init()
		p.tap.Store(&t.feeds[side])
	}
	if t != nil && r.pump.closed.Load() {
		_ = t.Close()
	}
}

// closeTap closes the attached Tap once the readers have stopped.
func (r *Relay) closeTap() {
	if f := r.pipes[SideA].tap.Load(); f != nil {
		_ = f.t.Close()
	}
}
