package sli

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
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

// Groups is Increments per group of a grouped SLO (Prepared.Groups); one Group for an SLO
// without group_by.
func Groups(ctx context.Context, q Querier, slo *rules.SLO, start, end time.Time, opt Options) ([]Group, error) {
	p, err := Prepare(slo, q, opt)
	if err != nil {
		return nil, err
	}
	return p.Groups(ctx, q, start, end)
}

// Prepared is one SLO's per-step queries, built (parsed and rewritten, DESIGN §2) once for a step, a
// lookback and a kind of Querier, so that a caller asking for the same SLO's newest steps again
// and again (slod run, every cycle) does not redo that work each time. It keeps what Increments
// needs of the SLO (its id and SLI), not the SLO itself. A Prepared is immutable and safe for
// concurrent use.
type Prepared struct {
	id       string
	sli      rules.SLI
	groupBy  []string // the SLO's group_by labels (none: every series summed)
	asked    Options  // as given to Prepare, for Matches
	opt      Options  // with the defaults applied
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
	queries, err := buildQueries(slo.ID(), &slo.SLI, slo.GroupBy, o, subquery)
	if err != nil {
		return nil, err
	}
	return &Prepared{id: slo.ID(), sli: slo.SLI, groupBy: slices.Clone(slo.GroupBy), asked: opt, opt: o, subquery: subquery,
		queries: queries, additive: additiveSLI(&slo.SLI)}, nil
}

// Matches reports whether p holds the queries Prepare(slo, q, opt) would build: same SLO id and
// SLI, same options, same kind of Querier. A caller keeps a Prepared across reloads while it
// matches.
func (p *Prepared) Matches(slo *rules.SLO, q Querier, opt Options) bool {
	_, subquery := q.(PrometheusEngine)
	return p.asked == opt && p.subquery == subquery && p.sli == slo.SLI && p.id == slo.ID() && slices.Equal(p.groupBy, slo.GroupBy)
}

// Options are the options p was prepared with, defaults applied.
func (p *Prepared) Options() Options { return p.opt }

// Increments is the package's Increments with the prepared queries: the increments of every step
// in [Align(start), Align(end)] of an SLO without group_by. q should be of the kind given to Prepare
// (a PrometheusEngine or not); for another kind the queries are built for this call.
func (p *Prepared) Increments(ctx context.Context, q Querier, start, end time.Time) ([]burnrate.Increment, error) {
	if len(p.groupBy) > 0 {
		return nil, fmt.Errorf("SLO %s is grouped by %s: its increments are per group", p.id, strings.Join(p.groupBy, ", "))
	}
	groups, err := p.Groups(ctx, q, start, end)
	if err != nil {
		return nil, err
	}
	return groups[0].Incs, nil
}

// Group is the increments of one group of a grouped SLO (rules.SLO.GroupBy), or of the whole of an
// SLO without group_by.
type Group struct {
	// Key identifies the group: "" for an SLO without group_by, else its labels (rules.GroupKey).
	Key    string
	Labels map[string]string
	Incs   []burnrate.Increment
}

// Groups returns the increments of every step in [Align(start), Align(end)] per group: exactly one
// Group (key "") for an SLO without group_by; for a grouped SLO one per distinct value set of its
// group_by labels among the series the queries return (the total query's for events and latency
// SLIs), in key order, a step without a value for the group being Missing.
func (p *Prepared) Groups(ctx context.Context, q Querier, start, end time.Time) ([]Group, error) {
	queries := p.queries
	if _, subquery := q.(PrometheusEngine); subquery != p.subquery {
		var err error
		if queries, err = buildQueries(p.id, &p.sli, p.groupBy, p.opt, subquery); err != nil {
			return nil, err
		}
	}
	g, err := newGrid(start, end, p.opt.Step)
	if err != nil {
		return nil, fmt.Errorf("SLO %s: %w", p.id, err)
	}
	switch p.sli.Kind {
	case rules.EventsSLI, rules.LatencySLI:
		return p.events(ctx, q, queries, g)
	case rules.RatioSLI:
		ratios, err := g.sumBy(ctx, q, queries.Value, p.groupBy)
		if err != nil {
			return nil, fmt.Errorf("SLO %s: querying the error ratio: %w", p.id, err)
		}
		return p.eachGroup(g, ratios, func(key string, incs []burnrate.Increment) {
			ratioIncrements(ratios.values(key), incs)
		}), nil
	case rules.TimesliceSLI:
		groups, err := timeslices(ctx, q, &p.sli, queries.Value, g, p.groupBy)
		if err != nil {
			return nil, fmt.Errorf("SLO %s: %w", p.id, err)
		}
		return groups, nil
	}
	return nil, fmt.Errorf("SLO %s: unknown SLI kind %q", p.id, p.sli.Kind)
}

// eachGroup returns one Group per group of gv (exactly one, key "", for an SLO without group_by),
// with increments on the grid g filled by fill.
func (p *Prepared) eachGroup(g grid, gv groupedValues, fill func(key string, incs []burnrate.Increment)) []Group {
	keys := gv.keys()
	if len(p.groupBy) == 0 {
		keys = []string{""}
	}
	out := make([]Group, len(keys))
	for i, k := range keys {
		out[i] = Group{Key: k, Labels: gv.labels(k), Incs: g.increments()}
		fill(k, out[i].Incs)
	}
	return out
}

