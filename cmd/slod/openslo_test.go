package main

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// checkEntries runs slod check --format json on RULES over the shipped recording and returns the
// report's SLO entries by id (<service>/<name>, and the group as JSON for a group), each as decoded
// JSON.
func checkEntries(t *testing.T, rules ...string) map[string]map[string]any {
	t.Helper()
	code, out, stderr := runCheckCmd(append(rules, "--data", "../../examples/assistant.om", "--format", "json")...)
	if code != 0 {
		t.Fatalf("slod check %v: exit %d\n%s", rules, code, stderr)
	}
	var doc struct{ SLOs []map[string]any }
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	entries := map[string]map[string]any{}
	for _, e := range doc.SLOs {
		id := e["service"].(string) + "/" + e["name"].(string)
		if e["group"] != nil {
			group, _ := json.Marshal(e["group"])
			id += string(group)
		}
		entries[id] = e
	}
	if len(entries) != len(doc.SLOs) {
		t.Fatalf("entries with the same id in %s", out)
	}
	return entries
}

// TestOpenSLOGivesTheAlertsOfSlodV1: on the shipped recording (a page on Oct 4), the OpenSLO
// example's two SLOs, bad/total with the default policy and good/total through indicatorRef with
// the policy as AlertPolicies, give exactly the report of rules/chat-api.yaml's
// chat-api/availability: the same alerts, peak burn rates and budget.
func TestOpenSLOGivesTheAlertsOfSlodV1(t *testing.T) {
	want := checkEntries(t, "../../rules/chat-api.yaml")["chat-api/availability"]
	if want == nil || len(want["alerts"].([]any)) == 0 {
		t.Fatalf("rules/chat-api.yaml's availability has no alerts on the recording: the comparison would prove little (%v)", want)
	}
	got := checkEntries(t, "../../examples/openslo/")
	for _, name := range []string{"availability", "availability-successes"} {
		e := got["chat-api/"+name]
		if e == nil {
			t.Fatalf("no entry for chat-api/%s in %v", name, got)
		}
		e["name"] = "availability"
		if !reflect.DeepEqual(e, want) {
			a, _ := json.Marshal(e)
			b, _ := json.Marshal(want)
			t.Errorf("chat-api/%s:\n%s\nwant (rules/chat-api.yaml):\n%s", name, a, b)
		}
	}
}

// TestOpenSLOExampleTests runs the OpenSLO example's unit tests: the expectations of
// rules/tests/chat-api.yaml for chat-api/availability, held by both OpenSLO SLOs.
func TestOpenSLOExampleTests(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"test", "../../examples/openslo/tests/"}, &stdout, &stderr); code != 0 {
		t.Fatalf("slod test examples/openslo/tests/ exited %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	if !strings.HasPrefix(stdout.String(), "SUCCESS: 3 tests") {
		t.Errorf("stdout = %q", stdout.String())
	}
}

// TestValidateOpenSLO: slod validate reads OpenSLO files together, their references resolving
// across files, and reports a problem in one at its file:line:col.
func TestValidateOpenSLO(t *testing.T) {
	const sli = `apiVersion: openslo/v1
kind: SLI
metadata: {name: errors}
spec:
  ratioMetric:
    counter: true
    bad: {metricSource: {type: Prometheus, spec: {query: 'sum(errors_total)'}}}
    total: {metricSource: {type: Prometheus, spec: {query: 'sum(requests_total)'}}}
`
	const slo = `apiVersion: openslo/v1
kind: SLO
metadata: {name: availability}
spec:
  service: shop
  indicatorRef: %s
  budgetingMethod: Occurrences
  objectives: [{target: 0.99}, {displayName: Three nines, target: 0.999}]
`
	dir := writeFiles(t, map[string]string{"a/sli.yaml": sli, "b/slo.yaml": strings.Replace(slo, "%s", "errors", 1)})
	var stdout, stderr bytes.Buffer
	if code := run([]string{"validate", dir + "/b", dir + "/a"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
	if want := ": 2 files, 2 SLOs valid\n"; !strings.HasSuffix(stdout.String(), want) {
		t.Errorf("stdout = %q, want ...%q (one SLO per objective)", stdout.String(), want)
	}

	dir = writeFiles(t, map[string]string{"sli.yaml": sli, "slo.yaml": strings.Replace(slo, "%s", "eror", 1)})
	stdout.Reset()
	stderr.Reset()
	if code := run([]string{"validate", dir}, &stdout, &stderr); code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, stdout.String())
	}
	want := dir + `/slo.yaml:6:17: spec.indicatorRef: no SLI named "eror" in the files read (defined: errors)` + "\n"
	if stderr.String() != want {
		t.Errorf("stderr = %q\nwant %q", stderr.String(), want)
	}
}

// TestOpenSLOSLIs runs the slod test of testdata/openslo/slis.yaml: thresholds per step and per
// slice (timeSliceTarget), time slices of a good/total ratio, ratio time slices and raw ratios
// evaluate to the budgets their arithmetic gives.
func TestOpenSLOSLIs(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"test", "testdata/openslo/slis_test.yaml"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	if got := stdout.String(); got != "SUCCESS: 1 test, 5 assertions\n" {
		t.Errorf("stdout = %q", got)
	}
}
