package media

import (
	"encoding/binary"
	"testing"
	"time"
)

func eventPacket(ssrc uint32, seq uint16, ts uint32, digit byte, end bool, dur uint16) []byte {
	p := make([]byte, 16)
	p[0], p[1] = 0x80, 101
	binary.BigEndian.PutUint16(p[2:], seq)
	binary.BigEndian.PutUint32(p[4:], ts)
	binary.BigEndian.PutUint32(p[8:], ssrc)
	p[12] = digit
	p[13] = 10
	if end {
		p[13] |= 0x80
	}
	binary.BigEndian.PutUint16(p[14:], dur)
	return p
}

var dtmfFormats = []Format{{Name: "PCMU", ClockRate: 8000, RecvPT: 0, SendPT: 0}, {Name: "telephone-event", ClockRate: 8000, RecvPT: 101, SendPT: 101}}

// Towards a leg whose peer uses SIP INFO, RFC 4733 events are reported
// once each, when they end, with their digit and duration, and not sent;
// the audio around them still is.
func TestDTMFEventsReported(t *testing.T) {
	r := newRawRelay(t)
	must(t, r.relay.SetLeg(SideA, LegConfig{Remote: addrOf(r.a), Formats: dtmfFormats}))
	must(t, r.relay.SetLeg(SideB, LegConfig{Remote: addrOf(r.b), Formats: dtmfFormats, DTMF: DTMFInfo}))
	r.send(t, r.a, SideA, rtpPacket(1, 7, 1))
	recv(t, r.b)
	r.send(t, r.a, SideA, eventPacket(7, 2, 160, 5, false, 400))
	r.send(t, r.a, SideA, eventPacket(7, 3, 160, 5, false, 800))
	for i := range 3 {
		r.send(t, r.a, SideA, eventPacket(7, uint16(4+i), 160, 5, true, 1280)) // 160 ms, end x3
	}
	select {
	case ev := <-r.relay.Events():
		if ev.Side != SideA || ev.Digit != '5' || ev.Duration != 160*time.Millisecond {
			t.Fatalf("event %+v", ev)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("no event reported")
	}
	r.send(t, r.a, SideA, rtpPacket(1, 7, 7))
	if got, _ := recv(t, r.b); binary.BigEndian.Uint16(got[2:]) != 7 {
		t.Fatalf("audio after the event: seq %d", binary.BigEndian.Uint16(got[2:]))
	}
	select {
	case ev := <-r.relay.Events():
		t.Fatalf("second report %+v", ev)
	default:
	}
	waitFor(t, "counters", func() bool { return r.relay.Stats().AtoB.Received == 7 })
	if st := r.relay.Stats().AtoB; st.DTMFEvents != 1 || st.Forwarded != 2 {
		t.Fatalf("stats %+v", st)
	}
}

// An injected digit goes to the leg's peer as RFC 4733 events in the
// stream it receives: its telephone-event payload type, the stream's SSRC
// and sequence numbers that continue it, the marker on the first packet,
// the end packet three times; the audio after it is renumbered to follow.
func TestDTMFInjected(t *testing.T) {
	r := newRawRelay(t)
	carrier := []Format{{Name: "PCMU", ClockRate: 8000}, {Name: "telephone-event", ClockRate: 8000, RecvPT: 96, SendPT: 96}}
	must(t, r.relay.SetLeg(SideA, LegConfig{Remote: addrOf(r.a), Formats: carrier}))
	must(t, r.relay.SetLeg(SideB, LegConfig{Remote: addrOf(r.b), Formats: dtmfFormats, DTMF: DTMFInfo}))
	r.send(t, r.b, SideB, rtpPacket(2, 9, 100)) // Zoom's stream towards the carrier
	recv(t, r.a)
	must(t, r.relay.InjectDTMF(SideA, '#', 120*time.Millisecond))
	var events [][]byte
	for {
		got, _ := recv(t, r.a)
		events = append(events, got)
		if got[13]&0x80 != 0 && len(events) >= 3 && events[len(events)-2][13]&0x80 != 0 && events[len(events)-3][13]&0x80 != 0 {
			break
		}
	}
	for i, e := range events {
		seq, ssrc := binary.BigEndian.Uint16(e[2:]), binary.BigEndian.Uint32(e[8:])
		if e[1]&0x7f != 96 || ssrc != 9 || seq != uint16(101+i) || e[12] != 11 || (i == 0) != (e[1]&0x80 != 0) {
			t.Fatalf("event packet %d: pt %d marker %v ssrc %d seq %d event %d", i, e[1]&0x7f, e[1]&0x80 != 0, ssrc, seq, e[12])
		}
		if binary.BigEndian.Uint32(e[4:]) != binary.BigEndian.Uint32(events[0][4:]) {
			t.Fatalf("event packet %d: timestamp changed", i)
		}
	}
	if d := binary.BigEndian.Uint16(events[len(events)-1][14:]); d != 960 {
		t.Errorf("final duration %d, want 960 (120 ms)", d)
	}
	r.send(t, r.b, SideB, rtpPacket(2, 9, 101)) // the stream goes on
	got, _ := recv(t, r.a)
	if seq := binary.BigEndian.Uint16(got[2:]); seq != uint16(101+len(events)) {
		t.Fatalf("audio after the event: seq %d, want %d", seq, 101+len(events))
	}
	if err := r.relay.InjectDTMF(SideA, 'x', time.Second); err == nil {
		t.Error("digit x injected")
	}
}

// A digit injected before anything was forwarded starts a stream of
// byocp's own; the first packets forwarded after it continue that stream
// (its SSRC, the next sequence numbers, the marker on the first), so the
// peer sees one stream.
func TestDTMFInjectedBeforeMediaStartsTheStream(t *testing.T) {
	r := newRawRelay(t)
	must(t, r.relay.SetLeg(SideA, LegConfig{Remote: addrOf(r.a), Formats: dtmfFormats}))
	must(t, r.relay.SetLeg(SideB, LegConfig{Remote: addrOf(r.b), Formats: dtmfFormats, DTMF: DTMFInfo}))
	must(t, r.relay.InjectDTMF(SideA, '1', 40*time.Millisecond))
	var last []byte
	for range endRepeats { // the end packet, three times
		last, _ = recv(t, r.a)
	}
	ssrc, seq := binary.BigEndian.Uint32(last[8:]), binary.BigEndian.Uint16(last[2:])
	for i := range uint16(2) {
		r.send(t, r.b, SideB, rtpPacket(2, 9, 500+i))
		got, _ := recv(t, r.a)
		h := header(t, got)
		if h.SSRC != ssrc || h.SequenceNumber != seq+1+i || h.Marker != (i == 0) {
			t.Fatalf("packet %d after the event: %+v, want SSRC %x seq %d", i, h, ssrc, seq+1+i)
		}
	}
}
