package burnrate

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// randomPolicy is a policy with up to 5 window pairs drawn from a few durations (so that windows
// repeat and coincide with the period), two or three severities, sometimes an invalid objective,
// no period or a no-data alert.
func randomPolicy(r *rand.Rand) Policy {
	durs := []time.Duration{0, time.Minute, 5 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 6 * time.Hour, day}
	sevs := []Severity{Page, Ticket, "chat"}
	p := Policy{
		Objective: []float64{0.999, 0.99, 0.9, 0.5, 0, 1, -0.5}[r.IntN(7)],
		Period:    []time.Duration{0, time.Hour, day, 30 * day}[r.IntN(4)],
	}
	for range r.IntN(6) {
		p.Windows = append(p.Windows, Window{
			Severity: sevs[r.IntN(len(sevs))],
			Long:     durs[r.IntN(len(durs))],
			Short:    durs[r.IntN(len(durs))],
			BurnRate: []float64{0.5, 1, 3, 14.4, 100}[r.IntN(5)],
			For:      []time.Duration{0, 0, time.Minute, 5 * time.Minute, 20 * time.Minute}[r.IntN(5)],
		})
	}
	if r.IntN(2) == 0 {
		p.NoData = &NoData{After: []time.Duration{0, time.Minute, 10 * time.Minute}[r.IntN(3)], Severity: sevs[r.IntN(2)]}
	}
	return p
}

// cloneState is a deep copy of st.
func cloneState(st State) State {
	if st.Alerts == nil {
		return st
	}
	c := State{Alerts: make([]AlertState, len(st.Alerts))}
	for i, a := range st.Alerts {
		if a.PairSince != nil {
			a.PairSince = append([]time.Time{}, a.PairSince...)
		}
		c.Alerts[i] = a
	}
	return c
}

// TestCompiledMatchesReference checks Evaluate and (*Compiled).Evaluate against evaluateRef, the
// implementation from before Compile, over random policies, traffic, source failures, policy
// changes and prev states carried over, decoded from JSON or garbage: same State, Status and
// transitions, and prev never modified. (*Compiled).Advance, with a State chain of its own, must
// give the same State and transitions, and (*Compiled).Status the same Status.
func TestCompiledMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	transitions := 0
	for trial := range 300 {
		p := randomPolicy(r)
		c := Compile(p)
		h := NewHistory(time.Minute, []time.Duration{time.Hour, 6 * time.Hour, day, 3 * day}[r.IntN(4)])
		var refSt, st, cst, ast State
		end := t0
		badRate := 0.0
		for step := range 400 {
			if r.IntN(40) == 0 {
				badRate = []float64{0, 0.0005, 0.01, 0.2, 1}[r.IntN(5)]
			}
			end = end.Add(time.Minute)
			switch k := r.IntN(50); {
			case k == 0: // the source fails: no append, evaluate later than h.End()
			case k == 1:
				if err := h.Append(Increment{End: end, Missing: true}); err != nil {
					t.Fatal(err)
				}
			case k == 2: // a gap filled as Missing
				end = end.Add(time.Duration(r.IntN(90)) * time.Minute)
				fallthrough
			default:
				total := float64(r.IntN(3)) * 500
				if err := h.Append(Increment{End: end, Bad: total * badRate, Total: total}); err != nil {
					t.Fatal(err)
				}
			}
			now := end
			switch r.IntN(30) {
			case 0:
				now = end.Add(-time.Minute) // before h.End(): PairSince in the future
			case 1:
				now = end.Add(3 * time.Minute)
			}
			switch r.IntN(60) {
			case 0: // the state as stored and loaded
				b, err := json.Marshal(st)
				if err != nil {
					t.Fatal(err)
				}
				var decoded State
				if err := json.Unmarshal(b, &decoded); err != nil {
					t.Fatal(err)
				}
				refSt, st, cst, ast = decoded, decoded, cloneState(decoded), cloneState(decoded)
			case 1: // a policy change carries the state over
				p = randomPolicy(r)
				c = Compile(p)
			case 2: // garbage
				g := State{Alerts: []AlertState{{Severity: Page, Phase: "weird", PairSince: []time.Time{now.Add(time.Hour), {}, now}},
					{Severity: Page, Phase: Firing, FiredAt: now}, {Severity: Ticket, NoData: true, Phase: Pending}}}
				refSt, st, cst, ast = g, cloneState(g), cloneState(g), cloneState(g)
			}
			hh := h
			if trial%50 == 0 && step < 3 {
				hh = nil
			}

			wantSt, wantStatus, wantTrs := evaluateRef(p, hh, refSt, now)
			before := cloneState(st)
			gotSt, gotStatus, gotTrs := Evaluate(p, hh, st, now)
			if !reflect.DeepEqual(st, before) {
				t.Fatalf("trial %d step %d: Evaluate modified prev", trial, step)
			}
			if !reflect.DeepEqual(gotSt, wantSt) || !reflect.DeepEqual(gotStatus, wantStatus) || !reflect.DeepEqual(gotTrs, wantTrs) {
				t.Fatalf("trial %d step %d, policy %+v:\nEvaluate %+v\n%+v\n%+v\nreference %+v\n%+v\n%+v",
					trial, step, p, gotSt, gotStatus, gotTrs, wantSt, wantStatus, wantTrs)
			}
			cSt, cStatus, cTrs := c.Evaluate(hh, cst, now)
			if !reflect.DeepEqual(cSt, wantSt) || !reflect.DeepEqual(cStatus, wantStatus) || !reflect.DeepEqual(cTrs, wantTrs) {
				t.Fatalf("trial %d step %d: Compiled.Evaluate %+v %+v %+v, want %+v %+v %+v",
					trial, step, cSt, cStatus, cTrs, wantSt, wantStatus, wantTrs)
			}
			abefore := cloneState(ast)
			aSt, aTrs := c.Advance(hh, ast, now)
			if !reflect.DeepEqual(ast, abefore) {
				t.Fatalf("trial %d step %d: Advance modified prev", trial, step)
			}
			if !reflect.DeepEqual(aSt, wantSt) || !reflect.DeepEqual(aTrs, wantTrs) {
				t.Fatalf("trial %d step %d: Compiled.Advance %+v %+v, want %+v %+v", trial, step, aSt, aTrs, wantSt, wantTrs)
			}
			if status := c.Status(hh, now); !reflect.DeepEqual(status, wantStatus) {
				t.Fatalf("trial %d step %d: Compiled.Status %+v, want %+v", trial, step, status, wantStatus)
			}
			transitions += len(wantTrs)
			refSt, st, cst, ast = wantSt, gotSt, cSt, aSt
		}
	}
	if transitions < 1000 {
		t.Fatalf("only %d transitions: the random cases do not exercise the state machine", transitions)
	}
}

