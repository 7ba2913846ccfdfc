package pool

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Caller-number selection on PostgreSQL. ReserveCaller is one transaction that
// serialises on the callee (an advisory lock: the per-callee and per-pair caps) and
// locks each candidate's row before checking it (FOR UPDATE SKIP LOCKED: a number
// another instance is reserving right now is skipped as locked, never waited for),
// so two instances never lease one number and never count past a cap. Leases name
// the instance that took them and hold until lease_until: an instance that dies
// loses its locks when they expire.

// SyncCallerNumbers makes the stored caller numbers exactly ns, keeping the runtime
// state of the ones that stay.
func (s *PostgresStore) SyncCallerNumbers(ctx context.Context, ns []CallerNumber) error {
	seen := make(map[string]bool, len(ns))
	keep := make([]string, 0, len(ns))
	for _, n := range ns {
		switch {
		case n.Number == "" || n.Tenant == "":
			return fmt.Errorf("pool: sync caller numbers: %w: number %q without number or tenant", ErrInvalid, n.Number)
		case !n.Kind.Valid():
			return fmt.Errorf("pool: sync caller numbers: %w: number %s has kind %q", ErrInvalid, n.Number, n.Kind)
		case seen[n.Number]:
			return fmt.Errorf("pool: sync caller numbers: %w: number %s given twice", ErrInvalid, n.Number)
		}
		seen[n.Number] = true
		keep = append(keep, n.Number)
	}
	now := s.now().UnixMilli()
	err := s.write(ctx, func(tx pgx.Tx) error {
		if err := pgLock(ctx, tx, pgSyncLock+":callers"); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM caller_numbers WHERE number <> ALL($1::text[])`, keep); err != nil {
			return err
		}
		for _, n := range ns {
			_, err := tx.Exec(ctx, `INSERT INTO caller_numbers
				(number, tenant, kind, pool, supplier, trunks, cities, provinces, per_day, per_hour, synced_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
				ON CONFLICT (number) DO UPDATE SET tenant = excluded.tenant, kind = excluded.kind,
					pool = excluded.pool, supplier = excluded.supplier, trunks = excluded.trunks,
					cities = excluded.cities, provinces = excluded.provinces, per_day = excluded.per_day,
					per_hour = excluded.per_hour, synced_at = excluded.synced_at`,
				n.Number, n.Tenant, string(n.Kind), n.Pool, n.Supplier, strings.Join(n.Trunks, ","),
				strings.Join(n.Cities, "|"), strings.Join(n.Provinces, "|"), n.PerDay, n.PerHour, now)
			if err != nil {
				return fmt.Errorf("number %s: %w", n.Number, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("pool: sync caller numbers: %w", s.closedOr(err))
	}
	return nil
}

// CallerNumbers lists the caller numbers of tenant ("" for all) with their runtime
// state, ordered by number.
func (s *PostgresStore) CallerNumbers(ctx context.Context, tenant string) ([]CallerNumber, error) {
	var out []CallerNumber
	err := s.read(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+callerNumberColumns+` FROM caller_numbers
			WHERE $1 = '' OR tenant = $1 ORDER BY number COLLATE "C"`, tenant)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			n, err := scanCallerNumber(rows)
			if err != nil {
				return err
			}
			out = append(out, n)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("pool: caller numbers: %w", s.closedOr(err))
	}
	return out, nil
}

// ReserveCaller picks and locks a caller number for a call in one transaction, as
// SQLiteStore.ReserveCaller does. An empty r.Instance is this store's instance.
func (s *PostgresStore) ReserveCaller(ctx context.Context, r ReserveRequest) (Reservation, error) {
	if err := checkReserve(r); err != nil {
		return Reservation{}, fmt.Errorf("pool: reserve caller: %w", err)
	}
	if r.LeaseID == 0 {
		r.LeaseID = NewLeaseID()
	}
	if r.Instance == "" {
		r.Instance = s.instance
	}
	var res Reservation
	var refusal error
	err := s.write(ctx, func(tx pgx.Tx) error {
		var err error
		res, refusal, err = pgReserveTx(ctx, tx, r)
		if err == nil && refusal != nil {
			// Nothing was written, but the locks are released at once.
			return errPGRefused
		}
		return err
	})
	if errors.Is(err, errPGRefused) {
		err = nil
	}
	if err != nil {
		return Reservation{}, fmt.Errorf("pool: reserve caller: %w", s.closedOr(err))
	}
	if refusal != nil {
		return res, fmt.Errorf("pool: reserve caller for %s: %w", r.Callee, refusal)
	}
	return res, nil
}

// errPGRefused rolls back a transaction that decided to write nothing.
var errPGRefused = errors.New("refused")

func pgReserveTx(ctx context.Context, tx pgx.Tx, r ReserveRequest) (Reservation, error, error) {
	if err := pgLock(ctx, tx, "callgate:callee:"+r.Tenant+"\x1f"+r.Callee); err != nil {
		return Reservation{}, nil, err
	}
	if r.Caps.CalleePerDay > 0 {
		var calls int
		err := tx.QueryRow(ctx, `SELECT calls FROM callee_day_counts WHERE tenant = $1 AND callee = $2 AND day = $3`,
			r.Tenant, r.Callee, r.Day).Scan(&calls)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return Reservation{}, nil, err
		}
		if calls >= r.Caps.CalleePerDay {
			return Reservation{}, fmt.Errorf("%w: %d of %d calls today", ErrCalleeCapped, calls, r.Caps.CalleePerDay), nil
		}
	}
	pairs := map[string]int{}
	if r.Caps.PairPerDay > 0 {
		rows, err := tx.Query(ctx, `SELECT caller, calls FROM pair_day_counts WHERE callee = $1 AND day = $2`, r.Callee, r.Day)
		if err != nil {
			return Reservation{}, nil, err
		}
		for rows.Next() {
			var caller string
			var calls int
			if err := rows.Scan(&caller, &calls); err != nil {
				rows.Close()
				return Reservation{}, nil, err
			}
			pairs[caller] = calls
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return Reservation{}, nil, err
		}
	}
	var res Reservation
	for _, cand := range r.Candidates {
		skip, err := pgCheckCandidate(ctx, tx, r, cand, pairs[cand])
		if err != nil {
			return Reservation{}, nil, err
		}
		if skip != nil {
			res.Skipped = append(res.Skipped, *skip)
			continue
		}
		if res.Number != "" {
			continue
		}
		res.Number = cand
		if r.DryRun {
			continue
		}
		res.LeaseID, res.LeaseUntil = r.LeaseID, r.Now.Add(r.LeaseFor)
		rec := LeaseRecord{LeaseID: r.LeaseID, Number: cand, Tenant: r.Tenant, Callee: r.Callee, CallID: r.CallID,
			Instance: r.Instance, Day: r.Day, AcquiredAt: r.Now, Until: res.LeaseUntil}
		if err := pgRecordTx(ctx, tx, rec); err != nil {
			return Reservation{}, nil, err
		}
		return res, nil, nil
	}
	if res.Number == "" {
		return res, fmt.Errorf("%w: %d candidates skipped", ErrNoCallerNumber, len(res.Skipped)), nil
	}
	return res, nil, nil
}

// pgCheckCandidate locks candidate cand and says why it cannot carry call r, or nil.
func pgCheckCandidate(ctx context.Context, tx pgx.Tx, r ReserveRequest, cand string, pair int) (*Skip, error) {
	now := r.Now.UnixMilli()
	lock := " FOR UPDATE SKIP LOCKED"
	if r.DryRun {
		lock = ""
	}
	var tenant string
	err := tx.QueryRow(ctx, `SELECT tenant FROM caller_numbers WHERE number = $1`+lock, cand).Scan(&tenant)
	if errors.Is(err, pgx.ErrNoRows) {
		var one int
		err = tx.QueryRow(ctx, `SELECT 1 FROM caller_numbers WHERE number = $1`, cand).Scan(&one)
		if err == nil {
			return &Skip{Number: cand, Reason: SkipLocked, Detail: "being reserved for another call"}, nil
		}
	}
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return &Skip{Number: cand, Reason: SkipUnknown, Detail: "not a caller number"}, nil
	case err != nil:
		return nil, err
	}
	// A fresh statement: it sees every reservation committed before the lock.
	var callID string
	var perDay, perHour, dayCalls int
	var resting, until sql.NullInt64
	err = tx.QueryRow(ctx, `SELECT n.tenant, n.per_day, n.per_hour, n.resting_until,
			l.lease_until, coalesce(l.call_id, ''), coalesce(d.calls, 0)
		FROM caller_numbers n
		LEFT JOIN caller_leases l ON l.number = n.number
		LEFT JOIN caller_day_counts d ON d.number = n.number AND d.day = $1
		WHERE n.number = $2`, r.Day, cand).Scan(&tenant, &perDay, &perHour, &resting, &until, &callID, &dayCalls)
	switch {
	case err != nil:
		return nil, err
	case tenant != r.Tenant:
		return &Skip{Number: cand, Reason: SkipUnknown, Detail: "a caller number of another tenant"}, nil
	case until.Valid && until.Int64 > now:
		return &Skip{Number: cand, Reason: SkipLocked, Until: time.UnixMilli(until.Int64).UTC(), Detail: "in call " + callID}, nil
	case resting.Valid && resting.Int64 > now:
		return &Skip{Number: cand, Reason: SkipResting, Until: time.UnixMilli(resting.Int64).UTC(), Detail: "answer rate collapsed"}, nil
	}
	if limit := Limit(perHour, r.Caps.CallerPerHour); limit > 0 {
		var n int
		err := tx.QueryRow(ctx, `SELECT count(*) FROM caller_attempts WHERE number = $1 AND at > $2`, cand, now-hourMS).Scan(&n)
		if err != nil {
			return nil, err
		}
		if n >= limit {
			var at int64
			err := tx.QueryRow(ctx, `SELECT at FROM caller_attempts WHERE number = $1 AND at > $2
				ORDER BY at LIMIT 1 OFFSET $3`, cand, now-hourMS, n-limit).Scan(&at)
			if err != nil {
				return nil, err
			}
			return &Skip{Number: cand, Reason: SkipCallerHourCap, Until: time.UnixMilli(at + hourMS).UTC(),
				Detail: fmt.Sprintf("%d of %d calls in the last hour", n, limit)}, nil
		}
	}
	if limit := Limit(perDay, r.Caps.CallerPerDay); limit > 0 && dayCalls >= limit {
		return &Skip{Number: cand, Reason: SkipCallerDayCap, Until: r.DayEnd,
			Detail: fmt.Sprintf("%d of %d calls today", dayCalls, limit)}, nil
	}
	if limit := r.Caps.PairPerDay; limit > 0 && pair >= limit {
		return &Skip{Number: cand, Reason: SkipPairCap, Until: r.DayEnd,
			Detail: fmt.Sprintf("%d of %d calls to this callee today", pair, limit)}, nil
	}
	return nil, nil
}

// pgRecordTx stores reservation rec, as recordTx does.
func pgRecordTx(ctx context.Context, tx pgx.Tx, rec LeaseRecord) error {
	at := rec.AcquiredAt.UnixMilli()
	stmts := []struct {
		q    string
		args []any
	}{
		{`INSERT INTO caller_leases (number, lease_id, tenant, call_id, callee, instance, day, acquired_at, lease_until)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
			ON CONFLICT (number) DO UPDATE SET lease_id = excluded.lease_id, tenant = excluded.tenant,
				call_id = excluded.call_id, callee = excluded.callee, instance = excluded.instance,
				day = excluded.day, acquired_at = excluded.acquired_at, lease_until = excluded.lease_until`,
			[]any{rec.Number, rec.LeaseID, rec.Tenant, rec.CallID, rec.Callee, rec.Instance, rec.Day, at, rec.Until.UnixMilli()}},
		{`INSERT INTO caller_day_counts (number, day, calls) VALUES ($1, $2, 1)
			ON CONFLICT (number, day) DO UPDATE SET calls = caller_day_counts.calls + 1`, []any{rec.Number, rec.Day}},
		{`INSERT INTO callee_day_counts (tenant, callee, day, calls) VALUES ($1, $2, $3, 1)
			ON CONFLICT (tenant, callee, day) DO UPDATE SET calls = callee_day_counts.calls + 1`, []any{rec.Tenant, rec.Callee, rec.Day}},
		{`INSERT INTO pair_day_counts (callee, day, caller, calls) VALUES ($1, $2, $3, 1)
			ON CONFLICT (callee, day, caller) DO UPDATE SET calls = pair_day_counts.calls + 1`, []any{rec.Callee, rec.Day, rec.Number}},
		{`INSERT INTO caller_attempts (number, at, lease_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, []any{rec.Number, at, rec.LeaseID}},
		{`UPDATE caller_numbers SET last_used_at = $1 WHERE number = $2`, []any{at, rec.Number}},
	}
	for _, st := range stmts {
		if _, err := tx.Exec(ctx, st.q, st.args...); err != nil {
			return err
		}
	}
	return nil
}

// ReleaseCaller ends lease r.LeaseID, as SQLiteStore.ReleaseCaller does.
func (s *PostgresStore) ReleaseCaller(ctx context.Context, r ReleaseRequest) (Released, error) {
	var rel Released
	var opErr error
	err := s.write(ctx, func(tx pgx.Tx) error {
		var err error
		rel, opErr, err = pgReleaseTx(ctx, tx, r)
		return err
	})
	if err != nil {
		return Released{}, fmt.Errorf("pool: release caller lease %d: %w", r.LeaseID, s.closedOr(err))
	}
	if opErr != nil {
		return Released{}, fmt.Errorf("pool: release caller lease %d: %w", r.LeaseID, opErr)
	}
	return rel, nil
}

func pgReleaseTx(ctx context.Context, tx pgx.Tx, r ReleaseRequest) (Released, error, error) {
	if !r.Outcome.Valid() {
		return Released{}, fmt.Errorf("%w: outcome %q", ErrInvalid, r.Outcome), nil
	}
	if r.At.IsZero() {
		return Released{}, fmt.Errorf("%w: no time", ErrInvalid), nil
	}
	var rel Released
	var day int
	var acquired int64
	err := tx.QueryRow(ctx, `DELETE FROM caller_leases WHERE lease_id = $1 RETURNING number, tenant, callee, day, acquired_at`,
		r.LeaseID).Scan(&rel.Number, &rel.Tenant, &rel.Callee, &day, &acquired)
	if errors.Is(err, pgx.ErrNoRows) {
		return Released{}, fmt.Errorf("%w: no such lease", ErrNotFound), nil
	}
	if err != nil {
		return Released{}, nil, err
	}
	var kind string
	err = tx.QueryRow(ctx, `SELECT kind FROM caller_numbers WHERE number = $1`, rel.Number).Scan(&kind)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return Released{}, nil, err
	}
	rel.Kind = NumberKind(kind)
	if r.Outcome == OutcomeNotPlaced {
		for _, q := range []struct {
			q    string
			args []any
		}{
			{`UPDATE caller_day_counts SET calls = calls - 1 WHERE number = $1 AND day = $2 AND calls > 0`, []any{rel.Number, day}},
			{`UPDATE callee_day_counts SET calls = calls - 1 WHERE tenant = $1 AND callee = $2 AND day = $3 AND calls > 0`, []any{rel.Tenant, rel.Callee, day}},
			{`UPDATE pair_day_counts SET calls = calls - 1 WHERE callee = $1 AND day = $2 AND caller = $3 AND calls > 0`, []any{rel.Callee, day, rel.Number}},
			{`DELETE FROM caller_attempts WHERE number = $1 AND at = $2 AND lease_id = $3`, []any{rel.Number, acquired, r.LeaseID}},
		} {
			if _, err := tx.Exec(ctx, q.q, q.args...); err != nil {
				return Released{}, nil, err
			}
		}
		return rel, nil, nil
	}
	at := r.At.UnixMilli()
	answered := 0
	if r.Outcome == OutcomeAnswered {
		answered = 1
	}
	if rel.Kind != "" {
		_, err := tx.Exec(ctx, `INSERT INTO callee_escalation (tenant, callee, kind, outcome, at) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (tenant, callee) DO UPDATE SET kind = excluded.kind, outcome = excluded.outcome, at = excluded.at`,
			rel.Tenant, rel.Callee, kind, string(r.Outcome), at)
		if err != nil {
			return Released{}, nil, err
		}
	}
	if !r.Health.On() || rel.Kind == "" {
		return rel, nil, nil
	}
	hour := UnixHour(r.At)
	_, err = tx.Exec(ctx, `INSERT INTO caller_health (number, hour, attempts, answers) VALUES ($1, $2, 1, $3)
		ON CONFLICT (number, hour) DO UPDATE SET attempts = caller_health.attempts + 1,
			answers = caller_health.answers + excluded.answers`, rel.Number, hour, answered)
	if err != nil {
		return Released{}, nil, err
	}
	var attempts, answers int
	err = tx.QueryRow(ctx, `SELECT coalesce(sum(attempts), 0), coalesce(sum(answers), 0) FROM caller_health
		WHERE number = $1 AND hour > $2`, rel.Number, hour-r.Health.WindowHours()).Scan(&attempts, &answers)
	if err != nil {
		return Released{}, nil, err
	}
	if !r.Health.Collapsed(attempts, answers) {
		return rel, nil, nil
	}
	rel.RestingUntil = r.At.Add(r.Health.Rest).UTC().Truncate(time.Millisecond)
	reason := fmt.Sprintf("answered %d of %d calls, below %.0f%%", answers, attempts, 100*r.Health.AnswerRateFloor)
	if _, err := tx.Exec(ctx, `UPDATE caller_numbers SET resting_until = $1, rest_reason = $2 WHERE number = $3`,
		rel.RestingUntil.UnixMilli(), reason, rel.Number); err != nil {
		return Released{}, nil, err
	}
	if _, err := tx.Exec(ctx, `DELETE FROM caller_health WHERE number = $1`, rel.Number); err != nil {
		return Released{}, nil, err
	}
	return rel, nil, nil
}

// RenewLeases extends the unexpired leases of r.LeaseIDs to r.Until.
func (s *PostgresStore) RenewLeases(ctx context.Context, r RenewRequest) (int, error) {
	var n int
	err := s.write(ctx, func(tx pgx.Tx) error {
		var err error
		n, err = pgRenewTx(ctx, tx, r)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("pool: renew caller leases: %w", s.closedOr(err))
	}
	return n, nil
}

func pgRenewTx(ctx context.Context, tx pgx.Tx, r RenewRequest) (int, error) {
	tag, err := tx.Exec(ctx, `UPDATE caller_leases SET lease_until = $1 WHERE lease_id = ANY($2::bigint[]) AND lease_until > $3`,
		r.Until.UnixMilli(), r.LeaseIDs, r.Now.UnixMilli())
	return int(tag.RowsAffected()), err
}

// ApplyCallerOps applies the router's journal in one transaction, as
// SQLiteStore.ApplyCallerOps does.
func (s *PostgresStore) ApplyCallerOps(ctx context.Context, ops []CallerOp) ([]CallerOpResult, error) {
	var results []CallerOpResult
	err := s.write(ctx, func(tx pgx.Tx) error {
		results = make([]CallerOpResult, len(ops))
		for i, op := range ops {
			var err error
			switch {
			case op.Record != nil:
				err = pgRecordTx(ctx, tx, *op.Record)
			case op.Release != nil:
				results[i].Released, results[i].Err, err = pgReleaseTx(ctx, tx, *op.Release)
			case op.Renew != nil:
				results[i].Renewed, err = pgRenewTx(ctx, tx, *op.Renew)
			default:
				results[i].Err = fmt.Errorf("%w: empty op", ErrInvalid)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("pool: apply %d caller ops: %w", len(ops), s.closedOr(err))
	}
	return results, nil
}

// LoadCallerState reads the state the router keeps in memory, from one snapshot.
func (s *PostgresStore) LoadCallerState(ctx context.Context, q CallerStateQuery) (CallerState, error) {
	var st CallerState
	now := q.Now.UnixMilli()
	err := s.read(ctx, func(tx pgx.Tx) error {
		st = CallerState{}
		each := func(query string, args []any, scan func(rowScanner) error) error {
			rows, err := tx.Query(ctx, query, args...)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				if err := scan(rows); err != nil {
					return err
				}
			}
			return rows.Err()
		}
		steps := []struct {
			q    string
			args []any
			scan func(rowScanner) error
		}{
			{`SELECT ` + callerNumberColumns + ` FROM caller_numbers ORDER BY number COLLATE "C"`, nil, func(r rowScanner) error {
				n, err := scanCallerNumber(r)
				st.Numbers = append(st.Numbers, n)
				return err
			}},
			{`SELECT lease_id, number, tenant, callee, call_id, instance, day, acquired_at, lease_until
				FROM caller_leases WHERE lease_until > $1`, []any{now}, func(r rowScanner) error {
				var l LeaseRecord
				var acq, until int64
				err := r.Scan(&l.LeaseID, &l.Number, &l.Tenant, &l.Callee, &l.CallID, &l.Instance, &l.Day, &acq, &until)
				l.AcquiredAt, l.Until = time.UnixMilli(acq).UTC(), time.UnixMilli(until).UTC()
				st.Leases = append(st.Leases, l)
				return err
			}},
			{`SELECT number, day, calls FROM caller_day_counts WHERE day >= $1 AND calls > 0`, []any{q.SinceDay}, func(r rowScanner) error {
				var c DayCount
				err := r.Scan(&c.Key, &c.Day, &c.Calls)
				st.CallerDays = append(st.CallerDays, c)
				return err
			}},
			{`SELECT tenant, callee, day, calls FROM callee_day_counts WHERE day >= $1 AND calls > 0`, []any{q.SinceDay}, func(r rowScanner) error {
				var c CalleeCount
				err := r.Scan(&c.Tenant, &c.Callee, &c.Day, &c.Calls)
				st.CalleeDays = append(st.CalleeDays, c)
				return err
			}},
			{`SELECT caller, callee, day, calls FROM pair_day_counts WHERE day >= $1 AND calls > 0`, []any{q.SinceDay}, func(r rowScanner) error {
				var c PairCount
				err := r.Scan(&c.Caller, &c.Callee, &c.Day, &c.Calls)
				st.Pairs = append(st.Pairs, c)
				return err
			}},
			{`SELECT number, at, lease_id FROM caller_attempts WHERE at > $1 ORDER BY number COLLATE "C", at`, []any{now - hourMS}, func(r rowScanner) error {
				var a CallerAttempt
				var at int64
				err := r.Scan(&a.Number, &at, &a.LeaseID)
				a.At = time.UnixMilli(at).UTC()
				st.Attempts = append(st.Attempts, a)
				return err
			}},
			{`SELECT number, hour, attempts, answers FROM caller_health WHERE hour >= $1`, []any{UnixHour(q.HealthSince)}, func(r rowScanner) error {
				var h HealthBucket
				err := r.Scan(&h.Number, &h.Hour, &h.Attempts, &h.Answers)
				st.Health = append(st.Health, h)
				return err
			}},
			{`SELECT tenant, callee, kind, outcome, at FROM callee_escalation WHERE at >= $1`, []any{q.EscalationSince.UnixMilli()}, func(r rowScanner) error {
				var e Escalation
				var kind, outcome string
				var at int64
				err := r.Scan(&e.Tenant, &e.Callee, &kind, &outcome, &at)
				e.Kind, e.Outcome, e.At = NumberKind(kind), Outcome(outcome), time.UnixMilli(at).UTC()
				st.Escalations = append(st.Escalations, e)
				return err
			}},
		}
		for _, step := range steps {
			if err := each(step.q, step.args, step.scan); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return CallerState{}, fmt.Errorf("pool: load caller state: %w", s.closedOr(err))
	}
	return st, nil
}

// SweepCallers deletes caller-number state no decision reads any more, in
// transactions of at most sweepChunk rows.
func (s *PostgresStore) SweepCallers(ctx context.Context, r SweepRequest) (SweepResult, error) {
	var res SweepResult
	steps := []struct {
		dst   *int64
		table string
		cond  string
		arg   any
	}{
		{&res.Leases, "caller_leases", "lease_until < $1", r.LeasesBefore.UnixMilli()},
		{&res.Counters, "caller_day_counts", "day < $1", r.DaysBefore},
		{&res.Counters, "callee_day_counts", "day < $1", r.DaysBefore},
		{&res.Counters, "pair_day_counts", "day < $1", r.DaysBefore},
		{&res.Attempts, "caller_attempts", "at < $1", r.AttemptsBefore.UnixMilli()},
		{&res.Health, "caller_health", "hour < $1", UnixHour(r.HealthBefore)},
		{&res.Escalations, "callee_escalation", "at < $1", r.EscalationsBefore.UnixMilli()},
	}
	for _, st := range steps {
		for {
			var n int64
			err := s.write(ctx, func(tx pgx.Tx) error {
				tag, err := tx.Exec(ctx, `DELETE FROM `+st.table+` WHERE ctid IN
					(SELECT ctid FROM `+st.table+` WHERE `+st.cond+` LIMIT $2)`, st.arg, sweepChunk)
				n = tag.RowsAffected()
				return err
			})
			if err != nil {
				return res, fmt.Errorf("pool: sweep caller state: %w", s.closedOr(err))
			}
			*st.dst += n
			if n < sweepChunk {
				break
			}
		}
	}
	return res, nil
}
