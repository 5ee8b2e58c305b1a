package byocp

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/byocp/byocp/media"
	"github.com/byocp/byocp/sdp"
	"github.com/byocp/byocp/sip"
)

// hangupTimeout bounds the BYE sent when a call is torn down.
const hangupTimeout = 5 * time.Second

// side is what the Bridge needs of trunk.Trunk and peering.Peering.
type side interface {
	Parties(inv *sip.Invite) (from, to sip.Party, err error)
	Dial(ctx context.Context, from, to sip.Party, offer []byte, early sip.EarlyHooks) (*sip.ClientCall, error)
	Codecs() []string
	SessionTimers() sip.SessionTimers
	RelayInfo() []string
	ReferPolicy() sip.ReferPolicy
	NumberToE164(user string) (string, error)
	TargetURI(e164 string) sip.URI
	RelayT38() bool
	MediaLatch() media.Latch
	DTMFMode() media.DTMFMode
}

// callError is a failure to send to the caller as a final response.
type callError struct {
	status int
	reason string
	detail string
	// warn sends detail in a Warning header: only for problems with the
	// caller's own request, never for what the far leg sent.
	warn bool
	hdrs []sip.Header
}

func (e *callError) Error() string { return fmt.Sprintf("%d %s: %s", e.status, e.reason, e.detail) }

func notAcceptable(format string, args ...any) *callError {
	return &callError{status: 488, reason: "Not Acceptable Here", detail: fmt.Sprintf(format, args...)}
}

// offerNotAcceptable is a 488 about the caller's own offer, explained to
// the caller in a Warning.
func offerNotAcceptable(format string, args ...any) *callError {
	e := notAcceptable(format, args...)
	e.warn = true
	return e
}

// call is one call through the Bridge: an incoming leg, an outgoing leg and
// the relay between them. It is owned by the goroutine that runs it: the
// setup in run, then the event loop in serve (engine.go).
type call struct {
	b      *Bridge
	log    *slog.Logger
	rec    CallRecord
	in     *sip.ServerCall
	inSide side
	out    side
	inZoom bool // the incoming leg is the Zoom leg

	relay   *media.Relay
	tap     *media.Tap // from Config.TapCall; nil = none
	inPort  *media.Port
	outPort *media.Port
	// T.38 relay (t38.go), when both sides relay it: UDPTL ports of the
	// carrier and Zoom legs.
	udptl      *media.UDPTLRelay
	imagePorts [2]*media.Port

	// Offer/answer state per leg (sdp.Leg): the caller's leg and the leg
	// byocp dialled. Each has its own o= line, codecs, payload types,
	// direction and keys.
	inSDP, outSDP *sdp.Leg
	delayed       bool                   // the caller's INVITE had no SDP (Delayed Offer)
	inOffer       sdp.Media              // the caller's offer as the other leg needs it
	early         map[earlyDialog][]byte // the last SDP of each early dialog (forks)
	earlyIn       []byte                 // byocp's early answer to the caller (in a 183)
	// Delayed Offer to a caller that supports 100rel: byocp's offer went
	// in a reliable provisional response (earlyOffered) and its answer
	// came in the PRACK (earlyAnswered).
	earlyOffered, earlyAnswered bool
	dialCancel                  context.CancelFunc // gives up the outgoing INVITE
	setupErr                    *callError         // why setup gave it up

	live atomic.Pointer[liveCall] // what Bridge.Calls shows (status.go)

	// The established call's event loop (engine.go).
	legs         [2]*leg // in, out
	events       chan event
	done         chan struct{} // closed when the call has ended
	ending       *endReason
	refreshing   *leg      // a session refresh byocp sent is on its way
	transfer     *transfer // a REFER being relayed or carried out (refer.go)
	offer        *relayOp  // a re-offer being relayed between the legs
	mediaSince   time.Time // silence on the legs counts from here
	mediaCheckAt time.Time
}

