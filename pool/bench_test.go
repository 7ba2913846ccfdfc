package pool

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"
)

// benchBindings stores 100,000 static AXB bindings: 20,000 virtual numbers with five
// bindings each, one of every expiry type; the "at" one has expired, so a lookup
// returns four. It returns the virtual numbers.
func benchBindings(b *testing.B, s *SQLiteStore) []string {
	b.Helper()
	const total, perVirtual = 100_000, 5
	expiries := []Binding{
		{Expiry: ExpiryNever},
		{Expiry: ExpiryAfterBind, ExpirySec: 86400},
		{Expiry: ExpiryAfterFirstCall, ExpirySec: 600},
		{Expiry: ExpiryAfterLastCall, ExpirySec: 86400},
		{Expiry: ExpiryAt, ExpireAt: t0.Add(-time.Hour)},
	}
	bs := make([]Binding, 0, total)
	virtuals := make([]string, 0, total/perVirtual)
	for i := range total {
		v := fmt.Sprintf("+861070%07d", i/perVirtual)
		if i%perVirtual == 0 {
			virtuals = append(virtuals, v)
		}
		bd := expiries[i%perVirtual]
		bd.Tenant, bd.Mode, bd.Virtual = "t1", ModeAXB, v
		bd.A, bd.B = fmt.Sprintf("+86138%08d", i), fmt.Sprintf("+86139%08d", i)
		bs = append(bs, bd)
	}
	start := time.Now()
	if err := s.SyncStaticBindings(context.Background(), bs); err != nil {
		b.Fatal(err)
	}
	b.Logf("SyncStaticBindings of %d bindings: %v", total, time.Since(start))
	return virtuals
}

func BenchmarkActiveBindings(b *testing.B) {
	ctx := context.Background()
	s := openAt(b, testPath(b), WithClock(newClock(t0).Now))
	virtuals := benchBindings(b, s)
	now := t0.Add(time.Minute)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		bs, err := s.ActiveBindings(ctx, virtuals[i%len(virtuals)], now)
		if err != nil || len(bs) != 4 {
			b.Fatalf("ActiveBindings = %d bindings, %v; want 4", len(bs), err)
		}
		i += 7919 // a prime stride: no locality between lookups
	}
}

// BenchmarkActiveBindingsParallel is BenchmarkActiveBindings from GOMAXPROCS
// goroutines: lookups share the reader pool and never wait for the writer.
func BenchmarkActiveBindingsParallel(b *testing.B) {
	ctx := context.Background()
	s := openAt(b, testPath(b), WithClock(newClock(t0).Now))
	virtuals := benchBindings(b, s)
	now := t0.Add(time.Minute)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			bs, err := s.ActiveBindings(ctx, virtuals[i%len(virtuals)], now)
			if err != nil || len(bs) != 4 {
				b.Errorf("ActiveBindings = %d bindings, %v; want 4", len(bs), err)
				return
			}
			i += 7919
		}
	})
}

// BenchmarkStartEndCall is the per-call write load: one StartCall and one EndCall,
// two BEGIN IMMEDIATE transactions.
func BenchmarkStartEndCall(b *testing.B) {
	ctx := context.Background()
	s := openAt(b, testPath(b))
	c := Call{Tenant: "t1", Direction: Outbound, Agent: "agent7", Caller: "+8675500000001",
		Callee: "+8613800000001", SetupAt: t0}
	end := Call{OutTrunk: "tr-b", State: "ended", SIPCode: 200, Reason: "callee_bye", HangupBy: "callee",
		RingAt: t0.Add(time.Second), AnswerAt: t0.Add(5 * time.Second), EndAt: t0.Add(65 * time.Second),
		BilledSec: 60, CostMilli: 1200}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c.ID = "bench-" + strconv.Itoa(i)
		end.ID = c.ID
		if err := s.StartCall(ctx, c); err != nil {
			b.Fatal(err)
		}
		if err := s.EndCall(ctx, end); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
