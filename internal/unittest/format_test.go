package unittest

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/value"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// golden compares got with the golden file, or rewrites it under -update.
func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run with -update to create it): %v", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run with -update if the change is intended)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// TestDecodeErrors decodes malformed test files; every problem must be reported with its
// file:line:col, all at once, exactly as in the golden file beside each fixture.
func TestDecodeErrors(t *testing.T) {
	files, err := filepath.Glob("testdata/decode/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			_, err := ReadFile(f)
			if err == nil {
				t.Fatal("decoding succeeded, want errors")
			}
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("error is %T, want Errors: %v", err, err)
			}
			golden(t, strings.TrimSuffix(f, ".yaml")+".golden", err.Error()+"\n")
		})
	}
}

func TestDecode(t *testing.T) {
	src := `
rule_files: [../rules/chat-api.yaml, /abs/other.yaml]
evaluation_interval: 30s
tests:
  - name: outage
    interval: 15s
    input_series:
      - series: 'http_requests_total{job="chat-api",code="500"}'
        values: '0+0x3 _ stale 1e3'
    alert_test:
      - eval_time: 2m
        slo: chat-api/availability
        exp_alerts: [{severity: page}, {severity: ticket, no_data: true}]
      - eval_time: 90s
        slo: chat-api/availability
        exp_alerts: []
  - input_series: []
    budget_test:
      - {eval_time: 1h, slo: chat-api/availability, exp_budget_remaining: 0.5}
      - {eval_time: 1h, slo: chat-api/availability, exp_budget_remaining: -2, tolerance: 0.1}
`
	f, err := Decode("tests/x.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{filepath.Join("tests", "../rules/chat-api.yaml"), "/abs/other.yaml"}; strings.Join(f.RuleFiles, ",") != strings.Join(want, ",") {
		t.Errorf("RuleFiles = %v, want %v", f.RuleFiles, want)
	}
	if f.EvaluationInterval != 30*time.Second {
		t.Errorf("EvaluationInterval = %v", f.EvaluationInterval)
	}
	if len(f.Tests) != 2 {
		t.Fatalf("%d tests, want 2", len(f.Tests))
	}
	t0, t1 := f.Tests[0], f.Tests[1]
	if t0.Name != "outage" || t0.Interval != 15*time.Second || t0.Pos.Line != 5 {
		t.Errorf("test 0 = %q interval %v at %v", t0.Name, t0.Interval, t0.Pos)
	}
	if t1.Name != "tests[1]" || t1.Interval != 30*time.Second {
		t.Errorf("test 1 = %q interval %v; want the default name and the evaluation interval", t1.Name, t1.Interval)
	}
	if len(t0.AlertTests) != 2 || t0.AlertTests[0].EvalTime != 2*time.Minute || t0.AlertTests[1].EvalTime != 90*time.Second {
		t.Fatalf("alert tests = %+v", t0.AlertTests)
	}
	if got := t0.AlertTests[0].ExpAlerts; len(got) != 2 || got[0].AlertID != (AlertID{Severity: "page"}) || got[1].AlertID != (AlertID{Severity: "ticket", NoData: true}) {
		t.Errorf("exp_alerts = %v", got)
	}
	if t0.AlertTests[1].ExpAlerts != nil {
		t.Errorf("exp_alerts: [] decoded as %v, want none", t0.AlertTests[1].ExpAlerts)
	}
	if b := t1.BudgetTests; len(b) != 2 || b[0].Tolerance != DefaultTolerance || b[1].Tolerance != 0.1 || b[1].ExpBudgetRemaining != -2 {
		t.Errorf("budget tests = %+v", b)
	}
	ps, err := parseSeries(t0.InputSeries[0])
	if err != nil {
		t.Fatal(err)
	}
	ts, vs := ps.samples(t0.Interval)
	wantTS := []int64{0, 15000, 30000, 45000, 75000, 90000}
	if len(ts) != len(wantTS) {
		t.Fatalf("timestamps %v, want %v", ts, wantTS)
	}
	for i := range ts {
		if ts[i] != wantTS[i] {
			t.Errorf("timestamp %d = %d, want %d", i, ts[i], wantTS[i])
		}
	}
	if !value.IsStaleNaN(vs[4]) || vs[5] != 1000 || vs[3] != 0 {
		t.Errorf("values %v: want a staleness marker then 1000", vs)
	}
}

