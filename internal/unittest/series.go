package unittest

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// seriesParser parses input series with the default PromQL options: test files use the notation
// of promtool and promqltest, and nothing experimental.
var seriesParser = parser.NewParser(parser.Options{})

// parsedSeries is an input series expanded by the Prometheus parser.
type parsedSeries struct {
	labels labels.Labels
	values []parser.SequenceValue
}

// parseSeries expands one input series with parser.ParseSeriesDesc, the function promtool uses for
// the same notation. The description and the values are parsed as one string, as promtool does; an
// error is attributed to whichever of the two fields it falls in.
func parseSeries(s InputSeries) (parsedSeries, error) {
	if _, err := seriesParser.ParseMetric(s.Series); err != nil {
		return parsedSeries{}, Error{Pos: s.Pos, Field: s.fieldPath + ".series", Message: fmt.Sprintf("invalid series: %s", parseMessage(err))}
	}
	desc := s.Series + " " + s.Values
	lset, vals, err := seriesParser.ParseSeriesDesc(desc)
	if err != nil {
		at := -1
		var perrs parser.ParseErrors
		if errors.As(err, &perrs) && len(perrs) > 0 {
			at = int(perrs[0].PositionRange.Start)
		}
		if at > len(s.Series) {
			return parsedSeries{}, Error{Pos: s.ValuesPos, Field: s.valuesPath,
				Message: fmt.Sprintf("invalid values at character %d: %s", at-len(s.Series), parseMessage(err))}
		}
		return parsedSeries{}, Error{Pos: s.ValuesPos, Field: s.valuesPath, Message: fmt.Sprintf("invalid values: %s", parseMessage(err))}
	}
	if lset.Get(labels.MetricName) == "" {
		return parsedSeries{}, Error{Pos: s.Pos, Field: s.fieldPath + ".series", Message: "series has no metric name"}
	}
	for i, v := range vals {
		if v.Histogram != nil {
			return parsedSeries{}, Error{Pos: s.ValuesPos, Field: s.valuesPath,
				Message: fmt.Sprintf("value %d is a native histogram; SLO SLIs read float series (use _bucket and _count series)", i+1)}
		}
	}
	return parsedSeries{labels: lset, values: vals}, nil
}

// samples lays the expanded values out on the test's sample grid: value i is at i×interval after
// the Unix epoch (time 0 of the test, as in promtool); omitted values (`_`) leave no sample, and
// `stale` is Prometheus's staleness marker, passed on as such.
func (p parsedSeries) samples(interval time.Duration) (ts []int64, vs []float64) {
	for i, v := range p.values {
		if v.Omitted {
			continue
		}
		ts = append(ts, int64(i)*interval.Milliseconds())
		vs = append(vs, v.Value)
	}
	return ts, vs
}

// parseMessage is the parser's message without its position, which counts characters in a string
// the user did not write (description and values joined).
func parseMessage(err error) string {
	var perrs parser.ParseErrors
	if errors.As(err, &perrs) && len(perrs) > 0 {
		return perrs[0].Err.Error()
	}
	return err.Error()
}
