package sli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/prometheus/promql/parser"

	"github.com/slod-dev/slod/internal/burnrate"
	"github.com/slod-dev/slod/internal/rules"
)

// additivity is what Additive reports about an SLI.
type additivity struct {
	ok, perSecond bool
}

// Additive reports whether the increments of slo add up across steps, so that the increment over a
// span of several steps is the sum of its steps' increments: events and latency SLIs whose every
// use of {{.window}} is rate, irate or increase of a series selector. Such an SLI may be fetched at
// a coarser step than the evaluation step (a backfill) and its counters' growth across a gap in
// the data can be bridged (Prepared.Bridge). A time-slice SLI (one event per slice) or a Sloth
// ratio SLI (an average of per-step ratios) is not additive, nor is any other range function
// (avg_over_time gets the step itself, not a sum) or a subquery.
//
// perSecond is true when the queries count per second (rate, irate: the rewritten increment is
// divided by the step), so that an increment fetched at a coarser step must be multiplied by that
// step over the evaluation step to be in the unit of the others. Queries mixing per-second and
// plain counts are not additive.
func Additive(slo *rules.SLO) (ok, perSecond bool) {
	a := additiveSLI(&slo.SLI)
	return a.ok, a.perSecond
}

func additiveSLI(def *rules.SLI) additivity {
	var queries []string
	switch def.Kind {
	case rules.EventsSLI:
		queries = []string{def.ErrorQuery, def.TotalQuery}
	case rules.LatencySLI:
		// rawQueries builds rate(<histogram>_count[w]) and rate(<histogram>_bucket{le=...}[w]).
		return additivity{ok: true, perSecond: true}
	default:
		return additivity{}
	}
	rates, increases := 0, 0
	for _, q := range queries {
		expr, err := promql.ParseExpr(windowPlaceholder.ReplaceAllLiteralString(q, sentinelText))
		if err != nil {
			return additivity{}
		}
		other := false
		parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
			switch n := n.(type) {
			case *parser.Call:
				fn, ranged := rangeFunction(n)
				switch {
				case !ranged:
				case fn == "rate" || fn == "irate":
					rates++
				case fn == "increase":
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
			return additivity{}
		}
	}
	switch {
	case rates > 0 && increases == 0:
		return additivity{ok: true, perSecond: true}
	case increases > 0 && rates == 0:
		return additivity{ok: true}
	}
	return additivity{}
}

// rangeFunction returns the name of the function c calls and whether one of its arguments is a
// range (a matrix selector).
func rangeFunction(c *parser.Call) (string, bool) {
	for _, a := range c.Args {
		if _, ok := a.(*parser.MatrixSelector); ok {
			return c.Func.Name, true
		}
	}
	return "", false
}

// Additive reports Additive of the SLO p was prepared for.
func (p *Prepared) Additive() (ok, perSecond bool) { return p.additive.ok, p.additive.perSecond }

// Bridge returns the increment of the step ending at end with every counter's previous value read
// at since instead of one step earlier (RewriteBridge): the growth across a gap in the data from
// since to end-step is counted in this one step, as if the source had had data all along. since is
// the end of the last step that had data, at least one step before end. Only additive SLIs
// (Additive) can be bridged; for another SLI Bridge returns an error. Bridge sends one instant
// query per query of the SLI, in the portable form whatever the Querier (the subquery form only
// holds on the step grid). Bridge is for an SLO without group_by; BridgeGroups bridges every group.
func (p *Prepared) Bridge(ctx context.Context, q Querier, end, since time.Time) (burnrate.Increment, error) {
	if len(p.groupBy) > 0 {
		return burnrate.Increment{}, fmt.Errorf("SLO %s is grouped by %s: bridge its groups", p.id, strings.Join(p.groupBy, ", "))
	}
	groups, err := p.BridgeGroups(ctx, q, end, since)
	if err != nil {
		return burnrate.Increment{}, err
	}
	return groups[0].Incs[0], nil
}

// BridgeGroups is Bridge for every group of the SLO (one Group per group, with one increment).
func (p *Prepared) BridgeGroups(ctx context.Context, q Querier, end, since time.Time) ([]Group, error) {
	if !p.additive.ok {
		return nil, fmt.Errorf("SLO %s: a %s SLI that is not a sum of counters cannot be bridged", p.id, p.sli.Kind)
	}
	span := end.Sub(since)
	if span < p.opt.Step || span%p.opt.Step != 0 {
		return nil, fmt.Errorf("SLO %s: bridging from %s to %s: not a whole number of steps %s", p.id,
			since.UTC().Format(time.RFC3339), end.UTC().Format(time.RFC3339), p.opt.Step)
	}
	raw, err := rawQueries(&p.sli, p.groupBy)
	if err != nil {
		return nil, fmt.Errorf("SLO %s: %w", p.id, err)
	}
	rw := rewriter{window: p.opt.Step, prev: span, lookback: p.opt.Lookback}
	var queries Queries
	if queries.Bad, err = rewrite(raw.Bad, rw); err != nil {
		return nil, fmt.Errorf("SLO %s: %w", p.id, err)
	}
	if queries.Total, err = rewrite(raw.Total, rw); err != nil {
		return nil, fmt.Errorf("SLO %s: %w", p.id, err)
	}
	g, err := newGrid(end, end, p.opt.Step)
	if err != nil {
		return nil, fmt.Errorf("SLO %s: %w", p.id, err)
	}
	return p.events(ctx, q, queries, g)
}
