package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"callgate/sip/demo"

	"github.com/chromedp/chromedp"
	"golang.org/x/crypto/bcrypt"
)

const adminPassword = "admin-pass-0123"

// newAdminRig is the agent rig with the internal listener on, an admin user, and
// recording on: it returns the rig and the internal listener's base URL.
func newAdminRig(t *testing.T) (*agentRig, string) {
	t.Helper()
	carrier := startToneCarrier(t)
	internal := freeTCPAddr(t) // for the internal listener
	hash, err := bcrypt.GenerateFromPassword([]byte(adminPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	db := filepath.Join(dir, "callgate.db")
	t.Setenv("ALICE_TOKEN", agentToken)
	cfgText := fmt.Sprintf(`listen:
  sip_udp: 127.0.0.1:0
  sip_tcp: "off"
  public_http: 127.0.0.1:0
  internal_http: %s
media:
  bind_address: 127.0.0.1
  port_min: 35000
  port_max: 35998
storage:
  sqlite:
    path: %s
tenants:
  - name: acme
    seats: 2
    callers:
      caps: %s
    recording: {enabled: true, dir: %s}
agents:
  - tenant: acme
    name: alice
    token_env: ALICE_TOKEN
trunks:
  - name: carrier
    supplier: demo-telco
    host: 127.0.0.1
    port: %d
    rate_per_minute: 60
pools:
  - name: acme-fixed
    supplier: demo-telco
    type: fixed
    tenant: acme
    trunks: [carrier]
    numbers: ["+862100000001"]
  - name: acme-virtual
    supplier: demo-telco
    type: virtual
    tenant: acme
    trunks: [carrier]
    numbers: ["+8675500000101", "+8675500000102", "+8675500000103"]
admin:
  users:
    - name: root
      password_hash: "%s"
`, internal, db, noCaps, filepath.Join(dir, "recordings"), carrier.Addr().Port(), hash)
	srv := serveYAML(t, dir, cfgText)
	base, logs := srv.base, srv.logs
	return &agentRig{base: base, carrier: carrier, dbPath: db, logs: logs}, "http://" + internal + "/"
}

// TestAdminPageInBrowser: after a few calls, an admin logs in on the internal
// listener in headless Chromium and sees the trunk, the virtual pool with its
// remaining numbers, the records and the charts;
// hanging a live call up from the page sends the carrier a BYE. The public listener
// has no admin page. With CALLGATE_SCREENSHOT set, the page is saved as
// admin-page.png in that path's directory (docs/).
func TestAdminPageInBrowser(t *testing.T) {
	r, internal := newAdminRig(t)
	a := newGoAgent(t, r.base, agentToken)
	for i, to := range []string{"+8613900000002", "+8613900000003"} {
		id := a.dial(to)
		a.state("connected")
		eventually(t, "audio both ways", func() bool {
			calls := r.carrier.Calls()
			return len(calls) == i+1 && len(calls[i].Heard()) >= 4000 && len(a.heardSamples()) >= 4000*(i+1)
		})
		a.send(map[string]any{"type": "hangup", "call": id})
		a.state("ended")
		r.record(t, id)
	}
	live := a.dial("+8613900000004")
	a.state("connected")
	eventually(t, "the live call answered", func() bool { return len(r.carrier.Calls()) == 3 })
	var liveCall *demo.Call
	for _, c := range r.carrier.Calls() {
		if c.To == "+8613900000004" {
			liveCall = c
		}
	}

	for _, p := range []string{"admin/", "admin/api/overview"} {
		res, err := http.Get(r.base + p)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusNotFound {
			t.Fatalf("public listener /%s: %d, want 404", p, res.StatusCode)
		}
	}

	wav := filepath.Join(t.TempDir(), "mic.wav")
	writeToneWAV(t, wav, 1000, 2)
	ctx := chromium(t, wav)
	do(t, ctx, "open the admin page", chromedp.EmulateViewport(1280, 1000), chromedp.Navigate(internal+"admin/"),
		waitJS(`document.body.dataset.state === "login"`))
	do(t, ctx, "wrong password", setValue("#login-name", "root"), setValue("#login-password", "nope"),
		chromedp.Click(chromedp.CSS("#login-submit")), waitJS(`document.getElementById("login-error").textContent.length > 0`))
	do(t, ctx, "log in", setValue("#login-password", adminPassword), chromedp.Click(chromedp.CSS("#login-submit")),
		waitJS(`document.body.dataset.state === "app"`))
	do(t, ctx, "trunk shown", waitJS(`[...document.querySelectorAll("#trunks tbody td")].some(td => td.textContent === "carrier")`))
	do(t, ctx, "the virtual pool shown with its remaining numbers", waitJS(`[...document.querySelectorAll("#pools tbody tr")].some(tr =>
		tr.cells[0].textContent === "acme-virtual" && tr.cells[1].textContent === "demo-telco" &&
		tr.cells[2].textContent === "3" && tr.cells[3].textContent === "3")`))
	do(t, ctx, "records shown", waitJS(`Number(document.body.dataset.records) >= 3`))
	do(t, ctx, "the live call shown", waitJS(`document.querySelector("#calls button.hangup[data-call='`+live+`']") !== null`))
	for _, chart := range []string{"#chart-calls", "#chart-answer", "#chart-setup"} {
		ok := evalJS[bool](t, ctx, `(() => { const ps = [...document.querySelectorAll("`+chart+` path.series")];
			return ps.length > 0 && ps.every(p => /^M[\d.]+,[\d.]+/.test(p.getAttribute("d"))) })()`)
		if !ok {
			t.Errorf("%s has no series path", chart)
		}
	}
	if n := evalJS[int](t, ctx, `document.querySelectorAll("#chart-calls path.series")[0].getAttribute("d").split(/[ML]/).length`); n < 2 {
		t.Errorf("calls chart path has %d points", n)
	}
	if csv := evalJS[string](t, ctx, `document.getElementById("csv").getAttribute("href")`); csv != "/admin/api/tenants/acme/calls.csv?" {
		t.Errorf("CSV link %q", csv)
	}
	if n := evalJS[int](t, ctx, `[...document.querySelectorAll("#records a")].filter(a => a.textContent === "WAV").length`); n < 2 {
		t.Errorf("%d recordings linked from the records", n)
	}
	if path := os.Getenv("CALLGATE_SCREENSHOT"); path != "" { // docs/admin-page.png
		do(t, ctx, "settle", chromedp.Sleep(500*time.Millisecond))
		if pic, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
			_ = os.WriteFile(filepath.Join(filepath.Dir(path), "admin-page.png"), pic, 0o644)
		}
	}
	do(t, ctx, "hang up from the page", chromedp.Click(chromedp.CSS(`#calls button.hangup[data-call='`+live+`']`)))
	eventually(t, "the carrier got BYE", liveCall.GotBye)
	if ended := a.state("ended"); ended["by"] != "system" {
		t.Errorf("the agent's call ended %v", ended)
	}
	if rec := r.record(t, live); rec.Reason != "admin_hangup" || rec.HangupBy != "system" {
		t.Errorf("record reason %q by %q", rec.Reason, rec.HangupBy)
	}
	do(t, ctx, "the call left the page", waitJS(`document.body.dataset.liveCalls === "0"`))
}
