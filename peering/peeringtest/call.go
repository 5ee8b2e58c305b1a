package peeringtest

import (
	"context"
	"net/netip"
	"time"

	"github.com/byocp/byocp/internal/fakepeer"
	"github.com/byocp/byocp/internal/mediapeer"
	"github.com/byocp/byocp/sdp"
	"github.com/byocp/byocp/sip"
	"github.com/byocp/byocp/trunk/trunktest"
)

// Behavior says how a Zoom peer treats the calls it receives. The zero value
// answers every call at once with 200 OK and SDP.
type Behavior struct {
	// Status is the final response: 0 (or any code below 300) answers with
	// 200 OK; 300-699 rejects the call with that code, e.g. 486 for a busy
	// user or 503 to make the SBC fail over to its next Zoom peer.
	Status int
	// Ring sends 180 Ringing (unless EarlyMedia is set) and waits this long
	// before the final response. A CANCEL ends the wait: the call is then
	// over with status 487.
	Ring time.Duration
	// EarlyMedia sends 183 Session Progress with the SDP answer before the
	// final response, so that media flows before the answer (use Ring to
	// give it time).
	EarlyMedia bool
	// AnswerWithoutSDP sends the 200 OK without SDP: the answer is then
	// only in the 183 of EarlyMedia, as some gateways do.
	AnswerWithoutSDP bool
	// Reason is the reason phrase of a rejection; default a standard one
	// for the code ("Busy Here" for 486).
	Reason string
	// Headers are extra header fields of a rejection, e.g. a Warning,
	// Retry-After or a Proxy-Authenticate challenge.
	Headers []sip.Header
	// RejectReoffers, when 300-699, makes the Zoom peer refuse the SBC's
	// re-offers with this status, e.g. 488 to test that the SBC rolls
	// back: every re-INVITE (with or without SDP) and every UPDATE with
	// SDP gets it. Refreshes by UPDATE without SDP, INFO and other
	// requests are still answered 200. It applies to the calls received
	// while this Behavior is in force and to the calls placed then;
	// Call.RejectReoffers changes it for one call.
	RejectReoffers int
	// Refresher is who refreshes the session of a received call whose
	// INVITE offers a session timer (Session-Expires) but leaves the
	// refresher to the Zoom peer: "" or sip.RefresherUAC lets the SBC
	// refresh, sip.RefresherUAS makes the Zoom peer the refresher (it
	// then refreshes at half the interval; see Call.StopRefreshing).
	Refresher string
	// AcceptRefer makes the Zoom peer accept a REFER (call transfer) from the
	// SBC as if it carried the transfer out: 202 Accepted, then NOTIFYs
	// with message/sipfrag "SIP/2.0 100 Trying" (active) and "SIP/2.0
	// 200 OK" (terminated). Without it a REFER is answered 200 and
	// recorded like any other request.
	AcceptRefer bool
	// AcceptT38 makes the Zoom peer accept T.38 fax, as a fax-capable
	// gateway does: in an offer from the SBC (a re-INVITE switching the
	// call to fax, or an INVITE) the first active m=image udptl t38
	// stream is answered with m=image on a UDPTL port of the call's own
	// (Call.UDPTLAddr), with the offer's a=T38... attributes echoed, and
	// Call.SendUDPTL sends to the SBC's image stream from then on.
	// Without it the Zoom peer is a voice-only endpoint: the image stream is
	// rejected with port 0 in its m-line, and an offer without an active
	// audio stream (m=image in place of m=audio) gets 488. A call that
	// offered T.38 itself (ReinviteOptions.T38) accepts it from then on,
	// as a fax gateway would.
	AcceptT38 bool
}

func (b Behavior) internal() fakepeer.Behavior { return fakepeer.Behavior(b) }

// Request is an in-dialog request a Call received from the SBC, with the
// status the Zoom peer answered it with (see trunktest.Request for the
// fields). It is the fake carrier's type, so that a helper can take the
// calls of both test peers alike.
type Request = trunktest.Request

// ReinviteOptions say what a re-offer of Call.Reinvite changes (see
// trunktest.ReinviteOptions for the fields). On the Zoom peer's SRTP calls
// NewKey offers a new SDES key for every a=crypto line of its current SDP,
// same suites and tags: a re-key. It is the fake carrier's type.
type ReinviteOptions = trunktest.ReinviteOptions

// SessionTimer is a call's RFC 4028 session timer as the Zoom peer runs it
// (see trunktest.SessionTimer for the fields). It is the fake carrier's
// type.
type SessionTimer = trunktest.SessionTimer

