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

// closePeriod records, on the instance's result, the budget of the calendar period that ends at t
// (its last step ends there), if one does.
func (b *backtester) closePeriod(inst *Instance, t time.Time) {
	cal := inst.SLO.Calendar
	if cal == nil || !cal.Start(t).Equal(t) {
		return
	}
	r := b.res[inst]
	if r == nil {
		return
	}
	st := inst.Stepper.Status(t)
	start, end := cal.Bounds(t)
	r.Periods = append(r.Periods, PeriodBudget{Start: start, End: end, BudgetRemaining: st.BudgetRemaining, NoData: st.NoData})
}
