package burnrate

import (
	"reflect"
	"testing"
	"time"
)

// Budget alerts fire while the budget remaining over the period is below their threshold, hold
// while it is unknown or the evaluation is not fresh, resolve when it is back at or above it, and
// keep their own identity beside the burn-rate alert of the same severity.
func TestBudgetAlerts(t *testing.T) {
	p := Policy{Objective: 0.99, Period: 100 * time.Minute,
		Budget: []BudgetAlert{{Severity: Ticket, Below: 0.25}, {Severity: Page, Below: 0}}}
	// 100 requests a minute over a 100-minute period: the budget is 100 bad requests.
	bad := func(i int) float64 {
		if i >= 20 && i < 40 {
			return 5
		}
		return 0
	}
	h := NewHistory(time.Minute, p.Period)
	var state State
	type change struct {
		step   int
		sev    Severity
		to     Phase
		budget float64
	}
	var got []change
	for i := 1; i <= 200; i++ {
		end := t0.Add(time.Duration(i) * time.Minute)
		if err := h.Append(Increment{End: end, Bad: bad(i), Total: 100}); err != nil {
			t.Fatal(err)
		}
		var st Status
		var trs []Transition
		state, st, trs = Evaluate(p, h, state, end)
		for _, tr := range trs {
			if !tr.Budget {
				t.Fatalf("step %d: a transition of a budget-only policy is not a budget alert's: %+v", i, tr)
			}
			if tr.Reason.Budget != st.BudgetRemaining {
				t.Errorf("step %d: %s reason %+v, status budget %v", i, tr.Severity, tr.Reason, st.BudgetRemaining)
			}
			got = append(got, change{i, tr.Severity, tr.To, round4(tr.Reason.Budget)})
		}
	}
	// Minutes 20 to 39 hold the period's whole budget (100 bad requests). At 23 the period holds
	// 20 bad of 2,300 (13% left), at 24 25 of 2,400 (overspent); at 100 it holds 100 bad of
	// 10,000, exactly the budget (0 is not below 0); at 124 the first 25 have left the window.
	want := []change{
		{23, Ticket, Firing, round4(1 - (20.0/2300)/0.01)},
		{24, Page, Firing, round4(1 - (25.0/2400)/0.01)},
		{100, Page, Inactive, 0},
		{124, Ticket, Inactive, 0.25},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("budget alert transitions:\ngot  %+v\nwant %+v", got, want)
	}
	for _, a := range state.Alerts {
		if !a.Budget || a.Phase != Inactive {
			t.Errorf("final state %+v", a)
		}
	}

	// Not fresh (the source failed since the last step): held, however low the budget.
	held, _, trs := Evaluate(p, h, State{}, h.End().Add(time.Minute))
	if len(trs) != 0 || len(held.Alerts) != 2 {
		t.Errorf("an evaluation after the history's end: %+v, %+v", held, trs)
	}
}

func round4(v float64) float64 { return float64(int64(v*1e4+0.5*sign(v))) / 1e4 }

func sign(v float64) float64 {
	if v < 0 {
		return -1
	}
	return 1
}
