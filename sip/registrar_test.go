package sip_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"callgate/configs"
	"callgate/media"
	"callgate/pool"
	"callgate/routing"
	cgsip "callgate/sip"
	"callgate/sip/demo"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// The registrar tests: a PBX (trunk "pbx", no host, no inbound CIDRs) registers to
// callgate from 127.0.0.3 with digest credentials; strangers try from 127.0.0.4 and up.
const (
	pbxUser     = "pbx-01"
	pbxPassword = "pbx-password-0123456789"
	numV2       = "+8675500000002" // bound to numP through the PBX
	numP        = "+8620000000003" // a phone behind the PBX
)

// testClock is the edge's clock: real time plus an offset tests move forward.
type testClock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

// regRig is callgate with three trunks: carrier-a (127.0.0.2), carrier-b (a demo
// carrier on 127.0.0.1) and pbx, which registers. V is bound to B through carrier-b,
// V2 to P through the PBX, whose phones are a demo carrier on 127.0.0.3.
type regRig struct {
	t       *testing.T
	edge    *cgsip.Edge
	trunks  []configs.Trunk
	clock   *testClock
	store   *pool.SQLiteStore
	carrier *demo.Carrier // carrier-b
	phones  *demo.Carrier // the PBX's side that answers calls, 127.0.0.3
	pbx     *caller       // the PBX's side that registers and calls, 127.0.0.3
}

func newRegRig(t *testing.T, authInvites bool) *regRig {
	t.Helper()
	r := &regRig{t: t, clock: &testClock{}}
	r.carrier = &demo.Carrier{RingFor: 20 * time.Millisecond, Log: testLogger(t)}
	r.phones = &demo.Carrier{RingFor: 20 * time.Millisecond, Log: testLogger(t)}
	if err := r.carrier.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.carrier.Close() })
	if err := r.phones.Start("127.0.0.3:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.phones.Close() })

	ctx := context.Background()
	store, err := pool.OpenSQLite(ctx, filepath.Join(t.TempDir(), "callgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	r.store = store
	if err := store.SyncStaticBindings(ctx, []pool.Binding{
		{Tenant: "demo", Mode: pool.ModeAXN, Virtual: numV, B: numB, Trunk: "carrier-b", Static: true, Expiry: pool.ExpiryNever},
		{Tenant: "demo", Mode: pool.ModeAXN, Virtual: numV2, B: numP, Trunk: "pbx", Static: true, Expiry: pool.ExpiryNever},
	}); err != nil {
		t.Fatal(err)
	}
	ports, err := media.NewPorts(32000, 32999, 0)
	if err != nil {
		t.Fatal(err)
	}
	codecs := []string{"PCMU", "PCMA"}
	trunks := []configs.Trunk{
		{Name: "carrier-a", Supplier: "a", Host: "127.0.0.2", Port: 5060, Transport: "udp", InboundCIDRs: []string{"127.0.0.2/32"}, Codecs: codecs},
		{Name: "carrier-b", Supplier: "b", Host: "127.0.0.1", Port: int(r.carrier.Addr().Port()), Transport: "udp",
			InboundCIDRs: []string{"127.0.0.1/32"}, Codecs: codecs},
		{Name: "pbx", Supplier: "pbx", Port: 5060, Transport: "udp", Codecs: codecs, MaxConcurrentCalls: 10, MaxCallsPerSecond: 100,
			RegistersToUs: &configs.InboundRegister{Username: pbxUser, Password: pbxPassword,
				MinExpires: configs.Duration(time.Minute), MaxExpires: configs.Duration(time.Hour), AuthInvites: authInvites}},
	}
	records := pool.NewJournal(store, pool.JournalOptions{})
	t.Cleanup(func() { records.Close() })
	set := cgsip.Settings{
		UDPAddr:       "127.0.0.1:0",
		RingTimeout:   5 * time.Second,
		ShutdownGrace: time.Second,
		NoRouteStatus: 404,
		MediaBind:     netip.MustParseAddr("127.0.0.1"),
		MediaPublic:   netip.MustParseAddr("127.0.0.1"),
	}
	edge, err := cgsip.New(set, trunks, routing.NewInbound(store, nil), records, ports,
		cgsip.WithLogger(testLogger(t)), cgsip.WithClock(r.clock.now))
	if err != nil {
		t.Fatal(err)
	}
	if err := edge.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { edge.Close() })
	// Before Close (cleanups run last first): calls end and give their RTP ports back.
	t.Cleanup(func() { eventually(t, "calls torn down", func() bool { return edge.ActiveCalls() == 0 }) })
	r.edge, r.trunks = edge, trunks
	r.pbx = newCaller(t, "127.0.0.3")
	return r
}

func (r *regRig) addr() netip.AddrPort { return r.edge.Addr("udp") }

// pbxTrunk is the edge's trunk "pbx".
func (r *regRig) pbxTrunk() *cgsip.Trunk {
	for _, t := range r.edge.Trunks() {
		if t.Name() == "pbx" {
			return t
		}
	}
	r.t.Fatal("no trunk pbx")
	return nil
}

// contact is where the PBX's phones answer.
func (r *regRig) contact() string {
	return fmt.Sprintf("<sip:pbx@%s>", r.phones.Addr())
}

// registerRequest builds a REGISTER to the edge for the AOR of user.
func registerRequest(edge netip.AddrPort, user, contact string, expires int) *sip.Request {
	req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: edge.Addr().String(), Port: int(edge.Port())})
	aor := sip.Uri{Scheme: "sip", User: user, Host: edge.Addr().String()}
	from := sip.FromHeader{Address: aor, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(8))
	req.AppendHeader(&from)
	req.AppendHeader(&sip.ToHeader{Address: aor, Params: sip.NewParams()})
	if contact != "" {
		req.AppendHeader(sip.NewHeader("Contact", contact))
	}
	if expires >= 0 {
		req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(expires)))
	}
	return req
}

