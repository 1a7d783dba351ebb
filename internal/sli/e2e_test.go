package sli_test

import (
	"context"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"

	"github.com/slod-dev/slod/internal/burnrate"
	"github.com/slod-dev/slod/internal/recorded"
	"github.com/slod-dev/slod/internal/rules"
	"github.com/slod-dev/slod/internal/sli"
)

// These tests run the rewritten queries through Prometheus's engine over recorded series, the
// path of `slod check`, and compare the increments with what the samples say.

var base = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)

// sample is one scraped sample.
type sample struct {
	t time.Time
	v float64
}

// scrape returns n samples every interval from base+offset, valued f(i).
func scrape(offset, interval time.Duration, n int, f func(i int) float64) []sample {
	out := make([]sample, n)
	for i := range out {
		out[i] = sample{base.Add(offset + time.Duration(i)*interval), f(i)}
	}
	return out
}

func add(t *testing.T, db *recorded.DB, lset labels.Labels, ss []sample) {
	t.Helper()
	ts, vs := make([]int64, len(ss)), make([]float64, len(ss))
	for i, s := range ss {
		ts[i], vs[i] = s.t.UnixMilli(), s.v
	}
	if err := db.Add(lset, ts, vs); err != nil {
		t.Fatal(err)
	}
}

// lastAt is the value of the last real sample at or before t (staleness markers skipped).
func lastAt(ss []sample, t time.Time) (float64, bool) {
	v, ok := 0.0, false
	for _, s := range ss {
		if s.t.After(t) {
			break
		}
		if !value.IsStaleNaN(s.v) {
			v, ok = s.v, true
		}
	}
	return v, ok
}

// trueIncrease is the growth of a counter between the last samples at or before from and to,
// counting a reset as growth from zero: what a scraper of every sample would say.
func trueIncrease(ss []sample, from, to time.Time) float64 {
	inc, prev, started := 0.0, 0.0, false
	for _, s := range ss {
		if s.t.After(to) {
			break
		}
		if value.IsStaleNaN(s.v) {
			continue
		}
		if !s.t.After(from) {
			prev, started = s.v, true
			continue
		}
		if started {
			if s.v >= prev {
				inc += s.v - prev
			} else {
				inc += s.v
			}
		}
		prev, started = s.v, true
	}
	return inc
}

func eventsSLO(errQ, totalQ string) *rules.SLO {
	return &rules.SLO{Service: "e2e", Name: "events", SLI: rules.SLI{Kind: rules.EventsSLI, ErrorQuery: errQ, TotalQuery: totalQ}}
}

// increments returns the increments of slo over the recorded data, as slod check computes them:
// with the subquery form of the step difference (DESIGN §2). It also computes them with the
// portable form, which the daemon sends to a remote engine, and fails the test unless both agree
// on every step: what slod check shows must be what slod run would have done.
func increments(t *testing.T, db *recorded.DB, slo *rules.SLO, start, end time.Time, opt sli.Options) []burnrate.Increment {
	t.Helper()
	q := recorded.NewQuerier(db)
	if _, ok := q.(sli.PrometheusEngine); !ok {
		t.Fatal("the recorded querier does not get the subquery form")
	}
	incs, err := sli.Increments(context.Background(), q, slo, start, end, opt)
	if err != nil {
		t.Fatal(err)
	}
	portable, err := sli.Increments(context.Background(), portableOnly{q}, slo, start, end, opt)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(incs, portable) {
		for i := range incs {
			if incs[i] != portable[i] {
				t.Fatalf("step %s: subquery form %+v, portable form %+v", incs[i].End.Format(time.RFC3339), incs[i], portable[i])
			}
		}
		t.Fatalf("subquery form: %d increments, portable form: %d", len(incs), len(portable))
	}
	return incs
}

// portableOnly hides that a Querier is Prometheus's engine, so that it gets the portable form.
type portableOnly struct{ q sli.Querier }

func (p portableOnly) QueryRange(ctx context.Context, query string, start, end time.Time, step time.Duration) ([]sli.Series, error) {
	return p.q.QueryRange(ctx, query, start, end, step)
}

func sums(incs []burnrate.Increment) (bad, total float64, missing int) {
	for _, i := range incs {
		bad += i.Bad
		total += i.Total
		if i.Missing {
			missing++
		}
	}
	return bad, total, missing
}

