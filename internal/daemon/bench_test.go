package daemon

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/slod-dev/slod/internal/promapi"
	"github.com/slod-dev/slod/internal/sli"
)

// benchExporter exposes a counter pair per SLO; values grow with every scrape. The SLOs whose
// number modulo 100 is below firing burn 5% errors (every alert of a 99.9% SLO fires); the others
// up to 0.009% (none does). It writes into one reused buffer: it runs in the benchmark's process,
// whose memory is what is measured.
//
// Time runs fast: the k-th scrape's samples carry the timestamp t0 + k minutes + 30s (an explicit
// timestamp, which Prometheus stores as given), so that a benchmark can run a cycle per simulated
// minute without waiting a real one: a step counts only where a counter has a fresh sample, so the
// cycles must not run ahead of the data.
type benchExporter struct {
	t0 time.Time
	n  int
	// groups is the number of groups (model label values) of each SLO's series; 0: no model
	// label.
	groups int
	firing int
	calls  atomic.Int64
	mu     sync.Mutex
	buf    []byte
}

func (e *benchExporter) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	c := e.calls.Add(1)
	e.mu.Lock()
	defer e.mu.Unlock()
	ts := strconv.FormatInt(e.t0.Add(time.Duration(c)*time.Minute+30*time.Second).UnixMilli(), 10)
	b := append(e.buf[:0], "# TYPE bench_requests_total counter\n"...)
	for i := range e.n {
		for g := range max(e.groups, 1) {
			for _, code := range [...]struct {
				text string
				v    int64
			}{{"200", c * 100000}, {"500", c * e.bad(i*max(e.groups, 1)+g)}} {
				b = append(b, `bench_requests_total{slo="s`...)
				b = strconv.AppendInt(b, int64(i), 10)
				if e.groups > 0 {
					b = append(b, `",model="m`...)
					b = strconv.AppendInt(b, int64(g), 10)
				}
				b = append(b, `",code="`...)
				b = append(b, code.text...)
				b = append(b, `"} `...)
				b = strconv.AppendInt(b, code.v, 10)
				b = append(b, ' ')
				b = append(b, ts...)
				b = append(b, '\n')
			}
		}
	}
	e.buf = b
	w.Write(b)
}

// until waits until the exporter has been scraped past the step ending t.
func (e *benchExporter) until(tb testing.TB, t time.Time) {
	k := int64(t.Sub(e.t0)/time.Minute) + 1
	waitFor(tb, "the scrape of "+t.Format(time.TimeOnly), 120*time.Second, func() bool { return e.calls.Load() > k })
}

// bad is how many of the 100,000 requests per scrape of SLO (or group) i fail.
func (e *benchExporter) bad(i int) int64 {
	if i%100 < e.firing {
		return 5000
	}
	return int64(i % 10)
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
// (all), "VmHWM" (the peak of VmRSS), "RssAnon" (heap, stacks: what the process itself holds) or
// "RssFile" (mapped files, here mostly the store's bbolt mmap, which the kernel can drop and
// re-read).
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

// cpuTime is the user and system CPU time this process has used, from /proc/self/stat (in clock
// ticks, which are 1/100 s on Linux).
func cpuTime() time.Duration {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0
	}
	// The fields after the command, which is in parentheses and may hold spaces: state is the
	// first, utime the 12th and stime the 13th.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

func heapInuse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse)
}

// benchFiring is the share of SLOs (in percent) whose alerts fire throughout: SLOD_BENCH_FIRING,
// by default 1. A firing SLO's alert state changes every cycle (its burn rates do), so its record,
// history included, is written every cycle; the others' in turns (historyWriteEvery).
func benchFiring(tb testing.TB) int {
	env := os.Getenv("SLOD_BENCH_FIRING")
	if env == "" {
		return 1
	}
	n, err := strconv.Atoi(env)
	if err != nil || n < 0 || n > 100 {
		tb.Fatalf("SLOD_BENCH_FIRING=%q: want a percentage", env)
	}
	return n
}

