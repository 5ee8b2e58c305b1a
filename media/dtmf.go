package media

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"
)

// DTMF interworking: a leg whose peer signals DTMF with SIP INFO instead of
// RFC 4733 events in the media (LegConfig.DTMF = DTMFInfo). Events the
// other leg's peer sends towards it are not forwarded but reported on
// Relay.Events, for the call to send as INFO; digits that peer sends as
// INFO are injected into the media towards the other leg with
// Relay.InjectDTMF, as RFC 4733 events in the stream it receives: its
// telephone-event payload type, the SSRC of the stream the relay forwards
// to it, and sequence numbers that continue that stream (the packets
// forwarded after an injection are renumbered to follow it, RFC 3550 and
// RFC 7160's continuity).

// DTMFMode is how a leg's peer signals DTMF.
type DTMFMode int

const (
	// DTMFPass (the zero value): RFC 4733 events pass through the media
	// like any packet.
	DTMFPass DTMFMode = iota
	// DTMFInfo: the peer uses SIP INFO. Events towards it are reported on
	// Relay.Events and dropped; see InjectDTMF for its digits.
	DTMFInfo
)

// ParseDTMFMode reads a DTMF mode as configurations write it: "" or
// "rfc4733" (DTMFPass), "info" (DTMFInfo).
func ParseDTMFMode(s string) (DTMFMode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "rfc4733", "rfc2833":
		return DTMFPass, nil
	case "info":
		return DTMFInfo, nil
	}
	return DTMFPass, fmt.Errorf("media: unknown DTMF mode %q (want rfc4733 or info)", s)
}

// Event is a DTMF digit the relay saw as an RFC 4733 event, ended.
type Event struct {
	// Side is the leg whose peer sent the event.
	Side     Side
	Digit    byte // '0'-'9', '*', '#', 'A'-'D'
	Duration time.Duration
}

// ErrNoTelephoneEvent is returned by InjectDTMF when the leg agreed no
// telephone-event format (LegConfig.Formats).
var ErrNoTelephoneEvent = errors.New("media: no telephone-event format on the leg")

// ErrBadDigit is returned by InjectDTMF for a digit RFC 4733 has no event
// for.
var ErrBadDigit = errors.New("media: not a DTMF digit")

const digits = "0123456789*#ABCD"

// reportEvent reports an RFC 4733 event payload once, at its end (the end
// packet is sent three times). A full Events channel drops it, counted.
func (p *pipe) reportEvent(payload []byte, ssrc, ts uint32, rate uint32) {
	if len(payload) < 4 || payload[1]&0x80 == 0 || payload[0] >= 16 {
		return // not ended yet, or not a DTMF event
	}
	st := &p.stream
	if st.reported && st.lastEvent == ts {
		return
	}
	st.reported, st.lastEvent = true, ts
	if rate == 0 {
		rate = 8000
	}
	d := time.Duration(binary.BigEndian.Uint16(payload[2:])) * time.Second / time.Duration(rate)
	ev := Event{Side: p.side, Digit: digits[payload[0]], Duration: d}
	p.stats.dtmfEvents.Add(1)
	select {
	case p.events <- ev:
	default:
		p.stats.dtmfDropped.Add(1)
	}
}

// injectInterval is how often an injected event's packets go out, and
// endRepeats how many times its end packet is sent (RFC 4733 section 2.5).
const (
	injectInterval = 50 * time.Millisecond
	endRepeats     = 3
)

