// Package eval runs SLOs over a span of time with the same engine the daemon uses: per-step
// increments from package sli, window sums in a burnrate.History and burnrate.Evaluate at every
// step. `slod check` reads the alert intervals it reports, `slod test` observes the state at every
// evaluation time (docs/DESIGN.md §5).
package eval

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/slod-dev/slod/internal/burnrate"
	"github.com/slod-dev/slod/internal/rules"
	"github.com/slod-dev/slod/internal/sli"
)

// Options tune a backtest. Zero fields take the defaults of package sli (1m step, 10m lookback).
type Options struct {
	// Step is the evaluation step: SLOs are evaluated at every multiple of Step since the Unix epoch.
	Step time.Duration
	// Lookback bridges scrape gaps in counters (see sli.Options).
	Lookback time.Duration
	// DataStart is where increments are first fetched: the history an SLO has at the first
	// evaluation time. It defaults to (and is never earlier than) from − the SLO's longest window,
	// since nothing older can matter; a caller that knows where its data begins (slod check) sets it
	// there to avoid querying empty time.
	DataStart time.Time
}

// AlertInterval is one span during which an alert fired.
type AlertInterval struct {
	Severity burnrate.Severity
	// NoData marks the SLO's no-data alert rather than a burn-rate alert.
	NoData bool
	// Start is the first evaluation time at which the alert fired (the first evaluation time of the
	// backtest if it was already firing then); End the first at which it no longer fired, nil if it
	// was still firing at the last evaluation time.
	Start time.Time
	End   *time.Time
	// PeakBurnRate is the highest short-window burn rate seen while the alert fired.
	PeakBurnRate float64
	// Reason is the window pair that made the alert fire, with its burn rates at Start.
	Reason burnrate.Reason
}

// Result is the backtest of one SLO.
type Result struct {
	SLO    *rules.SLO
	Alerts []AlertInterval
	// Final is the SLO's status at the last evaluation time: budget remaining, burn rates.
	Final burnrate.Status
	// HasData is false when the source had no data at all for the SLO in the whole range, so its
	// silence says nothing about the service.
	HasData bool
}

// Observer is called at every evaluation time of an SLO, in time order, with the alert state and
// status after evaluating at t. Calls for different SLOs come from different goroutines; calls for
// one SLO never overlap.
type Observer func(slo *rules.SLO, t time.Time, st burnrate.State, status burnrate.Status)

// Backtest evaluates every SLO at each multiple of opt.Step in [from, to] over the data q serves,
// and reports what fired when. SLOs are evaluated concurrently (at most GOMAXPROCS at once); the
// results are in the order of slos. obs may be nil.
func Backtest(ctx context.Context, q sli.Querier, slos []*rules.SLO, from, to time.Time, opt Options, obs Observer) ([]Result, error) {
	if opt.Step == 0 {
		opt.Step = sli.DefaultStep
	}
	if opt.Lookback == 0 {
		opt.Lookback = sli.DefaultLookback
	}
	if opt.Step <= 0 {
		return nil, fmt.Errorf("backtest: step must be positive, got %s", opt.Step)
	}
	first := alignUp(from, opt.Step)
	last := sli.Align(to, opt.Step)
	if last.Before(first) {
		return nil, fmt.Errorf("backtest: no evaluation time (multiple of %s) in [%s, %s]", opt.Step, from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339))
	}

	results := make([]Result, len(slos))
	errs := make([]error, len(slos))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i, slo := range slos {
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				errs[i] = ctx.Err()
				return
			}
			defer func() { <-sem }()
			results[i], errs[i] = backtestOne(ctx, q, slo, first, last, opt, obs)
			if errs[i] != nil {
				cancel()
			}
		})
	}
	wg.Wait()
	// Report the error that caused the others (cancellations follow the first real failure).
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return nil, err
		}
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return results, nil
}

// alignUp is the first multiple of step at or after t.
func alignUp(t time.Time, step time.Duration) time.Time {
	a := sli.Align(t, step)
	if a.Before(t.Truncate(time.Millisecond)) {
		a = a.Add(step)
	}
	return a
}

// alertKey identifies one alert of an SLO: a severity's burn-rate alert or the no-data alert.
type alertKey struct {
	sev    burnrate.Severity
	noData bool
}

