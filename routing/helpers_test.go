package routing

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"callgate/pool"
)

// t0 is the tests' epoch: Friday 20 November 2026, 09:00 UTC (17:00 in Shanghai).
var t0 = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

var shanghai = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		panic(err)
	}
	return loc
}()

// testClock is a settable clock.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// sharedAnalyzer saves loading the geocoding data for every router.
var sharedAnalyzer = NewAnalyzer()

// Caller numbers of tenant acme in the tests.
const (
	certSZ = "+8675561000001" // certified for Shenzhen and Guangzhou
	certBJ = "+861062000001"  // certified for Beijing
	mobSZ  = "+8613510001000" // mobile, Shenzhen
	mobGZ  = "+8613500000000" // mobile, Guangzhou
	mobBJ  = "+8613800000009" // mobile, Beijing
	fixA   = "+862100000001"  // fixed
	fixB   = "+862100000002"  // fixed
)

// Callees in the tests.
const (
	calleeSZ = "+8675512345678" // Shenzhen, Guangdong
	calleeGZ = "+862012345678"  // Guangzhou, Guangdong
	calleeDG = "+8676912345678" // Dongguan, Guangdong
	calleeBJ = "+861012345678"  // Beijing
	calleeXX = "+8617012345678" // no city known
)

func num(n string, kind pool.NumberKind, cities, provinces []string) pool.CallerNumber {
	return pool.CallerNumber{Number: n, Tenant: "acme", Kind: kind, Pool: string(kind), Supplier: "s",
		Trunks: []string{"trunk-" + string(kind)}, Cities: cities, Provinces: provinces}
}

// acmePlan is tenant acme with two numbers of each kind (three mobiles), the default
// strategy, no caps and no health checks; tests change what they need.
func acmePlan() TenantPlan {
	return TenantPlan{
		Tenant:         "acme",
		Location:       shanghai,
		Region:         "CN",
		Strategy:       []Step{{KindCertified, MatchCity}, {KindMobile, MatchCity}, {KindMobile, MatchProvince}, {KindFixed, MatchAny}},
		Lease:          time.Minute,
		EscalateWithin: 72 * time.Hour,
		Numbers: []pool.CallerNumber{
			num(certSZ, KindCertified, []string{"Shenzhen", "广州"}, nil),
			num(certBJ, KindCertified, []string{"北京"}, nil),
			num(mobSZ, KindMobile, []string{"Shenzhen"}, []string{"Guangdong"}),
			num(mobGZ, KindMobile, []string{"Guangzhou"}, []string{"广东"}),
			num(mobBJ, KindMobile, []string{"Beijing"}, []string{"Beijing"}),
			num(fixA, KindFixed, nil, nil),
			num(fixB, KindFixed, nil, nil),
		},
	}
}

// openStore opens a store on path, closed at the end of the test.
func openStore(t testing.TB, path string) *pool.SQLiteStore {
	t.Helper()
	s, err := pool.OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// newTestRouter returns a router over plans on a fresh store, at t0.
func newTestRouter(t testing.TB, plans ...TenantPlan) (*Outbound, *pool.SQLiteStore, *testClock) {
	t.Helper()
	store := openStore(t, filepath.Join(t.TempDir(), "callgate.db"))
	clock := &testClock{now: t0}
	r := openRouter(t, store, clock, plans...)
	return r, store, clock
}

func openRouter(t testing.TB, store CallerStore, clock *testClock, plans ...TenantPlan) *Outbound {
	t.Helper()
	r, err := NewOutboundRouter(context.Background(), store, plans, WithClock(clock.Now), WithAnalyzer(sharedAnalyzer),
		WithInstance("test"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Close(); err != nil {
			t.Errorf("close router: %v", err)
		}
	})
	return r
}

// route places a call to callee and fails the test on error.
func route(t testing.TB, r *Outbound, callee string) OutboundDecision {
	t.Helper()
	d, err := r.Route(context.Background(), OutboundCall{Tenant: "acme", Agent: "alice", To: callee})
	if err != nil {
		t.Fatalf("Route(%s): %v", callee, err)
	}
	return d
}
