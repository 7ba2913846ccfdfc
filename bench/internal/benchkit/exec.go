package benchkit

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"syscall"
	"time"
)

// Sched is how Pinned runs the processes it starts (BENCH_SCHED): "rr" (the default)
// under SCHED_RR priority 1 (chrt -r 1), or "nice" at niceness Nice. The machine is
// shared with other work: at normal priority a waking edge waits behind a compiler's
// time slice (milliseconds, which is what we would measure); real-time priority runs
// it at once. The kernel's RT throttle (sched_rt_runtime_us, 95% by default) still
// leaves other processes 5% of a core the edge saturates.
var Sched = func() string {
	if v := os.Getenv("BENCH_SCHED"); v != "" {
		return v
	}
	return "rr"
}()

// Nice is the niceness of BENCH_SCHED=nice (BENCH_NICE, default -10).
var Nice = func() int {
	if v, err := strconv.Atoi(os.Getenv("BENCH_NICE")); err == nil {
		return v
	}
	return -10
}()

// SchedDescription says how the benchmark's processes were scheduled, for reports.
func SchedDescription() string {
	if Sched == "rr" {
		return "SCHED_RR priority 1 (`chrt -r 1`)"
	}
	return fmt.Sprintf("nice %d", Nice)
}

// Pinned returns a command that runs name on the given CPU core (taskset -c) under
// the Sched policy. taskset, chrt and nice exec: the command's pid is the process's.
func Pinned(core int, name string, args ...string) *exec.Cmd {
	pre := []string{"-c", strconv.Itoa(core)}
	if Sched == "rr" {
		pre = append(pre, "chrt", "-r", "1")
	} else {
		pre = append(pre, "nice", "-n", strconv.Itoa(Nice))
	}
	return exec.Command("taskset", append(append(pre, name), args...)...)
}

// WaitQuiet waits up to limit for the machine to be quiet: every CPU less than
// maxBusy (0-1) busy over a 3-second look. It returns the busiest CPU's share at
// the last look.
func WaitQuiet(ctx context.Context, maxBusy float64, limit time.Duration) float64 {
	deadline := time.Now().Add(limit)
	for {
		c0 := SampleCPUs()
		if Sleep(ctx, 3*time.Second) != nil {
			return 1
		}
		c1 := SampleCPUs()
		busiest := 0.0
		for i := range c1.Busy {
			busiest = max(busiest, c1.BusyFraction(c0, i))
		}
		if busiest < maxBusy || time.Now().After(deadline) {
			return busiest
		}
	}
}

// StartWaitLine starts cmd with its stdout scanned for a line matching re, its
// stderr (and stdout) copied to logPath, and waits up to timeout for the line. It
// returns the match. The caller stops the process with Stop.
func StartWaitLine(cmd *exec.Cmd, logPath string, re *regexp.Regexp, timeout time.Duration) ([]string, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	found := make(chan []string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sent := false
		for sc.Scan() {
			fmt.Fprintln(logf, sc.Text())
			if m := re.FindStringSubmatch(sc.Text()); m != nil && !sent {
				found <- m
				sent = true
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		pw.Close()
		logf.Close()
		close(exited)
	}()
	select {
	case m := <-found:
		return m, nil
	case <-exited:
		return nil, fmt.Errorf("%s exited before it was ready: see %s", cmd.Path, logPath)
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		return nil, fmt.Errorf("%s not ready after %s: see %s", cmd.Path, timeout, logPath)
	}
}

// Stop sends sig to the process and waits up to grace for it to exit (cmd.Wait must
// be running elsewhere, or ProcessState is polled), then kills it.
func Stop(cmd *exec.Cmd, sig syscall.Signal, grace time.Duration) {
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if !Alive(cmd.Process.Pid) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	for i := 0; i < 100 && Alive(cmd.Process.Pid); i++ {
		time.Sleep(50 * time.Millisecond)
	}
}

// Alive reports whether pid exists and is not a zombie.
func Alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == ')' {
			return i+2 < len(s) && s[i+2] != 'Z' && s[i+2] != 'X'
		}
	}
	return false
}

// RunTimeout runs cmd and kills it after timeout.
func RunTimeout(cmd *exec.Cmd, timeout time.Duration) error {
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("%s: killed after %s", cmd.Path, timeout)
	}
}

// Sleep waits for d or until ctx ends.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// CopyFile copies src to dst (truncating dst).
func CopyFile(dst, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// ErrSkipped marks a step not run because an earlier one overloaded the system.
var ErrSkipped = errors.New("skipped")
