package burnrate

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"time"
)

// defaultPolicy is the default policy of docs/interfaces.md §1 for a 99.9% SLO over 30d (SRE
// Workbook table 5-8 plus the 1d/2h ticket), built by hand so this package needs nothing from
// internal/rules.
func defaultPolicy() Policy {
	return Policy{
		Objective: 0.999,
		Period:    30 * day,
		Windows: []Window{
			{Severity: Page, Long: time.Hour, Short: 5 * time.Minute, BurnRate: 14.4},
			{Severity: Page, Long: 6 * time.Hour, Short: 30 * time.Minute, BurnRate: 6},
			{Severity: Ticket, Long: day, Short: 2 * time.Hour, BurnRate: 3},
			{Severity: Ticket, Long: 3 * day, Short: 6 * time.Hour, BurnRate: 1},
		},
	}
}

// stepTransition is a transition with the index of the step at whose end it happened.
type stepTransition struct {
	step int
	Transition
}

// interval is a firing interval in steps: [start, end), end -1 while still firing.
type interval struct {
	sev        Severity
	noData     bool
	start, end int
}

const tol = 1e-9

// simulate appends inc(i) for the steps i = 1..n (each ending at t0 + i minutes), evaluating p at
// the end of every step, and returns every transition. check, if set, sees every step's Status.
func simulate(t *testing.T, p Policy, n int, inc func(i int) Increment, check func(i int, h *History, st Status)) []stepTransition {
	t.Helper()
	h := NewHistory(time.Minute, 30*day)
	var state State
	var out []stepTransition
	for i := 1; i <= n; i++ {
		in := inc(i)
		in.End = t0.Add(time.Duration(i) * time.Minute)
		if err := h.Append(in); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		var st Status
		var trs []Transition
		state, st, trs = Evaluate(p, h, state, in.End)
		for _, tr := range trs {
			out = append(out, stepTransition{i, tr})
		}
		checkFinite(t, i, st)
		if check != nil {
			check(i, h, st)
		}
	}
	return out
}

func checkFinite(t *testing.T, i int, st Status) {
	t.Helper()
	vals := []float64{st.ErrorRatio, st.BudgetRemaining, st.CurrentBurnRate}
	for _, w := range st.Windows {
		vals = append(vals, w.Bad, w.Total, w.ErrorRatio, w.BurnRate)
	}
	for _, v := range vals {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			t.Fatalf("step %d: status holds %v: %+v", i, v, st)
		}
	}
}

func intervals(trs []stepTransition) []interval {
	var out []interval
	for _, tr := range trs {
		switch {
		case tr.To == Firing:
			out = append(out, interval{tr.Severity, tr.NoData, tr.step, -1})
		case tr.From == Firing:
			for j := len(out) - 1; j >= 0; j-- {
				if out[j].sev == tr.Severity && out[j].noData == tr.NoData && out[j].end < 0 {
					out[j].end = tr.step
					break
				}
			}
		}
	}
	return out
}

func windowBurn(t *testing.T, st Status, w time.Duration) WindowBurn {
	t.Helper()
	for _, wb := range st.Windows {
		if wb.Window == w {
			return wb
		}
	}
	t.Fatalf("status has no window %s", w)
	return WindowBurn{}
}

