package routing

import (
	"context"
	"fmt"
	"time"

	"callgate/pool"
)

// BindingLookup finds the bindings that can route a call from caller to a virtual
// number at now: those active then whose X is the number and whose A (or, for AXB,
// B) is the caller, the AXYB ones whose Y is the number and whose B is the caller,
// and the AXN ones on the number. Returning more active bindings on the number is
// allowed (Route filters); returning fewer is not.
type BindingLookup interface {
	RouteBindings(ctx context.Context, virtual, caller string, now time.Time) ([]pool.Binding, error)
}

// InboundCall is a call a carrier delivered to one of our numbers. Numbers are E.164.
type InboundCall struct {
	Trunk  string // trunk the call came in on
	Caller string // the calling party (From)
	Callee string // the number dialled: a virtual number
}

// Decision says where an inbound call goes.
type Decision struct {
	Tenant    string
	BindingID int64
	Mode      pool.Mode
	// Target is the number to call on the B-leg.
	Target string
	// ShowAs is the caller ID the target sees.
	ShowAs string
	// Trunk carries the B-leg; empty means the caller of Route chooses.
	Trunk string
}

// NoBindingAction is what a call to a virtual number gets when no binding matches.
type NoBindingAction string

// The no-binding actions.
const (
	// NoBindingReject answers the call with NoBinding.Status.
	NoBindingReject NoBindingAction = "reject"
	// NoBindingAnnounce plays NoBinding.Announcement to the caller, then ends the call
	// with NoBinding.Status.
	NoBindingAnnounce NoBindingAction = "announce"
)

// NoBinding is the configured treatment of calls no binding matches.
type NoBinding struct {
	Action NoBindingAction
	// Status is the SIP final status of the call (e.g. 404, 480).
	Status int
	// Announcement is the path of the WAV file to play for NoBindingAnnounce.
	Announcement string
}

// NoRouteError is the error Route returns when no active binding matches a call. It
// unwraps to ErrNoRoute and carries the treatment the call gets.
type NoRouteError struct {
	Caller, Callee string
	Treatment      NoBinding
}

// Error says which call found no binding.
func (e *NoRouteError) Error() string {
	return fmt.Sprintf("%v: no active binding on %s for caller %s", ErrNoRoute, e.Callee, e.Caller)
}

// Unwrap returns ErrNoRoute.
func (e *NoRouteError) Unwrap() error { return ErrNoRoute }

// Inbound routes calls to virtual numbers by their bindings.
type Inbound struct {
	bindings  BindingLookup
	now       func() time.Time
	noBinding NoBinding
}

// InboundOption configures NewInbound.
type InboundOption func(*Inbound)

// WithNoBinding sets the treatment of calls no binding matches; the default rejects
// them with status 404.
func WithNoBinding(t NoBinding) InboundOption {
	return func(r *Inbound) { r.noBinding = t }
}

// NewInbound returns an inbound router over bindings; now is the clock (time.Now if nil).
func NewInbound(bindings BindingLookup, now func() time.Time, opts ...InboundOption) *Inbound {
	if now == nil {
		now = time.Now
	}
	r := &Inbound{bindings: bindings, now: now, noBinding: NoBinding{Action: NoBindingReject, Status: 404}}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Route finds the binding for c, in this order:
//
//   - AXB on the dialled number V: the caller is A → B; the caller is B → A.
//   - AXYB: V is its X and the caller is A → B, shown Y; V is its Y and the caller is
//     B → A, shown X.
//   - AXN on V: any caller → B.
//
// The target sees the virtual number of the binding as caller ID (V, except for the
// AXYB A → B direction, which shows Y). A binding that is not active at the router's
// clock never routes, whatever the lookup returned. When nothing matches, the error
// is a *NoRouteError (errors.Is ErrNoRoute) carrying the configured treatment.
func (r *Inbound) Route(ctx context.Context, c InboundCall) (Decision, error) {
	now := r.now()
	bs, err := r.bindings.RouteBindings(ctx, c.Callee, c.Caller, now)
	if err != nil {
		return Decision{}, fmt.Errorf("look up bindings on %s: %w", c.Callee, err)
	}
	var axn *pool.Binding
	for i := range bs {
		b := &bs[i]
		if !b.ActiveAt(now) {
			continue
		}
		switch b.Mode {
		case pool.ModeAXB:
			if b.Virtual != c.Callee {
				continue
			}
			switch c.Caller {
			case b.A:
				return decide(b, b.B, b.Virtual, b.Trunk), nil
			case b.B:
				return decide(b, b.A, b.Virtual, b.Trunk), nil
			}
		case pool.ModeAXYB:
			switch {
			case b.Virtual == c.Callee && c.Caller == b.A:
				trunk := b.YTrunk
				if trunk == "" {
					trunk = b.Trunk
				}
				return decide(b, b.B, b.Y, trunk), nil
			case b.Y == c.Callee && c.Caller == b.B:
				return decide(b, b.A, b.Virtual, b.Trunk), nil
			}
		case pool.ModeAXN:
			if axn == nil && b.Virtual == c.Callee {
				axn = b
			}
		}
	}
	if axn != nil {
		return decide(axn, axn.B, axn.Virtual, axn.Trunk), nil
	}
	return Decision{}, &NoRouteError{Caller: c.Caller, Callee: c.Callee, Treatment: r.noBinding}
}

func decide(b *pool.Binding, target, showAs, trunk string) Decision {
	return Decision{
		Tenant:    b.Tenant,
		BindingID: b.ID,
		Mode:      b.Mode,
		Target:    target,
		ShowAs:    showAs,
		Trunk:     trunk,
	}
}
