package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"callgate/pool"
	"callgate/routing"
)

// fullWidth writes s's ASCII digits as full-width ones.
func fullWidth(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return '０' + r - '0'
		}
		return r
	}, s)
}

// dials reports whether tenant may call number now, releasing what it took.
func (e *outEnv) dials(tenant, number string) error {
	e.t.Helper()
	d, err := e.router.Route(context.Background(), routing.OutboundCall{Tenant: tenant, To: number})
	if err == nil {
		d.Lease.Release(routing.OutcomeNotPlaced)
	}
	return err
}

// Every way of writing a listed number is refused at the very next dial, on the
// tenant's list and the global one, and is dialled again at once after removal.
func TestAPIDoNotCallTakesEffectAtOnce(t *testing.T) {
	variants := []string{"13800138000", "+8613800138000", "008613800138000", "8613800138000", "138 0013 8000",
		"138-0013-8000", "+86 138-0013-8000", fullWidth("138 0013 8000"), "＋８６１３８００１３８０００"}
	for _, tc := range []struct {
		name, app, path string
		blocks          []string // tenants refused after the add
	}{
		{"tenant list", "crm", "/v1/tenants/acme/dnc", []string{"acme"}},
		{"global list", "ops", "/v1/dnc/global", []string{"acme", "globex"}},
	} {
		for _, listed := range variants {
			t.Run(tc.name+" "+listed, func(t *testing.T) {
				e := newOutEnv(t)
				var added DoNotCallAdded
				res := e.call(tc.app, "POST", tc.path, AddDoNotCallRequest{Number: listed, Source: "complaint"}, &added)
				if res.status != http.StatusOK || added.Added != 1 || added.AlreadyListed != 0 ||
					!slices.Equal(added.Numbers, []string{"+8613800138000"}) {
					t.Fatalf("add: %d %s", res.status, res.body)
				}
				for _, tenant := range []string{"acme", "globex"} {
					want := slices.Contains(tc.blocks, tenant)
					for _, dialled := range variants {
						err := e.dials(tenant, dialled)
						if blocked := errors.Is(err, routing.ErrDoNotCall); blocked != want {
							t.Errorf("%s dialling %q: %v; want blocked=%v", tenant, dialled, err, want)
						}
					}
				}
				// Removing it written another way lifts it at once.
				var removed DoNotCallRemoved
				res = e.call(tc.app, "DELETE", tc.path+"/"+url.PathEscape(variants[len(variants)-1-len(listed)%3]), nil, &removed)
				if res.status != http.StatusOK || !removed.Removed || removed.Number != "+8613800138000" {
					t.Fatalf("remove: %d %s", res.status, res.body)
				}
				for _, tenant := range tc.blocks {
					if err := e.dials(tenant, listed); err != nil {
						t.Errorf("%s after removal: %v", tenant, err)
					}
				}
			})
		}
	}
}

func TestAPIDoNotCallAddMany(t *testing.T) {
	e := newOutEnv(t)
	var added DoNotCallAdded
	res := e.call("crm", "POST", "/v1/tenants/acme/dnc",
		AddDoNotCallRequest{Numbers: []string{"0755 1234 5678", "+86 755 1234 5678", "139 1234 5678"}}, &added)
	if res.status != http.StatusOK || added.List != "tenant" || added.Tenant != "acme" || added.Added != 2 ||
		!slices.Equal(added.Numbers, []string{"+8675512345678", "+8613912345678"}) {
		t.Fatalf("add: %d %s", res.status, res.body)
	}
	e.call("crm", "POST", "/v1/tenants/acme/dnc", AddDoNotCallRequest{Number: "13912345678", Numbers: []string{"13800000001"}}, &added)
	if added.Added != 1 || added.AlreadyListed != 1 {
		t.Fatalf("second add %+v", added)
	}
	var entry DoNotCallEntry
	if res := e.call("crm", "GET", "/v1/tenants/acme/dnc/0755-1234-5678", nil, &entry); res.status != http.StatusOK ||
		entry.Number != "+8675512345678" || entry.Source != "api:crm" || !entry.AddedAt.Equal(apiT0) || entry.List != "tenant" {
		t.Fatalf("read entry: %d %s", res.status, res.body)
	}
	wantError(t, e.call("crm", "GET", "/v1/tenants/acme/dnc/13700000000", nil, nil), 404, "not_listed", "number")
	// Removing what is not listed says so.
	var removed DoNotCallRemoved
	if res := e.call("crm", "DELETE", "/v1/tenants/acme/dnc/13700000000", nil, &removed); res.status != 200 || removed.Removed {
		t.Fatalf("remove unlisted: %d %s", res.status, res.body)
	}
}

