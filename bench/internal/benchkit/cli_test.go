package benchkit

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func TestAbsPaths(t *testing.T) {
	a, b, unset := "out", "/already/abs", ""
	AbsPaths(&a, &b, &unset)
	if unset != "" {
		t.Errorf("an unset path became %q", unset)
	}
	if !filepath.IsAbs(a) || !strings.HasSuffix(a, string(filepath.Separator)+"out") {
		t.Errorf("relative path: %q", a)
	}
	if b != "/already/abs" {
		t.Errorf("absolute path changed: %q", b)
	}
	if p := SIPpScenario("uas_media.xml"); !filepath.IsAbs(p) || !strings.HasSuffix(p, filepath.Join("bench", "sipp", "uas_media.xml")) {
		t.Errorf("SIPpScenario = %q", p)
	}
}

func TestUntilSignalPassesContextAndError(t *testing.T) {
	boom := errors.New("boom")
	err := UntilSignal(func(ctx context.Context) error {
		if ctx.Err() != nil {
			t.Error("context already done")
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("UntilSignal = %v", err)
	}
}
