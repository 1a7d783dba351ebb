package exclude

import (
	"strings"
	"testing"
	"time"
)

func TestRecurringOverAMonth(t *testing.T) {
	// Sundays 05:30 for 3h from 2026-10-04: four occurrences in October, 180 minutes each.
	w := &Window{Name: "weekly-db-maintenance", Start: time.Date(2026, 10, 4, 5, 30, 0, 0, time.UTC), Duration: 3 * time.Hour, RRule: "FREQ=WEEKLY;BYDAY=SU"}
	if err := w.Compile(); err != nil {
		t.Fatal(err)
	}
	from, to := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	ivs := Set{w}.Between(from, to)
	if len(ivs) != 4 || !ivs[3].Start.Equal(time.Date(2026, 10, 25, 5, 30, 0, 0, time.UTC)) {
		t.Fatalf("occurrences %v", ivs)
	}
	if n := (Set{w}).Excluded(from, to, time.Minute); n != 4*180 {
		t.Errorf("%d excluded minutes, want 720", n)
	}
	c := Set{w}.Cursor(time.Minute)
	for _, tt := range []struct {
		end  time.Time
		want bool
	}{
		{time.Date(2026, 10, 11, 5, 30, 0, 0, time.UTC), false}, // the step before the span
		{time.Date(2026, 10, 11, 5, 31, 0, 0, time.UTC), true},
		{time.Date(2026, 10, 11, 8, 30, 0, 0, time.UTC), true}, // the span's last step
		{time.Date(2026, 10, 11, 8, 31, 0, 0, time.UTC), false},
		{time.Date(2026, 10, 4, 5, 45, 0, 0, time.UTC), true},  // back in time
		{time.Date(2026, 10, 12, 6, 0, 0, 0, time.UTC), false}, // a Monday
	} {
		if got := c.Excluded(tt.end); got != tt.want {
			t.Errorf("step ending %s excluded %v, want %v", tt.end.Format(time.RFC3339), got, tt.want)
		}
	}
}

// In a time zone the recurrence keeps its local time across daylight saving time.
func TestRecurrenceInTimeZone(t *testing.T) {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	w := &Window{Start: time.Date(2026, 10, 18, 5, 30, 0, 0, loc), Duration: time.Hour, RRule: "FREQ=WEEKLY", TimeZone: loc}
	if err := w.Compile(); err != nil {
		t.Fatal(err)
	}
	ivs := w.Between(time.Date(2026, 10, 17, 0, 0, 0, 0, time.UTC), time.Date(2026, 10, 26, 0, 0, 0, 0, time.UTC))
	if len(ivs) != 2 || ivs[0].Start.Hour() != 3 || ivs[1].Start.Hour() != 4 {
		t.Errorf("occurrences %v: want 03:30Z (CEST) and 04:30Z (CET)", ivs)
	}
}

func TestCompileErrorsAndMatchers(t *testing.T) {
	w := &Window{RRule: "FREQ=MINUTELY", Matchers: []Matcher{{Name: "service", Value: "("}}}
	w.Matchers[0].IsRegex = true
	err := w.Compile()
	for _, want := range []string{"duration: must be greater than 0", "start: is required", "rrule: FREQ=MINUTELY", "matchers[0].value: invalid regular expression"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Compile error %v lacks %q", err, want)
		}
	}
	m := &Window{Start: time.Unix(0, 0), Duration: time.Hour, Matchers: []Matcher{{Name: "service", Value: "chat-.*", IsRegex: true}, {Name: "slo", Value: "availability"}}}
	if err := m.Compile(); err != nil {
		t.Fatal(err)
	}
	if !m.Matches(map[string]string{"service": "chat-api", "slo": "availability"}) || m.Matches(map[string]string{"service": "chat-api", "slo": "latency"}) ||
		m.Matches(map[string]string{"service": "xchat-api", "slo": "availability"}) {
		t.Error("matchers do not select as Alertmanager's do")
	}
}
