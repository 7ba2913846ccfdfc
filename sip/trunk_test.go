package sip

import (
	"errors"
	"net/netip"
	"sync"
	"testing"
	"time"

	"callgate/configs"
)

// t0 is the injected clock's start for rate-limit tests.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func mustTrunk(t *testing.T, c configs.Trunk) *Trunk {
	t.Helper()
	tr, err := newTrunk(c)
	if err != nil {
		t.Fatalf("newTrunk(%+v): %v", c, err)
	}
	return tr
}

func TestTrunkOwns(t *testing.T) {
	tr := mustTrunk(t, configs.Trunk{
		Name:         "carrier",
		InboundCIDRs: []string{"10.0.0.0/8", "192.0.2.7", "2001:db8::/32", "198.51.100.77/24"},
	})
	for _, tc := range []struct {
		addr string
		want bool
	}{
		{"10.0.0.0", true},
		{"10.1.2.3", true},
		{"10.255.255.255", true},
		{"11.0.0.1", false},
		{"9.255.255.255", false},
		{"192.0.2.7", true},
		{"192.0.2.8", false},
		{"192.0.2.6", false},
		{"198.51.100.1", true}, // host bits in "198.51.100.77/24" are masked off
		{"198.51.101.1", false},
		{"2001:db8::1", true},
		{"2001:db8:ffff:ffff::5060", true},
		{"2001:db9::1", false},
		{"::1", false},
		{"::ffff:10.1.2.3", true}, // IPv4-mapped IPv6, as a dual-stack socket reports it
		{"::ffff:192.0.2.7", true},
		{"::ffff:192.0.2.8", false},
		{"::ffff:11.1.2.3", false},
		{"127.0.0.1", false},
	} {
		if got := tr.owns(netip.MustParseAddr(tc.addr)); got != tc.want {
			t.Errorf("owns(%s) = %v, want %v", tc.addr, got, tc.want)
		}
	}
	if tr.owns(netip.Addr{}) {
		t.Error("owns(zero Addr) = true, want false")
	}
}

func TestTrunkOwnsNothingWithoutCIDRs(t *testing.T) {
	tr := mustTrunk(t, configs.Trunk{Name: "outbound-only"})
	if tr.owns(netip.MustParseAddr("10.1.2.3")) {
		t.Error("trunk without inbound CIDRs owns 10.1.2.3")
	}
}

func TestTrunkInvalidCIDR(t *testing.T) {
	for _, cidr := range []string{
		"",
		"carrier.example.com",
		"10.0.0.0/33",
		"10.0.0.0/-1",
		"2001:db8::/129",
		"300.1.2.3",
		"10.0.0",
		"10.0.0.0/8 ",
	} {
		tr, err := newTrunk(configs.Trunk{Name: "carrier", InboundCIDRs: []string{"10.0.0.0/8", cidr}})
		if err == nil {
			t.Errorf("newTrunk with CIDR %q: got %v, want error", cidr, tr.prefixes)
			continue
		}
		if tr != nil {
			t.Errorf("newTrunk with CIDR %q returned a trunk with its error", cidr)
		}
	}
}

func TestAcquireConcurrencyLimit(t *testing.T) {
	tr := mustTrunk(t, configs.Trunk{Name: "carrier", MaxConcurrentCalls: 2, MaxCallsPerSecond: -1})
	for i := range 2 {
		if err := tr.acquire(t0); err != nil {
			t.Fatalf("acquire %d: %v", i+1, err)
		}
	}
	err := tr.acquire(t0)
	if !errors.Is(err, ErrTrunkLimit) {
		t.Fatalf("third acquire = %v, want ErrTrunkLimit", err)
	}
	if got := tr.Active(); got != 2 {
		t.Fatalf("Active after refused acquire = %d, want 2", got)
	}
	tr.release()
	if got := tr.Active(); got != 1 {
		t.Fatalf("Active after release = %d, want 1", got)
	}
	if err := tr.acquire(t0); err != nil {
		t.Fatalf("acquire after release: %v", err)
	}
	if got := tr.Active(); got != 2 {
		t.Fatalf("Active = %d, want 2", got)
	}
}

