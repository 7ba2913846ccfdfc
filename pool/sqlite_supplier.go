package pool

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// This file applies what suppliers report about their virtual numbers (the supplier
// endpoint, web/supplier.go): a blocked number is never allocated to a new binding
// until it is restored; a withdrawn one is retired (the bindings it carries route
// until they end, as for a number removed from the config).

// NumberReport is what a supplier says of one of its numbers.
type NumberReport string

// The reports a supplier may make.
const (
	ReportBlocked   NumberReport = "blocked"
	ReportRestored  NumberReport = "restored"
	ReportWithdrawn NumberReport = "withdrawn"
)

// NumberStateChange is a number's state before and after a report.
type NumberStateChange struct {
	Number, Pool, Supplier string
	// Before and After are virtual_numbers states: available, blocked or retired.
	Before, After string
	// Caller is set when the number is one of the tenants' caller numbers (not a
	// virtual number): a blocked or withdrawn one rests, with RestReason, until the
	// supplier restores it. Tenant is its tenant.
	Caller     bool
	Tenant     string
	RestReason string
}

// Caller numbers a supplier blocked or withdrew rest until this instant (the end of
// year 9999) with a reason that starts with SupplierRestPrefix; restoring clears only
// such a rest, never one the number's own answer rate earned.
const (
	SupplierRestUntil  int64 = 253402300799000
	SupplierRestPrefix       = "supplier: "
)

// callerReportState maps a caller number's rest to a report state.
func callerReportState(reason string) string {
	switch reason {
	case SupplierRestPrefix + string(ReportBlocked):
		return "blocked"
	case SupplierRestPrefix + string(ReportWithdrawn):
		return "retired"
	}
	return "available"
}

// callerRest is the rest a report puts on a caller number: until and reason, or
// zero and "" for restored.
func callerRest(r NumberReport) (any, string) {
	if r == ReportRestored {
		return nil, ""
	}
	return SupplierRestUntil, SupplierRestPrefix + string(r)
}

// ReportNumber applies supplier's report r on number, in one write transaction. A
// number that does not exist, or is another supplier's, is ErrNotFound (a supplier
// learns nothing of others' numbers); an unknown report is ErrInvalid. Restoring a
// withdrawn number makes it available again; reports that change nothing succeed.
func (s *SQLiteStore) ReportNumber(ctx context.Context, supplier, number string, r NumberReport) (NumberStateChange, error) {
	var after string
	switch r {
	case ReportBlocked:
		after = "blocked"
	case ReportRestored:
		after = "available"
	case ReportWithdrawn:
		after = "retired"
	default:
		return NumberStateChange{}, fmt.Errorf("pool: report number: %w: report %q: want blocked, restored or withdrawn", ErrInvalid, r)
	}
	ch := NumberStateChange{Number: number, Supplier: supplier, After: after}
	err := s.write(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT pool, state FROM virtual_numbers WHERE number = ? AND supplier = ?`,
			number, supplier).Scan(&ch.Pool, &ch.Before)
		if errors.Is(err, sql.ErrNoRows) {
			return reportCaller(ctx, tx, &ch, r)
		}
		if err != nil || ch.Before == after {
			return err
		}
		// withdrawn_at keeps a withdrawn number retired through config syncs.
		_, err = tx.ExecContext(ctx, `UPDATE virtual_numbers SET state = ?1, synced_at = ?2,
			withdrawn_at = CASE WHEN ?1 = 'retired' THEN ?2 END WHERE number = ?3`,
			after, s.now().UnixMilli(), number)
		return err
	})
	if err != nil {
		return NumberStateChange{}, fmt.Errorf("pool: report number: %w", err)
	}
	if ch.Before != ch.After {
		s.log.InfoContext(ctx, "supplier reported a number", "supplier", supplier, "number", number, "report", string(r),
			"pool", ch.Pool, "from", ch.Before, "to", ch.After)
	}
	return ch, nil
}

// reportCaller applies report r to ch.Number as a caller number of ch.Supplier.
func reportCaller(ctx context.Context, tx *sql.Tx, ch *NumberStateChange, r NumberReport) error {
	var reason string
	err := tx.QueryRowContext(ctx, `SELECT pool, tenant, rest_reason FROM caller_numbers WHERE number = ? AND supplier = ?`,
		ch.Number, ch.Supplier).Scan(&ch.Pool, &ch.Tenant, &reason)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: supplier %s has no number %s", ErrNotFound, ch.Supplier, ch.Number)
	}
	if err != nil {
		return err
	}
	ch.Caller, ch.Before = true, callerReportState(reason)
	until, rest := callerRest(r)
	if r == ReportRestored && ch.Before == "available" {
		ch.After, ch.RestReason = "available", reason // a rest of its own stays
		return nil
	}
	ch.RestReason = rest
	if ch.Before == ch.After {
		return nil
	}
	_, err = tx.ExecContext(ctx, `UPDATE caller_numbers SET resting_until = ?, rest_reason = ? WHERE number = ?`,
		until, rest, ch.Number)
	return err
}
