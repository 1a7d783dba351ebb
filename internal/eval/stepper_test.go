package eval

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/slod-dev/slod/internal/burnrate"
)

// testPolicy pages when 10% of the budget burns over 30m and 5m (a 1% objective budget at burn 10:
// 10% errors) and has a no-data ticket after 10 minutes.
func testPolicy() burnrate.Policy {
	return burnrate.Policy{Objective: 0.99, Period: 24 * time.Hour,
		Windows: []burnrate.Window{{Severity: burnrate.Page, Long: 30 * time.Minute, Short: 5 * time.Minute, BurnRate: 10}},
		NoData:  &burnrate.NoData{After: 10 * time.Minute, Severity: burnrate.Ticket}}
}

func newTestStepper(opt StepperOptions) *Stepper {
	p := testPolicy()
	return NewStepper(burnrate.Compile(p), burnrate.NewHistory(time.Minute, p.Period), Checkpoint{}, opt)
}

var s0 = time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)

func at(m int) time.Time { return s0.Add(time.Duration(m) * time.Minute) }

// steps returns the increments of minutes from..to: 1000 events a minute, bad(m) of them bad, no
// data where missing(m).
func steps(from, to int, bad func(m int) float64, missing func(m int) bool) []burnrate.Increment {
	var out []burnrate.Increment
	for m := from; m <= to; m++ {
		inc := burnrate.Increment{End: at(m), Total: 1000, Bad: bad(m)}
		if missing != nil && missing(m) {
			inc = burnrate.Increment{End: at(m), Missing: true}
		}
		out = append(out, inc)
	}
	return out
}

// edge is a notified transition: an alert starting or stopping to fire.
type edge struct {
	sev    burnrate.Severity
	noData bool
	fired  bool
	at     int
}

func (e edge) String() string {
	what := "resolved"
	if e.fired {
		what = "fired"
	}
	nd := ""
	if e.noData {
		nd = "(no_data)"
	}
	return fmt.Sprintf("%s%s %s at %d", e.sev, nd, what, e.at)
}

func edges(trs []burnrate.Transition) []edge {
	var out []edge
	for _, tr := range trs {
		if tr.To == burnrate.Firing || tr.From == burnrate.Firing {
			out = append(out, edge{tr.Severity, tr.NoData, tr.To == burnrate.Firing, int(tr.At.Sub(s0) / time.Minute)})
		}
	}
	return out
}

// run feeds incs to s one step at a time, as a backtest does, evaluating at every minute of
// [first, last], and returns the notified transitions.
func run(t *testing.T, s *Stepper, incs []burnrate.Increment, first, last int, bridge Bridger) []edge {
	t.Helper()
	var all []burnrate.Transition
	byEnd := map[time.Time]burnrate.Increment{}
	for _, inc := range incs {
		byEnd[inc.End] = inc
	}
	var warm []burnrate.Increment
	for _, inc := range incs {
		if !inc.End.After(at(first)) {
			warm = append(warm, inc)
		}
	}
	out, err := s.Advance(context.Background(), warm, at(first), bridge)
	if err != nil {
		t.Fatal(err)
	}
	all = append(all, out.Transitions...)
	for m := first + 1; m <= last; m++ {
		var batch []burnrate.Increment
		if inc, ok := byEnd[at(m)]; ok {
			batch = append(batch, inc)
		}
		out, err := s.Advance(context.Background(), batch, at(m), bridge)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, out.Transitions...)
	}
	return edges(all)
}

func TestStepperGapHoldsAFiringPage(t *testing.T) {
	// 20% errors from minute 10; no data at all from 60 to 89; 20% errors again from 90; healthy
	// from 120.
	bad := func(m int) float64 {
		if m >= 10 && m < 120 {
			return 200
		}
		return 0
	}
	gap := func(m int) bool { return m >= 60 && m < 90 }
	got := run(t, newTestStepper(StepperOptions{}), steps(1, 180, bad, gap), 1, 180, nil)
	// The page fires once the 30m window passes 10% (200·(m−9) > 100·m at 19). It holds through
	// the gap; the no-data ticket fires 10 minutes into it and resolves when data returns. The
	// page resolves when the 5m window drops to 8% (two bad steps of five, at 122).
	want := []edge{{burnrate.Page, false, true, 19}, {burnrate.Ticket, true, true, 69}, {burnrate.Ticket, true, false, 90}, {burnrate.Page, false, false, 122}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("transitions %v, want %v", got, want)
	}
}

