package sli

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/slod-dev/slod/internal/rules"
)

// Queries are the per-step PromQL queries of one SLO, already rewritten for the step (DESIGN §2).
// Events and latency SLIs set Bad and Total; time-slice and ratio SLIs set Value.
type Queries struct {
	Bad, Total, Value string
}

// BuildQueries returns the per-step queries of slo for the step and lookback of opt, in the portable
// form that every engine evaluates alike (Rewrite).
func BuildQueries(slo *rules.SLO, opt Options) (Queries, error) {
	return buildQueries(slo.ID(), &slo.SLI, slo.GroupBy, opt, false)
}

// buildQueries is BuildQueries of the SLI def of the SLO id grouped by the labels by, with the
// subquery form (RewriteSubquery) when subquery is set.
func buildQueries(id string, def *rules.SLI, by []string, opt Options, subquery bool) (Queries, error) {
	opt, err := opt.withDefaults()
	if err != nil {
		return Queries{}, fmt.Errorf("SLO %s: %w", id, err)
	}
	raw, err := rawQueries(def, by)
	if err != nil {
		return Queries{}, fmt.Errorf("SLO %s: %w", id, err)
	}
	window := opt.Step
	if def.Kind == rules.TimesliceSLI {
		// A time slice is judged on the data of the slice, so `{{.window}}` is the slice.
		if window, err = sliceOf(def, opt.Step); err != nil {
			return Queries{}, fmt.Errorf("SLO %s: %w", id, err)
		}
	}
	var q Queries
	for _, p := range []struct{ dst, src *string }{{&q.Bad, &raw.Bad}, {&q.Total, &raw.Total}, {&q.Value, &raw.Value}} {
		if *p.src == "" {
			continue
		}
		if *p.dst, err = rewrite(*p.src, rewriter{window: window, prev: window, lookback: opt.Lookback, subquery: subquery}); err != nil {
			return Queries{}, fmt.Errorf("SLO %s: %w", id, err)
		}
	}
	return q, nil
}

// sliceOf returns the slice length of a time-slice SLI: the step when unset, and otherwise a
// multiple of the step so that every slice end is a step of the grid.
func sliceOf(def *rules.SLI, step time.Duration) (time.Duration, error) {
	s := def.Slice
	if s == 0 {
		return step, nil
	}
	if s < 0 || s%step != 0 {
		return 0, fmt.Errorf("time slice %s must be a positive multiple of the step %s", s, step)
	}
	return s, nil
}

// WrittenQueries returns the queries of slo's SLI over {{.window}}, before the per-step rewrite:
// as written, and for a latency SLI the ones slod derives from its histogram (what `slod convert`
// writes for it).
func WrittenQueries(slo *rules.SLO) (Queries, error) {
	q, err := rawQueries(&slo.SLI, slo.GroupBy)
	if err != nil {
		return Queries{}, fmt.Errorf("SLO %s: %w", slo.ID(), err)
	}
	return q, nil
}

// rawQueries returns the queries of the SLI s as the user wrote them (placeholder included), deriving
// the histogram queries of a latency SLI (summed by the group labels by, if any).
func rawQueries(s *rules.SLI, by []string) (Queries, error) {
	switch s.Kind {
	case rules.EventsSLI:
		if s.ErrorQuery == "" || s.TotalQuery == "" {
			return Queries{}, fmt.Errorf("events SLI needs both error_query and total_query")
		}
		return Queries{Bad: s.ErrorQuery, Total: s.TotalQuery}, nil
	case rules.LatencySLI:
		bucket, count, err := histogramSelectors(s.Histogram, s.Threshold)
		if err != nil {
			return Queries{}, err
		}
		sum := "sum"
		if len(by) > 0 {
			sum = "sum by (" + strings.Join(by, ", ") + ") "
		}
		total := sum + "(rate(" + count + "[{{.window}}]))"
		// Requests slower than the threshold are those counted in _count but not in the
		// threshold's cumulative bucket.
		return Queries{Total: total, Bad: total + " - " + sum + "(rate(" + bucket + "[{{.window}}]))"}, nil
	case rules.TimesliceSLI:
		if s.Query == "" {
			return Queries{}, fmt.Errorf("time-slice SLI needs a query")
		}
		return Queries{Value: s.Query}, nil
	case rules.RatioSLI:
		if s.ErrorRatioQuery == "" {
			return Queries{}, fmt.Errorf("ratio SLI needs an error_ratio_query")
		}
		return Queries{Value: s.ErrorRatioQuery}, nil
	}
	return Queries{}, fmt.Errorf("unknown SLI kind %q", s.Kind)
}

