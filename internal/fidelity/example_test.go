package fidelity

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/slod-dev/slod/internal/burnrate"
	"github.com/slod-dev/slod/internal/check"
	"github.com/slod-dev/slod/internal/eval"
	"github.com/slod-dev/slod/internal/recorded"
	"github.com/slod-dev/slod/internal/rules"
)

// workbookRatio is the error ratio of an events or latency SLO over window w as a plain PromQL
// expression on the raw series, the way the SRE Workbook's recording rules compute it; ok is false
// for SLI kinds without such a direct form.
func workbookRatio(t *testing.T, slo *rules.SLO, w string) (string, bool) {
	t.Helper()
	switch slo.SLI.Kind {
	case rules.EventsSLI:
		sub := func(q string) string { return strings.ReplaceAll(q, "{{.window}}", w) }
		return fmt.Sprintf("((%s) / (%s))", sub(slo.SLI.ErrorQuery), sub(slo.SLI.TotalQuery)), true
	case rules.LatencySLI:
		e, err := parser.NewParser(parser.Options{}).ParseExpr(slo.SLI.Histogram)
		if err != nil {
			t.Fatal(err)
		}
		vs := e.(*parser.VectorSelector)
		var ms []string
		for _, m := range vs.LabelMatchers {
			if m.Name != "__name__" {
				ms = append(ms, m.String())
			}
		}
		le := strconv.FormatFloat(slo.SLI.Threshold, 'g', -1, 64)
		bucket := fmt.Sprintf(`%s_bucket{%s}`, vs.Name, strings.Join(append(append([]string{}, ms...), fmt.Sprintf("le=%q", le)), ","))
		count := fmt.Sprintf(`%s_count{%s}`, vs.Name, strings.Join(ms, ","))
		return fmt.Sprintf("(1 - sum(rate(%s[%s])) / sum(rate(%s[%s])))", bucket, w, count, w), true
	}
	return "", false
}

// TestExampleAgainstPrometheus holds the README's example to the same standard as the scenarios:
// for every events and latency SLO in rules/ (every group of a grouped one), the alerts slod check
// reports on examples/assistant.om are the ones Prometheus's own workbook expressions give on the
// same file (the group's series of them), with the default four-pair policy of a 30d SLO.
func TestExampleAgainstPrometheus(t *testing.T) {
	Binary(t, "prometheus")
	Binary(t, "promtool")
	set, err := rules.Load([]string{"../../rules"})
	if err != nil {
		t.Fatal(err)
	}
	var slos []*rules.SLO
	for _, s := range set.SLOs {
		if s.SLI.Kind == rules.EventsSLI || s.SLI.Kind == rules.LatencySLI {
			slos = append(slos, s)
		}
	}
	const file = "../../examples/assistant.om"
	db, err := recorded.ParseFile(file)
	if err != nil {
		t.Fatal(err)
	}
	first := db.MinTime().Add(step).Truncate(step).Add(step)
	last := db.MaxTime().Truncate(step)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	results, err := eval.Backtest(ctx, recorded.NewQuerier(db), slos, first, last, eval.Options{Step: step, DataStart: db.MinTime()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	prom := StartOnRecording(t, file)
	client, err := api.NewClient(api.Config{Address: prom.URL})
	if err != nil {
		t.Fatal(err)
	}
	papi := v1.NewAPI(client)
	fired := 0
	for _, res := range results {
		slo := res.SLO
		t.Run(slo.ID()+res.GroupKey, func(t *testing.T) {
			firing := map[burnrate.Severity]map[time.Time]bool{}
			for _, w := range slo.Alerting.Windows {
				long, _ := workbookRatio(t, slo, check.FormatDuration(w.Long))
				short, _ := workbookRatio(t, slo, check.FormatDuration(w.Short))
				thr := strconv.FormatFloat(w.Threshold(slo.Objective), 'g', -1, 64)
				pts := queryRangeGroup(ctx, t, papi, fmt.Sprintf("(%s > bool %s) * (%s > bool %s)", long, thr, short, thr), first, last, res.Group)
				if firing[w.Severity] == nil {
					firing[w.Severity] = map[time.Time]bool{}
				}
				for ts, v := range pts {
					if v == 1 {
						firing[w.Severity][ts] = true
					}
				}
			}
			for _, sev := range []burnrate.Severity{burnrate.Page, burnrate.Ticket} {
				want := intervals(firing[sev], first, last)
				var got []span
				for _, a := range res.Alerts {
					if a.Severity == sev && !a.NoData {
						got = append(got, span{a.Start, a.End})
					}
				}
				fired += len(want)
				t.Logf("%s: prometheus %v, slod %v", sev, want, got)
				if !sameIntervals(got, want, step) {
					t.Errorf("%s intervals differ beyond one step:\n  prometheus %v\n  slod       %v", sev, want, got)
				}
			}
		})
	}
	if fired == 0 {
		t.Error("Prometheus finds no alert in the example: the comparison proves nothing")
	}
}
