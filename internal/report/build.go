package report

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/slod-dev/slod/internal/burnrate"
	"github.com/slod-dev/slod/internal/check"
	"github.com/slod-dev/slod/internal/eval"
	"github.com/slod-dev/slod/internal/web"
)

// Write writes the HTML report of rep, whose backtest c observed, to w; data names the recording.
func Write(w io.Writer, rep check.Report, c *Collector, data string) error {
	return web.WriteReport(w, Build(rep, c, data))
}

// Build turns a backtest and what c observed of it into the report's content: the SLOs in the
// order of the text report (check.Ordered), each with its charts and alert intervals.
func Build(rep check.Report, c *Collector, data string) web.Report {
	out := web.Report{From: rep.From, To: rep.To, Step: check.FormatDuration(rep.Step), Data: data}
	ordered := check.Ordered(rep.Results)
	for i, res := range ordered {
		out.SLOs = append(out.SLOs, buildSLO(rep, c, res, i))
	}
	out.Summary = summarize(rep, ordered)
	return out
}

func buildSLO(rep check.Report, c *Collector, res eval.Result, i int) web.ReportSLO {
	slo := res.SLO
	s := web.ReportSLO{ID: slo.ID() + res.GroupKey, Anchor: fmt.Sprintf("slo-%d", i), Description: slo.Description,
		Objective: slo.Objective, Window: check.FormatDuration(slo.Period), HasData: res.HasData,
		Problem: check.Problem(res), Failed: check.Failed(res), Guard: slo.Alerting.MinBadEvents, Suppressed: res.Suppressed,
		Excess: res.Excess, BudgetRemaining: knownPtr(res.Final.BudgetRemaining, res.HasData && !res.Final.NoData)}
	switch {
	case s.Failed, !res.HasData:
		s.State = "unknown"
	case firingAtEnd(res):
		s.State = "firing"
	}
	if res.Excluded > 0 {
		s.Excluded = check.FormatDuration(res.Excluded)
	}
	if cal := slo.Calendar; cal != nil {
		s.Calendar = cal.String()
		s.Window = "the calendar " + s.Calendar
	}
	for _, p := range res.Periods {
		s.Periods = append(s.Periods, web.ReportPeriod{Start: p.Start, End: p.End, BudgetRemaining: knownPtr(p.BudgetRemaining, !p.NoData)})
	}
	ser := c.lookup(slo, res.GroupKey)
	for _, a := range res.Alerts {
		s.Alerts = append(s.Alerts, alert(rep, ser, res, a))
	}
	if ser != nil {
		s.History = history(rep, c, ser, res, s.ID)
		s.Resolution = check.FormatDuration(time.Duration(c.every) * c.step)
	}
	return s
}

func firingAtEnd(res eval.Result) bool {
	for _, a := range res.Alerts {
		if a.End == nil {
			return true
		}
	}
	return false
}

// alert is one alert interval with its reason and the part of the budget spent during it.
func alert(rep check.Report, ser *series, res eval.Result, a eval.AlertInterval) web.ReportAlert {
	end := check.AlertEnd(a, rep.To)
	ra := web.ReportAlert{Severity: string(a.Severity), NoData: a.NoData, Budget: a.Budget, Start: a.Start, End: a.End,
		Duration: check.FormatDuration(end.Sub(a.Start)), PeakBurnRate: a.PeakBurnRate, Reason: reason(a)}
	if ser != nil && !a.NoData {
		ra.BudgetSpent = spent(ser.inst.Stepper.History(), res.SLO.Objective, res.SLO.Period, a.Start, end)
	}
	return ra
}

// spent is the part of the budget of the window ending at the history's end that the bad events
// of (from, to] took; nil when the history no longer holds from or the window had no traffic.
func spent(h *burnrate.History, objective float64, period time.Duration, from, to time.Time) *float64 {
	if h.End().IsZero() || from.Before(h.End().Add(-h.MaxWindow())) {
		return nil
	}
	bad, _ := h.Between(from, to)
	_, total := h.Sum(period)
	if total <= 0 || objective >= 1 {
		return nil
	}
	v := bad / ((1 - objective) * total)
	return &v
}

