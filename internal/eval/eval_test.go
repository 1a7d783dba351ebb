package eval

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/slod-dev/slod/internal/burnrate"
	"github.com/slod-dev/slod/internal/recorded"
	"github.com/slod-dev/slod/internal/rules"
)

var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func minute(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }

// testDB holds one sample a minute at every step boundary from t0 to lastSample: 600 requests a
// minute on job "api", 120 of them (20%) errors in the steps ending at minutes 61 to 80. Without
// noise, every window's error ratio is known exactly, and so is every alert edge.
func testDB(t *testing.T, lastSample int) *recorded.DB {
	t.Helper()
	db := recorded.NewDB()
	var ts []int64
	var ok, bad []float64
	okV, badV := 0.0, 0.0
	for m := 0; m <= lastSample; m++ {
		if m > 0 {
			if m >= 61 && m <= 80 {
				okV += 480
				badV += 120
			} else {
				okV += 600
			}
		}
		ts = append(ts, minute(m).UnixMilli())
		ok = append(ok, okV)
		bad = append(bad, badV)
	}
	if err := db.Add(labels.FromStrings("__name__", "req_total", "job", "api", "code", "200"), ts, ok); err != nil {
		t.Fatal(err)
	}
	if err := db.Add(labels.FromStrings("__name__", "req_total", "job", "api", "code", "500"), ts, bad); err != nil {
		t.Fatal(err)
	}
	return db
}

const sloFile = `version: slod/v1
service: svc
slos:
  - name: avail
    objective: 99.9
    sli:
      events:
        error_query: sum(rate(req_total{job="api",code=~"5.."}[{{.window}}]))
        total_query: sum(rate(req_total{job="api"}[{{.window}}]))
    alerting:
      windows:
        - {severity: page, long: 1h, short: 5m, burn_rate: 14.4}
        - {severity: ticket, long: 6h, short: 30m, burn_rate: 6}
      no_data: {after: 15m, severity: ticket}
  - name: quiet
    objective: 90
    sli:
      events:
        error_query: sum(rate(req_total{job="api",code=~"5.."}[{{.window}}]))
        total_query: sum(rate(req_total{job="api"}[{{.window}}]))
  - name: absent
    objective: 99
    sli:
      events:
        error_query: sum(rate(nothing_total{code=~"5.."}[{{.window}}]))
        total_query: sum(rate(nothing_total[{{.window}}]))
    alerting:
      no_data: {after: 15m, severity: ticket}
`

func loadSLOs(t *testing.T) []*rules.SLO {
	t.Helper()
	slos, _, err := rules.Parse("test.yaml", []byte(sloFile))
	if err != nil {
		t.Fatal(err)
	}
	return slos
}

// interval is an AlertInterval in minutes since t0 (end -1: still firing).
type interval struct {
	sev        burnrate.Severity
	noData     bool
	start, end int
}

func (i interval) String() string {
	return fmt.Sprintf("%s/%v[%d,%d)", i.sev, i.noData, i.start, i.end)
}

func minutes(as []AlertInterval) []interval {
	var out []interval
	for _, a := range as {
		iv := interval{a.Severity, a.NoData, int(a.Start.Sub(t0) / time.Minute), -1}
		if a.End != nil {
			iv.end = int(a.End.Sub(t0) / time.Minute)
		}
		out = append(out, iv)
	}
	return out
}

