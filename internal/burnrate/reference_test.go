package burnrate

import (
	"math"
	"slices"
	"time"
)

// evaluateRef is Evaluate as it was before Compile: it rebuilt the distinct window list, the
// severities and every State slice at each call. TestCompiledMatchesReference checks that Evaluate
// and (*Compiled).Evaluate return exactly what it does.
func evaluateRef(p Policy, h *History, prev State, now time.Time) (State, Status, []Transition) {
	if h == nil {
		h = &History{}
	}
	st := computeStatusRef(p, h, now)
	fresh := h.has && !now.After(h.End())
	lookup := func(d time.Duration) WindowBurn {
		i, _ := slices.BinarySearchFunc(st.Windows, d, func(w WindowBurn, d time.Duration) int { return cmpDurationRef(w.Window, d) })
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
		a, tr := evalBurnAlertRef(p.Objective, pairs, lookup, find(sev, false), fresh, now)
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

// evalBurnAlertRef moves the alert of one severity, whose window pairs are pairs, one evaluation on.
func evalBurnAlertRef(objective float64, pairs []Window, lookup func(time.Duration) WindowBurn, prev AlertState, fresh bool, now time.Time) (AlertState, *Transition) {
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
	tr := transition(prev, from, a, now)
	if tr != nil && tr.To == Inactive {
		// The pair that fired, at the rates of the resolving evaluation.
		for _, w := range pairs {
			if w == prev.Reason.Window {
				tr.Reason = Reason{Window: w, LongBurn: lookup(w.Long).BurnRate, ShortBurn: lookup(w.Short).BurnRate, Threshold: w.Threshold(objective)}
			}
		}
	}
	return a, tr
}

func computeStatusRef(p Policy, h *History, now time.Time) Status {
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
		r := ErrorRatio(bad, total)
		st.Windows[i] = WindowBurn{Window: d, Bad: bad, Total: total, ErrorRatio: r, BurnRate: BurnRate(r, p.Objective),
			NoData: noDataRef(h, d)}
	}
	bad, total := h.Sum(p.Period)
	st.Bad, st.Total = bad, total
	st.ErrorRatio = ErrorRatio(bad, total)
	st.NoData = p.Period <= 0 || noDataRef(h, p.Period)
	st.BudgetRemaining = 1 - BurnRate(st.ErrorRatio, p.Objective)

	current := p.Period
	for i, w := range p.Windows {
		if i == 0 || w.Long < current {
			current = w.Long
		}
	}
	bad, total = h.Sum(current)
	st.CurrentBurnRate = BurnRate(ErrorRatio(bad, total), p.Objective)
	st.CurrentNoData = current <= 0 || noDataRef(h, current)
	st.TimeToExhaustion = TimeToExhaustion(st.BudgetRemaining, st.CurrentBurnRate, p.Period)
	return st
}

// noDataRef reports whether no step of the window d (rounded up to whole steps) ending at the
// history's end had data.
func noDataRef(h *History, d time.Duration) bool {
	if h.Step() <= 0 || d <= 0 {
		return true
	}
	steps := (d + h.Step() - 1) / h.Step()
	last := h.LastData()
	return last.IsZero() || !last.After(h.End().Add(-steps*h.Step()))
}

func cmpDurationRef(a, b time.Duration) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
