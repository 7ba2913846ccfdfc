// Package hooks sends a tenant's events — bindings made and reclaimed, calls ended —
// to the tenant's business system: JSON POSTed to a configured URL and signed exactly
// like business API requests (web/apiclient.Sign). Each tenant has a bounded
// in-memory queue and a few workers that deliver with retries, exponential backoff
// and jitter. Publishing never waits: an event that finds its queue full is dropped
// and counted, so a slow or dead receiver can never hold up call setup or the API.
package hooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"callgate/configs"

	"github.com/google/uuid"
)

// The event types (configs.EventTypes).
const (
	TypeBindingCreated = configs.EventBindingCreated
	TypeBindingExpired = configs.EventBindingExpired
	TypeCallStarted    = configs.EventCallStarted
	TypeCallRinging    = configs.EventCallRinging
	TypeCallAnswered   = configs.EventCallAnswered
	TypeCallEnded      = configs.EventCallEnded
)

// Event is what a receiver gets: one JSON object per POST.
type Event struct {
	// ID identifies the event; retries of one event carry the same ID, so a receiver
	// that saw it already can answer 2xx and ignore it.
	ID     string    `json:"id"`
	Type   string    `json:"type"`
	Time   time.Time `json:"time"` // when it happened
	Tenant string    `json:"tenant"`
	// Data is the event's payload: a Binding for binding.*, a CallData for call.*.
	Data any `json:"data"`
}

// Target is one tenant's event callbacks (configs.EventCallbacks).
type Target struct {
	Tenant string
	// URL receives the events by POST.
	URL string
	// App and Secret sign the events, as the app signs its API requests.
	App, Secret string
	// Types are the event types sent; empty: all.
	Types []string
	// Timeout bounds one attempt.
	Timeout time.Duration
	// MaxAttempts bounds the attempts per event (1: no retries).
	MaxAttempts int
	// Backoff is the wait before the first retry, doubled each time up to
	// MaxBackoff, with jitter.
	Backoff, MaxBackoff time.Duration
	// Queue is how many events may wait; Workers deliver them concurrently.
	Queue, Workers int
}

// TargetsFrom returns the event callbacks of the config's tenants.
func TargetsFrom(cfg *configs.Config) []Target {
	var out []Target
	for _, t := range cfg.Tenants {
		e := t.Events
		if e == nil {
			continue
		}
		out = append(out, Target{Tenant: t.Name, URL: e.URL, App: e.App, Secret: e.Secret,
			Types: slices.Clone(e.Types), Timeout: e.Timeout.Std(), MaxAttempts: e.MaxAttempts,
			Backoff: e.Backoff.Std(), MaxBackoff: e.MaxBackoff.Std(), Queue: e.Queue, Workers: e.Workers})
	}
	return out
}

// check says what is wrong with t, or nil.
func (t Target) check() error {
	u, err := url.Parse(t.URL)
	switch {
	case t.Tenant == "":
		return errors.New("tenant is required")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return fmt.Errorf("url %q: want an http or https URL", t.URL)
	case t.App == "" || t.Secret == "":
		return errors.New("app and secret are required to sign events")
	case t.Timeout <= 0 || t.Backoff <= 0 || t.MaxBackoff < t.Backoff:
		return fmt.Errorf("want timeout > 0 and 0 < backoff <= max backoff, got %v, %v, %v", t.Timeout, t.Backoff, t.MaxBackoff)
	case t.MaxAttempts < 1 || t.Queue < 1 || t.Workers < 1:
		return fmt.Errorf("want max attempts, queue and workers >= 1, got %d, %d, %d", t.MaxAttempts, t.Queue, t.Workers)
	}
	for _, typ := range t.Types {
		if !slices.Contains(configs.EventTypes(), typ) {
			return fmt.Errorf("unknown event type %q", typ)
		}
	}
	return nil
}

// job is an event waiting for delivery, already encoded.
type job struct {
	id, typ string
	body    []byte
}