func do(t *testing.T, cli *sipgo.Client, req *sip.Request, opts ...sipgo.ClientRequestOption) *sip.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := cli.Do(ctx, req, opts...)
	if err != nil {
		t.Fatalf("%s: %v", req.Method, err)
	}
	return res
}

// challengeOf returns the challenge for algorithm alg in a 401 or 407.
func challengeOf(t *testing.T, res *sip.Response, alg string) *digest.Challenge {
	t.Helper()
	name := "WWW-Authenticate"
	if res.StatusCode == 407 {
		name = "Proxy-Authenticate"
	}
	for _, h := range res.GetHeaders(name) {
		ch, err := digest.ParseChallenge(h.Value())
		if err != nil {
			t.Fatalf("challenge %q: %v", h.Value(), err)
		}
		if ch.Algorithm == alg {
			return ch
		}
	}
	t.Fatalf("%d offers no %s challenge:\n%s", res.StatusCode, alg, res)
	return nil
}

// resend sends req again with an Authorization for challenge ch (a new transaction:
// new Via branch, next CSeq).
func resend(t *testing.T, cli *sipgo.Client, req *sip.Request, ch *digest.Challenge, user, password string) *sip.Response {
	t.Helper()
	cred, err := digest.Digest(ch, digest.Options{Method: string(req.Method), URI: req.Recipient.Addr(), Username: user, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	req.RemoveHeader("Authorization")
	req.AppendHeader(sip.NewHeader("Authorization", cred.String()))
	return again(t, cli, req)
}

// again sends req as it is in a new transaction.
func again(t *testing.T, cli *sipgo.Client, req *sip.Request) *sip.Response {
	t.Helper()
	req.CSeq().SeqNo++
	req.RemoveHeader("Via")
	return do(t, cli, req, sipgo.ClientRequestAddVia)
}

// register registers the PBX with digest algorithm alg for expires seconds and
// returns the final answer.
func (r *regRig) register(alg string, expires int) *sip.Response {
	r.t.Helper()
	req := registerRequest(r.addr(), pbxUser, r.contact(), expires)
	res := do(r.t, r.pbx.client, req)
	if res.StatusCode != 401 {
		r.t.Fatalf("REGISTER without credentials: %d, want 401", res.StatusCode)
	}
	return resend(r.t, r.pbx.client, req, challengeOf(r.t, res, alg), pbxUser, pbxPassword)
}

func expiresOf(t *testing.T, res *sip.Response) int {
	t.Helper()
	c := res.Contact()
	if c == nil {
		t.Fatalf("no Contact in %d:\n%s", res.StatusCode, res)
	}
	v, _ := c.Params.Get("expires")
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("Contact expires %q", v)
	}
	return n
}

func TestRegistrarDigestSHA256AndMD5(t *testing.T) {
	r := newRegRig(t, false)
	if _, ok := r.edge.TrunkContact(r.pbxTrunk()); ok {
		t.Fatal("registered before any REGISTER")
	}

	// SHA-256, done by sipgo's client, which takes the first challenge.
	req := registerRequest(r.addr(), pbxUser, r.contact(), 600)
	res := do(t, r.pbx.client, req)
	chals := res.GetHeaders("WWW-Authenticate")
	if res.StatusCode != 401 || len(chals) != 2 {
		t.Fatalf("want 401 with two challenges, got %d with %d:\n%s", res.StatusCode, len(chals), res)
	}
	sha, md5 := challengeOf(t, res, "SHA-256"), challengeOf(t, res, "MD5")
	if !strings.Contains(chals[0].Value(), "algorithm=SHA-256") || !strings.Contains(chals[1].Value(), "algorithm=MD5") {
		t.Errorf("challenges not SHA-256 first, MD5 second:\n%s", res)
	}
	for _, ch := range []*digest.Challenge{sha, md5} {
		if !ch.SupportsQOP("auth") || len(ch.QOP) != 1 || ch.Stale || ch.Realm != "callgate" || ch.Nonce == "" {
			t.Errorf("challenge %+v: want realm callgate, qop auth, a nonce, not stale", ch)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := r.pbx.client.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: pbxUser, Password: pbxPassword})
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 {
		t.Fatalf("REGISTER with SHA-256 credentials: %d", res.StatusCode)
	}
	if a := req.GetHeader("Authorization").Value(); !strings.Contains(a, "algorithm=SHA-256") {
		t.Fatalf("sipgo answered with %s", a)
	}
	if n := expiresOf(t, res); n != 600 {
		t.Errorf("granted %d s, want the 600 asked", n)
	}
	if got, want := res.Contact().Address.Host+":"+strconv.Itoa(res.Contact().Address.Port), r.phones.Addr().String(); got != want {
		t.Errorf("answer's Contact %s, want %s", got, want)
	}
	rc, ok := r.edge.TrunkContact(r.pbxTrunk())
	if !ok || rc.Source != r.pbx.addr || rc.Transport != "UDP" || !strings.Contains(rc.Contact, r.phones.Addr().String()) {
		t.Fatalf("contact %+v (registered %v): want from %s, over UDP, naming %s", rc, ok, r.pbx.addr, r.phones.Addr())
	}

	// MD5, the second challenge, and a longer ask than max_expires.
	res = r.register("MD5", 99999)
	if res.StatusCode != 200 {
		t.Fatalf("REGISTER with MD5 credentials: %d", res.StatusCode)
	}
	if n := expiresOf(t, res); n != 3600 {
		t.Errorf("granted %d s, want max_expires 3600", n)
	}
	if rc2, _ := r.edge.TrunkContact(r.pbxTrunk()); !rc2.Since.Equal(rc.Since) {
		t.Errorf("a refresh of one contact moved its Since from %v to %v", rc.Since, rc2.Since)
	}
}

// normalise blanks what differs between two answers to two requests: branches, tags,
// Call-IDs and nonces.
func normalise(b []byte) string {
	for _, re := range []*regexp.Regexp{
		regexp.MustCompile(`branch=[^;,\s]+`),
		regexp.MustCompile(`tag=[^;,\s>]+`),
		regexp.MustCompile(`(?m)^Call-ID: .*$`),
		regexp.MustCompile(`nonce="[^"]*"`),
	} {
		b = re.ReplaceAll(b, []byte("X"))
	}
	return string(b)
}

// rawUA sends hand-written requests from one UDP socket, so that two requests differ
// only where a test says.
type rawUA struct {
	t    *testing.T
	conn *net.UDPConn
	to   *net.UDPAddr
	n    int
}

func newRawUA(t *testing.T, ip string, edge netip.AddrPort) *rawUA {
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(ip), 0)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &rawUA{t: t, conn: conn, to: net.UDPAddrFromAddrPort(edge)}
}

