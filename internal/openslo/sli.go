package openslo

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/slod-dev/slod/internal/yamlx"
)

// promTypes are the metric source types slod queries: Prometheus, and the stores that answer
// Prometheus's query API (lower case; the spec does not fix how types are spelt).
var promTypes = []string{"prometheus", "thanos", "mimir", "cortex", "victoriametrics"}

// The budgeting methods.
const (
	occurrences     = "Occurrences"
	timeslices      = "Timeslices"
	ratioTimeslices = "RatioTimeslices"
)

// indicator is an SLI as an SLO uses it: its spec, and where that spec is.
type indicator struct {
	doc  *yamlx.Doc
	path string // of the SLI's spec
	spec *sliSpec
}

// at is the location of a field of the SLI's spec.
func (in indicator) at(field string) Loc { return Loc{in.doc, yamlx.Field(in.path, field)} }

// indicator resolves an SLO's indicator (inline) or indicatorRef.
func (r *reader) indicator(d *yamlx.Doc, s *sloSpec) (indicator, bool) {
	if !exactlyOne(d, "spec", "an SLO", "indicator", "indicatorRef") {
		return indicator{}, false
	}
	if s.Indicator != nil {
		checkMetadata(d, "spec.indicator.metadata", s.Indicator.Metadata, KindSLI)
		if s.Indicator.Spec == nil {
			return indicator{}, false
		}
		checkSLISpec(d, "spec.indicator.spec", s.Indicator.Spec)
		return indicator{doc: d, path: "spec.indicator.spec", spec: s.Indicator.Spec}, true
	}
	if s.IndicatorRef == nil || !checkName(d, "spec.indicatorRef", s.IndicatorRef) {
		return indicator{}, false
	}
	o := r.lookup(d, "spec.indicatorRef", KindSLI, *s.IndicatorRef)
	if o == nil {
		return indicator{}, false
	}
	v := o.value.(*object[sliSpec])
	if v.Spec == nil {
		return indicator{}, false
	}
	return indicator{doc: o.doc, path: "spec", spec: v.Spec}, true
}

// source checks a metricSource at loc (a Prometheus source and its query) and returns the query
// with where it is written.
func (r *reader) source(loc Loc, ms *metricSource) (Query, bool) {
	d := loc.Doc
	if ms == nil {
		return Query{}, false
	}
	typ, typeAt, ok := r.sourceType(loc, ms)
	if !ok {
		return Query{}, false
	}
	if !slices.Contains(promTypes, strings.ToLower(typ)) {
		d.Errorf(typeAt, "type %s: slod queries Prometheus and the stores that answer its API (type Prometheus, Thanos, Mimir, Cortex or VictoriaMetrics)", typ)
		return Query{}, false
	}
	sp := yamlx.Field(loc.Path, "spec")
	spec := yamlx.Resolve(ms.Spec)
	if spec.Kind != yaml.MappingNode {
		d.Errorf(sp, "must be a mapping holding the query, got %s", yamlx.KindName(spec))
		return Query{}, false
	}
	var q *string
	for i := 0; i+1 < len(spec.Content); i += 2 {
		k, v := spec.Content[i], yamlx.Resolve(spec.Content[i+1])
		if k.Value != "query" {
			d.ErrorAt(d.NodePos(k), yamlx.Field(sp, k.Value), "unknown field of a Prometheus source: slod reads query (PromQL) only")
			continue
		}
		s, err := yamlx.String(v)
		if err != nil {
			d.ErrorAt(d.NodePos(v), yamlx.Field(sp, "query"), "%s", err.Error())
			return Query{}, false
		}
		q = &s
	}
	if q == nil {
		d.Errorf(sp, "a Prometheus source needs query (PromQL)")
		return Query{}, false
	}
	return Query{Text: *q, At: Loc{d, yamlx.Field(sp, "query")}}, true
}

