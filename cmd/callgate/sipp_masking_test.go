package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"callgate/configs"
	"callgate/pool"
	"callgate/web"
	"callgate/web/apiclient"
	"callgate/web/hooks"
)

// End to end with SIPp as the carriers: callgate runs whole (serve), bindings are made
// through the signed business API, every caller is a SIPp UAC sending RTP from a
// carrier's address, and every party callgate must reach is a SIPp UAS behind the
// trunk callgate picks, checking whom the INVITE is for and which number it shows
// (testdata/masking_uas.xml), and echoing RTP. The tenant's business system is a
// loopback HTTP receiver checking every event's signature with callgate's own
// verifier.
//
// Trunks decide where a B-leg goes: a binding's X (and Y) carries the trunk of its
// pool, so every call showing V leaves through V's carrier, and which party it is for
// is the Request-URI's number — as with a real carrier. Parties behind one carrier are
// therefore played one after the other by separate SIPp UAS instances on the
// carrier's address, each expecting its own party.

// The numbers of the masking tests.
const (
	mV  = "+8675500000001" // AXB virtual number of acme (pool acme-b, trunk carrier-b)
	mX  = "+8675500000011" // AXYB X (pool acme-a, trunk carrier-a)
	mY  = "+8675500000012" // AXYB Y (pool acme-b, trunk carrier-b)
	mG1 = "+8675500000021" // globex's AXN numbers (pool globex-v, trunk carrier-b)
	mG2 = "+8675500000022"
	mG3 = "+8675500000023"

	mA1 = "+8613800000001" // callers, behind carrier-a (127.0.0.2)
	mA2 = "+8613800000002"
	mA3 = "+8613800000003"
	mA4 = "+8613800000004" // bound to nothing
	mA5 = "+8613800000005"
	mB1 = "+8613900000001" // called parties, behind carrier-b (127.0.0.3)
	mB2 = "+8613900000002"
	mB3 = "+8613900000003"
	mGB = "+8613900000005"

	crmSecret = "crm-secret-0123456789abcdef0123456789abcdef"
	opsSecret = "ops-secret-0123456789abcdef0123456789abcdef"
)

// maskingSIPp returns the sipp binary, or skips the test.
func maskingSIPp(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("sipp")
	if err != nil {
		t.Skip("sipp is not installed (apt-get install sip-tester; CI installs it): skipping the SIPp masking end-to-end test")
	}
	return path
}

// maskingRig is one callgate serving a config, with the SIPp binary and a copy of
// SIPp's sample A-law pcap.
type maskingRig struct {
	t       *testing.T
	sipp    string
	dir     string
	db      string
	pcap    string
	sipAddr string // callgate's SIP/UDP listener
	apiURL  string // the business API's base URL
	logs    *lineWriter
}

// startMasking writes cfgText (with %[1]s standing for the database path) to dir and
// serves it until the end of the test.
func startMasking(t *testing.T, sipp, dir, cfgText string) *maskingRig {
	t.Helper()
	r := &maskingRig{t: t, sipp: sipp, dir: dir, db: filepath.Join(dir, "callgate.db"), pcap: filepath.Join(dir, "g711a.pcap"),
		logs: &lineWriter{}}
	pcap, err := os.ReadFile("/usr/share/sip-tester/g711a.pcap")
	if err != nil {
		t.Fatalf("SIPp's sample pcap is missing: %v", err)
	}
	if err := os.WriteFile(r.pcap, pcap, 0o644); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "callgate.yaml")
	if err := os.WriteFile(cfgPath, fmt.Appendf(nil, cfgText, r.db), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := configs.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := &lineWriter{}
	var serveErr error
	stopped := make(chan struct{})
	go func() {
		serveErr = serve(ctx, cfg, slog.New(slog.NewTextHandler(r.logs, nil)), out)
		close(stopped)
	}()
	t.Cleanup(func() {
		cancel()
		<-stopped
		if serveErr != nil {
			t.Errorf("serve: %v", serveErr)
		}
	})
	// Startup takes long under -race on a busy machine: wait for the banner, or for
	// serve to give up.
	banner := regexp.MustCompile(`SIP on udp (127\.0\.0\.1:\d+)`)
	deadline := time.Now().Add(2 * time.Minute)
	for banner.FindStringSubmatch(out.String()) == nil {
		select {
		case <-stopped:
			t.Fatalf("serve stopped: %v\n%s", serveErr, tail(r.logs.String(), 4000))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("callgate did not start:\n%s", tail(r.logs.String(), 4000))
		}
	}
	r.sipAddr = banner.FindStringSubmatch(out.String())[1]
	if m := regexp.MustCompile(`business API at (http://127\.0\.0\.1:\d+)/v1/`).FindStringSubmatch(out.String()); m != nil {
		r.apiURL = m[1]
	}
	return r
}