// histogramSelectors derives the _bucket selector (restricted to the threshold's bucket) and the
// _count selector of a classic histogram, keeping the histogram selector's matchers.
func histogramSelectors(histogram string, threshold float64) (bucket, count string, err error) {
	h, err := parseHistogram(histogram)
	if err != nil {
		return "", "", err
	}
	re, err := leRegex(threshold)
	if err != nil {
		return "", "", err
	}
	le, err := labels.NewMatcher(labels.MatchRegexp, labels.BucketLabel, re)
	if err != nil {
		return "", "", fmt.Errorf("building le matcher %q: %w", re, err)
	}
	if bucket, err = h.selector("_bucket", le); err != nil {
		return "", "", err
	}
	if count, err = h.selector("_count"); err != nil {
		return "", "", err
	}
	return bucket, count, nil
}

// histogramSel is the histogram selector of a latency SLI: a metric name and matchers.
type histogramSel struct {
	name   string
	others []*labels.Matcher // every matcher but the name's
}

func parseHistogram(histogram string) (histogramSel, error) {
	e, err := promql.ParseExpr(histogram)
	if err != nil {
		return histogramSel{}, fmt.Errorf("parsing histogram %q: %w", histogram, err)
	}
	vs, ok := e.(*parser.VectorSelector)
	if !ok || vs.Name == "" {
		return histogramSel{}, fmt.Errorf("histogram %q must be a metric name with optional matchers", histogram)
	}
	if vs.OriginalOffset != 0 || vs.OriginalOffsetExpr != nil || vs.Timestamp != nil || vs.StartOrEnd != 0 {
		return histogramSel{}, fmt.Errorf("histogram %q must not carry offset or @ modifiers", histogram)
	}
	h := histogramSel{name: vs.Name}
	for _, m := range vs.LabelMatchers {
		switch m.Name {
		case labels.MetricName:
			continue
		case labels.BucketLabel:
			return histogramSel{}, fmt.Errorf("histogram %q must not match on %q: the threshold chooses the bucket", histogram, labels.BucketLabel)
		}
		h.others = append(h.others, m)
	}
	return h, nil
}

// selector is the selector of the histogram's series name+suffix (_bucket, _count), with its
// matchers and extra ones.
func (h histogramSel) selector(suffix string, extra ...*labels.Matcher) (string, error) {
	name := h.name + suffix
	nm, err := labels.NewMatcher(labels.MatchEqual, labels.MetricName, name)
	if err != nil {
		return "", err
	}
	ms := append(append(slices.Clone(h.others), extra...), nm)
	return (&parser.VectorSelector{Name: name, LabelMatchers: ms}).String(), nil
}

// Selectors returns the series selectors the queries of slo read, without offset or @ modifiers,
// deduplicated and sorted: what `slod record` has to fetch for the SLO.
func Selectors(slo *rules.SLO) ([]string, error) {
	raw, err := rawQueries(&slo.SLI, slo.GroupBy)
	if err != nil {
		return nil, fmt.Errorf("SLO %s: %w", slo.ID(), err)
	}
	var out []string
	for _, q := range []string{raw.Bad, raw.Total, raw.Value} {
		if q == "" {
			continue
		}
		e, err := promql.ParseExpr(windowPlaceholder.ReplaceAllLiteralString(q, sentinelText))
		if err != nil {
			return nil, fmt.Errorf("SLO %s: parsing %q: %w", slo.ID(), q, err)
		}
		parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
			if vs, ok := n.(*parser.VectorSelector); ok {
				bare := *vs
				bare.OriginalOffset, bare.Offset, bare.OriginalOffsetExpr = 0, 0, nil
				bare.Timestamp, bare.StartOrEnd = nil, 0
				out = append(out, bare.String())
			}
			return nil
		})
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}
