package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"callgate/configs"
	"callgate/pool"
	"callgate/sip/demo"
	"callgate/web"
	"callgate/web/apiclient"
)

// The reload tests run callgate on a config file, edit the file while a call is up
// and watch what the running process does.

const (
	reloadSecret = "ops-secret-0123456789abcdef0123456789ab"
	numberA      = "+862100000001" // the caller number of pool acme-a
	numberB      = "+862100000002" // of pool acme-b
)

// reloadYAML is the reload tests' config: tenant acme with agents alice and bob,
// trunks and pools as the test writes them (trunks, pools), an ops app for the admin
// API.
const reloadYAML = `listen:
  sip_udp: 127.0.0.1:0
  sip_tcp: "off"
  public_http: 127.0.0.1:0
  internal_http: 127.0.0.1:0
media:
  bind_address: 127.0.0.1
  port_min: %d
  port_max: %d
storage:
  sqlite:
    path: %s
tenants:
  - name: acme
    seats: 4
    callers:
      caps: ` + noCaps + `
agents:
  - {tenant: acme, name: alice, token_env: ALICE_TOKEN}
  - {tenant: acme, name: bob, token_env: BOB_TOKEN}
api:
  apps:
    - {name: ops, tenants: ["*"], secret_env: OPS_SECRET}
trunks:
%s
pools:
%s
`

// trunkYAML is a trunk to a demo carrier.
func trunkYAML(name string, c *demo.Carrier) string {
	return fmt.Sprintf("  - {name: %s, host: 127.0.0.1, port: %d}\n", name, c.Addr().Port())
}

// poolYAML is a fixed caller pool of acme.
func poolYAML(name, number string, trunks ...string) string {
	return fmt.Sprintf("  - {name: %s, supplier: s, type: fixed, tenant: acme, trunks: [%s], numbers: [%q]}\n",
		name, strings.Join(trunks, ", "), number)
}

// reloadRig is callgate serving a config file it watches.
type reloadRig struct {
	t        *testing.T
	dir      string
	path     string
	db       string
	base     string // public listener
	api      string // internal listener
	logs     *lineWriter
	portBase int
}

func newCarrier(t *testing.T) *demo.Carrier {
	t.Helper()
	c := &demo.Carrier{RingFor: 100 * time.Millisecond, Tone: time.Minute, ToneHz: 440}
	if err := c.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func reloadEnv(t *testing.T) {
	t.Setenv("ALICE_TOKEN", agentToken)
	t.Setenv("BOB_TOKEN", bobToken)
	t.Setenv("OPS_SECRET", reloadSecret)
}

// write replaces the config file the way editors do: a new file renamed over it.
func (r *reloadRig) write(trunks, pools string) {
	r.t.Helper()
	text := fmt.Sprintf(reloadYAML, r.portBase, r.portBase+998, r.db, trunks, pools)
	tmp := r.path + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
		r.t.Fatal(err)
	}
	if err := os.Rename(tmp, r.path); err != nil {
		r.t.Fatal(err)
	}
}

// newReloadRig writes the config and serves it in this process.
func newReloadRig(t *testing.T, trunks, pools string) *reloadRig {
	t.Helper()
	reloadEnv(t)
	dir := t.TempDir()
	r := &reloadRig{t: t, dir: dir, path: filepath.Join(dir, "callgate.yaml"), db: filepath.Join(dir, "callgate.db"),
		portBase: 39000}
	r.write(trunks, pools)
	cfg, err := configs.Load(r.path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out, logs := &lineWriter{}, &lineWriter{}
	r.logs = logs
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), out)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		if t.Failed() {
			t.Logf("callgate logs:\n%s", tail(logs.String(), 8000))
		}
	})
	r.base = out.wait(t, regexp.MustCompile(`page at (http://127\.0\.0\.1:\d+/)`))[1]
	r.api = out.wait(t, regexp.MustCompile(`business API at (http://127\.0\.0\.1:\d+)/v1/`))[1]
	return r
}

// admin sends a signed admin request and decodes the answer into out.
func adminCall(t *testing.T, api, method, path string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, api+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := apiclient.Sign(req, "ops", reloadSecret, time.Now()); err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, path, res.StatusCode, b, err)
		}
	}
	return res.StatusCode
}

// status reads GET /v1/admin/config.
func (r *reloadRig) status() web.ConfigStatus {
	r.t.Helper()
	var st web.ConfigStatus
	if code := adminCall(r.t, r.api, http.MethodGet, "/v1/admin/config", &st); code != 200 {
		r.t.Fatalf("GET /v1/admin/config: %d", code)
	}
	return st
}

