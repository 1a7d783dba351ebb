package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/slod-dev/slod/internal/check"
	"github.com/slod-dev/slod/internal/config"
	"github.com/slod-dev/slod/internal/daemon"
	"github.com/slod-dev/slod/internal/eval"
	"github.com/slod-dev/slod/internal/report"
	"github.com/slod-dev/slod/internal/rules"
	"github.com/slod-dev/slod/internal/sli"
)

func init() {
	register("check", "backtest SLOs on recorded data or a Prometheus: when would they have paged; compare two rule sets", runCheck)
}

const checkUsage = `usage: slod check RULES... --data FILE|DIR [--from T] [--to T] [--step 1m] [--lookback 10m] [--format text|json|html] [-o FILE]
       slod check RULES... --prometheus.url URL --from T [--to T] [--step 1m] [--lookback 10m] [--format text|json|html] [-o FILE]
       slod check --config.file slod.yml [RULES...] [--data FILE|DIR | --prometheus.url URL] [--from T] [--to T] [--format text|json|html] [-o FILE]
       slod check --compare OLD_RULES NEW_RULES (--data FILE|DIR | --prometheus.url URL) [--incidents FILE] [--fail-on-more-pages N] ...

Evaluates the SLOs in RULES (files or directories) at every multiple of --step in [--from, --to],
with the same engine as slod run, and reports each SLO's alert intervals and the error budget left
at --to. The data is one of:

  --data FILE            OpenMetrics text with timestamps, as promtool tsdb dump-openmetrics or
                         slod record write it;
  --data DIR             a Prometheus TSDB data directory or snapshot (POST /api/v1/admin/tsdb/snapshot),
                         read-only: its blocks (a running Prometheus's last hours, still in its
                         write-ahead log, are not read: take a snapshot for them);
  --prometheus.url URL   a Prometheus, Thanos, Mimir or VictoriaMetrics query API, queried as the
                         daemon queries it (the same increments, at every step, split under the
                         11,000-points limit); --from is required, --to defaults to now.

T is RFC 3339, Unix seconds, a date (2026-10-01, UTC), now or now-DURATION (now-7d); with --data
the range defaults to the whole recording (from its first sample + step to its last sample).

--format html writes one self-contained page (charts of each SLO's budget and burn rates, its alert
intervals and a summary; with --compare, the comparison's table and the known incidents) that loads
nothing from the network; -o writes the report to FILE instead of stdout.

With --config.file, the step and the lookback are the daemon's (evaluation.step and
evaluation.lookback), so that the backtest evaluates as production does, the SLOs are the config's
rules unless RULES are given, and without --data the source is the config's prometheus section
(its URL unless --prometheus.url is given, its authentication, TLS, headers and timeout); the
config is checked as slod run checks it.

--compare evaluates OLD_RULES and NEW_RULES (a file or directory each) over the same data and
prints, per SLO, what the change does to the pager: pages and tickets per 30 days (budget alerts
apart), time firing, flaps (a re-fire within an hour of a resolve), the alerts a low-traffic guard
suppressed, the budget left at --to and spent before the first page, and with --incidents FILE how
late each set paged for the known incidents it lists and which it missed.

A recording coarser than the step (one sample a minute at --step 10s) leaves steps without data:
slod check warns about it. On a terminal, a progress line is written to stderr.

Exit status: 0 when the check ran (alerts are findings, not failures), 1 when the rules or the data
are invalid or an SLO could not be evaluated, or with --fail-on-more-pages N when the new rules
page more than N more times per 30 days than the old ones (budget pages included), 2 on a usage
error.

Flags:
`

