package configs

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad feeds arbitrary bytes to the loader as a main file that may also name
// itself as a trunk file ("t.yaml"). Loading must never panic, must return either a
// config or an ErrorList, and every problem must point into a file that was read.
func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.yaml")
	seeds = append(seeds, "default.yaml", "callgate.example.yaml", "trunks/carrier-a.yaml")
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("trunk_files: [t.yaml]\n"))
	f.Add([]byte("a: &a [*a]\ntrunks: &b\n  - *b\n"))
	f.Add([]byte("trunks:\n  - <<: [*x]\n"))

	f.Fuzz(func(t *testing.T, data []byte) {
		l := memLoader(map[string]string{"main.yaml": string(data), "t.yaml": string(data)}, map[string]string{"P": "x"})
		cfg, err := l.loadPath("main.yaml")
		if (cfg == nil) == (err == nil) {
			t.Fatalf("cfg = %v, err = %v: want exactly one", cfg, err)
		}
		if err != nil {
			var list ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("error %T is not a non-empty ErrorList: %v", err, err)
			}
			// The yaml library counts CR, LF, CRLF, NEL, LS and PS as line breaks.
			maxLine := 2
			for _, br := range []string{"\n", "\r", "\u0085", "\u2028", "\u2029"} {
				maxLine += bytes.Count(data, []byte(br))
			}
			for _, e := range list {
				if (e.File != "main.yaml" && e.File != "t.yaml") || e.Line < 0 || e.Line > maxLine || e.Msg == "" || e.Kind == nil {
					t.Fatalf("bad problem %#v", e)
				}
			}
			return
		}
		for _, b := range cfg.Bindings {
			if b.Trunk == "" || !isE164(b.Virtual) {
				t.Fatalf("accepted binding %+v", b)
			}
		}
		if Summary(cfg) == "" {
			t.Fatal("empty summary")
		}
	})
}
