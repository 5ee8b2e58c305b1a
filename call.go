package byocp

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/byocp/byocp/media"
	"github.com/byocp/byocp/sdp"
	"github.com/byocp/byocp/sip"
)

// offerSuite is the single SDES suite byocp offers to Zoom.
const offerSuite = sdp.SuiteAESCM128HMACSHA180

// hangupTimeout bounds the BYE sent when a call is torn down.
const hangupTimeout = 5 * time.Second

// side is what the Bridge needs of trunk.Trunk and peering.Peering.
type side interface {
	Parties(inv *sip.Invite) (from, to sip.Party, err error)
	Dial(ctx context.Context, from, to sip.Party, offer []byte, onProvisional func(sip.Response)) (*sip.ClientCall, error)
	Codecs() []string
}

// callError is a failure to send to the caller as a final response.
type callError struct {
	status int
	reason string
	detail string
}

func (e *callError) Error() string { return fmt.Sprintf("%d %s: %s", e.status, e.reason, e.detail) }

func notAcceptable(format string, args ...any) *callError {
	return &callError{status: 488, reason: "Not Acceptable Here", detail: fmt.Sprintf(format, args...)}
}

// call is one call through the Bridge: an incoming leg, an outgoing leg and
// the relay between them.
type call struct {
	b      *Bridge
	log    *slog.Logger
	rec    CallRecord
	in     *sip.ServerCall
	inSide side
	out    side
	inZoom bool // the incoming leg is the Zoom leg

	relay     *media.Relay
	inPort    *media.Port
	outPort   *media.Port
	inOrigin  *sdp.Origin
	outOrigin *sdp.Origin

	inOffer     sdp.Media  // the caller's offer
	inCrypto    sdp.Crypto // Zoom's crypto line we answer (incoming Zoom leg)
	inLocalKey  []byte     // our key on the incoming Zoom leg
	outOffer    sdp.Media  // what we offered on the outgoing leg
	lastInSDP   []byte     // last SDP sent to the caller
	earlyAnswer []byte     // SDP of the last provisional response with one
}

func newCall(b *Bridge, in *sip.ServerCall, dir Direction) *call {
	id := make([]byte, 8)
	_, _ = rand.Read(id)
	c := &call{b: b, in: in, inZoom: dir == ZoomToCarrier}
	c.rec = CallRecord{ID: hex.EncodeToString(id), Direction: dir, Start: time.Now()}
	if c.inZoom {
		c.inSide, c.out = b.peering, b.trunk
		c.rec.ZoomCallID = in.CallID()
	} else {
		c.inSide, c.out = b.trunk, b.peering
		c.rec.CarrierCallID = in.CallID()
	}
	c.log = b.log.With("call", c.rec.ID, "direction", string(dir))
	return c
}

// mediaSide maps a leg to the relay's side: A is the carrier, B is Zoom.
func (c *call) mediaSide(zoom bool) media.Side {
	if zoom {
		return media.SideB
	}
	return media.SideA
}

func (c *call) run() {
	defer c.finish()
	inv := c.in.Invite()
	c.log.Info("incoming call", "from", inv.From.URI.User, "to", inv.RequestURI.User, "source", inv.Source.String())

	from, to, err := c.inSide.Parties(inv)
	if err != nil {
		c.reject(&callError{status: 484, reason: "Address Incomplete", detail: err.Error()})
		return
	}
	c.rec.Caller, c.rec.Callee = from.Number, to.Number

	if cerr := c.acceptOffer(inv); cerr != nil {
		c.reject(cerr)
		return
	}
	if cerr := c.setupMedia(); cerr != nil {
		c.reject(cerr)
		return
	}
	offer, err := sdp.Marshal(c.outOrigin, c.outOffer)
	if err != nil {
		c.reject(&callError{status: 500, reason: "Server Internal Error", detail: err.Error()})
		return
	}

	// The outgoing INVITE lives as long as the caller's and the Bridge's.
	ctx, cancel := context.WithCancel(c.in.Context())
	stop := context.AfterFunc(c.b.ctx, cancel)
	out, err := c.out.Dial(ctx, from, to, offer, c.onProvisional)
	stop()
	cancel()
	if err != nil {
		c.dialFailed(err)
		return
	}
	if c.inZoom {
		c.rec.CarrierCallID = out.CallID()
	} else {
		c.rec.ZoomCallID = out.CallID()
	}

	answer := out.Answer()
	body := answer.Body
	if !answer.HasSDP() {
		body = c.earlyAnswer // the answer may have come in a 183 already
	}
	inSDP, cerr := c.applyAnswer(body)
	if cerr != nil {
		c.log.Warn("unusable answer, hanging up", "error", cerr)
		c.hangupLeg(out.Hangup)
		c.reject(cerr)
		return
	}
	if err := c.in.Answer(c.b.ctx, inSDP); err != nil {
		c.log.Info("caller did not take the answer", "error", err)
		done := make(chan struct{})
		go func() { c.hangupLeg(out.Hangup); close(done) }()
		c.hangupLeg(c.in.Hangup) // a no-op unless the 200 was sent and the dialog is up
		<-done
		c.rec.Status, c.rec.Reason = 200, err.Error()
		if errors.Is(err, sip.ErrCancelled) {
			c.rec.Status, c.rec.Reason = 487, "cancelled by caller"
		}
		c.rec.HangupBy = HangupBridge
		return
	}
	c.rec.Answered = time.Now()
	c.rec.Status = 200
	c.log.Info("call answered", "setup", c.rec.SetupTime().String())

	select {
	case <-c.in.Done():
		c.rec.HangupBy = c.legName(c.inZoom)
		c.rec.Reason = string(c.in.Cause())
		c.hangupLeg(out.Hangup)
	case <-out.Done():
		c.rec.HangupBy = c.legName(!c.inZoom)
		c.rec.Reason = string(out.Cause())
		c.hangupLeg(c.in.Hangup)
	case <-c.b.ctx.Done():
		c.rec.HangupBy, c.rec.Reason = HangupBridge, "bridge closed"
		done := make(chan struct{})
		go func() { c.hangupLeg(out.Hangup); close(done) }()
		c.hangupLeg(c.in.Hangup)
		<-done
	}
}

