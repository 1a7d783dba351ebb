package burnrate

import (
	"math"
	"time"
)

// Evaluate computes the Status of an SLO from its History and moves every alert of the policy one
// evaluation on from prev, at evaluation time now (normally h.End()). It is pure: prev is not
// modified, and the clock is never read. The State returned shares prev's slices where nothing
// changed (copy-on-write: Evaluate never writes a State's slices, and neither should its callers).
//
// Burn-rate alerts, one per severity (docs/DESIGN.md §4): a window pair holds when the error ratios
// over both its long and its short window are strictly greater than its threshold BurnRate × (1 −
// objective) — "exceed" in docs/interfaces.md §1, so a burn of exactly the threshold (the
// workbook's 0.864 min of a full outage for 1h/14.4) does not yet fire. The alert is Pending while
// some pair holds but none has held for its For, Firing once a pair has held for its For (For 0: at
// once), and stays Firing while any pair holds, so that a pair with a For taking over from one that
// stopped holding does not resolve and re-page. It returns to Inactive when no pair holds.
//
// The no-data alert (p.NoData) is Pending while the last data is older than now and Firing once it
// is at least After old; with no data ever, it is measured from h.Start() (from the first
// evaluation, if nothing was ever appended). It resolves when data returns.
//
// If now is after h.End() the source failed for the steps since: burn-rate alerts keep their state
// and only the no-data alert is evaluated. State carries over a policy change: alerts are matched
// by severity, a pair's PairSince by its position among its severity's windows (positions beyond
// the old policy start afresh), and an alert whose severity left the policy while firing resolves.
//
// Evaluate requires 0 < p.Objective < 1, as rules validates; otherwise every burn rate is 0 and no
// burn-rate alert fires.
//
// Evaluate compiles p at every call; callers evaluating one policy again and again Compile it once.
func Evaluate(p Policy, h *History, prev State, now time.Time) (State, Status, []Transition) {
	return Compile(p).Evaluate(h, prev, now)
}

// Evaluate is Evaluate(p, h, prev, now) for the Policy p c was compiled from.
func (c *Compiled) Evaluate(h *History, prev State, now time.Time) (State, Status, []Transition) {
	if h == nil {
		h = &History{}
	}
	st := c.status(h, now)
	var w windowRatios
	w.init(c, h)
	for i, wb := range st.Windows {
		w.set(i, wb.ErrorRatio, wb.Bad)
	}
	next, trs := c.advance(h, prev, now, &w, true)
	return next, st, trs
}

// Advance is Evaluate without the Status: the same State and transitions, at a fraction of the
// cost. It sums only the windows the alerts need (a pair's long window only while its short one
// exceeds the threshold) and allocates nothing while no alert changes. A backtest advances the
// state at every step and asks for the Status (c.Status) only where it reports one.
func (c *Compiled) Advance(h *History, prev State, now time.Time) (State, []Transition) {
	return c.advanceAlone(h, prev, now, true)
}

// AdvanceBurnRate is Advance for the burn-rate alerts only: the no-data alert is carried over
// unchanged. It is for a step evaluated late, after the no-data alert was already evaluated at a
// later time: the no-data alert never goes back in time (it would resolve at the late step and
// fire again at the next evaluation).
func (c *Compiled) AdvanceBurnRate(h *History, prev State, now time.Time) (State, []Transition) {
	return c.advanceAlone(h, prev, now, false)
}

// advanceAlone is advance with window ratios of its own, computed as the alerts need them.
func (c *Compiled) advanceAlone(h *History, prev State, now time.Time, noData bool) (State, []Transition) {
	if h == nil {
		h = &History{}
	}
	var w windowRatios
	w.init(c, h)
	return c.advance(h, prev, now, &w, noData)
}

// Status is the Status Evaluate(h, prev, now) returns (it does not depend on prev).
func (c *Compiled) Status(h *History, now time.Time) Status {
	if h == nil {
		h = &History{}
	}
	return c.status(h, now)
}