// TestSeriesExpansion checks that the expanding notation is Prometheus's own.
func TestSeriesExpansion(t *testing.T) {
	for _, tc := range []struct {
		values string
		want   []float64
	}{
		{"1+2x3", []float64{1, 3, 5, 7}},
		{"10-1x2 5", []float64{10, 9, 8, 5}},
		{"3x2", []float64{3, 3, 3}},
		{"0 _x2 4", []float64{0, 4}},
	} {
		t.Run(tc.values, func(t *testing.T) {
			ps, err := parseSeries(InputSeries{Series: "m", Values: tc.values})
			if err != nil {
				t.Fatal(err)
			}
			_, vs := ps.samples(time.Minute)
			if len(vs) != len(tc.want) {
				t.Fatalf("values %v, want %v", vs, tc.want)
			}
			for i := range vs {
				if vs[i] != tc.want[i] {
					t.Errorf("values %v, want %v", vs, tc.want)
					break
				}
			}
		})
	}
}

// FuzzDecode feeds arbitrary bytes to Decode: it must never panic, every error must carry a
// position in the file, and what decodes must satisfy the invariants the runner relies on.
func FuzzDecode(f *testing.F) {
	for _, glob := range []string{"testdata/decode/*.yaml", "testdata/run/*.yaml", "../../rules/tests/*.yaml"} {
		files, _ := filepath.Glob(glob)
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Decode("fuzz.yaml", data)
		if err != nil {
			var es Errors
			if !errors.As(err, &es) || len(es) == 0 {
				t.Fatalf("error %T is not a non-empty Errors: %v", err, err)
			}
			for _, e := range es {
				if e.Pos.File != "fuzz.yaml" || e.Pos.Line < 1 || e.Pos.Col < 1 {
					t.Fatalf("error without a position: %#v", e)
				}
			}
			return
		}
		if len(file.RuleFiles) == 0 || len(file.Tests) == 0 || file.EvaluationInterval <= 0 {
			t.Fatalf("decoded an incomplete file: %+v", file)
		}
		for _, tc := range file.Tests {
			if tc.Interval <= 0 || len(tc.AlertTests)+len(tc.BudgetTests) == 0 {
				t.Fatalf("decoded an incomplete test: %+v", tc)
			}
			for _, a := range tc.AlertTests {
				if a.EvalTime < 0 || a.EvalTime%file.EvaluationInterval != 0 || !strings.Contains(a.SLO, "/") {
					t.Fatalf("alert_test off the grid or without an SLO id: %+v", a)
				}
			}
			for _, s := range tc.InputSeries {
				if s.parsed == nil {
					t.Fatalf("series %q not parsed", s.Series)
				}
			}
		}
	})
}

// TestDecodeMergeKeys: merge keys and aliases work in test files as they do in SLO files (they
// used to be unknown fields here), explicit keys winning over merged ones.
func TestDecodeMergeKeys(t *testing.T) {
	src := `
rule_files: [rules.yaml]
tests:
  - name: merged
    input_series:
      - series: 'http_requests_total{job="chat-api"}'
        values: &counter '0+60x30'
    alert_test:
      - &page {eval_time: 5m, slo: chat-api/availability, exp_alerts: [{severity: page}]}
      - <<: *page
        eval_time: 10m
    budget_test:
      - {<<: *page, exp_alerts: null, exp_budget_remaining: 1}
`
	f, err := Decode("t.yaml", []byte(src))
	if err == nil || !strings.Contains(err.Error(), "budget_test[0].exp_alerts: unknown field") {
		t.Fatalf("a merged key unknown to the schema must be reported: %v", err)
	}
	src = strings.Replace(src, "{<<: *page, exp_alerts: null, exp_budget_remaining: 1}", "{eval_time: 5m, slo: chat-api/availability, exp_budget_remaining: 1}", 1)
	if f, err = Decode("t.yaml", []byte(src)); err != nil {
		t.Fatal(err)
	}
	at := f.Tests[0].AlertTests
	if len(at) != 2 || at[1].EvalTime != 10*time.Minute || at[1].SLO != "chat-api/availability" || len(at[1].ExpAlerts) != 1 || at[1].ExpAlerts[0].Severity != "page" {
		t.Errorf("merged alert test = %+v", at)
	}
}