// MediaStats counts the SRTP packets of one call (see
// trunktest.MediaStats for the counters). It is the fake carrier's type, so
// that a helper can take calls of both test peers alike.
type MediaStats = trunktest.MediaStats

// UDPTLStats counts the T.38 fax datagrams of one call (see
// trunktest.UDPTLStats for the counters). It is the fake carrier's type.
// UDPTL is not encrypted: a T.38 image stream is plain UDPTL on the Zoom
// leg too.
type UDPTLStats = trunktest.UDPTLStats

// RTCPPacket is an RTCP packet a call received (see Call.RTCP). It is the
// fake carrier's type.
type RTCPPacket = trunktest.RTCPPacket

// Talker is the other end of Call.TalkWith: a *Call of either test peer,
// this package's or a *trunktest.Call. It is trunktest's type, so that the
// TalkWith methods of both packages' calls have the same signature.
type Talker = trunktest.Talker

// talker adapts a Talker to the engine's.
type talker struct{ Talker }

func (t talker) IntactPackets() uint64 { return t.Media().Intact }

// Call is one call of a Zoom peer: placed by Dial or DialWithHeaders, or
// received and returned by Accept. Its methods are safe for concurrent use.
type Call struct {
	c *fakepeer.Call
}

func wrap(c *fakepeer.Call, err error) (*Call, error) {
	if err != nil {
		return nil, err
	}
	return &Call{c: c}, nil
}

// Answered returns a channel that is closed when the call is answered. For
// a placed call it is closed by the time Dial returns; for a received call
// it is closed once the Zoom peer's 200 OK was acknowledged. It is never
// closed for a call that was rejected or cancelled, so wait on Done too.
func (c *Call) Answered() <-chan struct{} { return c.c.Answered() }

// Done returns a channel that is closed when the call is over: rejected,
// cancelled, hung up by either side or failed. The call's media port is
// closed by then, and Status and Media hold their final values.
func (c *Call) Done() <-chan struct{} { return c.c.Done() }

// Wait blocks until the call is over (see Done) and returns nil, or
// returns ctx's error if ctx ends first.
func (c *Call) Wait(ctx context.Context) error { return c.c.Wait(ctx) }

// Status is the call's final status: 200 once answered (also after the
// hang-up), the rejection code for a rejected call, 487 for a cancelled
// one, 488 for a received call whose offer the Zoom peer could not accept,
// and 0 while the call is pending or when it failed otherwise.
func (c *Call) Status() int { return c.c.Status() }

// SetupTime is the time from the INVITE (sent for a placed call, received
// for a received one) to the answer; 0 until the call is answered.
func (c *Call) SetupTime() time.Duration { return c.c.SetupTime() }

// Provisional returns the status codes of the provisional responses
// (180, 183, ...; not 100) a placed call received, in order. It is empty
// for received calls.
func (c *Call) Provisional() []int { return c.c.Provisional() }

// Suite is the SDES crypto suite the call's SRTP uses, e.g.
// "AES_CM_128_HMAC_SHA1_80": the one the SBC chose from the offer of a
// placed call, or the one the Zoom peer chose from the SBC's offer of a
// received call. It is "" until it is known.
func (c *Call) Suite() string { return c.c.Suite() }

// Invite is the INVITE a received call arrived with, as the SBC sent it:
// use it to check the Request-URI, From, P-Asserted-Identity and other
// headers. It is nil for placed calls.
func (c *Call) Invite() *sip.Invite { return c.c.Invite() }

// AnswerResponse is the 2xx response a placed call was answered with, as
// the SBC sent it. It is the zero Response for received calls.
func (c *Call) AnswerResponse() sip.Response { return c.c.AnswerResponse() }

// LocalSDP is the SDP body the Zoom peer sent last in a completed
// offer/answer exchange: the offer of a placed call, the answer of a
// received one (nil if the offer was not acceptable), then its answer or
// offer of the latest re-offer.
func (c *Call) LocalSDP() []byte { return c.c.LocalSDP() }

// RemoteSDP is the SDP body the Zoom peer received last: the SBC's answer
// to a placed call (the latest, from a 183 or the 200), the SBC's offer of
// a received one, then the SBC's offer or answer of the latest re-offer.
func (c *Call) RemoteSDP() []byte { return c.c.RemoteSDP() }

// CallID is the SIP Call-ID of this call leg, the one between the Zoom
// peer and the SBC.
func (c *Call) CallID() string { return c.c.CallID() }