// windowRatios computes the error ratios (and bad events) over the windows of a Compiled on first
// use, for one evaluation. Up to 16 windows (every policy slod derives has at most 9) live in buf,
// on the stack; more in big.
type windowRatios struct {
	c    *Compiled
	h    *History
	done uint16 // bit i: buf[i] holds the ratio over c.durs[i]
	buf  [16]sums
	big  []sums // ratio NaN: not computed yet
}

// sums are the error ratio and the bad events over one window.
type sums struct{ ratio, bad float64 }

func (w *windowRatios) init(c *Compiled, h *History) {
	w.c, w.h = c, h
	if n := len(c.durs); n > len(w.buf) {
		w.big = make([]sums, n)
		for i := range w.big {
			w.big[i].ratio = math.NaN()
		}
	}
}

// set records the ratio and bad events over c.durs[i], already computed (by status).
func (w *windowRatios) set(i int, ratio, bad float64) {
	if w.big != nil {
		w.big[i] = sums{ratio, bad}
		return
	}
	w.buf[i] = sums{ratio, bad}
	w.done |= 1 << i
}

// get returns the sums over c.durs[i], exactly as status computes them.
func (w *windowRatios) get(i int) sums {
	if w.big != nil {
		if math.IsNaN(w.big[i].ratio) {
			w.big[i] = w.compute(i)
		}
		return w.big[i]
	}
	if w.done&(1<<i) == 0 {
		w.buf[i] = w.compute(i)
		w.done |= 1 << i
	}
	return w.buf[i]
}

// at returns the error ratio over c.durs[i].
func (w *windowRatios) at(i int) float64 { return w.get(i).ratio }

// burn returns the burn rate over c.durs[i], exactly as status computes it.
func (w *windowRatios) burn(i int) float64 { return BurnRate(w.at(i), w.c.objective) }

func (w *windowRatios) compute(i int) sums {
	bad, total := w.h.Sum(w.c.durs[i])
	return sums{ErrorRatio(bad, total), bad}
}

// advance moves every alert of c one evaluation on from prev; w gives the window ratios. With
// noData false the no-data alert is carried over as it is.
func (c *Compiled) advance(h *History, prev State, now time.Time, w *windowRatios, noData bool) (State, []Transition) {
	fresh := h.has && !now.After(h.End())

	var usedBuf [16]bool
	used := usedBuf[:0]
	if len(prev.Alerts) <= len(usedBuf) {
		used = usedBuf[:len(prev.Alerts)]
	} else {
		used = make([]bool, len(prev.Alerts))
	}
	// find returns the index in prev.Alerts of the alert of sev (its no-data or budget alert), -1
	// if there is none.
	find := func(sev Severity, noData, budget bool) int {
		for i := range prev.Alerts {
			if a := &prev.Alerts[i]; !used[i] && a.Severity == sev && a.NoData == noData && a.Budget == budget {
				used[i] = true
				return i
			}
		}
		return -1
	}

	n := len(c.groups) + len(c.budget)
	if c.hasNoData {
		n++
	}
	out := alertsBuilder{prev: prev.Alerts, n: n}
	var trs []Transition
	for gi := range c.groups {
		g := &c.groups[gi]
		pi := find(g.sev, false, false)
		pa := &AlertState{Severity: g.sev}
		if pi >= 0 {
			pa = &prev.Alerts[pi]
		}
		if fresh && pi >= 0 && quiet(pa, len(g.pairs)) && !c.anyPairHolds(g, w) {
			// Nothing holds and nothing did: the alert stays exactly as it was (what the general
			// case below returns, without building it).
			out.add(pa, pi, true)
			continue
		}
		a, tr := c.evalBurnAlert(g, w, *pa, fresh, now)
		out.add(&a, pi, false)
		if tr != nil {
			trs = append(trs, *tr)
		}
	}
	if len(c.budget) > 0 {
		remaining, known := c.budgetRemaining(h, w)
		for _, b := range c.budget {
			pi := find(b.Severity, false, true)
			pa := AlertState{Severity: b.Severity, Budget: true}
			if pi >= 0 {
				pa = prev.Alerts[pi]
			}
			a, tr := evalBudgetAlert(b, remaining, known && fresh, pa, now)
			out.add(&a, pi, false)
			if tr != nil {
				trs = append(trs, *tr)
			}
		}
	}
	if c.hasNoData {
		pi := find(c.noData.Severity, true, false)
		pa := AlertState{Severity: c.noData.Severity, NoData: true}
		if pi >= 0 {
			pa = prev.Alerts[pi]
		}
		if noData {
			a, tr := evalNoData(c.noData, h, pa, now)
			out.add(&a, pi, false)
			if tr != nil {
				trs = append(trs, *tr)
			}
		} else {
			out.add(&pa, pi, pi >= 0)
		}
	}
	for i := range prev.Alerts {
		if a := &prev.Alerts[i]; !used[i] && a.Phase == Firing {
			trs = append(trs, a.Resolution(now))
		}
	}
	return State{Alerts: out.result()}, trs
}

