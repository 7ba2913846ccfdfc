package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"callgate/pool"
	"callgate/routing"
	"callgate/web/apiclient"
)

// This file holds the handlers of /v1/bindings: decoding and checking requests
// (every 400 names its field), calling the store, and writing bindings as JSON.

// maxPolicyInput bounds city and channel, in bytes.
const maxPolicyInput = 64

// bindings serves /v1/bindings: GET lists, POST creates.
func (h *Internal) bindings(c *apiCall) error {
	switch c.r.Method {
	case http.MethodGet:
		return h.list(c)
	case http.MethodPost:
		return h.create(c)
	}
	return methodNotAllowed(c.r.Method, "GET, POST")
}

// binding serves /v1/bindings/{id}: GET, PATCH, DELETE.
func (h *Internal) binding(c *apiCall) error {
	switch c.r.Method {
	case http.MethodGet, http.MethodPatch, http.MethodDelete:
	default:
		return methodNotAllowed(c.r.Method, "GET, PATCH, DELETE")
	}
	rec, err := h.owned(c)
	if err != nil {
		return err
	}
	switch c.r.Method {
	case http.MethodPatch:
		var req apiclient.UpdateBindingRequest
		if err := decodeJSON(c.body, &req); err != nil {
			return err
		}
		var p pool.BindingPatch
		if req.B == nil && req.Expiry == nil {
			return badField("body", "give b, expiry or both to change")
		}
		if req.B != nil {
			if p.B, err = number("b", *req.B, true); err != nil {
				return err
			}
		}
		if req.Expiry != nil {
			e, err := expiryOf(req.Expiry)
			if err != nil {
				return err
			}
			p.Expiry = &e
		}
		if rec, err = h.store.UpdateBinding(c.ctx, rec.ID, p); err != nil {
			return err
		}
	case http.MethodDelete:
		if rec, err = h.store.DeleteBinding(c.ctx, rec.ID); err != nil {
			return err
		}
	}
	writeAPIJSON(c.w, http.StatusOK, wireBinding(rec, h.now()))
	return nil
}

// owned reads the binding of the path's {id}, if the app may see its tenant: a
// binding of another tenant is "not found", like one that does not exist.
func (h *Internal) owned(c *apiCall) (pool.BindingRecord, error) {
	id, err := strconv.ParseInt(c.r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return pool.BindingRecord{}, pool.ErrNotFound
	}
	rec, err := h.store.Binding(c.ctx, id)
	if err != nil {
		return rec, err
	}
	if !c.app.allows(rec.Tenant) {
		return pool.BindingRecord{}, pool.ErrNotFound
	}
	return rec, nil
}

// create serves POST /v1/bindings.
func (h *Internal) create(c *apiCall) error {
	var req apiclient.CreateBindingRequest
	if err := decodeJSON(c.body, &req); err != nil {
		return err
	}
	key, err := idempotencyKey(req.IdempotencyKey, c.r.Header.Get("Idempotency-Key"))
	if err != nil {
		return err
	}
	nb, err := h.newBinding(c, bindingInput{mode: req.Mode, tenant: req.Tenant, a: req.A, b: req.B, x: req.X, y: req.Y,
		city: req.City, channel: req.Channel, expiry: req.Expiry})
	if err != nil {
		return err
	}
	nb.IdempotencyKey = key
	rec, replayed, err := h.store.CreateBinding(c.ctx, nb)
	if err != nil {
		return err
	}
	if replayed {
		c.w.Header().Set("Idempotent-Replayed", "true")
	}
	c.w.Header().Set("Location", "/v1/bindings/"+strconv.FormatInt(rec.ID, 10))
	writeAPIJSON(c.w, http.StatusCreated, wireBinding(rec, h.now()))
	return nil
}

// lookupOrBind serves POST /v1/bindings/lookup-or-bind: 200 with the pair's active
// binding, or 201 with a new one.
func (h *Internal) lookupOrBind(c *apiCall) error {
	if c.r.Method != http.MethodPost {
		return methodNotAllowed(c.r.Method, "POST")
	}
	var req apiclient.LookupOrBindRequest
	if err := decodeJSON(c.body, &req); err != nil {
		return err
	}
	nb, err := h.newBinding(c, bindingInput{mode: req.Mode, tenant: req.Tenant, a: req.A, b: req.B,
		city: req.City, channel: req.Channel, expiry: req.Expiry})
	if err != nil {
		return err
	}
	rec, created, err := h.store.GetOrBind(c.ctx, nb)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		c.w.Header().Set("Location", "/v1/bindings/"+strconv.FormatInt(rec.ID, 10))
	}
	writeAPIJSON(c.w, status, wireBinding(rec, h.now()))
	return nil
}