// sourceType is the type of a metric source (from its DataSource when it refers to one) and the
// path to report a wrong type at.
func (r *reader) sourceType(loc Loc, ms *metricSource) (string, string, bool) {
	d := loc.Doc
	tp, rp := yamlx.Field(loc.Path, "type"), yamlx.Field(loc.Path, "metricSourceRef")
	if ms.MetricSourceRef == nil {
		if ms.Type == nil {
			if !d.Failed(tp) {
				d.Errorf(loc.Path, "needs type (Prometheus) or metricSourceRef (a DataSource)")
			}
			return "", "", false
		}
		return *ms.Type, tp, true
	}
	if !checkName(d, rp, ms.MetricSourceRef) {
		return "", "", false
	}
	o := r.lookup(d, rp, KindDataSource, *ms.MetricSourceRef)
	if o == nil {
		return "", "", false
	}
	v := o.value.(*object[dataSourceSpec])
	if v.Spec == nil || v.Spec.Type == nil {
		return "", "", false
	}
	if ms.Type != nil && !strings.EqualFold(*ms.Type, *v.Spec.Type) {
		d.Errorf(tp, "is %q, but the DataSource %s it refers to is of type %q", *ms.Type, *ms.MetricSourceRef, *v.Spec.Type)
		return "", "", false
	}
	if ms.Type != nil {
		return *ms.Type, tp, true
	}
	return *v.Spec.Type, rp, true
}

// ratio is a ratioMetric read for slod: its queries, each already over {{.window}} (counters
// wrapped), and whether raw is a success ratio.
type ratio struct {
	good, bad, total, raw *Query
	rawSuccess            bool
}

// parts are the ratio's queries.
func (q ratio) parts() []Query {
	var out []Query
	for _, p := range []*Query{q.good, q.bad, q.total, q.raw} {
		if p != nil {
			out = append(out, *p)
		}
	}
	return out
}

// counterPart checks one query of a ratioMetric (good, bad or total) and makes it a query of
// the events of each step: a counter's (counter: true) wrapped in rate(...[{{.window}}]), a
// query already over {{.window}} (counter: false) as written.
func counterPart(q Query, counter bool) (*Query, bool) {
	expr, ok := parseQuery(q.At, q.Text)
	if !ok {
		return nil, false
	}
	windowed := windowVar.MatchString(q.Text)
	switch {
	case counter && windowed:
		q.At.Doc.Errorf(q.At.Path, "counter: true says the query is a counter, whose increase slod takes itself; this one already ranges over {{.window}}: set counter: false")
		return nil, false
	case !counter && !windowed:
		q.At.Doc.Errorf(q.At.Path, "counter: false: slod needs the events of each step, so the query must range over {{.window}} "+
			"(e.g. sum(increase(x[{{.window}}]))); for the counter itself set counter: true")
		return nil, false
	case counter:
		text, ok := counterQuery(q.At, expr)
		if !ok {
			return nil, false
		}
		return &Query{Text: text, At: q.At}, true
	}
	return &q, true
}

// ratioMetric reads the ratioMetric of an SLI for slod.
func (r *reader) ratioMetric(in indicator) (ratio, bool) {
	m := in.spec.RatioMetric
	rp := yamlx.Field(in.path, "ratioMetric")
	var out ratio
	ok := true
	part := func(name string, ms *metricSpec, dst **Query, counted bool) {
		if ms == nil {
			return
		}
		q, good := r.source(Loc{in.doc, yamlx.Field(yamlx.Field(rp, name), "metricSource")}, ms.MetricSource)
		if good && counted {
			*dst, good = counterPart(q, m.Counter != nil && *m.Counter)
		} else if good {
			_, good = parseQuery(q.At, q.Text)
			*dst = &q
		}
		ok = ok && good
	}
	if m.Raw != nil {
		part("raw", m.Raw, &out.raw, false)
		out.rawSuccess = m.RawType != nil && *m.RawType == "success"
		return out, ok && m.RawType != nil
	}
	if m.Counter == nil {
		return out, false // reported by checkSLISpec
	}
	part("good", m.Good, &out.good, true)
	part("bad", m.Bad, &out.bad, true)
	part("total", m.Total, &out.total, true)
	return out, ok && out.total != nil && (out.good != nil || out.bad != nil)
}