// The SRE Workbook (ch. 5, "Multiwindow, multi-burn-rate alerts"): for a 99.9% SLO over 30d the
// 1h/5m pair at burn rate 14.4 fires once 2% of the budget is spent, which a full outage does after
// 0.864 min; an error ratio e takes 0.864 min / e. With a 6s step the first firing step is the
// ceiling of that, and the budget spent by then is at least 2% and less than 2% plus one step.
func TestWorkbookTimeToFire(t *testing.T) {
	const step = 6 * time.Second
	const traffic = 1000.0
	p := defaultPolicy()
	tests := []struct {
		name       string
		errorRatio float64
		wantSteps  int // ceil(0.864 min / e / 6s)
	}{
		{name: "full outage: 0.864 min", errorRatio: 1, wantSteps: 9},       // 51.84s
		{name: "half outage: 1.728 min", errorRatio: 0.5, wantSteps: 18},    // 103.68s
		{name: "30% errors: 2.88 min", errorRatio: 0.3, wantSteps: 29},      // 172.8s
		{name: "10% errors: 8.64 min", errorRatio: 0.1, wantSteps: 87},      // 518.4s
		{name: "5% errors: 17.28 min", errorRatio: 0.05, wantSteps: 173},    // 1036.8s
		{name: "2.5% errors: 34.56 min", errorRatio: 0.025, wantSteps: 346}, // 2073.6s
		{name: "1.7% errors: 50.8 min", errorRatio: 0.017, wantSteps: 509},  // 3049.4s
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seconds := 0.864 * 60 / tt.errorRatio
			if q := seconds / step.Seconds(); int(math.Ceil(q)) != tt.wantSteps || math.Abs(q-math.Round(q)) < 1e-6 {
				t.Fatalf("bad test case: %vs / 6s must have a non-integral ceiling %d", seconds, tt.wantSteps)
			}
			h := NewHistory(step, p.Period)
			end := t0
			// A whole period of clean traffic first, so the windows and the budget are full.
			for i := 0; i < int(p.Period/step); i++ {
				end = end.Add(step)
				if err := h.Append(Increment{End: end, Total: traffic}); err != nil {
					t.Fatal(err)
				}
			}
			var state State
			for k := 1; k <= 2*tt.wantSteps; k++ {
				end = end.Add(step)
				if err := h.Append(Increment{End: end, Bad: tt.errorRatio * traffic, Total: traffic}); err != nil {
					t.Fatal(err)
				}
				var st Status
				var trs []Transition
				state, st, trs = Evaluate(p, h, state, end)
				if len(trs) == 0 {
					continue
				}
				if k != tt.wantSteps {
					t.Fatalf("first transition %+v after %d steps, want after %d", trs, k, tt.wantSteps)
				}
				tr := trs[0]
				if len(trs) != 1 || tr.Severity != Page || tr.From != Inactive || tr.To != Firing {
					t.Fatalf("transitions %+v, want the page firing", trs)
				}
				if tr.Reason.Window != p.Windows[0] || math.Abs(tr.Reason.Threshold-0.0144) > tol {
					t.Errorf("reason %+v, want the 1h/5m pair at threshold 0.0144", tr.Reason)
				}
				if tr.Reason.LongBurn <= 14.4 || tr.Reason.ShortBurn <= 14.4 {
					t.Errorf("reason %+v: burn rates not above 14.4", tr.Reason)
				}
				spent := 1 - st.BudgetRemaining
				wantSpent := float64(k) * step.Seconds() * tt.errorRatio / (p.Period.Seconds() * (1 - p.Objective))
				if math.Abs(spent-wantSpent) > 1e-6 {
					t.Errorf("budget spent %v, want %v", spent, wantSpent)
				}
				oneStep := step.Seconds() * tt.errorRatio / (p.Period.Seconds() * (1 - p.Objective))
				if spent < 0.02 || spent >= 0.02+oneStep {
					t.Errorf("budget spent %v when it fires, want 2%% (within one step: %v)", spent, oneStep)
				}
				return
			}
			t.Fatalf("no page within %d steps", 2*tt.wantSteps)
		})
	}
}

// The workbook's burn rate → time to exhaustion table for a 30d SLO, and the edges.
func TestTimeToExhaustion(t *testing.T) {
	tests := []struct {
		name      string
		remaining float64
		burn      float64
		period    time.Duration
		want      time.Duration
	}{
		{name: "burn 1: 30d", remaining: 1, burn: 1, period: 30 * day, want: 30 * day},
		{name: "burn 2: 15d", remaining: 1, burn: 2, period: 30 * day, want: 15 * day},
		{name: "burn 10: 3d", remaining: 1, burn: 10, period: 30 * day, want: 3 * day},
		{name: "burn 1000: 43.2 min", remaining: 1, burn: 1000, period: 30 * day, want: 43*time.Minute + 12*time.Second},
		{name: "half the budget left at burn 1: 15d", remaining: 0.5, burn: 1, period: 30 * day, want: 15 * day},
		{name: "burn 14.4 on a 28d period", remaining: 1, burn: 14.4, period: 28 * day, want: time.Duration(float64(28*day) / 14.4)},
		{name: "no burn: 0", remaining: 1, burn: 0, period: 30 * day, want: 0},
		{name: "budget spent: 0", remaining: 0, burn: 5, period: 30 * day, want: 0},
		{name: "overspent: 0", remaining: -0.3, burn: 5, period: 30 * day, want: 0},
		{name: "NaN burn: 0", remaining: 1, burn: math.NaN(), period: 30 * day, want: 0},
		{name: "tiny burn saturates", remaining: 1, burn: 1e-300, period: 30 * day, want: math.MaxInt64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := TimeToExhaustion(tt.remaining, tt.burn, tt.period)
			if d := got - tt.want; d < -time.Microsecond || d > time.Microsecond {
				t.Errorf("TimeToExhaustion(%v, %v, %s) = %s, want %s", tt.remaining, tt.burn, tt.period, got, tt.want)
			}
		})
	}
}

// pre is three days of clean traffic before each scenario's event, so the 3d window is full.
const pre = 3 * 24 * 60

func clean(i int) Increment { return Increment{Bad: 0, Total: 1000} }

