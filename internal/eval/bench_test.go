package eval

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/slod-dev/slod/internal/burnrate"
	"github.com/slod-dev/slod/internal/rules"
	"github.com/slod-dev/slod/internal/sli"
)

// noBridge is a GroupBridger that is never asked (the benchmark's steps have no gaps), so that the
// instances get a bridge as Backtest's do.
type noBridge struct{}

func (noBridge) BridgeGroups(context.Context, time.Time, time.Time) ([]sli.Group, error) {
	return nil, fmt.Errorf("no bridge")
}

// BenchmarkBacktestStep is one evaluation step of a backtest (backtester.at) for an SLO with the
// given number of groups, without the queries: the step cut out of the fetched batch, each group's
// increment appended to its full 30d history and the evaluation of its alerts.
func BenchmarkBacktestStep(b *testing.B) {
	for _, n := range []int{1, 10} {
		b.Run(fmt.Sprint("groups=", n), func(b *testing.B) {
			slo := benchSLO(b, n > 1)
			bt := newBacktester(slo, t0, Options{Step: time.Minute}, nil)
			groups := make([]sli.Group, n)
			for i := range groups {
				if n > 1 {
					groups[i].Key = fmt.Sprintf(`{model="m%02d"}`, i)
					groups[i].Labels = map[string]string{"model": fmt.Sprintf("m%02d", i)}
				}
				groups[i].Incs = make([]burnrate.Increment, 1)
			}
			ctx := context.Background()
			t := t0
			var buf []sli.Group
			step := func() {
				t = t.Add(time.Minute)
				for i := range groups {
					groups[i].Incs[0] = burnrate.Increment{End: t, Bad: 0.5, Total: 1000}
				}
				buf = sliceGroups(buf, groups, 0, 1)
				bt.at(ctx, t, buf, noBridge{})
			}
			for range 31 * 24 * 60 {
				step()
			}
			b.ReportAllocs()
			for b.Loop() {
				step()
			}
		})
	}
}

func benchSLO(b *testing.B, grouped bool) *rules.SLO {
	b.Helper()
	file := "version: slod/v1\nservice: svc\nslos:\n  - name: avail\n    objective: 99.9\n"
	if grouped {
		file += "    group_by: [model]\n    max_groups: 100\n"
	}
	file += "    sli:\n      events:\n" +
		"        error_query: sum by (model) (rate(req_total{code=\"500\"}[{{.window}}]))\n" +
		"        total_query: sum by (model) (rate(req_total[{{.window}}]))\n" + groupedPolicy
	slos, _, err := rules.Parse("bench.yaml", []byte(file))
	if err != nil {
		b.Fatal(err)
	}
	return slos[0]
}
