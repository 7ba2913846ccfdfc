package pool

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// This file allocates virtual numbers: CreateBinding and GetOrBind pick the numbers
// and insert the binding in one write transaction (BEGIN IMMEDIATE on the single
// writer), so two requests never see the same free pair.

// maxIdempotencyKey bounds NewBinding.IdempotencyKey, in bytes.
const maxIdempotencyKey = 255

// FieldError is an ErrInvalid about one input of a request. Field names it as the
// business API does: "tenant", "mode", "a", "b", "x", "y", "expiry", "idempotency_key".
type FieldError struct {
	Field string
	Msg   string
}

// Error returns "pool: field: message".
func (e *FieldError) Error() string { return "pool: " + e.Field + ": " + e.Msg }

// Unwrap returns ErrInvalid.
func (e *FieldError) Unwrap() error { return ErrInvalid }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// checkExpiry checks an expiry spec at now and returns it with "" read as never.
func checkExpiry(e ExpirySpec, now time.Time) (ExpirySpec, error) {
	switch e.Type {
	case "", ExpiryNever:
		e.Type = ExpiryNever
		if e.Sec != 0 || !e.At.IsZero() {
			return e, fieldErr("expiry", "type never takes neither seconds nor at")
		}
	case ExpiryAfterBind, ExpiryAfterFirstCall, ExpiryAfterLastCall:
		if e.Sec <= 0 || e.Sec > maxExpirySec {
			return e, fieldErr("expiry", "type %s needs seconds from 1 to %d, got %d", e.Type, int64(maxExpirySec), e.Sec)
		}
		if !e.At.IsZero() {
			return e, fieldErr("expiry", "type %s takes seconds, not at", e.Type)
		}
	case ExpiryAt:
		switch {
		case e.At.IsZero():
			return e, fieldErr("expiry", "type at needs at")
		case !e.At.After(now):
			return e, fieldErr("expiry", "at %s is not in the future", e.At.UTC().Format(time.RFC3339))
		case e.At.Sub(now) > maxExpirySec*time.Second:
			return e, fieldErr("expiry", "at %s is more than 100 years away", e.At.UTC().Format(time.RFC3339))
		case e.Sec != 0:
			return e, fieldErr("expiry", "type at takes at, not seconds")
		}
	default:
		return e, fieldErr("expiry", "unknown type %q: want never, after_bind, after_first_call, after_last_call or at", e.Type)
	}
	return e, nil
}

// checkNew checks the shape of a request for a binding at now; the numbers are
// expected normalised already (the API does that). It returns nb with defaults.
func checkNew(nb NewBinding, now time.Time) (NewBinding, error) {
	switch {
	case nb.Tenant == "":
		return nb, fieldErr("tenant", "is required")
	case nb.Mode != ModeAXN && nb.Mode != ModeAXB && nb.Mode != ModeAXYB:
		return nb, fieldErr("mode", "unknown mode %q: want AXN, AXB or AXYB", nb.Mode)
	case nb.Mode == ModeAXN && nb.A != "":
		return nb, fieldErr("a", "an AXN binding has no party A: anyone calling X reaches B")
	case nb.Mode != ModeAXN && nb.A == "":
		return nb, fieldErr("a", "is required for %s", nb.Mode)
	case nb.B == "":
		return nb, fieldErr("b", "is required")
	case nb.A == nb.B:
		return nb, fieldErr("b", "must differ from a")
	case nb.Y != "" && nb.Mode != ModeAXYB:
		return nb, fieldErr("y", "is only for AXYB bindings")
	case nb.X != "" && nb.X == nb.Y:
		return nb, fieldErr("y", "must differ from x")
	case nb.X != "" && (nb.X == nb.A || nb.X == nb.B):
		return nb, fieldErr("x", "must differ from the parties")
	case nb.Y != "" && (nb.Y == nb.A || nb.Y == nb.B):
		return nb, fieldErr("y", "must differ from the parties")
	case len(nb.IdempotencyKey) > maxIdempotencyKey:
		return nb, fieldErr("idempotency_key", "is longer than %d bytes", maxIdempotencyKey)
	}
	var err error
	nb.Expiry, err = checkExpiry(nb.Expiry, now)
	return nb, err
}

