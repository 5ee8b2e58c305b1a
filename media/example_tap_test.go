package media_test

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log"
	"math"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/byocp/byocp/media"
	"github.com/pion/rtp"
)

// A Tap records a call to a WAV file: 8 kHz 16-bit PCM, stereo, the
// carrier (SideA) on the left channel and Zoom (SideB) on the right. The
// recorder reads the Tap in its own goroutine until the Relay closes,
// decodes G.711 µ-law, and places each packet's samples by its RTP
// timestamp, so that packets that arrive out of order land in their place
// and lost ones leave silence. Here both legs are plain RTP; an SRTP leg
// is tapped decrypted all the same.
func ExampleTap() {
	pool, err := media.NewPortPool(netip.MustParseAddr("127.0.0.1"), 42000, 42999)
	if err != nil {
		log.Fatal(err)
	}
	carrierPort, err := pool.Allocate()
	if err != nil {
		log.Fatal(err)
	}
	zoomPort, err := pool.Allocate()
	if err != nil {
		log.Fatal(err)
	}
	relay := media.NewRelay(carrierPort, zoomPort, nil)
	defer relay.Close()

	// Stand-ins for the carrier's and Zoom's media endpoints.
	carrier, zoom := listen(), listen()
	defer carrier.Close()
	defer zoom.Close()
	_ = relay.SetLeg(media.SideA, media.LegConfig{Remote: addrOf(carrier)})
	_ = relay.SetLeg(media.SideB, media.LegConfig{Remote: addrOf(zoom)})

	tap := &media.Tap{} // 256 packets: 2.5 s of both directions
	relay.SetTap(tap)
	relay.Start()
	var rec recording
	done := make(chan error, 1)
	go func() { done <- rec.read(tap) }()

	// 200 ms of a call, a packet every 20 ms each way. The carrier sends
	// the digital milliwatt (a 1 kHz tone), but its packet 4 is delayed
	// until after packet 5 and its packet 6 is lost; Zoom sends a quieter
	// 2 kHz tone.
	milliwatt := []byte{0x1e, 0x0b, 0x0b, 0x1e, 0x9e, 0x8b, 0x8b, 0x9e}
	tone := []byte{0xff, 0xa7, 0xff, 0x27}
	fromCarrier := [][]uint16{{0}, {1}, {2}, {3}, {}, {5, 4}, {}, {7}, {8}, {9}}
	for i, seqs := range fromCarrier {
		for _, seq := range seqs {
			send(carrier, carrierPort.Addr(), 0x1111, seq, milliwatt)
		}
		send(zoom, zoomPort.Addr(), 0x2222, uint16(i), tone)
		time.Sleep(20 * time.Millisecond)
	}

	// The call ends once the relay has forwarded everything: closing the
	// Relay closes the Tap, and the recorder gets io.EOF.
	for st := relay.Stats(); st.AtoB.Forwarded < 9 || st.BtoA.Forwarded < 10; st = relay.Stats() {
		time.Sleep(time.Millisecond)
	}
	_ = relay.Close()
	if err := <-done; err != nil {
		log.Fatal(err)
	}

	dir, err := os.MkdirTemp("", "byocp-tap")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "call.wav")
	pcm, lost := rec.stereo()
	if err := writeWAV(path, pcm); err != nil {
		log.Fatal(err)
	}
	for side, name := range []string{"carrier", "zoom"} {
		fmt.Printf("%s: %d packets, %v of silence for lost packets\n", name, rec.packets[side], samplesToDuration(lost[side]))
	}
	fmt.Printf("tap: %+v\n", tap.Stats())
	describeWAV(path)
	fmt.Println("first frames:", pcm[:8])
	// Output:
	// carrier: 9 packets, 20ms of silence for lost packets
	// zoom: 10 packets, 0s of silence for lost packets
	// tap: {Queued:19 Delivered:19 Dropped:0 TooLarge:0}
	// call.wav: RIFF WAVE, PCM, 2 channels, 8000 Hz, 16 bits, 200ms, 6444 bytes
	// first frames: [[-8828 0] [-20860 6140] [-20860 0] [-8828 -6140] [8828 0] [20860 6140] [20860 0] [8828 -6140]]
}

