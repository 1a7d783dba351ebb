package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/slod-dev/slod/internal/check"
	"github.com/slod-dev/slod/internal/eval"
	"github.com/slod-dev/slod/internal/recorded"
	"github.com/slod-dev/slod/internal/report"
	"github.com/slod-dev/slod/internal/rules"
	"github.com/slod-dev/slod/internal/sli"
)

func init() {
	register("check", "backtest SLOs on recorded data: when would they have paged", runCheck)
}

const checkUsage = `usage: slod check RULES... --data FILE [--from T] [--to T] [--step 1m] [--lookback 10m] [--format text|json|html] [-o FILE]

Evaluates the SLOs in RULES (files or directories) on the recorded data in FILE (OpenMetrics text
with timestamps, as promtool tsdb dump-openmetrics or slod record write it) at every multiple of
--step in [--from, --to], with the same engine as slod run, and reports each SLO's alert intervals
and the error budget left at --to. T is RFC 3339 or Unix seconds; by default the range is the whole
recording (from its first sample + step to its last sample). --format html writes one
self-contained page (charts of each SLO's budget and burn rates, its alert intervals and a summary)
that loads nothing from the network; -o writes the report to FILE instead of stdout.

Exit status: 0 when the check ran (alerts are findings, not failures), 1 when the rules or the data
are invalid, 2 on a usage error.

Flags:
`

// checkArgs are the parsed arguments of slod check.
type checkArgs struct {
	rules          []string
	data           string
	from, to       time.Time
	fromSet, toSet bool
	step, lookback time.Duration
	format         string
	// output is the file the report goes to ("": stdout).
	output string
	// observe, when set, returns the observer of the backtest from first to last (the HTML
	// report's charts).
	observe func(first, last time.Time) eval.Observer
}

func parseCheckArgs(args []string, stderr io.Writer) (checkArgs, error) {
	a := checkArgs{step: sli.DefaultStep, lookback: sli.DefaultLookback, format: "text"}
	fs := newFlagSet("check", checkUsage, stderr)
	fs.StringVar(&a.data, "data", "", "recorded data: OpenMetrics text with timestamps (required)")
	fs.Var(timeArgValue{&a.from, &a.fromSet}, "from", "first evaluation time, RFC 3339 or Unix seconds (default: first sample + step)")
	fs.Var(timeArgValue{&a.to, &a.toSet}, "to", "last evaluation time, RFC 3339 or Unix seconds (default: last sample)")
	fs.Var(promDurationValue{&a.step}, "step", "evaluation step: SLOs are evaluated at its multiples since the Unix epoch")
	fs.Var(promDurationValue{&a.lookback}, "lookback", "how far back a counter's last sample is looked for: bridges scrape gaps shorter than this")
	fs.StringVar(&a.format, "format", "text", "output format: text, json or html (a self-contained page with charts)")
	fs.StringVar(&a.output, "o", "", "write the report to this file instead of stdout")
	var err error
	if a.rules, err = parseRules(fs, args); err != nil {
		return a, err
	}
	switch {
	case a.data == "":
		err = errors.New("--data is required")
	case a.format != "text" && a.format != "json" && a.format != "html":
		err = fmt.Errorf("--format must be text, json or html, not %q", a.format)
	case a.step <= 0:
		err = fmt.Errorf("--step must be positive, not %s", model.Duration(a.step))
	case a.lookback < a.step:
		err = fmt.Errorf("--lookback %s must be at least the step %s", model.Duration(a.lookback), model.Duration(a.step))
	case a.fromSet && a.toSet && a.to.Before(a.from):
		err = errors.New("--to is before --from")
	}
	if err != nil {
		return a, usageError(fs, err)
	}
	return a, nil
}

