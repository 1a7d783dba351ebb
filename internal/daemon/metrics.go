package daemon

import (
	"runtime"
	"slices"
	"sync/atomic"

	"github.com/prometheus/common/model"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/slod-dev/slod/internal/promapi"
	"github.com/slod-dev/slod/internal/rules"
)

// metrics are the daemon's own metrics of DESIGN §7 (the notification metrics belong to package
// notify and are registered by it on the same registry).
type metrics struct {
	buildInfo         *prometheus.GaugeVec
	cycleDuration     prometheus.Histogram
	cycles            *prometheus.CounterVec
	lastSuccess       prometheus.Gauge
	queries           *prometheus.CounterVec
	slos              *prometheus.GaugeVec
	groupsExcess      *prometheus.CounterVec
	freshSLOs         prometheus.Gauge
	storeSize         prometheus.Gauge
	storeErrors       prometheus.Counter
	reloadSuccessful  prometheus.Gauge
	reloadSuccessTime prometheus.Gauge
}

// Cycle results of slod_evaluation_cycles_total.
const (
	cycleSuccess = "success"
	cycleFailure = "failure"
	cycleSkipped = "skipped"
	// cycleNoData is a cycle committed without any SLO getting data for its newest step.
	cycleNoData = "no_data"
)

func newMetrics(reg prometheus.Registerer, version, revision string) *metrics {
	m := &metrics{
		buildInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "slod_build_info", Help: "A metric with a constant 1 labelled by the version slod was built from.",
		}, []string{"version", "revision", "goversion"}),
		// Buckets from 10 ms to about 82 s: a cycle of a few SLOs takes milliseconds, one of 10,000
		// SLOs must stay well inside a one-minute interval.
		cycleDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "slod_evaluation_cycle_duration_seconds", Help: "How long an evaluation cycle took, from the first query to the store commit.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 14),
		}),
		cycles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slod_evaluation_cycles_total", Help: "Evaluation cycles by result: success, no_data (committed, but no SLO got data from the source), failure (nothing committed) or skipped (the previous cycle overran).",
		}, []string{"result"}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "slod_last_successful_cycle_timestamp_seconds", Help: "Evaluation time of the last cycle committed to the store in which an SLO got data from the source.",
		}),
		freshSLOs: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "slod_slos_with_fresh_data", Help: "SLOs whose newest step had data from the source at the last committed cycle.",
		}),
		queries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slod_queries_total", Help: "Queries sent to the Prometheus API by result: success, error, empty or nan.",
		}, []string{"result"}),
		slos: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "slod_slos", Help: "SLOs by their most severe alert state: inactive, pending or firing.",
		}, []string{"state"}),
		groupsExcess: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "slod_slo_groups_not_evaluated_total", Help: "Groups of a grouped SLO found past its max_groups, which are not evaluated.",
		}, []string{"service", "slo"}),
		storeSize: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "slod_store_size_bytes", Help: "Size of the state file.",
		}),
		storeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "slod_store_errors_total", Help: "Failed reads and writes of the state store.",
		}),
		reloadSuccessful: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "slod_config_last_reload_successful", Help: "Whether the last configuration reload succeeded.",
		}),
		reloadSuccessTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "slod_config_last_reload_success_timestamp_seconds", Help: "Timestamp of the last successful configuration reload.",
		}),
	}
	m.buildInfo.WithLabelValues(version, revision, runtime.Version()).Set(1)
	for _, r := range []string{cycleSuccess, cycleNoData, cycleFailure, cycleSkipped} {
		m.cycles.WithLabelValues(r)
	}
	for _, r := range []string{"success", "error", "empty", "nan"} {
		m.queries.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.buildInfo, m.cycleDuration, m.cycles, m.lastSuccess, m.queries, m.slos, m.groupsExcess, m.freshSLOs, m.storeSize, m.storeErrors,
			m.reloadSuccessful, m.reloadSuccessTime,
			collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	return m
}

// sourceErrorReasons are the values of slod_slo_source_errors_total's reason label: promapi's
// classes of a failed query, and the daemon's own (no_data, invalid).
var sourceErrorReasons = [...]string{promapi.ReasonTimeout, promapi.ReasonServer, promapi.ReasonClient, promapi.ReasonNetwork,
	promapi.ReasonBadResponse, promapi.ReasonCanceled, reasonNoData, reasonInvalid}

// sourceErrorCounts are an SLO's slod_slo_source_errors_total, one counter per reason of
// sourceErrorReasons. They are kept with the SLO (across reloads, by id) rather than in a
// CounterVec, so that every reason of every SLO is exported from 0 on (a counter that appears at
// 1 is invisible to rate() and increase()) at 64 bytes per SLO, and leave with the SLO.
type sourceErrorCounts [len(sourceErrorReasons)]atomic.Uint64

// add counts one source error of reason; one outside sourceErrorReasons (none is) counts as
// invalid rather than vanish.
func (c *sourceErrorCounts) add(reason string) {
	i := slices.Index(sourceErrorReasons[:], reason)
	if i < 0 {
		i = slices.Index(sourceErrorReasons[:], reasonInvalid)
	}
	c[i].Add(1)
}

