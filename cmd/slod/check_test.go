package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
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
		{name: "bad time", args: []string{"testdata/check/ok.yaml", "--data", "testdata/check/small.om", "--from", "yesterday"}, wantCode: 2, wantStderr: []string{`not a time (RFC 3339, Unix seconds, a date (2026-10-01) or date and time (2026-10-01T12:00) in UTC, now or now-7d): "yesterday"`}},
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
		{
			name: "windows --step cannot represent: every one with file:line:col", args: []string{"testdata/check/ok.yaml", "--data", "testdata/check/small.om", "--step", "10m"}, wantCode: 1,
			wantStderr: []string{"testdata/check/ok.yaml:4:5: slos[0]: the default policy's page short window (5m at 30d) is 5m for an SLO window of 30d, shorter than the evaluation step 10m"},
		},
		{
			name: "--config.file: the daemon's step, lookback and rules", args: []string{"--config.file", "testdata/check/slod.yml", "--data", "testdata/check/small.om", "--format", "json"}, wantCode: 0,
			wantStdout: []string{`"step": "5m"`, `"from": "2026-10-01T00:05:00Z"`, `"name": "availability"`},
		},
		{
			name: "--config.file with RULES", args: []string{"--config.file", "testdata/check/slod.yml", "testdata/check/ok.yaml", "--data", "testdata/check/small.om"}, wantCode: 0,
			wantStdout: []string{"evaluated every 5m"},
		},
		{name: "--config.file and --step", args: []string{"--config.file", "testdata/check/slod.yml", "--data", "testdata/check/small.om", "--step", "1m"}, wantCode: 2, wantStderr: []string{"--step and --lookback come from --config.file"}},
		{name: "an invalid --config.file", args: []string{"--config.file", "testdata/check/ok.yaml", "--data", "testdata/check/small.om"}, wantCode: 1, wantStderr: []string{"testdata/check/ok.yaml:1:1: version: unknown field"}},
		{
			// One sample a minute, evaluated every 10 s: five steps in six have no data.
			name: "data coarser than the step: a warning", args: []string{"testdata/check/ok.yaml", "--data", "testdata/check/small.om", "--step", "10s"}, wantCode: 0,
			wantStderr: []string{`slod check: warning: 2 of the 2 series the SLOs read are sampled less often than the step 10s (req_total{code="200"} every 1m): steps without a sample have no data; use a step of at least 1m, or a recording of every sample (slod record)`},
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
			check: func(t *testing.T, _, stderr string) {
				if stderr != "" {
					t.Errorf("stderr of a check on data as fine as its step: %s", stderr)
				}
			},
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

// TestCheckSLOErrors: a +Inf sample in what one SLO reads is that SLO's error, shown in its place
// in the report, on stderr and in the exit status; the other SLOs are reported as without it.
func TestCheckSLOErrors(t *testing.T) {
	small, err := os.ReadFile("testdata/check/small.om")
	if err != nil {
		t.Fatal(err)
	}
	var inf strings.Builder
	for m := 0; m <= 120; m++ {
		v := strconv.Itoa(m * 100)
		if m == 60 {
			v = "+Inf"
		}
		fmt.Fprintf(&inf, "inf_total %s %d\n", v, 1790812800+60*m)
	}
	data := strings.Replace(string(small), "# EOF\n", inf.String()+"# EOF\n", 1)
	dir := writeFiles(t, map[string]string{"data.om": data, "slos.yaml": `version: slod/v1
service: api
slos:
  - name: availability
    objective: 99
    sli:
      events:
        error_query: sum(rate(req_total{code="500"}[{{.window}}]))
        total_query: sum(rate(req_total[{{.window}}]))
  - name: broken
    objective: 99
    sli:
      events:
        error_query: sum(rate(req_total{code="500"}[{{.window}}]))
        total_query: sum(rate(inf_total[{{.window}}]))
`})
	_, alone, _ := runCheckCmd("testdata/check/ok.yaml", "--data", "testdata/check/small.om")
	code, stdout, stderr := runCheckCmd(filepath.Join(dir, "slos.yaml"), "--data", filepath.Join(dir, "data.om"))
	if code != 1 {
		t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	block := alone[strings.Index(alone, "api/availability"):]
	if !strings.Contains(stdout, block) {
		t.Errorf("api/availability is not reported as it is alone:\n%s\nalone:\n%s", stdout, block)
	}
	want := "the step ending 2026-10-01T01:00:00Z: appending increment at 2026-10-01T01:00:00Z: total count +Inf is not a finite number >= 0 (held as a step without data)"
	if !strings.Contains(stdout, "api/broken  objective 99% over 30d\n  budget remaining") || !strings.Contains(stdout, "  error: "+want) {
		t.Errorf("the report does not show api/broken evaluated, with its error:\n%s", stdout)
	}
	if stderr != "slod check: api/broken: "+want+"\n" {
		t.Errorf("stderr:\n%s", stderr)
	}
}

// TestCheckBadData: recordings slod check cannot use are clear errors: samples 56 years apart (a
// wrong timestamp) are refused before gigabytes are spent on them, a truncated file is said to be
// truncated, and a file that is not OpenMetrics is said not to be, with its first line.
func TestCheckBadData(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"far.om":   "req_total{code=\"200\"} 1 0\nreq_total{code=\"200\"} 2 1767225600\n# EOF\n",
		"cut.om":   "req_total{code=\"200\"} 1 1790812800\nreq_total{code=\"200\"} 2 17908",
		"api.json": `{"status":"success","data":{"resultType":"vector","result":[]}}` + "\n",
	})
	for _, tc := range []struct{ file, want string }{
		{"far.om", "slod check: backtest: evaluating from 1970-01-01T00:00:00Z to 2026-01-01T00:00:00Z at a 1m step is 29453761 steps, more than the 4194304 a backtest may span (the recording DIR/far.om spans 1970-01-01T00:00:00Z to 2026-01-01T00:00:00Z): narrow the range with --from and --to, or use a longer --step\n"},
		{"cut.om", "slod check: DIR/cut.om:2: the data ends in the middle of a line (\"req_total{code=\\\"200\\\"} 2 17908\") without # EOF: the file is truncated\n"},
		{"api.json", "slod check: DIR/api.json:1: not OpenMetrics text with timestamps: the first line is \"{\\\"status\\\":\\\"success\\\",\\\"data\\\":{\\\"resultType\\\":\\\"vector\\\",\\\"result\\\":[]}}\" (expected equal, got \":\" (\"INVALID\"))\n"},
	} {
		code, _, stderr := runCheckCmd("testdata/check/ok.yaml", "--data", filepath.Join(dir, tc.file))
		// (far.om also gets the warning that one sample in 56 years is coarser than the step.)
		if got := strings.ReplaceAll(stderr, dir, "DIR"); code != 1 || !strings.HasSuffix(got, tc.want) {
			t.Errorf("%s: exit %d, stderr\n%s\nwant\n%s", tc.file, code, got, tc.want)
		}
	}
}
