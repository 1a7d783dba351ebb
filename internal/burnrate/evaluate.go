package burnrate

import (
	"math"
	"slices"
	"time"
)

// Evaluate computes the Status of an SLO from its History and moves every alert of the policy one
// evaluation on from prev, at evaluation time now (normally h.End()). It is pure: prev is not
// modified, and the clock is never read.
//
// Burn-rate alerts, one per severity (docs/DESIGN.md §4): a window pair holds when the error ratios
// over both its long and its short window are strictly greater than its threshold BurnRate × (1 −
// objective) — "exceed" in SPEC §1, so a burn of exactly the threshold (the workbook's 0.864 min of
// a full outage for 1h/14.4) does not yet fire. The alert is Pending while some pair holds but none
// has held for its For, Firing once a pair has held for its For (For 0: at once), and stays Firing
// while any pair holds, so that a pair with a For taking over from one that stopped holding does not
// resolve and re-page. It returns to Inactive when no pair holds.
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
func Evaluate(p Policy, h *History, prev State, now time.Time) (State, Status, []Transition) {
	if h == nil {
		h = &History{}
	}
	st := computeStatus(p, h, now)
	fresh := h.has && !now.After(h.End())
	lookup := func(d time.Duration) WindowBurn {
		i, _ := slices.BinarySearchFunc(st.Windows, d, func(w WindowBurn, d time.Duration) int { return cmpDuration(w.Window, d) })
		return st.Windows[i]
	}

	var next State
	var trs []Transition
	used := make([]bool, len(prev.Alerts))
	find := func(sev Severity, noData bool) AlertState {
		for i, a := range prev.Alerts {
			if !used[i] && a.Severity == sev && a.NoData == noData {
				used[i] = true
				return a
			}
		}
		return AlertState{Severity: sev, NoData: noData}
	}

	var sevs []Severity
	for _, w := range p.Windows {
		if !slices.Contains(sevs, w.Severity) {
			sevs = append(sevs, w.Severity)
		}
	}
	next.Alerts = make([]AlertState, 0, len(sevs)+1)
	pairs := make([]Window, 0, len(p.Windows))
	for _, sev := range sevs {
		pairs = pairs[:0]
		for _, w := range p.Windows {
			if w.Severity == sev {
				pairs = append(pairs, w)
			}
		}
		a, tr := evalBurnAlert(p.Objective, pairs, lookup, find(sev, false), fresh, now)
		next.Alerts = append(next.Alerts, a)
		if tr != nil {
			trs = append(trs, *tr)
		}
	}
	if p.NoData != nil {
		a, tr := evalNoData(*p.NoData, h, find(p.NoData.Severity, true), now)
		next.Alerts = append(next.Alerts, a)
		if tr != nil {
			trs = append(trs, *tr)
		}
	}
	for i, a := range prev.Alerts {
		if !used[i] && a.Phase == Firing {
			trs = append(trs, Transition{Severity: a.Severity, NoData: a.NoData, From: Firing, To: Inactive,
				At: now, FiredAt: a.FiredAt, Reason: a.Reason, PeakBurnRate: a.PeakBurnRate})
		}
	}
	return next, st, trs
}

func cmpDuration(a, b time.Duration) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func phaseOf(p Phase) Phase {
	if p == Pending || p == Firing {
		return p
	}
	return Inactive
}

// evalBurnAlert moves the alert of one severity, whose window pairs are pairs, one evaluation on.
func evalBurnAlert(objective float64, pairs []Window, lookup func(time.Duration) WindowBurn, prev AlertState, fresh bool, now time.Time) (AlertState, *Transition) {
	from := phaseOf(prev.Phase)
	a := prev
	a.Phase = from
	a.PairSince = make([]time.Time, len(pairs))
	copy(a.PairSince, prev.PairSince)
	if !fresh {
		return a, nil
	}

	ready, holding := -1, -1
	peak := 0.0
	for j, w := range pairs {
		thr := w.Threshold(objective)
		long, short := lookup(w.Long), lookup(w.Short)
		if !(validObjective(objective) && long.ErrorRatio > thr && short.ErrorRatio > thr) {
			a.PairSince[j] = time.Time{}
			continue
		}
		if a.PairSince[j].IsZero() || a.PairSince[j].After(now) {
			a.PairSince[j] = now
		}
		if holding < 0 {
			holding = j
		}
		if ready < 0 && now.Sub(a.PairSince[j]) >= w.For {
			ready = j
		}
		peak = math.Max(peak, short.BurnRate)
	}

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
		w := pairs[r]
		a.Reason = Reason{Window: w, LongBurn: lookup(w.Long).BurnRate, ShortBurn: lookup(w.Short).BurnRate, Threshold: w.Threshold(objective)}
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
	return a, transition(prev, from, a, now)
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
// resolution carries what the firing period ended with.
func transition(prev AlertState, from Phase, a AlertState, now time.Time) *Transition {
	if a.Phase == from {
		return nil
	}
	t := &Transition{Severity: a.Severity, NoData: a.NoData, From: from, To: a.Phase, At: now,
		FiredAt: a.FiredAt, Reason: a.Reason, PeakBurnRate: a.PeakBurnRate}
	if a.Phase == Inactive {
		t.FiredAt, t.Reason, t.PeakBurnRate = prev.FiredAt, prev.Reason, prev.PeakBurnRate
	}
	return t
}

func validObjective(o float64) bool { return o > 0 && o < 1 }

// burnRate is the error ratio in units of the error budget (1 − objective): 1 spends the budget in
// exactly one period.
func burnRate(ratio, objective float64) float64 {
	if ratio <= 0 || !validObjective(objective) {
		return 0
	}
	return ratio / (1 - objective)
}

// errorRatio is bad/total, 0 without traffic: zero traffic burns no budget (never NaN).
func errorRatio(bad, total float64) float64 {
	if total <= 0 {
		return 0
	}
	return bad / total
}

func computeStatus(p Policy, h *History, now time.Time) Status {
	ds := make([]time.Duration, 0, 2*len(p.Windows)+1)
	for _, w := range p.Windows {
		ds = append(ds, w.Long, w.Short)
	}
	if p.Period > 0 {
		ds = append(ds, p.Period)
	}
	slices.Sort(ds)
	ds = slices.Compact(ds)

	st := Status{At: now, LastData: h.LastData(), Windows: make([]WindowBurn, len(ds))}
	for i, d := range ds {
		bad, total := h.Sum(d)
		r := errorRatio(bad, total)
		st.Windows[i] = WindowBurn{Window: d, Bad: bad, Total: total, ErrorRatio: r, BurnRate: burnRate(r, p.Objective)}
	}
	bad, total := h.Sum(p.Period)
	st.ErrorRatio = errorRatio(bad, total)
	st.BudgetRemaining = 1 - burnRate(st.ErrorRatio, p.Objective)

	current := p.Period
	for i, w := range p.Windows {
		if i == 0 || w.Long < current {
			current = w.Long
		}
	}
	bad, total = h.Sum(current)
	st.CurrentBurnRate = burnRate(errorRatio(bad, total), p.Objective)
	st.TimeToExhaustion = TimeToExhaustion(st.BudgetRemaining, st.CurrentBurnRate, p.Period)
	return st
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
