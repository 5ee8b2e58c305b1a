// Package sdp reads and writes the session descriptions of the two legs of a
// byocp call, on top of github.com/pion/sdp/v3.
//
// A call has a carrier leg, plain RTP (RTP/AVP), and a Zoom leg, SRTP
// (RTP/SAVP) keyed with SDES a=crypto lines (RFC 4568). The Bridge never
// forwards one leg's SDP to the other. It parses the offer it receives into
// a Media (address, port, formats, keys, ptime, direction), decides what to
// offer or answer on the other leg (FilterFormats, AnswerFormats,
// SelectCrypto, NewCrypto), points the addresses at its own relay ports and
// writes a fresh SDP with Marshal and that leg's own Origin:
//
//	carrier INVITE SDP --Parse--> Media --Bridge--> Media --Marshal--> Zoom INVITE SDP
//	carrier 200 SDP  <--Marshal-- Media <--Bridge-- Media <--Parse--  Zoom 200 SDP
//
// Only the first audio stream is kept; other attributes (a=rtcp, bandwidth,
// the peer's o= and s=) are dropped, which also hides each leg's topology
// from the other.
//
// # Known limitations
//
// pion/sdp v3.0.20 is strict, so Parse returns ErrMalformed for SDP that
// real peers send:
//
//   - a non-audio m-line outside pion's list, such as T.38
//     "m=image 5000 udptl t38" or "m=application 5000 udptl t38", even
//     next to an audio stream (the Bridge cannot answer such an offer with
//     the same number of m-lines anyway);
//   - session-level lines out of RFC 4566 order, such as a= before t=;
//   - a c= address that is a host name or carries a multicast TTL.
//
// Parse does repair line endings (bare LF or CR, a missing final CRLF) and a
// missing s= line.
package sdp
