package benchkit

import (
	"context"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
)

// AbsPaths makes each path absolute in place: SIPp and the edges run in output
// directories, so every path they are given must be. A path that cannot be made
// absolute is left as it is, and so is an empty one (an option left unset).
func AbsPaths(paths ...*string) {
	for _, p := range paths {
		if *p == "" {
			continue
		}
		if abs, err := filepath.Abs(*p); err == nil {
			*p = abs
		}
	}
}

// UntilSignal runs run with a context that ends on SIGINT or SIGTERM, so that an
// orchestrator interrupted mid-run still stops its processes and restores the
// machine.
func UntilSignal(run func(context.Context) error) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return run(ctx)
}

// SIPpScenario is the absolute path of a scenario file in bench/sipp (the scripts
// run from the repository root).
func SIPpScenario(name string) string {
	p, _ := filepath.Abs(filepath.Join("bench", "sipp", name))
	return p
}
