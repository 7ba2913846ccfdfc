package web

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"callgate/pool"
	"callgate/web/apiclient"
)

func ptr[T any](v T) *T { return &v }

// Every mode with every expiry type, made, read back and watched expire through the
// API with an injected clock.
func TestAPIModesAndExpiries(t *testing.T) {
	ctx := context.Background()
	e := newAPIEnv(t, pool.BindingRules{}, apiNumbers())
	crm := e.client("crm", crmSecret)
	expiries := []struct {
		name   string
		expiry *apiclient.Expiry
		endsAt time.Time // zero: no end yet
	}{
		{"default", nil, time.Time{}},
		{"never", &apiclient.Expiry{Type: "never"}, time.Time{}},
		{"after_bind", &apiclient.Expiry{Type: "after_bind", Seconds: 60}, apiT0.Add(time.Minute)},
		{"after_first_call", &apiclient.Expiry{Type: "after_first_call", Seconds: 60}, time.Time{}},
		{"after_last_call", &apiclient.Expiry{Type: "after_last_call", Seconds: 60}, apiT0.Add(time.Minute)},
		{"at", &apiclient.Expiry{Type: "at", At: ptr(apiT0.Add(time.Hour))}, apiT0.Add(time.Hour)},
	}
	type made struct {
		b      apiclient.Binding
		endsAt time.Time
	}
	var all []made
	for mi, mode := range []string{"AXN", "AXB", "AXYB"} {
		for ei, ex := range expiries {
			t.Run(mode+" "+ex.name, func(t *testing.T) {
				req := apiclient.CreateBindingRequest{Mode: mode, B: fmt.Sprintf("+86139%04d%04d", mi, ei),
					City: "Shenzhen", Channel: "sales", Expiry: ex.expiry}
				if mode != "AXN" {
					req.A = fmt.Sprintf("+86138%04d%04d", mi, ei)
				}
				b, err := crm.CreateBinding(ctx, req)
				if err != nil {
					t.Fatal(err)
				}
				wantType := "never"
				if ex.expiry != nil {
					wantType = ex.expiry.Type
				}
				switch {
				case b.ID == 0 || b.Tenant != "acme" || b.Mode != mode || b.A != req.A || b.B != req.B || b.State != "active":
					t.Errorf("binding = %+v", b)
				case b.Pool != "acme-sz" || b.City != "Shenzhen" || b.Channel != "sales" || !b.CreatedAt.Equal(apiT0):
					t.Errorf("binding pool and inputs = %+v", b)
				case b.Expiry.Type != wantType:
					t.Errorf("expiry = %+v, want type %s", b.Expiry, wantType)
				case (b.EndsAt == nil) != ex.endsAt.IsZero() || b.EndsAt != nil && !b.EndsAt.Equal(ex.endsAt):
					t.Errorf("ends_at = %v, want %v", b.EndsAt, ex.endsAt)
				case (mode == "AXYB") != (b.Y != "") || b.Y == b.X || !strings.HasPrefix(b.X, "+8675561"):
					t.Errorf("x %q y %q for %s", b.X, b.Y, mode)
				}
				got, err := crm.Binding(ctx, b.ID)
				if err != nil || got.ID != b.ID || got.X != b.X || got.Expiry.Type != b.Expiry.Type {
					t.Errorf("GET = %+v, %v; want %+v", got, err, b)
				}
				all = append(all, made{b, ex.endsAt})
			})
		}
	}
	// An hour later every binding with an end has expired: GET says so at once,
	// before any GC.
	e.clk.Set(apiT0.Add(time.Hour))
	for _, m := range all {
		got, err := crm.Binding(ctx, m.b.ID)
		want := "active"
		if !m.endsAt.IsZero() {
			want = "expired"
		}
		if err != nil || got.State != want {
			t.Errorf("%s %s at +1h: state %q, %v; want %s", m.b.Mode, m.b.Expiry.Type, got.State, err, want)
		}
	}
}