// sloCollector exposes the gauges of every SLO (DESIGN §7: objective, burn rate per window, budget
// remaining, alert state) and its source error counters from the daemon's SLO states when scraped,
// instead of keeping a gauge per SLO and label set: those children cost about 6 KiB per SLO, a
// fifth of what an SLO holds, to repeat numbers the SLO states already have. Like the gauges set after each commit, it shows
// what the last committed cycle computed, and nothing of SLOs a reload removed. The gauges of a
// group of a grouped SLO carry the group's labels: every gauge has the labels of every grouping of
// the running rules (empty, which Prometheus reads as absent, where an SLO has no such group label),
// so the label set of a metric family follows the rules; the collector is therefore unchecked.
type sloCollector struct {
	d *Daemon
}

func newSLOCollector(d *Daemon) *sloCollector { return &sloCollector{d: d} }

// Describe sends nothing: the gauges' labels follow the rules' group_by labels (an unchecked
// collector).
func (c *sloCollector) Describe(chan<- *prometheus.Desc) {}

// sloDescs are the descriptors of one scrape, with the group labels of the running rules.
type sloDescs struct {
	objective, burnRate, budgetRemaining, alertState *prometheus.Desc
	// sourceErrors are counted per SLO (a grouped SLO's queries fail for all its groups at once).
	sourceErrors *prometheus.Desc
}

func newSLODescs(group []string) sloDescs {
	with := func(ls ...string) []string { return append(ls, group...) }
	return sloDescs{
		objective: prometheus.NewDesc("slod_slo_objective", "An SLO's objective as a ratio.",
			with("service", "slo"), nil),
		burnRate: prometheus.NewDesc("slod_slo_burn_rate", "Burn rate of an SLO's error budget over each window of its alert policy.",
			with("service", "slo", "window"), nil),
		budgetRemaining: prometheus.NewDesc("slod_slo_error_budget_remaining", "Share of an SLO's error budget left over its period (negative when overspent).",
			with("service", "slo"), nil),
		alertState: prometheus.NewDesc("slod_alert_state", "State of an SLO alert: 0 inactive, 1 pending, 2 firing.",
			with("service", "slo", "severity"), nil),
		sourceErrors: prometheus.NewDesc("slod_slo_source_errors_total", "Cycles in which an SLO got no usable data from the source, by reason.",
			[]string{"service", "slo", "reason"}, nil),
	}
}

// Collect sends the gauges of every configured SLO and group, the burn rates, budget and alert
// states only once it has been evaluated, and every SLO's source error counters.
func (c *sloCollector) Collect(ch chan<- prometheus.Metric) {
	c.d.mu.RLock()
	defer c.d.mu.RUnlock()
	var groupLabels []string
	for _, s := range c.d.slos {
		groupLabels = append(groupLabels, s.slo.GroupBy...)
	}
	slices.Sort(groupLabels)
	groupLabels = slices.Compact(groupLabels)
	descs := newSLODescs(groupLabels)
	for _, s := range c.d.slos {
		insts := s.insts
		if len(insts) == 0 {
			insts = []*instState{{}}
		}
		for _, is := range insts {
			values := make([]string, len(groupLabels))
			for i, l := range groupLabels {
				values[i] = is.labels[l]
			}
			descs.collect(ch, s.slo, is, values)
		}
		descs.collectSourceErrors(ch, s)
	}
}

// collectSourceErrors sends the SLO's source error counters, every reason from 0 on.
func (d sloDescs) collectSourceErrors(ch chan<- prometheus.Metric, s *sloState) {
	for i, reason := range sourceErrorReasons {
		var n uint64
		if s.sourceErrs != nil {
			n = s.sourceErrs[i].Load()
		}
		ch <- prometheus.MustNewConstMetric(d.sourceErrors, prometheus.CounterValue, float64(n), s.slo.Service, s.slo.Name, reason)
	}
}

// collect sends the gauges of one instance; group are the values of the group labels.
func (d sloDescs) collect(ch chan<- prometheus.Metric, slo *rules.SLO, is *instState, group []string) {
	gauge := func(desc *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, append(labels, group...)...)
	}
	svc, name := slo.Service, slo.Name
	gauge(d.objective, slo.Objective, svc, name)
	if !is.evaluated {
		return
	}
	// A label set may be sent only once: windows and alerts are distinct by construction, but a
	// duplicate must not fail the whole scrape. Unknown is no sample, never 0: no burn rate for a
	// window without a step with data, no budget while the SLO's window has none, no state for an
	// unknown alert.
	var seen []string
	for _, w := range is.status.Windows {
		if win := model.Duration(w.Window).String(); !w.NoData && !slices.Contains(seen, win) {
			seen = append(seen, win)
			gauge(d.burnRate, w.BurnRate, svc, name, win)
		}
	}
	if !is.status.NoData {
		gauge(d.budgetRemaining, is.status.BudgetRemaining, svc, name)
	}
	seen = seen[:0]
	for _, a := range is.st.Alerts {
		sev := string(a.Severity)
		switch {
		case a.NoData:
			sev += "_no_data"
		case a.Budget:
			sev += "_budget"
		}
		if st := is.alertState(a); st != stateUnknown && !slices.Contains(seen, sev) {
			seen = append(seen, sev)
			gauge(d.alertState, phaseValue(st), svc, name, sev)
		}
	}
}
