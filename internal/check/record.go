package check

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/slod-dev/slod/internal/sli"
)

// Record fetches every series that the selectors match, as the source sees them at each multiple
// of step in [from, to], for `slod record`. A series matched by several selectors is kept once.
// Over the Prometheus API the values are the ones a query sees at those times (the last sample
// within the lookback delta), so a step equal to the scrape interval keeps what the SLIs need.
func Record(ctx context.Context, q sli.Querier, selectors []string, from, to time.Time, step time.Duration) ([]Series, error) {
	if step <= 0 {
		return nil, fmt.Errorf("recording: step must be positive, got %s", step)
	}
	if to.Before(from) {
		return nil, fmt.Errorf("recording: end %s before start %s", to.Format(time.RFC3339), from.Format(time.RFC3339))
	}
	seen := map[string]bool{}
	var out []Series
	for _, sel := range selectors {
		res, err := q.QueryRange(ctx, sel, from, to, step)
		if err != nil {
			return nil, fmt.Errorf("recording %s: %w", sel, err)
		}
		for _, s := range res {
			if s.Labels["__name__"] == "" {
				return nil, fmt.Errorf("recording %s: a result series has no metric name; selectors must select raw series", sel)
			}
			ser := Series{Labels: make([]Label, 0, len(s.Labels))}
			for n, v := range s.Labels {
				ser.Labels = append(ser.Labels, Label{Name: n, Value: v})
			}
			sort.Slice(ser.Labels, func(i, j int) bool { return ser.Labels[i].Name < ser.Labels[j].Name })
			k := ser.key()
			if seen[k] {
				continue
			}
			seen[k] = true
			ser.Samples = make([]Sample, 0, len(s.Points))
			for _, p := range s.Points {
				ms := p.T.UnixMilli()
				// The API returns points in time order; a repeated timestamp (two chunks of a split
				// query overlapping) is kept once.
				if n := len(ser.Samples); n > 0 && ms <= ser.Samples[n-1].T {
					continue
				}
				ser.Samples = append(ser.Samples, Sample{T: ms, V: p.V})
			}
			out = append(out, ser)
		}
	}
	return out, nil
}