func TestAPIConflicts(t *testing.T) {
	ctx := context.Background()
	e := newAPIEnv(t, pool.BindingRules{MaxPerNumber: 2}, apiNumbers())
	ops := e.client("ops", opsSecret)
	crm := e.client("crm", crmSecret)
	solo := func(r apiclient.CreateBindingRequest) apiclient.CreateBindingRequest { r.Tenant = "solo"; return r }

	first, err := ops.CreateBinding(ctx, solo(apiclient.CreateBindingRequest{Mode: "AXB", A: "+8613800000001", B: "+8613900000001"}))
	if err != nil || first.X != vnum(200) {
		t.Fatalf("first: %+v, %v", first, err)
	}
	tests := []struct {
		name   string
		req    apiclient.CreateBindingRequest
		code   string
		reason string
	}{
		{"A repeats on the only number", solo(apiclient.CreateBindingRequest{Mode: "AXB", A: "+8613800000001", B: "+8613900000002"}), "no_virtual_number", "party_bound"},
		{"B repeats on the only number", solo(apiclient.CreateBindingRequest{Mode: "AXB", A: "+8613800000003", B: "+8613900000001"}), "no_virtual_number", "party_bound"},
		{"AXN needs the number alone", solo(apiclient.CreateBindingRequest{Mode: "AXN", B: "+8613900000009"}), "no_virtual_number", "all_busy"},
		{"asked-for number taken for A", solo(apiclient.CreateBindingRequest{Mode: "AXB", A: "+8613800000001", B: "+8613900000005", X: vnum(200)}), "binding_conflict", "number_taken"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ops.CreateBinding(ctx, tt.req)
			ae := apiErr(t, err)
			if ae.Status != http.StatusConflict || ae.Code != tt.code || ae.Reason != tt.reason {
				t.Errorf("got %d %s/%s (%s), want 409 %s/%s", ae.Status, ae.Code, ae.Reason, ae.Message, tt.code, tt.reason)
			}
		})
	}
	// Fill the number to its cap, then a new pair has no room.
	if _, err := ops.CreateBinding(ctx, solo(apiclient.CreateBindingRequest{Mode: "AXB", A: "+8613800000002", B: "+8613900000002"})); err != nil {
		t.Fatal(err)
	}
	_, err = ops.CreateBinding(ctx, solo(apiclient.CreateBindingRequest{Mode: "AXB", A: "+8613800000004", B: "+8613900000004"}))
	if ae := apiErr(t, err); ae.Status != 409 || ae.Reason != "all_busy" {
		t.Errorf("full number: %v", err)
	}
	// Changing B to a party taken on X.
	_, err = ops.UpdateBinding(ctx, first.ID, apiclient.UpdateBindingRequest{B: ptr("+8613800000002")})
	if ae := apiErr(t, err); ae.Status != 409 || ae.Code != "binding_conflict" {
		t.Errorf("PATCH to a taken B: %v", err)
	}
	// Ended bindings and static ones cannot change.
	if _, err := ops.DeleteBinding(ctx, first.ID); err != nil {
		t.Fatal(err)
	}
	_, err = ops.UpdateBinding(ctx, first.ID, apiclient.UpdateBindingRequest{Expiry: &apiclient.Expiry{Type: "never"}})
	if ae := apiErr(t, err); ae.Status != 409 || ae.Code != "binding_ended" {
		t.Errorf("PATCH an ended binding: %v", err)
	}
	if err := e.store.SyncStaticBindings(ctx, []pool.Binding{{Tenant: "acme", Mode: pool.ModeAXN, Virtual: "+8675599999999", B: "+8613900000001"}}); err != nil {
		t.Fatal(err)
	}
	list, err := crm.ListBindings(ctx, apiclient.ListQuery{Virtual: "+8675599999999"})
	if err != nil || len(list.Bindings) != 1 || !list.Bindings[0].Static {
		t.Fatalf("static binding in the list: %+v, %v", list, err)
	}
	for _, op := range []func() error{
		func() error {
			_, err := crm.UpdateBinding(ctx, list.Bindings[0].ID, apiclient.UpdateBindingRequest{B: ptr("+8613900000002")})
			return err
		},
		func() error { _, err := crm.DeleteBinding(ctx, list.Bindings[0].ID); return err },
	} {
		if ae := apiErr(t, op()); ae.Status != 409 || ae.Code != "static_binding" {
			t.Errorf("change a static binding: %v", ae)
		}
	}
}

