package eval

import (
	"context"
	"fmt"
	"time"

	"github.com/slod-dev/slod/internal/burnrate"
	"github.com/slod-dev/slod/internal/exclude"
	"github.com/slod-dev/slod/internal/sli"
)

// DefaultMaxCatchUp is how far back from the evaluation time a Stepper evaluates the steps it
// learns about late. A source that failed for a few cycles (or a daemon restarted after a short
// stop) is caught up step by step, exactly as a backtest over the same data evaluates it; after a
// longer outage evaluation resumes this long before now, so that a returning daemon does not page
// for incidents that were over long ago. The steps older than that still go into the history.
const DefaultMaxCatchUp = time.Hour

// Checkpoint is what a Stepper carries from one evaluation to the next, and what the daemon
// stores: the alert state and how far the SLO has been evaluated. It encodes to JSON as the
// alert state's fields plus Evaluated and Through, so a record holding only an alert state (an
// older store) still decodes (with zero times, see Stepper).
type Checkpoint struct {
	burnrate.State
	// Evaluated is the last evaluation time, with data or without.
	Evaluated time.Time `json:",omitzero"`
	// Through is the end of the last step evaluated with data: a step that ends there or before
	// is never evaluated again, even when the history is refetched (after a restart the stored
	// history may lag the alert state by a few steps).
	Through time.Time `json:",omitzero"`
	// Group is the group's labels, for an instance of a grouped SLO.
	Group map[string]string `json:",omitempty"`
}

// Bridger fetches the increment of the step ending at end with the counters' previous values read
// at since, so that the growth over a gap in the data is counted in the first step after it
// (sli.Prepared.Bridge). Only SLIs whose increments add up across steps can be bridged.
type Bridger interface {
	Bridge(ctx context.Context, end, since time.Time) (burnrate.Increment, error)
}

// StepperOptions are the limits of a Stepper. Zero fields take the defaults.
type StepperOptions struct {
	// Reask is how long a step without data is asked for again before it is given up as Missing
	// (the source may lag): data that comes later is not lost, its counters' growth is bridged
	// into the first step with data. Default: sli.DefaultLookback.
	Reask time.Duration
	// MaxBridge is the longest gap over which counters' growth is bridged: the SLO's longest
	// alert window (growth older than that could not change an alert; after a longer gap the
	// history starts again). Zero: no bridging.
	MaxBridge time.Duration
	// Lookback is the lookback of the SLI's step differences (sli.Options): within it a step's
	// own increment reaches the counter's value before a gap, beyond it only a bridge does.
	// Default: sli.DefaultLookback.
	Lookback time.Duration
	// MaxCatchUp: see DefaultMaxCatchUp.
	MaxCatchUp time.Duration
}

// Stepper is the evaluation of one SLO, shared by `slod run` (once per SLO per cycle), `slod
// check` and `slod test` (at every step): its history, its compiled policy (owned by the caller)
// and its alert state, and the one set of rules for steps without data. Given the increments of
// the steps since it last ran and the evaluation time now, it
//
//   - appends every step that has data to the history; a step without data (Missing) is not
//     appended but waited for (Reask) and then given up; the history starts with the first step
//     that has data, and a gap inside it reads as Missing;
//   - evaluates the burn-rate alerts at every new step with data, in time order, and only there:
//     while the newest steps have no data (a scrape gap, a source that failed or lags) the
//     burn-rate alerts hold, neither firing nor resolving;
//   - evaluates the no-data alert at every step and at now: it measures from the last step with
//     data, or, when the SLI never had any, from the first evaluation;
//   - bridges a gap: the first step with data after one gets the counters' growth across the gap
//     (up to MaxBridge), when the SLI is a sum of counters;
//   - holds, rather than resolves, while a burn-rate alert fires and the bad-events query returns
//     nothing at a step whose total has data (a partial response, a renamed label): such a step
//     is treated as Missing (Outcome.NoBad reports it);
//   - treats the steps before its first evaluation as history only (a backfill), and catches up
//     late steps only within MaxCatchUp of now.
//
// A Stepper is not safe for concurrent use. Its evaluation times must not go back; a time before
// the end of its history changes nothing (the clock went back).
type Stepper struct {
	policy *burnrate.Compiled
	hist   *burnrate.History
	cp     Checkpoint
	opt    StepperOptions
	// seen is the end of the last step given to Advance: the steps without data of the last
	// Reask before it are asked for again (From), and a step without data is asked the bridge
	// only the first time it is seen.
	seen time.Time
	// excl says which steps are excluded (nil: none; SetExclusions).
	excl *exclude.Cursor
}