// TestCounterExact: at 10 s and at 60 s scrape intervals (and 30 s with a 30 s step), with steps
// that fall between scrapes, the increments add up to exactly the counter's growth between the
// first and the last step boundary: nothing lost, nothing counted twice.
func TestCounterExact(t *testing.T) {
	cases := []struct {
		name     string
		interval time.Duration
		offset   time.Duration
		step     time.Duration
		fn       string
	}{
		{"10s_scrape_increase", 10 * time.Second, 3 * time.Second, time.Minute, "increase"},
		{"10s_scrape_rate", 10 * time.Second, 7 * time.Second, time.Minute, "rate"},
		{"60s_scrape_increase", 60 * time.Second, 17 * time.Second, time.Minute, "increase"},
		{"60s_scrape_rate", 60 * time.Second, 59 * time.Second, time.Minute, "rate"},
		{"60s_scrape_on_boundary", 60 * time.Second, 0, time.Minute, "increase"},
		{"30s_scrape_30s_step", 30 * time.Second, 11 * time.Second, 30 * time.Second, "rate"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := int(3 * time.Hour / c.interval)
			// Uneven but steady traffic: 5..11 requests per second, 1 in 7 of the scrapes' growth bad.
			total := scrape(c.offset, c.interval, n, func(i int) float64 { return float64(i*int(c.interval.Seconds())*8 + (i*i)%13) })
			errs := scrape(c.offset, c.interval, n, func(i int) float64 { return float64(i / 7) })
			db := recorded.NewDB()
			add(t, db, labels.FromStrings("__name__", "req_total", "code", "200"), total)
			add(t, db, labels.FromStrings("__name__", "req_errors_total", "code", "500"), errs)
			slo := eventsSLO(`sum(`+c.fn+`(req_errors_total[{{.window}}]))`, `sum(`+c.fn+`(req_total[{{.window}}]))`)

			start, end := base.Add(20*time.Minute), base.Add(2*time.Hour+40*time.Minute)
			incs := increments(t, db, slo, start, end, sli.Options{Step: c.step})
			bad, tot, missing := sums(incs)
			if missing != 0 {
				t.Fatalf("%d missing steps", missing)
			}
			scale := 1.0
			if c.fn == "rate" {
				scale = c.step.Seconds()
			}
			from, to := sli.Align(start, c.step).Add(-c.step), sli.Align(end, c.step)
			if want := trueIncrease(total, from, to); math.Abs(tot*scale-want) > 1e-6 {
				t.Errorf("Σ total = %v, want %v", tot*scale, want)
			}
			if want := trueIncrease(errs, from, to); math.Abs(bad*scale-want) > 1e-6 {
				t.Errorf("Σ bad = %v, want %v", bad*scale, want)
			}
			// Each step on its own is the growth over (t-step, t].
			for _, inc := range incs[:5] {
				if want := trueIncrease(total, inc.End.Add(-c.step), inc.End); math.Abs(inc.Total*scale-want) > 1e-6 {
					t.Errorf("step %s: total %v, want %v", inc.End, inc.Total*scale, want)
				}
			}
		})
	}
}

// TestCounterResets: a reset right after a boundary is counted exactly; a reset in the middle of a
// step loses the growth between the boundary and the reset (DESIGN §2), and nothing else.
func TestCounterResets(t *testing.T) {
	cases := []struct {
		name     string
		interval time.Duration
		offset   time.Duration
		resetAt  int // index of the first sample after the reset
		lost     float64
	}{
		// 60 s scrapes at :30: the reset sample is the first after its step boundary.
		{"first_sample_after_boundary", time.Minute, 30 * time.Second, 40, 0},
		// 10 s scrapes at :05: samples 18 (3:05) and 19 (3:15) come after the 3:00 boundary, the
		// reset at sample 20 (3:25). Each scrape adds 3, so 2×3 is lost.
		{"mid_step", 10 * time.Second, 5 * time.Second, 20, 6},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := int(time.Hour / c.interval)
			ss := scrape(c.offset, c.interval, n, func(i int) float64 {
				if i < c.resetAt {
					return float64(1000 + 3*i)
				}
				return float64(3 * (i - c.resetAt + 1))
			})
			db := recorded.NewDB()
			add(t, db, labels.FromStrings("__name__", "c_total"), ss)
			slo := eventsSLO(`sum(increase(c_total[{{.window}}]))`, `sum(increase(c_total[{{.window}}]))`)
			start, end := base.Add(2*time.Minute), base.Add(50*time.Minute)
			incs := increments(t, db, slo, start, end, sli.Options{})
			_, tot, missing := sums(incs)
			if missing != 0 {
				t.Fatalf("%d missing steps", missing)
			}
			want := trueIncrease(ss, start.Add(-time.Minute), end) - c.lost
			if math.Abs(tot-want) > 1e-9 {
				t.Errorf("Σ = %v, want %v", tot, want)
			}
			for _, inc := range incs {
				if inc.Total < 0 {
					t.Errorf("step %s: negative increment %v", inc.End, inc.Total)
				}
			}
		})
	}
}

