package compare

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/slod-dev/slod/internal/burnrate"
	"github.com/slod-dev/slod/internal/eval"
	"github.com/slod-dev/slod/internal/rules"
)

var t0 = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)

func at(h, m int) time.Time { return t0.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute) }

func ptr(t time.Time) *time.Time { return &t }

func slo(name string) *rules.SLO { return &rules.SLO{Service: "svc", Name: name} }

func alert(sev burnrate.Severity, start time.Time, end *time.Time, budget float64) eval.AlertInterval {
	return eval.AlertInterval{Severity: sev, Start: start, End: end, BudgetRemaining: budget}
}

// TestPolicyFigures: the figures of one backtest, worked out by hand over a 3-day range (× 10 per
// 30 days).
func TestPolicyFigures(t *testing.T) {
	res := eval.Result{SLO: slo("a"), HasData: true,
		Initial: burnrate.Status{BudgetRemaining: 0.9}, Final: burnrate.Status{At: at(71, 59), BudgetRemaining: 0.25},
		Alerts: []eval.AlertInterval{
			alert(burnrate.Page, at(10, 0), ptr(at(10, 30)), 0.7),   // first page: 20% spent before it
			alert(burnrate.Ticket, at(10, 5), ptr(at(11, 0)), 0.69), // overlaps it: firing 10:00–11:00
			alert(burnrate.Page, at(11, 20), ptr(at(11, 40)), 0.6),  // re-fires 50m after a resolve: a flap
			alert(burnrate.Page, at(20, 0), ptr(at(20, 10)), 0.5),   // 8h20m later: no flap
			alert(burnrate.Ticket, at(71, 0), nil, 0.3),             // still firing at the end (71:59)
		}}
	inc := []Incident{
		{Name: "paged late", SLOs: []string{"svc/*"}, Start: at(9, 50), End: at(10, 40)},
		{Name: "ticket only", SLOs: []string{"svc/a"}, Start: at(71, 0), End: at(71, 30)},
		{Name: "other SLO", SLOs: []string{"svc/b"}, Start: at(10, 0), End: at(11, 0)},
		{Name: "already paging", SLOs: []string{"svc/a"}, Start: at(11, 30), End: at(11, 50)},
	}
	r := Build(nil, []eval.Result{res}, Options{From: at(0, 0), To: at(71, 59), Step: time.Minute, Incidents: inc})
	p := r.Rows[0].New
	if r.Rows[0].Old != nil || p.Pages != 3 || p.Tickets != 2 || p.PagesPer30d != 30 || p.TicketsPer30d != 20 {
		t.Errorf("pages %d (%v/30d), tickets %d (%v/30d), want 3 (30), 2 (20)", p.Pages, p.PagesPer30d, p.Tickets, p.TicketsPer30d)
	}
	if want := time.Hour + 20*time.Minute + 10*time.Minute + 59*time.Minute; p.Firing != want {
		t.Errorf("firing %s, want %s", p.Firing, want)
	}
	if p.Flaps != 1 {
		t.Errorf("%d flaps, want 1", p.Flaps)
	}
	if !p.Paged || p.SpentBeforePage < 0.2-1e-9 || p.SpentBeforePage > 0.2+1e-9 || p.BudgetRemaining != 0.25 {
		t.Errorf("spent before the first page %v (paged %v), budget left %v; want 0.2, 0.25", p.SpentBeforePage, p.Paged, p.BudgetRemaining)
	}
	if len(p.Incidents) != 3 || p.Missed != 1 {
		t.Fatalf("%d incidents concern svc/a, %d missed; want 3, 1 (the ticket-only one)", len(p.Incidents), p.Missed)
	}
	d := p.Incidents
	if *d[0].PageDelay != 10*time.Minute || *d[0].TicketDelay != 15*time.Minute || d[1].PageDelay != nil || *d[1].TicketDelay != 0 || *d[2].PageDelay != 0 {
		t.Errorf("detections %+v %+v %+v: want a page after 10m, none and a ticket at once, a page already firing", d[0], d[1], d[2])
	}
}

