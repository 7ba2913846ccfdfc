package routing

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"callgate/pool"
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

// Every way of writing a listed number is blocked, whichever way it was listed, on
// the tenant's list and the global one.
func TestDoNotCallFormats(t *testing.T) {
	ctx := context.Background()
	mobile := []string{"13800138000", "+8613800138000", "008613800138000", "8613800138000", "138 0013 8000",
		"138-0013-8000", "+86 138 0013 8000", fullWidth("13800138000"), "＋８６ １３８－００１３－８０００", "(+86) 138.0013.8000"}
	fixed := []string{"075512345678", "0755 1234 5678", "0755-12345678", "+86 755 1234 5678", "0086 755 12345678",
		"86 755 12345678", "(0755) 1234-5678", fullWidth("0755-1234-5678")}
	for _, list := range []string{"acme", ""} {
		for _, group := range [][]string{mobile, fixed} {
			for _, listed := range group {
				t.Run(fmt.Sprintf("%q on %q", listed, list), func(t *testing.T) {
					r, _, _ := newTestRouter(t, acmePlan())
					if n, err := r.AddDoNotCall(ctx, list, []string{listed}, "t"); err != nil || n != 1 {
						t.Fatalf("add: %d, %v", n, err)
					}
					for _, dialled := range group {
						_, err := r.Route(ctx, OutboundCall{Tenant: "acme", To: dialled})
						if !errors.Is(err, ErrDoNotCall) {
							t.Errorf("dialling %q: %v, want ErrDoNotCall", dialled, err)
						}
						if on, err := r.OnDoNotCall("acme", dialled); !on || err != nil {
							t.Errorf("OnDoNotCall(%q) = %v, %v", dialled, on, err)
						}
					}
				})
			}
		}
	}
}

func TestNormalizeForTenant(t *testing.T) {
	us := acmePlan()
	us.Tenant, us.Region = "usco", "US"
	us.Numbers = []pool.CallerNumber{{Number: "+12025550100", Tenant: "usco", Kind: KindFixed, Trunks: []string{"t"}}}
	r, _, _ := newTestRouter(t, acmePlan(), us)
	tests := []struct {
		tenant, in, want string
	}{
		{"acme", "138 0013 8000", "+8613800138000"},
		{"acme", "0755-1234 5678", "+8675512345678"},
		{"usco", "(202) 555-0100", "+12025550100"},
		{"usco", "+86 138 0013 8000", "+8613800138000"},
		{"", "13800138000", "+8613800138000"},       // the global list reads CN numbers
		{"nobody", "13800138000", "+8613800138000"}, // so does a tenant without a plan
		{"usco", fullWidth("2025550100"), "+12025550100"},
	}
	for _, tc := range tests {
		got, err := r.Normalize(tc.tenant, tc.in)
		if err != nil || got != tc.want {
			t.Errorf("Normalize(%q, %q) = %q, %v; want %q", tc.tenant, tc.in, got, err, tc.want)
		}
	}
	var ne *NumberError
	if _, err := r.Normalize("acme", "12"); !errors.As(err, &ne) || !errors.Is(err, ErrInvalidNumber) {
		t.Errorf("short number: %v", err)
	}
}

// slowAdds is the real store, slow to come back from adding to a list: a removal
// racing an add then lands between the add's write to the store and to memory.
type slowAdds struct{ *pool.SQLiteStore }

func (s slowAdds) AddDoNotCall(ctx context.Context, es []pool.DNCEntry) (int, error) {
	n, err := s.SQLiteStore.AddDoNotCall(ctx, es)
	time.Sleep(time.Millisecond)
	return n, err
}

