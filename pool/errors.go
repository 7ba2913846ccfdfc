package pool

import "errors"

// The errors of package pool. Functions wrap them with %w and context; test with
// errors.Is.
var (
	// ErrNotFound means the record asked for (a call, a binding) does not exist.
	ErrNotFound = errors.New("not found")
	// ErrExists means a record with the same identity (call ID, static binding
	// identity) is already stored.
	ErrExists = errors.New("already exists")
	// ErrInvalid means a record or argument breaks the rules of its type (a binding
	// without party B, an AXYB binding without Y, a call without ID, …).
	ErrInvalid = errors.New("invalid")
	// ErrClosed means the store was used after Close.
	ErrClosed = errors.New("store closed")
	// ErrSchemaTooNew means the database was migrated by a newer callgate than this
	// one; this binary refuses to write to a schema it does not know.
	ErrSchemaTooNew = errors.New("database schema is newer than this binary")
)
