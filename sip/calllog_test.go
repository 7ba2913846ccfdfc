package sip_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/netip"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"callgate/configs"
	"callgate/media"
	"callgate/pool"
	"callgate/routing"
	cgsip "callgate/sip"
	"callgate/sip/demo"
)

// logBuffer collects a JSON slog handler's lines; safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines returns the decoded lines written so far.
func (b *logBuffer) lines(t testing.TB) []map[string]any {
	t.Helper()
	b.mu.Lock()
	data := append([]byte(nil), b.buf.Bytes()...)
	b.mu.Unlock()
	var out []map[string]any
	for _, l := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatalf("log line is not JSON: %v: %s", err, l)
		}
		out = append(out, m)
	}
	return out
}

// stateLines are the Info lines of one call's state changes, in order.
func stateLines(lines []map[string]any, id string) []map[string]any {
	var out []map[string]any
	for _, l := range lines {
		if l["call"] == id && l["state"] != nil && l["level"] == "INFO" {
			out = append(out, l)
		}
	}
	return out
}

// newLoggedRig is newRig's edge (the demo carrier on trunk carrier-b, V bound to B)
// logging JSON at Info into the returned buffer.
func newLoggedRig(t *testing.T) (*rig, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	carrier := &demo.Carrier{RingFor: 50 * time.Millisecond, Log: testLogger(t)}
	if err := carrier.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { carrier.Close() })
	ctx := context.Background()
	store, err := pool.OpenSQLite(ctx, filepath.Join(t.TempDir(), "callgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if err := store.SyncStaticBindings(ctx, []pool.Binding{{Tenant: "demo", Mode: pool.ModeAXN, Virtual: numV, B: numB,
		Trunk: "carrier-b", Static: true, Expiry: pool.ExpiryNever}}); err != nil {
		t.Fatal(err)
	}
	ports, err := media.NewPorts(33000, 33999, 0)
	if err != nil {
		t.Fatal(err)
	}
	trunks := []configs.Trunk{
		{Name: "carrier-a", Supplier: "a", Host: "127.0.0.2", Port: 5060, Transport: "udp",
			InboundCIDRs: []string{"127.0.0.2/32"}, Codecs: []string{"PCMU", "PCMA"}},
		{Name: "carrier-b", Supplier: "b", Host: "127.0.0.1", Port: int(carrier.Addr().Port()), Transport: "udp",
			InboundCIDRs: []string{"127.0.0.1/32"}, Codecs: []string{"PCMU", "PCMA"}},
	}
	records := pool.NewJournal(store, pool.JournalOptions{})
	t.Cleanup(func() { records.Close() })
	set := cgsip.Settings{UDPAddr: "127.0.0.1:0", RingTimeout: 5 * time.Second, ShutdownGrace: time.Second,
		NoRouteStatus: 404, MediaBind: netip.MustParseAddr("127.0.0.1"), MediaPublic: netip.MustParseAddr("127.0.0.1")}
	edge, err := cgsip.New(set, trunks, routing.NewInbound(store, nil), records, ports, cgsip.WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	if err := edge.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { edge.Close() })
	return &rig{t: t, edge: edge, store: store, records: records, carrier: carrier}, logs
}

// A call logs one Info line per state change, each with the call id (the record's
// ID), and the setup line ties the SIP Call-IDs of both legs to it.
func TestCallLogsOneLinePerState(t *testing.T) {
	r, logs := newLoggedRig(t)
	a := newCaller(t, "127.0.0.2")
	d := a.call(r.edge.Addr("udp"), numV)
	eventually(t, "carrier answered", func() bool { return len(r.carrier.Calls()) == 1 })
	bc := r.carrier.Calls()[0]
	a.sendRTP(d, 8, 10)
	if err := d.Bye(context.Background()); err != nil {
		t.Fatal(err)
	}
	rec := r.record()

	lines := stateLines(logs.lines(t), rec.ID)
	var states []string
	for _, l := range lines {
		states = append(states, l["state"].(string))
	}
	want := []string{"setup", "ringing", "answered", "ended"}
	if len(states) != len(want) {
		t.Fatalf("state lines of call %s: %v, want %v", rec.ID, states, want)
	}
	for i, st := range want {
		if states[i] != st {
			t.Fatalf("state lines of call %s: %v, want %v", rec.ID, states, want)
		}
		l := lines[i]
		if l["msg"] != "call "+st || l["tenant"] != "demo" || l["direction"] != "inbound" ||
			l["trunk"] != "carrier-b" || l["in_trunk"] != "carrier-a" {
			t.Fatalf("%s line: %v", st, l)
		}
	}
	setup, ringing, answered, ended := lines[0], lines[1], lines[2], lines[3]
	if setup["sip_call_id_a"] != d.InviteRequest.CallID().Value() || setup["sip_call_id_b"] != bc.CallID ||
		bc.CallID == "" || setup["caller"] != numA || setup["callee"] != numB {
		t.Fatalf("setup line %v; want A's Call-ID %q and B's %q", setup, d.InviteRequest.CallID().Value(), bc.CallID)
	}
	if _, ok := ringing["post_dial_delay"]; !ok {
		t.Fatalf("ringing line without post_dial_delay: %v", ringing)
	}
	if answered["code"] != float64(200) {
		t.Fatalf("answered line: %v", answered)
	}
	if ended["code"] != float64(200) || ended["reason"] != "caller_bye" || ended["by"] != "caller" ||
		ended["duration"] == nil || ended["billed_s"] != float64(rec.BilledSec) || ended["rtp_a_in"] != float64(rec.PacketsFromA) {
		t.Fatalf("ended line %v; record %+v", ended, rec)
	}
}

// A call that fails before any INVITE goes out logs only its end, with the caller's
// Call-ID and the cause.
func TestRefusedCallLogsItsEnd(t *testing.T) {
	r, logs := newLoggedRig(t)
	a := newCaller(t, "127.0.0.2")
	if code := a.refused(r.edge.Addr("udp"), "+8675599999999"); code != 404 {
		t.Fatalf("got %d, want 404", code)
	}
	rec := r.record()
	lines := stateLines(logs.lines(t), rec.ID)
	if len(lines) != 1 || lines[0]["state"] != "ended" || lines[0]["code"] != float64(404) ||
		lines[0]["reason"] != rec.Reason || lines[0]["sip_call_id_a"] == nil {
		t.Fatalf("state lines %v; record %+v", lines, rec)
	}
}
