package convert

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/slod-dev/slod/internal/burnrate"
	"github.com/slod-dev/slod/internal/openslo"
	"github.com/slod-dev/slod/internal/rules"
)

// features is a slod/v1 file with what the shipped rules do not show: a raw SLI, time slices of
// one step and of five, a disabled severity, send_resolved, a no-data alert, a grouped SLO, a
// custom policy with a single-window pair, Sloth-style severity labels and a calendar month.
const features = `version: slod/v1
service: shop
labels: {team: web}
slos:
  - name: raw
    objective: 95
    window: 7d
    sli: {raw: {error_ratio_query: '1 - avg(avg_over_time(satisfaction_ratio[{{.window}}]))'}}
    alerting:
      ticket: {disable: true}
  - name: queue
    objective: 99.5
    sli: {timeslice: {query: 'max(queue_depth)', op: lte, threshold: 50}}
    alerting:
      page: {send_resolved: false, labels: {severity: pageteam}}
      no_data: {after: 15m, severity: page}
  - name: queue-5m
    objective: 99
    sli: {timeslice: {query: 'max(max_over_time(queue_depth[{{.window}}]))', op: lt, threshold: 50, slice: 5m}}
  - name: per-model
    objective: 99.9
    group_by: [model]
    max_groups: 20
    sli:
      events:
        error_query: sum by (model) (rate(req_total{code=~"5.."}[{{.window}}]))
        total_query: sum by (model) (increase(req_total[{{.window}}]))
    alerting:
      name: ModelErrors
      runbook_url: https://runbooks.example/models
      windows:
        - {severity: page, long: 1h, short: 1h, burn_rate: 14.4, for: 2m}
        - {severity: ticket, long: 1d, short: 2h, budget_percent: 10}
  - name: none
    objective: 90
    sli: {raw: {error_ratio_query: 'avg(errors_ratio)'}}
    alerting: {page: {disable: true}, ticket: {disable: true}}
  - name: monthly
    objective: 99.5
    calendar: {period: month, time_zone: Europe/Berlin}
    sli: {raw: {error_ratio_query: 'avg(errors_ratio)'}}
`

// TestRoundTrip: SLOs converted to either format and read back are the same SLOs, field by field
// (but for where they were read from), after one conversion and after two.
func TestRoundTrip(t *testing.T) {
	orig, _, err := rules.Parse("shop.yaml", []byte(features))
	if err != nil {
		t.Fatal(err)
	}
	for _, steps := range [][]string{{"openslo"}, {"slod"}, {"openslo", "slod"}, {"slod", "openslo"}} {
		t.Run(strings.Join(steps, "→"), func(t *testing.T) {
			slos := orig
			for _, to := range steps {
				slos = convertAndLoad(t, slos, to)
			}
			if len(slos) != len(orig) {
				t.Fatalf("%d SLOs, want %d", len(slos), len(orig))
			}
			for i := range orig {
				if got, want := comparable(slos[i]), comparable(orig[i]); !reflect.DeepEqual(got, want) {
					t.Errorf("%s:\n got %+v\nwant %+v", orig[i].ID(), got, want)
				}
			}
		})
	}
}

