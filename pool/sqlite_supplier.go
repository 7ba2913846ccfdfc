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

// NumberStateChange is a virtual number's state before and after a report.
type NumberStateChange struct {
	Number, Pool, Supplier string
	// Before and After are virtual_numbers states: available, blocked or retired.
	Before, After string
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
			return fmt.Errorf("%w: supplier %s has no virtual number %s", ErrNotFound, supplier, number)
		}
		if err != nil || ch.Before == after {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE virtual_numbers SET state = ?, synced_at = ? WHERE number = ?`,
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
