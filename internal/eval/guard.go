package eval

import (
	"context"
	"time"

	"github.com/slod-dev/slod/internal/rules"
	"github.com/slod-dev/slod/internal/sli"
)

// guardEffect measures an SLO's low-traffic guard (alerting.min_bad_events) on the backtest's
// data: it backtests the SLO again without the guard and sets, on each of rs (the guarded
// results), Suppressed: how many alert intervals the unguarded SLO had that the guarded one did
// not (see suppressed). An SLO without a guard is left as it is.
func guardEffect(ctx context.Context, q sli.Querier, slo *rules.SLO, first, last time.Time, opt Options, rs []Result) error {
	if slo.Alerting.MinBadEvents <= 0 {
		return nil
	}
	free := *slo
	free.Alerting.MinBadEvents = 0
	frs, err := backtestOne(ctx, q, &free, first, last, opt, nil)
	if err != nil {
		return err
	}
	byKey := make(map[string][]AlertInterval, len(frs))
	for _, r := range frs {
		byKey[r.GroupKey] = r.Alerts
	}
	for i := range rs {
		rs[i].Suppressed = suppressed(rs[i].Alerts, byKey[rs[i].GroupKey])
	}
	return nil
}

// suppressed counts the burn-rate alert intervals of free (the SLO evaluated without its guard)
// during which the alert of the same severity never fired in guarded: the pages and tickets the
// guard kept from being sent. An interval the guard only shortened (the guarded alert fired later,
// once the long window had counted enough bad events) is not counted.
func suppressed(guarded, free []AlertInterval) int {
	n := 0
	for _, f := range free {
		if f.NoData || f.Budget {
			continue
		}
		overlaps := false
		for _, g := range guarded {
			if !g.NoData && !g.Budget && g.Severity == f.Severity && before(g.Start, f.End) && before(f.Start, g.End) {
				overlaps = true
				break
			}
		}
		if !overlaps {
			n++
		}
	}
	return n
}

// before reports whether t is before end, an interval's end (nil: still open, after everything).
func before(t time.Time, end *time.Time) bool { return end == nil || t.Before(*end) }