// SendAudio sends count SRTP packets of the Zoom peer's pattern (stream
// 2), 20 ms apart, to the media address in the SBC's latest SDP, with the
// payload type of the codec negotiated and the current keys. It blocks
// until the last packet is sent (about count*20 ms) and returns nil, or
// returns early with ctx's error when ctx ends. Sequence numbers and
// timestamps continue across calls to SendAudio. A received call can send
// at once, before it is answered (as early media with
// Behavior.EarlyMedia); after the call is over SendAudio returns an error.
//
// A call sends SRTP only during SendAudio, TalkWith and StartAudio: an
// idle call is silent, which is how a test makes the SBC's media timeout
// fire. SendAudio sends whatever the direction negotiated (on hold too),
// so that a test decides what flows. It waits while a StartAudio stream
// runs.
func (c *Call) SendAudio(ctx context.Context, count int) error { return c.c.SendAudio(ctx, count) }

// SendDTMF sends digit ('0'-'9', '*', '#', 'A'-'D') as an RFC 4733 event
// in the call's media, lasting d: a packet every 50 ms and the end packet
// three times, in the call's stream (the audio after it continues its
// sequence numbers). It returns once the event is sent.
func (c *Call) SendDTMF(ctx context.Context, digit byte, d time.Duration) error {
	return c.c.SendDTMF(ctx, digit, d)
}

// DTMF returns the digits the call received as RFC 4733 events in its
// media, each once, in order.
func (c *Call) DTMF() string { return c.c.DTMF() }

// StartAudio sends the Zoom peer's pattern in the background, one packet
// every 20 ms as SendAudio does, until StopAudio, until ctx ends or until
// the call ends: it keeps media flowing while a test waits for timers. It
// returns an error when the call is over or has no media address to send
// to yet, and does nothing while a stream already runs.
func (c *Call) StartAudio(ctx context.Context) error { return c.c.StartAudio(ctx) }

// StopAudio stops the stream of StartAudio and returns once its last
// packet is sent; from then on the call is silent (a "dead" media path
// for the SBC's media timeout). It does nothing when no stream runs.
func (c *Call) StopAudio() { c.c.StopAudio() }

// MediaAddr is the local address the call's SRTP is received on and sent
// from; it changes with ReinviteOptions.MoveMedia.
func (c *Call) MediaAddr() netip.AddrPort { return c.c.MediaAddr() }

// Hold puts the SBC's side of the call on hold, as a Zoom client does: a
// re-INVITE offering the Zoom peer's current SDP (same keys) with
// a=sendonly. It returns once the re-INVITE is answered and ACKed, nil
// for a 2xx whose SDP answer the Zoom peer can use (Direction is then
// sdp.SendOnly when the SBC answered recvonly), a *sip.StatusError for a
// failure status (491 on glare: retry after GlareDelay), sip.ErrPending
// while the SBC's own offer is being answered, sip.ErrNotAnswered before
// the call is answered, or another error for no answer or an unusable one.
// A failed Hold leaves the call as it was. The re-offers of a call, the
// Zoom peer's and the SBC's, are handled one at a time: Hold waits for
// one in progress.
func (c *Call) Hold(ctx context.Context) error { return c.c.Hold(ctx) }

// Resume takes the call off hold: a re-INVITE with a=sendrecv, returning
// as Hold does.
func (c *Call) Resume(ctx context.Context) error { return c.c.Resume(ctx) }

// Reinvite sends a re-offer with the changes o asks for (see
// ReinviteOptions): a re-INVITE, or an UPDATE with o.UseUPDATE. It
// returns as Hold does; on success the new SDP is in force (the media
// sends to the SBC's new address with the codec and keys agreed: with
// o.NewKey the Zoom peer encrypts with its new key once the SBC answered),
// on failure the call stays as it was. The o= version goes up only when
// the SDP changes: the zero ReinviteOptions on a call that is not on hold
// re-offers the unchanged SDP.
func (c *Call) Reinvite(ctx context.Context, o ReinviteOptions) error {
	return c.c.Reinvite(ctx, fakepeer.ReinviteOptions(o))
}

// Refer asks the SBC to transfer the call to target, a SIP URI such as
// "sip:+14155550123@192.0.2.1" (REFER with Refer-To, RFC 3515), and
// returns once the SBC answered: a refusal is a *sip.StatusError.
func (c *Call) Refer(ctx context.Context, target string) error { return c.c.Refer(ctx, target) }

