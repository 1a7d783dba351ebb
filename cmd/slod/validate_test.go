package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const validSLOFile = `version: slod/v1
service: chat-api
slos:
  - name: availability
    objective: 99.9
    sli:
      events:
        error_query: sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_total[{{.window}}]))
  - name: latency
    objective: 99
    sli:
      latency: {histogram: http_request_duration_seconds, threshold: 0.3}
`

const looseSLOFile = `version: slod/v1
service: toy
slos:
  - name: loose
    objective: 90
    sli:
      timeslice: {query: max(up), op: gte, threshold: 1}
`

const invalidSLOFile = `version: slod/v1
service: chat-api
slos:
  - name: availability
    objective: 100
    sli:
      events:
        error_query: sum(rate(http_requests_total{code=~"5.."}[5m]))
        total_query: sum(rate(http_requests_total[{{.window}}]))
`

const shortWindowSLOFile = `version: slod/v1
service: chat-api
slos:
  - name: availability
    objective: 99.9
    window: 1d
    sli:
      events:
        error_query: sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_total[{{.window}}]))
  - name: custom
    objective: 99.9
    sli:
      events:
        error_query: sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_total[{{.window}}]))
    alerting:
      windows: [{severity: page, long: 1h, short: 10s, burn_rate: 14.4}]
`

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		// args are relative to the directory holding files; "DIR" stands for that directory.
		args       []string
		wantCode   int
		wantStdout string
		wantStderr []string // lines, with DIR replaced
	}{
		{
			name:       "a valid directory",
			files:      map[string]string{"chat.yaml": validSLOFile, "tests/chat_test.yaml": "rule_files: [../chat.yaml]\ntests: []\n"},
			args:       []string{"DIR"},
			wantCode:   0,
			wantStdout: "DIR: 1 file, 2 SLOs valid\n",
		},
		{
			name:       "warnings go to stderr and do not fail",
			files:      map[string]string{"a.yaml": validSLOFile, "b.yml": looseSLOFile},
			args:       []string{"DIR/a.yaml", "DIR/b.yml"},
			wantCode:   0,
			wantStdout: "DIR/a.yaml DIR/b.yml: 2 files, 3 SLOs valid\n",
			wantStderr: []string{
				"DIR/b.yml:5:16: warning: slos[0].objective: page window pair 1h/5m can never fire: burn rate 14.4 × error budget 0.1 = 1.44 ≥ 1",
			},
		},
		{
			name:     "every error, one per line, exit 1",
			files:    map[string]string{"bad.yaml": invalidSLOFile, "ok.yaml": looseSLOFile},
			args:     []string{"DIR"},
			wantCode: 1,
			wantStderr: []string{
				"DIR/bad.yaml:5:16: slos[0].objective: must be a percentage between 0 and 100 (exclusive), got 100",
				"DIR/bad.yaml:8:22: slos[0].sli.events.error_query: must contain {{.window}} as the range of its rate or increase, e.g. rate(x[{{.window}}])",
			},
		},
		{
			name:     "windows the default step (1m) cannot represent",
			files:    map[string]string{"short.yaml": shortWindowSLOFile},
			args:     []string{"DIR"},
			wantCode: 1,
			wantStderr: []string{
				"DIR/short.yaml:6:13: slos[0].window: the default policy's page short window (5m at 30d) is 10s for an SLO window of 1d, shorter than the evaluation step 1m: set a longer window, alerting.windows, or a shorter step",
				"DIR/short.yaml:18:51: slos[1].alerting.windows[0].short: 10s is shorter than the evaluation step 1m: a window is a sum of whole steps",
			},
		},
		{
			name:     "a missing file",
			args:     []string{"DIR/missing.yaml"},
			wantCode: 1,
			wantStderr: []string{
				"DIR/missing.yaml: reading rules: no such file or directory",
			},
		},
		{
			// A CI path typo (rules/ for slos/) must not pass.
			name:     "a directory without SLO files",
			files:    map[string]string{"README.md": "# nothing here\n", "tests/chat_test.yaml": "rule_files: [../chat.yaml]\ntests: []\n"},
			args:     []string{"DIR"},
			wantCode: 1,
			wantStderr: []string{
				"slod validate: DIR: no SLO file found (0 files read): nothing was validated",
			},
		},
		{
			name:     "no arguments is a usage error",
			args:     nil,
			wantCode: 2,
		},
		{
			name:     "an unknown flag is a usage error",
			args:     []string{"--bogus", "DIR"},
			wantCode: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, tt.files)
			args := []string{"validate"}
			for _, a := range tt.args {
				args = append(args, strings.ReplaceAll(a, "DIR", dir))
			}
			var stdout, stderr bytes.Buffer
			code := run(args, &stdout, &stderr)
			if code != tt.wantCode {
				t.Errorf("exit code = %d, want %d (stderr: %s)", code, tt.wantCode, stderr.String())
			}
			if tt.wantCode == 2 {
				if !strings.Contains(stderr.String(), "usage: slod validate") {
					t.Errorf("stderr lacks the usage: %q", stderr.String())
				}
				return
			}
			if got := strings.ReplaceAll(stdout.String(), dir, "DIR"); got != tt.wantStdout {
				t.Errorf("stdout = %q, want %q", got, tt.wantStdout)
			}
			var gotErr []string
			if s := strings.TrimSuffix(strings.ReplaceAll(stderr.String(), dir, "DIR"), "\n"); s != "" {
				gotErr = strings.Split(s, "\n")
			}
			if strings.Join(gotErr, "\n") != strings.Join(tt.wantStderr, "\n") {
				t.Errorf("stderr:\ngot  %q\nwant %q", gotErr, tt.wantStderr)
			}
		})
	}
}

