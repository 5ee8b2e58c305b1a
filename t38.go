package byocp

import (
	"net/netip"

	"github.com/byocp/byocp/media"
	"github.com/byocp/byocp/sdp"
)

// T.38 fax (m=image udptl t38). When both sides relay it
// (trunk.Config.RelayT38 and peering.Config.RelayT38), each call takes one
// more port per leg for UDPTL at setup, so that its address never moves,
// and a media.UDPTLRelay passes the datagrams between them as they are.
// Otherwise every leg's sdp.Leg rejects an image stream with port 0 in its
// position and the call goes on as audio (G.711 pass-through); an offer
// that replaces the audio with an image only gets 488.

// relayT38 reports whether this call relays T.38.
func (c *call) relayT38() bool {
	return c.b.trunk.RelayT38() && c.b.peering.RelayT38()
}

// setupUDPTL takes the UDPTL ports and relay of a call that relays T.38.
func (c *call) setupUDPTL() *callError {
	if !c.relayT38() {
		return nil
	}
	carrier, err := c.b.ports.Allocate()
	if err != nil {
		c.log.Warn("no UDPTL port", "error", err)
		return &callError{status: 503, reason: "Service Unavailable", detail: "no media ports"}
	}
	zoom, err := c.b.ports.Allocate()
	if err != nil {
		_ = carrier.Close()
		c.log.Warn("no UDPTL port", "error", err)
		return &callError{status: 503, reason: "Service Unavailable", detail: "no media ports"}
	}
	c.imagePorts = [2]*media.Port{carrier, zoom}
	c.udptl = media.NewUDPTLRelay(carrier, zoom, c.log)
	c.udptl.Start()
	return nil
}

// imagePort is byocp's UDPTL port on a leg; 0 when T.38 is not relayed.
func (c *call) imagePort(zoom bool) int {
	if c.udptl == nil {
		return 0
	}
	if zoom {
		return c.imagePorts[1].Number()
	}
	return c.imagePorts[0].Number()
}

// setLeg points the relay at what a leg negotiated: RTP (and its keys) on
// the audio stream and, on a call that relays T.38, UDPTL on the image
// stream. A leg without an image stream gets no UDPTL.
func (c *call) setLeg(zoom bool, st sdp.State) error {
	if err := c.relay.SetLeg(c.mediaSide(zoom), c.relayConfig(zoom, st)); err != nil {
		return err
	}
	if c.udptl == nil {
		return nil
	}
	var remote netip.AddrPort
	if img := st.Image; img != nil && img.Addr.IsValid() && !img.Addr.IsUnspecified() && img.Port != 0 {
		remote = netip.AddrPortFrom(img.Addr, uint16(img.Port))
	}
	// UDPTL is not authenticated: on both legs only the peer's signalled
	// address (and, on the carrier leg, its MediaNetworks) may send it.
	lc := c.legConfig(zoom, remote)
	return c.udptl.SetLeg(c.mediaSide(zoom), media.UDPTLLegConfig{Remote: remote, RestrictSources: true, SourceNetworks: lc.SourceNetworks})
}

// closeUDPTL releases the UDPTL relay and ports, and records its counts.
func (c *call) closeUDPTL() {
	if c.udptl != nil {
		c.rec.UDPTL = c.udptl.Stats()
		_ = c.udptl.Close()
		c.udptl = nil
		return
	}
	for _, p := range c.imagePorts {
		if p != nil {
			_ = p.Close()
		}
	}
}