func backtestOne(ctx context.Context, q sli.Querier, slo *rules.SLO, first, last time.Time, opt Options, obs Observer) (Result, error) {
	res := Result{SLO: slo}
	start := sli.Align(first.Add(-slo.MaxWindow()), opt.Step)
	if ds := sli.Align(opt.DataStart, opt.Step); !opt.DataStart.IsZero() && ds.After(start) {
		start = ds
	}
	if start.After(first) {
		start = first
	}
	prep, err := sli.Prepare(slo, q, sli.Options{Step: opt.Step, Lookback: opt.Lookback})
	if err != nil {
		return res, fmt.Errorf("backtesting %s: %w", slo.ID(), err)
	}
	src := Source{Querier: q, SLO: slo, Prepared: prep}
	incs, err := src.Fetch(ctx, start, last, false)
	if err != nil {
		return res, fmt.Errorf("backtesting %s: %w", slo.ID(), err)
	}
	s := NewStepper(burnrate.Compile(slo.Policy()), burnrate.NewHistory(opt.Step, slo.MaxWindow()), Checkpoint{}, StepperOptionsFor(slo, opt.Lookback))
	// The steps before the first evaluation time are the history the first evaluation starts
	// with, as a daemon started at that time would have backfilled it.
	n := 0
	for n < len(incs) && !incs[n].End.After(first) {
		n++
	}
	open := map[alertKey]int{} // index into res.Alerts of each firing alert's interval
	at := func(t time.Time, batch []burnrate.Increment) error {
		if _, err := s.Advance(ctx, batch, t, src); err != nil {
			return fmt.Errorf("backtesting %s at %s: %w", slo.ID(), t.Format(time.RFC3339), err)
		}
		track(&res, open, s.State(), t)
		if obs != nil {
			obs(slo, t, s.State(), s.Status(t))
		}
		return nil
	}
	if err := at(first, incs[:n]); err != nil {
		return res, err
	}
	for i, inc := range incs[n:] {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return res, err
			}
		}
		if err := at(inc.End, incs[n+i:n+i+1]); err != nil {
			return res, err
		}
	}
	res.HasData = !s.History().LastData().Before(first)
	res.Final = s.Status(last)
	// Intervals are opened in time order; alerts opening at the same step are listed page first
	// (severity names sort that way), no-data last.
	sort.SliceStable(res.Alerts, func(i, j int) bool {
		a, b := res.Alerts[i], res.Alerts[j]
		if !a.Start.Equal(b.Start) {
			return a.Start.Before(b.Start)
		}
		if a.NoData != b.NoData {
			return !a.NoData
		}
		return a.Severity < b.Severity
	})
	return res, nil
}

// StepperOptionsFor returns the Stepper limits for slo: gaps bridged over its longest alert window
// when its SLI is a sum of counters (sli.Additive), late data waited for as long as the lookback.
func StepperOptionsFor(slo *rules.SLO, lookback time.Duration) StepperOptions {
	opt := StepperOptions{Reask: lookback, Lookback: lookback}
	if ok, _ := sli.Additive(slo); ok {
		for _, w := range slo.Alerting.Windows {
			opt.MaxBridge = max(opt.MaxBridge, w.Long)
		}
	}
	return opt
}

// track opens an interval for every alert that fires at t without one, raises the peak burn rate of
// the open ones, and closes those that no longer fire.
func track(res *Result, open map[alertKey]int, st burnrate.State, t time.Time) {
	if len(open) == 0 && !anyFiring(st) {
		return // nothing fires, nothing did: the common case, without the maps
	}
	firing := map[alertKey]bool{}
	for _, a := range st.Alerts {
		if a.Phase != burnrate.Firing {
			continue
		}
		k := alertKey{a.Severity, a.NoData}
		firing[k] = true
		i, ok := open[k]
		if !ok {
			res.Alerts = append(res.Alerts, AlertInterval{Severity: a.Severity, NoData: a.NoData, Start: t, Reason: a.Reason})
			i = len(res.Alerts) - 1
			open[k] = i
		}
		if a.PeakBurnRate > res.Alerts[i].PeakBurnRate {
			res.Alerts[i].PeakBurnRate = a.PeakBurnRate
		}
	}
	for k, i := range open {
		if !firing[k] {
			end := t
			res.Alerts[i].End = &end
			delete(open, k)
		}
	}
}

func anyFiring(st burnrate.State) bool {
	for i := range st.Alerts {
		if st.Alerts[i].Phase == burnrate.Firing {
			return true
		}
	}
	return false
}
