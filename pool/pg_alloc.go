package pool

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Allocation on PostgreSQL. Several instances allocate at once, so the number a
// binding gets is locked before it is checked: the pick query takes the best
// candidate's row with FOR UPDATE SKIP LOCKED (another transaction allocating on a
// number does not hold this one up; it moves on to the next), then a fresh statement
// checks the locked number again, since a transaction that committed between the two
// may have taken it. Every change to the bindings on a number updates its row, so
// the row lock serialises them all; the primary key of binding_parties backs the
// invariant. Get-or-bind and idempotent creates serialise on their key with an
// advisory lock held to the commit.

// SyncVirtualNumbers makes the allocatable virtual numbers exactly ns, as
// SQLiteStore.SyncVirtualNumbers does.
func (s *PostgresStore) SyncVirtualNumbers(ctx context.Context, ns []VirtualNumber) error {
	seen := make(map[string]bool, len(ns))
	for _, n := range ns {
		switch {
		case n.Number == "" || n.Pool == "":
			return fmt.Errorf("pool: sync virtual numbers: %w: number %q of pool %q: both are required", ErrInvalid, n.Number, n.Pool)
		case seen[n.Number]:
			return fmt.Errorf("pool: sync virtual numbers: %w: number %s listed twice", ErrInvalid, n.Number)
		}
		seen[n.Number] = true
	}
	now := s.now().UnixMilli()
	var retired int
	err := s.write(ctx, func(tx pgx.Tx) error {
		if err := pgLock(ctx, tx, pgSyncLock+":virtual"); err != nil {
			return err
		}
		for _, n := range ns {
			if _, err := tx.Exec(ctx, `INSERT INTO virtual_numbers
				(number, pool, tenant, supplier, region, trunk, state, synced_at)
				VALUES ($1, $2, $3, $4, $5, $6, 'available', $7)
				ON CONFLICT (number) DO UPDATE SET pool = $2, tenant = $3, supplier = $4, region = $5,
					trunk = $6, synced_at = $7,
					state = CASE WHEN virtual_numbers.state = 'retired' AND virtual_numbers.withdrawn_at IS NULL THEN 'available' ELSE virtual_numbers.state END`,
				n.Number, n.Pool, n.Tenant, n.Supplier, n.Region, n.Trunk, now); err != nil {
				return fmt.Errorf("number %s: %w", n.Number, err)
			}
		}
		keep := make([]string, 0, len(ns))
		for _, n := range ns {
			keep = append(keep, n.Number)
		}
		tag, err := tx.Exec(ctx, `UPDATE virtual_numbers SET state = 'retired', synced_at = $1
			WHERE state <> 'retired' AND number <> ALL($2::text[])`, now, keep)
		if err != nil {
			return fmt.Errorf("retire: %w", err)
		}
		retired = int(tag.RowsAffected())
		_, err = tx.Exec(ctx, `UPDATE virtual_numbers SET bound =
			(SELECT count(*) FROM bindings b WHERE b.deleted_at IS NULL AND b.virtual = virtual_numbers.number) +
			(SELECT count(*) FROM bindings b WHERE b.deleted_at IS NULL AND b.y = virtual_numbers.number
				AND b.virtual <> virtual_numbers.number)`)
		return err
	})
	if err != nil {
		return fmt.Errorf("pool: sync virtual numbers: %w", s.closedOr(err))
	}
	s.log.InfoContext(ctx, "synced virtual numbers", "numbers", len(ns), "retired", retired)
	return nil
}

// CreateBinding binds a virtual number (AXYB: two) from nb.Pools to nb's parties, as
// SQLiteStore.CreateBinding does, safely across instances.
func (s *PostgresStore) CreateBinding(ctx context.Context, nb NewBinding) (b BindingRecord, replayed bool, err error) {
	if nb, err = checkNew(nb, s.now()); err != nil {
		return BindingRecord{}, false, err
	}
	rules := s.bindingRules()
	hash := ""
	if nb.IdempotencyKey != "" {
		hash = nb.requestHash()
	}
	err = s.write(ctx, func(tx pgx.Tx) error {
		replayed = false
		if nb.IdempotencyKey != "" {
			if err := pgLock(ctx, tx, "callgate:idem:"+nb.Tenant+"\x1f"+nb.IdempotencyKey); err != nil {
				return err
			}
			var id int64
			var stored string
			err := tx.QueryRow(ctx, `SELECT id, idem_hash FROM bindings WHERE tenant = $1 AND idem_key = $2 AND idem_key <> ''`,
				nb.Tenant, nb.IdempotencyKey).Scan(&id, &stored)
			switch {
			case err == nil && stored != hash:
				return ErrIdempotencyKey
			case err == nil:
				replayed = true
				b, err = pgBinding(ctx, tx, id)
				return err
			case !errors.Is(err, pgx.ErrNoRows):
				return err
			}
		}
		var err error
		b, err = pgAllocate(ctx, tx, nb, hash, rules, s.now)
		return err
	})
	if err != nil {
		return BindingRecord{}, false, s.wrapBindErr("create", nb, err)
	}
	return b, replayed, nil
}