// waitReload waits until a reload after prev (a LastReload time) is reported.
func (r *reloadRig) waitReload(prev time.Time) web.ReloadResult {
	r.t.Helper()
	var last web.ReloadResult
	eventually(r.t, "the edit is reloaded", func() bool {
		st := r.status()
		if st.LastReload == nil || !st.LastReload.At.After(prev) {
			return false
		}
		last = *st.LastReload
		return true
	})
	return last
}

// lastReloadAt is the time of the last reload, or zero.
func (r *reloadRig) lastReloadAt() time.Time {
	if st := r.status(); st.LastReload != nil {
		return st.LastReload.At
	}
	return time.Time{}
}

// A good edit (a new trunk and pool) applies while a call is up: the call stays up
// and ends normally, and the next call uses what the edit added.
func TestReloadGoodEditKeepsCallUp(t *testing.T) {
	ca, cb := newCarrier(t), newCarrier(t)
	r := newReloadRig(t, trunkYAML("carrier-a", ca), poolYAML("acme-a", numberA, "carrier-a"))
	before := r.status()

	alice := newGoAgent(t, r.base, agentToken)
	aliceCall := alice.dial("+8613800138000")
	alice.state("connected")
	eventually(t, "carrier A answered alice", func() bool { return len(ca.Calls()) == 1 })

	// Edit: add carrier B and a pool on it.
	r.write(trunkYAML("carrier-a", ca)+trunkYAML("carrier-b", cb),
		poolYAML("acme-a", numberA, "carrier-a")+poolYAML("acme-b", numberB, "carrier-b"))
	res := r.waitReload(time.Time{})
	if !res.OK || !res.Changed || res.By != "file" || res.Version == before.Version {
		t.Fatalf("reload of a good edit: %+v", res)
	}
	for _, want := range []string{"trunks", "pools", "caller numbers"} {
		if !strings.Contains(strings.Join(res.Applied, ","), want) {
			t.Errorf("applied %v, want %s", res.Applied, want)
		}
	}
	if len(res.NeedsRestart) != 0 {
		t.Errorf("needs restart: %v", res.NeedsRestart)
	}
	// Bob's call: alice's call holds numberA, so it goes out on the new pool's trunk.
	bob := newGoAgent(t, r.base, bobToken)
	bobCall := bob.dial("+8613800138001")
	bob.state("connected")
	eventually(t, "carrier B answered bob", func() bool { return len(cb.Calls()) == 1 })
	if from := cb.Calls()[0].From; from != numberB {
		t.Errorf("bob's call shows %s, want %s", from, numberB)
	}
	// Alice's call survived the reload: her audio still reaches carrier A.
	ac := ca.Calls()[0]
	if ac.GotBye() {
		t.Fatal("the reload ended the call in progress")
	}
	n := len(ac.Heard())
	eventually(t, "carrier A still hears alice after the reload", func() bool {
		h := ac.Heard()
		return len(h) > n+1600 && dominant(h, 1000, 440)
	})
	alice.send(map[string]any{"type": "hangup", "call": aliceCall})
	alice.state("ended")
	eventually(t, "carrier A got alice's BYE", ac.GotBye)
	bob.send(map[string]any{"type": "hangup", "call": bobCall})
	bob.state("ended")
	if len(ca.Calls()) != 1 {
		t.Errorf("carrier A got %d calls, want 1", len(ca.Calls()))
	}
}

// A bad edit (a misspelt key) is refused with file:line in the logs and in the
// admin API; the old config keeps serving new calls.
func TestReloadBadEditRefused(t *testing.T) {
	ca := newCarrier(t)
	r := newReloadRig(t, trunkYAML("carrier-a", ca), poolYAML("acme-a", numberA, "carrier-a"))
	before := r.status()
	r.write("  - {name: carrier-a, hots: 127.0.0.1, port: 5999}\n", poolYAML("acme-a", numberA, "carrier-a"))
	res := r.waitReload(time.Time{})
	if res.OK || res.Changed || res.Version != before.Version || len(res.Errors) == 0 {
		t.Fatalf("reload of a bad edit: %+v", res)
	}
	want := regexp.MustCompile(regexp.QuoteMeta(r.path) + `:\d+: .*hots`)
	if !want.MatchString(strings.Join(res.Errors, "\n")) {
		t.Errorf("errors %q lack %s", res.Errors, want)
	}
	eventually(t, "the logs say why", func() bool { return want.MatchString(r.logs.String()) })
	if st := r.status(); st.Version != before.Version || !st.LoadedAt.Equal(before.LoadedAt) {
		t.Errorf("status after a refused reload: %+v, want the old version %s", st, before.Version)
	}
	// The API reloads the same files, with the same answer.
	var api web.ReloadResult
	if code := adminCall(t, r.api, http.MethodPost, "/v1/admin/reload", &api); code != 200 || api.OK || api.By != "api:ops" ||
		!want.MatchString(strings.Join(api.Errors, "\n")) {
		t.Errorf("POST /v1/admin/reload: %d %+v", code, api)
	}
	// The old config serves: a new call goes out on carrier A.
	alice := newGoAgent(t, r.base, agentToken)
	id := alice.dial("+8613800138000")
	alice.state("connected")
	eventually(t, "carrier A answered", func() bool { return len(ca.Calls()) == 1 })
	alice.send(map[string]any{"type": "hangup", "call": id})
	alice.state("ended")
}

