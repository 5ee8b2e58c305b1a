// Package trunktest provides a fake PSTN carrier for tests, in the spirit of
// net/http/httptest: a real SIP user agent on a loopback UDP (or TCP) port
// with a real RTP endpoint. It places calls to a Bridge's carrier side,
// answers the calls a Bridge sends to the carrier, sends a recognisable RTP
// pattern and counts what it receives intact.
//
// Media is plain RTP (RTP/AVP) offering PCMU, PCMA, G.729 and
// telephone-event/8000. The carrier sends pattern stream 1 and expects
// stream 2 (the fake Zoom peer's) back.
//
// NewCarrier starts a Carrier. Carrier.Dial places a call and
// Carrier.Accept returns the calls it receives, each a *Call: Call.SendAudio
// sends the pattern, Call.TalkWith sends it both ways at once with the
// SBC's other leg (a *peeringtest.Call), Call.Media counts what arrived and
// Call.Hangup ends the call. Behavior makes the carrier ring, send early
// media or reject calls.
//
// # In-dialog requests
//
// Once a call is established the carrier answers the SBC's requests itself,
// as a real carrier does. A re-INVITE or UPDATE with an offer gets an RFC
// 3264 answer: the first offered codec the carrier supports, the offered
// direction mirrored (sendonly → recvonly, recvonly → sendonly, inactive →
// inactive, sendrecv → sendrecv unless the carrier holds the call itself),
// and its media follows the new address, port and payload type at once. A
// re-INVITE without SDP is answered with the carrier's current SDP as the
// offer; the SBC's answer is taken from the ACK. An UPDATE without SDP
// (a session refresh), INFO and other requests get 200. Call.Requests
// lists what was received (method, offered direction, status), and
// Call.Direction and Call.Codec say what is in force: after the far end
// puts the carrier on hold, Direction is sdp.RecvOnly.
// Behavior.RejectReoffers refuses re-offers with a status of your choice,
// to test the SBC's rollback.
//
// A call acts as a phone or PBX behind the carrier would with Call.Hold,
// Call.Resume and Call.Reinvite (a re-offer changing the direction, the
// codec or the media port, an offerless re-INVITE, or an offer in an
// UPDATE). These return once the transaction is complete, with a
// *sip.StatusError for a failure status (491 on glare: retry after
// Call.GlareDelay).
//
// # Session timers
//
// The carrier runs the RFC 4028 session timer that the SBC's INVITE or 2xx
// sets up: as refresher it refreshes at half the interval (UPDATE without
// SDP when the SBC allows UPDATE, else a re-INVITE with its unchanged SDP),
// otherwise it hangs up when the SBC lets the session expire.
// Config.SessionExpires offers a timer in the carrier's own INVITEs,
// Config.MinSE answers shorter intervals 422, Behavior.Refresher makes the
// carrier refresh the calls it receives, Call.Refresh sends a refresh at
// once, and Call.StopRefreshing simulates a carrier whose signalling died
// silently, for the SBC's session expiry. Config.NoSessionTimer makes a
// carrier without RFC 4028 support.
//
// # Media
//
// A call sends RTP only while SendAudio, TalkWith or StartAudio runs: an
// idle call is silent. Call.StartAudio keeps a stream going in the
// background while a test waits for timers, and Call.StopAudio stops it,
// for the SBC's media timeout. Config.DropFirstReinviteResponse makes the
// carrier a lossy UDP peer that loses the first copy of the response to
// its re-INVITEs.
//
// # RTCP
//
// A call sends RTCP only when a test asks: Call.SendRTCP sends a packet
// the test built. Config.RTCPMux makes the carrier offer and accept
// a=rtcp-mux (RFC 5761), multiplexing RTCP on the RTP ports when the SBC
// agrees (Call.RTCPMux); Config.RTCPPort gives each call an RTCP port of
// its own, named in a=rtcp (RFC 3605). Call.RTCP and Call.WaitRTCP return
// the RTCP that arrived, and whether it came multiplexed.
//
// # T.38 fax
//
// Call.Reinvite with ReinviteOptions.T38 switches a call to fax as a
// gateway does: a re-INVITE whose m=image udptl t38 line replaces the
// audio m-line, with the usual a=T38... attributes, on a UDPTL port the
// call opens on its media address. A carrier whose Behavior.AcceptT38 is set
// answers such offers from the SBC with an image stream of its own;
// without it, it rejects the image stream with port 0, or answers 488
// when the offer has no audio stream left, as a voice-only endpoint does.
// Once in fax mode (Call.T38), Call.SendUDPTL sends datagrams to the
// SBC's image stream and Call.UDPTL and Call.WaitUDPTL return those that
// arrived, byte for byte. A Reinvite without T38 goes back to audio in the
// same m-line. The UDPTL port closes with the call.
package trunktest

