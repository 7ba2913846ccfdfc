package main

import (
	"os"
	"strings"
	"testing"

	"callgate/bench/internal/benchkit"
)

func TestKamailioTemplate(t *testing.T) {
	tmpl, err := os.ReadFile("../../kamailio/kamailio.cfg")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := benchkit.RenderTemplate(string(tmpl), kamailioVars("/tmp/x/kamailio.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"listen=udp:127.0.0.1:5060", "sqlite:////tmp/x/kamailio.db", `$du = "sip:127.0.0.3:5090";`, `$si != "127.0.0.2"`} {
		if !strings.Contains(cfg, want) {
			t.Errorf("rendered config lacks %q", want)
		}
	}
}