func TestStepperNeverAnyData(t *testing.T) {
	s := newTestStepper(StepperOptions{})
	got := run(t, s, steps(1, 30, func(int) float64 { return 0 }, func(int) bool { return true }), 5, 30, nil)
	// Watched from the first evaluation (5): no data for 10 minutes fires at 15.
	if want := []edge{{burnrate.Ticket, true, true, 15}}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("transitions %v, want %v", got, want)
	}
	if !s.History().End().IsZero() {
		t.Errorf("a history without data ends at %v", s.History().End())
	}
}

// TestStepperNoBad: an error query that returns nothing is 0 bad while nothing fires, and holds a
// firing page (instead of resolving it) until the error series is back.
func TestStepperNoBad(t *testing.T) {
	bad := func(m int) float64 {
		if m >= 10 && m < 60 {
			return 200
		}
		return 0
	}
	incs := steps(1, 100, bad, nil)
	for i := range incs {
		if m := i + 1; (m >= 30 && m < 40) || (m >= 80 && m < 85) {
			incs[i].Bad, incs[i].NoBad = 0, true
		}
	}
	s := newTestStepper(StepperOptions{})
	got := run(t, s, incs, 1, 100, nil)
	// 30..39 are held while the page fires (no resolve at 34): the SLI is not measured then, and
	// after 10 minutes the no-data ticket says so. From 40 the errors are back. 80..84 with
	// nothing firing are 0 bad: nothing happens.
	want := []edge{{burnrate.Page, false, true, 19}, {burnrate.Ticket, true, true, 39}, {burnrate.Ticket, true, false, 40}, {burnrate.Page, false, false, 62}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("transitions %v, want %v", got, want)
	}
	if end := s.History().LastData(); !end.Equal(at(100)) {
		t.Errorf("last data %v", end)
	}
}

// truthBridge bridges from a table of the true per-minute increments: what a source whose
// counters kept counting through the gap says, once it has a sample again (none at the steps in
// dark).
type truthBridge struct {
	truth map[time.Time]burnrate.Increment
	dark  func(m int) bool
	calls int
	err   error
}

func (b *truthBridge) Bridge(_ context.Context, end, since time.Time) (burnrate.Increment, error) {
	b.calls++
	if b.err != nil {
		return burnrate.Increment{}, b.err
	}
	if b.dark(int(end.Sub(s0) / time.Minute)) {
		return burnrate.Increment{End: end, Missing: true}, nil
	}
	out := burnrate.Increment{End: end}
	for t := since.Add(time.Minute); !t.After(end); t = t.Add(time.Minute) {
		out.Bad += b.truth[t].Bad
		out.Total += b.truth[t].Total
	}
	return out, nil
}

func TestStepperBridgesAGap(t *testing.T) {
	// The outage starts at 20, while no data comes (15..34): the bridged first step after the gap
	// carries the whole gap's errors and the page fires there at once.
	bad := func(m int) float64 {
		if m >= 20 {
			return 300
		}
		return 0
	}
	gap := func(m int) bool { return m >= 15 && m < 35 }
	truth := map[time.Time]burnrate.Increment{}
	for _, inc := range steps(1, 60, bad, nil) {
		truth[inc.End] = inc
	}
	b := &truthBridge{truth: truth, dark: gap}
	s := newTestStepper(StepperOptions{MaxBridge: 30 * time.Minute})
	got := run(t, s, steps(1, 60, bad, gap), 1, 60, b)
	want := []edge{{burnrate.Ticket, true, true, 24}, {burnrate.Page, false, true, 35}, {burnrate.Ticket, true, false, 35}}
	// Bridges: at the missing steps 25..34, whose gap is longer than the 10m lookback (a sample
	// there would have no previous value within reach), and at 35.
	if fmt.Sprint(got) != fmt.Sprint(want) || b.calls != 11 {
		t.Errorf("transitions %v (%d bridges), want %v (11)", got, b.calls, want)
	}
	bad5, total5 := s.History().Sum(60 * time.Minute)
	if wb, wt := 300.0*41, 1000.0*60; bad5 != wb || total5 != wt {
		t.Errorf("the last hour holds %v/%v, want %v/%v: the gap's growth is lost", bad5, total5, wb, wt)
	}
	// After a gap longer than the lookback the first scrape has no previous value within reach: its
	// own increment is missing too (35 here), and only the bridge finds the growth.
	b = &truthBridge{truth: truth, dark: gap}
	got = run(t, newTestStepper(StepperOptions{MaxBridge: 30 * time.Minute}), steps(1, 60, bad, func(m int) bool { return gap(m) || m == 35 }), 1, 60, b)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("first step after the gap missing: transitions %v, want %v", got, want)
	}
	// A bridge that fails stops at that step (25, the first whose gap passes the lookback): it is
	// asked for again, with the steps without data of the 10 minutes (Reask) before it.
	s = newTestStepper(StepperOptions{MaxBridge: 30 * time.Minute})
	if _, err := s.Advance(context.Background(), steps(1, 20, bad, gap), at(20), b); err != nil {
		t.Fatal(err)
	}
	b.err = errors.New("down")
	out, err := s.Advance(context.Background(), steps(21, 40, bad, gap), at(40), b)
	if err == nil || out.Appended != 0 || !s.From(at(0)).Equal(at(16)) {
		t.Errorf("failed bridge: err %v, appended %d, next from %v", err, out.Appended, s.From(at(0)))
	}
}

