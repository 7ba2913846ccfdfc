package configs

import (
	"cmp"
	"strings"
	"time"
)

// This file holds the admin section: who may log in on the admin page on the
// internal listener (web/admin.go), and how long a login lasts.

// Admin configures the admin page. Without users, the page serves no one.
type Admin struct {
	// Users may log in on the admin page.
	Users []AdminUser `yaml:"users"`
	// SessionTTL is how long an admin's login lasts without use; default 8h; at most
	// 7 days.
	SessionTTL Duration `yaml:"session_ttl"`
}

// AdminUser is one person who may log in on the admin page.
type AdminUser struct {
	// Name is the login name: 1 to 64 of A-Z a-z 0-9 . _ -.
	Name string `yaml:"name"`
	// PasswordHash is a bcrypt hash ($2a$, $2b$ or $2y$) of the password, e.g. from
	// htpasswd -nbB admin password. The password itself is never in the YAML.
	PasswordHash string `yaml:"password_hash"`
}

// Defaults and limits of the admin section.
const (
	defaultAdminSessionTTL = 8 * time.Hour      // admin.session_ttl
	maxAdminSessionTTL     = 7 * 24 * time.Hour //
)

// adminDefaults fills the zero settings of the admin section.
func adminDefaults(a *Admin) {
	a.SessionTTL = cmp.Or(a.SessionTTL, Duration(defaultAdminSessionTTL))
}

// admin checks the admin section.
func (v *validation) admin(top place) {
	a := &v.cfg.Admin
	if ttl := a.SessionTTL.Std(); ttl <= 0 || ttl > maxAdminSessionTTL {
		v.bad(top, at("admin", "session_ttl"), "must be positive and at most %s, got %s", Duration(maxAdminSessionTTL), a.SessionTTL)
	}
	seen := map[string]int{}
	for i, u := range a.Users {
		if msg := checkAgentName(u.Name); msg != "" {
			v.bad(top, at("admin", "users", i, "name"), "%s", msg)
		} else if first, dup := seen[u.Name]; dup {
			v.bad(top, at("admin", "users", i, "name"), "duplicate admin user %q (first as users[%d])", u.Name, first)
		} else {
			seen[u.Name] = i
		}
		switch h := u.PasswordHash; {
		case h == "":
			v.bad(top, at("admin", "users", i, "password_hash"), "password_hash is required: a bcrypt hash, e.g. from htpasswd -nbB admin password")
		case !strings.HasPrefix(h, "$2"):
			v.bad(top, at("admin", "users", i, "password_hash"), "admin passwords take a bcrypt hash (\"$2a$10$…\", e.g. from htpasswd -nbB admin password)")
		default:
			if msg := checkPasswordHash(h); msg != "" {
				v.bad(top, at("admin", "users", i, "password_hash"), "%s", msg)
			}
		}
	}
}
