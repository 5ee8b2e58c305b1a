// Package mediapeer is the media endpoint of byocp's fake carrier and fake
// Zoom peers: it sends a recognisable RTP or SRTP stream and checks what
// it receives. It uses pion/rtp and pion/srtp directly, independently of
// the media package's relay, so tests through the relay compare two
// implementations.
package mediapeer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
)

// Keys keys an SRTP stream with SDES key||salt material, with the same
// meaning as media.SRTPConfig. A nil *Keys means plain RTP.
type Keys struct {
	Suite     string // RFC 4568 suite name
	LocalKey  []byte // key||salt this peer encrypts with
	RemoteKey []byte // key||salt this peer decrypts with; nil = cannot decrypt yet
}

var profiles = map[string]srtp.ProtectionProfile{
	"AES_CM_128_HMAC_SHA1_80": srtp.ProtectionProfileAes128CmHmacSha1_80,
	"AES_CM_128_HMAC_SHA1_32": srtp.ProtectionProfileAes128CmHmacSha1_32,
	"AES_256_CM_HMAC_SHA1_80": srtp.ProtectionProfileAes256CmHmacSha1_80,
	"AES_256_CM_HMAC_SHA1_32": srtp.ProtectionProfileAes256CmHmacSha1_32,
	"AEAD_AES_128_GCM":        srtp.ProtectionProfileAeadAes128Gcm,
	"AEAD_AES_256_GCM":        srtp.ProtectionProfileAeadAes256Gcm,
}

// Stats counts a Peer's packets.
type Stats struct {
	Sent       uint64 // packets sent
	Received   uint64 // datagrams received
	Intact     uint64 // received with an intact pattern, matching sequence number and expected stream
	Corrupt    uint64 // received RTP whose payload is not an intact pattern of the expected stream
	AuthFailed uint64 // received SRTP or SRTCP that did not decrypt (or no RemoteKey yet)
	NotRTP     uint64 // received datagrams that are not RTP
	// SSRC is the SSRC of the last RTP packet received; SSRCChanges
	// counts the times it changed from one packet to the next, SeqJumps
	// the packets of an unchanged SSRC whose sequence number did not
	// follow the previous packet's. A relay that keeps its stream
	// continuous leaves both at 0.
	SSRC        uint32
	SSRCChanges uint64
	SeqJumps    uint64
	// Resyncs counts packets with the marker bit that moved the expected
	// sequence number: a sender that carries another source onto its
	// stream renumbers it and marks its first packet, after which the
	// pattern's sequence number plus the new offset is what is intact.
	Resyncs uint64
	RTCP    uint64 // received RTCP multiplexed on the RTP port (RFC 5761), kept (see RTCP)
}

// Peer is a UDP media endpoint. Listen starts its receiver goroutine;
// Close stops it. A Peer sends from one port; Open binds another one that
// receives too, and Use moves the Peer to it (a media move). RTCP
// (rtcp.go) is sent by SendRTCP and kept when it arrives, multiplexed on
// the RTP port or on the RTCP port of OpenRTCP.
type Peer struct {
	ip netip.Addr
	wg sync.WaitGroup // one receiver goroutine per open port

	recvMu sync.Mutex // one datagram classified at a time: the decrypt context is shared by the receivers

	mu     sync.Mutex // guards the sockets and the configuration below
	conn   *net.UDPConn
	extra  map[netip.AddrPort]*net.UDPConn // ports opened by Open, not yet used or dropped
	closed bool
	remote netip.AddrPort
	keys   *Keys
	enc    *srtp.Context // used only by Send, under sendMu
	dec    *srtp.Context // used by the receivers, under recvMu
	pt     uint8
	stream byte

	rtcpConn   *net.UDPConn   // the RTCP port of OpenRTCP; nil = none
	rtcpMux    bool           // SendRTCP sends on the RTP port
	rtcpRemote netip.AddrPort // where SendRTCP sends without rtcpMux; zero = remote's port + 1

	sendMu sync.Mutex // one Send at a time; guards the stream state below
	ssrc   uint32
	seq    uint16
	ts     uint32

	// RFC 4733 events received: packets, and the digits of the ended
	// ones (once per event), under recvMu.
	eventPackets atomic.Uint64
	// The received stream, under recvMu: header sequence numbers are the
	// pattern's plus seqOff (event packets and marked resyncs move it).
	seqOff                         uint16
	seen                           bool
	lastSSRC                       atomic.Uint32
	lastSeq                        uint16
	ssrcChanges, seqJumps, resyncs atomic.Uint64
	digits                         []byte
	lastEventTS                    uint32
	anyEvent                       bool

	// RTCP received, under recvMu; rtcpNotify is closed when more comes.
	rtcpGot    []RTCPPacket
	rtcpNotify chan struct{}

	expect                                                    atomic.Int32 // -1 = any stream
	sent, received, intact, corrupt, authFailed, notRTP, rtcp atomic.Uint64
	closeOnce                                                 sync.Once
	closeErr                                                  error
}

