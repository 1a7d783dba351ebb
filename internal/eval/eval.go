// Package eval runs SLOs over a span of time with the same engine the daemon uses: per-step
// increments from package sli, window sums in a burnrate.History and burnrate.Evaluate at every
// step. `slod check` reads the alert intervals it reports, `slod test` observes the state at every
// evaluation time (docs/DESIGN.md §5).
package eval

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/model"

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
	// Progress, when set, is told how many evaluation times of an SLO were evaluated since its
	// last call (every 1,024 steps and at the end of each fetch; from concurrent goroutines): a
	// backtest evaluates Steps(from, to, step) times per SLO.
	Progress func(steps int)
}

// Steps is the number of evaluation times (multiples of step) in [from, to].
func Steps(from, to time.Time, step time.Duration) int64 {
	first, last := alignUp(from, step), sli.Align(to, step)
	if last.Before(first) {
		return 0
	}
	return int64(last.Sub(first)/step) + 1
}

// AlertInterval is one span during which an alert fired.
type AlertInterval struct {
	Severity burnrate.Severity
	// NoData marks the SLO's no-data alert, Budget one of its budget alerts, rather than a
	// burn-rate alert.
	NoData bool
	Budget bool
	// Start is the first evaluation time at which the alert fired (the first evaluation time of the
	// backtest if it was already firing then); End the first at which it no longer fired, nil if it
	// was still firing at the last evaluation time.
	Start time.Time
	End   *time.Time
	// PeakBurnRate is the highest short-window burn rate seen while the alert fired.
	PeakBurnRate float64
	// Reason is the window pair that made the alert fire, with its burn rates at Start.
	Reason burnrate.Reason
	// BudgetRemaining is the SLO's error budget remaining at Start (a fraction, as in Status).
	BudgetRemaining float64
}

// Result is the backtest of one SLO, or of one group of a grouped SLO.
type Result struct {
	SLO *rules.SLO
	// Group is the group's labels (nil for an SLO without group_by, and for the instance that
	// stands for a grouped SLO while it has no group); GroupKey its sli.GroupKey.
	Group    map[string]string
	GroupKey string
	// Excess lists the groups of the SLO past its max_groups, which were not evaluated (the same
	// on every result of the SLO).
	Excess []string
	// DataError is the first value no SLI can have that the instance's data held (+Inf, from a
	// broken exporter): that step was held as if it had no data.
	DataError string
	Alerts    []AlertInterval
	// Final is the SLO's status at the last evaluation time: budget remaining, burn rates.
	Final burnrate.Status
	// Initial is its status at its first evaluation time (the backtest's first, or the first of a
	// group that appeared later): with Final, what the range spent.
	Initial burnrate.Status
	// HasData is false when the source had no data at all for the SLO in the whole range, so its
	// silence says nothing about the service.
	HasData bool
	// Err is what went wrong with this SLO and no other: its queries failed or its SLI cannot be
	// evaluated (then it is the SLO's only Result, without alerts or status), or an error of the
	// instance's source during the backtest (a bridge that failed).
	Err error
	// Excluded is how much of the evaluated range the SLO's exclusions covered.
	Excluded time.Duration
	// Periods are the calendar periods that ended during the backtest (calendar SLOs only), with
	// the budget left at the end of each.
	Periods []PeriodBudget
	// Suppressed is how many alert intervals the SLO's low-traffic guard (min_bad_events)
	// suppressed: the SLO evaluated without it fired them, the SLO as written did not (0 without
	// a guard).
	Suppressed int
}

// ID names the result: the SLO id, followed by the group's key for a group.
func (r Result) ID() string { return InstanceID(r.SLO, r.GroupKey) }

// MaxBacktestSteps bounds the steps one backtest fetches and evaluates per SLO (its history before
// the first evaluation time included): 4,194,304 steps are 8 years at a 1m step, 48 days at 1s.
// Past that a backtest takes minutes per SLO and says nothing a shorter range would not; a
// recording whose samples lie years apart (a wrong timestamp) is an error rather than hours of
// CPU.
const MaxBacktestSteps = 1 << 22

