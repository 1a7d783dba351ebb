package recorded

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

// selectorParser parses the selectors of Intervals; it keeps no state between calls.
var selectorParser = parser.NewParser(parser.Options{})

// SeriesInterval is how often a series was sampled.
type SeriesInterval struct {
	// Series is the series as PromQL writes it: req_total{code="500"}.
	Series string
	// Interval is the median time between two consecutive samples: the scrape interval, which a
	// scrape gap or a restart does not change.
	Interval time.Duration
}

// Intervals returns the sampling interval of every series one of the selectors (series selectors
// such as `req_total{code="500"}`, as sli.Selectors gives them) matches and that has at least two
// samples, each series once, in the DB's order: QueryableIntervals over all of the DB's samples.
// `slod check` compares them with its step: data coarser than the step leaves steps without data.
func (db *DB) Intervals(selectors []string) ([]SeriesInterval, error) {
	return QueryableIntervals(context.Background(), db, math.MinInt64, math.MaxInt64, selectors)
}

// spacing counts the differences between consecutive sample times (ms). Scrape intervals repeat,
// so the differences are counted rather than sorted.
type spacing struct {
	counts map[int64]int
	n      int
	prev   int64
	has    bool
}

func (s *spacing) add(t int64) {
	if s.has {
		if s.counts == nil {
			s.counts = map[int64]int{}
		}
		s.counts[t-s.prev]++
		s.n++
	}
	s.prev, s.has = t, true
}

// median is the median difference (false with fewer than two samples).
func (s *spacing) median() (time.Duration, bool) {
	if s.n == 0 {
		return 0, false
	}
	diffs := make([]int64, 0, len(s.counts))
	for d := range s.counts {
		diffs = append(diffs, d)
	}
	slices.Sort(diffs)
	seen := 0
	for _, d := range diffs {
		seen += s.counts[d]
		if 2*seen >= s.n {
			return time.Duration(d) * time.Millisecond, true
		}
	}
	return 0, false // unreachable: the counts add up to n
}

// QueryableIntervals is Intervals over any storage (a TSDB directory), for the series' samples in
// [mint, maxt] (ms), each series once, in the order the selectors find them.
func QueryableIntervals(ctx context.Context, q storage.Queryable, mint, maxt int64, selectors []string) ([]SeriesInterval, error) {
	qr, err := q.Querier(mint, maxt)
	if err != nil {
		return nil, err
	}
	defer qr.Close()
	seen := map[string]bool{}
	var out []SeriesInterval
	var it chunkenc.Iterator
	for _, sel := range selectors {
		ms, err := selectorParser.ParseMetricSelector(sel)
		if err != nil {
			return nil, fmt.Errorf("selector %q: %w", sel, err)
		}
		ss := qr.Select(ctx, false, nil, ms...)
		for ss.Next() {
			s := ss.At()
			key := s.Labels().String()
			if seen[key] {
				continue
			}
			seen[key] = true
			var d spacing
			it = s.Iterator(it)
			for it.Next() != chunkenc.ValNone {
				d.add(it.AtT())
			}
			if err := it.Err(); err != nil {
				return nil, fmt.Errorf("reading %s: %w", s.Labels(), err)
			}
			if iv, ok := d.median(); ok {
				out = append(out, SeriesInterval{Series: seriesText(s.Labels()), Interval: iv})
			}
		}
		if err := ss.Err(); err != nil {
			return nil, fmt.Errorf("selector %q: %w", sel, err)
		}
	}
	return out, nil
}

// seriesText writes a series as PromQL does: its name, then its other labels in braces.
func seriesText(lset labels.Labels) string {
	name := lset.Get(labels.MetricName)
	b := labels.NewBuilder(lset)
	b.Del(labels.MetricName)
	rest := b.Labels()
	if rest.IsEmpty() {
		return name
	}
	return name + rest.String()
}
