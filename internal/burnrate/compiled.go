package burnrate

import (
	"slices"
	"time"
)

// Compiled is a Policy prepared for evaluation: its distinct windows, severities and window pairs
// worked out once instead of at every Evaluate. It holds its own copy of the Policy (later changes
// to the Policy's Windows or NoData do not affect it), is immutable and safe for concurrent use.
type Compiled struct {
	objective float64
	valid     bool // validObjective(objective)
	minBad    float64
	period    time.Duration
	windows   []Window // the policy's, copied
	hasNoData bool
	noData    NoData
	budget    []BudgetAlert
	// cal is the calendar of a calendar-aligned period (nil: rolling); its period is summed
	// apart, since its length changes with every step.
	cal *Calendar
	// durs is every distinct window of the policy (long and short) and the period if positive,
	// ascending: the windows of Status.Windows.
	durs []time.Duration
	// periodIdx and currentIdx are the positions in durs of the period and of the current window
	// (the shortest long window, or the period without windows); -1 when there is none, which sums
	// to nothing.
	periodIdx, currentIdx int
	// groups has one burn-rate alert per severity, in the order of their first window pair.
	groups []group
}

// group is the burn-rate alert of one severity: its window pairs in policy order.
type group struct {
	sev   Severity
	pairs []pair
}

// pair is one window pair with the positions of its windows in Compiled.durs.
type pair struct {
	w           Window
	long, short int
	threshold   float64 // w.Threshold(objective)
}

// Compile prepares p for evaluation: c.Evaluate(h, prev, now) is Evaluate(p, h, prev, now) without
// the per-call work of deriving windows and severities from p. Callers that evaluate the same
// policy again and again (every evaluation does: eval.Stepper) compile it once and own the result;
// burnrate keeps no cache of its own.
func Compile(p Policy) *Compiled {
	c := &Compiled{
		objective:  p.Objective,
		valid:      validObjective(p.Objective),
		minBad:     p.MinBadEvents,
		period:     p.Period,
		windows:    slices.Clone(p.Windows),
		periodIdx:  -1,
		currentIdx: -1,
	}
	if p.NoData != nil {
		c.hasNoData, c.noData = true, *p.NoData
	}
	c.budget = slices.Clone(p.Budget)
	if p.Calendar != nil {
		cal := *p.Calendar
		c.cal = &cal
	}

	ds := make([]time.Duration, 0, 2*len(c.windows)+1)
	for _, w := range c.windows {
		ds = append(ds, w.Long, w.Short)
	}
	if c.period > 0 && c.cal == nil {
		ds = append(ds, c.period)
	}
	slices.Sort(ds)
	c.durs = slices.Clip(slices.Compact(ds))
	index := func(d time.Duration) int {
		i, ok := slices.BinarySearch(c.durs, d)
		if !ok {
			panic("burnrate: window missing from the compiled policy")
		}
		return i
	}

	if c.period > 0 && c.cal == nil {
		c.periodIdx = index(c.period)
	}
	switch {
	case len(c.windows) > 0:
		current := c.windows[0].Long
		for _, w := range c.windows[1:] {
			current = min(current, w.Long)
		}
		c.currentIdx = index(current)
	case c.periodIdx >= 0:
		c.currentIdx = c.periodIdx
	}

	for _, w := range c.windows {
		gi := slices.IndexFunc(c.groups, func(g group) bool { return g.sev == w.Severity })
		if gi < 0 {
			c.groups = append(c.groups, group{sev: w.Severity})
			gi = len(c.groups) - 1
		}
		g := &c.groups[gi]
		g.pairs = append(g.pairs, pair{w: w, long: index(w.Long), short: index(w.Short), threshold: w.Threshold(c.objective)})
	}
	return c
}
