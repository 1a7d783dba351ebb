package daemon

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

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
	gauges := func() []string {
		// The source error counters have a test of their own.
		return slices.DeleteFunc(gather(t, reg), func(s string) bool { return strings.HasPrefix(s, "slod_slo_source_errors_total") })
	}
	got := gauges()
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
	got = gauges()
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
	if got := gauges(); !slices.Equal(got, []string{`slod_slo_objective{service="shop",slo="latency"} 0.9`}) {
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
			v := m.GetGauge().GetValue()
			if mf.GetType() == dto.MetricType_COUNTER {
				v = m.GetCounter().GetValue()
			}
			out = append(out, s+"} "+formatFloat(v))
		}
	}
	slices.Sort(out)
	return out
}

// sourceErrorCount is slod_slo_source_errors_total{service,slo,reason} of d as scraped.
func sourceErrorCount(t *testing.T, d *Daemon, service, name, reason string) float64 {
	t.Helper()
	want := `slod_slo_source_errors_total{reason="` + reason + `",service="` + service + `",slo="` + name + `"} `
	for _, s := range gather(t, d.registry) {
		if v, ok := strings.CutPrefix(s, want); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatalf("no %s", want)
	return 0
}

// TestSourceErrorCountersStartAtZero: every SLO's slod_slo_source_errors_total exists at 0 for
// every reason before its first error (a counter born at 1 is invisible to rate(), so
// SlodSLOSourceErrors missed an SLO's first failures), counts each failed cycle, keeps its count
// across a reload, and leaves with its SLO.
func TestSourceErrorCountersStartAtZero(t *testing.T) {
	h := newHarness(t)
	counters := func() []string {
		var out []string
		for _, s := range gather(t, h.d.registry) {
			if strings.HasPrefix(s, "slod_slo_source_errors_total") {
				out = append(out, s)
			}
		}
		return out
	}
	want := func(counts map[string]string, slos ...string) []string {
		var out []string
		for _, slo := range slos {
			for _, reason := range []string{"timeout", "5xx", "4xx", "network", "bad_response", "canceled", "no_data", "invalid"} {
				v := "0"
				if c, ok := counts[slo+"/"+reason]; ok {
					v = c
				}
				svc, name, _ := strings.Cut(slo, "/")
				out = append(out, `slod_slo_source_errors_total{reason="`+reason+`",service="`+svc+`",slo="`+name+`"} `+v)
			}
		}
		slices.Sort(out)
		return out
	}
	if got, w := counters(), want(nil, "shop/availability"); !slices.Equal(got, w) {
		t.Errorf("at start\n got %q\nwant %q", got, w)
	}
	h.src.set(func(f *fakeSource) { f.empty = true })
	h.cycle(t0)
	h.cycle(t0.Add(time.Minute))
	if got, w := counters(), want(map[string]string{"shop/availability/no_data": "2"}, "shop/availability"); !slices.Equal(got, w) {
		t.Errorf("after two cycles without data\n got %q\nwant %q", got, w)
	}
	writeFile(t, filepath.Join(h.dir, "rules", "cart.yaml"), strings.Replace(testRules, "service: shop", "service: cart", 1))
	if err := h.d.Reload(); err != nil {
		t.Fatal(err)
	}
	if got, w := counters(), want(map[string]string{"shop/availability/no_data": "2"}, "cart/availability", "shop/availability"); !slices.Equal(got, w) {
		t.Errorf("after a reload adding an SLO\n got %q\nwant %q", got, w)
	}
	if err := os.Remove(filepath.Join(h.dir, "rules", "shop.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := h.d.Reload(); err != nil {
		t.Fatal(err)
	}
	if got, w := counters(), want(nil, "cart/availability"); !slices.Equal(got, w) {
		t.Errorf("after a reload removing an SLO\n got %q\nwant %q", got, w)
	}
}

// formatFloat prints with at most 4 significant digits, never 0.0009999999999999432.
func formatFloat(v float64) string {
	return fmt.Sprintf("%.4g", v)
}
