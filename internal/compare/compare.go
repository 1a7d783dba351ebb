// Package compare is `slod check --compare`: two sets of SLO rules backtested over the same data,
// and what the change does to the pager, per SLO (matched by id, a group of a grouped SLO by its
// instance id): burn-rate pages and tickets per 30 days, budget alerts per 30 days, time firing,
// flaps, the alerts the low-traffic guard suppressed, the budget left at the end and spent before
// the first page, and, given known incidents, how late each policy paged for them and which it
// missed.
package compare

import (
	"slices"
	"sort"
	"time"

	"github.com/slod-dev/slod/internal/burnrate"
	"github.com/slod-dev/slod/internal/check"
	"github.com/slod-dev/slod/internal/eval"
)

// FlapWindow is how soon after it resolved an alert that fires again counts as a flap.
const FlapWindow = time.Hour

// month is the span the rates are given for: the default SLO window.
const month = 30 * 24 * time.Hour

// Options describe the comparison.
type Options struct {
	// From and To are the first and last evaluation times of both backtests, Step their step.
	From, To time.Time
	Step     time.Duration
	// OldName and NewName name the two rule sets (their paths), for the report.
	OldName, NewName string
	// Incidents are the known incidents (nil: none given).
	Incidents []Incident
}

// Report is the comparison: a row per SLO instance of either set.
type Report struct {
	Options
	Rows []Row
	// Old and New total every row's figures per rule set.
	Old, New Totals
	// BudgetAlerts is set when an SLO of either set has budget alerts (alerting.budget), Guards
	// when one has a low-traffic guard (min_bad_events): the report then has their columns.
	BudgetAlerts, Guards bool
}

// Totals are one rule set's figures over all its SLOs.
type Totals struct {
	Counts
	// Missed are the incidents (per SLO they concern) that no page of the set caught; Incidents
	// how many (incident, SLO) pairs there were.
	Missed, Incidents int
}

// Counts are alert intervals by kind: burn-rate (and no-data) pages and tickets, and budget
// alerts (alerting.budget) by severity, in the range and per 30 days; and Suppressed, the
// burn-rate alert intervals the low-traffic guard kept from firing.
type Counts struct {
	Pages, Tickets                         int
	PagesPer30d, TicketsPer30d             float64
	BudgetPages, BudgetTickets             int
	BudgetPagesPer30d, BudgetTicketsPer30d float64
	Suppressed                             int
}

// AllPagesPer30d are every page per 30 days: burn-rate, no-data and budget pages alike.
func (c Counts) AllPagesPer30d() float64 { return c.PagesPer30d + c.BudgetPagesPer30d }

// Row is one SLO (or group) in both sets; Old or New is nil where the set does not have it.
type Row struct {
	// ID is the instance id (the SLO id, with a group's key); SLO the SLO id.
	ID, SLO  string
	Group    map[string]string
	Old, New *Policy
}

// Policy is what one rule set did for one SLO over the range.
type Policy struct {
	// Err is why the SLO could not be evaluated (then nothing else is set), or the first step held
	// for a value no SLI can have.
	Err    string
	Failed bool
	Counts
	// Firing is how long any of its burn-rate and no-data alerts fired (the union of the
	// intervals, up to To; budget alerts fire as long as the budget is low, and would swamp it).
	Firing time.Duration
	// Flaps counts the alerts that fired again within FlapWindow of resolving.
	Flaps int
	// HasData is false when the data held nothing the SLO reads: the budgets are unknown.
	HasData bool
	// BudgetRemaining is the budget left at To (a fraction: 1 untouched, negative overspent), of
	// a budget set by Objective.
	BudgetRemaining float64
	Objective       float64
	// SpentBeforePage is the budget spent from the first evaluation to the first page of any kind
	// (Paged).
	SpentBeforePage float64
	Paged           bool
	// Incidents are the known incidents concerning the SLO, with what each policy did.
	Incidents []Detection
	Missed    int
}

// Detection is one known incident as one policy saw it: the delay from its start to the first
// page (and ticket) firing during it, nil when none did. A budget alert counts only when it began
// during the incident: one firing since before says that the budget is low, not that the incident
// was seen.
type Detection struct {
	Incident    Incident
	PageDelay   *time.Duration
	TicketDelay *time.Duration
}

// Build compares the backtests of the old and the new rules over the same range.
func Build(old, new []eval.Result, opt Options) Report {
	r := Report{Options: opt}
	scale := r.Scale()
	rows := map[string]*Row{}
	var order []string
	add := func(res eval.Result, isNew bool) {
		id := res.ID()
		row := rows[id]
		if row == nil {
			row = &Row{ID: id, SLO: res.SLO.ID(), Group: res.Group}
			rows[id] = row
			order = append(order, id)
		}
		p := policy(res, opt, scale)
		if isNew {
			row.New = p
		} else {
			row.Old = p
		}
	}
	// The new set's order first (it is what the team keeps), then what it removed.
	for _, res := range new {
		add(res, true)
	}
	for _, res := range old {
		add(res, false)
	}
	for _, id := range order {
		row := rows[id]
		r.Rows = append(r.Rows, *row)
		r.Old.add(row.Old)
		r.New.add(row.New)
	}
	for _, res := range append(slices.Clone(old), new...) {
		r.BudgetAlerts = r.BudgetAlerts || len(res.SLO.Alerting.Budget) > 0
		r.Guards = r.Guards || res.SLO.Alerting.MinBadEvents > 0
	}
	return r
}

