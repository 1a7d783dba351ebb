package rules

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/slod-dev/slod/internal/burnrate"
)

// parseValid parses a file of testdata/valid and fails the test on any error.
func parseValid(t *testing.T, file string) []*SLO {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata/valid", file))
	if err != nil {
		t.Fatal(err)
	}
	slos, _, err := Parse(file, data)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return slos
}

// The file's min_bad_events is every SLO's guard unless the SLO sets its own, 0 included.
func TestMinBadEvents(t *testing.T) {
	slos := parseValid(t, "low-traffic.yaml")
	for i, want := range []float64{5, 0} {
		if got := slos[i].Alerting.MinBadEvents; got != want {
			t.Errorf("%s: min_bad_events %v, want %v", slos[i].ID(), got, want)
		}
		if got := slos[i].Policy().MinBadEvents; got != want {
			t.Errorf("%s: policy's MinBadEvents %v, want %v", slos[i].ID(), got, want)
		}
	}
}

// Budget alerts: percentages (25% or 25) become fractions of the period's budget.
func TestBudgetAlertsParse(t *testing.T) {
	slos := parseValid(t, "budget-alerts.yaml")
	want := []burnrate.BudgetAlert{{Severity: burnrate.Ticket, Below: 0.25}, {Severity: burnrate.Page, Below: 0}}
	if got := slos[0].Policy().Budget; !reflect.DeepEqual(got, want) {
		t.Errorf("budget alerts %+v, want %+v", got, want)
	}
}

// A calendar period: the nominal length is the period the alert windows are scaled to (a month is
// 30d: the workbook's table as it is, a week 7d), and the history holds the longest period.
func TestCalendarParse(t *testing.T) {
	slos := parseValid(t, "calendar.yaml")
	month, week := slos[0], slos[1]
	if month.Calendar == nil || month.Calendar.Period != burnrate.Month || month.Calendar.Location.String() != "Europe/Berlin" {
		t.Fatalf("calendar %+v", month.Calendar)
	}
	if month.Period != DefaultPeriod || !reflect.DeepEqual(month.Alerting.Windows, DefaultWindows(DefaultPeriod)) {
		t.Errorf("month: period %s, windows %+v", month.Period, month.Alerting.Windows)
	}
	if month.MaxWindow() != 31*24*time.Hour+time.Hour || month.Policy().Calendar == nil {
		t.Errorf("month: max window %s", month.MaxWindow())
	}
	if week.Calendar.Location != time.UTC || week.Period != 7*24*time.Hour || week.Alerting.Windows[0].Long != 14*time.Minute {
		t.Errorf("week: %+v, period %s, windows %+v", week.Calendar, week.Period, week.Alerting.Windows)
	}
}

// A file's exclusions apply to every SLO of it, an SLO's own to it alone.
func TestExclusionsParse(t *testing.T) {
	slos := parseValid(t, "exclusions.yaml")
	names := func(s *SLO) []string {
		var out []string
		for _, w := range s.Exclusions {
			out = append(out, w.Name)
		}
		return out
	}
	if got := names(slos[0]); !reflect.DeepEqual(got, []string{"weekly-db-maintenance", "migration"}) {
		t.Errorf("checkout's exclusions %v", got)
	}
	if got := names(slos[1]); !reflect.DeepEqual(got, []string{"weekly-db-maintenance"}) {
		t.Errorf("cart's exclusions %v", got)
	}
	from := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	if n := slos[1].Exclusions.Excluded(from, from.AddDate(0, 1, 0), time.Minute); n != 720 {
		t.Errorf("cart: %d minutes excluded in October, want 720", n)
	}
}
