package rules

import (
	"time"

	"github.com/slod-dev/slod/internal/burnrate"
	"github.com/slod-dev/slod/internal/exclude"
)

// SLIKind says how an SLI counts bad and total events.
type SLIKind string

// The SLI kinds. RatioSLI is a raw error_ratio_query (slod/v1's and Sloth's raw): evaluated each
// step and averaged over a window, as Sloth's own period rule does.
const (
	EventsSLI    SLIKind = "events"
	LatencySLI   SLIKind = "latency"
	TimesliceSLI SLIKind = "timeslice"
	RatioSLI     SLIKind = "ratio"
)

// CompareOp is a time-slice comparison: a slice is good when `query op threshold` holds.
type CompareOp string

// The comparison operators of time-slice SLIs.
const (
	OpLT  CompareOp = "lt"
	OpLTE CompareOp = "lte"
	OpGT  CompareOp = "gt"
	OpGTE CompareOp = "gte"
)

// Holds reports whether `v op threshold` holds.
func (op CompareOp) Holds(v, threshold float64) bool {
	switch op {
	case OpLT:
		return v < threshold
	case OpLTE:
		return v <= threshold
	case OpGT:
		return v > threshold
	case OpGTE:
		return v >= threshold
	}
	return false
}

// SLI is a validated SLI. Queries keep the `{{.window}}` placeholder exactly as written; package sli
// turns them into per-step queries.
type SLI struct {
	Kind SLIKind

	// EventsSLI: bad events / all events.
	ErrorQuery string
	TotalQuery string

	// LatencySLI: Histogram is the selector as written (metric name without _bucket/_count, with
	// matchers); requests slower than Threshold seconds are bad.
	Histogram string
	// Threshold is the latency threshold (LatencySLI) or the time-slice threshold (TimesliceSLI).
	Threshold float64

	// TimesliceSLI: a slice of length Slice is good when `Query Op Threshold` holds. Slice is 0 when
	// unset, meaning the evaluation step.
	Query string
	Op    CompareOp
	Slice time.Duration

	// RatioSLI (a raw SLI): a query for the error ratio itself.
	ErrorRatioQuery string
}

// Alerting is the derived alert policy of an SLO and what goes on its notifications.
type Alerting struct {
	// Name is the alert name (Sloth's alerting.name; for slod/v1 files "SLOBurnRate" unless set).
	Name        string
	RunbookURL  string
	Labels      map[string]string
	Annotations map[string]string
	// SeverityLabels and SeverityAnnotations are added to the alerts of one severity only (Sloth's
	// page_alert / ticket_alert labels and annotations).
	SeverityLabels      map[burnrate.Severity]map[string]string
	SeverityAnnotations map[burnrate.Severity]map[string]string
	// Windows is the effective policy: the default table of docs/interfaces.md §1 scaled to the
	// period, or the SLO's own windows, with disabled severities removed; burn_rate already derived
	// from budget_percent.
	Windows []burnrate.Window
	NoData  *burnrate.NoData
	// NoResolve lists the severities whose alerts are not notified when they stop firing (slod/v1's
	// send_resolved: false, OpenSLO's alertWhenResolved: false): the incident is left for a person
	// to close.
	NoResolve map[burnrate.Severity]bool
	// Budget are the budget alerts (alerting.budget), Below as a fraction of the period's budget.
	Budget []burnrate.BudgetAlert
	// MinBadEvents is the low-traffic guard (the SLO's alerting.min_bad_events, else the file's,
	// else 0): a window pair holds only when its long window counts at least this many bad events.
	MinBadEvents float64
}

// SLO is one validated SLO, ready for evaluation.
type SLO struct {
	Service     string
	Name        string
	Description string
	// Objective is a ratio: 99.9 in the file is 0.999 here.
	Objective float64
	// Period is the rolling SLO window (default 30d), or the nominal length of a calendar period
	// (7d, 30d, 90d), to which the default alert windows are scaled.
	Period time.Duration
	// Calendar, when set, makes the period calendar-aligned (calendar: {period, time_zone}).
	Calendar *burnrate.Calendar
	// Exclusions are the spans that do not count: the file's and the SLO's own.
	Exclusions exclude.Set
	// Labels are the file's labels overlaid with the SLO's own labels.
	Labels map[string]string
	// GroupBy makes the SLO one SLO per distinct value set of these labels in its queries' results
	// (sorted; empty for an SLO that sums every series), evaluating at most MaxGroups of them.
	GroupBy   []string
	MaxGroups int
	SLI       SLI
	Alerting  Alerting
	// Pos is where the SLO is declared; Format is "slod/v1", "prometheus/v1", "openslo/v1" or
	// "openslo/v1alpha".
	Pos    Pos
	Format string
	// Places say where the SLO's parts are written, for the checks that need to know more than
	// the file (CheckStep, the daemon's routes). Zero for an SLO not read from a file.
	Places Places
	// Source is the SLO's entry as written in its file, from the line of Pos (the status page
	// shows it), or its OpenSLO SLO object; empty when the file does not list it as a block.
	Source string
}

// Place is where a value is written in a file: its position and its field path
// ("slos[0].alerting.windows[1].short").
type Place struct {
	Pos   Pos
	Field string
}

// Places say where the parts of an SLO are written. A part the file leaves out is placed at what
// decides it: the default policy's windows at the SLO's window (or the SLO), the alerting of an SLO
// without an alerting section at the SLO.
type Places struct {
	SLO, Period, Alerting, Slice Place
	// Windows are parallel to Alerting.Windows.
	Windows []WindowPlace
}

// WindowPlace is where a window pair's long and short windows are written. Derived is set for the
// default policy's pairs, which are scaled from the period (their places are the period's).
type WindowPlace struct {
	Long, Short Place
	Derived     bool
}

// ID is the SLO id, "<service>/<name>".
func (s *SLO) ID() string { return s.Service + "/" + s.Name }

// Policy is the burnrate policy of this SLO.
func (s *SLO) Policy() burnrate.Policy {
	return burnrate.Policy{Objective: s.Objective, Period: s.Period, Windows: s.Alerting.Windows, NoData: s.Alerting.NoData,
		Budget: s.Alerting.Budget, MinBadEvents: s.Alerting.MinBadEvents, Calendar: s.Calendar}
}

// MaxWindow is the longest window any evaluation of this SLO looks back over: the period (the
// longest a calendar period can last) or the longest alert window, whichever is longer.
func (s *SLO) MaxWindow() time.Duration {
	m := s.Period
	if s.Calendar != nil {
		m = s.Calendar.MaxLength()
	}
	for _, w := range s.Alerting.Windows {
		if w.Long > m {
			m = w.Long
		}
	}
	return m
}