import (
	"context"
	"log/slog"
	"net/netip"
	"time"

	"github.com/byocp/byocp/internal/fakepeer"
	"github.com/byocp/byocp/sdp"
	"github.com/byocp/byocp/sip"
)

// Stream is the pattern stream id the carrier sends.
const Stream = 1

// Formats are the payload formats the carrier offers and accepts.
var Formats = []sdp.Format{
	{PayloadType: 0, Name: "PCMU", ClockRate: 8000},
	{PayloadType: 8, Name: "PCMA", ClockRate: 8000},
	{PayloadType: 18, Name: "G729", ClockRate: 8000, Fmtp: "annexb=no"},
	{PayloadType: 101, Name: "telephone-event", ClockRate: 8000, Fmtp: "0-16"},
}

// Config configures a Carrier. The zero value listens on UDP on a free
// loopback port and answers every call at once.
type Config struct {
	// Listen is the carrier's SIP address; default "127.0.0.1:0".
	Listen string
	// Network is "udp" (default) or "tcp".
	Network string
	// Behavior says how received calls are treated.
	Behavior Behavior
	// Formats overrides the offered and accepted formats (default Formats).
	Formats []sdp.Format
	// Logger receives the carrier's SIP logs; default discards them.
	Logger *slog.Logger

	// SessionExpires, when positive, offers an RFC 4028 session timer in
	// the INVITEs the carrier sends: Supported: timer, Session-Expires
	// with this interval (the SBC chooses the refresher) and Min-SE.
	// Whole seconds; 0 offers none. Whatever it is, the carrier runs the
	// session timer the SBC's 2xx or INVITE sets up (see Call.SessionTimer).
	SessionExpires time.Duration
	// MinSE is the smallest session interval the carrier accepts: an
	// INVITE, re-INVITE or UPDATE asking less is answered 422 with this
	// Min-SE. It is also the Min-SE the carrier offers. 0 accepts any
	// interval and offers min(90 s, SessionExpires).
	MinSE time.Duration
	// NoSessionTimer makes the carrier one without RFC 4028 support: it
	// ignores Session-Expires in what it receives, answers without
	// session timer header fields, never refreshes and never lets a
	// session expire.
	NoSessionTimer bool
	// RefreshWithReinvite makes the carrier refresh sessions with a
	// re-INVITE (its unchanged SDP) even when the SBC allows UPDATE.
	RefreshWithReinvite bool
	// DropFirstReinviteResponse makes the carrier a lossy UDP peer: after
	// each re-INVITE it sends (Hold, Resume, Reinvite, a refresh by
	// re-INVITE), the first datagram from the SBC's address is dropped
	// before it is read, as if lost: the first copy of the SBC's response,
	// so that only its retransmission (after 500 ms, RFC 3261 §13.3.1.4)
	// gets through. Hold and the others then take about half a second.
	// It needs Network "udp". The drop is blind: keep one call at a time
	// on such a carrier, and note that an SBC that answers only after 200
	// ms sends a 100 Trying first, which is then the datagram dropped.
	// Carrier.Dropped counts the drops.
	DropFirstReinviteResponse bool
	// SDPMediaIP, when valid, is the media address the carrier writes in
	// its SDP instead of the one its RTP comes from: a carrier behind NAT,
	// for the SBC's latching. Use a loopback address nobody listens on
	// (e.g. 127.0.0.9), so that media sent to it goes nowhere.
	SDPMediaIP netip.Addr
	// RTCPMux makes the carrier support RTCP multiplexing (RFC 5761): its
	// offers have a=rtcp-mux, and so do its answers to offers that have
	// it; once both SDPs of an exchange have it, Call.SendRTCP sends on
	// the RTP port and the SBC's RTCP is expected there (Call.RTCPMux).
	// Without it, the carrier ignores a=rtcp-mux in the SBC's offers.
	RTCPMux bool
	// RTCPPort gives each call an RTCP port of its own (Call.RTCPAddr, the
	// system picks the number), written in the carrier's SDP as a=rtcp (RFC
	// 3605): without multiplexing, RTCP is sent from it and the SBC's
	// arrives on it. Without RTCPPort a call receives RTCP only
	// multiplexed on its RTP port, and sends it from there to the port
	// after the SBC's RTP port.
	RTCPPort bool
}

// Carrier is a fake PSTN carrier: a SIP user agent on a loopback port with
// an RTP endpoint per call. NewCarrier starts one; Close stops it.
type Carrier struct {
	p *fakepeer.Peer
}

