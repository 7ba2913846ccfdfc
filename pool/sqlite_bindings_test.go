package pool

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestSyncStaticBindings(t *testing.T) {
	ctx := context.Background()
	clk := newClock(t0)
	s := openTest(t, WithClock(clk.Now))

	axn := Binding{Tenant: "t1", Mode: ModeAXN, Virtual: "+8610", B: "+8620", Trunk: "tr1"}
	axb := Binding{Tenant: "t1", Mode: ModeAXB, Virtual: "+8611", A: "+8630", B: "+8631",
		Expiry: ExpiryAfterBind, ExpirySec: 3600}
	axyb := Binding{Tenant: "t2", Mode: ModeAXYB, Virtual: "+8612", A: "+8640", B: "+8641", Y: "+8613",
		Expiry: ExpiryAt, ExpireAt: t0.Add(24 * time.Hour)}
	if err := s.SyncStaticBindings(ctx, []Binding{axn, axb, axyb}); err != nil {
		t.Fatal(err)
	}
	ids := map[string]int64{}
	for _, b := range []Binding{axn, axb, axyb} {
		got := only(t, s, b.Virtual, t0)
		if !got.Static || got.B != b.B || got.Tenant != b.Tenant || got.Trunk != b.Trunk ||
			got.Expiry != orNever(b.Expiry) || got.ExpirySec != b.ExpirySec || !got.ExpireAt.Equal(b.ExpireAt) ||
			!got.CreatedAt.Equal(t0) {
			t.Errorf("stored %+v, want %+v", got, b)
		}
		ids[b.Virtual] = got.ID
	}

	// Same set again: nothing changes.
	clk.Set(t0.Add(time.Minute))
	if err := s.SyncStaticBindings(ctx, []Binding{axyb, axn, axb}); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, `SELECT count(*) FROM bindings`); n != 3 {
		t.Errorf("rows after identical sync = %d, want 3", n)
	}

	// Change axb's B and expiry (same identity), drop axn, add a new AXN, keep axyb.
	axb2 := axb
	axb2.B, axb2.ExpirySec, axb2.Trunk = "+8639", 7200, "tr2"
	axn2 := Binding{Tenant: "t3", Mode: ModeAXN, Virtual: "+8614", B: "+8650"}
	if err := s.SyncStaticBindings(ctx, []Binding{axb2, axyb, axn2}); err != nil {
		t.Fatal(err)
	}
	if bs, err := s.ActiveBindings(ctx, axn.Virtual, t0.Add(time.Minute)); err != nil || len(bs) != 0 {
		t.Errorf("dropped binding still active: %+v, %v", bs, err)
	}
	if _, deleted := bindingByID(t, s, ids[axn.Virtual]); !deleted.Equal(t0.Add(time.Minute)) {
		t.Errorf("dropped binding deleted_at = %v, want %v", deleted, t0.Add(time.Minute))
	}
	got := only(t, s, axb.Virtual, t0.Add(time.Minute))
	if got.ID != ids[axb.Virtual] || got.B != "+8639" || got.ExpirySec != 7200 || got.Trunk != "tr2" ||
		!got.CreatedAt.Equal(t0) {
		t.Errorf("updated binding = %+v; want same ID %d, new B/expiry/trunk, CreatedAt kept", got, ids[axb.Virtual])
	}
	if got := only(t, s, axyb.Virtual, t0); got.ID != ids[axyb.Virtual] {
		t.Errorf("unchanged binding got ID %d, want %d", got.ID, ids[axyb.Virtual])
	}
	if got := only(t, s, axn2.Virtual, t0.Add(time.Minute)); !got.CreatedAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("new binding CreatedAt = %v", got.CreatedAt)
	}

	// The dropped binding comes back: a new row, a new ID.
	if err := s.SyncStaticBindings(ctx, []Binding{axb2, axyb, axn2, axn}); err != nil {
		t.Fatal(err)
	}
	if got := only(t, s, axn.Virtual, t0.Add(time.Minute)); got.ID == ids[axn.Virtual] {
		t.Errorf("re-added binding reused ID %d", got.ID)
	}

	// A mode change is a different identity: the old is dropped, the new inserted.
	axn3 := axn2
	axn3.Mode, axn3.A = ModeAXB, "+8660"
	if err := s.SyncStaticBindings(ctx, []Binding{axn3}); err != nil {
		t.Fatal(err)
	}
	if got := only(t, s, axn2.Virtual, t0.Add(time.Minute)); got.Mode != ModeAXB {
		t.Errorf("after mode change: %+v", got)
	}
	if n := count(t, s, `SELECT count(*) FROM bindings WHERE deleted_at IS NULL`); n != 1 {
		t.Errorf("live bindings = %d, want 1", n)
	}

	// Empty set: everything static goes.
	if err := s.SyncStaticBindings(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, `SELECT count(*) FROM bindings WHERE deleted_at IS NULL`); n != 0 {
		t.Errorf("live bindings after empty sync = %d, want 0", n)
	}
}