// fetchSteps is how many steps a backtest fetches with one query, so that its memory is bounded by
// this (about 20 MB per SLO) and not by the length of the range. A variable for the tests.
var fetchSteps = 1 << 16

// SpanError is the error of a backtest whose range holds more than MaxBacktestSteps steps.
type SpanError struct {
	From, To time.Time
	Step     time.Duration
	Steps    int64
}

func (e *SpanError) Error() string {
	return fmt.Sprintf("evaluating from %s to %s at a %s step is %d steps, more than the %d a backtest may span",
		e.From.UTC().Format(time.RFC3339), e.To.UTC().Format(time.RFC3339), model.Duration(e.Step), e.Steps, MaxBacktestSteps)
}

// Observer is called at every evaluation time of an instance (an SLO, or one group of a grouped
// SLO), in time order, with the alert state and status after evaluating at t. Calls for different
// SLOs come from different goroutines; calls for one SLO never overlap.
type Observer func(inst *Instance, t time.Time, st burnrate.State, status burnrate.Status)

// Backtest evaluates every SLO at each multiple of opt.Step in [from, to] over the data q serves,
// and reports what fired when: one Result per SLO, or per group of a grouped SLO (Groups), in the
// order of slos and then of the groups' keys. SLOs are evaluated concurrently (at most GOMAXPROCS
// at once). obs may be nil.
//
// What goes wrong with one SLO is that SLO's Result.Err and stops no other: the results of every
// SLO are returned, with an error that lists each failed SLO's, in the order of slos (so the same
// data always gives the same error, whichever goroutine failed first). An error that concerns the
// backtest as a whole (a bad step, a range without an evaluation time or longer than
// MaxBacktestSteps, a cancelled context) comes without results.
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
	for _, slo := range slos {
		start := dataStart(slo, first, opt)
		// Sub saturates at about 292 years, which is still far more steps than the bound.
		if n := int64(last.Sub(start)/opt.Step) + 1; n > MaxBacktestSteps {
			return nil, fmt.Errorf("backtest: %w", &SpanError{From: start, To: last, Step: opt.Step, Steps: n})
		}
	}

	results := make([][]Result, len(slos))
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i, slo := range slos {
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			rs, err := backtestOne(ctx, q, slo, first, last, opt, obs)
			if err == nil {
				err = guardEffect(ctx, q, slo, first, last, opt, rs)
			}
			if err != nil {
				rs = []Result{{SLO: slo, Err: err}}
			}
			results[i] = rs
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []Result
	var errs []error
	for _, rs := range results {
		for _, r := range rs {
			if r.Err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", r.ID(), r.Err))
			}
		}
		out = append(out, rs...)
	}
	return out, errors.Join(errs...)
}

// alignUp is the first multiple of step at or after t.
func alignUp(t time.Time, step time.Duration) time.Time {
	a := sli.Align(t, step)
	if a.Before(t.Truncate(time.Millisecond)) {
		a = a.Add(step)
	}
	return a
}

// alertKey identifies one alert of an SLO: a severity's burn-rate or budget alert, or the no-data
// alert.
type alertKey struct {
	sev            burnrate.Severity
	noData, budget bool
}

// dataStart is where the backtest of slo starts fetching: its longest window before the first
// evaluation time, or opt.DataStart when that is later, and never after first.
func dataStart(slo *rules.SLO, first time.Time, opt Options) time.Time {
	start := sli.Align(first.Add(-slo.MaxWindow()), opt.Step)
	if ds := sli.Align(opt.DataStart, opt.Step); !opt.DataStart.IsZero() && ds.After(start) {
		start = ds
	}
	if start.After(first) {
		start = first
	}
	return start
}

