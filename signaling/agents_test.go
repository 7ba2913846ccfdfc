package signaling

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"callgate/pool"

	"github.com/gorilla/websocket"
	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// lockClock is a settable clock for the lockout.
type lockClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *lockClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *lockClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

var lockT0 = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

const botToken = "tok-bot-0123456789abcdef"

// testAccounts: bob and carol log in with the password "s3cret", bot with botToken.
func testAccounts(t *testing.T) []AgentAccount {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return []AgentAccount{
		{Tenant: "acme", Name: "bob", PasswordHash: string(hash)},
		{Tenant: "acme", Name: "carol", PasswordHash: string(hash)},
		{Tenant: "acme", Name: "bot", Token: botToken},
	}
}

var (
	ipA = netip.MustParseAddr("192.0.2.1")
	ipB = netip.MustParseAddr("192.0.2.2")
)

func pw(agent, password string, src netip.Addr) Credentials {
	return Credentials{Tenant: "acme", Agent: agent, Password: password, Source: src}
}

// login authenticates and returns only the error.
func login(d *Directory, c Credentials) error {
	_, err := d.Authenticate(context.Background(), c)
	return err
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if want == nil && err != nil || want != nil && !errors.Is(err, want) {
		t.Fatalf("%s: %v, want %v", what, err, want)
	}
	if errors.Is(err, ErrLockedOut) && errors.Is(err, ErrBadCredentials) {
		t.Fatalf("%s: %v is both locked out and bad credentials", what, err)
	}
}

// TestLockoutPerAgent: after Failures bad passwords within Window, the agent is locked
// out for Lockout: even the right password fails, with ErrLockedOut; other agents are
// not affected; a success or the window passing starts the count over.
func TestLockoutPerAgent(t *testing.T) {
	clk := &lockClock{now: lockT0}
	d := NewDirectory(testAccounts(t), WithClock(clk.Now),
		WithLockout(LockoutSettings{Failures: 3, IPFailures: -1, Window: 10 * time.Minute, Lockout: 5 * time.Minute}))

	for i := range 3 {
		wantErr(t, fmt.Sprintf("bad password %d", i+1), login(d, pw("bob", "guess", ipA)), ErrBadCredentials)
	}
	wantErr(t, "right password while locked out", login(d, pw("bob", "s3cret", ipB)), ErrLockedOut)
	wantErr(t, "wrong password while locked out", login(d, pw("bob", "guess", ipB)), ErrLockedOut)
	if loginError(login(d, pw("bob", "s3cret", ipA))) != loginError(login(d, pw("bob", "guess", ipA))) {
		t.Fatal("the page can tell the right password from a wrong one during a lockout")
	}
	wantErr(t, "another agent from the same address", login(d, pw("carol", "s3cret", ipA)), nil)

	clk.Add(5*time.Minute - time.Second)
	wantErr(t, "a second before the lockout ends", login(d, pw("bob", "s3cret", ipA)), ErrLockedOut)
	clk.Add(time.Second)
	wantErr(t, "when the lockout ends", login(d, pw("bob", "s3cret", ipA)), nil)

	// Two failures, the window passes, two more: not three within the window.
	wantErr(t, "f1", login(d, pw("carol", "x", ipA)), ErrBadCredentials)
	wantErr(t, "f2", login(d, pw("carol", "x", ipA)), ErrBadCredentials)
	clk.Add(10 * time.Minute)
	wantErr(t, "f3", login(d, pw("carol", "x", ipA)), ErrBadCredentials)
	wantErr(t, "f4", login(d, pw("carol", "x", ipA)), ErrBadCredentials)
	wantErr(t, "two failures in the window", login(d, pw("carol", "s3cret", ipA)), nil)
	// The success started the count over.
	wantErr(t, "f5", login(d, pw("carol", "x", ipA)), ErrBadCredentials)
	wantErr(t, "f6", login(d, pw("carol", "x", ipA)), ErrBadCredentials)
	wantErr(t, "after a success, two failures", login(d, pw("carol", "s3cret", ipA)), nil)

	// A token login is not an agent's password login: bob's lockout does not stop the bot.
	for range 3 {
		_ = login(d, pw("bot", "guess", ipA))
	}
	wantErr(t, "token of an agent locked out for its password", login(d, Credentials{Token: botToken, Source: ipA}), nil)
}

