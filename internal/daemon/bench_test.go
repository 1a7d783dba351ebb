package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/slod-dev/slod/internal/config"
	"github.com/slod-dev/slod/internal/promapi"
	"github.com/slod-dev/slod/internal/sli"
)

// benchExporter exposes a counter pair per SLO; values grow with every scrape.
type benchExporter struct {
	n     int
	calls atomic.Int64
}

func (e *benchExporter) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	c := e.calls.Add(1)
	var b strings.Builder
	b.WriteString("# TYPE bench_requests_total counter\n")
	for i := range e.n {
		fmt.Fprintf(&b, "bench_requests_total{slo=\"s%d\",code=\"200\"} %d\n", i, c*100)
		fmt.Fprintf(&b, "bench_requests_total{slo=\"s%d\",code=\"500\"} %d\n", i, c*(int64(i%10)))
	}
	w.Write([]byte(b.String()))
}

// countingQuerier counts the queries a cycle sends.
type countingQuerier struct {
	q sli.Querier
	n atomic.Int64
}

func (c *countingQuerier) QueryRange(ctx context.Context, query string, start, end time.Time, step time.Duration) ([]sli.Series, error) {
	c.n.Add(1)
	return c.q.QueryRange(ctx, query, start, end, step)
}

// rssBytes is the process's resident memory of the given kind from /proc/self/status: "VmRSS"
// (all), "RssAnon" (heap, stacks: what the process itself holds) or "RssFile" (mapped files, here
// mostly the store's bbolt mmap, which the kernel can drop and re-read).
func rssBytes(kind string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, kind+":") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}

func heapInuse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse)
}

