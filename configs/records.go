package configs

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v4"
)

// This file holds records: how long call records are kept, and how often the pruner
// deletes the older ones.

// Records configures call-record retention.
type Records struct {
	// Retention is how long a call record (with its attempts and feedback) is kept
	// after the call's setup; default 90d; negative: kept for ever. At least 1h.
	Retention Span `yaml:"retention"`
	// PruneEvery is how often the pruner looks for records older than Retention;
	// default 1h; at least 1m.
	PruneEvery Span `yaml:"prune_every"`
}

// Defaults of records.
const (
	defaultRecordsRetention  = 90 * 24 * time.Hour // records.retention
	defaultRecordsPruneEvery = time.Hour           // records.prune_every
	minRecordsRetention      = time.Hour
	minRecordsPruneEvery     = time.Minute
)

// Span is a duration that may also be written in whole days: "90d", "36h", "30m".
type Span time.Duration

var (
	_ yaml.Unmarshaler = (*Span)(nil)
	_ yaml.Marshaler   = Span(0)
	_ fmt.Stringer     = Span(0)
)

// UnmarshalYAML reads "90d" (days), or Go duration text such as "36h" or "-1s".
func (s *Span) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("want a duration such as 90d, 12h or 30m, got %s", describeNode(n))
	}
	v, err := parseSpan(strings.TrimSpace(n.Value))
	if err != nil {
		return err
	}
	*s = Span(v)
	return nil
}

// parseSpan reads "<n>d" or a Go duration.
func parseSpan(text string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(text, "d"); ok && days != "" {
		n, err := strconv.Atoi(days)
		if err != nil || n > 100*365 || n < -100*365 {
			return 0, fmt.Errorf("invalid duration %q: write whole days such as 90d, or e.g. 12h or 30m", text)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	v, err := time.ParseDuration(text)
	if err != nil {
		if strings.Trim(text, "+-0123456789.") == "" && text != "" {
			return 0, fmt.Errorf("duration %q has no unit: write e.g. %sd or %sh", text, text, text)
		}
		return 0, fmt.Errorf("invalid duration %q: write e.g. 90d, 12h or 30m", text)
	}
	return v, nil
}

// MarshalYAML writes the span as String does.
func (s Span) MarshalYAML() (any, error) { return s.String(), nil }

// String writes whole days as "90d", anything else like time.Duration.
func (s Span) String() string {
	d := time.Duration(s)
	if day := 24 * time.Hour; d != 0 && d%day == 0 {
		return strconv.FormatInt(int64(d/day), 10) + "d"
	}
	return d.String()
}

// Std returns s as a time.Duration.
func (s Span) Std() time.Duration { return time.Duration(s) }

// recordsDefaults fills the zero values of records.
func recordsDefaults(r *Records) {
	if r.Retention == 0 {
		r.Retention = Span(defaultRecordsRetention)
	}
	if r.PruneEvery == 0 {
		r.PruneEvery = Span(defaultRecordsPruneEvery)
	}
}

// records checks records (after defaults).
func (v *validation) records(top place) {
	r := v.cfg.Records
	key := func(k string) []any { return at("records", k) }
	if d := r.Retention.Std(); d > 0 && d < minRecordsRetention {
		v.bad(top, key("retention"), "must be at least %s (or negative: keep records for ever), got %s", minRecordsRetention, r.Retention)
	}
	if d := r.PruneEvery.Std(); d < minRecordsPruneEvery {
		v.bad(top, key("prune_every"), "must be at least %s, got %s", minRecordsPruneEvery, r.PruneEvery)
	}
}

// recordsSummary writes records' line of Summary.
func recordsSummary(b *strings.Builder, c *Config) {
	keep := "for ever"
	if c.Records.Retention > 0 {
		keep = c.Records.Retention.String()
	}
	fmt.Fprintf(b, "records: kept %s, pruned every %s\n", keep, c.Records.PruneEvery)
}

// trunkHealthText describes a trunk's weight, limits, probe and tariff for Summary.
func trunkHealthText(t Trunk) string {
	probe := "probe: off"
	if p := t.Probe; p.On() {
		probe = fmt.Sprintf("probe: every %s (down after %d, up after %d)", p.Interval, p.DownAfter, p.UpAfter)
	}
	billing := "billing: not priced"
	if t.RatePerMinute > 0 {
		billing = fmt.Sprintf("billing: %d.%03d/min %s", t.RatePerMinute/1000, t.RatePerMinute%1000, t.BillingIncrement)
	}
	return fmt.Sprintf("weight %g\t%s calls, %s/s\t%s\t%s", t.Weight, limitText(t.MaxConcurrentCalls),
		limitText(int(t.MaxCallsPerSecond)), probe, billing)
}

func limitText(n int) string {
	if n < 0 {
		return "no limit"
	}
	return strconv.Itoa(n)
}

// tenantExtrasSummary writes, per tenant, what its customers' callbacks get and
// where its event callbacks go.
func tenantExtrasSummary(b *strings.Builder, c *Config) {
	for _, t := range c.Tenants {
		cb := "callbacks off"
		if t.Callbacks.Expiry > 0 {
			f := t.Callbacks.Fallback
			fallback := f.Action
			switch f.Action {
			case "reject":
				fallback += " " + strconv.Itoa(f.Status)
			case "forward":
				fallback += " to " + f.Number
			}
			if len(f.Agents) > 0 {
				fallback = "agents " + strings.Join(f.Agents, ", ") + ", then " + fallback
			}
			cb = fmt.Sprintf("callbacks for %s, ring %s, fallback %s", t.Callbacks.Expiry, t.Callbacks.RingTimeout, fallback)
		}
		events := "no event callbacks"
		if e := t.Events; e != nil {
			types := "all events"
			if len(e.Types) > 0 {
				types = strings.Join(e.Types, ", ")
			}
			events = fmt.Sprintf("events to %s signed by app %s (%s)", e.URL, e.App, types)
		}
		fmt.Fprintf(b, "tenant %s: %d seats, %s, %s\n", t.Name, t.Seats, cb, events)
	}
}
