package benchkit

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Machine describes where and with what a benchmark ran.
type Machine struct {
	CPU      string // model name
	Cores    int
	MemGiB   float64
	Kernel   string
	Go       string
	Callgate string            // git describe of the tree the binary was built from
	Modules  map[string]string // module path → version, from the binary's build info
	Tools    map[string]string // tool → version line
	Date     time.Time
}

// DescribeMachine gathers the machine's description; binary is the callgate
// executable whose module versions are reported (may be empty).
func DescribeMachine(binary string) Machine {
	m := Machine{Cores: runtime.NumCPU(), Modules: map[string]string{}, Tools: map[string]string{}, Date: time.Now().UTC()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) >= 2 && f[0] == "MemTotal:" {
				kb, _ := strconv.ParseFloat(f[1], 64)
				m.MemGiB = kb / (1 << 20)
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	m.Go = firstLine("go", "version")
	m.Callgate = firstLine("git", "describe", "--always", "--dirty", "--tags")
	if binary != "" {
		out, _ := exec.Command("go", "version", "-m", binary).Output()
		for _, l := range strings.Split(string(out), "\n") {
			f := strings.Fields(l)
			if len(f) >= 3 && (f[0] == "dep" || f[0] == "=>") {
				m.Modules[f[1]] = f[2]
			}
		}
	}
	return m
}

// AddTool records, as name's version, the first line that running bin (a path, or a
// command looked up in PATH) with args prints.
func (m *Machine) AddTool(name, bin string, args ...string) {
	if l := firstLine(bin, args...); l != "" {
		m.Tools[name] = l
	}
}

func firstLine(name string, args ...string) string {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil && len(out) == 0 {
		return ""
	}
	for _, l := range strings.Split(string(out), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return l
		}
	}
	return ""
}

// Module returns the version of a module in the binary, or "?".
func (m Machine) Module(path string) string {
	if v, ok := m.Modules[path]; ok {
		return v
	}
	return "?"
}

// Markdown is a short paragraph for docs/BENCHMARKS.md.
func (m Machine) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Machine: %d × %s, %.0f GiB, Linux %s. %s. callgate %s, sipgo %s, go-sqlite3 %s.",
		m.Cores, m.CPU, m.MemGiB, m.Kernel, m.Go, m.Callgate,
		m.Module("github.com/emiago/sipgo"), m.Module("github.com/mattn/go-sqlite3"))
	for _, k := range sortedKeys(m.Tools) {
		fmt.Fprintf(&b, " %s: %s.", k, strings.TrimRight(m.Tools[k], "."))
	}
	fmt.Fprintf(&b, " Run on %s UTC.", m.Date.Format("2006-01-02 15:04"))
	return b.String()
}

func sortedKeys(mp map[string]string) []string {
	keys := make([]string, 0, len(mp))
	for k := range mp {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}

// CPUTimes is the busy, stolen (by the hypervisor) and total time of each CPU from
// /proc/stat, in ticks. Busy includes steal.
type CPUTimes struct{ Busy, Steal, Total []int64 }

// SampleCPUs reads /proc/stat.
func SampleCPUs() CPUTimes {
	var c CPUTimes
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return c
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 8 || !strings.HasPrefix(f[0], "cpu") || f[0] == "cpu" {
			continue
		}
		var total, idle, steal int64
		for i, s := range f[1:] {
			v, _ := strconv.ParseInt(s, 10, 64)
			if i >= 8 { // guest time is already in user
				break
			}
			total += v
			if i == 3 || i == 4 { // idle, iowait
				idle += v
			}
			if i == 7 {
				steal = v
			}
		}
		c.Busy = append(c.Busy, total-idle)
		c.Steal = append(c.Steal, steal)
		c.Total = append(c.Total, total)
	}
	return c
}

// BusyFraction returns how busy CPU cpu was between old and c (0-1).
func (c CPUTimes) BusyFraction(old CPUTimes, cpu int) float64 {
	if cpu >= len(c.Busy) || cpu >= len(old.Busy) {
		return 0
	}
	dt := c.Total[cpu] - old.Total[cpu]
	if dt <= 0 {
		return 0
	}
	return float64(c.Busy[cpu]-old.Busy[cpu]) / float64(dt)
}

// StealFraction returns the share of CPU cpu's time the hypervisor took between old
// and c (0-1).
func (c CPUTimes) StealFraction(old CPUTimes, cpu int) float64 {
	if cpu >= len(c.Steal) || cpu >= len(old.Steal) {
		return 0
	}
	dt := c.Total[cpu] - old.Total[cpu]
	if dt <= 0 {
		return 0
	}
	return float64(c.Steal[cpu]-old.Steal[cpu]) / float64(dt)
}

// LoadAvg returns the 1-minute load average.
func LoadAvg() float64 {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}
