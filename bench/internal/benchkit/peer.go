package benchkit

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"time"
)

// Proc is a running process under test (an edge, or a part of one such as a media
// relay): what to sample and how to stop it.
type Proc struct {
	Cmd *exec.Cmd
	// Pids are the processes whose counters count (Kamailio forks workers).
	Pids func() []int
	// Stop ends the process; safe to call twice.
	Stop func()
	Log  string
	// Metrics is the process's Prometheus endpoint, if it has one (callgate's go_goroutines).
	Metrics string
}

// Alive reports whether the process (its first pid) is still running.
func (p *Proc) Alive() bool {
	return p != nil && p.Cmd != nil && p.Cmd.Process != nil && Alive(p.Cmd.Process.Pid)
}

// ErrTemplate is returned when a config template keeps a placeholder no value filled in.
var ErrTemplate = errors.New("template placeholder left unfilled")

var placeholderRE = regexp.MustCompile(`@[A-Z][A-Z0-9_]*@`)

// RenderTemplate replaces every @NAME@ of text with vars["NAME"]. A placeholder with
// no value is an error (ErrTemplate), so a template and its filler cannot drift apart
// silently; so is a value given for a placeholder the template lacks.
func RenderTemplate(text string, vars map[string]string) (string, error) {
	var missing []string
	used := map[string]bool{}
	out := placeholderRE.ReplaceAllStringFunc(text, func(ph string) string {
		name := strings.Trim(ph, "@")
		v, ok := vars[name]
		if !ok {
			missing = append(missing, ph)
			return ph
		}
		used[name] = true
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("%w: %s", ErrTemplate, strings.Join(missing, ", "))
	}
	var unused []string
	for k := range vars {
		if !used[k] {
			unused = append(unused, "@"+k+"@")
		}
	}
	if len(unused) > 0 {
		sort.Strings(unused)
		return "", fmt.Errorf("%w: the template has no %s", ErrTemplate, strings.Join(unused, ", "))
	}
	return out, nil
}

// UDPBound reports whether some IPv4 socket is bound to addr (an unspecified address
// matches any socket on the port).
func UDPBound(addr netip.AddrPort) bool {
	b, err := os.ReadFile("/proc/net/udp")
	if err != nil {
		return false
	}
	return udpTableHas(string(b), addr)
}

// udpTableHas looks for addr among the local addresses of a /proc/net/udp table,
// where 127.0.0.1:5060 reads 0100007F:13C4 (the address in host byte order, little
// endian here).
func udpTableHas(table string, addr netip.AddrPort) bool {
	port := fmt.Sprintf(":%04X", addr.Port())
	want := ""
	if ip := addr.Addr(); ip.Is4() && !ip.IsUnspecified() {
		a := ip.As4()
		want = fmt.Sprintf("%02X%02X%02X%02X", a[3], a[2], a[1], a[0])
	}
	for _, line := range strings.Split(table, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || !strings.HasSuffix(f[1], port) {
			continue
		}
		if want == "" || strings.TrimSuffix(f[1], port) == want {
			return true
		}
	}
	return false
}

// StartLogged starts cmd with its stdout and stderr in the file logPath; the file
// is closed when the process exits (Wait runs in the background).
func StartLogged(cmd *exec.Cmd, logPath string) error {
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	go func() { _ = cmd.Wait(); logf.Close() }()
	return nil
}

// Kamailio is how to run Kamailio as a peer: a config template filled in with Vars
// (see RenderTemplate), pinned to Core, in the foreground.
type Kamailio struct {
	Bin      string // kamailio
	Template string // path of the .cfg template
	Vars     map[string]string
	Core     int
	// Listen is the SIP address the config listens on; Kamailio is ready when it is
	// bound and the workers exist.
	Listen netip.AddrPort
	// Name is the base name of the generated config, log and run directory in the
	// start's directory (default "kamailio").
	Name string
}

// Start runs Kamailio in dir: in the foreground with its workers as children (-DD),
// logging to stderr (-E), with the TLSF allocator for private and shared memory
// (Debian's default q_malloc costs 2.6-4.5× more CPU per call), 512 MiB of shared
// and 64 MiB of private memory per process.
func (k Kamailio) Start(dir string) (*Proc, error) {
	name := k.Name
	if name == "" {
		name = "kamailio"
	}
	tmpl, err := os.ReadFile(k.Template)
	if err != nil {
		return nil, err
	}
	text, err := RenderTemplate(string(tmpl), k.Vars)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", k.Template, err)
	}
	cfg := filepath.Join(dir, name+".cfg")
	if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
		return nil, err
	}
	runDir := filepath.Join(dir, name+"-run")
	_ = os.MkdirAll(runDir, 0o755)
	logPath := filepath.Join(dir, name+".log")
	cmd := Pinned(k.Core, k.Bin, "-f", cfg, "-DD", "-E", "-x", "tlsf", "-X", "tlsf",
		"-m", "512", "-M", "64", "-Y", runDir)
	if err := StartLogged(cmd, logPath); err != nil {
		return nil, err
	}
	// Ready when the SIP port is bound and the workers exist.
	deadline := time.Now().Add(20 * time.Second)
	for !UDPBound(k.Listen) || len(Children(cmd.Process.Pid)) <= 2 {
		if !Alive(cmd.Process.Pid) || time.Now().After(deadline) {
			Stop(cmd, syscall.SIGKILL, time.Second)
			return nil, fmt.Errorf("kamailio did not start: see %s", logPath)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	pid := cmd.Process.Pid
	return &Proc{
		Cmd:  cmd,
		Pids: func() []int { return Children(pid) },
		Stop: func() { Stop(cmd, syscall.SIGTERM, 15*time.Second) },
		Log:  logPath,
	}, nil
}
