package web

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"callgate/pool"
	"callgate/routing"
)

// This file holds the do-not-call lists on the business API: the global list every
// tenant obeys and each tenant's own. Changes go through the outbound router, which
// writes them to the store and obeys them from the next call on.
//
//	GET    /v1/dnc                              entries of every list the app may see
//	GET    /v1/dnc/global                       the global list (any app)
//	POST   /v1/dnc/global                       add numbers (apps acting for all tenants)
//	POST   /v1/dnc/global/import                import a CSV file (text/csv)
//	GET    /v1/dnc/global/{number}              is the number listed?
//	DELETE /v1/dnc/global/{number}              take the number off
//	…and the same under /v1/tenants/{tenant}/dnc for a tenant's list.

// DoNotCallRouter changes the do-not-call lists so that the next call obeys them;
// *routing.Outbound is one. Numbers are written in any format.
type DoNotCallRouter interface {
	NumberReader
	AddDoNotCall(ctx context.Context, tenant string, numbers []string, source string) (int, error)
	RemoveDoNotCall(ctx context.Context, tenant, number string) (bool, error)
	ImportDoNotCall(ctx context.Context, tenant string, csv io.Reader, source string) (routing.DNCImport, error)
}

// DoNotCallStore reads the do-not-call lists; *pool.SQLiteStore is one.
type DoNotCallStore interface {
	ListDNC(ctx context.Context, q pool.DNCQuery) ([]pool.DNCEntry, bool, error)
}

var (
	_ DoNotCallRouter = (*routing.Outbound)(nil)
	_ DoNotCallStore  = (*pool.SQLiteStore)(nil)
)

// Limits of the do-not-call endpoints.
const (
	// MaxDNCImportBody is the largest CSV file one import takes: some 500,000
	// numbers.
	MaxDNCImportBody = 8 << 20
	// maxDNCAdd bounds the numbers of one add; larger lists go through an import.
	maxDNCAdd = 1000
	// maxDNCSource bounds a source label, in bytes.
	maxDNCSource = 64
)

// The names of the lists in answers.
const (
	listGlobal = "global"
	listTenant = "tenant"
)

// DoNotCallEntry is one listed number.
type DoNotCallEntry struct {
	List    string    `json:"list"`             // global or tenant
	Tenant  string    `json:"tenant,omitempty"` // the tenant, for a tenant's list
	Number  string    `json:"number"`           // E.164
	AddedAt time.Time `json:"added_at"`
	Source  string    `json:"source,omitempty"`
}

// DoNotCallEntries answers the list endpoints.
type DoNotCallEntries struct {
	Entries    []DoNotCallEntry `json:"entries"`
	NextCursor string           `json:"next_cursor,omitempty"`
}

// AddDoNotCallRequest is the body of POST …/dnc: number or numbers (or both), in
// any format; source labels the entries (default "api:<app>").
type AddDoNotCallRequest struct {
	Number  string   `json:"number,omitempty"`
	Numbers []string `json:"numbers,omitempty"`
	Source  string   `json:"source,omitempty"`
}

// DoNotCallAdded answers POST …/dnc.
type DoNotCallAdded struct {
	List   string `json:"list"`
	Tenant string `json:"tenant,omitempty"`
	// Numbers are the numbers asked for, in E.164, each once.
	Numbers []string `json:"numbers"`
	// Added counts the numbers that were not listed before; AlreadyListed the rest.
	Added         int `json:"added"`
	AlreadyListed int `json:"already_listed"`
}

// DoNotCallRemoved answers DELETE …/dnc/{number}.
type DoNotCallRemoved struct {
	List    string `json:"list"`
	Tenant  string `json:"tenant,omitempty"`
	Number  string `json:"number"`
	Removed bool   `json:"removed"` // false: it was not listed
}

// DoNotCallImport answers POST …/dnc/import.
type DoNotCallImport struct {
	List   string `json:"list"`
	Tenant string `json:"tenant,omitempty"`
	// Numbers counts the distinct numbers read; Added those new on the list.
	Numbers       int `json:"numbers"`
	Added         int `json:"added"`
	AlreadyListed int `json:"already_listed"`
	// Problems are the lines that hold no usable number (at most 1000), which were
	// skipped.
	Problems []ImportProblem `json:"problems"`
}

