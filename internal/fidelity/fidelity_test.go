package fidelity

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/slod-dev/slod/internal/burnrate"
	"github.com/slod-dev/slod/internal/check"
	"github.com/slod-dev/slod/internal/eval"
	"github.com/slod-dev/slod/internal/examplegen"
	"github.com/slod-dev/slod/internal/promapi"
	"github.com/slod-dev/slod/internal/recorded"
	"github.com/slod-dev/slod/internal/rules"
)

// The scenarios share one recording (one job each) and one Prometheus: twelve hours at a 15 s
// scrape interval, evaluated every minute.
var (
	scenarioStart = time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	scenarioEnd   = scenarioStart.Add(12 * time.Hour)
	step          = time.Minute
)

func at(h, m int) time.Time {
	return scenarioStart.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)
}

// pagePolicy and ticketPolicy are the SRE Workbook's two fastest window pairs; each scenario's
// incident is sized to trip one or both.
const windows = `
      windows:
        - {severity: page, long: 1h, short: 5m, burn_rate: 14.4}
        - {severity: ticket, long: 6h, short: 30m, burn_rate: 6}`

// scenario is one job in the recording and the SLO that reads it.
type scenario struct {
	name string
	job  examplegen.Job
	// sli is the SLO's sli: block, with JOB standing for the job name.
	sli       string
	objective float64
	// ratio is the Prometheus expression of the error ratio over a window W (the workbook's
	// recording rule, written straight against the raw series).
	ratio func(w string) string
	// want lists the severities that must fire at least once, so a scenario that silently stops
	// alerting in both engines cannot pass.
	want []burnrate.Severity
}

func eventsRatio(job string) func(string) string {
	return func(w string) string {
		return fmt.Sprintf(`(sum(rate(http_requests_total{job=%q,code=~"5.."}[%s])) / sum(rate(http_requests_total{job=%q}[%s])))`, job, w, job, w)
	}
}

func httpJob(rps float64, errs examplegen.Func) *examplegen.HTTP {
	return &examplegen.HTTP{RPS: examplegen.Const(rps), ErrorRatio: errs}
}

const eventsSLI = `
      events:
        error_query: sum(rate(http_requests_total{job="JOB",code=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_total{job="JOB"}[{{.window}}]))`