// target is a Target at run time: its queue and counters.
type target struct {
	Target
	types map[string]bool // nil: all
	queue chan job

	delivered, failed, dropped, retries atomic.Int64
	// Unix ns of the last "dropped" and "not delivered" log lines: each is logged at
	// most once a minute per tenant, so a dead receiver cannot flood the log.
	lastDropLog, lastFailLog atomic.Int64
}

func (t *target) wants(typ string) bool { return t.types == nil || t.types[typ] }

// Dispatcher queues events per tenant and delivers them. It is a call observer for
// sip.WithObserver (CallEnded), a GC hook for pool.WithOnPass (Reclaimed), wraps the
// business API's store (Bindings), and is a prometheus.Collector of its counters.
type Dispatcher struct {
	targets map[string]*target
	http    *http.Client
	now     func() time.Time
	log     *slog.Logger
	drain   time.Duration

	mu        sync.RWMutex // guards closed against Publish
	closed    bool
	quit      chan struct{} // closed by Close: workers drain their queues and stop
	abort     context.CancelFunc
	workers   sync.WaitGroup
	closeOnce sync.Once

	metrics descs
}

// Option configures New.
type Option func(*Dispatcher) error

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option {
	return func(d *Dispatcher) error {
		if l == nil {
			return errors.New("hooks: WithLogger: nil logger")
		}
		d.log = l
		return nil
	}
}

// WithClock sets the clock that stamps events and signatures (default time.Now).
func WithClock(now func() time.Time) Option {
	return func(d *Dispatcher) error {
		if now == nil {
			return errors.New("hooks: WithClock: nil clock")
		}
		d.now = now
		return nil
	}
}

// WithHTTPClient sets the client that delivers events. Its CheckRedirect should
// refuse redirects (the default client's does): a redirected POST would not carry
// its signature to where it ends up. Per-attempt timeouts come from Target.Timeout.
func WithHTTPClient(c *http.Client) Option {
	return func(d *Dispatcher) error {
		if c == nil {
			return errors.New("hooks: WithHTTPClient: nil client")
		}
		d.http = c
		return nil
	}
}

// WithDrainTimeout sets how long Close lets queued events be delivered before it
// cuts deliveries off; default 5s.
func WithDrainTimeout(t time.Duration) Option {
	return func(d *Dispatcher) error {
		if t < 0 {
			return fmt.Errorf("hooks: WithDrainTimeout: negative %v", t)
		}
		d.drain = t
		return nil
	}
}

// DefaultDrainTimeout is how long Close waits for queued events by default.
const DefaultDrainTimeout = 5 * time.Second

// New starts delivering events to targets, at most one per tenant. Close stops it.
func New(targets []Target, opts ...Option) (*Dispatcher, error) {
	d := &Dispatcher{
		targets: make(map[string]*target, len(targets)),
		http: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}},
		now:     time.Now,
		log:     slog.New(slog.DiscardHandler),
		drain:   DefaultDrainTimeout,
		quit:    make(chan struct{}),
		metrics: newDescs(),
	}
	for _, o := range opts {
		if err := o(d); err != nil {
			return nil, err
		}
	}
	for _, tc := range targets {
		if err := tc.check(); err != nil {
			return nil, fmt.Errorf("hooks: tenant %q: %w", tc.Tenant, err)
		}
		if d.targets[tc.Tenant] != nil {
			return nil, fmt.Errorf("hooks: tenant %q has two targets", tc.Tenant)
		}
		t := &target{Target: tc, queue: make(chan job, tc.Queue)}
		if len(tc.Types) > 0 {
			t.types = make(map[string]bool, len(tc.Types))
			for _, typ := range tc.Types {
				t.types[typ] = true
			}
		}
		d.targets[tc.Tenant] = t
	}
	ctx, cancel := context.WithCancel(context.Background())
	d.abort = cancel
	for _, t := range d.targets {
		for range t.Workers {
			d.workers.Add(1)
			go d.work(ctx, t)
		}
	}
	return d, nil
}