// ImportProblem is a line of an imported file without a usable number.
type ImportProblem struct {
	Line    int    `json:"line"`
	Input   string `json:"input"`
	Reason  string `json:"reason"` // a number problem: too_short, bad_character, …
	Message string `json:"message"`
}

// dncTarget is the list a request is about.
type dncTarget struct {
	tenant string // "" for the global list
}

func (t dncTarget) name() string {
	if t.tenant == "" {
		return listGlobal
	}
	return listTenant
}

// target resolves the list of c's path: /v1/dnc/global… or
// /v1/tenants/{tenant}/dnc…. Changing the global list takes an app acting for
// every tenant.
func target(c *apiCall, change bool) (dncTarget, error) {
	if strings.HasPrefix(c.r.URL.Path, "/v1/dnc/global") {
		if change && !c.app.all {
			return dncTarget{}, &requestError{status: http.StatusForbidden, code: "list_not_allowed",
				msg: "app " + strconv.Quote(c.app.name) + " may not change the global do-not-call list: that takes an app with tenants [\"*\"]; change the tenant's list instead"}
		}
		return dncTarget{}, nil
	}
	tenant, err := pathTenant(c)
	return dncTarget{tenant: tenant}, err
}

// dncList serves …/dnc: GET lists, POST adds.
func (h *Internal) dncList(c *apiCall) error {
	switch c.r.Method {
	case http.MethodGet:
		t, err := target(c, false)
		if err != nil {
			return err
		}
		return h.listDNC(c, []string{t.tenant}, t.tenant)
	case http.MethodPost:
		return h.addDNC(c)
	}
	return methodNotAllowed(c.r.Method, "GET, POST")
}

// dncAll serves GET /v1/dnc: the entries of every list the app may see (the global
// list and its tenants'), or of one tenant's with tenant=.
func (h *Internal) dncAll(c *apiCall) error {
	if c.r.Method != http.MethodGet {
		return methodNotAllowed(c.r.Method, "GET")
	}
	tenant := c.r.URL.Query().Get("tenant")
	if tenant != "" {
		t, err := tenantOf(c.app, tenant)
		if err != nil {
			return err
		}
		return h.listDNC(c, []string{t}, t)
	}
	var lists []string // every list
	if !c.app.all {
		lists = []string{""}
		for t := range c.app.tenants {
			lists = append(lists, t)
		}
		slices.Sort(lists)
	}
	return h.listDNC(c, lists, "")
}

// listDNC answers a page of the entries of lists; number= is read in region's
// tenant.
func (h *Internal) listDNC(c *apiCall, lists []string, region string) error {
	names := []string{"number", "cursor", "limit"}
	if c.r.URL.Path == "/v1/dnc" {
		names = append(names, "tenant")
	}
	q, err := queryParams(c, names...)
	if err != nil {
		return err
	}
	dq := pool.DNCQuery{Lists: lists}
	if v := q.Get("number"); v != "" {
		if dq.Number, err = h.readNumber(region, "number", v); err != nil {
			return err
		}
	}
	if v := q.Get("cursor"); v != "" {
		var ok bool
		if dq.After, ok = parseDNCCursor(v); !ok {
			return badField("cursor", "not a cursor this API returned")
		}
	}
	if dq.Limit, err = limitOf(q); err != nil {
		return err
	}
	es, more, err := h.outbound.Lists.ListDNC(c.ctx, dq)
	if err != nil {
		return err
	}
	out := DoNotCallEntries{Entries: make([]DoNotCallEntry, 0, len(es))}
	for _, e := range es {
		out.Entries = append(out.Entries, wireDNC(e))
	}
	if more && len(es) > 0 {
		out.NextCursor = dncCursor(es[len(es)-1])
	}
	writeAPIJSON(c.w, http.StatusOK, out)
	return nil
}