func (c *call) legName(zoom bool) string {
	if zoom {
		return HangupZoom
	}
	return HangupCarrier
}

func (c *call) hangupLeg(hangup func(context.Context) error) {
	ctx, cancel := context.WithTimeout(context.Background(), hangupTimeout)
	defer cancel()
	if err := hangup(ctx); err != nil {
		c.log.Debug("hangup", "error", err)
	}
}

// acceptOffer checks the caller's offer against its leg's rules and builds
// the offer for the other leg.
func (c *call) acceptOffer(inv *sip.Invite) *callError {
	if len(inv.Body) == 0 || !strings.HasPrefix(strings.ToLower(inv.ContentType), "application/sdp") {
		return notAcceptable("INVITE without SDP offer (Early Offer required)")
	}
	offer, err := sdp.Parse(inv.Body)
	if err != nil {
		return notAcceptable("SDP offer: %v", err)
	}
	if offer.Port == 0 || !offer.Addr.IsValid() {
		return notAcceptable("SDP offer has no active audio stream")
	}
	c.inOffer = offer
	if c.inZoom {
		if offer.Proto != sdp.ProtoRTPSAVP {
			return notAcceptable("Zoom leg requires RTP/SAVP, offer has %s", offer.Proto)
		}
		prefs := make([]sdp.Suite, 0, len(c.b.peering.SRTPSuites()))
		for _, s := range c.b.peering.SRTPSuites() {
			prefs = append(prefs, sdp.Suite(s))
		}
		cr, ok := sdp.SelectCrypto(offer.Crypto, prefs)
		if !ok {
			return notAcceptable("no acceptable SDES crypto suite offered")
		}
		c.inCrypto = cr
	} else if offer.Proto != sdp.ProtoRTPAVP {
		return notAcceptable("carrier leg requires RTP/AVP, offer has %s", offer.Proto)
	}
	formats := sdp.FilterFormats(sdp.FilterFormats(offer.Formats, c.inSide.Codecs()), c.out.Codecs())
	if !sdp.HasAudioCodec(formats) {
		return notAcceptable("no codec in common with the other leg")
	}
	c.outOffer = sdp.Media{
		Addr:      c.b.cfg.Media.advertise(),
		Proto:     sdp.ProtoRTPAVP,
		Formats:   formats,
		Ptime:     offer.Ptime,
		Direction: offer.Direction,
	}
	if !c.inZoom {
		c.outOffer.Proto = sdp.ProtoRTPSAVP
		cr, err := sdp.NewCrypto(1, offerSuite)
		if err != nil {
			return &callError{status: 500, reason: "Server Internal Error", detail: err.Error()}
		}
		c.outOffer.Crypto = []sdp.Crypto{cr}
		c.rec.SRTPSuite = string(offerSuite)
	} else {
		c.rec.SRTPSuite = string(c.inCrypto.Suite)
	}
	return nil
}