// NewCarrier starts a fake carrier listening on cfg.Listen. Its SIP logs go
// to cfg.Logger. Close it when done, e.g. with t.Cleanup.
func NewCarrier(cfg Config) (*Carrier, error) {
	if cfg.Network == "" {
		cfg.Network = "udp"
	}
	if len(cfg.Formats) == 0 {
		cfg.Formats = Formats
	}
	p, err := fakepeer.New(fakepeer.Config{
		Name:    "fake-carrier",
		Network: cfg.Network,
		Listen:  cfg.Listen,
		Formats: cfg.Formats,
		Stream:  Stream,
		Expect:  2,
		Logger:  cfg.Logger,

		SessionExpires:            cfg.SessionExpires,
		MinSE:                     cfg.MinSE,
		NoSessionTimer:            cfg.NoSessionTimer,
		RefreshWithReinvite:       cfg.RefreshWithReinvite,
		DropFirstReinviteResponse: cfg.DropFirstReinviteResponse,
		SDPMediaIP:                cfg.SDPMediaIP,
		RTCPMux:                   cfg.RTCPMux,
		RTCPPort:                  cfg.RTCPPort,
	}, cfg.Behavior.internal())
	if err != nil {
		return nil, err
	}
	return &Carrier{p: p}, nil
}

// Addr is the carrier's SIP address: the address to give a Bridge as its
// carrier peer (trunk.Config.Peer), and the source of the calls it places.
func (c *Carrier) Addr() netip.AddrPort { return c.p.Addr() }

// Dial places a call from the number from to the number to at target, the
// carrier side of the SBC under test (for a Bridge, Bridge.TrunkAddr). The
// numbers are the user parts of the From and of the Request-URI and To, as
// a carrier sends them (national or E.164, without "+" or with it). The
// INVITE offers Config.Formats over plain RTP (Early Offer).
//
// Dial returns once the call is answered: the returned Call's media is then
// set up, and SendAudio and TalkWith can be used at once. Provisional
// responses are recorded (see Call.Provisional); a 183 with SDP sets up
// early media. When the call is not answered Dial returns a nil Call and
// an error: a *sip.StatusError holding the final response when the SBC
// rejected the call, sip.ErrCancelled when ctx ended first (the INVITE is
// cancelled), sip.ErrTransport or sip.ErrNoResponse when target could not
// be reached or did not answer, sip.ErrClosed after Close, or an error
// describing an answer whose SDP the carrier cannot use (the call is then
// hung up).
func (c *Carrier) Dial(ctx context.Context, target netip.AddrPort, from, to string) (*Call, error) {
	return wrap(c.p.Dial(ctx, target, from, to))
}

// DialWithHeaders is Dial with extra header fields in the INVITE, e.g.
// Privacy and P-Asserted-Identity for a caller who withholds its number. A
// header named "From" replaces the From's display name and URI (the tag is
// still added); the others are appended.
func (c *Carrier) DialWithHeaders(ctx context.Context, target netip.AddrPort, from, to string, headers ...sip.Header) (*Call, error) {
	return wrap(c.p.DialWithHeaders(ctx, target, from, to, headers...))
}

// Accept waits for the next call the carrier receives and returns it,
// in the order the INVITEs arrived. It returns as soon as the INVITE is
// in, with the call's media already set up from the offer: the call is
// then answered or rejected as the Behavior in force says, so wait on the
// Call's Answered or Done for the outcome. Calls whose offer the carrier
// cannot accept are rejected with 488 and still returned.
//
// Accept returns ctx's error when ctx ends first; it does not return
// because of Close. Up to 64 calls wait to be accepted; later ones are
// handled but not returned.
func (c *Carrier) Accept(ctx context.Context) (*Call, error) {
	return wrap(c.p.Accept(ctx))
}

// SetBehavior changes how the carrier treats the calls it receives from
// now on; calls already received keep the Behavior they arrived under.
// It is safe to call while calls are in progress.
func (c *Carrier) SetBehavior(b Behavior) { c.p.SetBehavior(b.internal()) }

// Dropped is the number of datagrams Config.DropFirstReinviteResponse
// made the carrier drop.
func (c *Carrier) Dropped() int { return c.p.Dropped() }

// Close hangs up every call of the carrier (BYE for answered calls, 480
// for received calls not yet answered), waits for them to end, stops
// listening and frees every socket. Dial returns sip.ErrClosed afterwards.
// Calling Close again returns nil.
func (c *Carrier) Close() error { return c.p.Close() }