// TestStepperBatchesAsSteps: a daemon whose source failed now and then learns about several steps
// in one cycle, and refetches steps it waited for; the transitions must be exactly those of a
// backtest evaluating every step, for random data with gaps.
func TestStepperBatchesAsSteps(t *testing.T) {
	for seed := range uint64(100) {
		r := rand.New(rand.NewPCG(seed, 7))
		bad := make([]float64, 301)
		missing := make([]bool, 301)
		level := 0.0
		for m := range bad {
			if r.IntN(20) == 0 {
				level = []float64{0, 50, 120, 400}[r.IntN(4)]
			}
			bad[m] = level
			if r.IntN(30) == 0 {
				n := 1 + r.IntN(25)
				for k := m; k < min(m+n, len(missing)); k++ {
					missing[k] = true
				}
			}
		}
		incs := steps(1, 300, func(m int) float64 { return bad[m] }, func(m int) bool { return missing[m] })
		want := run(t, newTestStepper(StepperOptions{}), incs, 1, 300, nil)

		s := newTestStepper(StepperOptions{})
		var got []burnrate.Transition
		for m := 1; m <= 300; m++ {
			if r.IntN(4) == 0 {
				// The source failed this cycle: nothing fetched.
				out, _ := s.Advance(context.Background(), nil, at(m), nil)
				got = append(got, out.Transitions...)
				continue
			}
			from := s.From(at(1))
			var batch []burnrate.Increment
			for _, inc := range incs {
				if !inc.End.Before(from) && !inc.End.After(at(m)) {
					batch = append(batch, inc)
				}
			}
			out, err := s.Advance(context.Background(), batch, at(m), nil)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, out.Transitions...)
		}
		// The next successful cycle catches up what a failed last one left.
		out, err := s.Advance(context.Background(), incs[len(incs)-1:], at(300), nil)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, out.Transitions...)
		// The no-data alert may fire while the source fails (the daemon is blind then, a backtest
		// is not); the burn-rate alerts must agree exactly.
		if g, w := burnEdges(edges(got)), burnEdges(want); !reflect.DeepEqual(g, w) {
			t.Fatalf("seed %d: batched %v, stepped %v", seed, g, w)
		}
	}
}

func burnEdges(es []edge) []edge {
	var out []edge
	for _, e := range es {
		if !e.noData {
			out = append(out, e)
		}
	}
	return out
}

// TestStepperLateDataDoesNotFlapNoData: data that arrives for a step the no-data alert already
// counted as missing moves the burn-rate alerts at that step, but the no-data alert does not go
// back in time: it neither resolves there nor fires again at now.
func TestStepperLateDataDoesNotFlapNoData(t *testing.T) {
	s := newTestStepper(StepperOptions{})
	zero := func(int) float64 { return 0 }
	if _, err := s.Advance(context.Background(), steps(1, 20, zero, nil), at(20), nil); err != nil {
		t.Fatal(err)
	}
	var trs []burnrate.Transition
	for m := 21; m <= 40; m++ { // the source fails
		out, _ := s.Advance(context.Background(), nil, at(m), nil)
		trs = append(trs, out.Transitions...)
	}
	// The source returns with data up to 21 only (it lost the rest).
	incs := steps(21, 41, zero, func(m int) bool { return m > 21 })
	out, err := s.Advance(context.Background(), incs, at(41), nil)
	if err != nil {
		t.Fatal(err)
	}
	trs = append(trs, out.Transitions...)
	if got, want := edges(trs), []edge{{burnrate.Ticket, true, true, 30}}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("transitions %v, want %v", got, want)
	}
}

