package openslo

import (
	"strings"
	"time"

	"github.com/slod-dev/slod/internal/yamlx"
)

// alphaUnits are v1alpha's time window units (a month is 30 days, a quarter 90, as in v1).
var alphaUnits = map[string]time.Duration{
	"Second": time.Second, "Day": 24 * time.Hour, "Week": 7 * 24 * time.Hour,
	"Month": 30 * 24 * time.Hour, "Quarter": 90 * 24 * time.Hour,
}

// alphaSLO maps a v1alpha SLO object (what Sloth reads) onto one SLO per objective. It reads
// Sloth's files as Sloth does: budgetingMethod may be left out (Occurrences), a time window
// without isRolling or calendar is rolling, and a ratio objective needs no value. v1alpha has no
// alert policies: every SLO gets slod's default policy.
func (r *reader) alphaSLO(o *obj, v *alphaObject[alphaSLOSpec]) []*SLO {
	d, s := o.doc, v.Spec
	if s == nil || o.name == "" {
		return nil
	}
	base := &SLO{APIVersion: V1Alpha, Name: o.name, Description: deref(s.Description), At: Loc{d, "metadata.name"}, Alerting: Alerting{Default: true}}
	r.sloHeader(d, s.Service, nil, nil, base)
	base.Period, base.PeriodAt = alphaWindow(d, s.TimeWindows), periodAt(d, "spec.timeWindows[0].count")
	method := occurrences
	if s.BudgetingMethod != nil {
		method = budgetingMethod(d, s.BudgetingMethod, occurrences, timeslices)
	}
	var threshold *Query
	if s.Indicator != nil && s.Indicator.ThresholdMetric != nil {
		if q, ok := alphaQuery(d, "spec.indicator.thresholdMetric", s.Indicator.ThresholdMetric); ok {
			if _, ok := parseQuery(q.At, q.Text); ok {
				threshold = &q
			}
		}
	}
	display := make([]*string, len(s.Objectives))
	for i, ob := range s.Objectives {
		if ob != nil {
			display[i] = ob.DisplayName
		}
	}
	names := objectiveNames(base.Name, display)
	var out []*SLO
	for i, ob := range s.Objectives {
		if ob == nil {
			continue
		}
		slo := *base
		slo.Name, slo.At = names[i], Loc{d, yamlx.Index("spec.objectives", i)}
		slo.SLI, slo.Objective = alphaObjectiveSLI(d, slo.At.Path, ob, method, s.Indicator != nil, threshold)
		out = append(out, &slo)
	}
	return out
}

// alphaObjectiveSLI checks one v1alpha objective and returns its SLI and objective.
func alphaObjectiveSLI(d *yamlx.Doc, p string, ob *alphaObjective, method string, indicator bool, threshold *Query) (SLI, float64) {
	var objective float64
	ok := ob.Target != nil
	if ok {
		objective, ok = ratioOf(d, p, ob.Target, nil)
	}
	f := objectiveSLI{method: method, sliceFrac: 1}
	if method == timeslices && !sliceTarget(d, p, ob.TimeSliceTarget, &f) {
		ok = false
	}
	switch {
	case indicator && ob.RatioMetrics != nil:
		d.KeyErrorf(yamlx.Field(p, "ratioMetrics"), "the SLO has an indicator (a thresholdMetric): its objectives have no ratioMetrics")
	case !indicator && ob.RatioMetrics == nil:
		if !d.Failed(yamlx.Field(p, "ratioMetrics")) {
			d.Errorf(p, "needs ratioMetrics (good and total), or the SLO an indicator")
		}
	case indicator:
		if thresholdFields(d, p, ob.Op, ob.Value, true, &f) && ok && threshold != nil {
			return thresholdSLI(*threshold, f), objective
		}
	default:
		if d.Has(yamlx.Field(p, "op")) {
			d.KeyErrorf(yamlx.Field(p, "op"), "applies to a thresholdMetric only: the ratio of ratioMetrics is compared with the target")
			ok = false
		}
		if q, rok := alphaRatioMetrics(d, yamlx.Field(p, "ratioMetrics"), ob.RatioMetrics); rok && ok {
			return ratioSLI(q, f), objective
		}
	}
	return SLI{}, objective
}