// A trunk removed mid-call: the call on it continues and ends normally; new calls
// no longer go to it.
func TestReloadTrunkRemovedMidCall(t *testing.T) {
	ca, cb := newCarrier(t), newCarrier(t)
	r := newReloadRig(t, trunkYAML("carrier-a", ca)+trunkYAML("carrier-b", cb),
		poolYAML("acme-a", numberA, "carrier-a")+poolYAML("acme-b", numberB, "carrier-b"))
	alice := newGoAgent(t, r.base, agentToken)
	aliceCall := alice.dial("+8613800138000")
	alice.state("connected")
	eventually(t, "carrier A answered alice", func() bool { return len(ca.Calls()) == 1 })
	if from := ca.Calls()[0].From; from != numberA {
		t.Fatalf("alice's call shows %s, want %s (pool acme-a first)", from, numberA)
	}

	// Remove carrier A and its pool; numberA moves to carrier B's pool.
	prev := r.lastReloadAt()
	r.write(trunkYAML("carrier-b", cb), poolYAML("acme-b", numberB, "carrier-b"))
	if res := r.waitReload(prev); !res.OK || !res.Changed {
		t.Fatalf("reload: %+v", res)
	}
	var trunks struct {
		Trunks []struct{ Name string } `json:"trunks"`
	}
	if code := adminCall(t, r.api, http.MethodGet, "/v1/trunks", &trunks); code != 200 || len(trunks.Trunks) != 1 ||
		trunks.Trunks[0].Name != "carrier-b" {
		t.Errorf("GET /v1/trunks after the reload: %d %+v", code, trunks)
	}
	// New calls: carrier B only.
	bob := newGoAgent(t, r.base, bobToken)
	bobCall := bob.dial("+8613800138001")
	bob.state("connected")
	eventually(t, "carrier B answered bob", func() bool { return len(cb.Calls()) == 1 })
	bob.send(map[string]any{"type": "hangup", "call": bobCall})
	bob.state("ended")
	// Alice's call is still up on the removed trunk, and ends normally.
	ac := ca.Calls()[0]
	if ac.GotBye() {
		t.Fatal("removing the trunk ended its call in progress")
	}
	n := len(ac.Heard())
	eventually(t, "carrier A still hears alice", func() bool { return len(ac.Heard()) > n+1600 })
	alice.send(map[string]any{"type": "hangup", "call": aliceCall})
	alice.state("ended")
	eventually(t, "carrier A got alice's BYE", ac.GotBye)
	// Alice calls again: not to the removed trunk.
	again := alice.dialAgain("+8613800138002")
	alice.state("connected")
	eventually(t, "carrier B answered alice", func() bool { return len(cb.Calls()) == 2 })
	if len(ca.Calls()) != 1 {
		t.Errorf("the removed trunk got %d calls, want 1", len(ca.Calls()))
	}
	alice.send(map[string]any{"type": "hangup", "call": again})
	alice.state("ended")
}

// dialAgain dials with a fresh request id.
func (a *goAgent) dialAgain(to string) string {
	a.t.Helper()
	a.send(map[string]any{"type": "dial", "id": "d2", "to": to})
	m := a.next("call", "error")
	if m["type"] != "call" || m["state"] != "dialing" {
		a.t.Fatalf("dial: %v", m)
	}
	return m["call"].(string)
}

