package configs

import (
	"cmp"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// This file holds a tenant's event callbacks: where callgate POSTs signed events
// about the tenant's bindings and calls, which events, and how hard it tries.

// EventCallbacks configures the events callgate sends to a tenant's business system.
// Each event is POSTed as JSON to URL and signed like a business API request, with the
// secret of the api app App.
type EventCallbacks struct {
	// URL receives the events: http or https, without user name, password or
	// fragment. Required.
	URL string `yaml:"url"`
	// App names the api.apps entry whose secret signs the events (the receiver checks
	// X-Callgate-App and the signature as the API does). The app must act for the
	// tenant. Required.
	App string `yaml:"app"`
	// Types are the event types to send (EventTypes); default: all of them.
	Types []string `yaml:"types"`
	// Timeout bounds one delivery attempt; default 5s.
	Timeout Duration `yaml:"timeout"`
	// MaxAttempts is how many times an event is tried, the first time included,
	// before it is given up; default 6; 1: no retries. Network errors, timeouts, 429
	// and 5xx are retried; other answers are final.
	MaxAttempts int `yaml:"max_attempts"`
	// Backoff is the wait before the first retry, doubled before each further one up
	// to MaxBackoff, with random jitter; default 1s.
	Backoff Duration `yaml:"backoff"`
	// MaxBackoff caps the wait between attempts; default 1m.
	MaxBackoff Duration `yaml:"max_backoff"`
	// Queue is how many events may wait for delivery; an event that finds the queue
	// full is dropped and counted, never waited for. Default 1000.
	Queue int `yaml:"queue"`
	// Workers is how many deliveries run at once; default 2. With more than one,
	// events may arrive out of order: order them by their time.
	Workers int `yaml:"workers"`

	// Secret is resolved at load time: the signing secret of App.
	Secret string `yaml:"-"`
}

// The event types a tenant's events.types may list.
const (
	// EventBindingCreated: the business API made a binding (create, or
	// lookup-or-bind when it made one).
	EventBindingCreated = "binding.created"
	// EventBindingExpired: the binding GC reclaimed a binding, after its expiry or
	// for being idle.
	EventBindingExpired = "binding.expired"
	// EventCallStarted: callgate sent the callee's INVITE for a call of the tenant.
	EventCallStarted = "call.started"
	// EventCallRinging: the callee's side rang (first 180/183).
	EventCallRinging = "call.ringing"
	// EventCallAnswered: the callee answered.
	EventCallAnswered = "call.answered"
	// EventCallEnded: a call of the tenant ended, answered or not.
	EventCallEnded = "call.ended"
)

// EventTypes lists the event types, in the order the docs show them.
func EventTypes() []string {
	return []string{EventBindingCreated, EventBindingExpired, EventCallStarted, EventCallRinging,
		EventCallAnswered, EventCallEnded}
}

// Defaults and bounds of a tenant's events section.
const (
	defaultEventTimeout     = 5 * time.Second // tenants[].events.timeout
	defaultEventAttempts    = 6               // tenants[].events.max_attempts
	defaultEventBackoff     = time.Second     // tenants[].events.backoff
	defaultEventMaxBackoff  = time.Minute     // tenants[].events.max_backoff
	defaultEventQueue       = 1000            // tenants[].events.queue
	defaultEventWorkers     = 2               // tenants[].events.workers
	maxEventAttempts        = 100
	maxEventQueue           = 100_000 // the queue is allocated up front
	maxEventWorkers         = 64
	maxEventTimeout         = 5 * time.Minute
	maxEventBackoffDuration = 24 * time.Hour
)

// eventDefaults fills the zero settings of a tenant's events section, if it has one.
func eventDefaults(e *EventCallbacks) {
	if e == nil {
		return
	}
	e.URL = strings.TrimSpace(e.URL)
	e.App = strings.TrimSpace(e.App)
	if len(e.Types) == 0 {
		e.Types = EventTypes()
	}
	for i, t := range e.Types {
		e.Types[i] = strings.ToLower(strings.TrimSpace(t))
	}
	e.Timeout = cmp.Or(e.Timeout, Duration(defaultEventTimeout))
	e.MaxAttempts = cmp.Or(e.MaxAttempts, defaultEventAttempts)
	e.Backoff = cmp.Or(e.Backoff, Duration(defaultEventBackoff))
	e.MaxBackoff = cmp.Or(e.MaxBackoff, Duration(defaultEventMaxBackoff))
	e.Queue = cmp.Or(e.Queue, defaultEventQueue)
	e.Workers = cmp.Or(e.Workers, defaultEventWorkers)
}

// eventCallbacks checks every tenant's events section and resolves its signing
// secret from api.apps; it runs after api, which resolves the apps' secrets.
func (v *validation) eventCallbacks() {
	apps := map[string]*APIApp{}
	for i := range v.cfg.API.Apps {
		a := &v.cfg.API.Apps[i]
		if _, dup := apps[a.Name]; !dup {
			apps[a.Name] = a
		}
	}
	for i := range v.cfg.Tenants {
		t, o := &v.cfg.Tenants[i], v.src.tenants[i]
		if t.Events == nil {
			continue
		}
		pl := itemPlace(o, "tenant", t.Name, "tenants")
		e := t.Events
		if msg := checkEventURL(e.URL); msg != "" {
			v.bad(pl, at("events", "url"), "%s", msg)
		}
		app := apps[e.App]
		switch {
		case e.App == "":
			v.bad(pl, at("events"), "app is required: the api.apps entry whose secret signs the events")
		case app == nil && v.src.partial:
		case app == nil:
			v.bad(pl, at("events", "app"), "unknown app %q: list it under api: apps", e.App)
		case !slices.Contains(app.Tenants, t.Name) && !slices.Contains(app.Tenants, "*"):
			v.bad(pl, at("events", "app"), "app %q does not act for tenant %q: add the tenant to the app's tenants", e.App, t.Name)
		default:
			e.Secret = app.Secret // "" if the app's secret is bad: reported there
		}
		for j, typ := range e.Types {
			switch {
			case !slices.Contains(EventTypes(), typ):
				v.bad(pl, at("events", "types", j), "unknown event type %q: want %s", typ, strings.Join(EventTypes(), ", "))
			case slices.Index(e.Types, typ) < j:
				v.bad(pl, at("events", "types", j), "event type %q is listed twice", typ)
			}
		}
		v.eventLimits(pl, e)
	}
}

// eventLimits checks the delivery settings of a tenant's events section.
func (v *validation) eventLimits(pl place, e *EventCallbacks) {
	if e.Timeout <= 0 || e.Timeout.Std() > maxEventTimeout {
		v.bad(pl, at("events", "timeout"), "must be positive and at most %s, got %s", Duration(maxEventTimeout), e.Timeout)
	}
	if e.MaxAttempts < 1 || e.MaxAttempts > maxEventAttempts {
		v.bad(pl, at("events", "max_attempts"), "must be from 1 (no retries) to %d, got %d", maxEventAttempts, e.MaxAttempts)
	}
	backoffOK := true
	for _, d := range []struct {
		key string
		val Duration
	}{{"backoff", e.Backoff}, {"max_backoff", e.MaxBackoff}} {
		if d.val <= 0 || d.val.Std() > maxEventBackoffDuration {
			v.bad(pl, at("events", d.key), "must be positive and at most %s, got %s", Duration(maxEventBackoffDuration), d.val)
			backoffOK = false
		}
	}
	if backoffOK && e.MaxBackoff < e.Backoff {
		v.bad(pl, at("events", "max_backoff"), "must not be below backoff (%s), got %s", e.Backoff, e.MaxBackoff)
	}
	if e.Queue < 1 || e.Queue > maxEventQueue {
		v.bad(pl, at("events", "queue"), "must be from 1 to %d, got %d", maxEventQueue, e.Queue)
	}
	if e.Workers < 1 || e.Workers > maxEventWorkers {
		v.bad(pl, at("events", "workers"), "must be from 1 to %d, got %d", maxEventWorkers, e.Workers)
	}
}

// checkEventURL checks the URL events are POSTed to. It returns "" or what is wrong.
func checkEventURL(s string) string {
	const want = "want an http or https URL such as https://crm.example.com/callgate/events"
	if s == "" {
		return "url is required: " + want
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Sprintf("%q is not a URL: %s", s, want)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		if u.Scheme == "" {
			return fmt.Sprintf("%q has no scheme: %s", s, want)
		}
		return fmt.Sprintf("%q: scheme %q is not allowed: want http or https", s, u.Scheme)
	case u.Opaque != "" || u.Host == "":
		return fmt.Sprintf("%q has no host: %s", s, want)
	case u.User != nil:
		return fmt.Sprintf("%q holds a user name or password: events are signed with the app's secret, put no credentials in the URL", s)
	case strings.Contains(s, "#"):
		return fmt.Sprintf("%q has a fragment: drop the part from #", s)
	case strings.Contains(u.RawQuery, ";"):
		return fmt.Sprintf("%q: separate query parameters with &, not ;", s)
	}
	if _, err := url.ParseQuery(u.RawQuery); err != nil {
		return fmt.Sprintf("%q: invalid query: %v", s, err)
	}
	if msg := checkHost(u.Hostname()); msg != "" {
		return fmt.Sprintf("%q: %s", s, msg)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Sprintf("%q: invalid port %q: want 1-65535", s, p)
		}
	}
	return ""
}
