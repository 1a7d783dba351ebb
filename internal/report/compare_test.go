package report

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/slod-dev/slod/internal/burnrate"
	"github.com/slod-dev/slod/internal/compare"
	"github.com/slod-dev/slod/internal/eval"
	"github.com/slod-dev/slod/internal/rules"
)

// TestBuildComparison: the page's content is the text table's figures with their trends, the
// totals, the added and removed SLOs, each known incident per SLO and the errors; the page written
// carries them, escaped, with its CSP and nothing to load.
func TestBuildComparison(t *testing.T) {
	a, b, c := &rules.SLO{Service: "svc", Name: "a"}, &rules.SLO{Service: "svc", Name: "b"}, &rules.SLO{Service: "svc", Name: "<c>"}
	end := t0.Add(2 * time.Hour)
	page := eval.AlertInterval{Severity: burnrate.Page, Start: t0.Add(time.Hour), End: &end, BudgetRemaining: 0.5}
	old := []eval.Result{{SLO: a, HasData: true, Final: burnrate.Status{BudgetRemaining: 0.4}, Alerts: []eval.AlertInterval{page}},
		{SLO: b, HasData: true}}
	now := []eval.Result{{SLO: a, HasData: true, Final: burnrate.Status{BudgetRemaining: 0.6}},
		{SLO: c, Err: errors.New("query failed")}}
	inc := []compare.Incident{{Name: "outage", SLOs: []string{"svc/a"}, Start: t0.Add(50 * time.Minute), End: t0.Add(3 * time.Hour)}}
	r := compare.Build(old, now, compare.Options{From: t0, To: t0.Add(72*time.Hour - time.Minute), Step: time.Minute,
		OldName: "old.yaml", NewName: "new.yaml", Incidents: inc})
	w := BuildComparison(r, "data.om")
	if w.Added != 1 || w.Removed != 1 || len(w.Rows) != 3 || w.Scale != "10" || w.Span != "3d" || !w.HasIncidents {
		t.Fatalf("added %d, removed %d, %d rows, scale %s, span %s", w.Added, w.Removed, len(w.Rows), w.Scale, w.Span)
	}
	if w.Columns[0] != "Pages per 30 days" || len(w.Columns) != 8 || len(w.Rows[0].Cells) != 8 {
		t.Errorf("columns %v", w.Columns)
	}
	if got := w.Rows[0].Cells[0]; got.Old != "10" || got.New != "0" || got.Trend != "better" {
		t.Errorf("svc/a's pages: %+v", got)
	}
	if w.Rows[1].Status != "added" || w.Rows[2].Status != "removed" || w.Rows[0].Status != "" {
		t.Errorf("statuses %q %q %q", w.Rows[0].Status, w.Rows[1].Status, w.Rows[2].Status)
	}
	if len(w.Incidents) != 1 || w.Incidents[0].SLO != "svc/a" || w.Incidents[0].Page.Old != "10m" || w.Incidents[0].Page.New != "missed" ||
		w.Incidents[0].Page.Trend != "worse" {
		t.Errorf("incidents %+v", w.Incidents)
	}
	if len(w.Totals) != 3 || w.Totals[0].Title != "Pages per 30 days" || w.Totals[2].Old != "1/1" || w.Totals[2].New != "0/1" {
		t.Errorf("totals %+v", w.Totals)
	}
	if len(w.Errors) != 1 || w.Errors[0] != "svc/<c> (new rules): query failed" {
		t.Errorf("errors %v", w.Errors)
	}
	var out strings.Builder
	if err := WriteComparison(&out, r, "data.om"); err != nil {
		t.Fatal(err)
	}
	html := out.String()
	for _, want := range []string{`http-equiv="Content-Security-Policy"`, "<title>slod check --compare: old.yaml → new.yaml</title>",
		`<span class="old">10</span> → <span class="new better">0</span>`, `svc/&lt;c&gt;</span> <span class="chip added">added</span>`,
		`<span class="old">10m</span> → <span class="new worse">missed</span>`, "svc/&lt;c&gt; (new rules): query failed", "Known incidents"} {
		if !strings.Contains(html, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	if strings.Contains(html, "<c>") || strings.Contains(html, ` src="`) || strings.Contains(html, ` href="http`) {
		t.Errorf("the page has an unescaped name or loads something")
	}
	// Without an incidents file, no incident columns or table.
	opt := r.Options
	opt.Incidents = nil
	r = compare.Build(old, now, opt)
	if w := BuildComparison(r, ""); len(w.Columns) != 6 || len(w.Totals) != 2 || w.HasIncidents || len(w.Incidents) != 0 {
		t.Errorf("without incidents: columns %v, %d totals, incidents %v", w.Columns, len(w.Totals), w.Incidents)
	}
}
