// Package burnrate holds the pure math of multiwindow, multi-burn-rate SLO alerting (Google SRE
// Workbook, ch. 5): per-step increments, window sums, burn rates, error budget and the alert state
// machine. It does no I/O and never reads a clock: time is always an argument.
package burnrate

import "time"

// Severity is the severity of an SLO alert; slod knows "page" and "ticket".
type Severity string

// The severities of the default alert policy.
const (
	Page   Severity = "page"
	Ticket Severity = "ticket"
)

// Window is one window pair of an alert policy: the alert of Severity fires when the error ratio over
// both (t-Long, t] and (t-Short, t] exceeds BurnRate × (1 − objective), held for For.
type Window struct {
	Severity Severity
	Long     time.Duration
	Short    time.Duration
	BurnRate float64
	For      time.Duration
}

// Threshold is the error ratio above which this window pair fires for the given objective (a ratio).
func (w Window) Threshold(objective float64) float64 { return w.BurnRate * (1 - objective) }

// NoData asks for an alert of Severity when an SLI has had no data for After.
type NoData struct {
	After    time.Duration
	Severity Severity
}

// BudgetAlert asks for an alert of Severity while the error budget remaining over the period is
// below Below, a fraction of the period's budget (0.25: a quarter left; 0: exhausted).
type BudgetAlert struct {
	Severity Severity
	Below    float64
}

// Policy is everything Evaluate needs to know about one SLO: its objective as a ratio (0.999), its
// rolling period, its window pairs, its budget alerts and its optional no-data alert.
type Policy struct {
	Objective float64
	Period    time.Duration
	Windows   []Window
	NoData    *NoData
	// Budget are the alerts on the budget remaining, at most one per severity.
	Budget []BudgetAlert
	// Calendar, when set, makes the period calendar-aligned: the budget is over the current
	// period (from its start to the History's end), and Period is the calendar's nominal length,
	// used only for the time to exhaustion of rolling periods.
	Calendar *Calendar
	// MinBadEvents is the low-traffic guard: a window pair holds only when its long window also
	// counts at least this many bad events. 0 (the default) is the workbook's rule, in which one
	// failed request out of a handful is a burn rate like any other.
	MinBadEvents float64
}

// Increment is what one evaluation step contributed to an SLI: bad and total events counted in
// (End-step, End]. For time-slice SLIs a slice is one event; for Sloth ratio SLIs, Bad is the
// ratio and Total is 1. Missing marks a step for which the source returned no data at all. NoBad
// marks a step whose bad-events query returned nothing while its total had data: counted as 0 bad
// (no error series exist yet), which History does too; the evaluation decides whether to trust it
// (while an alert fires, an error series that vanishes is a data problem, not a recovery).
type Increment struct {
	End     time.Time
	Bad     float64
	Total   float64
	Missing bool
	NoBad   bool
}

// Phase is the phase of one alert: inactive, pending (a window pair holds but not yet for its For)
// or firing.
type Phase string

// The alert phases. The zero Phase reads as Inactive, so a zero AlertState is a quiet alert.
const (
	Inactive Phase = "inactive"
	Pending  Phase = "pending"
	Firing   Phase = "firing"
)

// Reason says why an alert is pending or firing: the window pair, the burn rates over its long and
// short windows at that time, and the pair's threshold as an error ratio (BurnRate × (1 −
// objective)), which is what the error ratios are compared with. For a budget alert Window is
// zero, Threshold is its Below and Budget the budget remaining at that time.
type Reason struct {
	Window    Window
	LongBurn  float64
	ShortBurn float64
	Threshold float64
	Budget    float64 `json:",omitempty"`
}

// AlertState is the state of one alert of an SLO: one per severity of the policy, one per budget
// alert (Budget true), plus the no-data alert (NoData true) if the policy has one. It is
// JSON-serialisable and is what the store keeps between evaluations.
type AlertState struct {
	Severity Severity
	NoData   bool
	Budget   bool `json:",omitempty"`
	Phase    Phase
	// PairSince[i] is the evaluation time since which the i-th window pair of this severity (in
	// policy order) has held continuously; zero when it does not hold. Unused for no-data alerts.
	PairSince []time.Time
	// ActiveAt is when the alert left Inactive (for the no-data alert: since when there has been no
	// data); FiredAt when it last started firing. Both are zero when they do not apply.
	ActiveAt time.Time
	FiredAt  time.Time
	// PeakBurnRate is the highest short-window burn rate of a holding pair seen while firing.
	PeakBurnRate float64
	// Reason is the pair that made the alert fire (or pending); zero when inactive.
	Reason Reason
}

// State is the alert state of one SLO carried from one evaluation to the next.
type State struct {
	Alerts []AlertState
}

// WindowBurn is the error ratio and burn rate over one window ending at the History's End.
type WindowBurn struct {
	Window     time.Duration
	Bad        float64
	Total      float64
	ErrorRatio float64
	BurnRate   float64
	// NoData is set when no step of the window had data: its error ratio and burn rate (0) say
	// nothing about the service and must be shown as unknown. (A window whose steps had data
	// without traffic burns nothing: 0, known.)
	NoData bool
}

// Status is what an evaluation says about an SLO, for metrics, the status page and `slod check`.
type Status struct {
	// At is the evaluation time; the windows end at the History's End, which is earlier when the
	// source has failed since.
	At time.Time
	// Windows has every distinct window of the policy (long and short) and the period, ascending.
	Windows []WindowBurn
	// ErrorRatio and BudgetRemaining are over the period (over the data that exists);
	// BudgetRemaining = 1 − ErrorRatio/(1 − objective), negative when overspent.
	ErrorRatio      float64
	BudgetRemaining float64
	// Bad and Total are the events counted over the period (the current calendar period), the
	// sums ErrorRatio is the ratio of.
	Bad, Total float64
	// CurrentBurnRate is the burn rate over the shortest long window of the policy (over the
	// period if the policy has no windows).
	CurrentBurnRate  float64
	TimeToExhaustion time.Duration
	LastData         time.Time
	// PeriodStart and PeriodEnd bound the current calendar period (zero for a rolling period);
	// ProjectedBudget is the budget remaining projected to its end, the rest of the period
	// burning at CurrentBurnRate with steady traffic (1 − (period burn × elapsed + current burn ×
	// left) / length); unknown along with BudgetRemaining.
	PeriodStart, PeriodEnd time.Time
	ProjectedBudget        float64
	// NoData is set when the period holds no step with data (the SLI never had data, or none for
	// a whole period): ErrorRatio, BudgetRemaining and TimeToExhaustion are unknown, not 0, 1 and
	// 0. CurrentNoData is the same for the current window (CurrentBurnRate).
	NoData, CurrentNoData bool
}

// Transition is a change of phase of one alert at evaluation time At. Transitions to Firing and
// from Firing to Inactive are what gets notified; FiredAt and PeakBurnRate are those of the firing
// period. Reason is the window pair that fired with its burn rates at At: for a resolution, the
// rates of the resolving evaluation (below the threshold), not those of the last step it fired.
type Transition struct {
	Severity     Severity
	NoData       bool
	Budget       bool
	From, To     Phase
	At, FiredAt  time.Time
	Reason       Reason
	PeakBurnRate float64
	// Note says why an alert resolved when it was not its own evaluation that resolved it (a
	// group of a grouped SLO retired); empty otherwise.
	Note string
}
