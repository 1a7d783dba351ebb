package daemon

import (
	"fmt"
	"math"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/prometheus/common/model"

	"github.com/slod-dev/slod/internal/burnrate"
	"github.com/slod-dev/slod/internal/eval"
	"github.com/slod-dev/slod/internal/exclude"
	"github.com/slod-dev/slod/internal/notify"
	"github.com/slod-dev/slod/internal/rules"
	"github.com/slod-dev/slod/internal/web"
)

// The chart data of an SLO comes from the very history its alerts were evaluated on
// (burnrate.History, at the resolutions its tiers keep), up to the end of the history the last
// committed cycle published: so the last point of every series is what /api/v1/slos says, and
// what paged is what the charts show.

// instRef is one instance of an SLO as the last committed cycle published it.
type instRef struct {
	s  *sloState
	is *instState
}

// lookup finds the instance whose id is id ("" key when the SLO has not been evaluated yet).
func (d *Daemon) lookup(id string) (instRef, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	for _, s := range d.slos {
		if len(s.insts) == 0 && s.slo.ID() == id {
			return instRef{s: s, is: &instState{}}, true
		}
		for _, is := range s.insts {
			if s.slo.ID()+is.key == id {
				return instRef{s: s, is: is}, true
			}
		}
	}
	return instRef{}, false
}

// groups is the number of groups of the grouped SLO whose id is id (0: none, or not evaluated yet).
func (d *Daemon) groups(id string) int {
	d.mu.RLock()
	defer d.mu.RUnlock()
	n := 0
	for _, s := range d.slos {
		for _, is := range s.insts {
			if is.labels != nil && s.slo.ID() == id {
				n++
			}
		}
	}
	return n
}

// view is the instance's entry of the list (instView) at now.
func (d *Daemon) view(ref instRef, now time.Time) sloView {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return instView(ref.s, ref.is, d.newViewContext(now))
}

// history returns a copy of the instance's history (nil when it has none), safe to read while the
// next cycle advances the original.
func (r instRef) history() *burnrate.History {
	r.s.hist.Lock()
	defer r.s.hist.Unlock()
	for _, inst := range r.s.eval.Instances() {
		if inst.Key == r.is.key {
			return inst.Stepper.History().Clone()
		}
	}
	return nil
}

// chartRange is the range of the charts: [from, to] within what the history holds up to the end
// published (to defaults to it, from to the SLO's window before to).
type chartRange struct{ from, to time.Time }

// historyView is the chart data of an instance over rng, from a copy of its history (h, nil
// when none), with its alert intervals and the silences that matched its alerts.
func historyView(slo *rules.SLO, is *instState, id string, h *burnrate.History, rng chartRange, marks chartMarks) web.History {
	out := web.History{ID: id, Objective: slo.Objective, Window: periodName(slo), From: rng.from.UTC(), To: rng.to.UTC(),
		BudgetKind: web.BudgetWindow, Resolutions: []web.Resolution{}, T: []int64{}, Steps: []int{}, Data: []int{},
		Bad: []float64{}, Total: []float64{}, ErrorRatio: []*float64{}, Budget: []*float64{}, Burn: []web.BurnSeries{},
		Pairs: chartPairs(slo), Alerts: marks.alerts, Silences: marks.silences, Exclusions: marks.exclusions}
	end := is.dataUntil
	if h == nil || end.IsZero() || h.End().Before(end) {
		return out
	}
	all := h.Points(time.Time{}, end)
	if len(all) == 0 {
		return out
	}
	c := newSeriesCalc(slo, is, h, all, end)
	perUnit := eval.EventsPerUnit(slo, h.Step())
	out.WindowStart = &c.windowStart
	longs := longWindows(slo)
	burn := make([][]*float64, len(longs))
	for i, p := range all {
		if !p.End.After(rng.from) || p.End.After(rng.to) {
			continue // the intervals in (from, to]
		}
		out.T = append(out.T, p.End.Unix())
		out.Steps, out.Data = append(out.Steps, p.Steps), append(out.Data, min(p.DataSteps, 1))
		out.Bad, out.Total = append(out.Bad, round(p.Bad*perUnit)), append(out.Total, round(p.Total*perUnit))
		out.ErrorRatio = append(out.ErrorRatio, known(burnrate.ErrorRatio(p.Bad, p.Total), p.DataSteps > 0))
		out.Budget = append(out.Budget, c.budget(p))
		for j, w := range longs {
			burn[j] = append(burn[j], c.burn(i, w))
		}
		addResolution(&out, p, h.Step())
	}
	for j, w := range longs {
		out.Burn = append(out.Burn, web.BurnSeries{Window: model.Duration(w).String(), Values: burn[j]})
	}
	return out
}

