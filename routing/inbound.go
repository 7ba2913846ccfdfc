package routing

import (
	"context"
	"fmt"
	"time"

	"callgate/pool"
)

// BindingLookup finds the bindings that are active on a virtual number.
type BindingLookup interface {
	ActiveBindings(ctx context.Context, virtual string, now time.Time) ([]pool.Binding, error)
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

// Inbound routes calls to virtual numbers by their bindings.
type Inbound struct {
	bindings BindingLookup
	now      func() time.Time
}

// NewInbound returns an inbound router over bindings; now is the clock (time.Now if nil).
func NewInbound(bindings BindingLookup, now func() time.Time) *Inbound {
	if now == nil {
		now = time.Now
	}
	return &Inbound{bindings: bindings, now: now}
}

// Route finds the binding for c: an AXB binding whose one party is the caller reaches
// the other party; otherwise an AXN binding on the number reaches its B. The target
// sees the virtual number as caller ID. An expired binding never routes.
func (r *Inbound) Route(ctx context.Context, c InboundCall) (Decision, error) {
	bs, err := r.bindings.ActiveBindings(ctx, c.Callee, r.now())
	if err != nil {
		return Decision{}, fmt.Errorf("look up bindings on %s: %w", c.Callee, err)
	}
	var axn *pool.Binding
	for i := range bs {
		b := &bs[i]
		switch b.Mode {
		case pool.ModeAXB:
			switch c.Caller {
			case b.A:
				return decide(b, b.B), nil
			case b.B:
				return decide(b, b.A), nil
			}
		case pool.ModeAXN:
			if axn == nil {
				axn = b
			}
		}
	}
	if axn != nil {
		return decide(axn, axn.B), nil
	}
	return Decision{}, fmt.Errorf("%w: no active binding on %s for caller %s", ErrNoRoute, c.Callee, c.Caller)
}

func decide(b *pool.Binding, target string) Decision {
	return Decision{
		Tenant:    b.Tenant,
		BindingID: b.ID,
		Mode:      b.Mode,
		Target:    target,
		ShowAs:    b.Virtual,
		Trunk:     b.Trunk,
	}
}