// TestStepperRestartDoesNotRepeat: after a restart from a checkpoint whose history lags it, the
// refetched steps are history only: no transition is made twice.
func TestStepperRestartDoesNotRepeat(t *testing.T) {
	bad := func(m int) float64 {
		if m >= 10 {
			return 300
		}
		return 0
	}
	s := newTestStepper(StepperOptions{})
	var stored []byte
	var firstRun []burnrate.Transition
	for m := 1; m <= 20; m++ {
		out, err := s.Advance(context.Background(), steps(m, m, bad, nil), at(m), nil)
		if err != nil {
			t.Fatal(err)
		}
		firstRun = append(firstRun, out.Transitions...)
		if m == 12 {
			b, err := s.History().MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			stored = b
		}
	}
	h := new(burnrate.History)
	if err := h.UnmarshalBinary(stored); err != nil {
		t.Fatal(err)
	}
	r := NewStepper(burnrate.Compile(testPolicy()), h, s.Checkpoint(), StepperOptions{})
	if from := r.From(at(0)); !from.Equal(at(13)) {
		t.Fatalf("restart fetches from %v, want minute 13", from)
	}
	out, err := r.Advance(context.Background(), steps(13, 21, bad, nil), at(21), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Transitions) != 0 || out.Appended != 9 {
		t.Errorf("after the restart: %v, %d appended", edges(out.Transitions), out.Appended)
	}
	if got := edges(firstRun); fmt.Sprint(got) != "[page fired at 14]" {
		t.Errorf("first run: %v", got)
	}
	if _, err := s.Advance(context.Background(), steps(21, 21, bad, nil), at(21), nil); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r.State(), s.State()) {
		t.Errorf("state after restart %+v, before %+v", r.State(), s.State())
	}
}

func TestStepperCatchUpLimit(t *testing.T) {
	// An outage that started and ended while the daemon was down for 3 hours is history, not a
	// page; one inside the last MaxCatchUp is evaluated step by step (30% errors pass 10% over
	// 30m at 210; two bad steps of five in the 5m window are 6% at 233).
	bad := func(m int) float64 {
		if (m >= 30 && m < 60) || (m >= 200 && m < 230) {
			return 300
		}
		return 0
	}
	s := newTestStepper(StepperOptions{})
	if _, err := s.Advance(context.Background(), steps(1, 10, bad, nil), at(10), nil); err != nil {
		t.Fatal(err)
	}
	out, err := s.Advance(context.Background(), steps(11, 240, bad, nil), at(240), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []edge{{burnrate.Page, false, true, 210}, {burnrate.Page, false, false, 233}}
	if got := edges(out.Transitions); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("transitions %v, want %v", got, want)
	}
}

func TestStepperClockBehind(t *testing.T) {
	s := newTestStepper(StepperOptions{})
	if _, err := s.Advance(context.Background(), steps(1, 20, func(int) float64 { return 500 }, nil), at(20), nil); err != nil {
		t.Fatal(err)
	}
	before := s.Checkpoint()
	out, err := s.Advance(context.Background(), nil, at(10), nil)
	if err != nil || !out.Behind || len(out.Transitions) != 0 || !reflect.DeepEqual(s.Checkpoint(), before) {
		t.Errorf("behind: %+v, %v", out, err)
	}
}

func TestStepperInvalidValue(t *testing.T) {
	s := newTestStepper(StepperOptions{})
	incs := steps(1, 10, func(int) float64 { return 0 }, nil)
	incs[4].Total = math.Inf(1)
	out, err := s.Advance(context.Background(), incs, at(10), nil)
	var invalid *InvalidError
	if !errors.As(err, &invalid) || !invalid.End.Equal(at(5)) {
		t.Fatalf("error %v, want an InvalidError at minute 5", err)
	}
	if out.Appended != 9 || !s.History().LastData().Equal(at(10)) {
		t.Errorf("appended %d, last data %v: the other steps must go on", out.Appended, s.History().LastData())
	}
}

// TestStepperGivesUpWaiting: steps without data are asked for again for Reask, then given up, so a
// long gap (or an error series that stays away while a page fires) never makes every cycle
// refetch from its start.
func TestStepperGivesUpWaiting(t *testing.T) {
	s := newTestStepper(StepperOptions{Reask: 5 * time.Minute})
	if _, err := s.Advance(context.Background(), steps(1, 10, func(int) float64 { return 0 }, nil), at(10), nil); err != nil {
		t.Fatal(err)
	}
	for m := 11; m <= 60; m++ {
		incs := steps(int(s.From(at(0)).Sub(s0)/time.Minute), m, func(int) float64 { return 0 }, func(int) bool { return true })
		if _, err := s.Advance(context.Background(), incs, at(m), nil); err != nil {
			t.Fatal(err)
		}
		if from, want := s.From(at(0)), maxTime(at(11), at(m-4)); !from.Equal(want) {
			t.Fatalf("at %d the next fetch starts at %v, want %v (5 minutes back)", m, from, want)
		}
	}
}
