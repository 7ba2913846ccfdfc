package configs

import (
	"path/filepath"
	"strings"
)

// resolveSecret sets a.Password from the environment variable a.PasswordEnv or the
// file a.PasswordFile (relative to the directory of the file defining the trunk;
// trailing newlines are trimmed). Exactly one of the two is set when this is called.
// Messages never include the secret.
func (v *validation) resolveSecret(pl place, a *TrunkAuth) {
	if a.PasswordEnv != "" {
		val, ok := v.loader.lookupEnv(a.PasswordEnv)
		switch {
		case !ok:
			v.badKind(ErrSecret, pl, at("auth", "password_env"), "environment variable %s is not set", a.PasswordEnv)
		case val == "":
			v.badKind(ErrSecret, pl, at("auth", "password_env"), "environment variable %s is empty", a.PasswordEnv)
		default:
			a.Password = val
		}
		return
	}
	path := a.PasswordFile
	if !filepath.IsAbs(path) {
		path = filepath.Join(filepath.Dir(pl.file), path)
	}
	b, err := v.loader.readFile(path)
	if err != nil {
		e := readError(pl.file, lineAt(pl.node, "auth", "password_file"), prefix(join(pl.label, "auth: password_file"))+"cannot read "+path, err)
		e.Kind = ErrSecret
		v.probs.push(e)
		return
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		v.badKind(ErrSecret, pl, at("auth", "password_file"), "password file %s is empty", path)
		return
	}
	a.Password = s
}