// backtestOne evaluates one SLO. The steps up to the first evaluation time (at most its longest
// window) are the history the first evaluation starts with, as a daemon started at that time would
// have backfilled it, fetched at once; then every step in turn, fetched fetchSteps at a time.
func backtestOne(ctx context.Context, q sli.Querier, slo *rules.SLO, first, last time.Time, opt Options, obs Observer) ([]Result, error) {
	prep, err := sli.Prepare(slo, q, sli.Options{Step: opt.Step, Lookback: opt.Lookback})
	if err != nil {
		return nil, err
	}
	src := Source{Querier: q, SLO: slo, Prepared: prep}
	b := newBacktester(slo, first, opt, obs)
	hist, err := src.Fetch(ctx, dataStart(slo, first, opt), first, false)
	if err != nil {
		return nil, err
	}
	b.at(ctx, first, b.known(hist, sli.Align(dataStart(slo, first, opt), opt.Step), first, opt.Step), src)
	progress := func(n int) {
		if opt.Progress != nil && n > 0 {
			opt.Progress(n)
		}
	}
	progress(1)
	for from := first.Add(opt.Step); !from.After(last); {
		to := minTime(from.Add(time.Duration(fetchSteps-1)*opt.Step), last)
		groups, err := src.Fetch(ctx, from, to, false)
		if err != nil {
			return nil, err
		}
		groups = b.known(groups, from, to, opt.Step)
		var step []sli.Group // the step's increments, reused: Groups.Advance keeps none of them
		i := 0
		for t := from; !t.After(to); i, t = i+1, t.Add(opt.Step) {
			if i%1024 == 0 {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				progress(min(i, 1024))
			}
			step = sliceGroups(step, groups, i, i+1)
			b.at(ctx, t, step, src)
		}
		progress((i-1)%1024 + 1)
		from = to.Add(opt.Step)
	}
	return b.results(last), nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// sliceGroups returns the steps [i, j) of every group, in dst's array when it is large enough.
func sliceGroups(dst, groups []sli.Group, i, j int) []sli.Group {
	dst = dst[:0]
	for _, g := range groups {
		g.Incs = g.Incs[i:j]
		dst = append(dst, g)
	}
	return dst
}

// backtester is the backtest of one SLO: its Groups, and a Result for every instance there was.
type backtester struct {
	g     *Groups
	first time.Time
	obs   Observer
	res   map[*Instance]*Result
	open  map[*Instance]map[alertKey]int // index into the Result's Alerts of each firing alert
	all   []*Instance                    // in order of creation
	// groups are the labels of every group fetched so far, by key (known).
	groups map[string]map[string]string
}

// known returns the groups of a fetch of the steps in [from, to] with every group an earlier fetch
// had added, without data in this one: one fetch of the whole range would have had it, with steps
// without data (which a Stepper may ask a bridge for; no steps at all it would not).
func (b *backtester) known(groups []sli.Group, from, to time.Time, step time.Duration) []sli.Group {
	if b.groups == nil {
		b.groups = map[string]map[string]string{}
	}
	have := make(map[string]bool, len(groups))
	for _, g := range groups {
		have[g.Key] = true
		b.groups[g.Key] = g.Labels
	}
	if len(have) == len(b.groups) {
		return groups
	}
	for _, k := range slices.Sorted(maps.Keys(b.groups)) {
		if have[k] {
			continue
		}
		var incs []burnrate.Increment
		for t := from; !t.After(to); t = t.Add(step) {
			incs = append(incs, burnrate.Increment{End: t, Missing: true})
		}
		groups = append(groups, sli.Group{Key: k, Labels: b.groups[k], Incs: incs})
	}
	slices.SortFunc(groups, func(a, b sli.Group) int { return strings.Compare(a.Key, b.Key) })
	return groups
}

func newBacktester(slo *rules.SLO, first time.Time, opt Options, obs Observer) *backtester {
	return &backtester{g: NewGroups(slo, opt.Step, StepperOptionsFor(slo, opt.Lookback)), first: first, obs: obs,
		res: map[*Instance]*Result{}, open: map[*Instance]map[alertKey]int{}}
}

// at evaluates the SLO at t and tracks what every instance's alerts did.
func (b *backtester) at(ctx context.Context, t time.Time, groups []sli.Group, src GroupBridger) {
	out := b.g.Advance(ctx, groups, t, src)
	for _, inst := range b.g.Instances() {
		b.track(inst, inst.Stepper.State(), t, out.Errs[inst.Key])
		b.stepDone(inst, t)
		if b.obs != nil {
			b.obs(inst, t, inst.Stepper.State(), inst.Stepper.Status(t))
		}
	}
	for _, inst := range out.Retired {
		b.track(inst, burnrate.State{}, t, nil)
	}
}

func (b *backtester) track(inst *Instance, st burnrate.State, t time.Time, err error) {
	r := b.res[inst]
	if r == nil {
		r = &Result{SLO: inst.SLO, Group: inst.Labels, GroupKey: inst.Key, Initial: inst.Stepper.Status(t)}
		b.res[inst], b.open[inst] = r, map[alertKey]int{}
		b.all = append(b.all, inst)
	}
	if err != nil {
		recordErr(r, err)
	}
	track(r, b.open[inst], st, t, inst.Stepper)
}

// recordErr records an instance's error on its result: the first value no SLI can have as its
// DataError, the first other error as its Err. (Called only for an error: errors.As makes its
// target escape, an allocation at every step of every instance otherwise.)
func recordErr(r *Result, err error) {
	var invalid *InvalidError
	switch {
	case errors.As(err, &invalid):
		if r.DataError == "" {
			r.DataError = invalid.Error()
		}
	case r.Err == nil:
		r.Err = err
	}
}

// results are the instances' Results at the end of the backtest (at last), in key order. The
// instance standing for a grouped SLO without groups is reported when no group ever appeared or
// when its alerts fired.
func (b *backtester) results(end time.Time) []Result {
	var out []Result
	grouped := len(b.g.SLO().GroupBy) > 0
	groups := 0
	for _, inst := range b.all {
		if inst.Key != "" {
			groups++
		}
	}
	for _, inst := range b.all {
		r := b.res[inst]
		if grouped && inst.Key == "" && groups > 0 && len(r.Alerts) == 0 {
			continue
		}
		last := inst.Stepper.History().LastData()
		r.HasData = !last.IsZero() && !last.Before(b.first)
		r.Final = inst.Stepper.Status(end)
		r.Excess = b.g.Excess()
		sortIntervals(r.Alerts)
		out = append(out, *r)
	}
	slices.SortStableFunc(out, func(a, b Result) int { return strings.Compare(a.GroupKey, b.GroupKey) })
	return out
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

// sortIntervals orders intervals by when they opened; alerts opening at the same step are listed
// burn-rate alerts first, then budget alerts, then no-data, each page first (severity names sort
// that way).
func sortIntervals(as []AlertInterval) {
	sort.SliceStable(as, func(i, j int) bool {
		a, b := as[i], as[j]
		if !a.Start.Equal(b.Start) {
			return a.Start.Before(b.Start)
		}
		if a.NoData != b.NoData {
			return !a.NoData
		}
		if a.Budget != b.Budget {
			return !a.Budget
		}
		return a.Severity < b.Severity
	})
}

// track opens an interval for every alert that fires at t without one (with the budget remaining
// then, from s), raises the peak burn rate of the open ones, and closes those that no longer fire.
func track(res *Result, open map[alertKey]int, st burnrate.State, t time.Time, s *Stepper) {
	if len(open) == 0 && !anyFiring(st) {
		return // nothing fires, nothing did: the common case, without the maps
	}
	firing := map[alertKey]bool{}
	for _, a := range st.Alerts {
		if a.Phase != burnrate.Firing {
			continue
		}
		k := alertKey{a.Severity, a.NoData, a.Budget}
		firing[k] = true
		i, ok := open[k]
		if !ok {
			res.Alerts = append(res.Alerts, AlertInterval{Severity: a.Severity, NoData: a.NoData, Budget: a.Budget, Start: t, Reason: a.Reason,
				BudgetRemaining: s.Status(t).BudgetRemaining})
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
