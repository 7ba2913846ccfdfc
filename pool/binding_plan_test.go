package pool

import (
	"strings"
	"testing"
)

// The queries of allocation, get-or-bind, idempotency, listing and the GC search
// indexes; none scans a table.
func TestBindingQueryPlans(t *testing.T) {
	s := openTest(t)
	tests := []struct {
		name  string
		query string
		args  []any
		want  []string // substrings of the plan
		not   []string
	}{
		{"pick", pickQuery, []any{"p", 200, 0, "a", "b", "a", "b", "", ""},
			[]string{"SEARCH n USING INDEX virtual_numbers_by_load (pool=? AND state=? AND bound<?)",
				"SEARCH p USING PRIMARY KEY (number=? AND party=?)"}, []string{"SCAN", "TEMP B-TREE"}},
		{"pick exclusive", pickExclusiveQuery, []any{"p", 200, 0, "", "", "a", "b", "", ""},
			[]string{"SEARCH n USING INDEX virtual_numbers_by_load (pool=? AND state=? AND bound=?)",
				"SEARCH p USING PRIMARY KEY (number=?)"}, []string{"SCAN", "TEMP B-TREE"}},
		{"get-or-bind pair", pairQuery, []any{"t", "a", "b", "AXB", 0},
			[]string{"USING INDEX bindings_by_pair (tenant=? AND party_a=? AND party_b=?)"}, []string{"SCAN"}},
		{"idempotency key", idempotencyQuery, []any{"t", "k"},
			[]string{"USING INDEX bindings_idempotency (tenant=? AND idem_key=?)"}, []string{"SCAN"}},
		{"GC expired", expiredQuery, []any{0, 10},
			[]string{"USING INDEX bindings_by_end (ends_at>? AND ends_at<?)"}, []string{"SCAN", "TEMP B-TREE"}},
		{"GC idle", idleQuery, []any{0, 10},
			[]string{"USING INDEX bindings_idle (<expr><?)"}, []string{"SCAN", "TEMP B-TREE"}},
	}
	sel, args := listQuery(BindingFilter{Tenant: "t", After: 5})
	tests = append(tests, struct {
		name  string
		query string
		args  []any
		want  []string
		not   []string
	}{"list a tenant's page", sel, args, []string{"USING INDEX bindings_by_tenant (tenant=? AND rowid>?)"}, []string{"SCAN", "TEMP B-TREE"}})
	for _, tt := range tests {
		plan := strings.Join(queryPlan(t, s, tt.query, tt.args...), " | ")
		for _, w := range tt.want {
			if !strings.Contains(plan, w) {
				t.Errorf("%s: plan %q lacks %q", tt.name, plan, w)
			}
		}
		for _, n := range tt.not {
			if strings.Contains(plan, n) {
				t.Errorf("%s: plan %q has %q", tt.name, plan, n)
			}
		}
	}
}
