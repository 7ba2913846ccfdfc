package sip

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"callgate/media"
	"callgate/routing"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// errorCase is one call-setup error with the SIP status and call-record cause it must
// map to.
type errorCase struct {
	name   string
	err    error
	code   int
	reason string
	cause  string
}

// errorCases share one table between statusFor and causeOf so that every error is
// checked against both mappings. statusFor is called with noRoute 480.
var errorCases = []errorCase{
	{"nil", nil, 200, "OK", ""},

	// The callee's answer is relayed, except answers about us.
	{"leg 486 relayed", &LegError{Code: 486, Reason: "Busy Here"}, 486, "Busy Here", "callee_486"},
	{"leg 404 relayed", &LegError{Code: 404, Reason: "Not Found"}, 404, "Not Found", "callee_404"},
	{"leg 603 relayed", &LegError{Code: 603, Reason: "Decline"}, 603, "Decline", "callee_603"},
	{"leg 480 relayed", &LegError{Code: 480, Reason: "Temporarily Unavailable"}, 480, "Temporarily Unavailable", "callee_480"},
	{"leg 401 is ours", &LegError{Code: 401, Reason: "Unauthorized"}, 503, "Service Unavailable", "callee_401"},
	{"leg 407 is ours", &LegError{Code: 407, Reason: "Proxy Authentication Required"}, 503, "Service Unavailable", "callee_407"},
	{"leg 300 not followed", &LegError{Code: 300, Reason: "Multiple Choices"}, 503, "Service Unavailable", "callee_300"},
	{"leg 302 not followed", &LegError{Code: 302, Reason: "Moved Temporarily"}, 503, "Service Unavailable", "callee_302"},
	{"leg 399 not followed", &LegError{Code: 399, Reason: "Odd Redirect"}, 503, "Service Unavailable", "callee_399"},
	{"leg 500 relayed", &LegError{Code: 500, Reason: "Oops"}, 500, "Server Internal Error", "callee_500"},
	{"leg 502 relayed", &LegError{Code: 502, Reason: "Bad Gateway"}, 502, "Bad Gateway", "callee_502"},
	{"leg 503 is not our overload", &LegError{Code: 503, Reason: "Service Unavailable"}, 500, "Server Internal Error", "callee_503"},
	{"leg 408 relayed", &LegError{Code: 408, Reason: "Request Timeout"}, 408, "Request Timeout", "callee_408"},
	{"leg unlisted 4xx gets class phrase", &LegError{Code: 477, Reason: "Peer Text"}, 477, "Request Failure", "callee_477"},
	{"leg unlisted 5xx gets class phrase", &LegError{Code: 599, Reason: "Peer Text"}, 599, "Server Failure", "callee_599"},
	{"leg unlisted 6xx gets class phrase", &LegError{Code: 699, Reason: "Peer Text"}, 699, "Global Failure", "callee_699"},
	{"leg 2xx out of range", &LegError{Code: 200, Reason: "OK"}, 500, "Server Internal Error", "callee_200"},
	{"leg 1xx out of range", &LegError{Code: 180, Reason: "Ringing"}, 500, "Server Internal Error", "callee_180"},
	{"leg 0 out of range", &LegError{Code: 0}, 500, "Server Internal Error", "callee_0"},
	{"leg 700 out of range", &LegError{Code: 700, Reason: "Future"}, 500, "Server Internal Error", "callee_700"},
	{"leg wrapped", fmt.Errorf("outbound leg: %w", &LegError{Code: 486, Reason: "Busy"}), 486, "Busy Here", "callee_486"},
	{"leg wrapped twice", fmt.Errorf("call: %w", fmt.Errorf("leg: %w", &LegError{Code: 407})), 503, "Service Unavailable", "callee_407"},
	{"leg reason never copied", &LegError{Code: 486, Reason: "Injected\r\nX-Evil: 1"}, 486, "Busy Here", "callee_486"},

	// sipgo's own dialog error, if it reaches statusFor unconverted.
	{"dialog 486", &sipgo.ErrDialogResponse{Res: sip.NewResponse(486, "Busy")}, 486, "Busy Here", "callee_486"},
	{"dialog 407 wrapped", fmt.Errorf("invite: %w", &sipgo.ErrDialogResponse{Res: sip.NewResponse(407, "Auth")}), 503, "Service Unavailable", "callee_407"},

	{"forbidden source", ErrForbiddenSource, 403, "Forbidden", "forbidden_source"},
	{"no route custom status", routing.ErrNoRoute, 480, "Temporarily Unavailable", "no_route"},
	{"no route wrapped", fmt.Errorf("route +4930: %w", routing.ErrNoRoute), 480, "Temporarily Unavailable", "no_route"},
	{"invalid number", routing.ErrInvalidNumber, 484, "Address Incomplete", "invalid_number"},
	{"invalid number wrapped", fmt.Errorf("callee %q: %w", "abc", routing.ErrInvalidNumber), 484, "Address Incomplete", "invalid_number"},
	{"no answer", ErrNoAnswer, 480, "Temporarily Unavailable", "no_answer"},
	{"draining", ErrDraining, 503, "Service Unavailable", "shutdown"},
	{"canceled", ErrCanceled, 487, "Request Terminated", "cancel"},
	{"context canceled", fmt.Errorf("route: %w", context.Canceled), 487, "Request Terminated", "cancel"},
	{"canceled by shutdown", fmt.Errorf("%w: %w", ErrCanceled, ErrDraining), 503, "Service Unavailable", "shutdown"},
	{"shutdown then cancel", fmt.Errorf("%w: %w", ErrDraining, ErrCanceled), 503, "Service Unavailable", "shutdown"},
	{"canceled by shutdown joined", errors.Join(ErrCanceled, ErrDraining), 503, "Service Unavailable", "shutdown"},
	{"trunk limit", fmt.Errorf("%w: carrier has 2 calls", ErrTrunkLimit), 503, "Service Unavailable", "trunk_limit"},
	{"unknown trunk", fmt.Errorf("%w: %q", ErrUnknownTrunk, "gone"), 503, "Service Unavailable", "unknown_trunk"},
	{"no media ports", fmt.Errorf("leg A: %w", media.ErrNoPorts), 503, "Service Unavailable", "no_media_ports"},
	{"no common codec", fmt.Errorf("%w: caller offered none of PCMU", media.ErrNoCommonCodec), 488, "Not Acceptable Here", "codec"},
	{"bad SDP", ErrBadSDP, 488, "Not Acceptable Here", "codec"},
	{"bad SDP wrapped", fmt.Errorf("%w: %w", ErrBadSDP, media.ErrBadSDP), 488, "Not Acceptable Here", "codec"},
	{"no offer", ErrNoOffer, 488, "Not Acceptable Here", "codec"},
	{"deadline", context.DeadlineExceeded, 408, "Request Timeout", "timeout"},
	{"deadline wrapped", fmt.Errorf("route: %w", context.DeadlineExceeded), 408, "Request Timeout", "timeout"},
	{"unknown", errors.New("disk on fire"), 500, "Server Internal Error", "error"},
}