func TestBacktest(t *testing.T) {
	tests := []struct {
		name       string
		lastSample int
		from, to   int
		want       map[string][]interval
		wantPeak   float64
	}{
		{
			// Page: the 1h window passes 1.44% after five incident minutes (600/36000) and the 5m
			// window drops to 0 at 85. Ticket: with an hour of data, the 6h window passes 0.6% after
			// two incident minutes (240/37200); the 30m window holds an incident step until 110.
			name: "page and ticket", lastSample: 180, from: 1, to: 180,
			want: map[string][]interval{
				"avail": {{burnrate.Ticket, false, 62, 110}, {burnrate.Page, false, 65, 85}},
				// An SLI that never has data: its no-data alert counts from the first evaluation.
				"absent": {{burnrate.Ticket, true, 16, -1}},
			},
			wantPeak: 200,
		},
		{
			name: "still firing at the last evaluation", lastSample: 180, from: 1, to: 75,
			want: map[string][]interval{
				"avail":  {{burnrate.Ticket, false, 62, -1}, {burnrate.Page, false, 65, -1}},
				"absent": {{burnrate.Ticket, true, 16, -1}},
			},
			wantPeak: 200,
		},
		{
			// The history before from is where the first evaluation starts from, so an alert whose
			// windows already burn at from fires at the first evaluation time, not later.
			name: "already firing at from", lastSample: 180, from: 70, to: 180,
			want: map[string][]interval{
				"avail":  {{burnrate.Page, false, 70, 85}, {burnrate.Ticket, false, 70, 110}},
				"absent": {{burnrate.Ticket, true, 85, -1}},
			},
			wantPeak: 200,
		},
		{
			// The step ending at 120 holds the last sample; a step without a fresh sample has no
			// data (however recent the last one), so no data is measured from 120 and fires 15
			// minutes later.
			name: "no data", lastSample: 120, from: 1, to: 180,
			want: map[string][]interval{
				"avail":  {{burnrate.Ticket, false, 62, 110}, {burnrate.Page, false, 65, 85}, {burnrate.Ticket, true, 135, -1}},
				"absent": {{burnrate.Ticket, true, 16, -1}},
			},
			wantPeak: 200,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			slos := loadSLOs(t)
			db := testDB(t, tc.lastSample)
			var mu sync.Mutex
			observed := map[string][]time.Time{}
			obs := func(inst *Instance, at time.Time, st burnrate.State, status burnrate.Status) {
				slo := inst.SLO
				mu.Lock()
				defer mu.Unlock()
				observed[slo.Name] = append(observed[slo.Name], at)
			}
			res, err := Backtest(context.Background(), recorded.NewQuerier(db), slos, minute(tc.from), minute(tc.to), Options{Step: time.Minute, DataStart: t0}, obs)
			if err != nil {
				t.Fatal(err)
			}
			if len(res) != len(slos) {
				t.Fatalf("%d results for %d SLOs", len(res), len(slos))
			}
			// Without an observer only the alerts advance at every step (the Status is computed at
			// the last): the results must be the very same.
			resNil, err := Backtest(context.Background(), recorded.NewQuerier(db), slos, minute(tc.from), minute(tc.to), Options{Step: time.Minute, DataStart: t0}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(resNil, res) {
				t.Errorf("without an observer:\n%+v\nwith one:\n%+v", resNil, res)
			}
			for i, r := range res {
				if r.SLO != slos[i] {
					t.Errorf("result %d is %s: results must follow the input order", i, r.SLO.ID())
				}
				got := minutes(r.Alerts)
				if fmt.Sprint(got) != fmt.Sprint(tc.want[r.SLO.Name]) {
					t.Errorf("%s: alerts %v, want %v", r.SLO.Name, got, tc.want[r.SLO.Name])
				}
				if wantData := r.SLO.Name != "absent"; r.HasData != wantData {
					t.Errorf("%s: HasData %v, want %v", r.SLO.Name, r.HasData, wantData)
				}
				// Every evaluation time in [from, to] is observed once, in order.
				times := observed[r.SLO.Name]
				if len(times) != tc.to-tc.from+1 {
					t.Fatalf("%s: observed %d evaluation times, want %d", r.SLO.Name, len(times), tc.to-tc.from+1)
				}
				for j, at := range times {
					if !at.Equal(minute(tc.from + j)) {
						t.Fatalf("%s: evaluation %d at %s, want %s", r.SLO.Name, j, at, minute(tc.from+j))
					}
				}
				if !r.Final.At.Equal(minute(tc.to)) && r.HasData {
					t.Errorf("%s: final status at %s, want %s", r.SLO.Name, r.Final.At, minute(tc.to))
				}
			}
			for _, a := range res[0].Alerts {
				if a.Severity == burnrate.Page && (a.PeakBurnRate < tc.wantPeak-1e-6 || a.PeakBurnRate > tc.wantPeak+1e-6) {
					t.Errorf("page peak burn rate %v, want %v", a.PeakBurnRate, tc.wantPeak)
				}
				if a.Severity == burnrate.Page && a.Reason.Window.Long != time.Hour {
					t.Errorf("page reason %+v, want the 1h/5m pair", a.Reason)
				}
			}
		})
	}
}

func TestBacktestErrors(t *testing.T) {
	slos := loadSLOs(t)
	db := testDB(t, 60)
	tests := []struct {
		name     string
		from, to time.Time
		opt      Options
	}{
		{"no evaluation time", minute(10).Add(time.Second), minute(10).Add(2 * time.Second), Options{}},
		{"negative step", minute(1), minute(10), Options{Step: -time.Minute}},
		{"lookback shorter than step", minute(1), minute(10), Options{Step: time.Minute, Lookback: time.Second}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Backtest(context.Background(), recorded.NewQuerier(db), slos, tc.from, tc.to, tc.opt, nil); err == nil {
				t.Fatal("no error")
			}
		})
	}
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := Backtest(ctx, recorded.NewQuerier(db), slos, minute(1), minute(60), Options{}, nil); err == nil {
			t.Fatal("no error from a cancelled context")
		}
	})
}

