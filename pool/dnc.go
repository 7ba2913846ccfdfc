package pool

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// DNCEntry is one number on a do-not-call list.
type DNCEntry struct {
	// Tenant owns the list; "" is the global list every tenant obeys.
	Tenant string
	// Number is normalised E.164: every way of writing a number is one entry.
	Number  string
	AddedAt time.Time
	// Source says where the entry came from: "api", "csv:<file>", "complaint", ….
	Source string
}

// DNCFilter selects entries of one list for ListDoNotCall.
type DNCFilter struct {
	Tenant string // "" for the global list
	// After is the last number of the previous page (keyset paging); "" for the
	// first page.
	After string
	// Limit bounds the page; 0 means 1000.
	Limit int
}

// DNCLineError is a line of a do-not-call CSV file that holds no usable number.
type DNCLineError struct {
	Line  int    // 1-based
	Input string // the number as written (at most 64 bytes)
	Err   error
}

// Error returns "line N: "input": reason".
func (e *DNCLineError) Error() string {
	return fmt.Sprintf("line %d: %q: %v", e.Line, e.Input, e.Err)
}

// Unwrap returns the reason.
func (e *DNCLineError) Unwrap() error { return e.Err }

// Limits of ParseDNCCSV.
const (
	dncMaxRows     = 5_000_000
	dncMaxField    = 256
	dncMaxProblems = 1000
)

// ErrTooManyRows means a do-not-call file holds more rows than one import takes.
var ErrTooManyRows = errors.New("too many rows")

// ParseDNCCSV reads a do-not-call list in CSV: one number per row in the first
// column, an optional source in the second (default: none). A first row whose first
// field holds no digit is a header and is skipped; so are blank rows and rows
// starting with '#'. A UTF-8 byte order mark is ignored. normalize turns each number,
// written in any format, into E.164; rows it rejects are returned as problems (at most
// 1000, with line numbers) and do not stop the parse. A number listed twice is
// returned once, with its first source. The error is for unreadable input (bad
// quoting, I/O, more than 5,000,000 rows).
func ParseDNCCSV(r io.Reader, normalize func(string) (string, error)) ([]DNCEntry, []*DNCLineError, error) {
	br := bufio.NewReader(r)
	if b, err := br.Peek(3); err == nil && bytes.Equal(b, []byte{0xEF, 0xBB, 0xBF}) {
		_, _ = br.Discard(3)
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	cr.Comment = '#'
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = true
	var out []DNCEntry
	var probs []*DNCLineError
	seen := map[string]bool{}
	first := true
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, probs, fmt.Errorf("pool: do-not-call CSV: %w", err)
		}
		line, _ := cr.FieldPos(0)
		raw := strings.TrimSpace(rec[0])
		if first {
			first = false
			if !strings.ContainsAny(raw, "0123456789０１２３４５６７８９") {
				continue // a header
			}
		}
		if raw == "" && len(rec) == 1 {
			continue
		}
		if len(out) >= dncMaxRows {
			return nil, probs, fmt.Errorf("pool: do-not-call CSV: %w: more than %d", ErrTooManyRows, dncMaxRows)
		}
		n, err := normalize(raw)
		if err == nil && !isE164(n) {
			err = fmt.Errorf("%w: normalised to %q, not E.164", ErrInvalid, n)
		}
		if err != nil {
			if len(probs) < dncMaxProblems {
				probs = append(probs, &DNCLineError{Line: line, Input: clip(raw, 64), Err: err})
			}
			continue
		}
		if seen[n] {
			continue
		}
		seen[n] = true
		e := DNCEntry{Number: n}
		if len(rec) > 1 {
			e.Source = clip(strings.TrimSpace(rec[1]), dncMaxField)
		}
		out = append(out, e)
	}
	return out, probs, nil
}

// clip shortens s to at most n bytes without splitting a UTF-8 sequence.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
