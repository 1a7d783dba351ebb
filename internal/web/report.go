package web

import (
	"embed"
	"fmt"
	"html/template"
	"io"
	"time"
)

// The templates of slod check's self-contained pages.
//
//go:embed templates/report.html templates/compare.html
var inlineFS embed.FS

var (
	reportTmpl  = inlineTemplate("report")
	compareTmpl = inlineTemplate("compare")
)

// inlineTemplate parses templates/<name>.html into the layout.
func inlineTemplate(name string) *template.Template {
	content, err := inlineFS.ReadFile("templates/" + name + ".html")
	if err != nil {
		panic(err)
	}
	return template.Must(NewTemplate(name, string(content), nil))
}

// writeInline writes a page as one self-contained HTML file: its styles, script and data are
// inside it, and its Content-Security-Policy lets it load nothing from anywhere. what names the
// page in an error.
func writeInline(w io.Writer, t *template.Template, title string, data any, what string) error {
	if err := Render(w, t, Page{Title: title, Data: data, inline: true}); err != nil {
		return fmt.Errorf("writing the HTML %s: %w", what, err)
	}
	return nil
}

// Report is the backtest report of `slod check --format html`: a summary, then per SLO (or
// group) its charts and alert intervals.
type Report struct {
	// From and To are the first and last evaluation times; Step the evaluation step (1m); Data the
	// recording's file name.
	From, To time.Time
	Step     string
	Data     string
	Summary  Summary
	SLOs     []ReportSLO
}

// Summary is the top of the report: what paged, what ticketed, for how long, and the least
// budget left.
type Summary struct {
	// Paged, Ticketed and Quiet count SLOs by their worst alert; NoData those without data;
	// Failed those that could not be evaluated.
	Paged, Ticketed, Quiet, NoData, Failed int
	// Pages and Tickets count alert intervals; PageTime and TicketTime add up how long they fired.
	Pages, Tickets       int
	PageTime, TicketTime string
	// LowestBudget is the least budget left at the end among the SLOs with data (nil: none had
	// data), LowestBudgetSLO whose it is.
	LowestBudget    *float64
	LowestBudgetSLO string
}

// ReportSLO is one SLO (or one group of a grouped SLO) of the report.
type ReportSLO struct {
	ID, Anchor, Description string
	Objective               float64
	Window                  string
	// State is "firing" when an alert fired at the end, "unknown" without data, else "".
	State string
	// BudgetRemaining is at the end of the range (nil: unknown, without data).
	BudgetRemaining *float64
	HasData         bool
	// Problem is what went wrong with the SLO (its error, or a step held for a value no SLI can
	// have); Failed is set when it could not be evaluated at all.
	Problem string
	Failed  bool
	// Excluded is how long exclusions covered of the range ("" for none); Guard the SLO's
	// min_bad_events (0: none) and Suppressed the alert intervals it suppressed.
	Excluded   string
	Guard      float64
	Suppressed int
	// Calendar names a calendar SLO's period ("month (Europe/Berlin)"); Periods are the periods
	// that ended in the range, with the budget each ended with.
	Calendar string
	Periods  []ReportPeriod
	Excess   []string
	Alerts   []ReportAlert
	// History is the charts' data; Resolution the distance between its points (every 4m).
	History    History
	Resolution string
}

// ReportPeriod is a calendar period that ended in the range, with the budget left at its end
// (nil: unknown, no data in it).
type ReportPeriod struct {
	Start, End      time.Time
	BudgetRemaining *float64
}

// ReportAlert is one alert interval with its reason.
type ReportAlert struct {
	Severity     string
	NoData       bool
	Budget       bool
	Start        time.Time
	End          *time.Time
	Duration     string
	PeakBurnRate float64
	// BudgetSpent is the part of the window's budget the bad events during the interval took
	// (nil when unknown).
	BudgetSpent *float64
	Reason      string
}

// WriteReport writes r as one self-contained HTML file: its styles, script, chart data and charts
// are inside it, and its Content-Security-Policy lets it load nothing from anywhere.
func WriteReport(w io.Writer, r Report) error {
	title := fmt.Sprintf("slod check: %d SLOs, %s to %s", len(r.SLOs), r.From.UTC().Format(time.RFC3339), r.To.UTC().Format(time.RFC3339))
	return writeInline(w, reportTmpl, title, r, "report")
}
