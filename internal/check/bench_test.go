package check_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/slod-dev/slod/internal/check"
	"github.com/slod-dev/slod/internal/eval"
	"github.com/slod-dev/slod/internal/examplegen"
	"github.com/slod-dev/slod/internal/recorded"
	"github.com/slod-dev/slod/internal/rules"
)

// benchScale is the size of BenchmarkCheck: the figure is 100 SLOs × 7 days of 30 s samples
// (two counters per SLO, about 4 M samples). SLOD_BENCH_SLOS and SLOD_BENCH_DAYS override it, and
// -short shrinks it to 10 SLOs × 1 day for a quick run.
func benchScale(b *testing.B) (slos, days int) {
	slos, days = 100, 7
	if testing.Short() {
		slos, days = 10, 1
	}
	if v, err := strconv.Atoi(os.Getenv("SLOD_BENCH_SLOS")); err == nil && v > 0 {
		slos = v
	}
	if v, err := strconv.Atoi(os.Getenv("SLOD_BENCH_DAYS")); err == nil && v > 0 {
		days = v
	}
	return slos, days
}

// benchData writes the recording of n services (30 s scrape, a diurnal request rate and a short
// incident on every tenth service) to dir and returns its path. With groups > 0 the services are
// models of n/groups gateways: job="gw-K", model="m-J".
func benchData(b *testing.B, dir string, n, days, groups int) (string, time.Time) {
	b.Helper()
	series, start := benchSeries(b, n, days, groups)
	return writeBenchData(b, dir, series), start
}