// GetOrBind returns the tenant's active binding of nb's mode between nb.A and nb.B or
// binds one, as SQLiteStore.GetOrBind does: concurrent calls for one pair, on any
// instance, make one binding.
func (s *PostgresStore) GetOrBind(ctx context.Context, nb NewBinding) (b BindingRecord, created bool, err error) {
	nb.IdempotencyKey = ""
	if nb, err = checkNew(nb, s.now()); err != nil {
		return BindingRecord{}, false, err
	}
	rules := s.bindingRules()
	err = s.write(ctx, func(tx pgx.Tx) error {
		created = false
		p, q := nb.A, nb.B
		if nb.Mode == ModeAXB && q < p {
			p, q = q, p // one lock for both orders
		}
		if err := pgLock(ctx, tx, "callgate:pair:"+nb.Tenant+"\x1f"+string(nb.Mode)+"\x1f"+p+"\x1f"+q); err != nil {
			return err
		}
		now := s.now()
		found, ok, err := pgPairBinding(ctx, tx, nb.Tenant, nb.Mode, nb.A, nb.B, now)
		if err == nil && !ok && nb.Mode == ModeAXB {
			found, ok, err = pgPairBinding(ctx, tx, nb.Tenant, nb.Mode, nb.B, nb.A, now)
		}
		if err != nil || ok {
			b = found
			return err
		}
		b, err = pgAllocate(ctx, tx, nb, "", rules, s.now)
		created = err == nil
		return err
	})
	if err != nil {
		return BindingRecord{}, false, s.wrapBindErr("get or bind", nb, err)
	}
	return b, created, nil
}

func (s *PostgresStore) wrapBindErr(op string, nb NewBinding, err error) error {
	var ae *AllocationError
	if errors.As(err, &ae) {
		ae.Mode, ae.Tenant = nb.Mode, nb.Tenant
		if ae.Pools == nil {
			ae.Pools = nb.Pools
		}
		return ae
	}
	var fe *FieldError
	if errors.As(err, &fe) {
		return fe
	}
	return fmt.Errorf("pool: %s %s binding for tenant %q: %w", op, nb.Mode, nb.Tenant, s.closedOr(err))
}

func pgPairBinding(ctx context.Context, tx pgx.Tx, tenant string, mode Mode, a, b string, now time.Time) (BindingRecord, bool, error) {
	r, err := scanBindingDetail(tx.QueryRow(ctx, `SELECT `+bindingDetailColumns+` FROM bindings
		WHERE tenant = $1 AND party_a = $2 AND party_b = $3 AND deleted_at IS NULL AND mode = $4
		  AND (ends_at IS NULL OR ends_at > $5)
		ORDER BY id DESC LIMIT 1`, tenant, a, b, string(mode), now.UnixMilli()))
	if errors.Is(err, pgx.ErrNoRows) {
		return BindingRecord{}, false, nil
	}
	return r, err == nil, err
}

// pgPickShared is the pick of a number for a shared binding (AXB, AXYB): $1 pool,
// $2 cap, $3 now, $4 $5 parties, $6 $7 $8 numbers it must not be, $9 the number
// wanted or ”, $10 numbers already tried.
const pgPickShared = `SELECT n.number, n.pool, n.trunk FROM virtual_numbers AS n
	WHERE n.pool = $1 AND n.state = 'available' AND n.bound < $2
	  AND n.number NOT IN ($6, $7, $8) AND ($9 = '' OR n.number = $9) AND n.number <> ALL($10::text[])
	  AND NOT EXISTS (SELECT 1 FROM binding_parties AS p
	                  WHERE p.number = n.number AND p.party IN ($4, $5, '*')
	                    AND (p.cooling_until IS NULL OR p.cooling_until > $3))
	ORDER BY n.bound, n.number LIMIT 1`

