package benchkit

import (
	"bufio"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// SIPpRow is one line of a SIPp -trace_stat file: counters as of At. Fields ending in
// (C) are cumulative since the start, (P) since the previous line.
type SIPpRow struct {
	At     time.Time
	Fields map[string]string
}

// Int returns a counter of the row, 0 if absent.
func (r SIPpRow) Int(name string) int64 {
	v, _ := strconv.ParseInt(strings.TrimSpace(r.Fields[name]), 10, 64)
	return v
}

// Float returns a rate of the row, 0 if absent.
func (r SIPpRow) Float(name string) float64 {
	v, _ := strconv.ParseFloat(strings.TrimSpace(r.Fields[name]), 64)
	return v
}

// Calls is the cumulative count of calls created (outgoing for a UAC, incoming
// for a UAS).
func (r SIPpRow) Calls() int64 { return r.Int("OutgoingCall(C)") + r.Int("IncomingCall(C)") }

// Failures names every cumulative Failed…(C) counter that is not zero, with its
// count, except the FailedCall(C) total.
func (r SIPpRow) Failures() map[string]int64 {
	out := map[string]int64{}
	for k := range r.Fields {
		if strings.HasPrefix(k, "Failed") && strings.HasSuffix(k, "(C)") && k != "FailedCall(C)" {
			if n := r.Int(k); n > 0 {
				out[strings.TrimSuffix(strings.TrimPrefix(k, "Failed"), "(C)")] = n
			}
		}
	}
	return out
}

// FailureSummary formats Failures as "Kind=n, …" in a stable order.
func (r SIPpRow) FailureSummary() string {
	f := r.Failures()
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, f[k]))
	}
	return strings.Join(parts, ", ")
}

// ReadSIPpStats parses a SIPp -trace_stat (-stf) file.
func ReadSIPpStats(path string) ([]SIPpRow, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	var header []string
	var rows []SIPpRow
	for sc.Scan() {
		cols := strings.Split(strings.TrimRight(sc.Text(), ";"), ";")
		if header == nil {
			header = cols
			continue
		}
		r := SIPpRow{Fields: make(map[string]string, len(header))}
		for i, h := range header {
			if i < len(cols) {
				r.Fields[h] = cols[i]
			}
		}
		// CurrentTime is "date<TAB>time<TAB>epoch.micros".
		if ct := strings.Fields(r.Fields["CurrentTime"]); len(ct) > 0 {
			if sec, err := strconv.ParseFloat(ct[len(ct)-1], 64); err == nil {
				r.At = time.Unix(0, int64(sec*1e9))
			}
		}
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%s: no statistics rows", path)
	}
	return rows, nil
}

// CallsAt interpolates the cumulative count of calls created at t from rows (which
// are written about once a second).
func CallsAt(rows []SIPpRow, t time.Time) float64 {
	if len(rows) == 0 {
		return 0
	}
	if !t.After(rows[0].At) {
		return float64(rows[0].Calls())
	}
	for i := 1; i < len(rows); i++ {
		if !t.After(rows[i].At) {
			a, b := rows[i-1], rows[i]
			span := b.At.Sub(a.At)
			if span <= 0 {
				return float64(b.Calls())
			}
			frac := float64(t.Sub(a.At)) / float64(span)
			return float64(a.Calls()) + frac*float64(b.Calls()-a.Calls())
		}
	}
	return float64(rows[len(rows)-1].Calls())
}
