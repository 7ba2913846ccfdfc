package routing

import "errors"

// Errors returned by routing decisions. Callers map them to SIP or HTTP codes.
var (
	// ErrInvalidNumber means a number is not a dialable E.164 number.
	ErrInvalidNumber = errors.New("invalid number")
	// ErrNoRoute means no active binding matches the call.
	ErrNoRoute = errors.New("no route")
)