// benchSizes are the SLO counts BenchmarkLiveCycle measures: SLOD_BENCH_SLOS (comma-separated),
// by default 100 and 1,000. 10,000 (SLOD_BENCH_SLOS=100,1000,10000) takes several minutes more,
// most of it the backfill. BenchmarkLiveCycleGrouped reads SLOD_BENCH_GROUPED_SLOS the same way
// (default 1 and 10 SLOs of 100 groups; 100 for 10,000 instances).
func benchSizes(tb testing.TB) []int { return benchSizesOf(tb, "SLOD_BENCH_SLOS", []int{100, 1000}) }

func benchSizesOf(tb testing.TB, name string, def []int) []int {
	env := os.Getenv(name)
	if env == "" {
		return def
	}
	var out []int
	for _, f := range strings.Split(env, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			tb.Fatalf("%s=%q: want a comma-separated list of SLO counts", name, env)
		}
		out = append(out, n)
	}
	return out
}

// BenchmarkLiveCycle evaluates N SLOs (30d window, default policy) against a real Prometheus on
// loopback: one op is one steady-state cycle (after the backfill of the first). It reports the
// queries per cycle, cycle time percentiles and the memory each SLO costs, and from the second
// size on the slope of the anonymous RSS and of the live heap per SLO between consecutive sizes
// (the per-SLO cost, without the process's fixed part).
func BenchmarkLiveCycle(b *testing.B) { benchLive(b, benchSizes(b), 0) }

// BenchmarkLiveCycleGrouped is BenchmarkLiveCycle with grouped SLOs (group_by: [model]) of 100
// groups each: still two queries per SLO per cycle, each returning a series per group; the slopes
// are per instance (group).
func BenchmarkLiveCycleGrouped(b *testing.B) {
	benchLive(b, benchSizesOf(b, "SLOD_BENCH_GROUPED_SLOS", []int{1, 10}), 100)
}

// benchLive runs the sizes (SLO counts) of a live-cycle benchmark, with groups groups per SLO (0:
// SLOs without group_by).
func benchLive(b *testing.B, sizes []int, groups int) {
	requireBinary(b, "/usr/bin/prometheus")
	maxSLOs := slices.Max(sizes)
	dir := b.TempDir()
	exp := &benchExporter{t0: sli.Align(time.Now(), time.Minute), n: maxSLOs, groups: groups, firing: benchFiring(b)}
	expSrv := httptest.NewServer(exp)
	defer expSrv.Close()
	addr := freeAddr(b)
	cfg := filepath.Join(dir, "prometheus.yml")
	// Two series per SLO (or group): scrape 20,000 series every 10s rather than every 1s, so that
	// the exporter and Prometheus, which share the machine with slod, stay in the background.
	interval := "1s"
	if maxSLOs*max(groups, 1) > 1000 {
		interval = "10s"
	}
	os.WriteFile(cfg, []byte(fmt.Sprintf("global: {scrape_interval: %s, scrape_timeout: %s}\nscrape_configs:\n  - job_name: bench\n    static_configs: [{targets: [%q]}]\n", interval, interval, strings.TrimPrefix(expSrv.URL, "http://"))), 0o644)
	srv := &server{tb: b, b: backends[0], addr: addr, dir: dir, cfg: cfg}
	srv.start()
	defer srv.stop()
	waitFor(b, "3 scrapes", 120*time.Second, func() bool { return exp.calls.Load() >= 3 })

	var prev *benchMemory
	for _, n := range sizes {
		b.Run(fmt.Sprintf("slos=%d/groups=%d", n, groups), func(b *testing.B) {
			m := benchCycles(b, dir, addr, exp, n, groups)
			if prev != nil && prev.n != m.n {
				dn := float64(m.n - prev.n)
				b.ReportMetric(float64(m.anonRSS-prev.anonRSS)/dn, "anon-rss-slope-B/instance")
				b.ReportMetric(float64(m.heap-prev.heap)/dn, "heap-slope-B/instance")
			}
			prev = &m
		})
	}
}