// TestScrapeGap: scrapes fail while the counter keeps growing. The steps inside the gap have no
// data (Missing: a step counts only where the counter has a fresh sample, so a gap never reads as
// "no events") and the first step after the gap gets all the growth, read back through the
// lookback. Staleness markers written for the failed scrapes change nothing. A gap longer than the
// lookback loses the growth across it, unless it is bridged (Prepared.Bridge), which reads the
// previous value back at the last step with data.
func TestScrapeGap(t *testing.T) {
	const interval = time.Minute
	full := scrape(15*time.Second, interval, 60, func(i int) float64 { return float64(10 * i) })
	without := func(from, to int, stale bool) []sample {
		var out []sample
		for i, s := range full {
			if i >= from && i < to {
				if stale {
					out = append(out, sample{s.t, math.Float64frombits(value.StaleNaN)})
				}
				continue
			}
			out = append(out, s)
		}
		return out
	}
	cases := []struct {
		name        string
		samples     []sample
		wantMissing int
		wantTotal   float64
		// the step at base+check minutes gets wantStep
		check    int
		wantStep float64
	}{
		// Σ over the steps 5:00..50:00 is C(50:00) − C(4:00) = 490 − 30 = 460.
		// Samples 20, 21, 22 (at 20:15, 21:15, 22:15) fail; 23:15 is the next. The 24:00 step sees
		// 230 − 190 = 40 at once; steps 21:00..23:00 have no data.
		{"gap_3m", without(20, 23, false), 3, 460, 24, 40},
		{"gap_3m_stale_markers", without(20, 23, true), 3, 460, 24, 40},
		// 15 failed scrapes: steps 21:00..35:00 have no sample, and 36:00 (sample 35:15) no
		// previous one within the 10m lookback (19:15 is 16 minutes back): 16 missing steps, and
		// the growth 350 − 190 across the gap is lost to the plain step differences.
		{"gap_15m_longer_than_lookback", without(20, 35, true), 16, 460 - 160, 37, 10},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db := recorded.NewDB()
			add(t, db, labels.FromStrings("__name__", "c_total"), c.samples)
			slo := eventsSLO(`sum(increase(c_total[{{.window}}]))`, `sum(increase(c_total[{{.window}}]))`)
			incs := increments(t, db, slo, base.Add(5*time.Minute), base.Add(50*time.Minute), sli.Options{})
			_, tot, missing := sums(incs)
			if missing != c.wantMissing {
				t.Errorf("%d missing steps, want %d", missing, c.wantMissing)
			}
			if tot != c.wantTotal {
				t.Errorf("Σ = %v, want %v", tot, c.wantTotal)
			}
			check := base.Add(time.Duration(c.check) * time.Minute)
			for _, inc := range incs {
				if inc.End.Equal(check) && (inc.Total != c.wantStep || inc.Missing) {
					t.Errorf("step %s: %+v, want total %v", inc.End, inc, c.wantStep)
				}
			}
			// Bridged from the last step with data (20:00), the first step with data after the gap
			// gets all the growth since: nothing is lost, whatever the gap's length.
			prep, err := sli.Prepare(slo, recorded.NewQuerier(db), sli.Options{})
			if err != nil {
				t.Fatal(err)
			}
			b, err := prep.Bridge(context.Background(), recorded.NewQuerier(db), check, base.Add(20*time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			if want := c.wantStep + 460 - c.wantTotal; b.Missing || b.Total != want || b.Bad != want || !b.End.Equal(check) {
				t.Errorf("bridged step %s: %+v, want total %v", check, b, want)
			}
		})
	}
}