func TestAcquireWithoutLimits(t *testing.T) {
	for _, tc := range []struct {
		name       string
		concurrent int
		rate       float64
	}{
		{"negative", -1, -1},
		{"zero", 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := mustTrunk(t, configs.Trunk{Name: "carrier", MaxConcurrentCalls: tc.concurrent, MaxCallsPerSecond: tc.rate})
			for i := range 1000 {
				if err := tr.acquire(t0); err != nil {
					t.Fatalf("acquire %d: %v", i+1, err)
				}
			}
			if got := tr.Active(); got != 1000 {
				t.Fatalf("Active = %d, want 1000", got)
			}
			for range 1000 {
				tr.release()
			}
			if got := tr.Active(); got != 0 {
				t.Fatalf("Active after releases = %d, want 0", got)
			}
		})
	}
}

func TestAcquireHoldCountsInboundCalls(t *testing.T) {
	tr := mustTrunk(t, configs.Trunk{Name: "carrier", MaxConcurrentCalls: 1, MaxCallsPerSecond: -1})
	tr.hold()
	tr.hold() // inbound calls are never refused by our own limit
	if got := tr.Active(); got != 2 {
		t.Fatalf("Active after two holds = %d, want 2", got)
	}
	if err := tr.acquire(t0); !errors.Is(err, ErrTrunkLimit) {
		t.Fatalf("acquire with inbound calls over the limit = %v, want ErrTrunkLimit", err)
	}
	if got := tr.Active(); got != 2 {
		t.Fatalf("Active after refused acquire = %d, want 2", got)
	}
}

// attempt is one acquire at t0+at and whether it must pass.
type attempt struct {
	at   time.Duration
	pass bool
}

func runAttempts(t *testing.T, tr *Trunk, attempts []attempt) {
	t.Helper()
	for i, a := range attempts {
		err := tr.acquire(t0.Add(a.at))
		switch {
		case a.pass && err != nil:
			t.Errorf("attempt %d at t0+%v: %v, want success", i+1, a.at, err)
		case !a.pass && !errors.Is(err, ErrTrunkLimit):
			t.Errorf("attempt %d at t0+%v: %v, want ErrTrunkLimit", i+1, a.at, err)
		}
	}
}

func TestAcquireRateLimit(t *testing.T) {
	for _, tc := range []struct {
		name     string
		rate     float64
		attempts []attempt
	}{
		{"2 per second", 2, []attempt{
			{0, true},
			{0, true},
			{0, false},
			{500 * time.Millisecond, true},
			{500 * time.Millisecond, false},
			{999 * time.Millisecond, false},
			{1000 * time.Millisecond, true},
		}},
		{"burst is one second of calls", 2, []attempt{
			{0, true},
			{time.Hour, true},
			{time.Hour, true},
			{time.Hour, false},
		}},
		{"0.5 per second", 0.5, []attempt{
			{0, true},
			{0, false},
			{time.Second, false},
			{1500 * time.Millisecond, false},
			{2 * time.Second, true},
			{2 * time.Second, false},
			{4 * time.Second, true},
		}},
		{"fractional rate bursts one call", 0.5, []attempt{
			{0, true},
			{time.Hour, true},
			{time.Hour, false},
		}},
		{"10 per second", 10, []attempt{
			{0, true}, {0, true}, {0, true}, {0, true}, {0, true},
			{0, true}, {0, true}, {0, true}, {0, true}, {0, true},
			{0, false},
			{100 * time.Millisecond, true},
			{100 * time.Millisecond, false},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := mustTrunk(t, configs.Trunk{Name: "carrier", MaxConcurrentCalls: -1, MaxCallsPerSecond: tc.rate})
			runAttempts(t, tr, tc.attempts)
		})
	}
}

