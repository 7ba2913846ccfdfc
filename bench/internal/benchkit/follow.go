package benchkit

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
)

// StepLine is one line of a load generator's line protocol: "KIND N [REST]", e.g.
// "window-end 300 {json}", or a note "# TEXT" (Kind "note", N 0, Rest TEXT).
type StepLine struct {
	Kind string
	N    int
	Rest string
}

var stepLineRE = regexp.MustCompile(`^([a-z][a-z-]*) (\d+)(?: (.*))?$`)

// ParseStepLine parses a StepLine; ok is false for any other line.
func ParseStepLine(line string) (l StepLine, ok bool) {
	if note, ok := strings.CutPrefix(line, "# "); ok {
		return StepLine{Kind: "note", Rest: note}, true
	}
	m := stepLineRE.FindStringSubmatch(line)
	if m == nil {
		return l, false
	}
	n, err := strconv.Atoi(m[2])
	if err != nil {
		return l, false
	}
	return StepLine{Kind: m[1], N: n, Rest: m[3]}, true
}

// FollowSteps runs cmd, copying its stdout and stderr to logPath, and calls fn for each
// StepLine of its stdout. fn returning false stops cmd (SIGTERM); so does ctx ending
// (SIGKILL). It returns cmd's error unless it was stopped.
func FollowSteps(ctx context.Context, cmd *exec.Cmd, logPath string, fn func(StepLine) bool) error {
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logf.Close()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		return err
	}
	killed := make(chan struct{})
	defer close(killed)
	go func() {
		select {
		case <-ctx.Done():
			_ = cmd.Process.Kill()
		case <-killed:
		}
	}()
	stopped := false
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<16), 4<<20)
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintln(logf, line)
		l, ok := ParseStepLine(line)
		if !ok || stopped {
			continue
		}
		if !fn(l) {
			stopped = true
			_ = cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	err = cmd.Wait()
	if stopped || ctx.Err() != nil {
		return ctx.Err()
	}
	if err != nil {
		return fmt.Errorf("%s: %w (see %s)", filepath.Base(cmd.Args[0]), err, logPath)
	}
	return nil
}

// ParseSteps parses a comma-separated ascending list of positive counts ("100,300").
func ParseSteps(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("bad step %q: want a positive number", f)
		}
		if len(out) > 0 && n <= out[len(out)-1] {
			return nil, fmt.Errorf("steps must ascend: %d after %d", n, out[len(out)-1])
		}
		out = append(out, n)
	}
	return out, nil
}

// JoinInts is the inverse of ParseSteps.
func JoinInts(xs []int) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = strconv.Itoa(x)
	}
	return strings.Join(parts, ",")
}
