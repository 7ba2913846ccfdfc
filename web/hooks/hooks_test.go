package hooks

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"callgate/pool"

	"github.com/prometheus/client_golang/prometheus"
)

func TestDeliverSignedEvent(t *testing.T) {
	rc := newReceiver(t, nil)
	d := newDispatcher(t, []Target{testTarget(rc.url())})
	at := time.Date(2026, 11, 20, 9, 30, 0, 123e6, time.FixedZone("CST", 8*3600))
	if !d.Publish(Event{Type: TypeCallEnded, Time: at, Tenant: "acme", Data: map[string]int{"n": 1}}) {
		t.Fatal("Publish refused an event acme takes")
	}
	waitFor(t, "the delivery", func() bool { return d.Stats("acme").Delivered == 1 })
	got := rc.deliveries()
	if len(got) != 1 || len(rc.rejections()) != 0 {
		t.Fatalf("deliveries %+v, rejected %q", got, rc.rejections())
	}
	ev := got[0]
	if ev.Event.ID == "" || ev.Event.Type != TypeCallEnded || ev.Event.Tenant != "acme" || !ev.Event.Time.Equal(at) ||
		ev.Event.Time.Location() != time.UTC || string(ev.Data) != `{"n":1}` {
		t.Errorf("event = %+v %s", ev.Event, ev.Data)
	}
	if ev.Attempt != 1 || ev.Header.Get(HeaderEventID) != ev.Event.ID || ev.Header.Get(HeaderEventType) != TypeCallEnded ||
		ev.Header.Get("X-Callgate-App") != testApp {
		t.Errorf("headers = %v", ev.Header)
	}
	if s := d.Stats("acme"); s != (Stats{Delivered: 1}) {
		t.Errorf("stats = %+v", s)
	}
}

// A receiver that does not know the secret must see a signature that fails: the
// verifier used by the receiver is not fooled by anything.
func TestWrongSecretIsRejected(t *testing.T) {
	rc := newReceiver(t, nil)
	tg := testTarget(rc.url())
	tg.Secret = strings.Repeat("x", 40)
	tg.MaxAttempts = 1
	d := newDispatcher(t, []Target{tg})
	d.Publish(Event{Type: TypeCallEnded, Tenant: "acme", Data: 1})
	waitFor(t, "the refusal", func() bool { return d.Stats("acme").Failed == 1 })
	if r := rc.rejections(); len(r) != 1 || !strings.Contains(r[0], "401 bad_signature") {
		t.Errorf("rejections = %q", r)
	}
}

func TestRetriesUntilAccepted(t *testing.T) {
	for _, fail := range []int{500, 502, 503, 429} {
		t.Run(fmt.Sprint(fail), func(t *testing.T) {
			rc := newReceiver(t, func(n int, _ *http.Request) int {
				if n <= 2 {
					return fail
				}
				return http.StatusOK
			})
			d := newDispatcher(t, []Target{testTarget(rc.url())})
			d.Publish(Event{Type: TypeBindingCreated, Tenant: "acme", Data: "x"})
			waitFor(t, "the delivery", func() bool { return d.Stats("acme").Delivered == 1 })
			got := rc.deliveries()
			if len(got) != 3 {
				t.Fatalf("%d attempts, want 3", len(got))
			}
			for i, g := range got {
				if g.Event.ID != got[0].Event.ID || g.Attempt != i+1 {
					t.Errorf("attempt %d: id %s attempt header %d; want id %s", i+1, g.Event.ID, g.Attempt, got[0].Event.ID)
				}
			}
			if s := d.Stats("acme"); s != (Stats{Delivered: 1, Retries: 2}) {
				t.Errorf("stats = %+v", s)
			}
		})
	}
}

func TestRetriesNetworkErrors(t *testing.T) {
	rc := newReceiver(t, nil)
	rc.cut = 2 // the first two connections are cut before any answer
	d := newDispatcher(t, []Target{testTarget(rc.url())})
	d.Publish(Event{Type: TypeCallEnded, Tenant: "acme", Data: 1})
	waitFor(t, "the delivery", func() bool { return d.Stats("acme").Delivered == 1 })
	if s := d.Stats("acme"); s.Retries != 2 || len(rc.deliveries()) != 1 || rc.deliveries()[0].Attempt != 3 {
		t.Errorf("stats %+v, deliveries %+v", s, rc.deliveries())
	}
}

