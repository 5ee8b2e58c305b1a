package sdp

import "errors"

// Errors callers branch on. Returned errors wrap one of these with detail,
// so compare with errors.Is.
var (
	// ErrMalformed means the body is not SDP this package can read: Read
	// refused it, or the audio stream's c= address or formats are missing
	// or unusable.
	ErrMalformed = errors.New("sdp: malformed session description")

	// ErrNoAudio means the session description has no m=audio line.
	ErrNoAudio = errors.New("sdp: no audio stream")

	// ErrNoCommonCodec means offer and answer share no real audio codec
	// (telephone-event and CN alone do not count).
	ErrNoCommonCodec = errors.New("sdp: no common audio codec")

	// ErrBadCrypto means an a=crypto value is not a usable RFC 4568 attribute.
	ErrBadCrypto = errors.New("sdp: bad crypto attribute")

	// ErrUnknownSuite means an a=crypto suite name is not one this package
	// knows. Errors carrying it also match ErrBadCrypto.
	ErrUnknownSuite = errors.New("sdp: unknown crypto suite")

	// ErrUnsupportedCrypto means an a=crypto attribute is valid RFC 4568
	// but asks for something byocp's SRTP relay does not implement: an MKI,
	// more than one key, a key lifetime shorter than a call may last, or a
	// session parameter such as KDR=1 or UNENCRYPTED_SRTCP (see
	// Crypto.Usable). ParseCrypto's error for a line with more than one key
	// carries it and also matches ErrBadCrypto.
	ErrUnsupportedCrypto = errors.New("sdp: unsupported crypto attribute")
)

// Errors from Leg, the offer/answer state of a call leg. A SIP layer maps
// them to responses as noted.
var (
	// ErrUnacceptable means an offer or answer breaks the leg's rules: the
	// wrong transport (RTP/AVP on the carrier leg, RTP/SAVP on the Zoom
	// leg), no active audio stream, no SDES line byocp can honour, or an
	// answer that rejects the audio stream or does not answer byocp's key.
	// An offer refused with it gets 488.
	ErrUnacceptable = errors.New("sdp: not acceptable on this leg")

	// ErrGlare means the peer offered while byocp's own offer on the leg is
	// outstanding (RFC 3261 section 14.2: 491 Request Pending).
	ErrGlare = errors.New("sdp: offer while our offer is outstanding")

	// ErrPending means an offer/answer exchange on the leg is not finished:
	// the peer's earlier offer is unanswered, or byocp tried to offer a
	// second time (a second re-INVITE gets 500 with Retry-After, RFC 3261
	// section 14.2).
	ErrPending = errors.New("sdp: offer/answer exchange in progress")

	// ErrState means a Leg method was called out of order: an answer with no
	// offer outstanding in that direction, or a re-offer before the leg's
	// first offer/answer exchange completed.
	ErrState = errors.New("sdp: not possible in the leg's offer/answer state")
)

// Errors from Marshal: the caller built an invalid Media or Origin.
var (
	errNilOrigin    = errors.New("sdp: nil origin")
	errBadAddr      = errors.New("sdp: invalid address")
	errBadPort      = errors.New("sdp: port out of range")
	errBadValue     = errors.New("sdp: invalid value")
	errBadFormat    = errors.New("sdp: invalid payload format")
	errBadDirection = errors.New("sdp: invalid direction")
)
