package media

import (
	"testing"
)

// Payload types are renumbered per leg as the SDP agreed: telephone-event
// is 101 on the carrier leg and 96 on Zoom's, PCMU 0 on both; the marker
// bit is kept and a payload type no format names passes unchanged.
func TestPayloadTypesMapped(t *testing.T) {
	r := newRawRelay(t)
	carrier := []Format{{Name: "PCMU", ClockRate: 8000, RecvPT: 0, SendPT: 0}, {Name: "telephone-event", ClockRate: 8000, RecvPT: 101, SendPT: 101}}
	zoom := []Format{{Name: "PCMU", ClockRate: 8000, RecvPT: 0, SendPT: 0}, {Name: "telephone-event", ClockRate: 8000, RecvPT: 96, SendPT: 96}}
	must(t, r.relay.SetLeg(SideA, LegConfig{Remote: addrOf(r.a), Formats: carrier}))
	must(t, r.relay.SetLeg(SideB, LegConfig{Remote: addrOf(r.b), Formats: zoom}))
	for _, tc := range []struct {
		from, to Side
		in, want byte // second header byte: marker and payload type
	}{
		{SideA, SideB, 0x80 | 101, 0x80 | 96},
		{SideA, SideB, 101, 96},
		{SideA, SideB, 0, 0},
		{SideB, SideA, 96, 101},
		{SideB, SideA, 0x80 | 96, 0x80 | 101},
		{SideA, SideB, 18, 18}, // G.729, agreed on neither leg: unchanged
	} {
		pkt := rtpPacket(1, 7, 1)
		pkt[1] = tc.in
		src, dst := r.a, r.b
		if tc.from == SideB {
			src, dst = r.b, r.a
		}
		r.send(t, src, tc.from, pkt)
		got, _ := recv(t, dst)
		if got[1] != tc.want {
			t.Errorf("%s->%s: byte 1 %#x became %#x, want %#x", tc.from, tc.to, tc.in, got[1], tc.want)
		}
		if string(got[2:]) != string(pkt[2:]) {
			t.Errorf("%s->%s: more than the payload type changed", tc.from, tc.to)
		}
	}
}

func TestNewPTTable(t *testing.T) {
	if newPTTable(nil, []Format{{Name: "PCMU", ClockRate: 8000}}) != nil {
		t.Error("a table without ingress formats")
	}
	tb := newPTTable([]Format{{Name: "opus", ClockRate: 48000, RecvPT: 111}, {Name: "telephone-event", ClockRate: 48000, RecvPT: 110}},
		[]Format{{Name: "OPUS", ClockRate: 48000, SendPT: 102}, {Name: "telephone-event", ClockRate: 8000, SendPT: 101}})
	if tb.pt[111] != 102 || tb.pt[110] != 110 || tb.rate[111] != 48000 || tb.rate[110] != 0 {
		t.Errorf("opus %d (rate %d), telephone-event/48000 %d (rate %d)", tb.pt[111], tb.rate[111], tb.pt[110], tb.rate[110])
	}
}