// addDNC serves POST …/dnc.
func (h *Internal) addDNC(c *apiCall) error {
	t, err := target(c, true)
	if err != nil {
		return err
	}
	if _, err := queryParams(c); err != nil {
		return err
	}
	var req AddDoNotCallRequest
	if err := decodeJSON(c.body, &req); err != nil {
		return err
	}
	raw := req.Numbers
	field := func(i int) string { return fmt.Sprintf("numbers[%d]", i) }
	if req.Number != "" {
		raw = append([]string{req.Number}, raw...)
		field = func(i int) string {
			if i == 0 {
				return "number"
			}
			return fmt.Sprintf("numbers[%d]", i-1)
		}
	}
	switch {
	case len(raw) == 0:
		return badField("numbers", "give number or numbers: the numbers to list")
	case len(raw) > maxDNCAdd:
		return badField("numbers", "at most %d numbers at once; import a CSV file for more", maxDNCAdd)
	}
	source, err := sourceOf(req.Source, "api:"+c.app.name)
	if err != nil {
		return err
	}
	numbers := make([]string, 0, len(raw))
	for i, s := range raw {
		n, err := h.readNumber(t.tenant, field(i), s)
		if err != nil {
			return err
		}
		if !slices.Contains(numbers, n) {
			numbers = append(numbers, n)
		}
	}
	added, err := h.outbound.DoNotCall.AddDoNotCall(c.ctx, t.tenant, numbers, source)
	if err != nil {
		return routingProblem(err)
	}
	writeAPIJSON(c.w, http.StatusOK, DoNotCallAdded{List: t.name(), Tenant: t.tenant, Numbers: numbers,
		Added: added, AlreadyListed: len(numbers) - added})
	return nil
}

// dncNumber serves …/dnc/{number}: GET reads the entry, DELETE takes it off.
func (h *Internal) dncNumber(c *apiCall) error {
	switch c.r.Method {
	case http.MethodGet, http.MethodDelete:
	default:
		return methodNotAllowed(c.r.Method, "GET, DELETE")
	}
	t, err := target(c, c.r.Method == http.MethodDelete)
	if err != nil {
		return err
	}
	if _, err := queryParams(c); err != nil {
		return err
	}
	n, err := h.readNumber(t.tenant, "number", c.r.PathValue("number"))
	if err != nil {
		return err
	}
	if c.r.Method == http.MethodGet {
		es, _, err := h.outbound.Lists.ListDNC(c.ctx, pool.DNCQuery{Lists: []string{t.tenant}, Number: n, Limit: 1})
		if err != nil {
			return err
		}
		if len(es) == 0 {
			return &requestError{status: http.StatusNotFound, code: "not_listed", field: "number",
				msg: n + " is not on the " + t.name() + " do-not-call list"}
		}
		writeAPIJSON(c.w, http.StatusOK, wireDNC(es[0]))
		return nil
	}
	removed, err := h.outbound.DoNotCall.RemoveDoNotCall(c.ctx, t.tenant, n)
	if err != nil {
		return routingProblem(err)
	}
	writeAPIJSON(c.w, http.StatusOK, DoNotCallRemoved{List: t.name(), Tenant: t.tenant, Number: n, Removed: removed})
	return nil
}

