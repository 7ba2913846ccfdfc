package configs

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// This file checks the web section: the origins allowed to open the agent websocket.

// web checks and normalises web.allowed_origins.
func (v *validation) web(top place) {
	seen := map[string]bool{}
	for i, s := range v.cfg.Web.AllowedOrigins {
		o, msg := normalOrigin(s)
		switch {
		case msg != "":
			v.bad(top, at("web", "allowed_origins", i), "%s", msg)
			continue
		case seen[o]:
			v.bad(top, at("web", "allowed_origins", i), "origin %s is listed twice", o)
		}
		seen[o] = true
		v.cfg.Web.AllowedOrigins[i] = o
	}
}

// normalOrigin parses s as a web origin, scheme://host[:port] with scheme http or
// https, and returns it as browsers write it in the Origin header: scheme and host in
// lower case, a default port dropped. Otherwise it returns what is wrong.
func normalOrigin(s string) (origin, problem string) {
	const want = "want scheme://host[:port], e.g. https://crm.example.com"
	if strings.Contains(s, "*") {
		return "", fmt.Sprintf("%q: wildcards are not supported; list each origin", s)
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Opaque != "" || u.Host == "" || strings.Contains(u.Host, "%") {
		return "", fmt.Sprintf("%q is not an origin: %s", s, want)
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", fmt.Sprintf("%q: scheme %q is not allowed: want http or https", s, u.Scheme)
	}
	if u.User != nil {
		return "", fmt.Sprintf("%q is not an origin: it holds a user name; %s", s, want)
	}
	host := strings.ToLower(u.Hostname())
	if msg := checkHost(host); msg != "" {
		return "", fmt.Sprintf("%q is not an origin: %s", s, msg)
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	origin = scheme + "://" + host
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return "", fmt.Sprintf("%q: invalid port %q: want 1-65535", s, p)
		}
		if !(scheme == "http" && n == 80 || scheme == "https" && n == 443) {
			origin += ":" + strconv.Itoa(n)
		}
	}
	if u.Path != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.HasSuffix(s, "#") {
		return "", fmt.Sprintf("%q is not an origin: an origin has no path, query or fragment; write %q", s, origin)
	}
	return origin, ""
}
