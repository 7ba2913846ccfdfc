package pool

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mattn/go-sqlite3"
)

// This file is the SQLite side of caller-number selection: syncing the numbers from
// config, the atomic check-and-reserve, release with health and escalation, lease
// renewal, the journal the router writes through, loading state at start, and the
// sweeper.

const hourMS = int64(time.Hour / time.Millisecond)

// SyncCallerNumbers makes the stored caller numbers exactly ns: it inserts new ones,
// updates the config of known ones (keeping their last use and rest) and deletes the
// ones no longer given. Counters, health and leases are keyed by number and are left
// to the sweeper.
func (s *SQLiteStore) SyncCallerNumbers(ctx context.Context, ns []CallerNumber) error {
	seen := make(map[string]bool, len(ns))
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
	}
	now := s.now().UnixMilli()
	err := s.write(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+callerConfigColumns+` FROM caller_numbers`)
		if err != nil {
			return err
		}
		var gone []string
		stored := make(map[string]string, len(ns))
		for rows.Next() {
			var n CallerNumber
			var kind, trunks, cities, provinces string
			if err := rows.Scan(&n.Number, &n.Tenant, &kind, &n.Pool, &n.Supplier, &trunks, &cities, &provinces,
				&n.PerDay, &n.PerHour); err != nil {
				rows.Close()
				return err
			}
			if !seen[n.Number] {
				gone = append(gone, n.Number)
				continue
			}
			stored[n.Number] = fmt.Sprint(n.Tenant, "\x00", kind, "\x00", n.Pool, "\x00", n.Supplier, "\x00", trunks, "\x00",
				cities, "\x00", provinces, "\x00", n.PerDay, "\x00", n.PerHour)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, n := range gone {
			if _, err := tx.ExecContext(ctx, `DELETE FROM caller_numbers WHERE number = ?`, n); err != nil {
				return err
			}
		}
		up, err := tx.PrepareContext(ctx, `INSERT INTO caller_numbers
			(number, tenant, kind, pool, supplier, trunks, cities, provinces, per_day, per_hour, synced_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (number) DO UPDATE SET tenant = excluded.tenant, kind = excluded.kind,
				pool = excluded.pool, supplier = excluded.supplier, trunks = excluded.trunks,
				cities = excluded.cities, provinces = excluded.provinces, per_day = excluded.per_day,
				per_hour = excluded.per_hour, synced_at = excluded.synced_at`)
		if err != nil {
			return err
		}
		defer up.Close()
		for _, n := range ns {
			trunks, cities, provinces := strings.Join(n.Trunks, ","), strings.Join(n.Cities, "|"), strings.Join(n.Provinces, "|")
			if old, ok := stored[n.Number]; ok && old == fmt.Sprint(n.Tenant, "\x00", string(n.Kind), "\x00", n.Pool, "\x00",
				n.Supplier, "\x00", trunks, "\x00", cities, "\x00", provinces, "\x00", n.PerDay, "\x00", n.PerHour) {
				continue // unchanged
			}
			_, err := up.ExecContext(ctx, n.Number, n.Tenant, string(n.Kind), n.Pool, n.Supplier,
				trunks, cities, provinces, n.PerDay, n.PerHour, now)
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("pool: sync caller numbers: %w", s.closedOr(err))
	}
	return nil
}

// callerConfigColumns are the columns SyncCallerNumbers writes (but synced_at).
const callerConfigColumns = `number, tenant, kind, pool, supplier, trunks, cities, provinces, per_day, per_hour`

const callerNumberColumns = `number, tenant, kind, pool, supplier, trunks, cities, provinces, per_day,
	per_hour, last_used_at, resting_until, rest_reason`

func scanCallerNumber(rows rowScanner) (CallerNumber, error) {
	var n CallerNumber
	var kind, trunks, cities, provinces string
	var used, resting sql.NullInt64
	err := rows.Scan(&n.Number, &n.Tenant, &kind, &n.Pool, &n.Supplier, &trunks, &cities, &provinces,
		&n.PerDay, &n.PerHour, &used, &resting, &n.RestReason)
	n.Kind = NumberKind(kind)
	n.Trunks, n.Cities, n.Provinces = splitList(trunks, ","), splitList(cities, "|"), splitList(provinces, "|")
	n.LastUsedAt, n.RestingUntil = fromMS(used), fromMS(resting)
	return n, err
}

func splitList(s, sep string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, sep)
}

