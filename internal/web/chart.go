package web

import "time"

// History is the chart data of one SLO (or one group of a grouped SLO) over a time range, in
// columns: what GET /api/v1/slos/{service}/{name}/history answers, what the status page's detail
// charts and the check report's charts are drawn from (slod.js). Column i describes the interval
// ending at T[i] and starting at T[i-1] (at the first point, Steps steps earlier).
type History struct {
	ID string `json:"id"`
	// Objective is a ratio; Window the SLO's window (30d).
	Objective float64 `json:"objective"`
	Window    string  `json:"window"`
	// From and To are the range shown.
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// BudgetKind says what Budget is: BudgetWindow or BudgetRolling.
	BudgetKind string `json:"budget_kind"`
	// WindowStart is where the burndown of BudgetWindow counts from: the start of the SLO window
	// ending at the last point.
	WindowStart *time.Time `json:"window_start,omitempty"`
	// Resolutions say which part of the range has points how far apart (the History's tiers: 1m
	// for 6h, 10m for 3d, 1h before, at a 1m step).
	Resolutions []Resolution `json:"resolutions"`

	// T is the end of each point's interval, in Unix seconds.
	T []int64 `json:"t"`
	// Steps is each interval's length in evaluation steps; Data is 1 when a step of it had data
	// and 0 when none had: such a point is a gap on the charts, whatever its other columns say.
	Steps []int `json:"steps"`
	Data  []int `json:"data"`
	// Bad and Total are the events counted in each interval (per-step fractions for ratio SLIs,
	// slices for time-slice SLIs).
	Bad   []float64 `json:"bad,omitempty"`
	Total []float64 `json:"total,omitempty"`
	// ErrorRatio is Bad/Total of each interval (0 without traffic; null without data). The
	// check report leaves these three out: its charts do not draw them.
	ErrorRatio []*float64 `json:"error_ratio,omitempty"`
	// Budget is the error budget remaining at each point (null where unknown).
	Budget []*float64 `json:"budget"`
	// Burn has the burn rate over each window pair's long window, ending at each point.
	Burn []BurnSeries `json:"burn"`

	// Pairs are the SLO's window pairs: the burn chart's thresholds.
	Pairs []Pair `json:"pairs"`
	// Alerts are the alert intervals overlapping the range; Silences the silences that matched the
	// SLO's alerts in it.
	Alerts   []Interval `json:"alerts"`
	Silences []Interval `json:"silences"`
	// Exclusions are the excluded spans in the range (planned maintenance, known bad data): their
	// steps count no events and raise no alert.
	Exclusions []Interval `json:"exclusions"`
}

// The kinds of History.Budget.
const (
	// BudgetWindow: the budget of the current SLO window as it was spent, 1 − (bad events from
	// the window's start to the point) / (1 − objective) / (events in the whole window): 100% at
	// the window's start and the budget remaining now at the last point (the status page).
	BudgetWindow = "window"
	// BudgetRolling: the budget remaining over the SLO window ending at each point, as the
	// evaluation computed it then (the check report).
	BudgetRolling = "rolling"
)

// Resolution is the distance between the points of History over [From, To].
type Resolution struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	Step string    `json:"step"`
}

// BurnSeries is the burn rate over one window (1h) at every point of a History: the error ratio
// over the window ending at the point divided by 1 − objective, null where the window holds no
// step with data or lies beyond what the history holds.
type BurnSeries struct {
	Window string     `json:"window"`
	Values []*float64 `json:"values"`
}

// Pair is one window pair of an alert policy.
type Pair struct {
	Severity string `json:"severity"`
	Long     string `json:"long"`
	Short    string `json:"short"`
	// BurnRate is the burn rate both windows must exceed; Threshold the error ratio it stands for.
	BurnRate  float64 `json:"burn_rate"`
	Threshold float64 `json:"threshold"`
	For       string  `json:"for,omitempty"`
}

// Interval is an alert that fired, or a silence, over [Start, End] (End nil: still firing).
type Interval struct {
	Severity string     `json:"severity,omitempty"`
	NoData   bool       `json:"no_data,omitempty"`
	Budget   bool       `json:"budget,omitempty"`
	Start    time.Time  `json:"start"`
	End      *time.Time `json:"end"`
	// Label names the interval on the chart: the window pair that fired, or the silence's id.
	Label        string  `json:"label,omitempty"`
	PeakBurnRate float64 `json:"peak_burn_rate,omitempty"`
}
