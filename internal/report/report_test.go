package report

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/slod-dev/slod/internal/check"
	"github.com/slod-dev/slod/internal/eval"
	"github.com/slod-dev/slod/internal/recorded"
	"github.com/slod-dev/slod/internal/rules"
	"github.com/slod-dev/slod/internal/web"
)

var t0 = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)

const shopRules = `version: slod/v1
service: shop
slos:
  - name: availability
    objective: 99
    sli:
      events:
        error_query: sum(rate(req_total{code="500"}[{{.window}}]))
        total_query: sum(rate(req_total[{{.window}}]))
`

// backtest evaluates shopRules over two days of a counter scraped every 30 s: 100 requests a
// minute, 1% errors, 40% from hour 30 to 31, and no samples from hour 40 to 41.
func backtest(t *testing.T) (check.Report, *Collector) {
	t.Helper()
	return backtestRules(t, shopRules)
}

// backtestRules evaluates rules over backtest's data.
func backtestRules(t *testing.T, rulesYAML string) (check.Report, *Collector) {
	t.Helper()
	db := recorded.NewDB()
	var ts []int64
	var ok, bad []float64
	okV, badV := 0.0, 0.0
	for s := 0; s <= 2*48*60; s++ {
		m := s / 2
		share := 0.01
		if m >= 30*60 && m < 31*60 {
			share = 0.4
		}
		okV, badV = okV+50*(1-share), badV+50*share
		if m >= 40*60 && m < 41*60 {
			continue
		}
		ts, ok, bad = append(ts, t0.Add(time.Duration(s)*30*time.Second).UnixMilli()), append(ok, okV), append(bad, badV)
	}
	for _, c := range []struct {
		code string
		vs   []float64
	}{{"200", ok}, {"500", bad}} {
		if err := db.Add(labels.FromStrings("__name__", "req_total", "code", c.code), ts, c.vs); err != nil {
			t.Fatal(err)
		}
	}
	slos, _, err := rules.Parse("shop.yaml", []byte(rulesYAML))
	if err != nil {
		t.Fatal(err)
	}
	first, last := t0.Add(time.Minute), t0.Add(48*time.Hour)
	c := NewCollector(first, last, time.Minute)
	res, err := eval.Backtest(context.Background(), recorded.NewQuerier(db), slos, first, last, eval.Options{DataStart: t0}, c.Observe)
	if err != nil {
		t.Fatal(err)
	}
	return check.Report{From: first, To: last, Step: time.Minute, Results: res}, c
}

// TestBuild checks the report's content: points every two steps (2,880 evaluations), the last
// one the result's budget, the scrape gap without data, the page with its reason and the budget it
// spent, and the summary.
func TestBuild(t *testing.T) {
	rep, c := backtest(t)
	r := Build(rep, c, "shop.om")
	if len(r.SLOs) != 1 {
		t.Fatalf("%d SLOs", len(r.SLOs))
	}
	s := r.SLOs[0]
	h := s.History
	if c.every != 2 || len(h.T) != 1440 || s.Resolution != "2m" || len(h.Burn) != 4 {
		t.Fatalf("every %d, %d points at %s, %d burn series", c.every, len(h.T), s.Resolution, len(h.Burn))
	}
	final := rep.Results[0].Final.BudgetRemaining
	if got := *h.Budget[len(h.Budget)-1]; math.Abs(got-final) > 1e-4*math.Abs(final) {
		t.Errorf("last budget point %v, the backtest's %v", got, final)
	}
	gap := 0
	for i, at := range h.T {
		if m := (time.Unix(at, 0).Sub(t0)) / time.Minute; m > 40*60+10 && m < 41*60 && h.Data[i] != 0 {
			t.Errorf("%v, in the scrape gap, has data", time.Unix(at, 0).UTC())
		}
		gap += 1 - h.Data[i]
	}
	if gap < 20 {
		t.Errorf("%d points without data, want the gap's", gap)
	}
	var page *web.ReportAlert
	for i, a := range s.Alerts {
		if a.Severity == "page" {
			page = &s.Alerts[i]
		}
	}
	// An hour at 40% errors against a 1% budget: of the two days' 282,000 requests (the gap's
	// hour had none), 2,820 may fail; the outage made 2,400 fail, most of them while paging.
	if page == nil || page.Reason == "" || page.BudgetSpent == nil || *page.BudgetSpent < 0.5 || *page.BudgetSpent > 0.86 {
		t.Fatalf("alerts %+v, want a page with its reason and the budget it spent", s.Alerts)
	}
	if r.Summary.Paged != 1 || r.Summary.Pages < 1 || r.Summary.LowestBudget == nil || r.Summary.LowestBudgetSLO != "shop/availability" {
		t.Errorf("summary %+v", r.Summary)
	}
}

const budgetRules = `version: slod/v1
service: shop
slos:
  - name: availability
    objective: 99
    calendar: {period: week, time_zone: UTC}
    exclusions:
      - {name: backup, start: 2026-10-02T03:00:00Z, duration: 1h}
    sli:
      events:
        error_query: sum(rate(req_total{code="500"}[{{.window}}]))
        total_query: sum(rate(req_total[{{.window}}]))
    alerting:
      min_bad_events: 100000
      budget:
        - {severity: ticket, below: 50%}
`

// TestBuildBudgets: a calendar SLO's report names its period and the periods that ended (the
// week of 2026-09-28 ends on 2026-10-05, after the range: none), the exclusion is on the chart and
// counted, the guard's suppressions are counted (no window pair reaches 100,000 bad events, so the
// outage's pages are suppressed) and the budget alert is shown as one, with its reason.
func TestBuildBudgets(t *testing.T) {
	rep, c := backtestRules(t, budgetRules)
	r := Build(rep, c, "shop.om")
	s := r.SLOs[0]
	if s.Calendar != "week (UTC)" || s.Excluded != "1h" || s.Guard != 100000 || s.Suppressed == 0 {
		t.Errorf("calendar %q, excluded %q, guard %v suppressing %d", s.Calendar, s.Excluded, s.Guard, s.Suppressed)
	}
	if ex := s.History.Exclusions; len(ex) != 1 || ex[0].Label != "backup" || !ex[0].Start.Equal(t0.Add(27*time.Hour)) {
		t.Errorf("exclusions on the chart %+v", ex)
	}
	var budget *web.ReportAlert
	for i, a := range s.Alerts {
		if a.Severity == "page" {
			t.Errorf("a page the guard should have suppressed: %+v", a)
		}
		if a.Budget {
			budget = &s.Alerts[i]
		}
	}
	if budget == nil || !strings.HasPrefix(budget.Reason, "budget left ") || !strings.HasSuffix(budget.Reason, ", below 50%") {
		t.Fatalf("alerts %+v, want a budget ticket with its reason", s.Alerts)
	}
	var b strings.Builder
	if err := Write(&b, rep, c, "shop.om"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Exclusions covered 1h of the range", "min_bad_events 100000) suppressed", "ticket (budget)", "over the current calendar week (UTC) period"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("the report lacks %q", want)
		}
	}
}
