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
