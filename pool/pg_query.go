package pool

import (
	"strconv"
	"strings"
)

// pgWhere builds the WHERE clause of a PostgreSQL query from conditions written
// with "?" placeholders, numbering them $1, $2, … in order of addition. The
// conditions are the store's own SQL: a "?" never stands inside a literal.
type pgWhere struct {
	conds []string
	args  []any
}

// add appends cond, whose "?" placeholders take vals in order.
func (w *pgWhere) add(cond string, vals ...any) {
	var b strings.Builder
	i := 0
	for _, r := range cond {
		if r == '?' && i < len(vals) {
			w.args = append(w.args, vals[i])
			i++
			b.WriteString("$" + strconv.Itoa(len(w.args)))
			continue
		}
		b.WriteRune(r)
	}
	w.conds = append(w.conds, b.String())
}

// arg appends v as the next argument and returns its placeholder.
func (w *pgWhere) arg(v any) string {
	w.args = append(w.args, v)
	return "$" + strconv.Itoa(len(w.args))
}

// sql returns " WHERE c1 AND c2 …", or "" without conditions.
func (w *pgWhere) sql() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}
