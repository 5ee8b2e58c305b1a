package sdp

import "errors"

// Errors callers branch on. Returned errors wrap one of these with detail,
// so compare with errors.Is.
var (
	// ErrMalformed means the body is not SDP this package can read: pion/sdp
	// rejected it, or the audio stream's c= address is missing or unusable.
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
