package benchkit

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// Janus is how to run Janus (1.1.x) as a peer: the .jcfg templates of a folder
// (bench/janus) filled in with Vars, only the SIP plugin and the websockets
// transport loaded, pinned to Core, in the foreground.
type Janus struct {
	Bin       string // janus
	Templates string // folder of the .jcfg templates
	// LibDir holds Janus's plugins/ and transports/ (see JanusLibDir).
	LibDir string
	Vars   JanusVars
	// Core is the CPU core Janus is pinned to, under the Sched policy (see Pinned);
	// negative: neither pinned nor scheduled apart (tests).
	Core int
}

// JanusVars fill in the templates of bench/janus.
type JanusVars struct {
	// WS is the websockets transport's address (the Janus API), on loopback.
	WS netip.AddrPort
	// SIPIP is the SIP plugin's address: its Sofia stacks and its RTP to the carrier.
	SIPIP netip.Addr
	// ICEIP is the one address Janus gathers ICE host candidates on. Janus 1.1.2
	// skips loopback interfaces when it gathers, so this cannot be 127.0.0.1.
	ICEIP netip.Addr
	// RTPPorts are the SIP plugin's RTP/RTCP ports, ICEPorts the WebRTC legs'.
	RTPPorts, ICEPorts [2]int
}

// The libraries a peer run loads, and nothing else.
const (
	JanusSIPPlugin         = "libjanus_sip.so"
	JanusWebsocketsLibrary = "libjanus_websockets.so"
)

// ErrNoJanus is returned when Janus's libraries are not where a package installs them.
var ErrNoJanus = errors.New("janus's plugins not found")

// JanusLibDir finds the folder holding Janus's plugins/ and transports/ (Debian:
// /usr/lib/<triplet>/janus).
func JanusLibDir() (string, error) {
	for _, pat := range []string{"/usr/lib/*/janus", "/usr/lib/janus", "/usr/local/lib/janus", "/opt/janus/lib/janus"} {
		dirs, _ := filepath.Glob(pat)
		sort.Strings(dirs)
		for _, d := range dirs {
			if _, err := os.Stat(filepath.Join(d, "plugins", JanusSIPPlugin)); err == nil {
				return d, nil
			}
		}
	}
	return "", fmt.Errorf("%w (looked for plugins/%s under /usr/lib/*/janus, /usr/lib/janus, /usr/local/lib/janus, /opt/janus/lib/janus)", ErrNoJanus, JanusSIPPlugin)
}

// NonLoopbackIPv4 is the first IPv4 address of an interface that is up and not a
// loopback: where Janus can gather ICE candidates on this machine. Traffic between
// two addresses of the machine stays on its loopback device.
func NonLoopbackIPv4() (netip.Addr, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return netip.Addr{}, err
	}
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Is4() && !p.Addr().IsLinkLocalUnicast() {
				return p.Addr(), nil
			}
		}
	}
	return netip.Addr{}, errors.New("no IPv4 address outside loopback: Janus cannot gather ICE candidates on loopback")
}

// templateVars maps v onto the templates' placeholders for a run in dir.
func (v JanusVars) templateVars(dir string) map[string]string {
	return map[string]string{
		"CONFIGS_FOLDER":    filepath.Join(dir, "conf"),
		"PLUGINS_FOLDER":    filepath.Join(dir, "plugins"),
		"TRANSPORTS_FOLDER": filepath.Join(dir, "transports"),
		"EVENTS_FOLDER":     filepath.Join(dir, "none"),
		"LOGGERS_FOLDER":    filepath.Join(dir, "none"),
		"WS_IP":             v.WS.Addr().String(),
		"WS_PORT":           fmt.Sprint(v.WS.Port()),
		"SIP_IP":            v.SIPIP.String(),
		"ICE_ADDRESS":       v.ICEIP.String(),
		"RTP_PORT_RANGE":    fmt.Sprintf("%d-%d", v.RTPPorts[0], v.RTPPorts[1]),
		"ICE_PORT_RANGE":    fmt.Sprintf("%d-%d", v.ICEPorts[0], v.ICEPorts[1]),
	}
}

