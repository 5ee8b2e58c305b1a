package byocp

import (
	"slices"
	"strings"
	"time"

	"github.com/byocp/byocp/media"
)

// CallStatus is a call in progress as Bridge.Calls sees it: who, since
// when, and its media so far, per direction (AtoB is carrier->Zoom), with
// the MOS estimated from it.
type CallStatus struct {
	ID        string
	Direction Direction
	Caller    string
	Callee    string
	Start     time.Time
	Answered  time.Time // zero while ringing
	Codec     string    // "" while ringing
	// Media counts packets per direction, with their Quality: loss and
	// jitter of the direction, and the round trip to its sending leg's
	// peer (Media.AtoB.Quality.RTT is the carrier leg's, as RTTCarrier).
	Media media.Stats
	// MOSCarrierToZoom and MOSZoomToCarrier estimate each direction's
	// listening quality from its loss and jitter and the round trips
	// measured so far (media.MOS); 0 before its first packet.
	MOSCarrierToZoom, MOSZoomToCarrier float64
	// RTTCarrier and RTTZoom are the round trips between byocp and the
	// carrier's media and between byocp and Zoom's, measured from the
	// RTCP reports the relay relays (media.Quality.RTT); 0 until the
	// peers have exchanged a sender report and a report on it.
	RTTCarrier, RTTZoom time.Duration
}

// liveCall is what a call publishes for Bridge.Calls: written by the
// call's goroutine at milestones, read by any.
type liveCall struct {
	status CallStatus // without Media and MOS
	relay  *media.Relay
}

// publish makes the call's current identity readable by Bridge.Calls.
func (c *call) publish() {
	l := &liveCall{relay: c.relay, status: CallStatus{ID: c.rec.ID, Direction: c.rec.Direction, Caller: c.rec.Caller,
		Callee: c.rec.Callee, Start: c.rec.Start, Answered: c.rec.Answered, Codec: c.rec.Codec}}
	c.live.Store(l)
}

// Calls returns the calls in progress that have their media set up, with
// their media statistics as of now. It only reads counters the relay
// publishes: it never touches a call's packet path.
func (b *Bridge) Calls() []CallStatus {
	b.mu.Lock()
	calls := make([]*call, 0, len(b.active))
	for c := range b.active {
		calls = append(calls, c)
	}
	b.mu.Unlock()
	out := make([]CallStatus, 0, len(calls))
	for _, c := range calls {
		l := c.live.Load()
		if l == nil || l.relay == nil {
			continue
		}
		st := l.status
		st.Media = l.relay.Stats()
		st.MOSCarrierToZoom, st.MOSZoomToCarrier = callMOS(st.Codec, st.Media)
		st.RTTCarrier, st.RTTZoom = st.Media.AtoB.Quality.RTT, st.Media.BtoA.Quality.RTT
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b CallStatus) int { return a.Start.Compare(b.Start) })
	return out
}

// callMOS is media.MOS for each direction of a call using codec
// ("PCMU/8000"), carrier->Zoom first; 0 for a direction that carried
// nothing. Audio crosses both legs whichever way it goes, so both
// directions count the sum of the legs' round trips, of which media.MOS
// takes half as the one-way delay; a leg not measured yet counts 0.
func callMOS(codec string, st media.Stats) (atob, btoa float64) {
	rtt := st.AtoB.Quality.RTT + st.BtoA.Quality.RTT
	return directionMOS(codec, st.AtoB, rtt), directionMOS(codec, st.BtoA, rtt)
}

// directionMOS is media.MOS for one direction with the round trip rtt.
func directionMOS(codec string, d media.DirectionStats, rtt time.Duration) float64 {
	if d.Quality.Expected == 0 {
		return 0
	}
	name, _, _ := strings.Cut(codec, "/")
	return media.MOS(name, d.Quality.LossRate(), d.Quality.Jitter, rtt)
}
