package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"callgate/pool/pgtest"
	"callgate/sip/demo"
	"callgate/web/apiclient"

	"github.com/jackc/pgx/v5"
)

// Two callgate processes share one PostgreSQL database, as a scaled-out deployment
// does (docs/scale-out.md): 200 concurrent binding creates split across both never
// leave two active bindings of one (virtual number, party); agents dialling through
// both never hold one caller number in two calls at once; and when one process is
// killed with a call up, its caller number comes back to the other when the lease
// runs out.
func TestTwoInstancesShareOnePostgres(t *testing.T) {
	srv, err := pgtest.Start(context.Background())
	if errors.Is(err, pgtest.ErrNoPostgres) {
		pgtest.Require(t, nil) // skips, or fails under CALLGATE_REQUIRE_POSTGRES
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() }) // after the callgate children (cleanups run last first)
	dsn := srv.Database(t)
	carrier := &demo.Carrier{RingFor: 50 * time.Millisecond, Tone: time.Hour, ToneHz: 440}
	if err := carrier.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { carrier.Close() })

	const lease = 4 * time.Second
	callers := []string{"+862100000001", "+862100000002"}
	agents := []string{"a1", "a2", "a3", "a4"}
	for _, a := range agents {
		t.Setenv("TOKEN_"+a, "tok-"+a+"-0123456789abcdef")
	}
	t.Setenv("CRM_SECRET", apiRigSecret)
	dir := t.TempDir()
	type instance struct {
		name string
		api  string // http://127.0.0.1:port
		*child
	}
	var inst []*instance
	for i, name := range []string{"a", "b"} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		internal := ln.Addr().String()
		ln.Close()
		cfg := filepath.Join(dir, name+".yaml")
		yaml := fmt.Sprintf(`listen:
  sip_udp: 127.0.0.1:0
  sip_tcp: "off"
  public_http: 127.0.0.1:0
  internal_http: %s
media:
  bind_address: 127.0.0.1
  port_min: %d
  port_max: %d
storage:
  postgres:
    dsn: %s
    instance: %s
tenants:
  - name: acme
    seats: 4
    callers:
      lease: %s
      caps: %s
agents:
%s
trunks:
  - name: carrier
    host: 127.0.0.1
    port: %d
pools:
  - name: acme-fixed
    supplier: c
    type: fixed
    tenant: acme
    trunks: [carrier]
    numbers: ["%s", "%s"]
  - name: acme-virtual
    supplier: c
    type: virtual
    tenant: acme
    trunks: [carrier]
    numbers: ["+8675500000001", "+8675500000002", "+8675500000003", "+8675500000004", "+8675500000005"]
api:
  apps:
    - name: crm
      tenants: [acme]
      secret_env: CRM_SECRET
`, internal, 34000+500*i, 34498+500*i, dsn, name, lease, noCaps, agentsYAML(agents), carrier.Addr().Port(),
			callers[0], callers[1])
		if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		inst = append(inst, &instance{name: name, api: "http://" + internal, child: startChild(t, cfg)})
	}
	for _, in := range inst {
		eventually(t, "the business API of "+in.name+" listens", func() bool {
			c, err := net.Dial("tcp", in.api[len("http://"):])
			if err == nil {
				c.Close()
			}
			return err == nil
		})
	}

	t.Run("bindings", func(t *testing.T) {
		ctx := context.Background()
		var clients []*apiclient.Client
		for _, in := range inst {
			c, err := apiclient.New(in.api, "crm", apiRigSecret)
			if err != nil {
				t.Fatal(err)
			}
			clients = append(clients, c)
		}
		// 200 AXB creates over 5 virtual numbers, 20 A parties and 20 B parties:
		// each party fits on at most 5 numbers, so many creates must be refused.
		var created, refused atomic.Int64
		var wg sync.WaitGroup
		for i := range 200 {
			wg.Go(func() {
				req := apiclient.CreateBindingRequest{Mode: "AXB", A: fmt.Sprintf("+86139000010%02d", i%20),
					B: fmt.Sprintf("+86139000020%02d", (i*7+i/20)%20)}
				_, err := clients[i%2].CreateBinding(ctx, req)
				var apiErr *apiclient.Error
				switch {
				case err == nil:
					created.Add(1)
				case errors.As(err, &apiErr) && apiErr.Status == 409:
					refused.Add(1)
				default:
					t.Errorf("create %+v via %s: %v", req, inst[i%2].name, err)
				}
			})
		}
		wg.Wait()
		t.Logf("200 concurrent creates through two instances: %d created, %d refused as conflicts", created.Load(), refused.Load())
		if created.Load() == 0 {
			t.Fatal("no binding was created")
		}
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		rows, err := conn.Query(ctx, `SELECT virtual, party_a, party_b FROM bindings WHERE deleted_at IS NULL`)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[[2]string]int{}
		n := 0
		for rows.Next() {
			var v, a, b string
			if err := rows.Scan(&v, &a, &b); err != nil {
				t.Fatal(err)
			}
			n++
			seen[[2]string{v, a}]++
			seen[[2]string{v, b}]++
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if int64(n) != created.Load() {
			t.Errorf("%d active bindings stored, %d creates succeeded", n, created.Load())
		}
		for k, c := range seen {
			if c > 1 {
				t.Errorf("virtual number %s has %d active bindings with party %s", k[0], c, k[1])
			}
		}
	})

	// Agents dial through both instances at once over two caller numbers. A hold is
	// from the "connected" event to the hangup the test sends: inside the lock.
	type holdSpan struct {
		number     string
		start, end int64
		via        string
	}
	var seq atomic.Int64
	var mu sync.Mutex
	var holds []holdSpan
	byAgent := map[string]*goAgent{}
	via := map[string]*instance{}
	for i, a := range agents {
		in := inst[i%2]
		byAgent[a] = newGoAgent(t, in.base, "tok-"+a+"-0123456789abcdef")
		via[a] = in
	}
	t.Run("caller numbers", func(t *testing.T) {
		var wg sync.WaitGroup
		for _, name := range agents {
			ag := byAgent[name]
			wg.Go(func() {
				for k := 0; k < selectionsPerAgent; {
					id := fmt.Sprintf("%s-%d", name, k)
					ag.send(map[string]any{"type": "dial", "id": id, "to": fmt.Sprintf("+86138001%05d", rand.IntN(100000))})
					m := ag.next("call", "error")
					if m["type"] == "error" {
						time.Sleep(time.Duration(20+rand.IntN(50)) * time.Millisecond) // both numbers busy: try again
						continue
					}
					call := m["call"].(string)
					c := ag.state("connected")
					from, _ := c["from"].(string)
					h := holdSpan{number: from, start: seq.Add(1), via: via[name].name}
					time.Sleep(time.Duration(10+rand.IntN(60)) * time.Millisecond)
					h.end = seq.Add(1)
					ag.send(map[string]any{"type": "hangup", "call": call})
					ag.state("ended")
					mu.Lock()
					holds = append(holds, h)
					mu.Unlock()
					k++
				}
			})
		}
		wg.Wait()
		if len(holds) != selectionsPerAgent*len(agents) {
			t.Fatalf("%d calls placed, want %d", len(holds), selectionsPerAgent*len(agents))
		}
		byNumber := map[string][]holdSpan{}
		perVia := map[string]int{}
		for _, h := range holds {
			if h.number == "" {
				t.Errorf("a connected call did not say its caller number")
			}
			byNumber[h.number] = append(byNumber[h.number], h)
			perVia[h.via]++
		}
		for n, hs := range byNumber {
			sort.Slice(hs, func(i, j int) bool { return hs[i].start < hs[j].start })
			for i := 1; i < len(hs); i++ {
				if hs[i].start < hs[i-1].end {
					t.Errorf("%s in two calls at once: via %s and via %s", n, hs[i-1].via, hs[i].via)
				}
			}
		}
		t.Logf("%d calls over %d numbers, %v per instance, none overlapping", len(holds), len(byNumber), perVia)
	})

	t.Run("dead instance", func(t *testing.T) {
		ctx := context.Background()
		// b's agent holds one number; b dies without a word.
		agB := byAgent["a2"]
		agB.send(map[string]any{"type": "dial", "id": "kill", "to": "+8613800200000"})
		if m := agB.next("call", "error"); m["type"] != "call" {
			t.Fatalf("dial via b: %v", m)
		}
		held, _ := agB.state("connected")["from"].(string)
		if err := inst[1].cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = inst[1].cmd.Wait()
		killed := time.Now()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		var until int64
		var owner string
		err = conn.QueryRow(ctx, `SELECT lease_until, instance FROM caller_leases WHERE number = $1`, held).Scan(&until, &owner)
		if err != nil {
			t.Fatalf("the dead instance's lease on %s: %v", held, err)
		}
		if owner != "b" || time.UnixMilli(until).After(killed.Add(lease)) {
			t.Errorf("lease on %s held by %q until %v: want b's, ending within %v of the kill at %v",
				held, owner, time.UnixMilli(until), lease, killed)
		}
		// Through a, one agent takes the other number; the next call gets the dead
		// instance's number, and never before its lease ran out.
		agA, agA2 := byAgent["a1"], byAgent["a3"]
		agA.send(map[string]any{"type": "dial", "id": "other", "to": "+8613800200001"})
		if m := agA.next("call", "error"); m["type"] != "call" {
			t.Fatalf("dial via a: %v", m)
		}
		if from := agA.state("connected")["from"]; from == held {
			t.Fatalf("a got %s while the dead instance's lease on it runs", held)
		}
		for try := 0; ; try++ {
			agA2.send(map[string]any{"type": "dial", "id": fmt.Sprintf("back-%d", try), "to": "+8613800200002"})
			m := agA2.next("call", "error")
			if m["type"] == "call" {
				at := time.Now()
				if from := agA2.state("connected")["from"]; from != held {
					t.Fatalf("the number that came back is %v, want %s", from, held)
				}
				if at.Before(time.UnixMilli(until)) {
					t.Errorf("a took %s at %v, before the dead instance's lease ended at %v", held, at, time.UnixMilli(until))
				}
				t.Logf("%s came back %v after the kill (lease %v)", held, at.Sub(killed).Round(time.Millisecond), lease)
				return
			}
			if try > 300 {
				t.Fatalf("the dead instance's number never came back: %v", m)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

// selectionsPerAgent: four agents, two per instance, make 200 caller-number
// selections between them.
const selectionsPerAgent = 50

func agentsYAML(names []string) string {
	s := ""
	for _, n := range names {
		s += fmt.Sprintf("  - tenant: acme\n    name: %s\n    token_env: TOKEN_%s\n", n, n)
	}
	return s
}
