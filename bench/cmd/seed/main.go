// Command seed fills a callgate SQLite store with AXB bindings for the setup-rate
// benchmark and writes the matching SIPp -inf file.
//
//	seed -db bench/out/setup/seed.db -inf bench/out/setup/pairs.csv \
//	     -bindings 1000000 -virtuals 10000 -pairs 200000
//
// Binding i (0 <= i < bindings) is AXB: A = +86138 followed by i on 8 digits,
// B = +86139 followed by i on 8 digits, V = +8675510 followed by (i mod virtuals) on
// 6 digits, so every virtual number carries bindings/virtuals bindings (100 for the
// defaults) and no A or B repeats on a V (the store's invariant). Rows are inserted
// in a shuffled order, as bindings made over time would be, as API bindings
// (static = 0): callgate's start-up sync of the config's static bindings leaves
// them alone.
//
// The store is created with pool.OpenSQLite, so its schema is exactly what callgate
// migrates to; the rows then go in with one prepared INSERT in one transaction, and
// (schema 0003 on) their (number, party) holdings into binding_parties, as the
// store's own migration backfills them. The tenant's virtual numbers are not put in
// virtual_numbers: routing an existing binding does not read it.
// The -inf file starts with SEQUENTIAL and holds "A;V;B" lines for -pairs bindings
// picked at random: SIPp's [field0] is the caller, [field1] the number dialled;
// pcaplat uses field2 (B) to match a B-leg INVITE to its A-leg INVITE.
package main

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"time"

	"callgate/pool"

	_ "github.com/mattn/go-sqlite3"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "seed:", err)
		os.Exit(1)
	}
}

func run() error {
	dbPath := flag.String("db", "", "SQLite store to create (must not exist)")
	infPath := flag.String("inf", "", "SIPp -inf file to write (A;V;B lines)")
	n := flag.Int("bindings", 1_000_000, "AXB bindings to insert")
	virtuals := flag.Int("virtuals", 10_000, "distinct virtual numbers")
	pairs := flag.Int("pairs", 200_000, "lines in the -inf file (bindings picked at random)")
	tenant := flag.String("tenant", "acme", "tenant of the bindings")
	trunk := flag.String("trunk", "carrier-b", "trunk of the B-legs")
	flag.Parse()
	switch {
	case *dbPath == "" || *infPath == "":
		return errors.New("-db and -inf are required")
	case *n < 1 || *virtuals < 1 || *virtuals > 1_000_000 || *n > 100_000_000:
		return errors.New("need 1 <= -virtuals <= 1e6 and 1 <= -bindings <= 1e8")
	case *pairs < 1:
		return errors.New("-pairs must be positive")
	}
	if _, err := os.Stat(*dbPath); err == nil {
		return fmt.Errorf("%s exists: remove it first", *dbPath)
	}
	ctx := context.Background()
	start := time.Now()

	// Schema: callgate's own migrations.
	st, err := pool.OpenSQLite(ctx, *dbPath)
	if err != nil {
		return err
	}
	if err := st.Close(); err != nil {
		return err
	}

	db, err := sql.Open("sqlite3", "file:"+*dbPath+"?_journal_mode=WAL&_synchronous=OFF&_txlock=immediate")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, "PRAGMA cache_size = -262144"); err != nil { // 256 MiB while loading
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // committed below
	ins, err := tx.PrepareContext(ctx, `INSERT INTO bindings
		(tenant, mode, virtual, party_a, party_b, static, expiry_type, trunk, created_at)
		VALUES (?, 'AXB', ?, ?, ?, 0, 'never', ?, ?)`)
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(9, 2026))
	order := rng.Perm(*n)
	created := time.Now().Add(-24 * time.Hour).UnixMilli()
	for _, i := range order {
		a, v, b := numbers(i, *virtuals)
		if _, err := ins.ExecContext(ctx, *tenant, v, a, b, *trunk, created); err != nil {
			return fmt.Errorf("insert binding %d: %w", i, err)
		}
	}
	if err := ins.Close(); err != nil {
		return err
	}
	// Since migration 0003 the store keeps "one live binding per (number, party)" in
	// binding_parties: fill it the way that migration backfills existing bindings.
	var parties int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master
		WHERE type = 'table' AND name = 'binding_parties'`).Scan(&parties); err != nil {
		return err
	}
	if parties == 1 {
		for _, q := range []string{
			`INSERT INTO binding_parties (number, party, binding_id)
				SELECT virtual, party_a, id FROM bindings WHERE deleted_at IS NULL AND mode = 'AXB'`,
			`INSERT INTO binding_parties (number, party, binding_id)
				SELECT virtual, party_b, id FROM bindings WHERE deleted_at IS NULL AND mode = 'AXB'`,
		} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("binding_parties: %w", err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		return err
	}
	loaded := time.Since(start)

	f, err := os.Create(*infPath)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprintln(w, "SEQUENTIAL")
	for range *pairs {
		a, v, b := numbers(rng.IntN(*n), *virtuals)
		fmt.Fprintf(w, "%s;%s;%s\n", a, v, b)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Printf("seed: %d AXB bindings on %d virtual numbers in %s (%.0f rows/s); %d pairs in %s\n",
		*n, *virtuals, loaded.Round(time.Millisecond), float64(*n)/loaded.Seconds(), *pairs, *infPath)
	return nil
}

// numbers returns binding i's A, V and B.
func numbers(i, virtuals int) (a, v, b string) {
	return fmt.Sprintf("+86138%08d", i), fmt.Sprintf("+8675510%06d", i%virtuals), fmt.Sprintf("+86139%08d", i)
}