// SIGHUP reloads the config of a callgate process and does not stop it.
func TestReloadOnSIGHUP(t *testing.T) {
	ca := newCarrier(t)
	reloadEnv(t)
	dir := t.TempDir()
	r := &reloadRig{t: t, dir: dir, path: filepath.Join(dir, "callgate.yaml"), db: filepath.Join(dir, "callgate.db"),
		portBase: 40000}
	r.write(trunkYAML("carrier-a", ca), poolYAML("acme-a", numberA, "carrier-a"))

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childArgsEnv+"=serve --config "+r.path)
	logs := &lineWriter{}
	cmd.Stderr = logs
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("callgate logs:\n%s", tail(logs.String(), 6000))
		}
	})
	apiRe := regexp.MustCompile(`business API at (http://127\.0\.0\.1:\d+)/v1/`)
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := apiRe.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	select {
	case r.api = <-found:
	case <-time.After(30 * time.Second):
		t.Fatal("callgate did not print its API URL")
	}
	if st := r.status(); st.LastReload != nil {
		t.Fatalf("a reload before any: %+v", st.LastReload)
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	res := r.waitReload(time.Time{})
	if !res.OK || res.By != "signal" || res.Changed {
		t.Fatalf("reload on SIGHUP of unchanged files: %+v", res)
	}
	// An edit then SIGHUP: applied (by the signal, or by the watcher if it saw the
	// edit first); the process keeps serving.
	before := r.status().Version
	r.write(trunkYAML("carrier-a", ca)+"  - {name: carrier-x, host: 127.0.0.1, port: 5999}\n",
		poolYAML("acme-a", numberA, "carrier-a"))
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the edit is applied", func() bool { return r.status().Version != before })
	// The process flushes its log lines every 50 ms.
	eventually(t, "a reload by signal in the logs", func() bool { return regexp.MustCompile(`by=signal`).MatchString(logs.String()) })
	if cmd.ProcessState != nil {
		t.Fatal("SIGHUP stopped callgate")
	}
	if st := r.status(); st.LastReload == nil {
		t.Fatal("no reload reported")
	}
}

// writeRecording writes the config with acme recording its calls to dir.
func (r *reloadRig) writeRecording(trunks, pools, dir string) {
	r.t.Helper()
	text := fmt.Sprintf(reloadYAML, r.portBase, r.portBase+998, r.db, trunks, pools)
	caps := "caps: " + noCaps
	if !strings.Contains(text, caps) {
		r.t.Fatal("the reload config has no caps line to follow with a recording section")
	}
	text = strings.Replace(text, caps, "caps: "+recordingCaps(dir, true), 1)
	tmp := r.path + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
		r.t.Fatal(err)
	}
	if err := os.Rename(tmp, r.path); err != nil {
		r.t.Fatal(err)
	}
}

// A reload that turns the tenant's recording on records the calls after it, not the
// one in progress; the API reports it applied.
func TestReloadAppliesRecording(t *testing.T) {
	ca := newCarrier(t)
	r := newReloadRig(t, trunkYAML("carrier-a", ca), poolYAML("acme-a", numberA, "carrier-a"))
	records := &agentRig{dbPath: r.db} // for waitRecording, hasRecording
	dir := filepath.Join(r.dir, "recordings")

	alice := newGoAgent(t, r.base, agentToken)
	before := alice.dial("+8613800138000")
	alice.state("connected")
	eventually(t, "carrier A answered", func() bool { return len(ca.Calls()) == 1 })

	r.writeRecording(trunkYAML("carrier-a", ca), poolYAML("acme-a", numberA, "carrier-a"), dir)
	res := r.waitReload(time.Time{})
	if !res.OK || !res.Changed || !strings.Contains(strings.Join(res.Applied, ","), "recording") {
		t.Fatalf("reload turning recording on: %+v", res)
	}
	alice.send(map[string]any{"type": "hangup", "call": before})
	alice.state("ended")
	if records.hasRecording(t, before) {
		t.Error("the call in progress at the reload was recorded; it started unrecorded")
	}

	after := alice.dialAgain("+8613800138001")
	alice.state("connected")
	eventually(t, "carrier A answered the second call", func() bool { return len(ca.Calls()) == 2 })
	n := len(ca.Calls()[1].Heard())
	eventually(t, "audio flows", func() bool { return len(ca.Calls()[1].Heard()) > n+1600 })
	alice.send(map[string]any{"type": "hangup", "call": after})
	alice.state("ended")
	rec := records.waitRecording(t, after)
	if rec.State != pool.RecordingDone || rec.Path != filepath.Join(dir, after+".wav") || rec.Bytes <= 44 {
		t.Fatalf("recording after the reload: %+v", rec)
	}
	if st, err := os.Stat(rec.Path); err != nil || st.Size() != rec.Bytes {
		t.Fatalf("recording file: %v, %v; row says %d bytes", st, err, rec.Bytes)
	}
}