// bind binds a UDP port on ip, the OS picking the number.
func bind(ip netip.Addr) (*net.UDPConn, error) {
	network := "udp6"
	if ip.Unmap().Is4() {
		network = "udp4"
	}
	conn, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip.Unmap(), 0)))
	if err != nil {
		return nil, fmt.Errorf("mediapeer: %w", err)
	}
	return conn, nil
}

func addrOf(conn *net.UDPConn) netip.AddrPort {
	return conn.LocalAddr().(*net.UDPAddr).AddrPort()
}

// Listen binds a UDP port on ip (the OS picks the number) and starts the
// receiver goroutine. The stream sent later has a random SSRC and a random
// first sequence number.
func Listen(ip netip.Addr) (*Peer, error) {
	conn, err := bind(ip)
	if err != nil {
		return nil, err
	}
	p := &Peer{
		ip:    ip,
		conn:  conn,
		extra: make(map[netip.AddrPort]*net.UDPConn),
		ssrc:  rand.Uint32(),
		seq:   uint16(rand.Uint32()),
		ts:    rand.Uint32(),
	}
	p.expect.Store(-1)
	p.wg.Add(1)
	go p.receive(conn)
	return p, nil
}

// Addr returns the bound address of the port the Peer sends from.
func (p *Peer) Addr() netip.AddrPort {
	p.mu.Lock()
	defer p.mu.Unlock()
	return addrOf(p.conn)
}

// Remote returns where Send sends, as last configured; the zero AddrPort
// before Configure.
func (p *Peer) Remote() netip.AddrPort {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.remote
}

// Open binds another port on the Peer's address and starts receiving on it
// too, into the same counters, while Send still sends from the current
// port: the new port of a media move, offered before it is used. Use moves
// the Peer to it; Drop closes it.
func (p *Peer) Open() (netip.AddrPort, error) {
	conn, err := bind(p.ip)
	if err != nil {
		return netip.AddrPort{}, err
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		_ = conn.Close()
		return netip.AddrPort{}, ErrClosed
	}
	addr := addrOf(conn)
	p.extra[addr] = conn
	p.wg.Add(1)
	p.mu.Unlock()
	go p.receive(conn)
	return addr, nil
}

// Use makes the port addr, opened by Open, the one Send sends from and
// Addr reports, and closes the port used before. Sequence numbers,
// timestamps and the SSRC continue.
func (p *Peer) Use(addr netip.AddrPort) error {
	p.mu.Lock()
	conn, ok := p.extra[addr]
	if !ok {
		p.mu.Unlock()
		return fmt.Errorf("mediapeer: %s was not opened", addr)
	}
	delete(p.extra, addr)
	old := p.conn
	p.conn = conn
	p.mu.Unlock()
	return old.Close()
}

// Drop closes the port addr opened by Open and not used; other addresses
// are ignored.
func (p *Peer) Drop(addr netip.AddrPort) {
	p.mu.Lock()
	conn, ok := p.extra[addr]
	delete(p.extra, addr)
	p.mu.Unlock()
	if ok {
		_ = conn.Close()
	}
}

