package sli

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/slod-dev/slod/internal/burnrate"
	"github.com/slod-dev/slod/internal/rules"
)

// Increments returns the per-step increments of slo: exactly one Increment for every multiple of
// opt.Step in [Align(start), Align(end)], End being that step time. It sends one QueryRange per
// query of the SLO (at most two) and sums every series a query returns at a step. The queries are
// in the portable form (BuildQueries), or in the cheaper subquery form when q implements
// PrometheusEngine (DESIGN §2).
//
// Bad and Total are in the units of the queries: events per second when they use rate (the
// rewritten rate is the step's increase divided by the step), events when they use increase. Only
// their ratio matters to burn rates. The bad and total queries run concurrently, so q must be safe
// for concurrent use. Per SLI kind:
//   - events and latency: a step without a total (no series, or NaN) is Missing; no error series
//     while the total has data is 0 bad; a NaN error value is Missing.
//   - time slice: slice ends get Bad = 1 when the query's value does not satisfy op, Total = 1;
//     other steps 0/0 (Missing while the last slice end had no data); a slice end without a
//     value, or with a NaN, is Missing. When the query returns several series, the slice is good
//     only if every one satisfies op.
//   - ratio: Bad = the error ratio, Total = 1; no value or NaN is Missing.
//
// Negative values (which a correct counter never produces, but a buggy query might) count as 0,
// and bad never exceeds total, so one odd step cannot push a burn rate outside [0, 1/(1-SLO)].
func Increments(ctx context.Context, q Querier, slo *rules.SLO, start, end time.Time, opt Options) ([]burnrate.Increment, error) {
	p, err := Prepare(slo, q, opt)
	if err != nil {
		return nil, err
	}
	return p.Increments(ctx, q, start, end)
}

// Prepared is one SLO's per-step queries, built (parsed and rewritten, DESIGN §2) once for a step, a
// lookback and a kind of Querier, so that a caller asking for the same SLO's newest steps again
// and again (slod run, every cycle) does not redo that work each time. It keeps what Increments
// needs of the SLO (its id and SLI), not the SLO itself. A Prepared is immutable and safe for
// concurrent use.
type Prepared struct {
	id       string
	sli      rules.SLI
	asked    Options // as given to Prepare, for Matches
	opt      Options // with the defaults applied
	subquery bool
	queries  Queries
	additive additivity
}

// Prepare builds the queries of slo for the step and lookback of opt, in the form for queriers
// like q: the subquery form when q implements PrometheusEngine, else the portable one. The errors
// are those Increments would return.
func Prepare(slo *rules.SLO, q Querier, opt Options) (*Prepared, error) {
	o, err := opt.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("SLO %s: %w", slo.ID(), err)
	}
	_, subquery := q.(PrometheusEngine)
	queries, err := buildQueries(slo.ID(), &slo.SLI, o, subquery)
	if err != nil {
		return nil, err
	}
	return &Prepared{id: slo.ID(), sli: slo.SLI, asked: opt, opt: o, subquery: subquery, queries: queries,
		additive: additiveSLI(&slo.SLI)}, nil
}

// Matches reports whether p holds the queries Prepare(slo, q, opt) would build: same SLO id and
// SLI, same options, same kind of Querier. A caller keeps a Prepared across reloads while it
// matches.
func (p *Prepared) Matches(slo *rules.SLO, q Querier, opt Options) bool {
	_, subquery := q.(PrometheusEngine)
	return p.asked == opt && p.subquery == subquery && p.sli == slo.SLI && p.id == slo.ID()
}

// Options are the options p was prepared with, defaults applied.
func (p *Prepared) Options() Options { return p.opt }

// Increments is the package's Increments with the prepared queries: the increments of every step
// in [Align(start), Align(end)]. q should be of the kind given to Prepare (a PrometheusEngine or
// not); for another kind the queries are built for this call.
func (p *Prepared) Increments(ctx context.Context, q Querier, start, end time.Time) ([]burnrate.Increment, error) {
	queries := p.queries
	if _, subquery := q.(PrometheusEngine); subquery != p.subquery {
		var err error
		if queries, err = buildQueries(p.id, &p.sli, p.opt, subquery); err != nil {
			return nil, err
		}
	}
	g, err := newGrid(start, end, p.opt.Step)
	if err != nil {
		return nil, fmt.Errorf("SLO %s: %w", p.id, err)
	}
	incs := make([]burnrate.Increment, g.n)
	for i := range incs {
		incs[i].End = g.at(i)
	}
	switch p.sli.Kind {
	case rules.EventsSLI, rules.LatencySLI:
		if err := p.events(ctx, q, queries, g, incs); err != nil {
			return nil, err
		}
	case rules.RatioSLI:
		ratio, err := g.sum(ctx, q, queries.Value)
		if err != nil {
			return nil, fmt.Errorf("SLO %s: querying the error ratio: %w", p.id, err)
		}
		for i := range incs {
			r := ratio[i]
			if !r.ok || math.IsNaN(r.v) {
				incs[i].Missing = true
				continue
			}
			incs[i].Bad, incs[i].Total = math.Min(math.Max(r.v, 0), 1), 1
		}
	case rules.TimesliceSLI:
		if err := timeslices(ctx, q, &p.sli, queries.Value, g, incs); err != nil {
			return nil, fmt.Errorf("SLO %s: %w", p.id, err)
		}
	default:
		return nil, fmt.Errorf("SLO %s: unknown SLI kind %q", p.id, p.sli.Kind)
	}
	return incs, nil
}