// TestLockoutUnknownAgentAlike: an agent that does not exist is locked out after as
// many failures as one that does, so the lockout does not tell who exists.
func TestLockoutUnknownAgentAlike(t *testing.T) {
	d := NewDirectory(testAccounts(t), WithClock((&lockClock{now: lockT0}).Now),
		WithLockout(LockoutSettings{Failures: 2, IPFailures: -1}))
	for _, agent := range []string{"bob", "nobody"} {
		wantErr(t, agent+" 1", login(d, pw(agent, "guess", ipA)), ErrBadCredentials)
		wantErr(t, agent+" 2", login(d, pw(agent, "guess", ipA)), ErrBadCredentials)
		wantErr(t, agent+" 3", login(d, pw(agent, "guess", ipA)), ErrLockedOut)
	}
}

// TestLockoutPerSource: failures from one address, across agents and ways of logging
// in, lock that address (an IPv6 address's /64) out; successes there do not reset it.
func TestLockoutPerSource(t *testing.T) {
	clk := &lockClock{now: lockT0}
	d := NewDirectory(testAccounts(t), WithClock(clk.Now),
		WithLockout(LockoutSettings{Failures: -1, IPFailures: 3, Window: time.Minute, Lockout: time.Minute}))

	wantErr(t, "bob", login(d, pw("bob", "guess", ipA)), ErrBadCredentials)
	wantErr(t, "carol", login(d, pw("carol", "guess", ipA)), ErrBadCredentials)
	wantErr(t, "success between guesses", login(d, pw("carol", "s3cret", ipA)), nil)
	wantErr(t, "bad token", login(d, Credentials{Token: "tok-wrong-0123456789abcdef", Source: ipA}), ErrBadCredentials)
	wantErr(t, "right token from the locked address", login(d, Credentials{Token: botToken, Source: ipA}), ErrLockedOut)
	wantErr(t, "right password from the locked address", login(d, pw("bob", "s3cret", ipA)), ErrLockedOut)
	wantErr(t, "from another address", login(d, pw("bob", "s3cret", ipB)), nil)
	wantErr(t, "from the IPv4-mapped form of the address", login(d, pw("bob", "s3cret", netip.MustParseAddr("::ffff:192.0.2.1"))), ErrLockedOut)

	for i, a := range []string{"2001:db8::1", "2001:db8::2", "2001:db8::ffff:1"} {
		wantErr(t, fmt.Sprintf("v6 %d", i), login(d, pw("bob", "guess", netip.MustParseAddr(a))), ErrBadCredentials)
	}
	wantErr(t, "same /64", login(d, pw("bob", "s3cret", netip.MustParseAddr("2001:db8::99"))), ErrLockedOut)
	wantErr(t, "another /64", login(d, pw("bob", "s3cret", netip.MustParseAddr("2001:db8:0:1::1"))), nil)

	clk.Add(time.Minute)
	wantErr(t, "after the lockout", login(d, Credentials{Token: botToken, Source: ipA}), nil)
}

// TestLockoutCountsAttemptsInFlight: attempts being checked count against the limit,
// so a burst of parallel guesses cannot pass it before the first result is in.
func TestLockoutCountsAttemptsInFlight(t *testing.T) {
	clk := &lockClock{now: lockT0}
	l := newLockout(LockoutSettings{Failures: 2, IPFailures: -1}, clk.Now)
	d1, err1 := l.begin("acme", "bob", true, ipA)
	d2, err2 := l.begin("acme", "bob", true, ipB)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if _, err := l.begin("acme", "bob", true, ipA); !errors.Is(err, ErrLockedOut) {
		t.Fatalf("third attempt in flight: %v, want ErrLockedOut", err)
	}
	d1(loginAborted)
	d1(loginFailed) // a second call changes nothing
	d3, err := l.begin("acme", "bob", true, ipA)
	if err != nil {
		t.Fatalf("after an aborted attempt: %v", err)
	}
	d2(loginFailed)
	d3(loginFailed)
	if _, err := l.begin("acme", "bob", true, ipA); !errors.Is(err, ErrLockedOut) {
		t.Fatalf("after two failures: %v, want ErrLockedOut", err)
	}
}

