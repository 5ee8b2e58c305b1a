package sip

import (
	"errors"
	"fmt"
)

var (
	// ErrClosed is returned when the Endpoint or the call is already closed.
	ErrClosed = errors.New("sip: closed")
	// ErrCancelled is returned by Endpoint.Invite when its context ended
	// before a final response and the INVITE was cancelled, and by
	// ServerCall methods after the caller sent CANCEL.
	ErrCancelled = errors.New("sip: call cancelled")
	// ErrNoResponse is returned by Endpoint.Invite when the peer sent no
	// response at all within InviteRequest.ResponseTimeout or the transaction
	// timer.
	ErrNoResponse = errors.New("sip: no response from peer")
	// ErrTransport is returned when a request could not be sent (connection
	// refused, TLS handshake failure, unreachable host).
	ErrTransport = errors.New("sip: transport failure")
	// ErrNoAck is returned by ServerCall.Answer when the caller never
	// acknowledged the 2xx; the call is then ended with BYE.
	ErrNoAck = errors.New("sip: 2xx not acknowledged")
	// ErrAlreadyAnswered is returned when a final response was already sent.
	ErrAlreadyAnswered = errors.New("sip: final response already sent")
	// ErrNotAnswered is returned by in-dialog methods of a ServerCall that
	// has not been answered.
	ErrNotAnswered = errors.New("sip: call not answered")
	// ErrConfig is wrapped by every configuration error.
	ErrConfig = errors.New("sip: invalid configuration")
)

// StatusError is returned by Endpoint.Invite when the peer answered with a
// final response other than 2xx.
type StatusError struct {
	Response Response
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("sip: call rejected with %d %s", e.Response.StatusCode, e.Response.Reason)
}

func configError(field, problem string) error {
	return fmt.Errorf("%w: %s: %s", ErrConfig, field, problem)
}
