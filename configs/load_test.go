package configs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"golang.org/x/crypto/bcrypt"
)

// envLoader reads real files but takes the environment from env.
func envLoader(env map[string]string) loader {
	l := osLoader()
	l.lookupEnv = func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	return l
}

// memLoader reads files from a map, for configs written inline in tests.
func memLoader(files map[string]string, env map[string]string) loader {
	mfs := fstest.MapFS{}
	for name, data := range files {
		mfs[name] = &fstest.MapFile{Data: []byte(data)}
	}
	return loader{
		readFile:  func(name string) ([]byte, error) { return fs.ReadFile(mfs, filepath.ToSlash(name)) },
		glob:      func(p string) ([]string, error) { return fs.Glob(mfs, filepath.ToSlash(p)) },
		lookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
	}
}

// errorLines returns the lines of err's text, failing the test if err is not an
// ErrorList.
func errorLines(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		t.Fatal("want an error, got none")
	}
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("error is %T, want ErrorList: %v", err, err)
	}
	return strings.Split(err.Error(), "\n")
}

// wantProblem is one expected line of an error: its "file:line: " start and a part of
// its message.
type wantProblem struct {
	at   string // "testdata/x.yaml:7"
	text string
}

// checkProblems fails unless every wanted problem is among got.
func checkProblems(t *testing.T, got []string, want []wantProblem) {
	t.Helper()
	for _, w := range want {
		found := slices.ContainsFunc(got, func(line string) bool {
			return strings.HasPrefix(line, w.at+": ") && strings.Contains(line, w.text)
		})
		if !found {
			t.Errorf("missing %s: …%s…\ngot:\n%s", w.at, w.text, strings.Join(got, "\n"))
		}
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name  string
		file  string
		kind  error
		want  []wantProblem
		count int // exact number of problems; 0: don't check
	}{
		{
			name: "misspelt key", file: "testdata/unknown_field.yaml", kind: ErrUnknownField, count: 1,
			want: []wantProblem{{"testdata/unknown_field.yaml:7", `trunk "carrier-a": unknown field "trasport" (did you mean "transport"?)`}},
		},
		{
			name: "bad CIDR", file: "testdata/bad_cidr.yaml", kind: ErrInvalid, count: 1,
			want: []wantProblem{{"testdata/bad_cidr.yaml:7", `trunk "carrier-a": inbound_cidrs[1]: invalid CIDR "10.0.0.300/24"`}},
		},
		{
			name: "duplicate key", file: "testdata/duplicate_key.yaml", kind: ErrDuplicateKey, count: 1,
			want: []wantProblem{{"testdata/duplicate_key.yaml:5", `trunk "carrier-a": duplicate key "host" (first at line 3)`}},
		},
		{
			name: "wrong types", file: "testdata/wrong_type.yaml", kind: ErrType, count: 3,
			want: []wantProblem{
				{"testdata/wrong_type.yaml:3", `tenant "acme": seats: want a whole number, got "many"`},
				{"testdata/wrong_type.yaml:5", `media: port_min: want a whole number, got a list`},
				{"testdata/wrong_type.yaml:7", `sip: ring_timeout: duration "30" has no unit`},
			},
		},
		{
			name: "error in a trunk file", file: "testdata/trunkfile_main.yaml", kind: ErrUnknownField, count: 2,
			want: []wantProblem{
				{"testdata/trunkfiles/b_broken.yaml:5", `trunk "broken": unknown field "regster" (did you mean "register"?)`},
				{"testdata/trunkfiles/b_broken.yaml:6", `trunk "broken": port: invalid port 70000`},
			},
		},
		{
			name: "missing env secret", file: "testdata/missing_env.yaml", kind: ErrSecret, count: 1,
			want: []wantProblem{{"testdata/missing_env.yaml:6", `trunk "carrier-a": auth: password_env: environment variable CALLGATE_TEST_UNSET_PASSWORD is not set`}},
		},
		{
			name: "unknown pool trunk", file: "testdata/unknown_pool_trunk.yaml", kind: ErrInvalid, count: 1,
			want: []wantProblem{{"testdata/unknown_pool_trunk.yaml:9", `pool "acme-virtual": trunks[1]: unknown trunk "carrier-z"`}},
		},
		{
			name: "syntax error", file: "testdata/syntax.yaml", kind: ErrSyntax, count: 1,
			want: []wantProblem{{"testdata/syntax.yaml:4", `YAML syntax error: did not find expected ',' or ']' (while parsing a flow sequence that starts at line 3)`}},
		},
		{
			name: "many problems at once", file: "testdata/multiple.yaml", kind: ErrInvalid, count: 11,
			want: []wantProblem{
				{"testdata/multiple.yaml:2", `listen: sip_udp: invalid address "127.0.0.1": want host:port`},
				{"testdata/multiple.yaml:4", `log: level: unknown level "verbose"`},
				{"testdata/multiple.yaml:7", `tenant "acme": time_zone: unknown time zone "Mars/Olympus"`},
				{"testdata/multiple.yaml:8", `tenant "acme": name: duplicate tenant name "acme" (first defined at line 6)`},
				{"testdata/multiple.yaml:12", `trunk "carrier-a": transport: unknown transport "sctp"`},
				{"testdata/multiple.yaml:13", `trunk "carrier-a": codecs[1]: unsupported codec "G729"`},
				{"testdata/multiple.yaml:17", `pool "p1": tenant: unknown tenant "initech"`},
				{"testdata/multiple.yaml:18", `pool "p1": numbers[1]: "13800000002" is not an E.164 number`},
				{"testdata/multiple.yaml:21", `pool "p2": numbers[0]: number +8613800000001 is already in pool "p1" (line 15)`},
				{"testdata/multiple.yaml:23", `binding for virtual "+8613800000001": mode: unsupported mode "AXB"`},
				{"testdata/multiple.yaml:24", `binding for virtual "+8613800000001": tenant: +8613800000001 belongs to pool "p1" of tenant "initech", not "acme"`},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := envLoader(nil).loadPath(tc.file)
			if cfg != nil {
				t.Errorf("got a config with errors")
			}
			got := errorLines(t, err)
			checkProblems(t, got, tc.want)
			if tc.count > 0 && len(got) != tc.count {
				t.Errorf("got %d problems, want %d:\n%s", len(got), tc.count, err)
			}
			if !errors.Is(err, tc.kind) {
				t.Errorf("errors.Is(err, %v) = false", tc.kind)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load("testdata/does-not-exist.yaml")
	got := errorLines(t, err)
	if len(got) != 1 || got[0] != "testdata/does-not-exist.yaml: cannot read config file: no such file or directory" {
		t.Errorf("got %q", got)
	}
	if !errors.Is(err, ErrRead) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("want ErrRead and fs.ErrNotExist in %v", err)
	}
}

func TestLoadPositions(t *testing.T) {
	cfg, err := envLoader(nil).loadPath("testdata/defaults.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const f = "testdata/defaults.yaml"
	got := []Pos{cfg.Tenants[0].Pos, cfg.Trunks[0].Pos, cfg.Trunks[1].Pos, cfg.Pools[0].Pos, cfg.Bindings[0].Pos}
	want := []Pos{{f, 3}, {f, 5}, {f, 7}, {f, 16}, {f, 21}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("positions = %v, want %v", got, want)
	}

	cfg, err = envLoader(nil).loadPath("testdata/unknown_pool_trunk.yaml")
	if err == nil || cfg != nil {
		t.Fatal("want an error")
	}
}

func TestTrunkFilePositions(t *testing.T) {
	l := memLoader(map[string]string{
		"main.yaml":     "trunk_files: [trunks/*.yaml]\ntrunks:\n  - name: a\n    host: 192.0.2.1\n",
		"trunks/b.yaml": "# b\n\ntrunks:\n  - name: b\n    host: 192.0.2.2\n",
		"trunks/c.yaml": "trunks:\n  - name: c\n    host: 192.0.2.3\n  - name: a\n    host: 192.0.2.4\n",
	}, nil)
	_, err := l.loadPath("main.yaml")
	checkProblems(t, errorLines(t, err), []wantProblem{
		{"trunks/c.yaml:4", `trunk "a": name: duplicate trunk name "a" (first defined at main.yaml:3)`},
	})

	l = memLoader(map[string]string{
		"main.yaml":     "trunk_files: [trunks/*.yaml]\ntrunks:\n  - name: a\n    host: 192.0.2.1\n",
		"trunks/b.yaml": "# b\n\ntrunks:\n  - name: b\n    host: 192.0.2.2\n",
	}, nil)
	cfg, err := l.loadPath("main.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := []Pos{{"main.yaml", 3}, {"trunks/b.yaml", 4}}
	got := []Pos{cfg.Trunks[0].Pos, cfg.Trunks[1].Pos}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("positions = %v, want %v", got, want)
	}
	if want := []string{"main.yaml", "trunks/b.yaml"}; !reflect.DeepEqual(cfg.Files, want) {
		t.Errorf("Files = %q, want %q", cfg.Files, want)
	}
}

func TestDefaultConfig(t *testing.T) {
	cfg, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Files[0] != BuiltinName {
		t.Errorf("Files = %q", cfg.Files)
	}
	want := Config{
		Listen: Listen{SIPUDP: "127.0.0.1:5060", SIPTCP: "127.0.0.1:5060", PublicHTTP: "127.0.0.1:8080", InternalHTTP: "127.0.0.1:8081"},
		Media:  Media{PortMin: 20000, PortMax: 20999, BindAddress: "127.0.0.1", PublicAddress: "127.0.0.1"},
		Demo:   Demo{Carrier: "127.0.0.1:5070"},
	}
	if cfg.Listen != want.Listen {
		t.Errorf("Listen = %+v, want %+v", cfg.Listen, want.Listen)
	}
	m := cfg.Media
	m.RTPTimeout = 0
	if !reflect.DeepEqual(m, want.Media) {
		t.Errorf("Media = %+v, want %+v", m, want.Media)
	}
	if cfg.Demo != want.Demo || cfg.Storage.SQLite.Path != "callgate.db" {
		t.Errorf("Demo = %+v, Storage = %+v", cfg.Demo, cfg.Storage.SQLite)
	}
	if len(cfg.Tenants) != 1 || cfg.Tenants[0].Name != "demo" || cfg.Tenants[0].TimeZone != "Asia/Shanghai" || cfg.Tenants[0].Seats != 5 {
		t.Errorf("Tenants = %+v", cfg.Tenants)
	}
	if len(cfg.Trunks) != 1 {
		t.Fatalf("Trunks = %+v", cfg.Trunks)
	}
	tr := cfg.Trunks[0]
	if tr.Name != "demo-carrier" || tr.Host != "127.0.0.1" || tr.Port != 5070 || tr.Transport != "udp" ||
		!slices.Equal(tr.InboundCIDRs, []string{"127.0.0.0/8"}) || tr.Auth != nil || tr.Register != nil {
		t.Errorf("trunk = %+v", tr)
	}
	if len(cfg.Pools) != 2 {
		t.Fatalf("Pools = %+v", cfg.Pools)
	}
	wantPools := []Pool{
		{Name: "demo-virtual", Supplier: "demo", Type: "virtual", Region: "Shenzhen", Tenant: "demo",
			Trunks: []string{"demo-carrier"}, Numbers: []string{"+8675500000001", "+8675500000002"}, Pos: cfg.Pools[0].Pos},
		{Name: "demo-fixed", Supplier: "demo", Type: "fixed", Region: "Shanghai", Tenant: "demo",
			Trunks: []string{"demo-carrier"}, Numbers: []string{"+862100000001", "+862100000002"}, Pos: cfg.Pools[1].Pos},
	}
	if !reflect.DeepEqual(cfg.Pools, wantPools) {
		t.Errorf("Pools = %+v, want %+v", cfg.Pools, wantPools)
	}
	wantBinding := Binding{Tenant: "demo", Mode: "AXN", Virtual: "+8675500000001", B: "+8613800000001", Trunk: "demo-carrier", Pos: cfg.Bindings[0].Pos}
	if len(cfg.Bindings) != 1 || cfg.Bindings[0] != wantBinding {
		t.Errorf("Bindings = %+v", cfg.Bindings)
	}
	if cfg.Bindings[0].Pos.File != BuiltinName || cfg.Bindings[0].Pos.Line == 0 {
		t.Errorf("binding Pos = %v", cfg.Bindings[0].Pos)
	}
	if len(cfg.Agents) != 1 {
		t.Fatalf("Agents = %+v", cfg.Agents)
	}
	a := cfg.Agents[0]
	if a.Tenant != "demo" || a.Name != "demo" || a.TokenEnv != "" || a.TokenFile != "" || a.Token != "" ||
		a.Pos.File != BuiltinName || a.Pos.Line == 0 {
		t.Errorf("agent = %+v", a)
	}
	if err := bcrypt.CompareHashAndPassword([]byte(a.PasswordHash), []byte("demo")); err != nil {
		t.Errorf("the demo agent's password is not \"demo\": %v", err)
	}
	if len(cfg.Web.AllowedOrigins) != 0 || cfg.Media.ICEMux != "" || len(cfg.Media.ICEPublicIPs) != 0 {
		t.Errorf("Web = %+v, Media = %+v", cfg.Web, cfg.Media)
	}
}

// setExampleEnv sets the environment variables callgate.example.yaml reads its
// secrets from.
func setExampleEnv(t *testing.T) {
	t.Helper()
	t.Setenv("CALLGATE_CARRIER_A_PASSWORD", "s3cret")
	t.Setenv("CALLGATE_AGENT_CRM_BOT_TOKEN", "crm-bot-token-0123456789")
}

func TestExampleConfig(t *testing.T) {
	setExampleEnv(t)
	cfg, err := Load("callgate.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"callgate.example.yaml", filepath.Join("trunks", "carrier-a.yaml")}; !slices.Equal(cfg.Files, want) {
		t.Errorf("Files = %q, want %q", cfg.Files, want)
	}
	var a *Trunk
	for i := range cfg.Trunks {
		if cfg.Trunks[i].Name == "carrier-a" {
			a = &cfg.Trunks[i]
		}
	}
	if a == nil {
		t.Fatal("trunk carrier-a from trunks/carrier-a.yaml is missing")
	}
	if a.Auth == nil || a.Auth.Password != "s3cret" || a.Register == nil || a.Register.User != "acme-trunk-01" {
		t.Errorf("carrier-a auth = %+v, register = %+v", a.Auth, a.Register)
	}
	if a.Pos.File != filepath.Join("trunks", "carrier-a.yaml") || a.Pos.Line != 4 {
		t.Errorf("carrier-a Pos = %v", a.Pos)
	}
	if cfg.Bindings[0].Trunk != "carrier-a" {
		t.Errorf("binding trunk = %q, want the pool's first trunk", cfg.Bindings[0].Trunk)
	}
	if len(cfg.Agents) != 2 {
		t.Fatalf("Agents = %+v", cfg.Agents)
	}
	if a := cfg.Agents[0]; a.Name != "alice" || a.Tenant != "acme" || a.PasswordHash == "" || a.Token != "" {
		t.Errorf("alice = %+v", a)
	}
	if a := cfg.Agents[1]; a.Name != "crm-bot" || a.Token != "crm-bot-token-0123456789" || a.PasswordHash != "" {
		t.Errorf("crm-bot = %+v", a)
	}
	if want := []string{"https://crm.acme.example", "http://127.0.0.1:9000"}; !slices.Equal(cfg.Web.AllowedOrigins, want) {
		t.Errorf("AllowedOrigins = %q, want %q", cfg.Web.AllowedOrigins, want)
	}
	m := cfg.Media
	if m.ICEPortMin != 40000 || m.ICEPortMax != 40999 || m.ICEMux != "" || !slices.Equal(m.ICEPublicIPs, []string{"203.0.113.10"}) {
		t.Errorf("ICE settings = %d-%d mux %q public %q", m.ICEPortMin, m.ICEPortMax, m.ICEMux, m.ICEPublicIPs)
	}
}

func TestExampleConfigNeedsItsSecret(t *testing.T) {
	_, err := envLoader(nil).loadPath("callgate.example.yaml")
	// The line of crm-bot's token_env, wherever edits to the example put it.
	b, rerr := os.ReadFile("callgate.example.yaml")
	if rerr != nil {
		t.Fatal(rerr)
	}
	before, _, _ := strings.Cut(string(b), "token_env: CALLGATE_AGENT_CRM_BOT_TOKEN")
	line := strings.Count(before, "\n") + 1
	checkProblems(t, errorLines(t, err), []wantProblem{
		{filepath.Join("trunks", "carrier-a.yaml") + ":14", "environment variable CALLGATE_CARRIER_A_PASSWORD is not set"},
		{fmt.Sprintf("callgate.example.yaml:%d", line), `agent "crm-bot": token_env: environment variable CALLGATE_AGENT_CRM_BOT_TOKEN is not set`},
	})
}

// TestDocumentMirrorsConfig guards the decoding types against drifting from Config.
func TestDocumentMirrorsConfig(t *testing.T) {
	keys := func(typ reflect.Type) []string {
		var out []string
		for k := range yamlFields(typ) {
			out = append(out, k)
		}
		slices.Sort(out)
		return out
	}
	if a, b := keys(reflect.TypeFor[Config]()), keys(reflect.TypeFor[document]()); !slices.Equal(a, b) {
		t.Errorf("Config keys %q, document keys %q", a, b)
	}
	if a, b := keys(reflect.TypeFor[trunkFile]()), keys(reflect.TypeFor[trunkDocument]()); !slices.Equal(a, b) {
		t.Errorf("trunkFile keys %q, trunkDocument keys %q", a, b)
	}
}

// A trunk file that cannot be read is reported at the line of the main file that
// names it (the unreadable file has no line of its own).
func TestUnreadableTrunkFileNamesTheLine(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "trunks.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	main := filepath.Join(dir, "callgate.yaml")
	if err := os.WriteFile(main, []byte("log:\n  level: info\ntrunk_files:\n  - trunks.d\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(main)
	var list ErrorList
	if !errors.As(err, &list) || len(list) != 1 {
		t.Fatalf("Load = %v, want one problem", err)
	}
	e := list[0]
	if e.File != main || e.Line != 4 || !strings.Contains(e.Msg, "trunk_files[0]: cannot read trunk file "+filepath.Join(dir, "trunks.d")) ||
		!strings.Contains(e.Msg, "is a directory") || !errors.Is(err, ErrRead) {
		t.Fatalf("problem %#v", e)
	}
}