func TestEvaluateScenarios(t *testing.T) {
	noData := defaultPolicy()
	noData.NoData = &NoData{After: 5 * time.Minute, Severity: Ticket}
	withFor := defaultPolicy()
	withFor.Windows = []Window{{Severity: Page, Long: time.Hour, Short: 5 * time.Minute, BurnRate: 14.4, For: 2 * time.Minute}}

	// Counters behind the counter-reset scenario: a process restart right after step pre+15's
	// start leaves the counters at that step's growth only.
	const resetAt = pre + 15
	counter := func(i int, perStep float64) float64 {
		if i >= resetAt {
			return float64(i-resetAt+1) * perStep
		}
		return 5e6 + float64(i)*perStep
	}
	badPerStep := func(i int) float64 {
		if i > pre && i <= pre+30 {
			return 1000
		}
		return 0
	}
	badCounter := func(i int) float64 {
		c := 0.0
		start := 1
		if i >= resetAt {
			start = resetAt
		} else {
			c = 1e6
		}
		for j := start; j <= i; j++ {
			c += badPerStep(j)
		}
		return c
	}
	// fromCounter is the per-step increment DESIGN §2 derives from a counter: the difference when
	// it grew, the new value after a reset. Either way it is never negative.
	fromCounter := func(prev, cur float64) float64 {
		if cur < prev {
			return cur
		}
		return cur - prev
	}

	tests := []struct {
		name   string
		policy Policy
		n      int
		inc    func(i int) Increment
		want   []interval
		// wantTransitions, if set, is the whole list of transitions (step, severity, from, to).
		wantTransitions []stepTransition
		check           func(t *testing.T, i int, h *History, st Status)
		wantPeak        map[Severity]float64 // peak burn rate at resolution
	}{
		{
			name: "fast burn: 30 min full outage pages, then resolves 30 min after",
			n:    pre + 430,
			inc: func(i int) Increment {
				if i > pre && i <= pre+30 {
					return Increment{Bad: 1000, Total: 1000}
				}
				return clean(i)
			},
			// Page: from the first outage minute until the 30m window is clean. Ticket: after 5 bad
			// minutes (5/1440 > 0.003 and 5/4320 > 0.001) until the 6h window is clean.
			want:     []interval{{Page, false, pre + 1, pre + 60}, {Ticket, false, pre + 5, pre + 390}},
			wantPeak: map[Severity]float64{Page: 1000, Ticket: 250}, // 5m all bad; 30 bad min of the 2h
		},
		{
			name: "slow burn: 0.47% errors opens a ticket after 920 min, never pages",
			n:    pre + 2*24*60,
			inc: func(i int) Increment {
				if i > pre {
					return Increment{Bad: 4.7, Total: 1000}
				}
				return clean(i)
			},
			// Burn 4.7 is under both page rates (14.4, 6); the 1d/3 pair holds once 0.0047k/1440 > 0.003.
			want: []interval{{Ticket, false, pre + 920, -1}},
		},
		{
			name: "one-minute blip at 50% errors is quiet",
			n:    pre + 120,
			inc: func(i int) Increment {
				if i == pre+1 {
					return Increment{Bad: 500, Total: 1000}
				}
				return clean(i)
			},
			want: nil,
		},
		{
			name: "one-minute full outage pages for 5 min (the workbook's 0.864 min)",
			n:    pre + 120,
			inc: func(i int) Increment {
				if i == pre+1 {
					return Increment{Bad: 1000, Total: 1000}
				}
				return clean(i)
			},
			want: []interval{{Page, false, pre + 1, pre + 6}},
		},
		{
			name: "counter reset mid-outage: same alerts as without",
			n:    pre + 430,
			inc: func(i int) Increment {
				bad := fromCounter(badCounter(i-1), badCounter(i))
				total := fromCounter(counter(i-1, 1000), counter(i, 1000))
				return Increment{Bad: bad, Total: total}
			},
			want: []interval{{Page, false, pre + 1, pre + 60}, {Ticket, false, pre + 5, pre + 390}},
			check: func(t *testing.T, i int, h *History, st Status) {
				if i == resetAt && !(badCounter(i) < badCounter(i-1) && counter(i, 1000) < counter(i-1, 1000)) {
					t.Fatal("bad test case: no counter reset")
				}
				if i == pre+30 {
					if bad, total := h.Sum(time.Hour); math.Abs(bad-30000) > tol || math.Abs(total-60000) > tol {
						t.Errorf("1h sum across the reset = (%v, %v), want (30000, 60000)", bad, total)
					}
				}
			},
		},
		{
			name: "scrape gap mid-outage: missing steps, then a catch-up increment",
			n:    pre + 430,
			inc: func(i int) Increment {
				switch {
				case i > pre+4 && i < pre+15:
					return Increment{Missing: true}
				case i == pre+15:
					return Increment{Bad: 11000, Total: 11000}
				case i > pre && i <= pre+30:
					return Increment{Bad: 1000, Total: 1000}
				}
				return clean(i)
			},
			// The page holds through the gap on the 6h/30m pair; the ticket (5 bad minutes needed)
			// fires when the gap's counts arrive.
			want: []interval{{Page, false, pre + 1, pre + 60}, {Ticket, false, pre + 15, pre + 390}},
			check: func(t *testing.T, i int, h *History, st Status) {
				if i == pre+30 {
					if bad, total := h.Sum(time.Hour); math.Abs(bad-30000) > tol || math.Abs(total-60000) > tol {
						t.Errorf("1h sum after the gap = (%v, %v), want the true (30000, 60000)", bad, total)
					}
				}
			},
		},
		{
			name: "low traffic: one request in 10 min, one of them failing",
			n:    pre + 400,
			inc: func(i int) Increment {
				switch {
				case i%10 != 0:
					return Increment{}
				case i == pre+10:
					return Increment{Bad: 1, Total: 1}
				}
				return Increment{Total: 1}
			},
			// 1 bad of 6 requests per hour is a burn of 167: low traffic pages on a single failure.
			want: []interval{{Page, false, pre + 10, pre + 40}, {Ticket, false, pre + 10, pre + 370}},
			check: func(t *testing.T, i int, h *History, st Status) {
				if i != pre+10 {
					return
				}
				for _, c := range []struct {
					w          time.Duration
					bad, total float64
				}{{5 * time.Minute, 1, 1}, {time.Hour, 1, 6}, {6 * time.Hour, 1, 36}, {day, 1, 144}, {3 * day, 1, 432}} {
					wb := windowBurn(t, st, c.w)
					if wb.Bad != c.bad || wb.Total != c.total || math.Abs(wb.ErrorRatio-c.bad/c.total) > tol ||
						math.Abs(wb.BurnRate-c.bad/c.total/0.001) > 1e-6 {
						t.Errorf("window %s: %+v, want %v of %v", c.w, wb, c.bad, c.total)
					}
				}
			},
		},
		{
			name: "zero traffic: no NaN, no page",
			n:    500,
			inc:  func(i int) Increment { return Increment{} },
			want: nil,
			check: func(t *testing.T, i int, h *History, st Status) {
				if st.ErrorRatio != 0 || st.BudgetRemaining != 1 || st.CurrentBurnRate != 0 || st.TimeToExhaustion != 0 {
					t.Fatalf("step %d: %+v, want no burn and the whole budget", i, st)
				}
			},
		},
		{
			name: "data starting inside the windows: ratios over the data that exists",
			n:    400,
			inc: func(i int) Increment {
				if i == 1 || i == 2 {
					return Increment{Bad: 100, Total: 997}
				}
				return Increment{Total: 997}
			},
			// 200 bad of 997i: the 1h pair holds while the 5m window holds a bad step (to 6), the
			// 6h/30m pair while 200/997i > 0.006 (to 30); the tickets while > 0.003 (66) and > 0.001 (200).
			want: []interval{{Page, false, 1, 31}, {Ticket, false, 1, 201}},
			check: func(t *testing.T, i int, h *History, st Status) {
				if i != 10 {
					return
				}
				for _, w := range []time.Duration{time.Hour, 30 * day} {
					if wb := windowBurn(t, st, w); math.Abs(wb.ErrorRatio-200.0/9970) > tol {
						t.Errorf("window %s error ratio %v, want 200/9970", w, wb.ErrorRatio)
					}
				}
				if math.Abs(st.BudgetRemaining-(1-200.0/9970/0.001)) > 1e-6 {
					t.Errorf("budget remaining %v, want %v", st.BudgetRemaining, 1-200.0/9970/0.001)
				}
			},
		},
		{
			name:   "for: pending for 2 min, then firing",
			policy: withFor,
			n:      200,
			inc: func(i int) Increment {
				if i > 120 && i <= 130 {
					return Increment{Bad: 1000, Total: 1000}
				}
				return clean(i)
			},
			want: []interval{{Page, false, 123, 135}},
			wantTransitions: []stepTransition{
				{121, Transition{Severity: Page, From: Inactive, To: Pending}},
				{123, Transition{Severity: Page, From: Pending, To: Firing}},
				{135, Transition{Severity: Page, From: Firing, To: Inactive}},
			},
		},
		{
			name:   "for: a spike shorter than for stays pending, then inactive",
			policy: withFor,
			n:      200,
			inc: func(i int) Increment {
				switch {
				case i == 121:
					return Increment{Bad: 1000, Total: 1000}
				case i > 121:
					// Traffic grows a hundredfold: the 1h ratio falls under 0.0144 a minute later.
					return Increment{Total: 100000}
				}
				return clean(i)
			},
			want: nil,
			wantTransitions: []stepTransition{
				{121, Transition{Severity: Page, From: Inactive, To: Pending}},
				{122, Transition{Severity: Page, From: Pending, To: Inactive}},
			},
		},
		{
			name:   "no data: pending, firing after 5 min, resolved when data returns",
			policy: noData,
			n:      200,
			inc: func(i int) Increment {
				if i > 120 && i <= 130 {
					return Increment{Missing: true}
				}
				return clean(i)
			},
			want: []interval{{Ticket, true, 125, 131}},
			wantTransitions: []stepTransition{
				{121, Transition{Severity: Ticket, NoData: true, From: Inactive, To: Pending}},
				{125, Transition{Severity: Ticket, NoData: true, From: Pending, To: Firing}},
				{131, Transition{Severity: Ticket, NoData: true, From: Firing, To: Inactive}},
			},
		},
		{
			name:   "no data from the start: measured from the history's start",
			policy: noData,
			n:      20,
			inc: func(i int) Increment {
				if i <= 8 {
					return Increment{Missing: true}
				}
				return clean(i)
			},
			// Start is t0 (the first step begins there); at step 5 nothing has come for 5 min.
			want: []interval{{Ticket, true, 5, 9}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.policy
			if p.Windows == nil {
				p = defaultPolicy()
			}
			var check func(i int, h *History, st Status)
			if tt.check != nil {
				check = func(i int, h *History, st Status) { tt.check(t, i, h, st) }
			}
			trs := simulate(t, p, tt.n, tt.inc, check)
			if got := intervals(trs); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("firing intervals %v, want %v", got, tt.want)
			}
			if tt.wantTransitions != nil {
				if len(trs) != len(tt.wantTransitions) {
					t.Fatalf("transitions %+v, want %+v", trs, tt.wantTransitions)
				}
				for j, w := range tt.wantTransitions {
					g := trs[j]
					if g.step != w.step || g.Severity != w.Severity || g.NoData != w.NoData || g.From != w.From || g.To != w.To {
						t.Errorf("transition %d: %+v, want %+v", j, g, w)
					}
				}
			}
			for _, tr := range trs {
				if !tr.At.Equal(t0.Add(time.Duration(tr.step) * time.Minute)) {
					t.Errorf("transition %+v at %v, want the step's end", tr, tr.At)
				}
				if tr.To == Inactive && tr.From == Firing {
					if want, ok := tt.wantPeak[tr.Severity]; ok && math.Abs(tr.PeakBurnRate-want) > 1e-6 {
						t.Errorf("%s resolved with peak burn rate %v, want %v", tr.Severity, tr.PeakBurnRate, want)
					}
					if !tr.NoData && (tr.FiredAt.IsZero() || tr.Reason.Threshold == 0) {
						t.Errorf("resolution %+v lacks when it fired or why", tr)
					}
				}
			}
		})
	}
}

