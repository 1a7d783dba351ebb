package check

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/common/model"

	"github.com/slod-dev/slod/internal/sli"
)

// DefaultRecordChunk is the span of one query of Record: an hour of a series scraped every 15 s is
// 240 samples, so a selector may match tens of thousands of series before a query nears
// Prometheus's default limit of 50 million samples.
const DefaultRecordChunk = time.Hour

// recordConcurrency bounds the queries Record has in flight (the client bounds them too).
const recordConcurrency = 4

// Record fetches every sample of every series the selectors match in [from, to], as the source
// stored them, for `slod record`: a range-vector selector `sel[chunk]` evaluated as an instant
// query at the end of each chunk returns the raw samples of its range, where a range query would
// return the values seen at multiples of a step (the last sample within the lookback delta: one
// sample per step at most, and samples repeated or lost wherever the scrape interval is not the
// step). A series matched by several selectors is kept once; a sample at a chunk boundary that
// both chunks return (Prometheus 2's ranges are closed at the start) is kept once.
func Record(ctx context.Context, q sli.Querier, selectors []string, from, to time.Time, chunk time.Duration) ([]Series, error) {
	if chunk < time.Millisecond {
		return nil, fmt.Errorf("recording: the chunk must be at least 1ms, got %s", chunk)
	}
	if to.Before(from) {
		return nil, fmt.Errorf("recording: end %s before start %s", to.Format(time.RFC3339), from.Format(time.RFC3339))
	}
	// The first range reaches 1ms before from, so that a sample at from itself is recorded by
	// ranges that are open at the start (Prometheus 3, VictoriaMetrics).
	var ends []time.Time
	for t := from.Add(chunk); t.Before(to); t = t.Add(chunk) {
		ends = append(ends, t)
	}
	ends = append(ends, to)
	r := &recording{seen: map[string]int{}}
	for _, sel := range selectors {
		results := make([][]sli.Series, len(ends))
		errs := make([]error, len(ends))
		sem := make(chan struct{}, recordConcurrency)
		var wg sync.WaitGroup
		for i, end := range ends {
			start := from.Add(-time.Millisecond)
			if i > 0 {
				start = ends[i-1]
			}
			query := fmt.Sprintf("%s[%s]", sel, model.Duration(end.Sub(start)))
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				results[i], errs[i] = q.QueryRange(ctx, query, end, end, time.Millisecond)
			})
		}
		wg.Wait()
		for i := range ends {
			if errs[i] != nil {
				return nil, fmt.Errorf("recording %s: %w", sel, errs[i])
			}
			if err := r.add(sel, results[i], from); err != nil {
				return nil, err
			}
		}
	}
	return r.out, nil
}

// Resample fetches every series the selectors match as a query sees them at each multiple of step
// in [from, to] (`slod record --step`): one value per step, the last sample within the server's
// lookback delta, so it loses the samples between steps when they are denser and repeats one when
// they are sparser. Record keeps the samples as they are.
func Resample(ctx context.Context, q sli.Querier, selectors []string, from, to time.Time, step time.Duration) ([]Series, error) {
	if step <= 0 {
		return nil, fmt.Errorf("recording: step must be positive, got %s", step)
	}
	if to.Before(from) {
		return nil, fmt.Errorf("recording: end %s before start %s", to.Format(time.RFC3339), from.Format(time.RFC3339))
	}
	r := &recording{seen: map[string]int{}}
	for _, sel := range selectors {
		res, err := q.QueryRange(ctx, sel, from, to, step)
		if err != nil {
			return nil, fmt.Errorf("recording %s: %w", sel, err)
		}
		if err := r.add(sel, res, from); err != nil {
			return nil, err
		}
	}
	return r.out, nil
}

// recording gathers the series of a recording; each series once, its samples in time order.
type recording struct {
	out []Series
	// seen maps a series' key to its index in out, and the selector that first matched it.
	seen   map[string]int
	source []string
}

// add appends the samples of res, what selector sel returned, from from on.
func (r *recording) add(sel string, res []sli.Series, from time.Time) error {
	for _, s := range res {
		if s.Labels["__name__"] == "" {
			return fmt.Errorf("recording %s: a result series has no metric name; selectors must select raw series", sel)
		}
		ser := Series{Labels: make([]Label, 0, len(s.Labels))}
		for n, v := range s.Labels {
			ser.Labels = append(ser.Labels, Label{Name: n, Value: v})
		}
		sort.Slice(ser.Labels, func(i, j int) bool { return ser.Labels[i].Name < ser.Labels[j].Name })
		k := ser.key()
		i, ok := r.seen[k]
		if !ok {
			i = len(r.out)
			r.seen[k] = i
			r.source = append(r.source, sel)
			r.out = append(r.out, ser)
		} else if r.source[i] != sel {
			continue // matched by an earlier selector too: recorded from that one
		}
		for _, p := range s.Points {
			ms := p.T.UnixMilli()
			// A repeated timestamp (the boundary of two chunks) is kept once, and nothing before
			// from (the first range reaches a millisecond before it).
			if n := len(r.out[i].Samples); (n > 0 && ms <= r.out[i].Samples[n-1].T) || ms < from.UnixMilli() {
				continue
			}
			r.out[i].Samples = append(r.out[i].Samples, Sample{T: ms, V: p.V})
		}
	}
	return nil
}