// TestNaNSample: a NaN sample of one counter (a broken exporter) drops that series from the steps
// whose boundaries read it, and only those; the other series of the sum still count. Both forms of
// the step difference agree on this (increments checks it).
func TestNaNSample(t *testing.T) {
	for _, fn := range []string{"rate", "increase"} {
		t.Run(fn, func(t *testing.T) {
			// 60 s scrapes at :30; sample 20 (at 20:30) of series a is NaN.
			a := scrape(30*time.Second, time.Minute, 40, func(i int) float64 {
				if i == 20 {
					return math.NaN()
				}
				return float64(7 * i)
			})
			b := scrape(30*time.Second, time.Minute, 40, func(i int) float64 { return float64(3 * i) })
			db := recorded.NewDB()
			add(t, db, labels.FromStrings("__name__", "c_total", "s", "a"), a)
			add(t, db, labels.FromStrings("__name__", "c_total", "s", "b"), b)
			q := `sum(` + fn + `(c_total[{{.window}}]))`
			incs := increments(t, db, eventsSLO(q, q), base.Add(5*time.Minute), base.Add(30*time.Minute), sli.Options{})
			scale := 1.0
			if fn == "rate" {
				scale = 60
			}
			for _, inc := range incs {
				want := 10.0 // both series
				if m := inc.End.Sub(base); m == 21*time.Minute || m == 22*time.Minute {
					want = 3 // C(21:00) is NaN for a, and so is C'(22:00)
				}
				if inc.Missing || math.Abs(inc.Total*scale-want) > 1e-9 {
					t.Errorf("step %s: %+v, want total %v", inc.End.Format(time.RFC3339), inc, want/scale)
				}
			}
		})
	}
}

// TestCounterUnderSubquery: a rate under a subquery of the user's, evaluated every 30 s, is not on
// the step grid; it keeps the portable form, so both forms still agree (increments checks it). The
// bursts straddle minute boundaries, so the rate over (t-1m, t] is highest at the half minutes,
// which the subquery form would not see.
func TestCounterUnderSubquery(t *testing.T) {
	ss := scrape(5*time.Second, 10*time.Second, 360, func(i int) float64 {
		// +1 a scrape, and +50 in each of the scrapes at :55 of every third minute and :05 of the
		// minute after it.
		v := float64(i)
		for j := 1; j <= i; j++ {
			if (j%6 == 5 && (j/6)%3 == 0) || (j%6 == 0 && (j/6-1)%3 == 0) {
				v += 50
			}
		}
		return v
	})
	db := recorded.NewDB()
	add(t, db, labels.FromStrings("__name__", "c_total"), ss)
	slo := &rules.SLO{Service: "e2e", Name: "burst", SLI: rules.SLI{Kind: rules.TimesliceSLI,
		Query: `max_over_time(sum(increase(c_total[{{.window}}]))[3m:30s])`, Op: rules.OpLT, Threshold: 100}}
	incs := increments(t, db, slo, base.Add(10*time.Minute), base.Add(50*time.Minute), sli.Options{})
	bad, total, missing := sums(incs)
	// Every 3m window holds a half-minute step whose minute holds both +50 scrapes (106 > 100).
	if missing != 0 || bad != total || total == 0 {
		t.Errorf("bad %v of %v slices, %d missing; want every slice bad", bad, total, missing)
	}
}

// TestAgainstPromQLIncrease compares Σ increments over an hour with PromQL's own increase(x[1h]) on
// the same data: they differ only by increase's extrapolation to the window edges.
func TestAgainstPromQLIncrease(t *testing.T) {
	for _, interval := range []time.Duration{10 * time.Second, 30 * time.Second, 60 * time.Second} {
		t.Run(interval.String(), func(t *testing.T) {
			n := int(3 * time.Hour / interval)
			grow := func(i int) float64 { return float64(i)*interval.Seconds()*20 + float64((i*i)%7) }
			ss := scrape(4*time.Second, interval, n, func(i int) float64 {
				if i > n/2 {
					return grow(i) - grow(n/2) // a reset, inside the compared hour
				}
				return grow(i)
			})
			db := recorded.NewDB()
			add(t, db, labels.FromStrings("__name__", "c_total", "job", "x"), ss)
			end := base.Add(2 * time.Hour)
			incs := increments(t, db, eventsSLO(`sum(increase(c_total[{{.window}}]))`, `sum(increase(c_total[{{.window}}]))`),
				end.Add(-time.Hour+time.Minute), end, sli.Options{})
			_, sum, _ := sums(incs)
			res, err := recorded.NewQuerier(db).QueryRange(context.Background(), `sum(increase(c_total[1h]))`, end, end, time.Minute)
			if err != nil || len(res) != 1 || len(res[0].Points) != 1 {
				t.Fatalf("increase(c_total[1h]): %v, %v", res, err)
			}
			promql := res[0].Points[0].V
			// The reset falls mid-step: the growth between the step boundary before it and the last
			// sample before it is not counted (DESIGN §2). Add it back, then the two differ only by
			// increase's extrapolation to the window edges, at most about one scrape interval's
			// growth in an hour.
			before, _ := lastAt(ss, sli.Align(ss[n/2+1].t, time.Minute))
			lost := ss[n/2].v - before
			t.Logf("Σ increments = %v (+%v lost to the reset), increase(c_total[1h]) = %v", sum, lost, promql)
			if tol := 1.1 * interval.Seconds() / 3600; math.Abs(sum+lost-promql)/promql > tol {
				t.Errorf("Σ increments + lost = %v, increase(c_total[1h]) = %v: off by %.4f%%, more than %.4f%%",
					sum+lost, promql, 100*math.Abs(sum+lost-promql)/promql, 100*tol)
			}
		})
	}
}

