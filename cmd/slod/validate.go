package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/slod-dev/slod/internal/rules"
	"github.com/slod-dev/slod/internal/sli"
)

func init() {
	register("validate", "check SLO files: every error at once, as file:line:col: field: message", runValidate)
}

const validateUsage = `usage: slod validate RULES...

Loads the SLO files in RULES (files, or directories holding *.yaml and *.yml files; slod test files
in them are skipped) and reports every problem at once, one per line on stderr, as
file:line:col: field: message. Warnings (such as an alert window pair that can never fire) go to
stderr too, as file:line:col: warning: ..., and do not make the files invalid.

Exit status: 0 when every file is valid, 1 when any is not or when RULES hold no SLO at all, 2 on
a usage error.
`

func runValidate(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("validate", validateUsage, stderr)
	if err := fs.Parse(args); err != nil {
		return usageExitCode(err)
	}
	paths := fs.Args()
	if len(paths) == 0 {
		fmt.Fprintln(stderr, "slod validate: no rule files or directories given")
		fs.Usage()
		return 2
	}
	set, err := rules.Load(paths)
	if err == nil {
		if errs := rules.CheckStep(set.SLOs, sli.DefaultStep); errs != nil {
			err = errs
		}
	}
	if err != nil {
		var errs rules.Errors
		if errors.As(err, &errs) {
			for _, d := range errs {
				fmt.Fprintln(stderr, d.Error())
			}
		} else {
			fmt.Fprintf(stderr, "slod validate: loading rules: %v\n", err)
		}
		return 1
	}
	for _, w := range set.Warnings {
		fmt.Fprintln(stderr, w.Warning())
	}
	if len(set.SLOs) == 0 {
		// A path that holds no SLO (a typo in CI) validates nothing: that is not a pass.
		fmt.Fprintf(stderr, "slod validate: %s: no SLO file found (%s read): nothing was validated\n", strings.Join(paths, " "), plural(len(set.Files), "file"))
		return 1
	}
	fmt.Fprintf(stdout, "%s: %s, %s valid\n", strings.Join(paths, " "), plural(len(set.Files), "file"), plural(len(set.SLOs), "SLO"))
	return 0
}

func plural(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
