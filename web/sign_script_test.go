package web

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"callgate/pool"
	"callgate/web/apiclient"
)

// docs/examples/sign.sh, with openssl and curl, talks to the real API.
func TestSignScriptAgainstServer(t *testing.T) {
	for _, tool := range []string{"openssl", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skip(tool + " not installed")
		}
	}
	e := newAPIEnv(t, pool.BindingRules{}, apiNumbers())
	script, err := filepath.Abs("../docs/examples/sign.sh")
	if err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) []byte {
		t.Helper()
		cmd := exec.Command("sh", append([]string{script}, args...)...)
		// The server's clock is the test's; the script stamps with the host's, so
		// hand it the server's time.
		cmd.Env = append(os.Environ(), "CALLGATE_URL="+e.srv.URL, "CALLGATE_APP=crm", "CALLGATE_SECRET="+crmSecret,
			"CALLGATE_TIMESTAMP="+strconv.FormatInt(e.clk.Now().Unix(), 10))
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("sign.sh %v: %v\n%s", args, err, out)
		}
		return out
	}
	var b apiclient.Binding
	out := run("POST", "/v1/bindings", "", `{"mode":"AXB","a":"+8613800000001","b":"+8613900000002"}`)
	if err := json.Unmarshal(out, &b); err != nil || b.ID == 0 || b.Tenant != "acme" {
		t.Fatalf("POST through sign.sh: %s", out)
	}
	var l apiclient.BindingList
	out = run("GET", "/v1/bindings", "limit=20&party=%2B8613800000001&tenant=acme")
	if err := json.Unmarshal(out, &l); err != nil || len(l.Bindings) != 1 || l.Bindings[0].ID != b.ID {
		t.Fatalf("GET through sign.sh: %s", out)
	}
}
