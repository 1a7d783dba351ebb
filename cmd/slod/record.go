package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/prometheus/common/model"

	"github.com/slod-dev/slod/internal/check"
	"github.com/slod-dev/slod/internal/promapi"
	"github.com/slod-dev/slod/internal/rules"
	"github.com/slod-dev/slod/internal/sli"
)

func init() {
	register("record", "record the series that SLOs read from a live Prometheus, for slod check", runRecord)
}

const recordUsage = `usage: slod record --prometheus.url URL --from T --to T [--chunk 1h] RULES... -o FILE

Fetches from Prometheus (or anything with its query API) every sample, as Prometheus stored it, of
every series that the SLOs in RULES read in [--from, --to], and writes them as OpenMetrics text with
timestamps: the input of slod check --data. Each query is a range selector (series[1h]) over one
--chunk of the range, which returns the raw samples; slod check then sees the data the daemon's
queries see. T is RFC 3339, Unix seconds, a date (2026-10-01, UTC), now or now-DURATION (now-7d);
FILE "-" is standard output.

--step D records instead the value a query sees at every multiple of D (one per step, the last
sample within Prometheus's lookback delta): samples between steps are lost and sparse ones
repeated, so a check at a finer step than D sees data that was not there. Prefer the raw samples.

Flags:
`

type recordArgs struct {
	url            string
	from, to       time.Time
	fromSet, toSet bool
	step, chunk    time.Duration
	timeout        time.Duration
	out            string
	rules          []string
}

func parseRecordArgs(args []string, stderr io.Writer) (recordArgs, error) {
	a := recordArgs{chunk: check.DefaultRecordChunk, timeout: 2 * time.Minute}
	fs := newFlagSet("record", recordUsage, stderr)
	fs.StringVar(&a.url, "prometheus.url", "", "base URL of the Prometheus HTTP API (required)")
	fs.Var(timeArgValue{&a.from, &a.fromSet}, "from", "start of the recording: "+timeArgForms+" (required)")
	fs.Var(timeArgValue{&a.to, &a.toSet}, "to", "end of the recording: "+timeArgForms+" (required)")
	fs.Var(promDurationValue{&a.chunk}, "chunk", "span of one query: fewer samples per query with a shorter one")
	fs.Var(promDurationValue{&a.step}, "step", "record the values a query sees at multiples of this step instead of the raw samples (lossy; default: raw samples)")
	fs.Var(promDurationValue{&a.timeout}, "prometheus.timeout", "timeout of each query")
	fs.StringVar(&a.out, "o", "", "file to write (required; - for standard output)")
	var err error
	if a.rules, err = parseRules(fs, args); err != nil {
		return a, err
	}
	switch {
	case a.url == "":
		err = errors.New("--prometheus.url is required")
	case !a.fromSet || !a.toSet:
		err = errors.New("--from and --to are required")
	case a.to.Before(a.from):
		err = errors.New("--to is before --from")
	case a.step < 0:
		err = fmt.Errorf("--step must be positive, not %s", model.Duration(a.step))
	case a.chunk < time.Second:
		err = fmt.Errorf("--chunk must be at least 1s, not %s", model.Duration(a.chunk))
	case a.out == "":
		err = errors.New("-o FILE is required")
	}
	if err != nil {
		return a, usageError(fs, err)
	}
	return a, nil
}

func runRecord(args []string, stdout, stderr io.Writer) int {
	a, err := parseRecordArgs(args, stderr)
	if err != nil {
		return usageExitCode(err)
	}
	set, err := rules.Load(a.rules)
	if err != nil {
		printRuleErrors(stderr, err)
		return 1
	}
	var selectors []string
	seen := map[string]bool{}
	for _, slo := range set.SLOs {
		sels, err := sli.Selectors(slo)
		if err != nil {
			fmt.Fprintf(stderr, "slod record: %v\n", err)
			return 1
		}
		for _, s := range sels {
			if !seen[s] {
				seen[s] = true
				selectors = append(selectors, s)
			}
		}
	}
	client, err := promapi.New(promapi.Config{URL: a.url, Timeout: a.timeout}, promapi.Options{UserAgent: "slod-record/" + version})
	if err != nil {
		fmt.Fprintf(stderr, "slod record: %v\n", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var series []check.Series
	if a.step > 0 {
		series, err = check.Resample(ctx, client, selectors, a.from, a.to, a.step)
	} else {
		series, err = check.Record(ctx, client, selectors, a.from, a.to, a.chunk)
	}
	if err != nil {
		fmt.Fprintf(stderr, "slod record: %v\n", err)
		return 1
	}
	var buf bytes.Buffer
	if err := check.WriteOpenMetrics(&buf, series); err != nil {
		fmt.Fprintf(stderr, "slod record: %v\n", err)
		return 1
	}
	if err := writeRecording(a.out, buf.Bytes(), stdout); err != nil {
		fmt.Fprintf(stderr, "slod record: %v\n", err)
		return 1
	}
	samples := 0
	for _, s := range series {
		samples += len(s.Samples)
	}
	fmt.Fprintf(stderr, "slod record: %d series, %d samples from %d selectors written to %s\n", len(series), samples, len(selectors), a.out)
	return 0
}

// writeRecording writes the file through writeAtomic, so an interrupted run never leaves a
// truncated recording that slod check would reject for its missing # EOF; "-" is stdout.
func writeRecording(path string, data []byte, stdout io.Writer) error {
	if path == "-" {
		_, err := stdout.Write(data)
		return err
	}
	return writeAtomic(path, data)
}

// writeAtomic writes data to path through a temporary file in the same directory and a rename:
// path is either as it was or the whole of data, never half written.
func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".slod-*.tmp")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
