package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTestShippedRules runs `slod test rules/tests/`: the shipped SLOs must pass their own tests.
func TestTestShippedRules(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"test", "../../rules/tests/"}, &stdout, &stderr); code != 0 {
		t.Fatalf("slod test rules/tests/ exited %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	if !strings.HasPrefix(stdout.String(), "SUCCESS: ") {
		t.Errorf("stdout = %q, want the SUCCESS summary", stdout.String())
	}
}

// TestTestWrongExpectation runs a copy of the shipped chat-api tests with one expectation made
// wrong (the page at 129m left out): slod test must exit 1 and say where and what differed.
func TestTestWrongExpectation(t *testing.T) {
	src, err := os.ReadFile("../../rules/tests/chat-api.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rulesFile, err := filepath.Abs("../../rules/chat-api.yaml")
	if err != nil {
		t.Fatal(err)
	}
	text := string(src)
	for _, r := range []struct{ old, new string }{
		{"rule_files: [../chat-api.yaml]", "rule_files: [" + rulesFile + "]"},
		{"exp_alerts: [{severity: page}, {severity: ticket}]", "exp_alerts: [{severity: ticket}]"},
	} {
		if !strings.Contains(text, r.old) {
			t.Fatalf("rules/tests/chat-api.yaml no longer contains %q; update this test", r.old)
		}
		text = strings.Replace(text, r.old, r.new, 1)
	}
	wrong := filepath.Join(t.TempDir(), "chat-api-wrong.yaml")
	if err := os.WriteFile(wrong, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}

	var stdout, stderr bytes.Buffer
	code := run([]string{"test", wrong}, &stdout, &stderr)
	if code != 1 {
		t.Fatalf("exit code %d, want 1\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	out := stdout.String()
	want := `test "a bad deploy answering 9% of requests with 500 pages after eight minutes": FAILED: alert_test at 129m for chat-api/availability: expected [ticket], got [page, ticket]`
	if !strings.Contains(out, wrong+":") || !strings.Contains(out, want) {
		t.Errorf("stdout does not name the file and say\n  %s\ngot:\n%s", want, out)
	}
	if n := strings.Count(out, "FAILED: alert_test"); n != 1 {
		t.Errorf("%d failed assertions reported, want exactly 1:\n%s", n, out)
	}
	if !strings.Contains(out, "\nFAILED: 1 of 5 tests, 1 of ") {
		t.Errorf("summary missing or wrong:\n%s", out)
	}
}

func TestTestUsage(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		code int
		err  string
	}{
		{"no files", []string{"test"}, 2, "no test files given"},
		{"unknown flag", []string{"test", "--nope", "x.yaml"}, 2, "flag provided but not defined"},
		{"bad lookback", []string{"test", "--lookback", "soon", "x.yaml"}, 2, "invalid value"},
		{"bad run", []string{"test", "--run", "(", "x.yaml"}, 2, "missing closing )"},
		{"missing file", []string{"test", "does-not-exist.yaml"}, 1, "does-not-exist.yaml"},
		{"help", []string{"test", "--help"}, 0, "usage: slod test"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(tc.args, &stdout, &stderr); code != tc.code {
				t.Errorf("exit code %d, want %d (stderr: %s)", code, tc.code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.err) {
				t.Errorf("stderr %q does not contain %q", stderr.String(), tc.err)
			}
		})
	}
}

// TestTestFlagsAfterFiles checks that flags may follow the test files, as in the other commands,
// and that --run selects tests by name.
func TestTestFlagsAfterFiles(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"test", "../../rules/tests/model-gateway.yaml", "--lookback", "10m", "--run", "metrics that vanish"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit code %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	if want := "SUCCESS: 1 test, 3 assertions\n"; stdout.String() != want {
		t.Errorf("stdout = %q, want %q", stdout.String(), want)
	}
}
