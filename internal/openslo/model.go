package openslo

import (
	"time"

	"github.com/slod-dev/slod/internal/burnrate"
	"github.com/slod-dev/slod/internal/yamlx"
)

// SLO is one SLO as slod evaluates it: one objective of an OpenSLO SLO object, its references
// resolved and mapped onto slod's concepts (README, "OpenSLO files"). Package rules turns it into
// a rules.SLO with the checks every SLO file gets.
type SLO struct {
	// APIVersion is openslo/v1 or openslo/v1alpha.
	APIVersion string
	// Service is spec.service; Name is metadata.name, with the objective's displayName (or index)
	// after a '-' when the SLO has several objectives; Description is spec.description.
	Service, Name, Description string
	// Objective is the objective's target, or its targetPercent / 100.
	Objective float64
	// Period is timeWindow's rolling duration, or slod's default (30d) without one.
	Period time.Duration
	// Calendar is set for a calendar-aligned timeWindow (isRolling: false): Period is then its
	// nominal length (a month is 30d).
	Calendar *burnrate.Calendar
	// Labels are the metadata labels of the Service object named spec.service (if the files
	// define one) overlaid with the SLO's, as alert labels.
	Labels map[string]string
	// GroupBy and MaxGroups are the slod.dev/group-by and slod.dev/max-groups annotations.
	GroupBy   []string
	MaxGroups int
	SLI       SLI
	Alerting  Alerting
	// At is the objective, where problems with the SLO as a whole are reported; PeriodAt the time
	// window's duration (At without one); GroupByAt the slod.dev/group-by annotation.
	At, PeriodAt, GroupByAt Loc
}

// Loc is where a value is written: its document and its field path there, so that checks made
// after Read (PromQL, alert windows) report at file:line:col.
type Loc struct {
	Doc  *yamlx.Doc
	Path string
}

// Pos is the position of the value in its file; the zero Loc has none.
func (l Loc) Pos() yamlx.Pos {
	if l.Doc == nil {
		return yamlx.Pos{}
	}
	return l.Doc.Pos(l.Path)
}

// The kinds of SLI, named as in slod's model (rules.SLIKind).
const (
	// Events counts bad and total events per step: Bad and Total are queries over {{.window}}.
	Events = "events"
	// Timeslice judges each slice: good when `Value Op Threshold` holds at the slice's end.
	Timeslice = "timeslice"
	// Ratio is an error ratio per step (Value), averaged over a window, as Sloth's raw SLIs.
	Ratio = "ratio"
)

// SLI is the SLI of an SLO in slod's terms.
type SLI struct {
	Kind       string
	Bad, Total Query
	Value      Query
	// Parts are the queries the SLI is built from (good, bad, total or raw, a counter's already
	// over {{.window}}), for checks that look into each: that a group label survives them.
	Parts []Query
	// Op (lt, lte, gt, gte), Threshold and Slice (0: the evaluation step) are a Timeslice's;
	// SliceAt is the timeSliceWindow.
	Op        string
	Threshold float64
	Slice     time.Duration
	SliceAt   Loc
}

// Query is a PromQL query as slod runs it, and where the query it was made from is written.
type Query struct {
	Text string
	At   Loc
}

// Alerting is the alert policy of an SLO in slod's terms.
type Alerting struct {
	// Name and RunbookURL come from the slod.dev/alert-name and slod.dev/runbook-url annotations.
	Name, RunbookURL string
	// Default is set when the SLO has no alert policy: slod's default policy applies, and Windows
	// is empty.
	Default bool
	Windows []Window
	NoData  *burnrate.NoData
	// SeverityLabels go on the alerts of one severity: notification_target (the policies'
	// notification targets) and severity (the conditions' own severity when it is not page or
	// ticket).
	SeverityLabels map[burnrate.Severity]map[string]string
	// NoResolve lists the severities whose policies all set alertWhenResolved: false.
	NoResolve map[burnrate.Severity]bool
}

// Window is one window pair, from one AlertCondition: where the condition is, and where its long
// and short windows are written (the lookbackWindow, and the slod.dev/short-window annotation or
// the lookbackWindow again).
type Window struct {
	burnrate.Window
	At, LongAt, ShortAt Loc
}
