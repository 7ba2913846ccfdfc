package configs

import (
	"strings"
	"testing"
)

func TestSummary(t *testing.T) {
	setExampleEnv(t)
	cfg, err := Load("callgate.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := Summary(cfg)
	for _, want := range []string{
		"files: callgate.example.yaml, trunks/carrier-a.yaml\n",
		"listeners: sip/udp 10.20.0.5:5060, sip/tcp 10.20.0.5:5060, public http 0.0.0.0:8443, internal http 10.20.0.5:8081\n",
		"tenants: 2 — acme (50 seats, Asia/Shanghai), globex (20 seats, Asia/Shanghai)\n",
		"trunks: 2\n",
		"carrier-b  198.51.100.20:5060/udp",
		"carrier-a  sip.carrier-a.example.net:5061/tls  register: yes",
		"pools: 5\n",
		"acme-sz-virtual    virtual    3 numbers  tenant acme",
		"numbers: 10\n",
		"callers acme: 5 numbers, region CN, strategy certified/city > mobile/city > mobile/province > fixed/any, caps pair 2 callee 3 caller 300/day 60/hour, lease 2m0s\n",
		"bindings: 2\n",
		"AXN +8675561000001 -> +8613912345678",
		"ice: ports 40000-40999, public IPs 203.0.113.10\n",
		"agents: 2 — acme: 2\n",
		"web: allowed origins https://crm.acme.example, http://127.0.0.1:9000\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("summary lacks %q:\n%s", want, s)
		}
	}
	for _, secret := range []string{"s3cret", "crm-bot-token", "$2a$"} {
		if strings.Contains(s, secret) {
			t.Errorf("summary shows a secret (%q)", secret)
		}
	}
}

func TestSummaryDefault(t *testing.T) {
	cfg, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	s := Summary(cfg)
	for _, want := range []string{"files: (built-in default)\n", "demo carrier: 127.0.0.1:5070\n", "register: no", "numbers: 4\n", "bindings: 1\n",
		"demo-fixed    fixed    2 numbers  tenant demo", "agents: 1 — demo: 1\n", "web: allowed origins none"} {
		if !strings.Contains(s, want) {
			t.Errorf("summary lacks %q:\n%s", want, s)
		}
	}
}
