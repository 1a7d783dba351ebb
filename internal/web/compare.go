package web

import (
	"io"
	"time"
)

// Comparison is the page of `slod check --compare --format html`: what a change of rules does to
// the pager, per SLO and in total.
type Comparison struct {
	// Old and New name the rule sets; Data the data both were backtested on.
	Old, New, Data string
	// From and To are the first and last evaluation times, Step the step, Span the range's length
	// and Scale the factor from the range's counts to figures per 30 days.
	From, To          time.Time
	Step, Span, Scale string
	// Totals are the figures of all SLOs together; Added and Removed count the SLOs only one set
	// has.
	Totals         []Figure
	Added, Removed int
	// Columns are the headings of the figures of each row. BudgetAlerts and Guards say that an SLO
	// of either set has budget alerts, or a low-traffic guard: the table has their columns.
	Columns              []string
	BudgetAlerts, Guards bool
	Rows                 []ComparisonRow
	// Incidents are the known incidents, per SLO they concern, as each set saw them; nil without
	// an incidents file (HasIncidents: one was given, maybe empty).
	HasIncidents bool
	Incidents    []ComparisonIncident
	// Errors name the SLOs a set could not evaluate.
	Errors []string
}

// Change is one figure in both rule sets, as printed ("–" for a set without the SLO); Trend is
// "better", "worse" or "" (the same, or not comparable).
type Change struct {
	Old, New, Trend string
}

// Figure is a named Change.
type Figure struct {
	Title string
	Change
}

// ComparisonRow is one SLO (or group): Status is "added" or "removed" for an SLO only one set has,
// else "".
type ComparisonRow struct {
	ID, Status string
	Cells      []Change
}

// ComparisonIncident is one known incident for one SLO: how long after its start each set paged
// (and ticketed), "missed" when it did not.
type ComparisonIncident struct {
	Name, SLO    string
	Start, End   time.Time
	Page, Ticket Change
}

// WriteComparison writes c as one self-contained HTML file, as WriteReport does a backtest.
func WriteComparison(w io.Writer, c Comparison) error {
	return writeInline(w, compareTmpl, "slod check --compare: "+c.Old+" → "+c.New, c, "comparison")
}
