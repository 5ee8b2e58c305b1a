package fakepeer

import (
	"context"
	"strings"
	"time"
)

// SendDTMF sends digit as an RFC 4733 event in the call's media, lasting
// d, with the telephone-event payload type the peer's SDP gave (101 when
// it gave none).
func (c *Call) SendDTMF(ctx context.Context, digit byte, d time.Duration) error {
	return c.media.SendEvent(ctx, c.eventPT(), digit, d)
}

// DTMF returns the digits the call received as RFC 4733 events in its
// media, each once.
func (c *Call) DTMF() string { return c.media.Digits() }

// eventPT is the telephone-event payload type of the peer's own SDP.
func (c *Call) eventPT() uint8 {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range c.local.audio.Formats {
		if strings.EqualFold(f.Name, "telephone-event") {
			return f.PayloadType
		}
	}
	return 101
}