// alphaRatioMetrics reads v1alpha's ratioMetrics: good and total.
func alphaRatioMetrics(d *yamlx.Doc, p string, m *alphaRatio) (ratio, bool) {
	counter := m.Counter != nil && *m.Counter
	if m.Counter != nil && m.Incremental != nil && *m.Counter != *m.Incremental {
		d.KeyErrorf(yamlx.Field(p, "incremental"), "says the opposite of counter: they are two names of the same setting")
		return ratio{}, false
	}
	if m.Incremental != nil {
		counter = *m.Incremental
	}
	var out ratio
	ok := true
	for _, part := range []struct {
		name string
		src  *alphaSource
		dst  **Query
	}{{"good", m.Good, &out.good}, {"total", m.Total, &out.total}} {
		if part.src == nil {
			ok = false
			continue
		}
		q, good := alphaQuery(d, yamlx.Field(p, part.name), part.src)
		if good {
			*part.dst, good = counterPart(q, counter)
		}
		ok = ok && good
	}
	return out, ok
}

// alphaQuery checks a v1alpha metric source: Prometheus (or "sloth", as Sloth accepts), PromQL.
func alphaQuery(d *yamlx.Doc, p string, s *alphaSource) (Query, bool) {
	ok := true
	if s.Source != nil && !strings.EqualFold(*s.Source, "prometheus") && !strings.EqualFold(*s.Source, "sloth") {
		d.Errorf(yamlx.Field(p, "source"), "source %s: slod queries Prometheus (source: prometheus)", *s.Source)
		ok = false
	}
	if s.QueryType != nil && !strings.EqualFold(*s.QueryType, "promql") {
		d.Errorf(yamlx.Field(p, "queryType"), "must be promql, got %q", *s.QueryType)
		ok = false
	}
	if s.Query == nil || !ok {
		return Query{}, false
	}
	return Query{Text: *s.Query, At: Loc{d, yamlx.Field(p, "query")}}, true
}

// alphaWindow checks a v1alpha SLO's timeWindows and returns the window's length.
func alphaWindow(d *yamlx.Doc, ws []*alphaTimeWindow) time.Duration {
	const path = "spec.timeWindows"
	if period, more := oneWindow(d, path, len(ws)); !more || ws[0] == nil {
		return period
	}
	w, p := ws[0], yamlx.Index(path, 0)
	ok := true
	if w.Calendar != nil {
		cp := yamlx.Field(p, "calendar")
		checkCalendar(d, cp, w.Calendar)
		d.KeyErrorf(cp, "slod reads calendar time windows of openslo/v1 (timeWindow with isRolling: false), not of v1alpha: convert the SLO to openslo/v1, or use calendar: {period, time_zone} in a slod/v1 file")
		ok = false
	} else if w.IsRolling != nil && !*w.IsRolling {
		d.Errorf(yamlx.Field(p, "isRolling"), "isRolling: false needs a calendar; for a rolling window set isRolling: true")
		ok = false
	}
	if w.Unit == nil || w.Count == nil {
		return 0
	}
	unit, known := alphaUnits[*w.Unit]
	if !known {
		d.Errorf(yamlx.Field(p, "unit"), "must be one of Second, Day, Week, Month, Quarter, got %q", *w.Unit)
		return 0
	}
	if *w.Count <= 0 || int64(*w.Count) > int64(200*365*24*time.Hour/unit) {
		d.Errorf(yamlx.Field(p, "count"), "must be a positive number of %ss, got %d", strings.ToLower(*w.Unit), *w.Count)
		return 0
	}
	if !ok {
		return 0
	}
	return time.Duration(*w.Count) * unit
}
