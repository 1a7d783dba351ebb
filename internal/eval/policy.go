package eval

import (
	"time"

	"github.com/slod-dev/slod/internal/burnrate"
	"github.com/slod-dev/slod/internal/rules"
	"github.com/slod-dev/slod/internal/sli"
)

// PolicyFor is the burnrate policy slo is evaluated with at the evaluation step: the SLO's own
// (rules.SLO.Policy) with its low-traffic guard in the unit of the SLI's history. An SLI counted
// with rate() keeps events per second in each step (sli: rate → increase / step), so a guard of N
// bad events is N / step-seconds there; every other SLI counts events (or bad slices) per step.
func PolicyFor(slo *rules.SLO, step time.Duration) burnrate.Policy {
	p := slo.Policy()
	p.MinBadEvents /= EventsPerUnit(slo, step)
	return p
}

// EventsPerUnit is how many events one unit of slo's history counts at the evaluation step: the
// step's seconds for an SLI counted with rate() (its history keeps events per second), else 1.
// The status page multiplies the history's sums by it to show events.
func EventsPerUnit(slo *rules.SLO, step time.Duration) float64 {
	if _, perSecond := sli.Additive(slo); perSecond && step > 0 {
		return step.Seconds()
	}
	return 1
}
