package sip

import (
	"context"
	"errors"
	"fmt"

	"callgate/media"
	"callgate/routing"

	"github.com/emiago/sipgo"
)

// Errors of the SIP side. Every failure of a call maps to a SIP status in statusFor.
var (
	// ErrForbiddenSource means a request came from an address no trunk owns.
	ErrForbiddenSource = errors.New("source is not a configured trunk")
	// ErrDraining means callgate is shutting down and takes no new calls.
	ErrDraining = errors.New("shutting down")
	// ErrTrunkLimit means the trunk is at its concurrent-call or calls-per-second limit.
	ErrTrunkLimit = errors.New("trunk at its call limit")
	// ErrTrunkDown means no trunk a call could use takes new calls: their OPTIONS
	// probes fail, or they are drained or disabled (probe.go, failover.go).
	ErrTrunkDown = errors.New("trunk takes no new calls")
	// ErrUnknownTrunk means a decision named a trunk that is not configured.
	ErrUnknownTrunk = errors.New("unknown trunk")
	// ErrNoOffer means an INVITE carried no SDP offer.
	ErrNoOffer = errors.New("INVITE without SDP offer")
	// ErrBadSDP means an SDP body could not be used.
	ErrBadSDP = errors.New("unusable SDP")
	// ErrBadHeaderValue means a value callgate was about to write into a SIP header is
	// not safe there (not a plain number, or it holds CR/LF).
	ErrBadHeaderValue = errors.New("unsafe value for a SIP header")
	// ErrNoAnswer means the callee did not answer within the ring timeout.
	ErrNoAnswer = errors.New("no answer")
	// ErrCanceled means the caller gave up before the callee answered.
	ErrCanceled = errors.New("caller canceled")
	// ErrAuthFailed means digest credentials (of a trunk that registers to callgate)
	// did not verify: 403, the answer a stranger's INVITE gets (registrar.go).
	ErrAuthFailed = errors.New("digest authentication failed")
	// ErrIntervalTooBrief means a REGISTER asked for less than the trunk's
	// registers_to_us.min_expires (423).
	ErrIntervalTooBrief = errors.New("registration interval too brief")
)

// Errors of request validation (validate.go): the request itself is at fault. A
// RequestError wraps one of them with the details; statusFor maps each to its status.
var (
	// ErrBadRequest means a request is malformed or lacks a mandatory header (400).
	ErrBadRequest = errors.New("malformed request")
	// ErrVersionNotSupported means a request is not SIP/2.0 (505).
	ErrVersionNotSupported = errors.New("SIP version not supported")
	// ErrUnsupportedURIScheme means a Request-URI, From or To is not sip, sips or tel (416).
	ErrUnsupportedURIScheme = errors.New("unsupported URI scheme")
	// ErrBadExtension means a request requires an extension callgate lacks (420).
	ErrBadExtension = errors.New("required extension not supported")
	// ErrUnsupportedMediaType means an INVITE body is not application/sdp (415).
	ErrUnsupportedMediaType = errors.New("unsupported media type")
	// ErrNotAcceptable means an INVITE does not accept application/sdp answers (406).
	ErrNotAcceptable = errors.New("answer body not acceptable")
	// ErrTooManyHops means a request arrived with Max-Forwards 0 (483).
	ErrTooManyHops = errors.New("Max-Forwards exhausted")
	// ErrMethodNotAllowed means a SIP method callgate knows but does not serve (405).
	ErrMethodNotAllowed = errors.New("method not allowed")
	// ErrNotImplemented means a method callgate does not know (501).
	ErrNotImplemented = errors.New("method not implemented")
	// ErrUnsafeValue means a value callgate was about to write into a SIP header is not
	// safe there (a control character, a separator): nothing is sent (500).
	ErrUnsafeValue = errors.New("value unsafe in a SIP header")
)

// RequestError says what is wrong with a request. Unwrap gives its Err… kind.
type RequestError struct {
	Kind   error
	Detail string
	// Unsupported lists the option tags a 420 answer names in its Unsupported header.
	Unsupported []string
}

func (e *RequestError) Error() string {
	if e.Detail == "" {
		return e.Kind.Error()
	}
	return e.Kind.Error() + ": " + e.Detail
}

func (e *RequestError) Unwrap() error { return e.Kind }

// LegError is the final non-2xx response of an outbound leg.
type LegError struct {
	Code   int
	Reason string
}

func (e *LegError) Error() string { return fmt.Sprintf("callee answered %d %s", e.Code, e.Reason) }

// Retryable reports whether another trunk may succeed where this one failed: timeouts
// and server failures are the trunk's fault; other answers are the callee's.
func (e *LegError) Retryable() bool { return e.Code == 408 || e.Code >= 500 && e.Code < 600 }