func orNever(e ExpiryType) ExpiryType {
	if e == "" {
		return ExpiryNever
	}
	return e
}

// only returns the single active binding on v.
func only(t *testing.T, s *SQLiteStore, v string, now time.Time) Binding {
	t.Helper()
	bs, err := s.ActiveBindings(context.Background(), v, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 1 {
		t.Fatalf("ActiveBindings(%s) = %+v, want one", v, bs)
	}
	return bs[0]
}

func TestSyncStaticBindingsRejectsInvalid(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	good := Binding{Mode: ModeAXN, Virtual: "+8610", B: "+8620"}
	if err := s.SyncStaticBindings(ctx, []Binding{good}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		b    Binding
	}{
		{"no virtual", Binding{Mode: ModeAXN, B: "+1"}},
		{"no B", Binding{Mode: ModeAXN, Virtual: "+1"}},
		{"unknown mode", Binding{Mode: "AXZ", Virtual: "+1", B: "+2"}},
		{"AXN with A", Binding{Mode: ModeAXN, Virtual: "+1", A: "+3", B: "+2"}},
		{"AXB without A", Binding{Mode: ModeAXB, Virtual: "+1", B: "+2"}},
		{"AXYB without Y", Binding{Mode: ModeAXYB, Virtual: "+1", A: "+3", B: "+2"}},
		{"AXB with Y", Binding{Mode: ModeAXB, Virtual: "+1", A: "+3", B: "+2", Y: "+4"}},
		{"unknown expiry", Binding{Mode: ModeAXN, Virtual: "+1", B: "+2", Expiry: "soon"}},
		{"after_bind without N", Binding{Mode: ModeAXN, Virtual: "+1", B: "+2", Expiry: ExpiryAfterBind}},
		{"after_last_call huge N", Binding{Mode: ModeAXN, Virtual: "+1", B: "+2", Expiry: ExpiryAfterLastCall, ExpirySec: 1 << 50}},
		{"at without time", Binding{Mode: ModeAXN, Virtual: "+1", B: "+2", Expiry: ExpiryAt}},
		{"negative N", Binding{Mode: ModeAXN, Virtual: "+1", B: "+2", ExpirySec: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.SyncStaticBindings(ctx, []Binding{tt.b})
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("err = %v, want ErrInvalid", err)
			}
		})
	}
	dup := Binding{Mode: ModeAXN, Virtual: "+8610", B: "+8699"}
	if err := s.SyncStaticBindings(ctx, []Binding{good, dup}); !errors.Is(err, ErrInvalid) {
		t.Errorf("duplicate identity: err = %v, want ErrInvalid", err)
	}
	// Nothing changed.
	if got := only(t, s, "+8610", t0); got.B != "+8620" {
		t.Errorf("failed syncs changed the store: %+v", got)
	}
}

// Each expiry type, at instants around its end, with bindings created and touched
// under an injected clock. The store's answer (SQL) and Binding.ActiveAt (Go) agree.
func TestActiveBindingsExpiry(t *testing.T) {
	const n = 60 // ExpirySec
	sec := func(k int) time.Time { return t0.Add(time.Duration(k) * time.Second) }
	type probe struct {
		at     time.Time
		active bool
	}
	tests := []struct {
		name    string
		b       Binding
		touches []time.Time // calls through the binding
		probes  []probe
	}{
		{"never", Binding{Expiry: ExpiryNever},
			nil, []probe{{sec(0), true}, {sec(10 * 365 * 86400), true}}},
		{"empty means never", Binding{},
			nil, []probe{{sec(86400), true}}},
		{"after_bind", Binding{Expiry: ExpiryAfterBind, ExpirySec: n},
			[]time.Time{sec(30)}, []probe{{sec(0), true}, {sec(n - 1), true}, {sec(n).Add(-time.Millisecond), true}, {sec(n), false}, {sec(n + 1), false}}},
		{"after_first_call, never called", Binding{Expiry: ExpiryAfterFirstCall, ExpirySec: n},
			nil, []probe{{sec(0), true}, {sec(10 * n), true}}},
		{"after_first_call, called", Binding{Expiry: ExpiryAfterFirstCall, ExpirySec: n},
			[]time.Time{sec(100), sec(150)}, []probe{{sec(99), true}, {sec(100 + n - 1), true}, {sec(100 + n), false}, {sec(150 + n - 1), false}}},
		{"after_first_call, touches out of order", Binding{Expiry: ExpiryAfterFirstCall, ExpirySec: n},
			[]time.Time{sec(150), sec(100)}, []probe{{sec(100 + n - 1), true}, {sec(100 + n), false}}},
		{"after_last_call, never called counts from bind", Binding{Expiry: ExpiryAfterLastCall, ExpirySec: n},
			nil, []probe{{sec(n - 1), true}, {sec(n), false}}},
		{"after_last_call, called", Binding{Expiry: ExpiryAfterLastCall, ExpirySec: n},
			[]time.Time{sec(30), sec(200), sec(100)}, []probe{{sec(n), true}, {sec(200 + n - 1), true}, {sec(200 + n), false}}},
		{"at", Binding{Expiry: ExpiryAt, ExpireAt: sec(500)},
			[]time.Time{sec(10)}, []probe{{sec(0), true}, {sec(499), true}, {sec(500), false}, {sec(501), false}}},
		{"at, in the past", Binding{Expiry: ExpiryAt, ExpireAt: sec(-1)},
			nil, []probe{{sec(0), false}}},
	}
	ctx := context.Background()
	clk := newClock(t0)
	s := openTest(t, WithClock(clk.Now))
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.b
			b.Mode, b.Virtual, b.B = ModeAXN, "+8699"+string(rune('a'+i)), "+8620"
			clk.Set(t0)
			if err := s.SyncStaticBindings(ctx, []Binding{b}); err != nil {
				t.Fatal(err)
			}
			var id int64
			if err := s.r.QueryRow(`SELECT id FROM bindings WHERE virtual = ? AND deleted_at IS NULL`, b.Virtual).Scan(&id); err != nil {
				t.Fatal(err)
			}
			for _, at := range tt.touches {
				if err := s.TouchBinding(ctx, id, at); err != nil {
					t.Fatal(err)
				}
			}
			stored, _ := bindingByID(t, s, id)
			for _, p := range tt.probes {
				bs, err := s.ActiveBindings(ctx, b.Virtual, p.at)
				if err != nil {
					t.Fatal(err)
				}
				if got := len(bs) == 1; got != p.active {
					t.Errorf("at +%v: store says active=%v, want %v (binding %+v)", p.at.Sub(t0), got, p.active, stored)
				}
				if got := stored.ActiveAt(p.at); got != p.active {
					t.Errorf("at +%v: ActiveAt = %v, want %v (EndsAt +%v)", p.at.Sub(t0), got, p.active, stored.EndsAt().Sub(t0))
				}
			}
		})
	}
}