// setupMedia takes a port per leg, keys the relay and starts it.
func (c *call) setupMedia() *callError {
	var err error
	if c.inPort, err = c.b.ports.Allocate(); err != nil {
		c.log.Warn("no media port", "error", err)
		return &callError{status: 503, reason: "Service Unavailable", detail: "no media ports"}
	}
	if c.outPort, err = c.b.ports.Allocate(); err != nil {
		c.log.Warn("no media port", "error", err)
		_ = c.inPort.Close()
		c.inPort = nil
		return &callError{status: 503, reason: "Service Unavailable", detail: "no media ports"}
	}
	c.outOffer.Port = c.outPort.Number()
	adv := c.b.cfg.Media.advertise()
	c.inOrigin, c.outOrigin = sdp.NewOrigin(adv), sdp.NewOrigin(adv)

	carrier, zoom := c.inPort, c.outPort
	if c.inZoom {
		carrier, zoom = c.outPort, c.inPort
	}
	c.relay = media.NewRelay(carrier, zoom, c.log)

	inLeg := media.LegConfig{Remote: netip.AddrPortFrom(c.inOffer.Addr, uint16(c.inOffer.Port))}
	outLeg := media.LegConfig{}
	if c.inZoom {
		local, err := sdp.NewCrypto(c.inCrypto.Tag, c.inCrypto.Suite)
		if err != nil {
			return &callError{status: 500, reason: "Server Internal Error", detail: err.Error()}
		}
		c.inLocalKey = local.KeySalt
		inLeg.SRTP = &media.SRTPConfig{Suite: string(c.inCrypto.Suite), LocalKey: c.inLocalKey, RemoteKey: c.inCrypto.KeySalt}
	} else {
		outLeg.SRTP = &media.SRTPConfig{Suite: string(offerSuite), LocalKey: c.outOffer.Crypto[0].KeySalt}
	}
	if err := c.relay.SetLeg(c.mediaSide(c.inZoom), inLeg); err != nil {
		return notAcceptable("caller media: %v", err)
	}
	if err := c.relay.SetLeg(c.mediaSide(!c.inZoom), outLeg); err != nil {
		return &callError{status: 500, reason: "Server Internal Error", detail: err.Error()}
	}
	c.relay.Start()
	return nil
}

// onProvisional relays 180/183 to the caller, with early media when the
// callee sent SDP.
func (c *call) onProvisional(res sip.Response) {
	var body []byte
	if res.HasSDP() {
		inSDP, cerr := c.applyAnswer(res.Body)
		if cerr != nil {
			c.log.Warn("early SDP ignored", "status", res.StatusCode, "error", cerr)
		} else {
			c.earlyAnswer = res.Body
			body = inSDP
		}
	}
	if err := c.in.Progress(res.StatusCode, res.Reason, body); err != nil {
		c.log.Debug("provisional not relayed", "status", res.StatusCode, "error", err)
	}
}

// applyAnswer checks the callee's answer, points the relay at the callee and
// returns the SDP answer for the caller.
func (c *call) applyAnswer(body []byte) ([]byte, *callError) {
	if len(body) == 0 {
		return nil, notAcceptable("answer without SDP")
	}
	ans, err := sdp.Parse(body)
	if err != nil {
		return nil, notAcceptable("SDP answer: %v", err)
	}
	if ans.Port == 0 || !ans.Addr.IsValid() {
		return nil, notAcceptable("answer rejected the audio stream")
	}
	formats, err := sdp.AnswerFormats(c.outOffer.Formats, ans.Formats)
	if err != nil {
		return nil, notAcceptable("SDP answer: %v", err)
	}
	outLeg := media.LegConfig{Remote: netip.AddrPortFrom(ans.Addr, uint16(ans.Port))}
	if c.outOffer.Proto == sdp.ProtoRTPSAVP {
		offered := c.outOffer.Crypto[0]
		if ans.Proto != sdp.ProtoRTPSAVP || len(ans.Crypto) != 1 || ans.Crypto[0].Tag != offered.Tag || ans.Crypto[0].Suite != offered.Suite {
			return nil, notAcceptable("Zoom answer must carry exactly one a=crypto matching the offered %s", offered.Suite)
		}
		outLeg.SRTP = &media.SRTPConfig{Suite: string(offered.Suite), LocalKey: offered.KeySalt, RemoteKey: ans.Crypto[0].KeySalt}
	} else if ans.Proto != sdp.ProtoRTPAVP || len(ans.Crypto) > 0 {
		return nil, notAcceptable("carrier answer must be RTP/AVP without a=crypto")
	}
	if err := c.relay.SetLeg(c.mediaSide(!c.inZoom), outLeg); err != nil {
		return nil, notAcceptable("callee media: %v", err)
	}

	for _, f := range formats {
		if !f.IsTelephoneEvent() && !f.IsComfortNoise() {
			c.rec.Codec = fmt.Sprintf("%s/%d", f.Name, f.ClockRate)
			break
		}
	}
	inAnswer := sdp.Media{
		Addr:      c.b.cfg.Media.advertise(),
		Port:      c.inPort.Number(),
		Proto:     c.inOffer.Proto,
		Formats:   inFormats(c.inOffer.Formats, formats),
		Ptime:     ans.Ptime,
		Direction: ans.Direction,
	}
	if c.inZoom {
		inAnswer.Crypto = []sdp.Crypto{{Tag: c.inCrypto.Tag, Suite: c.inCrypto.Suite, KeySalt: c.inLocalKey}}
	}
	if c.lastInSDP != nil {
		c.inOrigin.Bump()
	}
	out, err := sdp.Marshal(c.inOrigin, inAnswer)
	if err != nil {
		return nil, &callError{status: 500, reason: "Server Internal Error", detail: err.Error()}
	}
	if c.lastInSDP != nil && bytes.Equal(withoutOrigin(out), withoutOrigin(c.lastInSDP)) {
		return c.lastInSDP, nil // unchanged: keep the version (RFC 3264 §8)
	}
	c.lastInSDP = out
	return out, nil
}