// summed is q summed over its series, by the group labels if any: how queries are combined.
func summed(q string, by []string) string {
	if len(by) == 0 {
		return "sum(" + q + ")"
	}
	return "sum by (" + strings.Join(by, ", ") + ") (" + q + ")"
}

// orNone is the query of part (good or bad) that has a value wherever total has: a step whose
// part query has no series while total has (no good events at all, no bad events yet) counts 0.
func (q ratio) orNone(part *Query, by []string) string {
	return fmt.Sprintf("(%s or 0 * %s)", summed(part.Text, by), summed(q.total.Text, by))
}

// badEvents is the query of the bad events of each step: bad as written, or total − good.
func (q ratio) badEvents(by []string) Query {
	if q.bad != nil {
		return *q.bad
	}
	return Query{Text: summed(q.total.Text, by) + " - " + q.orNone(q.good, by), At: q.good.At}
}

// share is the query of the share of good events (success) or of bad ones in each step or
// slice: raw, or good or bad over total, or 1 − the other share.
func (q ratio) share(success bool, by []string) Query {
	if q.raw != nil {
		if q.rawSuccess == success {
			return *q.raw
		}
		return Query{Text: fmt.Sprintf("1 - (%s)", q.raw.Text), At: q.raw.At}
	}
	part, isGood := q.bad, false
	if q.good != nil {
		part, isGood = q.good, true
	}
	text := q.orNone(part, by) + " / " + summed(q.total.Text, by)
	if isGood != success {
		text = "1 - " + text
	}
	return Query{Text: text, At: part.At}
}

// objectiveSLI is what an objective and the budgeting method say of the SLI.
type objectiveSLI struct {
	method    string
	op        string  // thresholdMetric: the objective's op
	value     float64 // and value
	sliceFrac float64 // timeSliceTarget (Timeslices)
	slice     time.Duration
	by        []string
}

// thresholdSLI maps a thresholdMetric's query onto a time-slice SLI: each step (Occurrences) or
// slice (Timeslices) is good when `query op value` holds at its end; with a timeSliceTarget below
// 1, when it holds at that share of the slice's minutes.
func thresholdSLI(q Query, o objectiveSLI) SLI {
	s := SLI{Kind: Timeslice, Value: q, Op: o.op, Threshold: o.value, Parts: []Query{q}}
	if o.method != timeslices {
		return s
	}
	s.Slice = o.slice
	if o.sliceFrac < 1 {
		s.Value = Query{Text: fmt.Sprintf("avg_over_time(((%s) %s bool %s)[{{.window}}:1m])", q.Text, comparison[o.op], formatNumber(o.value)), At: q.At}
		s.Op, s.Threshold = "gte", o.sliceFrac
	}
	return s
}

// ratioSLI maps a ratioMetric onto slod's SLI for the budgeting method: events (Occurrences with
// good or bad), a ratio per step (raw with Occurrences, and RatioTimeslices), or time slices that
// are good when their success ratio reaches timeSliceTarget (Timeslices).
func ratioSLI(q ratio, o objectiveSLI) SLI {
	switch {
	case o.method == timeslices:
		return SLI{Kind: Timeslice, Value: q.share(true, o.by), Op: "gte", Threshold: o.sliceFrac, Slice: o.slice, Parts: q.parts()}
	case o.method == ratioTimeslices || q.raw != nil:
		return SLI{Kind: Ratio, Value: q.share(false, o.by), Parts: q.parts()}
	}
	return SLI{Kind: Events, Bad: q.badEvents(o.by), Total: *q.total, Parts: q.parts()}
}