func TestNoRetryOnOther4xx(t *testing.T) {
	for _, code := range []int{400, 401, 403, 404, 410, 422} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			rc := newReceiver(t, func(int, *http.Request) int { return code })
			d := newDispatcher(t, []Target{testTarget(rc.url())})
			d.Publish(Event{Type: TypeCallEnded, Tenant: "acme", Data: 1})
			waitFor(t, "the failure", func() bool { return d.Stats("acme").Failed == 1 })
			if n := len(rc.deliveries()); n != 1 {
				t.Errorf("%d attempts, want 1", n)
			}
			if s := d.Stats("acme"); s != (Stats{Failed: 1}) {
				t.Errorf("stats = %+v", s)
			}
		})
	}
}

func TestGivesUpAfterMaxAttempts(t *testing.T) {
	rc := newReceiver(t, func(int, *http.Request) int { return http.StatusServiceUnavailable })
	tg := testTarget(rc.url())
	tg.MaxAttempts = 3
	d := newDispatcher(t, []Target{tg})
	d.Publish(Event{Type: TypeCallEnded, Tenant: "acme", Data: 1})
	waitFor(t, "the failure", func() bool { return d.Stats("acme").Failed == 1 })
	if n := len(rc.deliveries()); n != 3 {
		t.Errorf("%d attempts, want 3", n)
	}
	if s := d.Stats("acme"); s != (Stats{Failed: 1, Retries: 2}) {
		t.Errorf("stats = %+v", s)
	}
}

// A receiver that never answers holds one worker; Publish still returns at once,
// queues what fits and drops (and counts) the rest. The caller here is the call
// observer, what a call's teardown runs.
func TestStalledReceiverDropsInsteadOfBlocking(t *testing.T) {
	release := make(chan struct{})
	rc := newReceiver(t, func(_ int, r *http.Request) int {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		return http.StatusOK
	})
	rc.arrived = make(chan struct{}, 16)
	tg := testTarget(rc.url())
	tg.Queue, tg.Workers = 2, 1
	d := newDispatcher(t, []Target{tg})
	call := func(i int) pool.Call {
		return pool.Call{ID: fmt.Sprint("call-", i), Tenant: "acme", Direction: pool.Inbound, SIPCode: 200}
	}
	d.CallEnded(call(0), 0)
	<-rc.arrived // the worker is stuck in call 0's POST
	for i := 1; i <= 9; i++ {
		d.CallEnded(call(i), 0) // returns although nothing moves
	}
	if s := d.Stats("acme"); s.Dropped != 7 || s.Queued != 2 || s.Delivered != 0 {
		t.Fatalf("stats = %+v; want 7 dropped, 2 queued", s)
	}
	close(release)
	waitFor(t, "the queued events", func() bool { return d.Stats("acme").Delivered == 3 })
	var ids []string
	for _, g := range rc.deliveries() {
		var c CallData
		if err := json.Unmarshal(g.Data, &c); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.CallID)
	}
	if !slices.Equal(ids, []string{"call-0", "call-1", "call-2"}) {
		t.Errorf("delivered calls %v, want the first three", ids)
	}
}

