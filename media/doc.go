// Package media anchors the audio of a call between the carrier trunk
// (plain RTP, RTP/AVP) and Zoom Phone BYOC-P (SRTP keyed with SDES,
// RTP/SAVP).
//
// Its place in a call: for each leg the Bridge allocates a Port from a
// PortPool and writes that port's number into the SDP it sends on the leg.
// It then wires the two Ports into a Relay (SideA = carrier, SideB = Zoom)
// and calls Relay.SetLeg for each side as the offer and answer become
// known: first with only the local SRTP key (the one in our SDP), later
// with the peer's address and key. SetLeg may be called again at any time,
// for example for a re-INVITE; unchanged keys keep their SRTP context, so
// the rollover counter and replay window survive re-negotiation.
//
// A Relay runs exactly one reader goroutine per side. Each packet is
// checked to be RTP, decrypted if its leg is SRTP, encrypted if the other
// leg is SRTP, and sent from the other leg's port to that leg's configured
// remote address. SSRC, sequence number, timestamp, payload type and
// payload bytes are forwarded as received. The forward path does not
// allocate, not even for garbage datagrams.
//
// Limits of this version:
//   - Latching is off: packets go to LegConfig.Remote, never to the source
//     address of received packets.
//   - RTCP is not relayed. The RTCP socket (RTP port + 1) is bound so that
//     the peer's RTCP does not provoke ICMP port-unreachable, but nothing
//     reads it. RTCP multiplexed on the RTP port (RFC 5761, payload types
//     64-95) is dropped as not RTP.
//   - Datagrams of 2048 bytes or more are dropped.
package media