// Resolution is the transition that resolves the firing alert a at now without an evaluation of
// its own (the policy no longer has it, or its instance is retired): what its firing period had.
func (a *AlertState) Resolution(now time.Time) Transition {
	return Transition{Severity: a.Severity, NoData: a.NoData, Budget: a.Budget, From: Firing, To: Inactive,
		At: now, FiredAt: a.FiredAt, Reason: a.Reason, PeakBurnRate: a.PeakBurnRate}
}

// quiet reports whether a is an inactive alert of n window pairs exactly as evalBurnAlert leaves it
// when no pair holds: PairSince n zero times (length and capacity n), every other field zero.
func quiet(a *AlertState, n int) bool {
	if a.Phase != Inactive || len(a.PairSince) != n || cap(a.PairSince) != n || a.ActiveAt != (time.Time{}) ||
		a.FiredAt != (time.Time{}) || math.Float64bits(a.PeakBurnRate) != 0 || !reasonZero(&a.Reason) {
		return false
	}
	for _, t := range a.PairSince {
		if t != (time.Time{}) {
			return false
		}
	}
	return true
}

func reasonZero(r *Reason) bool {
	return r.Window.Severity == "" && r.Window.Long == 0 && r.Window.Short == 0 && r.Window.For == 0 &&
		math.Float64bits(r.Window.BurnRate)|math.Float64bits(r.LongBurn)|math.Float64bits(r.ShortBurn)|math.Float64bits(r.Threshold)|
			math.Float64bits(r.Budget) == 0
}

// anyPairHolds reports whether some window pair of g holds.
func (c *Compiled) anyPairHolds(g *group, w *windowRatios) bool {
	for j := range g.pairs {
		if c.pairHolds(&g.pairs[j], w) {
			return true
		}
	}
	return false
}

// pairHolds reports whether the error ratios over both windows of pr exceed its threshold and
// the long window holds at least the policy's MinBadEvents. The short window first: it is the
// cheaper sum, and while it does not exceed the threshold (nearly always) the long one is not
// needed.
func (c *Compiled) pairHolds(pr *pair, w *windowRatios) bool {
	if !c.valid || w.at(pr.short) <= pr.threshold {
		return false
	}
	long := w.get(pr.long)
	// The tolerance absorbs the rounding of cumulative sums (4.999999999 of 5 bad events).
	return long.ratio > pr.threshold && long.bad >= c.minBad-1e-6
}

// alertsBuilder collects the alerts of the next State copy-on-write: as long as every alert added
// is, at the same position, identical to prev's, nothing is allocated and the next State shares
// prev's slice (which Evaluate never modifies); the first difference copies what was identical so
// far into a new slice.
type alertsBuilder struct {
	prev []AlertState
	n    int          // alerts to be added
	k    int          // alerts added so far
	out  []AlertState // nil while every alert added equals prev's at its position
}

