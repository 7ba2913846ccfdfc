package sip

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// This file is callgate's registrar for trunks that REGISTER to it
// (trunks[].registers_to_us): a PBX or a small carrier whose address is not fixed.
//
// Authentication is HTTP digest (RFC 3261 §22, RFC 8760): every challenge carries two
// WWW-Authenticate (or Proxy-Authenticate) headers, SHA-256 first, then MD5, both with
// qop="auth" and one nonce. A nonce is random, bound by an HMAC to the source IP it was
// given to, good for nonceTTL and accepted once. An Authorization that does not verify
// gets 403 whether its username exists or not: an unknown user is checked against a
// random password on the same code path, so neither the answer nor its work tells
// the two apart. Right credentials on a used, expired or foreign nonce get a new
// challenge with stale=true. maxAuthFailures failures from one address within
// authFailWindow ban it in the guard.
//
// A trunk keeps one binding: the Contact of its last REGISTER, the address the
// REGISTER came from and when it lapses. While it holds, INVITEs from that IP are the
// trunk's (inbound calls), and calls routed to the trunk are sent to the contact: to
// the Contact's host and port when the Contact names the IP the REGISTER came from,
// else (NAT, a DNS name) to the address the REGISTER came from. callgate never sends a
// call to an address that did not authenticate itself. Without a binding the trunk is
// down (ErrTrunkDown).

// Registrar limits.
const (
	nonceTTL        = 30 * time.Second
	maxAuthFailures = 5
	authFailWindow  = 10 * time.Minute
	// maxUsedNonces bounds the spent nonces remembered; when full of unexpired ones,
	// every nonce is refused as stale (fail closed: never accept one twice).
	maxUsedNonces = 1 << 16
	// maxFailSources bounds the addresses whose failures are counted; a failure from
	// a new address while it is full bans that address at once.
	maxFailSources = 1 << 16
	nonceRandBytes = 12
	nonceMACBytes  = 16
	nonceBytes     = 8 + nonceRandBytes + nonceMACBytes
)

// RegisteredContact is where a trunk that registers to callgate registered last.
type RegisteredContact struct {
	// Contact is the URI the trunk registered.
	Contact string
	// Source is where the REGISTER came from: INVITEs from its IP are the trunk's.
	Source netip.AddrPort
	// Transport is what the REGISTER came over: UDP or TCP.
	Transport string
	// Expires is when the registration lapses unless refreshed.
	Expires time.Time
	// Since is when the trunk first registered this contact.
	Since time.Time
}

// binding is a trunk's registration, immutable once stored.
type binding struct {
	RegisteredContact
	uri  sip.Uri        // the Contact URI, without password and headers
	dest netip.AddrPort // where requests to the trunk go
}

// regBinding holds the binding of a trunk that registers to callgate; like the live
// call count, it is shared by the same-named trunk across reloads.
type regBinding struct {
	cur atomic.Pointer[binding]
}

// RegistersToUs reports whether the trunk registers to callgate
// (trunks[].registers_to_us).
func (t *Trunk) RegistersToUs() bool { return t.reg != nil }

// Contact returns where the trunk is registered at now; false if it does not register
// to callgate or its registration lapsed or was removed.
func (t *Trunk) Contact(now time.Time) (RegisteredContact, bool) {
	if b := t.bound(now); b != nil {
		return b.RegisteredContact, true
	}
	return RegisteredContact{}, false
}

// bound is the trunk's binding at now, or nil.
func (t *Trunk) bound(now time.Time) *binding {
	if t.reg == nil {
		return nil
	}
	if b := t.reg.cur.Load(); b != nil && now.Before(b.Expires) {
		return b
	}
	return nil
}

// boundHost is the host of the trunk's last registered contact, current or not (the
// domain of a trunk without host); "" if it never registered.
func (t *Trunk) boundHost() string {
	if t.reg == nil {
		return ""
	}
	if b := t.reg.cur.Load(); b != nil {
		return b.uri.Host
	}
	return ""
}

// keepBinding takes over prev's binding when both register to callgate with one
// username (a config reload); other changes drop it.
func (t *Trunk) keepBinding(prev *Trunk) {
	if t.reg != nil && prev.reg != nil && t.cfg.RegistersToUs.Username == prev.cfg.RegistersToUs.Username {
		t.reg = prev.reg
	}
}