// pgPickExclusive is pgPickShared for an AXN binding, which holds its number alone
// (its parties $4 and $5 are both ”).
const pgPickExclusive = `SELECT n.number, n.pool, n.trunk FROM virtual_numbers AS n
	WHERE n.pool = $1 AND n.state = 'available' AND n.bound = 0 AND $2::int > 0 AND $4::text = $5::text
	  AND n.number NOT IN ($6, $7, $8) AND ($9 = '' OR n.number = $9) AND n.number <> ALL($10::text[])
	  AND NOT EXISTS (SELECT 1 FROM binding_parties AS p
	                  WHERE p.number = n.number AND (p.cooling_until IS NULL OR p.cooling_until > $3))
	ORDER BY n.number LIMIT 1`

// pgPick finds and locks a number for spec, or says why there is none.
func pgPick(ctx context.Context, tx pgx.Tx, spec pickSpec, rules BindingRules, now time.Time) (candidate, error) {
	if len(spec.allowPool) == 0 {
		return candidate{}, &AllocationError{Reason: ReasonNoPool, err: ErrNoNumber}
	}
	query := pgPickShared
	p1, p2 := "", ""
	switch len(spec.parties) {
	case 0:
		query = pgPickExclusive
	case 1:
		p1, p2 = spec.parties[0], spec.parties[0]
	default:
		p1, p2 = spec.parties[0], spec.parties[1]
	}
	tried := []string{}
	// find runs the pick with lock clause suffix for one pool (and the number
	// wanted, if any).
	find := func(pool, want, suffix string) (candidate, bool, error) {
		var c candidate
		err := tx.QueryRow(ctx, query+suffix, pool, rules.MaxPerNumber, now.UnixMilli(), p1, p2,
			spec.avoidA, spec.avoidB, spec.exclude, want, tried).Scan(&c.number, &c.pool, &c.trunk)
		if errors.Is(err, pgx.ErrNoRows) {
			return c, false, nil
		}
		return c, err == nil, err
	}
	// try locks the best candidate of pool, then checks it again with a fresh
	// snapshot; a candidate that fails the check is not tried again.
	try := func(pool, want string) (candidate, bool, error) {
		for {
			c, ok, err := find(pool, want, " FOR UPDATE OF n SKIP LOCKED")
			if err == nil && !ok {
				// Every candidate may be locked by allocations in flight: wait for
				// the best one. A transaction that already holds a number (the Y
				// pick of AXYB) waits only briefly: two such transactions may wait
				// for each other's number, and the lock timeout ends that sooner
				// than deadlock detection would (the transaction is run again).
				if spec.exclude != "" {
					if _, err := tx.Exec(ctx, `SELECT set_config('lock_timeout', $1, true)`, pgHeldWait); err != nil {
						return c, false, err
					}
				}
				c, ok, err = find(pool, want, " FOR UPDATE OF n")
				if spec.exclude != "" && err == nil {
					if _, err := tx.Exec(ctx, `SELECT set_config('lock_timeout', '0', true)`); err != nil {
						return c, false, err
					}
				}
			}
			if err != nil || !ok {
				return c, ok, err
			}
			_, ok, err = find(pool, c.number, "")
			if err != nil || ok {
				return c, ok, err
			}
			tried = append(tried, c.number)
		}
	}
	if spec.want != "" {
		var pool string
		err := tx.QueryRow(ctx, `SELECT pool FROM virtual_numbers WHERE number = $1`, spec.want).Scan(&pool)
		if errors.Is(err, pgx.ErrNoRows) || err == nil && !slices.Contains(spec.allowPool, pool) {
			return candidate{}, fieldErr(spec.field, "%s is not a virtual number of pools %s", spec.want, strings.Join(spec.allowPool, ", "))
		}
		if err != nil {
			return candidate{}, err
		}
		if _, err := tx.Exec(ctx, `SELECT 1 FROM virtual_numbers WHERE number = $1 FOR UPDATE`, spec.want); err != nil {
			return candidate{}, err
		}
		c, ok, err := find(pool, spec.want, "")
		if err != nil || ok {
			return c, err
		}
		return candidate{}, &AllocationError{Reason: ReasonNumberTaken, Number: spec.want,
			Party: pgTakenParty(ctx, tx, spec.want, spec.parties, now), err: ErrConflict}
	}
	for _, pool := range spec.allowPool {
		c, ok, err := try(pool, "")
		if err != nil || ok {
			return c, err
		}
	}
	reason, err := pgDiagnose(ctx, tx, spec, rules, now)
	if err != nil {
		return candidate{}, err
	}
	return candidate{}, &AllocationError{Reason: reason, Pools: spec.allowPool, err: ErrNoNumber}
}