func TestAcquireRateRefusalKeepsNoSlot(t *testing.T) {
	for _, concurrent := range []int{5, 0, -1} {
		tr := mustTrunk(t, configs.Trunk{Name: "carrier", MaxConcurrentCalls: concurrent, MaxCallsPerSecond: 1})
		if err := tr.acquire(t0); err != nil {
			t.Fatalf("max %d: first acquire: %v", concurrent, err)
		}
		before := tr.Active()
		if err := tr.acquire(t0); !errors.Is(err, ErrTrunkLimit) {
			t.Fatalf("max %d: second acquire in the same instant = %v, want ErrTrunkLimit", concurrent, err)
		}
		if got := tr.Active(); got != before {
			t.Errorf("max %d: Active after rate refusal = %d, want %d", concurrent, got, before)
		}
	}
}

func TestAcquireConcurrencyRefusalTakesNoToken(t *testing.T) {
	tr := mustTrunk(t, configs.Trunk{Name: "carrier", MaxConcurrentCalls: 1, MaxCallsPerSecond: 2})
	runAttempts(t, tr, []attempt{
		{0, true},  // token 1 of 2
		{0, false}, // refused by the concurrency limit, must not spend token 2
	})
	tr.release()
	runAttempts(t, tr, []attempt{
		{0, true}, // token 2 of 2
	})
	tr.release()
	runAttempts(t, tr, []attempt{
		{0, false}, // no tokens left
	})
	if got := tr.Active(); got != 0 {
		t.Errorf("Active = %d, want 0", got)
	}
}

func TestAcquireConcurrentCallers(t *testing.T) {
	const limit, callers = 10, 64
	tr := mustTrunk(t, configs.Trunk{Name: "carrier", MaxConcurrentCalls: limit, MaxCallsPerSecond: -1})
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		granted int
	)
	for range callers {
		wg.Go(func() {
			if err := tr.acquire(t0); err == nil {
				mu.Lock()
				granted++
				mu.Unlock()
			} else if !errors.Is(err, ErrTrunkLimit) {
				t.Errorf("acquire: %v", err)
			}
		})
	}
	wg.Wait()
	if granted != limit || tr.Active() != limit {
		t.Errorf("granted %d, Active %d, want %d each", granted, tr.Active(), limit)
	}
}

