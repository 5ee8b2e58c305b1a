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
	AuthFailed uint64 // received SRTP that did not decrypt (or no RemoteKey yet)
	NotRTP     uint64 // received datagrams that are not RTP
}

// Peer is a UDP media endpoint. Listen starts its receiver goroutine;
// Close stops it.
type Peer struct {
	conn *net.UDPConn
	done chan struct{}

	mu     sync.Mutex // guards the configuration below
	remote netip.AddrPort
	keys   *Keys
	enc    *srtp.Context // used only by Send, under sendMu
	dec    *srtp.Context // used only by the receiver goroutine
	pt     uint8
	stream byte

	sendMu sync.Mutex // one Send at a time; guards the stream state below
	ssrc   uint32
	seq    uint16
	ts     uint32

	expect                                              atomic.Int32 // -1 = any stream
	sent, received, intact, corrupt, authFailed, notRTP atomic.Uint64
	closeOnce                                           sync.Once
	closeErr                                            error
}

// Listen binds a UDP port on ip (the OS picks the number) and starts the
// receiver goroutine. The stream sent later has a random SSRC and a random
// first sequence number.
func Listen(ip netip.Addr) (*Peer, error) {
	network := "udp6"
	if ip.Unmap().Is4() {
		network = "udp4"
	}
	conn, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip.Unmap(), 0)))
	if err != nil {
		return nil, fmt.Errorf("mediapeer: %w", err)
	}
	p := &Peer{
		conn: conn,
		done: make(chan struct{}),
		ssrc: rand.Uint32(),
		seq:  uint16(rand.Uint32()),
		ts:   rand.Uint32(),
	}
	p.expect.Store(-1)
	go p.receive()
	return p, nil
}

// Addr returns the bound address.
func (p *Peer) Addr() netip.AddrPort {
	return p.conn.LocalAddr().(*net.UDPAddr).AddrPort()
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
		remote, enc, pt, stream := p.remote, p.enc, p.pt, p.stream
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
		if _, err := p.conn.WriteToUDPAddrPort(wire, remote); err != nil {
			if errors.Is(err, net.ErrClosed) {
				return ErrClosed
			}
			return fmt.Errorf("mediapeer: %w", err)
		}
		p.sent.Add(1)
		p.seq++
		p.ts += PayloadSize
	}
	return nil
}

// Stats returns the counters.
func (p *Peer) Stats() Stats {
	return Stats{
		Sent:       p.sent.Load(),
		Received:   p.received.Load(),
		Intact:     p.intact.Load(),
		Corrupt:    p.corrupt.Load(),
		AuthFailed: p.authFailed.Load(),
		NotRTP:     p.notRTP.Load(),
	}
}

// Close closes the socket and waits for the receiver goroutine to end. It
// is idempotent.
func (p *Peer) Close() error {
	p.closeOnce.Do(func() {
		p.closeErr = p.conn.Close()
		<-p.done
	})
	return p.closeErr
}

func (p *Peer) receive() {
	defer close(p.done)
	buf := make([]byte, 2048)
	plain := make([]byte, 2048)
	var pkt rtp.Packet
	for {
		n, err := p.conn.Read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		p.classify(buf[:n], plain, &pkt).Add(1)
		// Received is counted after the outcome, so that a reader who sees
		// Received == n also sees the outcome of all n packets.
		p.received.Add(1)
	}
}

// classify decrypts and checks one datagram and returns the counter its
// outcome belongs to.
func (p *Peer) classify(data, plain []byte, pkt *rtp.Packet) *atomic.Uint64 {
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
	stream, seq, ok := CheckPayload(pkt.Payload)
	if want := p.expect.Load(); ok && seq == pkt.SequenceNumber && (want < 0 || int32(stream) == want) {
		return &p.intact
	}
	return &p.corrupt
}
