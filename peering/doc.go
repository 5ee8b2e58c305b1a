// Package peering is the Zoom side of a byocp Bridge: Zoom Phone's BYOC-P
// premises peering.
//
// A Peering listens for Zoom's calls on SIP over TLS (1.2 or later) with
// mutual TLS: it presents the SBC's certificate and verifies Zoom's chain
// against the configured CA pool. Because Zoom's SIP headers carry IP
// addresses rather than names, the chain is verified without a host name
// check and requests are admitted by source address (the configured peers by
// default). Calls to Zoom go to the configured peers in priority order (zone
// A, zone B, then the secondary data centre), failing over on transport
// errors, silence and the configured response codes (503 by default), each
// attempt carrying the same SDP offer. Numbers on this side are E.164 with
// "+"; media is SRTP with SDES keys (RTP/SAVP).
package peering
