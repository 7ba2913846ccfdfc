package benchkit

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func benchVars() JanusVars {
	return JanusVars{
		WS:       netip.MustParseAddrPort("127.0.0.1:8188"),
		SIPIP:    netip.MustParseAddr("127.0.0.1"),
		ICEIP:    netip.MustParseAddr("192.0.2.2"),
		RTPPorts: [2]int{10000, 29999},
		ICEPorts: [2]int{30000, 49999},
	}
}

// fakeLibDir is a folder shaped like Debian's /usr/lib/<triplet>/janus.
func fakeLibDir(t *testing.T) string {
	lib := t.TempDir()
	for _, p := range []string{"plugins/" + JanusSIPPlugin, "plugins/libjanus_echotest.so", "transports/" + JanusWebsocketsLibrary, "transports/libjanus_http.so"} {
		if err := os.MkdirAll(filepath.Join(lib, filepath.Dir(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(lib, p), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return lib
}

// The templates of bench/janus render completely, on loopback, with the port ranges
// given, and only the SIP plugin and the websockets transport are linked in.
func TestRenderJanusConfigs(t *testing.T) {
	dir := t.TempDir()
	conf, err := RenderJanusConfigs(filepath.Join("..", "..", "janus"), fakeLibDir(t), dir, benchVars())
	if err != nil {
		t.Fatal(err)
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(conf, name))
		if err != nil {
			t.Fatal(err)
		}
		if placeholderRE.Match(b) {
			t.Fatalf("%s keeps a placeholder: %s", name, placeholderRE.Find(b))
		}
		return string(b)
	}
	core, sip, ws := read("janus.jcfg"), read("janus.plugin.sip.jcfg"), read("janus.transport.websockets.jcfg")
	for _, c := range []struct{ text, want string }{
		{core, `configs_folder = "` + conf + `"`},
		{core, `plugins_folder = "` + filepath.Join(dir, "plugins") + `"`},
		{core, `rtp_port_range = "30000-49999"`},
		{core, `ice_enforce_list = "192.0.2.2"`},
		{core, `debug_level = 3`},
		{core, `protected_folders = [ "/" ]`},
		{core, `broadcast = false`},
		{sip, `local_ip = "127.0.0.1"`},
		{sip, `local_media_ip = "127.0.0.1"`},
		{sip, `rtp_port_range = "10000-29999"`},
		{sip, `keepalive_interval = 0`},
		{ws, `ws_ip = "127.0.0.1"`},
		{ws, `ws_port = 8188`},
		{ws, `wss = false`},
		{ws, `admin_ws = false`},
	} {
		if !strings.Contains(c.text, c.want) {
			t.Errorf("config lacks %q", c.want)
		}
	}
	// No STUN, TURN or 1:1 NAT is set anywhere (only mentioned in comments).
	for _, text := range []string{core, sip, ws} {
		for _, l := range strings.Split(text, "\n") {
			l = strings.TrimSpace(l)
			if strings.HasPrefix(l, "#") {
				continue
			}
			for _, key := range []string{"stun_server", "turn_server", "nat_1_1_mapping", "turn_rest_api", "full_trickle", "ice_tcp"} {
				if strings.HasPrefix(l, key) {
					t.Errorf("config sets %s", l)
				}
			}
		}
	}
	for sub, want := range map[string]string{"plugins": JanusSIPPlugin, "transports": JanusWebsocketsLibrary, "none": ""} {
		ents, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range ents {
			got = append(got, e.Name())
		}
		if strings.Join(got, ",") != want {
			t.Errorf("%s/ holds %v, want %q", sub, got, want)
		}
	}
	// Rendering again (the next repetition) starts from clean folders.
	if _, err := RenderJanusConfigs(filepath.Join("..", "..", "janus"), fakeLibDir(t), dir, benchVars()); err != nil {
		t.Fatal(err)
	}
}

func TestJanusVarsValidate(t *testing.T) {
	for name, mod := range map[string]func(*JanusVars){
		"ws off loopback":  func(v *JanusVars) { v.WS = netip.MustParseAddrPort("192.0.2.2:8188") },
		"sip off loopback": func(v *JanusVars) { v.SIPIP = netip.MustParseAddr("192.0.2.2") },
		"ice on loopback":  func(v *JanusVars) { v.ICEIP = netip.MustParseAddr("127.0.0.1") },
		"ice unset":        func(v *JanusVars) { v.ICEIP = netip.Addr{} },
		"overlap":          func(v *JanusVars) { v.ICEPorts = [2]int{20000, 39999} },
		"reversed":         func(v *JanusVars) { v.RTPPorts = [2]int{29999, 10000} },
	} {
		v := benchVars()
		mod(&v)
		if err := v.validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := benchVars().validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := RenderJanusConfigs(filepath.Join("..", "..", "janus"), t.TempDir(), t.TempDir(), benchVars()); err == nil {
		t.Fatal("rendered without the plugin libraries")
	}
}
