package eval

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/slod-dev/slod/internal/burnrate"
	"github.com/slod-dev/slod/internal/recorded"
	"github.com/slod-dev/slod/internal/rules"
	"github.com/slod-dev/slod/internal/sli"
)

func TestBackfillPlanIsContiguous(t *testing.T) {
	step := time.Minute
	now := time.Date(2026, 11, 25, 12, 34, 0, 0, time.UTC)
	cases := []struct {
		name     string
		span     time.Duration
		segments int
	}{
		{"under the fine tier", 5 * time.Hour, 1},
		{"into the middle tier", 2 * 24 * time.Hour, 2},
		{"into the coarse tier", 30 * 24 * time.Hour, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := now.Add(-tc.span).Add(step)
			segs := backfillPlan(start, now, step)
			if len(segs) != tc.segments {
				t.Fatalf("%d segments: %+v", len(segs), segs)
			}
			if first := segs[0].from.Add(-segs[0].step); first.After(start.Add(-step)) {
				t.Errorf("first segment covers from %v, after the start %v", first, start.Add(-step))
			}
			points := 0
			for i, s := range segs {
				if s.from.UnixNano()%int64(s.step) != 0 || s.to.UnixNano()%int64(s.step) != 0 || s.to.Before(s.from) {
					t.Errorf("segment %d off its grid: %+v", i, s)
				}
				if i > 0 && !s.from.Add(-s.step).Equal(segs[i-1].to) {
					t.Errorf("segment %d does not start where %d ends: %+v after %+v", i, i-1, s, segs[i-1])
				}
				points += int(s.to.Sub(s.from)/s.step) + 1
			}
			if last := segs[len(segs)-1]; !last.to.Equal(now) || last.step != step || (len(segs) > 1 && now.Sub(last.from) < fineSteps*step-10*step) {
				t.Errorf("the newest steps are not fetched one by one: %+v", last)
			}
			t.Logf("%d points for %s", points, tc.span)
		})
	}
}

// TestCoarseBackfillMatchesFine fetches 30 days of a recorded counter pair (with a scrape gap,
// and in one case a counter reset 5 days back) once step by step and once at the tiers'
// resolutions, through the real PromQL engine, and compares every window sum. Without a reset
// they are equal. A reset costs what PromQL's rate costs too: the growth between the start of the
// step it falls in and the reset; a coarse step is an hour there, so windows reaching back past it
// may miss up to an hour of counts (the 1h buckets of those windows' far edge err as much).
func TestCoarseBackfillMatchesFine(t *testing.T) {
	step := time.Minute
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	from := now.Add(-31 * 24 * time.Hour)
	resetAt := now.Add(-5*24*time.Hour + 37*time.Minute)
	const maxRate = 150.0 // requests per second, the peak of the pattern below
	windows := []time.Duration{5 * time.Minute, time.Hour, 6 * time.Hour, 24 * time.Hour, 3 * 24 * time.Hour, 7 * 24 * time.Hour, 30 * 24 * time.Hour}

	for _, withReset := range []bool{false, true} {
		db := recorded.NewDB()
		var ts []int64
		var ok, bad []float64
		var okC, badC float64
		for at := from; !at.After(now); at = at.Add(30 * time.Second) {
			if at.After(now.Add(-10*24*time.Hour)) && at.Before(now.Add(-10*24*time.Hour+4*time.Minute)) {
				continue // a scrape gap shorter than the lookback
			}
			h := at.Sub(from).Hours()
			rate := 100 + 50*math.Sin(h/7)
			errShare := 0.001 + 0.02*math.Max(0, math.Sin(h/13))
			okC += 30 * rate * (1 - errShare)
			badC += 30 * rate * errShare
			if withReset && at.Equal(resetAt) {
				okC, badC = 0, 0 // the exporter restarted
			}
			ts = append(ts, at.UnixMilli())
			ok = append(ok, math.Floor(okC))
			bad = append(bad, math.Floor(badC))
		}
		if err := db.Add(labels.FromStrings("__name__", "req_total", "code", "200"), ts, ok); err != nil {
			t.Fatal(err)
		}
		if err := db.Add(labels.FromStrings("__name__", "req_total", "code", "500"), ts, bad); err != nil {
			t.Fatal(err)
		}
		q := recorded.NewQuerier(db)

		for _, fn := range []string{"rate", "increase"} {
			t.Run(fmt.Sprintf("%s reset=%v", fn, withReset), func(t *testing.T) {
				slos, _, err := rules.Parse("t.yaml", []byte(`version: slod/v1
service: s
slos:
  - name: a
    objective: 99
    window: 30d
    sli:
      events:
        error_query: sum(`+fn+`(req_total{code="500"}[{{.window}}]))
        total_query: sum(`+fn+`(req_total[{{.window}}]))
`))
				if err != nil || len(slos) != 1 {
					t.Fatalf("parse: %v", err)
				}
				slo := slos[0]
				start := now.Add(-slo.MaxWindow()).Add(step)
				// Sums are in events per second for rate (one step's increase over the step).
				unit := 1.0
				if fn == "rate" {
					unit = step.Seconds()
				}
				build := func(initial bool) *burnrate.History {
					prep, err := sli.Prepare(slo, q, sli.Options{Step: step, Lookback: 10 * time.Minute})
					if err != nil {
						t.Fatal(err)
					}
					groups, err := Source{Querier: q, SLO: slo, Prepared: prep}.Fetch(context.Background(), start, now, initial)
					if err != nil {
						t.Fatal(err)
					}
					if len(groups) != 1 {
						t.Fatalf("%d groups of an SLO without group_by", len(groups))
					}
					h := burnrate.NewHistory(step, slo.MaxWindow())
					for _, inc := range groups[0].Incs {
						if err := h.Append(inc); err != nil {
							t.Fatal(err)
						}
					}
					return h
				}
				fine, coarse := build(false), build(true)
				if !fine.End().Equal(coarse.End()) || !fine.LastData().Equal(coarse.LastData()) {
					t.Fatalf("ends differ: %v/%v vs %v/%v", fine.End(), fine.LastData(), coarse.End(), coarse.LastData())
				}
				for _, w := range windows {
					fb, ft := fine.Sum(w)
					cb, ct := coarse.Sum(w)
					if !withReset || w <= 3*24*time.Hour {
						if rel(fb, cb) > 1e-9 || rel(ft, ct) > 1e-9 {
							t.Errorf("window %s: fine %g/%g, coarse %g/%g", w, fb, ft, cb, ct)
						}
						continue
					}
					if hour := maxRate * 3600 / unit; math.Abs(ft-ct) > hour || math.Abs(fb-cb) > hour {
						t.Errorf("window %s: fine %g/%g, coarse %g/%g: more than an hour apart", w, fb, ft, cb, ct)
					}
				}
			})
		}
	}
}

func rel(a, b float64) float64 {
	if a == b {
		return 0
	}
	return math.Abs(a-b) / math.Max(math.Abs(a), math.Abs(b))
}
