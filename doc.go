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
// other leg; CANCEL before the answer is relayed; a final failure is relayed
// back to the caller. The two legs share nothing: each has its own Call-ID,
// tags, CSeq, Via, Contact and SDP origin, so neither side learns the
// other's topology.
//
// Applications build a Config (or load one, as examples/sbc does from YAML),
// call New and then Serve or Close. OnCallEnd delivers a CallRecord for
// every call. The packages trunk/trunktest and peering/peeringtest provide a
// fake carrier and a fake Zoom peer on loopback, in the spirit of
// net/http/httptest, for tests of code built on byocp.
package byocp
