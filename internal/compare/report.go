package compare

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/slod-dev/slod/internal/check"
)

// rateDecimals: rates per 30 days are printed to a tenth (a 4-day range scales one page to 7.5);
// budgets as slod check prints them (check.FormatBudget, check.BudgetDecimals).
const rateDecimals = 1

func rate(v float64) string { return check.FormatNumber(v, rateDecimals) }

// WriteText writes the comparison as a table, one row per SLO, and the totals.
func WriteText(w io.Writer, r Report) error {
	var b strings.Builder
	span := r.To.Sub(r.From) + r.Step
	fmt.Fprintf(&b, "slod check --compare: %s → %s\n", r.OldName, r.NewName)
	slos := fmt.Sprintf("%d SLOs", len(r.Rows))
	if len(r.Rows) == 1 {
		slos = "1 SLO"
	}
	fmt.Fprintf(&b, "%s evaluated every %s from %s to %s (%s; figures per 30 days are the range's × %s)\n\n",
		slos, check.FormatDuration(r.Step), r.From.UTC().Format(time.RFC3339), r.To.UTC().Format(time.RFC3339),
		check.FormatDuration(span), check.FormatNumber(r.Scale(), 2))
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	cols, cells := r.Table()
	head := []string{"SLO"}
	for _, c := range cols {
		head = append(head, c.Head)
	}
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for i, row := range r.Rows {
		line := []string{row.ID + marker(row)}
		for _, c := range cells[i] {
			line = append(line, c.String())
		}
		fmt.Fprintln(tw, strings.Join(line, "\t"))
	}
	tw.Flush()
	writeLegend(&b, r)
	for _, e := range r.Errors() {
		fmt.Fprintf(&b, "error: %s\n", e)
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("writing the comparison: %w", err)
	}
	return nil
}

// Errors are the errors of the SLOs either set could not evaluate (or held a step of), each
// naming the SLO and the set.
func (r Report) Errors() []string {
	var errs []string
	for _, row := range r.Rows {
		for _, side := range []struct {
			name string
			p    *Policy
		}{{"old", row.Old}, {"new", row.New}} {
			if side.p != nil && side.p.Err != "" {
				errs = append(errs, fmt.Sprintf("%s (%s rules): %s", row.ID, side.name, side.p.Err))
			}
		}
	}
	return errs
}

// marker flags an SLO only one set has.
func marker(row Row) string {
	if s := row.Status(); s != "both" {
		return " (" + s + ")"
	}
	return ""
}

// Status is "added" for an SLO only the new rules have, "removed" for one only the old rules
// have, else "both".
func (row Row) Status() string {
	switch {
	case row.Old == nil:
		return "added"
	case row.New == nil:
		return "removed"
	}
	return "both"
}

func budgetLeft(p *Policy) string {
	if !p.HasData {
		return "no data"
	}
	return check.FormatBudget(p.BudgetRemaining)
}

func spentBeforePage(p *Policy) string {
	if !p.Paged {
		return "no page"
	}
	return check.FormatBudget(p.SpentBeforePage)
}

// worstPageDelay is the longest delay to a page among the incidents paged for, nil when none was.
func worstPageDelay(p *Policy) *time.Duration {
	var worst *time.Duration
	for _, d := range p.Incidents {
		if d.PageDelay != nil && (worst == nil || *d.PageDelay > *worst) {
			worst = d.PageDelay
		}
	}
	return worst
}

func worstDelay(p *Policy) string {
	if d := worstPageDelay(p); d != nil {
		return check.FormatDuration(*d)
	}
	return "–"
}

