package configs

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// eventsAPI is an api section with two apps: crm acts for acme, ops for globex.
const eventsAPI = `api:
  apps:
    - name: crm
      tenants: [acme]
      secret_env: CRM_SECRET
    - name: ops
      tenants: [globex]
      secret_env: OPS_SECRET
`

var eventsEnv = map[string]string{"CRM_SECRET": strings.Repeat("c", 40), "OPS_SECRET": strings.Repeat("o", 40)}

func TestEventCallbacksLoaded(t *testing.T) {
	yaml := `tenants:
  - name: acme
    events:
      url: https://crm.example.com/callgate/events?src=cg
      app: crm
      types: [call.ended, " Binding.Created "]
      timeout: 2s
      max_attempts: 1
      backoff: 200ms
      max_backoff: 10s
      queue: 50
      workers: 4
  - name: globex
    events:
      url: http://10.0.0.7:9000/hooks
      app: ops
  - name: initech
` + eventsAPI
	cfg, err := memLoader(map[string]string{"main.yaml": yaml}, eventsEnv).loadPath("main.yaml")
	if err != nil {
		t.Fatal(err)
	}
	acme, globex := cfg.Tenants[0].Events, cfg.Tenants[1].Events
	if acme == nil || globex == nil || cfg.Tenants[2].Events != nil {
		t.Fatalf("events = %+v, %+v, %+v", acme, globex, cfg.Tenants[2].Events)
	}
	if acme.URL != "https://crm.example.com/callgate/events?src=cg" || acme.App != "crm" || acme.Secret != strings.Repeat("c", 40) ||
		!slices.Equal(acme.Types, []string{EventCallEnded, EventBindingCreated}) || acme.Timeout.Std() != 2*time.Second ||
		acme.MaxAttempts != 1 || acme.Backoff.Std() != 200*time.Millisecond || acme.MaxBackoff.Std() != 10*time.Second ||
		acme.Queue != 50 || acme.Workers != 4 {
		t.Errorf("acme events = %+v", *acme)
	}
	// Everything left out takes its default; the secret is the app's.
	if globex.Secret != strings.Repeat("o", 40) || !slices.Equal(globex.Types, EventTypes()) ||
		globex.Timeout.Std() != defaultEventTimeout || globex.MaxAttempts != defaultEventAttempts ||
		globex.Backoff.Std() != defaultEventBackoff || globex.MaxBackoff.Std() != defaultEventMaxBackoff ||
		globex.Queue != defaultEventQueue || globex.Workers != defaultEventWorkers {
		t.Errorf("globex events = %+v", *globex)
	}
}

func TestEventCallbacksProblems(t *testing.T) {
	yaml := "tenants:\n" +
		"  - name: acme\n" + // 2
		"    events:\n" +
		"      url: ftp://crm.example.com/events\n" + // 4
		"      app: ops\n" + // 5
		"      types: [call.transferred, call.ended, call.ended]\n" + // 6
		"      timeout: -1s\n" + // 7
		"      max_attempts: -2\n" + // 8
		"      backoff: 10s\n" +
		"      max_backoff: 1s\n" + // 10
		"      queue: -1\n" + // 11
		"      workers: 100\n" + // 12
		"      retries: 3\n" + // 13
		"  - name: globex\n" + // 14
		"    events:\n" + // 15
		"      url: https://user:pw@crm.example.com/events\n" + // 16
		"  - name: initech\n" + // 17
		"    events:\n" +
		"      url: \"crm.example.com/events\"\n" + // 19
		"      app: nobody\n" + // 20
		"  - name: hooli\n" + // 21
		"    events:\n" + // 22
		"      app: crm\n" + // 23
		"  - name: umbrella\n" + // 24
		"    events:\n" +
		"      url: \"https://crm.example.com/events#frag\"\n" + // 26
		"      app: crm\n" + // 27
		eventsAPI
	_, err := memLoader(map[string]string{"main.yaml": yaml}, eventsEnv).loadPath("main.yaml")
	want := []wantProblem{
		{"main.yaml:4", `tenant "acme": events: url: "ftp://crm.example.com/events": scheme "ftp" is not allowed: want http or https`},
		{"main.yaml:5", `tenant "acme": events: app: app "ops" does not act for tenant "acme"`},
		{"main.yaml:6", `tenant "acme": events: types[0]: unknown event type "call.transferred": want binding.created, binding.expired, call.started, call.ringing, call.answered, call.ended`},
		{"main.yaml:6", `tenant "acme": events: types[2]: event type "call.ended" is listed twice`},
		{"main.yaml:7", `tenant "acme": events: timeout: must be positive`},
		{"main.yaml:8", `tenant "acme": events: max_attempts: must be from 1 (no retries) to 100, got -2`},
		{"main.yaml:10", `tenant "acme": events: max_backoff: must not be below backoff (10s), got 1s`},
		{"main.yaml:11", `tenant "acme": events: queue: must be from 1 to 100000, got -1`},
		{"main.yaml:12", `tenant "acme": events: workers: must be from 1 to 64, got 100`},
		{"main.yaml:13", `retries`},
		{"main.yaml:16", `tenant "globex": events: url: "https://user:pw@crm.example.com/events" holds a user name or password`},
		{"main.yaml:15", `tenant "globex": events: app is required`},
		{"main.yaml:19", `tenant "initech": events: url: "crm.example.com/events" has no scheme`},
		{"main.yaml:20", `tenant "initech": events: app: unknown app "nobody": list it under api: apps`},
		{"main.yaml:22", `tenant "hooli": events: url: url is required`},
		{"main.yaml:23", `tenant "hooli": events: app: app "crm" does not act for tenant "hooli"`},
		{"main.yaml:26", `tenant "umbrella": events: url: "https://crm.example.com/events#frag" has a fragment`},
		{"main.yaml:27", `tenant "umbrella": events: app: app "crm" does not act for tenant "umbrella"`},
	}
	got := errorLines(t, err)
	checkProblems(t, got, want)
	if len(got) != len(want) {
		t.Errorf("got %d problems, want %d:\n%s", len(got), len(want), err)
	}
	if strings.Contains(err.Error(), strings.Repeat("c", 40)) {
		t.Error("a secret leaked into an error")
	}
}

func TestCheckEventURL(t *testing.T) {
	for _, tc := range []struct{ url, problem string }{
		{"https://crm.example.com/callgate/events", ""},
		{"http://127.0.0.1:9000/hooks?tenant=acme&x=1", ""},
		{"http://[::1]:9000/", ""},
		{"HTTPS://CRM.example.com", ""},
		{"", "url is required"},
		{"mailto:ops@example.com", `scheme "mailto" is not allowed`},
		{"https:///events", "has no host"},
		{"https://crm.example.com:0/", `invalid port "0"`},
		{"https://crm.example.com:99999/", `invalid port "99999"`},
		{"https://crm.exa mple.com/", "is not a URL"},
		{"https://crm.example.com/?a=1;b=2", "separate query parameters with &"},
		{"https://crm.example.com/?a=%zz", "invalid query"},
		{"https://-crm.example.com/", "invalid host"},
	} {
		got := checkEventURL(tc.url)
		if tc.problem == "" && got != "" || !strings.Contains(got, tc.problem) {
			t.Errorf("checkEventURL(%q) = %q, want …%s…", tc.url, got, tc.problem)
		}
	}
}
