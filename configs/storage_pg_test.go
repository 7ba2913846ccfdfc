package configs

import (
	"strings"
	"testing"
	"time"
)

func TestPostgresStorage(t *testing.T) {
	env := map[string]string{"CALLGATE_PG": "postgres://callgate:secret@db:5432/callgate", "EMPTY": " "}
	cfg, err := memLoader(map[string]string{"main.yaml": `storage:
  postgres:
    dsn_env: CALLGATE_PG
    instance: edge-1
    max_conns: 20
    dead_after: 30s
`}, env).loadPath("main.yaml")
	if err != nil {
		t.Fatal(err)
	}
	pg := cfg.Storage.Postgres
	if cfg.Storage.SQLite != nil {
		t.Fatalf("sqlite defaulted beside postgres: %+v", cfg.Storage.SQLite)
	}
	if pg == nil || pg.ResolvedDSN() != env["CALLGATE_PG"] || pg.Instance != "edge-1" || pg.MaxConns != 20 ||
		pg.DeadAfter.Std() != 30*time.Second {
		t.Fatalf("postgres %+v", pg)
	}
	if s := Summary(cfg); !strings.Contains(s, `storage: postgres (instance "edge-1")`) || strings.Contains(s, "secret") {
		t.Fatalf("summary does not name the store, or shows the DSN:\n%s", s)
	}

	cfg, err = memLoader(map[string]string{"main.yaml": "storage:\n  postgres:\n    dsn: postgres://db/callgate\n"}, nil).loadPath("main.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Storage.Postgres.ResolvedDSN() != "postgres://db/callgate" {
		t.Fatalf("dsn %q", cfg.Storage.Postgres.DSN)
	}

	// Without storage the default stays SQLite.
	cfg, err = memLoader(map[string]string{"main.yaml": "log:\n  level: info\n"}, nil).loadPath("main.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Storage.SQLite == nil || cfg.Storage.Postgres != nil {
		t.Fatalf("default storage %+v", cfg.Storage)
	}
}

func TestPostgresStorageProblems(t *testing.T) {
	env := map[string]string{"EMPTY": " "}
	tests := []struct {
		name, yaml string
		want       []wantProblem
	}{
		{"both stores", `storage:
  sqlite:
    path: x.db
  postgres:
    dsn: postgres://db/x
`, []wantProblem{{"main.yaml:4", "storage: postgres: set exactly one of sqlite and postgres"}}},
		{"both dsn", `storage:
  postgres:
    dsn: postgres://db/x
    dsn_env: PG
`, []wantProblem{{"main.yaml:4", "storage: postgres: dsn_env: set exactly one of dsn and dsn_env"}}},
		{"no dsn", "storage:\n  postgres:\n    instance: a\n",
			[]wantProblem{{"main.yaml:2", "storage: postgres: needs dsn or dsn_env"}}},
		{"unset env", "storage:\n  postgres:\n    dsn_env: NOPE\n",
			[]wantProblem{{"main.yaml:3", "storage: postgres: dsn_env: environment variable NOPE is not set"}}},
		{"empty env", "storage:\n  postgres:\n    dsn_env: EMPTY\n",
			[]wantProblem{{"main.yaml:3", "storage: postgres: dsn_env: environment variable EMPTY is empty"}}},
		{"limits", `storage:
  postgres:
    dsn: postgres://db/x
    max_conns: -1
    dead_after: 1s
    instance: "a b"
`, []wantProblem{
			{"main.yaml:4", "storage: postgres: max_conns: must be from 0 (the driver's default) to 1000, got -1"},
			{"main.yaml:5", "storage: postgres: dead_after: must be at least 5s (0: the default 1m), got 1s"},
			{"main.yaml:6", `storage: postgres: instance: must not contain white space: "a b"`},
		}},
		{"unknown key", "storage:\n  postgres:\n    dsn: postgres://db/x\n    password: x\n",
			[]wantProblem{{"main.yaml:4", "password"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := memLoader(map[string]string{"main.yaml": tc.yaml}, env).loadPath("main.yaml")
			checkProblems(t, errorLines(t, err), tc.want)
		})
	}
}