// writeLegend writes the totals and, with incidents, the ones each set missed.
func writeLegend(b *strings.Builder, r Report) {
	o, n := r.Old, r.New
	if !r.BudgetAlerts {
		fmt.Fprintf(b, "\npages per 30 days: %s → %s (%s), tickets per 30 days: %s → %s\n",
			rate(o.PagesPer30d), rate(n.PagesPer30d), signed(r.MorePages()), rate(o.TicketsPer30d), rate(n.TicketsPer30d))
	} else {
		fmt.Fprintf(b, "\npages per 30 days: %s → %s, and budget pages: %s → %s; all pages: %s → %s (%s)\n",
			rate(o.PagesPer30d), rate(n.PagesPer30d), rate(o.BudgetPagesPer30d), rate(n.BudgetPagesPer30d),
			rate(o.AllPagesPer30d()), rate(n.AllPagesPer30d()), signed(r.MorePages()))
		fmt.Fprintf(b, "tickets per 30 days: %s → %s, and budget tickets: %s → %s\n",
			rate(o.TicketsPer30d), rate(n.TicketsPer30d), rate(o.BudgetTicketsPer30d), rate(n.BudgetTicketsPer30d))
	}
	if r.Guards {
		fmt.Fprintf(b, "alert intervals the low-traffic guard suppressed: %d → %d\n", o.Suppressed, n.Suppressed)
	}
	if r.Incidents == nil {
		return
	}
	fmt.Fprintf(b, "incidents paged: %d/%d → %d/%d\n", r.Old.Incidents-r.Old.Missed, r.Old.Incidents, r.New.Incidents-r.New.Missed, r.New.Incidents)
	for _, row := range r.Rows {
		for _, side := range []struct {
			name string
			p    *Policy
		}{{"old", row.Old}, {"new", row.New}} {
			if side.p == nil {
				continue
			}
			for _, d := range side.p.Incidents {
				if d.PageDelay == nil {
					fmt.Fprintf(b, "missed by the %s rules: %s for %s (%s to %s)\n", side.name, d.Incident.Name, row.ID,
						d.Incident.Start.UTC().Format(time.RFC3339), d.Incident.End.UTC().Format(time.RFC3339))
				}
			}
		}
	}
}

func signed(v float64) string {
	if v > 0 {
		return "+" + rate(v)
	}
	if v == 0 {
		return "±0"
	}
	return "−" + rate(-v)
}

// The JSON document (docs/interfaces.md §2): numbers rounded as in the text, unknown budgets null.
type jsonReport struct {
	From      string    `json:"from"`
	To        string    `json:"to"`
	Step      string    `json:"step"`
	Old       string    `json:"old"`
	New       string    `json:"new"`
	Scale     number    `json:"per_30d_scale"`
	SLOs      []jsonRow `json:"slos"`
	OldTotals jsonTotal `json:"old_totals"`
	NewTotals jsonTotal `json:"new_totals"`
	MorePages number    `json:"more_pages_per_30d"`
}

type jsonTotal struct {
	jsonCounts
	Incidents *int `json:"incidents,omitempty"`
	Missed    *int `json:"missed_incidents,omitempty"`
}

// jsonCounts are Counts; encoding/json puts their keys in the object that embeds them.
type jsonCounts struct {
	Pages               int    `json:"pages"`
	Tickets             int    `json:"tickets"`
	PagesPer30d         number `json:"pages_per_30d"`
	TicketsPer30d       number `json:"tickets_per_30d"`
	BudgetPages         int    `json:"budget_pages"`
	BudgetTickets       int    `json:"budget_tickets"`
	BudgetPagesPer30d   number `json:"budget_pages_per_30d"`
	BudgetTicketsPer30d number `json:"budget_tickets_per_30d"`
	Suppressed          int    `json:"suppressed"`
}

func countsJSON(c Counts) jsonCounts {
	return jsonCounts{Pages: c.Pages, Tickets: c.Tickets, PagesPer30d: num(c.PagesPer30d, rateDecimals), TicketsPer30d: num(c.TicketsPer30d, rateDecimals),
		BudgetPages: c.BudgetPages, BudgetTickets: c.BudgetTickets, BudgetPagesPer30d: num(c.BudgetPagesPer30d, rateDecimals),
		BudgetTicketsPer30d: num(c.BudgetTicketsPer30d, rateDecimals), Suppressed: c.Suppressed}
}

