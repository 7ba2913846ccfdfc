package pool

import (
	"slices"
	"testing"
	"time"

	"callgate/configs"
)

func TestFromConfig(t *testing.T) {
	cfg, err := configs.Default()
	if err != nil {
		t.Fatal(err)
	}
	ns := VirtualNumbersFrom(cfg)
	if len(ns) != 2 || ns[0] != (VirtualNumber{Number: "+8675500000001", Pool: "demo-virtual", Tenant: "demo",
		Supplier: "demo", Region: "Shenzhen", Trunk: "demo-carrier"}) {
		t.Errorf("VirtualNumbersFrom(default) = %+v", ns)
	}
	p, err := PolicyFrom(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Resolve("demo", "", ""); !slices.Equal(got, []string{"demo-virtual"}) {
		t.Errorf("default policy for demo = %v", got)
	}
	if got := p.Resolve("other", "", ""); len(got) != 0 {
		t.Errorf("default policy for another tenant = %v", got)
	}
	r := BindingRulesFrom(cfg)
	if r.MaxPerNumber != 200 || r.CoolDown != time.Hour || r.IdleReclaim != 72*time.Hour {
		t.Errorf("BindingRulesFrom(default) = %+v", r)
	}
	cfg.Masking.MaxBindingsPerNumber, cfg.Masking.CoolDown = -1, -1
	if r := BindingRulesFrom(cfg).withDefaults(); r.MaxPerNumber < 1<<30 || r.CoolDown >= 0 {
		t.Errorf("negative settings: %+v", r)
	}
}