// add adds the next alert, a, evaluated from prev[pi] (pi < 0: a new alert); same when the caller
// knows a to be identical to prev[pi].
func (b *alertsBuilder) add(a *AlertState, pi int, same bool) {
	if b.out == nil {
		if pi == b.k && len(b.prev) == b.n && cap(b.prev) == b.n && (same || alertIdentical(a, &b.prev[pi])) {
			b.k++
			return
		}
		b.out = make([]AlertState, b.n)
		copy(b.out, b.prev[:b.k])
	}
	b.out[b.k] = *a
	b.k++
}

func (b *alertsBuilder) result() []AlertState {
	switch {
	case b.out != nil:
		return b.out
	case b.n == 0:
		return []AlertState{}
	}
	return b.prev
}

func phaseOf(p Phase) Phase {
	if p == Pending || p == Firing {
		return p
	}
	return Inactive
}

// evalBurnAlert moves the alert of severity group g one evaluation on; w gives the window ratios.
func (c *Compiled) evalBurnAlert(g *group, w *windowRatios, prev AlertState, fresh bool, now time.Time) (AlertState, *Transition) {
	from := phaseOf(prev.Phase)
	a := prev
	a.Phase = from
	if !fresh {
		a.PairSince = resized(prev.PairSince, len(g.pairs))
		return a, nil
	}

	var buf [8]time.Time
	since := buf[:0]
	if len(g.pairs) > len(buf) {
		since = make([]time.Time, 0, len(g.pairs))
	}
	ready, holding := -1, -1
	peak := 0.0
	for j := range g.pairs {
		pr := &g.pairs[j]
		var s time.Time
		if j < len(prev.PairSince) {
			s = prev.PairSince[j]
		}
		if !c.pairHolds(pr, w) {
			since = append(since, time.Time{})
			continue
		}
		if s.IsZero() || s.After(now) {
			s = now
		}
		since = append(since, s)
		if holding < 0 {
			holding = j
		}
		if ready < 0 && now.Sub(s) >= pr.w.For {
			ready = j
		}
		peak = math.Max(peak, w.burn(pr.short))
	}
	a.PairSince = reuseOrClone(prev.PairSince, since)

	switch {
	case holding < 0:
		a.Phase = Inactive
	case ready >= 0 || from == Firing:
		a.Phase = Firing
	default:
		a.Phase = Pending
	}
	if a.Phase == Inactive {
		a.ActiveAt, a.FiredAt, a.PeakBurnRate, a.Reason = time.Time{}, time.Time{}, 0, Reason{}
	} else {
		if from == Inactive || a.ActiveAt.IsZero() {
			a.ActiveAt = now
		}
		r := holding
		if ready >= 0 {
			r = ready
		}
		pr := &g.pairs[r]
		a.Reason = Reason{Window: pr.w, LongBurn: w.burn(pr.long), ShortBurn: w.burn(pr.short), Threshold: pr.threshold}
		if a.Phase == Firing {
			if from != Firing || a.FiredAt.IsZero() {
				a.FiredAt, a.PeakBurnRate = now, peak
			} else {
				a.PeakBurnRate = math.Max(a.PeakBurnRate, peak)
			}
		} else {
			a.FiredAt, a.PeakBurnRate = time.Time{}, 0
		}
	}
	tr := transition(prev, from, a, now)
	if tr != nil && tr.To == Inactive {
		tr.Reason = c.endReason(g, w, prev.Reason)
	}
	return a, tr
}

// endReason is the Reason of an alert that stops holding: the pair that made it fire (or pending),
// with its burn rates at this evaluation, which no longer exceed the threshold: the resolve says
// why the alert ended, not the rates of the step before. A pair the policy no longer has keeps
// the rates it was last seen with.
func (c *Compiled) endReason(g *group, w *windowRatios, last Reason) Reason {
	for j := range g.pairs {
		if pr := &g.pairs[j]; windowIdentical(&pr.w, &last.Window) {
			return Reason{Window: pr.w, LongBurn: w.burn(pr.long), ShortBurn: w.burn(pr.short), Threshold: pr.threshold}
		}
	}
	return last
}