// Configure sets where Send sends, the SRTP keys (nil = plain RTP), the
// payload type and the stream id written into the pattern. It may be
// called again, e.g. when the remote is learned from a 183 and then from a
// 200; unchanged keys keep their SRTP contexts.
func (p *Peer) Configure(remote netip.AddrPort, keys *Keys, payloadType uint8, stream byte) error {
	var enc, dec *srtp.Context
	if keys != nil {
		profile, ok := profiles[keys.Suite]
		if !ok {
			return fmt.Errorf("%w: %q", ErrUnsupportedSuite, keys.Suite)
		}
		keyLen, _ := profile.KeyLen()
		saltLen, _ := profile.SaltLen()
		if len(keys.LocalKey) != keyLen+saltLen || (keys.RemoteKey != nil && len(keys.RemoteKey) != keyLen+saltLen) {
			return fmt.Errorf("%w: %s needs %d bytes", ErrBadKey, keys.Suite, keyLen+saltLen)
		}
		p.mu.Lock()
		old := p.keys
		if old != nil && old.Suite == keys.Suite && bytes.Equal(old.LocalKey, keys.LocalKey) {
			enc = p.enc
		}
		if old != nil && old.Suite == keys.Suite && keys.RemoteKey != nil && bytes.Equal(old.RemoteKey, keys.RemoteKey) {
			dec = p.dec
		}
		p.mu.Unlock()
		var err error
		if enc == nil {
			if enc, err = srtp.CreateContext(keys.LocalKey[:keyLen], keys.LocalKey[keyLen:], profile); err != nil {
				return fmt.Errorf("mediapeer: %w", err)
			}
		}
		if dec == nil && keys.RemoteKey != nil {
			dec, err = srtp.CreateContext(keys.RemoteKey[:keyLen], keys.RemoteKey[keyLen:], profile,
				srtp.SRTPReplayProtection(64))
			if err != nil {
				return fmt.Errorf("mediapeer: %w", err)
			}
		}
		keys = &Keys{Suite: keys.Suite, LocalKey: bytes.Clone(keys.LocalKey), RemoteKey: bytes.Clone(keys.RemoteKey)}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.remote = netip.AddrPortFrom(remote.Addr().Unmap(), remote.Port())
	p.keys, p.enc, p.dec = keys, enc, dec
	p.pt, p.stream = payloadType&0x7f, stream
	return nil
}

// ExpectStream makes received packets whose pattern carries another
// stream id count as Corrupt.
func (p *Peer) ExpectStream(stream byte) { p.expect.Store(int32(stream)) }

// SetSequence sets the sequence number of the next packet Send sends
// (e.g. 65500 to cross the 16-bit wrap soon).
func (p *Peer) SetSequence(seq uint16) {
	p.sendMu.Lock()
	p.seq = seq
	p.sendMu.Unlock()
}

// Send sends count packets paced at interval (none if interval <= 0).
// Sequence numbers and timestamps (+160 per packet) continue across calls.
// It returns early with ctx's error when ctx ends.
func (p *Peer) Send(ctx context.Context, count int, interval time.Duration) error {
	p.sendMu.Lock()
	defer p.sendMu.Unlock()
	var tick <-chan time.Time
	if interval > 0 {
		t := time.NewTicker(interval)
		defer t.Stop()
		tick = t.C
	}
	pkt := rtp.Packet{Header: rtp.Header{Version: 2, SSRC: p.ssrc}, Payload: make([]byte, PayloadSize)}
	buf := make([]byte, 12+PayloadSize)
	out := make([]byte, 0, 12+PayloadSize+64)
	for i := range count {
		if i > 0 && tick != nil {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-tick:
			}
		} else if err := ctx.Err(); err != nil {
			return err
		}
		p.mu.Lock()
		conn, remote, enc, pt, stream := p.conn, p.remote, p.enc, p.pt, p.stream
		p.mu.Unlock()
		if !remote.IsValid() {
			return ErrNotConfigured
		}
		pkt.PayloadType, pkt.SequenceNumber, pkt.Timestamp = pt, p.seq, p.ts
		FillPayload(pkt.Payload, stream, p.seq)
		n, err := pkt.MarshalTo(buf)
		if err != nil {
			return fmt.Errorf("mediapeer: %w", err)
		}
		wire := buf[:n]
		if enc != nil {
			if wire, err = enc.EncryptRTP(out, wire, nil); err != nil {
				return fmt.Errorf("mediapeer: %w", err)
			}
		}
		if err := p.write(conn, wire, remote); err != nil {
			return err
		}
		p.sent.Add(1)
		p.seq++
		p.ts += PayloadSize
	}
	return nil
}

