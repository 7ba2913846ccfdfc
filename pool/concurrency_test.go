package pool

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
)

// 200 concurrent creates over 50 virtual numbers, 10 rounds. Each round's requests
// are built so that its capacity is known: exactly that many succeed, the rest get
// ErrNoNumber, and the live bindings never break the invariant. Between rounds
// everything is unbound (cool-down off) so each round starts from empty numbers.
func TestConcurrentCreates(t *testing.T) {
	const (
		numbersN = 50
		requests = 200
		rounds   = 10
		maxPer   = 3
	)
	type round struct {
		name     string
		capacity int
		request  func(r, i int) NewBinding
	}
	kinds := []round{
		// AXN holds a number alone: one binding per number.
		{"AXN", numbersN, func(r, i int) NewBinding {
			return NewBinding{Mode: ModeAXN, B: party('b', r*1000+i)}
		}},
		// AXB with distinct parties: the cap per number is the limit.
		{"AXB distinct parties", numbersN * maxPer, func(r, i int) NewBinding {
			return NewBinding{Mode: ModeAXB, A: party('a', r*1000+i), B: party('b', r*1000+i)}
		}},
		// AXB where every request shares one agent B: B may appear once per number.
		{"AXB one agent", numbersN, func(r, i int) NewBinding {
			return NewBinding{Mode: ModeAXB, A: party('a', r*1000+i), B: party('b', r)}
		}},
		// AXYB takes two slots (X for A, Y for B) of the 150.
		{"AXYB distinct parties", numbersN * maxPer / 2, func(r, i int) NewBinding {
			return NewBinding{Mode: ModeAXYB, A: party('a', r*1000+i), B: party('b', r*1000+i)}
		}},
		// AXB where customers repeat: 40 customers, 5 requests each. A customer fits
		// once per number, 50 times, so only the 150 slots limit: a request is refused
		// only when every number with room already carries its customer, which the
		// ≥ 50 requests after the slots fill make vanishingly unlikely to leave a
		// slot empty.
		{"AXB repeating customers", numbersN * maxPer, func(r, i int) NewBinding {
			return NewBinding{Mode: ModeAXB, A: party('a', r*1000+i%40), B: party('b', r*1000+i)}
		}},
	}
	ctx := context.Background()
	s := openPools(t, BindingRules{MaxPerNumber: maxPer, CoolDown: -1}, newClock(t0), numbers("p", "", 0, numbersN))
	for r := range rounds {
		k := kinds[r%len(kinds)]
		t.Run(fmt.Sprintf("round %d %s", r, k.name), func(t *testing.T) {
			start := make(chan struct{})
			var wg sync.WaitGroup
			var mu sync.Mutex
			var ok []BindingRecord
			var refused int
			for i := range requests {
				nb := k.request(r, i)
				nb.Tenant, nb.Pools = "t", []string{"p"}
				wg.Go(func() {
					<-start
					b, _, err := s.CreateBinding(ctx, nb)
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						ok = append(ok, b)
					case errors.Is(err, ErrNoNumber):
						refused++
					default:
						t.Errorf("request %d: %v", i, err)
					}
				})
			}
			close(start)
			wg.Wait()
			if want := min(requests, k.capacity); len(ok) != want || refused != requests-want {
				t.Errorf("%d succeeded and %d refused, want %d and %d", len(ok), refused, want, requests-want)
			}
			checkInvariant(t, s, maxPer)
			for _, b := range ok {
				if _, err := s.DeleteBinding(ctx, b.ID); err != nil {
					t.Fatal(err)
				}
			}
			if n := count(t, s, `SELECT count(*) FROM binding_parties`); n != 0 {
				t.Errorf("%d pairs still held after unbinding everything", n)
			}
		})
	}
}