func reason(a eval.AlertInterval) string {
	switch {
	case a.NoData:
		return "the SLI returned no data"
	case a.Budget:
		return fmt.Sprintf("budget left %s, below %s", web.Percent(a.Reason.Budget), web.Percent(a.Reason.Threshold))
	}
	w := a.Reason.Window
	return fmt.Sprintf("%s/%s windows above %s× (long %s×, short %s× when it fired)", check.FormatDuration(w.Long), check.FormatDuration(w.Short),
		web.Number(w.BurnRate), web.Number(a.Reason.LongBurn), web.Number(a.Reason.ShortBurn))
}

// history is the chart data of one instance: the columns the Collector sampled, the window pairs
// and the alert intervals.
func history(rep check.Report, c *Collector, ser *series, res eval.Result, id string) web.History {
	slo := res.SLO
	h := web.History{ID: id, Objective: slo.Objective, Window: check.FormatDuration(slo.Period), From: rep.From, To: rep.To,
		BudgetKind: web.BudgetRolling, T: ser.t, Steps: ser.steps, Data: ser.data, Budget: ser.budget, Burn: []web.BurnSeries{}, Pairs: pairs(slo.Alerting.Windows, slo.Objective),
		Alerts: []web.Interval{}, Silences: []web.Interval{}, Exclusions: exclusions(rep, res),
		Resolutions: []web.Resolution{{From: rep.From, To: rep.To, Step: check.FormatDuration(time.Duration(c.every) * c.step)}}}
	for _, w := range slices.Sorted(maps.Keys(ser.burn)) {
		h.Burn = append(h.Burn, web.BurnSeries{Window: check.FormatDuration(w), Values: ser.burn[w]})
	}
	for _, a := range res.Alerts {
		iv := web.Interval{Severity: string(a.Severity), NoData: a.NoData, Budget: a.Budget, Start: a.Start, End: a.End, PeakBurnRate: a.PeakBurnRate,
			Label: string(a.Severity)}
		switch {
		case a.Budget:
			iv.Label += " (budget)"
		case !a.NoData:
			iv.Label += " " + check.FormatDuration(a.Reason.Window.Long) + "/" + check.FormatDuration(a.Reason.Window.Short)
		}
		h.Alerts = append(h.Alerts, iv)
	}
	return h
}

// exclusions are the excluded spans of the instance's SLO (its own and its file's) in the range.
func exclusions(rep check.Report, res eval.Result) []web.Interval {
	out := []web.Interval{}
	set := res.SLO.Exclusions.For(eval.InstanceLabels(res.SLO, res.Group))
	for _, iv := range set.Between(rep.From.Add(-rep.Step), rep.To) {
		end := iv.End.UTC()
		out = append(out, web.Interval{Start: iv.Start.UTC(), End: &end, Label: iv.Name})
	}
	return out
}

// pairs are an alert policy's window pairs as the charts show them.
func pairs(ws []burnrate.Window, objective float64) []web.Pair {
	out := []web.Pair{}
	for _, w := range ws {
		p := web.Pair{Severity: string(w.Severity), Long: check.FormatDuration(w.Long), Short: check.FormatDuration(w.Short),
			BurnRate: w.BurnRate, Threshold: w.Threshold(objective)}
		if w.For > 0 {
			p.For = check.FormatDuration(w.For)
		}
		out = append(out, p)
	}
	return out
}

// summarize counts what paged and ticketed, for how long, and finds the least budget left.
func summarize(rep check.Report, results []eval.Result) web.Summary {
	var s web.Summary
	c := check.Count(results)
	s.Paged, s.Ticketed, s.Quiet, s.Failed = c.Paged, c.Ticketed, c.Quiet, c.Failed
	var pageTime, ticketTime time.Duration
	for _, res := range results {
		if check.Failed(res) {
			continue
		}
		if !res.HasData {
			s.NoData++
			continue
		}
		if b := res.Final.BudgetRemaining; !res.Final.NoData && (s.LowestBudget == nil || b < *s.LowestBudget) {
			s.LowestBudget, s.LowestBudgetSLO = &b, res.SLO.ID()+res.GroupKey
		}
		for _, a := range res.Alerts {
			d := check.AlertEnd(a, rep.To).Sub(a.Start)
			if a.Severity == burnrate.Page {
				s.Pages++
				pageTime += d
			} else {
				s.Tickets++
				ticketTime += d
			}
		}
	}
	s.PageTime, s.TicketTime = check.FormatDuration(pageTime), check.FormatDuration(ticketTime)
	return s
}
