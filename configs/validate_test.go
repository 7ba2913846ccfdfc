package configs

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// trunkYAML is a valid trunk list item, for cases about other sections.
const trunkYAML = "trunks:\n  - name: t\n    host: 192.0.2.1\n"

func TestValidationProblems(t *testing.T) {
	tests := []struct {
		name  string
		yaml  string
		files map[string]string // more files beside main.yaml
		want  []wantProblem
	}{
		{
			name: "listener port out of range",
			yaml: "listen:\n  sip_udp: 127.0.0.1:99999\n",
			want: []wantProblem{{"main.yaml:2", `listen: sip_udp: invalid port in "127.0.0.1:99999"`}},
		},
		{
			name: "two listeners on one TCP address",
			yaml: "listen:\n  public_http: 127.0.0.1:9000\n  internal_http: 127.0.0.1:9000\n",
			want: []wantProblem{{"main.yaml:3", `listen: internal_http: address 127.0.0.1:9000 is already used by listen.public_http`}},
		},
		{
			name: "SIP on all interfaces needs a public address",
			yaml: "listen:\n  sip_udp: 0.0.0.0:5060\n  sip_tcp: off\n",
			want: []wantProblem{{"main.yaml:2", `listen: sip_udp: 0.0.0.0:5060 binds all interfaces, so sip.public_address must be set`}},
		},
		{
			name: "odd media port_min",
			yaml: "media:\n  port_min: 20001\n",
			want: []wantProblem{{"main.yaml:2", `media: port_min: must be even`}},
		},
		{
			name: "media range empty",
			yaml: "media:\n  port_min: 30000\n  port_max: 30000\n",
			want: []wantProblem{{"main.yaml:2", `media: port_min: port range 30000-30000 is empty`}},
		},
		{
			name: "media port out of range",
			yaml: "media:\n  port_min: 80\n  port_max: 70000\n",
			want: []wantProblem{
				{"main.yaml:2", `media: port_min: port 80 is outside 1024-65535`},
				{"main.yaml:3", `media: port_max: port 70000 is outside 1024-65535`},
			},
		},
		{
			name: "ICE range half set",
			yaml: "media:\n  ice_port_min: 40000\n",
			want: []wantProblem{{"main.yaml:1", `media: ice_port_max: set both ice_port_min and ice_port_max, or neither (any port)`}},
		},
		{
			name: "ICE ports out of range",
			yaml: "media:\n  ice_port_min: 80\n  ice_port_max: 70000\n",
			want: []wantProblem{
				{"main.yaml:2", `media: ice_port_min: port 80 is outside 1024-65535`},
				{"main.yaml:3", `media: ice_port_max: port 70000 is outside 1024-65535`},
			},
		},
		{
			name: "ICE range empty",
			yaml: "media:\n  ice_port_min: 41000\n  ice_port_max: 40000\n",
			want: []wantProblem{{"main.yaml:2", `media: ice_port_min: ICE port range 41000-40000 is empty: ice_port_min must not be above ice_port_max`}},
		},
		{
			name: "ICE range overlaps RTP",
			yaml: "media:\n  port_min: 20000\n  port_max: 29999\n  ice_port_min: 10000\n  ice_port_max: 20000\n",
			want: []wantProblem{{"main.yaml:4", `media: ice_port_min: ICE port range 10000-20000 overlaps the RTP port range 20000-29999 (port_min-port_max)`}},
		},
		{
			name: "ICE mux and range",
			yaml: "media:\n  ice_port_min: 40000\n  ice_port_max: 40999\n  ice_mux: 127.0.0.1:3478\n",
			want: []wantProblem{{"main.yaml:4", `media: ice_mux: set either ice_mux (one port for all browsers) or ice_port_min and ice_port_max, not both`}},
		},
		{
			name: "ICE mux not host:port",
			yaml: "media:\n  ice_mux: \"3478\"\n",
			want: []wantProblem{{"main.yaml:2", `media: ice_mux: invalid address "3478": want host:port`}},
		},
		{
			name: "ICE mux on port 0",
			yaml: "media:\n  ice_mux: 127.0.0.1:0\n",
			want: []wantProblem{{"main.yaml:2", `media: ice_mux: invalid port in "127.0.0.1:0": want 1-65535`}},
		},
		{
			name: "ICE mux inside the RTP range",
			yaml: "media:\n  ice_mux: 0.0.0.0:20002\n",
			want: []wantProblem{{"main.yaml:2", `media: ice_mux: port 20002 is inside the RTP port range 20000-29999 (port_min-port_max)`}},
		},
		{
			name: "ICE mux on the SIP port",
			yaml: "listen:\n  sip_udp: 127.0.0.1:5060\nmedia:\n  ice_mux: 127.0.0.1:5060\n",
			want: []wantProblem{{"main.yaml:4", `media: ice_mux: address 127.0.0.1:5060 is already used by listen.sip_udp`}},
		},
		{
			name: "ICE public IPs",
			yaml: "media:\n  ice_public_ips:\n    - 203.0.113.10\n    - 0.0.0.0\n    - nope\n    - \"::ffff:203.0.113.10\"\n    - \"fe80::1%eth0\"\n",
			want: []wantProblem{
				{"main.yaml:4", `media: ice_public_ips[1]: 0.0.0.0 is no address browsers can reach: want the host's public IP`},
				{"main.yaml:5", `media: ice_public_ips[2]: invalid IP address "nope"`},
				{"main.yaml:6", `media: ice_public_ips[3]: IP 203.0.113.10 is listed twice`},
				{"main.yaml:7", `media: ice_public_ips[4]: invalid IP address "fe80::1%eth0"`},
			},
		},
		{
			name: "media on all interfaces needs a public address",
			yaml: "media:\n  bind_address: 0.0.0.0\n",
			want: []wantProblem{{"main.yaml:2", `media: bind_address: 0.0.0.0 binds all interfaces, so media.public_address must be set`}},
		},
		{
			name: "blank sqlite path and bad log format",
			yaml: "storage:\n  sqlite:\n    path: '  '\nlog:\n  format: xml\n",
			want: []wantProblem{
				{"main.yaml:3", `storage: sqlite: path: must not be blank`},
				{"main.yaml:5", `log: format: unknown format "xml": want text or json`},
			},
		},
		{
			name: "sip settings",
			yaml: "sip:\n  no_route_status: 200\n  ring_timeout: -5s\n  user_agent: \"a\\r\\nX-Injected: 1\"\n",
			want: []wantProblem{
				{"main.yaml:2", `sip: no_route_status: must be a SIP failure status from 400 to 699, got 200`},
				{"main.yaml:3", `sip: ring_timeout: must be positive, got -5s`},
				{"main.yaml:4", `sip: user_agent: "a\r\nX-Injected: 1" may hold only printable ASCII characters`},
			},
		},
		{
			name: "transaction linger out of range",
			yaml: "sip:\n  transaction_linger: 500ms\n",
			want: []wantProblem{{"main.yaml:2", `sip: transaction_linger: must be 0 (RFC 3261: 32s) or from 1s to 32s, got 500ms`}},
		},
		{
			name: "transaction linger too long",
			yaml: "sip:\n  transaction_linger: 1m\n",
			want: []wantProblem{{"main.yaml:2", `sip: transaction_linger: must be 0 (RFC 3261: 32s) or from 1s to 32s, got 1m0s`}},
		},
		{
			name: "tenant seats and zone",
			yaml: "tenants:\n  - name: a\n    seats: -1\n  - name: b\n    time_zone: Local\n  - seats: 3\n",
			want: []wantProblem{
				{"main.yaml:3", `tenant "a": seats: must not be negative, got -1`},
				{"main.yaml:5", `tenant "b": time_zone: "Local" depends on the host`},
				{"main.yaml:6", `tenants[2]: name: name is required`},
			},
		},
		{
			name: "trunk host and port",
			yaml: "trunks:\n  - name: a\n    port: 5060\n  - name: b\n    host: 192.0.2.1:5060\n    port: -1\n  - name: c\n    host: bad_host!\n",
			want: []wantProblem{
				{"main.yaml:2", `trunk "a": host: host is required`},
				{"main.yaml:5", `trunk "b": host: host "192.0.2.1:5060" must not include a port`},
				{"main.yaml:6", `trunk "b": port: invalid port -1: want 1-65535`},
				{"main.yaml:8", `trunk "c": host: invalid host "bad_host!"`},
			},
		},
		{
			name: "register needs auth",
			yaml: "trunks:\n  - name: a\n    host: 192.0.2.1\n    register: {}\n",
			want: []wantProblem{{"main.yaml:4", `trunk "a": register: register needs auth`}},
		},
		{
			name: "auth needs exactly one secret source",
			yaml: "trunks:\n  - name: a\n    host: 192.0.2.1\n    auth:\n      username: u\n" +
				"  - name: b\n    host: 192.0.2.2\n    auth:\n      username: u\n      password_env: X\n      password_file: x.pass\n",
			want: []wantProblem{
				{"main.yaml:4", `trunk "a": auth: set password_env (an environment variable name) or password_file (a path)`},
				{"main.yaml:11", `trunk "b": auth: password_file: set only one of password_env and password_file`},
			},
		},
		{
			name: "password file missing or empty, env empty",
			yaml: "trunks:\n  - name: a\n    host: 192.0.2.1\n    auth:\n      username: u\n      password_file: secrets/none.pass\n" +
				"  - name: b\n    host: 192.0.2.2\n    auth:\n      username: u\n      password_file: secrets/empty.pass\n" +
				"  - name: c\n    host: 192.0.2.3\n    auth:\n      username: u\n      password_env: EMPTY\n",
			files: map[string]string{"secrets/empty.pass": "\n"},
			want: []wantProblem{
				{"main.yaml:6", `trunk "a": auth: password_file: cannot read secrets/none.pass: file does not exist`},
				{"main.yaml:11", `trunk "b": auth: password_file: password file secrets/empty.pass is empty`},
				{"main.yaml:16", `trunk "c": auth: password_env: environment variable EMPTY is empty`},
			},
		},
		{
			name: "codecs",
			yaml: "trunks:\n  - name: a\n    host: 192.0.2.1\n    codecs:\n      - pcmu\n      - PCMU\n      - opus\n",
			want: []wantProblem{
				{"main.yaml:6", `trunk "a": codecs[1]: codec PCMU is listed twice`},
				{"main.yaml:7", `trunk "a": codecs[2]: unsupported codec "opus": want PCMU or PCMA`},
			},
		},
		{
			name: "pool type and trunks",
			yaml: trunkYAML + "pools:\n  - name: p\n    trunks: [t, t]\n  - name: q\n    type: premium\n",
			want: []wantProblem{
				{"main.yaml:5", `pool "p": type: type is required: virtual, fixed, certified or mobile`},
				{"main.yaml:6", `pool "p": trunks[1]: trunk "t" is listed twice`},
				{"main.yaml:8", `pool "q": type: unknown pool type "premium"`},
			},
		},
		{
			name: "number twice in a pool, and E.164 edges",
			yaml: "pools:\n  - name: p\n    type: fixed\n    numbers:\n      - \"+8613800000001\"\n      - \"+8613800000001\"\n" +
				"      - \"+0123456789\"\n      - \"+1234567\"\n      - \"+1234567890123456\"\n      - \"+12345678\"\n",
			want: []wantProblem{
				{"main.yaml:6", `pool "p": numbers[1]: number +8613800000001 is listed twice`},
				{"main.yaml:7", `numbers[2]: "+0123456789" is not an E.164 number`},
				{"main.yaml:8", `numbers[3]: "+1234567" is not an E.164 number`},
				{"main.yaml:9", `numbers[4]: "+1234567890123456" is not an E.164 number`},
			},
		},
		{
			name: "bindings",
			yaml: "tenants:\n  - name: acme\n" + "trunks:\n  - name: t\n    host: 192.0.2.1\n" +
				"pools:\n  - name: bare\n    type: virtual\n    numbers: [\"+8675500000009\"]\n" +
				"bindings:\n" +
				"  - {mode: AXN, tenant: acme, virtual: \"12345\", b: \"+8613800000001\"}\n" + // 11
				"  - {mode: AXN, tenant: acme, virtual: \"+8675500000001\", b: \"+8613800000001\", trunk: t}\n" +
				"  - {mode: AXN, tenant: acme, virtual: \"+8675500000001\", b: \"+8613800000002\", trunk: t}\n" +
				"  - {mode: AXN, tenant: acme, virtual: \"+8675500000002\", b: \"+8613800000001\"}\n" +
				"  - {mode: AXN, tenant: acme, virtual: \"+8675500000009\", b: \"+8613800000001\"}\n" +
				"  - {mode: AXN, virtual: \"+8675500000003\", b: \"+8675500000003\", trunk: nope}\n",
			want: []wantProblem{
				{"main.yaml:11", `binding for virtual "12345": virtual: "12345" is not an E.164 number`},
				{"main.yaml:13", `virtual: +8675500000001 is already bound (line 12)`},
				{"main.yaml:14", `+8675500000002 is in no pool, so the trunk for calls to it is unknown`},
				{"main.yaml:15", `+8675500000009 is in pool "bare", which has no trunks`},
				{"main.yaml:16", `tenant: tenant is required`},
				{"main.yaml:16", `b: b must differ from virtual`},
				{"main.yaml:16", `trunk: unknown trunk "nope"`},
			},
		},
		{
			name: "empty file",
			yaml: "# nothing\n",
			want: []wantProblem{{"main.yaml", `the file is empty`}},
		},
		{
			name: "two documents",
			yaml: trunkYAML + "---\n" + trunkYAML,
			want: []wantProblem{{"main.yaml:4", `a second YAML document starts here (after "---"); the file must hold exactly one`}},
		},
		{
			name: "top level is a list",
			yaml: "- a\n- b\n",
			want: []wantProblem{{"main.yaml:1", `want a mapping of fields (key: value), got a list`}},
		},
		{
			name: "empty list item",
			yaml: "tenants:\n  - name: a\n  -\n",
			want: []wantProblem{{"main.yaml:3", `tenants[1]: empty list item`}},
		},
		{
			name: "unknown top-level key",
			yaml: "tenant:\n  - name: a\nfoo: 1\n",
			want: []wantProblem{
				{"main.yaml:1", `unknown top-level field "tenant" (did you mean "tenants"?)`},
				{"main.yaml:3", `unknown top-level field "foo" (known fields: admin, agents, agents_lockout, api, bindings, demo, listen,`},
			},
		},
		{
			name: "secrets are never written in the config",
			yaml: "trunks:\n  - name: a\n    host: 192.0.2.1\n    auth:\n      username: u\n      password: hunter2\n",
			want: []wantProblem{
				{"main.yaml:4", `trunk "a": auth: set password_env`},
				{"main.yaml:6", `trunk "a": auth: unknown field "password" (did you mean "password_env" or "password_file"?)`},
			},
		},
		{
			name:  "trunk file with another section",
			yaml:  "trunk_files: [t.yaml]\n",
			files: map[string]string{"t.yaml": trunkYAML + "pools: []\n"},
			want:  []wantProblem{{"t.yaml:4", `unknown top-level field "pools" (a trunk file holds only a "trunks:" list)`}},
		},
		{
			name: "trunk_files pattern matches nothing",
			yaml: "trunk_files:\n  - trunks.d/*.yaml\n  - \"[\"\n",
			want: []wantProblem{
				{"main.yaml:2", `trunk_files[0]: "trunks.d/*.yaml" matches no files`},
				{"main.yaml:3", `trunk_files[1]: bad pattern "["`},
			},
		},
		{
			name: "tab indentation",
			yaml: "trunks:\n\t- name: a\n",
			want: []wantProblem{{"main.yaml:2", `YAML syntax error: found character that cannot start any token`}},
		},
		{
			name: "type error hides no other item",
			yaml: "trunks:\n  - name: a\n    host: [x]\n  - name: b\n    host: 192.0.2.1\n    port: 0x1FFFF\n",
			want: []wantProblem{
				{"main.yaml:3", `trunk "a": host: want a text value, got a list`},
				{"main.yaml:6", `trunk "b": port: invalid port 131071`},
			},
		},
		{
			name: "alias bomb",
			yaml: "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n" +
				"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n" +
				"trunks: [{name: x, codecs: *d}, *d]\n",
			want: []wantProblem{{"main.yaml", `aliases (*name) expand the file to far more values than it holds`}},
		},
		{
			name: "bad duration",
			yaml: "media:\n  rtp_timeout: soon\nsip:\n  max_call_duration: {h: 1}\n",
			want: []wantProblem{
				{"main.yaml:2", `media: rtp_timeout: invalid duration "soon": write e.g. 30s, 5m or 2h`},
				{"main.yaml:4", `sip: max_call_duration: want a duration such as 30s, 5m or 2h, got a mapping`},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{"main.yaml": tc.yaml}
			for k, v := range tc.files {
				files[k] = v
			}
			cfg, err := memLoader(files, map[string]string{"EMPTY": ""}).loadPath("main.yaml")
			if cfg != nil {
				t.Error("got a config despite errors")
			}
			got := errorLines(t, err)
			checkProblems(t, got, tc.want)
			if len(got) != len(tc.want) {
				t.Errorf("got %d problems, want %d:\n%s", len(got), len(tc.want), err)
			}
		})
	}
}