// list serves GET /v1/bindings.
func (h *Internal) list(c *apiCall) error {
	q, err := url.ParseQuery(c.r.URL.RawQuery)
	if err != nil {
		return &requestError{status: http.StatusBadRequest, code: "invalid_query", msg: "the query is not valid: " + err.Error()}
	}
	for k, vs := range q {
		switch {
		case k != "tenant" && k != "virtual" && k != "party" && k != "cursor" && k != "limit":
			return &requestError{status: http.StatusBadRequest, code: "unknown_field", field: k,
				msg: "unknown query parameter " + strconv.Quote(k) + ": want tenant, virtual, party, cursor or limit"}
		case len(vs) > 1:
			return badField(k, "give it once")
		}
	}
	f := pool.BindingFilter{Limit: 50}
	if f.Tenant, err = tenantOf(c.app, q.Get("tenant")); err != nil {
		return err
	}
	if v := q.Get("virtual"); v != "" {
		if f.Virtual, err = number("virtual", v, true); err != nil {
			return err
		}
	}
	if v := q.Get("party"); v != "" {
		if f.Party, err = number("party", v, true); err != nil {
			return err
		}
	}
	if v := q.Get("cursor"); v != "" {
		if f.After, err = strconv.ParseInt(v, 10, 64); err != nil || f.After < 0 {
			return badField("cursor", "not a cursor this API returned")
		}
	}
	if v := q.Get("limit"); v != "" {
		if f.Limit, err = strconv.Atoi(v); err != nil || f.Limit < 1 || f.Limit > pool.MaxListLimit {
			return badField("limit", "want a whole number from 1 to %d", pool.MaxListLimit)
		}
	}
	recs, next, err := h.store.ListBindings(c.ctx, f)
	if err != nil {
		return err
	}
	out := apiclient.BindingList{Bindings: make([]apiclient.Binding, 0, len(recs))}
	now := h.now()
	for _, r := range recs {
		out.Bindings = append(out.Bindings, wireBinding(r, now))
	}
	if next != 0 {
		out.NextCursor = strconv.FormatInt(next, 10)
	}
	writeAPIJSON(c.w, http.StatusOK, out)
	return nil
}

// bindingInput is what create and lookup-or-bind share.
type bindingInput struct {
	mode, tenant, a, b, x, y, city, channel string
	expiry                                  *apiclient.Expiry
}

// newBinding checks and normalises a request for a binding and resolves its pools.
func (h *Internal) newBinding(c *apiCall, in bindingInput) (pool.NewBinding, error) {
	var nb pool.NewBinding
	var err error
	mode := pool.Mode(strings.ToUpper(strings.TrimSpace(in.mode)))
	switch mode {
	case pool.ModeAXN, pool.ModeAXB, pool.ModeAXYB:
	case "":
		return nb, badField("mode", "is required: AXN, AXB or AXYB")
	default:
		return nb, badField("mode", "unknown mode %q: want AXN, AXB or AXYB", truncate(in.mode, 16))
	}
	nb.Mode = mode
	if nb.Tenant, err = tenantOf(c.app, in.tenant); err != nil {
		return nb, err
	}
	switch {
	case mode == pool.ModeAXN && in.a != "":
		return nb, badField("a", "an AXN binding has no party A: anyone calling X reaches B")
	case mode != pool.ModeAXN:
		if nb.A, err = number("a", in.a, true); err != nil {
			return nb, err
		}
	}
	if nb.B, err = number("b", in.b, true); err != nil {
		return nb, err
	}
	if nb.X, err = number("x", in.x, false); err != nil {
		return nb, err
	}
	if in.y != "" && mode != pool.ModeAXYB {
		return nb, badField("y", "is only for AXYB bindings")
	}
	if nb.Y, err = number("y", in.y, false); err != nil {
		return nb, err
	}
	for _, f := range []struct {
		name, val string
		dst       *string
	}{{"city", in.city, &nb.City}, {"channel", in.channel, &nb.Channel}} {
		v := strings.TrimSpace(f.val)
		if len(v) > maxPolicyInput || strings.ContainsFunc(v, func(r rune) bool { return r < ' ' || r == 0x7f }) {
			return nb, badField(f.name, "want at most %d printable bytes", maxPolicyInput)
		}
		*f.dst = v
	}
	if nb.Expiry, err = expiryOf(in.expiry); err != nil {
		return nb, err
	}
	nb.Pools = h.orderPools(h.policy.Resolve(nb.Tenant, nb.City, nb.Channel)) // best scored first (api_pools.go)
	return nb, nil
}

