package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/slod-dev/slod/internal/daemon"
	"github.com/slod-dev/slod/internal/rules"
	"github.com/slod-dev/slod/internal/sli"
)

func init() {
	register("validate", "check SLO files (and a daemon config): every error at once, as file:line:col: field: message", runValidate)
}

const validateUsage = `usage: slod validate RULES...
       slod validate --config.file slod.yml [RULES...]

Loads the SLO files in RULES (files, or directories holding *.yaml and *.yml files; slod test files
in them are skipped) and reports every problem at once, one per line on stderr, as
file:line:col: field: message. Warnings (such as an alert window pair that can never fire) go to
stderr too, as file:line:col: warning: ..., and do not make the files invalid. Alert windows must
be whole evaluation steps: without --config.file they are checked against the default step (1m).

With --config.file, checks a daemon config offline as slod run would at start (as promtool check
config does): the config itself, its rule files (or RULES, when given), their windows against its
evaluation.step, and that a route takes every alert of every SLO.

Exit status: 0 when everything is valid, 1 when anything is not or when the rules hold no SLO at
all, 2 on a usage error.

Flags:
`

func runValidate(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("validate", validateUsage, stderr)
	configFile := fs.String("config.file", "", "daemon config to check, with its rules (default: none, RULES at the default step)")
	paths, err := parseInterleaved(fs, args)
	if err != nil {
		return usageExitCode(err)
	}
	if len(paths) == 0 && *configFile == "" {
		return usageExitCode(usageError(fs, fmt.Errorf("no rule files or directories given")))
	}
	var set *rules.Set
	if *configFile != "" {
		var rulePaths []string
		if len(paths) > 0 {
			rulePaths = paths
		}
		_, set, err = daemon.LoadConfig(*configFile, rulePaths)
	} else {
		set, err = loadRules(paths, sli.DefaultStep)
	}
	if err != nil {
		printRuleErrors(stderr, err)
		return 1
	}
	for _, w := range set.Warnings {
		fmt.Fprintln(stderr, w.Warning())
	}
	if len(set.SLOs) == 0 {
		// A path that holds no SLO (a typo in CI) validates nothing: that is not a pass. (With
		// --config.file, LoadConfig says so, as slod run does.)
		fmt.Fprintf(stderr, "slod validate: %s: no SLO file found (%s read): nothing was validated\n", strings.Join(paths, " "), plural(len(set.Files), "file"))
		return 1
	}
	what := strings.Join(paths, " ")
	if *configFile != "" {
		what = *configFile + " and its rules"
		if len(paths) > 0 {
			what = *configFile + " with " + strings.Join(paths, " ")
		}
	}
	fmt.Fprintf(stdout, "%s: %s, %s valid\n", what, plural(len(set.Files), "file"), plural(len(set.SLOs), "SLO"))
	return 0
}

// loadRules loads the SLO files of paths and checks their windows against the evaluation step:
// the errors are rules.Errors, every one with its file:line:col.
func loadRules(paths []string, step time.Duration) (*rules.Set, error) {
	set, err := rules.Load(paths)
	if err != nil {
		return nil, err
	}
	if errs := rules.CheckStep(set.SLOs, step); errs != nil {
		return nil, errs
	}
	return set, nil
}

func plural(n int, noun string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