func runCheck(args []string, stdout, stderr io.Writer) int {
	a, err := parseCheckArgs(args, stderr)
	if err != nil {
		return usageExitCode(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var col *report.Collector
	if a.format == "html" {
		a.observe = func(first, last time.Time) eval.Observer {
			col = report.NewCollector(first, last, a.step)
			return col.Observe
		}
	}
	rep, code := checkReport(ctx, a, stderr)
	if code != 0 {
		return code
	}
	if err := writeCheckReport(a, rep, col, stdout); err != nil {
		fmt.Fprintf(stderr, "slod check: %v\n", err)
		return 1
	}
	return 0
}

// writeCheckReport writes the report in the format asked for, to -o's file or stdout.
func writeCheckReport(a checkArgs, rep check.Report, col *report.Collector, stdout io.Writer) error {
	w, closeOut := stdout, func() error { return nil }
	if a.output != "" {
		f, err := os.Create(a.output)
		if err != nil {
			return err
		}
		w, closeOut = f, f.Close
	}
	var err error
	switch a.format {
	case "json":
		err = check.WriteJSON(w, rep)
	case "html":
		err = report.Write(w, rep, col, filepath.Base(a.data))
	default:
		err = check.WriteText(w, rep)
	}
	if cerr := closeOut(); err == nil && cerr != nil {
		err = fmt.Errorf("writing %s: %w", a.output, cerr)
	}
	return err
}

// checkReport loads rules and data and runs the backtest; a non-zero code means it failed and the
// reason has been printed.
func checkReport(ctx context.Context, a checkArgs, stderr io.Writer) (check.Report, int) {
	set, err := rules.Load(a.rules)
	if err != nil {
		printRuleErrors(stderr, err)
		return check.Report{}, 1
	}
	for _, w := range set.Warnings {
		fmt.Fprintln(stderr, w.Warning())
	}
	if len(set.SLOs) == 0 {
		fmt.Fprintf(stderr, "slod check: no SLOs in %s\n", strings.Join(a.rules, ", "))
		return check.Report{}, 1
	}
	db, err := recorded.ParseFile(a.data)
	if err != nil {
		fmt.Fprintf(stderr, "slod check: %v\n", err)
		return check.Report{}, 1
	}
	if db.Samples() == 0 {
		fmt.Fprintf(stderr, "slod check: %s holds no samples\n", a.data)
		return check.Report{}, 1
	}
	from, to := a.from, a.to
	if !a.fromSet {
		from = db.MinTime().Add(a.step)
	}
	if !a.toSet {
		to = db.MaxTime()
	}
	first, last := alignUpTo(from, a.step), sli.Align(to, a.step)
	if last.Before(first) {
		fmt.Fprintf(stderr, "slod check: no multiple of --step %s between %s and %s\n", model.Duration(a.step), from.Format(time.RFC3339), to.Format(time.RFC3339))
		return check.Report{}, 2
	}
	opt := eval.Options{Step: a.step, Lookback: a.lookback, DataStart: db.MinTime()}
	var obs eval.Observer
	if a.observe != nil {
		obs = a.observe(first, last)
	}
	results, err := eval.Backtest(ctx, recorded.NewQuerier(db), set.SLOs, first, last, opt, obs)
	if err != nil {
		fmt.Fprintf(stderr, "slod check: %v\n", err)
		return check.Report{}, 1
	}
	return check.Report{From: first, To: last, Step: a.step, Results: results}, 0
}

// alignUpTo is the first multiple of step at or after t.
func alignUpTo(t time.Time, step time.Duration) time.Time {
	a := sli.Align(t, step)
	if a.Before(t.Truncate(time.Millisecond)) {
		a = a.Add(step)
	}
	return a
}

// printRuleErrors prints every problem of a rules error on a line of its own (file:line:col: ...).
func printRuleErrors(w io.Writer, err error) {
	var errs rules.Errors
	if errors.As(err, &errs) {
		for _, d := range errs {
			fmt.Fprintln(w, d.Error())
		}
		return
	}
	fmt.Fprintln(w, err)
}