// requestHash identifies what a create asked for, for idempotency: every input but
// the pools (the policy may change between a request and its retry) and the key.
func (nb NewBinding) requestHash() string {
	h := sha256.New()
	at := ""
	if !nb.Expiry.At.IsZero() {
		at = strconv.FormatInt(nb.Expiry.At.UnixMilli(), 10)
	}
	for _, f := range []string{nb.Tenant, string(nb.Mode), nb.A, nb.B, nb.X, nb.Y, nb.City, nb.Channel,
		string(nb.Expiry.Type), strconv.FormatInt(nb.Expiry.Sec, 10), at} {
		h.Write([]byte(f))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// CreateBinding binds a virtual number (for AXYB two, X and Y) from nb.Pools to
// nb's parties, keeping the invariant "at most one active binding per (virtual
// number, party)", and returns the binding. Picking and inserting are one write
// transaction. When no number can carry it, the error is an *AllocationError
// (ErrNoNumber, or ErrConflict for a requested X or Y that is taken). With an
// idempotency key already used by the tenant, it returns the binding that key made
// and replayed = true if the request is the same, else ErrIdempotencyKey. A bad
// request is a *FieldError (ErrInvalid).
func (s *SQLiteStore) CreateBinding(ctx context.Context, nb NewBinding) (b BindingRecord, replayed bool, err error) {
	now := s.now()
	if nb, err = checkNew(nb, now); err != nil {
		return BindingRecord{}, false, err
	}
	rules := s.bindingRules()
	hash := ""
	if nb.IdempotencyKey != "" {
		hash = nb.requestHash()
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		now := s.now() // under the write lock: times follow commit order
		if nb.IdempotencyKey != "" {
			var id int64
			var stored string
			err := tx.QueryRowContext(ctx, idempotencyQuery, nb.Tenant, nb.IdempotencyKey).Scan(&id, &stored)
			switch {
			case err == nil && stored != hash:
				return ErrIdempotencyKey
			case err == nil:
				replayed = true
				b, err = bindingTx(ctx, tx, id)
				return err
			case !errors.Is(err, sql.ErrNoRows):
				return err
			}
		}
		var err error
		b, err = allocate(ctx, tx, nb, hash, rules, now)
		return err
	})
	if err != nil {
		return BindingRecord{}, false, s.wrapBindErr("create", nb, err)
	}
	return b, replayed, nil
}

// GetOrBind returns the tenant's active binding of nb's mode between nb.A and nb.B
// (for AXB in either order; for AXN, of B alone), or, if there is none (never bound,
// or unbound, expired or reclaimed since), binds one as CreateBinding does;
// created says which. Lookup and bind are one write transaction, so concurrent
// calls for one pair make one binding. nb.IdempotencyKey is ignored.
func (s *SQLiteStore) GetOrBind(ctx context.Context, nb NewBinding) (b BindingRecord, created bool, err error) {
	now := s.now()
	nb.IdempotencyKey = ""
	if nb, err = checkNew(nb, now); err != nil {
		return BindingRecord{}, false, err
	}
	rules := s.bindingRules()
	err = s.write(ctx, func(tx *sql.Tx) error {
		now := s.now() // under the write lock: times follow commit order
		found, ok, err := pairBinding(ctx, tx, nb.Tenant, nb.Mode, nb.A, nb.B, now)
		if err == nil && !ok && nb.Mode == ModeAXB {
			found, ok, err = pairBinding(ctx, tx, nb.Tenant, nb.Mode, nb.B, nb.A, now)
		}
		if err != nil || ok {
			b = found
			return err
		}
		b, err = allocate(ctx, tx, nb, "", rules, now)
		created = err == nil
		return err
	})
	if err != nil {
		return BindingRecord{}, false, s.wrapBindErr("get or bind", nb, err)
	}
	return b, created, nil
}

// idempotencyQuery finds the binding a tenant's idempotency key made, by the partial
// index bindings_idempotency, which the query may use only because it also asks that
// the key be non-empty.
const idempotencyQuery = `SELECT id, idem_hash FROM bindings WHERE tenant = ? AND idem_key = ? AND idem_key <> ''`

// pairQuery finds the newest active binding of a tenant's party pair, by the index
// bindings_by_pair.
const pairQuery = `SELECT ` + bindingDetailColumns + ` FROM bindings
	WHERE tenant = ?1 AND party_a = ?2 AND party_b = ?3 AND deleted_at IS NULL AND mode = ?4
	  AND (ends_at IS NULL OR ends_at > ?5)
	ORDER BY id DESC LIMIT 1`

// pairBinding returns the newest active binding of mode between a and b, if any.
func pairBinding(ctx context.Context, tx *sql.Tx, tenant string, mode Mode, a, b string, now time.Time) (BindingRecord, bool, error) {
	r, err := scanBindingDetail(tx.QueryRowContext(ctx, pairQuery, tenant, a, b, mode, now.UnixMilli()))
	if errors.Is(err, sql.ErrNoRows) {
		return BindingRecord{}, false, nil
	}
	return r, err == nil, err
}

// wrapBindErr adds context to an error of CreateBinding or GetOrBind, keeping typed
// errors as they are so callers can errors.As them.
func (s *SQLiteStore) wrapBindErr(op string, nb NewBinding, err error) error {
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

// candidate is a virtual number picked for a binding.
type candidate struct {
	number, pool, trunk string
}

// pickQuery finds the least-bound available number of pool ?1 that can take a
// shared binding (AXB, AXYB) for parties ?4 and ?5: below the cap ?2, and neither
// party nor an AXN binding holding or cooling on it at ?3 (unix ms). It is never
// one of the parties ?6, ?7 nor ?8 (the X of an AXYB, when picking its Y); ?9, if
// set, is the one number wanted. virtual_numbers_by_load yields the pool's numbers
// in the wanted order, and each candidate costs three primary-key probes.
const pickQuery = `SELECT n.number, n.pool, n.trunk FROM virtual_numbers AS n
	WHERE n.pool = ?1 AND n.state = 'available' AND n.bound < ?2
	  AND n.number NOT IN (?6, ?7, ?8) AND (?9 = '' OR n.number = ?9)
	  AND NOT EXISTS (SELECT 1 FROM binding_parties AS p
	                  WHERE p.number = n.number AND p.party IN (?4, ?5, '*')
	                    AND (p.cooling_until IS NULL OR p.cooling_until > ?3))
	ORDER BY n.bound, n.number LIMIT 1`

// pickExclusiveQuery is pickQuery for an AXN binding, which holds its number alone:
// no live binding on it and no pair cooling on it. ?2, ?4 and ?5 are unused.
const pickExclusiveQuery = `SELECT n.number, n.pool, n.trunk FROM virtual_numbers AS n
	WHERE n.pool = ?1 AND n.state = 'available' AND n.bound = 0
	  AND n.number NOT IN (?6, ?7, ?8) AND (?9 = '' OR n.number = ?9)
	  AND NOT EXISTS (SELECT 1 FROM binding_parties AS p
	                  WHERE p.number = n.number AND (p.cooling_until IS NULL OR p.cooling_until > ?3))
	ORDER BY n.number LIMIT 1`

// pickSpec is what one number of a binding must satisfy.
type pickSpec struct {
	field     string   // "x" or "y", for errors about a wanted number
	want      string   // the number asked for, or ""
	parties   []string // the parties it will carry; none: exclusive (AXN)
	exclude   string   // a number it must not be (X, when picking Y)
	avoidA    string   // the binding's parties, which are never virtual numbers of it
	avoidB    string
	allowPool []string // the pools to search, in order
}

// pick finds a number for spec, or says why there is none.
func pick(ctx context.Context, tx *sql.Tx, spec pickSpec, rules BindingRules, now time.Time) (candidate, error) {
	if len(spec.allowPool) == 0 {
		return candidate{}, &AllocationError{Reason: ReasonNoPool, err: ErrNoNumber}
	}
	query := pickQuery
	p1, p2 := "", ""
	switch len(spec.parties) {
	case 0:
		query = pickExclusiveQuery
	case 1:
		p1, p2 = spec.parties[0], spec.parties[0]
	default:
		p1, p2 = spec.parties[0], spec.parties[1]
	}
	try := func(pool string) (candidate, bool, error) {
		var c candidate
		err := tx.QueryRowContext(ctx, query, pool, rules.MaxPerNumber, now.UnixMilli(), p1, p2,
			spec.avoidA, spec.avoidB, spec.exclude, spec.want).Scan(&c.number, &c.pool, &c.trunk)
		if errors.Is(err, sql.ErrNoRows) {
			return c, false, nil
		}
		return c, err == nil, err
	}
	if spec.want != "" {
		var pool string
		err := tx.QueryRowContext(ctx, `SELECT pool FROM virtual_numbers WHERE number = ?`, spec.want).Scan(&pool)
		if errors.Is(err, sql.ErrNoRows) || err == nil && !slices.Contains(spec.allowPool, pool) {
			return candidate{}, fieldErr(spec.field, "%s is not a virtual number of pools %s", spec.want, strings.Join(spec.allowPool, ", "))
		}
		if err != nil {
			return candidate{}, err
		}
		c, ok, err := try(pool)
		if err != nil || ok {
			return c, err
		}
		return candidate{}, &AllocationError{Reason: ReasonNumberTaken, Number: spec.want,
			Party: takenParty(ctx, tx, spec.want, spec.parties, now), err: ErrConflict}
	}
	for _, pool := range spec.allowPool {
		c, ok, err := try(pool)
		if err != nil || ok {
			return c, err
		}
	}
	reason, err := diagnose(ctx, tx, spec, rules, now)
	if err != nil {
		return candidate{}, err
	}
	return candidate{}, &AllocationError{Reason: reason, Pools: spec.allowPool, err: ErrNoNumber}
}

// takenParty returns the first of parties holding or cooling on number, or "".
func takenParty(ctx context.Context, tx *sql.Tx, number string, parties []string, now time.Time) string {
	for _, p := range parties {
		var n int
		err := tx.QueryRowContext(ctx, `SELECT count(*) FROM binding_parties WHERE number = ? AND party = ?
			AND (cooling_until IS NULL OR cooling_until > ?)`, number, p, now.UnixMilli()).Scan(&n)
		if err == nil && n > 0 {
			return p
		}
	}
	return ""
}

// diagnose says why no number of spec's pools could be picked: the pools have no
// allocatable numbers, none with room, or the request's parties are taken on every
// one with room.
func diagnose(ctx context.Context, tx *sql.Tx, spec pickSpec, rules BindingRules, now time.Time) (AllocReason, error) {
	room := `n.bound < ?2 AND NOT EXISTS (SELECT 1 FROM binding_parties AS p WHERE p.number = n.number
		AND p.party = '*' AND (p.cooling_until IS NULL OR p.cooling_until > ?3))`
	if len(spec.parties) == 0 {
		room = `n.bound = 0 AND NOT EXISTS (SELECT 1 FROM binding_parties AS p WHERE p.number = n.number
			AND (p.cooling_until IS NULL OR p.cooling_until > ?3))`
	}
	var total, withRoom int
	for _, pool := range spec.allowPool {
		var t, r int
		err := tx.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(CASE WHEN `+room+` THEN 1 ELSE 0 END), 0)
			FROM virtual_numbers AS n WHERE n.pool = ?1 AND n.state = 'available'`,
			pool, rules.MaxPerNumber, now.UnixMilli()).Scan(&t, &r)
		if err != nil {
			return "", err
		}
		total, withRoom = total+t, withRoom+r
	}
	switch {
	case total == 0:
		return ReasonNoNumbers, nil
	case withRoom == 0:
		return ReasonAllBusy, nil
	}
	return ReasonPartyBound, nil
}

// allocate picks the numbers for nb and inserts the binding, inside tx.
func allocate(ctx context.Context, tx *sql.Tx, nb NewBinding, hash string, rules BindingRules, now time.Time) (BindingRecord, error) {
	spec := pickSpec{field: "x", want: nb.X, avoidA: nb.A, avoidB: nb.B, allowPool: nb.Pools}
	switch nb.Mode {
	case ModeAXB:
		spec.parties = []string{nb.A, nb.B}
	case ModeAXYB:
		spec.parties = []string{nb.A}
	}
	x, err := pick(ctx, tx, spec, rules, now)
	if err != nil {
		return BindingRecord{}, err
	}
	var y candidate
	if nb.Mode == ModeAXYB {
		spec = pickSpec{field: "y", want: nb.Y, parties: []string{nb.B}, exclude: x.number,
			avoidA: nb.A, avoidB: nb.B, allowPool: nb.Pools}
		if y, err = pick(ctx, tx, spec, rules, now); err != nil {
			return BindingRecord{}, err
		}
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO bindings (tenant, mode, virtual, party_a, party_b, y, trunk,
		y_trunk, static, expiry_type, expiry_sec, expire_at, created_at, city, channel, pool, idem_key, idem_hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		nb.Tenant, nb.Mode, x.number, nb.A, nb.B, y.number, x.trunk, y.trunk,
		nb.Expiry.Type, nb.Expiry.Sec, ms(nb.Expiry.At), now.UnixMilli(), nb.City, nb.Channel, x.pool,
		nb.IdempotencyKey, hash)
	if err != nil {
		return BindingRecord{}, err
	}
	id, err := res.LastInsertId()
	if err != nil {
		return BindingRecord{}, err
	}
	b := Binding{ID: id, Mode: nb.Mode, Virtual: x.number, A: nb.A, B: nb.B, Y: y.number}
	if err := claimParties(ctx, tx, id, holdings(b), now); err != nil {
		return BindingRecord{}, err
	}
	if err := adjustBound(ctx, tx, +1, x.number, y.number); err != nil {
		return BindingRecord{}, err
	}
	return bindingTx(ctx, tx, id)
}

// bindingTx reads binding id, whatever its state, inside tx.
func bindingTx(ctx context.Context, tx *sql.Tx, id int64) (BindingRecord, error) {
	b, err := scanBindingDetail(tx.QueryRowContext(ctx, `SELECT `+bindingDetailColumns+` FROM bindings WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return BindingRecord{}, fmt.Errorf("binding %d: %w", id, ErrNotFound)
	}
	return b, err
}
