package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestRunFlags(t *testing.T) {
	cases := []struct {
		name    string
		args    []string
		code    int
		wantErr string
	}{
		{"help", []string{"--help"}, 0, "usage: slod run"},
		{"bad log format", []string{"--log.format", "xml"}, 2, "--log.format must be logfmt or json"},
		{"bad log level", []string{"--log.level", "loud"}, 2, "--log.level must be"},
		{"stray argument", []string{"extra"}, 2, `unexpected argument "extra"`},
		{"missing config", []string{"--config.file", filepath.Join(t.TempDir(), "nope.yml"), "--storage.path", t.TempDir()}, 1, "nope.yml"},
		{"zero read timeout", []string{"--web.read-timeout", "0s"}, 2, "--web.read-timeout must be positive"},
		{"no connections", []string{"--web.max-connections", "0"}, 2, "--web.max-connections must be positive"},
		{"no silences", []string{"--silences.max-silences", "-1"}, 2, "--silences.max-silences must be positive"},
		{"silly reload interval", []string{"--config.auto-reload-interval", "10ms"}, 2, "at least 1s"},
		{"bad duration", []string{"--silences.max-ahead", "soon"}, 2, `not a duration: "soon"`},
		{"missing web config", []string{"--web.config.file", filepath.Join(t.TempDir(), "web.yml"), "--config.file", "testdata/none.yml"}, 1, "web.yml"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(append([]string{"run"}, tc.args...), &stdout, &stderr); code != tc.code {
				t.Errorf("exit %d, want %d; stderr:\n%s", code, tc.code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.wantErr) {
				t.Errorf("stderr lacks %q:\n%s", tc.wantErr, stderr.String())
			}
		})
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

const runTestRule = `version: slod/v1
service: %s
slos:
  - name: availability
    objective: 99
    window: 1h
    sli:
      events:
        error_query: sum(rate(req_total{code="500"}[{{.window}}]))
        total_query: sum(rate(req_total[{{.window}}]))
    alerting:
      windows: [{severity: page, long: 5m, short: 30s, burn_rate: 14.4}]
`

// fakePrometheus answers every query with one series of healthy traffic: 1 at every step (0 for
// the error query), so that slod has data (it is not ready without any).
func fakePrometheus(w http.ResponseWriter, r *http.Request) {
	v := "1"
	if strings.Contains(r.FormValue("query"), `code="500"`) {
		v = "0"
	}
	w.Header().Set("Content-Type", "application/json")
	if !strings.HasSuffix(r.URL.Path, "/query_range") {
		fmt.Fprintf(w, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[%s,%q]}]}}`, r.FormValue("time"), v)
		return
	}
	start, _ := strconv.ParseFloat(r.FormValue("start"), 64)
	end, _ := strconv.ParseFloat(r.FormValue("end"), 64)
	step, _ := strconv.ParseFloat(r.FormValue("step"), 64)
	var points []string
	for t := start; step > 0 && t <= end; t += step {
		points = append(points, fmt.Sprintf("[%s,%q]", strconv.FormatFloat(t, 'f', -1, 64), v))
	}
	fmt.Fprintf(w, `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[%s]}]}}`, strings.Join(points, ","))
}

// TestRunSignals runs `slod run` in-process against a fake Prometheus: it becomes ready, reloads
// on SIGHUP, and exits 0 on SIGTERM.
func TestRunSignals(t *testing.T) {
	prom := httptest.NewServer(http.HandlerFunc(fakePrometheus))
	defer prom.Close()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "rules"), 0o755)
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("rules/a.yaml", fmt.Sprintf(runTestRule, "a"))
	write("slod.yml", fmt.Sprintf("prometheus: {url: %q}\nevaluation: {interval: 1s, step: 1s}\nrules: [rules/]\n", prom.URL))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	var stderr lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- run([]string{"run", "--config.file", filepath.Join(dir, "slod.yml"), "--storage.path", filepath.Join(dir, "data"),
			"--web.listen-address", addr, "--log.format", "logfmt"}, io.Discard, &stderr)
	}()
	wait := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for !cond() {
			select {
			case code := <-done:
				t.Fatalf("slod run exited %d while waiting for %s:\n%s", code, what, stderr.String())
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s:\n%s", what, stderr.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	slos := func() int {
		resp, err := http.Get("http://" + addr + "/api/v1/slos")
		if err != nil {
			return -1
		}
		defer resp.Body.Close()
		var r struct{ Data []json.RawMessage }
		if json.NewDecoder(resp.Body).Decode(&r) != nil {
			return -1
		}
		return len(r.Data)
	}
	wait("ready", func() bool {
		resp, err := http.Get("http://" + addr + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	if n := slos(); n != 1 {
		t.Fatalf("%d SLOs before reload", n)
	}
	write("rules/b.yaml", fmt.Sprintf(runTestRule, "b"))
	syscall.Kill(os.Getpid(), syscall.SIGHUP)
	wait("the reload to add an SLO", func() bool { return slos() == 2 })

	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit %d after SIGTERM:\n%s", code, stderr.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("slod run did not stop after SIGTERM")
	}
	logs := stderr.String()
	for _, want := range []string{"level=INFO msg=reloaded", "cycle_id=", "msg=stopped"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
}

// TestRunStartupErrors: slod run prints every problem of its config and rules at once, one per
// line (it printed the config's, then the rules' after a second run, all in one escaped log line).
func TestRunStartupErrors(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"slod.yml":     "prometheus: {url: \"http://127.0.0.1:1\", timeoutt: 3s}\nevaluation: {lookback: 10s}\nrules: [rules/]\n",
		"rules/a.yaml": strings.Replace(fmt.Sprintf(runTestRule, "a"), "window: 1h", "windw: 1h", 1),
	})
	var stdout, stderr bytes.Buffer
	code := run([]string{"run", "--config.file", filepath.Join(dir, "slod.yml"), "--storage.path", filepath.Join(dir, "data")}, &stdout, &stderr)
	lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
	want := []string{`level=ERROR msg="cannot start" problems=3`, `level=ERROR msg="` + dir + `/slod.yml:1:41: prometheus.timeoutt: unknown field`,
		`level=ERROR msg="` + dir + `/slod.yml:2:24: evaluation.lookback: must be at least the step"`, `level=ERROR msg="` + dir + `/rules/a.yaml:6:5: slos[0].windw: unknown field`}
	if code != 1 || len(lines) != len(want) {
		t.Fatalf("exit %d, %d lines, want 1 and %d:\n%s", code, len(lines), len(want), stderr.String())
	}
	for i, w := range want {
		if !strings.Contains(lines[i], w) {
			t.Errorf("line %d: %s\nwant %s", i, lines[i], w)
		}
	}
}
