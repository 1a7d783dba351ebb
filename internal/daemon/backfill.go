package daemon

import (
	"context"
	"strings"
	"time"

	"github.com/prometheus/prometheus/promql/parser"

	"github.com/slod-dev/slod/internal/burnrate"
	"github.com/slod-dev/slod/internal/rules"
	"github.com/slod-dev/slod/internal/sli"
)

// The spans and resolutions of burnrate.History's tiers, in steps (DESIGN §3): the newest 360 steps
// are held one by one, the next ones up to 4,320 steps back in buckets of 10 steps, older ones in
// buckets of 60. Increments older than a tier's span are only ever seen through its buckets, so
// the initial backfill can fetch them at the bucket's resolution without losing anything.
const (
	fineSteps = 360
	midSteps  = 4320
	midRes    = 10
	coarseRes = 60
)

var promqlParser = parser.NewParser(parser.Options{})

// segment is one range query of a backfill: increments ending at every multiple of step in
// [from, to].
type segment struct {
	from, to time.Time
	step     time.Duration
}

// backfillPlan splits the fetch of the steps ending in [start, t] into segments at the History's
// tier resolutions: 60 steps where only the coarsest tier holds them, 10 steps where the middle
// tier does, single steps for the newest 360. Consecutive segments are contiguous: each covers
// exactly the time after the previous one's last end. The first segment may start up to one
// bucket before start, which only means a little more history.
//
// For a 30d window at 1m this is about 1,400 points instead of 43,200.
func backfillPlan(start, t time.Time, step time.Duration) []segment {
	mid, coarse := midRes*step, coarseRes*step
	fineFrom := sli.Align(t.Add(-fineSteps*step), mid) // the fine segment covers (fineFrom, t]
	if !start.Before(fineFrom) {
		return []segment{{from: start, to: t, step: step}}
	}
	var segs []segment
	midFirst := ceilAlign(start, mid)
	if midFrom := sli.Align(t.Add(-midSteps*step), coarse); start.Before(midFrom) {
		segs = append(segs, segment{from: ceilAlign(start, coarse), to: midFrom, step: coarse})
		midFirst = midFrom.Add(mid)
	}
	if !midFirst.After(fineFrom) {
		segs = append(segs, segment{from: midFirst, to: fineFrom, step: mid})
	}
	return append(segs, segment{from: fineFrom.Add(step), to: t, step: step})
}

// ceilAlign returns the first multiple of d since the Unix epoch at or after t.
func ceilAlign(t time.Time, d time.Duration) time.Time {
	a := sli.Align(t, d)
	if a.Before(t) {
		a = a.Add(d)
	}
	return a
}

// coarseBackfill reports whether an SLO's increments may be fetched at a coarser step than the
// evaluation step, and whether they must then be rescaled.
//
// Only additive SLIs qualify: events and latency SLIs whose every use of {{.window}} is rate,
// irate or increase, so that an increment over 60 steps is the sum of the 60 step increments. A
// time-slice SLI (one event per slice) or a Sloth ratio SLI (an average of per-step ratios) is
// not, nor is any other range function (avg_over_time gets the step itself, not a sum).
//
// perSecond is true when the queries count per second (rate, irate: the rewritten increment is
// divided by the step): a coarse increment is then multiplied by its step over the evaluation step
// to be in the same unit as the fine ones. Queries mixing per-second and plain counts do not
// qualify.
func coarseBackfill(slo *rules.SLO) (ok, perSecond bool) {
	var queries []string
	switch slo.SLI.Kind {
	case rules.EventsSLI:
		queries = []string{slo.SLI.ErrorQuery, slo.SLI.TotalQuery}
	case rules.LatencySLI:
		// sli builds rate(<histogram>_count[w]) and rate(<histogram>_bucket{le=...}[w]).
		return true, true
	default:
		return false, false
	}
	rates, increases := 0, 0
	for _, q := range queries {
		expr, err := promqlParser.ParseExpr(strings.ReplaceAll(q, "{{.window}}", "1m"))
		if err != nil {
			return false, false
		}
		other := false
		parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
			switch n := n.(type) {
			case *parser.Call:
				takesRange := false
				for _, a := range n.Args {
					if _, ok := a.(*parser.MatrixSelector); ok {
						takesRange = true
					}
				}
				switch {
				case !takesRange:
				case n.Func.Name == "rate" || n.Func.Name == "irate":
					rates++
				case n.Func.Name == "increase":
					increases++
				default:
					other = true
				}
			case *parser.SubqueryExpr:
				other = true
			}
			return nil
		})
		if other {
			return false, false
		}
	}
	switch {
	case rates > 0 && increases == 0:
		return true, true
	case increases > 0 && rates == 0:
		return true, false
	}
	return false, false
}

// fetch returns the increments of the steps ending in [start, t]. An initial backfill (empty
// history) of an additive SLI longer than the finest tier is fetched segment by segment at the
// tiers' resolutions (backfillPlan); everything else at the evaluation step with the SLO's
// prepared queries (fine: built for step and lookback), which is at most two queries (split under
// the server's point limit by the querier).
func fetch(ctx context.Context, q sli.Querier, slo *rules.SLO, fine *sli.Prepared, start, t time.Time, step, lookback time.Duration, initial bool) ([]burnrate.Increment, error) {
	if !initial || t.Sub(start) < fineSteps*step {
		return fine.Increments(ctx, q, start, t)
	}
	ok, perSecond := coarseBackfill(slo) // parses the queries: only worth it for a long backfill
	if !ok {
		return fine.Increments(ctx, q, start, t)
	}
	plan := backfillPlan(start, t, step)
	n := 0
	for _, seg := range plan {
		n += int(seg.to.Sub(seg.from)/seg.step) + 1
	}
	out := make([]burnrate.Increment, 0, n)
	for _, seg := range plan {
		// sli needs the lookback to span a step; a counter sample within the coarse step is
		// what an exact difference between its two ends needs anyway.
		var (
			incs []burnrate.Increment
			err  error
		)
		if seg.step == step {
			incs, err = fine.Increments(ctx, q, seg.from, seg.to)
		} else {
			opt := sli.Options{Step: seg.step, Lookback: max(lookback, seg.step)}
			incs, err = sli.Increments(ctx, q, slo, seg.from, seg.to, opt)
		}
		if err != nil {
			return nil, err
		}
		if seg.step != step && perSecond {
			scale := float64(seg.step / step)
			for i := range incs {
				incs[i].Bad *= scale
				incs[i].Total *= scale
			}
		}
		out = append(out, incs...)
	}
	return out, nil
}
