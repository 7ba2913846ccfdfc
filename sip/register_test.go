package sip_test

import (
	"context"
	"testing"
	"time"

	"callgate/configs"
	cgsip "callgate/sip"
)

func registering(user, password string, expires time.Duration) rigOption {
	return func(c *rigConfig) {
		c.carrier.User, c.carrier.Password = "callgate", "s3cret"
		c.carrier.RegisterExpires = expires
		c.trunkB.Auth = &configs.TrunkAuth{Username: user, Password: password}
		c.trunkB.Register = &configs.Register{Expires: configs.Duration(time.Minute)}
	}
}

func registration(r *rig) cgsip.Registration {
	regs := r.edge.Registrations()
	if len(regs) != 1 {
		r.t.Fatalf("%d registrations, want 1", len(regs))
	}
	return regs[0]
}

func TestRegisterWithDigestRefreshesAndUnregisters(t *testing.T) {
	r := newRig(t, registering("callgate", "s3cret", 2*time.Second))
	eventually(t, "registered", func() bool { return registration(r).State == cgsip.RegRegistered })
	reg := registration(r)
	if reg.Code != 200 || reg.Error != "" || !reg.RefreshAt.Before(reg.Expires) {
		t.Fatalf("registration %+v", reg)
	}
	first := r.carrier.Registers()
	if len(first) < 2 || first[0].GetHeader("Authorization") != nil || first[1].GetHeader("Authorization") == nil {
		t.Fatalf("want a challenged REGISTER then one with credentials, got %d", len(first))
	}
	if got := first[1].GetHeader("Expires").Value(); got != "60" {
		t.Fatalf("REGISTER asked Expires %s, want 60", got)
	}
	// The registrar granted 2 s: callgate must refresh well before that lapses.
	eventually(t, "refreshed", func() bool { return len(r.carrier.Registers()) >= 4 })
	if st := registration(r).State; st != cgsip.RegRegistered {
		t.Fatalf("state after refresh %s", st)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.edge.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	regs := r.carrier.Registers()
	if last := regs[len(regs)-1]; last.GetHeader("Expires").Value() != "0" || last.GetHeader("Authorization") == nil {
		t.Fatalf("last REGISTER: Expires %s, want an authorised un-REGISTER (Expires 0)", last.GetHeader("Expires").Value())
	}
	if st := registration(r).State; st != cgsip.RegUnregistered {
		t.Fatalf("state after shutdown %s", st)
	}
}

func TestRegisterWrongPasswordIsVisible(t *testing.T) {
	r := newRig(t, registering("callgate", "wrong", 0))
	eventually(t, "registration failed", func() bool { return registration(r).State == cgsip.RegFailed })
	if reg := registration(r); reg.Code != 401 || reg.Error == "" {
		t.Fatalf("registration %+v, want code 401 with a reason", reg)
	}
}

// TestReloadStartsKeepsAndStopsRegistrations: a reload that adds register: to a trunk
// registers it; one that changes nothing keeps the registration as it is; one that
// changes the trunk unregisters the old binding before registering the new one; one
// that drops register: unregisters.
func TestReloadStartsKeepsAndStopsRegistrations(t *testing.T) {
	r := newRig(t, func(c *rigConfig) {
		c.carrier.User, c.carrier.Password = "callgate", "s3cret"
		c.trunkB.Auth = &configs.TrunkAuth{Username: "callgate", Password: "s3cret"}
	})
	if regs := r.edge.Registrations(); len(regs) != 0 {
		t.Fatalf("registrations before any trunk registers: %+v", regs)
	}
	withRegister := func(expires time.Duration) []configs.Trunk {
		ts := append([]configs.Trunk(nil), r.trunks...)
		b := ts[1]
		b.Register = &configs.Register{Expires: configs.Duration(expires)}
		ts[1] = b
		return ts
	}
	expiresOf := func() []string {
		var out []string
		for _, m := range r.carrier.Registers() {
			if m.GetHeader("Authorization") != nil {
				out = append(out, m.GetHeader("Expires").Value())
			}
		}
		return out
	}

	if err := r.edge.SetTrunks(withRegister(time.Minute)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "registered after the reload", func() bool {
		regs := r.edge.Registrations()
		return len(regs) == 1 && regs[0].State == cgsip.RegRegistered
	})
	if got := expiresOf(); len(got) != 1 || got[0] != "60" {
		t.Fatalf("authorised REGISTERs %v, want [60]", got)
	}

	// The same config again: nothing is sent.
	if err := r.edge.SetTrunks(withRegister(time.Minute)); err != nil {
		t.Fatal(err)
	}
	// A changed trunk: the old binding goes, then the new one comes.
	if err := r.edge.SetTrunks(withRegister(2 * time.Minute)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "registered again with the new config", func() bool {
		got := expiresOf()
		regs := r.edge.Registrations()
		return len(got) == 3 && len(regs) == 1 && regs[0].State == cgsip.RegRegistered
	})
	if got := expiresOf(); got[1] != "0" || got[2] != "120" {
		t.Fatalf("authorised REGISTERs %v, want [60 0 120]: the unchanged reload sent nothing, the change unregistered first", got)
	}

	// register: removed: unregistered, and no longer listed.
	if err := r.edge.SetTrunks(r.trunks); err != nil {
		t.Fatal(err)
	}
	eventually(t, "unregistered", func() bool {
		got := expiresOf()
		return len(got) == 4 && got[3] == "0"
	})
	if regs := r.edge.Registrations(); len(regs) != 0 {
		t.Fatalf("registrations after register: was removed: %+v", regs)
	}
}
