package media

import (
	"errors"
	"sync"
	"testing"
	"time"
)

func TestPortsRange(t *testing.T) {
	for _, tc := range []struct {
		min, max int
		want     []int
	}{
		{10000, 10007, []int{10000, 10002, 10004, 10006}},
		{10001, 10006, []int{10002, 10004}}, // 10006 has no 10007
		{65534, 65535, []int{65534}},
	} {
		p, err := NewPorts(tc.min, tc.max, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if p.Cap() != len(tc.want) {
			t.Fatalf("%d-%d: Cap = %d", tc.min, tc.max, p.Cap())
		}
		for _, w := range tc.want {
			if got, err := p.Acquire(); err != nil || got != w {
				t.Fatalf("%d-%d: Acquire = %d, %v; want %d", tc.min, tc.max, got, err, w)
			}
		}
		if _, err := p.Acquire(); !errors.Is(err, ErrNoPorts) {
			t.Fatalf("%d-%d: exhausted: %v", tc.min, tc.max, err)
		}
	}
	for _, r := range [][2]int{{0, 100}, {10, 5}, {10000, 10000}, {10001, 10002}, {100, 70000}} {
		if _, err := NewPorts(r[0], r[1], 0); !errors.Is(err, ErrPortRange) {
			t.Errorf("%v: err = %v", r, err)
		}
	}
}

func TestPortsCooldownAndRoundRobin(t *testing.T) {
	clk := newFakeClock()
	p, err := NewPorts(20000, 20005, 10*time.Second, WithPortsClock(clk)) // 20000, 20002, 20004
	if err != nil {
		t.Fatal(err)
	}
	a, _ := p.Acquire()
	b, _ := p.Acquire()
	p.Release(a)
	// 20004 was never used: it comes before the released one.
	if c, err := p.Acquire(); err != nil || c != 20004 {
		t.Fatalf("Acquire = %d, %v", c, err)
	}
	// a is cooling down: nothing to hand out.
	if _, err := p.Acquire(); !errors.Is(err, ErrNoPorts) {
		t.Fatalf("during cooldown: %v", err)
	}
	clk.Advance(9 * time.Second)
	p.Release(b)
	if _, err := p.Acquire(); !errors.Is(err, ErrNoPorts) {
		t.Fatalf("still cooling: %v", err)
	}
	clk.Advance(time.Second)
	if got, err := p.Acquire(); err != nil || got != a {
		t.Fatalf("after cooldown: %d, %v; want %d", got, err, a)
	}
	if _, err := p.Acquire(); !errors.Is(err, ErrNoPorts) {
		t.Fatalf("b released later, still cooling: %v", err)
	}
	clk.Advance(9 * time.Second)
	if got, err := p.Acquire(); err != nil || got != b {
		t.Fatalf("b: %d, %v", got, err)
	}
	if p.InUse() != 3 {
		t.Fatalf("InUse = %d", p.InUse())
	}
	// Releasing twice, or a foreign port, changes nothing.
	p.Release(b)
	p.Release(b)
	p.Release(20001)
	p.Release(30000)
	if p.InUse() != 2 {
		t.Fatalf("InUse = %d", p.InUse())
	}
}

func TestPortsConcurrent(t *testing.T) {
	p, err := NewPorts(30000, 30199, 0) // 100 ports
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		held = map[int]bool{}
	)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				port, err := p.Acquire()
				if err != nil {
					continue
				}
				mu.Lock()
				if held[port] {
					t.Errorf("port %d handed out twice", port)
				}
				held[port] = true
				mu.Unlock()
				mu.Lock()
				delete(held, port)
				mu.Unlock()
				p.Release(port)
			}
		}()
	}
	wg.Wait()
	if p.InUse() != 0 {
		t.Fatalf("InUse = %d", p.InUse())
	}
}

func BenchmarkPortsAcquireRelease(b *testing.B) {
	p, _ := NewPorts(10000, 60000, 0)
	b.ReportAllocs()
	for b.Loop() {
		port, err := p.Acquire()
		if err != nil {
			b.Fatal(err)
		}
		p.Release(port)
	}
}
