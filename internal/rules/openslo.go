package rules

import (
	"slices"

	"github.com/slod-dev/slod/internal/burnrate"
	"github.com/slod-dev/slod/internal/openslo"
)

// readOpenSLO reads OpenSLO files together (their references resolve across them) and returns
// their SLOs by file, with the checks every SLO gets: the queries as PromQL, group labels, and
// window pairs that can never fire.
func readOpenSLO(files []openslo.File) (map[string][]*SLO, []Diagnostic, Errors) {
	if len(files) == 0 {
		return nil, nil, nil
	}
	set := openslo.Read(files)
	out := map[string][]*SLO{}
	for file, slos := range set.Files {
		for _, o := range slos {
			out[file] = append(out[file], fromOpenSLO(o))
		}
	}
	// The checks above report into the files' documents: collect only now.
	return out, set.Warnings(), set.Errors()
}

// sliKinds maps the kinds of package openslo onto the model's.
var sliKinds = map[string]SLIKind{openslo.Events: EventsSLI, openslo.Timeslice: TimesliceSLI, openslo.Ratio: RatioSLI}

// fromOpenSLO makes a model SLO of an SLO read from an OpenSLO file.
func fromOpenSLO(o *openslo.SLO) *SLO {
	slo := &SLO{
		Service: o.Service, Name: o.Name, Description: o.Description, Objective: o.Objective,
		Period: o.Period, Calendar: o.Calendar, Labels: o.Labels, Pos: o.At.Pos(), Format: o.APIVersion,
	}
	slo.Places = Places{SLO: placeOf(o.At), Period: placeOf(o.PeriodAt), Alerting: placeOf(o.At), Slice: placeOf(o.SLI.SliceAt)}
	if o.At.Doc != nil {
		slo.Source = o.At.Doc.Source() // the SLO object as written (its SLI may be another object's)
	}
	s := o.SLI
	slo.SLI = SLI{Kind: sliKinds[s.Kind], Op: CompareOp(s.Op), Threshold: s.Threshold, Slice: s.Slice}
	switch slo.SLI.Kind {
	case EventsSLI:
		slo.SLI.ErrorQuery = checkedQuery(s.Bad)
		slo.SLI.TotalQuery = checkedQuery(s.Total)
	case TimesliceSLI:
		slo.SLI.Query = checkedQuery(s.Value)
	case RatioSLI:
		slo.SLI.ErrorRatioQuery = checkedQuery(s.Value)
	}
	openSLOGroups(o, slo)
	slo.Alerting, slo.Places.Windows = openSLOAlerting(o, slo.Places.Period)
	return slo
}

// placeOf is the model's Place of a location in an OpenSLO file (none for the zero Loc).
func placeOf(l openslo.Loc) Place {
	if l.Doc == nil {
		return Place{}
	}
	return Place{Pos: l.Pos(), Field: l.Path}
}

// checkedQuery is a query as slod runs it. Package openslo checked every query written in the
// file (templates, PromQL, its type), each problem at its character, and an SLI holds queries only
// when they passed; what is left to check is that a query it built from them (total − good, a
// counter's rate) parses. If it did not, that is reported at the query written, with the query
// built.
func checkedQuery(q openslo.Query) string {
	if _, err := parseTemplate(q.Text); err != nil {
		q.At.Doc.Errorf(q.At.Path, "the query slod builds from this one is not valid PromQL (%v): %s", err, q.Text)
		return ""
	}
	return q.Text
}

// openSLOGroups checks the labels of the slod.dev/group-by annotation and that every query the
// SLI is built from keeps them.
func openSLOGroups(o *openslo.SLO, slo *SLO) {
	if o.GroupBy == nil {
		return
	}
	d, path := o.GroupByAt.Doc, o.GroupByAt.Path
	seen := map[string]bool{}
	for _, l := range o.GroupBy {
		if msg := groupLabelProblem(l, seen, slo.Labels); msg != "" {
			d.Errorf(path, "%s", msg)
			continue
		}
		slo.GroupBy = append(slo.GroupBy, l)
	}
	slices.Sort(slo.GroupBy)
	slo.MaxGroups = o.MaxGroups
	if slo.MaxGroups == 0 {
		slo.MaxGroups = DefaultMaxGroups
	}
	for _, q := range o.SLI.Parts {
		for _, l := range slo.GroupBy {
			if why := dropsLabel(q.Text, l); why != "" {
				q.At.Doc.Errorf(q.At.Path, "drops the group label %q of %s (%s): write e.g. sum by (%s) (...)", l, path, why, l)
			}
		}
	}
}

// openSLOAlerting is the model's alert policy of an SLO read from an OpenSLO file, and where its
// windows are written: slod's default policy when it has no alert policy (its windows derived
// from the period), else the window pairs of its conditions, with the warnings every SLO file gets
// for pairs that can never fire.
func openSLOAlerting(o *openslo.SLO, period Place) (Alerting, []WindowPlace) {
	al := o.Alerting
	a := Alerting{
		Name: al.Name, RunbookURL: al.RunbookURL, NoData: al.NoData,
		SeverityLabels: al.SeverityLabels, NoResolve: al.NoResolve,
	}
	if a.Name == "" {
		a.Name = DefaultAlertName
	}
	pc := policyContext{objective: o.Objective, objOK: o.Objective > 0, objPath: o.At.Path, period: o.Period,
		periodOK: o.Period > 0, periodPlace: period}
	var places []WindowPlace
	if al.Default {
		if pc.periodOK {
			a.Windows, places = (&checker{doc: o.At.Doc}).effectiveWindows(defaultWindows(pc), nil, pc)
		}
		return a, places
	}
	for _, w := range al.Windows {
		c := &checker{doc: w.At.Doc}
		pw := placedWindow{w: w.Window, field: w.At.Path, place: WindowPlace{Long: placeOf(w.LongAt), Short: placeOf(w.ShortAt)}}
		ws, wp := c.effectiveWindows([]placedWindow{pw}, map[burnrate.Severity]severityAlert{}, pc)
		a.Windows, places = append(a.Windows, ws...), append(places, wp...)
	}
	return a, places
}