// tenantOf returns the tenant a request acts for: the one given, which the app must
// be allowed, or the app's only tenant.
func tenantOf(app *apiApp, tenant string) (string, error) {
	tenant = strings.TrimSpace(tenant)
	switch {
	case tenant == "" && app.only != "":
		return app.only, nil
	case tenant == "":
		return "", badField("tenant", "is required: app %q acts for more than one tenant", app.name)
	case !app.allows(tenant):
		return "", &requestError{status: http.StatusForbidden, code: "tenant_not_allowed", field: "tenant",
			msg: "app " + strconv.Quote(app.name) + " may not act for tenant " + strconv.Quote(truncate(tenant, 64))}
	}
	return tenant, nil
}

// number normalises a phone number to E.164; "" is allowed unless required.
func number(field, s string, required bool) (string, error) {
	if strings.TrimSpace(s) == "" {
		if required {
			return "", badField(field, "is required")
		}
		return "", nil
	}
	n, err := routing.NormalizeE164(s)
	if err != nil {
		return "", badField(field, "%q is not a phone number: want E.164 such as +8613812345678", truncate(s, 32))
	}
	return n, nil
}

// expiryOf converts and checks the shape of a request's expiry; nil is never. The
// store checks the ranges.
func expiryOf(e *apiclient.Expiry) (pool.ExpirySpec, error) {
	if e == nil {
		return pool.ExpirySpec{Type: pool.ExpiryNever}, nil
	}
	spec := pool.ExpirySpec{Type: pool.ExpiryType(e.Type), Sec: e.Seconds}
	if e.At != nil {
		spec.At = *e.At
	}
	switch spec.Type {
	case pool.ExpiryNever:
		if e.Seconds != 0 || e.At != nil {
			return spec, badField("expiry", "type never takes neither seconds nor at")
		}
	case pool.ExpiryAfterBind, pool.ExpiryAfterFirstCall, pool.ExpiryAfterLastCall:
		switch {
		case e.At != nil:
			return spec, badField("expiry.at", "type %s takes seconds, not at", e.Type)
		case e.Seconds <= 0:
			return spec, badField("expiry.seconds", "type %s needs seconds > 0", e.Type)
		}
	case pool.ExpiryAt:
		switch {
		case e.At == nil:
			return spec, badField("expiry.at", "type at needs at, an RFC 3339 time")
		case e.Seconds != 0:
			return spec, badField("expiry.seconds", "type at takes at, not seconds")
		}
	case "":
		return spec, badField("expiry.type", "is required: never, after_bind, after_first_call, after_last_call or at")
	default:
		return spec, badField("expiry.type", "unknown type %q: want never, after_bind, after_first_call, after_last_call or at", truncate(e.Type, 32))
	}
	return spec, nil
}

// idempotencyKey reconciles the body's key and the Idempotency-Key header.
func idempotencyKey(body, header string) (string, error) {
	key := body
	switch {
	case body != "" && header != "" && body != header:
		return "", badField("idempotency_key", "differs from the Idempotency-Key header")
	case key == "":
		key = header
	}
	if len(key) > 255 {
		return "", badField("idempotency_key", "is longer than 255 bytes")
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x21 || key[i] > 0x7e {
			return "", badField("idempotency_key", "may hold only printable ASCII without spaces")
		}
	}
	return key, nil
}

// decodeJSON decodes body, a single JSON object, into v strictly: unknown fields
// and trailing data are errors naming what is wrong.
func decodeJSON(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return &requestError{status: http.StatusBadRequest, code: "invalid_json", msg: "the body is empty: send a JSON object"}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &requestError{status: http.StatusBadRequest, code: "invalid_json", msg: "the body holds more than one JSON value"}
	}
	return nil
}

// wireBinding is r as the API shows it at now.
func wireBinding(r pool.BindingRecord, now time.Time) apiclient.Binding {
	b := apiclient.Binding{
		ID: r.ID, Tenant: r.Tenant, Mode: string(r.Mode), X: r.Virtual, Y: r.Y, A: r.A, B: r.B,
		City: r.City, Channel: r.Channel, Pool: r.Pool, Static: r.Static,
		Expiry:    apiclient.Expiry{Type: string(r.Expiry), Seconds: r.ExpirySec, At: timeOrNil(r.ExpireAt)},
		CreatedAt: r.CreatedAt, UpdatedAt: timeOrNil(r.UpdatedAt),
		FirstCallAt: timeOrNil(r.FirstCall), LastCallAt: timeOrNil(r.LastCall), EndsAt: timeOrNil(r.EndsAt()),
		EndedAt: timeOrNil(r.DeletedAt), EndReason: string(r.EndReason), IdempotencyKey: r.IdempotencyKey,
	}
	switch {
	case !r.DeletedAt.IsZero():
		b.State = apiclient.StateEnded
	case !r.ActiveAt(now):
		b.State = apiclient.StateExpired
	default:
		b.State = apiclient.StateActive
	}
	return b
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