type jsonRow struct {
	ID     string            `json:"id"`
	SLO    string            `json:"slo"`
	Group  map[string]string `json:"group,omitempty"`
	Status string            `json:"status"` // added, removed or both
	Old    *jsonPolicy       `json:"old"`
	New    *jsonPolicy       `json:"new"`
}

type jsonPolicy struct {
	Error string `json:"error,omitempty"`
	jsonCounts
	Firing          string          `json:"time_firing"`
	FiringSeconds   float64         `json:"time_firing_seconds"`
	Flaps           int             `json:"flaps"`
	BudgetRemaining number          `json:"budget_remaining"`
	SpentBeforePage number          `json:"budget_spent_before_first_page"`
	Incidents       []jsonDetection `json:"incidents,omitempty"`
	Missed          *int            `json:"missed_incidents,omitempty"`
}

type jsonDetection struct {
	Name        string   `json:"name"`
	Start       string   `json:"start"`
	End         string   `json:"end"`
	PageDelay   *float64 `json:"page_delay_seconds"`
	TicketDelay *float64 `json:"ticket_delay_seconds"`
}

// number is a float rounded for printing; NaN is null (unknown).
type number = check.Number

func num(v float64, decimals int) number { return check.NewNumber(v, decimals) }

// WriteJSON writes the comparison as one JSON object.
func WriteJSON(w io.Writer, r Report) error {
	out := jsonReport{
		From: r.From.UTC().Format(time.RFC3339), To: r.To.UTC().Format(time.RFC3339), Step: check.FormatDuration(r.Step),
		Old: r.OldName, New: r.NewName, Scale: num(r.Scale(), 4), SLOs: []jsonRow{},
		OldTotals: totalJSON(r.Old, r.Incidents != nil), NewTotals: totalJSON(r.New, r.Incidents != nil),
		MorePages: num(r.MorePages(), rateDecimals),
	}
	for _, row := range r.Rows {
		out.SLOs = append(out.SLOs, jsonRow{ID: row.ID, SLO: row.SLO, Group: row.Group, Status: row.Status(),
			Old: policyJSON(row.Old, r.Incidents != nil), New: policyJSON(row.New, r.Incidents != nil)})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("writing the JSON comparison: %w", err)
	}
	return nil
}

func totalJSON(t Totals, incidents bool) jsonTotal {
	out := jsonTotal{jsonCounts: countsJSON(t.Counts)}
	if incidents {
		out.Incidents, out.Missed = &t.Incidents, &t.Missed
	}
	return out
}

func policyJSON(p *Policy, incidents bool) *jsonPolicy {
	if p == nil {
		return nil
	}
	out := &jsonPolicy{Error: p.Err, BudgetRemaining: num(math.NaN(), check.BudgetDecimals), SpentBeforePage: num(math.NaN(), check.BudgetDecimals)}
	if p.Failed {
		return out
	}
	out.jsonCounts, out.Flaps = countsJSON(p.Counts), p.Flaps
	out.Firing, out.FiringSeconds = check.FormatDuration(p.Firing.Round(time.Second)), p.Firing.Round(time.Second).Seconds()
	if p.HasData {
		out.BudgetRemaining = num(p.BudgetRemaining, check.BudgetDecimals)
	}
	if p.Paged {
		out.SpentBeforePage = num(p.SpentBeforePage, check.BudgetDecimals)
	}
	if incidents {
		out.Missed = &p.Missed
		out.Incidents = []jsonDetection{}
		for _, d := range p.Incidents {
			out.Incidents = append(out.Incidents, jsonDetection{Name: d.Incident.Name,
				Start: d.Incident.Start.UTC().Format(time.RFC3339), End: d.Incident.End.UTC().Format(time.RFC3339),
				PageDelay: seconds(d.PageDelay), TicketDelay: seconds(d.TicketDelay)})
		}
	}
	return out
}

func seconds(d *time.Duration) *float64 {
	if d == nil {
		return nil
	}
	s := d.Seconds()
	return &s
}
