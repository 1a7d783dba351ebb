package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slod-dev/slod/internal/check"
	"github.com/slod-dev/slod/internal/examplegen"
	"github.com/slod-dev/slod/internal/fidelity"
	"github.com/slod-dev/slod/internal/recorded"
)

// TestRecordFromPrometheus backfills two days of data into a real Prometheus, records what
// testdata/check/record.yaml reads with slod record, and checks the recording: it holds exactly the
// series the SLOs read, every step of the range once (two days at 15 s is 11,521 steps, so the range
// had to be split under Prometheus's 11,000-points limit), and slod check on it finds the alerts
// that slod check finds on the original data.
func TestRecordFromPrometheus(t *testing.T) {
	fidelity.Binary(t, "prometheus")
	fidelity.Binary(t, "promtool")
	start := time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)
	end := start.Add(48 * time.Hour)
	cfg := examplegen.Config{Start: start, End: end, Seed: 3, Jobs: []examplegen.Job{
		{Name: "api", Scrape: 15 * time.Second, HTTP: &examplegen.HTTP{
			RPS:           examplegen.Const(5),
			ErrorRatio:    examplegen.Incident(examplegen.Const(0), examplegen.Span{Start: start.Add(30 * time.Hour), End: start.Add(30*time.Hour + 20*time.Minute)}, 0, examplegen.Const(0.3)),
			LatencyMedian: examplegen.Const(0.2), LatencySigma: 0.5, Buckets: []float64{1},
		}},
		{Name: "unrelated", Scrape: time.Minute, Gauges: []examplegen.Gauge{{Name: "other_metric", Value: examplegen.Const(1)}}},
	}}
	series, err := examplegen.Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var om bytes.Buffer
	if err := check.WriteOpenMetrics(&om, series); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	orig := filepath.Join(dir, "orig.om")
	if err := os.WriteFile(orig, om.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	prom := fidelity.StartOnRecording(t, orig)

	rec := filepath.Join(dir, "recorded.om")
	unix := func(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }
	var out, errb bytes.Buffer
	code := run([]string{"record", "--prometheus.url", prom.URL, "--from", unix(start), "--to", end.Format(time.RFC3339), "--step", "15s",
		"testdata/check/record.yaml", "-o", rec}, &out, &errb)
	if code != 0 {
		t.Fatalf("slod record: exit %d\n%s\nprometheus logs:\n%s", code, errb.String(), prom.Logs())
	}

	db, err := recorded.ParseFile(rec)
	if err != nil {
		t.Fatalf("the recording does not parse: %v", err)
	}
	// http_requests_total{code="200"|"500"}, the le="1" bucket and _count: the latency SLI reads no
	// other bucket, so le="+Inf" is not recorded.
	if db.Series() != 4 {
		t.Errorf("recorded %d series, want the 4 the SLOs read", db.Series())
	}
	data, _ := os.ReadFile(rec)
	if bytes.Contains(data, []byte("other_metric")) {
		t.Error("the recording holds a series no SLO reads")
	}
	steps := int(end.Sub(start)/(15*time.Second)) + 1
	if db.Samples() != 4*steps {
		t.Errorf("recorded %d samples, want %d steps × 4 series", db.Samples(), steps)
	}

	alerts := func(file string) []string {
		t.Helper()
		code, stdout, stderr := runCheckCmd("testdata/check/record.yaml", "--data", file, "--format", "json",
			"--from", start.Add(time.Hour).Format(time.RFC3339), "--to", end.Format(time.RFC3339))
		if code != 0 {
			t.Fatalf("slod check %s: exit %d\n%s", file, code, stderr)
		}
		var doc checkJSON
		if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, s := range doc.SLOs {
			for _, a := range s.Alerts {
				out = append(out, s.Name+"/"+a.Severity+"@"+a.Start)
			}
		}
		return out
	}
	want, got := alerts(orig), alerts(rec)
	t.Logf("alerts on the original %v, on the recording %v", want, got)
	if len(want) == 0 {
		t.Fatal("the original data raises no alert: the test would prove nothing")
	}
	// The recording resamples at the scrape interval: alert starts may move by one step.
	if len(got) != len(want) {
		t.Fatalf("alerts on the recording %v, on the original %v", got, want)
	}
	for i := range want {
		w, g := strings.SplitN(want[i], "@", 2), strings.SplitN(got[i], "@", 2)
		wt, _ := time.Parse(time.RFC3339, w[1])
		gt, _ := time.Parse(time.RFC3339, g[1])
		if w[0] != g[0] || gt.Sub(wt) > time.Minute || wt.Sub(gt) > time.Minute {
			t.Errorf("alert %d: recording %s, original %s", i, got[i], want[i])
		}
	}
}

func TestRecordArgs(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no url", []string{"--from", "0", "--to", "60", "-o", "x", "r.yaml"}, "--prometheus.url is required"},
		{"no range", []string{"--prometheus.url", "http://127.0.0.1:1", "-o", "x", "r.yaml"}, "--from and --to are required"},
		{"no output", []string{"--prometheus.url", "http://127.0.0.1:1", "--from", "0", "--to", "60", "r.yaml"}, "-o FILE is required"},
		{"no rules", []string{"--prometheus.url", "http://127.0.0.1:1", "--from", "0", "--to", "60", "-o", "x"}, "no RULES given"},
		{"backwards", []string{"--prometheus.url", "http://127.0.0.1:1", "--from", "60", "--to", "0", "-o", "x", "r.yaml"}, "--to is before --from"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(append([]string{"record"}, tc.args...), &out, &errb); code != 2 {
				t.Fatalf("exit %d, want 2\n%s", code, errb.String())
			}
			if !strings.Contains(errb.String(), tc.want) {
				t.Errorf("stderr lacks %q:\n%s", tc.want, errb.String())
			}
		})
	}
	t.Run("unreachable Prometheus", func(t *testing.T) {
		var out, errb bytes.Buffer
		code := run([]string{"record", "--prometheus.url", "http://127.0.0.1:1", "--from", "0", "--to", "60", "--prometheus.timeout", "5s",
			"-o", filepath.Join(t.TempDir(), "x.om"), "testdata/check/record.yaml"}, &out, &errb)
		if code != 1 {
			t.Fatalf("exit %d, want 1\n%s", code, errb.String())
		}
	})
}
