package hooks

import (
	"context"
	"time"

	"callgate/pool"
	"callgate/web"
	"callgate/web/apiclient"
)

// This file turns what happens elsewhere into events: finished calls (a call
// observer), bindings the business API makes (a wrapper of its store) and bindings
// the GC reclaims (a GC pass hook).

// CallData is the data of a call.ended event. Times are UTC.
type CallData struct {
	CallID string `json:"call_id"` // the call record's id
	// Direction is inbound (a carrier called a virtual number) or outbound (an
	// agent's call).
	Direction string `json:"direction"`
	Agent     string `json:"agent,omitempty"` // outbound calls
	// Caller is the calling party (inbound) or the number the customer saw
	// (outbound); Callee is the party called (for a masked call, the real party
	// reached); Virtual is the virtual number dialled (inbound).
	Caller  string `json:"caller"`
	Callee  string `json:"callee"`
	Virtual string `json:"virtual,omitempty"`
	// SIPCode is the call's final SIP status (200 for an answered call).
	SIPCode int `json:"sip_code"`
	// Reason is the hang-up cause (caller_bye, callee_bye, cancel, no_route, …);
	// HangupBy who ended it (caller, callee, agent, system).
	Reason   string     `json:"reason"`
	HangupBy string     `json:"hangup_by"`
	SetupAt  time.Time  `json:"setup_at"`
	RingAt   *time.Time `json:"ring_at,omitempty"`
	AnswerAt *time.Time `json:"answer_at,omitempty"`
	EndAt    time.Time  `json:"end_at"`
	// DurationMS runs from setup to end, TalkMS from answer to end (0 if never
	// answered); BilledSec is the talk time rounded up to whole seconds.
	DurationMS int64 `json:"duration_ms"`
	TalkMS     int64 `json:"talk_ms"`
	BilledSec  int64 `json:"billed_s"`
}

// CallProgressData is the data of call.started, call.ringing and call.answered:
// the call as far as it got.
type CallProgressData struct {
	CallID    string     `json:"call_id"`
	Direction string     `json:"direction"`
	Agent     string     `json:"agent,omitempty"`
	Caller    string     `json:"caller"`
	Callee    string     `json:"callee"`
	Virtual   string     `json:"virtual,omitempty"`
	SetupAt   time.Time  `json:"setup_at"`
	RingAt    *time.Time `json:"ring_at,omitempty"`
	AnswerAt  *time.Time `json:"answer_at,omitempty"`
}

// CallObserver learns of every finished call; sip.CallObserver has its shape.
type CallObserver interface {
	CallEnded(rec pool.Call, setup time.Duration)
}

var (
	_ CallObserver = (*Dispatcher)(nil)
	_ CallObserver = Observers(nil)
)

// Observers passes each finished call to every observer in turn (sip.WithObserver
// takes one: the metrics and the event callbacks both want the calls).
type Observers []CallObserver

// CallEnded calls CallEnded of each observer.
func (os Observers) CallEnded(rec pool.Call, setup time.Duration) {
	for _, o := range os {
		o.CallEnded(rec, setup)
	}
}

// CallProgress calls CallProgress of each observer that has it.
func (os Observers) CallProgress(rec pool.Call) {
	for _, o := range os {
		if p, ok := o.(interface{ CallProgress(pool.Call) }); ok {
			p.CallProgress(rec)
		}
	}
}

// CallProgress publishes call.started, call.ringing or call.answered for a call of
// a tenant in progress (rec.State setup, ringing, answered).
func (d *Dispatcher) CallProgress(rec pool.Call) {
	if rec.Tenant == "" {
		return
	}
	var typ string
	var at time.Time
	switch rec.State {
	case "setup":
		typ, at = TypeCallStarted, rec.SetupAt
	case "ringing":
		typ, at = TypeCallRinging, rec.RingAt
	case "answered":
		typ, at = TypeCallAnswered, rec.AnswerAt
	default:
		return
	}
	if at.IsZero() {
		at = d.now()
	}
	d.Publish(Event{Type: typ, Time: at, Tenant: rec.Tenant, Data: CallProgressData{CallID: rec.ID,
		Direction: string(rec.Direction), Agent: rec.Agent, Caller: rec.Caller, Callee: rec.Callee,
		Virtual: rec.Virtual, SetupAt: rec.SetupAt.UTC(), RingAt: utcOrNil(rec.RingAt),
		AnswerAt: utcOrNil(rec.AnswerAt)}})
}