// earlyDialog names an early dialog on the callee's leg: a peer tried
// (Call-ID) and a fork of it (To tag).
type earlyDialog struct{ callID, toTag string }

func newCall(b *Bridge, in *sip.ServerCall, dir Direction) *call {
	id := make([]byte, 8)
	_, _ = rand.Read(id)
	c := &call{b: b, in: in, inZoom: dir == ZoomToCarrier, done: make(chan struct{})}
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

// run is the call's setup: from the caller's INVITE to the answer, then
// the established call's event loop, then the cleanup.
func (c *call) run() {
	defer c.finish()
	inv := c.in.Invite()
	c.log.Info("incoming call", "from", inv.From.URI.User, "to", inv.RequestURI.User, "source", inv.Source.String())

	from, to, err := c.inSide.Parties(inv)
	if err != nil {
		c.reject(&callError{status: 484, reason: "Address Incomplete", detail: err.Error(), warn: true})
		return
	}
	c.rec.Caller, c.rec.Callee = from.Number, to.Number

	// The caller's session timer: refused before anything else is spent.
	inTimer, inTimerHdrs, small := answerTimer(sip.SessionTimerOf(inv.Header), c.inSide.SessionTimers(), time.Now())
	if small != nil {
		c.reject(&callError{status: 422, reason: "Session Interval Too Small", detail: small.Error(), hdrs: []sip.Header{small.Header()}})
		return
	}
	if cerr := c.setupMedia(); cerr != nil {
		c.reject(cerr)
		return
	}
	c.publish()
	offer, cerr := c.acceptOffer(inv)
	if cerr != nil {
		c.reject(cerr)
		return
	}

	// In-dialog requests of the caller's leg come to this call from the
	// moment the 200 is sent, and its early-dialog requests (PRACK with
	// SDP, UPDATE) while it rings; those reach onEarlyRequest on this
	// goroutine, like the callee's.
	inReqs := c.in.TakeRequests()
	inEarly := c.in.EarlyRequests()
	// The outgoing INVITE lives as long as the caller's and the Bridge's.
	ctx, cancel := context.WithCancel(c.in.Context())
	c.dialCancel = cancel
	stop := context.AfterFunc(c.b.ctx, cancel)
	out, err := c.out.Dial(ctx, from, to, offer, sip.EarlyHooks{
		OnProvisional: c.onProvisional, OnEarlyRequest: c.onEarlyRequest, EarlyRequests: inEarly})
	stop()
	cancel()
	if c.setupErr != nil {
		if out != nil {
			c.hangupLeg(out.Hangup)
		}
		c.reject(c.setupErr)
		return
	}
	if err != nil {
		c.dialFailed(err)
		return
	}
	outReqs := out.TakeRequests()
	if c.inZoom {
		c.rec.CarrierCallID = out.CallID()
	} else {
		c.rec.ZoomCallID = out.CallID()
	}

	answer := out.Answer()
	inBody, cerr := c.takeAnswer(answer)
	if cerr != nil {
		c.log.Warn("unusable answer, hanging up", "error", cerr)
		c.hangupLeg(out.Hangup)
		c.reject(cerr)
		return
	}
	if err := c.in.Answer(c.b.ctx, inBody, inTimerHdrs...); err != nil {
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
	now := time.Now()
	c.rec.Answered = now
	c.rec.Status = 200
	c.log.Info("call answered", "setup", c.rec.SetupTime().String())
	c.publish()
	if c.delayed {
		// Delayed Offer: the caller's answer came in its ACK.
		if err := c.takeAckAnswer(); err != nil {
			c.log.Warn("unusable answer in the ACK, hanging up", "error", err)
			c.hangupLegs(&leg{sip: c.in}, &leg{sip: out})
			c.rec.HangupBy, c.rec.Reason = HangupBridge, "unusable SDP answer in the caller's ACK"
			return
		}
	}

	inLeg := &leg{name: c.legName(c.inZoom), zoom: c.inZoom, sip: c.in, reqs: inReqs,
		timers: c.inSide.SessionTimers(), timer: inTimer, update: allows(inv.Header("Allow"), "UPDATE"),
		infoTypes: c.inSide.RelayInfo(), side: c.inSide}
	inLeg.timer.last = now
	outLeg := &leg{name: c.legName(!c.inZoom), zoom: !c.inZoom, sip: out, reqs: outReqs,
		timers: c.out.SessionTimers(), timer: dialledTimer(sip.SessionTimerOf(answer.Header), c.out.SessionTimers(), now),
		update: allows(answer.Header("Allow"), "UPDATE"), infoTypes: c.out.RelayInfo(), side: c.out}
	c.startMediaWatch(now)
	c.serve(inLeg, outLeg)
}

// allows reports whether an Allow header value lists method.
func allows(allow, method string) bool {
	for m := range strings.SplitSeq(allow, ",") {
		if strings.EqualFold(strings.TrimSpace(m), method) {
			return true
		}
	}
	return false
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

// setupMedia takes a port per leg and the relay between them.
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
	carrier, zoom := c.inPort, c.outPort
	if c.inZoom {
		carrier, zoom = c.outPort, c.inPort
	}
	c.relay = media.NewRelay(carrier, zoom, c.log)
	if c.b.cfg.TapCall != nil {
		if c.tap = c.b.cfg.TapCall(c.rec); c.tap != nil {
			c.relay.SetTap(c.tap)
		}
	}
	c.relay.Start()
	return c.setupUDPTL()
}

// dialFailed turns the outgoing leg's failure into the caller's final response.
func (c *call) dialFailed(err error) {
	var se *sip.StatusError
	switch {
	case errors.As(err, &se):
		// Mapped, never copied: the far leg's reason phrase, Warning and
		// realm stay on its side (see failure.go).
		code := se.Response.StatusCode
		status, reason := mapFailure(code)
		var hdrs []sip.Header
		if ra, ok := failureRetryAfter(code, status, se.Response.Header("Retry-After")); ok {
			hdrs = append(hdrs, sip.Header{Name: "Retry-After", Value: ra})
		}
		c.rec.Status, c.rec.Reason = status, "callee answered "+fmt.Sprint(code)
		if err := c.in.Reject(status, reason, hdrs...); err != nil {
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
		c.reject(&callError{status: c.b.cfg.UnreachableStatus, reason: reasonPhrase(c.b.cfg.UnreachableStatus), detail: err.Error()})
	}
}

// reject sends a final failure to the caller and records it.
func (c *call) reject(e *callError) {
	c.log.Info("call rejected", "status", e.status, "detail", e.detail)
	c.rec.Status, c.rec.Reason = e.status, e.detail
	hdrs := e.hdrs
	if e.warn {
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
	select {
	case <-c.done:
	default:
		close(c.done) // setup failed before the event loop: nothing waits
	}
	if c.relay != nil {
		c.rec.Media = c.relay.Stats()
		c.rec.MOSCarrierToZoom, c.rec.MOSZoomToCarrier = callMOS(c.rec.Codec, c.rec.Media)
		c.rec.RTTCarrier, c.rec.RTTZoom = c.rec.Media.AtoB.Quality.RTT, c.rec.Media.BtoA.Quality.RTT
		_ = c.relay.Close() // closes the tap
		if c.tap != nil {
			c.rec.Tap = c.tap.Stats()
		}
	} else {
		if c.inPort != nil {
			_ = c.inPort.Close()
		}
		if c.outPort != nil {
			_ = c.outPort.Close()
		}
	}
	c.closeUDPTL()
	c.rec.End = time.Now()
	c.log.Info("call ended", "status", c.rec.Status, "hangup_by", c.rec.HangupBy, "reason", c.rec.Reason,
		"carrier_to_zoom", c.rec.Media.AtoB.Forwarded, "zoom_to_carrier", c.rec.Media.BtoA.Forwarded)
}