// register sends a REGISTER for the AOR of pbxUser with header lines extra and
// returns the answer's bytes and its parse.
func (u *rawUA) register(extra ...string) ([]byte, *sip.Response) {
	u.t.Helper()
	u.n++
	local := u.conn.LocalAddr().String()
	msg := fmt.Sprintf("REGISTER sip:%s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK-raw%d-%d\r\nMax-Forwards: 70\r\n"+
		"From: <sip:%s@%s>;tag=t%d-%d\r\nTo: <sip:%s@%s>\r\nCall-ID: raw-%d-%d@test\r\nCSeq: 1 REGISTER\r\n"+
		"Contact: <sip:pbx@%s>\r\nExpires: 600\r\n",
		u.to, local, time.Now().UnixNano(), u.n, pbxUser, u.to.IP, time.Now().UnixNano(), u.n, pbxUser, u.to.IP,
		time.Now().UnixNano(), u.n, local)
	for _, h := range extra {
		msg += h + "\r\n"
	}
	msg += "Content-Length: 0\r\n\r\n"
	if _, err := u.conn.WriteToUDP([]byte(msg), u.to); err != nil {
		u.t.Fatal(err)
	}
	buf := make([]byte, 4096)
	_ = u.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := u.conn.Read(buf)
	if err != nil {
		u.t.Fatalf("no answer to REGISTER: %v", err)
	}
	m, err := sip.NewParser().ParseSIP(buf[:n])
	if err != nil {
		u.t.Fatalf("answer does not parse: %v\n%s", err, buf[:n])
	}
	res, ok := m.(*sip.Response)
	if !ok {
		u.t.Fatalf("got a request:\n%s", buf[:n])
	}
	return bytes.Clone(buf[:n]), res
}