// ratioIncrements fills incs from the error ratio at each step: Bad = the ratio, Total = 1.
func ratioIncrements(ratio []value, incs []burnrate.Increment) {
	for i := range incs {
		var r value
		if ratio != nil {
			r = ratio[i]
		}
		if !r.ok || math.IsNaN(r.v) {
			incs[i].Missing = true
			continue
		}
		incs[i].Bad, incs[i].Total = math.Min(math.Max(r.v, 0), 1), 1
	}
}

// events returns the groups of an events or latency SLI from its bad and total queries over the
// grid g.
func (p *Prepared) events(ctx context.Context, q Querier, queries Queries, g grid) ([]Group, error) {
	// The two queries are independent: run them side by side, which halves the wall time of a
	// backtest on the embedded engine and of a cycle against a remote Prometheus.
	var (
		bad    groupedValues
		badErr error
		done   = make(chan struct{})
	)
	go func() {
		defer close(done)
		bad, badErr = g.sumBy(ctx, q, queries.Bad, p.groupBy)
	}()
	total, err := g.sumBy(ctx, q, queries.Total, p.groupBy)
	<-done
	if err != nil {
		return nil, fmt.Errorf("SLO %s: querying total events: %w", p.id, err)
	}
	if badErr != nil {
		return nil, fmt.Errorf("SLO %s: querying bad events: %w", p.id, badErr)
	}
	return p.eachGroup(g, total, func(key string, incs []burnrate.Increment) {
		eventIncrements(total.values(key), bad.values(key), incs)
	}), nil
}

// eventIncrements fills incs from the total and bad values of one group (nil: no series).
func eventIncrements(total, bad []value, incs []burnrate.Increment) {
	for i := range incs {
		var t, b value
		if total != nil {
			t = total[i]
		}
		if bad != nil {
			b = bad[i]
		}
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
}

// timeslices returns the groups of a time-slice SLI from one range query stepping from slice end
// to slice end. A step between two slice ends counts nothing (0/0) while the SLI has data, and is
// Missing when the last slice end had none: the steps of a slice whose query returns nothing are no
// evidence of anything (the no-data alert sees them as such). The query starts at the slice end at
// or before the first step, to know that for the first steps.
func timeslices(ctx context.Context, q Querier, def *rules.SLI, query string, g grid, by []string) ([]Group, error) {
	slice, err := sliceOf(def, g.step)
	if err != nil {
		return nil, err
	}
	first, last := Align(g.first, slice), Align(g.last, slice)
	series, err := q.QueryRange(ctx, query, first, last, slice)
	if err != nil {
		return nil, fmt.Errorf("querying the time-slice value: %w", err)
	}
	byKey := map[string][]Series{}
	labels := map[string]map[string]string{}
	for _, s := range series {
		k, l := groupOf(s.Labels, by)
		byKey[k] = append(byKey[k], s)
		labels[k] = l
	}
	keys := slices.Sorted(maps.Keys(byKey))
	if len(by) == 0 {
		keys = []string{""}
	}
	out := make([]Group, len(keys))
	for i, k := range keys {
		verdicts, err := sliceVerdicts(def, byKey[k], first, last, slice)
		if err != nil {
			return nil, err
		}
		out[i] = Group{Key: k, Labels: labels[k], Incs: g.increments()}
		sliceIncrements(verdicts, first, g, out[i].Incs)
	}
	return out, nil
}

// sliceIncrements fills incs from the verdicts at the slice ends; first is the slice end the
// verdicts start at.
func sliceIncrements(verdicts map[time.Time]*sliceVerdict, first time.Time, g grid, incs []burnrate.Increment) {
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

// increments returns one zero Increment per step of g, End set.
func (g grid) increments() []burnrate.Increment {
	incs := make([]burnrate.Increment, g.n)
	for i := range incs {
		incs[i].End = g.at(i)
	}
	return incs
}

// groupedValues are a query's sums per group at each step of a grid.
type groupedValues map[string]*groupSum

type groupSum struct {
	labels map[string]string
	vals   []value
}

func (gv groupedValues) keys() []string { return slices.Sorted(maps.Keys(gv)) }

func (gv groupedValues) values(key string) []value {
	if s := gv[key]; s != nil {
		return s.vals
	}
	return nil
}

func (gv groupedValues) labels(key string) map[string]string {
	if s := gv[key]; s != nil {
		return s.labels
	}
	return nil
}

// groupOf returns the group of a series with these labels: its key and group labels ("", nil
// without group labels).
func groupOf(ls map[string]string, by []string) (string, map[string]string) {
	if len(by) == 0 {
		return "", nil
	}
	g := make(map[string]string, len(by))
	for _, l := range by {
		g[l] = ls[l]
	}
	return rules.GroupKey(g), g
}

// sumBy runs query over the grid and sums the returned series of each group at each step (every
// series into one sum, key "", when by is empty).
func (g grid) sumBy(ctx context.Context, q Querier, query string, by []string) (groupedValues, error) {
	series, err := q.QueryRange(ctx, query, g.first, g.last, g.step)
	if err != nil {
		return nil, err
	}
	out := groupedValues{}
	for _, s := range series {
		k, l := groupOf(s.Labels, by)
		sum := out[k]
		if sum == nil {
			sum = &groupSum{labels: l, vals: make([]value, g.n)}
			out[k] = sum
		}
		for _, p := range s.Points {
			i := g.index(p.T)
			if i < 0 {
				return nil, fmt.Errorf("query %q returned a point at %s, off the %s step grid from %s", query,
					p.T.UTC().Format(time.RFC3339Nano), g.step, g.first.UTC().Format(time.RFC3339))
			}
			sum.vals[i].v += p.V
			sum.vals[i].ok = true
		}
	}
	return out, nil
}
