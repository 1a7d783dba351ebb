package daemon

import (
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/slod-dev/slod/internal/burnrate"
	"github.com/slod-dev/slod/internal/rules"
)

// TestSLOCollector: the per-SLO gauges are read from the SLO states when scraped: every SLO's
// objective, the rest once it has been evaluated, each label set once.
func TestSLOCollector(t *testing.T) {
	evaluated := &sloState{
		slo: &rules.SLO{Service: "shop", Name: "availability", Objective: 0.99},
		insts: []*instState{{
			evaluated: true,
			status: burnrate.Status{BudgetRemaining: 0.5, Windows: []burnrate.WindowBurn{
				{Window: 5 * time.Minute, BurnRate: 2}, {Window: time.Hour, BurnRate: 1.5}, {Window: time.Hour, BurnRate: 1.5},
			}},
			st: burnrate.State{Alerts: []burnrate.AlertState{
				{Severity: burnrate.Page, Phase: burnrate.Firing}, {Severity: burnrate.Ticket, Phase: burnrate.Pending},
				{Severity: burnrate.Ticket, NoData: true},
			}},
		}},
	}
	fresh := &sloState{slo: &rules.SLO{Service: "shop", Name: "latency", Objective: 0.9}}
	d := &Daemon{slos: []*sloState{evaluated, fresh}}
	reg := prometheus.NewRegistry()
	reg.MustRegister(newSLOCollector(d))
	got := gather(t, reg)
	want := []string{
		`slod_alert_state{service="shop",severity="page",slo="availability"} 2`,
		`slod_alert_state{service="shop",severity="ticket",slo="availability"} 1`,
		`slod_alert_state{service="shop",severity="ticket_no_data",slo="availability"} 0`,
		`slod_slo_burn_rate{service="shop",slo="availability",window="1h"} 1.5`,
		`slod_slo_burn_rate{service="shop",slo="availability",window="5m"} 2`,
		`slod_slo_error_budget_remaining{service="shop",slo="availability"} 0.5`,
		`slod_slo_objective{service="shop",slo="availability"} 0.99`,
		`slod_slo_objective{service="shop",slo="latency"} 0.9`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("metrics\n got %q\nwant %q", got, want)
	}

	// A grouped SLO's gauges carry its group labels; every gauge has every grouping's labels (an
	// empty value, absent to Prometheus, for the others).
	grouped := &sloState{slo: &rules.SLO{Service: "gw", Name: "avail", Objective: 0.999, GroupBy: []string{"model"}},
		insts: []*instState{{key: `{model="m1"}`, labels: map[string]string{"model": "m1"}, evaluated: true,
			status: burnrate.Status{BudgetRemaining: 0.25}}}}
	d.slos = []*sloState{grouped, fresh}
	got = gather(t, reg)
	want = []string{
		`slod_slo_error_budget_remaining{model="m1",service="gw",slo="avail"} 0.25`,
		`slod_slo_objective{model="",service="shop",slo="latency"} 0.9`,
		`slod_slo_objective{model="m1",service="gw",slo="avail"} 0.999`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("grouped metrics\n got %q\nwant %q", got, want)
	}

	// A reload that drops an SLO drops its gauges.
	d.slos = []*sloState{fresh}
	if got := gather(t, reg); !slices.Equal(got, []string{`slod_slo_objective{service="shop",slo="latency"} 0.9`}) {
		t.Errorf("after the reload: %q", got)
	}
}

// gather returns every sample of reg as `name{labels} value`, sorted.
func gather(t *testing.T, reg *prometheus.Registry) []string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			s := mf.GetName() + "{"
			for i, l := range m.GetLabel() {
				if i > 0 {
					s += ","
				}
				s += l.GetName() + `="` + l.GetValue() + `"`
			}
			out = append(out, s+"} "+formatFloat(m.GetGauge().GetValue()))
		}
	}
	slices.Sort(out)
	return out
}
