// Package sli turns the SLI of a model SLO into PromQL and the PromQL results into per-step
// increments (bad, total) on a fixed step grid. It runs over any Querier: the embedded PromQL
// engine over recorded data (slod check, slod test) or the Prometheus HTTP API (slod run), so live
// and offline evaluation share one path (docs/DESIGN.md §2).
package sli

import (
	"context"
	"fmt"
	"time"
)

// Querier evaluates PromQL. It is the only thing package sli needs from a data source.
type Querier interface {
	// QueryRange evaluates query at every multiple of step in [start, end] (start == end: one
	// instant query). It returns the result series; absent steps are simply missing points.
	QueryRange(ctx context.Context, query string, start, end time.Time, step time.Duration) ([]Series, error)
}

// PrometheusEngine is implemented by a Querier that evaluates with Prometheus's own engine (package
// promql), such as the recorded data of slod check and slod test. Increments sends it the subquery
// form of the step difference (RewriteSubquery), which that engine evaluates to the same numbers
// as the portable form at well under half the cost. Other Queriers, such as the HTTP API, which
// may be VictoriaMetrics, get the portable form (Rewrite).
type PrometheusEngine interface {
	Querier
	// PrometheusEngine is a marker; it is never called.
	PrometheusEngine()
}

// Series is one result series of a query.
type Series struct {
	Labels map[string]string
	Points []Point
}

// Point is one sample of a result series.
type Point struct {
	T time.Time
	V float64
}

// The defaults of Options. A 1m step matches the SRE Workbook's shortest (5m) window with room to
// spare; a 10m lookback bridges scrape gaps of up to 10 minutes (see DESIGN §2 for the trade-off).
const (
	DefaultStep     = time.Minute
	DefaultLookback = 10 * time.Minute
)

// Options tunes how SLIs become per-step increments. Zero fields take the defaults.
type Options struct {
	// Step is the evaluation step: increments are computed for (t-Step, t] at every multiple of Step
	// since the Unix epoch.
	Step time.Duration
	// Lookback is how far back the rewritten queries look for the last sample of a counter
	// (last_over_time(S[Lookback])); a counter that grew during a scrape gap shorter than Lookback
	// is counted in the first step after the gap.
	Lookback time.Duration
}

// withDefaults applies the defaults in one place and rejects what cannot work.
func (o Options) withDefaults() (Options, error) {
	if o.Step == 0 {
		o.Step = DefaultStep
	}
	if o.Lookback == 0 {
		o.Lookback = DefaultLookback
	}
	if o.Step < time.Millisecond || o.Step%time.Millisecond != 0 {
		return o, fmt.Errorf("step %s must be a positive multiple of 1ms", o.Step)
	}
	if o.Lookback < o.Step || o.Lookback%time.Millisecond != 0 {
		return o, fmt.Errorf("lookback %s must be a multiple of 1ms and at least the step %s", o.Lookback, o.Step)
	}
	return o, nil
}

// Align floors t to the step grid: the latest multiple of step since the Unix epoch at or before t.
// Times are compared at millisecond resolution, as Prometheus does.
func Align(t time.Time, step time.Duration) time.Time {
	ms := t.UnixMilli()
	s := step.Milliseconds()
	if s <= 0 {
		return time.UnixMilli(ms).UTC()
	}
	r := ms % s
	if r < 0 {
		r += s
	}
	return time.UnixMilli(ms - r).UTC()
}