func (v JanusVars) validate() error {
	switch {
	case !v.WS.Addr().IsLoopback():
		return fmt.Errorf("janus: the websockets transport must listen on loopback, not %s", v.WS)
	case !v.SIPIP.IsLoopback():
		return fmt.Errorf("janus: the SIP plugin must be on loopback, not %s", v.SIPIP)
	case !v.ICEIP.Is4() || v.ICEIP.IsLoopback():
		return fmt.Errorf("janus: ICE address %s: want a non-loopback IPv4 address (Janus skips loopback)", v.ICEIP)
	}
	for _, r := range [][2]int{v.RTPPorts, v.ICEPorts} {
		if r[0] < 1024 || r[1] < r[0] || r[1] > 65535 {
			return fmt.Errorf("janus: bad port range %d-%d", r[0], r[1])
		}
	}
	if v.RTPPorts[0] <= v.ICEPorts[1] && v.ICEPorts[0] <= v.RTPPorts[1] {
		return fmt.Errorf("janus: RTP ports %d-%d overlap ICE ports %d-%d", v.RTPPorts[0], v.RTPPorts[1], v.ICEPorts[0], v.ICEPorts[1])
	}
	return nil
}

// RenderJanusConfigs writes every .jcfg template of templates, filled in for a run
// in dir, to dir/conf, and makes dir/plugins and dir/transports hold links to the
// SIP plugin and the websockets transport of libDir only (dir/none stays empty: no
// event handlers, no loggers). It returns the configs folder (Janus's -F).
func RenderJanusConfigs(templates, libDir, dir string, v JanusVars) (string, error) {
	if err := v.validate(); err != nil {
		return "", err
	}
	vars := v.templateVars(dir)
	names, err := filepath.Glob(filepath.Join(templates, "*.jcfg"))
	if err != nil || len(names) == 0 {
		return "", fmt.Errorf("no .jcfg templates in %s", templates)
	}
	conf := vars["CONFIGS_FOLDER"]
	for _, sub := range []string{conf, vars["PLUGINS_FOLDER"], vars["TRANSPORTS_FOLDER"], vars["EVENTS_FOLDER"]} {
		_ = os.RemoveAll(sub)
		if err := os.MkdirAll(sub, 0o755); err != nil {
			return "", err
		}
	}
	for _, name := range names {
		b, err := os.ReadFile(name)
		if err != nil {
			return "", err
		}
		// Each template uses a subset of the placeholders: fill in only its own.
		own := map[string]string{}
		for k, val := range vars {
			if strings.Contains(string(b), "@"+k+"@") {
				own[k] = val
			}
		}
		text, err := RenderTemplate(string(b), own)
		if err != nil {
			return "", fmt.Errorf("%s: %w", name, err)
		}
		if err := os.WriteFile(filepath.Join(conf, filepath.Base(name)), []byte(text), 0o644); err != nil {
			return "", err
		}
	}
	for _, link := range []struct{ dir, lib string }{
		{vars["PLUGINS_FOLDER"], filepath.Join(libDir, "plugins", JanusSIPPlugin)},
		{vars["TRANSPORTS_FOLDER"], filepath.Join(libDir, "transports", JanusWebsocketsLibrary)},
	} {
		if _, err := os.Stat(link.lib); err != nil {
			return "", fmt.Errorf("%w: %v", ErrNoJanus, err)
		}
		if err := os.Symlink(link.lib, filepath.Join(link.dir, filepath.Base(link.lib))); err != nil {
			return "", err
		}
	}
	return conf, nil
}

// Start runs Janus in dir (configs, plugin links and janus.log there): in the
// foreground on Core, its configs from dir/conf only (-F; nothing in /etc/janus is
// read). It is ready when the websockets transport accepts connections.
func (j Janus) Start(dir string) (*Proc, error) {
	conf, err := RenderJanusConfigs(j.Templates, j.LibDir, dir, j.Vars)
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "janus.log")
	args := []string{"-F", conf, "-C", filepath.Join(conf, "janus.jcfg"), "-o"}
	cmd := exec.Command(j.Bin, args...)
	if j.Core >= 0 {
		cmd = Pinned(j.Core, j.Bin, args...)
	}
	cmd.Dir = dir
	if err := StartLogged(cmd, logPath); err != nil {
		return nil, err
	}
	pid := cmd.Process.Pid
	p := &Proc{
		Cmd:  cmd,
		Pids: func() []int { return []int{pid} },
		Stop: func() { Stop(cmd, syscall.SIGTERM, 15*time.Second) },
		Log:  logPath,
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", j.Vars.WS.String(), time.Second)
		if err == nil {
			c.Close()
			return p, nil
		}
		if !Alive(pid) || time.Now().After(deadline) {
			p.Stop()
			return nil, fmt.Errorf("janus did not start: see %s", logPath)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