// TrunkContact returns where trunk t is registered now (see Trunk.Contact).
func (e *Edge) TrunkContact(t *Trunk) (RegisteredContact, bool) { return t.Contact(e.now()) }

// trunkAt finds the trunk a message from a belongs to: the trunk whose inbound CIDRs
// hold a, else the trunk registered from a; nil for a stranger.
func (e *Edge) trunkAt(a netip.Addr) *Trunk {
	ts := e.trunks.Load()
	if t := ts.bySource(a); t != nil {
		return t
	}
	a = a.Unmap().WithZone("")
	var now time.Time
	for _, t := range ts.list {
		if t.reg == nil {
			continue
		}
		if now.IsZero() {
			now = e.now()
		}
		if b := t.bound(now); b != nil && b.Source.Addr() == a {
			return t
		}
	}
	return nil
}

// trunkTarget is where a request to a trunk goes.
type trunkTarget struct {
	side      transportSide
	transport string  // UDP or TCP
	dest      string  // host:port
	domain    string  // host part of From and To
	uri       sip.Uri // the Request-URI, its user part left to fill in
}

// targetOf is where requests to trunk t go: its configured host, or for a trunk that
// registers to callgate its current contact (ErrTrunkDown without one). side is the
// transport the trunk's configuration asks for.
func (e *Edge) targetOf(t *Trunk, side transportSide) (trunkTarget, error) {
	if t.reg == nil {
		d := t.domain()
		return trunkTarget{side: side, transport: transportName(t.cfg.Transport), dest: t.hostPort(), domain: d,
			uri: sip.Uri{Scheme: "sip", Host: d, Port: t.cfg.Port}}, nil
	}
	b := t.bound(e.now())
	if b == nil {
		return trunkTarget{}, fmt.Errorf("%w: %s is not registered to callgate", ErrTrunkDown, t.Name())
	}
	switch {
	case b.Transport == "TCP" && e.tcp.client != nil:
		side = e.tcp
	case b.Transport == "UDP" && e.udp.client != nil:
		side = e.udp
	default:
		return trunkTarget{}, fmt.Errorf("%w: %s registered over %s, which no longer listens", ErrTrunkDown, t.Name(), b.Transport)
	}
	domain := t.cfg.Domain
	if domain == "" {
		domain = b.uri.Host
	}
	return trunkTarget{side: side, transport: b.Transport, dest: b.dest.String(), domain: domain,
		uri: sip.Uri{Scheme: "sip", Host: b.uri.Host, Port: b.uri.Port, UriParams: b.uri.UriParams.Clone()}}, nil
}

// registrar holds the nonces and failure counts of digest authentication.
type registrar struct {
	realm string
	key   []byte
	// dummy is the password an unknown username is checked against.
	dummy string
	now   func() time.Time

	mu    sync.Mutex
	used  map[string]int64 // spent nonce → unix ns when it would expire anyway
	fails map[netip.Addr]authFailures
}

type authFailures struct {
	n     int
	since int64 // unix ns of the first failure in the window
}