// TestValidateConfig: slod validate --config.file checks a daemon config offline as slod run
// would: the config's own problems, its rules' problems, windows its step cannot represent and
// severities no route takes, every one at once, one per line, as file:line:col.
func TestValidateConfig(t *testing.T) {
	const goodConfig = "prometheus: {url: \"http://127.0.0.1:9090\"}\nrules: [rules/]\nreceivers: [{name: hook, webhook: {url: \"http://127.0.0.1:1/\"}}]\nroutes:\n  - {match: {severity: page}, receiver: hook}\n  - {match: {severity: ticket}, receiver: hook}\n"
	dir := writeFiles(t, map[string]string{
		"good.yml":           goodConfig,
		"rules/chat.yaml":    validSLOFile,
		"bad.yml":            "prometheus: {url: \"http://127.0.0.1:9090\", timeoutt: 1s}\nevaluation: {step: 2m}\nrules: [badrules/]\nreceivers: [{name: hook, webhook: {url: \"http://127.0.0.1:1/\"}}]\nroutes:\n  - {match: {severity: page}, receiver: hook}\n",
		"badrules/a.yaml":    shortWindowSLOFile,
		"badrules/b.yaml":    looseSLOFile,
		"broken.yml":         "prometheus: {url: \"http://127.0.0.1:9090\"}\nrules: [brokenrules/]\n",
		"brokenrules/x.yaml": invalidSLOFile,
	})
	validate := func(args ...string) (int, []string, string) {
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"validate"}, args...), &stdout, &stderr)
		return code, strings.Split(strings.TrimSuffix(strings.ReplaceAll(stderr.String(), dir, "DIR"), "\n"), "\n"), strings.ReplaceAll(stdout.String(), dir, "DIR")
	}
	if code, stderr, stdout := validate("--config.file", filepath.Join(dir, "good.yml")); code != 0 || stdout != "DIR/good.yml and its rules: 1 file, 2 SLOs valid\n" {
		t.Errorf("a good config: exit %d\nstdout: %s\nstderr: %q", code, stdout, stderr)
	}
	code, stderr, _ := validate("--config.file", filepath.Join(dir, "bad.yml"))
	want := []string{
		"DIR/bad.yml:1:44: prometheus.timeoutt: unknown field, did you mean timeout? (known fields: url, headers, bearer_token, bearer_token_file, basic_auth, tls_config, timeout, max_concurrent_queries)",
		"DIR/badrules/a.yaml:6:13: slos[0].window: the default policy's page short window (5m at 30d) is 10s for an SLO window of 1d, shorter than the evaluation step 2m: set a longer window, alerting.windows, or a shorter step",
		"DIR/badrules/a.yaml:6:13: slos[0].window: the default policy's page short window (30m at 30d) is 1m for an SLO window of 1d, shorter than the evaluation step 2m: set a longer window, alerting.windows, or a shorter step",
		"DIR/badrules/a.yaml:18:51: slos[1].alerting.windows[0].short: 10s is shorter than the evaluation step 2m: a window is a sum of whole steps",
		"DIR/badrules/a.yaml:4:5: slos[0]: no route of DIR/bad.yml (at DIR/bad.yml:6:3) takes the ticket alerts of chat-api/availability, labelled {severity=\"ticket\"}: add one, or turn them off with alerting.ticket: {disable: true}",
		"DIR/badrules/b.yaml:4:5: slos[0]: no route of DIR/bad.yml (at DIR/bad.yml:6:3) takes the ticket alerts of toy/loose, labelled {severity=\"ticket\"}: add one, or turn them off with alerting.ticket: {disable: true}",
	}
	if code != 1 || strings.Join(stderr, "\n") != strings.Join(want, "\n") {
		t.Errorf("a bad config: exit %d, stderr:\n%s\nwant:\n%s", code, strings.Join(stderr, "\n"), strings.Join(want, "\n"))
	}
	// RULES given with --config.file are checked instead of the config's own.
	if code, stderr, stdout := validate("--config.file", filepath.Join(dir, "good.yml"), filepath.Join(dir, "badrules/b.yaml")); code != 0 || stdout != "DIR/good.yml with DIR/badrules/b.yaml: 1 file, 1 SLO valid\n" {
		t.Errorf("a good config with RULES: exit %d\nstdout: %s\nstderr: %q", code, stdout, stderr)
	}
	if code, stderr, _ := validate("--config.file", filepath.Join(dir, "broken.yml")); code != 1 || len(stderr) != 2 || !strings.HasPrefix(stderr[0], "DIR/brokenrules/x.yaml:5:16: slos[0].objective") {
		t.Errorf("a config whose rules do not load: exit %d, stderr %q", code, stderr)
	}
	if code, stderr, _ := validate("--config.file", filepath.Join(dir, "missing.yml")); code != 1 || !strings.Contains(stderr[0], "missing.yml") {
		t.Errorf("a missing config: exit %d, stderr %q", code, stderr)
	}
}