func scenarios() []scenario {
	base := examplegen.Const(0.0002)
	fast := examplegen.Incident(base, examplegen.Span{Start: at(4, 0), End: at(4, 30)}, 0, examplegen.Const(0.2))
	return []scenario{
		{
			// 20% errors for 30 minutes: a 200× burn, caught by the 1h/5m page within minutes and
			// by the 6h/30m pair a few minutes later.
			name:      "fast-burn",
			job:       examplegen.Job{Scrape: 15 * time.Second, Offset: 3 * time.Second, HTTP: httpJob(10, fast)},
			sli:       eventsSLI,
			objective: 99.9,
			want:      []burnrate.Severity{burnrate.Page, burnrate.Ticket},
		},
		{
			// Diurnal traffic at a fifth of the error budget: neither engine may alert.
			name:      "quiet",
			job:       examplegen.Job{Scrape: 15 * time.Second, Offset: 9 * time.Second, HTTP: &examplegen.HTTP{RPS: examplegen.Diurnal(10, 0.5, 6), ErrorRatio: base}},
			sli:       eventsSLI,
			objective: 99.9,
		},
		{
			// 1.2% errors for six hours: a 12× burn, under the 14.4× page but over the 6× ticket
			// once the 6h window has filled halfway.
			name:      "slow-burn",
			job:       examplegen.Job{Scrape: 15 * time.Second, Offset: 5 * time.Second, HTTP: httpJob(10, examplegen.Incident(base, examplegen.Span{Start: at(3, 0), End: at(9, 0)}, 0, examplegen.Const(0.012)))},
			sli:       eventsSLI,
			objective: 99.9,
			want:      []burnrate.Severity{burnrate.Ticket},
		},
		{
			// The process restarts before and in the middle of the incident: counters drop to zero
			// and both engines must count only real growth.
			name: "counter-reset",
			job: examplegen.Job{Scrape: 15 * time.Second, Offset: 7 * time.Second, HTTP: httpJob(10, fast),
				Restarts: []time.Time{at(2, 0).Add(20 * time.Second), at(4, 12).Add(40 * time.Second)}},
			sli:       eventsSLI,
			objective: 99.9,
			want:      []burnrate.Severity{burnrate.Page, burnrate.Ticket},
		},
		{
			// Scrapes fail for three minutes before and during the incident; the counters keep
			// counting and the growth shows up after the gap.
			name: "scrape-gap",
			job: examplegen.Job{Scrape: 15 * time.Second, Offset: 11 * time.Second, HTTP: httpJob(10, fast),
				Gaps: []examplegen.Span{{Start: at(2, 30), End: at(2, 33)}, {Start: at(4, 14), End: at(4, 17)}}},
			sli:       eventsSLI,
			objective: 99.9,
			want:      []burnrate.Severity{burnrate.Page, burnrate.Ticket},
		},
		{
			// The target cannot be scraped from 4:00 to 4:15, and the outage starts in the dark,
			// at 4:05. When the scrapes return, Prometheus's rate over the windows sees the
			// counters' growth across the gap and pages at once; slod bridges the gap (the growth
			// lands in the first step after it) and must page within two minutes of it.
			name: "gap-hides-start",
			job: examplegen.Job{Scrape: 15 * time.Second, Offset: 4 * time.Second,
				HTTP: httpJob(10, examplegen.Incident(base, examplegen.Span{Start: at(4, 5), End: at(4, 35)}, 0, examplegen.Const(0.2))),
				Gaps: []examplegen.Span{{Start: at(4, 0), End: at(4, 15)}}},
			sli:       eventsSLI,
			objective: 99.9,
			want:      []burnrate.Severity{burnrate.Page, burnrate.Ticket},
		},
		{
			// The median latency jumps from 0.2 s to 1.5 s for 40 minutes: most requests miss the
			// 1 s threshold of a 99% latency SLO.
			name: "latency",
			job: examplegen.Job{Scrape: 15 * time.Second, Offset: 13 * time.Second, HTTP: &examplegen.HTTP{
				RPS: examplegen.Const(10), ErrorRatio: examplegen.Const(0),
				LatencyMedian: examplegen.Incident(examplegen.Const(0.2), examplegen.Span{Start: at(5, 0), End: at(5, 40)}, 0, examplegen.Const(1.5)),
				LatencySigma:  0.5, Buckets: []float64{0.5, 1, 2},
			}},
			sli: `
      latency:
        histogram: http_request_duration_seconds{job="JOB"}
        threshold: 1`,
			objective: 99,
			ratio: func(w string) string {
				return fmt.Sprintf(`(1 - sum(rate(http_request_duration_seconds_bucket{job="latency",le="1"}[%s])) / sum(rate(http_request_duration_seconds_count{job="latency"}[%s])))`, w, w)
			},
			want: []burnrate.Severity{burnrate.Page, burnrate.Ticket},
		},
		{
			// Memory sits at 60% of the limit and climbs to 95% for 30 minutes: every minute of
			// that is a bad slice of a 99% "memory at or below 90%" SLO.
			name: "timeslice",
			job: examplegen.Job{Scrape: 15 * time.Second, Offset: 1 * time.Second, Gauges: []examplegen.Gauge{
				{Name: "memory_used_bytes", Value: examplegen.Incident(examplegen.Const(0.6e9), examplegen.Span{Start: at(6, 0), End: at(6, 30)}, 0, examplegen.Const(0.95e9)), Noise: 5e6, Round: 1},
				{Name: "memory_limit_bytes", Value: examplegen.Const(1e9)},
			}},
			sli: `
      timeslice:
        query: max(memory_used_bytes{job="JOB"}) / max(memory_limit_bytes{job="JOB"})
        op: lte
        threshold: 0.9
        slice: 1m`,
			objective: 99,
			ratio: func(w string) string {
				return fmt.Sprintf(`(1 - avg_over_time((max(memory_used_bytes{job="timeslice"}) / max(memory_limit_bytes{job="timeslice"}) <= bool 0.9)[%s:1m]))`, w)
			},
			want: []burnrate.Severity{burnrate.Page, burnrate.Ticket},
		},
	}
}