// TestLockoutAddressInFlight: many logins from one address at once (pages behind
// one NAT reconnecting after a restart) are admitted while nothing failed from it;
// once a failure is counted, attempts in flight count too.
func TestLockoutAddressInFlight(t *testing.T) {
	l := newLockout(LockoutSettings{Failures: -1, IPFailures: 3}, (&lockClock{now: lockT0}).Now)
	var dones []func(outcome)
	for i := range 10 {
		done, err := l.begin("", "", false, ipA)
		if err != nil {
			t.Fatalf("login %d at once from one address: %v", i, err)
		}
		dones = append(dones, done)
	}
	dones[0](loginFailed) // 1 failure, 9 in flight
	if _, err := l.begin("", "", false, ipA); !errors.Is(err, ErrLockedOut) {
		t.Fatalf("after a failure with 9 in flight: %v, want ErrLockedOut", err)
	}
	for _, done := range dones[1:] {
		done(loginSucceeded)
	}
	done, err := l.begin("", "", false, ipA)
	if err != nil {
		t.Fatalf("1 failure, nothing in flight: %v", err)
	}
	done(loginSucceeded)
}

// TestLockoutTableBounded: the table of agents and addresses is bounded; when it is
// full of live entries, newcomers are refused until entries expire.
func TestLockoutTableBounded(t *testing.T) {
	clk := &lockClock{now: lockT0}
	l := newLockout(LockoutSettings{Failures: -1, IPFailures: 5, Window: time.Minute, Lockout: time.Minute}, clk.Now)
	for i := range maxLockoutEntries {
		done, err := l.begin("", "", false, netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}))
		if err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		done(loginFailed)
	}
	if len(l.entries) != maxLockoutEntries {
		t.Fatalf("%d entries", len(l.entries))
	}
	if _, err := l.begin("", "", false, ipA); !errors.Is(err, ErrLockedOut) {
		t.Fatalf("a newcomer to a full table: %v, want ErrLockedOut", err)
	}
	clk.Add(time.Minute)
	done, err := l.begin("", "", false, ipA)
	if err != nil {
		t.Fatalf("after the window: %v", err)
	}
	done(loginSucceeded)
	if len(l.entries) != 0 {
		t.Fatalf("%d entries kept after they expired", len(l.entries))
	}
}

// argon2idHash hashes password as an argon2id PHC string.
func argon2idHash(password string) string {
	salt := []byte("saltsaltsaltsalt")
	sum := argon2.IDKey([]byte(password), salt, 1, 64, 1, 32)
	return "$argon2id$v=19$m=64,t=1,p=1$" + base64.RawStdEncoding.EncodeToString(salt) + "$" + base64.RawStdEncoding.EncodeToString(sum)
}

