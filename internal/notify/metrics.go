package notify

import "github.com/prometheus/client_golang/prometheus"

// Outcomes of slod_notifications_total (DESIGN §7).
const (
	OutcomeSuccess  = "success"
	OutcomeRetry    = "retry"
	OutcomeFailed   = "failed"
	OutcomeSilenced = "silenced"
)

// Metrics are the delivery metrics of DESIGN §7. Create them once per process and hand the same
// value to every Dispatcher built across reloads; a nil *Metrics records nothing.
type Metrics struct {
	notifications *prometheus.CounterVec
	pending       prometheus.Gauge
}

// NewMetrics creates the metrics and registers them on reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		notifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slod_notifications_total",
			Help: "Notification delivery attempts by receiver and outcome (success, retry, failed, silenced).",
		}, []string{"receiver", "outcome"}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "slod_outbox_pending",
			Help: "Notifications written to the outbox and not yet delivered.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.notifications, m.pending)
	}
	return m
}

// Count adds one notification with this outcome for receiver.
func (m *Metrics) Count(receiver, outcome string) {
	if m == nil {
		return
	}
	m.notifications.WithLabelValues(receiver, outcome).Inc()
}

// SetPending records the outbox length.
func (m *Metrics) SetPending(n int) {
	if m == nil {
		return
	}
	m.pending.Set(float64(n))
}

// ObserveReconcile counts the alerts a reconciliation held back because of a silence.
func (m *Metrics) ObserveReconcile(res ReconcileResult) {
	for _, s := range res.Silenced {
		m.Count(s.Receiver, OutcomeSilenced)
	}
}