// chartMarks are the intervals drawn over the charts: alerts, silences and exclusions.
type chartMarks struct{ alerts, silences, exclusions []web.Interval }

// periodName is the SLO's window as the charts name it: 30d, or a calendar month in its time zone.
func periodName(slo *rules.SLO) string {
	if cal := slo.Calendar; cal != nil {
		return "calendar " + cal.String()
	}
	return model.Duration(slo.Period).String()
}

// exclusionIntervals are the exclusions of the instance that overlap [from, to]
// (instanceExclusions) as chart intervals.
func exclusionIntervals(slo *rules.SLO, group map[string]string, api exclude.Set, from, to time.Time) []web.Interval {
	out := []web.Interval{}
	for _, iv := range instanceExclusions(slo, group, api, from, to) {
		end := iv.End.UTC()
		out = append(out, web.Interval{Start: iv.Start.UTC(), End: &end, Label: iv.Name})
	}
	return out
}

// budgetStart is the start of the budget's span ending at end: the SLO window before it, or the
// calendar period it is in (from local midnight in the SLO's time zone).
func budgetStart(slo *rules.SLO, end time.Time) time.Time {
	if slo.Calendar != nil {
		start, _ := slo.Calendar.Bounds(end) // the period of the step ending at end, as Status has it
		return start.UTC()
	}
	return end.Add(-slo.Period).UTC()
}

// seriesCalc computes the columns of a History view that span more than one point: the burndown
// of the current window and the burn rate over a window ending at each point.
type seriesCalc struct {
	objective   float64
	h           *burnrate.History
	pts         []burnrate.Point
	dataPrefix  []int // dataPrefix[i]: points before i with data
	windowStart time.Time
	windowTotal float64
	// windowKnown: the current window has data (else the budget is unknown throughout).
	windowKnown bool
}

func newSeriesCalc(slo *rules.SLO, is *instState, h *burnrate.History, pts []burnrate.Point, end time.Time) *seriesCalc {
	c := &seriesCalc{objective: slo.Objective, h: h, pts: pts, dataPrefix: make([]int, len(pts)+1),
		windowStart: budgetStart(slo, end), windowKnown: !is.status.NoData}
	for i, p := range pts {
		c.dataPrefix[i+1] = c.dataPrefix[i] + min(p.DataSteps, 1)
	}
	_, c.windowTotal = h.Between(c.windowStart, end)
	return c
}

// budget is the burndown of the current window at the end of p: 1 − the error ratio of the bad
// events since the window's start over all the window's events, in units of the budget (at the
// last point, exactly the status's budget remaining). Null before the window, in a gap, and when
// the window has no data.
func (c *seriesCalc) budget(p burnrate.Point) *float64 {
	if !c.windowKnown || p.DataSteps == 0 || p.End.Before(c.windowStart) {
		return nil
	}
	bad, _ := c.h.Between(c.windowStart, p.End)
	return known(1-burnrate.BurnRate(burnrate.ErrorRatio(bad, c.windowTotal), c.objective), true)
}