// write sends one datagram from conn, or from the port a media move (Use)
// switched to while conn was being used.
func (p *Peer) write(conn *net.UDPConn, wire []byte, remote netip.AddrPort) error {
	for {
		_, err := conn.WriteToUDPAddrPort(wire, remote)
		if err == nil {
			return nil
		}
		if !errors.Is(err, net.ErrClosed) {
			return fmt.Errorf("mediapeer: %w", err)
		}
		p.mu.Lock()
		closed, cur := p.closed, p.conn
		p.mu.Unlock()
		if closed || cur == conn {
			return ErrClosed
		}
		conn = cur
	}
}

// Stats returns the counters.
func (p *Peer) Stats() Stats {
	return Stats{
		Sent:        p.sent.Load(),
		Received:    p.received.Load(),
		Intact:      p.intact.Load(),
		Corrupt:     p.corrupt.Load(),
		AuthFailed:  p.authFailed.Load(),
		NotRTP:      p.notRTP.Load(),
		SSRC:        p.lastSSRC.Load(),
		SSRCChanges: p.ssrcChanges.Load(),
		SeqJumps:    p.seqJumps.Load(),
		Resyncs:     p.resyncs.Load(),
		RTCP:        p.rtcp.Load(),
	}
}

// Close closes every socket and waits for the receiver goroutines to end.
// It is idempotent.
func (p *Peer) Close() error {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.closed = true
		conns := []*net.UDPConn{p.conn}
		for _, c := range p.extra {
			conns = append(conns, c)
		}
		if p.rtcpConn != nil {
			conns = append(conns, p.rtcpConn)
		}
		p.extra = nil
		p.mu.Unlock()
		p.closeErr = conns[0].Close()
		for _, c := range conns[1:] {
			_ = c.Close()
		}
		p.wg.Wait()
	})
	return p.closeErr
}

func (p *Peer) receive(conn *net.UDPConn) {
	defer p.wg.Done()
	buf := make([]byte, 2048)
	plain := make([]byte, 2048)
	var pkt rtp.Packet
	for {
		n, err := conn.Read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		p.recvMu.Lock()
		p.classify(buf[:n], plain, &pkt).Add(1)
		p.recvMu.Unlock()
		// Received is counted after the outcome, so that a reader who sees
		// Received == n also sees the outcome of all n packets.
		p.received.Add(1)
	}
}

