package eval

import (
	"maps"
	"time"

	"github.com/slod-dev/slod/internal/burnrate"
	"github.com/slod-dev/slod/internal/exclude"
	"github.com/slod-dev/slod/internal/rules"
)

// SetExclusions sets the exclusions of the Stepper (nil: none). A step whose end an exclusion
// covers counts neither bad nor total events, whatever the source says (and whether it says
// anything: it is not a step without data), and no alert may rise at it: a burn-rate, budget or
// no-data alert that would become pending or firing there keeps its state; one may still resolve.
func (s *Stepper) SetExclusions(set exclude.Set) {
	s.excl = nil
	if len(set) > 0 {
		s.excl = set.Cursor(s.hist.Step())
	}
}

// Excluded reports whether an exclusion of the Stepper covers the step ending at t.
func (s *Stepper) Excluded(t time.Time) bool { return s.excl.Excluded(t) }

// ResetHistory replaces the Stepper's history with an empty one, keeping the alert state and
// how far it was evaluated: the next Advance refetches the history from the source (as history
// only: nothing up to Checkpoint.Through is evaluated again). An exclusion added or removed after
// the fact recomputes the history so.
func (s *Stepper) ResetHistory() {
	s.hist = burnrate.NewHistory(s.hist.Step(), s.hist.MaxWindow())
	s.seen = time.Time{}
}

// phaseRank orders phases: an alert rises when its rank grows.
func phaseRank(p burnrate.Phase) int {
	switch p {
	case burnrate.Pending:
		return 1
	case burnrate.Firing:
		return 2
	}
	return 0
}

// holdRises returns next with every alert that rose from prev (inactive to pending or firing,
// pending to firing) put back as it was in prev, and the transitions without those rises: what
// an evaluation at an excluded step may do.
func holdRises(prev, next burnrate.State, trs []burnrate.Transition) (burnrate.State, []burnrate.Transition) {
	var out []burnrate.AlertState
	for i, a := range next.Alerts {
		was := burnrate.AlertState{Severity: a.Severity, NoData: a.NoData, Budget: a.Budget}
		for _, p := range prev.Alerts {
			if p.Severity == a.Severity && p.NoData == a.NoData && p.Budget == a.Budget {
				was = p
				break
			}
		}
		if phaseRank(a.Phase) <= phaseRank(was.Phase) {
			continue
		}
		if out == nil {
			// Copy on write: next may share its slice with prev (burnrate never writes one).
			out = append([]burnrate.AlertState(nil), next.Alerts...)
		}
		out[i] = was
	}
	if out == nil {
		return next, trs
	}
	kept := trs[:0:0]
	for _, tr := range trs {
		if phaseRank(tr.To) <= phaseRank(tr.From) {
			kept = append(kept, tr)
		}
	}
	return burnrate.State{Alerts: out}, kept
}

// InstanceLabels are the labels an exclusion's matchers see for an instance of slo: the SLO's
// labels, the group's, and service and slo.
func InstanceLabels(slo *rules.SLO, group map[string]string) map[string]string {
	l := make(map[string]string, len(slo.Labels)+len(group)+2)
	maps.Copy(l, slo.Labels)
	maps.Copy(l, group)
	l["service"], l["slo"] = slo.Service, slo.Name
	return l
}

// SetExclusions sets the exclusions of every instance of the SLO: its own (rules.SLO.Exclusions)
// and those of extra (the daemon's, taken over the API) whose matchers select the instance.
func (g *Groups) SetExclusions(extra exclude.Set) {
	g.extra = extra
	for _, inst := range g.insts {
		g.setExclusions(inst)
	}
}

func (g *Groups) setExclusions(inst *Instance) {
	inst.Stepper.SetExclusions(g.allExclusions().For(InstanceLabels(g.slo, inst.Labels)))
}

// allExclusions are the SLO's own exclusions and the extra ones, before matching any instance.
func (g *Groups) allExclusions() exclude.Set {
	return append(append(exclude.Set(nil), g.slo.Exclusions...), g.extra...)
}

// Exclusions are the exclusions that apply to any instance of the SLO (or to the SLO itself): what
// a backfill must fetch around at the evaluation step (Source.Exclusions).
func (g *Groups) Exclusions() exclude.Set {
	whole := InstanceLabels(g.slo, nil)
	var out exclude.Set
	for _, w := range g.allExclusions() {
		if w.Matches(whole) {
			out = append(out, w)
			continue
		}
		for _, inst := range g.insts {
			if w.Matches(InstanceLabels(g.slo, inst.Labels)) {
				out = append(out, w)
				break
			}
		}
	}
	return out
}

// ResetHistories empties the history of every instance (Stepper.ResetHistory): the next fetch is
// a backfill.
func (g *Groups) ResetHistories() {
	for _, inst := range g.insts {
		inst.Stepper.ResetHistory()
	}
}

// refine splits the coarse segments of a backfill plan where an exclusion covers part of a
// bucket: such a bucket is fetched at the evaluation step instead, so that the Stepper, which
// excludes an increment by its end, counts every step whole or excludes it whole. Buckets an
// exclusion covers entirely or not at all stay coarse.
func refine(segs []segment, set exclude.Set, step time.Duration) []segment {
	if len(set) == 0 {
		return segs
	}
	var out []segment
	for _, seg := range segs {
		if seg.step == step {
			out = append(out, seg)
			continue
		}
		ivs := set.Between(seg.from.Add(-seg.step), seg.to)
		if len(ivs) == 0 {
			out = append(out, seg)
			continue
		}
		run := -1 // index in out of the coarse buckets so far
		for e := seg.from; !e.After(seg.to); e = e.Add(seg.step) {
			if !partial(ivs, e.Add(-seg.step), e, step) {
				if run < 0 {
					out = append(out, segment{from: e, to: e, step: seg.step})
					run = len(out) - 1
				}
				out[run].to = e
				continue
			}
			out = append(out, segment{from: e.Add(step - seg.step), to: e, step: step})
			run = -1
		}
	}
	return out
}

// partial reports whether the intervals exclude some but not all of the steps ending in (a, b].
func partial(ivs []exclude.Interval, a, b time.Time, step time.Duration) bool {
	all := int(b.Sub(a) / step)
	n := 0
	for e := a.Add(step); !e.After(b); e = e.Add(step) {
		for _, iv := range ivs {
			if e.After(iv.Start) && !e.After(iv.End) {
				n++
				break
			}
		}
	}
	return n > 0 && n < all
}
