package rules

import (
	"math/big"
	"time"

	"github.com/slod-dev/slod/internal/burnrate"
)

// DefaultPeriod is the SLO period when a file sets none (and Sloth's only period).
const DefaultPeriod = 30 * 24 * time.Hour

// defaultPolicy is the SRE Workbook's Table 5-8 (the two page pairs and the 3d/6h ticket) plus the
// 1d/2h ticket pair, for a 30-day period. The burn rates spend 2%, 5%, 10% and 10% of the budget
// by the time each pair fires.
var defaultPolicy = []burnrate.Window{
	{Severity: burnrate.Page, Long: time.Hour, Short: 5 * time.Minute, BurnRate: 14.4},
	{Severity: burnrate.Page, Long: 6 * time.Hour, Short: 30 * time.Minute, BurnRate: 6},
	{Severity: burnrate.Ticket, Long: 24 * time.Hour, Short: 2 * time.Hour, BurnRate: 3},
	{Severity: burnrate.Ticket, Long: 3 * 24 * time.Hour, Short: 6 * time.Hour, BurnRate: 1},
}

// DefaultWindows is the default alert policy for an SLO period: the 30-day table with every window
// scaled by period/30d and the burn rates unchanged, so each pair still fires after spending the
// same share of the budget.
func DefaultWindows(period time.Duration) []burnrate.Window {
	out := make([]burnrate.Window, len(defaultPolicy))
	for i, w := range defaultPolicy {
		w.Long = scale(w.Long, period)
		w.Short = scale(w.Short, period)
		out[i] = w
	}
	return out
}

// scale returns w × period/30d, rounded to the millisecond (Prometheus' duration resolution). The
// product is computed exactly: w × period overflows int64 for long periods.
func scale(w, period time.Duration) time.Duration {
	if period == DefaultPeriod {
		return w
	}
	r := new(big.Rat).SetFrac(
		new(big.Int).Mul(big.NewInt(int64(w)), big.NewInt(int64(period))),
		new(big.Int).Mul(big.NewInt(int64(DefaultPeriod)), big.NewInt(int64(time.Millisecond))),
	)
	ms, _ := r.Float64()
	return time.Duration(ms+0.5) * time.Millisecond
}

// budgetBurnRate turns a budget_percent into a burn rate: spending budget_percent of the budget over
// the long window means burning at budget_percent/100 × period/long. It is computed from the exact
// decimal so that 2% of 30d over 1h is 14.4, not 14.399999999999999.
func budgetBurnRate(percent *big.Rat, period, long time.Duration) float64 {
	r := new(big.Rat).Mul(percent, new(big.Rat).SetFrac(big.NewInt(int64(period)), big.NewInt(int64(long))))
	r.Quo(r, big.NewRat(100, 1))
	f, _ := r.Float64()
	return f
}

// objectiveRatio turns a percentage into a ratio from its exact decimal, so that 99.9 becomes the
// float64 nearest 0.999 (1-(100-99.9)/100 in floats is 0.9990000000000001).
func objectiveRatio(percent *big.Rat) float64 {
	f, _ := new(big.Rat).Quo(percent, big.NewRat(100, 1)).Float64()
	return f
}
