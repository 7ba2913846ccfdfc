package sip

import (
	"net/netip"
	"testing"
	"time"

	"callgate/configs"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// FuzzRegistrarAuthorization drives Authorization values through the registrar's
// parsing and checking: nothing panics, only the PBX's own credentials pass, and no
// value passes twice (nonces are single-use).
func FuzzRegistrarAuthorization(f *testing.F) {
	const user, password = "pbx-01", "pbx-password-0123456789"
	now := time.Unix(1_800_000_000, 0)
	r := newRegistrar("", func() time.Time { return now })
	ts, err := newTrunkSet([]configs.Trunk{{Name: "pbx", RegistersToUs: &configs.InboundRegister{Username: user, Password: password}}}, nil)
	if err != nil {
		f.Fatal(err)
	}
	src := netip.MustParseAddr("192.0.2.7")
	req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: "192.0.2.1", Port: 5060})
	for _, alg := range []string{"SHA-256", "MD5", "", "SHA-512"} {
		ch := &digest.Challenge{Realm: "callgate", Nonce: r.nonce(src), Algorithm: alg, QOP: []string{"auth"}}
		cred, err := digest.Digest(ch, digest.Options{Method: "REGISTER", URI: "sip:192.0.2.1:5060", Username: user, Password: password})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(cred.String())
		cred.Username = "nobody"
		f.Add(cred.String())
	}
	for _, s := range []string{"", "Digest ", "Basic dXNlcjpwYXNz", `Digest username="pbx-01", nc=zz`,
		`Digest username="pbx-01", realm="callgate", nonce="", uri="sip:192.0.2.1:5060", response="", qop=auth, nc=00000001, cnonce="x"`,
		`Digest username="a\"b", realm="callgate", userhash=true`, `digest username=pbx-01,,,`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		t1, first := r.check(req, header, src, ts, nil)
		_, second := r.check(req, header, src, ts, nil)
		if second == authOK {
			t.Fatalf("accepted twice: %q", header)
		}
		if first != authFailed {
			cred, err := parseAuthorization(header, "callgate")
			if err != nil || cred.Username != user || t1 == nil || t1.Name() != "pbx" {
				t.Fatalf("credentials %q verified (parse error %v)", header, err)
			}
		}
	})
}

func TestRegistrarFailuresBan(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	r := newRegistrar("", func() time.Time { return now })
	a, b := netip.MustParseAddr("192.0.2.8"), netip.MustParseAddr("192.0.2.9")
	for i := 1; i < maxAuthFailures; i++ {
		if r.failed(a) {
			t.Fatalf("banned after %d failures", i)
		}
	}
	if r.failed(b) {
		t.Fatal("another address shares the count")
	}
	if !r.failed(a) {
		t.Fatalf("not banned after %d failures", maxAuthFailures)
	}
	// A success forgets the failures; old failures fall out of the window.
	for range maxAuthFailures - 1 {
		r.failed(b)
	}
	r.succeeded(b)
	if r.failed(b) {
		t.Fatal("a success did not forget the failures")
	}
	for range maxAuthFailures - 2 {
		r.failed(b)
	}
	now = now.Add(authFailWindow + time.Second)
	if r.failed(b) {
		t.Fatal("failures older than the window still count")
	}
}

func TestRegistrarNonces(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	r := newRegistrar("", func() time.Time { return now })
	a, b := netip.MustParseAddr("192.0.2.8"), netip.MustParseAddr("2001:db8::9")
	n1, n2 := r.nonce(a), r.nonce(a)
	if n1 == n2 {
		t.Fatal("two nonces alike")
	}
	if r.spend(n1, b) {
		t.Fatal("nonce spent from another address")
	}
	if !r.spend(n1, a) || r.spend(n1, a) {
		t.Fatal("a nonce must be spent exactly once")
	}
	if r.spend(n2[:len(n2)-2]+"AA", a) {
		t.Fatal("a forged nonce was taken")
	}
	now = now.Add(nonceTTL + time.Nanosecond)
	if r.spend(n2, a) {
		t.Fatal("an expired nonce was taken")
	}
	if v4 := r.nonce(netip.MustParseAddr("::ffff:192.0.2.8")); !r.spend(v4, a) {
		t.Fatal("an IPv4-mapped source is not its IPv4 address")
	}
}
