package burnrate

import (
	"math"
	"testing"
	"time"
)

func berlin(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestCalendarBounds(t *testing.T) {
	loc := berlin(t)
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tt := range []struct {
		cal         Calendar
		end         string
		start, next string
	}{
		// October 2026 in Berlin: from 00:00 CEST (22:00Z) to 00:00 CET (23:00Z), 31 days and
		// the hour daylight saving time gives back on the 25th.
		{Calendar{Month, loc}, "2026-10-15T12:00:00Z", "2026-09-30T22:00:00Z", "2026-10-31T23:00:00Z"},
		// The step ending at the boundary is the old period's last.
		{Calendar{Month, loc}, "2026-10-31T23:00:00Z", "2026-09-30T22:00:00Z", "2026-10-31T23:00:00Z"},
		{Calendar{Month, loc}, "2026-10-31T23:01:00Z", "2026-10-31T23:00:00Z", "2026-11-30T23:00:00Z"},
		// March 2026 loses an hour (the 29th).
		{Calendar{Month, loc}, "2026-03-10T00:00:00Z", "2026-02-28T23:00:00Z", "2026-03-31T22:00:00Z"},
		// Weeks start on Monday: 2026-10-26 is one.
		{Calendar{Week, loc}, "2026-10-28T10:00:00Z", "2026-10-25T23:00:00Z", "2026-11-01T23:00:00Z"},
		{Calendar{Week, nil}, "2026-10-26T00:00:00Z", "2026-10-19T00:00:00Z", "2026-10-26T00:00:00Z"},
		{Calendar{Quarter, nil}, "2026-11-15T00:00:00Z", "2026-10-01T00:00:00Z", "2027-01-01T00:00:00Z"},
		{Calendar{Quarter, loc}, "2026-03-31T21:59:00Z", "2025-12-31T23:00:00Z", "2026-03-31T22:00:00Z"},
	} {
		start, next := tt.cal.Bounds(utc(tt.end))
		if !start.Equal(utc(tt.start)) || !next.Equal(utc(tt.next)) {
			t.Errorf("%s at %s: [%s, %s), want [%s, %s)", tt.cal, tt.end, start.UTC().Format(time.RFC3339), next.UTC().Format(time.RFC3339), tt.start, tt.next)
		}
		if l := next.Sub(start); l > tt.cal.MaxLength() || l < tt.cal.MaxLength()-4*24*time.Hour {
			t.Errorf("%s: a period of %s, max %s", tt.cal, l, tt.cal.MaxLength())
		}
	}
}

// A monthly budget in Europe/Berlin across the end of daylight saving time: the budget counts
// every hour of October, from 00:00 CEST on the 1st to 00:00 CET on November 1st (745 hours),
// nothing of September, and starts afresh with November's first step.
func TestCalendarBudgetAcrossDST(t *testing.T) {
	loc := berlin(t)
	p := Policy{Objective: 0.99, Period: 30 * day, Calendar: &Calendar{Month, loc},
		Windows: []Window{{Severity: Page, Long: time.Hour, Short: 5 * time.Minute, BurnRate: 14.4}}}
	c := Compile(p)
	octStart := time.Date(2026, 10, 1, 0, 0, 0, 0, loc) // 2026-09-30T22:00:00Z
	// At the default 1m step the period's start, a whole UTC hour, is a point of the History's
	// hourly tier: the sum over the period is exact.
	h := NewHistory(time.Minute, Calendar{Month, loc}.MaxLength())
	// Minute steps from September 29th to November 2nd, counted per hour: 10 bad of 1,000 in
	// September's hours, 5 in October's first, 1 in its others, none in November.
	for end := octStart.Add(-48 * time.Hour).Add(time.Minute); !end.After(octStart.Add(33 * 24 * time.Hour)); end = end.Add(time.Minute) {
		start := end.Add(-time.Minute).Truncate(time.Hour)
		bad := 0.0
		switch {
		case start.Before(octStart):
			bad = 10
		case start.Equal(octStart):
			bad = 5
		case start.Before(time.Date(2026, 11, 1, 0, 0, 0, 0, loc)):
			bad = 1
		}
		if err := h.Append(Increment{End: end, Bad: bad / 60, Total: 1000.0 / 60}); err != nil {
			t.Fatal(err)
		}
		if end.Minute() != 0 {
			continue
		}
		st := c.Status(h, end)
		switch end.UTC().Format(time.RFC3339) {
		case "2026-10-31T23:00:00Z": // October's last step
			wantRatio := (744*1 + 5) / (745 * 1000.0)
			if math.Abs(st.ErrorRatio-wantRatio) > 1e-9 || st.NoData {
				t.Errorf("October's error ratio %v, want %v (745 hours)", st.ErrorRatio, wantRatio)
			}
			if !st.PeriodStart.Equal(octStart) || st.PeriodEnd.Sub(st.PeriodStart) != 31*24*time.Hour+time.Hour {
				t.Errorf("October is [%s, %s)", st.PeriodStart, st.PeriodEnd)
			}
			// Nothing left of the period: the projection is the budget itself.
			if math.Abs(st.ProjectedBudget-st.BudgetRemaining) > 1e-9 {
				t.Errorf("projected %v at the end of the period, budget %v", st.ProjectedBudget, st.BudgetRemaining)
			}
		case "2026-11-01T00:00:00Z": // November's first hour (00:00 to 01:00 CET)
			if st.ErrorRatio != 0 || st.BudgetRemaining != 1 || st.NoData {
				t.Errorf("November's first step: ratio %v, budget %v, no data %v", st.ErrorRatio, st.BudgetRemaining, st.NoData)
			}
		case "2026-10-15T22:00:00Z": // mid-October, 360 hours in
			spent := (359*1 + 5) / (360 * 1000.0) / 0.01
			if math.Abs(st.BudgetRemaining-(1-spent)) > 1e-9 {
				t.Errorf("mid-October budget %v, want %v", st.BudgetRemaining, 1-spent)
			}
			// The last hour (the policy's current window) burns at 0.1 (1 bad of 1,000 against
			// 1%): the projection adds the 385 hours left at that rate.
			want := 1 - (spent*360+0.1*385)/745
			if math.Abs(st.ProjectedBudget-want) > 1e-9 || st.TimeToExhaustion != 0 {
				t.Errorf("mid-October projection %v (time to exhaustion %s), want %v (and none)", st.ProjectedBudget, st.TimeToExhaustion, want)
			}
		}
	}
}
