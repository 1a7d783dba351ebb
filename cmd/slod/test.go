package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"time"

	"github.com/prometheus/common/model"

	"github.com/slod-dev/slod/internal/unittest"
)

func init() {
	register("test", "unit-test SLO alerts (promtool test rules style)", runTest)
}

const testUsage = `usage: slod test [--run REGEXP] [--lookback 10m] TESTFILES...

Runs the unit tests in TESTFILES (files, or directories whose *.yaml and *.yml files are taken):
each test loads input series written in Prometheus's expanding notation, evaluates the SLOs of its
rule_files with the same engine as slod check and slod run, and compares the alerts firing and the
error budget left at each eval_time with what the test expects.

Exit status: 0 when every test passes, 1 when a test fails or a file is invalid, 2 on a usage error.

Flags:
`

func runTest(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("test", testUsage, stderr)
	var opt unittest.Options
	// Not promDurationValue: this flag has always taken Prometheus durations only, and with no
	// default of its own to print, its help names the effective one.
	fs.Func("lookback", "how far back a counter's last sample bridges a scrape gap (default 10m, as slod check)", func(s string) error {
		d, err := model.ParseDuration(s)
		if err != nil {
			return err
		}
		opt.Lookback = time.Duration(d)
		return nil
	})
	fs.Func("run", "run only the tests whose names match this regular expression", func(s string) error {
		re, err := regexp.Compile(s)
		if err != nil {
			return err
		}
		opt.Run = re
		return nil
	})
	// Flags may follow the test files (`slod test rules/tests/ --lookback 5m`).
	paths, err := parseInterleaved(fs, args)
	if err != nil {
		return usageExitCode(err)
	}
	if len(paths) == 0 {
		fmt.Fprintln(stderr, "slod test: no test files given")
		fs.Usage()
		return 2
	}
	files, err := unittest.FindTestFiles(paths)
	if err != nil {
		fmt.Fprintf(stderr, "slod test: %v\n", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if !unittest.Run(ctx, files, stdout, opt).OK() {
		return 1
	}
	return 0
}