// recording is the PCMU audio of a call as a Tap delivered it, kept in
// memory until the call ends. A recorder for long calls would write as it
// goes, holding back only a short window (a jitter buffer) for packets
// that arrive out of order.
type recording struct {
	streams []*stream
	packets [2]int // per side
}

// stream is the audio of one SSRC of one side. A side that changes SSRC
// (a carrier re-route, music on hold) starts a new stream, which is placed
// by the time its packets arrived.
type stream struct {
	side   media.Side
	ssrc   uint32
	first  uint32    // RTP timestamp of its first packet read
	origin time.Time // when timestamp first arrived or would have, at the least delay seen
	chunks []chunk   // the decoded packets
}

// chunk is one packet's samples, ts samples after its stream's first
// packet (negative for a packet sent before it that arrived after it).
type chunk struct {
	ts  int64
	pcm []int16
}

// read takes the packets of the Tap until it is closed.
func (r *recording) read(tap *media.Tap) error {
	buf := make([]byte, media.DefaultTapPacketSize)
	var pkt rtp.Packet
	for {
		p, err := tap.ReadPacket(context.Background(), buf)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		// Only PCMU (payload type 0, 8 kHz): telephone-events (DTMF) and
		// comfort noise are skipped. The payload aliases buf.
		if pkt.Unmarshal(buf[:p.N]) != nil || pkt.PayloadType != 0 {
			continue
		}
		s := r.stream(p.Side, pkt.SSRC, pkt.Timestamp)
		ts := int64(int32(pkt.Timestamp - s.first)) // serial arithmetic: the timestamp may wrap
		// The stream's origin is estimated from the packet that arrived
		// with the least delay: late packets only ever arrive later.
		if o := p.Time.Add(-samplesToDuration(ts)); s.origin.IsZero() || o.Before(s.origin) {
			s.origin = o
		}
		pcm := make([]int16, len(pkt.Payload))
		for i, b := range pkt.Payload {
			pcm[i] = ulaw(b)
		}
		s.chunks = append(s.chunks, chunk{ts: ts, pcm: pcm})
		r.packets[p.Side]++
	}
}

// stream returns the stream of side and ssrc, starting it at timestamp
// first if it is new.
func (r *recording) stream(side media.Side, ssrc, first uint32) *stream {
	for _, s := range r.streams {
		if s.side == side && s.ssrc == ssrc {
			return s
		}
	}
	s := &stream{side: side, ssrc: ssrc, first: first}
	r.streams = append(r.streams, s)
	return s
}

// stereo lays the streams out on a common timeline, silence where nothing
// was received, and returns the frames (left = SideA, right = SideB) and
// how many samples of silence each side has between its first and last
// packet. Streams are aligned by their origins, rounded to whole packets
// (20 ms): close enough for a recording.
func (r *recording) stereo() (frames [][2]int16, lost [2]int64) {
	if len(r.streams) == 0 {
		return nil, lost
	}
	earliest := r.streams[0].origin
	for _, s := range r.streams {
		if s.origin.Before(earliest) {
			earliest = s.origin
		}
	}
	const packet = 160 // samples in 20 ms
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	start := make([]int64, len(r.streams))
	for i, s := range r.streams {
		start[i] = packet * int64(math.Round(float64(s.origin.Sub(earliest))/float64(20*time.Millisecond)))
		for _, c := range s.chunks {
			lo, hi = min(lo, start[i]+c.ts), max(hi, start[i]+c.ts+int64(len(c.pcm)))
		}
	}
	frames = make([][2]int16, hi-lo)
	written := [2][]bool{make([]bool, hi-lo), make([]bool, hi-lo)}
	for i, s := range r.streams {
		for _, c := range s.chunks {
			at := start[i] + c.ts - lo
			for k, v := range c.pcm {
				frames[at+int64(k)][s.side] = v
				written[s.side][at+int64(k)] = true
			}
		}
	}
	for side, w := range written {
		first, last := -1, -1
		for k, ok := range w {
			if ok {
				if first < 0 {
					first = k
				}
				last = k
			}
		}
		for k := first; first >= 0 && k <= last; k++ {
			if !w[k] {
				lost[side]++
			}
		}
	}
	return frames, lost
}