// TestEvaluateSourceFailure: when the source fails the History is not advanced and now moves past
// its End: burn-rate alerts hold (a firing page stays firing, no transitions), the no-data alert
// fires once the data is After old, and everything resumes when the data catches up.
func TestEvaluateSourceFailure(t *testing.T) {
	p := defaultPolicy()
	p.NoData = &NoData{After: 3 * time.Minute, Severity: Page}
	h := NewHistory(time.Minute, p.Period)
	var state State
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Minute) }
	for i := 1; i <= 200; i++ {
		inc := Increment{End: at(i), Total: 1000}
		if i > 190 {
			inc.Bad = 1000
		}
		if err := h.Append(inc); err != nil {
			t.Fatal(err)
		}
		state, _, _ = Evaluate(p, h, state, at(i))
	}
	if state.Alerts[0].Phase != Firing {
		t.Fatalf("page %+v, want firing before the failure", state.Alerts[0])
	}
	firing := state.Alerts[0]

	tests := []struct {
		name       string
		now        int
		wantNoData Phase
		wantTrs    int
	}{
		{name: "1 min without data: no-data pending", now: 201, wantNoData: Pending, wantTrs: 1},
		{name: "2 min", now: 202, wantNoData: Pending, wantTrs: 0},
		{name: "3 min: no-data fires", now: 203, wantNoData: Firing, wantTrs: 1},
		{name: "30 min: the page still holds", now: 230, wantNoData: Firing, wantTrs: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var trs []Transition
			var st Status
			state, st, trs = Evaluate(p, h, state, at(tt.now))
			if !reflect.DeepEqual(state.Alerts[0], firing) {
				t.Errorf("page %+v, want unchanged %+v", state.Alerts[0], firing)
			}
			nd := state.Alerts[len(state.Alerts)-1]
			if !nd.NoData || nd.Phase != tt.wantNoData {
				t.Errorf("no-data alert %+v, want %s", nd, tt.wantNoData)
			}
			if len(trs) != tt.wantTrs {
				t.Errorf("transitions %+v, want %d", trs, tt.wantTrs)
			}
			for _, tr := range trs {
				if !tr.NoData {
					t.Errorf("burn-rate transition %+v while the source fails", tr)
				}
			}
			if !st.LastData.Equal(at(200)) {
				t.Errorf("LastData %v, want %v", st.LastData, at(200))
			}
		})
	}

	t.Run("data returns: no-data resolves, the page resolves on fresh data", func(t *testing.T) {
		if err := h.Append(Increment{End: at(231), Total: 31000}); err != nil {
			t.Fatal(err)
		}
		var trs []Transition
		state, _, trs = Evaluate(p, h, state, at(231))
		if len(trs) != 2 {
			t.Fatalf("transitions %+v, want the page and no-data resolving", trs)
		}
		for _, tr := range trs {
			if tr.From != Firing || tr.To != Inactive {
				t.Errorf("transition %+v, want firing → inactive", tr)
			}
		}
	})
}