// Publish queues ev for its tenant's receiver and returns at once, never waiting for
// room or for the receiver. It fills in ev.ID and ev.Time when they are empty. It
// reports whether the event was queued: false when the tenant takes no events of
// ev.Type, or when the event was dropped (queue full, dispatcher closed), which the
// dropped counter records.
func (d *Dispatcher) Publish(ev Event) bool {
	t := d.targets[ev.Tenant]
	if t == nil || !t.wants(ev.Type) {
		return false
	}
	if ev.ID == "" {
		ev.ID = uuid.NewString()
	}
	if ev.Time.IsZero() {
		ev.Time = d.now()
	}
	ev.Time = ev.Time.UTC()
	body, err := json.Marshal(ev)
	if err != nil {
		t.failed.Add(1)
		d.log.Error("event not encodable", "tenant", t.Tenant, "type", ev.Type, "id", ev.ID, "err", err)
		return false
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	if !d.closed {
		select {
		case t.queue <- job{id: ev.ID, typ: ev.Type, body: body}:
			return true
		default:
		}
	}
	t.dropped.Add(1)
	d.logDrop(t, ev)
	return false
}

// logDrop says that events are being dropped, at most once a minute per tenant.
func (d *Dispatcher) logDrop(t *target, ev Event) {
	if !logNow(&t.lastDropLog) {
		return
	}
	d.log.Warn("event callbacks: event dropped: the queue is full or closed (the receiver is slow or down)",
		"tenant", t.Tenant, "type", ev.Type, "id", ev.ID, "queue", cap(t.queue), "dropped_total", t.dropped.Load())
}

// logNow reports whether a line limited to one a minute may be logged now, and if so
// records that it is.
func logNow(last *atomic.Int64) bool {
	now := time.Now().UnixNano()
	prev := last.Load()
	return now-prev >= int64(time.Minute) && last.CompareAndSwap(prev, now)
}

// work delivers t's events until Close, then what is left in the queue.
func (d *Dispatcher) work(ctx context.Context, t *target) {
	defer d.workers.Done()
	for {
		select {
		case j := <-t.queue:
			d.deliver(ctx, t, j)
		case <-d.quit:
			for {
				select {
				case j := <-t.queue:
					d.deliver(ctx, t, j)
				default:
					return
				}
			}
		}
	}
}

// Close stops taking events, lets the workers deliver what is queued for the drain
// timeout, then cuts the remaining deliveries off (they count as failed). It is safe
// to call twice; it always returns nil.
func (d *Dispatcher) Close() error {
	d.closeOnce.Do(func() {
		d.mu.Lock()
		d.closed = true
		d.mu.Unlock()
		close(d.quit)
		done := make(chan struct{})
		go func() { d.workers.Wait(); close(done) }()
		timer := time.NewTimer(d.drain)
		defer timer.Stop()
		select {
		case <-done:
		case <-timer.C:
			d.log.Warn("event callbacks: drain timeout: giving up on the events still queued", "timeout", d.drain)
			d.abort()
			<-done
		}
		d.abort()
	})
	return nil
}

// Stats are a tenant's delivery counters.
type Stats struct {
	Delivered int64 // events a receiver accepted (2xx)
	Failed    int64 // events given up: attempts exhausted, a final answer, or cut off by Close
	Dropped   int64 // events never queued: the queue was full, or the dispatcher closed
	Retries   int64 // attempts after the first
	Queued    int   // events waiting now
}

// Stats returns tenant's counters (zero for a tenant without event callbacks).
func (d *Dispatcher) Stats(tenant string) Stats {
	t := d.targets[tenant]
	if t == nil {
		return Stats{}
	}
	return Stats{Delivered: t.delivered.Load(), Failed: t.failed.Load(), Dropped: t.dropped.Load(),
		Retries: t.retries.Load(), Queued: len(t.queue)}
}
