package mediapeer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
)

// RTCPPacket is an RTCP packet a Peer received: plain (decrypted, on an
// SRTP stream), and whether it came multiplexed on the RTP port (RFC 5761)
// or on the RTCP port of OpenRTCP.
type RTCPPacket struct {
	Data  []byte
	Muxed bool
}

// isRTCP reports whether a datagram is RTCP as RFC 5761 section 4 tells
// RTCP from RTP on one port: version 2 and a second byte (the RTCP packet
// type) of 192-223.
func isRTCP(data []byte) bool {
	return len(data) >= 8 && data[0]>>6 == 2 && data[1] >= 192 && data[1] <= 223
}

// OpenRTCP binds an RTCP port on the Peer's address, the OS picking the
// number, and starts receiving RTCP on it; it returns the port already
// open on a second call. Without it a Peer receives RTCP only multiplexed
// on its RTP port. Close closes it.
func (p *Peer) OpenRTCP() (netip.AddrPort, error) {
	p.mu.Lock()
	if p.rtcpConn != nil {
		defer p.mu.Unlock()
		return addrOf(p.rtcpConn), nil
	}
	p.mu.Unlock()
	conn, err := bind(p.ip)
	if err != nil {
		return netip.AddrPort{}, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.rtcpConn != nil {
		_ = conn.Close()
		if p.closed {
			return netip.AddrPort{}, ErrClosed
		}
		return addrOf(p.rtcpConn), nil
	}
	p.rtcpConn = conn
	p.wg.Add(1)
	go p.receiveRTCP(conn)
	return addrOf(conn), nil
}

// ConfigureRTCP says where SendRTCP sends: with mux, from the RTP port to
// the RTP remote of Configure (RFC 5761); otherwise to remote, or to the
// port after the RTP remote's when remote is the zero AddrPort, from the
// RTCP port of OpenRTCP if there is one, else from the RTP port.
func (p *Peer) ConfigureRTCP(mux bool, remote netip.AddrPort) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rtcpMux, p.rtcpRemote = mux, netip.AddrPortFrom(remote.Addr().Unmap(), remote.Port())
}

// SendRTCP sends pkt, a plain RTCP compound packet, as ConfigureRTCP
// says; protected as SRTCP with the local key when the stream is SRTP.
func (p *Peer) SendRTCP(pkt []byte) error {
	if !isRTCP(pkt) {
		return fmt.Errorf("mediapeer: % x is not an RTCP packet", pkt[:min(len(pkt), 8)])
	}
	p.mu.Lock()
	conn, remote, enc := p.conn, p.remote, p.enc
	if !p.rtcpMux {
		if p.rtcpConn != nil {
			conn = p.rtcpConn
		}
		switch {
		case p.rtcpRemote.IsValid():
			remote = p.rtcpRemote
		case remote.IsValid() && remote.Port() < 65535:
			remote = netip.AddrPortFrom(remote.Addr(), remote.Port()+1)
		default:
			remote = netip.AddrPort{}
		}
	}
	p.mu.Unlock()
	if !remote.IsValid() {
		return ErrNotConfigured
	}
	wire := pkt
	if enc != nil {
		p.sendMu.Lock() // the SRTP context is Send's too
		out, err := enc.EncryptRTCP(nil, pkt, nil)
		p.sendMu.Unlock()
		if err != nil {
			return fmt.Errorf("mediapeer: %w", err)
		}
		wire = out
	}
	if _, err := conn.WriteToUDPAddrPort(wire, remote); err != nil {
		if errors.Is(err, net.ErrClosed) {
			return ErrClosed
		}
		return fmt.Errorf("mediapeer: %w", err)
	}
	return nil
}

// RTCP returns copies of the RTCP packets received, oldest first.
func (p *Peer) RTCP() []RTCPPacket {
	p.recvMu.Lock()
	defer p.recvMu.Unlock()
	return cloneRTCP(p.rtcpGot)
}

// WaitRTCP waits until at least n RTCP packets have been received and
// returns them all (see RTCP); what arrived and ctx's error when ctx ends
// first.
func (p *Peer) WaitRTCP(ctx context.Context, n int) ([]RTCPPacket, error) {
	for {
		p.recvMu.Lock()
		got, notify := p.rtcpGot, p.rtcpNotify
		if notify == nil {
			p.rtcpNotify = make(chan struct{})
			notify = p.rtcpNotify
		}
		out := cloneRTCP(got)
		p.recvMu.Unlock()
		if len(out) >= n {
			return out, nil
		}
		select {
		case <-notify:
		case <-ctx.Done():
			return out, ctx.Err()
		}
	}
}

func cloneRTCP(in []RTCPPacket) []RTCPPacket {
	out := make([]RTCPPacket, len(in))
	for i, r := range in {
		out[i] = RTCPPacket{Data: bytes.Clone(r.Data), Muxed: r.Muxed}
	}
	return out
}

// keepRTCP keeps an RTCP datagram, decrypted on an SRTP stream; false
// when it does not decrypt (or no RemoteKey is known yet). It runs under
// recvMu.
func (p *Peer) keepRTCP(data, plain []byte, muxed bool) bool {
	p.mu.Lock()
	keys, dec := p.keys, p.dec
	p.mu.Unlock()
	if keys != nil {
		if dec == nil {
			return false
		}
		var err error
		if data, err = dec.DecryptRTCP(plain, data, nil); err != nil {
			return false
		}
	}
	p.rtcpGot = append(p.rtcpGot, RTCPPacket{Data: slices.Clone(data), Muxed: muxed})
	if p.rtcpNotify != nil {
		close(p.rtcpNotify)
		p.rtcpNotify = nil
	}
	return true
}

// receiveRTCP reads the RTCP port of OpenRTCP until it closes; what is
// not RTCP, or not authentic SRTCP, is dropped there without counting
// (Stats count the RTP port).
func (p *Peer) receiveRTCP(conn *net.UDPConn) {
	defer p.wg.Done()
	buf := make([]byte, 2048)
	plain := make([]byte, 2048)
	for {
		n, err := conn.Read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if !isRTCP(buf[:n]) {
			continue
		}
		p.recvMu.Lock()
		p.keepRTCP(buf[:n], plain, false)
		p.recvMu.Unlock()
	}
}
