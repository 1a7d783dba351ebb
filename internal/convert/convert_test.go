package convert

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/slod-dev/slod/internal/burnrate"
	"github.com/slod-dev/slod/internal/openslo"
	"github.com/slod-dev/slod/internal/rules"
)

// features is a slod/v1 file with what the shipped rules do not show: a raw SLI, time slices of
// one step and of five, a disabled severity, send_resolved, a no-data alert, a grouped SLO, a
// custom policy with a single-window pair, and Sloth-style severity labels.
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
