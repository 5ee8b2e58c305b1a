package byocp

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/byocp/byocp/media"
	"github.com/byocp/byocp/sip"
)

// DTMF interworking between a side that signals DTMF with SIP INFO
// (trunk.Config.DTMF or peering.Config.DTMF "info") and one that uses RFC
// 4733 events in the media: the INFO side's digits are injected into the
// media towards the other leg (media.Relay.InjectDTMF), and the events the
// other leg sends are reported by the relay and sent as INFO. Between two
// sides of the same kind, INFO is relayed as INFO (relayInfo) and events
// pass as RTP.

// defaultDTMFDuration is the length of a digit whose INFO gives none.
const defaultDTMFDuration = 160 * time.Millisecond

// injectsDTMF reports whether an INFO from leg from is to be turned into
// RFC 4733 events towards leg to.
func injectsDTMF(from, to *leg) bool {
	return from.side.DTMFMode() == media.DTMFInfo && to.side.DTMFMode() != media.DTMFInfo
}

// injectInfo answers a DTMF INFO from from with 200 and plays its digit
// into the media towards to. An INFO without a digit gets 400.
func (c *call) injectInfo(from, to *leg, r *sip.DialogRequest, contentType string) {
	digit, d, ok := parseDTMFInfo(contentType, r.Body)
	if !ok {
		_ = r.Respond(400, "Bad Request", nil, warning("no DTMF digit in the INFO"))
		return
	}
	_ = r.Respond(200, "OK", nil)
	relay, side := c.relay, c.mediaSide(to.zoom)
	go func() {
		if err := relay.InjectDTMF(side, digit, d); err != nil {
			c.log.Warn("DTMF not injected", "leg", to.name, "digit", string(digit), "error", err)
		}
	}()
}

// eventInfo sends a digit the relay saw as an RFC 4733 event from
// ev.Side as INFO (application/dtmf-relay) on the other leg.
func (c *call) eventInfo(ev media.Event) {
	to := c.legs[0]
	if c.mediaSide(to.zoom) == ev.Side {
		to = c.legs[1]
	}
	body := fmt.Appendf(nil, "Signal=%c\r\nDuration=%d\r\n", ev.Digit, ev.Duration.Milliseconds())
	sipLeg := to.sip
	go func() {
		ctx, cancel := context.WithTimeout(c.b.ctx, 30*time.Second)
		defer cancel()
		if _, err := sipLeg.Send(ctx, "INFO", body, "application/dtmf-relay"); err != nil {
			c.log.Warn("DTMF INFO refused", "leg", to.name, "error", err)
		}
	}()
}

// parseDTMFInfo reads the digit and duration of an INFO body:
// application/dtmf-relay ("Signal=5\r\nDuration=160") or application/dtmf
// (the digit alone).
func parseDTMFInfo(contentType string, body []byte) (byte, time.Duration, bool) {
	d := defaultDTMFDuration
	var signal string
	if contentType == "application/dtmf" {
		signal = strings.TrimSpace(string(body))
	} else {
		for line := range strings.SplitSeq(string(body), "\n") {
			k, v, _ := strings.Cut(line, "=")
			switch strings.ToLower(strings.TrimSpace(k)) {
			case "signal":
				signal = strings.TrimSpace(v)
			case "duration":
				if ms, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && ms > 0 && ms <= 10000 {
					d = time.Duration(ms) * time.Millisecond
				}
			}
		}
	}
	if len(signal) != 1 || !strings.Contains("0123456789*#ABCDabcd", signal) {
		return 0, 0, false
	}
	return signal[0], d, true
}
