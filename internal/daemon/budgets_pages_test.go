package daemon

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/slod-dev/slod/internal/web"
)

const calendarPageRules = `version: slod/v1
service: shop
exclusions:
  - {name: deploy, start: 1970-01-01T02:30:00Z, duration: 20m}
slos:
  - name: checkout
    objective: 99
    calendar: {period: week, time_zone: Europe/Berlin}
    sli:
      events:
        error_query: sum(rate(req_total{code="500"}[{{.window}}]))
        total_query: sum(rate(req_total[{{.window}}]))
    alerting:
      budget:
        - {severity: ticket, below: 50%}
`

// The status page's data of a calendar SLO with an exclusion and a budget alert: the burndown
// counts from the period's start in its time zone, the entry's events are the period's (the
// excluded steps count none), the excluded span and the budget alert are on the charts, and the
// detail page says which period it is and what the budget will be at its end.
func TestChartsOfBudgets(t *testing.T) {
	d, _ := runDaemon(t, calendarPageRules, incidentDB(t, 200), 180)
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	var entry sloView
	apiGet(t, srv.URL, "/api/v1/slos/shop/checkout", 200, &entry)
	var h web.History
	apiGet(t, srv.URL, "/api/v1/slos/shop/checkout/history", 200, &h)

	// 1970-01-01 was a Thursday: the week began on Monday 1969-12-29, at midnight in Berlin.
	weekStart := time.Date(1969, 12, 29, 0, 0, 0, 0, time.FixedZone("CET", 3600)).UTC()
	if h.WindowStart == nil || !h.WindowStart.Equal(weekStart) || entry.Calendar == nil || !entry.Calendar.Start.Equal(weekStart) {
		t.Errorf("window start %v, entry's period %+v: want %v", h.WindowStart, entry.Calendar, weekStart)
	}
	if h.Window != "calendar week (Europe/Berlin)" {
		t.Errorf("window %q", h.Window)
	}
	// 180 minutes of 1,000 requests, 20 of them excluded; 30 minutes half failing (60m to 90m).
	if e := entry.Events; e == nil || e.Total != 160000 || e.Bad != 15000 {
		t.Errorf("events %+v, want 15,000 bad of the period's 160,000", e)
	}
	n := len(h.T)
	if n == 0 || h.Budget[n-1] == nil || *h.Budget[n-1] != *entry.BudgetRemaining {
		t.Fatalf("last budget point vs the entry's %v", entry.BudgetRemaining)
	}
	if len(h.Exclusions) != 1 || h.Exclusions[0].Label != "deploy" || !h.Exclusions[0].Start.Equal(diffTime(150)) || !h.Exclusions[0].End.Equal(diffTime(170)) {
		t.Errorf("exclusions on the chart %+v, want deploy from 150m to 170m", h.Exclusions)
	}
	var budgetAlerts int
	for _, a := range h.Alerts {
		if a.Budget {
			budgetAlerts++
			if a.Severity != "ticket" || a.Label != "ticket (budget)" || a.End != nil {
				t.Errorf("budget alert interval %+v", a)
			}
		}
	}
	if budgetAlerts != 1 {
		t.Errorf("alerts %+v, want one open budget ticket (the budget is overspent)", h.Alerts)
	}

	code, page := get(t, srv, "/slo/shop/checkout")
	if code != 200 {
		t.Fatalf("the SLO's page: %d", code)
	}
	for _, want := range []string{"over the calendar week (Europe/Berlin)", "at the period's end:", "deploy: ", "ticket budget"} {
		if !strings.Contains(page, want) {
			t.Errorf("the SLO's page lacks %q", want)
		}
	}
}
