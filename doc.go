// Package byocp turns a Go program into a session border controller (SBC)
// for Zoom Phone's Bring Your Own Carrier, Premises Peering (BYOC-P) model.
//
// In BYOC-P a business keeps its own carrier's SIP trunk to the PSTN and
// peers it with Zoom Phone's cloud PBX through an SBC on its premises. A
// Bridge is that SBC: a back-to-back user agent (B2BUA) with two legs per
// call.
//
//   - The carrier leg (package trunk) speaks SIP over UDP or TCP with plain
//     RTP (RTP/AVP), admits the carrier by source address and writes numbers
//     in the carrier's format.
//   - The Zoom leg (package peering) speaks SIP over TLS 1.2+ with mutual TLS,
//     SRTP keyed by SDES (RTP/SAVP with a=crypto) and E.164 numbers, and
//     tries Zoom's SIP zones in priority order.
//
// A call flows like this. The calling side's Endpoint (package sip) receives
// the INVITE with its SDP offer (Early Offer) and hands it to the Bridge.
// The Bridge reads caller and callee as E.164, checks the offer against the
// leg's rules (package sdp), takes one media port per leg from the relay's
// port range (package media), writes a new offer for the other leg with the
// relay's address, its own o= line and, towards Zoom, a fresh SDES key, and
// places the call on the other side. Provisional responses (180, 183 with
// early media) are relayed back; the answer is checked and rewritten for the
// caller; the relay decrypts SRTP from Zoom into plain RTP for the carrier
// and the reverse, leaving payloads untouched. BYE from either side ends the
// other leg; CANCEL before the answer is relayed; a final failure is mapped
// to byocp's own status and reason (see failure.go) for the caller. The two legs share nothing: each has its own Call-ID,
// tags, CSeq, Via, Contact and SDP origin, so neither side learns the
// other's topology.
//
// # The call engine
//
// Each call is owned by one goroutine; no other goroutine changes its
// state. Its life has three stages.
//
//   - Setup (call.go, run): the caller's INVITE is checked (numbers, session
//     timer, offer), the media ports are taken (and the Tap that
//     Config.TapCall gives the call, if any, attached to its relay), the
//     other leg is dialled and its provisional responses relayed (early
//     media is checked without committing either leg's offer/answer
//     state), and the answer is committed on both legs and sent to the
//     caller. While the callee rings, the early-dialog requests of both
//     legs (a PRACK carrying the answer to byocp's offer in a reliable
//     183, an early UPDATE) reach the same goroutine through the outgoing
//     INVITE's sip.EarlyHooks (early.go).
//   - Established (engine.go, serve): an event loop selects on the
//     in-dialog requests of both legs (sip's TakeRequests), the results of
//     the requests it sent (posted back as events, so that only the loop
//     touches the state), one timer for the earliest of each leg's session
//     refresh and expiry and the next media check, either leg's end, and
//     the Bridge closing. A re-INVITE or UPDATE with SDP goes through the
//     leg's sdp.Leg (offeranswer.go): a refresh, a media move or a re-key is
//     answered on its own leg; a hold, resume or codec change is offered to
//     the other leg and its answer rewritten for the first, or rolled back
//     on both legs with the failure mapped. One re-offer is relayed at a
//     time; a crossing one gets 491. A re-INVITE without SDP gets byocp's
//     current SDP as an offer and its answer from the ACK. Session timers
//     (sessiontimer.go) are negotiated per leg: byocp refreshes the legs it
//     is refresher on and ends the call when a leg's session expires.
//     The media watch (mediawatch.go) reads the relay's last-packet times
//     and ends a call whose legs stopped sending (MediaTimeout, or
//     HoldTimeout while on hold). A REFER follows its side's policy
//     (refer.go): refused, relayed with its NOTIFYs, or carried out by
//     byocp, whose call to the target then takes the referrer's place in
//     the loop. T.38 fax is relayed on its own ports when both sides
//     allow it (t38.go).
//   - Ending: BYE on the legs still up, the relay and ports released, the
//     CallRecord (with the reason) delivered.
//
// To add an in-dialog method, handle it in onRequest; to add a timer, give
// its deadline to rearm and its action to onTick.
//
// Applications build a Config (or load one, as examples/sbc does from YAML),
// call New and then Serve or Close. OnCallEnd delivers a CallRecord for
// every call; TapCall, if set, gives a call a media.Tap through which a
// recorder or a voice AI gets its audio, both directions, decrypted. The
// packages trunk/trunktest and peering/peeringtest provide a fake carrier
// and a fake Zoom peer on loopback, in the spirit of net/http/httptest,
// for tests of code built on byocp.
package byocp
