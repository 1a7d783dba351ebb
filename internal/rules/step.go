package rules

import (
	"fmt"
	"math"
	"time"

	"github.com/prometheus/common/model"

	"github.com/slod-dev/slod/internal/yamlx"
)

// CheckStep reports every duration of slos that evaluation at step cannot represent, at the place
// it is written. Windows are sums of whole steps (burnrate.History) and slices end on steps, so
// a 10s short window at a 1m step would silently be a 1m window, and a 5m window at a 10m step a
// 10m one:
//
//   - every window of an alert policy must be at least one step; a window written in the file
//     (alerting.windows) must be a multiple of the step too. The default policy's windows are
//     the 30-day table scaled to the SLO's window (1h becomes window/720): they are read rounded
//     up to whole steps, and one shorter than a step is reported at the SLO's window;
//   - the SLO's window (the budget's period) must be a multiple of the step;
//   - a time slice must be a multiple of the step.
//
// The step is the evaluation step of `slod run` (evaluation.step), `slod check` (--step) or the
// evaluation_interval of a `slod test` file. The result is nil when every SLO fits.
func CheckStep(slos []*SLO, step time.Duration) Errors {
	if step <= 0 {
		return nil
	}
	var errs Errors
	for _, s := range slos {
		errs = append(errs, checkStep(s, step)...)
	}
	if len(errs) == 0 {
		return nil
	}
	yamlx.Sort(errs)
	return errs
}

func checkStep(s *SLO, step time.Duration) Errors {
	var errs Errors
	at := func(p Place, format string, args ...any) {
		if p.Pos.File == "" {
			p = Place{Pos: s.Pos}
		}
		errs = append(errs, Diagnostic{Pos: p.Pos, Field: p.Field, Message: fmt.Sprintf(format, args...)})
	}
	st := model.Duration(step)
	if s.Period%step != 0 {
		at(s.Places.Period, "%s is not a multiple of the evaluation step %s: the error budget is summed over whole steps", days(s.Period), st)
	}
	if s.SLI.Kind == TimesliceSLI && s.SLI.Slice%step != 0 {
		at(s.Places.Slice, "time slice %s is not a multiple of the evaluation step %s: a slice ends on a step", model.Duration(s.SLI.Slice), st)
	}
	reported := map[time.Duration]bool{} // a derived window shared by two pairs is reported once
	for i, w := range s.Alerting.Windows {
		var wp WindowPlace
		if i < len(s.Places.Windows) {
			wp = s.Places.Windows[i]
		}
		for _, side := range []struct {
			name  string
			d     time.Duration
			place Place
		}{{"long", w.Long, wp.Long}, {"short", w.Short, wp.Short}} {
			switch {
			case wp.Derived && side.d < step && !reported[side.d]:
				reported[side.d] = true
				// The window of the 30-day table it was scaled from, to the minute (as the table is).
				orig := time.Duration(math.Round(float64(side.d)/float64(s.Period)*float64(DefaultPeriod)/float64(time.Minute))) * time.Minute
				at(side.place, "the default policy's %s %s window (%s at 30d) is %s for an SLO window of %s, shorter than the evaluation step %s: set a longer window, alerting.windows, or a shorter step",
					w.Severity, side.name, model.Duration(orig), model.Duration(side.d), days(s.Period), st)
			case wp.Derived:
			case side.d < step:
				at(side.place, "%s is shorter than the evaluation step %s: a window is a sum of whole steps", model.Duration(side.d), st)
			case side.d%step != 0:
				at(side.place, "%s is not a multiple of the evaluation step %s: a window is a sum of whole steps (it would be read as %s)",
					model.Duration(side.d), st, model.Duration((side.d/step+1)*step))
			}
		}
	}
	return errs
}

// days prints a duration as SLO windows are written: 7d rather than Prometheus's 1w.
func days(d time.Duration) string {
	const day = 24 * time.Hour
	if d >= day && d%day == 0 {
		return fmt.Sprintf("%dd", d/day)
	}
	return model.Duration(d).String()
}
