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

// TestRecordFromPrometheus backfills two days of data into a real Prometheus and records what
// testdata/check/record.yaml reads with slod record. The recording holds exactly the series the SLOs
// read, with every sample of the original data (scraped 4 s after each 15 s step) and nothing else
// (two days in 1h chunks), and slod check on it finds exactly the alerts slod check finds on the
// original data. With --step 15s (values at multiples of the step, the range split under
// Prometheus's 11,000-points limit) every step of the range is there once.
func TestRecordFromPrometheus(t *testing.T) {
	fidelity.Binary(t, "prometheus")
	fidelity.Binary(t, "promtool")
	start := time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)
	end := start.Add(48 * time.Hour)
	cfg := examplegen.Config{Start: start, End: end, Seed: 3, Jobs: []examplegen.Job{
		{Name: "api", Scrape: 15 * time.Second, Offset: 4 * time.Second, HTTP: &examplegen.HTTP{
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

	record := func(file string, extra ...string) []byte {
		t.Helper()
		unix := func(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }
		var out, errb bytes.Buffer
		args := append([]string{"record", "--prometheus.url", prom.URL, "--from", unix(start), "--to", end.Format(time.RFC3339)}, extra...)
		if code := run(append(args, "testdata/check/record.yaml", "-o", file), &out, &errb); code != 0 {
			t.Fatalf("slod record: exit %d\n%s\nprometheus logs:\n%s", code, errb.String(), prom.Logs())
		}
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(data, []byte("other_metric")) {
			t.Error("the recording holds a series no SLO reads")
		}
		return data
	}

	raw := filepath.Join(dir, "raw.om")
	got := sampleLines(record(raw))
	// http_requests_total{code="200"|"500"}, the le="1" bucket and _count: the latency SLI reads no
	// other bucket, so le="+Inf" is not recorded.
	keys := map[string]bool{}
	for l := range got {
		keys[seriesOf(l)] = true
	}
	want := map[string]bool{}
	for l := range sampleLines(om.Bytes()) {
		if keys[seriesOf(l)] {
			want[l] = true
		}
	}
	if len(keys) != 4 || len(got) != len(want) || len(got) < 4*11520 {
		t.Errorf("recorded %d samples of %d series, want the %d samples of the 4 series the SLOs read", len(got), len(keys), len(want))
	}
	for l := range want {
		if !got[l] {
			t.Fatalf("the recording lacks the sample %q", l)
		}
	}

	resampled := filepath.Join(dir, "resampled.om")
	record(resampled, "--step", "15s")
	db, err := recorded.ParseFile(resampled)
	if err != nil {
		t.Fatalf("the recording does not parse: %v", err)
	}
	// Every step but the first: the samples start 4 s after it.
	if steps := int(end.Sub(start) / (15 * time.Second)); db.Series() != 4 || db.Samples() != 4*steps {
		t.Errorf("resampled %d samples of %d series, want %d steps × 4 series", db.Samples(), db.Series(), steps)
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
	wantAlerts, gotAlerts := alerts(orig), alerts(raw)
	t.Logf("alerts on the original %v, on the recording %v", wantAlerts, gotAlerts)
	if len(wantAlerts) == 0 {
		t.Fatal("the original data raises no alert: the test would prove nothing")
	}
	if strings.Join(gotAlerts, " ") != strings.Join(wantAlerts, " ") {
		t.Errorf("alerts on the recording %v, on the original %v", gotAlerts, wantAlerts)
	}
}

// seriesOf is the series of a sample line: what comes before its value and timestamp.
func seriesOf(line string) string {
	i := strings.LastIndexByte(line, ' ')
	return line[:strings.LastIndexByte(line[:i], ' ')]
}

// sampleLines is the set of sample lines of an OpenMetrics text ("series value timestamp").
func sampleLines(data []byte) map[string]bool {
	out := map[string]bool{}
	for _, l := range strings.Split(string(data), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			out[l] = true
		}
	}
	return out
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