// events fills incs for an events or latency SLI from its bad and total queries over the grid g.
func (p *Prepared) events(ctx context.Context, q Querier, queries Queries, g grid, incs []burnrate.Increment) error {
	// The two queries are independent: run them side by side, which halves the wall time of a
	// backtest on the embedded engine and of a cycle against a remote Prometheus.
	var (
		bad    []value
		badErr error
		done   = make(chan struct{})
	)
	go func() {
		defer close(done)
		bad, badErr = g.sum(ctx, q, queries.Bad)
	}()
	total, err := g.sum(ctx, q, queries.Total)
	<-done
	if err != nil {
		return fmt.Errorf("SLO %s: querying total events: %w", p.id, err)
	}
	if badErr != nil {
		return fmt.Errorf("SLO %s: querying bad events: %w", p.id, badErr)
	}
	for i := range incs {
		t, b := total[i], bad[i]
		if !t.ok || math.IsNaN(t.v) || (b.ok && math.IsNaN(b.v)) {
			incs[i].Missing = true
			continue
		}
		incs[i].Total = math.Max(t.v, 0)
		if b.ok {
			incs[i].Bad = math.Min(math.Max(b.v, 0), incs[i].Total)
		} else {
			incs[i].NoBad = true
		}
	}
	return nil
}

// timeslices fills incs for a time-slice SLI from one range query stepping from slice end to slice
// end. A step between two slice ends counts nothing (0/0) while the SLI has data, and is Missing
// when the last slice end had none: the steps of a slice whose query returns nothing are no
// evidence of anything (the no-data alert sees them as such). The query starts at the slice end
// at or before the first step, to know that for the first steps.
func timeslices(ctx context.Context, q Querier, def *rules.SLI, query string, g grid, incs []burnrate.Increment) error {
	slice, err := sliceOf(def, g.step)
	if err != nil {
		return err
	}
	first, last := Align(g.first, slice), Align(g.last, slice)
	series, err := q.QueryRange(ctx, query, first, last, slice)
	if err != nil {
		return fmt.Errorf("querying the time-slice value: %w", err)
	}
	verdicts, err := sliceVerdicts(def, series, first, last, slice)
	if err != nil {
		return err
	}
	alive := false // the last slice end had data
	if v, ok := verdicts[first]; ok && first.Before(g.first) {
		alive = v.ok()
	}
	for i := range incs {
		v, end := verdicts[incs[i].End]
		switch {
		case end && !v.ok():
			incs[i].Missing, alive = true, false
		case end:
			incs[i].Total, alive = 1, true
			if v.bad {
				incs[i].Bad = 1
			}
		case !alive:
			incs[i].Missing = true
		}
	}
	return nil
}

// sliceVerdict is what the query said at one slice end.
type sliceVerdict struct{ seen, bad, missing bool }

func (v *sliceVerdict) ok() bool { return v.seen && !v.missing }

// sliceVerdicts judges every slice end in [first, last]: bad when a series does not satisfy the
// SLI's condition, missing when none answered or one is NaN.
func sliceVerdicts(def *rules.SLI, series []Series, first, last time.Time, slice time.Duration) (map[time.Time]*sliceVerdict, error) {
	ends := make(map[time.Time]*sliceVerdict)
	for t := first; !t.After(last); t = t.Add(slice) {
		ends[t] = &sliceVerdict{}
	}
	for _, s := range series {
		for _, p := range s.Points {
			v, ok := ends[p.T.UTC()]
			if !ok {
				return nil, fmt.Errorf("time-slice query returned a point at %s, which is not a slice end", p.T.UTC().Format(time.RFC3339Nano))
			}
			v.seen = true
			switch {
			case math.IsNaN(p.V):
				v.missing = true
			case !def.Op.Holds(p.V, def.Threshold):
				v.bad = true
			}
		}
	}
	return ends, nil
}

// grid is the step grid of one Increments call.
type grid struct {
	first, last time.Time
	step        time.Duration
	n           int
}

func newGrid(start, end time.Time, step time.Duration) (grid, error) {
	g := grid{first: Align(start, step), last: Align(end, step), step: step}
	if g.last.Before(g.first) {
		return g, fmt.Errorf("end %s is before start %s", end.UTC().Format(time.RFC3339), start.UTC().Format(time.RFC3339))
	}
	g.n = int(g.last.Sub(g.first)/step) + 1
	return g, nil
}

func (g grid) at(i int) time.Time { return g.first.Add(time.Duration(i) * g.step) }

// index is the step index of t, or -1 when t is not a step of the grid.
func (g grid) index(t time.Time) int {
	d := t.Sub(g.first)
	if d < 0 || d%g.step != 0 {
		return -1
	}
	i := int(d / g.step)
	if i >= g.n {
		return -1
	}
	return i
}

type value struct {
	v  float64
	ok bool
}

// sum runs query over the grid and sums every returned series at each step.
func (g grid) sum(ctx context.Context, q Querier, query string) ([]value, error) {
	series, err := q.QueryRange(ctx, query, g.first, g.last, g.step)
	if err != nil {
		return nil, err
	}
	out := make([]value, g.n)
	for _, s := range series {
		for _, p := range s.Points {
			i := g.index(p.T)
			if i < 0 {
				return nil, fmt.Errorf("query %q returned a point at %s, off the %s step grid from %s", query,
					p.T.UTC().Format(time.RFC3339Nano), g.step, g.first.UTC().Format(time.RFC3339))
			}
			out[i].v += p.V
			out[i].ok = true
		}
	}
	return out, nil
}
