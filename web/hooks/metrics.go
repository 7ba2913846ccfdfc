package hooks

import "github.com/prometheus/client_golang/prometheus"

// descs are the descriptions of the Dispatcher's metrics, per tenant.
type descs struct {
	delivered, failed, dropped, retries, queued *prometheus.Desc
}

func newDescs() descs {
	tenant := []string{"tenant"}
	return descs{
		delivered: prometheus.NewDesc("callgate_event_callbacks_delivered_total", "Events a tenant's receiver accepted (2xx).", tenant, nil),
		failed: prometheus.NewDesc("callgate_event_callbacks_failed_total",
			"Events given up: attempts exhausted, a final 4xx answer, or cut off at shutdown.", tenant, nil),
		dropped: prometheus.NewDesc("callgate_event_callbacks_dropped_total",
			"Events never queued because the tenant's queue was full (a slow or dead receiver) or callgate was stopping.", tenant, nil),
		retries: prometheus.NewDesc("callgate_event_callbacks_retries_total", "Delivery attempts after an event's first.", tenant, nil),
		queued:  prometheus.NewDesc("callgate_event_callbacks_queued", "Events waiting for delivery.", tenant, nil),
	}
}

var _ prometheus.Collector = (*Dispatcher)(nil)

// Describe sends the descriptions of the event callback metrics (prometheus.Collector).
func (d *Dispatcher) Describe(ch chan<- *prometheus.Desc) {
	m := d.metrics
	for _, desc := range []*prometheus.Desc{m.delivered, m.failed, m.dropped, m.retries, m.queued} {
		ch <- desc
	}
}

// Collect sends every tenant's counters and queue length (prometheus.Collector).
func (d *Dispatcher) Collect(ch chan<- prometheus.Metric) {
	m := d.metrics
	for name := range d.targets {
		s := d.Stats(name)
		ch <- prometheus.MustNewConstMetric(m.delivered, prometheus.CounterValue, float64(s.Delivered), name)
		ch <- prometheus.MustNewConstMetric(m.failed, prometheus.CounterValue, float64(s.Failed), name)
		ch <- prometheus.MustNewConstMetric(m.dropped, prometheus.CounterValue, float64(s.Dropped), name)
		ch <- prometheus.MustNewConstMetric(m.retries, prometheus.CounterValue, float64(s.Retries), name)
		ch <- prometheus.MustNewConstMetric(m.queued, prometheus.GaugeValue, float64(s.Queued), name)
	}
}
