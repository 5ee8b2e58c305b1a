// Package media anchors the audio of a call between the carrier trunk
// (plain RTP, RTP/AVP) and Zoom Phone BYOC-P (SRTP keyed with SDES,
// RTP/SAVP), and its T.38 fax stream (UDPTL) when the call relays one.
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
// Each side of a Relay has exactly one reader, the goroutine that reads its
// RTP socket: by default a goroutine of its own, or, on a pool with an
// Engine, the worker thread that serves the socket (see "Engines" below).
// Each packet is checked to come from an accepted source and to be RTP, decrypted if its
// leg is SRTP, checked against the SSRC limit, checked to carry an SRTP
// index not sent yet if the other leg is SRTP, encrypted if so, and sent
// from the other leg's port to that leg's remote address (or the source
// it latched on, see Latch). Payload bytes are forwarded as received; the
// payload type is renumbered when the legs agreed on different numbers
// for a format (LegConfig.Formats); SSRC, sequence number and timestamp
// pass unchanged except where the stream must stay continuous (see
// "Stream continuity").
// Every datagram is either forwarded or counted in exactly one drop
// counter of DirectionStats. RTCP is relayed the same way between the
// ports' RTCP sockets (the RTP port + 1), SRTCP with the SRTP key's context,
// to the port the peer named in a=rtcp (LegConfig.RemoteRTCP) or else the
// one after its RTP port.
//
// # RTCP multiplexing
//
// A leg with LegConfig.RTCPMux (RFC 5761, a=rtcp-mux in both its offer
// and its answer) has its RTCP on its RTP port, both ways. Its RTP reader
// tells RTCP from RTP by the second byte (192-223: an RTCP packet type,
// where RTP would have the marker bit and a payload type of 64-95, RFC
// 5761 section 4) and hands RTCP to the direction's RTCP pipe, which
// checks, decrypts and encrypts it exactly as RTCP from the RTCP socket
// and counts it in DirectionStats.RTCP, not in Received. RTCP towards the
// leg goes from its RTP socket to its RTP destination (the latched source,
// else Remote). The RTCP socket is still read, so RTCP that arrives there
// (before the answer, or from a peer that stopped multiplexing) is relayed
// too; since two readers may then enter one direction's RTCP pipe, it
// takes a mutex per packet, uncontended at RTCP's few packets a second.
// Without RTCPMux, RTCP on the RTP port is dropped as NotRTP. Both engines
// do this, without allocating.
//
// # Latching, payload types and quality
//
// With a Latch policy other than LatchOff, a leg learns its peer's source
// from the first valid packet (on a plain leg from the signalled IP, or
// from anywhere with LatchAny for peers behind NAT; on an SRTP leg from
// the first one that authenticates), relays only from that address and
// port afterwards, and sends to it (symmetric RTP, RFC 4961). It moves
// only with SetLeg for another Remote (a re-INVITE that moves the media),
// or, on an SRTP leg, with an authenticated packet from a new address.
// Each direction measures, on its reader and without allocating, loss
// from the sequence numbers (RFC 3550 A.1, A.3) and interarrival jitter
// (A.8) in the clock of the packet's format. From the RTCP it relays, the
// Relay measures the round trip between byocp and each leg's peer as a
// middlebox can (RFC 3550 section 6.4.1): an SR from one peer passes
// towards the other, whose report on it (LSR) comes back with how long it
// held it (DLSR); the time between the two at the relay, less DLSR, is
// that leg's round trip, smoothed as RFC 6298's SRTT. The compound packets
// are read by hand, after SRTCP decryption, without allocating. Stats
// reads all of it (Quality), and MOS turns it into an E-model estimate,
// counting half of both legs' round trips as the one-way delay.
//
// # Stream continuity
//
// What a peer receives from the relay is one continuous stream (RFC 3550
// section 8.2, RFC 7160 section 4.1) in two cases where the packets the
// relay reads are not. Events injected with InjectDTMF take the next
// sequence numbers of the stream, and the packets forwarded after them
// are renumbered to follow. And when SetLeg gives a side another peer
// (another Remote or RemoteKey: a handled transfer's target, a re-INVITE
// that moves the media to another media server, the callee's media after
// early media from an announcement server), the first SSRC that side then
// sends is carried onto the stream the other peer received: that
// stream's SSRC, the sequence number after the last one sent, a timestamp
// moved on by the time in between in the clock of the packet's format,
// and the marker bit on the first packet. An SSRC keeps its mapping while
// it is relayed (late packets and a second SSRC that runs beside it are
// not moved), a peer that keeps its SSRC and sequence across the change
// is not renumbered, and RTCP follows: a carried source's reports go out
// under the stream's SSRC with the RTP timestamp moved, and report blocks
// about the stream come back about the source's own SSRC.
// DirectionStats.SourceChanges counts the sources carried on. Towards an
// SRTP peer this keeps the rollover counter it derives from each SSRC's
// sequence numbers right; a stream that jumped back would be refused.
//
// # What the relay guarantees
//
// Sources. A leg with LegConfig.RestrictSources relays only packets whose
// source IP is the IP of its Remote (the address in the peer's SDP) or
// lies in its SourceNetworks, from any source port; others are counted as
// WrongSource before anything else is looked at. IPv4-mapped IPv6
// addresses compare equal to their IPv4 form. A leg without the
// restriction (the zero value) accepts any source: on the plain carrier
// leg that lets anyone who can reach the port put audio into the call, so
// the Bridge should restrict that leg. The Zoom leg is protected by SRTP
// authentication either way.
//
// SSRCs. A leg relays packets from at most LegConfig.MaxSSRCs SSRCs at a
// time (DefaultMaxSSRCs, at most MaxSSRCsLimit); packets of further SSRCs
// are counted as TooManySSRCs. An SSRC from which nothing has been relayed
// for SSRCIdle stops counting, so a stream that changes SSRC (a carrier
// re-route, music on hold) keeps working while a flood of made-up SSRCs
// gets in at most MaxSSRCs per SSRCIdle. On an SRTP leg an SSRC counts only
// once its packet has authenticated. The table is a fixed array owned by
// the side's reader.
//
// SRTP indices. Towards an SRTP leg, no SRTP index is encrypted twice under
// one key, so AES counter-mode keystream is never reused (RFC 3711 section
// 9). Per SSRC, the encrypt side keeps the highest index sent, estimated
// from the 16-bit sequence number exactly as pion's context estimates the
// rollover counter (RFC 3711 section 3.3.1), and a 64-packet window of the
// indices below it already sent. A packet whose index was sent already, or
// lies 64 or more below the highest, is dropped and counted as Duplicate:
// of two packets with the same SSRC and sequence number, only the first is
// sent. This state belongs to the LocalKey's context: it is kept while the
// key is unchanged, never forgotten for an SSRC while the key is in use
// (an SSRC that lost its slot and comes back cannot reuse an index), and
// starts afresh with a new key. One key encrypts at most SSRCsPerKey SSRCs;
// beyond that new SSRCs are counted as TooManySSRCs until a re-key. SetLeg
// refuses, with ErrKeyReused, a LocalKey the Relay encrypted with before
// that is not the side's current key, since a new context for it would
// start again at used indices. Keys must not be shared between Relays: the
// Bridge draws each from crypto/rand.
//
// What protects what:
//   - Carrier to Zoom (plain RTP in, SRTP out): RestrictSources limits who
//     can inject; the SSRC limit bounds what an accepted source can add
//     (and pion's per-SSRC encrypt state, by SSRCsPerKey); the index
//     window keeps duplicates, forged or not, from being encrypted twice.
//   - Zoom to carrier (SRTP in, plain RTP out): authentication drops forged
//     packets (AuthFailed) before any state is created, and pion's 64-packet
//     replay window drops replayed ones (AuthFailed). Duplicates are not
//     otherwise removed towards a plain leg: nothing is encrypted there.
//   - SRTP on both legs: both of the above.
//
// # Media timeout
//
// Stats tells, per direction, when its ingress leg last sent valid RTP
// (DirectionStats.LastRTP) and when a packet of it was last forwarded
// (LastForwarded), so that a call can be ended when a leg falls silent.
// Valid RTP is a packet that passed the source check, the RTP header
// check and, on an SRTP leg, authentication and replay protection,
// whether or not it was then forwarded: RTP from the carrier counts while
// Zoom's address is not known yet, and so do packets dropped as
// TooManySSRCs, Duplicate or SendFailed. Refused sources, garbage, forged
// or replayed SRTP, and SRTP that arrives before the leg's RemoteKey (it
// cannot be authenticated) do not count. Both times are readings of the
// monotonic clock the SSRC table reads anyway, truncated to 100 ms: a
// packet costs one comparison, and one atomic store per 100 ms. The
// caller polls Stats and owns the policy (the timeout, a longer one while
// the call is on hold, what to count from before the first packet);
// RTCP is not read, so it does not count.
//
// The forward path does not allocate, not even for garbage datagrams,
// forged SRTP or refused packets. The one exception is inside pion: a
// context allocates its state for an SSRC the first time it encrypts it
// (at most SSRCsPerKey times per key) or authenticates a packet of it.
//
// # Audio tap
//
// A Tap (Relay.SetTap) receives a copy of every packet the Relay forwards,
// in both directions, as plain RTP with its header: what arrived on the
// ingress leg, decrypted if that leg is SRTP, tagged with the Side it came
// from and when it arrived. It is for recording, analytics or a voice AI,
// read in a goroutine of the consumer's own with Tap.ReadPacket. The
// Relay never waits for it: each packet is copied into a preallocated
// queue of fixed slots (DefaultTapPackets of DefaultTapPacketSize bytes),
// and when the reader is behind and the queue is full the packet is
// dropped for the Tap only, and counted (TapStats.Dropped). Tapping does
// not allocate; a Relay without a Tap pays one atomic load per packet.
// Closing the Relay closes its Tap: ReadPacket returns what is queued,
// then io.EOF.
//
// # T.38 fax
//
// A call that switches to T.38 (an m=image ... udptl t38 stream, see
// package sdp) gets a UDPTLRelay on a second pair of Ports, one per leg:
// the Bridge writes their numbers in the m=image lines and calls SetLeg
// with each peer's UDPTL address as the offer and answer become known.
// It reads each side like a Relay (one reader per side, a goroutine or the
// pool's engine) and sends each
// datagram on as it is: UDPTL is neither parsed nor encrypted (SRTP keys
// the audio only), so source restriction (UDPTLLegConfig.RestrictSources,
// the rules of LegConfig) is the only protection on either leg. Datagrams
// shorter than a UDPTL packet (5 bytes) or of 2048 bytes or more are
// dropped; so are those towards a side whose address is not known yet.
// Every datagram is forwarded or counted in one drop counter of
// UDPTLDirectionStats, which also tells when T.38 last arrived from each
// leg (for a media timeout while the call is a fax) and when it was first
// and last forwarded (for a call record). The forward path does not
// allocate.
//
// # Engines
//
// How the relays read their sockets is the PortPool's choice, made once
// for all its calls (NewPortPoolEngine); the per-call API is the same
// either way.
//
// By default each side of each relay has a goroutine blocked in a read on
// its socket. Go's netpoller wakes it for every packet, and at 20 ms
// packetisation a socket never holds more than one packet, so most of
// what a packet costs is that wake-up (netpoller, scheduler, futex), not
// the relaying.
//
// With Engine.Workers > 0 (Linux), that many worker threads serve every
// socket of the pool. A worker is a goroutine locked to its OS thread that
// waits in epoll_wait on an epoll set of its own (level-triggered); each
// wake-up reads every socket that is ready, up to 16 datagrams each with
// one recvmmsg, and hands each datagram to the same per-packet code. So
// one wake-up serves all the calls with a packet waiting, and no
// goroutine is scheduled per packet, nor kept per call. The pool's RTP
// and RTCP sockets are then made outside Go's netpoller (one in it would
// wake a runtime thread for every datagram, read or not), and are sent on
// with sendto, which never waits:
// a packet that finds the socket's send buffer full is dropped and
// counted as SendFailed rather than holding up the other calls of the
// worker. A socket is registered on the worker with the fewest sockets
// from PortPool.Allocate to Port.Close; Relay.Start only tells the worker
// which direction reads it, so datagrams that arrive before Start wait in
// the socket as they do for a goroutine. Port.Close takes the socket off
// its worker, and returns once the worker is done with it, before closing
// it; the port number goes back to the pool as before. A worker starts
// with its first socket and ends with its last, so an idle pool holds no
// thread. A panic in the per-packet code is recovered, logged and counted
// (Panics) as with goroutines, and the worker goes on with the next
// datagram.
//
// What it saves, measured with 200 and 1,000 concurrent calls against a
// minimal C relay and against the same relay doing SRTP with libsrtp2, is
// in README.md (Performance): about a third of the CPU per packet and
// nearly two thirds of the memory per call. A byocp.Bridge therefore runs
// its pool on one worker unless told otherwise; NewPortPool's zero Engine
// stays the goroutines, which every system has.
//
// Limits of this version:
//   - Datagrams longer than 1984 bytes are dropped (NotRTP, NotRTCP):
//     packets are decrypted and encrypted in the buffer they arrived in,
//     which keeps room for the SRTP tag behind them.
//   - With LatchOff, packets go to LegConfig.Remote, never to the source
//     address of received packets; a carrier whose media comes from an
//     address other than its SDP's needs that address in SourceNetworks
//     or a Latch policy.
//   - A peer that goes back to one of its earlier keys (RemoteKey) gets a
//     fresh decrypt context, and with it a fresh replay window. Peers must
//     not reuse keys (RFC 4568); the relay does not check.
//   - The number of SSRCs that authenticate on an SRTP leg, and so pion's
//     decrypt state, is bounded only by the peer holding the key.
package media