func TestDefaultsApplied(t *testing.T) {
	cfg, err := envLoader(nil).loadPath("testdata/defaults.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if want := (Listen{SIPUDP: "127.0.0.1:5060", SIPTCP: "127.0.0.1:5060", PublicHTTP: "127.0.0.1:8080", InternalHTTP: "127.0.0.1:8081"}); cfg.Listen != want {
		t.Errorf("Listen = %+v", cfg.Listen)
	}
	wantSIP := SIP{PublicAddress: "127.0.0.1", UserAgent: "callgate", RingTimeout: Duration(60 * time.Second),
		MaxCallDuration: Duration(4 * time.Hour), ShutdownGrace: Duration(10 * time.Second), NoRouteStatus: 404,
		Limits: SIPLimits{MaxMessageBytes: 16384, MaxHeaders: 128, RatePerSource: 20, BurstPerSource: 40,
			TrunkRate: 2000, TrunkBurst: 4000, BanFor: Duration(time.Minute), TCPIdleTimeout: Duration(30 * time.Second),
			MaxTCPPerSource: 8},
		Scoring: Scoring{HalfLife: Duration(10 * time.Minute), MinSeizures: 10, DegradeBelow: 0.15, RecoverAbove: 0.30,
			PDDTarget: Duration(5 * time.Second), Every: Duration(5 * time.Second)}}
	if cfg.SIP != wantSIP {
		t.Errorf("SIP = %+v, want %+v", cfg.SIP, wantSIP)
	}
	wantMedia := Media{PortMin: 20000, PortMax: 29999, BindAddress: "127.0.0.1", PublicAddress: "127.0.0.1", RTPTimeout: Duration(time.Minute)}
	if !reflect.DeepEqual(cfg.Media, wantMedia) {
		t.Errorf("Media = %+v, want %+v", cfg.Media, wantMedia)
	}
	if cfg.Storage.SQLite == nil || cfg.Storage.SQLite.Path != "callgate.db" {
		t.Errorf("Storage = %+v", cfg.Storage.SQLite)
	}
	if cfg.Agents != nil || cfg.Web.AllowedOrigins != nil {
		t.Errorf("Agents = %+v, Web = %+v; want none", cfg.Agents, cfg.Web)
	}
	if cfg.Log != (Log{Level: "info", Format: "text"}) {
		t.Errorf("Log = %+v", cfg.Log)
	}
	if tn := cfg.Tenants[0]; tn.TimeZone != "UTC" || tn.Seats != 10 {
		t.Errorf("tenant = %+v", tn)
	}
	a, tls := cfg.Trunks[0], cfg.Trunks[1]
	if a.Port != 5060 || a.Transport != "udp" || a.Domain != "192.0.2.10" || !slices.Equal(a.InboundCIDRs, []string{"192.0.2.10/32"}) ||
		!slices.Equal(a.Codecs, []string{"PCMU", "PCMA"}) || a.MaxConcurrentCalls != 100 || a.MaxCallsPerSecond != 10 {
		t.Errorf("trunk a = %+v", a)
	}
	if tls.Port != 5061 || tls.Transport != "tls" || tls.Domain != "sip.example.net" || len(tls.InboundCIDRs) != 0 {
		t.Errorf("trunk tls = %+v", tls)
	}
	if tls.MaxConcurrentCalls != -1 {
		t.Errorf("negative max_concurrent_calls (off) became %d", tls.MaxConcurrentCalls)
	}
	if tls.Auth.Password != "open-sesame" {
		t.Errorf("password from file = %q", tls.Auth.Password)
	}
	if r := tls.Register; r == nil || r.Expires != Duration(300*time.Second) || r.User != "u" {
		t.Errorf("register = %+v", r)
	}
	if b := cfg.Bindings[0]; b.Mode != "AXN" || b.Trunk != "carrier-tls" {
		t.Errorf("binding = %+v, want mode AXN and the pool's first trunk", b)
	}
}

