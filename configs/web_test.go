package configs

import (
	"slices"
	"testing"
)

func TestAllowedOriginProblems(t *testing.T) {
	yaml := "web:\n  allowed_origins:\n" +
		"    - crm.example.com\n" + // 3
		"    - ftp://crm.example.com\n" +
		"    - https://crm.example.com/\n" +
		"    - https://crm.example.com/app?x=1\n" +
		"    - \"https://*.example.com\"\n" +
		"    - https://user@crm.example.com\n" +
		"    - http://127.0.0.1:99999\n" +
		"    - https://CRM.Example.com:443\n" + // 10: fine
		"    - https://crm.example.com\n" +
		"    - \"null\"\n" +
		"    - https://exa_mple..com\n" +
		"    - \"https://crm.example.com#\"\n" +
		"    - \"http://[fe80::1%25eth0]:80\"\n" // 15
	_, err := memLoader(map[string]string{"main.yaml": yaml}, nil).loadPath("main.yaml")
	want := []wantProblem{
		{"main.yaml:3", `web: allowed_origins[0]: "crm.example.com" is not an origin: want scheme://host[:port], e.g. https://crm.example.com`},
		{"main.yaml:4", `web: allowed_origins[1]: "ftp://crm.example.com": scheme "ftp" is not allowed: want http or https`},
		{"main.yaml:5", `web: allowed_origins[2]: "https://crm.example.com/" is not an origin: an origin has no path, query or fragment; write "https://crm.example.com"`},
		{"main.yaml:6", `allowed_origins[3]: "https://crm.example.com/app?x=1" is not an origin: an origin has no path`},
		{"main.yaml:7", `allowed_origins[4]: "https://*.example.com": wildcards are not supported; list each origin`},
		{"main.yaml:8", `allowed_origins[5]: "https://user@crm.example.com" is not an origin: it holds a user name`},
		{"main.yaml:9", `allowed_origins[6]: "http://127.0.0.1:99999": invalid port "99999": want 1-65535`},
		{"main.yaml:11", `allowed_origins[8]: origin https://crm.example.com is listed twice`},
		{"main.yaml:12", `allowed_origins[9]: "null" is not an origin`},
		{"main.yaml:13", `allowed_origins[10]: "https://exa_mple..com" is not an origin: invalid host "exa_mple..com"`},
		{"main.yaml:14", `allowed_origins[11]: "https://crm.example.com#" is not an origin: an origin has no path, query or fragment`},
		{"main.yaml:15", `allowed_origins[12]: "http://[fe80::1%25eth0]:80" is not an origin`},
	}
	got := errorLines(t, err)
	checkProblems(t, got, want)
	if len(got) != len(want) {
		t.Errorf("got %d problems, want %d:\n%s", len(got), len(want), err)
	}
}

func TestAllowedOriginsNormalised(t *testing.T) {
	yaml := "web:\n  allowed_origins:\n" +
		"    - HTTPS://CRM.Example.COM:443\n" +
		"    - http://LOCALHOST:80\n" +
		"    - https://crm.example.com:8443\n" +
		"    - http://127.0.0.1:9000\n" +
		"    - \"http://[::1]:09000\"\n" +
		"    - \"https://[2001:DB8::1]\"\n" +
		"    - http://crm.example.com:443\n"
	cfg, err := memLoader(map[string]string{"main.yaml": yaml}, nil).loadPath("main.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"https://crm.example.com", "http://localhost", "https://crm.example.com:8443", "http://127.0.0.1:9000",
		"http://[::1]:9000", "https://[2001:db8::1]", "http://crm.example.com:443"}
	if !slices.Equal(cfg.Web.AllowedOrigins, want) {
		t.Errorf("AllowedOrigins = %q, want %q", cfg.Web.AllowedOrigins, want)
	}
}

// FuzzNormalOrigin checks that what normalOrigin accepts is a fixed point: normalising
// a normalised origin changes nothing.
func FuzzNormalOrigin(f *testing.F) {
	for _, s := range []string{"https://crm.example.com", "HTTP://A.B:80", "http://[::1]:9000", "https://x/", "null", "http://a:0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		o, msg := normalOrigin(s)
		if (o == "") == (msg == "") {
			t.Fatalf("normalOrigin(%q) = %q, %q: want exactly one", s, o, msg)
		}
		if o == "" {
			return
		}
		if o2, msg := normalOrigin(o); o2 != o {
			t.Fatalf("normalOrigin(%q) = %q; again: %q, %q", s, o, o2, msg)
		}
	})
}