// SendInfo sends a SIP INFO with body of contentType in the answered
// call, e.g. "application/dtmf-relay" with "Signal=5\r\nDuration=160\r\n",
// and returns once the SBC answered it (a failure status is a
// *sip.StatusError). The other end of the call lists what it received in
// Requests.
func (c *Call) SendInfo(ctx context.Context, contentType string, body []byte) error {
	return c.c.SendInfo(ctx, contentType, body)
}

// Refresh sends an RFC 4028 session refresh now, whoever the refresher
// is: an UPDATE without SDP when the SBC allows UPDATE (its Allow header
// field) and Config.RefreshWithReinvite is off, else a re-INVITE with the
// Zoom peer's current SDP unchanged, o= version included. It carries the
// session timer's Session-Expires and returns as Hold does.
func (c *Call) Refresh(ctx context.Context) error { return c.c.Refresh(ctx) }

// StopRefreshing makes the Zoom peer stop refreshing the call's session,
// as a peer whose signalling died silently: the SBC should then end the
// call when the session expires. The Zoom peer still answers requests. It
// changes nothing while the SBC is the refresher.
func (c *Call) StopRefreshing() { c.c.StopRefreshing() }

// SessionTimer returns the call's session timer as negotiated by the
// INVITE and the latest refresh.
func (c *Call) SessionTimer() SessionTimer { return SessionTimer(c.c.SessionTimer()) }

// Direction is the call's media direction from the Zoom peer's point of
// view, as negotiated last: sdp.SendRecv, sdp.SendOnly (the Zoom peer
// holds the SBC's side), sdp.RecvOnly (the Zoom peer is on hold: the far
// end held it) or sdp.Inactive; "" before anything was negotiated. A
// re-INVITE the Zoom peer answers changes it before its answer is sent,
// so when the SBC's other leg sees its hold answered, the Zoom peer's
// Direction already shows it.
func (c *Call) Direction() sdp.Direction { return c.c.Direction() }

// Codec is the encoding name of the codec the call uses, e.g. "PCMU".
func (c *Call) Codec() string { return c.c.Codec() }

// Requests returns the in-dialog requests the Zoom peer received from the
// SBC on this call, oldest first (BYE and OPTIONS are not listed). A
// request is listed before its answer is sent, or for a re-INVITE without
// SDP once the ACK carrying the SBC's answer was taken.
func (c *Call) Requests() []Request {
	rs := c.c.Requests()
	out := make([]Request, len(rs))
	for i, r := range rs {
		out[i] = Request(r)
	}
	return out
}

// WaitRequests waits until the Zoom peer has received at least n
// in-dialog requests on this call and returns them all (see Requests). It
// returns what was received and an error when ctx ends or the call ends
// first.
func (c *Call) WaitRequests(ctx context.Context, n int) ([]Request, error) {
	rs, err := c.c.WaitRequests(ctx, n)
	out := make([]Request, len(rs))
	for i, r := range rs {
		out[i] = Request(r)
	}
	return out, err
}

// RejectReoffers makes the Zoom peer answer the SBC's re-offers on this
// call with status (see Behavior.RejectReoffers); 0 accepts them again.
func (c *Call) RejectReoffers(status int) { c.c.RejectReoffers(status) }

// GlareDelay is how long to wait before retrying a re-offer that got 491
// Request Pending (RFC 3261 §14.1): 2.1 to 4 s for a call the Zoom peer
// placed, 0 to 2 s for one it received; 0 before the call is answered.
func (c *Call) GlareDelay() time.Duration { return c.c.GlareDelay() }

// TalkWith sends count packets of pattern audio from c and from other at
// the same time, 20 ms apart; other is typically the SBC's other leg of
// the same call, a *trunktest.Call. It then waits up to a second for
// both to have received count packets intact, so that c.Media() and
// other.Media() show the outcome in both directions when it returns. It
// returns the first send error, or ctx's error if ctx ends while waiting;
// packets lost on the way are not an error (check Media).
func (c *Call) TalkWith(ctx context.Context, other Talker, count int) error {
	return c.c.TalkWith(ctx, talker{other}, count)
}

// Media returns a snapshot of the call's packet counters.
func (c *Call) Media() MediaStats { return MediaStats(c.c.Media()) }

// T38 reports whether the call is in fax mode: its last offer/answer
// exchange negotiated a T.38 image stream (a ReinviteOptions.T38 re-offer
// the SBC accepted, or an offer from the SBC the Zoom peer accepted with
// Behavior.AcceptT38). It is false again after a re-offer back to audio.
// While it is true, Direction and Codec still describe the audio stream
// as it was before the fax.
func (c *Call) T38() bool { return c.c.T38() }

