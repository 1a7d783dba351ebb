package rules

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
)

// describe prints what an SLO is, field by field, for golden files.
func describe(s *SLO) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s, %s): objective %v over %s\n", s.ID(), s.Format, s.Pos, s.Objective, model.Duration(s.Period))
	fmt.Fprintf(&b, "  labels %s", GroupKey(s.Labels))
	if len(s.GroupBy) > 0 {
		fmt.Fprintf(&b, ", group_by %v, max_groups %d", s.GroupBy, s.MaxGroups)
	}
	q := s.SLI
	fmt.Fprintf(&b, "\n  sli %s", q.Kind)
	for _, f := range []struct{ name, v string }{{"error", q.ErrorQuery}, {"total", q.TotalQuery}, {"query", q.Query}, {"error_ratio", q.ErrorRatioQuery}} {
		if f.v != "" {
			fmt.Fprintf(&b, "\n    %s: %s", f.name, f.v)
		}
	}
	if q.Kind == TimesliceSLI {
		fmt.Fprintf(&b, "\n    %s %v, slice %s", q.Op, q.Threshold, model.Duration(q.Slice))
	}
	a := s.Alerting
	fmt.Fprintf(&b, "\n  alerting %s", a.Name)
	if a.RunbookURL != "" {
		fmt.Fprintf(&b, ", runbook %s", a.RunbookURL)
	}
	for _, w := range a.Windows {
		fmt.Fprintf(&b, "\n    %s %s/%s × %v for %s", w.Severity, model.Duration(w.Long), model.Duration(w.Short), w.BurnRate, model.Duration(w.For))
	}
	if a.NoData != nil {
		fmt.Fprintf(&b, "\n    no data %s after %s", a.NoData.Severity, model.Duration(a.NoData.After))
	}
	for _, sev := range slices.Sorted(maps.Keys(a.SeverityLabels)) {
		fmt.Fprintf(&b, "\n    %s labels %s", sev, GroupKey(a.SeverityLabels[sev]))
	}
	for _, sev := range slices.Sorted(maps.Keys(a.NoResolve)) {
		fmt.Fprintf(&b, "\n    %s: no resolve", sev)
	}
	return b.String() + "\n"
}

// TestLoadOpenSLO: every construct of OpenSLO files read together (references in another file,
// v1alpha next to v1) maps onto the model as testdata/openslo/openslo.golden says.
func TestLoadOpenSLO(t *testing.T) {
	set, err := Load([]string{"testdata/openslo"})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, s := range set.SLOs {
		b.WriteString(describe(s))
	}
	for _, w := range set.Warnings {
		b.WriteString(w.Warning() + "\n")
	}
	const golden = "testdata/openslo/openslo.golden"
	if *update {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("reading golden file (run with -update to create it): %v", err)
	}
	if b.String() != string(want) {
		t.Errorf("differs from %s:\n%s", golden, b.String())
	}
}

// TestOpenSLOChecks: an OpenSLO SLO gets the checks every SLO gets (group labels, PromQL), at
// the place in its file; Parse reads a file that holds its own references.
func TestOpenSLOChecks(t *testing.T) {
	const file = `apiVersion: openslo/v1
kind: SLO
metadata:
  name: a
  labels: {team: x}
  annotations: {slod.dev/group-by: "model, team, le"}
spec:
  service: shop
  indicatorRef: s
  budgetingMethod: Occurrences
  objectives: [{target: 0.99}]
---
apiVersion: openslo/v1
kind: SLI
metadata: {name: s}
spec:
  ratioMetric:
    counter: true
    bad: {metricSource: {type: Prometheus, spec: {query: 'sum(errors_total)'}}}
    total: {metricSource: {type: Prometheus, spec: {query: 'sum by (model) (requests_total)'}}}
`
	_, _, err := Parse("f.yaml", []byte(file))
	want := []string{
		`f.yaml:6:36: metadata.annotations.slod.dev/group-by: "team" is also one of the SLO's labels: a group's value would overwrite it`,
		`f.yaml:6:36: metadata.annotations.slod.dev/group-by: "le" is a label slod sets on every alert and metric; group by another label (or relabel it in the query)`,
		`f.yaml:19:50: spec.ratioMetric.bad.metricSource.spec.query: drops the group label "model" of metadata.annotations.slod.dev/group-by (its sum keeps no label): write e.g. sum by (model) (...)`,
	}
	if err == nil || err.Error() != strings.Join(want, "\n") {
		t.Errorf("errors:\n%v\nwant:\n%s", err, strings.Join(want, "\n"))
	}

	slos, _, err := Parse("f.yaml", []byte(strings.Replace(strings.Replace(file, "model, team, le", "model", 1), "sum(errors_total)", "sum by (model) (errors_total)", 1)))
	if err != nil || len(slos) != 1 || slos[0].ID() != "shop/a" || !slices.Equal(slos[0].GroupBy, []string{"model"}) || slos[0].MaxGroups != DefaultMaxGroups {
		t.Errorf("Parse: %v, %v", slos, err)
	}
}