// authorization is an Authorization value answering ch for REGISTER to edge.
func authorization(t *testing.T, ch *digest.Challenge, edge netip.AddrPort, user, password string) string {
	t.Helper()
	cred, err := digest.Digest(ch, digest.Options{Method: "REGISTER", URI: "sip:" + edge.String(), Username: user, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	return "Authorization: " + cred.String()
}

func TestRegistrarUnknownUserAndWrongPasswordLookAlike(t *testing.T) {
	r := newRegRig(t, false)
	u := newRawUA(t, "127.0.0.4", r.addr())

	var challenges, refusals []string
	for _, cred := range []struct{ user, password string }{
		{pbxUser, "not-the-password-at-all"}, // the user exists, the password is wrong
		{"nobody", pbxPassword},              // no such user
	} {
		raw, res := u.register()
		if res.StatusCode != 401 {
			t.Fatalf("want 401, got:\n%s", raw)
		}
		challenges = append(challenges, normalise(raw))
		raw, res = u.register(authorization(t, challengeOf(t, res, "SHA-256"), r.addr(), cred.user, cred.password))
		if res.StatusCode != 403 {
			t.Fatalf("%s with a wrong password or unknown: want 403, got:\n%s", cred.user, raw)
		}
		refusals = append(refusals, normalise(raw))
	}
	if challenges[0] != challenges[1] {
		t.Errorf("challenges differ:\n%s\n---\n%s", challenges[0], challenges[1])
	}
	if refusals[0] != refusals[1] {
		t.Errorf("wrong password and unknown user answered differently:\n%s\n---\n%s", refusals[0], refusals[1])
	}
	// And both are what a stranger's INVITE gets today.
	stranger := newCaller(t, "127.0.0.4")
	if code := stranger.refused(r.addr(), numV); code != 403 {
		t.Errorf("stranger's INVITE: %d, want 403", code)
	}
	if _, ok := r.edge.TrunkContact(r.pbxTrunk()); ok {
		t.Error("a refused REGISTER registered the trunk")
	}
}

func TestRegistrarNonceSingleUseBoundAndExpiring(t *testing.T) {
	r := newRegRig(t, false)

	req := registerRequest(r.addr(), pbxUser, r.contact(), 600)
	res := do(t, r.pbx.client, req)
	ch := challengeOf(t, res, "SHA-256")
	if res = resend(t, r.pbx.client, req, ch, pbxUser, pbxPassword); res.StatusCode != 200 {
		t.Fatalf("first use of the nonce: %d", res.StatusCode)
	}

	// The same Authorization again: right credentials on a spent nonce.
	res = again(t, r.pbx.client, req)
	if res.StatusCode != 401 || !challengeOf(t, res, "SHA-256").Stale || !challengeOf(t, res, "MD5").Stale {
		t.Fatalf("replayed nonce: want 401 stale=true, got %d:\n%s", res.StatusCode, res)
	}
	// A spent nonce with wrong credentials: refused outright.
	if res = resend(t, r.pbx.client, req, ch, pbxUser, "wrong-password-wrong-password"); res.StatusCode != 403 {
		t.Fatalf("spent nonce, wrong password: %d, want 403", res.StatusCode)
	}
	// nc 2 on the same nonce is a second use too.
	cred, _ := digest.Digest(ch, digest.Options{Method: "REGISTER", URI: req.Recipient.Addr(), Username: pbxUser, Password: pbxPassword, Count: 2})
	req.RemoveHeader("Authorization")
	req.AppendHeader(sip.NewHeader("Authorization", cred.String()))
	if res = again(t, r.pbx.client, req); res.StatusCode != 401 || !challengeOf(t, res, "SHA-256").Stale {
		t.Fatalf("nonce reused with nc=2: want 401 stale=true, got %d", res.StatusCode)
	}

	// A nonce is bound to the address it was given to.
	res = do(t, r.pbx.client, registerRequest(r.addr(), pbxUser, r.contact(), 600))
	fresh := challengeOf(t, res, "MD5")
	other := newCaller(t, "127.0.0.5")
	oreq := registerRequest(r.addr(), pbxUser, r.contact(), 600)
	do(t, other.client, oreq) // builds the request's headers
	if res = resend(t, other.client, oreq, fresh, pbxUser, pbxPassword); res.StatusCode != 401 || !challengeOf(t, res, "MD5").Stale {
		t.Fatalf("nonce from another address: want 401 stale=true, got %d", res.StatusCode)
	}

	// A nonce expires.
	req = registerRequest(r.addr(), pbxUser, r.contact(), 600)
	res = do(t, r.pbx.client, req)
	old := challengeOf(t, res, "SHA-256")
	r.clock.advance(31 * time.Second)
	if res = resend(t, r.pbx.client, req, old, pbxUser, pbxPassword); res.StatusCode != 401 || !challengeOf(t, res, "SHA-256").Stale {
		t.Fatalf("expired nonce: want 401 stale=true, got %d", res.StatusCode)
	}
	// The stale challenge's nonce works.
	if res = resend(t, r.pbx.client, req, challengeOf(t, res, "SHA-256"), pbxUser, pbxPassword); res.StatusCode != 200 {
		t.Fatalf("after a stale challenge: %d", res.StatusCode)
	}
}

func TestRegistrarExpiryUnregisterAndInterval(t *testing.T) {
	r := newRegRig(t, false)
	stale := func(what string) {
		t.Helper()
		if _, ok := r.edge.TrunkContact(r.pbxTrunk()); ok {
			t.Fatalf("%s: still registered", what)
		}
	}
	registered := func(what string) {
		t.Helper()
		if _, ok := r.edge.TrunkContact(r.pbxTrunk()); !ok {
			t.Fatalf("%s: not registered", what)
		}
	}

	// Below min_expires: 423 with Min-Expires.
	res := r.register("SHA-256", 10)
	if res.StatusCode != 423 || res.GetHeader("Min-Expires") == nil || res.GetHeader("Min-Expires").Value() != "60" {
		t.Fatalf("REGISTER for 10 s: want 423 with Min-Expires: 60, got:\n%s", res)
	}
	stale("after 423")

	if res = r.register("SHA-256", 600); res.StatusCode != 200 {
		t.Fatalf("REGISTER: %d", res.StatusCode)
	}
	registered("after REGISTER")
	r.clock.advance(599 * time.Second)
	registered("a second before expiry")
	r.clock.advance(2 * time.Second)
	stale("after expiry")
	if code := r.pbx.refused(r.addr(), numV); code != 403 {
		t.Fatalf("INVITE after the registration lapsed: %d, want 403", code)
	}

	// Expires: 0 for the registered contact removes it.
	if res = r.register("SHA-256", 600); res.StatusCode != 200 {
		t.Fatalf("REGISTER: %d", res.StatusCode)
	}
	registered("after REGISTER")
	if res = r.register("MD5", 0); res.StatusCode != 200 || res.Contact() != nil {
		t.Fatalf("un-REGISTER: want 200 without Contact, got:\n%s", res)
	}
	stale("after Expires: 0")

	// Contact: * with Expires: 0 removes whatever is registered.
	if res = r.register("SHA-256", 600); res.StatusCode != 200 {
		t.Fatalf("REGISTER: %d", res.StatusCode)
	}
	req := registerRequest(r.addr(), pbxUser, "*", 0)
	res = do(t, r.pbx.client, req)
	if res = resend(t, r.pbx.client, req, challengeOf(t, res, "SHA-256"), pbxUser, pbxPassword); res.StatusCode != 200 {
		t.Fatalf("Contact *: %d", res.StatusCode)
	}
	stale("after Contact: *")
	// Contact: * with a non-zero Expires is malformed.
	req = registerRequest(r.addr(), pbxUser, "*", 600)
	res = do(t, r.pbx.client, req)
	if res = resend(t, r.pbx.client, req, challengeOf(t, res, "SHA-256"), pbxUser, pbxPassword); res.StatusCode != 400 {
		t.Fatalf("Contact * with Expires 600: %d, want 400", res.StatusCode)
	}
}

func TestRegistrarInboundFromRegisteredAddress(t *testing.T) {
	r := newRegRig(t, false)
	// Before it registers, the PBX is a stranger like any other.
	if code := r.pbx.refused(r.addr(), numV); code != 403 {
		t.Fatalf("INVITE before REGISTER: %d, want 403", code)
	}
	if res := r.register("SHA-256", 600); res.StatusCode != 200 {
		t.Fatalf("REGISTER: %d", res.StatusCode)
	}
	d := r.pbx.call(r.addr(), numV)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	var calls []pool.Call
	eventually(t, "call record", func() bool {
		var err error
		calls, err = r.store.Calls(context.Background(), pool.CallFilter{})
		return err == nil && len(calls) == 1 && calls[0].State == "ended"
	})
	if c := calls[0]; c.AnswerAt.IsZero() || c.InTrunk != "pbx" || c.OutTrunk != "carrier-b" || c.Callee != numB {
		t.Fatalf("record %+v: want an answered call in on pbx, out on carrier-b to B", c)
	}
	// A stranger next to the PBX is still refused.
	if code := newCaller(t, "127.0.0.4").refused(r.addr(), numV); code != 403 {
		t.Fatalf("stranger's INVITE: %d, want 403", code)
	}
}

func TestRegistrarOutboundToContact(t *testing.T) {
	r := newRegRig(t, false)
	carrierA := newCaller(t, "127.0.0.2")

	// Not registered: the trunk is down and nothing is sent to the PBX.
	if code := carrierA.refused(r.addr(), numV2); code != 503 {
		t.Fatalf("call to an unregistered trunk: %d, want 503", code)
	}
	if n := len(r.phones.Invites()); n != 0 {
		t.Fatalf("%d INVITEs reached the PBX while it was not registered", n)
	}

	if res := r.register("SHA-256", 600); res.StatusCode != 200 {
		t.Fatalf("REGISTER: %d", res.StatusCode)
	}
	d := carrierA.call(r.addr(), numV2)
	invs := r.phones.Invites()
	if len(invs) != 1 {
		t.Fatalf("%d INVITEs at the PBX, want 1", len(invs))
	}
	if u := invs[0].Recipient; u.User != numP || u.Host != "127.0.0.3" || u.Port != int(r.phones.Addr().Port()) {
		t.Errorf("Request-URI %s: want the contact with user %s", u.String(), numP)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.Bye(ctx); err != nil {
		t.Fatal(err)
	}

	// Unregistered again: the trunk is down again.
	if res := r.register("SHA-256", 0); res.StatusCode != 200 {
		t.Fatalf("un-REGISTER: %d", res.StatusCode)
	}
	if code := carrierA.refused(r.addr(), numV2); code != 503 {
		t.Fatalf("call after un-REGISTER: %d, want 503", code)
	}
	if n := len(r.phones.Invites()); n != 1 {
		t.Fatalf("%d INVITEs at the PBX after it unregistered, want still 1", n)
	}

	// With an alternate in a pool, an unregistered trunk is passed over like a
	// trunk whose probes fail: the call goes out on the alternate.
	r.edge.SetFailoverPools([]configs.Pool{{Name: "p", Trunks: []string{"pbx", "carrier-b"}}})
	before := len(r.carrier.Invites())
	d = carrierA.call(r.addr(), numV2)
	if n := len(r.carrier.Invites()); n != before+1 {
		t.Fatalf("%d INVITEs at carrier-b, want %d: the unregistered pbx trunk should give way", n, before+1)
	}
	if n := len(r.phones.Invites()); n != 1 {
		t.Fatalf("%d INVITEs at the PBX while unregistered, want still 1", n)
	}
	if err := d.Bye(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestRegistrarChallengesInvites(t *testing.T) {
	r := newRegRig(t, true)
	if res := r.register("SHA-256", 600); res.StatusCode != 200 {
		t.Fatalf("REGISTER: %d", res.StatusCode)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// Without credentials: 407 and nothing more.
	d, err := r.pbx.invite(ctx, r.addr(), numA, numV)
	if err != nil {
		t.Fatal(err)
	}
	err = d.WaitAnswer(ctx, sipgo.AnswerOptions{})
	if code := responseCode(err); code != 407 {
		t.Fatalf("INVITE without credentials: %d (%v), want 407", code, err)
	}
	if h := d.InviteResponse.GetHeaders("Proxy-Authenticate"); len(h) != 2 || !strings.Contains(h[0].Value(), "SHA-256") {
		t.Fatalf("407 challenges: %v", h)
	}
	// Wrong password: 403.
	d, err = r.pbx.invite(ctx, r.addr(), numA, numV)
	if err != nil {
		t.Fatal(err)
	}
	if code := responseCode(d.WaitAnswer(ctx, sipgo.AnswerOptions{Username: pbxUser, Password: "wrong-password-wrong-password"})); code != 403 {
		t.Fatalf("INVITE with a wrong password: %d, want 403", code)
	}
	// Right credentials (sipgo answers the 407 with SHA-256): the call goes through.
	d, err = r.pbx.invite(ctx, r.addr(), numA, numV)
	if err != nil {
		t.Fatal(err)
	}
	var codes []int
	err = d.WaitAnswer(ctx, sipgo.AnswerOptions{Username: pbxUser, Password: pbxPassword,
		OnResponse: func(res *sip.Response) error { codes = append(codes, res.StatusCode); return nil }})
	if err != nil {
		t.Fatalf("INVITE with credentials: %v (responses %v)", err, codes)
	}
	if len(codes) == 0 || codes[0] != 407 {
		t.Errorf("responses %v: want a 407 first", codes)
	}
	if err := d.Ack(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.Bye(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestRegistrarBansAfterRepeatedFailures(t *testing.T) {
	r := newRegRig(t, false)
	u := newRawUA(t, "127.0.0.6", r.addr())
	_, res := u.register()
	ch := challengeOf(t, res, "SHA-256")
	for i := range 5 {
		if _, res := u.register(authorization(t, ch, r.addr(), pbxUser, "guess-"+strconv.Itoa(i))); res.StatusCode != 403 {
			t.Fatalf("guess %d: %d, want 403", i, res.StatusCode)
		}
	}
	if st := r.edge.GuardStats(); st.Banned != 1 || st.Bans != 1 {
		t.Fatalf("after 5 failures: banned %d, bans %d; want the source banned", st.Banned, st.Bans)
	}
	// Its next REGISTER is dropped unparsed.
	before := r.edge.GuardStats().DroppedBanned
	if _, err := u.conn.WriteToUDP([]byte("REGISTER sip:x SIP/2.0\r\n\r\n"), u.to); err != nil {
		t.Fatal(err)
	}
	eventually(t, "banned source dropped", func() bool { return r.edge.GuardStats().DroppedBanned > before })

	// The PBX itself, on another address, still registers.
	if res := r.register("SHA-256", 600); res.StatusCode != 200 {
		t.Fatalf("REGISTER from the PBX: %d", res.StatusCode)
	}
}

func TestRegistrarReloadKeepsBinding(t *testing.T) {
	r := newRegRig(t, false)
	if res := r.register("SHA-256", 600); res.StatusCode != 200 {
		t.Fatalf("REGISTER: %d", res.StatusCode)
	}
	// A reload that leaves the trunk's registration alone keeps the binding.
	if err := r.edge.SetTrunks(r.trunks); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.edge.TrunkContact(r.pbxTrunk()); !ok {
		t.Fatal("a reload dropped the binding")
	}
	d := r.pbx.call(r.addr(), numV)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.Bye(ctx); err != nil {
		t.Fatal(err)
	}
	// A new username drops it: the trunk must register with the new credentials.
	changed := append([]configs.Trunk(nil), r.trunks...)
	reg := *changed[2].RegistersToUs
	reg.Username = "pbx-02"
	changed[2].RegistersToUs = &reg
	if err := r.edge.SetTrunks(changed); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.edge.TrunkContact(r.pbxTrunk()); ok {
		t.Fatal("the binding survived a change of username")
	}
	if code := r.pbx.refused(r.addr(), numV); code != 403 {
		t.Fatalf("INVITE after the binding was dropped: %d, want 403", code)
	}
}
