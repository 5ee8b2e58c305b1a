// Package sip is byocp's SIP layer: transports, transactions, dialogs and the
// plumbing a back-to-back user agent needs for each of its two legs.
//
// The parser, the transports (UDP, TCP, TLS) and the transaction state
// machines come from github.com/emiago/sipgo; this package keeps them behind
// its own types so that no other byocp package depends on sipgo. On top of
// them it adds what sipgo leaves to its users: a dialog table, 2xx
// retransmission until ACK, re-ACK of retransmitted 2xx, CANCEL of outgoing
// INVITEs, in-dialog request routing (route set, remote target, the TLS
// connection a dialog arrived on) and a 400 Bad Request for requests the
// parser rejects.
//
// An Endpoint is also the SBC's front door, built so that nothing a stranger
// sends costs state or can hurt a call. AcceptSource runs before anything
// else: on UDP in the datagram filter, before parsing; on TCP and TLS at
// accept, before the TLS handshake. Refused sources get no answer (unless
// Limits.ReplyToRefused) and leave no per-source state. Limits bounds TLS
// handshakes, idle connections that carry no call, and connections in total
// and per source. A request that lacks a mandatory header gets 400 before
// any handler sees it, so handlers may rely on From, To, Call-ID, CSeq and
// Via. Every goroutine that handles network input recovers from panics,
// answers 500 where a transaction exists, and counts what happened in
// Stats.
//
// An Endpoint is one leg's user agent. Incoming INVITEs reach a CallHandler
// as a ServerCall (the UAS side of a dialog); Endpoint.Invite places a call and
// returns a ClientCall (the UAC side). Both end with Hangup or a BYE from the
// peer and report why through Done and Cause. The Bridge in package byocp
// joins one ServerCall on one Endpoint to one ClientCall on the other; nothing
// of one leg (Call-ID, tags, Via, Contact, CSeq) is ever copied to the other.
package sip
