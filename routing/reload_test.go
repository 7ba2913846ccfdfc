package routing

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"callgate/configs"
)

// reloadYAML is a tenant with fixed caller numbers (%s: the numbers, quoted).
const reloadYAML = `
storage:
  sqlite:
    path: %s
tenants:
  - name: acme
    callers:
      strategy: [{type: fixed}]
      caps: {pair_per_day: -1, callee_per_day: -1, caller_per_day: -1, caller_per_hour: -1}
      escalate_within: -1s
      health: {min_attempts: -1}
trunks:
  - {name: tr-a, host: 192.0.2.1}
pools:
  - name: acme-fixed
    type: fixed
    tenant: acme
    trunks: [tr-a]
    numbers: [%s]
`

func reloadConfig(t *testing.T, dir, numbers string) *configs.Config {
	t.Helper()
	path := filepath.Join(dir, "callgate.yaml")
	if err := os.WriteFile(path, fmt.Appendf(nil, reloadYAML, filepath.Join(dir, "db"), numbers), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := configs.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestReloadingOutboundKeepsLeasesOfCallsInProgress: a reload that adds a caller
// number builds a new router; the number a call in progress holds stays locked in
// it until that call ends, and the old router is closed once it holds nothing.
func TestReloadingOutboundKeepsLeasesOfCallsInProgress(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store := openStore(t, filepath.Join(dir, "callgate.db"))
	clock := &testClock{now: t0}
	const n1, n2 = "+862100000001", "+862100000002"
	r, err := NewReloadingOutbound(ctx, reloadConfig(t, dir, `"`+n1+`"`), store, WithClock(clock.Now),
		WithAnalyzer(sharedAnalyzer), WithInstance("test"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := r.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		if err := r.Close(); err != nil {
			t.Errorf("second close: %v", err)
		}
	}()
	dial := func(callee string) (OutboundDecision, error) {
		return r.Route(ctx, OutboundCall{Tenant: "acme", Agent: "alice", To: callee})
	}
	first, err := dial("+8613800138000")
	if err != nil || first.From != n1 {
		t.Fatalf("first call: %+v %v", first, err)
	}
	before := r.Current()

	// The same config again changes nothing.
	if changed, err := r.Reload(ctx, reloadConfig(t, dir, `"`+n1+`"`)); err != nil || changed || r.Current() != before {
		t.Fatalf("reload of the same config: changed %v, err %v", changed, err)
	}
	// A second number: a new router, in which n1 is still the first call's.
	if changed, err := r.Reload(ctx, reloadConfig(t, dir, `"`+n1+`", "`+n2+`"`)); err != nil || !changed || r.Current() == before {
		t.Fatalf("reload with a new number: changed %v, err %v", changed, err)
	}
	second, err := dial("+8613800138001")
	if err != nil || second.From != n2 {
		t.Fatalf("second call: %+v %v (n1 is held by the first call)", second, err)
	}
	if _, err := dial("+8613800138002"); err == nil {
		t.Fatal("a third call got a number: both are in calls")
	}
	// The first call ends on the old router; the mirror frees n1 in the new one.
	first.Lease.Release(OutcomeAnswered)
	r.mu.Lock()
	r.mirrorLocked()
	retired := len(r.retired)
	r.mu.Unlock()
	if retired != 0 {
		t.Fatalf("%d retired routers kept after their last call ended", retired)
	}
	third, err := dial("+8613800138002")
	if err != nil || third.From != n1 {
		t.Fatalf("third call: %+v %v", third, err)
	}
	second.Lease.Release(OutcomeAnswered)
	third.Lease.Release(OutcomeAnswered)
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// A config the router cannot use leaves the running one.
	bad := reloadConfig(t, dir, `"`+n1+`"`)
	bad.Tenants[0].TimeZone = "Not/AZone"
	cur := r.Current()
	if _, err := r.Reload(ctx, bad); err == nil || r.Current() != cur {
		t.Fatalf("bad config: err %v, router swapped %v", err, r.Current() != cur)
	}
}