// TestEvaluatePolicyChange: a State from an older policy never panics and carries over by severity.
func TestEvaluatePolicyChange(t *testing.T) {
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Minute) }
	h := NewHistory(time.Minute, 30*day)
	for i := 1; i <= 120; i++ {
		inc := Increment{End: at(i), Total: 1000}
		if i > 110 {
			inc.Bad = 1000
		}
		if err := h.Append(inc); err != nil {
			t.Fatal(err)
		}
	}
	now := at(120)
	page := Window{Severity: Page, Long: time.Hour, Short: 5 * time.Minute, BurnRate: 14.4}
	pageFor := page
	pageFor.For = 30 * time.Minute
	firingPage := func(pairs int) AlertState {
		a := AlertState{Severity: Page, Phase: Firing, ActiveAt: at(111), FiredAt: at(111), PeakBurnRate: 500, PairSince: make([]time.Time, pairs)}
		for i := range a.PairSince {
			a.PairSince[i] = at(111)
		}
		return a
	}
	tests := []struct {
		name      string
		windows   []Window
		prev      State
		wantPhase map[Severity]Phase
		wantTrs   []Transition
	}{
		{
			name:      "fewer pairs than before",
			windows:   []Window{page},
			prev:      State{Alerts: []AlertState{firingPage(3)}},
			wantPhase: map[Severity]Phase{Page: Firing},
		},
		{
			name:      "more pairs than before: the new pair starts afresh, the alert keeps firing",
			windows:   []Window{{Severity: Page, Long: 6 * time.Hour, Short: 30 * time.Minute, BurnRate: 6, For: time.Hour}, pageFor},
			prev:      State{Alerts: []AlertState{firingPage(1)}},
			wantPhase: map[Severity]Phase{Page: Firing},
		},
		{
			name:      "a new for longer than the pair has held: a firing alert stays firing",
			windows:   []Window{pageFor},
			prev:      State{Alerts: []AlertState{firingPage(1)}},
			wantPhase: map[Severity]Phase{Page: Firing},
		},
		{
			name:      "a new severity starts inactive and evaluates",
			windows:   []Window{page, {Severity: Ticket, Long: time.Hour, Short: 5 * time.Minute, BurnRate: 1}},
			prev:      State{Alerts: []AlertState{firingPage(1)}},
			wantPhase: map[Severity]Phase{Page: Firing, Ticket: Firing},
			wantTrs:   []Transition{{Severity: Ticket, From: Inactive, To: Firing}},
		},
		{
			name:      "a severity dropped while firing resolves",
			windows:   []Window{{Severity: Ticket, Long: time.Hour, Short: 5 * time.Minute, BurnRate: 1}},
			prev:      State{Alerts: []AlertState{firingPage(2), {Severity: Ticket, Phase: Firing, FiredAt: at(115), PairSince: []time.Time{at(115)}}}},
			wantPhase: map[Severity]Phase{Ticket: Firing},
			wantTrs:   []Transition{{Severity: Page, From: Firing, To: Inactive, FiredAt: at(111), PeakBurnRate: 500}},
		},
		{
			name:      "garbage prev: unknown phase, pair since in the future, duplicates",
			windows:   []Window{pageFor},
			prev:      State{Alerts: []AlertState{{Severity: Page, Phase: "weird", PairSince: []time.Time{at(500), at(1)}}, {Severity: Page, Phase: Firing}}},
			wantPhase: map[Severity]Phase{Page: Pending},
			wantTrs:   []Transition{{Severity: Page, From: Inactive, To: Pending}, {Severity: Page, From: Firing, To: Inactive}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Policy{Objective: 0.999, Period: 30 * day, Windows: tt.windows}
			prevJSON, _ := json.Marshal(tt.prev)
			next, _, trs := Evaluate(p, h, tt.prev, now)
			if afterJSON, _ := json.Marshal(tt.prev); string(afterJSON) != string(prevJSON) {
				t.Error("Evaluate modified prev")
			}
			if len(next.Alerts) != len(tt.wantPhase) {
				t.Fatalf("alerts %+v, want %v", next.Alerts, tt.wantPhase)
			}
			for _, a := range next.Alerts {
				if a.Phase != tt.wantPhase[a.Severity] {
					t.Errorf("%s: %s, want %s", a.Severity, a.Phase, tt.wantPhase[a.Severity])
				}
				n := 0
				for _, w := range tt.windows {
					if w.Severity == a.Severity {
						n++
					}
				}
				if len(a.PairSince) != n {
					t.Errorf("%s: %d PairSince, want %d", a.Severity, len(a.PairSince), n)
				}
				for _, s := range a.PairSince {
					if s.After(now) {
						t.Errorf("%s: pair since %v after now", a.Severity, s)
					}
				}
			}
			if len(trs) != len(tt.wantTrs) {
				t.Fatalf("transitions %+v, want %+v", trs, tt.wantTrs)
			}
			for i, w := range tt.wantTrs {
				g := trs[i]
				if g.Severity != w.Severity || g.From != w.From || g.To != w.To || !g.FiredAt.Equal(w.FiredAt) && !w.FiredAt.IsZero() || g.PeakBurnRate != w.PeakBurnRate && w.PeakBurnRate != 0 {
					t.Errorf("transition %d: %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

func TestEvaluateStatus(t *testing.T) {
	h := NewHistory(time.Minute, 30*day)
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Minute) }
	// Two days: the first clean, the second at 0.3% errors (burn 3).
	for i := 1; i <= 2*24*60; i++ {
		inc := Increment{End: at(i), Total: 1000}
		if i > 24*60 {
			inc.Bad = 3
		}
		if err := h.Append(inc); err != nil {
			t.Fatal(err)
		}
	}
	p := defaultPolicy()
	_, st, _ := Evaluate(p, h, State{}, h.End())
	wantWindows := []time.Duration{5 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 6 * time.Hour, day, 3 * day, 30 * day}
	if len(st.Windows) != len(wantWindows) {
		t.Fatalf("windows %+v, want %v", st.Windows, wantWindows)
	}
	for i, w := range wantWindows {
		if st.Windows[i].Window != w {
			t.Errorf("window %d: %s, want %s", i, st.Windows[i].Window, w)
		}
	}
	tests := []struct {
		name      string
		got, want float64
	}{
		{name: "1h burn rate", got: windowBurn(t, st, time.Hour).BurnRate, want: 3},
		{name: "3d burn rate over the 2 days that exist", got: windowBurn(t, st, 3*day).BurnRate, want: 1.5},
		{name: "period error ratio", got: st.ErrorRatio, want: 0.0015},
		{name: "budget remaining (overspent)", got: st.BudgetRemaining, want: -0.5},
		{name: "current burn rate is the 1h window's", got: st.CurrentBurnRate, want: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if math.Abs(tt.got-tt.want) > 1e-6 {
				t.Errorf("got %v, want %v", tt.got, tt.want)
			}
		})
	}
	if !st.At.Equal(h.End()) || !st.LastData.Equal(h.End()) {
		t.Errorf("At %v LastData %v, want %v", st.At, st.LastData, h.End())
	}

	t.Run("time to exhaustion at the current burn", func(t *testing.T) {
		// Overspent: nothing left to exhaust.
		if st.TimeToExhaustion != 0 {
			t.Errorf("TimeToExhaustion %s with budget %v, want 0", st.TimeToExhaustion, st.BudgetRemaining)
		}
		p2 := p
		p2.Objective = 0.99 // 10× the budget: 0.15 of it spent, burn 0.3
		_, st2, _ := Evaluate(p2, h, State{}, h.End())
		want := 30 * day * 85 / 30 // 0.85 × 30d / 0.3
		if math.Abs(st2.BudgetRemaining-0.85) > 1e-9 || math.Abs(st2.CurrentBurnRate-0.3) > 1e-9 || (st2.TimeToExhaustion-want).Abs() > time.Second {
			t.Errorf("status %+v, want budget 0.85, burn 0.3, exhaustion in %s", st2, want)
		}
	})

	t.Run("nil and empty history", func(t *testing.T) {
		for _, h := range []*History{nil, NewHistory(time.Minute, day)} {
			next, st, trs := Evaluate(p, h, State{}, t0)
			if len(trs) != 0 || len(next.Alerts) != 2 || st.BudgetRemaining != 1 || st.CurrentBurnRate != 0 {
				t.Errorf("Evaluate on %v: %+v %+v %+v", h, next, st, trs)
			}
		}
	})
}

// TestEvaluateThresholdIsExclusive: a pair holds only when both error ratios exceed the threshold
// ("exceed" in docs/interfaces.md §1); a ratio exactly at it does not fire. Objective 0.5 and burn
// rate 1 make the threshold exactly representable (0.5).
func TestEvaluateThresholdIsExclusive(t *testing.T) {
	p := Policy{Objective: 0.5, Period: day, Windows: []Window{{Severity: Page, Long: time.Hour, Short: 5 * time.Minute, BurnRate: 1}}}
	tests := []struct {
		name      string
		bad       float64
		wantPhase Phase
	}{
		{name: "below", bad: 999, wantPhase: Inactive},
		{name: "exactly at the threshold", bad: 1000, wantPhase: Inactive},
		{name: "above", bad: 1001, wantPhase: Firing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := NewHistory(time.Minute, day)
			end := t0.Add(time.Minute)
			if err := h.Append(Increment{End: end, Bad: tt.bad, Total: 2000}); err != nil {
				t.Fatal(err)
			}
			next, _, _ := Evaluate(p, h, State{}, end)
			if got := next.Alerts[0].Phase; got != tt.wantPhase {
				t.Errorf("phase %s, want %s", got, tt.wantPhase)
			}
		})
	}
}

// TestStateJSONRoundTrip: the store keeps State as JSON between evaluations; evaluating from the
// decoded State must give what evaluating from the original gives.
func TestStateJSONRoundTrip(t *testing.T) {
	p := defaultPolicy()
	p.NoData = &NoData{After: 10 * time.Minute, Severity: Ticket}
	p.Windows[1].For = 15 * time.Minute
	h := NewHistory(time.Minute, p.Period)
	var state State
	for i := 1; i <= 300; i++ {
		inc := Increment{End: t0.Add(time.Duration(i) * time.Minute), Total: 1000}
		switch {
		case i > 270 && i <= 285:
			inc = Increment{End: inc.End, Missing: true}
		case i > 200:
			inc.Bad = 100
		}
		if err := h.Append(inc); err != nil {
			t.Fatal(err)
		}
		next, _, trs := Evaluate(p, h, state, inc.End)
		b, err := json.Marshal(state)
		if err != nil {
			t.Fatal(err)
		}
		var decoded State
		if err := json.Unmarshal(b, &decoded); err != nil {
			t.Fatal(err)
		}
		next2, _, trs2 := Evaluate(p, h, decoded, inc.End)
		if !reflect.DeepEqual(next, next2) || !reflect.DeepEqual(trs, trs2) {
			t.Fatalf("step %d: from JSON %+v %+v, want %+v %+v", i, next2, trs2, next, trs)
		}
		state = next
	}
	if state.Alerts[0].Phase != Firing {
		t.Fatalf("page %+v, want firing at the end (bad test case)", state.Alerts[0])
	}
}

// TestResolveCarriesRatesOfResolvingStep: a resolution says why the alert ended: the pair that
// fired with its burn rates at the resolving evaluation, which no longer both exceed the threshold
// (the rates of the step before did, and were what a resolve used to carry).
func TestResolveCarriesRatesOfResolvingStep(t *testing.T) {
	p := defaultPolicy()
	statuses := map[int]Status{}
	trs := simulate(t, p, pre+430, func(i int) Increment {
		if i > pre && i <= pre+30 {
			return Increment{Bad: 1000, Total: 1000}
		}
		return clean(i)
	}, func(i int, _ *History, st Status) { statuses[i] = st })
	resolves := 0
	for _, tr := range trs {
		if tr.From != Firing || tr.To != Inactive || tr.NoData {
			continue
		}
		resolves++
		st := statuses[tr.step]
		w := tr.Reason.Window
		long, short := windowBurn(t, st, w.Long).BurnRate, windowBurn(t, st, w.Short).BurnRate
		if math.Abs(tr.Reason.LongBurn-long) > tol || math.Abs(tr.Reason.ShortBurn-short) > tol {
			t.Errorf("%s resolved at step %d with burn rates %v/%v over %s/%s, want those of the resolving step %v/%v",
				tr.Severity, tr.step, tr.Reason.LongBurn, tr.Reason.ShortBurn, w.Long, w.Short, long, short)
		}
		if tr.Reason.LongBurn > w.BurnRate && tr.Reason.ShortBurn > w.BurnRate {
			t.Errorf("%s resolved with both burn rates above %v: %+v", tr.Severity, w.BurnRate, tr.Reason)
		}
		if tr.Reason.Threshold != w.Threshold(p.Objective) {
			t.Errorf("%s resolved with threshold %v, want %v", tr.Severity, tr.Reason.Threshold, w.Threshold(p.Objective))
		}
	}
	if resolves != 2 {
		t.Fatalf("%d resolutions, want the page's and the ticket's: %+v", resolves, trs)
	}
}