// BenchmarkLiveCycle evaluates N SLOs (30d window, default policy) against a real Prometheus on
// loopback: one op is one steady-state cycle (after the backfill of the first). It reports the
// queries per cycle, cycle time percentiles and the memory each SLO costs.
func BenchmarkLiveCycle(b *testing.B) {
	requireBinary(b, "/usr/bin/prometheus")
	const maxSLOs = 1000
	dir := b.TempDir()
	exp := &benchExporter{n: maxSLOs}
	expSrv := httptest.NewServer(exp)
	defer expSrv.Close()
	addr := freeAddr(b)
	cfg := filepath.Join(dir, "prometheus.yml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("global: {scrape_interval: 1s, scrape_timeout: 1s}\nscrape_configs:\n  - job_name: bench\n    static_configs: [{targets: [%q]}]\n", strings.TrimPrefix(expSrv.URL, "http://"))), 0o644)
	srv := &server{tb: b, b: backends[0], addr: addr, dir: dir, cfg: cfg}
	srv.start()
	defer srv.stop()
	waitFor(b, "10 scrapes", 60*time.Second, func() bool { return exp.calls.Load() >= 10 })

	for _, n := range []int{100, maxSLOs} {
		b.Run(fmt.Sprintf("slos=%d", n), func(b *testing.B) {
			benchCycles(b, dir, addr, n)
		})
	}
}

func benchCycles(b *testing.B, base, addr string, n int) {
	dir, err := os.MkdirTemp(base, "slod")
	if err != nil {
		b.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "rules"), 0o755)
	var rules strings.Builder
	rules.WriteString("version: slod/v1\nservice: bench\nslos:\n")
	for i := range n {
		fmt.Fprintf(&rules, `  - name: s%d
    objective: 99.9
    sli:
      events:
        error_query: sum(rate(bench_requests_total{slo="s%d",code="500"}[{{.window}}]))
        total_query: sum(rate(bench_requests_total{slo="s%d"}[{{.window}}]))
`, i, i, i)
	}
	os.WriteFile(filepath.Join(dir, "rules", "bench.yaml"), []byte(rules.String()), 0o644)
	os.WriteFile(filepath.Join(dir, "slod.yml"), []byte(fmt.Sprintf(`prometheus: {url: "http://%s", timeout: 30s, max_concurrent_queries: 16}
evaluation: {interval: 1m, step: 1m, lookback: 10m, max_concurrency: 16}
rules: [rules/]
`, addr)), 0o644)

	heap0 := heapInuse()
	var cq *countingQuerier
	d, err := New(context.Background(), Options{
		ConfigFile: filepath.Join(dir, "slod.yml"), StoragePath: filepath.Join(dir, "data"),
		Logger: slog.New(slog.DiscardHandler), Registry: prometheus.NewRegistry(),
		NewQuerier: func(c config.PrometheusConfig, o promapi.Options) (sli.Querier, error) {
			q, err := promapi.New(c, o)
			cq = &countingQuerier{q: q}
			return cq, err
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	step := time.Minute
	t := sli.Align(time.Now(), step)
	// The first cycle backfills each SLO's 30 days (at the tiers' resolutions).
	backfillStart := time.Now()
	if err := d.Cycle(context.Background(), t); err != nil {
		b.Fatal(err)
	}
	backfillTook := time.Since(backfillStart)
	backfillQueries := cq.n.Load()
	// Prometheus may have scraped for less than a step: the first increment needs a sample at
	// both ends of a step. Warm up until every SLO has data, so that each op is a steady cycle.
	for warm := 0; ; warm++ {
		empty := 0
		for _, s := range d.slos {
			if s.hist.End().IsZero() {
				empty++
			}
		}
		if empty == 0 {
			break
		}
		if warm == 5 {
			b.Fatalf("%d SLOs still without data", empty)
		}
		t = t.Add(step)
		if err := d.Cycle(context.Background(), t); err != nil {
			b.Fatal(err)
		}
	}
	heap1, rss1 := heapInuse(), rssBytes("RssAnon")
	cq.n.Store(0)
	var durations []time.Duration
	var commits time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t = t.Add(step)
		began := time.Now()
		if err := d.Cycle(context.Background(), t); err != nil {
			b.Fatal(err)
		}
		durations = append(durations, time.Since(began))
		commits += time.Duration(d.lastCommit.Load())
	}
	b.StopTimer()
	// SLOD_BENCH_HEAP_PROFILE=file writes the live heap while the daemon still holds its SLOs.
	if path := os.Getenv("SLOD_BENCH_HEAP_PROFILE"); path != "" {
		runtime.GC()
		if f, err := os.Create(fmt.Sprintf("%s.%d", path, n)); err == nil {
			pprof.WriteHeapProfile(f)
			f.Close()
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.Logf("heap inuse %d MiB, idle %d MiB, released %d MiB, stacks %d MiB, sys %d MiB, goal %d MiB", ms.HeapInuse>>20, ms.HeapIdle>>20, ms.HeapReleased>>20, ms.StackInuse>>20, ms.Sys>>20, ms.NextGC>>20)
	slices.Sort(durations)
	pct := func(p float64) float64 { return durations[int(p*float64(len(durations)-1))].Seconds() * 1000 }
	b.ReportMetric(float64(cq.n.Load())/float64(b.N), "queries/cycle")
	b.ReportMetric(backfillTook.Seconds()*1000, "backfill-ms")
	b.ReportMetric(float64(backfillQueries)/float64(n), "backfill-queries/SLO")
	b.ReportMetric(pct(0.5), "p50-ms/cycle")
	b.ReportMetric(pct(0.99), "p99-ms/cycle")
	b.ReportMetric(commits.Seconds()*1000/float64(b.N), "commit-ms/cycle")
	b.ReportMetric(float64(heap1-heap0)/float64(n), "heap-B/SLO")
	// The process RSS includes the test binary, Go runtime and earlier sub-benchmarks' freed
	// heap; heap-B/SLO is the per-SLO cost, this is the ceiling it fits under. Compare the
	// steady RSS of two sizes for the slope.
	b.ReportMetric(float64(rss1)/(1<<20), "anon-rss-after-backfill-MiB")
	b.ReportMetric(float64(rssBytes("RssAnon"))/(1<<20), "anon-rss-steady-MiB")
	b.ReportMetric(float64(rssBytes("RssFile"))/(1<<20), "file-rss-steady-MiB")
	var hist int
	for _, s := range d.slos {
		hist += s.hist.MemoryBytes()
	}
	b.ReportMetric(float64(hist)/float64(n), "history-B/SLO")
}
