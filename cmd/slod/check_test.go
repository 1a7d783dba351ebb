package main

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
)

// checkJSON is the part of `slod check --format json` the tests read (docs/interfaces.md §2).
type checkJSON struct {
	From, To, Step string
	SLOs           []struct {
		Service, Name   string
		Objective       float64
		BudgetRemaining float64 `json:"budget_remaining"`
		Alerts          []struct {
			Severity, Start string
			End             *string
			PeakBurnRate    float64 `json:"peak_burn_rate"`
		}
	}
}

func runCheckCmd(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(append([]string{"check"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// TestCheckExample is the README's first command: the shipped SLOs on the shipped recording must
// show at least one SLO that paged, one that only ticketed and one that stayed quiet.
func TestCheckExample(t *testing.T) {
	code, out, stderr := runCheckCmd("../../rules/", "--data", "../../examples/assistant.om", "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	var doc checkJSON
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	paged, ticketed, quiet := 0, 0, 0
	for _, s := range doc.SLOs {
		sev := map[string]bool{}
		for _, a := range s.Alerts {
			sev[a.Severity] = true
		}
		switch {
		case sev["page"]:
			paged++
		case sev["ticket"]:
			ticketed++
		case len(s.Alerts) == 0:
			quiet++
		}
	}
	if paged == 0 || ticketed == 0 || quiet == 0 {
		t.Errorf("the example shows %d paged, %d ticketed and %d quiet SLOs; it must show at least one of each\n%s", paged, ticketed, quiet, out)
	}
	if doc.From != "2026-10-01T00:02:00Z" || doc.To != "2026-10-04T23:59:00Z" || doc.Step != "1m" {
		t.Errorf("range %s – %s step %s, want the whole recording from its first sample + 1m", doc.From, doc.To, doc.Step)
	}

	code, text, stderr := runCheckCmd("../../rules/", "--data", "../../examples/assistant.om")
	if code != 0 {
		t.Fatalf("text: exit %d\n%s", code, stderr)
	}
	for _, want := range []string{"chat-api/availability", "page  ", "ticket  ", "no alerts", "budget remaining"} {
		if !strings.Contains(text, want) {
			t.Errorf("text report lacks %q:\n%s", want, text)
		}
	}
}

func TestCheckArgs(t *testing.T) {
	lineColErr := regexp.MustCompile(`(?m)^testdata/check/bad\.yaml:\d+:\d+: `)
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout []string
		wantStderr []string
		check      func(t *testing.T, stdout, stderr string)
	}{
		{name: "no arguments", args: nil, wantCode: 2, wantStderr: []string{"no RULES given", "usage: slod check"}},
		{name: "no data", args: []string{"testdata/check/ok.yaml"}, wantCode: 2, wantStderr: []string{"--data is required"}},
		{name: "bad format", args: []string{"testdata/check/ok.yaml", "--data", "testdata/check/small.om", "--format", "xml"}, wantCode: 2, wantStderr: []string{"--format must be text, json or html"}},
		{name: "bad time", args: []string{"testdata/check/ok.yaml", "--data", "testdata/check/small.om", "--from", "yesterday"}, wantCode: 2, wantStderr: []string{"RFC 3339 or Unix seconds"}},
		{name: "bad step", args: []string{"testdata/check/ok.yaml", "--data", "testdata/check/small.om", "--step", "-1m"}, wantCode: 2},
		{name: "to before from", args: []string{"testdata/check/ok.yaml", "--data", "testdata/check/small.om", "--from", "1790816400", "--to", "1790812800"}, wantCode: 2, wantStderr: []string{"--to is before --from"}},
		{name: "unknown flag", args: []string{"testdata/check/ok.yaml", "--data", "testdata/check/small.om", "--bogus"}, wantCode: 2, wantStderr: []string{"bogus"}},
		{name: "help", args: []string{"--help"}, wantCode: 0, wantStderr: []string{"usage: slod check", "-lookback"}},
		{
			name: "invalid rules: every error with file:line:col", args: []string{"testdata/check/bad.yaml", "--data", "testdata/check/small.om"}, wantCode: 1,
			check: func(t *testing.T, _, stderr string) {
				if n := len(lineColErr.FindAllString(stderr, -1)); n < 2 {
					t.Errorf("%d file:line:col errors, want both problems of bad.yaml:\n%s", n, stderr)
				}
			},
		},
		{name: "missing rules", args: []string{"testdata/check/nope.yaml", "--data", "testdata/check/small.om"}, wantCode: 1, wantStderr: []string{"nope.yaml"}},
		{name: "unsorted data names the line", args: []string{"testdata/check/ok.yaml", "--data", "testdata/check/unsorted.om"}, wantCode: 1, wantStderr: []string{"unsorted.om:3"}},
		{name: "missing data", args: []string{"testdata/check/ok.yaml", "--data", "testdata/check/nope.om"}, wantCode: 1, wantStderr: []string{"nope.om"}},
		{
			name: "defaults: the whole recording", args: []string{"testdata/check/ok.yaml", "--data", "testdata/check/small.om", "--format", "json"}, wantCode: 0,
			wantStdout: []string{`"from": "2026-10-01T00:01:00Z"`, `"to": "2026-10-01T02:00:00Z"`, `"step": "1m"`, `"objective": 0.99`, `"severity": "page"`, `"end": null`},
		},
		{
			name: "flags before rules, Unix and RFC 3339 times, 5m step", args: []string{"--format=json", "--step", "5m", "--from", "1790814600", "--to", "2026-10-01T01:30:00Z", "--data", "testdata/check/small.om", "testdata/check/ok.yaml"}, wantCode: 0,
			wantStdout: []string{`"from": "2026-10-01T00:30:00Z"`, `"to": "2026-10-01T01:30:00Z"`, `"step": "5m"`},
		},
		{
			name: "text", args: []string{"testdata/check/ok.yaml", "--data", "testdata/check/small.om"}, wantCode: 0,
			wantStdout: []string{"api/availability  objective 99% over 30d", "still firing", "6h/30m windows above 6×"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCheckCmd(tc.args...)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.wantCode, stdout, stderr)
			}
			for _, w := range tc.wantStdout {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout)
				}
			}
			for _, w := range tc.wantStderr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			if tc.check != nil {
				tc.check(t, stdout, stderr)
			}
		})
	}
}