// TestBacktestInChunks fetches the range a few steps at a time: the increments of a step do not
// depend on the query that fetched it, so the results are those of one fetch; a group without
// series in a whole chunk (m3, not scraped from minute 100 to 129), even when it is the only one,
// has steps without data there, as in one fetch (and a bridge is asked for them the same way).
func TestBacktestInChunks(t *testing.T) {
	grouped, _, err := rules.Parse("gw.yaml", []byte("version: slod/v1\nservice: gw\nslos:\n  - name: avail\n    objective: 99.9\n    group_by: [model]\n    sli:\n      events:\n"+
		"        error_query: sum by (model) (rate(req_total{code=\"500\"}[{{.window}}]))\n"+
		"        total_query: sum by (model) (rate(req_total[{{.window}}]))\n"+groupedPolicy))
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		slos []*rules.SLO
		db   *recorded.DB
	}{"SLOs": {loadSLOs(t), testDB(t, 180)}, "groups": {grouped, modelsDB(t, []string{"m1", "m2", "m3", "m4"}, 180)},
		"no group in a chunk": {grouped, modelsDB(t, []string{"m3"}, 180)}} {
		opt := Options{Step: time.Minute, DataStart: t0}
		want, err := Backtest(context.Background(), recorded.NewQuerier(c.db), c.slos, minute(1), minute(180), opt, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{1, 7, 60} {
			func() {
				defer func(n int) { fetchSteps = n }(fetchSteps)
				fetchSteps = n
				got, err := Backtest(context.Background(), recorded.NewQuerier(c.db), c.slos, minute(1), minute(180), opt, nil)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s, fetching %d steps at a time:\n%+v\nat once:\n%+v", name, n, got, want)
				}
			}()
		}
	}
}

const failingSLOs = `version: slod/v1
service: svc
slos:
  - name: broken-exporter
    objective: 99.9
    sli:
      events:
        error_query: sum(rate(req_total{job="api",code=~"5.."}[{{.window}}]))
        total_query: sum(rate(inf_total[{{.window}}]))
    alerting:
      windows: [{severity: page, long: 1h, short: 5m, burn_rate: 14.4}]
  - name: many-to-many
    objective: 99
    sli:
      events:
        error_query: sum(rate(req_total[{{.window}}])) * on() rate(req_total[{{.window}}])
        total_query: sum(rate(req_total[{{.window}}]))
  - name: avail
    objective: 99.9
    sli:
      events:
        error_query: sum(rate(req_total{job="api",code=~"5.."}[{{.window}}]))
        total_query: sum(rate(req_total{job="api"}[{{.window}}]))
    alerting:
      windows: [{severity: page, long: 1h, short: 5m, burn_rate: 14.4}]
  - name: also-many-to-many
    objective: 99
    sli:
      events:
        error_query: rate(req_total[{{.window}}]) / on() rate(req_total[{{.window}}])
        total_query: sum(rate(req_total[{{.window}}]))
`

// TestBacktestSLOErrors: what goes wrong with one SLO is that SLO's error. A step of +Inf is held
// and reported (DataError) while the rest of the SLO is evaluated; a query the engine refuses fails
// its SLO only; the others are evaluated as if alone, and the error names every failed SLO in their order,
// the same at every run (it used to be whichever goroutine failed first, or "query was canceled"
// of an SLO that had nothing wrong).
func TestBacktestSLOErrors(t *testing.T) {
	slos, _, err := rules.Parse("failing.yaml", []byte(failingSLOs))
	if err != nil {
		t.Fatal(err)
	}
	db := testDB(t, 180)
	var ts []int64
	var vs []float64
	for m := 0; m <= 180; m++ {
		ts = append(ts, minute(m).UnixMilli())
		vs = append(vs, float64(600*m))
	}
	vs[90] = math.Inf(1)
	if err := db.Add(labels.FromStrings("__name__", "inf_total"), ts, vs); err != nil {
		t.Fatal(err)
	}
	opt := Options{Step: time.Minute, DataStart: t0}
	alone, err := Backtest(context.Background(), recorded.NewQuerier(db), slos[2:3], minute(1), minute(180), opt, nil)
	if err != nil {
		t.Fatal(err)
	}
	var first string
	for run := 0; run < 10; run++ {
		res, err := Backtest(context.Background(), recorded.NewQuerier(db), slos, minute(1), minute(180), opt, nil)
		if err == nil || len(res) != len(slos) {
			t.Fatalf("error %v with %d results, want an error and %d results", err, len(res), len(slos))
		}
		if run == 0 {
			first = err.Error()
			t.Logf("error:\n%s", first)
		} else if err.Error() != first {
			t.Fatalf("run %d: error\n%s\nrun 0:\n%s", run, err, first)
		}
		if res[0].Err != nil || !strings.HasPrefix(res[0].DataError, "the step ending 2026-03-01T01:30:00Z: ") {
			t.Errorf("broken-exporter: error %v, data error %q, want the step ending at minute 90 held", res[0].Err, res[0].DataError)
		}
		if got := minutes(res[0].Alerts); fmt.Sprint(got) != fmt.Sprint([]interval{{burnrate.Page, false, 65, 85}}) {
			t.Errorf("broken-exporter: alerts %v: the other steps are evaluated", got)
		}
		for _, i := range []int{1, 3} {
			if res[i].Err == nil || !strings.Contains(res[i].Err.Error(), "many-to-many") || len(res[i].Alerts) != 0 {
				t.Errorf("%s: error %v, alerts %v", res[i].SLO.Name, res[i].Err, res[i].Alerts)
			}
		}
		if !reflect.DeepEqual(res[2], alone[0]) {
			t.Errorf("avail beside failing SLOs:\n%+v\nalone:\n%+v", res[2], alone[0])
		}
		for _, name := range []string{"many-to-many", "also-many-to-many"} {
			if !strings.Contains(err.Error(), "svc/"+name+": ") {
				t.Errorf("the error does not name svc/%s", name)
			}
		}
		if strings.Contains(err.Error(), "cancel") || strings.Contains(err.Error(), "svc/avail") || strings.Contains(err.Error(), "svc/broken-exporter") {
			t.Errorf("the error blames an SLO that had nothing wrong:\n%s", err)
		}
	}
}