// TestBuildRows: SLOs are matched by instance id; those only one set has are added or removed, and
// totals and MorePages add up both sets; an SLO that failed is an error, not zero pages.
func TestBuildRows(t *testing.T) {
	a, b, c := slo("a"), slo("b"), slo("c")
	page := []eval.AlertInterval{alert(burnrate.Page, at(1, 0), ptr(at(1, 10)), 0.5)}
	old := []eval.Result{{SLO: a, HasData: true, Alerts: page}, {SLO: b, HasData: true}}
	grp := map[string]string{"model": "x"}
	now := []eval.Result{
		{SLO: c, HasData: true, Alerts: append(page, alert(burnrate.Page, at(2, 0), nil, 0.1))},
		{SLO: a, Err: errors.New("query failed")},
		{SLO: b, Group: grp, GroupKey: `{model="x"}`, HasData: true},
	}
	r := Build(old, now, Options{From: t0, To: at(71, 59), Step: time.Minute, OldName: "old/", NewName: "new/"})
	var ids []string
	for _, row := range r.Rows {
		ids = append(ids, row.ID+marker(row))
	}
	if got := strings.Join(ids, ", "); got != `svc/c (added), svc/a, svc/b{model="x"} (added), svc/b (removed)` {
		t.Errorf("rows %s", got)
	}
	if r.Old.Pages != 1 || r.New.Pages != 2 || r.MorePages() != 10 {
		t.Errorf("pages %d → %d, %v more per 30 days; want 1 → 2, 10", r.Old.Pages, r.New.Pages, r.MorePages())
	}
	var text, js bytes.Buffer
	if err := WriteText(&text, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"slod check --compare: old/ → new/\n4 SLOs evaluated every 1m from 2026-10-01T00:00:00Z to 2026-10-03T23:59:00Z (3d; figures per 30 days are the range's × 10)",
		"svc/a                     10 → error", "svc/c (added)             – → 20", "pages per 30 days: 10 → 20 (+10)", "error: svc/a (new rules): query failed",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
	if err := WriteJSON(&js, r); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		SLOs []struct {
			ID, Status string
			Old, New   *struct {
				Error           string
				PagesPer30d     *float64 `json:"pages_per_30d"`
				BudgetRemaining *float64 `json:"budget_remaining"`
			}
		}
		MorePages float64 `json:"more_pages_per_30d"`
	}
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.SLOs) != 4 || doc.SLOs[0].Status != "added" || doc.SLOs[0].Old != nil || *doc.SLOs[0].New.PagesPer30d != 20 ||
		doc.SLOs[1].New.Error != "query failed" || doc.SLOs[1].New.BudgetRemaining != nil || doc.SLOs[3].Status != "removed" || doc.MorePages != 10 {
		t.Errorf("JSON:\n%s", js.String())
	}
}

