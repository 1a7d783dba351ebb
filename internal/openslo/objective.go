package openslo

import (
	"time"

	"github.com/slod-dev/slod/internal/yamlx"
)

// objectives makes one SLO of base per objective, with the SLI the budgeting method makes of the
// indicator for that objective.
func (r *reader) objectives(d *yamlx.Doc, base *SLO, method string, in indicator, objs []*objective) []*SLO {
	const op = "spec.objectives"
	if len(objs) == 0 && d.Has(op) && !d.Failed(op) {
		d.Errorf(op, "must list at least one objective")
	}
	threshold := in.spec != nil && in.spec.ThresholdMetric != nil
	if threshold && len(objs) > 1 {
		d.Errorf(yamlx.Index(op, 1), "an SLO of a thresholdMetric has one objective (the spec's rule): write one SLO per threshold")
	}
	if threshold && method == ratioTimeslices {
		d.Errorf("spec.budgetingMethod", "RatioTimeslices averages ratios: it needs a ratioMetric, and this SLI is a thresholdMetric")
	}
	var q Query
	var rq ratio
	sliOK := false
	switch {
	case threshold:
		if q, sliOK = r.source(in.at("thresholdMetric.metricSource"), in.spec.ThresholdMetric.MetricSource); sliOK {
			_, sliOK = parseQuery(q.At, q.Text)
		}
	case in.spec != nil && in.spec.RatioMetric != nil:
		rq, sliOK = r.ratioMetric(in)
	}
	display := make([]*string, len(objs))
	for i, o := range objs {
		if o != nil {
			display[i] = o.DisplayName
		}
	}
	names := objectiveNames(base.Name, display)
	var out []*SLO
	for i, o := range objs {
		p := yamlx.Index(op, i)
		if o == nil {
			continue
		}
		slo := *base
		slo.Name, slo.At = names[i], Loc{d, p}
		var ok bool
		slo.Objective, ok = ratioOf(d, p, o.Target, o.TargetPercent)
		fields, fok := objectiveFields(d, p, o, method, threshold)
		fields.by = slo.GroupBy
		switch {
		case !ok || !fok || !sliOK:
		case threshold:
			slo.SLI = thresholdSLI(q, fields)
		default:
			slo.SLI = ratioSLI(rq, fields)
		}
		if slo.SLI.Slice > 0 {
			slo.SLI.SliceAt = Loc{d, yamlx.Field(p, "timeSliceWindow")}
		}
		out = append(out, &slo)
	}
	return out
}

// objectiveFields checks what an objective says besides its target: op and value (a
// thresholdMetric's, and only its), timeSliceTarget and timeSliceWindow (the time-slice methods').
func objectiveFields(d *yamlx.Doc, p string, o *objective, method string, threshold bool) (objectiveSLI, bool) {
	out := objectiveSLI{method: method, sliceFrac: 1}
	ok := true
	for _, k := range d.Present(p, "indicator", "indicatorRef", "compositeWeight") {
		d.KeyErrorf(yamlx.Field(p, k), "composite SLOs (an indicator per objective) are not supported by slod: write one SLO per indicator")
		ok = false
	}
	if !thresholdFields(d, p, o.Op, o.Value, threshold, &out) {
		ok = false
	}
	wp := yamlx.Field(p, "timeSliceWindow")
	switch method {
	case timeslices:
		if !sliceTarget(d, p, o.TimeSliceTarget, &out) {
			ok = false
		}
		fallthrough
	case ratioTimeslices:
		out.slice, ok = sliceWindow(d, wp, o.TimeSliceWindow), ok && o.TimeSliceWindow != nil
		if !d.Has(wp) {
			d.Errorf(p, "timeSliceWindow is required with %s", method)
		}
		if method == ratioTimeslices && o.TimeSliceWindow != nil && o.TimeSliceWindow.d != time.Minute {
			d.Errorf(wp, "slod's ratio time slices are its evaluation steps, 1m: timeSliceWindow must be 1m, got %s", o.TimeSliceWindow.text)
			ok = false
		}
	case occurrences:
		for _, k := range d.Present(p, "timeSliceTarget", "timeSliceWindow") {
			d.Warnf(yamlx.Field(p, k), "is ignored: it applies to the time-slice budgeting methods, and this SLO counts Occurrences")
		}
	}
	return out, ok
}

// sliceTarget checks an objective's timeSliceTarget (at p), which Timeslices requires: the share
// of a slice that must be good, above 0 and at most 1.
func sliceTarget(d *yamlx.Doc, p string, v *number, out *objectiveSLI) bool {
	tp := yamlx.Field(p, "timeSliceTarget")
	switch {
	case !d.Has(tp):
		d.Errorf(p, "timeSliceTarget is required with Timeslices: the share of a slice that must be good for the slice to be")
		return false
	case v != nil && (v.F <= 0 || v.F > 1):
		d.Errorf(tp, "must be above 0 and at most 1, got %s", v.Text)
		return false
	case v != nil:
		out.sliceFrac = v.F
	}
	return true
}

// thresholdFields checks an objective's op and value: required with a thresholdMetric (a slice is
// good when `query op value` holds), and not allowed with a ratioMetric (the reference
// validator's rule: a ratio is compared with the target).
func thresholdFields(d *yamlx.Doc, p string, op *string, value *number, threshold bool, out *objectiveSLI) bool {
	if !threshold {
		got := d.Present(p, "op", "value")
		for _, k := range got {
			d.KeyErrorf(yamlx.Field(p, k), "applies to a thresholdMetric only: the ratio of a ratioMetric is compared with the target (the reference validator refuses %s here)", k)
		}
		return len(got) == 0
	}
	ok := true
	switch {
	case !d.Has(yamlx.Field(p, "op")):
		d.Errorf(p, "op (lt, lte, gt or gte) is required with a thresholdMetric: the query is compared with value")
		ok = false
	case op != nil && !validOp(*op):
		d.Errorf(yamlx.Field(p, "op"), "must be one of lt, lte, gt, gte, got %q", *op)
		ok = false
	case op != nil:
		out.op = *op
	}
	if !d.Has(yamlx.Field(p, "value")) {
		d.Errorf(p, "value is required with a thresholdMetric: the query is compared with it")
		ok = false
	} else if value != nil {
		out.value = value.F
	}
	return ok && op != nil && value != nil
}

// sliceWindow is a timeSliceWindow's length, checked.
func sliceWindow(d *yamlx.Doc, path string, s *sliceSize) time.Duration {
	if s == nil {
		return 0
	}
	if s.d <= 0 {
		d.Errorf(path, "must be greater than 0")
	}
	return s.d
}
