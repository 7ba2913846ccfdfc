package apiclient

import (
	"fmt"
	"time"
)

// The wire types of the business API, shared by the server and this client.

// Expiry is when a binding stops routing. Type is "never" (the default),
// "after_bind", "after_first_call", "after_last_call" (each with Seconds) or "at"
// (with At).
type Expiry struct {
	Type    string     `json:"type"`
	Seconds int64      `json:"seconds,omitempty"`
	At      *time.Time `json:"at,omitempty"`
}

// CreateBindingRequest is the body of POST /v1/bindings.
type CreateBindingRequest struct {
	Mode string `json:"mode"` // AXN, AXB or AXYB
	// Tenant may be left out when the app acts for one tenant only.
	Tenant string `json:"tenant,omitempty"`
	A      string `json:"a,omitempty"` // AXB and AXYB only
	B      string `json:"b"`
	// X and Y ask for particular virtual numbers (Y for AXYB only); by default
	// callgate picks them from the pools of the tenant's pool policy.
	X string `json:"x,omitempty"`
	Y string `json:"y,omitempty"`
	// City and Channel select the pool policy.
	City    string  `json:"city,omitempty"`
	Channel string  `json:"channel,omitempty"`
	Expiry  *Expiry `json:"expiry,omitempty"`
	// IdempotencyKey makes a retried create return the first one's binding (it may
	// also come in the Idempotency-Key header).
	IdempotencyKey string `json:"idempotency_key,omitempty"`
}

// LookupOrBindRequest is the body of POST /v1/bindings/lookup-or-bind: the tenant's
// active binding of the party pair, or a new one made as CreateBindingRequest says.
type LookupOrBindRequest struct {
	Mode    string  `json:"mode"`
	Tenant  string  `json:"tenant,omitempty"`
	A       string  `json:"a,omitempty"`
	B       string  `json:"b"`
	City    string  `json:"city,omitempty"`
	Channel string  `json:"channel,omitempty"`
	Expiry  *Expiry `json:"expiry,omitempty"`
}

// UpdateBindingRequest is the body of PATCH /v1/bindings/{id}: a new party B, a new
// expiry, or both.
type UpdateBindingRequest struct {
	B      *string `json:"b,omitempty"`
	Expiry *Expiry `json:"expiry,omitempty"`
}

// The states of a binding.
const (
	StateActive  = "active"  // routes calls
	StateExpired = "expired" // past its expiry, not reclaimed yet: routes nothing
	StateEnded   = "ended"   // unbound or reclaimed (see EndReason)
)

// Binding is a virtual-number binding as the API returns it.
type Binding struct {
	ID     int64  `json:"id"`
	Tenant string `json:"tenant"`
	Mode   string `json:"mode"`
	X      string `json:"x"`
	Y      string `json:"y,omitempty"`
	A      string `json:"a,omitempty"`
	B      string `json:"b"`
	// City, Channel: the pool policy inputs; Pool: where X came from.
	City    string `json:"city,omitempty"`
	Channel string `json:"channel,omitempty"`
	Pool    string `json:"pool,omitempty"`
	// Static bindings come from the config and cannot be changed through the API.
	Static         bool       `json:"static,omitempty"`
	Expiry         Expiry     `json:"expiry"`
	State          string     `json:"state"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      *time.Time `json:"updated_at,omitempty"`
	FirstCallAt    *time.Time `json:"first_call_at,omitempty"`
	LastCallAt     *time.Time `json:"last_call_at,omitempty"`
	EndsAt         *time.Time `json:"ends_at,omitempty"`  // when it stops routing, if known
	EndedAt        *time.Time `json:"ended_at,omitempty"` // when it was unbound or reclaimed
	EndReason      string     `json:"end_reason,omitempty"`
	IdempotencyKey string     `json:"idempotency_key,omitempty"`
}

// BindingList is one page of GET /v1/bindings.
type BindingList struct {
	Bindings []Binding `json:"bindings"`
	// NextCursor, when set, is the cursor parameter of the next page.
	NextCursor string `json:"next_cursor,omitempty"`
}

// ErrorBody is the body of every error response.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail says what went wrong.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// Field names the request field at fault, for 400s about one field.
	Field string `json:"field,omitempty"`
	// Reason refines Code for 409s about allocation (no_pool, no_numbers, all_busy,
	// party_bound, number_taken).
	Reason string `json:"reason,omitempty"`
}

// Error is an error response of the API.
type Error struct {
	Status int // HTTP status
	ErrorDetail
}

// Error returns "callgate API: status code: message".
func (e *Error) Error() string {
	msg := fmt.Sprintf("callgate API: %d %s: %s", e.Status, e.Code, e.Message)
	if e.Field != "" {
		msg += " (field " + e.Field + ")"
	}
	return msg
}