// burn is the burn rate over w ending at point i: null when no point of the window had data, or
// when the window reaches past the oldest point held.
func (c *seriesCalc) burn(i int, w time.Duration) *float64 {
	p := c.pts[i]
	from := p.End.Add(-w)
	if from.Before(c.pts[0].Start) && c.pts[0].Start.After(c.h.Start()) {
		return nil
	}
	first := sort.Search(i+1, func(j int) bool { return c.pts[j].End.After(from) })
	if c.dataPrefix[i+1]-c.dataPrefix[first] == 0 {
		return nil
	}
	bad, total := c.h.Between(from, p.End)
	return known(burnrate.BurnRate(burnrate.ErrorRatio(bad, total), c.objective), true)
}

// addResolution extends the last resolution of out with p, or starts one when p's length differs.
func addResolution(out *web.History, p burnrate.Point, step time.Duration) {
	s := model.Duration(time.Duration(p.Steps) * step).String()
	if n := len(out.Resolutions); n > 0 && out.Resolutions[n-1].Step == s {
		out.Resolutions[n-1].To = p.End.UTC()
		return
	}
	out.Resolutions = append(out.Resolutions, web.Resolution{From: p.Start.UTC(), To: p.End.UTC(), Step: s})
}

// longWindows are the distinct long windows of the SLO's window pairs, ascending.
func longWindows(slo *rules.SLO) []time.Duration {
	var out []time.Duration
	for _, w := range slo.Alerting.Windows {
		if !slices.Contains(out, w.Long) {
			out = append(out, w.Long)
		}
	}
	slices.Sort(out)
	return out
}

// chartPairs are the SLO's window pairs as the burn chart's thresholds.
func chartPairs(slo *rules.SLO) []web.Pair {
	out := []web.Pair{}
	for _, w := range slo.Alerting.Windows {
		p := web.Pair{Severity: string(w.Severity), Long: model.Duration(w.Long).String(), Short: model.Duration(w.Short).String(),
			BurnRate: w.BurnRate, Threshold: round(w.Threshold(slo.Objective))}
		if w.For > 0 {
			p.For = model.Duration(w.For).String()
		}
		out = append(out, p)
	}
	return out
}

// alertIntervals are the instance's incidents overlapping [from, to] as chart intervals, and the
// alerts firing now that the log does not hold (fired before it existed).
func alertIntervals(r instRef, incidents map[string][]incident, from, to time.Time) []web.Interval {
	out := []web.Interval{}
	open := map[string]bool{}
	for _, list := range incidents {
		for _, in := range list {
			if in.End == nil {
				open[alertKey(in.Severity, in.NoData, in.Budget, in.Start)] = true
			}
			if (in.End != nil && in.End.Before(from)) || in.Start.After(to) {
				continue
			}
			out = append(out, web.Interval{Severity: in.Severity, NoData: in.NoData, Budget: in.Budget, Start: in.Start, End: in.End,
				Label: incidentLabel(in), PeakBurnRate: in.PeakBurnRate})
		}
	}
	for _, a := range r.is.st.Alerts {
		if a.Phase != burnrate.Firing || open[alertKey(string(a.Severity), a.NoData, a.Budget, a.FiredAt.UTC())] {
			continue
		}
		out = append(out, web.Interval{Severity: string(a.Severity), NoData: a.NoData, Budget: a.Budget, Start: a.FiredAt.UTC(),
			Label: incidentLabel(incident{Severity: string(a.Severity), NoData: a.NoData, Budget: a.Budget})})
	}
	slices.SortFunc(out, func(a, b web.Interval) int { return a.Start.Compare(b.Start) })
	return out
}

// alertKey tells one firing of one alert of an instance from the others.
func alertKey(sev string, noData, budget bool, start time.Time) string {
	return sev + "|" + strconv.FormatBool(noData) + "|" + strconv.FormatBool(budget) + "|" + start.String()
}

func incidentLabel(in incident) string {
	switch {
	case in.NoData:
		return in.Severity + " (no data)"
	case in.Budget:
		return in.Severity + " (budget)"
	case in.Window != "":
		return in.Severity + " " + in.Window
	}
	return in.Severity
}