// SendUDPTL sends data as one UDPTL datagram, byte for byte, from the
// call's UDPTL port (UDPTLAddr) to the image stream of the SBC's latest
// SDP. The Zoom peer does not read or write UDPTL itself (sequence numbers,
// IFP packets, redundancy): data is whatever the test wants the SBC to
// relay. It returns an error when the call is over or not in fax mode
// (see T38).
func (c *Call) SendUDPTL(data []byte) error { return c.c.SendUDPTL(data) }

// UDPTL returns copies of the UDPTL datagrams that arrived on the call's
// UDPTL port, oldest first, whatever their source; nil before the call's
// first T.38 image stream.
func (c *Call) UDPTL() [][]byte { return c.c.UDPTL() }

// WaitUDPTL waits until at least n UDPTL datagrams arrived on the call's
// UDPTL port and returns them all (see UDPTL). It returns what arrived
// and an error when ctx ends or the call ends first.
func (c *Call) WaitUDPTL(ctx context.Context, n int) ([][]byte, error) { return c.c.WaitUDPTL(ctx, n) }

// UDPTLStats returns the call's UDPTL datagram counters.
func (c *Call) UDPTLStats() UDPTLStats { return UDPTLStats(c.c.UDPTLStats()) }

// UDPTLAddr is the local address of the call's UDPTL port, the one its
// m=image line advertises: opened on the media address for the call's
// first T.38 image stream and kept until the call ends. It is the zero
// AddrPort before.
func (c *Call) UDPTLAddr() netip.AddrPort { return c.c.UDPTLAddr() }

// SendRTCP sends pkt, a plain RTCP compound packet the test built (a
// sender or receiver report, say), to the SBC as the call's last
// offer/answer exchange says: on the RTP ports when it multiplexes RTCP
// (RTCPMux), otherwise from the call's RTCP port (Config.RTCPPort) or its
// RTP port to the SBC's RTCP port, the one after its RTP port. It is sent
// as SRTCP with the call's key. It returns an error when pkt is not RTCP
// or the SBC's address is not known.
func (c *Call) SendRTCP(pkt []byte) error { return c.c.SendRTCP(pkt) }

// RTCP returns the RTCP packets that arrived on the call's RTP port or
// its RTCP port, oldest first, whatever their source. SRTCP is
// decrypted; what does not authenticate is dropped.
func (c *Call) RTCP() []RTCPPacket { return rtcpPackets(c.c.RTCP()) }

// WaitRTCP waits until at least n RTCP packets arrived (see RTCP) and
// returns them all. It returns what arrived and an error when ctx ends or
// the call ends first.
func (c *Call) WaitRTCP(ctx context.Context, n int) ([]RTCPPacket, error) {
	got, err := c.c.WaitRTCP(ctx, n)
	return rtcpPackets(got), err
}

// RTCPMux reports whether the call's last offer/answer exchange
// multiplexes RTCP on the RTP ports (RFC 5761): the Zoom peer's SDP and the
// SBC's both have a=rtcp-mux.
func (c *Call) RTCPMux() bool { return c.c.RTCPMux() }

// RTCPAddr is the local address of the call's RTCP port with
// Config.RTCPPort; the zero AddrPort without.
func (c *Call) RTCPAddr() netip.AddrPort { return c.c.RTCPAddr() }

// rtcpPackets converts the RTCP packets of the fake peers' engine.
func rtcpPackets(in []mediapeer.RTCPPacket) []RTCPPacket {
	out := make([]RTCPPacket, len(in))
	for i, p := range in {
		out[i] = RTCPPacket(p)
	}
	return out
}

// Hangup ends the call: with BYE when it is answered and still up, or, for
// a received call not yet answered, by rejecting it with 480. It returns
// nil when the call had already ended, and an error when the BYE could not
// be sent or was refused (the call counts as ended anyway).
func (c *Call) Hangup(ctx context.Context) error { return c.c.Hangup(ctx) }

// HungUpByPeer reports whether the SBC ended the answered call with a BYE.
// It is false while the call is up, when the Zoom peer hung up, and for
// calls that were never answered.
func (c *Call) HungUpByPeer() bool { return c.c.HungUpByPeer() }

// Description summarises the call for test failure messages: status,
// setup time, packet counts and SRTP suite.
func (c *Call) Description() string { return c.c.Description() }
