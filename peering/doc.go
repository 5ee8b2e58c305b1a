// Package peering is the Zoom side of a byocp Bridge: Zoom Phone's BYOC-P
// premises peering.
//
// A Peering listens for Zoom's calls on SIP over TLS (1.2 or later) with
// mutual TLS: it presents the SBC's certificate and verifies Zoom's. Zoom's
// certificate must chain to the configured CA pool, allow the key usage of
// its TLS role (clientAuth when Zoom connects, serverAuth when the SBC
// dials) and carry one of the configured PeerNames; the same policy applies
// in both directions (see Config.PeerNames, MatchPeerName and
// Config.InsecureChainOnly). Zoom's peers are dialled by IP address, so the
// name checked is a configured one rather than the dialled host. Requests
// are also admitted by source address (the configured peers by default).
// The SBC may present a separate certificate when it dials Zoom
// (Config.ClientCertificates).
//
// Calls to Zoom go to the configured peers in priority order (zone A, zone
// B, then the secondary data centre), failing over on transport
// errors, silence and the configured response codes (503 by default), each
// attempt carrying the same SDP offer. Numbers on this side are E.164 with
// "+"; media is SRTP with SDES keys (RTP/SAVP).
package peering
