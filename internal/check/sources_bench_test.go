package check_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slod-dev/slod/internal/eval"
	"github.com/slod-dev/slod/internal/fidelity"
	"github.com/slod-dev/slod/internal/promapi"
	"github.com/slod-dev/slod/internal/recorded"
	"github.com/slod-dev/slod/internal/rules"
	"github.com/slod-dev/slod/internal/sli"
	"github.com/slod-dev/slod/internal/tsdbdir"
)

// BenchmarkCheckSources is slod check's three sources on the same data: SLOD_BENCH_SLOS services
// (default 100) × SLOD_BENCH_DAYS days (default 30 here) of 30 s samples, 30d SLOs, backtested over
// the whole recording at a 1m step (each SLO's first evaluation starts from its 30-day history,
// which holds nothing before the data). The sources: the OpenMetrics file (parse included), the
// TSDB directory promtool backfills from it (open included), and a Prometheus 2.42 on loopback
// serving a copy of that directory (its 2h blocks left uncompacted), queried as the daemon queries
// it. It reports wall and CPU
// time of slod, the HTTP queries and the CPU time Prometheus spent answering them.
func BenchmarkCheckSources(b *testing.B) {
	fidelity.Binary(b, "prometheus")
	fidelity.Binary(b, "promtool")
	n, days := benchScale(b)
	if os.Getenv("SLOD_BENCH_DAYS") == "" && !testing.Short() {
		days = 30
	}
	dir := b.TempDir()
	series, start := benchSeries(b, n, days, 0)
	data := writeBenchData(b, dir, series)
	set, err := rules.Load([]string{benchRules(b, dir, n, "30d")})
	if err != nil {
		b.Fatal(err)
	}
	tsdb, served := filepath.Join(dir, "tsdb"), filepath.Join(dir, "served")
	fidelity.BackfillSeries(b, series, tsdb)
	series = nil
	if err := os.CopyFS(served, os.DirFS(tsdb)); err != nil {
		b.Fatal(err)
	}
	// The backfilled 2h blocks stay as they are: Prometheus would otherwise compact them while the
	// benchmark measures its CPU.
	prom := fidelity.Start(b, served, "", "--storage.tsdb.max-block-duration=2h")
	from, to := start.Add(time.Minute), start.Add(time.Duration(days)*24*time.Hour-time.Minute)
	opt := eval.Options{Step: time.Minute}
	run := func(b *testing.B, q sli.Querier) {
		res, err := eval.Backtest(context.Background(), q, set.SLOs, from, to, opt, nil)
		if err != nil {
			b.Fatal(err)
		}
		if len(res) != n {
			b.Fatalf("%d results for %d SLOs", len(res), n)
		}
	}
	measure := func(b *testing.B, body func(b *testing.B)) {
		var cpu time.Duration
		for b.Loop() {
			c0 := cpuTime()
			body(b)
			cpu += cpuTime() - c0
		}
		b.ReportMetric(cpu.Seconds()/float64(b.N), "slod-cpu-s/op")
	}
	b.Run(fmt.Sprintf("slos=%d/days=%d/source=openmetrics", n, days), func(b *testing.B) {
		measure(b, func(b *testing.B) {
			db, err := recorded.ParseFile(data)
			if err != nil {
				b.Fatal(err)
			}
			run(b, recorded.NewQuerier(db))
		})
	})
	b.Run(fmt.Sprintf("slos=%d/days=%d/source=tsdb", n, days), func(b *testing.B) {
		measure(b, func(b *testing.B) {
			db, err := tsdbdir.Open(tsdb)
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			run(b, recorded.NewQueryableQuerier(db))
		})
	})
	b.Run(fmt.Sprintf("slos=%d/days=%d/source=prometheus", n, days), func(b *testing.B) {
		var queries atomic.Int64
		client, err := promapi.New(promapi.Config{URL: prom.URL, Timeout: 5 * time.Minute},
			promapi.Options{Observe: func(promapi.Observation) { queries.Add(1) }})
		if err != nil {
			b.Fatal(err)
		}
		p0, err := prom.CPUTime()
		if err != nil {
			b.Fatal(err)
		}
		measure(b, func(b *testing.B) { run(b, client) })
		p1, _ := prom.CPUTime()
		b.ReportMetric(float64(queries.Load())/float64(b.N), "queries/op")
		b.ReportMetric((p1-p0).Seconds()/float64(b.N), "prometheus-cpu-s/op")
	})
}