// CallerNumbers lists the caller numbers of tenant ("" for all) with their runtime
// state, ordered by number.
func (s *SQLiteStore) CallerNumbers(ctx context.Context, tenant string) ([]CallerNumber, error) {
	var out []CallerNumber
	err := s.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+callerNumberColumns+` FROM caller_numbers
			WHERE ? = '' OR tenant = ? ORDER BY number`, tenant, tenant)
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

// ReserveCaller picks and locks a caller number for a call in one BEGIN IMMEDIATE
// transaction: it refuses the call with ErrCalleeCapped if the callee is at the
// tenant's daily cap, then takes the first of r.Candidates that is a number of the
// tenant, has no unexpired lease, is not resting and is under its hourly, daily and
// per-callee caps; it leases it until r.Now+r.LeaseFor and counts the call against
// every cap. If no candidate qualifies it returns ErrNoCallerNumber with the skipped
// candidates in the Reservation. An expired lease holds nothing, whether or not the
// sweeper has deleted it.
func (s *SQLiteStore) ReserveCaller(ctx context.Context, r ReserveRequest) (Reservation, error) {
	if err := checkReserve(r); err != nil {
		return Reservation{}, fmt.Errorf("pool: reserve caller: %w", err)
	}
	if r.LeaseID == 0 {
		r.LeaseID = NewLeaseID()
	}
	var res Reservation
	var refusal error
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		res, refusal, err = reserveTx(ctx, tx, r)
		return err
	})
	if err != nil {
		return Reservation{}, fmt.Errorf("pool: reserve caller: %w", s.closedOr(err))
	}
	if refusal != nil {
		return res, fmt.Errorf("pool: reserve caller for %s: %w", r.Callee, refusal)
	}
	return res, nil
}

// Transient reports whether err from a store method may go away if the call is
// retried: the database was busy or locked, the context ended, or the store is
// closed (and may be reopened). Other errors (constraint violations, corruption)
// come back on every retry.
func Transient(err error) bool {
	var se sqlite3.Error
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded), errors.Is(err, ErrClosed):
		return true
	case errors.As(err, &se):
		return se.Code == sqlite3.ErrBusy || se.Code == sqlite3.ErrLocked || se.Code == sqlite3.ErrIoErr ||
			se.Code == sqlite3.ErrFull || se.Code == sqlite3.ErrCantOpen
	}
	return pgTransient(err)
}

// NewLeaseID returns a random positive lease id.
func NewLeaseID() int64 {
	var b [8]byte
	for {
		_, _ = rand.Read(b[:])
		if id := int64(binary.BigEndian.Uint64(b[:]) >> 1); id != 0 {
			return id
		}
	}
}

// reserveTx is ReserveCaller inside tx. A refusal (callee capped, no number) is
// returned apart from storage errors, and nothing is written then.
func reserveTx(ctx context.Context, tx *sql.Tx, r ReserveRequest) (Reservation, error, error) {
	if r.Caps.CalleePerDay > 0 {
		var calls int
		err := tx.QueryRowContext(ctx, `SELECT calls FROM callee_day_counts WHERE tenant = ? AND callee = ? AND day = ?`,
			r.Tenant, r.Callee, r.Day).Scan(&calls)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return Reservation{}, nil, err
		}
		if calls >= r.Caps.CalleePerDay {
			return Reservation{}, fmt.Errorf("%w: %d of %d calls today", ErrCalleeCapped, calls, r.Caps.CalleePerDay), nil
		}
	}
	pairs := map[string]int{}
	if r.Caps.PairPerDay > 0 {
		rows, err := tx.QueryContext(ctx, `SELECT caller, calls FROM pair_day_counts WHERE callee = ? AND day = ?`, r.Callee, r.Day)
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
		skip, err := checkCandidate(ctx, tx, r, cand, pairs[cand])
		if err != nil {
			return Reservation{}, nil, err
		}
		if skip != nil {
			res.Skipped = append(res.Skipped, *skip)
			continue
		}
		if res.Number != "" { // a dry run evaluating the rest
			continue
		}
		res.Number = cand
		if r.DryRun {
			continue
		}
		res.LeaseID, res.LeaseUntil = r.LeaseID, r.Now.Add(r.LeaseFor)
		rec := LeaseRecord{LeaseID: r.LeaseID, Number: cand, Tenant: r.Tenant, Callee: r.Callee, CallID: r.CallID,
			Instance: r.Instance, Day: r.Day, AcquiredAt: r.Now, Until: res.LeaseUntil}
		if err := recordTx(ctx, tx, rec); err != nil {
			return Reservation{}, nil, err
		}
		return res, nil, nil
	}
	if res.Number == "" {
		return res, fmt.Errorf("%w: %d candidates skipped", ErrNoCallerNumber, len(res.Skipped)), nil
	}
	return res, nil, nil
}

