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

// Policy is everything Evaluate needs to know about one SLO: its objective as a ratio (0.999), its
// rolling period, its window pairs and its optional no-data alert.
type Policy struct {
	Objective float64
	Period    time.Duration
	Windows   []Window
	NoData    *NoData
}

// Increment is what one evaluation step contributed to an SLI: bad and total events counted in
// (End-step, End]. For time-slice SLIs a slice is one event; for Sloth ratio SLIs, Bad is the
// ratio and Total is 1. Missing marks a step for which the source returned no data at all.
type Increment struct {
	End     time.Time
	Bad     float64
	Total   float64
	Missing bool
}