func TestAPIIdempotentCreate(t *testing.T) {
	ctx := context.Background()
	e := newAPIEnv(t, pool.BindingRules{}, apiNumbers())
	crm := e.client("crm", crmSecret)
	req := apiclient.CreateBindingRequest{Mode: "AXB", A: "+8613800000001", B: "+8613900000001", IdempotencyKey: "order-1",
		Expiry: &apiclient.Expiry{Type: "after_bind", Seconds: 600}}
	first, err := crm.CreateBinding(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	// The same request again, a minute later: the same binding.
	e.clk.Add(time.Minute)
	res := e.do(e.signed("POST", "/v1/bindings", req))
	if got := res.binding(t); res.status != 201 || got.ID != first.ID || got.X != first.X || res.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replay: %d %+v %v", res.status, got, res.header)
	}
	// The key in the header, the same body otherwise: the same binding.
	noKey := req
	noKey.IdempotencyKey = ""
	r := e.signed("POST", "/v1/bindings", noKey)
	r.Header.Set("Idempotency-Key", "order-1")
	if err := apiclient.Sign(r, "crm", crmSecret, e.clk.Now()); err != nil { // headers outside the signature
		t.Fatal(err)
	}
	if res := e.do(r); res.status != 201 || res.binding(t).ID != first.ID {
		t.Errorf("key in the header: %d %s", res.status, res.body)
	}
	// The same key with another body: 409.
	other := req
	other.B = "+8613900000002"
	_, err = crm.CreateBinding(ctx, other)
	if ae := apiErr(t, err); ae.Status != 409 || ae.Code != "idempotency_key_reused" {
		t.Errorf("same key, other body: %v", err)
	}
	// Two different keys in body and header: 400.
	r = e.request("POST", "/v1/bindings", req)
	r.Header.Set("Idempotency-Key", "order-2")
	if err := apiclient.Sign(r, "crm", crmSecret, e.clk.Now()); err != nil {
		t.Fatal(err)
	}
	if res := e.do(r); res.status != 400 || res.err.Field != "idempotency_key" {
		t.Errorf("two keys: %d %s", res.status, res.body)
	}
	// Without a key, a repeat is a new binding.
	b2, err := crm.CreateBinding(ctx, apiclient.CreateBindingRequest{Mode: "AXB", A: "+8613800000007", B: "+8613900000007"})
	b3, err3 := crm.CreateBinding(ctx, apiclient.CreateBindingRequest{Mode: "AXB", A: "+8613800000007", B: "+8613900000007"})
	if err != nil || err3 != nil || b2.ID == b3.ID || b2.X == b3.X {
		t.Errorf("repeats without a key: %+v %v / %+v %v", b2, err, b3, err3)
	}
}