func TestAPIDoNotCallRefuses(t *testing.T) {
	e := newOutEnv(t)
	many := make([]string, maxDNCAdd+1)
	for i := range many {
		many[i] = fmt.Sprintf("1380000%04d", i)
	}
	tests := []struct {
		name, app, method, path string
		body                    any
		status                  int
		code, field             string
	}{
		{"no numbers", "crm", "POST", "/v1/tenants/acme/dnc", AddDoNotCallRequest{}, 400, "invalid_field", "numbers"},
		{"a bad number names its index", "crm", "POST", "/v1/tenants/acme/dnc",
			AddDoNotCallRequest{Numbers: []string{"13800138000", "12"}}, 400, "invalid_field", "numbers[1]"},
		{"a bad single number", "crm", "POST", "/v1/tenants/acme/dnc",
			AddDoNotCallRequest{Number: "call me", Numbers: []string{"13800138000"}}, 400, "invalid_field", "number"},
		{"a bad number after the single one", "crm", "POST", "/v1/tenants/acme/dnc",
			AddDoNotCallRequest{Number: "13800138000", Numbers: []string{"13800138001", "x"}}, 400, "invalid_field", "numbers[1]"},
		{"too many", "crm", "POST", "/v1/tenants/acme/dnc", AddDoNotCallRequest{Numbers: many}, 400, "invalid_field", "numbers"},
		{"bad source", "crm", "POST", "/v1/tenants/acme/dnc", AddDoNotCallRequest{Number: "13800138000", Source: "a\nb"}, 400, "invalid_field", "source"},
		{"unknown field", "crm", "POST", "/v1/tenants/acme/dnc", map[string]any{"phone": "13800138000"}, 400, "unknown_field", "phone"},
		{"not an object", "crm", "POST", "/v1/tenants/acme/dnc", []byte("13800138000"), 400, "invalid_field", "body"},
		{"not JSON", "crm", "POST", "/v1/tenants/acme/dnc", []byte("{13800138000"), 400, "invalid_json", ""},
		{"another tenant's list", "crm", "POST", "/v1/tenants/globex/dnc", AddDoNotCallRequest{Number: "13800138000"}, 403, "tenant_not_allowed", "tenant"},
		{"a tenant callgate does not serve", "ops", "POST", "/v1/tenants/nobody/dnc", AddDoNotCallRequest{Number: "13800138000"}, 404, "unknown_tenant", "tenant"},
		{"the global list takes an app for all tenants", "crm", "POST", "/v1/dnc/global", AddDoNotCallRequest{Number: "13800138000"}, 403, "list_not_allowed", ""},
		{"nor may it remove from it", "crm", "DELETE", "/v1/dnc/global/13800138000", nil, 403, "list_not_allowed", ""},
		{"a bad number to remove", "crm", "DELETE", "/v1/tenants/acme/dnc/12", nil, 400, "invalid_field", "number"},
		{"method", "crm", "PUT", "/v1/tenants/acme/dnc", AddDoNotCallRequest{}, 405, "method_not_allowed", ""},
		{"method on a number", "crm", "POST", "/v1/tenants/acme/dnc/13800138000", AddDoNotCallRequest{}, 405, "method_not_allowed", ""},
		{"query on add", "crm", "POST", "/v1/tenants/acme/dnc?tenant=globex", AddDoNotCallRequest{Number: "13800138000"}, 400, "unknown_field", "tenant"},
		{"bad list cursor", "crm", "GET", "/v1/dnc?cursor=zzz", nil, 400, "invalid_field", "cursor"},
		{"list of another tenant", "crm", "GET", "/v1/dnc?tenant=globex", nil, 403, "tenant_not_allowed", "tenant"},
		{"bad list number", "crm", "GET", "/v1/tenants/acme/dnc?number=abc", nil, 400, "invalid_field", "number"},
		{"bad limit", "crm", "GET", "/v1/dnc/global?limit=0", nil, 400, "invalid_field", "limit"},
		{"unknown parameter", "crm", "GET", "/v1/dnc/global?tenant=acme", nil, 400, "unknown_field", "tenant"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			wantError(t, e.call(tc.app, tc.method, tc.path, tc.body, nil), tc.status, tc.code, tc.field)
		})
	}
	// None of it listed anything.
	if es, _, _ := e.store.ListDNC(context.Background(), pool.DNCQuery{}); len(es) != 0 {
		t.Errorf("listed %+v", es)
	}
}