// TestFidelityAgainstPrometheus backfills one recording into a real Prometheus 2.42, asks it for
// the workbook's alert expression of every window pair at every step, and checks that slod's
// backtest of the same file fires the same alerts over the same intervals.
//
// The tolerance is one step on each edge: Prometheus 2.42 range selectors are left-closed
// ([t-w, t], one sample more than slod's (t-w, t]) and rate() extrapolates to the window's edges,
// while slod sums exact per-step counter increments (docs/DESIGN.md §2). The same error ratio can
// therefore cross a threshold one evaluation earlier or later in one engine than in the other.
func TestFidelityAgainstPrometheus(t *testing.T) {
	Binary(t, "prometheus")
	Binary(t, "promtool")
	scs := scenarios()
	cfg := examplegen.Config{Start: scenarioStart, End: scenarioEnd, Seed: 42}
	var yaml strings.Builder
	yaml.WriteString("version: slod/v1\nservice: fidelity\nslos:\n")
	for _, sc := range scs {
		j := sc.job
		j.Name = sc.name
		cfg.Jobs = append(cfg.Jobs, j)
		fmt.Fprintf(&yaml, "  - name: %s\n    objective: %s\n    sli:%s\n    alerting:%s\n", sc.name,
			strconv.FormatFloat(sc.objective, 'f', -1, 64), strings.ReplaceAll(sc.sli, "JOB", sc.name), windows)
	}
	series, err := examplegen.Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var om bytes.Buffer
	if err := check.WriteOpenMetrics(&om, series); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "fidelity.om")
	if err := os.WriteFile(file, om.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	slos, _, err := rules.Parse("fidelity.yaml", []byte(yaml.String()))
	if err != nil {
		t.Fatalf("scenario SLOs: %v\n%s", err, yaml.String())
	}

	db, err := recorded.ParseFile(file)
	if err != nil {
		t.Fatal(err)
	}
	first, last := scenarioStart.Add(step), scenarioEnd
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	results, err := eval.Backtest(ctx, recorded.NewQuerier(db), slos, first, last, eval.Options{Step: step, DataStart: scenarioStart}, nil)
	if err != nil {
		t.Fatal(err)
	}

	prom := StartOnRecording(t, file)
	// The same backtest over the HTTP API of the Prometheus that holds the recording: the portable
	// form of the queries and the bridges, as slod run sends them.
	remote, err := promapi.New(promapi.Config{URL: prom.URL}, promapi.Options{})
	if err != nil {
		t.Fatal(err)
	}
	overHTTP, err := eval.Backtest(ctx, remote, slos, first, last, eval.Options{Step: step, DataStart: scenarioStart}, nil)
	if err != nil {
		t.Fatal(err)
	}
	client, err := api.NewClient(api.Config{Address: prom.URL})
	if err != nil {
		t.Fatal(err)
	}
	papi := v1.NewAPI(client)

	for i, sc := range scs {
		t.Run(sc.name, func(t *testing.T) {
			slo := results[i].SLO
			if slo.Name != sc.name {
				t.Fatalf("result %d is %s, want %s", i, slo.Name, sc.name)
			}
			ratio := sc.ratio
			if ratio == nil {
				ratio = eventsRatio(sc.name)
			}
			// Per severity, the steps at which any of its window pairs fires in Prometheus.
			firing := map[burnrate.Severity]map[time.Time]bool{}
			for _, w := range slo.Alerting.Windows {
				thr := strconv.FormatFloat(w.Threshold(slo.Objective), 'g', -1, 64)
				expr := fmt.Sprintf("(%s > bool %s) * (%s > bool %s)",
					ratio(check.FormatDuration(w.Long)), thr, ratio(check.FormatDuration(w.Short)), thr)
				pts := queryRange(ctx, t, papi, expr, first, last)
				if firing[w.Severity] == nil {
					firing[w.Severity] = map[time.Time]bool{}
				}
				for ts, v := range pts {
					if v == 1 {
						firing[w.Severity][ts] = true
					}
				}
			}
			for _, sev := range []burnrate.Severity{burnrate.Page, burnrate.Ticket} {
				want := intervals(firing[sev], first, last)
				got, remote := spans(results[i].Alerts, sev), spans(overHTTP[i].Alerts, sev)
				t.Logf("%s: prometheus %v, slod %v, slod over HTTP %v", sev, want, got, remote)
				if !sameIntervals(got, want, step) {
					t.Errorf("%s intervals differ beyond one step:\n  prometheus %v\n  slod       %v", sev, want, got)
				}
				if !sameIntervals(remote, want, step) {
					t.Errorf("%s intervals over the HTTP API differ beyond one step:\n  prometheus %v\n  slod       %v", sev, want, remote)
				}
			}
			for _, sev := range sc.want {
				if len(firing[sev]) == 0 {
					t.Errorf("scenario never fires %s in Prometheus: the incident is too small to test anything", sev)
				}
			}
		})
	}
}

