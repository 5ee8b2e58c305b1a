package mediapeer

import "errors"

var (
	// ErrUnsupportedSuite is returned by Configure for an unknown suite.
	ErrUnsupportedSuite = errors.New("mediapeer: unsupported SRTP crypto suite")
	// ErrBadKey is returned by Configure for a key||salt of the wrong length.
	ErrBadKey = errors.New("mediapeer: bad SRTP key length")
	// ErrNotConfigured is returned by Send before Configure gave a remote.
	ErrNotConfigured = errors.New("mediapeer: no remote address configured")
	// ErrClosed is returned by Send and Configure after Close.
	ErrClosed = errors.New("mediapeer: peer closed")
)