func (t *Totals) add(p *Policy) {
	if p == nil {
		return
	}
	t.Pages += p.Pages
	t.Tickets += p.Tickets
	t.PagesPer30d += p.PagesPer30d
	t.TicketsPer30d += p.TicketsPer30d
	t.BudgetPages += p.BudgetPages
	t.BudgetTickets += p.BudgetTickets
	t.BudgetPagesPer30d += p.BudgetPagesPer30d
	t.BudgetTicketsPer30d += p.BudgetTicketsPer30d
	t.Suppressed += p.Suppressed
	t.Missed += p.Missed
	t.Incidents += len(p.Incidents)
}

// MorePages is how many more pages per 30 days the new rules give than the old ones (negative:
// fewer), budget pages included: each wakes someone up.
func (r Report) MorePages() float64 { return r.New.AllPagesPer30d() - r.Old.AllPagesPer30d() }

// policy sums up one result.
func policy(res eval.Result, opt Options, scale float64) *Policy {
	p := &Policy{Err: check.Problem(res), Failed: check.Failed(res), HasData: res.HasData,
		BudgetRemaining: res.Final.BudgetRemaining, Objective: res.SLO.Objective}
	if p.Failed {
		return p
	}
	p.Counts = count(res, scale)
	var firstPage *eval.AlertInterval
	for i, a := range res.Alerts {
		if a.Severity == burnrate.Page && (firstPage == nil || a.Start.Before(firstPage.Start)) {
			firstPage = &res.Alerts[i]
		}
	}
	p.Firing = firing(slices.DeleteFunc(slices.Clone(res.Alerts), func(a eval.AlertInterval) bool { return a.Budget }), opt.To)
	p.Flaps = flaps(res.Alerts)
	if firstPage != nil && res.HasData {
		p.Paged = true
		p.SpentBeforePage = res.Initial.BudgetRemaining - firstPage.BudgetRemaining
	}
	for _, inc := range opt.Incidents {
		if !inc.Concerns(res.SLO.ID(), res.ID()) {
			continue
		}
		d := Detection{Incident: inc, PageDelay: delay(res.Alerts, inc, burnrate.Page), TicketDelay: delay(res.Alerts, inc, burnrate.Ticket)}
		if d.PageDelay == nil {
			p.Missed++
		}
		p.Incidents = append(p.Incidents, d)
	}
	return p
}

// count counts a result's alert intervals by kind.
func count(res eval.Result, scale float64) Counts {
	c := Counts{Suppressed: res.Suppressed}
	for _, a := range res.Alerts {
		switch {
		case a.Budget && a.Severity == burnrate.Page:
			c.BudgetPages++
		case a.Budget:
			c.BudgetTickets++
		case a.Severity == burnrate.Page:
			c.Pages++
		default:
			c.Tickets++
		}
	}
	c.PagesPer30d, c.TicketsPer30d = float64(c.Pages)*scale, float64(c.Tickets)*scale
	c.BudgetPagesPer30d, c.BudgetTicketsPer30d = float64(c.BudgetPages)*scale, float64(c.BudgetTickets)*scale
	return c
}

// firing is the length of the union of the intervals.
func firing(as []eval.AlertInterval, to time.Time) time.Duration {
	ivs := slices.Clone(as)
	sort.Slice(ivs, func(i, j int) bool { return ivs[i].Start.Before(ivs[j].Start) })
	var total time.Duration
	var curStart, curEnd time.Time
	for i, a := range ivs {
		e := check.AlertEnd(a, to)
		if i == 0 || a.Start.After(curEnd) {
			total += curEnd.Sub(curStart)
			curStart, curEnd = a.Start, e
			continue
		}
		if e.After(curEnd) {
			curEnd = e
		}
	}
	return total + curEnd.Sub(curStart)
}

// flaps counts the intervals that start within FlapWindow of the end of the previous interval of
// the same alert.
func flaps(as []eval.AlertInterval) int {
	type key struct {
		sev            burnrate.Severity
		noData, budget bool
	}
	last := map[key]*time.Time{}
	ivs := slices.Clone(as)
	sort.SliceStable(ivs, func(i, j int) bool { return ivs[i].Start.Before(ivs[j].Start) })
	n := 0
	for _, a := range ivs {
		k := key{a.Severity, a.NoData, a.Budget}
		if prev, ok := last[k]; ok && prev != nil && a.Start.Sub(*prev) <= FlapWindow {
			n++
		}
		last[k] = a.End
	}
	return n
}

// delay is the time from the incident's start to the first alert of the severity that fired
// during it (at once when a burn-rate or no-data alert was already firing; a budget alert only
// when it began during the incident), nil when none did.
func delay(as []eval.AlertInterval, inc Incident, sev burnrate.Severity) *time.Duration {
	var best *time.Duration
	for _, a := range as {
		if a.Severity != sev || a.Start.After(inc.End) || (a.End != nil && !a.End.After(inc.Start)) ||
			(a.Budget && a.Start.Before(inc.Start)) {
			continue
		}
		d := max(a.Start.Sub(inc.Start), 0)
		if best == nil || d < *best {
			best = &d
		}
	}
	return best
}
