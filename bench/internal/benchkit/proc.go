// Package benchkit holds what the bench/ commands share: reading a process's and the
// kernel's counters from /proc, SIPp's statistics files, loopback captures, small
// statistics, and rewriting a section of docs/BENCHMARKS.md.
package benchkit

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTick is USER_HZ: /proc/PID/stat counts CPU time in these. Linux exposes 100
// on every architecture Go runs on.
const clockTick = 100

// ProcSample is one reading of a process's counters.
type ProcSample struct {
	At      time.Time
	CPU     time.Duration // utime + stime of every thread, live or exited
	RSS     int64         // bytes
	PSS     int64         // bytes: RSS with shared pages divided among their sharers
	Threads int
	FDs     int
}

// SampleProc reads pid's counters. The kernel derives utime+stime from the
// scheduler's nanosecond runtime, so their sum is exact even though top's
// tick-sampled view of a packet-driven process is not.
func SampleProc(pid int) (ProcSample, error) {
	s := ProcSample{At: time.Now()}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	// The command name may hold spaces and parentheses: fields start after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return s, fmt.Errorf("/proc/%d/stat: no ')'", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// After ')': state(3) ppid(4) ... utime(14) stime(15) ... rss(24): index = field-3.
	if len(f) < 22 {
		return s, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	ut, _ := strconv.ParseInt(f[14-3], 10, 64)
	st, _ := strconv.ParseInt(f[15-3], 10, 64)
	s.CPU = time.Duration(ut+st) * time.Second / clockTick
	th, _ := strconv.Atoi(f[20-3])
	s.Threads = th
	rssPages, _ := strconv.ParseInt(f[24-3], 10, 64)
	s.RSS = rssPages * int64(os.Getpagesize())
	if ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid)); err == nil {
		s.FDs = len(ents)
	}
	s.PSS = s.RSS
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid)); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "Pss:" {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				s.PSS = kb << 10
				break
			}
		}
	}
	return s, nil
}

// SampleProcs sums the counters of several processes (Kamailio's workers). Their RSS
// counts shared memory once per process; PSS does not.
func SampleProcs(pids []int) (ProcSample, error) {
	sum := ProcSample{At: time.Now()}
	for _, p := range pids {
		s, err := SampleProc(p)
		if err != nil {
			return sum, err
		}
		sum.CPU += s.CPU
		sum.RSS += s.RSS
		sum.PSS += s.PSS
		sum.Threads += s.Threads
		sum.FDs += s.FDs
	}
	return sum, nil
}

// Children returns the pids whose parent is pid, recursively, pid first.
func Children(pid int) []int {
	parent := map[int][]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 {
			continue
		}
		pp, _ := strconv.Atoi(f[1])
		parent[pp] = append(parent[pp], p)
	}
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		out = append(out, parent[out[i]]...)
	}
	return out
}

// NetSample is the kernel's UDP and backlog drop counters, system wide.
type NetSample struct {
	UDPInErrors, UDPRcvbufErrors, UDPSndbufErrors, UDPNoPorts int64
	// BacklogDrops is the sum over CPUs of /proc/net/softnet_stat's second column:
	// packets dropped because a CPU's input backlog (netdev_max_backlog) was full.
	// Loopback traffic goes through it.
	BacklogDrops int64
}

// Sub returns the counters' growth from old to s.
func (s NetSample) Sub(old NetSample) NetSample {
	return NetSample{
		UDPInErrors:     s.UDPInErrors - old.UDPInErrors,
		UDPRcvbufErrors: s.UDPRcvbufErrors - old.UDPRcvbufErrors,
		UDPSndbufErrors: s.UDPSndbufErrors - old.UDPSndbufErrors,
		UDPNoPorts:      s.UDPNoPorts - old.UDPNoPorts,
		BacklogDrops:    s.BacklogDrops - old.BacklogDrops,
	}
}

// Drops is every counted receive-side loss: UDP receive errors and backlog drops.
func (s NetSample) Drops() int64 { return s.UDPInErrors + s.BacklogDrops }

// SampleNet reads /proc/net/snmp and /proc/net/softnet_stat.
func SampleNet() (NetSample, error) {
	var s NetSample
	b, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return s, err
	}
	var names []string
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "Udp: ") {
			continue
		}
		f := strings.Fields(line)[1:]
		if names == nil {
			names = f
			continue
		}
		for i, n := range names {
			if i >= len(f) {
				break
			}
			v, _ := strconv.ParseInt(f[i], 10, 64)
			switch n {
			case "InErrors":
				s.UDPInErrors = v
			case "RcvbufErrors":
				s.UDPRcvbufErrors = v
			case "SndbufErrors":
				s.UDPSndbufErrors = v
			case "NoPorts":
				s.UDPNoPorts = v
			}
		}
		break
	}
	if b, err := os.ReadFile("/proc/net/softnet_stat"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) > 1 {
				v, _ := strconv.ParseInt(f[1], 16, 64)
				s.BacklogDrops += v
			}
		}
	}
	return s, nil
}

// Goroutines reads go_goroutines from a Prometheus /metrics endpoint.
func Goroutines(url string) (int, error) {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_goroutines "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return int(f), err
		}
	}
	return 0, fmt.Errorf("%s: no go_goroutines", url)
}