// checkCandidate says why number cand cannot carry the call r, or nil if it can.
// pair is the calls from cand to the callee today.
func checkCandidate(ctx context.Context, tx *sql.Tx, r ReserveRequest, cand string, pair int) (*Skip, error) {
	now := r.Now.UnixMilli()
	var tenant, callID string
	var perDay, perHour, dayCalls int
	var resting, until sql.NullInt64
	err := tx.QueryRowContext(ctx, `SELECT n.tenant, n.per_day, n.per_hour, n.resting_until,
			l.lease_until, coalesce(l.call_id, ''), coalesce(d.calls, 0)
		FROM caller_numbers n
		LEFT JOIN caller_leases l ON l.number = n.number
		LEFT JOIN caller_day_counts d ON d.number = n.number AND d.day = ?
		WHERE n.number = ?`, r.Day, cand).Scan(&tenant, &perDay, &perHour, &resting, &until, &callID, &dayCalls)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return &Skip{Number: cand, Reason: SkipUnknown, Detail: "not a caller number"}, nil
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
		err := tx.QueryRowContext(ctx, `SELECT count(*) FROM caller_attempts WHERE number = ? AND at > ?`, cand, now-hourMS).Scan(&n)
		if err != nil {
			return nil, err
		}
		if n >= limit {
			// A slot frees when the attempt that put the count at the limit leaves
			// the hour.
			var at int64
			err := tx.QueryRowContext(ctx, `SELECT at FROM caller_attempts WHERE number = ? AND at > ?
				ORDER BY at LIMIT 1 OFFSET ?`, cand, now-hourMS, n-limit).Scan(&at)
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

// recordTx stores reservation rec: its lease (replacing an expired one), one call
// on each counter, the attempt for the sliding hour and the number's last use.
func recordTx(ctx context.Context, tx *sql.Tx, rec LeaseRecord) error {
	at := rec.AcquiredAt.UnixMilli()
	stmts := []struct {
		q    string
		args []any
	}{
		{`INSERT INTO caller_leases (number, lease_id, tenant, call_id, callee, instance, day, acquired_at, lease_until)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (number) DO UPDATE SET lease_id = excluded.lease_id, tenant = excluded.tenant,
				call_id = excluded.call_id, callee = excluded.callee, instance = excluded.instance,
				day = excluded.day, acquired_at = excluded.acquired_at, lease_until = excluded.lease_until`,
			[]any{rec.Number, rec.LeaseID, rec.Tenant, rec.CallID, rec.Callee, rec.Instance, rec.Day, at, rec.Until.UnixMilli()}},
		{`INSERT INTO caller_day_counts (number, day, calls) VALUES (?, ?, 1)
			ON CONFLICT (number, day) DO UPDATE SET calls = calls + 1`, []any{rec.Number, rec.Day}},
		{`INSERT INTO callee_day_counts (tenant, callee, day, calls) VALUES (?, ?, ?, 1)
			ON CONFLICT (tenant, callee, day) DO UPDATE SET calls = calls + 1`, []any{rec.Tenant, rec.Callee, rec.Day}},
		{`INSERT INTO pair_day_counts (callee, day, caller, calls) VALUES (?, ?, ?, 1)
			ON CONFLICT (callee, day, caller) DO UPDATE SET calls = calls + 1`, []any{rec.Callee, rec.Day, rec.Number}},
		{`INSERT OR IGNORE INTO caller_attempts (number, at, lease_id) VALUES (?, ?, ?)`, []any{rec.Number, at, rec.LeaseID}},
		{`UPDATE caller_numbers SET last_used_at = ? WHERE number = ?`, []any{at, rec.Number}},
	}
	for _, st := range stmts {
		if _, err := tx.ExecContext(ctx, st.q, st.args...); err != nil {
			return err
		}
	}
	return nil
}

// ReleaseCaller ends lease r.LeaseID. For an answered or unanswered call it adds the
// call to the number's health (resting the number if its answer rate collapsed under
// r.Health) and records the outcome for the callee's escalation; for a call never
// placed it gives the cap counts back. A lease that is unknown (released already, or
// expired and taken over) gives ErrNotFound. Releasing an expired lease that is still
// stored applies its outcome.
func (s *SQLiteStore) ReleaseCaller(ctx context.Context, r ReleaseRequest) (Released, error) {
	var rel Released
	var opErr error
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		rel, opErr, err = releaseTx(ctx, tx, r)
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

// releaseTx is ReleaseCaller inside tx; the lease's own problems come back apart from
// storage errors.
func releaseTx(ctx context.Context, tx *sql.Tx, r ReleaseRequest) (Released, error, error) {
	if !r.Outcome.Valid() {
		return Released{}, fmt.Errorf("%w: outcome %q", ErrInvalid, r.Outcome), nil
	}
	if r.At.IsZero() {
		return Released{}, fmt.Errorf("%w: no time", ErrInvalid), nil
	}
	var rel Released
	var day int
	var acquired int64
	err := tx.QueryRowContext(ctx, `SELECT number, tenant, callee, day, acquired_at FROM caller_leases WHERE lease_id = ?`,
		r.LeaseID).Scan(&rel.Number, &rel.Tenant, &rel.Callee, &day, &acquired)
	if errors.Is(err, sql.ErrNoRows) {
		return Released{}, fmt.Errorf("%w: no such lease", ErrNotFound), nil
	}
	if err != nil {
		return Released{}, nil, err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM caller_leases WHERE lease_id = ?`, r.LeaseID); err != nil {
		return Released{}, nil, err
	}
	var kind string
	err = tx.QueryRowContext(ctx, `SELECT kind FROM caller_numbers WHERE number = ?`, rel.Number).Scan(&kind)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return Released{}, nil, err
	}
	rel.Kind = NumberKind(kind)
	if r.Outcome == OutcomeNotPlaced {
		for _, q := range []struct {
			q    string
			args []any
		}{
			{`UPDATE caller_day_counts SET calls = calls - 1 WHERE number = ? AND day = ? AND calls > 0`, []any{rel.Number, day}},
			{`UPDATE callee_day_counts SET calls = calls - 1 WHERE tenant = ? AND callee = ? AND day = ? AND calls > 0`, []any{rel.Tenant, rel.Callee, day}},
			{`UPDATE pair_day_counts SET calls = calls - 1 WHERE callee = ? AND day = ? AND caller = ? AND calls > 0`, []any{rel.Callee, day, rel.Number}},
			{`DELETE FROM caller_attempts WHERE number = ? AND at = ? AND lease_id = ?`, []any{rel.Number, acquired, r.LeaseID}},
		} {
			if _, err := tx.ExecContext(ctx, q.q, q.args...); err != nil {
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
		_, err := tx.ExecContext(ctx, `INSERT INTO callee_escalation (tenant, callee, kind, outcome, at) VALUES (?, ?, ?, ?, ?)
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
	_, err = tx.ExecContext(ctx, `INSERT INTO caller_health (number, hour, attempts, answers) VALUES (?, ?, 1, ?)
		ON CONFLICT (number, hour) DO UPDATE SET attempts = attempts + 1, answers = answers + excluded.answers`,
		rel.Number, hour, answered)
	if err != nil {
		return Released{}, nil, err
	}
	var attempts, answers int
	err = tx.QueryRowContext(ctx, `SELECT coalesce(sum(attempts), 0), coalesce(sum(answers), 0) FROM caller_health
		WHERE number = ? AND hour > ?`, rel.Number, hour-r.Health.WindowHours()).Scan(&attempts, &answers)
	if err != nil {
		return Released{}, nil, err
	}
	if !r.Health.Collapsed(attempts, answers) {
		return rel, nil, nil
	}
	rel.RestingUntil = r.At.Add(r.Health.Rest).UTC().Truncate(time.Millisecond)
	reason := fmt.Sprintf("answered %d of %d calls, below %.0f%%", answers, attempts, 100*r.Health.AnswerRateFloor)
	if _, err := tx.ExecContext(ctx, `UPDATE caller_numbers SET resting_until = ?, rest_reason = ? WHERE number = ?`,
		rel.RestingUntil.UnixMilli(), reason, rel.Number); err != nil {
		return Released{}, nil, err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM caller_health WHERE number = ?`, rel.Number); err != nil {
		return Released{}, nil, err
	}
	return rel, nil, nil
}

// RenewLeases extends the leases of r.LeaseIDs that have not expired at r.Now to
// r.Until, and returns how many it extended. An expired lease is never revived.
func (s *SQLiteStore) RenewLeases(ctx context.Context, r RenewRequest) (int, error) {
	var n int
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		n, err = renewTx(ctx, tx, r)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("pool: renew caller leases: %w", s.closedOr(err))
	}
	return n, nil
}

func renewTx(ctx context.Context, tx *sql.Tx, r RenewRequest) (int, error) {
	n := 0
	for _, id := range r.LeaseIDs {
		res, err := tx.ExecContext(ctx, `UPDATE caller_leases SET lease_until = ? WHERE lease_id = ? AND lease_until > ?`,
			r.Until.UnixMilli(), id, r.Now.UnixMilli())
		if err != nil {
			return n, err
		}
		k, _ := res.RowsAffected()
		n += int(k)
	}
	return n, nil
}

// ApplyCallerOps applies the router's journal in one BEGIN IMMEDIATE transaction, in
// order: reservations it decided in memory, releases and renewals. A storage failure
// rolls the whole batch back (so the batch can be retried as a whole); problems of
// single ops (an unknown lease) are reported in their results.
func (s *SQLiteStore) ApplyCallerOps(ctx context.Context, ops []CallerOp) ([]CallerOpResult, error) {
	results := make([]CallerOpResult, len(ops))
	err := s.write(ctx, func(tx *sql.Tx) error {
		for i, op := range ops {
			var err error
			switch {
			case op.Record != nil:
				err = recordTx(ctx, tx, *op.Record)
			case op.Release != nil:
				results[i].Released, results[i].Err, err = releaseTx(ctx, tx, *op.Release)
			case op.Renew != nil:
				results[i].Renewed, err = renewTx(ctx, tx, *op.Renew)
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

// LoadCallerState reads the state the router keeps in memory: every caller number
// with its last use and rest, the leases unexpired at q.Now, the counters of days
// from q.SinceDay, the attempts of the last hour, and the health and escalation rows
// since their bounds. It reads one snapshot.
func (s *SQLiteStore) LoadCallerState(ctx context.Context, q CallerStateQuery) (CallerState, error) {
	var st CallerState
	now := q.Now.UnixMilli()
	err := s.read(ctx, func(tx *sql.Tx) error {
		each := func(query string, args []any, scan func(rowScanner) error) error {
			rows, err := tx.QueryContext(ctx, query, args...)
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
		err := each(`SELECT `+callerNumberColumns+` FROM caller_numbers ORDER BY number`, nil, func(r rowScanner) error {
			n, err := scanCallerNumber(r)
			st.Numbers = append(st.Numbers, n)
			return err
		})
		if err != nil {
			return err
		}
		err = each(`SELECT lease_id, number, tenant, callee, call_id, instance, day, acquired_at, lease_until
			FROM caller_leases WHERE lease_until > ?`, []any{now}, func(r rowScanner) error {
			var l LeaseRecord
			var acq, until int64
			err := r.Scan(&l.LeaseID, &l.Number, &l.Tenant, &l.Callee, &l.CallID, &l.Instance, &l.Day, &acq, &until)
			l.AcquiredAt, l.Until = time.UnixMilli(acq).UTC(), time.UnixMilli(until).UTC()
			st.Leases = append(st.Leases, l)
			return err
		})
		if err != nil {
			return err
		}
		// The counters of the last days are most of each table: "+day" makes
		// SQLite scan the table rather than look every row up through the day
		// index (ten times slower for a million rows).
		err = each(`SELECT number, day, calls FROM caller_day_counts WHERE +day >= ? AND calls > 0`, []any{q.SinceDay}, func(r rowScanner) error {
			var c DayCount
			err := r.Scan(&c.Key, &c.Day, &c.Calls)
			st.CallerDays = append(st.CallerDays, c)
			return err
		})
		if err != nil {
			return err
		}
		err = each(`SELECT tenant, callee, day, calls FROM callee_day_counts WHERE +day >= ? AND calls > 0`, []any{q.SinceDay}, func(r rowScanner) error {
			var c CalleeCount
			err := r.Scan(&c.Tenant, &c.Callee, &c.Day, &c.Calls)
			st.CalleeDays = append(st.CalleeDays, c)
			return err
		})
		if err != nil {
			return err
		}
		err = each(`SELECT caller, callee, day, calls FROM pair_day_counts WHERE +day >= ? AND calls > 0`, []any{q.SinceDay}, func(r rowScanner) error {
			var c PairCount
			err := r.Scan(&c.Caller, &c.Callee, &c.Day, &c.Calls)
			st.Pairs = append(st.Pairs, c)
			return err
		})
		if err != nil {
			return err
		}
		err = each(`SELECT number, at, lease_id FROM caller_attempts WHERE at > ? ORDER BY number, at`, []any{now - hourMS}, func(r rowScanner) error {
			var a CallerAttempt
			var at int64
			err := r.Scan(&a.Number, &at, &a.LeaseID)
			a.At = time.UnixMilli(at).UTC()
			st.Attempts = append(st.Attempts, a)
			return err
		})
		if err != nil {
			return err
		}
		err = each(`SELECT number, hour, attempts, answers FROM caller_health WHERE hour >= ?`, []any{UnixHour(q.HealthSince)}, func(r rowScanner) error {
			var h HealthBucket
			err := r.Scan(&h.Number, &h.Hour, &h.Attempts, &h.Answers)
			st.Health = append(st.Health, h)
			return err
		})
		if err != nil {
			return err
		}
		return each(`SELECT tenant, callee, kind, outcome, at FROM callee_escalation WHERE at >= ?`,
			[]any{q.EscalationSince.UnixMilli()}, func(r rowScanner) error {
				var e Escalation
				var kind, outcome string
				var at int64
				err := r.Scan(&e.Tenant, &e.Callee, &kind, &outcome, &at)
				e.Kind, e.Outcome, e.At = NumberKind(kind), Outcome(outcome), time.UnixMilli(at).UTC()
				st.Escalations = append(st.Escalations, e)
				return err
			})
	})
	if err != nil {
		return CallerState{}, fmt.Errorf("pool: load caller state: %w", s.closedOr(err))
	}
	return st, nil
}

// sweepChunk bounds the rows one sweep transaction deletes, so the sweeper never
// holds the write lock for long.
const sweepChunk = 5000

// SweepCallers deletes caller-number state that no decision reads any more: leases
// expired before r.LeasesBefore, counters of days before r.DaysBefore, and attempts,
// health buckets and escalation rows older than their bounds. It deletes in
// transactions of at most a few thousand rows.
func (s *SQLiteStore) SweepCallers(ctx context.Context, r SweepRequest) (SweepResult, error) {
	var res SweepResult
	steps := []struct {
		dst *int64
		q   string
		arg any
	}{
		{&res.Leases, `DELETE FROM caller_leases WHERE number IN
			(SELECT number FROM caller_leases WHERE lease_until < ? LIMIT ?)`, r.LeasesBefore.UnixMilli()},
		{&res.Counters, `DELETE FROM caller_day_counts WHERE (number, day) IN
			(SELECT number, day FROM caller_day_counts WHERE day < ? LIMIT ?)`, r.DaysBefore},
		{&res.Counters, `DELETE FROM callee_day_counts WHERE (tenant, callee, day) IN
			(SELECT tenant, callee, day FROM callee_day_counts WHERE day < ? LIMIT ?)`, r.DaysBefore},
		{&res.Counters, `DELETE FROM pair_day_counts WHERE (callee, day, caller) IN
			(SELECT callee, day, caller FROM pair_day_counts WHERE day < ? LIMIT ?)`, r.DaysBefore},
		{&res.Attempts, `DELETE FROM caller_attempts WHERE (number, at, lease_id) IN
			(SELECT number, at, lease_id FROM caller_attempts WHERE at < ? LIMIT ?)`, r.AttemptsBefore.UnixMilli()},
		{&res.Health, `DELETE FROM caller_health WHERE (number, hour) IN
			(SELECT number, hour FROM caller_health WHERE hour < ? LIMIT ?)`, UnixHour(r.HealthBefore)},
		{&res.Escalations, `DELETE FROM callee_escalation WHERE (tenant, callee) IN
			(SELECT tenant, callee FROM callee_escalation WHERE at < ? LIMIT ?)`, r.EscalationsBefore.UnixMilli()},
	}
	for _, st := range steps {
		for {
			var n int64
			err := s.write(ctx, func(tx *sql.Tx) error {
				out, err := tx.ExecContext(ctx, st.q, st.arg, sweepChunk)
				if err != nil {
					return err
				}
				n, err = out.RowsAffected()
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