func TestArgon2idPasswords(t *testing.T) {
	d := NewDirectory([]AgentAccount{
		{Tenant: "acme", Name: "dana", PasswordHash: argon2idHash("correct horse")},
		{Tenant: "acme", Name: "erin", PasswordHash: "$argon2id$v=19$m=64,t=1,p=1$bad"},
	}, WithLockout(LockoutSettings{Failures: -1, IPFailures: -1}))
	a, err := d.Authenticate(context.Background(), pw("dana", "correct horse", ipA))
	if err != nil || a != (Agent{Tenant: "acme", Name: "dana"}) {
		t.Fatalf("right password: %v, %v", a, err)
	}
	wantErr(t, "wrong password", login(d, pw("dana", "correct horse!", ipA)), ErrBadCredentials)
	wantErr(t, "malformed hash", login(d, pw("erin", "", ipA)), ErrBadCredentials)
	if !d.dummy.argon2 {
		t.Error("the dummy hash of a directory of argon2id accounts is not argon2id")
	}
	for _, bad := range []string{"$argon2id$v=19$m=64,t=1,p=1$c2FsdA$c2FsdA", "$argon2id$v=19$m=4194304,t=1,p=1$" +
		base64.RawStdEncoding.EncodeToString([]byte("saltsalt")) + "$" + base64.RawStdEncoding.EncodeToString(make([]byte, 32))} {
		if _, err := parsePasswordHash(bad); err == nil {
			t.Errorf("parsePasswordHash(%q) accepted it", bad)
		}
	}
}