func TestParseIncidents(t *testing.T) {
	got, err := ParseIncidents("inc.yaml", []byte(`incidents:
  - {name: a, slos: [svc/a, "svc/*"], start: 2026-10-04T06:00:00Z, end: "2026-10-04T06:25"}
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !got[0].Start.Equal(at(78, 0)) || !got[0].End.Equal(at(78, 25)) || !got[0].Concerns("svc/b", `svc/b{m="x"}`) || got[0].Concerns("web/a", "web/a") {
		t.Errorf("incidents %+v", got)
	}
	_, err = ParseIncidents("inc.yaml", []byte(`incidents:
  - name: a
    slos: []
    start: yesterday
    end: 2026-10-04T06:00:00Z
  - {name: b, slos: ["[x"], start: 2026-10-04T06:00:00Z, end: 2026-10-04T05:00:00Z, severity: page}
  - {slos: [svc/a], start: 2026-10-04T06:00:00Z, end: 2026-10-04T07:00:00Z}
`))
	for _, want := range []string{
		`inc.yaml:3:11: incidents[0].slos: must name at least one SLO`,
		`inc.yaml:4:12: incidents[0].start: not a time: "yesterday"`,
		`inc.yaml:6:22: incidents[1].slos[0]: not an SLO id or pattern: syntax error in pattern`,
		`inc.yaml:6:63: incidents[1].end: must be after start (2026-10-04T06:00:00Z)`,
		`inc.yaml:6:85: incidents[1].severity: unknown field`,
		`inc.yaml:7:5: incidents[2].name: missing required field`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

// TestTable: the cells of the table and of the totals, and the trend of each: fewer pages, less
// time firing and more budget left (of the same objective) are better, a later or missed page for an incident worse; no
// trend for a trade-off (the budget spent before the first page), an SLO one set lacks or could
// not evaluate, or figures that print the same.
func TestTable(t *testing.T) {
	a, b, c := slo("a"), slo("b"), slo("c")
	strict, loose := slo("d"), slo("d") // the objective moved: its budget is another one
	strict.Objective, loose.Objective = 0.999, 0.995
	inc := []Incident{
		{Name: "early", SLOs: []string{"svc/a"}, Start: at(0, 50), End: at(1, 30)},
		{Name: "late", SLOs: []string{"svc/a"}, Start: at(30, 0), End: at(31, 0)},
	}
	initial := burnrate.Status{BudgetRemaining: 1}
	old := []eval.Result{
		{SLO: a, HasData: true, Initial: initial, Final: burnrate.Status{BudgetRemaining: 0.5}, Alerts: []eval.AlertInterval{
			alert(burnrate.Page, at(1, 0), ptr(at(1, 20)), 0.9), alert(burnrate.Page, at(1, 50), ptr(at(2, 0)), 0.8)}},
		{SLO: b, HasData: true, Final: burnrate.Status{BudgetRemaining: 0.7}},
		{SLO: strict, HasData: true, Final: burnrate.Status{BudgetRemaining: 0.5}},
	}
	now := []eval.Result{
		{SLO: a, HasData: true, Initial: initial, Final: burnrate.Status{BudgetRemaining: 0.2}, Alerts: []eval.AlertInterval{
			alert(burnrate.Page, at(0, 55), ptr(at(1, 0)), 0.95), alert(burnrate.Page, at(30, 20), ptr(at(30, 40)), 0.3),
			alert(burnrate.Ticket, at(30, 10), ptr(at(31, 0)), 0.35)}},
		{SLO: b, Err: errors.New("query failed")},
		{SLO: c, HasData: true, Final: burnrate.Status{BudgetRemaining: 0.9}},
		{SLO: loose, HasData: true, Final: burnrate.Status{BudgetRemaining: 0.8}},
	}
	r := Build(old, now, Options{From: t0, To: at(71, 59), Step: time.Minute, Incidents: inc})
	cols, cells := r.Table()
	var heads []string
	for _, c := range cols {
		heads = append(heads, c.Head)
	}
	if got := strings.Join(heads, "|"); got != "pages/30d|tickets/30d|firing|flaps|budget left|spent before 1st page|incidents paged|worst delay" {
		t.Errorf("columns %s", got)
	}
	show := func(row []Cell) string {
		var s []string
		for _, c := range row {
			s = append(s, c.String()+"/"+c.Trend.String())
		}
		return strings.Join(s, " | ")
	}
	for i, want := range []string{
		// a: as many pages (20 per 30 days), a ticket more, firing 30m → 55m, a flap fewer, 30% of the budget
		// left less; both incidents paged, the first 5m sooner, the second 20m after its start.
		"20/ | 0 → 10/worse | 30m → 55m/worse | 1 → 0/better | 50% → 20%/worse | 10% → 5%/ | 1/2 → 2/2/better | 10m → 20m/worse",
		"0 → error/ | 0 → error/ | 0s → error/ | 0 → error/ | 70% → error/ | no page → error/ | 0/0 → error/ | – → error/",
		"– → 0/ | – → 0/ | – → 0s/ | – → 0/ | – → 90%/ | – → no page/ | – → 0/0/ | –/",
		"0/ | 0/ | 0s/ | 0/ | 50% → 80%/ | no page/ | 0/0/ | –/",
	} {
		if got := show(cells[i]); got != want {
			t.Errorf("row %s:\n got %s\nwant %s", r.Rows[i].ID, got, want)
		}
	}
	incs := r.Rows[0].IncidentRows()
	if len(incs) != 2 || incs[0].Page != (Cell{"10m", "5m", Better}) || incs[0].Ticket != (Cell{"none", "none", Same}) ||
		incs[1].Page != (Cell{"missed", "20m", Better}) || incs[1].Ticket != (Cell{"none", "10m", Better}) {
		t.Errorf("incidents %+v", incs)
	}
	if got := r.Rows[2].IncidentRows(); got != nil {
		t.Errorf("incidents of an SLO none concerns: %+v", got)
	}
	_, totals := r.Totals()
	if got := show(totals); got != "20/ | 0 → 10/worse | 1/2 → 2/2/better" {
		t.Errorf("totals %s", got)
	}
}

// TestBudgetAlertsAndGuard: budget alerts are counted apart from burn-rate pages and tickets, fire
// no time and no flaps into the burn-rate figures, detect an incident only when they begin during
// it, and count as pages for MorePages; the guard's suppressions are each set's; both have their
// columns only when an SLO of either set configures them.
func TestBudgetAlertsAndGuard(t *testing.T) {
	plain := slo("a")
	budgeted := slo("a")
	budgeted.Alerting.Budget = []burnrate.BudgetAlert{{Severity: burnrate.Page, Below: 0}, {Severity: burnrate.Ticket, Below: 0.5}}
	budgeted.Alerting.MinBadEvents = 5
	budgetAlert := func(sev burnrate.Severity, start time.Time, end *time.Time) eval.AlertInterval {
		a := alert(sev, start, end, 0.4)
		a.Budget = true
		return a
	}
	old := []eval.Result{{SLO: plain, HasData: true, Initial: burnrate.Status{BudgetRemaining: 1}, Alerts: []eval.AlertInterval{
		alert(burnrate.Page, at(5, 0), ptr(at(5, 30)), 0.6)}}}
	now := []eval.Result{{SLO: budgeted, HasData: true, Suppressed: 3, Initial: burnrate.Status{BudgetRemaining: 1}, Alerts: []eval.AlertInterval{
		budgetAlert(burnrate.Ticket, at(1, 0), nil),          // low budget from 01:00 on
		budgetAlert(burnrate.Page, at(6, 0), ptr(at(6, 10))), // a budget page
		budgetAlert(burnrate.Page, at(6, 40), ptr(at(7, 0))), // again 30m later: a flap
		alert(burnrate.Page, at(5, 10), ptr(at(5, 20)), 0.6), // the burn-rate page, later and shorter
	}}}
	inc := []Incident{{Name: "outage", SLOs: []string{"svc/a"}, Start: at(4, 50), End: at(6, 5)}}
	r := Build(old, now, Options{From: t0, To: at(71, 59), Step: time.Minute, Incidents: inc})
	o, n := r.Rows[0].Old, r.Rows[0].New
	if !r.BudgetAlerts || !r.Guards {
		t.Fatalf("budget alerts %v, guards %v: want both, the new SLO has them", r.BudgetAlerts, r.Guards)
	}
	if n.Pages != 1 || n.Tickets != 0 || n.BudgetPages != 2 || n.BudgetTickets != 1 || n.BudgetPagesPer30d != 20 || n.Suppressed != 3 || o.Suppressed != 0 {
		t.Errorf("new counts %+v", n.Counts)
	}
	if n.Firing != 10*time.Minute || n.Flaps != 1 {
		t.Errorf("new firing %s, %d flaps; want the burn-rate page's 10m, the budget page's re-fire", n.Firing, n.Flaps)
	}
	// The budget ticket firing since 01:00 does not detect the outage of 04:50; the page of 05:10
	// does, and so does (first) the old page of 05:00.
	if d := n.Incidents[0]; d.PageDelay == nil || *d.PageDelay != 20*time.Minute || d.TicketDelay != nil {
		t.Errorf("new detection %+v, want a page after 20m and no ticket", d)
	}
	// First page of any kind: the burn-rate one at 05:10, before the budget page of 06:00.
	if !n.Paged || n.SpentBeforePage != 0.4 {
		t.Errorf("spent before the first page %v", n.SpentBeforePage)
	}
	if r.MorePages() != 20 || r.New.AllPagesPer30d() != 30 || r.New.BudgetTickets != 1 || r.New.Suppressed != 3 {
		t.Errorf("more pages %v, totals %+v", r.MorePages(), r.New)
	}
	var text bytes.Buffer
	if err := WriteText(&text, r); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"SLO    pages/30d  tickets/30d  budget pages/30d  budget tickets/30d  firing     flaps  suppressed",
		"svc/a  10         0            0 → 20            0 → 10              30m → 10m  0 → 1  0 → 3",
		"pages per 30 days: 10 → 10, and budget pages: 0 → 20; all pages: 10 → 30 (+20)\n",
		"tickets per 30 days: 0 → 0, and budget tickets: 0 → 10\n",
		"alert intervals the low-traffic guard suppressed: 0 → 3\n",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
	heads, totals := r.Totals()
	var got []string
	for i, c := range totals {
		got = append(got, heads[i].Head+" "+c.String()+"/"+c.Trend.String())
	}
	if want := "pages/30d 10/, tickets/30d 0/, budget pages/30d 0 → 20/worse, budget tickets/30d 0 → 10/worse, " +
		"all pages/30d 10 → 30/worse, suppressed 0 → 3/, incidents paged 1/1/"; strings.Join(got, ", ") != want {
		t.Errorf("totals\n %s\nwant\n %s", strings.Join(got, ", "), want)
	}
	var js bytes.Buffer
	if err := WriteJSON(&js, r); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		SLOs []struct {
			New map[string]any
		}
		NewTotals map[string]any `json:"new_totals"`
		MorePages float64        `json:"more_pages_per_30d"`
	}
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	p := doc.SLOs[0].New
	if p["pages"] != 1.0 || p["budget_pages"] != 2.0 || p["budget_tickets_per_30d"] != 10.0 || p["suppressed"] != 3.0 ||
		doc.NewTotals["budget_pages"] != 2.0 || doc.NewTotals["suppressed"] != 3.0 || doc.MorePages != 20 {
		t.Errorf("JSON:\n%s", js.String())
	}

	// Without budget alerts or guards in either set, neither has a column.
	r = Build(old, old, Options{From: t0, To: at(71, 59), Step: time.Minute})
	if cols, _ := r.Table(); len(cols) != 6 || r.BudgetAlerts || r.Guards {
		t.Errorf("%d columns without budget alerts or guards, want 6", len(cols))
	}
}
