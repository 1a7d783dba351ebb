package compare

import (
	"fmt"
	"time"

	"github.com/slod-dev/slod/internal/check"
)

// Trend is whether a figure changed for the better (fewer pages, more budget left) or the worse
// from the old rules to the new ones. Figures that are a trade-off (the budget spent before the
// first page: paging later spends more, but pages less) have none.
type Trend int

// The trends of a Cell.
const (
	Same Trend = iota // equal as printed, not comparable (a set without the SLO, an error), or a trade-off
	Better
	Worse
)

// String is "better", "worse" or "" (the HTML report's class names).
func (t Trend) String() string {
	switch t {
	case Better:
		return "better"
	case Worse:
		return "worse"
	}
	return ""
}

// Cell is one figure of one SLO in both rule sets, as printed: "–" for a set without the SLO,
// "error" for one that could not evaluate it.
type Cell struct {
	Old, New string
	Trend    Trend
}

// String is the cell as the text table prints it: "old → new", or one figure when both agree.
func (c Cell) String() string {
	if c.Old == c.New {
		return c.Old
	}
	return c.Old + " → " + c.New
}

// Column is a column of the comparison's table: its heading in the text table (Head) and in the
// HTML one (Title).
type Column struct {
	Head, Title string
}

// column is a Column and how its cells are made.
type column struct {
	Column
	format func(*Policy) string
	// value is the figure trends compare (ok false: not known for this policy); nil for a column
	// without trends. lowerBetter: less of it is better.
	value       func(*Policy) (v float64, ok bool)
	lowerBetter bool
}

// The columns of the table.
var (
	pagesColumn = column{Column{"pages/30d", "Pages per 30 days"}, func(p *Policy) string { return rate(p.PagesPer30d) },
		func(p *Policy) (float64, bool) { return p.PagesPer30d, true }, true}
	ticketsColumn = column{Column{"tickets/30d", "Tickets per 30 days"}, func(p *Policy) string { return rate(p.TicketsPer30d) },
		func(p *Policy) (float64, bool) { return p.TicketsPer30d, true }, true}
	budgetPagesColumn = column{Column{"budget pages/30d", "Budget pages per 30 days"}, func(p *Policy) string { return rate(p.BudgetPagesPer30d) },
		func(p *Policy) (float64, bool) { return p.BudgetPagesPer30d, true }, true}
	budgetTicketsColumn = column{Column{"budget tickets/30d", "Budget tickets per 30 days"}, func(p *Policy) string { return rate(p.BudgetTicketsPer30d) },
		func(p *Policy) (float64, bool) { return p.BudgetTicketsPer30d, true }, true}
	allPagesColumn = column{Column{"all pages/30d", "All pages per 30 days"}, func(p *Policy) string { return rate(p.AllPagesPer30d()) },
		func(p *Policy) (float64, bool) { return p.AllPagesPer30d(), true }, true}
	// The guard's suppressions are its trade-off (fewer pages, maybe later ones): no trend.
	suppressedColumn = column{Column{"suppressed", "Suppressed by the low-traffic guard"}, func(p *Policy) string { return fmt.Sprint(p.Suppressed) }, nil, false}
	firingColumn     = column{Column{"firing", "Time firing"}, func(p *Policy) string { return check.FormatDuration(p.Firing.Round(time.Second)) },
		func(p *Policy) (float64, bool) { return p.Firing.Seconds(), true }, true}
	flapsColumn = column{Column{"flaps", "Flaps"}, func(p *Policy) string { return fmt.Sprint(p.Flaps) },
		func(p *Policy) (float64, bool) { return float64(p.Flaps), true }, true}
	// Budgets of different objectives are different budgets: more of a looser one left is no
	// improvement (cell gives them no trend).
	budgetColumn = column{Column{"budget left", "Budget left at the end"}, budgetLeft,
		func(p *Policy) (float64, bool) { return p.BudgetRemaining, p.HasData }, false}
	spentColumn     = column{Column{"spent before 1st page", "Budget spent before the first page"}, spentBeforePage, nil, false}
	incidentsColumn = column{Column{"incidents paged", "Incidents paged"},
		func(p *Policy) string { return fmt.Sprintf("%d/%d", len(p.Incidents)-p.Missed, len(p.Incidents)) },
		func(p *Policy) (float64, bool) { return float64(len(p.Incidents) - p.Missed), true }, false}
	delayColumn = column{Column{"worst delay", "Worst detection delay"}, worstDelay, func(p *Policy) (float64, bool) {
		if d := worstPageDelay(p); d != nil {
			return d.Seconds(), true
		}
		return 0, false
	}, true}
)

