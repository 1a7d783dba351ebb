package recorded

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"

	"github.com/slod-dev/slod/internal/sli"
)

// Engine settings for recorded data. LookbackDelta is Prometheus's default, so instant selectors
// behave as they would on the server the data came from. Limits are generous because a backtest
// is one user's batch job over data they chose, not a shared server to protect.
const (
	lookbackDelta = 5 * time.Minute
	maxSamples    = 1 << 30
	queryTimeout  = time.Hour
)

// NewQuerier returns an sli.Querier that evaluates PromQL over db with Prometheus's own engine
// (promql.NewEngine), the same evaluation Prometheus would do on the same samples.
func NewQuerier(db *DB) sli.Querier {
	return &engineQuerier{data: db, clean: db.clean, engine: newEngine()}
}

// NewQueryableQuerier returns an sli.Querier that evaluates PromQL over any storage (a TSDB
// directory for slod check --data DIR) with the engine NewQuerier uses. The queries are not
// simplified (sli.SimplifySubquery): that needs to know, per series, what a DB learns as it parses.
func NewQueryableQuerier(q storage.Queryable) sli.Querier {
	return &engineQuerier{data: q, engine: newEngine()}
}

func newEngine() *promql.Engine {
	return promql.NewEngine(promql.EngineOpts{
		MaxSamples:           maxSamples,
		Timeout:              queryTimeout,
		LookbackDelta:        lookbackDelta,
		EnableAtModifier:     true,
		EnableNegativeOffset: true,
	})
}

type engineQuerier struct {
	data storage.Queryable
	// clean tells whether the series matching a selector allow sli.SimplifySubquery; nil: never.
	clean  func(ms []*labels.Matcher, scale float64) (plain, unfiltered bool)
	engine *promql.Engine
}

// PrometheusEngine marks the querier as Prometheus's own engine: sli.Increments sends it the
// subquery form of the step difference.
func (*engineQuerier) PrometheusEngine() {}

var _ sli.PrometheusEngine = (*engineQuerier)(nil)

// QueryRange runs a range query (an instant query when start equals end) and converts the result.
// A query in the subquery form of the step difference is run in the cheaper form of
// sli.SimplifySubquery when the series it reads allow (the same numbers, at about half the CPU).
func (q *engineQuerier) QueryRange(ctx context.Context, query string, start, end time.Time, step time.Duration) ([]sli.Series, error) {
	run, lookback := query, time.Duration(0) // 0: the engine's lookbackDelta
	if q.clean != nil {
		if simpler, lb, ok := sli.SimplifySubquery(query, q.clean); ok {
			run, lookback = simpler, lb
		}
	}
	return q.queryRange(ctx, query, run, lookback, start, end, step)
}

// queryRange runs run, which is query or its simpler form, with the given lookback delta (0: the
// engine's). Errors name query.
func (q *engineQuerier) queryRange(ctx context.Context, query, run string, lookback time.Duration, start, end time.Time, step time.Duration) ([]sli.Series, error) {
	opts := promql.NewPrometheusQueryOpts(false, lookback, nil)
	var (
		qry promql.Query
		err error
	)
	if start.Equal(end) {
		qry, err = q.engine.NewInstantQuery(ctx, q.data, opts, run, start)
	} else {
		qry, err = q.engine.NewRangeQuery(ctx, q.data, opts, run, start, end, step)
	}
	if err != nil {
		return nil, fmt.Errorf("preparing query %q: %w", query, err)
	}
	defer qry.Close()
	res := qry.Exec(ctx)
	if res.Err != nil {
		return nil, fmt.Errorf("evaluating query %q: %w", query, res.Err)
	}
	switch v := res.Value.(type) {
	case promql.Matrix:
		out := make([]sli.Series, 0, len(v))
		for _, s := range v {
			ser := sli.Series{Labels: s.Metric.Map(), Points: make([]sli.Point, 0, len(s.Floats))}
			for _, p := range s.Floats {
				ser.Points = append(ser.Points, sli.Point{T: time.UnixMilli(p.T).UTC(), V: p.F})
			}
			if len(s.Histograms) > 0 {
				return nil, fmt.Errorf("query %q returned native histograms, which SLIs cannot use", query)
			}
			out = append(out, ser)
		}
		return out, nil
	case promql.Vector:
		out := make([]sli.Series, 0, len(v))
		for _, s := range v {
			if s.H != nil {
				return nil, fmt.Errorf("query %q returned native histograms, which SLIs cannot use", query)
			}
			out = append(out, sli.Series{Labels: s.Metric.Map(), Points: []sli.Point{{T: time.UnixMilli(s.T).UTC(), V: s.F}}})
		}
		return out, nil
	case promql.Scalar:
		return []sli.Series{{Labels: labels.EmptyLabels().Map(), Points: []sli.Point{{T: time.UnixMilli(v.T).UTC(), V: v.V}}}}, nil
	}
	return nil, fmt.Errorf("query %q returned a %s, not a number or vector", query, res.Value.Type())
}