// CallEnded publishes call.ended for a finished call of a tenant. A call that never
// found its tenant (a call to a virtual number no binding matched) has no receiver.
func (d *Dispatcher) CallEnded(rec pool.Call, _ time.Duration) {
	if rec.Tenant == "" {
		return
	}
	end := rec.EndAt
	if end.IsZero() {
		end = d.now()
	}
	data := CallData{CallID: rec.ID, Direction: string(rec.Direction), Agent: rec.Agent, Caller: rec.Caller,
		Callee: rec.Callee, Virtual: rec.Virtual, SIPCode: rec.SIPCode, Reason: rec.Reason, HangupBy: rec.HangupBy,
		SetupAt: rec.SetupAt.UTC(), RingAt: utcOrNil(rec.RingAt), AnswerAt: utcOrNil(rec.AnswerAt), EndAt: end.UTC(),
		BilledSec: rec.BilledSec}
	if !rec.SetupAt.IsZero() && end.After(rec.SetupAt) {
		data.DurationMS = end.Sub(rec.SetupAt).Milliseconds()
	}
	if !rec.AnswerAt.IsZero() && end.After(rec.AnswerAt) {
		data.TalkMS = end.Sub(rec.AnswerAt).Milliseconds()
	}
	d.Publish(Event{Type: TypeCallEnded, Time: end, Tenant: rec.Tenant, Data: data})
}

// Reclaimed publishes binding.expired for every binding a GC pass reclaimed; it has
// the shape pool.WithOnPass wants.
func (d *Dispatcher) Reclaimed(_ context.Context, r pool.GCResult) {
	for _, b := range r.Reclaimed {
		at := b.DeletedAt
		if at.IsZero() {
			at = d.now()
		}
		d.Publish(Event{Type: TypeBindingExpired, Time: at, Tenant: b.Tenant, Data: bindingData(b, apiclient.StateEnded)})
	}
}

// Bindings wraps the business API's store: every binding made through it (a create
// that is not an idempotent replay, a lookup-or-bind that made one) is published as
// binding.created after the store committed it.
func (d *Dispatcher) Bindings(s web.BindingStore) web.BindingStore {
	return &notifyingStore{BindingStore: s, d: d}
}

// notifyingStore is a web.BindingStore that publishes the bindings it makes.
type notifyingStore struct {
	web.BindingStore
	d *Dispatcher
}

var _ web.BindingStore = (*notifyingStore)(nil)

func (s *notifyingStore) CreateBinding(ctx context.Context, nb pool.NewBinding) (pool.BindingRecord, bool, error) {
	rec, replayed, err := s.BindingStore.CreateBinding(ctx, nb)
	if err == nil && !replayed {
		s.d.bindingCreated(rec)
	}
	return rec, replayed, err
}

func (s *notifyingStore) GetOrBind(ctx context.Context, nb pool.NewBinding) (pool.BindingRecord, bool, error) {
	rec, created, err := s.BindingStore.GetOrBind(ctx, nb)
	if err == nil && created {
		s.d.bindingCreated(rec)
	}
	return rec, created, err
}

func (d *Dispatcher) bindingCreated(b pool.BindingRecord) {
	at := b.CreatedAt
	if at.IsZero() {
		at = d.now()
	}
	d.Publish(Event{Type: TypeBindingCreated, Time: at, Tenant: b.Tenant, Data: bindingData(b, apiclient.StateActive)})
}

// bindingData is b as the business API shows bindings, in state.
func bindingData(r pool.BindingRecord, state string) apiclient.Binding {
	return apiclient.Binding{
		ID: r.ID, Tenant: r.Tenant, Mode: string(r.Mode), X: r.Virtual, Y: r.Y, A: r.A, B: r.B,
		City: r.City, Channel: r.Channel, Pool: r.Pool, Static: r.Static,
		Expiry:    apiclient.Expiry{Type: string(r.Expiry), Seconds: r.ExpirySec, At: utcOrNil(r.ExpireAt)},
		State:     state,
		CreatedAt: r.CreatedAt.UTC(), UpdatedAt: utcOrNil(r.UpdatedAt),
		FirstCallAt: utcOrNil(r.FirstCall), LastCallAt: utcOrNil(r.LastCall), EndsAt: utcOrNil(r.EndsAt()),
		EndedAt: utcOrNil(r.DeletedAt), EndReason: string(r.EndReason), IdempotencyKey: r.IdempotencyKey,
	}
}

func utcOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}
