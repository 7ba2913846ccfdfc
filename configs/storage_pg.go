package configs

import (
	"strings"
	"time"
)

// Postgres configures the shared store: several callgate instances on one
// PostgreSQL database. The connection string comes from exactly one of DSN and
// DSNEnv (an environment variable, so that its password stays out of the file).
type Postgres struct {
	// DSN is a libpq connection string or URL: postgres://user@host:5432/callgate.
	DSN string `yaml:"dsn"`
	// DSNEnv names the environment variable holding the DSN instead.
	DSNEnv string `yaml:"dsn_env"`
	// Instance names this callgate process in leases and call records; default the
	// host name. Instances sharing a database need different, stable names.
	Instance string `yaml:"instance"`
	// MaxConns bounds the connection pool; default 0: the driver's (4, or the CPU
	// count if more).
	MaxConns int `yaml:"max_conns"`
	// DeadAfter is how long an instance may go without a liveness mark before
	// another instance, starting, ends its open call records; default 1m.
	DeadAfter Duration `yaml:"dead_after"`
}

// maxPostgresConns bounds storage.postgres.max_conns.
const maxPostgresConns = 1000

// ResolvedDSN returns the DSN to connect with: DSN, which validation has set from
// DSNEnv when that is used.
func (p *Postgres) ResolvedDSN() string { return p.DSN }

// storagePostgres checks the storage section when it names PostgreSQL: exactly one
// store, exactly one source of the DSN (the environment variable is read here, so a
// missing one is reported like any other missing secret), and sane pool settings.
func (v *validation) storagePostgres(top place) {
	pg := v.cfg.Storage.Postgres
	if pg == nil {
		return
	}
	if v.cfg.Storage.SQLite != nil {
		v.bad(top, at("storage", "postgres"), "set exactly one of sqlite and postgres")
	}
	key := func(k string) []any { return at("storage", "postgres", k) }
	switch {
	case pg.DSN != "" && pg.DSNEnv != "":
		v.bad(top, key("dsn_env"), "set exactly one of dsn and dsn_env")
	case pg.DSNEnv != "":
		val, ok := v.loader.lookupEnv(pg.DSNEnv)
		switch {
		case !ok:
			v.badKind(ErrSecret, top, key("dsn_env"), "environment variable %s is not set", pg.DSNEnv)
		case strings.TrimSpace(val) == "":
			v.badKind(ErrSecret, top, key("dsn_env"), "environment variable %s is empty", pg.DSNEnv)
		default:
			pg.DSN = strings.TrimSpace(val)
		}
	case strings.TrimSpace(pg.DSN) == "":
		v.bad(top, at("storage", "postgres"), "needs dsn or dsn_env")
	}
	if pg.MaxConns < 0 || pg.MaxConns > maxPostgresConns {
		v.bad(top, key("max_conns"), "must be from 0 (the driver's default) to %d, got %d", maxPostgresConns, pg.MaxConns)
	}
	if pg.DeadAfter < 0 || (pg.DeadAfter > 0 && pg.DeadAfter.Std() < 5*time.Second) {
		v.bad(top, key("dead_after"), "must be at least 5s (0: the default 1m), got %s", pg.DeadAfter.Std())
	}
	if strings.ContainsAny(pg.Instance, " \t\r\n") {
		v.bad(top, key("instance"), "must not contain white space: %q", pg.Instance)
	}
}
