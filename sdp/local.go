package sdp

import "bytes"

// Local returns byocp's last committed SDP on the leg, as sent; nil before
// the first exchange completes. A 2xx that repeats a session description
// the early dialog already settled (RFC 3262: offer in a reliable
// provisional response, answer in its PRACK) carries it.
func (l *Leg) Local() []byte {
	if !l.cur.started {
		return nil
	}
	return bytes.Clone(l.cur.body)
}