// TestIssuedTokens: a token issued by the business API logs its agent in until it
// is revoked or expires; then, like a forged one, it fails as ErrBadCredentials.
func TestIssuedTokens(t *testing.T) {
	ctx := context.Background()
	clk := &lockClock{now: lockT0}
	store, err := pool.OpenSQLite(ctx, filepath.Join(t.TempDir(), "cg.db"), pool.WithClock(clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	d := NewDirectory(testAccounts(t), WithIssuedTokens(store), WithClock(clk.Now),
		WithLockout(LockoutSettings{Failures: -1, IPFailures: -1}))
	tok, rec, err := store.IssueAgentToken(ctx, pool.AgentToken{Tenant: "acme", Agent: "alice", ExpiresAt: lockT0.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	a, err := d.Authenticate(ctx, Credentials{Token: tok, Source: ipA})
	if err != nil || a != (Agent{Tenant: "acme", Name: "alice"}) {
		t.Fatalf("issued token: %v, %v", a, err)
	}
	if id := issuedTokenID(tok); id != rec.ID {
		t.Fatalf("issuedTokenID = %q, want %q", id, rec.ID)
	}
	_, err = NewDirectory(nil).Authenticate(ctx, Credentials{Token: tok})
	wantErr(t, "a directory without issued tokens", err, ErrBadCredentials)
	forged := tok[:len(tok)-2] + "xx"
	wantErr(t, "forged secret", login(d, Credentials{Token: forged}), ErrBadCredentials)

	clk.Add(time.Hour)
	err = login(d, Credentials{Token: tok})
	wantErr(t, "expired", err, ErrBadCredentials)
	if loginError(err) != ErrBadCredentials {
		t.Fatalf("expired token told the page %v", loginError(err))
	}

	tok2, rec2, err := store.IssueAgentToken(ctx, pool.AgentToken{Tenant: "acme", Agent: "alice", ExpiresAt: clk.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.RevokeToken(ctx, rec2.ID); err != nil {
		t.Fatal(err)
	}
	err = login(d, Credentials{Token: tok2})
	wantErr(t, "revoked", err, ErrBadCredentials)
	if loginError(err) != ErrBadCredentials || loginError(err).Error() != ErrBadCredentials.Error() {
		t.Fatalf("revoked token told the page %v", loginError(err))
	}
}

// TestStoreFailureIsNotAFailedLogin: a login the store cannot check is
// ErrLoginUnavailable and does not count towards a lockout.
func TestStoreFailureIsNotAFailedLogin(t *testing.T) {
	ctx := context.Background()
	store, err := pool.OpenSQLite(ctx, filepath.Join(t.TempDir(), "cg.db"))
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := store.IssueAgentToken(ctx, pool.AgentToken{Tenant: "acme", Agent: "alice", ExpiresAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	store.Close()
	d := NewDirectory(testAccounts(t), WithIssuedTokens(store), WithLockout(LockoutSettings{IPFailures: 1}))
	for range 3 {
		err := login(d, Credentials{Token: tok, Source: ipA})
		wantErr(t, "closed store", err, ErrLoginUnavailable)
		if errorCode(loginError(err)) != "unavailable" {
			t.Fatalf("code %q", errorCode(loginError(err)))
		}
	}
	wantErr(t, "the address after store failures", login(d, Credentials{Token: botToken, Source: ipA}), nil)
}

// tokenServer is a websocket server whose directory takes issued tokens from a real
// store.
type tokenServer struct {
	srv   *Server
	url   string
	seats *Seats
	store *pool.SQLiteStore
}

func newTokenServer(t *testing.T, lock LockoutSettings) *tokenServer {
	t.Helper()
	store, err := pool.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "cg.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	ts := &tokenServer{seats: NewSeats(map[string]int{"acme": 5}), store: store}
	ts.srv = NewServer(Config{PingInterval: time.Second, PongWait: 3 * time.Second}, Deps{
		Auth:    NewDirectory(testAccounts(t), WithIssuedTokens(store), WithLockout(lock)),
		Seats:   ts.seats,
		Records: store,
		Media: func(context.Context, string) (BrowserLeg, string, error) {
			return nil, "", errors.New("no media in this test")
		},
	})
	h := httptest.NewServer(ts.srv)
	t.Cleanup(func() { h.Close(); ts.srv.Close() })
	ts.url = h.URL
	return ts
}

func (ts *tokenServer) issue(t *testing.T, agent string) (string, string) {
	t.Helper()
	tok, rec, err := ts.store.IssueAgentToken(context.Background(), pool.AgentToken{Tenant: "acme", Agent: agent, ExpiresAt: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return tok, rec.ID
}

// login opens a websocket, sends auth and returns the connection and the answer.
func (ts *tokenServer) login(t *testing.T, auth map[string]any) (*websocket.Conn, map[string]any) {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial("ws"+ts.url[len("http"):], map[string][]string{"Origin": {ts.url}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	auth["type"], auth["v"] = "auth", 1
	if err := c.WriteJSON(auth); err != nil {
		t.Fatal(err)
	}
	return c, read(t, c)
}

func (ts *tokenServer) waitSeats(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for ts.seats.Used("acme") != want {
		if time.Now().After(deadline) {
			t.Fatalf("%d seats used, want %d", ts.seats.Used("acme"), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLogoutRevokesTheSessionToken: {"type":"logout"} answers ok, revokes the issued
// token the session logged in with, closes the socket and frees the seat.
func TestLogoutRevokesTheSessionToken(t *testing.T) {
	ts := newTokenServer(t, LockoutSettings{})
	tok, id := ts.issue(t, "alice")
	c, m := ts.login(t, map[string]any{"token": tok})
	if m["type"] != "ready" || m["agent"] != "alice" {
		t.Fatalf("login: %v", m)
	}
	if err := c.WriteJSON(map[string]any{"type": "logout", "id": "lo1"}); err != nil {
		t.Fatal(err)
	}
	if m := read(t, c); m["type"] != "ok" || m["id"] != "lo1" {
		t.Fatalf("logout answer: %v", m)
	}
	if code := closed(t, c); code != websocket.CloseNormalClosure {
		t.Fatalf("close code %d", code)
	}
	ts.waitSeats(t, 0)
	rec, err := ts.store.AgentToken(context.Background(), id)
	if err != nil || rec.RevokedAt.IsZero() {
		t.Fatalf("token after logout: %+v, %v", rec, err)
	}
	if _, m := ts.login(t, map[string]any{"token": tok}); m["code"] != "bad_credentials" || m["message"] != ErrBadCredentials.Error() {
		t.Fatalf("login with the logged-out token: %v", m)
	}

	// A password session logs out too; the password still works afterwards.
	c, m = ts.login(t, map[string]any{"tenant": "acme", "agent": "bob", "password": "s3cret"})
	if m["type"] != "ready" {
		t.Fatal(m)
	}
	if err := c.WriteJSON(map[string]any{"type": "logout"}); err != nil {
		t.Fatal(err)
	}
	if m := read(t, c); m["type"] != "ok" {
		t.Fatalf("password logout: %v", m)
	}
	ts.waitSeats(t, 0)
	if _, m := ts.login(t, map[string]any{"tenant": "acme", "agent": "bob", "password": "s3cret"}); m["type"] != "ready" {
		t.Fatalf("password login after logout: %v", m)
	}
}

// TestRevokedTokenEndsItsSession: revoking an issued token ends the session that
// logged in with it (token_revoked, closed, seat freed), and no other.
func TestRevokedTokenEndsItsSession(t *testing.T) {
	ts := newTokenServer(t, LockoutSettings{})
	aliceTok, aliceID := ts.issue(t, "alice")
	daveTok, _ := ts.issue(t, "dave")
	alice, m := ts.login(t, map[string]any{"token": aliceTok})
	if m["type"] != "ready" {
		t.Fatal(m)
	}
	dave, m := ts.login(t, map[string]any{"token": daveTok})
	if m["type"] != "ready" {
		t.Fatal(m)
	}
	bob, m := ts.login(t, map[string]any{"tenant": "acme", "agent": "bob", "password": "s3cret"})
	if m["type"] != "ready" {
		t.Fatal(m)
	}
	if _, err := ts.store.RevokeAgentToken(context.Background(), aliceID); err != nil {
		t.Fatal(err)
	}
	if n := ts.srv.EndTokenSessions(aliceID, "0123456789abcdef"); n != 1 {
		t.Fatalf("EndTokenSessions ended %d sessions, want 1", n)
	}
	if m := read(t, alice); m["type"] != "error" || m["code"] != "token_revoked" {
		t.Fatalf("alice got %v", m)
	}
	if code := closed(t, alice); code != websocket.CloseNormalClosure {
		t.Fatalf("close code %d", code)
	}
	ts.waitSeats(t, 2)
	for name, c := range map[string]*websocket.Conn{"dave": dave, "bob": bob} {
		if err := c.WriteJSON(map[string]any{"type": "history", "id": "h"}); err != nil {
			t.Fatal(err)
		}
		if m := read(t, c); m["type"] != "history" {
			t.Fatalf("%s's session after alice's token was revoked: %v", name, m)
		}
	}
}

// TestLockedOutOverWebsocket: the page of a locked-out agent gets locked_out, the
// same for the right password as for a wrong one, and the connection is closed.
func TestLockedOutOverWebsocket(t *testing.T) {
	ts := newTokenServer(t, LockoutSettings{Failures: 2, IPFailures: -1})
	for range 2 {
		if _, m := ts.login(t, map[string]any{"tenant": "acme", "agent": "carol", "password": "nope"}); m["code"] != "bad_credentials" {
			t.Fatalf("bad password: %v", m)
		}
	}
	for _, p := range []string{"s3cret", "nope"} {
		c, m := ts.login(t, map[string]any{"tenant": "acme", "agent": "carol", "password": p, "id": "a"})
		if m["type"] != "error" || m["code"] != "locked_out" || m["message"] != ErrLockedOut.Error() || m["id"] != "a" {
			t.Fatalf("password %q while locked out: %v", p, m)
		}
		if code := closed(t, c); code != websocket.CloseNormalClosure {
			t.Fatalf("close code %d", code)
		}
	}
	if ts.seats.Used("acme") != 0 {
		t.Fatal("a locked-out login took a seat")
	}
	c, m := ts.login(t, map[string]any{"tenant": "acme", "agent": "bob", "password": "s3cret"})
	if m["type"] != "ready" {
		t.Fatalf("another agent: %v", m)
	}
	_ = c
	// logout is a request of a logged-in page only.
	raw, _, err := websocket.DefaultDialer.Dial("ws"+ts.url[len("http"):], map[string][]string{"Origin": {ts.url}})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if err := raw.WriteJSON(map[string]any{"type": "logout"}); err != nil {
		t.Fatal(err)
	}
	if m := read(t, raw); m["code"] != "bad_request" {
		t.Fatalf("logout before auth: %v", m)
	}
}