// TestLatencyHistogram: the bad events are the requests above the threshold bucket, found whatever
// the exporter's spelling of the bound.
func TestLatencyHistogram(t *testing.T) {
	for _, le := range []string{"0.3", "0.30", "3e-01"} {
		t.Run(le, func(t *testing.T) {
			db := recorded.NewDB()
			const n = 120
			// Per 30 s scrape: 100 requests, 10 of them (20 from sample 60 on) slower than 0.3 s.
			slow := func(i int) float64 {
				if i < 60 {
					return float64(10 * i)
				}
				return float64(600 + 20*(i-60))
			}
			count := func(i int) float64 { return float64(100 * i) }
			lsets := []struct {
				le string
				f  func(int) float64
			}{
				{"0.1", func(i int) float64 { return count(i) - slow(i) - float64(30*i) }},
				{le, func(i int) float64 { return count(i) - slow(i) }},
				{"+Inf", count},
			}
			for _, l := range lsets {
				add(t, db, labels.FromStrings("__name__", "rpc_seconds_bucket", "job", "api", "le", l.le), scrape(0, 30*time.Second, n, l.f))
			}
			add(t, db, labels.FromStrings("__name__", "rpc_seconds_count", "job", "api"), scrape(0, 30*time.Second, n, count))
			add(t, db, labels.FromStrings("__name__", "rpc_seconds_count", "job", "other"), scrape(0, 30*time.Second, n, count))
			slo := &rules.SLO{Service: "e2e", Name: "latency", SLI: rules.SLI{Kind: rules.LatencySLI, Histogram: `rpc_seconds{job="api"}`, Threshold: 0.3}}
			incs := increments(t, db, slo, base.Add(10*time.Minute), base.Add(50*time.Minute), sli.Options{})
			for _, inc := range incs {
				wantBad := 20.0 // two scrapes per minute, 10 slow each
				if inc.End.After(base.Add(30 * time.Minute)) {
					wantBad = 40
				}
				if inc.Missing || math.Abs(inc.Total*60-200) > 1e-9 || math.Abs(inc.Bad*60-wantBad) > 1e-9 {
					t.Fatalf("step %s: bad %v total %v per minute, want %v and 200", inc.End, inc.Bad*60, inc.Total*60, wantBad)
				}
			}
		})
	}
}

// TestTimeslice: a memory ratio gauge above 0.9 makes its slices bad.
func TestTimeslice(t *testing.T) {
	// 15 s scrapes; the ratio is 0.95 from 20:00 to 24:59 and 0.5 otherwise.
	used := scrape(0, 15*time.Second, 240, func(i int) float64 {
		if i >= 80 && i < 100 {
			return 95
		}
		return 50
	})
	limit := scrape(0, 15*time.Second, 240, func(int) float64 { return 100 })
	db := recorded.NewDB()
	add(t, db, labels.FromStrings("__name__", "mem_used_bytes", "pod", "a"), used)
	add(t, db, labels.FromStrings("__name__", "mem_limit_bytes", "pod", "a"), limit)
	cases := []struct {
		name    string
		query   string
		slice   time.Duration
		wantBad []int // minutes whose step is a bad slice
		slices  int
	}{
		{"1m_slices", `max(mem_used_bytes) / max(mem_limit_bytes)`, 0, []int{20, 21, 22, 23, 24}, 41},
		// avg over each 5m slice: (20:00, 25:00] holds 19 samples at 0.95 and one at 0.5.
		{"5m_slices_avg", `max(avg_over_time(mem_used_bytes[{{.window}}])) / max(mem_limit_bytes)`, 5 * time.Minute, []int{25}, 9},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			slo := &rules.SLO{Service: "e2e", Name: "mem", SLI: rules.SLI{Kind: rules.TimesliceSLI, Query: c.query, Op: rules.OpLTE, Threshold: 0.9, Slice: c.slice}}
			incs := increments(t, db, slo, base.Add(10*time.Minute), base.Add(50*time.Minute), sli.Options{})
			bad, total, missing := sums(incs)
			if missing != 0 || int(total) != c.slices || int(bad) != len(c.wantBad) {
				t.Errorf("bad %v, total %v, missing %d; want %d bad of %d slices", bad, total, missing, len(c.wantBad), c.slices)
			}
			for _, m := range c.wantBad {
				i := m - 10
				if incs[i].Bad != 1 {
					t.Errorf("slice ending at %s not bad: %+v", incs[i].End, incs[i])
				}
			}
		})
	}
}

