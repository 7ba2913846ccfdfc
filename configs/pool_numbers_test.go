package configs

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// A pool's numbers can come from ranges and a CSV file besides the list; bad ones
// are reported at their line, in the CSV file for the file's lines.
func TestPoolNumberRangesAndFile(t *testing.T) {
	dir := t.TempDir()
	csv := "number,note\n+8675561000100,first\n\n\"+8675561000101\"\n"
	if err := os.WriteFile(filepath.Join(dir, "numbers.csv"), []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	main := filepath.Join(dir, "main.yaml")
	good := `pools:
  - name: v
    supplier: s
    type: virtual
    numbers: ["+8675561000001"]
    number_ranges: ["+8675561000010-+8675561000012"]
    numbers_file: numbers.csv
`
	if err := os.WriteFile(main, []byte(good), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(main)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"+8675561000001", "+8675561000010", "+8675561000011", "+8675561000012", "+8675561000100", "+8675561000101"}
	if got := cfg.Pools[0].Numbers; !slices.Equal(got, want) {
		t.Fatalf("numbers %v, want %v", got, want)
	}

	bad := `pools:
  - name: v
    supplier: s
    type: virtual
    number_ranges:
      - "+8675561000010-+86755610000"
      - "+8675561000012-+8675561000010"
      - "+8675561000000-+8675561999999"
      - "+8675561000100-+8675561000100"
    numbers_file: bad.csv
`
	if err := os.WriteFile(filepath.Join(dir, "bad.csv"), []byte("+8675561000200\nnot-a-number\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(main, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Load(main)
	if err == nil {
		t.Fatal("bad ranges and file loaded")
	}
	msg := err.Error()
	for _, w := range []string{
		"main.yaml:6:", "differ in length",
		"main.yaml:7:", "below the first",
		"main.yaml:8:", "at most 100000 per range",
		"bad.csv:2:", `"not-a-number" is not an E.164 number`,
	} {
		if !strings.Contains(msg, w) {
			t.Errorf("errors lack %q:\n%s", w, msg)
		}
	}
	os.Remove(filepath.Join(dir, "bad.csv"))
	if _, err := Load(main); err == nil || !strings.Contains(err.Error(), "main.yaml:10:") || !strings.Contains(err.Error(), "cannot read") {
		t.Errorf("a missing numbers_file: %v", err)
	}
}
