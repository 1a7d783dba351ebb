package unittest

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
)

// TestRun runs the fixtures under testdata/run and compares everything slod test prints (failure
// lines with file:line:col, details, summary) with the golden files.
func TestRun(t *testing.T) {
	for _, tc := range []struct {
		file string
		want Summary
	}{
		{"pass", Summary{Files: 1, Tests: 4, Assertions: 14}},
		{"wrong", Summary{Files: 1, Tests: 4, FailedTests: 3, Assertions: 7, FailedAssertions: 4}},
		{"unknown-slo", Summary{Files: 1, Tests: 2, FailedTests: 1, Assertions: 5, FailedAssertions: 3}},
		{"missing-rules", Summary{Files: 1, Errors: 1}},
		{"coarse-interval", Summary{Files: 1, Errors: 1}},
		{"malformed", Summary{Files: 1, Errors: 1}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			var out bytes.Buffer
			got := Run(context.Background(), []string{"testdata/run/" + tc.file + ".yaml"}, &out, Options{})
			if got != tc.want {
				t.Errorf("summary = %+v, want %+v", got, tc.want)
			}
			if got.OK() != (tc.want.FailedTests == 0 && tc.want.Errors == 0) {
				t.Errorf("OK() = %v for %+v", got.OK(), got)
			}
			golden(t, "testdata/run/"+tc.file+".golden", out.String())
		})
	}
}

// TestRunSelected checks that Options.Run selects tests by name and that skipped tests are neither
// run nor counted.
func TestRunSelected(t *testing.T) {
	for _, tc := range []struct {
		re   string
		want Summary
	}{
		{"passes", Summary{Files: 1, Tests: 1, Assertions: 1}},
		{"^wrong", Summary{Files: 1, Tests: 2, FailedTests: 2, Assertions: 4, FailedAssertions: 3}},
		{"nothing matches this", Summary{Files: 1}},
	} {
		t.Run(tc.re, func(t *testing.T) {
			var out bytes.Buffer
			got := Run(context.Background(), []string{"testdata/run/wrong.yaml"}, &out, Options{Run: regexp.MustCompile(tc.re)})
			if got != tc.want {
				t.Errorf("summary = %+v, want %+v\n%s", got, tc.want, out.String())
			}
		})
	}
}

// TestShippedRules runs the tests shipped in rules/tests: the example SLOs must do what their
// tests say, on the same engine as slod check.
func TestShippedRules(t *testing.T) {
	files, err := FindTestFiles([]string{"../../rules/tests"})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 4 {
		t.Fatalf("found %d test files in rules/tests, want one per SLO file (4)", len(files))
	}
	var out bytes.Buffer
	sum := Run(context.Background(), files, &out, Options{})
	if !sum.OK() {
		t.Fatalf("shipped tests fail:\n%s", out.String())
	}
	if !strings.HasPrefix(out.String(), "SUCCESS: ") {
		t.Errorf("output %q, want only the SUCCESS line", out.String())
	}
}

func TestFindTestFiles(t *testing.T) {
	files, err := FindTestFiles([]string{"testdata/run", "testdata/decode/syntax.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"testdata/run/coarse-interval.yaml", "testdata/run/malformed.yaml", "testdata/run/missing-rules.yaml", "testdata/run/pass.yaml",
		"testdata/run/unknown-slo.yaml", "testdata/run/wrong.yaml", "testdata/decode/syntax.yaml",
	}
	if strings.Join(files, " ") != strings.Join(want, " ") {
		t.Errorf("FindTestFiles = %v, want %v (subdirectories such as testdata/run/rules are not entered)", files, want)
	}
	for _, bad := range []string{"testdata/nope", "testdata/run/rules/../../decode/none"} {
		if _, err := FindTestFiles([]string{bad}); err == nil {
			t.Errorf("FindTestFiles(%s) succeeded, want an error", bad)
		}
	}
	if _, err := FindTestFiles([]string{t.TempDir()}); err == nil || !strings.Contains(err.Error(), "no *.yaml") {
		t.Errorf("FindTestFiles(empty dir) = %v, want a no-files error", err)
	}
}
