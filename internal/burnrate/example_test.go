package burnrate_test

import (
	"fmt"
	"time"

	"github.com/slod-dev/slod/internal/burnrate"
)

// A 99.9% SLO over 30d with the workbook's fast-burn page: an outage of 100% errors after an hour
// of clean traffic pages at the first step (1 bad minute of 60 > 1.44%) and resolves once the 5m
// window is clean again: the resolve carries the burn rates of that step, the short one 0.
func ExampleEvaluate() {
	p := burnrate.Policy{
		Objective: 0.999,
		Period:    30 * 24 * time.Hour,
		Windows:   []burnrate.Window{{Severity: burnrate.Page, Long: time.Hour, Short: 5 * time.Minute, BurnRate: 14.4}},
	}
	h := burnrate.NewHistory(time.Minute, p.Period)
	start := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	var state burnrate.State
	for i := 1; i <= 80; i++ {
		inc := burnrate.Increment{End: start.Add(time.Duration(i) * time.Minute), Total: 1000}
		if i > 60 && i <= 70 {
			inc.Bad = 1000
		}
		if err := h.Append(inc); err != nil {
			panic(err)
		}
		var trs []burnrate.Transition
		state, _, trs = burnrate.Evaluate(p, h, state, inc.End)
		for _, tr := range trs {
			fmt.Printf("%s %s: %s -> %s (long burn %.1f, short burn %.0f, peak %.0f)\n",
				tr.At.Format("15:04"), tr.Severity, tr.From, tr.To, tr.Reason.LongBurn, tr.Reason.ShortBurn, tr.PeakBurnRate)
		}
	}
	// Output:
	// 01:01 page: inactive -> firing (long burn 16.7, short burn 200, peak 200)
	// 01:15 page: firing -> inactive (long burn 166.7, short burn 0, peak 1000)
}

// The workbook's table: how long a full error budget lasts at a burn rate, for a 30d SLO.
func ExampleTimeToExhaustion() {
	for _, burn := range []float64{1, 2, 10, 1000} {
		fmt.Println(burn, burnrate.TimeToExhaustion(1, burn, 30*24*time.Hour))
	}
	// Output:
	// 1 720h0m0s
	// 2 360h0m0s
	// 10 72h0m0s
	// 1000 43m12s
}