// benchMemory is what one size of BenchmarkLiveCycle held in steady state; n counts instances (SLOs,
// or groups).
type benchMemory struct {
	n             int
	anonRSS, heap int64
}

// benchRules writes n SLOs, grouped by model when groups > 0.
func benchRules(n, groups int) string {
	var rules strings.Builder
	rules.WriteString("version: slod/v1\nservice: bench\nslos:\n")
	for i := range n {
		if groups > 0 {
			fmt.Fprintf(&rules, `  - name: s%d
    objective: 99.9
    group_by: [model]
    sli:
      events:
        error_query: sum by (model) (rate(bench_requests_total{slo="s%d",code="500"}[{{.window}}]))
        total_query: sum by (model) (rate(bench_requests_total{slo="s%d"}[{{.window}}]))
`, i, i, i)
			continue
		}
		fmt.Fprintf(&rules, `  - name: s%d
    objective: 99.9
    sli:
      events:
        error_query: sum(rate(bench_requests_total{slo="s%d",code="500"}[{{.window}}]))
        total_query: sum(rate(bench_requests_total{slo="s%d"}[{{.window}}]))
`, i, i, i)
	}
	return rules.String()
}

// instances counts the daemon's instances and those still without history.
func instances(d *Daemon) (n, empty int) {
	for _, s := range d.slos {
		for _, inst := range s.eval.Instances() {
			n++
			if inst.Stepper.History().End().IsZero() {
				empty++
			}
		}
	}
	return n, empty
}