func pgTakenParty(ctx context.Context, tx pgx.Tx, number string, parties []string, now time.Time) string {
	for _, p := range parties {
		var n int
		err := tx.QueryRow(ctx, `SELECT count(*) FROM binding_parties WHERE number = $1 AND party = $2
			AND (cooling_until IS NULL OR cooling_until > $3)`, number, p, now.UnixMilli()).Scan(&n)
		if err == nil && n > 0 {
			return p
		}
	}
	return ""
}

func pgDiagnose(ctx context.Context, tx pgx.Tx, spec pickSpec, rules BindingRules, now time.Time) (AllocReason, error) {
	room := `n.bound < $2 AND NOT EXISTS (SELECT 1 FROM binding_parties AS p WHERE p.number = n.number
		AND p.party = '*' AND (p.cooling_until IS NULL OR p.cooling_until > $3))`
	if len(spec.parties) == 0 {
		room = `n.bound = 0 AND $2::int > 0 AND NOT EXISTS (SELECT 1 FROM binding_parties AS p WHERE p.number = n.number
			AND (p.cooling_until IS NULL OR p.cooling_until > $3))`
	}
	var total, withRoom int
	err := tx.QueryRow(ctx, `SELECT count(*), coalesce(sum(CASE WHEN `+room+` THEN 1 ELSE 0 END), 0)
		FROM virtual_numbers AS n WHERE n.pool = ANY($1::text[]) AND n.state = 'available'`,
		spec.allowPool, rules.MaxPerNumber, now.UnixMilli()).Scan(&total, &withRoom)
	if err != nil {
		return "", err
	}
	switch {
	case total == 0:
		return ReasonNoNumbers, nil
	case withRoom == 0:
		return ReasonAllBusy, nil
	}
	return ReasonPartyBound, nil
}

// pgAllocate picks the numbers for nb and inserts the binding, inside tx. It reads
// the clock twice: the picks see the pairs cooling at the first reading, and the
// binding is made at a second one, taken once its numbers are locked and checked.
// A pair the GC freed in between was freed at a GC time before that second reading,
// so a binding never starts within the cool-down of the pair it takes.
func pgAllocate(ctx context.Context, tx pgx.Tx, nb NewBinding, hash string, rules BindingRules, clock func() time.Time) (BindingRecord, error) {
	now := clock()
	spec := pickSpec{field: "x", want: nb.X, avoidA: nb.A, avoidB: nb.B, allowPool: nb.Pools}
	switch nb.Mode {
	case ModeAXB:
		spec.parties = []string{nb.A, nb.B}
	case ModeAXYB:
		spec.parties = []string{nb.A}
	}
	x, err := pgPick(ctx, tx, spec, rules, now)
	if err != nil {
		return BindingRecord{}, err
	}
	var y candidate
	if nb.Mode == ModeAXYB {
		spec = pickSpec{field: "y", want: nb.Y, parties: []string{nb.B}, exclude: x.number,
			avoidA: nb.A, avoidB: nb.B, allowPool: nb.Pools}
		if y, err = pgPick(ctx, tx, spec, rules, now); err != nil {
			return BindingRecord{}, err
		}
	}
	if later := clock(); later.After(now) {
		now = later
	}
	var id int64
	err = tx.QueryRow(ctx, `INSERT INTO bindings (tenant, mode, virtual, party_a, party_b, y, trunk,
		y_trunk, static, expiry_type, expiry_sec, expire_at, created_at, city, channel, pool, idem_key, idem_hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, false, $9, $10, $11, $12, $13, $14, $15, $16, $17) RETURNING id`,
		nb.Tenant, string(nb.Mode), x.number, nb.A, nb.B, y.number, x.trunk, y.trunk,
		string(nb.Expiry.Type), nb.Expiry.Sec, ms(nb.Expiry.At), now.UnixMilli(), nb.City, nb.Channel, x.pool,
		nb.IdempotencyKey, hash).Scan(&id)
	if err != nil {
		return BindingRecord{}, err
	}
	b := Binding{ID: id, Mode: nb.Mode, Virtual: x.number, A: nb.A, B: nb.B, Y: y.number}
	if err := pgClaimParties(ctx, tx, id, holdings(b), now); err != nil {
		return BindingRecord{}, err
	}
	if err := pgAdjustBound(ctx, tx, +1, x.number, y.number); err != nil {
		return BindingRecord{}, err
	}
	return pgBinding(ctx, tx, id)
}
