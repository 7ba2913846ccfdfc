package configs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"
)

// testPair makes a self-signed certificate and its key, as PEM.
func testPair(t *testing.T, notAfter time.Time) (certPEM, keyPEM string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, NotBefore: notAfter.Add(-48 * time.Hour), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}))
}

func TestListenerTLSLoads(t *testing.T) {
	notAfter := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	cert, key := testPair(t, notAfter)
	yaml := "web:\n  public:\n    tls:\n      cert_file: tls/cert.pem\n      key_file: ../key.pem\n"
	cfg, err := memLoader(map[string]string{"conf/main.yaml": yaml, "conf/tls/cert.pem": cert, "key.pem": key}, nil).
		loadPath("conf/main.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got := cfg.Web.Public.TLS
	if got == nil || string(got.CertPEM) != cert || string(got.KeyPEM) != key || !got.NotAfter.Equal(notAfter) {
		t.Fatalf("public TLS = %+v", got)
	}
	if cfg.Web.Internal.TLS != nil {
		t.Fatalf("internal TLS = %+v, want none", cfg.Web.Internal.TLS)
	}
}

// TestListenerTLSProblems: a missing or unreadable file is reported at the line of its
// key, and so is a certificate that does not go with its key.
func TestListenerTLSProblems(t *testing.T) {
	cert, key := testPair(t, time.Now().Add(time.Hour))
	_, otherKey := testPair(t, time.Now().Add(time.Hour))
	yaml := "web:\n" +
		"  public:\n" +
		"    tls:\n" +
		"      cert_file: missing.pem\n" + // 4
		"      key_file: key.pem\n" +
		"  internal:\n" +
		"    tls:\n" + // 7
		"      cert_file: cert.pem\n" + // 8
		"      key_file: other.pem\n" // 9
	files := map[string]string{"main.yaml": yaml, "cert.pem": cert, "key.pem": key, "other.pem": otherKey}
	_, err := memLoader(files, nil).loadPath("main.yaml")
	got := errorLines(t, err)
	checkProblems(t, got, []wantProblem{
		{"main.yaml:4", "web: public: tls: cert_file: cannot read missing.pem: file does not exist"},
		{"main.yaml:8", "web: internal: tls: cert_file: cert.pem and other.pem are not a certificate and its key: tls: private key does not match public key"},
	})
	if len(got) != 2 {
		t.Errorf("got %d problems, want 2:\n%s", len(got), err)
	}

	yaml = "web:\n  public:\n    tls: {cert_file: cert.pem}\n  internal:\n    tls:\n      key_file: key.pem\n      cert: x\n"
	_, err = memLoader(map[string]string{"main.yaml": yaml, "cert.pem": cert, "key.pem": key}, nil).loadPath("main.yaml")
	got = errorLines(t, err)
	checkProblems(t, got, []wantProblem{
		{"main.yaml:3", "web: public: tls: key_file: is required: the path of a PEM file"},
		{"main.yaml:7", `unknown field "cert" (did you mean "cert_file"?)`},
	})
}

func TestAgentTokenAndLockoutDefaults(t *testing.T) {
	cfg, err := memLoader(map[string]string{"main.yaml": "log: {level: info}\n"}, nil).loadPath("main.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if tt := cfg.API.AgentTokens; tt.DefaultTTL.Std() != 8*time.Hour || tt.MaxTTL.Std() != 24*time.Hour {
		t.Errorf("agent_tokens = %+v", tt)
	}
	want := AgentsLockout{Failures: 5, IPFailures: 30, Window: Duration(15 * time.Minute), Lockout: Duration(15 * time.Minute)}
	if cfg.AgentsLockout != want {
		t.Errorf("agents_lockout = %+v, want %+v", cfg.AgentsLockout, want)
	}

	yaml := "api:\n  agent_tokens: {max_ttl: 2h}\nagents_lockout: {failures: 3, ip_failures: -1, window: 1m, lockout: 1h}\n"
	cfg, err = memLoader(map[string]string{"main.yaml": yaml}, nil).loadPath("main.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if tt := cfg.API.AgentTokens; tt.DefaultTTL.Std() != 2*time.Hour || tt.MaxTTL.Std() != 2*time.Hour {
		t.Errorf("agent_tokens with max_ttl 2h = %+v: the default must not pass the cap", tt)
	}
	want = AgentsLockout{Failures: 3, IPFailures: -1, Window: Duration(time.Minute), Lockout: Duration(time.Hour)}
	if cfg.AgentsLockout != want {
		t.Errorf("agents_lockout = %+v, want %+v", cfg.AgentsLockout, want)
	}
}

func TestAgentTokenAndLockoutProblems(t *testing.T) {
	yaml := "api:\n" +
		"  agent_tokens:\n" +
		"    default_ttl: 10h\n" + // 3
		"    max_ttl: 9h\n" +
		"agents_lockout:\n" +
		"  window: -1m\n" + // 6
		"  lockout: -5s\n" +
		"  failure: 5\n" // 8
	_, err := memLoader(map[string]string{"main.yaml": yaml}, nil).loadPath("main.yaml")
	checkProblems(t, errorLines(t, err), []wantProblem{
		{"main.yaml:3", "api: agent_tokens: default_ttl: 10h0m0s is longer than max_ttl (9h0m0s)"},
		{"main.yaml:6", "agents_lockout: window: must be positive, got -1m0s"},
		{"main.yaml:7", "agents_lockout: lockout: must be positive, got -5s"},
		{"main.yaml:8", `agents_lockout: unknown field "failure" (did you mean "failures"`},
	})
	_, err = memLoader(map[string]string{"main.yaml": "api:\n  agent_tokens:\n    max_ttl: 30s\n"}, nil).loadPath("main.yaml")
	checkProblems(t, errorLines(t, err), []wantProblem{{"main.yaml:3", "api: agent_tokens: max_ttl: must be at least 1m0s, got 30s"}})
}

// argon2idPHC hashes password as an argon2id PHC string.
func argon2idPHC(password string, m, tm uint32, p uint8) string {
	salt := []byte("0123456789abcdef")
	sum := argon2.IDKey([]byte(password), salt, tm, m, p, 32)
	return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", m, tm, p,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(sum))
}

func TestCheckArgon2idHash(t *testing.T) {
	good := argon2idPHC("demo", 64, 1, 1)
	if msg := checkPasswordHash(good); msg != "" {
		t.Fatalf("checkPasswordHash(%q) = %q", good, msg)
	}
	parts := strings.Split(good, "$")
	salt, sum := parts[4], parts[5]
	for _, bad := range []string{
		"$argon2i$v=19$m=64,t=1,p=1$" + salt + "$" + sum,
		"$argon2id$v=16$m=64,t=1,p=1$" + salt + "$" + sum,
		"$argon2id$v=19$t=1,m=64,p=1$" + salt + "$" + sum,
		"$argon2id$v=19$m=64,t=1,p=1,x=2$" + salt + "$" + sum,
		"$argon2id$v=19$m=64,t=0,p=1$" + salt + "$" + sum,
		"$argon2id$v=19$m=4,t=1,p=1$" + salt + "$" + sum,
		"$argon2id$v=19$m=2097152,t=1,p=1$" + salt + "$" + sum,
		"$argon2id$v=19$m=64,t=1,p=0$" + salt + "$" + sum,
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "=$" + sum,
		"$argon2id$v=19$m=64,t=1,p=1$c2FsdA$" + sum, // 4-byte salt
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$c2hvcnQ",
		"$argon2id$v=19$m=64,t=1,p=1$" + salt,
	} {
		if msg := checkPasswordHash(bad); msg == "" {
			t.Errorf("checkPasswordHash(%q) accepted it", bad)
		}
	}
	yaml := "tenants: [{name: acme}]\nagents:\n" +
		"  - {tenant: acme, name: a, password_hash: \"" + good + "\"}\n" +
		"  - {tenant: acme, name: b, password_hash: \"$argon2id$v=19$m=64,t=99,p=1$" + salt + "$" + sum + "\"}\n" + // 4
		"  - {tenant: acme, name: c, token_env: T}\n" // 5
	_, err := memLoader(map[string]string{"main.yaml": yaml}, map[string]string{"T": "cgt_0123456789abcdef_x"}).loadPath("main.yaml")
	got := errorLines(t, err)
	checkProblems(t, got, []wantProblem{
		{"main.yaml:4", `agent "b": password_hash: argon2id time cost t=99 is outside 1-16`},
		{"main.yaml:5", `agent "c": token_env: token starts with "cgt_", which marks tokens issued by the business API`},
	})
	if len(got) != 2 || strings.Contains(err.Error(), "0123456789abcdef_x") {
		t.Errorf("want 2 problems that do not show the token:\n%s", err)
	}
}