// inFormats writes the answered formats with the caller's payload types.
func inFormats(offered, answered []sdp.Format) []sdp.Format {
	out := make([]sdp.Format, 0, len(answered))
	for _, a := range answered {
		f := a
		for _, o := range offered {
			if strings.EqualFold(o.Name, a.Name) && o.ClockRate == a.ClockRate {
				f.PayloadType = o.PayloadType
				break
			}
		}
		out = append(out, f)
	}
	return out
}

func withoutOrigin(s []byte) []byte {
	i := bytes.Index(s, []byte("\no="))
	if i < 0 {
		return s
	}
	j := bytes.IndexByte(s[i+1:], '\n')
	if j < 0 {
		return s
	}
	return append(append([]byte{}, s[:i]...), s[i+1+j:]...)
}

// dialFailed turns the outgoing leg's failure into the caller's final response.
func (c *call) dialFailed(err error) {
	var se *sip.StatusError
	switch {
	case errors.As(err, &se):
		code, reason := se.Response.StatusCode, se.Response.Reason
		if code < 400 {
			code, reason = 480, "Temporarily Unavailable" // redirects are not followed
		}
		var hdrs []sip.Header
		if ra := se.Response.Header("Retry-After"); ra != "" {
			hdrs = append(hdrs, sip.Header{Name: "Retry-After", Value: ra})
		}
		c.rec.Status, c.rec.Reason = code, "callee answered "+fmt.Sprint(se.Response.StatusCode)
		if err := c.in.Reject(code, reason, hdrs...); err != nil {
			c.log.Debug("final not relayed", "error", err)
		}
	case errors.Is(err, sip.ErrCancelled):
		if c.in.Cancelled() {
			c.rec.Status, c.rec.Reason = 487, "cancelled by caller"
			return
		}
		c.reject(&callError{status: 503, reason: "Service Unavailable", detail: "bridge closing"})
	default:
		c.log.Warn("other side unreachable", "error", err)
		c.reject(&callError{status: c.b.cfg.UnreachableStatus, reason: statusText(c.b.cfg.UnreachableStatus), detail: err.Error()})
	}
}

func statusText(code int) string {
	switch code {
	case 503:
		return "Service Unavailable"
	case 480:
		return "Temporarily Unavailable"
	case 408:
		return "Request Timeout"
	case 500:
		return "Server Internal Error"
	case 502:
		return "Bad Gateway"
	case 504:
		return "Server Time-out"
	}
	return "Call Failed"
}

// reject sends a final failure to the caller and records it.
func (c *call) reject(e *callError) {
	c.log.Info("call rejected", "status", e.status, "detail", e.detail)
	c.rec.Status, c.rec.Reason = e.status, e.detail
	var hdrs []sip.Header
	if e.status == 488 || e.status == 484 {
		hdrs = append(hdrs, sip.Header{Name: "Warning", Value: `399 byocp "` + sanitize(e.detail) + `"`})
	}
	if err := c.in.Reject(e.status, e.reason, hdrs...); err != nil {
		if errors.Is(err, sip.ErrCancelled) {
			c.rec.Status, c.rec.Reason = 487, "cancelled by caller"
		}
		c.log.Debug("final not sent", "error", err)
	}
}

func sanitize(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '"' || r == '\\' || r < 0x20 || r > 0x7e {
			return ' '
		}
		return r
	}, s)
	if len(s) > 120 {
		s = s[:120]
	}
	return s
}

// finish releases the relay and ports and reports the record.
func (c *call) finish() {
	if c.relay != nil {
		c.rec.Media = c.relay.Stats()
		_ = c.relay.Close()
	} else {
		if c.inPort != nil {
			_ = c.inPort.Close()
		}
		if c.outPort != nil {
			_ = c.outPort.Close()
		}
	}
	c.rec.End = time.Now()
	c.log.Info("call ended", "status", c.rec.Status, "hangup_by", c.rec.HangupBy, "reason", c.rec.Reason,
		"carrier_to_zoom", c.rec.Media.AtoB.Forwarded, "zoom_to_carrier", c.rec.Media.BtoA.Forwarded)
}