// dncImport serves POST …/dnc/import: a CSV file (text/csv) of numbers, one per
// row in the first column, an optional source in the second.
func (h *Internal) dncImport(c *apiCall) error {
	if c.r.Method != http.MethodPost {
		return methodNotAllowed(c.r.Method, "POST")
	}
	t, err := target(c, true)
	if err != nil {
		return err
	}
	q, err := queryParams(c, "source")
	if err != nil {
		return err
	}
	if err := checkCSVType(c.r.Header.Get("Content-Type")); err != nil {
		return err
	}
	source, err := sourceOf(q.Get("source"), "csv:api:"+c.app.name)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(c.body)) == 0 {
		return &requestError{status: http.StatusBadRequest, code: "invalid_csv", msg: "the body is empty: send the CSV file"}
	}
	imp, err := h.outbound.DoNotCall.ImportDoNotCall(c.ctx, t.tenant, bytes.NewReader(c.body), source)
	if err != nil {
		var pe *csv.ParseError
		switch {
		case errors.As(err, &pe):
			return &requestError{status: http.StatusBadRequest, code: "invalid_csv",
				msg: fmt.Sprintf("line %d: %v; nothing was imported", pe.Line, pe.Err)}
		case errors.Is(err, pool.ErrTooManyRows):
			return &requestError{status: http.StatusBadRequest, code: "invalid_csv", msg: userMessage(err) + "; nothing was imported"}
		}
		return routingProblem(err)
	}
	out := DoNotCallImport{List: t.name(), Tenant: t.tenant, Numbers: imp.Read, Added: imp.Added,
		AlreadyListed: imp.Read - imp.Added, Problems: make([]ImportProblem, 0, len(imp.Problems))}
	for _, p := range imp.Problems {
		ip := ImportProblem{Line: p.Line, Input: p.Input, Reason: "invalid", Message: p.Err.Error()}
		var ne *routing.NumberError
		if errors.As(p.Err, &ne) {
			ip.Reason, ip.Message = ne.Reason, ne.Detail
		}
		out.Problems = append(out.Problems, ip)
	}
	writeAPIJSON(c.w, http.StatusOK, out)
	return nil
}

// checkCSVType accepts text/csv (any parameters, a UTF-8 charset).
func checkCSVType(ct string) error {
	mt, params, err := mime.ParseMediaType(ct)
	if err == nil && mt == "text/csv" {
		if cs, ok := params["charset"]; !ok || strings.EqualFold(cs, "utf-8") {
			return nil
		}
	}
	return &requestError{status: http.StatusUnsupportedMediaType, code: "unsupported_media_type", field: "Content-Type",
		msg: fmt.Sprintf("Content-Type %q: send the file as text/csv (UTF-8)", truncate(ct, 64))}
}

// sourceOf checks a source label; "" is def.
func sourceOf(s, def string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return truncate(def, maxDNCSource), nil
	}
	if len(s) > maxDNCSource || strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return "", badField("source", "want at most %d printable bytes", maxDNCSource)
	}
	return s, nil
}

func wireDNC(e pool.DNCEntry) DoNotCallEntry {
	out := DoNotCallEntry{List: listGlobal, Tenant: e.Tenant, Number: e.Number, AddedAt: e.AddedAt, Source: e.Source}
	if e.Tenant != "" {
		out.List = listTenant
	}
	return out
}

// dncCursor encodes the position after e.
func dncCursor(e pool.DNCEntry) string {
	return base64.RawURLEncoding.EncodeToString([]byte(e.Tenant + "\n" + e.Number))
}

func parseDNCCursor(s string) (pool.DNCEntry, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return pool.DNCEntry{}, false
	}
	tenant, n, ok := strings.Cut(string(b), "\n")
	if !ok || !cursorNumber(n) {
		return pool.DNCEntry{}, false
	}
	return pool.DNCEntry{Tenant: tenant, Number: n}, true
}

// cursorNumber reports whether n is a listed number's form: + and digits.
func cursorNumber(n string) bool {
	if len(n) < 2 || n[0] != '+' {
		return false
	}
	for i := 1; i < len(n); i++ {
		if n[i] < '0' || n[i] > '9' {
			return false
		}
	}
	return true
}

// numberProblem is the 400 of a number in field that does not read.
func numberProblem(field string, err error) error {
	var ne *routing.NumberError
	if errors.As(err, &ne) {
		return badField(field, "%q is not a dialable number (%s): %s", ne.Input, ne.Reason, ne.Detail)
	}
	return badField(field, "is not a phone number")
}

// routingProblem maps the outbound router's errors to responses.
func routingProblem(err error) error {
	var ne *routing.NumberError
	switch {
	case errors.As(err, &ne):
		return numberProblem("number", err)
	case errors.Is(err, routing.ErrUnknownTenant):
		return &requestError{status: http.StatusNotFound, code: "unknown_tenant", field: "tenant",
			msg: "no such tenant in callgate's config"}
	case errors.Is(err, routing.ErrClosed):
		return fmt.Errorf("%w: %w", pool.ErrClosed, err) // 503
	}
	return err
}