// TestBacktestSpan: a range of more steps than MaxBacktestSteps (a sample with a wrong timestamp
// decades away) is an error at once, before anything is fetched.
func TestBacktestSpan(t *testing.T) {
	slos := loadSLOs(t)
	db := testDB(t, 60)
	for _, to := range []time.Time{t0.AddDate(56, 0, 0), time.UnixMilli(1e17)} {
		res, err := Backtest(context.Background(), recorded.NewQuerier(db), slos, minute(1), to, Options{DataStart: t0}, nil)
		var span *SpanError
		if res != nil || !errors.As(err, &span) || span.Steps <= MaxBacktestSteps {
			t.Fatalf("to %s: %d results, error %v; want a SpanError", to, len(res), err)
		}
		t.Log(err)
	}
}

// TestBacktestProgressAndBudgets: Progress is told of every evaluation time of every SLO exactly
// once, whatever the fetch size; each result has the status at its first evaluation, and each
// alert the budget remaining when it started, which is what the status said then.
func TestBacktestProgressAndBudgets(t *testing.T) {
	for _, n := range []int{7, 1 << 16} {
		t.Run(fmt.Sprintf("fetch %d steps", n), func(t *testing.T) {
			defer func(n int) { fetchSteps = n }(fetchSteps)
			fetchSteps = n
			slos := loadSLOs(t)
			db := testDB(t, 3000)
			var mu sync.Mutex
			done := 0
			budgets := map[string]map[time.Time]float64{}
			obs := func(inst *Instance, at time.Time, _ burnrate.State, status burnrate.Status) {
				mu.Lock()
				defer mu.Unlock()
				if budgets[inst.SLO.Name] == nil {
					budgets[inst.SLO.Name] = map[time.Time]float64{}
				}
				budgets[inst.SLO.Name][at] = status.BudgetRemaining
			}
			opt := Options{Step: time.Minute, DataStart: t0, Progress: func(steps int) {
				mu.Lock()
				defer mu.Unlock()
				done += steps
			}}
			res, err := Backtest(context.Background(), recorded.NewQuerier(db), slos, minute(30), minute(2999), opt, obs)
			if err != nil {
				t.Fatal(err)
			}
			if want := int(Steps(minute(30), minute(2999), time.Minute)) * len(slos); want != 2970*3 || done != want {
				t.Errorf("progress counted %d steps, want %d (%d SLOs × %d evaluation times)", done, want, len(slos), Steps(minute(30), minute(2999), time.Minute))
			}
			for _, r := range res {
				if want := budgets[r.SLO.Name][minute(30)]; r.Initial.BudgetRemaining != want || !r.Initial.At.Equal(minute(30)) {
					t.Errorf("%s: initial status at %s with budget %v, want the status at the first evaluation, %v", r.ID(), r.Initial.At, r.Initial.BudgetRemaining, want)
				}
				for _, a := range r.Alerts {
					if want := budgets[r.SLO.Name][a.Start]; a.BudgetRemaining != want {
						t.Errorf("%s: %s alert from %s with budget %v, want %v", r.ID(), a.Severity, a.Start, a.BudgetRemaining, want)
					}
				}
			}
			if len(res[0].Alerts) == 0 || res[0].Alerts[0].BudgetRemaining >= res[0].Initial.BudgetRemaining {
				t.Errorf("avail's alerts %v: the first one's budget is not below the initial %v", res[0].Alerts, res[0].Initial.BudgetRemaining)
			}
		})
	}
}