func TestCloseDrainsAndIsSafeTwice(t *testing.T) {
	rc := newReceiver(t, nil)
	d, err := New([]Target{testTarget(rc.url())})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if !d.Publish(Event{Type: TypeCallEnded, Tenant: "acme", Data: i}) {
			t.Fatalf("event %d refused", i)
		}
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if s := d.Stats("acme"); s.Delivered != 20 || s.Queued != 0 {
		t.Errorf("after Close: %+v; want all 20 delivered", s)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if d.Publish(Event{Type: TypeCallEnded, Tenant: "acme", Data: 1}) {
		t.Error("Publish after Close queued an event")
	}
	if s := d.Stats("acme"); s.Dropped != 1 || len(rc.deliveries()) != 20 {
		t.Errorf("after Close: %+v, %d deliveries", s, len(rc.deliveries()))
	}
}

// Close gives a stalled receiver the drain timeout, then cuts it off: the stuck and
// queued events count as failed, and Close returns.
func TestCloseCutsOffStalledReceiver(t *testing.T) {
	rc := newReceiver(t, func(_ int, r *http.Request) int {
		<-r.Context().Done() // until callgate gives up on the request
		return http.StatusOK
	})
	rc.arrived = make(chan struct{}, 16)
	tg := testTarget(rc.url())
	tg.Workers = 1
	d, err := New([]Target{tg}, WithDrainTimeout(10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		d.Publish(Event{Type: TypeCallEnded, Tenant: "acme", Data: i})
	}
	<-rc.arrived
	_ = d.Close()
	_ = d.Close()
	if s := d.Stats("acme"); s.Failed != 3 || s.Delivered != 0 || s.Queued != 0 {
		t.Errorf("stats = %+v; want 3 failed", s)
	}
}

func TestTypesAndTenantsFilter(t *testing.T) {
	rc := newReceiver(t, nil)
	tg := testTarget(rc.url())
	tg.Types = []string{TypeCallEnded}
	d := newDispatcher(t, []Target{tg})
	if d.Publish(Event{Type: TypeBindingCreated, Tenant: "acme", Data: 1}) {
		t.Error("queued a type acme does not take")
	}
	if d.Publish(Event{Type: TypeCallEnded, Tenant: "globex", Data: 1}) {
		t.Error("queued an event of a tenant without callbacks")
	}
	d.CallEnded(pool.Call{ID: "c"}, 0) // no tenant: a call no binding matched
	if !d.Publish(Event{Type: TypeCallEnded, Tenant: "acme", Data: 1}) {
		t.Error("refused a type acme takes")
	}
	_ = d.Close()
	if s := d.Stats("acme"); s != (Stats{Delivered: 1}) || len(rc.deliveries()) != 1 {
		t.Errorf("stats %+v, deliveries %d", s, len(rc.deliveries()))
	}
}

func TestNewRejectsBadTargets(t *testing.T) {
	good := testTarget("https://crm.example.com/events")
	for name, change := range map[string]func(*Target){
		"scheme":       func(tg *Target) { tg.URL = "ftp://crm.example.com/events" },
		"no host":      func(tg *Target) { tg.URL = "https:///events" },
		"no secret":    func(tg *Target) { tg.Secret = "" },
		"no tenant":    func(tg *Target) { tg.Tenant = "" },
		"unknown type": func(tg *Target) { tg.Types = []string{"call.transferred"} },
		"no workers":   func(tg *Target) { tg.Workers = 0 },
		"backoff":      func(tg *Target) { tg.MaxBackoff = tg.Backoff / 2 },
	} {
		tg := good
		change(&tg)
		if d, err := New([]Target{tg}); err == nil {
			d.Close()
			t.Errorf("%s: New accepted %+v", name, tg)
		}
	}
	if d, err := New([]Target{good, good}); err == nil {
		d.Close()
		t.Error("New accepted two targets for one tenant")
	}
	d, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.Publish(Event{Type: TypeCallEnded, Tenant: "acme"}) {
		t.Error("a dispatcher without targets queued an event")
	}
	d.Close()
	d.Close()
}

func TestBackoff(t *testing.T) {
	base, max := 100*time.Millisecond, time.Second
	for attempt, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond,
		3: 400 * time.Millisecond, 4: 800 * time.Millisecond, 5: time.Second, 40: time.Second} {
		for range 50 {
			got := backoff(base, max, attempt, 0)
			if got < want/2 || got > want {
				t.Fatalf("backoff after attempt %d = %v, want %v/2 to %v", attempt, got, want, want)
			}
		}
	}
	if got := backoff(base, max, 1, 700*time.Millisecond); got != 700*time.Millisecond {
		t.Errorf("with Retry-After 700ms: %v", got)
	}
	if got := backoff(base, max, 1, time.Hour); got != max {
		t.Errorf("with Retry-After 1h: %v, want the cap", got)
	}
	for v, want := range map[string]time.Duration{"": 0, "3": 3 * time.Second, "-1": 0, "Wed, 21 Oct 2026 07:28:00 GMT": 0} {
		if got := retryAfter(v); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestMetrics(t *testing.T) {
	rc := newReceiver(t, func(n int, _ *http.Request) int {
		if n == 1 {
			return 500
		}
		return 200
	})
	d := newDispatcher(t, []Target{testTarget(rc.url())})
	reg := prometheus.NewRegistry()
	if err := reg.Register(d); err != nil {
		t.Fatal(err)
	}
	d.Publish(Event{Type: TypeCallEnded, Tenant: "acme", Data: 1})
	waitFor(t, "the delivery", func() bool { return d.Stats("acme").Delivered == 1 })
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != 1 || m.GetLabel()[0].GetValue() != "acme" {
				t.Errorf("%s: labels %v", mf.GetName(), m.GetLabel())
			}
			got[mf.GetName()] = m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	want := map[string]float64{
		"callgate_event_callbacks_delivered_total": 1, "callgate_event_callbacks_failed_total": 0,
		"callgate_event_callbacks_dropped_total": 0, "callgate_event_callbacks_retries_total": 1,
		"callgate_event_callbacks_queued": 0,
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
}
