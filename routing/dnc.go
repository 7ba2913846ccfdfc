package routing

import (
	"context"
	"fmt"
	"io"
	"sync"

	"callgate/pool"
)

// This file is the do-not-call check. The lists live in the store; the router keeps
// every listed number in memory, packed into an integer and sharded by number, so
// the check on the call path is a map lookup under a shard's read lock. Numbers are
// normalised before they are stored and before they are looked up: every way of
// writing a listed number is blocked.

const dncShards = 64

// dncKey is one listed number: tenant id 0 is the global list.
type dncKey struct {
	tenant uint32
	number uint64
}

type dncShard struct {
	mu sync.RWMutex
	m  map[dncKey]struct{}
}

// dncSet is the do-not-call lists in memory.
type dncSet struct {
	shards [dncShards]dncShard
	// change serialises the changes to the lists: each is written to the store and
	// then to memory, and two changes to one number must reach both in one order.
	change sync.Mutex
}

func newDNCSet() *dncSet {
	s := &dncSet{}
	for i := range s.shards {
		s.shards[i].m = map[dncKey]struct{}{}
	}
	return s
}

func (s *dncSet) shard(number uint64) *dncShard { return &s.shards[number%dncShards] }

func (s *dncSet) add(k dncKey) {
	sh := s.shard(k.number)
	sh.mu.Lock()
	sh.m[k] = struct{}{}
	sh.mu.Unlock()
}

func (s *dncSet) remove(k dncKey) {
	sh := s.shard(k.number)
	sh.mu.Lock()
	delete(sh.m, k)
	sh.mu.Unlock()
}

// listed reports whether number is on tenant's list or the global one, and which.
func (s *dncSet) listed(tenant uint32, number uint64) (string, bool) {
	sh := s.shard(number)
	sh.mu.RLock()
	_, own := sh.m[dncKey{tenant, number}]
	_, global := sh.m[dncKey{0, number}]
	sh.mu.RUnlock()
	switch {
	case own:
		return "on the tenant's do-not-call list", true
	case global:
		return "on the global do-not-call list", true
	}
	return "", false
}

// loadDoNotCall reads every list from the store.
func (r *Outbound) loadDoNotCall(ctx context.Context) error {
	err := r.store.EachDoNotCall(ctx, func(e pool.DNCEntry) error {
		if k, ok := r.dncKey(e.Tenant, e.Number); ok {
			r.dnc.add(k)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("routing: load do-not-call lists: %w", err)
	}
	return nil
}

// dncKey makes the key of an E.164 number on tenant's list ("" global); false for a
// tenant without a plan.
func (r *Outbound) dncKey(tenant, e164 string) (dncKey, bool) {
	k := dncKey{}
	if tenant != "" {
		t := r.tenants[tenant]
		if t == nil {
			return dncKey{}, false
		}
		k.tenant = t.id
	}
	n, ok := e164Key(e164)
	k.number = n
	return k, ok
}

// listRegion is the region national numbers on tenant's list are read in.
func (r *Outbound) listRegion(tenant string) (string, error) {
	if tenant == "" {
		return DefaultRegion, nil
	}
	t := r.tenants[tenant]
	if t == nil {
		return "", fmt.Errorf("%w: %q", ErrUnknownTenant, tenant)
	}
	return t.plan.Region, nil
}

// AddDoNotCall puts numbers, written in any format, on tenant's list ("" the global
// list) with source (e.g. "api", "complaint"), and returns how many were new. A
// number that does not read as a dialable number fails the whole call with its
// *NumberError, before anything is stored.
func (r *Outbound) AddDoNotCall(ctx context.Context, tenant string, numbers []string, source string) (int, error) {
	region, err := r.listRegion(tenant)
	if err != nil {
		return 0, err
	}
	es := make([]pool.DNCEntry, 0, len(numbers))
	for _, raw := range numbers {
		n, err := r.analyzer.Normalize(raw, region)
		if err != nil {
			return 0, err
		}
		es = append(es, pool.DNCEntry{Tenant: tenant, Number: n, Source: source})
	}
	return r.storeDNC(ctx, es)
}

// storeDNC writes es to the store, then to memory: once it returns, the next call
// to a listed number is refused.
func (r *Outbound) storeDNC(ctx context.Context, es []pool.DNCEntry) (int, error) {
	r.dnc.change.Lock()
	defer r.dnc.change.Unlock()
	added, err := r.store.AddDoNotCall(ctx, es)
	if err != nil {
		return 0, err
	}
	for _, e := range es {
		if k, ok := r.dncKey(e.Tenant, e.Number); ok {
			r.dnc.add(k)
		}
	}
	return added, nil
}

// RemoveDoNotCall takes number, written in any format, off tenant's list ("" the
// global list) and reports whether it was listed.
func (r *Outbound) RemoveDoNotCall(ctx context.Context, tenant, number string) (bool, error) {
	region, err := r.listRegion(tenant)
	if err != nil {
		return false, err
	}
	n, err := r.analyzer.Normalize(number, region)
	if err != nil {
		return false, err
	}
	r.dnc.change.Lock()
	defer r.dnc.change.Unlock()
	ok, err := r.store.RemoveDoNotCall(ctx, tenant, n)
	if err != nil {
		return false, err
	}
	if k, valid := r.dncKey(tenant, n); valid {
		r.dnc.remove(k)
	}
	return ok, nil
}

// DNCImport is the result of a CSV import.
type DNCImport struct {
	Read     int                  // numbers read (each once)
	Added    int                  // of them, new on the list
	Problems []*pool.DNCLineError // lines without a usable number (at most 1000)
}

// ImportDoNotCall reads a CSV file of numbers (see pool.ParseDNCCSV) onto tenant's
// list ("" the global list): the numbers that read are added, each with the source
// in the file's second column or else source; lines that do not read are returned
// as problems.
func (r *Outbound) ImportDoNotCall(ctx context.Context, tenant string, csv io.Reader, source string) (DNCImport, error) {
	region, err := r.listRegion(tenant)
	if err != nil {
		return DNCImport{}, err
	}
	es, probs, err := pool.ParseDNCCSV(csv, func(s string) (string, error) { return r.analyzer.Normalize(s, region) })
	if err != nil {
		return DNCImport{Problems: probs}, err
	}
	for i := range es {
		es[i].Tenant = tenant
		if es[i].Source == "" {
			es[i].Source = source
		}
	}
	added, err := r.storeDNC(ctx, es)
	return DNCImport{Read: len(es), Added: added, Problems: probs}, err
}

// OnDoNotCall reports whether number, written in any format, is on tenant's list or
// the global list.
func (r *Outbound) OnDoNotCall(tenant, number string) (bool, error) {
	region, err := r.listRegion(tenant)
	if err != nil {
		return false, err
	}
	n, err := r.analyzer.Normalize(number, region)
	if err != nil {
		return false, err
	}
	k, _ := r.dncKey(tenant, n)
	_, listed := r.dnc.listed(k.tenant, k.number)
	return listed, nil
}

// Normalize returns number, written in any format, as E.164 the way tenant's list
// and calls read it: national numbers in the tenant's region, or in DefaultRegion
// for the global list ("") and for a tenant without a plan. An unreadable number is
// a *NumberError.
func (r *Outbound) Normalize(tenant, number string) (string, error) {
	region := DefaultRegion
	if t := r.tenants[tenant]; t != nil {
		region = t.plan.Region
	}
	return r.analyzer.Normalize(number, region)
}
