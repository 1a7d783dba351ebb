package eval

import (
	"context"
	"fmt"
	"reflect"
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