// benchSeries generates the series of benchData.
func benchSeries(b *testing.B, n, days, groups int) ([]check.Series, time.Time) {
	b.Helper()
	start := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	cfg := examplegen.Config{Start: start, End: start.Add(time.Duration(days) * 24 * time.Hour), Seed: 11}
	for i := 0; i < n; i++ {
		errs := examplegen.Const(0.0002)
		if i%10 == 0 {
			at := start.Add(time.Duration(days*24/2)*time.Hour + time.Duration(i)*time.Minute)
			errs = examplegen.Incident(errs, examplegen.Span{Start: at, End: at.Add(30 * time.Minute)}, 0, examplegen.Const(0.1))
		}
		job := examplegen.Job{
			Name: fmt.Sprintf("svc-%03d", i), Scrape: 30 * time.Second, Offset: time.Duration(i%30) * time.Second,
			HTTP: &examplegen.HTTP{RPS: examplegen.Diurnal(50, 0.5, 15), ErrorRatio: errs},
		}
		if groups > 0 {
			job.HTTP.Labels = []check.Label{{Name: "job", Value: fmt.Sprintf("gw-%03d", i/groups)}, {Name: "model", Value: fmt.Sprintf("m-%03d", i%groups)}}
		}
		cfg.Jobs = append(cfg.Jobs, job)
	}
	series, err := examplegen.Generate(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return series, start
}

// writeBenchData writes series as OpenMetrics into dir and returns the file's path.
func writeBenchData(b *testing.B, dir string, series []check.Series) string {
	b.Helper()
	path := filepath.Join(dir, "bench.om")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if err := check.WriteOpenMetrics(w, series); err != nil {
		b.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return path
}

// benchRules writes one SLO file with an availability SLO per service over the given period.
func benchRules(b *testing.B, dir string, n int, period string) string {
	b.Helper()
	var y strings.Builder
	y.WriteString("version: slod/v1\nservice: bench\nslos:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&y, `  - name: svc-%03d
    objective: 99.9
    window: %s
    sli:
      events:
        error_query: sum(rate(http_requests_total{job="svc-%03d",code=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_total{job="svc-%03d"}[{{.window}}]))
`, i, period, i, i)
	}
	path := filepath.Join(dir, "slos-"+period+".yaml")
	if err := os.WriteFile(path, []byte(y.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	return path
}

// resetPeakRSS makes /proc/self/status's VmHWM start again from the current RSS, so that the peak
// reported is that of parsing and evaluating, not of generating the data (Linux ≥ 4.0).
func resetPeakRSS() {
	runtime.GC()
	debug.FreeOSMemory()
	os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// cpuTime is the CPU time (user + system) the process has used: on a shared machine wall time
// depends on the neighbours, CPU time much less.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// peakRSS is VmHWM in bytes, or 0 where /proc is not available.
func peakRSS() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb * 1024
		}
	}
	return 0
}

// BenchmarkCheck is `slod check` end to end minus printing: parse the recording, then backtest
// every SLO at a 1m step over the whole of it. It reports the two phases separately (wall and CPU
// time), the samples parsed and evaluated per second, and the process's peak RSS. The 7d and 30d variants evaluate the
// same data with SLO periods of 7 and 30 days: window sums come from the History's cumulative tiers,
// so the cost follows the samples, not the window length.
func BenchmarkCheck(b *testing.B) {
	n, days := benchScale(b)
	dir := b.TempDir()
	data, start := benchData(b, dir, n, days, 0)
	for _, period := range []string{"7d", "30d"} {
		b.Run(fmt.Sprintf("slos=%d/days=%d/window=%s", n, days, period), func(b *testing.B) {
			set, err := rules.Load([]string{benchRules(b, dir, n, period)})
			if err != nil {
				b.Fatal(err)
			}
			resetPeakRSS()
			var parse, evaluate, parseCPU, evalCPU time.Duration
			samples := 0
			for b.Loop() {
				c0 := cpuTime()
				t0 := time.Now()
				db, err := recorded.ParseFile(data)
				if err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				c1 := cpuTime()
				from, to := db.MinTime().Add(time.Minute), db.MaxTime()
				res, err := eval.Backtest(context.Background(), recorded.NewQuerier(db), set.SLOs, from, to,
					eval.Options{Step: time.Minute, DataStart: start}, nil)
				if err != nil {
					b.Fatal(err)
				}
				t2 := time.Now()
				c2 := cpuTime()
				parseCPU += c1 - c0
				evalCPU += c2 - c1
				parse += t1.Sub(t0)
				evaluate += t2.Sub(t1)
				samples += db.Samples()
				if len(res) != n {
					b.Fatalf("%d results for %d SLOs", len(res), n)
				}
			}
			iters := float64(b.N)
			b.ReportMetric(parse.Seconds()/iters, "parse-s/op")
			b.ReportMetric(evaluate.Seconds()/iters, "eval-s/op")
			b.ReportMetric(evaluate.Seconds()/parse.Seconds(), "eval/parse")
			b.ReportMetric(parseCPU.Seconds()/iters, "parse-cpu-s/op")
			b.ReportMetric(evalCPU.Seconds()/iters, "eval-cpu-s/op")
			b.ReportMetric(float64(samples)/iters, "samples/op")
			b.ReportMetric(float64(samples)/(parse+evaluate).Seconds(), "samples/s")
			b.ReportMetric(peakRSS()/(1<<20), "peak-RSS-MiB")
		})
	}
}

// benchGroupedRules writes the SLOs of the grouped recording (benchData with groups): one grouped
// SLO per gateway (group_by: [model]) when grouped, else one SLO per gateway and model.
func benchGroupedRules(b *testing.B, dir string, n, groups int, grouped bool) string {
	b.Helper()
	var y strings.Builder
	y.WriteString("version: slod/v1\nservice: bench\nslos:\n")
	for k := 0; k < n/groups; k++ {
		if grouped {
			fmt.Fprintf(&y, `  - name: gw-%03d
    objective: 99.9
    group_by: [model]
    sli:
      events:
        error_query: sum by (model) (rate(http_requests_total{job="gw-%03d",code=~"5.."}[{{.window}}]))
        total_query: sum by (model) (rate(http_requests_total{job="gw-%03d"}[{{.window}}]))
`, k, k, k)
			continue
		}
		for j := 0; j < groups; j++ {
			fmt.Fprintf(&y, `  - name: gw-%03d-m-%03d
    objective: 99.9
    sli:
      events:
        error_query: sum(rate(http_requests_total{job="gw-%03d",model="m-%03d",code=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_total{job="gw-%03d",model="m-%03d"}[{{.window}}]))
`, k, j, k, j, k, j)
		}
	}
	path := filepath.Join(dir, fmt.Sprintf("grouped-%v.yaml", grouped))
	if err := os.WriteFile(path, []byte(y.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkCheckGrouped backtests the same recording of n services as SLOs grouped by model
// (n/groups SLOs of groups groups: SLOD_BENCH_GROUPS, default 10) and as n separate SLOs, and
// reports each one's evaluation time against the parse of the data: a grouped SLO's two queries
// return a series per group, so its cost follows the instances, as separate SLOs' does.
func BenchmarkCheckGrouped(b *testing.B) {
	n, days := benchScale(b)
	groups := 10
	if v, err := strconv.Atoi(os.Getenv("SLOD_BENCH_GROUPS")); err == nil && v > 0 {
		groups = v
	}
	if n%groups != 0 {
		b.Fatalf("%d SLOs are not a whole number of SLOs of %d groups", n, groups)
	}
	dir := b.TempDir()
	data, start := benchData(b, dir, n, days, groups)
	for _, grouped := range []bool{true, false} {
		b.Run(fmt.Sprintf("instances=%d/groups=%d/grouped=%v", n, groups, grouped), func(b *testing.B) {
			set, err := rules.Load([]string{benchGroupedRules(b, dir, n, groups, grouped)})
			if err != nil {
				b.Fatal(err)
			}
			var parseCPU, evalCPU time.Duration
			for b.Loop() {
				c0 := cpuTime()
				db, err := recorded.ParseFile(data)
				if err != nil {
					b.Fatal(err)
				}
				c1 := cpuTime()
				res, err := eval.Backtest(context.Background(), recorded.NewQuerier(db), set.SLOs, db.MinTime().Add(time.Minute), db.MaxTime(),
					eval.Options{Step: time.Minute, DataStart: start}, nil)
				if err != nil {
					b.Fatal(err)
				}
				parseCPU, evalCPU = parseCPU+c1-c0, evalCPU+cpuTime()-c1
				if len(res) != n {
					b.Fatalf("%d results for %d instances", len(res), n)
				}
			}
			b.ReportMetric(parseCPU.Seconds()/float64(b.N), "parse-cpu-s/op")
			b.ReportMetric(evalCPU.Seconds()/float64(b.N), "eval-cpu-s/op")
			b.ReportMetric(evalCPU.Seconds()/parseCPU.Seconds(), "eval/parse-cpu")
		})
	}
}
