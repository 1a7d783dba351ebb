package recorded

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/slod-dev/slod/internal/rules"
	"github.com/slod-dev/slod/internal/sli"
)

// The benchmark size. Issue 3's target scale is -recorded.slos=100 -recorded.days=7 (about 4 M
// samples of 30 s scrapes); the defaults keep `make bench` to a few seconds.
var (
	benchSLOs     = flag.Int("recorded.slos", 10, "SLOs (two counters each) in the benchmark data")
	benchDays     = flag.Float64("recorded.days", 1, "days of samples in the benchmark data")
	benchInterval = flag.Duration("recorded.interval", 30*time.Second, "scrape interval of the benchmark data")
)

var benchStart = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)

// writeBenchData writes OpenMetrics text as `promtool tsdb dump-openmetrics` does: series after
// series, each SLO a request counter and an error counter, with a burst of errors on day one.
func writeBenchData(w io.Writer, slos int, days float64, interval time.Duration) (samples int) {
	n := int(time.Duration(days*24*float64(time.Hour)) / interval)
	var line []byte
	for s := range slos {
		for _, metric := range []string{"http_requests_total", "http_errors_total"} {
			fmt.Fprintf(w, "# HELP %s Requests.\n# TYPE %s counter\n", metric, metric)
			v := 0.0
			for i := range n {
				if metric == "http_requests_total" {
					v += float64(50 + (i*7+s)%13)
				} else if i%(100+s) == 0 || (i > 2000 && i < 2060) {
					v += float64(1 + i%3)
				}
				ts := float64(benchStart.Add(time.Duration(i)*interval).UnixMilli()) / 1000
				line = append(line[:0], metric...)
				line = append(line, `{job="svc-`...)
				line = strconv.AppendInt(line, int64(s), 10)
				line = append(line, `",instance="10.0.0.1:9090"} `...)
				line = strconv.AppendFloat(line, v, 'g', -1, 64)
				line = append(line, ' ')
				line = strconv.AppendFloat(line, ts, 'f', 3, 64)
				line = append(line, '\n')
				w.Write(line)
				samples++
			}
		}
	}
	io.WriteString(w, "# EOF\n")
	return samples
}

// cpuTime is the CPU time (user + system) the process has used. On a shared machine wall time
// measures the neighbours too; CPU time per op is what the code costs.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchSLO(s int) *rules.SLO {
	job := "svc-" + strconv.Itoa(s)
	return &rules.SLO{Service: job, Name: "availability", SLI: rules.SLI{
		Kind:       rules.EventsSLI,
		ErrorQuery: `sum(rate(http_errors_total{job="` + job + `"}[{{.window}}]))`,
		TotalQuery: `sum(rate(http_requests_total{job="` + job + `"}[{{.window}}]))`,
	}}
}

// BenchmarkParse parses a generated OpenMetrics stream and reports parse throughput and the
// memory the parsed DB holds per sample.
func BenchmarkParse(b *testing.B) {
	var buf bytes.Buffer
	samples := writeBenchData(&buf, *benchSLOs, *benchDays, *benchInterval)
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	var db *DB
	cpu0 := cpuTime(b)
	for b.Loop() {
		var err error
		if db, err = Parse(bytes.NewReader(data), "bench.om"); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	cpu := cpuTime(b) - cpu0
	b.ReportMetric(float64(samples)*float64(b.N)/b.Elapsed().Seconds(), "samples/s")
	b.ReportMetric(float64(samples)*float64(b.N)/cpu.Seconds(), "samples/cpu-s")
	if db.Samples() != samples {
		b.Fatalf("parsed %d samples, wrote %d", db.Samples(), samples)
	}
	// Retained memory: the heap with the DB alive minus the heap without it.
	var with, without runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&with)
	runtime.KeepAlive(db)
	db = nil
	runtime.GC()
	runtime.ReadMemStats(&without)
	b.ReportMetric(float64(int64(with.HeapAlloc)-int64(without.HeapAlloc))/float64(samples), "heap-bytes/sample")
	b.ReportMetric(float64(len(data))/float64(samples), "text-bytes/sample")
}

// BenchmarkIncrements computes the per-step increments of every SLO over the whole recorded range
// through the PromQL engine, as `slod check` does (with the subquery form of the step difference),
// and reports samples/s.
func BenchmarkIncrements(b *testing.B) { benchIncrements(b, NewQuerier) }

// BenchmarkIncrementsPortable is BenchmarkIncrements with the portable form of the step difference,
// the one remote engines get (DESIGN §2), for comparison.
func BenchmarkIncrementsPortable(b *testing.B) {
	benchIncrements(b, func(db *DB) sli.Querier { return portableOnly{NewQuerier(db)} })
}

// portableOnly hides that a Querier is Prometheus's engine, so that it gets the portable form.
type portableOnly struct{ q sli.Querier }

func (p portableOnly) QueryRange(ctx context.Context, query string, start, end time.Time, step time.Duration) ([]sli.Series, error) {
	return p.q.QueryRange(ctx, query, start, end, step)
}

func benchIncrements(b *testing.B, newQuerier func(*DB) sli.Querier) {
	var buf bytes.Buffer
	samples := writeBenchData(&buf, *benchSLOs, *benchDays, *benchInterval)
	db, err := Parse(&buf, "bench.om")
	if err != nil {
		b.Fatal(err)
	}
	buf = bytes.Buffer{}
	slos := make([]*rules.SLO, *benchSLOs)
	for i := range slos {
		slos[i] = benchSLO(i)
	}
	q := newQuerier(db)
	start, end := db.MinTime().Add(time.Minute), db.MaxTime()
	steps := 0
	cpu0 := cpuTime(b)
	for b.Loop() {
		steps = 0
		for _, slo := range slos {
			incs, err := sli.Increments(context.Background(), q, slo, start, end, sli.Options{})
			if err != nil {
				b.Fatal(err)
			}
			steps += len(incs)
		}
	}
	cpu := cpuTime(b) - cpu0
	b.ReportMetric(float64(samples)*float64(b.N)/b.Elapsed().Seconds(), "samples/s")
	b.ReportMetric(float64(samples)*float64(b.N)/cpu.Seconds(), "samples/cpu-s")
	b.ReportMetric(float64(steps)*float64(b.N)/b.Elapsed().Seconds(), "steps/s")
}