func TestAPIDoNotCallLists(t *testing.T) {
	e := newOutEnv(t)
	must := func(res response) {
		t.Helper()
		if res.status != http.StatusOK {
			t.Fatalf("%d %s", res.status, res.body)
		}
	}
	must(e.call("ops", "POST", "/v1/dnc/global", AddDoNotCallRequest{Numbers: []string{"13800000001", "13800000002"}, Source: "regulator"}, nil))
	must(e.call("crm", "POST", "/v1/tenants/acme/dnc", AddDoNotCallRequest{Numbers: []string{"13800000001", "13800000003", "13800000004"}}, nil))
	must(e.call("globex-app", "POST", "/v1/tenants/globex/dnc", AddDoNotCallRequest{Numbers: []string{"13800000005"}}, nil))
	key := func(es []DoNotCallEntry) []string {
		var out []string
		for _, x := range es {
			out = append(out, x.List+":"+x.Tenant+":"+x.Number[len(x.Number)-1:])
		}
		return out
	}
	tests := []struct {
		name, app, target string
		want              []string
	}{
		{"what crm may see: the global list and acme's", "crm", "/v1/dnc",
			[]string{"global::1", "global::2", "tenant:acme:1", "tenant:acme:3", "tenant:acme:4"}},
		{"every list for ops", "ops", "/v1/dnc",
			[]string{"global::1", "global::2", "tenant:acme:1", "tenant:acme:3", "tenant:acme:4", "tenant:globex:5"}},
		{"filtered by tenant", "ops", "/v1/dnc?tenant=globex", []string{"tenant:globex:5"}},
		{"which lists hold a number", "crm", "/v1/dnc?number=138%200000%200001", []string{"global::1", "tenant:acme:1"}},
		{"the global list, for any app", "globex-app", "/v1/dnc/global", []string{"global::1", "global::2"}},
		{"a tenant's list", "crm", "/v1/tenants/acme/dnc", []string{"tenant:acme:1", "tenant:acme:3", "tenant:acme:4"}},
		{"a number on a tenant's list", "crm", "/v1/tenants/acme/dnc?number=%2B8613800000004", []string{"tenant:acme:4"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var list DoNotCallEntries
			must(e.call(tc.app, "GET", tc.target, nil, &list))
			if got := key(list.Entries); !slices.Equal(got, tc.want) || list.NextCursor != "" {
				t.Errorf("%v next %q, want %v", got, list.NextCursor, tc.want)
			}
		})
	}
	// Pages of two walk ops' six entries once.
	var walked []string
	target := "/v1/dnc?limit=2"
	for range 5 {
		var page DoNotCallEntries
		must(e.call("ops", "GET", target, nil, &page))
		walked = append(walked, key(page.Entries)...)
		if page.NextCursor == "" {
			break
		}
		target = "/v1/dnc?limit=2&cursor=" + url.QueryEscape(page.NextCursor)
	}
	if len(walked) != 6 || walked[5] != "tenant:globex:5" {
		t.Errorf("walked %v", walked)
	}
	var list DoNotCallEntries
	must(e.call("crm", "GET", "/v1/dnc/global", nil, &list))
	if list.Entries[0].Source != "regulator" || list.Entries[0].Tenant != "" {
		t.Errorf("global entry %+v", list.Entries[0])
	}
}

func TestAPIDoNotCallImport(t *testing.T) {
	e := newOutEnv(t)
	csv := "number,source\n" +
		"+86 139-1234-5678,complaint\n" +
		"0755 1234 5678\n" +
		"call me,crm\n" +
		"\n" +
		fullWidth("13912345678") + ",dup\n" +
		"12\n" +
		"8618912345678\n"
	var imp DoNotCallImport
	res := e.call("crm", "POST", "/v1/tenants/acme/dnc/import?source=csv:weekly.csv", csv, &imp)
	if res.status != http.StatusOK || imp.Numbers != 3 || imp.Added != 3 || imp.AlreadyListed != 0 || len(imp.Problems) != 2 {
		t.Fatalf("import: %d %s", res.status, res.body)
	}
	if p := imp.Problems[0]; p.Line != 4 || p.Input != "call me" || p.Reason != "bad_character" || p.Message == "" {
		t.Errorf("problem %+v", p)
	}
	if p := imp.Problems[1]; p.Line != 7 || p.Input != "12" || p.Reason != "too_short" {
		t.Errorf("problem %+v", p)
	}
	for _, n := range []string{"13912345678", "075512345678", "+86 189 1234 5678"} {
		if err := e.dials("acme", n); !errors.Is(err, routing.ErrDoNotCall) {
			t.Errorf("dialling imported %s: %v", n, err)
		}
	}
	var entry DoNotCallEntry
	e.call("crm", "GET", "/v1/tenants/acme/dnc/18912345678", nil, &entry)
	if entry.Source != "csv:weekly.csv" {
		t.Errorf("entry %+v", entry)
	}
	e.call("crm", "GET", "/v1/tenants/acme/dnc/13912345678", nil, &entry)
	if entry.Source != "complaint" {
		t.Errorf("entry %+v", entry)
	}
	// The same file again adds nothing.
	e.call("crm", "POST", "/v1/tenants/acme/dnc/import", csv, &imp)
	if imp.Added != 0 || imp.AlreadyListed != 3 {
		t.Errorf("again %+v", imp)
	}

	// A file over the API's usual 64 KiB limit: 6,000 numbers onto the global list.
	var big strings.Builder
	for i := range 6000 {
		fmt.Fprintf(&big, "+86 137 %04d %04d,bulk\n", i/100, i)
	}
	if big.Len() <= MaxAPIBody {
		t.Fatalf("test file of %d bytes is not over %d", big.Len(), MaxAPIBody)
	}
	res = e.call("ops", "POST", "/v1/dnc/global/import", big.String(), &imp)
	if res.status != http.StatusOK || imp.Numbers != 6000 || imp.Added != 6000 || len(imp.Problems) != 0 || imp.List != "global" {
		t.Fatalf("big import: %d %.300s", res.status, res.body)
	}
	if err := e.dials("globex", "13700595999"); !errors.Is(err, routing.ErrDoNotCall) {
		t.Errorf("dialling a number of the big import: %v", err)
	}
}