// columns are the table's columns: the budget alerts' only when an SLO has budget alerts, the
// guard's when one has a guard, the incidents' when the report has incidents.
func (r Report) columns() []column {
	cols := []column{pagesColumn, ticketsColumn}
	if r.BudgetAlerts {
		cols = append(cols, budgetPagesColumn, budgetTicketsColumn)
	}
	cols = append(cols, firingColumn, flapsColumn)
	if r.Guards {
		cols = append(cols, suppressedColumn)
	}
	cols = append(cols, budgetColumn, spentColumn)
	if r.Incidents != nil {
		cols = append(cols, incidentsColumn, delayColumn)
	}
	return cols
}

// Table is the comparison as a table: its columns (after the SLO's) and, for each of r.Rows, a
// cell per column.
func (r Report) Table() ([]Column, [][]Cell) {
	cols := r.columns()
	heads := make([]Column, len(cols))
	for i, c := range cols {
		heads[i] = c.Column
	}
	cells := make([][]Cell, len(r.Rows))
	for i, row := range r.Rows {
		for _, c := range cols {
			cells[i] = append(cells[i], c.cell(row.Old, row.New))
		}
	}
	return heads, cells
}

// cell is the column's figure of both policies.
func (c column) cell(old, new *Policy) Cell {
	side := func(p *Policy) string {
		switch {
		case p == nil:
			return "–"
		case p.Failed:
			return "error"
		}
		return c.format(p)
	}
	out := Cell{Old: side(old), New: side(new)}
	if c.value == nil || out.Old == out.New || old == nil || new == nil || old.Failed || new.Failed {
		return out
	}
	o, ok1 := c.value(old)
	n, ok2 := c.value(new)
	switch {
	case !ok1 || !ok2 || o == n, c.Column == budgetColumn.Column && old.Objective != new.Objective:
	case (n < o) == c.lowerBetter:
		out.Trend = Better
	default:
		out.Trend = Worse
	}
	return out
}

// Totals is the totals of both sets as cells: pages and tickets per 30 days, budget alerts (and
// all pages together) and suppressions where the table has them and, with incidents, the
// incidents paged for.
func (r Report) Totals() ([]Column, []Cell) {
	old, new := &Policy{Counts: r.Old.Counts}, &Policy{Counts: r.New.Counts}
	cols := []column{pagesColumn, ticketsColumn}
	if r.BudgetAlerts {
		cols = append(cols, budgetPagesColumn, budgetTicketsColumn, allPagesColumn)
	}
	if r.Guards {
		cols = append(cols, suppressedColumn)
	}
	if r.Incidents != nil {
		old.Incidents, old.Missed = make([]Detection, r.Old.Incidents), r.Old.Missed
		new.Incidents, new.Missed = make([]Detection, r.New.Incidents), r.New.Missed
		cols = append(cols, incidentsColumn)
	}
	heads := make([]Column, len(cols))
	cells := make([]Cell, len(cols))
	for i, c := range cols {
		heads[i], cells[i] = c.Column, c.cell(old, new)
	}
	return heads, cells
}

// Scale is what the range's counts are multiplied by to give figures per 30 days.
func (r Report) Scale() float64 { return float64(month) / float64(r.To.Sub(r.From)+r.Step) }

// IncidentRow is one known incident of an SLO as both sets saw it: how long after its start each
// paged and ticketed ("missed", "none" when it did not).
type IncidentRow struct {
	Incident     Incident
	Page, Ticket Cell
}

// IncidentRows are the known incidents of the row's SLO as both sets saw them. Both sets'
// detections are of the same incidents in the same order (those of the incidents file that concern
// the row's id), so they pair up by index.
func (row Row) IncidentRows() []IncidentRow {
	base := row.New
	if base == nil || base.Failed {
		base = row.Old
	}
	if base == nil {
		return nil
	}
	var out []IncidentRow
	for i, d := range base.Incidents {
		out = append(out, IncidentRow{Incident: d.Incident,
			Page:   delayCell(row.Old, row.New, i, "missed", func(d Detection) *time.Duration { return d.PageDelay }),
			Ticket: delayCell(row.Old, row.New, i, "none", func(d Detection) *time.Duration { return d.TicketDelay })})
	}
	return out
}

// delayCell is the delay of both sets for their i-th incident: a shorter one is better, and so is
// one at all rather than none.
func delayCell(old, new *Policy, i int, none string, delay func(Detection) *time.Duration) Cell {
	get := func(p *Policy) (string, *time.Duration) {
		switch {
		case p == nil:
			return "–", nil
		case p.Failed || i >= len(p.Incidents):
			return "error", nil
		}
		if d := delay(p.Incidents[i]); d != nil {
			return check.FormatDuration(*d), d
		}
		return none, nil
	}
	o, od := get(old)
	n, nd := get(new)
	c := Cell{Old: o, New: n}
	switch {
	case o == n || o == "–" || n == "–" || o == "error" || n == "error":
	case od == nil:
		c.Trend = Better
	case nd == nil || *nd > *od:
		c.Trend = Worse
	case *nd < *od:
		c.Trend = Better
	}
	return c
}