// silenceIntervals are the silences (active, pending or ended within their retention) that match
// an alert of the instance and overlap [from, to].
func silenceIntervals(slo *rules.SLO, is *instState, sils []notify.Silence, from, to time.Time) []web.Interval {
	out := []web.Interval{}
	var labelSets []map[string]string
	for _, w := range slo.Alerting.Windows {
		labelSets = append(labelSets, notify.AlertMatchLabels(slo, is.labels, w.Severity, false, false))
	}
	for _, b := range slo.Alerting.Budget {
		labelSets = append(labelSets, notify.AlertMatchLabels(slo, is.labels, b.Severity, false, true))
	}
	if nd := slo.Alerting.NoData; nd != nil {
		labelSets = append(labelSets, notify.AlertMatchLabels(slo, is.labels, nd.Severity, true, false))
	}
	for _, sil := range sils {
		if sil.EndsAt.Before(from) || sil.StartsAt.After(to) {
			continue
		}
		if slices.ContainsFunc(labelSets, sil.Matches) {
			end := sil.EndsAt.UTC()
			out = append(out, web.Interval{Start: sil.StartsAt.UTC(), End: &end, Label: sil.ID})
		}
	}
	return out
}

// parseRange reads ?from= and ?to= (RFC 3339 or Unix seconds, as Prometheus's API takes them):
// to defaults to the end of the history published, from to the SLO's window before to.
func parseRange(q map[string][]string, end time.Time, window time.Duration) (chartRange, error) {
	rng := chartRange{to: end}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"to", &rng.to}, {"from", &rng.from}} {
		v := ""
		if vs := q[p.name]; len(vs) > 0 {
			v = vs[0]
		}
		if v == "" {
			continue
		}
		t, err := parseTime(v)
		if err != nil {
			return rng, fmt.Errorf("%s=%q: %w", p.name, v, err)
		}
		*p.dst = t
	}
	if rng.from.IsZero() {
		rng.from = rng.to.Add(-window)
	}
	if rng.to.Before(rng.from) {
		return rng, fmt.Errorf("to (%s) is before from (%s)", rng.to.Format(time.RFC3339), rng.from.Format(time.RFC3339))
	}
	return rng, nil
}

// parseTime reads an RFC 3339 time or Unix seconds (with a fraction).
func parseTime(s string) (time.Time, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
		sec := int64(f)
		return time.Unix(sec, int64((f-float64(sec))*1e9)).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("want an RFC 3339 time or Unix seconds")
	}
	return t.UTC(), nil
}

// sloHistory answers GET /api/v1/slos/{service}/{name}/history?from=&to=: the chart data of one
// entry of the list (web.History).
func (d *Daemon) sloHistory(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("service") + "/" + r.PathValue("name")
	ref, ok := d.lookup(id)
	if !ok {
		writeFail(w, http.StatusNotFound, "no SLO "+id)
		return
	}
	rng, err := parseRange(r.URL.Query(), ref.is.dataUntil, ref.s.slo.Period)
	if err != nil {
		writeFail(w, http.StatusBadRequest, err.Error())
		return
	}
	writeData(w, d.chartData(ref, id, ref.history(), rng))
}

// chartData is the chart data of an instance over rng from h, a copy of its history
// (instRef.history), with its incidents, silences and exclusions.
func (d *Daemon) chartData(ref instRef, id string, h *burnrate.History, rng chartRange) web.History {
	return historyView(ref.s.slo, ref.is, id, h, rng, d.chartMarks(ref, rng))
}

// chartMarks are the instance's alert intervals, silences and exclusions over rng.
func (d *Daemon) chartMarks(ref instRef, rng chartRange) chartMarks {
	incs := d.incidents.get(notify.AlertKeys(ref.s.slo, ref.is.key))
	d.mu.RLock()
	api := d.exclSet
	d.mu.RUnlock()
	return chartMarks{alerts: alertIntervals(ref, incs, rng.from, rng.to), silences: silenceIntervals(ref.s.slo, ref.is, d.silences.List(), rng.from, rng.to),
		exclusions: exclusionIntervals(ref.s.slo, ref.is.labels, api, rng.from, rng.to)}
}