// An add and a removal of one number racing each other leave memory as the store
// says: the router's answer is what a restart would load.
func TestDoNotCallChangesAgreeWithStore(t *testing.T) {
	ctx := context.Background()
	store := openStore(t, filepath.Join(t.TempDir(), "callgate.db"))
	r := openRouter(t, slowAdds{store}, &testClock{now: t0}, acmePlan())
	const n = "+8613800138000"
	for round := range 20 {
		var wg sync.WaitGroup
		wg.Go(func() {
			if _, err := r.AddDoNotCall(ctx, "acme", []string{n}, "race"); err != nil {
				t.Error(err)
			}
		})
		wg.Go(func() {
			if _, err := r.RemoveDoNotCall(ctx, "acme", n); err != nil {
				t.Error(err)
			}
		})
		wg.Wait()
		_, stored, err := store.DoNotCall(ctx, "acme", n)
		if err != nil {
			t.Fatal(err)
		}
		if on, _ := r.OnDoNotCall("acme", n); on != stored {
			t.Fatalf("round %d: router says listed=%v, store %v", round, on, stored)
		}
	}
}

// An import onto the global list binds every tenant at once; its problems name
// their lines and the good lines are added.
func TestImportGlobalList(t *testing.T) {
	ctx := context.Background()
	other := acmePlan()
	other.Tenant = "globex"
	other.Numbers = []pool.CallerNumber{{Number: "+862100000009", Tenant: "globex", Kind: KindFixed, Trunks: []string{"t"}}}
	r, _, _ := newTestRouter(t, acmePlan(), other)
	csv := "number,source\n" +
		"0086 138 0013 8000,regulator\n" +
		"13800138000,dup\n" +
		"call me\n" +
		"0755-1234-5678\n" +
		"12\n"
	imp, err := r.ImportDoNotCall(ctx, "", strings.NewReader(csv), "csv:national.csv")
	if err != nil {
		t.Fatal(err)
	}
	if imp.Read != 2 || imp.Added != 2 || len(imp.Problems) != 2 || imp.Problems[0].Line != 4 || imp.Problems[1].Line != 6 {
		t.Fatalf("import %+v", imp)
	}
	for _, tenant := range []string{"acme", "globex"} {
		for _, n := range []string{"+8613800138000", "+8675512345678"} {
			if _, err := r.Route(ctx, OutboundCall{Tenant: tenant, To: n}); !errors.Is(err, ErrDoNotCall) {
				t.Errorf("%s dialling %s: %v", tenant, n, err)
			}
		}
	}
	// Again: nothing new.
	imp, err = r.ImportDoNotCall(ctx, "", strings.NewReader(csv), "csv:national.csv")
	if err != nil || imp.Read != 2 || imp.Added != 0 {
		t.Fatalf("second import %+v, %v", imp, err)
	}
	if _, err := r.ImportDoNotCall(ctx, "nobody", strings.NewReader(csv), "x"); !errors.Is(err, ErrUnknownTenant) {
		t.Errorf("unknown tenant: %v", err)
	}
}

// FuzzDNCImport reads CSV files as an import does, with the real analyser: every
// number read is E.164 and reads as itself again (so a call to it, written as
// stored, hits the list); every problem names a line.
func FuzzDNCImport(f *testing.F) {
	for _, s := range []string{
		"number,source\n+86 138-0013-8000,complaint\n0755 1234 5678\n",
		"\ufeff１３８００１３８０００\n\"0086 10 1234 5678\",\"a, b\"\n# comment\n\n12\n",
		"8613800138000\r\n+1 202 555 0100\r\ncall me\r\n",
		"\"unterminated\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		normalize := func(n string) (string, error) { return sharedAnalyzer.Normalize(n, DefaultRegion) }
		es, probs, err := pool.ParseDNCCSV(strings.NewReader(s), normalize)
		if err != nil {
			return
		}
		for _, e := range es {
			again, err := normalize(e.Number)
			if err != nil || again != e.Number {
				t.Fatalf("%q reads as %q, %v", e.Number, again, err)
			}
		}
		for _, p := range probs {
			if p.Line < 1 || p.Err == nil {
				t.Fatalf("problem %+v", p)
			}
		}
	})
}
