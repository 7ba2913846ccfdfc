package pool

import (
	"context"
	"fmt"
	"slices"
	"testing"
)

func TestListDNC(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, WithClock(newClock(t0).Now))
	var es []DNCEntry
	for _, tenant := range []string{"", "acme", "globex"} {
		for i := range 3 {
			es = append(es, DNCEntry{Tenant: tenant, Number: fmt.Sprintf("+861380000000%d", i), Source: "t"})
		}
	}
	es = append(es, DNCEntry{Tenant: "acme", Number: "+8613900000009"})
	if _, err := s.AddDoNotCall(ctx, es); err != nil {
		t.Fatal(err)
	}
	keys := func(es []DNCEntry) []string {
		var out []string
		for _, e := range es {
			out = append(out, e.Tenant+"|"+e.Number[len(e.Number)-2:])
		}
		return out
	}
	tests := []struct {
		name string
		q    DNCQuery
		want []string
		more bool
	}{
		{"every list: global first", DNCQuery{Limit: 4}, []string{"|00", "|01", "|02", "acme|00"}, true},
		{"one tenant", DNCQuery{Lists: []string{"acme"}}, []string{"acme|00", "acme|01", "acme|02", "acme|09"}, false},
		{"global and a tenant", DNCQuery{Lists: []string{"", "globex"}, Limit: 6}, []string{"|00", "|01", "|02", "globex|00", "globex|01", "globex|02"}, false},
		{"a number on every list", DNCQuery{Number: "+8613800000001"}, []string{"|01", "acme|01", "globex|01"}, false},
		{"a number on the lists asked", DNCQuery{Number: "+8613800000001", Lists: []string{"globex"}}, []string{"globex|01"}, false},
		{"after a cursor", DNCQuery{After: DNCEntry{Tenant: "acme", Number: "+8613800000002"}, Limit: 2}, []string{"acme|09", "globex|00"}, true},
		{"no lists", DNCQuery{Lists: []string{}}, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, more, err := s.ListDNC(ctx, tc.q)
			if err != nil || !slices.Equal(keys(got), tc.want) || more != tc.more {
				t.Errorf("%v more=%v %v; want %v more=%v", keys(got), more, err, tc.want, tc.more)
			}
		})
	}
	// Pages of 4 walk all 10 entries once.
	var walked []string
	q := DNCQuery{Limit: 4}
	for {
		page, more, err := s.ListDNC(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		walked = append(walked, keys(page)...)
		if !more {
			break
		}
		q.After = page[len(page)-1]
	}
	all, _, _ := s.ListDNC(ctx, DNCQuery{})
	if len(walked) != 10 || !slices.Equal(walked, keys(all)) {
		t.Errorf("walked %v", walked)
	}
	if page, _, _ := s.ListDNC(ctx, DNCQuery{Lists: []string{"acme"}, Limit: 1}); len(page) != 1 || !page[0].AddedAt.Equal(t0) || page[0].Source != "t" {
		t.Errorf("entry %+v", page)
	}
}
