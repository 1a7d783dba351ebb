package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/slod-dev/slod/internal/check"
	"github.com/slod-dev/slod/internal/daemon"
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
       slod check --config.file slod.yml [RULES...] --data FILE [--from T] [--to T] [--format text|json|html] [-o FILE]

Evaluates the SLOs in RULES (files or directories) on the recorded data in FILE (OpenMetrics text
with timestamps, as promtool tsdb dump-openmetrics or slod record write it) at every multiple of
--step in [--from, --to], with the same engine as slod run, and reports each SLO's alert intervals
and the error budget left at --to. T is RFC 3339, Unix seconds, a date (2026-10-01, UTC), now or
now-DURATION (now-7d); by default the range is the whole recording (from its first sample + step to
its last sample). --format html writes one self-contained page (charts of each SLO's budget and
burn rates, its alert intervals and a summary) that loads nothing from the network; -o writes the
report to FILE instead of stdout.

With --config.file, the step and the lookback are the daemon's (evaluation.step and
evaluation.lookback), so that the backtest evaluates as production does, and the SLOs are the
config's rules unless RULES are given; the config is checked as slod run checks it.

A recording coarser than the step (one sample a minute at --step 10s) leaves steps without data:
slod check warns about it.

Exit status: 0 when the check ran (alerts are findings, not failures), 1 when the rules or the data
are invalid or an SLO could not be evaluated, 2 on a usage error.

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
	// configFile is the daemon config whose step, lookback (and rules, without RULES) are used.
	configFile string
	// output is the file the report goes to ("": stdout).
	output string
	// observe, when set, returns the observer of the backtest from first to last at step (the
	// HTML report's charts).
	observe func(first, last time.Time, step time.Duration) eval.Observer
}

func parseCheckArgs(args []string, stderr io.Writer) (checkArgs, error) {
	a := checkArgs{step: sli.DefaultStep, lookback: sli.DefaultLookback, format: "text"}
	fs := newFlagSet("check", checkUsage, stderr)
	fs.StringVar(&a.data, "data", "", "recorded data: OpenMetrics text with timestamps (required)")
	fs.Var(timeArgValue{&a.from, &a.fromSet}, "from", "first evaluation time: "+timeArgForms+" (default: first sample + step)")
	fs.Var(timeArgValue{&a.to, &a.toSet}, "to", "last evaluation time: "+timeArgForms+" (default: last sample)")
	fs.Var(promDurationValue{&a.step}, "step", "evaluation step: SLOs are evaluated at its multiples since the Unix epoch")
	fs.Var(promDurationValue{&a.lookback}, "lookback", "how far back a counter's last sample is looked for: bridges scrape gaps shorter than this")
	fs.StringVar(&a.format, "format", "text", "output format: text, json or html (a self-contained page with charts)")
	fs.StringVar(&a.output, "o", "", "write the report to this file instead of stdout")
	fs.StringVar(&a.configFile, "config.file", "", "daemon config: evaluate at its evaluation.step and lookback, its rules unless RULES are given")
	var err error
	if a.rules, err = parseInterleaved(fs, args); err != nil {
		return a, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch {
	case len(a.rules) == 0 && a.configFile == "":
		err = errors.New("no RULES given")
	case a.configFile != "" && (set["step"] || set["lookback"]):
		err = errors.New("--step and --lookback come from --config.file (evaluation.step and evaluation.lookback)")
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
		a.observe = func(first, last time.Time, step time.Duration) eval.Observer {
			col = report.NewCollector(first, last, step)
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
	// The report shows each SLO's error in its place; stderr and the exit status say that there
	// were any, for scripts and CI.
	code = 0
	for _, res := range rep.Results {
		if p := check.Problem(res); p != "" {
			fmt.Fprintf(stderr, "slod check: %s: %s\n", res.ID(), p)
			code = 1
		}
	}
	return code
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
// reason has been printed. The errors of single SLOs are in the report's results.
func checkReport(ctx context.Context, a checkArgs, stderr io.Writer) (check.Report, int) {
	set, err := checkRules(&a)
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
	if err := warnCoarse(stderr, db, set.SLOs, a.step); err != nil {
		fmt.Fprintf(stderr, "slod check: %v\n", err)
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
		obs = a.observe(first, last, a.step)
	}
	results, err := eval.Backtest(ctx, recorded.NewQuerier(db), set.SLOs, first, last, opt, obs)
	if results == nil {
		var span *eval.SpanError
		if errors.As(err, &span) {
			fmt.Fprintf(stderr, "slod check: %v (the recording %s spans %s to %s): narrow the range with --from and --to, or use a longer --step\n",
				err, a.data, db.MinTime().Format(time.RFC3339), db.MaxTime().Format(time.RFC3339))
		} else {
			fmt.Fprintf(stderr, "slod check: %v\n", err)
		}
		return check.Report{}, 1
	}
	return check.Report{From: first, To: last, Step: a.step, Results: results}, 0
}

// checkRules loads the SLOs to backtest: RULES at --step, or the daemon config's rules (or RULES) at
// its step, whose step and lookback it sets in a.
func checkRules(a *checkArgs) (*rules.Set, error) {
	if a.configFile == "" {
		return loadRules(a.rules, a.step)
	}
	var paths []string
	if len(a.rules) > 0 {
		paths = a.rules
	}
	cfg, set, err := daemon.LoadConfig(a.configFile, paths)
	if err != nil {
		return nil, err
	}
	a.step, a.lookback = cfg.Evaluation.Step.D(), cfg.Evaluation.Lookback.D()
	if len(a.rules) == 0 {
		a.rules = []string{a.configFile}
	}
	return set, nil
}

// warnCoarse warns when series the SLOs read were sampled less often than every step: the steps
// between two samples have no data, and a counter's growth lands in the steps that have one, so
// the short windows see bursts the live daemon, at its own step over the raw data, would not.
func warnCoarse(stderr io.Writer, db *recorded.DB, slos []*rules.SLO, step time.Duration) error {
	var selectors []string
	for _, slo := range slos {
		sels, err := sli.Selectors(slo)
		if err != nil {
			return err
		}
		selectors = append(selectors, sels...)
	}
	ivs, err := db.Intervals(selectors)
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