// resized is s with length n (cut, or extended with zero times), as a new slice unless s already
// is exactly that (length and capacity n): slices handed out are shared, never written.
func resized(s []time.Time, n int) []time.Time {
	if len(s) == n && cap(s) == n {
		return s
	}
	r := make([]time.Time, n)
	copy(r, s)
	return r
}

// reuseOrClone is prev if it holds exactly vals (same length, capacity the length, identical
// times), else a copy of vals.
func reuseOrClone(prev, vals []time.Time) []time.Time {
	if len(prev) == len(vals) && cap(prev) == len(vals) {
		same := true
		for i := range vals {
			// == rather than Equal: the reused value must be indistinguishable (location,
			// monotonic reading), not merely the same instant.
			if prev[i] != vals[i] {
				same = false
				break
			}
		}
		if same {
			return prev
		}
	}
	r := make([]time.Time, len(vals))
	copy(r, vals)
	return r
}

// alertIdentical reports whether a and b are indistinguishable: equal fields (floats bit for bit,
// times by ==) and the very same PairSince slice.
func alertIdentical(a, b *AlertState) bool {
	return a.Severity == b.Severity && a.NoData == b.NoData && a.Budget == b.Budget && a.Phase == b.Phase &&
		sameSlice(a.PairSince, b.PairSince) && a.ActiveAt == b.ActiveAt && a.FiredAt == b.FiredAt &&
		sameFloat(a.PeakBurnRate, b.PeakBurnRate) && reasonIdentical(&a.Reason, &b.Reason)
}

func reasonIdentical(a, b *Reason) bool {
	return windowIdentical(&a.Window, &b.Window) && sameFloat(a.LongBurn, b.LongBurn) &&
		sameFloat(a.ShortBurn, b.ShortBurn) && sameFloat(a.Threshold, b.Threshold) && sameFloat(a.Budget, b.Budget)
}

func windowIdentical(a, b *Window) bool {
	return a.Severity == b.Severity && a.Long == b.Long && a.Short == b.Short && a.For == b.For &&
		sameFloat(a.BurnRate, b.BurnRate)
}

func sameFloat(a, b float64) bool { return math.Float64bits(a) == math.Float64bits(b) }

// sameSlice reports whether a and b are the same slice: same length, capacity, nil-ness and
// backing array.
func sameSlice(a, b []time.Time) bool {
	if len(a) != len(b) || cap(a) != cap(b) || (a == nil) != (b == nil) {
		return false
	}
	return cap(a) == 0 || &a[:1][0] == &b[:1][0]
}

// budgetRemaining is the error budget remaining over the period at the History's end (as status
// computes it) and whether it is known: unknown while the period holds no step with data.
func (c *Compiled) budgetRemaining(h *History, w *windowRatios) (float64, bool) {
	if c.cal != nil {
		_, _, bad, total, noData := c.calendarPeriod(h, h.End())
		return 1 - BurnRate(ErrorRatio(bad, total), c.objective), !noData
	}
	if c.periodIdx < 0 {
		return 0, false
	}
	return 1 - BurnRate(w.at(c.periodIdx), c.objective), h.HasDataIn(c.period)
}

