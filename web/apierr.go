package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"callgate/pool"
	"callgate/web/apiclient"
)

// This file states the business API's errors in one place: what handlers return,
// and apiErrorOf, the one function that maps every error to an HTTP status and the
// JSON body {"error": {"code", "message", ...}}.

// The reasons of a 401, the "code" of its error body.
const (
	authMissingHeader = "missing_header" // a signing header is absent
	authUnknownApp    = "unknown_app"    // X-Callgate-App names no configured app
	authBadTimestamp  = "bad_timestamp"  // not unix seconds, or outside ±300 s
	authBadNonce      = "bad_nonce"      // not 8-64 of A-Z a-z 0-9 - . _ ~
	authBadSignature  = "bad_signature"  // not the HMAC of the canonical request
	authReplayedNonce = "replayed_nonce" // the app used this nonce before
)

// authError refuses a request's signature (401).
type authError struct {
	reason string
	msg    string
}

func (e *authError) Error() string { return e.reason + ": " + e.msg }

// requestError is a problem with the request itself that the handler names: status
// and code chosen by the handler, field when it is about one field, allow (the
// methods a path takes) for a 405.
type requestError struct {
	status int
	code   string
	field  string
	msg    string
	allow  string
}

func (e *requestError) Error() string { return e.code + ": " + e.msg }

// badField is a 400 about one field of the request.
func badField(field, format string, args ...any) error {
	return &requestError{status: http.StatusBadRequest, code: "invalid_field", field: field, msg: field + ": " + fmt.Sprintf(format, args...)}
}

// apiError is an error response.
type apiError struct {
	status int
	body   apiclient.ErrorDetail
}

// apiErrorOf maps err to its response. Errors it does not know are 500s whose
// message says nothing of the cause (the handler logs it).
func apiErrorOf(err error) apiError {
	detail := func(status int, code, msg string) apiError {
		return apiError{status: status, body: apiclient.ErrorDetail{Code: code, Message: msg}}
	}
	var (
		ae    *authError
		re    *requestError
		fe    *pool.FieldError
		alloc *pool.AllocationError
		mbe   *http.MaxBytesError
	)
	switch {
	case errors.As(err, &ae):
		return detail(http.StatusUnauthorized, ae.reason, ae.msg)
	case errors.As(err, &re):
		e := detail(re.status, re.code, re.msg)
		e.body.Field = re.field
		return e
	case errors.As(err, &mbe):
		return detail(http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("the body is larger than %d bytes", mbe.Limit))
	case errors.As(err, &fe):
		e := detail(http.StatusBadRequest, "invalid_field", fe.Field+": "+fe.Msg)
		e.body.Field = fe.Field
		return e
	case errors.As(err, &alloc):
		code := "no_virtual_number"
		if errors.Is(err, pool.ErrConflict) {
			code = "binding_conflict"
		}
		e := detail(http.StatusConflict, code, userMessage(alloc))
		e.body.Reason = string(alloc.Reason)
		return e
	case errors.Is(err, pool.ErrIdempotencyKey):
		return detail(http.StatusConflict, "idempotency_key_reused", "this idempotency key was used with a different request")
	case errors.Is(err, pool.ErrEnded):
		return detail(http.StatusConflict, "binding_ended", userMessage(err))
	case errors.Is(err, pool.ErrStatic):
		return detail(http.StatusConflict, "static_binding", "the binding is defined in the config; change it there")
	case errors.Is(err, pool.ErrNotFound):
		return detail(http.StatusNotFound, "not_found", "no such binding")
	case errors.Is(err, pool.ErrInvalid):
		return detail(http.StatusBadRequest, "invalid_request", userMessage(err))
	case errors.Is(err, pool.ErrClosed), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return detail(http.StatusServiceUnavailable, "unavailable", "callgate is shutting down or overloaded; retry")
	}
	return detail(http.StatusInternalServerError, "internal", "internal error")
}

// userMessage is err's text without the package prefix.
func userMessage(err error) string {
	return strings.TrimPrefix(err.Error(), "pool: ")
}

// writeAPIError writes err's response and returns its status.
func writeAPIError(w http.ResponseWriter, err error) int {
	e := apiErrorOf(err)
	var re *requestError
	if errors.As(err, &re) && re.allow != "" {
		w.Header().Set("Allow", re.allow)
	}
	writeAPIJSON(w, e.status, apiclient.ErrorBody{Error: e.body})
	return e.status
}

// writeAPIJSON writes v as the JSON response with status code.
func writeAPIJSON(w http.ResponseWriter, code int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// decodeError turns a JSON decoding error into a 400 naming the field.
func decodeError(err error) error {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "body"
		}
		return badField(field, "want %s, got %s", jsonKind(typ.Type.Kind().String()), typ.Value)
	case errors.As(err, &syn):
		return &requestError{status: http.StatusBadRequest, code: "invalid_json", msg: fmt.Sprintf("the body is not valid JSON: %v (at byte %d)", syn, syn.Offset)}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &requestError{status: http.StatusBadRequest, code: "unknown_field", field: name, msg: fmt.Sprintf("unknown field %q", name)}
	}
	var pe *time.ParseError
	if errors.As(err, &pe) || strings.HasPrefix(err.Error(), "Time.UnmarshalJSON") {
		// The only time a request carries.
		return badField("expiry.at", "want an RFC 3339 time such as 2026-11-20T09:00:00Z")
	}
	return &requestError{status: http.StatusBadRequest, code: "invalid_json", msg: "the body is not valid JSON: " + err.Error()}
}

// jsonKind names a Go kind the way a JSON author thinks of it.
func jsonKind(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64", "float32", "float64":
		return "a number"
	case "bool":
		return "true or false"
	case "struct", "map":
		return "an object"
	case "slice", "array":
		return "a list"
	case "ptr":
		return "an object"
	}
	return kind
}