func benchCycles(b *testing.B, base, addr string, exp *benchExporter, n, groups int) benchMemory {
	dir, err := os.MkdirTemp(base, "slod")
	if err != nil {
		b.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "rules"), 0o755)
	os.WriteFile(filepath.Join(dir, "rules", "bench.yaml"), []byte(benchRules(n, groups)), 0o644)
	inst := n * max(groups, 1)
	os.WriteFile(filepath.Join(dir, "slod.yml"), []byte(fmt.Sprintf(`prometheus: {url: "http://%s", timeout: 30s, max_concurrent_queries: 16}
evaluation: {interval: 1m, step: 1m, lookback: 10m, max_concurrency: 16}
rules: [rules/]
`, addr)), 0o644)

	// Start from what the process holds without a daemon: the previous size's daemon is
	// garbage, hand its memory back so that the RSS of this size is its own.
	runtime.GC()
	debug.FreeOSMemory()
	heap0 := heapInuse()
	var cq *countingQuerier
	d, err := New(context.Background(), Options{
		ConfigFile: filepath.Join(dir, "slod.yml"), StoragePath: filepath.Join(dir, "data"),
		Logger: slog.New(slog.DiscardHandler), Registry: prometheus.NewRegistry(),
		NewQuerier: func(c promapi.Config, o promapi.Options) (sli.Querier, error) {
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
	t := exp.t0.Add(time.Duration(exp.calls.Load()-1) * step)
	exp.until(b, t)
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
		have, empty := instances(d)
		if empty == 0 && have == inst {
			break
		}
		if warm == 5 {
			b.Fatalf("%d of %d instances, %d still without data", have, inst, empty)
		}
		t = t.Add(step)
		exp.until(b, t)
		if err := d.Cycle(context.Background(), t); err != nil {
			b.Fatal(err)
		}
	}
	heap1, rss1 := heapInuse(), rssBytes("RssAnon")
	// SLOD_BENCH_HEAP_PROFILE=file writes the heap profile after the backfill (file.N.backfill)
	// and after the measured cycles (file.N): the live heap of the second is what the daemon
	// holds for N SLOs; its allocations less those of the first (pprof -diff_base) are what the
	// steady cycles churned through.
	heapProfile := func(suffix string) {
		if path := os.Getenv("SLOD_BENCH_HEAP_PROFILE"); path != "" {
			runtime.GC()
			if f, err := os.Create(fmt.Sprintf("%s.%d%s", path, n, suffix)); err == nil {
				pprof.WriteHeapProfile(f)
				f.Close()
			}
		}
	}
	heapProfile(".backfill")
	cq.n.Store(0)
	var durations []time.Duration
	var commits time.Duration
	var gc0 runtime.MemStats
	runtime.ReadMemStats(&gc0)
	cpu0 := cpuTime()
	// b.Loop runs this function once per size, so the backfill above is not repeated for the
	// benchmark's calibration.
	for b.Loop() {
		t = t.Add(step)
		b.StopTimer()
		exp.until(b, t)
		b.StartTimer()
		began := time.Now()
		if err := d.Cycle(context.Background(), t); err != nil {
			b.Fatal(err)
		}
		durations = append(durations, time.Since(began))
		commits += time.Duration(d.lastCommit.Load())
	}
	heapProfile("")
	rssSteady := rssBytes("RssAnon")
	// slod's own CPU (this process: the daemon, and the exporter's small share), apart from
	// Prometheus's, which answers the queries.
	b.ReportMetric(float64(cpuTime()-cpu0)/1e6/float64(len(durations)), "cpu-ms/cycle")
	var gc1 runtime.MemStats
	runtime.ReadMemStats(&gc1)
	heap2 := heapInuse()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	// The collections the cycles cost (the benchmark's exporter allocates little).
	b.ReportMetric(float64(gc1.NumGC-gc0.NumGC)/float64(len(durations)), "gc/cycle")
	b.ReportMetric(float64(gc1.PauseTotalNs-gc0.PauseTotalNs)/1e6/float64(len(durations)), "gc-pause-ms/cycle")
	b.Logf("heap inuse %d MiB, idle %d MiB, released %d MiB, stacks %d MiB, sys %d MiB, goal %d MiB", ms.HeapInuse>>20, ms.HeapIdle>>20, ms.HeapReleased>>20, ms.StackInuse>>20, ms.Sys>>20, ms.NextGC>>20)
	slices.Sort(durations)
	pct := func(p float64) float64 { return durations[int(p*float64(len(durations)-1))].Seconds() * 1000 }
	b.ReportMetric(float64(cq.n.Load())/float64(len(durations)), "queries/cycle")
	b.ReportMetric(backfillTook.Seconds()*1000, "backfill-ms")
	b.ReportMetric(float64(backfillQueries)/float64(n), "backfill-queries/SLO")
	b.ReportMetric(pct(0.5), "p50-ms/cycle")
	b.ReportMetric(pct(0.99), "p99-ms/cycle")
	b.ReportMetric(commits.Seconds()*1000/float64(len(durations)), "commit-ms/cycle")
	b.ReportMetric(float64(heap1-heap0)/float64(inst), "heap-B/instance")
	// The process RSS includes the test binary, Go runtime and earlier sub-benchmarks' freed
	// heap; heap-B/SLO is the per-SLO cost, this is the ceiling it fits under. Compare the
	// steady RSS of two sizes for the slope.
	b.ReportMetric(float64(rss1)/(1<<20), "anon-rss-after-backfill-MiB")
	b.ReportMetric(float64(rssSteady)/(1<<20), "anon-rss-steady-MiB")
	b.ReportMetric(float64(rssBytes("RssFile"))/(1<<20), "file-rss-steady-MiB")
	// The process's peak RSS (anon and file) so far: for the largest size, the startup peak of
	// the backfill, whose first commit writes every SLO's history.
	b.ReportMetric(float64(rssBytes("VmHWM"))/(1<<20), "rss-peak-MiB")
	var hist int
	for _, s := range d.slos {
		for _, i := range s.eval.Instances() {
			hist += i.Stepper.History().MemoryBytes()
		}
	}
	b.ReportMetric(float64(hist)/float64(inst), "history-B/instance")
	return benchMemory{n: inst, anonRSS: rssSteady, heap: heap2}
}