func TestICESettings(t *testing.T) {
	for name, tc := range map[string]struct {
		yaml string
		want Media
	}{
		"range": {
			yaml: "media:\n  port_min: 20000\n  port_max: 20999\n  ice_port_min: 21000\n  ice_port_max: 21000\n" +
				"  ice_public_ips: [\"::ffff:198.51.100.7\", \"2001:DB8::7\"]\n",
			want: Media{PortMin: 20000, PortMax: 20999, ICEPortMin: 21000, ICEPortMax: 21000,
				ICEPublicIPs: []string{"198.51.100.7", "2001:db8::7"}},
		},
		"mux": {
			yaml: "media:\n  ice_mux: \":3478\"\n",
			want: Media{PortMin: 20000, PortMax: 29999, ICEMux: ":3478"},
		},
		"defaults": {
			yaml: "media:\n  rtp_timeout: 5s\n",
			want: Media{PortMin: 20000, PortMax: 29999},
		},
	} {
		t.Run(name, func(t *testing.T) {
			cfg, err := memLoader(map[string]string{"main.yaml": tc.yaml}, nil).loadPath("main.yaml")
			if err != nil {
				t.Fatal(err)
			}
			m := cfg.Media
			got := Media{PortMin: m.PortMin, PortMax: m.PortMax, ICEPortMin: m.ICEPortMin, ICEPortMax: m.ICEPortMax,
				ICEMux: m.ICEMux, ICEPublicIPs: m.ICEPublicIPs}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Media = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestListenOffAndCIDRs(t *testing.T) {
	yaml := "listen:\n  sip_tcp: off\n  internal_http: 127.0.0.1:0\n" +
		"trunks:\n  - name: a\n    host: sip.example.net\n    inbound_cidrs: [192.0.2.7, \"2001:db8::1\", 10.1.2.3/8, \"::ffff:192.0.2.9/128\"]\n"
	cfg, err := memLoader(map[string]string{"main.yaml": yaml}, nil).loadPath("main.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen.SIPTCP != "" || cfg.Listen.SIPUDP != "127.0.0.1:5060" || cfg.Listen.InternalHTTP != "127.0.0.1:0" {
		t.Errorf("Listen = %+v", cfg.Listen)
	}
	want := []string{"192.0.2.7/32", "2001:db8::1/128", "10.0.0.0/8", "::ffff:192.0.2.9/128"}
	if got := cfg.Trunks[0].InboundCIDRs; !slices.Equal(got, want) {
		t.Errorf("InboundCIDRs = %q, want %q", got, want)
	}
}

func TestAliasesAndMerges(t *testing.T) {
	yaml := `
x-base: &base
  host: 192.0.2.1
  transport: tcp
trunks:
  - <<: *base
    name: a
  - <<: *base
    name: b
    transport: udp
`
	_, err := memLoader(map[string]string{"main.yaml": yaml}, nil).loadPath("main.yaml")
	checkProblems(t, errorLines(t, err), []wantProblem{{"main.yaml:2", `unknown top-level field "x-base"`}})

	yaml = "trunks:\n  - &a {name: a, host: 192.0.2.1}\n  - <<: *a\n    name: b\n    hots: x\n"
	_, err = memLoader(map[string]string{"main.yaml": yaml}, nil).loadPath("main.yaml")
	got := errorLines(t, err)
	checkProblems(t, got, []wantProblem{{"main.yaml:5", `trunk "b": unknown field "hots" (did you mean "host"?)`}})
	if len(got) != 1 {
		t.Errorf("got %q", got)
	}
}

func TestErrorFormat(t *testing.T) {
	e := &Error{File: "a.yaml", Line: 3, Msg: "bad", Kind: ErrInvalid}
	if e.Error() != "a.yaml:3: bad" {
		t.Errorf("Error() = %q", e.Error())
	}
	e.Line = 0
	if e.Error() != "a.yaml: bad" {
		t.Errorf("Error() = %q", e.Error())
	}
	var l error = ErrorList{e, {File: "b.yaml", Line: 1, Msg: "x", Kind: ErrType}}
	if l.Error() != "a.yaml: bad\nb.yaml:1: x" || !errors.Is(l, ErrType) || errors.Is(l, ErrSyntax) {
		t.Errorf("ErrorList = %q", l)
	}
}

func TestTooManyProblems(t *testing.T) {
	var b strings.Builder
	b.WriteString("pools:\n  - name: p\n    type: fixed\n    numbers:\n")
	for range 150 {
		b.WriteString("      - bad\n")
	}
	_, err := memLoader(map[string]string{"main.yaml": b.String()}, nil).loadPath("main.yaml")
	got := errorLines(t, err)
	if len(got) != maxErrors+1 || got[len(got)-1] != "main.yaml: … and 50 more problems" {
		t.Errorf("got %d lines, last %q", len(got), got[len(got)-1])
	}
}