func TestTrunkSetReloadSharesActive(t *testing.T) {
	oldCfg := []configs.Trunk{
		{Name: "carrier", InboundCIDRs: []string{"10.0.0.0/8"}, MaxConcurrentCalls: 2, MaxCallsPerSecond: -1},
		{Name: "retired", InboundCIDRs: []string{"172.16.0.0/12"}, MaxConcurrentCalls: -1, MaxCallsPerSecond: -1},
	}
	old, err := newTrunkSet(oldCfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	oldCarrier := old.byName["carrier"]
	if err := oldCarrier.acquire(t0); err != nil {
		t.Fatal(err)
	}

	newCfg := []configs.Trunk{
		{Name: "carrier", InboundCIDRs: []string{"10.0.0.0/8", "192.0.2.0/24"}, MaxConcurrentCalls: 2, MaxCallsPerSecond: -1},
		{Name: "fresh", InboundCIDRs: []string{"198.51.100.0/24"}, MaxConcurrentCalls: -1, MaxCallsPerSecond: -1},
	}
	cur, err := newTrunkSet(newCfg, old)
	if err != nil {
		t.Fatal(err)
	}
	newCarrier := cur.byName["carrier"]
	if newCarrier == oldCarrier {
		t.Fatal("reload reused the old *Trunk; calls would see new settings mid-way")
	}
	if got := newCarrier.Active(); got != 1 {
		t.Fatalf("new carrier Active = %d, want the old call counted (1)", got)
	}
	if got := cur.byName["fresh"].Active(); got != 0 {
		t.Fatalf("fresh trunk Active = %d, want 0", got)
	}
	if _, ok := cur.byName["retired"]; ok {
		t.Fatal("retired trunk survived the reload")
	}

	// The limit of 2 counts the call started before the reload.
	if err := newCarrier.acquire(t0); err != nil {
		t.Fatal(err)
	}
	if err := newCarrier.acquire(t0); !errors.Is(err, ErrTrunkLimit) {
		t.Fatalf("third call across the reload = %v, want ErrTrunkLimit", err)
	}

	// The call started before the reload ends after it, on its old *Trunk.
	oldCarrier.release()
	newCarrier.release()
	if got := newCarrier.Active(); got != 0 {
		t.Errorf("new carrier Active after both calls ended = %d, want 0", got)
	}
	if got := oldCarrier.Active(); got != 0 {
		t.Errorf("old carrier Active after both calls ended = %d, want 0", got)
	}
}

func TestTrunkSetReloadWithBadCIDRFails(t *testing.T) {
	old, err := newTrunkSet([]configs.Trunk{{Name: "carrier", InboundCIDRs: []string{"10.0.0.0/8"}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cur, err := newTrunkSet([]configs.Trunk{{Name: "carrier", InboundCIDRs: []string{"10.0.0.0/88"}}}, old)
	if err == nil || cur != nil {
		t.Fatalf("newTrunkSet with a bad CIDR = %v, %v; want nil and an error", cur, err)
	}
	if !old.byName["carrier"].owns(netip.MustParseAddr("10.1.2.3")) {
		t.Error("failed reload changed the old set")
	}
}

func TestTrunkSetBySource(t *testing.T) {
	set, err := newTrunkSet([]configs.Trunk{
		{Name: "narrow", InboundCIDRs: []string{"10.1.0.0/16"}},
		{Name: "wide", InboundCIDRs: []string{"10.0.0.0/8", "2001:db8::/32"}},
		{Name: "single", InboundCIDRs: []string{"192.0.2.7"}},
		{Name: "outbound-only"},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		addr string
		want string // "" for no trunk
	}{
		{"10.1.2.3", "narrow"}, // both match; configuration order wins
		{"10.2.0.1", "wide"},
		{"::ffff:10.1.2.3", "narrow"},
		{"::ffff:10.9.9.9", "wide"},
		{"2001:db8::10", "wide"},
		{"192.0.2.7", "single"},
		{"::ffff:192.0.2.7", "single"},
		{"192.0.2.8", ""},
		{"2001:db9::1", ""},
		{"203.0.113.1", ""},
	} {
		got := set.bySource(netip.MustParseAddr(tc.addr))
		switch {
		case tc.want == "" && got != nil:
			t.Errorf("bySource(%s) = %q, want none", tc.addr, got.Name())
		case tc.want != "" && (got == nil || got.Name() != tc.want):
			t.Errorf("bySource(%s) = %v, want %q", tc.addr, got, tc.want)
		}
	}
}

func TestTrunkHostPortAndDomain(t *testing.T) {
	for _, tc := range []struct {
		cfg      configs.Trunk
		hostPort string
		domain   string
	}{
		{configs.Trunk{Host: "sip.carrier.example", Port: 5060}, "sip.carrier.example:5060", "sip.carrier.example"},
		{configs.Trunk{Host: "192.0.2.7", Port: 5080, Domain: "carrier.example"}, "192.0.2.7:5080", "carrier.example"},
		{configs.Trunk{Host: "2001:db8::7", Port: 5061}, "[2001:db8::7]:5061", "2001:db8::7"},
	} {
		tr := mustTrunk(t, tc.cfg)
		if got := tr.hostPort(); got != tc.hostPort {
			t.Errorf("hostPort() of %+v = %q, want %q", tc.cfg, got, tc.hostPort)
		}
		if got := tr.domain(); got != tc.domain {
			t.Errorf("domain() of %+v = %q, want %q", tc.cfg, got, tc.domain)
		}
	}
}
