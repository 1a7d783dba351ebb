package notify

import (
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/prometheus/client_golang/prometheus"
)

// Outcomes of slod_notifications_total (DESIGN §7).
const (
	OutcomeSuccess = "success"
	OutcomeRetry   = "retry"
	// OutcomeFailed counts rejections (each one: the notification is sent again after the
	// receiver's repeat interval) and the entries dropped because they cannot be sent at all.
	OutcomeFailed   = "failed"
	OutcomeSilenced = "silenced"
	// OutcomeSuperseded counts entries not sent because a newer one for the same alert and
	// receiver leaves the receiver in the right state by itself (Dispatcher).
	OutcomeSuperseded = "superseded"
)

// Metrics are the delivery metrics of DESIGN §7. Create them once per process and hand the same
// value to every Dispatcher built across reloads; a nil *Metrics records nothing.
type Metrics struct {
	notifications *prometheus.CounterVec
	failures      *prometheus.CounterVec
	latency       *prometheus.HistogramVec
	pending       prometheus.Gauge
	oldestAge     prometheus.GaugeFunc

	mu     sync.Mutex
	clock  clock.Clock
	oldest time.Time // Created of the oldest pending entry; zero when none
	// receivers are the receivers whose counters SetReceivers initialised.
	receivers map[string]bool
}

// outcomes and failureReasons are every value of the outcome and reason labels, which
// SetReceivers initialises at 0.
var (
	outcomes       = []string{OutcomeSuccess, OutcomeRetry, OutcomeFailed, OutcomeSilenced, OutcomeSuperseded}
	failureReasons = []string{Reason4xx, Reason429, Reason5xx, ReasonTimeout, ReasonNetwork, ReasonOther}
)

// NewMetrics creates the metrics and registers them on reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		clock: clock.New(),
		notifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slod_notifications_total",
			Help: "Notification delivery attempts by receiver and outcome (success, retry, failed, silenced, superseded).",
		}, []string{"receiver", "outcome"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slod_notification_failures_total",
			Help: "Failed notification delivery attempts by receiver and reason (4xx, 429, 5xx, timeout, network, other).",
		}, []string{"receiver", "reason"}),
		// From 10 ms to about 20 s: the default timeout of an attempt is 10 s.
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "slod_notification_latency_seconds",
			Help:    "Duration of notification delivery attempts by receiver, failed ones included.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 12),
		}, []string{"receiver"}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "slod_outbox_pending",
			Help: "Notifications written to the outbox and not yet delivered.",
		}),
	}
	m.oldestAge = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "slod_outbox_oldest_pending_age_seconds",
		Help: "Age of the oldest notification not yet delivered (0 when none): how late the latest undelivered page is.",
	}, m.oldestPendingAge)
	if reg != nil {
		reg.MustRegister(m.notifications, m.failures, m.latency, m.pending, m.oldestAge)
	}
	return m
}

// SetReceivers makes the counters of every receiver in names exist at 0 for every outcome and
// failure reason, so that rate() and increase() see a receiver's first failure (a counter that
// appears at 1 is invisible to them), and removes the series of the receivers no longer
// configured. The Dispatcher calls it with its notifiers, at start and at every reload.
func (m *Metrics) SetReceivers(names []string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	next := make(map[string]bool, len(names))
	for _, r := range names {
		next[r] = true
		for _, o := range outcomes {
			m.notifications.WithLabelValues(r, o)
		}
		for _, reason := range failureReasons {
			m.failures.WithLabelValues(r, reason)
		}
	}
	for _, r := range slices.Sorted(maps.Keys(m.receivers)) {
		if !next[r] {
			gone := map[string]string{"receiver": r}
			m.notifications.DeletePartialMatch(gone)
			m.failures.DeletePartialMatch(gone)
			m.latency.DeletePartialMatch(gone)
		}
	}
	m.receivers = next
}

// Count adds one notification with this outcome for receiver.
func (m *Metrics) Count(receiver, outcome string) {
	if m == nil {
		return
	}
	m.notifications.WithLabelValues(receiver, outcome).Inc()
}

// fail counts a failed delivery attempt by reason (failureReason).
func (m *Metrics) fail(receiver, reason string) {
	if m == nil {
		return
	}
	m.failures.WithLabelValues(receiver, reason).Inc()
}

// observeLatency records how long one delivery attempt took.
func (m *Metrics) observeLatency(receiver string, d time.Duration) {
	if m == nil {
		return
	}
	m.latency.WithLabelValues(receiver).Observe(d.Seconds())
}

// SetPending records the outbox length and when its oldest entry was created (zero: empty).
func (m *Metrics) SetPending(n int, oldest time.Time) {
	if m == nil {
		return
	}
	m.pending.Set(float64(n))
	m.mu.Lock()
	m.oldest = oldest
	m.mu.Unlock()
}

// useClock makes the oldest entry's age be read on clk (the Dispatcher's).
func (m *Metrics) useClock(clk clock.Clock) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.clock = clk
	m.mu.Unlock()
}

// oldestPendingAge is computed when scraped, so that it keeps growing while the dispatcher waits
// for a receiver (or cannot read the outbox at all) instead of showing the age of its last pass.
func (m *Metrics) oldestPendingAge() float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.oldest.IsZero() {
		return 0
	}
	return max(m.clock.Since(m.oldest).Seconds(), 0)
}

// ObserveReconcile counts the alerts a reconciliation held back because of a silence.
func (m *Metrics) ObserveReconcile(res ReconcileResult) {
	for _, s := range res.Silenced {
		m.Count(s.Receiver, OutcomeSilenced)
	}
}
