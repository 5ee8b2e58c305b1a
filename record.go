package byocp

import (
	"time"

	"github.com/byocp/byocp/media"
)

// Direction says which side placed a call.
type Direction string

// Call directions.
const (
	CarrierToZoom Direction = "carrier->zoom"
	ZoomToCarrier Direction = "zoom->carrier"
)

// Who ended an answered call, in CallRecord.HangupBy.
const (
	HangupCarrier = "carrier"
	HangupZoom    = "zoom"
	HangupBridge  = "bridge"
)

// CallRecord describes one call through the Bridge: a call detail record.
type CallRecord struct {
	ID            string    // the Bridge's own identifier for the call
	Direction     Direction // who placed the call
	Caller        string    // E.164 as passed between the legs
	Callee        string    // E.164
	CarrierCallID string    // Call-ID on the carrier leg
	ZoomCallID    string    // Call-ID on the Zoom leg ("" if never sent)
	Start         time.Time // INVITE received
	Answered      time.Time // 200 OK sent to the caller; zero if never answered
	End           time.Time
	Status        int    // final status sent to the caller (200 when answered)
	Reason        string // why the call failed or ended, human readable
	HangupBy      string // HangupCarrier, HangupZoom or HangupBridge; "" if never answered
	SRTPSuite     string // SDES suite on the Zoom leg
	Codec         string // negotiated audio codec, e.g. "PCMU/8000"; "" if none was
	// Transferred reports that byocp carried out a blind transfer (REFER
	// with the handle policy): one leg now goes to the transfer target,
	// whose Call-ID replaced the referrer's above.
	Transferred bool
	// UDPTL counts T.38 fax datagrams per direction (AtoB is
	// carrier->Zoom) on a call that relays T.38; zero otherwise.
	UDPTL media.UDPTLStats
	// Media counts packets per direction, with their loss and jitter and
	// the round trip to the sending leg's peer; AtoB is carrier->Zoom.
	Media media.Stats
	// MOSCarrierToZoom and MOSZoomToCarrier estimate each direction's
	// listening quality (1 to 4.5) from its codec, loss and jitter and
	// the legs' round trips with a simplified E-model (media.MOS); 0 for
	// a direction without media.
	MOSCarrierToZoom, MOSZoomToCarrier float64
	// RTTCarrier and RTTZoom are the round trips between byocp and the
	// carrier's media and between byocp and Zoom's when the call ended
	// (Media.AtoB.Quality.RTT and Media.BtoA.Quality.RTT), measured from
	// the RTCP reports relayed; 0 for a leg whose peers exchanged no
	// sender report and report on it.
	RTTCarrier, RTTZoom time.Duration
	// Tap counts the packets of the call's tap (Config.TapCall) when the
	// call ended: Queued and Dropped are final, Delivered is what its
	// reader had read by then. Zero without a tap.
	Tap media.TapStats
}

// SetupTime is the time from INVITE to answer; 0 if never answered.
func (r CallRecord) SetupTime() time.Duration {
	if r.Answered.IsZero() {
		return 0
	}
	return r.Answered.Sub(r.Start)
}

// Duration is the answered time of the call; 0 if never answered.
func (r CallRecord) Duration() time.Duration {
	if r.Answered.IsZero() {
		return 0
	}
	return r.End.Sub(r.Answered)
}
