package byocp

import (
	"fmt"
	"time"
)

// mediaCheckEvery is how often the media watch looks at the relay: a
// quarter of the shortest timeout in force, within 10 ms and 5 s.
func (c *call) mediaCheckEvery() time.Duration {
	shortest := time.Duration(0)
	for _, t := range []time.Duration{c.b.cfg.MediaTimeout, c.b.cfg.HoldTimeout} {
		if t > 0 && (shortest == 0 || t < shortest) {
			shortest = t
		}
	}
	if shortest == 0 {
		return 0
	}
	return min(max(shortest/4, 10*time.Millisecond), 5*time.Second)
}

// startMediaWatch schedules the first media check; the silence of each
// leg counts from now (the answer, or the last change of the media).
func (c *call) startMediaWatch(now time.Time) {
	c.mediaSince = now
	if every := c.mediaCheckEvery(); every > 0 {
		c.mediaCheckAt = now.Add(every)
	}
}

// checkMedia ends a call whose media stopped. While the call is not on
// hold, every leg must send RTP: a leg silent for MediaTimeout ends the
// call (its peer is gone, or its media path is). On hold (either leg
// sendonly, recvonly or inactive) one side is silent by design, so the
// call ends only when no leg has sent anything for HoldTimeout. Silence is
// counted from the later of the leg's last valid RTP (the relay's LastRTP,
// read without touching the packet path) or UDPTL datagram (a fax) and
// the last media change. A fax-only call (its audio replaced by T.38) is
// not on hold.
func (c *call) checkMedia(now time.Time) (endReason, bool) {
	c.mediaCheckAt = now.Add(c.mediaCheckEvery())
	st := c.relay.Stats()
	last := [2]time.Time{st.AtoB.LastRTP, st.BtoA.LastRTP} // from the carrier, from Zoom
	if c.udptl != nil {
		// T.38 fax counts as media: gateways stop RTP while they fax.
		fax := c.udptl.Stats()
		for i, t := range []time.Time{fax.AtoB.LastReceived, fax.BtoA.LastReceived} {
			if t.After(last[i]) {
				last[i] = t
			}
		}
	}
	for i := range last {
		if last[i].Before(c.mediaSince) {
			last[i] = c.mediaSince
		}
	}
	carrierLeg, zoomLeg := c.legs[0], c.legs[1]
	if c.inZoom {
		carrierLeg, zoomLeg = zoomLeg, carrierLeg
	}
	if c.onHold() {
		timeout := c.b.cfg.HoldTimeout
		if timeout <= 0 {
			return endReason{}, false
		}
		newest := last[0]
		if last[1].After(newest) {
			newest = last[1]
		}
		if now.Sub(newest) >= timeout {
			return endReason{by: HangupBridge, reason: fmt.Sprintf("hold timeout: no RTP on hold for %s", timeout),
				hangup: c.legs[:]}, true
		}
		return endReason{}, false
	}
	timeout := c.b.cfg.MediaTimeout
	if timeout <= 0 {
		return endReason{}, false
	}
	for i, l := range []*leg{carrierLeg, zoomLeg} {
		if now.Sub(last[i]) >= timeout {
			return endReason{by: HangupBridge, reason: fmt.Sprintf("media timeout: no RTP from the %s leg for %s", l.name, timeout),
				hangup: c.legs[:]}, true
		}
	}
	return endReason{}, false
}
