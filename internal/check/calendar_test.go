package check_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/slod-dev/slod/internal/check"
	"github.com/slod-dev/slod/internal/eval"
	"github.com/slod-dev/slod/internal/recorded"
	"github.com/slod-dev/slod/internal/rules"
)

const calendarSLO = `version: slod/v1
service: chat-api
slos:
  - name: availability
    objective: 99.9
    calendar: {period: month, time_zone: Europe/Berlin}
    sli:
      events:
        error_query: sum(rate(http_requests_total{code="500"}[{{.window}}]))
        total_query: sum(rate(http_requests_total[{{.window}}]))
`

// A month in Europe/Berlin with the end of daylight saving time inside it (October 25th, 2026):
// slod check reports the budget of each month that ends in the range. September ends at 22:00Z
// (midnight CEST) with 10% errors; October, 31 days and an hour to 23:00Z (midnight CET), holds
// 0.05% errors, half its budget, and none of September's.
func TestCheckCalendarPeriods(t *testing.T) {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 9, 30, 0, 0, 0, 0, time.UTC)
	end := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	oct, nov := time.Date(2026, 10, 1, 0, 0, 0, 0, loc), time.Date(2026, 11, 1, 0, 0, 0, 0, loc)
	db := minuteCounters(t, "http_requests_total", start, end, func(step time.Time) (good, bad float64) {
		switch {
		case step.Before(oct):
			return 90, 10
		case step.Before(nov):
			return 1999, 1
		}
		return 2000, 0
	})
	slos, _, err := rules.Parse("calendar.yaml", []byte(calendarSLO))
	if err != nil {
		t.Fatal(err)
	}
	from, to := start.Add(time.Minute), end
	res, err := eval.Backtest(context.Background(), recorded.NewQuerier(db), slos, from, to, eval.Options{Step: time.Minute, DataStart: start}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := check.WriteJSON(&out, check.Report{From: from, To: to, Step: time.Minute, Results: res}); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		SLOs []struct {
			Calendar        string
			BudgetRemaining float64 `json:"budget_remaining"`
			Periods         []struct {
				Start, End      string
				BudgetRemaining float64 `json:"budget_remaining"`
			}
		}
	}
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	s := doc.SLOs[0]
	if s.Calendar != "month (Europe/Berlin)" || len(s.Periods) != 2 {
		t.Fatalf("calendar %q, periods %+v", s.Calendar, s.Periods)
	}
	sep, october := s.Periods[0], s.Periods[1]
	if sep.End != "2026-09-30T22:00:00Z" || october.Start != "2026-09-30T22:00:00Z" || october.End != "2026-10-31T23:00:00Z" {
		t.Errorf("periods %+v", s.Periods)
	}
	if math.Abs(sep.BudgetRemaining-(-99)) > 1e-3 || math.Abs(october.BudgetRemaining-0.5) > 1e-3 {
		t.Errorf("September ended with %v, October with %v; want -99 (10%% errors) and 0.5", sep.BudgetRemaining, october.BudgetRemaining)
	}
	// November's 13 hours without an error: the whole budget.
	if s.BudgetRemaining != 1 {
		t.Errorf("budget at the end %v, want 1", s.BudgetRemaining)
	}
	var text bytes.Buffer
	if err := check.WriteText(&text, check.Report{From: from, To: to, Step: time.Minute, Results: res}); err != nil {
		t.Fatal(err)
	}
	if want := "period 2026-09-30T22:00:00Z → 2026-10-31T23:00:00Z ended with budget remaining 50%"; !strings.Contains(text.String(), want) {
		t.Errorf("the text report lacks %q:\n%s", want, text.String())
	}
}
