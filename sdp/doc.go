// Package sdp reads and writes the session descriptions of the two legs of a
// byocp call. It reads SDP with its own tolerant, line-preserving reader
// (Read) and writes byocp's SDP with github.com/pion/sdp/v3.
//
// A call has a carrier leg, plain RTP (RTP/AVP), and a Zoom leg, SRTP
// (RTP/SAVP) keyed with SDES a=crypto lines (RFC 4568). The Bridge never
// forwards one leg's SDP to the other. It parses the offer it receives into
// a Media (address, port, formats, keys, ptime, direction, RTCP port and
// multiplexing), decides what to
// offer or answer on the other leg (FilterFormats, AnswerFormats,
// SelectCrypto, NewCrypto), points the addresses at its own relay ports and
// writes a fresh SDP with Marshal and that leg's own Origin:
//
//	carrier INVITE SDP --Parse--> Media --Bridge--> Media --Marshal--> Zoom INVITE SDP
//	carrier 200 SDP  <--Marshal-- Media <--Bridge-- Media <--Parse--  Zoom 200 SDP
//
// Only the first audio stream is kept (and, when the Bridge relays T.38,
// the first T.38 image stream); other attributes (bandwidth, the peer's o=
// and s=) are dropped, and a=rtcp and a=rtcp-mux stay on the leg they came
// from (see RTCP below), which also hides each leg's topology from the
// other.
//
// # Reading SDP
//
// Read takes SDP the way carriers and PBXs write it, not only the way RFC
// 4566 orders it. It reads:
//
//   - lines ending in CRLF, LF or a bare CR, an unterminated last line,
//     blank lines, and spaces or tabs around a line (stripped);
//   - session-level lines in any order after v=0: t= before c=, a= or b=
//     before t=, no s= or no t= at all;
//   - media-level c=, b=, a= and other lines in any order;
//   - any m= line "<media> <port>[/<count>] <proto> <fmt>...", whatever the
//     media type and protocol: m=image 13962 udptl t38, m=application 5000
//     udptl t38, m=video, m=message ... TCP/MSRP *;
//   - lines of any type letter, known or not, and any attribute.
//
// It keeps every line, in order, at its level: a Description holds the
// session-level lines and one MediaSection per m= line with its type, port
// and port count, proto, formats and lines, with accessors for its
// attributes and its c= line (the last one of a level wins; a media-level
// c= wins over the session-level one). Description.Marshal writes it back.
// So an image stream's port, proto, format and T.38 attributes
// (T38FaxVersion, T38MaxBitRate, T38FaxRateManagement, T38FaxUdpEC, ...)
// are there for a T.38 relay.
//
// Read refuses (ErrMalformed) only an empty or blank body, a first line
// other than v=0, a line that is not "<letter>=<value>", an m= line it
// cannot split into those fields (a port above 65535, a port count of 0,
// a control character), and a body without an o= line before its first
// m= line. SDP without m= lines is read (Parse then returns ErrNoAudio).
//
// Parse and Leg read the audio stream out of a Description: its formats
// (a=rtpmap, a=fmtp, static payload types without a=rtpmap), a=ptime, the
// direction (media-level, else session-level), the a=crypto lines (RFC
// 4568), a=rtcp (RFC 3605; one that cannot be read is ignored) and
// a=rtcp-mux (RFC 5761), and the address, which must be an IP address of
// its c= line's family. For input pion/sdp also accepts, Parse returns the
// same Media as when it used pion/sdp, except that spaces or tabs at the
// end of a line no longer end up in attribute values (so "a=sendrecv " is
// a direction), and that it reads a=rtcp and a=rtcp-mux (Media.RTCP,
// Media.RTCPMux), which it ignored then.
//
// # Offer/answer during a call
//
// For re-INVITEs and UPDATEs each leg has a Leg: its own RFC 3264 state,
// with byocp's o= line and last SDP, the peer's last SDP, every m-line in
// its position, the codecs and payload types agreed on that leg, the
// direction and, on the Zoom leg, byocp's key and the peer's. An offer
// from leg A's peer is relayed to leg B's like this:
//
//	off, err := a.ReceiveOffer(body) // ErrGlare: 491; ErrPending: 500; others: 488
//	if !off.Relay {
//		answer, err = a.AnswerLocal() // refresh, media move, new key: A only
//	} else {
//		offer, err := b.OfferFrom(off.Media) // re-INVITE (or UPDATE) to B's peer
//		// refused by B's peer: b.Rollback(); a.Rollback(); refuse A's offer
//		ans, err := b.TakeAnswer(answerBody) // B's 2xx; ACK it
//		answer, err = a.Answer(ans)          // 2xx to A's peer
//	}
//	// then point the relay at a.Current() and b.Current()
//
// The initial INVITE is the same exchange, ReceiveOffer on the incoming
// leg and OfferFrom on the outgoing one. A re-INVITE without SDP gets
// a.OfferCurrent() in the 2xx and its ACK's SDP goes to a.TakeAnswer; an
// UPDATE without SDP needs no Leg. Take one answer per offer: SDP in a
// later response to the same INVITE (a 2xx after an 18x) is ignored (RFC
// 3261 section 13.2.1).
//
// A re-offer is relayed when it changes the stream's direction or drops a
// codec agreed on the leg; one that only repeats the peer's last SDP (a
// session refresh, whatever its o= version), moves the peer's address or
// port, brings a new key or adds codecs is answered on its own leg. byocp
// writes each leg's SDP from that leg's state: its o= version goes up only
// when the SDP changes (and a version once sent is not reused, even for a
// refused offer); its address and port never change; its key changes only
// when the suite does. Directions map through: A's sendonly is offered to
// B as sendonly, B's recvonly answer reaches A as recvonly, inactive stays
// inactive, and a legacy hold (c=0.0.0.0) counts as not receiving (sendrecv
// becomes sendonly, recvonly inactive); byocp never writes 0.0.0.0.
//
// Payload types belong to each leg. byocp answers with the offer's numbers,
// and numbers its own offers on a leg with the number it wrote there
// before for the codec, else the peer's number there, else the other
// leg's, else the lowest free dynamic one, never giving a number a second
// codec within the call. So telephone-event may be 101 on the Zoom leg and
// 96 on the carrier leg; PayloadMap tells the relay how to renumber.
//
// # RTCP
//
// byocp receives RTCP on the port after each leg's RTP port (RFC 3550
// section 11) and never writes a=rtcp. Each leg negotiates RTCP on its own;
// nothing of it crosses to the other leg:
//
//   - The peer's a=rtcp (RFC 3605), the port and, if it gives one, the
//     address where it receives RTCP, is State.RemoteRTCP; a peer without
//     it receives RTCP on the port after its RTP port.
//   - RTCP multiplexing on the RTP port (RFC 5761) is in effect on a leg,
//     both ways, when the offer and the answer of its last exchange both
//     have a=rtcp-mux (State.RTCPMux). byocp's answer has a=rtcp-mux
//     whenever the offer has it, and byocp's offers have it with
//     LegConfig.RTCPMux and while multiplexing is in effect on the leg, so
//     that byocp never asks to stop. An answer with a=rtcp-mux to an offer
//     without it does not start multiplexing (RFC 8035); a peer that
//     leaves it out of a re-offer, or of its answer to byocp's, stops it,
//     and RTCP goes to the peer's RTCP port again. byocp receives RTCP on
//     both of its ports all along (the relay reads both), as an offerer
//     must until the answer comes (RFC 5761 section 5.1.1).
//
// A re-offer that changes only the peer's a=rtcp or a=rtcp-mux is answered
// on its own leg (Offer.Relay is false) and changes that leg's State.
//
// # Other m-lines and T.38
//
// A Leg negotiates only the first active audio stream of an offer (and,
// with an ImagePort, the first active T.38 image stream, below) and
// answers every other m-line in its position with port 0 (RFC 3264
// section 6), copying its media type, proto and formats: "m=video 0
// RTP/AVP 31", "m=audio 0 RTP/AVP 0" for a second audio stream,
// "m=image 0 udptl t38" for T.38. byocp's later offers on the leg keep
// those m-lines, rejected, in place.
//
// Without an ImagePort (LegConfig.ImagePort 0, the default) T.38 is not
// relayed. An offer with an active audio stream and m=image (an INVITE
// offering both, or a re-INVITE that adds m=image to the audio) is
// answered with the audio kept and the image stream rejected, on the leg
// that received it, so the call goes on as audio and the fax as G.711
// pass-through. A re-INVITE whose m=image replaced the audio m-line
// (changing the media type in place, RFC 3264 section 8.3.3) fails with
// ErrNoAudio, and one that disables the audio next to m=image with
// ErrUnacceptable: either way the peer gets 488, the leg stays as it was
// and the call keeps its audio (a refused re-INVITE changes nothing, RFC
// 3261 section 14.1); fax endpoints then usually fall back to G.711.
//
// # T.38 relay
//
// With an ImagePort a Leg also negotiates the first active T.38 image
// stream of an offer, "m=image <port> udptl t38" (media type, proto and
// format in any case; T.38 over TCP and m=application are rejected as
// above), and byocp relays its UDPTL datagrams as they are on its own
// port pair (media.UDPTLRelay). Offer.Media.Image, TakeAnswer's
// Media.Image and State.Image carry the peer's stream: where it receives
// UDPTL and its T.38 attributes. The attributes (a=T38FaxVersion,
// a=T38MaxBitRate, a=T38FaxRateManagement, a=T38FaxUdpEC, any a=T38...,
// and a direction) pass through byocp as written and in order: byocp
// offers on one leg what the peer offered on the other, and answers with
// what the other peer answered. An offer whose image stream is new, gone,
// or has other attributes than in the peer's last SDP is relayed
// (Offer.Relay); a refresh or a move of the peer's UDPTL address is
// answered on its own leg.
//
// With an image stream an offer needs no audio stream: the usual T.38
// re-INVITE replaces the audio m-line with m=image (RFC 3264 section
// 8.3.3) or disables it ("m=audio 0" next to m=image), and both are
// accepted; the audio fields of Offer.Media are then empty, and while the
// leg has no audio stream its State says so (no Remote, Inactive, Index
// -1) and keeps its keys. The audio stream may come back in a later
// offer, with the codecs and payload types of the leg as before. An
// answer may reject either stream but not both.
//
// byocp's offers on a leg place the streams among the leg's own m-lines,
// whatever the positions in the other leg's offer (each leg's m-lines are
// its own, like its payload types), so that they follow the other leg's
// changes as RFC 3264 section 8 lets them:
//
//   - The audio stream stays in its m-line. When it comes back after a
//     fax, it takes the m-line it had if that is still an audio m-line
//     (disabled next to the image), else the image stream's m-line when
//     the image stream is not offered any more (the media type changes
//     back in place), else a new m-line at the end.
//   - The image stream stays in its m-line. A new one takes the first
//     rejected T.38 m-line of the leg (m=image 0 udptl t38), else the
//     audio stream's m-line when the audio is not offered any more (the
//     media type changes in place: voice to fax as RFC 3264 section 8.3.3
//     recommends), else a new m-line at the end.
//   - A stream that is no longer offered is rejected in its m-line (port
//     0), keeping its media type, proto and formats; no m-line is ever
//     removed or reordered.
//
// So the common T.38 re-INVITE (m=image alone, replacing the audio) and
// the switch back to audio are mirrored m-line for m-line; an audio and
// image offer (an INVITE offering both) becomes audio in its m-line and
// image after it; a re-INVITE that disables the audio next to m=image
// becomes, on a leg that never had an image stream, an image stream in the
// audio's m-line.
//
// On a leg without an ImagePort, OfferFrom drops Media.Image: an offer
// from the other leg with audio and image becomes an audio offer, and one
// with only an image stream fails with ErrNoCommonCodec (refuse it with
// 488). Whether T.38 is relayed is the caller's choice per leg; set
// ImagePort on both legs or on neither, since an image stream offered on
// one leg is relayed to the other (Offer.Relay), where it is dropped.
//
// # Known limitations
//
//   - A c= address must be an IP address: a host name (as in the examples
//     of RFC 3264 and RFC 4317) or a multicast address with a TTL makes the
//     audio stream unusable (ErrMalformed), though Read reads it.
//   - Offers on the Zoom leg carry one SDES suite.
//   - A Leg does not check that a re-offer keeps the peer's earlier
//     m-lines, and it does not track early dialogs: with forking, each
//     early dialog needs its own answer handling.
package sdp