// checkArgs are the parsed arguments of slod check.
type checkArgs struct {
	rules       []string
	data        string
	promURL     string
	promTimeout time.Duration
	// promTimeoutSet: --prometheus.timeout was given (else a config's timeout wins).
	promTimeoutSet bool
	from, to       time.Time
	fromSet, toSet bool
	step, lookback time.Duration
	format         string
	// configFile is the daemon config whose step, lookback (and rules, without RULES; and source,
	// without --data) are used.
	configFile string
	// compare: rules are OLD_RULES and NEW_RULES.
	compare         bool
	incidents       string
	failOnMorePages optionalInt
	// output is the file the report goes to ("": stdout).
	output string
	// observe, when set, returns the observer of the backtest from first to last at step (the
	// HTML report's charts).
	observe func(first, last time.Time, step time.Duration) eval.Observer
}

func parseCheckArgs(args []string, stderr io.Writer) (checkArgs, error) {
	a := checkArgs{step: sli.DefaultStep, lookback: sli.DefaultLookback, format: "text", promTimeout: defaultCheckTimeout}
	fs := newFlagSet("check", checkUsage, stderr)
	fs.StringVar(&a.data, "data", "", "recorded data: OpenMetrics text with timestamps (a file), or a Prometheus TSDB directory or snapshot")
	fs.StringVar(&a.promURL, "prometheus.url", "", "query this Prometheus (or Thanos, Mimir, VictoriaMetrics) API instead of recorded data")
	fs.Var(promDurationValue{&a.promTimeout}, "prometheus.timeout", "timeout of each query to a Prometheus (with --config.file, its prometheus.timeout unless this is given)")
	fs.Var(timeArgValue{&a.from, &a.fromSet}, "from", "first evaluation time: "+timeArgForms+" (default with --data: first sample + step)")
	fs.Var(timeArgValue{&a.to, &a.toSet}, "to", "last evaluation time: "+timeArgForms+" (default: the last sample; now with a Prometheus)")
	fs.Var(promDurationValue{&a.step}, "step", "evaluation step: SLOs are evaluated at its multiples since the Unix epoch")
	fs.Var(promDurationValue{&a.lookback}, "lookback", "how far back a counter's last sample is looked for: bridges scrape gaps shorter than this")
	fs.StringVar(&a.format, "format", "text", "output format: text, json or html (a self-contained page)")
	fs.StringVar(&a.output, "o", "", "write the report to this `FILE` instead of stdout (-: stdout)")
	fs.StringVar(&a.configFile, "config.file", "", "daemon config: evaluate at its evaluation.step and lookback, its rules unless RULES are given, its prometheus source without --data")
	fs.BoolVar(&a.compare, "compare", false, "compare two rule sets: RULES are OLD_RULES NEW_RULES")
	fs.StringVar(&a.incidents, "incidents", "", "with --compare: a YAML `FILE` of known incidents (name, slos, start, end), for detection delays and missed incidents")
	fs.Var(&a.failOnMorePages, "fail-on-more-pages", "with --compare: exit 1 when the new rules page more than `N` more times per 30 days than the old ones")
	var err error
	if a.rules, err = parseInterleaved(fs, args); err != nil {
		return a, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	a.promTimeoutSet = set["prometheus.timeout"]
	if err = checkArgsError(a, set); err != nil {
		return a, usageError(fs, err)
	}
	return a, nil
}

// checkArgsError is what is wrong with the arguments, nil when nothing is.
func checkArgsError(a checkArgs, set map[string]bool) error {
	switch {
	case a.compare && len(a.rules) != 2:
		return fmt.Errorf("--compare takes two RULES, OLD_RULES and NEW_RULES, not %d", len(a.rules))
	case !a.compare && (a.incidents != "" || a.failOnMorePages.set):
		return errors.New("--incidents and --fail-on-more-pages need --compare")
	case len(a.rules) == 0 && a.configFile == "":
		return errors.New("no RULES given")
	case a.configFile != "" && (set["step"] || set["lookback"]):
		return errors.New("--step and --lookback come from --config.file (evaluation.step and evaluation.lookback)")
	case a.data != "" && a.promURL != "":
		return errors.New("--data and --prometheus.url are two sources: give one")
	case a.data == "" && a.promURL == "" && a.configFile == "":
		return errors.New("--data or --prometheus.url is required")
	case a.data == "" && !a.fromSet:
		return errors.New("--from is required with a Prometheus source (how far back to evaluate, e.g. now-30d)")
	case a.format != "text" && a.format != "json" && a.format != "html":
		return fmt.Errorf("--format must be text, json or html, not %q", a.format)
	case a.step <= 0:
		return fmt.Errorf("--step must be positive, not %s", model.Duration(a.step))
	case a.lookback < a.step:
		return fmt.Errorf("--lookback %s must be at least the step %s", model.Duration(a.lookback), model.Duration(a.step))
	case a.fromSet && a.toSet && a.to.Before(a.from):
		return errors.New("--to is before --from")
	case a.promTimeout <= 0:
		return fmt.Errorf("--prometheus.timeout must be positive, not %s", model.Duration(a.promTimeout))
	case a.failOnMorePages.set && a.failOnMorePages.n < 0:
		return fmt.Errorf("--fail-on-more-pages must be 0 or more, not %d", a.failOnMorePages.n)
	}
	return nil
}

func runCheck(args []string, stdout, stderr io.Writer) int {
	a, err := parseCheckArgs(args, stderr)
	if err != nil {
		return usageExitCode(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if a.compare {
		return runCompare(ctx, a, stdout, stderr)
	}
	var col *report.Collector
	if a.format == "html" {
		a.observe = func(first, last time.Time, step time.Duration) eval.Observer {
			col = report.NewCollector(first, last, step)
			return col.Observe
		}
	}
	rep, data, code := checkReport(ctx, a, stderr)
	if code != 0 {
		return code
	}
	err = writeOutput(a.output, stdout, func(w io.Writer) error {
		switch a.format {
		case "json":
			return check.WriteJSON(w, rep)
		case "html":
			return report.Write(w, rep, col, data)
		}
		return check.WriteText(w, rep)
	})
	if err != nil {
		fmt.Fprintf(stderr, "slod check: %v\n", err)
		return 1
	}
	return reportProblems(stderr, rep.Results)
}

// writeOutput calls write with -o's file (created), or with stdout without -o or with -o -.
func writeOutput(output string, stdout io.Writer, write func(io.Writer) error) error {
	if output == "" || output == "-" {
		return write(stdout)
	}
	f, err := os.Create(output)
	if err != nil {
		return err
	}
	err = write(f)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("writing %s: %w", output, cerr)
	}
	return err
}

// reportProblems names on stderr every SLO that could not be evaluated (the report shows each
// error in its place; stderr and the exit status say that there were any, for scripts and CI) and
// returns the exit status: 1 when there was one.
func reportProblems(stderr io.Writer, results []eval.Result) int {
	code := 0
	for _, res := range results {
		if p := check.Problem(res); p != "" {
			fmt.Fprintf(stderr, "slod check: %s: %s\n", res.ID(), p)
			code = 1
		}
	}
	return code
}

// checkReport loads rules and data and runs the backtest; data names the source for the HTML
// report. A non-zero code means it failed and the reason has been printed. The errors of single
// SLOs are in the report's results.
func checkReport(ctx context.Context, a checkArgs, stderr io.Writer) (rep check.Report, data string, code int) {
	set, cfg, ok := loadCheckRules(&a, a.rules, stderr)
	if !ok {
		return check.Report{}, "", 1
	}
	return backtestSource(ctx, a, cfg, set.SLOs, stderr)
}

// backtestSource opens the data (--data, or a Prometheus) and backtests slos over the range;
// data names the source for the HTML report. A non-zero code means it failed and the reason has
// been printed.
func backtestSource(ctx context.Context, a checkArgs, cfg *config.Config, slos []*rules.SLO, stderr io.Writer) (rep check.Report, data string, code int) {
	src, err := openCheckSource(a, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "slod check: %v\n", err)
		return check.Report{}, "", 1
	}
	defer src.close()
	first, last, code := backtestRange(a, src, stderr)
	if code != 0 {
		return check.Report{}, "", code
	}
	results, code := backtest(ctx, a, src, slos, first, last, stderr)
	if code != 0 {
		return check.Report{}, "", code
	}
	return check.Report{From: first, To: last, Step: a.step, Results: results}, src.label(), 0
}

// backtestRange is the range of evaluation times: --from and --to, by default the data's span. It
// warns when the data the SLOs read is coarser than the step.
func backtestRange(a checkArgs, src *checkSource, stderr io.Writer) (first, last time.Time, code int) {
	from, to := a.from, a.to
	if !a.fromSet {
		from = src.min.Add(a.step)
	}
	if !a.toSet {
		to = src.max
		if src.max.IsZero() {
			to = timeNow()
		}
	}
	first, last = alignUpTo(from, a.step), sli.Align(to, a.step)
	if last.Before(first) {
		fmt.Fprintf(stderr, "slod check: no multiple of --step %s between %s and %s\n", model.Duration(a.step), from.Format(time.RFC3339), to.Format(time.RFC3339))
		return first, last, 2
	}
	return first, last, 0
}

// backtest evaluates slos over the source, with a progress line on a terminal; a non-zero code
// means it failed as a whole and the reason has been printed.
func backtest(ctx context.Context, a checkArgs, src *checkSource, slos []*rules.SLO, first, last time.Time, stderr io.Writer) ([]eval.Result, int) {
	if err := src.warnCoarse(stderr, slos, first, last, a.step); err != nil {
		fmt.Fprintf(stderr, "slod check: %v\n", err)
		return nil, 1
	}
	opt := eval.Options{Step: a.step, Lookback: a.lookback, DataStart: src.min}
	var obs eval.Observer
	if a.observe != nil {
		obs = a.observe(first, last, a.step)
	}
	bar := startProgress(stderr, eval.Steps(first, last, a.step)*int64(len(slos)), src.queries)
	opt.Progress = bar.add
	results, err := eval.Backtest(ctx, src.querier, slos, first, last, opt, obs)
	bar.stop()
	if results == nil {
		var span *eval.SpanError
		if errors.As(err, &span) && !src.min.IsZero() {
			fmt.Fprintf(stderr, "slod check: %v (the %s %s spans %s to %s): narrow the range with --from and --to, or use a longer --step\n",
				err, src.kind, src.name, src.min.Format(time.RFC3339), src.max.Format(time.RFC3339))
		} else {
			fmt.Fprintf(stderr, "slod check: %v\n", err)
		}
		return nil, 1
	}
	return results, 0
}

// loadCheckRules is checkRules, printing what is wrong (every problem of the rules, their
// warnings, paths without SLOs); ok is false when the check cannot go on.
func loadCheckRules(a *checkArgs, paths []string, stderr io.Writer) (*rules.Set, *config.Config, bool) {
	set, cfg, err := checkRules(a, paths)
	if err != nil {
		printRuleErrors(stderr, err)
		return nil, nil, false
	}
	for _, w := range set.Warnings {
		fmt.Fprintln(stderr, w.Warning())
	}
	if len(set.SLOs) == 0 {
		if len(paths) == 0 {
			paths = a.rules
		}
		fmt.Fprintf(stderr, "slod check: no SLOs in %s\n", strings.Join(paths, ", "))
		return nil, nil, false
	}
	return set, cfg, true
}

// checkRules loads the SLOs in paths to backtest: at --step, or with --config.file the config's
// rules (or those in paths) at its step, whose step and lookback it sets in a. The config is nil
// without --config.file.
func checkRules(a *checkArgs, paths []string) (*rules.Set, *config.Config, error) {
	if a.configFile == "" {
		set, err := loadRules(paths, a.step)
		return set, nil, err
	}
	var rulePaths []string
	if len(paths) > 0 {
		rulePaths = paths
	}
	cfg, set, err := daemon.LoadConfig(a.configFile, rulePaths)
	if err != nil {
		return nil, nil, err
	}
	a.step, a.lookback = cfg.Evaluation.Step.D(), cfg.Evaluation.Lookback.D()
	if len(a.rules) == 0 {
		a.rules = []string{a.configFile}
	}
	return set, cfg, nil
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
