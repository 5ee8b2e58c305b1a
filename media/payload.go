package media

import (
	"strings"
)

// Format is one payload format agreed on a leg, as the relay needs it to
// renumber payload types between legs (RFC 3264 lets each leg number a
// dynamic format its own way: telephone-event may be 101 on one leg and
// 96 on the other) and to measure jitter in the format's clock.
type Format struct {
	// Name is the encoding name, e.g. "PCMU", "opus", "telephone-event";
	// compared with the other leg's case-insensitively, with ClockRate.
	Name      string
	ClockRate uint32
	// RecvPT is the payload type the peer sends this format with: the
	// number byocp wrote for it in its SDP on this leg.
	RecvPT uint8
	// SendPT is the payload type the peer expects this format with: the
	// number the peer wrote for it.
	SendPT uint8
}

// ptTable maps the payload types received on one leg to those sent on
// the other, and gives each received payload type's clock rate. Built by
// SetLeg; read without locks by the pipe that owns it.
type ptTable struct {
	pt    [128]uint8  // received payload type -> payload type to send
	rate  [128]uint32 // received payload type -> clock rate; 0 = unknown
	event [128]bool   // received payload type is telephone-event (RFC 4733)
}

// newPTTable maps what the ingress leg receives to what the egress leg's
// peer expects, format by format (same name and clock rate). A payload
// type no agreed format of both legs names passes unchanged. It returns
// nil when nothing changes and no clock rate is known.
func newPTTable(ingress, egress []Format) *ptTable {
	if len(ingress) == 0 {
		return nil
	}
	t := &ptTable{}
	for i := range t.pt {
		t.pt[i] = uint8(i)
	}
	for _, f := range ingress {
		in := f.RecvPT & 0x7f
		t.event[in] = strings.EqualFold(f.Name, "telephone-event")
		if !t.event[in] && !strings.EqualFold(f.Name, "CN") {
			// Events and comfort noise are not timed like audio: no jitter.
			t.rate[in] = f.ClockRate
		}
		for _, g := range egress {
			if strings.EqualFold(f.Name, g.Name) && f.ClockRate == g.ClockRate {
				t.pt[in] = g.SendPT & 0x7f
				break
			}
		}
	}
	return t
}

// remap rewrites the payload type of the RTP packet pkt (a buffer the
// pipe owns, header checked) as t says, keeping the marker bit.
func (t *ptTable) remap(pkt []byte) {
	b := pkt[1]
	if n := t.pt[b&0x7f]; n != b&0x7f {
		pkt[1] = b&0x80 | n
	}
}
