package pool

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// This file keeps the invariant "at most one active binding per (virtual number,
// party)" in the table binding_parties, whose primary key is (number, party): a live
// binding holds one row per pair it routes, an ended one leaves its rows cooling down
// until cooling_until. Every function here runs inside the caller's write
// transaction.

// anyParty is the party an AXN binding holds: its whole number, for every caller.
const anyParty = "*"

// holding is one (virtual number, party) pair a binding routes.
type holding struct{ number, party string }

// holdings returns the pairs binding b routes: AXN holds (X, *); AXB (X, A) and
// (X, B); AXYB (X, A), on which A reaches B, and (Y, B), on which B reaches A.
func holdings(b Binding) []holding {
	switch b.Mode {
	case ModeAXN:
		return []holding{{b.Virtual, anyParty}}
	case ModeAXB:
		return []holding{{b.Virtual, b.A}, {b.Virtual, b.B}}
	case ModeAXYB:
		return []holding{{b.Virtual, b.A}, {b.Y, b.B}}
	}
	return nil
}

// claimParties makes binding id hold hs. A pair whose cool-down is over is taken
// over; a pair held or cooling is an ErrConflict (allocation checked before, so this
// is the constraint of last resort).
func claimParties(ctx context.Context, tx *sql.Tx, id int64, hs []holding, now time.Time) error {
	for _, h := range hs {
		res, err := tx.ExecContext(ctx, `INSERT INTO binding_parties (number, party, binding_id) VALUES (?1, ?2, ?3)
			ON CONFLICT (number, party) DO UPDATE SET binding_id = ?3, cooling_until = NULL
			WHERE binding_parties.cooling_until IS NOT NULL AND binding_parties.cooling_until <= ?4`,
			h.number, h.party, id, now.UnixMilli())
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err != nil {
				return err
			}
			return &AllocationError{Reason: ReasonNumberTaken, Number: h.number, Party: h.party, err: ErrConflict}
		}
	}
	return nil
}

// claimStaticParties makes static binding b hold its pairs, taking them over from
// whoever holds them: the config wins.
func claimStaticParties(ctx context.Context, tx *sql.Tx, b Binding) error {
	for _, h := range holdings(b) {
		if _, err := tx.ExecContext(ctx, `INSERT INTO binding_parties (number, party, binding_id) VALUES (?, ?, ?)
			ON CONFLICT (number, party) DO UPDATE SET binding_id = excluded.binding_id, cooling_until = NULL`,
			h.number, h.party, b.ID); err != nil {
			return err
		}
	}
	return nil
}

// releaseParties ends binding id's hold on its pairs (all of them, or only hs if
// given): they cool down until now+cool, or are freed at once if cool <= 0.
func releaseParties(ctx context.Context, tx *sql.Tx, id int64, now time.Time, cool time.Duration, hs ...holding) error {
	var err error
	switch {
	case len(hs) == 0 && cool <= 0:
		err = dropParties(ctx, tx, id)
	case len(hs) == 0:
		_, err = tx.ExecContext(ctx, `UPDATE binding_parties SET cooling_until = ?
			WHERE binding_id = ? AND cooling_until IS NULL`, now.Add(cool).UnixMilli(), id)
	default:
		for _, h := range hs {
			if cool <= 0 {
				_, err = tx.ExecContext(ctx, `DELETE FROM binding_parties
					WHERE number = ? AND party = ? AND binding_id = ? AND cooling_until IS NULL`, h.number, h.party, id)
			} else {
				_, err = tx.ExecContext(ctx, `UPDATE binding_parties SET cooling_until = ?
					WHERE number = ? AND party = ? AND binding_id = ? AND cooling_until IS NULL`,
					now.Add(cool).UnixMilli(), h.number, h.party, id)
			}
			if err != nil {
				break
			}
		}
	}
	return err
}

// dropParties frees the pairs binding id holds, without cool-down.
func dropParties(ctx context.Context, tx *sql.Tx, id int64) error {
	_, err := tx.ExecContext(ctx, `DELETE FROM binding_parties WHERE binding_id = ? AND cooling_until IS NULL`, id)
	return err
}

// adjustBound adds delta to the live-binding count of each of numbers that is a
// virtual number of a pool (others, and "", are ignored).
func adjustBound(ctx context.Context, tx *sql.Tx, delta int, numbers ...string) error {
	for _, n := range numbers {
		if n == "" {
			continue
		}
		if _, err := tx.ExecContext(ctx, `UPDATE virtual_numbers SET bound = max(bound + ?, 0) WHERE number = ?`,
			delta, n); err != nil {
			return err
		}
	}
	return nil
}

// endBinding soft-deletes live binding b for reason at now: the row stays (a call in
// progress keeps its binding; history), its pairs cool down for cool, and its
// numbers' counts drop. It does nothing to a binding already deleted.
func endBinding(ctx context.Context, tx *sql.Tx, b Binding, reason EndReason, now time.Time, cool time.Duration) error {
	res, err := tx.ExecContext(ctx, `UPDATE bindings SET deleted_at = ?1, end_reason = ?2, updated_at = ?1
		WHERE id = ?3 AND deleted_at IS NULL`, now.UnixMilli(), reason, b.ID)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return err
	}
	if err := releaseParties(ctx, tx, b.ID, now, cool); err != nil {
		return fmt.Errorf("release parties of binding %d: %w", b.ID, err)
	}
	return adjustBound(ctx, tx, -1, b.Virtual, b.Y)
}
