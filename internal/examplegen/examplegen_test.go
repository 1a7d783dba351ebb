package examplegen

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/slod-dev/slod/internal/check"
)

// TestAssistantFileIsGenerated regenerates the shipped example and compares it with the checked-in
// file, so the file can never drift from the generator (run `go generate ./internal/examplegen`
// after changing either).
func TestAssistantFileIsGenerated(t *testing.T) {
	series, err := Generate(Assistant())
	if err != nil {
		t.Fatal(err)
	}
	want := checkGenerated(t, series, "assistant.om")
	if len(want) > 16<<20 {
		t.Errorf("examples/assistant.om is %d bytes; keep it under 16 MiB", len(want))
	}
}

// TestAdminFileIsGenerated does the same for examples/admin.om.
func TestAdminFileIsGenerated(t *testing.T) {
	checkGenerated(t, Admin(), "admin.om")
}

// checkGenerated fails t unless examples/<name> holds series as OpenMetrics, and returns the file.
func checkGenerated(t *testing.T, series []check.Series, name string) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := check.WriteOpenMetrics(&b, series); err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("../../examples/" + name)
	if err != nil {
		t.Fatal(err)
	}
	got := sha256.Sum256(b.Bytes())
	have := sha256.Sum256(want)
	if got != have {
		t.Fatalf("examples/%s (sha256 %s) is not what the generator writes (sha256 %s): run go generate ./internal/examplegen",
			name, hex.EncodeToString(have[:]), hex.EncodeToString(got[:]))
	}
	return want
}

func TestGenerateInvariants(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		job  Job
		// wantSamples per series.
		wantSamples int
		check       func(t *testing.T, byName map[string][]check.Sample)
	}{
		{
			name: "histogram buckets are cumulative and +Inf equals count",
			job: Job{Name: "api", Scrape: 15 * time.Second, HTTP: &HTTP{
				RPS: Const(50), ErrorRatio: Const(0.1), LatencyMedian: Const(0.5), LatencySigma: 1, Buckets: []float64{0.1, 0.5, 2},
			}},
			wantSamples: 241,
			check: func(t *testing.T, s map[string][]check.Sample) {
				for i := range s["count"] {
					prev := 0.0
					for _, le := range []string{"0.1", "0.5", "2", "+Inf"} {
						v := s["bucket/"+le][i].V
						if v < prev {
							t.Fatalf("sample %d: bucket le=%s = %v below the previous bucket %v", i, le, v, prev)
						}
						prev = v
					}
					if prev != s["count"][i].V {
						t.Fatalf("sample %d: +Inf bucket %v != count %v", i, prev, s["count"][i].V)
					}
				}
				n := s["count"][len(s["count"])-1].V
				if n < 0.9*50*3600 || n > 1.1*50*3600 {
					t.Errorf("count after an hour at 50/s = %v", n)
				}
				e := s["code/500"][len(s["code/500"])-1].V
				if e < 0.08*n || e > 0.12*n {
					t.Errorf("errors %v of %v requests, want about 10%%", e, n)
				}
			},
		},
		{
			name: "gap drops samples, counters keep counting",
			job: Job{Name: "api", Scrape: time.Minute, Gaps: []Span{{start.Add(10 * time.Minute), start.Add(15 * time.Minute)}},
				Counters: []Counter{{Name: "x_total", Rate: Const(1)}}},
			wantSamples: 61 - 5,
			check: func(t *testing.T, s map[string][]check.Sample) {
				x := s["x_total"]
				if x[10].T-x[9].T != 6*60000 {
					t.Errorf("samples around the gap at %d and %d", x[9].T, x[10].T)
				}
				if d := x[10].V - x[9].V; d < 240 {
					t.Errorf("counter grew %v over 6 minutes at 1/s", d)
				}
			},
		},
		{
			name: "restart resets counters",
			job: Job{Name: "api", Scrape: time.Minute, Restarts: []time.Time{start.Add(30*time.Minute + 30*time.Second)},
				Counters: []Counter{{Name: "x_total", Rate: Const(10)}}},
			wantSamples: 61,
			check: func(t *testing.T, s map[string][]check.Sample) {
				x := s["x_total"]
				if x[31].V >= x[30].V || x[31].V > 600 {
					t.Errorf("no reset: %v then %v", x[30].V, x[31].V)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{Start: start, End: start.Add(time.Hour), Seed: 1, Jobs: []Job{tc.job}}
			series, err := Generate(cfg)
			if err != nil {
				t.Fatal(err)
			}
			by := map[string][]check.Sample{}
			for _, s := range series {
				key := s.Name()
				for _, l := range s.Labels {
					switch l.Name {
					case "le":
						key = "bucket/" + l.Value
					case "code":
						key = "code/" + l.Value
					}
				}
				if key == "http_request_duration_seconds_count" {
					key = "count"
				}
				if len(s.Samples) != tc.wantSamples {
					t.Errorf("%s: %d samples, want %d", key, len(s.Samples), tc.wantSamples)
				}
				by[key] = s.Samples
			}
			tc.check(t, by)
			again, _ := Generate(cfg)
			var a, b bytes.Buffer
			check.WriteOpenMetrics(&a, series)
			check.WriteOpenMetrics(&b, again)
			if !bytes.Equal(a.Bytes(), b.Bytes()) {
				t.Error("two runs with the same seed differ")
			}
		})
	}
}
