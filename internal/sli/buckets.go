package sli

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/slod-dev/slod/internal/rules"
)

// BucketError is the error of a latency SLI whose threshold is not a bucket boundary of its
// histogram: the bad events are _count minus the threshold's cumulative bucket, and without that
// bucket there is nothing to subtract, so every request would read as fast enough.
type BucketError struct {
	// Selector is the histogram's _bucket selector without le, as the SLO's matchers give it.
	Selector  string
	Threshold float64
	// Buckets are the le values the histogram has, in ascending order of their values.
	Buckets []string
}

func (e *BucketError) Error() string {
	return fmt.Sprintf("no bucket le=%q in %s; buckets: %s", strconv.FormatFloat(e.Threshold, 'g', -1, 64), e.Selector, strings.Join(e.Buckets, ", "))
}

// CheckBuckets looks for the threshold's bucket among the le values the histogram of a latency SLI
// had in the lookback before at, and returns a *BucketError when the histogram has buckets there
// but not that one. A histogram without any bucket series is no data, not an error; other SLIs
// have nothing to check. It costs one instant query, so a caller asks only when the increments
// show what a missing bucket causes: a total without bad events (Increment.NoBad).
func (p *Prepared) CheckBuckets(ctx context.Context, q Querier, at time.Time) error {
	if p.sli.Kind != rules.LatencySLI {
		return nil
	}
	sel, err := bucketSelector(p.sli.Histogram)
	if err != nil {
		return fmt.Errorf("SLO %s: %w", p.id, err)
	}
	query := fmt.Sprintf("count by (le) (last_over_time(%s[%s]))", sel, model.Duration(p.opt.Lookback))
	series, err := q.QueryRange(ctx, query, at, at, p.opt.Step)
	if err != nil {
		return fmt.Errorf("SLO %s: looking up the histogram's buckets: %w", p.id, err)
	}
	re, err := leRegex(p.sli.Threshold)
	if err != nil {
		return fmt.Errorf("SLO %s: %w", p.id, err)
	}
	m, err := labels.NewMatcher(labels.MatchRegexp, labels.BucketLabel, re)
	if err != nil {
		return fmt.Errorf("SLO %s: building le matcher %q: %w", p.id, re, err)
	}
	var les []string
	for _, s := range series {
		le, ok := s.Labels[labels.BucketLabel]
		if !ok {
			continue
		}
		if m.Matches(le) {
			return nil
		}
		les = append(les, le)
	}
	if len(les) == 0 {
		return nil
	}
	slices.SortFunc(les, func(a, b string) int { return compareLe(a, b) })
	// Not prefixed with the SLO's id, unlike the other errors: it is what the SLO's report and
	// source error say, next to its id.
	return &BucketError{Selector: sel, Threshold: p.sli.Threshold, Buckets: slices.Compact(les)}
}

// compareLe orders le values by their numbers (+Inf last), and those that are no number after them
// by their text.
func compareLe(a, b string) int {
	fa, ea := strconv.ParseFloat(a, 64)
	fb, eb := strconv.ParseFloat(b, 64)
	switch {
	case ea != nil && eb != nil:
		return strings.Compare(a, b)
	case ea != nil:
		return 1
	case eb != nil:
		return -1
	case fa < fb || (math.IsNaN(fb) && !math.IsNaN(fa)):
		return -1
	case fa > fb || math.IsNaN(fa):
		return 1
	}
	return strings.Compare(a, b)
}

// bucketSelector is the _bucket selector of a classic histogram with the histogram selector's
// matchers and no le matcher.
func bucketSelector(histogram string) (string, error) {
	h, err := parseHistogram(histogram)
	if err != nil {
		return "", err
	}
	return h.selector("_bucket")
}