func TestActiveBindingsByY(t *testing.T) {
	ctx := context.Background()
	s := openTest(t)
	axyb := Binding{Mode: ModeAXYB, Virtual: "+86X", A: "+86A", B: "+86B", Y: "+86Y"}
	other := Binding{Mode: ModeAXN, Virtual: "+86Y", B: "+86C"} // Y is also another binding's X
	if err := s.SyncStaticBindings(ctx, []Binding{axyb, other}); err != nil {
		t.Fatal(err)
	}
	bs, err := s.ActiveBindings(ctx, "+86Y", t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 2 || bs[0].Mode != ModeAXYB || bs[0].Y != "+86Y" || bs[1].Mode != ModeAXN {
		t.Errorf("ActiveBindings(Y) = %+v, want the AXYB then the AXN binding", bs)
	}
	if bs, err := s.ActiveBindings(ctx, "", t0); err != nil || len(bs) != 0 {
		t.Errorf("ActiveBindings(\"\") = %+v, %v; want none", bs, err)
	}
	if bs, err := s.ActiveBindings(ctx, "+86A", t0); err != nil || len(bs) != 0 {
		t.Errorf("a party's number is not a virtual number: %+v, %v", bs, err)
	}
}

func TestTouchBinding(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, WithClock(newClock(t0).Now))
	if err := s.SyncStaticBindings(ctx, []Binding{{Mode: ModeAXN, Virtual: "+861", B: "+862"}}); err != nil {
		t.Fatal(err)
	}
	id := only(t, s, "+861", t0).ID
	steps := []struct {
		at          time.Time
		first, last time.Time
	}{
		{t0.Add(10 * time.Second), t0.Add(10 * time.Second), t0.Add(10 * time.Second)},
		{t0.Add(20 * time.Second), t0.Add(10 * time.Second), t0.Add(20 * time.Second)},
		{t0.Add(15 * time.Second), t0.Add(10 * time.Second), t0.Add(20 * time.Second)}, // late report
		{t0.Add(5 * time.Second), t0.Add(5 * time.Second), t0.Add(20 * time.Second)},   // earlier than first
	}
	for i, st := range steps {
		if err := s.TouchBinding(ctx, id, st.at); err != nil {
			t.Fatal(err)
		}
		b, _ := bindingByID(t, s, id)
		if !b.FirstCall.Equal(st.first) || !b.LastCall.Equal(st.last) {
			t.Errorf("step %d: first %v last %v, want %v %v", i, b.FirstCall, b.LastCall, st.first, st.last)
		}
	}
	if err := s.TouchBinding(ctx, id+100, t0); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown id: err = %v, want ErrNotFound", err)
	}
	if err := s.TouchBinding(ctx, id, time.Time{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("zero time: err = %v, want ErrInvalid", err)
	}
	// A deleted binding can still be touched (its call outlived the unbind).
	if err := s.SyncStaticBindings(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.TouchBinding(ctx, id, t0.Add(time.Minute)); err != nil {
		t.Errorf("touch deleted binding: %v", err)
	}
}
