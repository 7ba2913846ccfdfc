package configs

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Kinds of configuration problems. Every *Error wraps exactly one of them, so callers
// can test the kind with errors.Is on the error Load returns.
var (
	// ErrRead means a config file, trunk file or password file could not be read.
	ErrRead = errors.New("cannot read file")
	// ErrSyntax means a file is not well-formed YAML.
	ErrSyntax = errors.New("YAML syntax error")
	// ErrUnknownField means a key is not part of the schema (often a typo).
	ErrUnknownField = errors.New("unknown field")
	// ErrDuplicateKey means a key appears twice in one mapping.
	ErrDuplicateKey = errors.New("duplicate key")
	// ErrType means a value has the wrong YAML type, e.g. text where a number belongs.
	ErrType = errors.New("wrong type")
	// ErrInvalid means a value is well-typed but not allowed (out of range, malformed,
	// a reference to something that does not exist, a duplicate name).
	ErrInvalid = errors.New("invalid value")
	// ErrSecret means a secret (a trunk's digest password, an agent's login token)
	// could not be resolved: its environment variable or file is missing or empty.
	ErrSecret = errors.New("secret unavailable")
)

// maxErrors bounds how many problems one load reports; the rest are summarised.
const maxErrors = 100

// Error is one problem found in a configuration file. Its text is
// "file:line: message", or "file: message" when the problem concerns a whole file.
type Error struct {
	// File is the path the problem is in, as given to Load or joined from a trunk_files
	// pattern; "(built-in default)" for the embedded default config.
	File string
	// Line is the 1-based line of the offending key or list item; 0 if unknown.
	Line int
	// Msg says what is wrong, prefixed by where in the config it is, e.g.
	// `trunk "carrier-a": inbound_cidrs[1]: invalid CIDR "10.0.0.300/24"`.
	Msg string
	// Kind is one of the Err… sentinels of this package.
	Kind error
	// Cause is the underlying error, if any (an *fs.PathError, a *yaml.LoadError, …).
	Cause error
}

// Error returns "file:line: message".
func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Unwrap returns the kind sentinel and the cause, so errors.Is and errors.As see both.
func (e *Error) Unwrap() []error {
	if e.Cause == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Cause}
}

// ErrorList is every problem found by one Load, in file order then line order. Its
// text is one "file:line: message" per line.
type ErrorList []*Error

// Error returns the problems, one per line.
func (l ErrorList) Error() string {
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Unwrap returns the individual problems, so errors.Is(err, ErrUnknownField) reports
// whether any problem is of that kind.
func (l ErrorList) Unwrap() []error {
	out := make([]error, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}

// problems collects Errors during one load. The zero value is ready to use.
type problems struct {
	list    ErrorList
	dropped int
}

// add records a problem.
func (p *problems) add(kind error, file string, line int, cause error, format string, args ...any) {
	if p.full() {
		p.dropped++
		return
	}
	p.push(&Error{File: file, Line: line, Msg: fmt.Sprintf(format, args...), Kind: kind, Cause: cause})
}

// full reports whether no more problems are kept (further ones are only counted).
func (p *problems) full() bool { return len(p.list) >= maxErrors }

// push records a problem already made into an Error.
func (p *problems) push(e *Error) {
	if p.full() {
		p.dropped++
		return
	}
	p.list = append(p.list, e)
}

// decodeProblemAt reports whether a wrong type or a duplicate key was found at
// file:line.
func (p *problems) decodeProblemAt(file string, line int) bool {
	for _, e := range p.list {
		if e.File == file && e.Line == line && (e.Kind == ErrType || e.Kind == ErrDuplicateKey) {
			return true
		}
	}
	return false
}

// err returns the collected problems sorted by file (in the order given) and line,
// or nil if there are none.
func (p *problems) err(fileOrder []string) error {
	if len(p.list) == 0 {
		return nil
	}
	rank := make(map[string]int, len(fileOrder))
	for i, f := range fileOrder {
		if _, ok := rank[f]; !ok {
			rank[f] = i
		}
	}
	out := make(ErrorList, len(p.list))
	copy(out, p.list)
	slices.SortStableFunc(out, func(a, b *Error) int {
		return cmp.Or(
			cmp.Compare(fileRank(rank, a.File), fileRank(rank, b.File)),
			strings.Compare(a.File, b.File),
			cmp.Compare(a.Line, b.Line),
		)
	})
	if p.dropped > 0 {
		last := out[len(out)-1]
		out = append(out, &Error{File: last.File, Msg: fmt.Sprintf("… and %d more problems", p.dropped), Kind: ErrInvalid})
	}
	return out
}

// fileRank orders files as they were read; unknown files sort last.
func fileRank(rank map[string]int, file string) int {
	if r, ok := rank[file]; ok {
		return r
	}
	return len(rank)
}
