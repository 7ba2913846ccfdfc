package configs

import (
	"strings"
	"testing"
	"time"
)

const adminHash = "$2a$10$7EqJtq98hPqEX7fNZaFWoOhi5BWXp4k2/S6zr1SgHZK5sURPi3wLa"

func TestAdminDefaults(t *testing.T) {
	cfg, err := memLoader(map[string]string{"main.yaml": trunkYAML + `admin:
  users:
    - {name: root, password_hash: "` + adminHash + `"}
`}, nil).loadPath("main.yaml")
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.Admin
	if len(a.Users) != 1 || a.Users[0].Name != "root" || a.Users[0].PasswordHash != adminHash || a.SessionTTL.Std() != 8*time.Hour {
		t.Errorf("admin %+v", a)
	}
	cfg, err = memLoader(map[string]string{"main.yaml": trunkYAML}, nil).loadPath("main.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Admin.Users) != 0 {
		t.Errorf("admin users without config: %+v", cfg.Admin.Users)
	}
}

func TestAdminProblems(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []wantProblem
	}{
		{
			name: "users",
			yaml: `admin:
  session_ttl: 30d0h
  users:
    - name: root
      password_hash: "` + adminHash + `"
    - name: root
      password_hash: "` + adminHash + `"
    - name: "bad name"
      password_hash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"
    - name: ops
`,
			want: []wantProblem{
				{"main.yaml:2", `session_ttl`},
				{"main.yaml:6", `admin: users[1]: name: duplicate admin user "root" (first as users[0])`},
				{"main.yaml:8", `admin: users[2]: name:`},
				{"main.yaml:9", `admin: users[2]: password_hash: admin passwords take a bcrypt hash`},
				{"main.yaml:10", `admin: users[3]: password_hash: password_hash is required`},
			},
		},
		{
			name: "ttl too long",
			yaml: "admin:\n  session_ttl: 200h\n",
			want: []wantProblem{{"main.yaml:2", `admin: session_ttl: must be positive and at most 168h0m0s, got 200h0m0s`}},
		},
		{
			name: "unknown key",
			yaml: "admin:\n  users:\n    - {name: root, password: hunter2}\n",
			want: []wantProblem{{"main.yaml:3", `unknown field "password" (did you mean "password_hash"?)`}, {"main.yaml:3", `password_hash is required`}},
		},
		{
			name: "not bcrypt",
			yaml: "admin:\n  users:\n    - {name: root, password_hash: \"$2a$10$short\"}\n",
			want: []wantProblem{{"main.yaml:3", `admin: users[0]: password_hash:`}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := memLoader(map[string]string{"main.yaml": tt.yaml}, nil).loadPath("main.yaml")
			got := errorLines(t, err)
			checkProblems(t, got, tt.want)
			if len(got) != len(tt.want) {
				t.Errorf("%d problems, want %d:\n%s", len(got), len(tt.want), strings.Join(got, "\n"))
			}
		})
	}
}
