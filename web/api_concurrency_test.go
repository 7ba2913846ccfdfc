package web

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"callgate/pool"
	"callgate/web/apiclient"
)

// conflictingPairs counts live bindings that hold the same (virtual number, party),
// read from the bindings table alone: AXN holds (X, *), AXB (X, A) and (X, B), AXYB
// (X, A) and (Y, B); '*' conflicts with every party on its number.
const conflictingPairs = `WITH h AS (
	SELECT id, virtual AS number, '*' AS party FROM bindings WHERE deleted_at IS NULL AND mode = 'AXN'
	UNION ALL SELECT id, virtual, party_a FROM bindings WHERE deleted_at IS NULL AND mode IN ('AXB', 'AXYB')
	UNION ALL SELECT id, virtual, party_b FROM bindings WHERE deleted_at IS NULL AND mode = 'AXB'
	UNION ALL SELECT id, y, party_b FROM bindings WHERE deleted_at IS NULL AND mode = 'AXYB')
SELECT count(*) FROM h AS h1 JOIN h AS h2
	ON h1.number = h2.number AND h1.id < h2.id AND (h1.party = h2.party OR h1.party = '*' OR h2.party = '*')`

// 200 concurrent signed creates over 50 virtual numbers, 10 rounds, through HTTP:
// exactly as many succeed as the numbers can carry, the others get 409
// no_virtual_number, and no two live bindings ever hold one (number, party).
func TestAPIConcurrentCreates(t *testing.T) {
	const (
		numbersN = 50
		requests = 200
		rounds   = 10
		maxPer   = 3
	)
	var ns []pool.VirtualNumber
	for i := range numbersN {
		ns = append(ns, pool.VirtualNumber{Number: vnum(i), Pool: "acme-sz", Tenant: "acme", Trunk: "tr-a"})
	}
	e := newAPIEnv(t, pool.BindingRules{MaxPerNumber: maxPer, CoolDown: -1}, ns)
	crm := e.client("crm", crmSecret)
	ctx := context.Background()
	for r := range rounds {
		// Odd rounds share one agent B among all requests: B fits once per number.
		capacity := numbersN * maxPer
		if r%2 == 1 {
			capacity = numbersN
		}
		t.Run(fmt.Sprintf("round %d", r), func(t *testing.T) {
			start := make(chan struct{})
			var wg sync.WaitGroup
			var mu sync.Mutex
			var made []int64
			refused := 0
			for i := range requests {
				req := apiclient.CreateBindingRequest{Mode: "AXB", A: fmt.Sprintf("+86138%04d%04d", r, i), B: fmt.Sprintf("+86139%04d%04d", r, i)}
				if r%2 == 1 {
					req.B = fmt.Sprintf("+86139%04d0000", r)
				}
				wg.Go(func() {
					<-start
					b, err := crm.CreateBinding(ctx, req)
					mu.Lock()
					defer mu.Unlock()
					var ae *apiclient.Error
					switch {
					case err == nil:
						made = append(made, b.ID)
					case errors.As(err, &ae) && ae.Status == 409 && ae.Code == "no_virtual_number":
						refused++
					default:
						t.Errorf("request %d: %v", i, err)
					}
				})
			}
			close(start)
			wg.Wait()
			if len(made) != capacity || refused != requests-capacity {
				t.Errorf("%d made, %d refused; want %d and %d", len(made), refused, capacity, requests-capacity)
			}
			if n := count(t, e, conflictingPairs); n != 0 {
				t.Errorf("%d pairs of live bindings share a (number, party)", n)
			}
			if n := count(t, e, `SELECT count(*) FROM (SELECT virtual, count(*) AS n FROM bindings
				WHERE deleted_at IS NULL GROUP BY virtual HAVING n > ?)`, maxPer); n != 0 {
				t.Errorf("%d numbers over their cap", n)
			}
			for _, id := range made {
				if _, err := crm.DeleteBinding(ctx, id); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}
