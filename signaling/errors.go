package signaling

import (
	"errors"

	"callgate/media"
	"callgate/routing"
	"callgate/sip"
)

// Errors of the signaling layer. errorCode maps every error to a protocol code.
var (
	// ErrBadCredentials means an unknown token or a wrong password; which of the two
	// is never said.
	ErrBadCredentials = errors.New("bad credentials")
	// ErrLockedOut means too many failed logins of the agent, or from the address,
	// within the lockout window: the login is refused whatever it presents, so the
	// answer says nothing of whether the password was right.
	ErrLockedOut = errors.New("too many failed logins: try again later")
	// ErrLoginUnavailable means a login could not be checked (the store failed).
	ErrLoginUnavailable = errors.New("login is unavailable right now: try again")
	// ErrSeatsExhausted means every seat of the tenant is taken.
	ErrSeatsExhausted = errors.New("all seats are taken")
	// ErrBadRequest means a malformed or unknown message.
	ErrBadRequest = errors.New("bad request")
	// ErrNotReady means a call request before the media session was set up.
	ErrNotReady = errors.New("media session not set up: send an offer first")
	// ErrBusy means the agent already has a call.
	ErrBusy = errors.New("the agent already has a call")
)

// errorCode maps an error to the protocol's error code (docs/signaling.md).
func errorCode(err error) string {
	switch {
	case errors.Is(err, ErrBadRequest):
		return "bad_request"
	case errors.Is(err, ErrBadCredentials):
		return "bad_credentials"
	case errors.Is(err, ErrLockedOut):
		return "locked_out"
	case errors.Is(err, ErrLoginUnavailable):
		return "unavailable"
	case errors.Is(err, ErrSeatsExhausted):
		return "seats_exhausted"
	case errors.Is(err, ErrNotReady):
		return "not_ready"
	case errors.Is(err, ErrBusy):
		return "busy"
	case errors.Is(err, routing.ErrInvalidNumber):
		return "invalid_number"
	case errors.Is(err, sip.ErrNoCall):
		return "no_call"
	case errors.Is(err, routing.ErrDoNotCall):
		return "do_not_call"
	case errors.Is(err, routing.ErrCalleeCapped):
		return "capped"
	case errors.Is(err, routing.ErrNoRoute), errors.Is(err, sip.ErrUnknownTrunk), errors.Is(err, media.ErrNoCommonCodec):
		return "no_route"
	case errors.Is(err, sip.ErrDraining), errors.Is(err, sip.ErrTrunkLimit), errors.Is(err, media.ErrNoPorts):
		return "unavailable"
	}
	return "internal"
}
