package recorded

import (
	"fmt"
	"slices"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
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
// samples, each series once, in the DB's order. `slod check` compares them with its step: data
// coarser than the step leaves steps without data.
func (db *DB) Intervals(selectors []string) ([]SeriesInterval, error) {
	db.mu.RLock()
	defer db.mu.RUnlock()
	seen := map[*memSeries]bool{}
	var out []SeriesInterval
	for _, sel := range selectors {
		ms, err := selectorParser.ParseMetricSelector(sel)
		if err != nil {
			return nil, fmt.Errorf("selector %q: %w", sel, err)
		}
		for _, s := range db.matching(ms) {
			if seen[s] {
				continue
			}
			seen[s] = true
			iv, ok, err := s.interval()
			if err != nil {
				return nil, err
			}
			if ok {
				out = append(out, SeriesInterval{Series: seriesText(s.lset), Interval: iv})
			}
		}
	}
	return out, nil
}

// interval is the median time between consecutive samples of s (false with fewer than two).
// Scrape intervals repeat, so the differences are counted rather than sorted.
func (s *memSeries) interval() (time.Duration, bool, error) {
	counts := map[int64]int{}
	n := 0
	prev, has := int64(0), false
	var it chunkenc.Iterator
	for _, c := range s.chunks {
		it = c.chunk.Iterator(it)
		for it.Next() != chunkenc.ValNone {
			t := it.AtT()
			if has {
				counts[t-prev]++
				n++
			}
			prev, has = t, true
		}
		if err := it.Err(); err != nil {
			return 0, false, fmt.Errorf("reading %s: %w", s.lset, err)
		}
	}
	if n == 0 {
		return 0, false, nil
	}
	diffs := make([]int64, 0, len(counts))
	for d := range counts {
		diffs = append(diffs, d)
	}
	slices.Sort(diffs)
	seen := 0
	for _, d := range diffs {
		seen += counts[d]
		if 2*seen >= n {
			return time.Duration(d) * time.Millisecond, true, nil
		}
	}
	return 0, false, nil // unreachable: the counts add up to n
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