func TestAPIBadInput(t *testing.T) {
	e := newAPIEnv(t, pool.BindingRules{}, apiNumbers())
	crm := e.client("crm", crmSecret)
	b, err := crm.CreateBinding(context.Background(), apiclient.CreateBindingRequest{Mode: "AXB", A: "+8613800000001", B: "+8613900000001"})
	if err != nil {
		t.Fatal(err)
	}
	id := fmt.Sprint(b.ID)
	tests := []struct {
		name, method, path, body string
		status                   int
		code, field              string
	}{
		{"no mode", "POST", "/v1/bindings", `{"b":"+8613900000001"}`, 400, "invalid_field", "mode"},
		{"bad mode", "POST", "/v1/bindings", `{"mode":"AXZ","b":"+8613900000001"}`, 400, "invalid_field", "mode"},
		{"AXB without a", "POST", "/v1/bindings", `{"mode":"AXB","b":"+8613900000001"}`, 400, "invalid_field", "a"},
		{"AXN with a", "POST", "/v1/bindings", `{"mode":"AXN","a":"+8613800000001","b":"+8613900000001"}`, 400, "invalid_field", "a"},
		{"no b", "POST", "/v1/bindings", `{"mode":"AXN"}`, 400, "invalid_field", "b"},
		{"b not a number", "POST", "/v1/bindings", `{"mode":"AXN","b":"sip:evil@x\r\nVia: y"}`, 400, "invalid_field", "b"},
		{"a equals b", "POST", "/v1/bindings", `{"mode":"AXB","a":"+8613800000001","b":"008613800000001"}`, 400, "invalid_field", "b"},
		{"x not a number", "POST", "/v1/bindings", `{"mode":"AXN","b":"+8613900000001","x":"abc"}`, 400, "invalid_field", "x"},
		{"x of another pool", "POST", "/v1/bindings", `{"mode":"AXN","b":"+8613900000001","x":"+8675561000200"}`, 400, "invalid_field", "x"},
		{"y on AXB", "POST", "/v1/bindings", `{"mode":"AXB","a":"+8613800000001","b":"+8613900000002","y":"+8675561000001"}`, 400, "invalid_field", "y"},
		{"expiry without type", "POST", "/v1/bindings", `{"mode":"AXN","b":"+8613900000001","expiry":{"seconds":5}}`, 400, "invalid_field", "expiry.type"},
		{"unknown expiry type", "POST", "/v1/bindings", `{"mode":"AXN","b":"+8613900000001","expiry":{"type":"soon"}}`, 400, "invalid_field", "expiry.type"},
		{"after_bind without seconds", "POST", "/v1/bindings", `{"mode":"AXN","b":"+8613900000001","expiry":{"type":"after_bind"}}`, 400, "invalid_field", "expiry.seconds"},
		{"after_bind too long", "POST", "/v1/bindings", `{"mode":"AXN","b":"+8613900000001","expiry":{"type":"after_bind","seconds":99999999999}}`, 400, "invalid_field", "expiry"},
		{"at without at", "POST", "/v1/bindings", `{"mode":"AXN","b":"+8613900000001","expiry":{"type":"at"}}`, 400, "invalid_field", "expiry.at"},
		{"at not a time", "POST", "/v1/bindings", `{"mode":"AXN","b":"+8613900000001","expiry":{"type":"at","at":"tomorrow"}}`, 400, "invalid_field", "expiry.at"},
		{"at in the past", "POST", "/v1/bindings", `{"mode":"AXN","b":"+8613900000001","expiry":{"type":"at","at":"2020-01-01T00:00:00Z"}}`, 400, "invalid_field", "expiry"},
		{"seconds as text", "POST", "/v1/bindings", `{"mode":"AXN","b":"+8613900000001","expiry":{"type":"after_bind","seconds":"60"}}`, 400, "invalid_field", "expiry.seconds"},
		{"b as a number", "POST", "/v1/bindings", `{"mode":"AXN","b":8613900000001}`, 400, "invalid_field", "b"},
		{"unknown field", "POST", "/v1/bindings", `{"mode":"AXN","b":"+8613900000001","colour":"red"}`, 400, "unknown_field", "colour"},
		{"city too long", "POST", "/v1/bindings", `{"mode":"AXN","b":"+8613900000001","city":"` + strings.Repeat("x", 65) + `"}`, 400, "invalid_field", "city"},
		{"key with spaces", "POST", "/v1/bindings", `{"mode":"AXN","b":"+8613900000001","idempotency_key":"a b"}`, 400, "invalid_field", "idempotency_key"},
		{"not JSON", "POST", "/v1/bindings", `mode=AXN`, 400, "invalid_json", ""},
		{"empty body", "POST", "/v1/bindings", ``, 400, "invalid_json", ""},
		{"two values", "POST", "/v1/bindings", `{"mode":"AXN","b":"+8613900000001"} {}`, 400, "invalid_json", ""},
		{"an array", "POST", "/v1/bindings", `[1]`, 400, "invalid_field", "body"},
		{"other tenant", "POST", "/v1/bindings", `{"tenant":"globex","mode":"AXN","b":"+8613900000001"}`, 403, "tenant_not_allowed", "tenant"},
		{"lookup-or-bind with x", "POST", "/v1/bindings/lookup-or-bind", `{"mode":"AXN","b":"+8613900000001","x":"+8675561000001"}`, 400, "unknown_field", "x"},
		{"PATCH nothing", "PATCH", "/v1/bindings/" + id, `{}`, 400, "invalid_field", "body"},
		{"PATCH bad b", "PATCH", "/v1/bindings/" + id, `{"b":"12"}`, 400, "invalid_field", "b"},
		{"PATCH b = a", "PATCH", "/v1/bindings/" + id, `{"b":"+8613800000001"}`, 400, "invalid_field", "b"},
		{"list limit 0", "GET", "/v1/bindings?limit=0", ``, 400, "invalid_field", "limit"},
		{"list limit text", "GET", "/v1/bindings?limit=ten", ``, 400, "invalid_field", "limit"},
		{"list bad cursor", "GET", "/v1/bindings?cursor=abc", ``, 400, "invalid_field", "cursor"},
		{"list bad party", "GET", "/v1/bindings?party=x", ``, 400, "invalid_field", "party"},
		{"list unknown parameter", "GET", "/v1/bindings?sort=id", ``, 400, "unknown_field", "sort"},
		{"list parameter twice", "GET", "/v1/bindings?limit=1&limit=2", ``, 400, "invalid_field", "limit"},
		{"not an id", "GET", "/v1/bindings/abc", ``, 404, "not_found", ""},
		{"unknown id", "GET", "/v1/bindings/999999", ``, 404, "not_found", ""},
		{"unknown path", "GET", "/v1/numbers", ``, 404, "not_found", ""},
		{"wrong method", "PUT", "/v1/bindings/" + id, `{}`, 405, "method_not_allowed", ""},
		{"body too large", "POST", "/v1/bindings", `{"mode":"AXN","b":"+8613900000001","city":"` + strings.Repeat("x", MaxAPIBody) + `"}`, 413, "body_too_large", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.do(e.signed(tt.method, tt.path, tt.body))
			if res.status != tt.status || res.err.Code != tt.code || res.err.Field != tt.field {
				t.Errorf("got %d %s field %q (%s), want %d %s field %q", res.status, res.err.Code, res.err.Field, res.err.Message, tt.status, tt.code, tt.field)
			}
			if tt.status == 405 && res.header.Get("Allow") != "GET, PATCH, DELETE" {
				t.Errorf("Allow = %q", res.header.Get("Allow"))
			}
		})
	}
	// The ops app acts for every tenant, so it must name one.
	_, err = e.client("ops", opsSecret).CreateBinding(context.Background(), apiclient.CreateBindingRequest{Mode: "AXN", B: "+8613900000001"})
	if ae := apiErr(t, err); ae.Status != 400 || ae.Field != "tenant" {
		t.Errorf("ops without tenant: %v", err)
	}
	// Paths outside /v1/ are JSON 404s too, signed or not.
	if res := e.do(e.request("GET", "/admin", nil)); res.status != 404 || res.err.Code != "not_found" {
		t.Errorf("GET /admin: %d %s", res.status, res.body)
	}
}

