package fakepeer

import (
	"context"
	"net/netip"

	"github.com/byocp/byocp/internal/mediapeer"
)

// RTCP: a call sends RTCP only when a test asks (SendRTCP) and keeps what
// arrives (RTCP, WaitRTCP). With Config.RTCPMux the peer offers
// a=rtcp-mux and accepts it (RFC 5761): once both SDPs of an exchange have
// it, RTCP goes on the RTP ports both ways. Otherwise RTCP goes to the far
// end's a=rtcp port (RFC 3605), else to the port after its RTP port, from
// the call's RTCP port (Config.RTCPPort, named in the peer's own a=rtcp)
// or else its RTP port. RTCP is received multiplexed on the RTP port
// whatever was negotiated, and on the call's RTCP port when it has one.

// rtcpSDP is the call's RTCP port as the peer writes it in a=rtcp; the
// zero AddrPort without Config.RTCPPort.
func (c *Call) rtcpSDP() netip.AddrPort {
	if !c.rtcpAddr.IsValid() {
		return netip.AddrPort{}
	}
	return netip.AddrPortFrom(c.peer.sdpIP(), c.rtcpAddr.Port())
}

// SendRTCP sends pkt, a plain RTCP compound packet, to the far end as the
// call's last exchange says; as SRTCP on an SRTP call.
func (c *Call) SendRTCP(pkt []byte) error { return c.media.SendRTCP(pkt) }

// RTCP returns the RTCP packets that arrived (decrypted on an SRTP call),
// oldest first, and for each whether it came multiplexed on the RTP port.
func (c *Call) RTCP() []mediapeer.RTCPPacket { return c.media.RTCP() }

// WaitRTCP waits until at least n RTCP packets arrived and returns them
// all (see RTCP). It returns what arrived and an error when ctx ends or
// the call ends first.
func (c *Call) WaitRTCP(ctx context.Context, n int) ([]mediapeer.RTCPPacket, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(c.ctx, cancel)
	defer stop()
	return c.media.WaitRTCP(ctx, n)
}

// RTCPMux reports whether the call's last exchange multiplexes RTCP on
// the RTP ports: both SDPs have a=rtcp-mux.
func (c *Call) RTCPMux() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.neg.rtcpMux
}

// RTCPAddr is the call's RTCP port with Config.RTCPPort; the zero
// AddrPort without.
func (c *Call) RTCPAddr() netip.AddrPort { return c.rtcpAddr }