// TestOpenSLOCheckStep: an OpenSLO SLO says where its windows and slices are written, so that
// CheckStep reports a window the evaluation step cannot represent at its place in the file.
func TestOpenSLOCheckStep(t *testing.T) {
	const file = `apiVersion: openslo/v1
kind: SLO
metadata: {name: a}
spec:
  service: shop
  indicator:
    metadata: {name: q}
    spec:
      thresholdMetric: {metricSource: {type: Prometheus, spec: {query: 'max(queue_depth)'}}}
  timeWindow: [{duration: 7d, isRolling: true}]
  budgetingMethod: Timeslices
  objectives: [{op: lte, value: 50, target: 0.99, timeSliceTarget: 1, timeSliceWindow: 5m}]
  alertPolicies:
    - kind: AlertPolicy
      metadata: {name: p, annotations: {slod.dev/short-window: 90s}}
      spec:
        conditions:
          - kind: AlertCondition
            metadata: {name: c}
            spec: {severity: page, condition: {op: gt, threshold: 10, lookbackWindow: 1h}}
        notificationTargets: [{targetRef: t}]
---
apiVersion: openslo/v1
kind: AlertNotificationTarget
metadata: {name: t}
spec: {target: pager}
`
	slos, _, err := Parse("f.yaml", []byte(file))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"f.yaml:10:27: spec.timeWindow[0].duration: 7d is not a multiple of the evaluation step 5h: the error budget is summed over whole steps",
		"f.yaml:12:88: spec.objectives[0].timeSliceWindow: time slice 5m is not a multiple of the evaluation step 5h: a slice ends on a step",
		"f.yaml:15:64: spec.alertPolicies[0].metadata.annotations.slod.dev/short-window: 1m30s is shorter than the evaluation step 5h: a window is a sum of whole steps",
		"f.yaml:20:87: spec.alertPolicies[0].spec.conditions[0].spec.condition.lookbackWindow: 1h is shorter than the evaluation step 5h: a window is a sum of whole steps",
	}
	if got := CheckStep(slos, 5*time.Hour); got.Error() != strings.Join(want, "\n") {
		t.Errorf("CheckStep:\n%v\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	if got := CheckStep(slos, time.Minute); got == nil || !strings.Contains(got.Error(), "f.yaml:15:64: ") || strings.Count(got.Error(), "\n") != 0 {
		t.Errorf("CheckStep at 1m: %v, want only the 90s short window", got)
	}
}

// TestOpenSLOSource: an OpenSLO SLO's Source is its SLO object as written (from its apiVersion to
// the next document), for the status page to show.
func TestOpenSLOSource(t *testing.T) {
	set, err := Load([]string{"../../examples/openslo/chat-api.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	src := set.SLOs[0].Source
	if !strings.HasPrefix(src, "apiVersion: openslo/v1\nkind: SLO\nmetadata:\n  name: availability\n") || strings.Contains(src, "---") ||
		strings.Contains(src, "kind: Service") || strings.HasSuffix(src, "\n") {
		t.Errorf("Source:\n%s", src)
	}
}