// sippProc is a SIPp process running in the background.
type sippProc struct {
	name string
	cmd  *exec.Cmd
	out  *lineWriter
	done chan error
}

// start runs SIPp with args in the rig's directory.
func (r *maskingRig) start(name string, args ...string) *sippProc {
	r.t.Helper()
	p := &sippProc{name: name, cmd: exec.Command(r.sipp, args...), out: &lineWriter{}, done: make(chan error, 1)}
	p.cmd.Dir = r.dir
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		r.t.Fatalf("start SIPp %s: %v", name, err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	r.t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// wait waits for p to end (SIPp's own -timeout bounds it) and fails the test with
// its output, SIPp's error log and callgate's log unless every call of p succeeded.
func (r *maskingRig) wait(p *sippProc) {
	r.t.Helper()
	var err error
	select {
	case err = <-p.done:
	case <-time.After(2 * time.Minute):
		_ = p.cmd.Process.Kill()
		err = fmt.Errorf("still running after 2m: killed: %v", <-p.done)
	}
	if err != nil {
		errLogs, _ := filepath.Glob(filepath.Join(r.dir, "*errors.log"))
		var sippErr []byte
		for _, f := range errLogs {
			b, _ := os.ReadFile(f)
			sippErr = append(sippErr, b...)
		}
		r.t.Fatalf("SIPp %s failed: %v\n%s\nSIPp errors:\n%s\ncallgate:\n%s", p.name, err, tail(p.out.String(), 2500),
			tail(string(sippErr), 3000), tail(r.logs.String(), 6000))
	}
}

// party starts a SIPp UAS at ip:port, playing the party callgate must call next: it
// accepts only an INVITE for want showing shows, rings, answers and echoes RTP.
func (r *maskingRig) party(ip string, port int, want, shows string) *sippProc {
	r.t.Helper()
	p := r.start("UAS "+want, "-sf", mustAbs(r.t, "testdata/masking_uas.xml"), "-i", ip, "-p", fmt.Sprint(port),
		"-mi", ip, "-rtp_echo", "-mp", fmt.Sprint(freeUDPPort(r.t, ip)), "-set", "expect_to", want, "-set", "expect_from", shows,
		"-m", "1", "-nostdin", "-timeout", "60s", "-trace_err", "-trace_logs", "-log_file", filepath.Join(r.dir, "uas-"+want+".log"))
	waitUDPBound(r.t, ip, port)
	return p
}

// caller runs a SIPp UAC from ip as caller dialling dialled with scenario (in
// testdata) and waits for it; keys are extra -key name value pairs.
func (r *maskingRig) caller(scenario, ip, caller, dialled string, keys ...string) {
	r.t.Helper()
	args := []string{"-sf", mustAbs(r.t, "testdata/"+scenario), "-s", dialled, "-key", "caller", caller,
		"-i", ip, "-p", fmt.Sprint(freeUDPPort(r.t, ip)), "-mi", ip, "-mp", fmt.Sprint(freeUDPPort(r.t, ip)),
		"-m", "1", "-nostdin", "-timeout", "60s", "-timeout_error", "-trace_err"}
	for i := 0; i+1 < len(keys); i += 2 {
		args = append(args, "-key", keys[i], keys[i+1])
	}
	r.wait(r.start("UAC "+caller+"→"+dialled, append(args, r.sipAddr)...))
}

// maskedCall is one call through callgate: caller, behind the carrier at fromIP,
// dials dialled; callgate must call want showing shows, through the trunk at
// toIP:toPort.
type maskedCall struct {
	fromIP, caller, dialled string
	toIP                    string
	toPort                  int
	want, shows             string
}

// call places c with RTP from the caller (SIPp's sample pcap, ~3 s before BYE) echoed
// by the party, and returns its finished call record.
func (r *maskingRig) call(c maskedCall) pool.Call {
	r.t.Helper()
	uas := r.party(c.toIP, c.toPort, c.want, c.shows)
	r.caller("uac_pcap.xml", c.fromIP, c.caller, c.dialled, "pcap", r.pcap)
	r.wait(uas)
	return r.record(c.caller, c.dialled)
}

// record waits for the finished record of the call from caller to dialled.
func (r *maskingRig) record(caller, dialled string) pool.Call {
	r.t.Helper()
	store, err := pool.OpenSQLite(context.Background(), r.db)
	if err != nil {
		r.t.Fatal(err)
	}
	defer store.Close()
	var found pool.Call
	eventually(r.t, "the record of the call from "+caller+" to "+dialled, func() bool {
		calls, err := store.Calls(context.Background(), pool.CallFilter{Limit: 100})
		if err != nil {
			return false
		}
		for _, c := range calls {
			if c.Caller == caller && c.Virtual == dialled && c.State == "ended" {
				found, err = store.Call(context.Background(), c.ID)
				return err == nil
			}
		}
		return false
	})
	return found
}

// checkBridged fails unless rec is an answered call from caller on virtual to callee
// of tenant, carried in on trunk in and out on trunk out, ended by the caller's BYE,
// with RTP through callgate both ways.
func checkBridged(t *testing.T, rec pool.Call, tenant, caller, virtual, callee, in, out string) {
	t.Helper()
	if rec.Tenant != tenant || rec.Caller != caller || rec.Virtual != virtual || rec.Callee != callee ||
		rec.InTrunk != in || rec.OutTrunk != out || rec.SIPCode != 200 || rec.Reason != "caller_bye" || rec.HangupBy != "caller" ||
		rec.RingAt.IsZero() || rec.AnswerAt.IsZero() || rec.BilledSec < 1 {
		t.Errorf("call %s→%s: record %+v", caller, virtual, rec)
	}
	// SIPp plays 20 ms packets for ~3 s before its BYE (~150); callgate must carry
	// them to the party and the party's echo back to the caller.
	if rec.PacketsFromA < 50 || rec.PacketsToB < 50 || rec.PacketsFromB < 50 || rec.PacketsToA < 50 ||
		rec.PacketsToB > rec.PacketsFromA || rec.PacketsToA > rec.PacketsFromB {
		t.Errorf("call %s→%s: RTP from A %d, to B %d, from B %d, to A %d; want >= 50 each way, never more out than in",
			caller, virtual, rec.PacketsFromA, rec.PacketsToB, rec.PacketsFromB, rec.PacketsToA)
	}
}

// TestSIPpMaskingAXBAndAXYB: two callers dialling one AXB number V reach their own
// parties, each shown V; an AXYB binding routes A→X to B shown Y and B→Y back to A
// shown X; a caller bound to nothing is refused with the configured status; the
// tenant's business system gets a signed event for every binding and call; and a
// second tenant whose receiver hangs gets its calls placed all the same, its events
// dropped and counted.
func TestSIPpMaskingAXBAndAXYB(t *testing.T) {
	sipp := maskingSIPp(t)
	dir := t.TempDir()
	acmeRx := newMaskingReceiver(t, "crm", crmSecret, "acme", nil)
	stall := make(chan struct{})
	globexRx := newMaskingReceiver(t, "ops", opsSecret, "globex", func(r *http.Request) int {
		select { // a business system that accepts the connection and never answers
		case <-stall:
		case <-r.Context().Done():
		}
		return http.StatusNoContent
	})
	for name, secret := range map[string]string{"crm.secret": crmSecret, "ops.secret": opsSecret} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(secret+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	portA, portB := freeUDPPort(t, "127.0.0.2"), freeUDPPort(t, "127.0.0.3")
	cfg := `listen:
  sip_udp: 127.0.0.1:0
  sip_tcp: "off"
  public_http: 127.0.0.1:0
  internal_http: 127.0.0.1:0
sip:
  no_route_status: 480
media:
  bind_address: 127.0.0.1
  port_min: 36000
  port_max: 36998
storage:
  sqlite:
    path: %[1]s
tenants:
  - name: acme
    events:
      url: ` + acmeRx.url() + `
      app: crm
      backoff: 10ms
      max_backoff: 100ms
  - name: globex
    events:
      url: ` + globexRx.url() + `
      app: ops
      timeout: 2m
      queue: 1
      workers: 1
trunks:
  - name: carrier-a
    host: 127.0.0.2
    port: ` + fmt.Sprint(portA) + `
    inbound_cidrs: [127.0.0.2/32]
  - name: carrier-b
    host: 127.0.0.3
    port: ` + fmt.Sprint(portB) + `
    inbound_cidrs: [127.0.0.3/32]
pools:
  - name: acme-b
    supplier: b
    type: virtual
    tenant: acme
    trunks: [carrier-b]
    numbers: ["` + mV + `", "` + mY + `"]
  - name: acme-a
    supplier: a
    type: virtual
    tenant: acme
    trunks: [carrier-a]
    numbers: ["` + mX + `"]
  - name: globex-v
    supplier: b
    type: virtual
    tenant: globex
    trunks: [carrier-b]
    numbers: ["` + mG1 + `", "` + mG2 + `", "` + mG3 + `"]
api:
  apps:
    - name: crm
      tenants: [acme]
      secret_file: crm.secret
    - name: ops
      tenants: [globex]
      secret_file: ops.secret
`
	r := startMasking(t, sipp, dir, cfg)
	t.Cleanup(func() { close(stall) }) // before callgate stops (cleanups run last first)
	if r.apiURL == "" {
		t.Fatalf("callgate did not say where its business API is")
	}
	ctx := context.Background()
	crm, err := apiclient.New(r.apiURL, "crm", crmSecret)
	if err != nil {
		t.Fatal(err)
	}
	bind := func(cl *apiclient.Client, req apiclient.CreateBindingRequest) apiclient.Binding {
		t.Helper()
		b, err := cl.CreateBinding(ctx, req)
		if err != nil {
			t.Fatalf("bind %+v: %v", req, err)
		}
		return b
	}
	axb1 := bind(crm, apiclient.CreateBindingRequest{Mode: "AXB", A: mA1, B: mB1, X: mV})
	axb2 := bind(crm, apiclient.CreateBindingRequest{Mode: "AXB", A: mA2, B: mB2, X: mV})
	axyb := bind(crm, apiclient.CreateBindingRequest{Mode: "AXYB", A: mA3, B: mB3, X: mX, Y: mY})
	if axb1.X != mV || axb2.X != mV || axyb.X != mX || axyb.Y != mY {
		t.Fatalf("bindings: %+v %+v %+v", axb1, axb2, axyb)
	}

	// AXB: two callers, one V, two parties, both shown V.
	rec1 := r.call(maskedCall{fromIP: "127.0.0.2", caller: mA1, dialled: mV, toIP: "127.0.0.3", toPort: portB, want: mB1, shows: mV})
	checkBridged(t, rec1, "acme", mA1, mV, mB1, "carrier-a", "carrier-b")
	rec2 := r.call(maskedCall{fromIP: "127.0.0.2", caller: mA2, dialled: mV, toIP: "127.0.0.3", toPort: portB, want: mB2, shows: mV})
	checkBridged(t, rec2, "acme", mA2, mV, mB2, "carrier-a", "carrier-b")
	// AXYB: A dials X and reaches B shown Y (through Y's trunk); B dials Y and reaches
	// A shown X (through X's trunk, to carrier-a).
	rec3 := r.call(maskedCall{fromIP: "127.0.0.2", caller: mA3, dialled: mX, toIP: "127.0.0.3", toPort: portB, want: mB3, shows: mY})
	checkBridged(t, rec3, "acme", mA3, mX, mB3, "carrier-a", "carrier-b")
	rec4 := r.call(maskedCall{fromIP: "127.0.0.3", caller: mB3, dialled: mY, toIP: "127.0.0.2", toPort: portA, want: mA3, shows: mX})
	checkBridged(t, rec4, "acme", mB3, mY, mA3, "carrier-b", "carrier-a")

	// A caller V is not bound for: refused with sip.no_route_status, never rung.
	r.caller("masking_uac_unbound.xml", "127.0.0.2", mA4, mV)
	if rec := r.record(mA4, mV); rec.SIPCode != 480 || rec.Reason != "no_route" || rec.Tenant != "" || !rec.AnswerAt.IsZero() ||
		rec.OutTrunk != "" || rec.PacketsToA != 0 {
		t.Errorf("unbound call: record %+v", rec)
	}

	// The business system got every binding and call, signed, each once; the unbound
	// call belongs to no tenant and made no event.
	eventually(t, "acme's 3 binding events and 4 × 4 call events", func() bool { return len(acmeRx.events()) >= 19 })
	created, ended, ids := map[int64]bool{}, map[string]hooks.CallData{}, map[string]bool{}
	progress := map[string][]string{} // call id → progress event types in arrival order
	for _, ev := range acmeRx.events() {
		ids[ev.ID] = true // a retried event comes again with its ID
		switch ev.Type {
		case hooks.TypeBindingCreated:
			var b apiclient.Binding
			mustJSON(t, ev.Data, &b)
			created[b.ID] = true
		case hooks.TypeCallEnded:
			var c hooks.CallData
			mustJSON(t, ev.Data, &c)
			ended[c.CallID] = c
		case hooks.TypeCallStarted, hooks.TypeCallRinging, hooks.TypeCallAnswered:
			var c hooks.CallProgressData
			mustJSON(t, ev.Data, &c)
			progress[c.CallID] = append(progress[c.CallID], ev.Type)
		default:
			t.Errorf("unexpected event %+v", ev.Event)
		}
		if ev.Tenant != "acme" {
			t.Errorf("acme's receiver got %+v", ev.Event)
		}
	}
	if len(created) != 3 || !created[axb1.ID] || !created[axb2.ID] || !created[axyb.ID] {
		t.Errorf("binding.created for %v; want %d, %d, %d", created, axb1.ID, axb2.ID, axyb.ID)
	}
	for _, rec := range []pool.Call{rec1, rec2, rec3, rec4} {
		c, ok := ended[rec.ID]
		if !ok || c.Caller != rec.Caller || c.Virtual != rec.Virtual || c.Callee != rec.Callee || c.SIPCode != 200 ||
			c.Reason != "caller_bye" || c.HangupBy != "caller" || c.Direction != "inbound" || c.RingAt == nil ||
			c.AnswerAt == nil || c.TalkMS <= 0 || c.BilledSec != rec.BilledSec {
			t.Errorf("call.ended of %s→%s (%s): %+v (present %v)", rec.Caller, rec.Virtual, rec.ID, c, ok)
		}
		got := slices.Clone(progress[rec.ID])
		slices.Sort(got)
		if want := []string{hooks.TypeCallAnswered, hooks.TypeCallRinging, hooks.TypeCallStarted}; !slices.Equal(got, want) {
			t.Errorf("progress events of %s: %v, want one each of %v", rec.ID, progress[rec.ID], want)
		}
	}
	if len(ended) != 4 || len(ids) != 19 || len(acmeRx.rejections()) != 0 {
		t.Errorf("acme got %d events (%d calls), %d rejected: %q", len(ids), len(ended),
			len(acmeRx.rejections()), acmeRx.rejections())
	}

	// globex's business system hangs: its bindings and its call go on regardless,
	// and the events that find its queue full are dropped and counted.
	ops, err := apiclient.New(r.apiURL, "ops", opsSecret)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range []string{mG1, mG2, mG3} {
		bind(ops, apiclient.CreateBindingRequest{Mode: "AXN", B: mGB, X: g})
	}
	rec5 := r.call(maskedCall{fromIP: "127.0.0.2", caller: mA5, dialled: mG1, toIP: "127.0.0.3", toPort: portB, want: mGB, shows: mG1})
	checkBridged(t, rec5, "globex", mA5, mG1, mGB, "carrier-a", "carrier-b")
	r.logs.wait(t, regexp.MustCompile(`event dropped.*tenant=globex`))
	eventually(t, "globex's first event", func() bool { return len(globexRx.events()) >= 1 })
	if n := len(globexRx.events()); n != 1 {
		t.Errorf("globex's stalled receiver got %d events, want the 1 it hangs on", n)
	}
}

// TestSIPpMaskingUnboundAnnouncement: with treatment announce, a caller bound to
// nothing gets 183 with an SDP answer, hears the prompt as early media, and is then
// refused with the configured status; the call is never answered.
func TestSIPpMaskingUnboundAnnouncement(t *testing.T) {
	sipp := maskingSIPp(t)
	dir := t.TempDir()
	writePromptWAV(t, filepath.Join(dir, "unbound.wav"), 1)
	cfg := `listen:
  sip_udp: 127.0.0.1:0
  sip_tcp: "off"
  public_http: 127.0.0.1:0
  internal_http: "off"
sip:
  no_route_status: 480
media:
  bind_address: 127.0.0.1
  port_min: 37000
  port_max: 37998
storage:
  sqlite:
    path: %[1]s
masking:
  no_binding:
    treatment: announce
    announcement: unbound.wav
tenants:
  - name: acme
trunks:
  - name: carrier-a
    host: 127.0.0.2
    inbound_cidrs: [127.0.0.2/32]
pools:
  - name: acme-b
    supplier: b
    type: virtual
    tenant: acme
    trunks: [carrier-a]
    numbers: ["` + mV + `"]
`
	r := startMasking(t, sipp, dir, cfg)

	// The caller's media address is this socket: what callgate plays arrives here.
	media, err := net.ListenPacket("udp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	defer media.Close()
	var rtp atomic.Int64
	go func() {
		buf := make([]byte, 1500)
		for {
			n, _, err := media.ReadFrom(buf)
			if err != nil {
				return
			}
			if n == 12+160 && buf[0]>>6 == 2 && buf[1]&0x7f == 8 { // RTP v2, PCMA, 20 ms
				rtp.Add(1)
			}
		}
	}()
	port := media.LocalAddr().(*net.UDPAddr).Port
	r.caller("masking_uac_announce.xml", "127.0.0.2", mA4, mV, "rtp_port", fmt.Sprint(port))

	// The 1 s prompt is 50 packets of 20 ms.
	eventually(t, "the prompt at the caller's media address", func() bool { return rtp.Load() >= 45 })
	rec := r.record(mA4, mV)
	if rec.SIPCode != 480 || rec.Reason != "no_route" || !rec.AnswerAt.IsZero() || rec.BilledSec != 0 || rec.PacketsToA < 45 ||
		rec.OutTrunk != "" {
		t.Errorf("announced call: record %+v", rec)
	}
	t.Logf("early media: %d packets at the caller, %d sent by callgate", rtp.Load(), rec.PacketsToA)
}

// writePromptWAV writes an 8 kHz mono 16-bit PCM WAV of a 425 Hz tone.
func writePromptWAV(t *testing.T, path string, seconds int) {
	t.Helper()
	n := 8000 * seconds
	var b bytes.Buffer
	b.WriteString("RIFF")
	_ = binary.Write(&b, binary.LittleEndian, uint32(36+2*n))
	b.WriteString("WAVEfmt ")
	for _, v := range []any{uint32(16), uint16(1), uint16(1), uint32(8000), uint32(16000), uint16(2), uint16(16)} {
		_ = binary.Write(&b, binary.LittleEndian, v)
	}
	b.WriteString("data")
	_ = binary.Write(&b, binary.LittleEndian, uint32(2*n))
	for i := range n {
		_ = binary.Write(&b, binary.LittleEndian, int16(8000*math.Sin(2*math.Pi*425*float64(i)/8000)))
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// waitUDPBound waits until a socket is bound to ip:port, reading /proc/net/udp (a
// probe that binds the port itself could steal it from the process starting up).
func waitUDPBound(t *testing.T, ip string, port int) {
	t.Helper()
	a := net.ParseIP(ip).To4()
	// /proc/net/udp shows the address as the kernel's 32-bit word in hex, which on the
	// little-endian machines we run on reverses the bytes.
	want := fmt.Sprintf("%02X%02X%02X%02X:%04X", a[3], a[2], a[1], a[0], port)
	eventually(t, fmt.Sprintf("a socket on udp %s:%d", ip, port), func() bool {
		f, err := os.Open("/proc/net/udp")
		if err != nil {
			time.Sleep(300 * time.Millisecond) // no procfs: give the process a moment
			return true
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if fields := strings.Fields(sc.Text()); len(fields) > 1 && fields[1] == want {
				return true
			}
		}
		return false
	})
}

func mustJSON(t *testing.T, data []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", data, err)
	}
}

// maskingReceiver is a tenant's business system receiving event callbacks on
// loopback. It checks each request's signature with callgate's own verifier: a
// business API handler (web.Internal) given the request at a /v1/ path it has no
// endpoint for answers 404 not_found only once signature, timestamp and nonce are
// good, 401 otherwise.
type maskingReceiver struct {
	srv     *httptest.Server
	api     *web.Internal
	respond func(*http.Request) int

	mu       sync.Mutex
	got      []maskingEvent
	rejected []string
}

// maskingEvent is an event as received, its data still raw.
type maskingEvent struct {
	hooks.Event
	Data json.RawMessage `json:"data"`
}

// maskingNonces is an in-memory web.NonceStore.
type maskingNonces struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (m *maskingNonces) UseNonce(_ context.Context, app, nonce string, _, _ time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.seen[app+" "+nonce] {
		return pool.ErrExists
	}
	m.seen[app+" "+nonce] = true
	return nil
}

// maskingNoBindings is the binding store of a verifier-only API: never called.
type maskingNoBindings struct{ web.BindingStore }

func newMaskingReceiver(t *testing.T, app, secret, tenant string, respond func(*http.Request) int) *maskingReceiver {
	t.Helper()
	policy, err := pool.NewPolicy(nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	api, err := web.NewInternal(web.InternalDeps{Bindings: maskingNoBindings{}, Nonces: &maskingNonces{seen: map[string]bool{}},
		Policy: policy, Apps: []web.APIApp{{Name: app, Secret: secret, Tenants: []string{tenant}}}})
	if err != nil {
		t.Fatal(err)
	}
	rc := &maskingReceiver{api: api, respond: respond}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve)) // 127.0.0.1
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *maskingReceiver) url() string { return rc.srv.URL + "/v1/callgate-events" }

func (rc *maskingReceiver) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	check := r.Clone(r.Context())
	check.Body = io.NopCloser(bytes.NewReader(body))
	verdict := httptest.NewRecorder()
	rc.api.ServeHTTP(verdict, check)
	var ev maskingEvent
	rc.mu.Lock()
	switch {
	case verdict.Code != http.StatusNotFound || !strings.Contains(verdict.Body.String(), `"not_found"`):
		rc.rejected = append(rc.rejected, fmt.Sprintf("%d %s", verdict.Code, verdict.Body))
	case json.Unmarshal(body, &ev) != nil:
		rc.rejected = append(rc.rejected, "not JSON: "+string(body))
	default:
		rc.got = append(rc.got, ev)
	}
	rc.mu.Unlock()
	status := http.StatusNoContent
	if rc.respond != nil {
		status = rc.respond(r)
	}
	w.WriteHeader(status)
}

func (rc *maskingReceiver) events() []maskingEvent {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]maskingEvent(nil), rc.got...)
}

func (rc *maskingReceiver) rejections() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]string(nil), rc.rejected...)
}
