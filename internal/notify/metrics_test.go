package notify

import (
	"fmt"
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// counterSeries returns the samples of the counter name in reg as "receiver/label=value".
func counterSeries(t *testing.T, reg *prometheus.Registry, name, label string) []string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			var recv, other string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "receiver":
					recv = l.GetValue()
				case label:
					other = l.GetValue()
				}
			}
			out = append(out, fmt.Sprintf("%s/%s=%g", recv, other, m.GetCounter().GetValue()))
		}
	}
	slices.Sort(out)
	return out
}

// TestCountersStartAtZero: every receiver's delivery counters exist at 0 for every outcome and
// failure reason from the start (a counter born at 1 is invisible to rate() and increase(), so
// the first failure of a receiver would never show), and they follow the receivers a reload
// configures.
func TestCountersStartAtZero(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	d := NewDispatcher(&memOutbox{}, map[string]Notifier{"oncall": nil, "tickets": nil}, DispatcherOptions{Metrics: m})
	want := func(receivers ...string) (outcomes, reasons []string) {
		for _, r := range receivers {
			for _, o := range []string{"success", "retry", "failed", "silenced", "superseded"} {
				outcomes = append(outcomes, r+"/"+o+"=0")
			}
			for _, reason := range []string{"4xx", "429", "5xx", "timeout", "network", "other"} {
				reasons = append(reasons, r+"/"+reason+"=0")
			}
		}
		slices.Sort(outcomes)
		slices.Sort(reasons)
		return outcomes, reasons
	}
	check := func(when string, receivers ...string) {
		t.Helper()
		wantOutcomes, wantReasons := want(receivers...)
		if got := counterSeries(t, reg, "slod_notifications_total", "outcome"); !slices.Equal(got, wantOutcomes) {
			t.Errorf("%s: slod_notifications_total\n got %q\nwant %q", when, got, wantOutcomes)
		}
		if got := counterSeries(t, reg, "slod_notification_failures_total", "reason"); !slices.Equal(got, wantReasons) {
			t.Errorf("%s: slod_notification_failures_total\n got %q\nwant %q", when, got, wantReasons)
		}
	}
	check("at start", "oncall", "tickets")
	d.SetNotifiers(map[string]Notifier{"oncall": nil, "audit": nil})
	check("after a reload", "audit", "oncall")
}
