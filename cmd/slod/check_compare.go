package main

import (
	"context"
	"fmt"
	"io"

	"github.com/slod-dev/slod/internal/check"
	"github.com/slod-dev/slod/internal/compare"
	"github.com/slod-dev/slod/internal/config"
	"github.com/slod-dev/slod/internal/eval"
	"github.com/slod-dev/slod/internal/report"
	"github.com/slod-dev/slod/internal/rules"
)

// runCompare is slod check --compare OLD_RULES NEW_RULES: both sets backtested over the same data
// and range, in one backtest (the data is read once), and what the change does per SLO.
func runCompare(ctx context.Context, a checkArgs, stdout, stderr io.Writer) int {
	var (
		sets [2]*rules.Set
		cfg  *config.Config
	)
	for i, path := range a.rules {
		set, c, ok := loadCheckRules(&a, []string{path}, stderr)
		if !ok {
			return 1
		}
		sets[i], cfg = set, c
	}
	var incidents []compare.Incident
	if a.incidents != "" {
		var err error
		if incidents, err = compare.LoadIncidents(a.incidents); err != nil {
			printRuleErrors(stderr, err)
			return 1
		}
		if incidents == nil {
			incidents = []compare.Incident{} // given, if empty: the report has the columns
		}
	}
	all := append(append([]*rules.SLO{}, sets[0].SLOs...), sets[1].SLOs...)
	bt, data, code := backtestSource(ctx, a, cfg, all, stderr)
	if code != 0 {
		return code
	}
	old := map[*rules.SLO]bool{}
	for _, slo := range sets[0].SLOs {
		old[slo] = true
	}
	var oldRes, newRes []eval.Result
	for _, r := range bt.Results {
		if old[r.SLO] {
			oldRes = append(oldRes, r)
		} else {
			newRes = append(newRes, r)
		}
	}
	rep := compare.Build(oldRes, newRes, compare.Options{From: bt.From, To: bt.To, Step: bt.Step, OldName: a.rules[0], NewName: a.rules[1], Incidents: incidents})
	return writeComparison(a, rep, data, bt.Results, stdout, stderr)
}

// writeComparison prints the comparison (data names the source, for the HTML page) and returns
// the exit status: 1 when an SLO could not be evaluated or the new rules page more than
// --fail-on-more-pages allows.
func writeComparison(a checkArgs, rep compare.Report, data string, results []eval.Result, stdout, stderr io.Writer) int {
	err := writeOutput(a.output, stdout, func(w io.Writer) error {
		switch a.format {
		case "json":
			return compare.WriteJSON(w, rep)
		case "html":
			return report.WriteComparison(w, rep, data)
		}
		return compare.WriteText(w, rep)
	})
	if err != nil {
		fmt.Fprintf(stderr, "slod check: %v\n", err)
		return 1
	}
	code := reportProblems(stderr, results)
	if a.failOnMorePages.set && rep.MorePages() > float64(a.failOnMorePages.n) {
		which := ""
		if rep.BudgetAlerts {
			which = " (budget pages included)"
		}
		fmt.Fprintf(stderr, "slod check: the new rules page %s times per 30 days%s, %s more than the old rules' %s: more than --fail-on-more-pages %d\n",
			compareRate(rep.New.AllPagesPer30d()), which, compareRate(rep.MorePages()), compareRate(rep.Old.AllPagesPer30d()), a.failOnMorePages.n)
		code = 1
	}
	return code
}

func compareRate(v float64) string { return check.FormatNumber(v, 1) }