func newRegistrar(realm string, now func() time.Time) *registrar {
	if realm == "" {
		realm = "callgate"
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	dummy := make([]byte, 24)
	_, _ = rand.Read(dummy)
	return &registrar{realm: realm, key: key, dummy: base64.RawURLEncoding.EncodeToString(dummy), now: now,
		used: map[string]int64{}, fails: map[netip.Addr]authFailures{}}
}

// nonce issues a nonce for src: issue time, random bytes and a MAC binding both to src.
func (r *registrar) nonce(src netip.Addr) string {
	var b [nonceBytes]byte
	binary.BigEndian.PutUint64(b[:8], uint64(r.now().UnixNano()))
	_, _ = rand.Read(b[8 : 8+nonceRandBytes])
	copy(b[8+nonceRandBytes:], r.mac(b[:8+nonceRandBytes], src))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (r *registrar) mac(body []byte, src netip.Addr) []byte {
	m := hmac.New(sha256.New, r.key)
	m.Write(body)
	ip := src.Unmap().As16()
	m.Write(ip[:])
	return m.Sum(nil)[:nonceMACBytes]
}

// spend reports whether nonce is one r issued to src within nonceTTL and not spent
// before, and spends it.
func (r *registrar) spend(nonce string, src netip.Addr) bool {
	b, err := base64.RawURLEncoding.DecodeString(nonce)
	if err != nil || len(b) != nonceBytes {
		return false
	}
	if !hmac.Equal(b[8+nonceRandBytes:], r.mac(b[:8+nonceRandBytes], src)) {
		return false
	}
	issued := int64(binary.BigEndian.Uint64(b[:8]))
	now := r.now().UnixNano()
	if now < issued || now-issued > int64(nonceTTL) {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, spent := r.used[nonce]; spent {
		return false
	}
	if len(r.used) >= maxUsedNonces {
		for n, exp := range r.used {
			if exp < now {
				delete(r.used, n)
			}
		}
		if len(r.used) >= maxUsedNonces {
			return false
		}
	}
	r.used[nonce] = issued + int64(nonceTTL)
	return true
}

// failed counts an authentication failure from src and reports whether src is now to
// be banned.
func (r *registrar) failed(src netip.Addr) bool {
	now := r.now().UnixNano()
	r.mu.Lock()
	defer r.mu.Unlock()
	f, ok := r.fails[src]
	if !ok && len(r.fails) >= maxFailSources {
		for a, g := range r.fails {
			if now-g.since > int64(authFailWindow) {
				delete(r.fails, a)
			}
		}
		if len(r.fails) >= maxFailSources {
			return true
		}
	}
	if !ok || now-f.since > int64(authFailWindow) {
		f = authFailures{since: now}
	}
	f.n++
	if f.n >= maxAuthFailures {
		delete(r.fails, src)
		return true
	}
	r.fails[src] = f
	return false
}

// succeeded forgets src's failures.
func (r *registrar) succeeded(src netip.Addr) {
	r.mu.Lock()
	delete(r.fails, src)
	r.mu.Unlock()
}

// authResult is what checking an Authorization found.
type authResult int

const (
	authFailed authResult = iota // 403
	authStale                    // right credentials, nonce not usable: challenge again
	authOK
)

// check verifies the digest credentials in header (an Authorization or
// Proxy-Authorization value) of req from src against the trunks of ts that register
// to callgate. want, if set, is the only trunk whose credentials count (INVITEs).
// It returns the trunk the credentials are of when they are right.
func (r *registrar) check(req *sip.Request, header string, src netip.Addr, ts *trunkSet, want *Trunk) (*Trunk, authResult) {
	cred, err := parseAuthorization(header, r.realm)
	if err != nil {
		return nil, authFailed
	}
	uriOK := sameURI(cred.URI, req.Recipient)
	t, password := r.account(ts, cred.Username)
	chal := &digest.Challenge{Realm: r.realm, Nonce: cred.Nonce, Algorithm: cred.Algorithm, QOP: []string{"auth"}}
	exp, err := digest.Digest(chal, digest.Options{Method: string(req.Method), URI: cred.URI, Username: cred.Username,
		Password: password, Cnonce: cred.Cnonce, Count: cred.Nc})
	if err != nil {
		return nil, authFailed
	}
	match := subtle.ConstantTimeCompare([]byte(exp.Response), []byte(strings.ToLower(cred.Response))) == 1
	fresh := r.spend(cred.Nonce, src) // a nonce gets one try, right or wrong
	switch {
	case !match || t == nil || !uriOK || want != nil && t.Name() != want.Name():
		return nil, authFailed
	case !fresh:
		return t, authStale
	}
	return t, authOK
}

// account finds the trunk that registers with username user and its password; for an
// unknown user it returns nil and the dummy password. Every registering trunk's name
// is compared, in constant time, whatever matches.
func (r *registrar) account(ts *trunkSet, user string) (*Trunk, string) {
	uh := sha256.Sum256([]byte(user))
	var found *Trunk
	for _, t := range ts.list {
		rt := t.cfg.RegistersToUs
		if rt == nil {
			continue
		}
		th := sha256.Sum256([]byte(rt.Username))
		if subtle.ConstantTimeCompare(uh[:], th[:]) == 1 && found == nil {
			found = t
		}
	}
	if found == nil {
		return nil, r.dummy
	}
	return found, found.cfg.RegistersToUs.Password
}

// parseAuthorization parses a digest Authorization value and checks what callgate
// offers: realm, algorithm SHA-256 or MD5, qop auth with a cnonce and nc.
func parseAuthorization(header, realm string) (*digest.Credentials, error) {
	cred, err := digest.ParseCredentials(strings.TrimSpace(header))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrAuthFailed, err)
	}
	switch alg := strings.ToUpper(cred.Algorithm); alg {
	case "", "MD5":
		cred.Algorithm = "MD5"
	case "SHA-256":
		cred.Algorithm = alg
	default:
		return nil, fmt.Errorf("%w: algorithm %q not offered", ErrAuthFailed, cred.Algorithm)
	}
	switch {
	case cred.Realm != realm:
		return nil, fmt.Errorf("%w: realm %q", ErrAuthFailed, cred.Realm)
	case cred.QOP != "auth" || cred.Cnonce == "" || cred.Nc < 1:
		return nil, fmt.Errorf("%w: want qop auth with cnonce and nc", ErrAuthFailed)
	case cred.Userhash:
		return nil, fmt.Errorf("%w: userhash not offered", ErrAuthFailed)
	case cred.Username == "" || cred.Nonce == "" || cred.Response == "" || cred.URI == "":
		return nil, fmt.Errorf("%w: incomplete credentials", ErrAuthFailed)
	}
	return cred, nil
}

// sameURI reports whether a digest uri names the Request-URI (RFC 3261 §22.4).
func sameURI(digestURI string, ruri sip.Uri) bool {
	var u sip.Uri
	if err := sip.ParseUri(digestURI, &u); err != nil {
		return false
	}
	return strings.EqualFold(u.Scheme, ruri.Scheme) && u.User == ruri.User &&
		strings.EqualFold(u.Host, ruri.Host) && u.Port == ruri.Port
}

// hasRegistering reports whether any trunk of ts registers to callgate.
func (ts *trunkSet) hasRegistering() bool {
	for _, t := range ts.list {
		if t.reg != nil {
			return true
		}
	}
	return false
}

// sourceAddr is where a request came from.
func sourceAddr(req *sip.Request) (netip.AddrPort, bool) {
	ap, err := netip.ParseAddrPort(req.Source())
	if err != nil {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(ap.Addr().Unmap().WithZone(""), ap.Port()), true
}

// onRegister serves REGISTER: from anyone (the guard rate-limits strangers), answered
// 405 like before when no trunk registers to callgate.
func (e *Edge) onRegister(req *sip.Request, tx sip.ServerTransaction) {
	ts := e.trunks.Load()
	if !ts.hasRegistering() {
		e.onUnknownMethod(req, tx)
		return
	}
	src, ok := sourceAddr(req)
	if !ok {
		e.refuse(req, tx, badRequest("unknown source"))
		return
	}
	h := req.GetHeader("Authorization")
	if h == nil {
		e.challenge(req, tx, src.Addr(), 401, false)
		return
	}
	t, res := e.registrar.check(req, h.Value(), src.Addr(), ts, nil)
	switch res {
	case authFailed:
		e.authFailure(req, tx, src.Addr())
		return
	case authStale:
		e.challenge(req, tx, src.Addr(), 401, true)
		return
	}
	e.registrar.succeeded(src.Addr())
	res200, err := e.bind(req, t, src)
	if err != nil {
		e.refuseRegister(req, tx, t, err)
		return
	}
	if err := checkOutgoing(res200); err != nil {
		e.log.Warn("REGISTER answer not sent", "trunk", t.Name(), "err", err)
		return
	}
	if err := tx.Respond(res200); err != nil {
		e.log.Debug("respond REGISTER", "err", err)
	}
}

// authorizeInvite challenges a new call's INVITE when its trunk must authenticate
// them (registers_to_us.auth_invites). It reports whether the call may go on; if not,
// it has answered (407 or 403).
func (e *Edge) authorizeInvite(req *sip.Request, tx sip.ServerTransaction, in *Trunk) bool {
	if in.reg == nil || !in.cfg.RegistersToUs.AuthInvites {
		return true
	}
	src, ok := sourceAddr(req)
	if !ok {
		e.refuse(req, tx, ErrForbiddenSource)
		return false
	}
	h := req.GetHeader("Proxy-Authorization")
	if h == nil {
		e.challenge(req, tx, src.Addr(), 407, false)
		return false
	}
	switch _, res := e.registrar.check(req, h.Value(), src.Addr(), e.trunks.Load(), in); res {
	case authFailed:
		e.authFailure(req, tx, src.Addr())
		return false
	case authStale:
		e.challenge(req, tx, src.Addr(), 407, true)
		return false
	}
	e.registrar.succeeded(src.Addr())
	return true
}

// challenge answers 401 (WWW-Authenticate) or 407 (Proxy-Authenticate) with a fresh
// nonce for src, offering SHA-256 and then MD5.
func (e *Edge) challenge(req *sip.Request, tx sip.ServerTransaction, src netip.Addr, code int, stale bool) {
	name, reason := "WWW-Authenticate", "Unauthorized"
	if code == 407 {
		name, reason = "Proxy-Authenticate", "Proxy Authentication Required"
	}
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	nonce := e.registrar.nonce(src)
	for _, alg := range []string{"SHA-256", "MD5"} {
		ch := digest.Challenge{Realm: e.registrar.realm, Nonce: nonce, Algorithm: alg, QOP: []string{"auth"}, Stale: stale}
		res.AppendHeader(sip.NewHeader(name, ch.String()))
	}
	if err := tx.Respond(res); err != nil {
		e.log.Debug("respond challenge", "code", code, "err", err)
	}
}

// authFailure answers credentials that do not verify with 403, the answer a stranger's
// INVITE gets, and bans src after repeated failures (before answering, so that the
// source is banned once it has the answer; the answer still goes out).
func (e *Edge) authFailure(req *sip.Request, tx sip.ServerTransaction, src netip.Addr) {
	if e.registrar.failed(src) && e.guard != nil {
		e.guard.ban(src)
	}
	e.refuse(req, tx, ErrAuthFailed)
}

// refuseRegister answers a REGISTER whose credentials were right but whose bindings
// cannot be taken: 423 with Min-Expires, or what statusFor gives.
func (e *Edge) refuseRegister(req *sip.Request, tx sip.ServerTransaction, t *Trunk, err error) {
	if !errors.Is(err, ErrIntervalTooBrief) {
		e.refuse(req, tx, err)
		return
	}
	res := refusal(req, err, e.set.NoRouteStatus)
	res.AppendHeader(sip.NewHeader("Min-Expires", strconv.Itoa(int(t.cfg.RegistersToUs.MinExpires.Std()/time.Second))))
	if rerr := tx.Respond(res); rerr != nil {
		e.log.Debug("respond REGISTER", "err", rerr)
	}
}

// bind applies an authenticated REGISTER of trunk t from src to its binding and
// returns the 200 answer listing the binding that holds afterwards.
func (e *Edge) bind(req *sip.Request, t *Trunk, src netip.AddrPort) (*sip.Response, error) {
	contacts, err := registerContacts(req)
	if err != nil {
		return nil, err
	}
	headerExp, hasHeaderExp, err := expiresValue(req.GetHeader("Expires"))
	if err != nil {
		return nil, err
	}
	now := e.now()
	rc := t.cfg.RegistersToUs
	switch {
	case len(contacts) == 0: // a query: answer the binding as it is
	case contacts[0].Address.Wildcard:
		if len(contacts) > 1 || !hasHeaderExp || headerExp != 0 {
			return nil, badRequest("Contact * needs Expires: 0 and no other Contact")
		}
		if t.reg.cur.Swap(nil) != nil {
			e.log.Info("trunk unregistered", "trunk", t.Name(), "source", src)
		}
	case len(contacts) > 1:
		return nil, badRequest("one Contact per REGISTER: a trunk keeps one binding")
	default:
		c := contacts[0]
		exp, ok, err := expiresValue(paramHeader(c))
		if err != nil {
			return nil, err
		}
		if !ok {
			exp, ok = headerExp, hasHeaderExp
		}
		maxExp := rc.MaxExpires.Std()
		if !ok {
			exp = maxExp
		}
		if err := checkContactURI(c.Address); err != nil {
			return nil, err
		}
		old := t.reg.cur.Load()
		if exp == 0 {
			if old != nil && sameContact(old.uri, c.Address) && t.reg.cur.CompareAndSwap(old, nil) {
				e.log.Info("trunk unregistered", "trunk", t.Name(), "source", src)
			}
			break
		}
		if exp < rc.MinExpires.Std() {
			return nil, fmt.Errorf("%w: %s asked %s, at least %s", ErrIntervalTooBrief, t.Name(), exp, rc.MinExpires)
		}
		exp = min(exp, maxExp)
		b := newBinding(c.Address, src, req.Transport(), now, now.Add(exp))
		if old != nil && sameContact(old.uri, b.uri) && old.Source == b.Source && now.Before(old.Expires) {
			b.Since = old.Since
		} else {
			e.log.Info("trunk registered", "trunk", t.Name(), "contact", b.Contact, "source", src, "expires", exp)
		}
		t.reg.cur.Store(b)
	}
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	if b := t.bound(now); b != nil {
		ch := &sip.ContactHeader{Address: b.uri, Params: sip.NewParams()}
		ch.Params.Add("expires", strconv.Itoa(int((b.Expires.Sub(now)+time.Second-1)/time.Second)))
		res.AppendHeader(ch)
	}
	return res, nil
}

// newBinding builds the binding of contact uri registered from src over transport.
func newBinding(uri sip.Uri, src netip.AddrPort, transport string, now, expires time.Time) *binding {
	u := sip.Uri{Scheme: "sip", User: uri.User, Host: uri.Host, Port: uri.Port, UriParams: uri.UriParams.Clone()}
	dest := src
	if ip, err := netip.ParseAddr(strings.Trim(u.Host, "[]")); err == nil && ip.Unmap().WithZone("") == src.Addr() {
		port := u.Port
		if port == 0 {
			port = 5060
		}
		dest = netip.AddrPortFrom(src.Addr(), uint16(port))
	}
	transport = strings.ToUpper(transport)
	if transport != "TCP" {
		transport = "UDP"
	}
	return &binding{
		RegisteredContact: RegisteredContact{Contact: u.String(), Source: src, Transport: transport, Expires: expires, Since: now},
		uri:               u,
		dest:              dest,
	}
}

// registerContacts returns a REGISTER's Contact headers.
func registerContacts(req *sip.Request) ([]*sip.ContactHeader, error) {
	hs := req.GetHeaders("Contact")
	out := make([]*sip.ContactHeader, 0, len(hs))
	for _, h := range hs {
		c, ok := h.(*sip.ContactHeader)
		if !ok {
			return nil, badRequest("unparsable Contact")
		}
		out = append(out, c)
	}
	return out, nil
}

// checkContactURI checks a registered contact: a sip URI with a host and a port in
// range, safe to write into a header.
func checkContactURI(u sip.Uri) error {
	switch {
	case !strings.EqualFold(u.Scheme, "sip"):
		return &RequestError{Kind: ErrUnsupportedURIScheme, Detail: "Contact must be a sip URI"}
	case u.Host == "" || u.Port < 0 || u.Port > 65535:
		return badRequest("Contact without a host or with a bad port")
	case !safeHeaderValue(u.String()):
		return badRequest("unsafe Contact")
	}
	return nil
}

// sameContact reports whether two contact URIs name one binding.
func sameContact(a, b sip.Uri) bool {
	return a.User == b.User && strings.EqualFold(a.Host, b.Host) && a.Port == b.Port
}

// paramHeader returns a Contact's expires parameter as a header, or nil.
func paramHeader(c *sip.ContactHeader) sip.Header {
	if v, ok := c.Params.Get("expires"); ok {
		return sip.NewHeader("Expires", v)
	}
	return nil
}

// expiresValue parses an Expires value (a header or a Contact parameter): whole
// seconds, 0 to 2^32-1 (RFC 3261 §20.19).
func expiresValue(h sip.Header) (time.Duration, bool, error) {
	if h == nil {
		return 0, false, nil
	}
	n, err := strconv.ParseUint(strings.TrimSpace(h.Value()), 10, 32)
	if err != nil {
		return 0, false, badRequest("Expires %q is not whole seconds", h.Value())
	}
	return time.Duration(n) * time.Second, true, nil
}