// convertAndLoad writes slos in format to (openslo or slod) and loads what it wrote.
func convertAndLoad(t *testing.T, slos []*rules.SLO, to string) []*rules.SLO {
	t.Helper()
	write := ToSlod
	if to == "openslo" {
		write = ToOpenSLO
	}
	res, err := write(slos)
	if err != nil {
		t.Fatalf("to %s: %v", to, err)
	}
	dir := t.TempDir()
	for _, f := range res.Files {
		if err := os.WriteFile(filepath.Join(dir, f.Name), f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	set, err := rules.Load([]string{dir})
	if err != nil {
		t.Fatalf("loading what --to %s wrote: %v\n%s", to, err, res.Files[0].Data)
	}
	return set.SLOs
}

// comparable is an SLO without where it was read from; the alerts' notification_target label,
// which OpenSLO's policies give them, is left out as well.
func comparable(s *rules.SLO) rules.SLO {
	c := *s
	c.Pos, c.Format, c.Places, c.Source = rules.Pos{}, "", rules.Places{}, ""
	var labels map[burnrate.Severity]map[string]string
	for sev, ls := range c.Alerting.SeverityLabels {
		for k, v := range ls {
			if k == openslo.TargetLabel {
				continue
			}
			if labels == nil {
				labels = map[burnrate.Severity]map[string]string{}
			}
			if labels[sev] == nil {
				labels[sev] = map[string]string{}
			}
			labels[sev][k] = v
		}
	}
	c.Alerting.SeverityLabels = labels
	return c
}

// TestToOpenSLORefuses: what OpenSLO cannot express is an error naming the SLO, and what it has
// no place for a warning.
func TestToOpenSLORefuses(t *testing.T) {
	slos, _, err := rules.Parse("x.yaml", []byte(`version: slod/v1
service: shop
slos:
  - name: checkout_v2
    objective: 99
    sli: {raw: {error_ratio_query: 'avg(e)'}}
  - name: odd
    objective: 99
    window: 29d
    sli: {raw: {error_ratio_query: 'avg(e)'}}
    alerting:
      labels: {team: x}
      windows: [{severity: page, long: 90s, short: 30s, burn_rate: 10}]
`))
	if err != nil {
		t.Fatal(err)
	}
	res, err := ToOpenSLO(slos)
	want := []string{
		`shop/checkout_v2 (x.yaml:4:5): the name "checkout_v2" is not an OpenSLO name (a DNS label: at most 63 lower-case letters, digits and '-')`,
		`shop/odd (x.yaml:7:5): a lookback window, 1m30s, is not a whole number of minutes, which OpenSLO durations need`,
	}
	if err == nil || err.Error() != strings.Join(want, "\n") {
		t.Errorf("error:\n%v\nwant:\n%s", err, strings.Join(want, "\n"))
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "shop/odd (x.yaml:7:5): alerting labels and annotations have no place in OpenSLO") {
		t.Errorf("warnings: %q", res.Warnings)
	}
}

func TestPercent(t *testing.T) {
	for ratio, want := range map[float64]string{0.999: "99.9", 0.5: "50", 0.99995: "99.995", 1.0 / 3: "33.33333333333333", 0.95: "95"} {
		if got := percent(ratio); got != want {
			t.Errorf("percent(%v) = %s, want %s", ratio, got, want)
		}
	}
}

// budgets is a slod/v1 file with what OpenSLO has no place for: budget alerts, a low-traffic
// guard, and exclusions of the file (a recurrence in a time zone) and of one SLO.
const budgets = `version: slod/v1
service: shop
exclusions:
  - {name: weekly-db, start: 2026-10-04T05:30:00+02:00, duration: 3h, rrule: FREQ=WEEKLY;BYDAY=SU, time_zone: Europe/Berlin}
slos:
  - name: checkout
    objective: 99.9
    calendar: {period: quarter}
    exclusions:
      - {name: bad-data, start: 2026-11-02T10:00:00Z, duration: 90m}
    sli: {raw: {error_ratio_query: 'avg(errors_ratio)'}}
    alerting:
      min_bad_events: 5
      budget:
        - {severity: ticket, below: 25%}
        - {severity: page, below: -12.5%}
`

// TestBudgetsConvert: budget alerts, the guard and exclusions survive a conversion to slod/v1
// (each SLO lists its file's exclusions too); to OpenSLO the calendar period survives and the
// rest is left out with a warning each.
func TestBudgetsConvert(t *testing.T) {
	orig, _, err := rules.Parse("shop.yaml", []byte(budgets))
	if err != nil {
		t.Fatal(err)
	}
	back := convertAndLoad(t, orig, "slod")[0]
	o := orig[0]
	if !reflect.DeepEqual(back.Alerting.Budget, o.Alerting.Budget) || back.Alerting.MinBadEvents != 5 || *back.Calendar != *o.Calendar {
		t.Errorf("budget alerts %+v, guard %v, calendar %+v", back.Alerting.Budget, back.Alerting.MinBadEvents, back.Calendar)
	}
	if len(back.Exclusions) != 2 {
		t.Fatalf("%d exclusions, want the file's and the SLO's", len(back.Exclusions))
	}
	for i, w := range back.Exclusions {
		ow := o.Exclusions[i]
		if w.Name != ow.Name || !w.Start.Equal(ow.Start) || w.Duration != ow.Duration || w.RRule != ow.RRule || fmtLoc(w.TimeZone) != fmtLoc(ow.TimeZone) {
			t.Errorf("exclusion %d: %+v, want %+v", i, *w, *ow)
		}
	}
	ivs := back.Exclusions.Between(time.Date(2026, 10, 25, 0, 0, 0, 0, time.UTC), time.Date(2026, 10, 26, 0, 0, 0, 0, time.UTC))
	if len(ivs) != 1 || !ivs[0].Start.Equal(time.Date(2026, 10, 25, 4, 30, 0, 0, time.UTC)) {
		t.Errorf("after the end of summer time the weekly exclusion is %+v, want 05:30 Berlin (04:30 UTC)", ivs)
	}

	res, err := ToOpenSLO(orig)
	if err != nil {
		t.Fatal(err)
	}
	var warns []string
	for _, w := range res.Warnings {
		warns = append(warns, w)
	}
	got := strings.Join(warns, "\n")
	for _, want := range []string{"budget alerts (alerting.budget) have no place in OpenSLO", "min_bad_events) has no place", "exclusions have no place in OpenSLO"} {
		if !strings.Contains(got, want) {
			t.Errorf("warnings lack %q:\n%s", want, got)
		}
	}
	if o := convertAndLoad(t, orig, "openslo")[0]; o.Calendar == nil || o.Calendar.Period != burnrate.Quarter || o.Calendar.Location.String() != "UTC" {
		t.Errorf("the calendar through OpenSLO: %+v", o.Calendar)
	}
}

func fmtLoc(l *time.Location) string {
	if l == nil {
		return ""
	}
	return l.String()
}