// evalBudgetAlert moves a budget alert one evaluation on: firing while the budget remaining is
// below b.Below, inactive once it is not. It has no pending phase (the budget moves slowly; a
// `for` would only delay the news). While the budget is unknown (no data over the period) or the
// evaluation is not fresh, the alert holds, as burn-rate alerts do.
func evalBudgetAlert(b BudgetAlert, remaining float64, known bool, prev AlertState, now time.Time) (AlertState, *Transition) {
	from := phaseOf(prev.Phase)
	a := prev
	a.Phase = from
	if !known {
		return a, nil
	}
	if remaining < b.Below {
		// The Reason is the budget when it fired, kept while it fires: a state that changes
		// at every evaluation of a month-long alert would be written to the store every cycle.
		a.Phase = Firing
		if from != Firing || a.FiredAt.IsZero() {
			a.ActiveAt, a.FiredAt = now, now
			a.Reason = Reason{Threshold: b.Below, Budget: remaining}
		}
	} else {
		a.Phase, a.ActiveAt, a.FiredAt, a.Reason = Inactive, time.Time{}, time.Time{}, Reason{}
	}
	tr := transition(prev, from, a, now)
	if tr != nil && tr.To == Inactive {
		// The resolve says how much budget there is again.
		tr.Reason = Reason{Threshold: b.Below, Budget: remaining}
	}
	return a, tr
}

// evalNoData moves the no-data alert one evaluation on.
func evalNoData(nd NoData, h *History, prev AlertState, now time.Time) (AlertState, *Transition) {
	from := phaseOf(prev.Phase)
	a := AlertState{Severity: nd.Severity, NoData: true, Phase: from, ActiveAt: prev.ActiveAt, FiredAt: prev.FiredAt}
	var ref time.Time
	switch {
	case h.hasData:
		ref = h.LastData()
	case h.has:
		ref = h.Start()
	case from != Inactive && !prev.ActiveAt.IsZero():
		ref = prev.ActiveAt
	default:
		ref = now
	}
	gap := now.Sub(ref)
	switch {
	case !h.has && from == Inactive:
		// Nothing ever appended: start watching now.
		a.Phase = Pending
	case gap <= 0:
		a.Phase = Inactive
	case gap >= nd.After:
		a.Phase = Firing
	default:
		a.Phase = Pending
	}
	if a.Phase == Inactive {
		a.ActiveAt, a.FiredAt = time.Time{}, time.Time{}
	} else {
		a.ActiveAt = ref
		if a.Phase == Firing && (from != Firing || a.FiredAt.IsZero()) {
			a.FiredAt = now
		}
		if a.Phase == Pending {
			a.FiredAt = time.Time{}
		}
	}
	return a, transition(prev, from, a, now)
}

// transition returns the change from phase from (prev's, normalised) to a.Phase, if any. A
// resolution carries when the firing period began and its peak, and prev's Reason (a burn-rate
// alert's caller replaces it with the rates at the resolving evaluation: endReason).
func transition(prev AlertState, from Phase, a AlertState, now time.Time) *Transition {
	if a.Phase == from {
		return nil
	}
	t := &Transition{Severity: a.Severity, NoData: a.NoData, Budget: a.Budget, From: from, To: a.Phase, At: now,
		FiredAt: a.FiredAt, Reason: a.Reason, PeakBurnRate: a.PeakBurnRate}
	if a.Phase == Inactive {
		t.FiredAt, t.Reason, t.PeakBurnRate = prev.FiredAt, prev.Reason, prev.PeakBurnRate
	}
	return t
}

func validObjective(o float64) bool { return o > 0 && o < 1 }

// BurnRate is the error ratio in units of the error budget (1 − objective): 1 spends the budget in
// exactly one period.
func BurnRate(ratio, objective float64) float64 {
	if ratio <= 0 || !validObjective(objective) {
		return 0
	}
	return ratio / (1 - objective)
}

// ErrorRatio is bad/total, 0 without traffic: zero traffic burns no budget (never NaN).
func ErrorRatio(bad, total float64) float64 {
	if total <= 0 {
		return 0
	}
	return bad / total
}

