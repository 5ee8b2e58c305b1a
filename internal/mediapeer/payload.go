package mediapeer

import "encoding/binary"

// PayloadSize is the size of the payload a Peer sends: 20 ms of G.711.
const PayloadSize = 160

const magic = "BYOC"

// FillPayload writes the test pattern into dst (normally PayloadSize
// bytes): bytes 0-3 "BYOC", byte 4 the stream id, bytes 5-6 the RTP
// sequence number (big endian), and byte i >= 7 = byte(seq*7 + i +
// stream). A dst shorter than 7 bytes gets what fits.
func FillPayload(dst []byte, stream byte, seq uint16) {
	var head [7]byte
	copy(head[:], magic)
	head[4] = stream
	binary.BigEndian.PutUint16(head[5:], seq)
	n := copy(dst, head[:])
	for i := n; i < len(dst); i++ {
		dst[i] = patternByte(stream, seq, i)
	}
}

// CheckPayload reports whether p is exactly a PayloadSize-byte test
// pattern, and if so the stream id and sequence number it carries.
func CheckPayload(p []byte) (stream byte, seq uint16, ok bool) {
	if len(p) != PayloadSize || string(p[:4]) != magic {
		return 0, 0, false
	}
	stream, seq = p[4], binary.BigEndian.Uint16(p[5:7])
	for i := 7; i < len(p); i++ {
		if p[i] != patternByte(stream, seq, i) {
			return 0, 0, false
		}
	}
	return stream, seq, true
}

func patternByte(stream byte, seq uint16, i int) byte {
	return byte(int(seq)*7 + i + int(stream))
}