// InjectDTMF sends digit as an RFC 4733 event towards side's peer, in the
// stream the relay forwards to it, lasting duration (40 ms at least): a
// packet every 50 ms with the duration so far, then the end packet three
// times. It returns once the event is sent. Events towards one side are
// sent one after the other.
func (r *Relay) InjectDTMF(side Side, digit byte, duration time.Duration) error {
	if side != SideA && side != SideB {
		return fmt.Errorf("%w: %d", ErrBadSide, int(side))
	}
	code := strings.IndexByte(digits, upper(digit))
	if code < 0 {
		return fmt.Errorf("%w: %q", ErrBadDigit, digit)
	}
	p := r.pipes[1-side] // the direction whose egress is side
	p.injectMu.Lock()
	defer p.injectMu.Unlock()
	duration = max(duration, 40*time.Millisecond)
	var start uint32
	var rate uint32 = 8000
	for elapsed, first := injectInterval, true; ; elapsed += injectInterval {
		end := elapsed >= duration
		if end {
			elapsed = duration
		}
		var err error
		start, rate, err = p.injectEvent(byte(code), first, end, elapsed, start, rate)
		if err != nil {
			return err
		}
		first = false
		if end {
			for range endRepeats - 1 {
				if _, _, err := p.injectEvent(byte(code), false, true, elapsed, start, rate); err != nil {
					return err
				}
			}
			return nil
		}
		if r.pump.closed.Load() {
			return ErrClosed
		}
		time.Sleep(injectInterval)
	}
}

func upper(b byte) byte {
	if b >= 'a' && b <= 'd' {
		return b - 'a' + 'A'
	}
	return b
}

// injectEvent builds and sends one event packet of an injection in the
// pipe's stream; start is the event's timestamp (set by the first packet).
func (p *pipe) injectEvent(code byte, first, end bool, elapsed time.Duration, start, rate uint32) (uint32, uint32, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	eg := p.egress.Load()
	if eg == nil || p.out == nil {
		return 0, 0, ErrNoRemote
	}
	pt, ok := eventPT(eg.formats)
	if !ok {
		return 0, 0, ErrNoTelephoneEvent
	}
	to := eg.destination()
	if !to.IsValid() {
		return 0, 0, ErrNoRemote
	}
	now := p.clock()
	st := &p.stream
	if !st.known {
		// Nothing forwarded yet: a stream of byocp's own, which the first
		// packet forwarded will be carried onto (continuity.go).
		*st = streamState{known: true, own: true, out: uint32(now) ^ 0x5eed1e55, seq: uint16(now), at: now, epoch: p.epoch.Load() - 1}
	}
	if first {
		if st.rate != 0 {
			rate = st.rate
		}
		start = st.ts + uint32(uint64(now-st.at)*uint64(rate)/uint64(time.Second))
	}
	if p.injectBuf == nil {
		p.injectBuf = make([]byte, 16, 16+maxOverhead)
	}
	pkt := p.injectBuf[:16]
	pkt[0] = 0x80
	pkt[1] = pt
	if first {
		pkt[1] |= 0x80 // marker: the event starts
	}
	st.seq++
	p.followInjected(now)
	binary.BigEndian.PutUint16(pkt[2:], st.seq)
	binary.BigEndian.PutUint32(pkt[4:], start)
	binary.BigEndian.PutUint32(pkt[8:], st.out)
	pkt[12] = code
	pkt[13] = 10 // volume -10 dBm0
	if end {
		pkt[13] |= 0x80
	}
	binary.BigEndian.PutUint16(pkt[14:], uint16(min(uint64(elapsed)*uint64(rate)/uint64(time.Second), 0xffff)))
	out := pkt
	if eg.srtp != nil {
		e := eg.srtp.enc
		i, _ := p.ssrcs.find(st.out, now, MaxSSRCsLimit)
		stream := e.lookup(st.out)
		if i < 0 || stream < 0 || !e.admit(stream, st.out, st.seq) {
			return 0, 0, fmt.Errorf("media: injected event: SSRC or index refused")
		}
		slot := p.ssrcs.touch(i, st.out, now)
		slot.encID, slot.stream = e.id, int32(stream)
		var err error
		if out, err = e.ctx.EncryptRTP(pkt, pkt, &p.hdr); err != nil { // in place; p.hdr is free under p.mu
			return 0, 0, err
		}
	}
	if _, err := p.out.rtp.WriteToUDPAddrPort(out, to); err != nil {
		return 0, 0, err
	}
	p.stats.dtmfInjected.Add(1)
	return start, rate, nil
}

// eventPT is the telephone-event payload type a leg's peer expects.
func eventPT(formats []Format) (uint8, bool) {
	for _, f := range formats {
		if strings.EqualFold(f.Name, "telephone-event") {
			return f.SendPT & 0x7f, true
		}
	}
	return 0, false
}
