package eval

import (
	"time"
)

// PeriodBudget is the budget of one calendar period that ended during a backtest: what was left of
// it at its last step.
type PeriodBudget struct {
	Start, End      time.Time
	BudgetRemaining float64
	// NoData is set when the period held no step with data: its budget is unknown.
	NoData bool
}

// stepDone records on the instance's result what the step ending at t adds to it besides its
// alerts: the step's length if it is excluded, and the budget of the calendar period that ends at
// t (its last step ends there), if one does.
func (b *backtester) stepDone(inst *Instance, t time.Time) {
	r := b.res[inst]
	if r == nil {
		return
	}
	if inst.Stepper.Excluded(t) {
		r.Excluded += inst.Stepper.History().Step()
	}
	cal := inst.SLO.Calendar
	if cal == nil || !cal.Start(t).Equal(t) {
		return
	}
	st := inst.Stepper.Status(t)
	start, end := cal.Bounds(t)
	r.Periods = append(r.Periods, PeriodBudget{Start: start, End: end, BudgetRemaining: st.BudgetRemaining, NoData: st.NoData})
}