// classify decrypts and checks one datagram and returns the counter its
// outcome belongs to.
func (p *Peer) classify(data, plain []byte, pkt *rtp.Packet) *atomic.Uint64 {
	if isRTCP(data) {
		if p.keepRTCP(data, plain, true) {
			return &p.rtcp
		}
		return &p.authFailed
	}
	if len(data) < 12 || data[0]>>6 != 2 {
		return &p.notRTP
	}
	p.mu.Lock()
	keys, dec := p.keys, p.dec
	p.mu.Unlock()
	if keys != nil {
		if dec == nil {
			return &p.authFailed
		}
		var err error
		if data, err = dec.DecryptRTP(plain, data, nil); err != nil {
			return &p.authFailed
		}
	}
	if err := pkt.Unmarshal(data); err != nil {
		return &p.notRTP
	}
	if p.seen {
		switch {
		case pkt.SSRC != p.lastSSRC.Load():
			p.ssrcChanges.Add(1)
		case pkt.SequenceNumber != p.lastSeq+1:
			p.seqJumps.Add(1)
		}
	}
	p.seen, p.lastSeq = true, pkt.SequenceNumber
	p.lastSSRC.Store(pkt.SSRC)
	if len(pkt.Payload) == 4 && pkt.PayloadType >= 96 {
		p.seqOff++
		// An RFC 4733 event (telephone-event is dynamic): it takes
		// sequence numbers of the stream, which the audio after it skips.
		if pkt.Payload[1]&0x80 != 0 && (!p.anyEvent || p.lastEventTS != pkt.Timestamp) && pkt.Payload[0] < 16 {
			p.anyEvent, p.lastEventTS = true, pkt.Timestamp
			p.digits = append(p.digits, "0123456789*#ABCD"[pkt.Payload[0]])
		}
		return &p.eventPackets // counted under recvMu, before the next packet is classified
	}
	stream, seq, ok := CheckPayload(pkt.Payload)
	if ok && pkt.Marker && seq+p.seqOff != pkt.SequenceNumber {
		p.seqOff = pkt.SequenceNumber - seq
		p.resyncs.Add(1)
	}
	if want := p.expect.Load(); ok && seq+p.seqOff == pkt.SequenceNumber && (want < 0 || int32(stream) == want) {
		return &p.intact
	}
	return &p.corrupt
}

// Digits returns the DTMF digits received as RFC 4733 events, in order,
// each once (when it ended).
func (p *Peer) Digits() string {
	p.recvMu.Lock()
	defer p.recvMu.Unlock()
	return string(p.digits)
}

// SendEvent sends digit as an RFC 4733 event (payload type pt) in the
// peer's stream, lasting d: a packet every 50 ms, then the end packet
// three times. Its packets take sequence numbers of the stream.
func (p *Peer) SendEvent(ctx context.Context, pt uint8, digit byte, d time.Duration) error {
	code := strings.IndexByte("0123456789*#ABCD", digit)
	if code < 0 {
		return fmt.Errorf("mediapeer: %q is not a DTMF digit", digit)
	}
	p.sendMu.Lock()
	defer p.sendMu.Unlock()
	start := p.ts
	buf := make([]byte, 16)
	out := make([]byte, 0, 16+64)
	send := func(first, end bool, elapsed time.Duration) error {
		p.mu.Lock()
		conn, remote, enc := p.conn, p.remote, p.enc
		p.mu.Unlock()
		if !remote.IsValid() {
			return ErrNotConfigured
		}
		h := rtp.Header{Version: 2, Marker: first, PayloadType: pt, SequenceNumber: p.seq, Timestamp: start, SSRC: p.ssrc}
		n, err := h.MarshalTo(buf)
		if err != nil {
			return fmt.Errorf("mediapeer: %w", err)
		}
		ev := buf[n : n+4]
		ev[0], ev[1] = byte(code), 10
		if end {
			ev[1] |= 0x80
		}
		ev[2], ev[3] = byte(elapsed.Milliseconds()*8>>8), byte(elapsed.Milliseconds()*8)
		wire := buf[:n+4]
		if enc != nil {
			if wire, err = enc.EncryptRTP(out, wire, nil); err != nil {
				return fmt.Errorf("mediapeer: %w", err)
			}
		}
		if err := p.write(conn, wire, remote); err != nil {
			return err
		}
		p.sent.Add(1)
		p.seq++
		return nil
	}
	for elapsed, first := 50*time.Millisecond, true; ; elapsed += 50 * time.Millisecond {
		if elapsed >= d {
			for range 3 {
				if err := send(first, true, d); err != nil {
					return err
				}
				first = false
			}
			p.ts += uint32(d.Milliseconds() * 8)
			return nil
		}
		if err := send(first, false, elapsed); err != nil {
			return err
		}
		first = false
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