// status computes the Status of the SLO from h at evaluation time now.
func (c *Compiled) status(h *History, now time.Time) Status {
	st := Status{At: now, LastData: h.LastData(), Windows: make([]WindowBurn, len(c.durs))}
	for i, d := range c.durs {
		bad, total := h.Sum(d)
		r := ErrorRatio(bad, total)
		st.Windows[i] = WindowBurn{Window: d, Bad: bad, Total: total, ErrorRatio: r, BurnRate: BurnRate(r, c.objective),
			NoData: !h.HasDataIn(d)}
	}
	// The period and the current window are among the windows (a non-positive period sums to 0).
	st.NoData, st.CurrentNoData = true, true
	if c.periodIdx >= 0 {
		w := st.Windows[c.periodIdx]
		st.ErrorRatio, st.NoData, st.Bad, st.Total = w.ErrorRatio, w.NoData, w.Bad, w.Total
	}
	if c.cal != nil {
		st.PeriodStart, st.PeriodEnd, st.Bad, st.Total, st.NoData = c.calendarPeriod(h, now)
		st.ErrorRatio = ErrorRatio(st.Bad, st.Total)
	}
	st.BudgetRemaining = 1 - BurnRate(st.ErrorRatio, c.objective)
	switch {
	case c.currentIdx >= 0:
		st.CurrentBurnRate, st.CurrentNoData = st.Windows[c.currentIdx].BurnRate, st.Windows[c.currentIdx].NoData
	case c.cal != nil:
		st.CurrentBurnRate, st.CurrentNoData = 1-st.BudgetRemaining, st.NoData
	}
	if c.cal != nil {
		c.calendarProjection(h, &st)
		return st
	}
	st.TimeToExhaustion = TimeToExhaustion(st.BudgetRemaining, st.CurrentBurnRate, c.period)
	return st
}

// calendarPeriod is the current calendar period at the History's end (at now before any step):
// its bounds, its events and whether it holds no step with data.
func (c *Compiled) calendarPeriod(h *History, now time.Time) (start, end time.Time, bad, total float64, noData bool) {
	at := now
	if h.has {
		at = h.End()
	}
	start, end = c.cal.Bounds(at)
	if !h.has {
		return start, end, 0, 0, true
	}
	w := at.Sub(start)
	bad, total = h.Sum(w)
	return start, end, bad, total, !h.HasDataIn(w)
}

// calendarProjection sets the projected budget at the period's end and the time to exhaustion of
// a calendar period, both with steady traffic at the current burn rate b for the rest of it.
// Elapsed e at burn B so far, the budget runs out when (B·e + b·x)/(e + x) = 1, after
// x = e·remaining/(b − 1): only while b > 1, and only if that is before the period's end
// (TimeToExhaustion 0 otherwise: it lasts the period).
func (c *Compiled) calendarProjection(h *History, st *Status) {
	at := st.At
	if h.has {
		at = h.End()
	}
	e, left := at.Sub(st.PeriodStart).Seconds(), st.PeriodEnd.Sub(at).Seconds()
	spent := 1 - st.BudgetRemaining
	b := st.CurrentBurnRate
	if e+left > 0 {
		st.ProjectedBudget = 1 - (spent*e+b*left)/(e+left)
	}
	if b > 1 && st.BudgetRemaining > 0 {
		if x := e * st.BudgetRemaining / (b - 1); x < left {
			st.TimeToExhaustion = time.Duration(x * float64(time.Second))
		}
	}
}

// TimeToExhaustion is how long the remaining error budget (a fraction of the period's budget)
// lasts at burnRate: remaining × period / burnRate, since a burn rate of 1 spends a whole budget in
// one period (SRE Workbook ch. 5: burn rate 1 → 30d, 2 → 15d, 10 → 3d, 1000 → 43.2 min for a 30d
// SLO). It is 0 when burnRate <= 0 (the budget is not being spent) or remaining <= 0 (nothing left
// to exhaust), and saturates at the longest time.Duration.
func TimeToExhaustion(remaining, burnRate float64, period time.Duration) time.Duration {
	if !(burnRate > 0) || !(remaining > 0) || period <= 0 {
		return 0
	}
	f := remaining * float64(period) / burnRate
	if f >= math.MaxInt64 {
		return math.MaxInt64
	}
	return time.Duration(math.Round(f))
}
