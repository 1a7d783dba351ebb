package rules

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

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