// TestCompiledOwnsPolicy checks that a Compiled keeps the policy it was compiled from, and that
// Evaluate follows a policy changed in place.
func TestCompiledOwnsPolicy(t *testing.T) {
	h := NewHistory(time.Minute, 30*day)
	for i := 1; i <= 120; i++ {
		if err := h.Append(Increment{End: t0.Add(time.Duration(i) * time.Minute), Bad: 20, Total: 1000}); err != nil {
			t.Fatal(err)
		}
	}
	now := h.End()
	p := defaultPolicy() // 2% errors: burn rate 20, above the page's 14.4
	c := Compile(p)
	st, _, _ := Evaluate(p, h, State{}, now)
	if st.Alerts[0].Phase != Firing {
		t.Fatalf("page %+v, want firing (bad test case)", st.Alerts[0])
	}
	p.Windows[0].BurnRate, p.Windows[1].BurnRate = 30, 30 // in place: same backing array
	if st, _, _ := Evaluate(p, h, State{}, now); st.Alerts[0].Phase != Inactive {
		t.Errorf("after raising the page's burn rates in place: page %+v, want inactive", st.Alerts[0])
	}
	if st, _, _ := c.Evaluate(h, State{}, now); st.Alerts[0].Phase != Firing || st.Alerts[0].Reason.Window.BurnRate != 14.4 {
		t.Errorf("Compiled after its policy changed: page %+v, want firing at burn rate 14.4", st.Alerts[0])
	}
}

// TestEvaluateSharesUnchangedState checks the copy-on-write of State: an evaluation that changes no
// alert returns prev's slices (which Evaluate never writes), one that changes an alert a new State.
func TestEvaluateSharesUnchangedState(t *testing.T) {
	h := NewHistory(time.Minute, 30*day)
	p := defaultPolicy()
	c := Compile(p)
	var st State
	for i := 1; i <= 60; i++ {
		end := t0.Add(time.Duration(i) * time.Minute)
		if err := h.Append(Increment{End: end, Bad: 50, Total: 1000}); err != nil {
			t.Fatal(err)
		}
		st, _, _ = c.Evaluate(h, st, end)
	}
	if st.Alerts[0].Phase != Firing {
		t.Fatalf("page %+v, want firing (bad test case)", st.Alerts[0])
	}
	end := h.End().Add(time.Minute)
	if err := h.Append(Increment{End: end, Bad: 50, Total: 1000}); err != nil {
		t.Fatal(err)
	}
	next, _, trs := c.Evaluate(h, st, end)
	if len(trs) != 0 || &next.Alerts[0] != &st.Alerts[0] || &next.Alerts[0].PairSince[0] != &st.Alerts[0].PairSince[0] {
		t.Errorf("unchanged evaluation: new slices or transitions %+v", trs)
	}
	allocs := testing.AllocsPerRun(100, func() { c.Evaluate(h, st, end) })
	if allocs > 1 { // Status.Windows
		t.Errorf("unchanged evaluation: %v allocations, want 1", allocs)
	}
	if allocs := testing.AllocsPerRun(100, func() { c.Advance(h, st, end) }); allocs != 0 {
		t.Errorf("unchanged Advance: %v allocations, want none", allocs)
	}

	end = end.Add(time.Minute)
	if err := h.Append(Increment{End: end, Total: 1e9}); err != nil {
		t.Fatal(err)
	}
	before := cloneState(st)
	next, _, _ = c.Evaluate(h, st, end)
	if !reflect.DeepEqual(st, before) {
		t.Fatal("Evaluate modified prev")
	}
	if next.Alerts[0].Phase != Inactive || &next.Alerts[0] == &st.Alerts[0] {
		t.Errorf("page %+v, want inactive in a new State", next.Alerts[0])
	}
}