// NewStepper returns the Stepper of an SLO with the given compiled policy, history and
// checkpoint (both empty for a new SLO).
func NewStepper(policy *burnrate.Compiled, hist *burnrate.History, cp Checkpoint, opt StepperOptions) *Stepper {
	// A counter sample that has not arrived within the lookback would not be read by the step
	// differences anyway: asking again for longer gains nothing.
	if opt.Reask <= 0 {
		opt.Reask = sli.DefaultLookback
	}
	if opt.Lookback <= 0 {
		opt.Lookback = sli.DefaultLookback
	}
	if opt.MaxCatchUp <= 0 {
		opt.MaxCatchUp = DefaultMaxCatchUp
	}
	return &Stepper{policy: policy, hist: hist, cp: cp, opt: opt}
}

// Outcome is what one Advance did.
type Outcome struct {
	// Transitions are the alert changes, in time order (At), of every evaluation Advance made.
	Transitions []burnrate.Transition
	// Appended is the number of steps appended to the history.
	Appended int
	// Missing is set when the step at the evaluation time has no data (the SLI's source has had
	// none since LastData, zero when it never had any).
	Missing  bool
	LastData time.Time
	// NoBad is set when a step with a total but no bad events was held because an alert fired.
	NoBad bool
	// Behind is set when now is before the end of the history: nothing was evaluated.
	Behind bool
}

// History is the SLO's history (owned by the Stepper: read it, do not append to it).
func (s *Stepper) History() *burnrate.History { return s.hist }

// Checkpoint is the alert state and evaluation times after the last Advance.
func (s *Stepper) Checkpoint() Checkpoint { return s.cp }

// State is the alert state after the last Advance.
func (s *Stepper) State() burnrate.State { return s.cp.State }

// Status is the SLO's status at evaluation time now: burn rates and budget over windows ending at
// the history's end.
func (s *Stepper) Status(now time.Time) burnrate.Status { return s.policy.Status(s.hist, now) }

// From returns the end of the first step whose increment Advance needs next, never before floor
// (a caller fetches nothing older: the backfill limit): the first step after the history's end,
// but no earlier than Reask before the last step seen (a step without data is asked for again
// that long; then it is given up, and a gap in the history reads as Missing).
func (s *Stepper) From(floor time.Time) time.Time {
	step := s.hist.Step()
	from := floor
	if end := s.hist.End(); !end.IsZero() {
		from = maxTime(from, end.Add(step))
	}
	if !s.seen.IsZero() {
		from = maxTime(from, s.seen.Add(step-s.opt.Reask))
	}
	return from
}

// Advance takes the increments of consecutive steps after the history's end (ascending, on the
// step grid; a source that failed gives none) and the evaluation time now, at or after the last
// step given, and moves the SLO on (see Stepper). bridge may be nil when the SLI cannot be
// bridged. An error of bridge stops at the step it was for, which is asked for again next time;
// the steps before it are kept and the error is returned with the Outcome so far. A step with a
// value no SLI can have is held and reported as an *InvalidError once the rest is done.
func (s *Stepper) Advance(ctx context.Context, incs []burnrate.Increment, now time.Time, bridge Bridger) (Outcome, error) {
	var out Outcome
	if now.Before(s.hist.End()) {
		out.Behind = true
		return out, nil
	}
	step := s.hist.Step()
	if s.cp.Evaluated.IsZero() {
		// Never evaluated: what comes before now is the history it starts with.
		s.cp.Evaluated, s.cp.Through = now.Add(-step), now.Add(-step)
	}
	catchUp := now.Add(-s.opt.MaxCatchUp)
	var (
		err     error
		invalid *InvalidError
	)
	seen := s.seen
	for _, inc := range incs {
		if !inc.End.After(s.hist.End()) || inc.End.After(now) {
			continue // already held, or not yet due
		}
		s.seen = maxTime(s.seen, inc.End)
		bad, cerr := s.consume(ctx, inc, catchUp, seen, bridge, &out)
		if cerr != nil {
			err = cerr
			break
		}
		if invalid == nil {
			invalid = bad
		}
	}
	if now.After(s.cp.Evaluated) {
		s.evaluate(&out, now)
	}
	out.LastData = s.hist.LastData()
	out.Missing = out.LastData.Before(now)
	if err == nil && invalid != nil {
		return out, invalid
	}
	return out, err
}

// InvalidError is returned by Advance when the source gave a step a value no SLI can have (not a
// finite number >= 0). The step is held as if it had no data; everything else was done.
type InvalidError struct {
	End time.Time
	Err error
}

func (e *InvalidError) Error() string {
	return fmt.Sprintf("the step ending %s: %v", e.End.UTC().Format(time.RFC3339), e.Err)
}

func (e *InvalidError) Unwrap() error { return e.Err }

