package check_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/slod-dev/slod/internal/check"
	"github.com/slod-dev/slod/internal/eval"
	"github.com/slod-dev/slod/internal/recorded"
	"github.com/slod-dev/slod/internal/rules"
)

const maintenanceSLOs = `version: slod/v1
service: shop
exclusions:                        # every SLO of the file
  - name: weekly-db-maintenance
    start: 2026-10-04T05:30:00Z
    duration: 3h
    rrule: FREQ=WEEKLY;BYDAY=SU
slos:
  - name: checkout
    objective: 99.9
    sli:
      events:
        error_query: sum(rate(req_total{code="500"}[{{.window}}]))
        total_query: sum(rate(req_total[{{.window}}]))
`

// A recurring exclusion over a month: every Sunday from 05:30 to 08:30 the service is down for
// its database maintenance (every request fails). The same SLO without the exclusion pages each
// Sunday and ends the month far over budget; with it nothing fires, the budget is whole, and
// slod check reports the 4 × 3 hours excluded.
func TestCheckRecurringExclusionOverAMonth(t *testing.T) {
	start := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	end := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	// The sample 10 s after t0 counts the step (t0, t0+1m]: down from 05:30 to 08:30 on Sundays.
	down := func(t0 time.Time) bool {
		m := t0.Hour()*60 + t0.Minute() - (5*60 + 30)
		return t0.Weekday() == time.Sunday && m >= 0 && m < 180
	}
	db := minuteCounters(t, "req_total", start, end, func(t0 time.Time) (good, bad float64) {
		if down(t0) {
			return 0, 100
		}
		return 100, 0
	})
	with, _, err := rules.Parse("shop.yaml", []byte(maintenanceSLOs))
	if err != nil {
		t.Fatal(err)
	}
	without := *with[0]
	without.Exclusions = nil
	from := start.Add(time.Minute)
	res, err := eval.Backtest(context.Background(), recorded.NewQuerier(db), []*rules.SLO{with[0], &without}, from, end,
		eval.Options{Step: time.Minute, DataStart: start}, nil)
	if err != nil {
		t.Fatal(err)
	}
	excluded, plain := res[0], res[1]
	if len(plain.Alerts) == 0 || plain.Final.BudgetRemaining > -10 {
		t.Errorf("without the exclusion: %d alerts, budget %v; want pages and an overspent budget", len(plain.Alerts), plain.Final.BudgetRemaining)
	}
	if len(excluded.Alerts) != 0 || excluded.Final.BudgetRemaining != 1 || excluded.Excluded != 4*3*time.Hour {
		t.Errorf("with the exclusion: alerts %+v, budget %v, excluded %s; want none, 1 and 12h", excluded.Alerts, excluded.Final.BudgetRemaining, excluded.Excluded)
	}
	var out bytes.Buffer
	if err := check.WriteJSON(&out, check.Report{From: from, To: end, Step: time.Minute, Results: res[:1]}); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		SLOs []struct{ Exclusions float64 }
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil || doc.SLOs[0].Exclusions != 720 {
		t.Errorf("JSON exclusions %+v (%v), want 720 minutes", doc.SLOs, err)
	}
}
