package report

import (
	"io"

	"github.com/slod-dev/slod/internal/check"
	"github.com/slod-dev/slod/internal/compare"
	"github.com/slod-dev/slod/internal/web"
)

// WriteComparison writes the HTML page of a comparison to w; data names the data it ran on.
func WriteComparison(w io.Writer, r compare.Report, data string) error {
	return web.WriteComparison(w, BuildComparison(r, data))
}

// BuildComparison turns a comparison into the page's content: the figures as the text table
// prints them (compare.Report.Table), the totals, and each known incident per SLO.
func BuildComparison(r compare.Report, data string) web.Comparison {
	out := web.Comparison{Old: r.OldName, New: r.NewName, Data: data, From: r.From, To: r.To,
		Step: check.FormatDuration(r.Step), Span: check.FormatDuration(r.To.Sub(r.From) + r.Step),
		Scale: check.FormatNumber(r.Scale(), 2), HasIncidents: r.Incidents != nil, Errors: r.Errors(),
		BudgetAlerts: r.BudgetAlerts, Guards: r.Guards}
	heads, totals := r.Totals()
	for i, c := range totals {
		out.Totals = append(out.Totals, web.Figure{Title: heads[i].Title, Change: change(c)})
	}
	cols, cells := r.Table()
	for _, c := range cols {
		out.Columns = append(out.Columns, c.Title)
	}
	for i, row := range r.Rows {
		wr := web.ComparisonRow{ID: row.ID}
		switch s := row.Status(); s {
		case "added":
			out.Added++
			wr.Status = s
		case "removed":
			out.Removed++
			wr.Status = s
		}
		for _, c := range cells[i] {
			wr.Cells = append(wr.Cells, change(c))
		}
		out.Rows = append(out.Rows, wr)
		out.Incidents = append(out.Incidents, incidents(row)...)
	}
	return out
}

func change(c compare.Cell) web.Change {
	return web.Change{Old: c.Old, New: c.New, Trend: c.Trend.String()}
}

// incidents are the known incidents of one row as both sets saw them.
func incidents(row compare.Row) []web.ComparisonIncident {
	var out []web.ComparisonIncident
	for _, ir := range row.IncidentRows() {
		out = append(out, web.ComparisonIncident{Name: ir.Incident.Name, SLO: row.ID, Start: ir.Incident.Start, End: ir.Incident.End,
			Page: change(ir.Page), Ticket: change(ir.Ticket)})
	}
	return out
}
