package check_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/slod-dev/slod/internal/check"
	"github.com/slod-dev/slod/internal/eval"
	"github.com/slod-dev/slod/internal/examplegen"
	"github.com/slod-dev/slod/internal/recorded"
	"github.com/slod-dev/slod/internal/rules"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// goldenReport backtests testdata/slos.yaml over a day of generated data: a 5xx burst that pages, a
// latency regression that tickets, a memory series that stops (no data, still firing at the end)
// and payments that were never recorded.
func goldenReport(t *testing.T) check.Report {
	t.Helper()
	start := time.Date(2026, 5, 4, 0, 0, 0, 0, time.UTC)
	end := start.Add(24 * time.Hour)
	h := func(hh, mm int) time.Time {
		return start.Add(time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute)
	}
	cfg := examplegen.Config{Start: start, End: end, Seed: 7, Jobs: []examplegen.Job{
		{Name: "shop", Scrape: 30 * time.Second, Offset: 5 * time.Second, HTTP: &examplegen.HTTP{
			RPS:           examplegen.Diurnal(20, 0.3, 14),
			ErrorRatio:    examplegen.Incident(examplegen.Const(0), examplegen.Span{Start: h(9, 0), End: h(9, 20)}, 0, examplegen.Const(0.3)),
			LatencyMedian: examplegen.Incident(examplegen.Const(0.2), examplegen.Span{Start: h(14, 0), End: h(18, 0)}, 30*time.Minute, examplegen.Const(0.45)),
			LatencySigma:  0.5,
			Buckets:       []float64{0.5, 1},
		}},
		{Name: "cart", Scrape: time.Minute, Gaps: []examplegen.Span{{Start: h(22, 0), End: end.Add(time.Minute)}}, Gauges: []examplegen.Gauge{
			{Name: "memory_bytes", Value: examplegen.Const(6e8), Noise: 1e7, Round: 1},
		}},
	}}
	series, err := examplegen.Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var om bytes.Buffer
	if err := check.WriteOpenMetrics(&om, series); err != nil {
		t.Fatal(err)
	}
	db, err := recorded.Parse(&om, "generated.om")
	if err != nil {
		t.Fatal(err)
	}
	set, err := rules.Load([]string{"testdata/slos.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	step := time.Minute
	from, to := start.Add(step), end
	res, err := eval.Backtest(context.Background(), recorded.NewQuerier(db), set.SLOs, from, to, eval.Options{Step: step, DataStart: start}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return check.Report{From: from, To: to, Step: step, Results: res}
}

func TestReportGolden(t *testing.T) {
	rep := goldenReport(t)
	tests := []struct {
		name  string
		file  string
		write func(*bytes.Buffer) error
	}{
		{"text", "report.txt", func(b *bytes.Buffer) error { return check.WriteText(b, rep) }},
		{"json", "report.json", func(b *bytes.Buffer) error { return check.WriteJSON(b, rep) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := tc.write(&b); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", tc.file)
			if *update {
				if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(b.Bytes(), want) {
				t.Errorf("%s differs from the golden file (go test -update rewrites it):\n%s", tc.file, b.String())
			}
		})
	}
	t.Run("json keys of docs/interfaces.md §2", func(t *testing.T) {
		var b bytes.Buffer
		if err := check.WriteJSON(&b, rep); err != nil {
			t.Fatal(err)
		}
		// Every key the interface lists must be present (null is a value: budget_remaining of an SLO without data).
		var doc struct {
			From, To, Step *string
			SLOs           []map[string]json.RawMessage
		}
		if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		if doc.From == nil || doc.To == nil || doc.Step == nil || *doc.Step != "1m" || len(doc.SLOs) != 4 {
			t.Fatalf("top level: %s", b.String())
		}
		alerts := 0
		for _, s := range doc.SLOs {
			for _, k := range []string{"service", "name", "objective", "budget_remaining", "alerts"} {
				if _, ok := s[k]; !ok {
					t.Errorf("SLO %s has no %q", s["name"], k)
				}
			}
			var as []map[string]json.RawMessage
			if err := json.Unmarshal(s["alerts"], &as); err != nil {
				t.Fatal(err)
			}
			for _, a := range as {
				alerts++
				for _, k := range []string{"severity", "start", "end", "peak_burn_rate"} {
					if _, ok := a[k]; !ok {
						t.Errorf("an alert of %s has no %q", s["name"], k)
					}
				}
			}
		}
		if alerts == 0 {
			t.Error("the golden scenario has no alerts")
		}
	})
}

func TestFormatNumbers(t *testing.T) {
	tests := []struct {
		name string
		v    float64
		want string
	}{
		{"objective from percent", 99.9 / 100, "0.999"},
		{"objective subtraction", 1 - 0.0009999999999999432, "0.999"},
		{"integer", 14, "14"},
		{"negative budget", -0.3706123, "-0.3706"},
		{"tiny negative rounds to zero", -0.00001, "0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := check.FormatNumber(tc.v, 4); got != tc.want {
				t.Errorf("FormatNumber(%v) = %s, want %s", tc.v, got, tc.want)
			}
		})
	}
}

func TestFormatDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{time.Minute, "1m"},
		{90 * time.Minute, "1h30m"},
		{7 * 24 * time.Hour, "7d"},
		{30*24*time.Hour + 90*time.Second, "30d1m30s"},
		{1500 * time.Millisecond, "1s500ms"},
		{-time.Hour, "-1h"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			if got := check.FormatDuration(tc.d); got != tc.want {
				t.Errorf("FormatDuration(%v) = %s, want %s", tc.d, got, tc.want)
			}
		})
	}
}
