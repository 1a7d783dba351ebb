package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/prometheus/common/model"

	"github.com/slod-dev/slod/internal/config"
	"github.com/slod-dev/slod/internal/daemon"
	"github.com/slod-dev/slod/internal/promapi"
	"github.com/slod-dev/slod/internal/recorded"
	"github.com/slod-dev/slod/internal/rules"
	"github.com/slod-dev/slod/internal/sli"
	"github.com/slod-dev/slod/internal/tsdbdir"
)

// defaultCheckTimeout bounds one query of slod check to a Prometheus without a config: a backtest's
// queries span days, and a batch job can wait longer than the daemon's 30 s.
const defaultCheckTimeout = 2 * time.Minute

// checkSource is the data a backtest reads: a recording, a TSDB directory or a Prometheus.
type checkSource struct {
	querier sli.Querier
	// kind ("recording", "TSDB") and name (the file, directory or redacted URL) are for messages.
	kind, name string
	// min and max are the span of the data, zero for a Prometheus (it is not asked).
	min, max time.Time
	// intervals returns the sampling interval of the series the selectors match in [from, to];
	// nil where the source cannot tell cheaply (a Prometheus).
	intervals func(selectors []string, from, to time.Time) ([]recorded.SeriesInterval, error)
	// queries counts the HTTP queries sent (nil for local data).
	queries *atomic.Int64
	// warning is said before the backtest ("" for none).
	warning string
	close   func()
}

// openCheckSource opens --data (a file or a TSDB directory) or the Prometheus of --prometheus.url
// or of the config.
func openCheckSource(a checkArgs, cfg *config.Config) (*checkSource, error) {
	if a.data == "" {
		return openPrometheusSource(a, cfg)
	}
	info, err := os.Stat(a.data)
	if err != nil {
		return nil, fmt.Errorf("--data: %w", err)
	}
	if info.IsDir() {
		return openTSDBSource(a.data)
	}
	db, err := recorded.ParseFile(a.data)
	if err != nil {
		return nil, err
	}
	if db.Samples() == 0 {
		return nil, fmt.Errorf("%s holds no samples", a.data)
	}
	return &checkSource{
		querier: recorded.NewQuerier(db), kind: "recording", name: a.data, min: db.MinTime(), max: db.MaxTime(),
		intervals: func(sels []string, _, _ time.Time) ([]recorded.SeriesInterval, error) { return db.Intervals(sels) },
		close:     func() {},
	}, nil
}

func openTSDBSource(dir string) (*checkSource, error) {
	db, err := tsdbdir.Open(dir)
	if err != nil {
		return nil, err
	}
	if db.Empty() {
		db.Close()
		return nil, fmt.Errorf("the TSDB in %s holds no samples", dir)
	}
	src := &checkSource{
		querier: recorded.NewQueryableQuerier(db), kind: "TSDB", name: dir, min: db.MinTime(), max: db.MaxTime(),
		intervals: func(sels []string, from, to time.Time) ([]recorded.SeriesInterval, error) {
			// A day is plenty to find a scrape interval, and reading more would cost a pass over
			// the whole range before the backtest starts.
			if day := to.Add(-24 * time.Hour); day.After(from) {
				from = day
			}
			return recorded.QueryableIntervals(context.Background(), db, from.UnixMilli(), to.UnixMilli(), sels)
		},
		close: func() { db.Close() },
	}
	if t := db.WALNewer(); !t.IsZero() {
		src.warning = fmt.Sprintf("slod check: warning: %s has a write-ahead log written until %s, after its last block ends (%s): "+
			"those samples are not read; take a snapshot (POST /api/v1/admin/tsdb/snapshot) and check its directory, or use --prometheus.url",
			dir, t.Format(time.RFC3339), db.MaxTime().Format(time.RFC3339))
	}
	return src, nil
}

// openPrometheusSource is the daemon's query client: the config's prometheus section (its URL
// unless --prometheus.url is given), or --prometheus.url alone.
func openPrometheusSource(a checkArgs, cfg *config.Config) (*checkSource, error) {
	pc := promapi.Config{Timeout: a.promTimeout}
	if cfg != nil {
		pc = daemon.SourceConfig(cfg.Prometheus)
		if a.promTimeoutSet {
			pc.Timeout = a.promTimeout
		}
	}
	if a.promURL != "" {
		pc.URL = a.promURL
	}
	src := &checkSource{kind: "Prometheus", name: promapi.Redact(pc.URL), queries: &atomic.Int64{}, close: func() {}}
	client, err := promapi.New(pc, promapi.Options{UserAgent: "slod-check/" + version, Observe: func(promapi.Observation) { src.queries.Add(1) }})
	if err != nil {
		return nil, err
	}
	src.querier = client
	return src, nil
}

// label names the source in a report: a file's or directory's base name (the report may be
// shared, and the path is the author's), a Prometheus's URL without credentials.
func (src *checkSource) label() string {
	if src.kind == "Prometheus" {
		return src.name
	}
	return filepath.Base(src.name)
}

// warnCoarse warns when series the SLOs read were sampled less often than every step: the steps
// between two samples have no data, and a counter's growth lands in the steps that have one, so
// the short windows see bursts the live daemon, at its own step over the raw data, would not.
func (src *checkSource) warnCoarse(stderr io.Writer, slos []*rules.SLO, from, to time.Time, step time.Duration) error {
	if src.warning != "" {
		fmt.Fprintln(stderr, src.warning)
	}
	if src.intervals == nil {
		return nil
	}
	var selectors []string
	for _, slo := range slos {
		sels, err := sli.Selectors(slo)
		if err != nil {
			return err
		}
		selectors = append(selectors, sels...)
	}
	ivs, err := src.intervals(selectors, from, to)
	if err != nil {
		return err
	}
	var coarsest recorded.SeriesInterval
	n := 0
	for _, iv := range ivs {
		if iv.Interval > step {
			n++
			if iv.Interval > coarsest.Interval {
				coarsest = iv
			}
		}
	}
	if n > 0 {
		fmt.Fprintf(stderr, "slod check: warning: %d of the %d series the SLOs read are sampled less often than the step %s (%s every %s): "+
			"steps without a sample have no data; use a step of at least %s, or a recording of every sample (slod record)\n",
			n, len(ivs), model.Duration(step), coarsest.Series, model.Duration(coarsest.Interval), model.Duration(coarsest.Interval))
	}
	return nil
}
