package pool

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

var errNotNumber = errors.New("not a number")

// testNormalize is a stand-in for routing's analyser: it keeps digits and a leading
// "+", and reads national Chinese mobiles (11 digits starting 1) as +86.
func testNormalize(s string) (string, error) {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r >= '０' && r <= '９':
			b.WriteRune('0' + r - '０')
		case r == '+' && i == 0, r == ' ', r == '-':
		default:
			return "", errNotNumber
		}
	}
	d := b.String()
	switch {
	case len(d) == 11 && d[0] == '1':
		return "+86" + d, nil
	case strings.HasPrefix(d, "0086"):
		return "+" + d[2:], nil
	case strings.HasPrefix(d, "86") && len(d) == 13:
		return "+" + d, nil
	}
	return "", errNotNumber
}

func TestParseDNCCSV(t *testing.T) {
	in := "\ufeffnumber,source\n" +
		"+86 138-0000-0001,complaint\n" +
		"\n" +
		"# a comment\n" +
		"13800000001,dup\n" +
		"0086 13800000002\n" +
		"１３８０００００００３, \"quoted, source\"\n" +
		"hello,x\n" +
		"8613800000004\n" +
		",empty\n"
	es, probs, err := ParseDNCCSV(strings.NewReader(in), testNormalize)
	if err != nil {
		t.Fatal(err)
	}
	want := []DNCEntry{
		{Number: "+8613800000001", Source: "complaint"},
		{Number: "+8613800000002"},
		{Number: "+8613800000003", Source: "quoted, source"},
		{Number: "+8613800000004"},
	}
	if len(es) != len(want) {
		t.Fatalf("entries %+v, want %+v", es, want)
	}
	for i := range want {
		if es[i] != want[i] {
			t.Errorf("entry %d: %+v, want %+v", i, es[i], want[i])
		}
	}
	if len(probs) != 2 || probs[0].Line != 8 || probs[0].Input != "hello" || !errors.Is(probs[0], errNotNumber) || probs[1].Line != 10 {
		t.Fatalf("problems %v", probs)
	}
	if _, _, err := ParseDNCCSV(strings.NewReader("13800000001\n\"unterminated\n"), testNormalize); err == nil {
		t.Fatal("bad quoting accepted")
	}
	// Without a header the first row counts.
	es, _, _ = ParseDNCCSV(strings.NewReader("13800000009"), testNormalize)
	if len(es) != 1 || es[0].Number != "+8613800000009" {
		t.Fatalf("headerless: %+v", es)
	}
}

func FuzzParseDNCCSV(f *testing.F) {
	for _, s := range []string{"number\n+8613800000001,x\n", "\"a\"\"b\",c", "\ufeff1\n2\n#\n", "138\r\n0086"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		es, probs, err := ParseDNCCSV(strings.NewReader(s), testNormalize)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, e := range es {
			if !isE164(e.Number) || seen[e.Number] {
				t.Fatalf("entry %+v: not E.164 or repeated", e)
			}
			seen[e.Number] = true
		}
		for _, p := range probs {
			if p.Line < 1 || len(p.Input) > 64 {
				t.Fatalf("problem %+v", p)
			}
		}
	})
}

func TestDoNotCallLists(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, WithClock(newClock(t0).Now))
	n, err := s.AddDoNotCall(ctx, []DNCEntry{
		{Number: "+8613800000001", Source: "complaint"},
		{Tenant: "t1", Number: "+8613800000002", Source: "api"},
		{Tenant: "t1", Number: "+8613800000001", Source: "api", AddedAt: t0.Add(time.Hour)},
	})
	if err != nil || n != 3 {
		t.Fatalf("added %d, %v", n, err)
	}
	if n, err := s.AddDoNotCall(ctx, []DNCEntry{{Number: "+8613800000001", Source: "again"}}); err != nil || n != 0 {
		t.Fatalf("re-added %d, %v", n, err)
	}
	if _, err := s.AddDoNotCall(ctx, []DNCEntry{{Number: "13800000001"}}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("national number stored: %v", err)
	}
	for _, tc := range []struct {
		tenant, number string
		listed         bool
		from           string
	}{
		{"t1", "+8613800000001", true, "t1"}, // on both: the tenant's own entry
		{"t2", "+8613800000001", true, ""},   // global
		{"t2", "+8613800000002", false, ""},  // t1's only
		{"t1", "+8613800000002", true, "t1"},
		{"t1", "+8613800000003", false, ""},
	} {
		e, ok, err := s.DoNotCall(ctx, tc.tenant, tc.number)
		if err != nil || ok != tc.listed || (ok && e.Tenant != tc.from) {
			t.Errorf("DoNotCall(%s, %s) = %+v, %v, %v", tc.tenant, tc.number, e, ok, err)
		}
	}
	page, err := s.ListDoNotCall(ctx, DNCFilter{Tenant: "t1", Limit: 1})
	if err != nil || len(page) != 1 || page[0].Number != "+8613800000001" || !page[0].AddedAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("page 1: %+v, %v", page, err)
	}
	page, _ = s.ListDoNotCall(ctx, DNCFilter{Tenant: "t1", After: page[0].Number})
	if len(page) != 1 || page[0].Number != "+8613800000002" {
		t.Fatalf("page 2: %+v", page)
	}
	if ok, err := s.RemoveDoNotCall(ctx, "t1", "+8613800000002"); !ok || err != nil {
		t.Fatalf("remove: %v, %v", ok, err)
	}
	if ok, _ := s.RemoveDoNotCall(ctx, "t1", "+8613800000002"); ok {
		t.Fatal("removed twice")
	}
	all := 0
	if err := s.EachDoNotCall(ctx, func(DNCEntry) error { all++; return nil }); err != nil || all != 2 {
		t.Fatalf("each: %d, %v", all, err)
	}
}
