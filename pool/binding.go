package pool

import (
	"fmt"
	"time"
)

// maxExpirySec bounds ExpirySec (100 years) so that expiry arithmetic in milliseconds
// cannot overflow.
const maxExpirySec = 100 * 365 * 24 * 3600

// EndsAt returns the instant b stops routing under its expiry type, or the zero time
// if it has no end (yet): ExpiryNever, and ExpiryAfterFirstCall before the first call.
// The store applies the same rule in SQL (bindings.ends_at).
func (b Binding) EndsAt() time.Time {
	n := time.Duration(b.ExpirySec) * time.Second
	switch b.Expiry {
	case ExpiryAfterBind:
		return b.CreatedAt.Add(n)
	case ExpiryAfterFirstCall:
		if b.FirstCall.IsZero() {
			return time.Time{}
		}
		return b.FirstCall.Add(n)
	case ExpiryAfterLastCall:
		if b.LastCall.IsZero() {
			return b.CreatedAt.Add(n)
		}
		return b.LastCall.Add(n)
	case ExpiryAt:
		return b.ExpireAt
	default: // ExpiryNever, and "" which the store reads as never
		return time.Time{}
	}
}

// ActiveAt reports whether b still routes at now by its expiry type: a binding is
// active strictly before EndsAt. It does not know about unbinding (deleted bindings
// are never returned by the store).
func (b Binding) ActiveAt(now time.Time) bool {
	end := b.EndsAt()
	return end.IsZero() || now.Before(end)
}

// validate checks the rules of a binding's shape and returns b with defaults applied
// (an empty Expiry is ExpiryNever).
func (b Binding) validate() (Binding, error) {
	if b.Expiry == "" {
		b.Expiry = ExpiryNever
	}
	bad := func(format string, args ...any) (Binding, error) {
		return b, fmt.Errorf("pool: binding %s %s (A %q): %w: %s",
			b.Mode, b.Virtual, b.A, ErrInvalid, fmt.Sprintf(format, args...))
	}
	switch {
	case b.Virtual == "":
		return bad("virtual number is empty")
	case b.B == "":
		return bad("party B is empty")
	}
	switch b.Mode {
	case ModeAXN:
		if b.A != "" {
			return bad("AXN binding has party A %q", b.A)
		}
	case ModeAXB, ModeAXYB:
		if b.A == "" {
			return bad("party A is empty")
		}
	default:
		return bad("unknown mode %q", b.Mode)
	}
	if (b.Mode == ModeAXYB) != (b.Y != "") {
		return bad("Y %q is set exactly on AXYB bindings", b.Y)
	}
	switch b.Expiry {
	case ExpiryNever:
	case ExpiryAfterBind, ExpiryAfterFirstCall, ExpiryAfterLastCall:
		if b.ExpirySec <= 0 || b.ExpirySec > maxExpirySec {
			return bad("expiry %s needs 0 < ExpirySec <= %d, got %d", b.Expiry, maxExpirySec, b.ExpirySec)
		}
	case ExpiryAt:
		if b.ExpireAt.IsZero() {
			return bad("expiry %s needs ExpireAt", b.Expiry)
		}
	default:
		return bad("unknown expiry type %q", b.Expiry)
	}
	if b.ExpirySec < 0 {
		return bad("negative ExpirySec %d", b.ExpirySec)
	}
	return b, nil
}
