package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"callgate/bench/internal/benchkit"
)

// runProfile runs callgate with --cpuprofile at one rate and returns the top of the
// profile (go tool pprof -top). The profile file stays in the output directory.
func runProfile(ctx context.Context, s settings) (string, error) {
	dir := filepath.Join(s.out, "profile")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	prof := filepath.Join(dir, fmt.Sprintf("callgate-%dcps.pprof", s.profileRate))
	_ = os.Remove(prof)
	p := callgatePeer{s}
	edge, err := p.Start(dir, prof)
	if err != nil {
		return "", err
	}
	uas, err := startUAS(s, dir)
	if err != nil {
		edge.Stop()
		return "", err
	}
	fmt.Printf("profile: callgate at %d calls/s for %s …\n", s.profileRate, s.profileFor)
	r, err := runStep(ctx, s, "callgate", edge, uas.Process.Pid, dir, 0, s.profileRate, 0, 5*time.Second, s.profileFor)
	edge.Stop()
	benchkit.Stop(uas, syscall.SIGTERM, 5*time.Second)
	if err != nil {
		return "", err
	}
	r.judge()
	fmt.Printf("  %s\n", oneLine(r))
	out, err := exec.Command("go", "tool", "pprof", "-top", "-nodecount=40", s.callgate, prof).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go tool pprof: %v: %s", err, out)
	}
	top := fmt.Sprintf("profiled step: %s\n\n%s", oneLine(r), out)
	_ = os.WriteFile(filepath.Join(dir, "top.txt"), []byte(top), 0o644)
	cum, _ := exec.Command("go", "tool", "pprof", "-top", "-cum", "-nodecount=60", s.callgate, prof).CombinedOutput()
	_ = os.WriteFile(filepath.Join(dir, "top-cum.txt"), cum, 0o644)
	return top, nil
}

// soakResult is callgate's memory over a long hold at one rate.
type soakResult struct {
	Step   stepResult
	Every  time.Duration
	RSS    []int64 // sampled every Every from the start of the hold
	FDs    []int
	Thread []int
}

// runSoak holds one rate for s.soakFor and samples memory every 30 s.
func runSoak(ctx context.Context, s settings) (*soakResult, error) {
	dir := filepath.Join(s.out, "soak")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	p := callgatePeer{s}
	edge, err := p.Start(dir, "")
	if err != nil {
		return nil, err
	}
	defer edge.Stop()
	uas, err := startUAS(s, dir)
	if err != nil {
		return nil, err
	}
	defer benchkit.Stop(uas, syscall.SIGTERM, 5*time.Second)
	res := &soakResult{Every: 30 * time.Second}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		warm := time.NewTimer(10 * time.Second)
		select {
		case <-warm.C:
		case <-stop:
			return
		}
		t := time.NewTicker(res.Every)
		defer t.Stop()
		for {
			if ps, err := benchkit.SampleProcs(edge.Pids()); err == nil {
				res.RSS = append(res.RSS, ps.PSS)
				res.FDs = append(res.FDs, ps.FDs)
				res.Thread = append(res.Thread, ps.Threads)
			}
			select {
			case <-t.C:
			case <-stop:
				return
			}
		}
	}()
	fmt.Printf("soak: callgate at %d calls/s for %s …\n", s.soakRate, s.soakFor)
	r, err := runStep(ctx, s, "callgate", edge, uas.Process.Pid, dir, 0, s.soakRate, 0, 10*time.Second, s.soakFor)
	close(stop)
	<-done
	if err != nil {
		return res, err
	}
	r.judge()
	res.Step = r
	fmt.Printf("  %s\n", oneLine(r))
	return res, nil
}
