package configs

import (
	"path/filepath"
	"strings"
)

// secretRef is where one secret comes from: exactly one of env (an environment
// variable name) and file (a path) is set. envKey and fileKey are the paths of the two
// settings below the item, for messages; what names the secret in them ("password",
// "token").
type secretRef struct {
	env, file       string
	envKey, fileKey []any
	what            string
}

// resolveSecret sets a.Password from the environment variable a.PasswordEnv or the
// file a.PasswordFile. Exactly one of the two is set when this is called.
func (v *validation) resolveSecret(pl place, a *TrunkAuth) {
	a.Password, _ = v.readSecret(pl, secretRef{
		env: a.PasswordEnv, file: a.PasswordFile,
		envKey: at("auth", "password_env"), fileKey: at("auth", "password_file"),
		what: "password",
	})
}

// readSecret returns the secret ref points to: the value of its environment variable,
// or the contents of its file (relative to the directory of the file defining the
// item; trailing newlines are trimmed). A missing or empty secret is reported, and
// readSecret returns false. Messages never include the secret.
func (v *validation) readSecret(pl place, ref secretRef) (string, bool) {
	if ref.env != "" {
		val, ok := v.loader.lookupEnv(ref.env)
		switch {
		case !ok:
			v.badKind(ErrSecret, pl, ref.envKey, "environment variable %s is not set", ref.env)
		case val == "":
			v.badKind(ErrSecret, pl, ref.envKey, "environment variable %s is empty", ref.env)
		default:
			return val, true
		}
		return "", false
	}
	path := ref.file
	if !filepath.IsAbs(path) {
		path = filepath.Join(filepath.Dir(pl.file), path)
	}
	b, err := v.loader.readFile(path)
	if err != nil {
		e := readError(pl.file, lineAt(pl.node, ref.fileKey...), prefix(join(pl.label, renderPath(ref.fileKey)))+"cannot read "+path, err)
		e.Kind = ErrSecret
		v.probs.push(e)
		return "", false
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		v.badKind(ErrSecret, pl, ref.fileKey, "%s file %s is empty", ref.what, path)
		return "", false
	}
	return s, true
}
