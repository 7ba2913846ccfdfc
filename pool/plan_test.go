package pool

import (
	"strings"
	"testing"
	"time"
)

// queryPlan returns the EXPLAIN QUERY PLAN details of query.
func queryPlan(t *testing.T, s *SQLiteStore, query string, args ...any) []string {
	t.Helper()
	rows, err := s.r.Query("EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	return plan
}

// The hot lookups search indexes; none scans a table.
func TestQueryPlans(t *testing.T) {
	s := openTest(t)
	plan := queryPlan(t, s, activeBindingsQuery, "+1", 0)
	joined := strings.Join(plan, " | ")
	if strings.Contains(joined, "SCAN") ||
		!strings.Contains(joined, "SEARCH bindings USING INDEX bindings_by_virtual") ||
		!strings.Contains(joined, "SEARCH bindings USING INDEX bindings_by_y (y=?)") {
		t.Errorf("ActiveBindings plan %q: want index searches on virtual and y", plan)
	}

	for name, tc := range map[string]struct {
		f     CallFilter
		index string
	}{
		"all":           {CallFilter{}, "calls_by_setup"},
		"window":        {CallFilter{Since: t0, Until: t0.Add(time.Hour)}, "calls_by_setup"},
		"tenant":        {CallFilter{Tenant: "t"}, "calls_by_tenant_setup"},
		"tenant window": {CallFilter{Tenant: "t", Since: t0}, "calls_by_tenant_setup"},
		"agent":         {CallFilter{Tenant: "t", Agent: "a"}, "calls_by_tenant_agent_setup"},
		"agent window":  {CallFilter{Tenant: "t", Agent: "a", Since: t0, Until: t0.Add(time.Hour)}, "calls_by_tenant_agent_setup"},
	} {
		sel, args := callsQuery(tc.f)
		plan := queryPlan(t, s, "SELECT "+callColumns+sel, args...)
		joined := strings.Join(plan, " | ")
		if !strings.Contains(joined, "USING INDEX "+tc.index) || strings.Contains(joined, "TEMP B-TREE") {
			t.Errorf("Calls %s plan %q: want %s, already in order", name, plan, tc.index)
		}
	}

	// The attempts of a page of one agent's calls: both parts search an index.
	sel, args := callsQuery(CallFilter{Tenant: "t", Agent: "a", Limit: 20})
	plan = queryPlan(t, s, "SELECT "+attemptColumns+" FROM call_attempts WHERE call_id IN (SELECT id"+sel+") ORDER BY call_id, seq",
		append(args, args...)...)
	joined = strings.Join(plan, " | ")
	if strings.Contains(joined, "SCAN calls") || !strings.Contains(joined, "USING INDEX calls_by_tenant_agent_setup") {
		t.Errorf("Calls attempts plan %q: want calls_by_tenant_agent_setup", plan)
	}

	plan = queryPlan(t, s, feedbackQuery, "c1")
	joined = strings.Join(plan, " | ")
	if strings.Contains(joined, "SCAN") || !strings.Contains(joined, "SEARCH call_feedback USING INDEX call_feedback_by_call (call_id=?)") {
		t.Errorf("Feedback plan %q: want a search of call_feedback_by_call", plan)
	}
}