// ulaw decodes a G.711 µ-law byte to 16-bit linear PCM.
func ulaw(b byte) int16 {
	b = ^b
	m := (int16(b&0x0f)<<3 + 0x84) << (b >> 4 & 7)
	if b&0x80 != 0 {
		return 0x84 - m
	}
	return m - 0x84
}

// writeWAV writes 8 kHz 16-bit stereo PCM frames to a WAV file.
func writeWAV(path string, frames [][2]int16) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	const rate, channels, bits = 8000, 2, 16
	data := uint32(len(frames) * channels * bits / 8)
	header := struct {
		RIFF        [4]byte
		Size        uint32
		WAVE, Fmt   [4]byte
		FmtSize     uint32
		Format      uint16 // 1 = PCM
		Channels    uint16
		Rate, Bytes uint32
		Align, Bits uint16
		Data        [4]byte
		DataSize    uint32
	}{
		[4]byte{'R', 'I', 'F', 'F'}, 36 + data, [4]byte{'W', 'A', 'V', 'E'}, [4]byte{'f', 'm', 't', ' '},
		16, 1, channels, rate, rate * channels * bits / 8, channels * bits / 8, bits,
		[4]byte{'d', 'a', 't', 'a'}, data,
	}
	_ = binary.Write(w, binary.LittleEndian, header)
	_ = binary.Write(w, binary.LittleEndian, frames)
	if err := w.Flush(); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// describeWAV prints what the header of the WAV file at path says.
func describeWAV(path string) {
	b, err := os.ReadFile(path)
	if err != nil || len(b) < 44 {
		log.Fatal("no WAV file: ", err)
	}
	le := binary.LittleEndian
	format := map[uint16]string{1: "PCM", 7: "µ-law"}[le.Uint16(b[20:])]
	channels, rate, bits := le.Uint16(b[22:]), le.Uint32(b[24:]), le.Uint16(b[34:])
	frames := int64(le.Uint32(b[40:])) / int64(channels) / int64(bits/8)
	fmt.Printf("%s: %s %s, %s, %d channels, %d Hz, %d bits, %v, %d bytes\n", filepath.Base(path), b[0:4], b[8:12],
		format, channels, rate, bits, time.Duration(frames)*time.Second/time.Duration(rate), len(b))
}

func samplesToDuration(n int64) time.Duration { return time.Duration(n) * time.Second / 8000 }

func listen() *net.UDPConn {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		log.Fatal(err)
	}
	return c
}

func addrOf(c *net.UDPConn) netip.AddrPort { return c.LocalAddr().(*net.UDPAddr).AddrPort() }

// send sends one 20 ms PCMU packet filled with pattern from c to the relay
// port at to.
func send(c *net.UDPConn, to netip.AddrPort, ssrc uint32, seq uint16, pattern []byte) {
	payload := make([]byte, 160)
	for i := range payload {
		payload[i] = pattern[i%len(pattern)]
	}
	pkt := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: seq, Timestamp: uint32(seq) * 160, SSRC: ssrc},
		Payload: payload}
	b, err := pkt.Marshal()
	if err != nil {
		log.Fatal(err)
	}
	if _, err := c.WriteToUDPAddrPort(b, to); err != nil {
		log.Fatal(err)
	}
}