// spans are the intervals of the burn-rate alert of sev.
func spans(alerts []eval.AlertInterval, sev burnrate.Severity) []span {
	var out []span
	for _, a := range alerts {
		if a.Severity == sev && !a.NoData {
			out = append(out, span{a.Start, a.End})
		}
	}
	return out
}

// queryRange asks Prometheus for expr at every step in [start, end] and returns the single result
// series' points (none when the result is empty: the expression did not hold anywhere).
func queryRange(ctx context.Context, t *testing.T, papi v1.API, expr string, start, end time.Time) map[time.Time]float64 {
	return queryRangeGroup(ctx, t, papi, expr, start, end, nil)
}

// queryRangeGroup is queryRange of the one result series whose labels include group (a group of a
// grouped SLO; nil: the only series).
func queryRangeGroup(ctx context.Context, t *testing.T, papi v1.API, expr string, start, end time.Time, group map[string]string) map[time.Time]float64 {
	t.Helper()
	// Prometheus refuses more than 11,000 points per series; the scenarios are far below that.
	if n := end.Sub(start) / step; n >= 11000 {
		t.Fatalf("range of %d steps is over Prometheus's 11,000 points limit", n)
	}
	v, warn, _, err := papi.QueryRange(ctx, expr, v1.Range{Start: start, End: end, Step: step})
	if err != nil {
		t.Fatalf("query_range %s: %v", expr, err)
	}
	if len(warn) > 0 {
		t.Logf("query_range %s: warnings %v", expr, warn)
	}
	m, ok := v.(model.Matrix)
	if !ok {
		t.Fatalf("query_range %s: got %s, want a matrix", expr, v.Type())
	}
	m = slices.DeleteFunc(m, func(s *model.SampleStream) bool {
		for k, v := range group {
			if string(s.Metric[model.LabelName(k)]) != v {
				return true
			}
		}
		return false
	})
	if len(m) > 1 {
		t.Fatalf("query_range %s: %d series, want at most one", expr, len(m))
	}
	out := map[time.Time]float64{}
	for _, s := range m {
		for _, p := range s.Values {
			out[p.Timestamp.Time().UTC()] = float64(p.Value)
		}
	}
	return out
}

// span is an alert interval; End is nil while still firing at the last step.
type span struct {
	Start time.Time
	End   *time.Time
}

func (s span) String() string {
	end := "…"
	if s.End != nil {
		end = s.End.Format("01-02 15:04")
	}
	return s.Start.Format("01-02 15:04") + "–" + end
}

// intervals turns the set of firing steps into intervals the way eval reports them: start at the
// first firing step, end at the first step that no longer fires.
func intervals(firing map[time.Time]bool, first, last time.Time) []span {
	var times []time.Time
	for ts := range firing {
		times = append(times, ts)
	}
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	var out []span
	for i, ts := range times {
		if i == 0 || !ts.Equal(times[i-1].Add(step)) {
			out = append(out, span{Start: ts})
		}
		if i == len(times)-1 || !times[i+1].Equal(ts.Add(step)) {
			if end := ts.Add(step); !end.After(last) {
				out[len(out)-1].End = &end
			}
		}
	}
	return out
}

func sameIntervals(got, want []span, tol time.Duration) bool {
	if len(got) != len(want) {
		return false
	}
	near := func(a, b time.Time) bool {
		d := a.Sub(b)
		return d <= tol && d >= -tol
	}
	for i := range got {
		if !near(got[i].Start, want[i].Start) {
			return false
		}
		switch {
		case got[i].End == nil && want[i].End == nil:
		case got[i].End == nil || want[i].End == nil:
			return false
		case !near(*got[i].End, *want[i].End):
			return false
		}
	}
	return true
}