// TestSlothRatio: a Sloth raw error_ratio_query gives the per-step error ratio.
func TestSlothRatio(t *testing.T) {
	db := recorded.NewDB()
	total := scrape(0, 20*time.Second, 180, func(i int) float64 { return float64(50 * i) })
	errs := scrape(0, 20*time.Second, 180, func(i int) float64 {
		if i < 90 {
			return float64(i)
		}
		return float64(90 + 10*(i-90))
	})
	add(t, db, labels.FromStrings("__name__", "http_requests_total", "job", "svc", "code", "200"), total)
	add(t, db, labels.FromStrings("__name__", "http_requests_total", "job", "svc", "code", "503"), errs)
	slo := &rules.SLO{Service: "e2e", Name: "ratio", SLI: rules.SLI{Kind: rules.RatioSLI, ErrorRatioQuery: `sum(rate(http_requests_total{job="svc",code=~"5.."}[{{.window}}]))
/
sum(rate(http_requests_total{job="svc"}[{{.window}}]))`}}
	incs := increments(t, db, slo, base.Add(5*time.Minute), base.Add(55*time.Minute), sli.Options{})
	for _, inc := range incs {
		// Per minute: 3 scrapes; before 30:00 1 error and 50+1 requests each, after it 10 and 60.
		want := 1.0 / 51
		if inc.End.After(base.Add(30 * time.Minute)) {
			want = 10.0 / 60
		}
		if inc.Missing || inc.Total != 1 || math.Abs(inc.Bad-want) > 1e-12 {
			t.Fatalf("step %s: %+v, want bad %v of 1", inc.End, inc, want)
		}
	}
}

// TestStepByStep: the daemon asks for one step at a time (start == end, an instant query); the
// result must be the same as one backtest over the whole range.
func TestStepByStep(t *testing.T) {
	db := recorded.NewDB()
	ss := scrape(13*time.Second, 15*time.Second, 240, func(i int) float64 {
		if i == 100 {
			return 0 // a reset
		}
		if i > 100 {
			return float64(7 * (i - 100))
		}
		return float64(5*i + i%3)
	})
	add(t, db, labels.FromStrings("__name__", "req_total", "code", "200"), ss)
	// Errors: one a minute (0.017/s) until sample 120 (30:13), then one a scrape (0.067/s).
	add(t, db, labels.FromStrings("__name__", "req_total", "code", "500"), scrape(13*time.Second, 15*time.Second, 240, func(i int) float64 {
		if i < 120 {
			return float64(i / 4)
		}
		return float64(30 + i - 120)
	}))
	slos := []*rules.SLO{
		eventsSLO(`sum(rate(req_total{code="500"}[{{.window}}]))`, `sum(rate(req_total[{{.window}}]))`),
		{Service: "e2e", Name: "slice", SLI: rules.SLI{Kind: rules.TimesliceSLI, Query: `sum(rate(req_total{code="500"}[{{.window}}]))`, Op: rules.OpLT, Threshold: 0.06, Slice: 2 * time.Minute}},
	}
	for _, slo := range slos {
		t.Run(slo.Name, func(t *testing.T) {
			start, end := base.Add(5*time.Minute), base.Add(55*time.Minute)
			batch := increments(t, db, slo, start, end, sli.Options{})
			for i, want := range batch {
				one := increments(t, db, slo, want.End, want.End, sli.Options{})
				if len(one) != 1 || one[0] != want {
					t.Fatalf("step %d alone: %+v, in the batch: %+v", i, one, want)
				}
			}
			bad, total, _ := sums(batch)
			if bad == 0 || bad == total {
				t.Fatalf("bad %v of %v: the test needs both good and bad steps", bad, total)
			}
		})
	}
}
