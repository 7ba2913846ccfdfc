package configs

import (
	"bufio"
	"bytes"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// A pool's numbers can be listed (numbers), given as inclusive ranges of one length
// (number_ranges: ["+8675561000000-+8675561000999"]), and read from a CSV file whose
// first column holds one number per line (numbers_file, relative to the config file;
// a header line and blank lines are skipped). All three add up; the load expands them
// into Numbers, so everything after sees one list.

// maxRangeNumbers bounds a pool's ranges together: a typo in a range must not
// allocate millions.
const maxRangeNumbers = 100_000

// expandPoolNumbers appends p's ranges and file to p.Numbers, reporting each problem
// at its line (a file's lines in that file).
func (v *validation) expandPoolNumbers(pl place, p *Pool) {
	total := 0
	for j, r := range p.NumberRanges {
		ns, msg := expandRange(r)
		if msg == "" && total+len(ns) > maxRangeNumbers {
			msg = fmt.Sprintf("the pool's ranges come to more than %d numbers", maxRangeNumbers)
		}
		if msg != "" {
			v.bad(pl, at("number_ranges", j), "%q: %s", r, msg)
			continue
		}
		total += len(ns)
		p.Numbers = append(p.Numbers, ns...)
	}
	if p.NumbersFile == "" {
		return
	}
	path := p.NumbersFile
	if !filepath.IsAbs(path) {
		path = filepath.Join(filepath.Dir(pl.file), path)
	}
	b, err := v.loader.readFile(path)
	if err != nil {
		v.probs.push(readError(pl.file, lineAt(pl.node, "numbers_file"), prefix(join(pl.label, "numbers_file"))+"cannot read "+path, err))
		return
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for line := 1; sc.Scan(); line++ {
		f := strings.TrimSpace(sc.Text())
		if i := strings.IndexByte(f, ','); i >= 0 {
			f = strings.TrimSpace(f[:i])
		}
		f = strings.Trim(f, `"`)
		switch {
		case f == "":
			continue
		case line == 1 && !strings.HasPrefix(f, "+") && (f[0] < '0' || f[0] > '9'):
			continue // a header
		case !isE164(f):
			v.probs.push(&Error{File: path, Line: line, Kind: ErrInvalid,
				Msg: fmt.Sprintf("pool %q: %q is not an E.164 number: want + and 8 to 15 digits", p.Name, f)})
			continue
		}
		p.Numbers = append(p.Numbers, f)
	}
}

// expandRange turns "+A-+B" into the numbers from A to B, or says what is wrong.
func expandRange(r string) ([]string, string) {
	from, to, ok := strings.Cut(strings.ReplaceAll(r, " ", ""), "-")
	if !ok || !isE164(from) || !isE164(to) {
		return nil, "want FIRST-LAST, two E.164 numbers such as +8675561000000-+8675561000999"
	}
	if len(from) != len(to) {
		return nil, "the two ends differ in length"
	}
	a, errA := strconv.ParseUint(from[1:], 10, 64)
	b, errB := strconv.ParseUint(to[1:], 10, 64)
	switch {
	case errA != nil || errB != nil:
		return nil, "want FIRST-LAST, two E.164 numbers"
	case b < a:
		return nil, "the last number is below the first"
	case b-a >= maxRangeNumbers:
		return nil, fmt.Sprintf("%d numbers: at most %d per range", b-a+1, maxRangeNumbers)
	}
	out := make([]string, 0, b-a+1)
	width := len(from) - 1
	for n := a; n <= b; n++ {
		out = append(out, fmt.Sprintf("+%0*d", width, n))
	}
	return out, ""
}