func TestAPIDoNotCallImportRefuses(t *testing.T) {
	e := newOutEnv(t)
	post := func(app, path, ctype string, body []byte) response {
		req := e.request("POST", path, body)
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		return e.send(app, req, nil)
	}
	good := []byte("13800138000\n")
	wantError(t, post("crm", "/v1/tenants/acme/dnc/import", "application/json", good), 415, "unsupported_media_type", "Content-Type")
	wantError(t, post("crm", "/v1/tenants/acme/dnc/import", "", good), 415, "unsupported_media_type", "Content-Type")
	wantError(t, post("crm", "/v1/tenants/acme/dnc/import", "text/csv; charset=gbk", good), 415, "unsupported_media_type", "Content-Type")
	wantError(t, post("crm", "/v1/tenants/acme/dnc/import", "text/csv", nil), 400, "invalid_csv", "")
	res := post("crm", "/v1/tenants/acme/dnc/import", "text/csv", []byte("13800138000\n13800138001,\"unterminated\n"))
	wantError(t, res, 400, "invalid_csv", "")
	if !strings.Contains(res.err.Message, "line 2") || !strings.Contains(res.err.Message, "nothing was imported") {
		t.Errorf("message %q", res.err.Message)
	}
	wantError(t, post("crm", "/v1/dnc/global/import", "text/csv", good), 403, "list_not_allowed", "")
	wantError(t, post("crm", "/v1/tenants/globex/dnc/import", "text/csv", good), 403, "tenant_not_allowed", "tenant")
	wantError(t, post("ops", "/v1/tenants/nobody/dnc/import", "text/csv", good), 404, "unknown_tenant", "tenant")
	wantError(t, post("crm", "/v1/tenants/acme/dnc/import?src=x", "text/csv", good), 400, "unknown_field", "src")
	big := make([]byte, MaxDNCImportBody+1)
	wantError(t, post("crm", "/v1/tenants/acme/dnc/import", "text/csv", big), 413, "body_too_large", "")
	if err := e.dials("acme", "13800138000"); err != nil {
		t.Errorf("a refused import listed a number: %v", err)
	}
	// Charset utf-8 and parameters are fine.
	if res := post("crm", "/v1/tenants/acme/dnc/import", "text/csv; charset=UTF-8; header=present", good); res.status != 200 {
		t.Errorf("text/csv with charset: %d %s", res.status, res.body)
	}
}

func FuzzDNCCursor(f *testing.F) {
	f.Add("acme", "+8613800138000")
	f.Add("", "+1")
	f.Add("ten\nant", "+86")
	f.Add("\n+", "0") // a newline in the tenant once smuggled one into the number
	f.Fuzz(func(t *testing.T, tenant, number string) {
		e := pool.DNCEntry{Tenant: tenant, Number: number}
		got, ok := parseDNCCursor(dncCursor(e))
		valid := !strings.Contains(tenant, "\n") && cursorNumber(number)
		if ok != valid || (ok && got != e) {
			t.Fatalf("round trip of %q/%q: %+v %v", tenant, number, got, ok)
		}
		_, _ = parseDNCCursor(tenant) // any input: no panic
	})
}