// statusFor maps an error from call setup to the SIP status answered to the caller.
// noRoute is the configured status for calls that match no binding.
func statusFor(err error, noRoute int) (int, string) {
	var legErr *LegError
	var dialogErr *sipgo.ErrDialogResponse
	switch {
	case err == nil:
		return 200, "OK"
	case errors.Is(err, ErrBadRequest):
		return 400, "Bad Request"
	case errors.Is(err, ErrVersionNotSupported):
		return 505, "Version Not Supported"
	case errors.Is(err, ErrUnsupportedURIScheme):
		return 416, "Unsupported URI Scheme"
	case errors.Is(err, ErrBadExtension):
		return 420, "Bad Extension"
	case errors.Is(err, ErrUnsupportedMediaType):
		return 415, "Unsupported Media Type"
	case errors.Is(err, ErrNotAcceptable):
		return 406, "Not Acceptable"
	case errors.Is(err, ErrTooManyHops):
		return 483, "Too Many Hops"
	case errors.Is(err, ErrMethodNotAllowed):
		return 405, "Method Not Allowed"
	case errors.Is(err, ErrNotImplemented):
		return 501, "Not Implemented"
	case errors.Is(err, ErrUnsafeValue):
		return 500, "Server Internal Error"
	case errors.As(err, &legErr):
		return relayStatus(legErr.Code, legErr.Reason)
	case errors.As(err, &dialogErr):
		return relayStatus(dialogErr.Res.StatusCode, dialogErr.Res.Reason)
	case errors.Is(err, ErrForbiddenSource), errors.Is(err, ErrAuthFailed):
		return 403, "Forbidden"
	case errors.Is(err, ErrIntervalTooBrief):
		return 423, "Interval Too Brief"
	case errors.Is(err, routing.ErrNoRoute):
		return noRoute, reasonPhrase(noRoute)
	case errors.Is(err, routing.ErrInvalidNumber):
		return 484, "Address Incomplete"
	case errors.Is(err, ErrNoAnswer):
		return 480, "Temporarily Unavailable"
	case errors.Is(err, ErrDraining):
		return 503, "Service Unavailable"
	case errors.Is(err, ErrCanceled), errors.Is(err, context.Canceled):
		return 487, "Request Terminated"
	case errors.Is(err, ErrNoOffer), errors.Is(err, ErrBadSDP), errors.Is(err, media.ErrNoCommonCodec):
		return 488, "Not Acceptable Here"
	case errors.Is(err, ErrTrunkLimit), errors.Is(err, media.ErrNoPorts),
		errors.Is(err, ErrUnknownTrunk), errors.Is(err, ErrTrunkDown):
		return 503, "Service Unavailable"
	case errors.Is(err, context.DeadlineExceeded):
		return 408, "Request Timeout"
	default:
		return 500, "Server Internal Error"
	}
}

// relayStatus decides what the caller hears when the callee's leg fails: the callee's
// own answer, except for answers that are about us and not the callee (our credentials,
// redirects we do not follow), which become 503, and the callee side's 503, which
// becomes 500 so the caller's carrier does not take callgate itself for overloaded
// (RFC 3261 §16.7).
func relayStatus(code int, reason string) (int, string) {
	switch {
	case code == 401 || code == 407 || code >= 300 && code < 400:
		return 503, "Service Unavailable"
	case code == 503:
		return 500, "Server Internal Error"
	case code < 300 || code > 699:
		return 500, "Server Internal Error"
	}
	return code, reasonPhrase(code)
}

// reasonPhrase gives the standard phrase for a code. Reason phrases from peers are never
// copied into our responses.
func reasonPhrase(code int) string {
	switch code {
	case 400:
		return "Bad Request"
	case 403:
		return "Forbidden"
	case 404:
		return "Not Found"
	case 408:
		return "Request Timeout"
	case 410:
		return "Gone"
	case 480:
		return "Temporarily Unavailable"
	case 481:
		return "Call/Transaction Does Not Exist"
	case 484:
		return "Address Incomplete"
	case 486:
		return "Busy Here"
	case 487:
		return "Request Terminated"
	case 488:
		return "Not Acceptable Here"
	case 500:
		return "Server Internal Error"
	case 502:
		return "Bad Gateway"
	case 503:
		return "Service Unavailable"
	case 504:
		return "Server Time-out"
	case 600:
		return "Busy Everywhere"
	case 603:
		return "Decline"
	case 604:
		return "Does Not Exist Anywhere"
	}
	switch code / 100 {
	case 4:
		return "Request Failure"
	case 5:
		return "Server Failure"
	case 6:
		return "Global Failure"
	}
	return "Unknown"
}

// causeOf names an error in call records and logs.
func causeOf(err error) string {
	var legErr *LegError
	var dialogErr *sipgo.ErrDialogResponse
	switch {
	case err == nil:
		return ""
	case errors.As(err, &legErr):
		return fmt.Sprintf("callee_%d", legErr.Code)
	case errors.As(err, &dialogErr):
		return fmt.Sprintf("callee_%d", dialogErr.Res.StatusCode)
	case errors.Is(err, ErrForbiddenSource):
		return "forbidden_source"
	case errors.Is(err, ErrUnknownTrunk):
		return "unknown_trunk"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, routing.ErrNoRoute):
		return "no_route"
	case errors.Is(err, routing.ErrInvalidNumber):
		return "invalid_number"
	case errors.Is(err, ErrNoAnswer):
		return "no_answer"
	case errors.Is(err, ErrDraining):
		return "shutdown"
	case errors.Is(err, ErrCanceled), errors.Is(err, context.Canceled):
		return "cancel"
	case errors.Is(err, ErrTrunkLimit):
		return "trunk_limit"
	case errors.Is(err, ErrTrunkDown):
		return "trunk_down"
	case errors.Is(err, ErrNoOffer), errors.Is(err, ErrBadSDP), errors.Is(err, media.ErrNoCommonCodec):
		return "codec"
	case errors.Is(err, media.ErrNoPorts):
		return "no_media_ports"
	}
	return "error"
}