func TestStatusFor(t *testing.T) {
	for _, tc := range errorCases {
		t.Run(tc.name, func(t *testing.T) {
			code, reason := statusFor(tc.err, 480)
			if code != tc.code || reason != tc.reason {
				t.Errorf("statusFor(%v, 480) = %d %q, want %d %q", tc.err, code, reason, tc.code, tc.reason)
			}
		})
	}
}

func TestStatusForNoRouteUsesConfiguredStatus(t *testing.T) {
	for _, tc := range []struct {
		noRoute int
		reason  string
	}{
		{404, "Not Found"},
		{480, "Temporarily Unavailable"},
		{604, "Does Not Exist Anywhere"},
		{403, "Forbidden"},
		{499, "Request Failure"},
	} {
		code, reason := statusFor(fmt.Errorf("lookup: %w", routing.ErrNoRoute), tc.noRoute)
		if code != tc.noRoute || reason != tc.reason {
			t.Errorf("statusFor(ErrNoRoute, %d) = %d %q, want %d %q", tc.noRoute, code, reason, tc.noRoute, tc.reason)
		}
	}
}

func TestCauseOf(t *testing.T) {
	for _, tc := range errorCases {
		t.Run(tc.name, func(t *testing.T) {
			if got := causeOf(tc.err); got != tc.cause {
				t.Errorf("causeOf(%v) = %q, want %q", tc.err, got, tc.cause)
			}
		})
	}
}

func TestRetryable(t *testing.T) {
	for _, tc := range []struct {
		code int
		want bool
	}{
		{408, true},
		{500, true},
		{502, true},
		{503, true},
		{599, true},
		{404, false},
		{480, false},
		{486, false},
		{487, false},
		{600, false},
		{603, false},
	} {
		if got := (&LegError{Code: tc.code}).Retryable(); got != tc.want {
			t.Errorf("LegError{%d}.Retryable() = %v, want %v", tc.code, got, tc.want)
		}
	}
}

func TestReasonPhraseNeverEmpty(t *testing.T) {
	for code := 400; code <= 699; code++ {
		if got := reasonPhrase(code); got == "" || got == "Unknown" {
			t.Errorf("reasonPhrase(%d) = %q, want a failure phrase", code, got)
		}
	}
}

func TestLegErrorMessage(t *testing.T) {
	err := fmt.Errorf("leg: %w", &LegError{Code: 486, Reason: "Busy Here"})
	if got, want := err.Error(), "leg: callee answered 486 Busy Here"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