// Reading, changing, unbinding, listing and get-or-bind through the API, and the
// tenant wall between apps.
func TestAPILifecycle(t *testing.T) {
	ctx := context.Background()
	e := newAPIEnv(t, pool.BindingRules{CoolDown: -1}, apiNumbers())
	crm := e.client("crm", crmSecret)
	globex := e.client("globex-app", globexSecret)

	lb := apiclient.LookupOrBindRequest{Mode: "AXB", A: "+8613800000001", B: "+8613900000001",
		Expiry: &apiclient.Expiry{Type: "after_last_call", Seconds: 3600}}
	b1, created, err := crm.LookupOrBind(ctx, lb)
	if err != nil || !created {
		t.Fatalf("lookup-or-bind: %+v, %v, %v", b1, created, err)
	}
	b2, created, err := crm.LookupOrBind(ctx, lb)
	if err != nil || created || b2.ID != b1.ID || b2.X != b1.X {
		t.Fatalf("lookup-or-bind again: %+v, %v, %v", b2, created, err)
	}
	// Another tenant's app sees nothing of it.
	if _, err := globex.Binding(ctx, b1.ID); apiErr(t, err).Status != 404 {
		t.Errorf("globex read acme's binding: %v", err)
	}
	if _, err := globex.DeleteBinding(ctx, b1.ID); apiErr(t, err).Status != 404 {
		t.Errorf("globex deleted acme's binding: %v", err)
	}
	if l, err := globex.ListBindings(ctx, apiclient.ListQuery{}); err != nil || len(l.Bindings) != 0 {
		t.Errorf("globex lists %+v, %v", l, err)
	}

	e.clk.Add(time.Minute)
	up, err := crm.UpdateBinding(ctx, b1.ID, apiclient.UpdateBindingRequest{B: ptr("+86 139-0000-0009"),
		Expiry: &apiclient.Expiry{Type: "at", At: ptr(apiT0.Add(48 * time.Hour))}})
	if err != nil || up.B != "+8613900000009" || up.Expiry.Type != "at" || !up.EndsAt.Equal(apiT0.Add(48*time.Hour)) ||
		up.UpdatedAt == nil || !up.UpdatedAt.Equal(apiT0.Add(time.Minute)) {
		t.Fatalf("PATCH: %+v, %v", up, err)
	}
	// The old pair's binding is gone for lookup-or-bind (B changed): a new one.
	b3, created, err := crm.LookupOrBind(ctx, lb)
	if err != nil || !created || b3.ID == b1.ID {
		t.Errorf("lookup-or-bind after B changed: %+v, %v, %v", b3, created, err)
	}

	del, err := crm.DeleteBinding(ctx, b1.ID)
	if err != nil || del.State != "ended" || del.EndReason != "unbound" || del.EndedAt == nil {
		t.Fatalf("DELETE: %+v, %v", del, err)
	}
	again, err := crm.DeleteBinding(ctx, b1.ID)
	if err != nil || !again.EndedAt.Equal(*del.EndedAt) {
		t.Errorf("DELETE again: %+v, %v", again, err)
	}
	if got, err := crm.Binding(ctx, b1.ID); err != nil || got.State != "ended" {
		t.Errorf("GET after DELETE: %+v, %v", got, err)
	}

	// Paging: 7 more bindings, pages of 3.
	for i := range 7 {
		if _, err := crm.CreateBinding(ctx, apiclient.CreateBindingRequest{Mode: "AXB", A: fmt.Sprintf("+86137%08d", i), B: "+8613600000000"}); err != nil {
			t.Fatal(err)
		}
	}
	var ids []int64
	q := apiclient.ListQuery{Limit: 3}
	for page := 0; ; page++ {
		l, err := crm.ListBindings(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range l.Bindings {
			ids = append(ids, b.ID)
		}
		if l.NextCursor == "" {
			break
		}
		if page > 5 {
			t.Fatal("paging does not end")
		}
		q.Cursor = l.NextCursor
	}
	if len(ids) != 8 { // b3 and the 7; b1 is deleted
		t.Errorf("listed %d bindings (%v), want 8", len(ids), ids)
	}
	for i := 1; i < len(ids); i++ {
		if ids[i] <= ids[i-1] {
			t.Errorf("ids out of order: %v", ids)
		}
	}
	l, err := crm.ListBindings(ctx, apiclient.ListQuery{Party: "+8613600000000"})
	if err != nil || len(l.Bindings) != 7 {
		t.Errorf("by party: %d, %v", len(l.Bindings), err)
	}
	l, err = crm.ListBindings(ctx, apiclient.ListQuery{Virtual: b3.X, Tenant: "acme"})
	if err != nil || len(l.Bindings) == 0 {
		t.Errorf("by virtual: %+v, %v", l, err)
	}
	for _, b := range l.Bindings {
		if b.X != b3.X && b.Y != b3.X {
			t.Errorf("by virtual %s: got %+v", b3.X, b)
		}
	}
	// City selects the policy: Beijing bindings of acme come from the shared pool.
	bj, err := crm.CreateBinding(ctx, apiclient.CreateBindingRequest{Mode: "AXN", B: "+8613500000000", City: "beijing"})
	if err != nil || bj.Pool != "shared" {
		t.Errorf("Beijing binding: %+v, %v", bj, err)
	}
}