// consume appends the step inc (unless it has no data) and evaluates at its end when it is new:
// with data, after the last step evaluated with data; without, after the last evaluation (a step
// waited for is not evaluated twice). A step to be evaluated with data is bridged when it follows a
// gap; a step without data is asked the bridge the first time it is seen (seen: the last step
// given before this Advance). It returns the step's invalid value, if any, and the bridge's error.
func (s *Stepper) consume(ctx context.Context, inc burnrate.Increment, catchUp, seen time.Time, bridge Bridger, out *Outcome) (*InvalidError, error) {
	if s.excl.Excluded(inc.End) {
		// Counts nothing, and is not a step without data (nor a gap to bridge).
		inc = burnrate.Increment{End: inc.End}
	} else if inc.End.After(catchUp) && inc.End.After(s.cp.Through) && (!inc.Missing || inc.End.After(seen)) {
		var err error
		if inc, err = s.bridged(ctx, inc, bridge); err != nil {
			return nil, err
		}
	}
	missing := inc.Missing
	if !missing && inc.NoBad && s.firing() {
		missing, out.NoBad = true, true
	}
	if missing {
		if inc.End.After(s.cp.Evaluated) && inc.End.After(catchUp) {
			s.evaluate(out, inc.End)
		}
		return nil, nil
	}
	if err := s.hist.Append(inc); err != nil {
		// A value no counter can have (an exporter exposing +Inf): this step is the SLO's data
		// error, held like a step without data; the others go on.
		return &InvalidError{End: inc.End, Err: err}, nil
	}
	out.Appended++
	if inc.End.After(s.cp.Through) {
		if inc.End.After(catchUp) {
			s.evaluate(out, inc.End)
		}
		s.cp.Through = inc.End
	}
	return nil, nil
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// bridged returns inc, a step about to be evaluated, with the growth across the gap before it when
// there is one to bridge and the SLI can be bridged: a step with data right after steps without,
// or a step without data whose gap is longer than the lookback (a counter scraped again after such
// a gap has no previous value within the lookback, so its own increment is missing although its
// sample is fresh). (Steps that are history only, a backfill, are not bridged: their gaps may be
// nothing but the limit of what was fetched.)
func (s *Stepper) bridged(ctx context.Context, inc burnrate.Increment, bridge Bridger) (burnrate.Increment, error) {
	last := s.hist.LastData()
	if bridge == nil || s.opt.MaxBridge <= 0 || last.IsZero() {
		return inc, nil
	}
	span := inc.End.Sub(last)
	if span <= s.hist.Step() || (inc.Missing && span <= s.opt.Lookback) || span > s.opt.MaxBridge {
		return inc, nil
	}
	b, err := bridge.Bridge(ctx, inc.End, inc.End.Add(-span))
	if err != nil {
		return inc, fmt.Errorf("bridging the gap before %s: %w", inc.End.UTC().Format(time.RFC3339), err)
	}
	if b.Missing {
		// Nothing before the gap within reach (the counters started during it): the step's own
		// increment is all there is.
		return inc, nil
	}
	return b, nil
}

// evaluate moves the alerts on at t: with data when t is the history's end, else holding the
// burn-rate alerts and evaluating the no-data alert only. A step evaluated late (at or before the
// last evaluation time, which held) moves the burn-rate alerts only: the no-data alert was
// evaluated at a later time already and is evaluated again at now.
func (s *Stepper) evaluate(out *Outcome, t time.Time) {
	var (
		st  burnrate.State
		trs []burnrate.Transition
	)
	if t.After(s.cp.Evaluated) {
		st, trs = s.policy.Advance(s.hist, s.cp.State, t)
	} else {
		st, trs = s.policy.AdvanceBurnRate(s.hist, s.cp.State, t)
	}
	if s.excl.Excluded(t) {
		st, trs = holdRises(s.cp.State, st, trs)
	}
	s.cp.State = st
	if t.After(s.cp.Evaluated) {
		s.cp.Evaluated = t
	}
	out.Transitions = append(out.Transitions, trs...)
}

// Retire ends the instance's alerts at now, because it is no longer evaluated (a group of a grouped
// SLO gone for a whole window): a resolution of every firing alert, with the note saying why.
func (s *Stepper) Retire(now time.Time, note string) []burnrate.Transition {
	var trs []burnrate.Transition
	for i := range s.cp.Alerts {
		if a := &s.cp.Alerts[i]; a.Phase == burnrate.Firing {
			tr := a.Resolution(now)
			tr.Note = note
			trs = append(trs, tr)
		}
	}
	return trs
}

// firing reports whether a burn-rate alert fires. (A budget alert may fire for the rest of a
// period; holding every step without an error series that long would read as no data.)
func (s *Stepper) firing() bool {
	for _, a := range s.cp.Alerts {
		if !a.NoData && !a.Budget && a.Phase == burnrate.Firing {
			return true
		}
	}
	return false
}
