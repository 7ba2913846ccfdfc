// Command storeprobe times, on a copy of the seeded setup-rate store, the store calls
// callgate makes for every inbound masked call: ActiveBindings (the A-V-B lookup),
// TouchBinding (first/last call time, in the setup path) and StartCall (the call
// record, at the end), and two cheaper ways to do the lookup. Each runs n times with c concurrent callers; it prints the
// latency distribution and the throughput, which is what bounds the setup rate when
// the single SQLite writer or the reader pool is the bottleneck.
//
//	storeprobe -db bench/out/setup/seed.db -inf bench/out/setup/pairs.csv -n 5000 -c 1,8,64
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"callgate/bench/internal/benchkit"
	"callgate/pool"

	_ "github.com/mattn/go-sqlite3"
)

type op struct {
	name string
	fn   func(i int) error
}

// alternatives are lookups callgate could make instead of ActiveBindings, run on the
// same file through their own read-only connections (4, like the store's readers):
// the same query with SQLite reading pages through mmap, and a lookup of the one
// binding a (number, caller) pair routes through binding_parties' primary key.
func alternatives(ctx context.Context, path string, pairs benchkit.Pairs) ([]op, error) {
	keys := make([][2]string, 0, len(pairs))
	for k := range pairs {
		keys = append(keys, k)
	}
	open := func(extra string) (*sql.DB, error) {
		db, err := sql.Open("sqlite3", "file:"+path+"?_query_only=on&_busy_timeout=5000"+extra)
		if err != nil {
			return nil, err
		}
		db.SetMaxOpenConns(4)
		db.SetMaxIdleConns(4)
		return db, nil
	}
	mm, err := open("")
	if err != nil {
		return nil, err
	}
	// go-sqlite3 has no DSN key for mmap_size: set it on every connection the pool opens.
	conns := make([]*sql.Conn, 0, 4)
	for range 4 {
		c, err := mm.Conn(ctx)
		if err != nil {
			return nil, err
		}
		if _, err := c.ExecContext(ctx, "PRAGMA mmap_size = 1073741824"); err != nil {
			return nil, err
		}
		conns = append(conns, c)
	}
	for _, c := range conns {
		c.Close()
	}
	const cols = `id, tenant, mode, virtual, party_a, party_b, y, trunk, static, expiry_type, expiry_sec,
		expire_at, created_at, first_call_at, last_call_at`
	current := `SELECT ` + cols + ` FROM bindings
		WHERE virtual = ?1 AND deleted_at IS NULL AND (ends_at IS NULL OR ends_at > ?2)
		UNION ALL SELECT ` + cols + ` FROM bindings
		WHERE y = ?1 AND virtual <> ?1 AND deleted_at IS NULL AND (ends_at IS NULL OR ends_at > ?2)
		ORDER BY id`
	out := []op{{"same lookup, mmap_size = 1 GiB", func(i int) error {
		return countRows(ctx, mm, current, 100, keys[i%len(keys)][1], time.Now().UnixMilli())
	}}}
	var hasParties int
	if err := mm.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE name = 'binding_parties'`).Scan(&hasParties); err != nil {
		return nil, err
	}
	if hasParties == 1 {
		byParty := `SELECT ` + cols + ` FROM binding_parties p JOIN bindings b ON b.id = p.binding_id
			WHERE p.number = ?1 AND p.party IN (?2, '*') AND p.cooling_until IS NULL
			AND b.deleted_at IS NULL AND (b.ends_at IS NULL OR b.ends_at > ?3)`
		plain, err := open("")
		if err != nil {
			return nil, err
		}
		out = append(out, op{"lookup of (number, caller) in binding_parties", func(i int) error {
			k := keys[i%len(keys)]
			return countRows(ctx, plain, byParty, 1, k[1], k[0], time.Now().UnixMilli())
		}})
	}
	return out, nil
}

// countRows runs q and checks that it returns want rows, reading every column.
func countRows(ctx context.Context, db *sql.DB, q string, want int, args ...any) error {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	n := 0
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if n != want {
		return fmt.Errorf("%d rows, want %d", n, want)
	}
	return nil
}

func main() {
	seed := flag.String("db", "bench/out/setup/seed.db", "seeded store (copied, never modified)")
	inf := flag.String("inf", "bench/out/setup/pairs.csv", "SIPp -inf file of bound pairs")
	n := flag.Int("n", 5000, "operations per measurement")
	conc := flag.String("c", "1,8,64", "concurrent callers, comma separated")
	flag.Parse()
	if err := run(*seed, *inf, *n, *conc); err != nil {
		fmt.Fprintln(os.Stderr, "storeprobe:", err)
		os.Exit(1)
	}
}

func run(seed, inf string, n int, conc string) error {
	dir, err := os.MkdirTemp("", "storeprobe")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	db := filepath.Join(dir, "probe.db")
	if err := benchkit.CopyFile(db, seed); err != nil {
		return err
	}
	ctx := context.Background()
	st, err := pool.OpenSQLite(ctx, db)
	if err != nil {
		return err
	}
	defer st.Close()
	pairs, err := benchkit.ReadPairs(inf)
	if err != nil {
		return err
	}
	virtuals := make([]string, 0, len(pairs))
	for k := range pairs {
		virtuals = append(virtuals, k[1])
	}
	// Binding ids to touch: those of the first lookups.
	var ids []int64
	for _, v := range virtuals[:min(len(virtuals), 1000)] {
		bs, err := st.ActiveBindings(ctx, v, time.Time{})
		if err != nil {
			return err
		}
		if len(bs) > 0 {
			ids = append(ids, bs[0].ID)
		}
	}
	if len(ids) == 0 {
		return fmt.Errorf("no bindings found: is %s seeded?", seed)
	}
	var seq atomic.Int64
	ops := []op{
		{"ActiveBindings (100 rows per number)", func(i int) error {
			bs, err := st.ActiveBindings(ctx, virtuals[i%len(virtuals)], time.Time{})
			if err == nil && len(bs) == 0 {
				err = fmt.Errorf("no binding on %s", virtuals[i%len(virtuals)])
			}
			return err
		}},
		{"TouchBinding (write)", func(i int) error {
			return st.TouchBinding(ctx, ids[i%len(ids)], time.Now())
		}},
		{"StartCall with one attempt (write)", func(i int) error {
			id := fmt.Sprintf("probe-%d-%d", os.Getpid(), seq.Add(1))
			now := time.Now()
			return st.StartCall(ctx, pool.Call{ID: id, Tenant: "acme", Direction: pool.Inbound, Caller: "+8613800000001",
				Callee: "+8613900000001", Virtual: "+8675510000001", InTrunk: "carrier-a", OutTrunk: "carrier-b",
				State: "ended", SIPCode: 200, Reason: "caller_bye", HangupBy: "caller", SetupAt: now.Add(-2 * time.Second),
				AnswerAt: now.Add(-time.Second), EndAt: now, BilledSec: 1,
				Attempts: []pool.Attempt{{CallID: id, Seq: 1, Trunk: "carrier-b", From: "+8675510000001", To: "+8613900000001",
					SIPCode: 200, StartAt: now.Add(-2 * time.Second), AnswerAt: now.Add(-time.Second), EndAt: now}}})
		}},
	}
	alt, err := alternatives(ctx, db, pairs)
	if err != nil {
		return err
	}
	ops = append(ops, alt...)
	fmt.Printf("store: %s (copy of %s)\n\n", db, seed)
	fmt.Printf("| operation | callers | ops/s | p50 µs | p99 µs | max µs |\n|---|---|---|---|---|---|\n")
	for _, op := range ops {
		for _, cs := range strings.Split(conc, ",") {
			c, err := strconv.Atoi(strings.TrimSpace(cs))
			if err != nil || c < 1 {
				return fmt.Errorf("bad -c %q", cs)
			}
			lat := make([]float64, n)
			var next atomic.Int64
			var firstErr error
			var mu sync.Mutex
			var wg sync.WaitGroup
			start := time.Now()
			for range c {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := int(next.Add(1)) - 1
						if i >= n {
							return
						}
						t := time.Now()
						err := op.fn(i)
						lat[i] = benchkit.Micros(time.Since(t))
						if err != nil {
							mu.Lock()
							if firstErr == nil {
								firstErr = err
							}
							mu.Unlock()
						}
					}
				}()
			}
			wg.Wait()
			el := time.Since(start)
			if firstErr != nil {
				return fmt.Errorf("%s: %w", op.name, firstErr)
			}
			fmt.Printf("| %s | %d | %.0f | %.0f | %.0f | %.0f |\n", op.name, c, float64(n)/el.Seconds(),
				benchkit.Percentile(lat, 50), benchkit.Percentile(lat, 99), benchkit.Percentile(lat, 100))
		}
	}
	return nil
}
