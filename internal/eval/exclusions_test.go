package eval

import (
	"testing"
	"time"

	"github.com/slod-dev/slod/internal/burnrate"
	"github.com/slod-dev/slod/internal/exclude"
)

// A backfill plan refined around an exclusion that starts and ends inside hourly buckets: still
// contiguous, and no coarse bucket is partly excluded (those two are fetched step by step).
func TestRefineAroundExclusions(t *testing.T) {
	step := time.Minute
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	w := &exclude.Window{Name: "db", Start: time.Date(2026, 11, 8, 5, 30, 0, 0, time.UTC), Duration: 3 * time.Hour, RRule: "FREQ=WEEKLY"}
	if err := w.Compile(); err != nil {
		t.Fatal(err)
	}
	set := exclude.Set{w}
	plain := backfillPlan(now.Add(-30*24*time.Hour), now, step)
	segs := refine(plain, set, step)
	if len(segs) <= len(plain) {
		t.Fatalf("nothing refined: %+v", segs)
	}
	fine := 0
	for i, s := range segs {
		if i > 0 && !s.from.Add(-s.step).Equal(segs[i-1].to) {
			t.Fatalf("segment %d does not start where %d ends: %+v after %+v", i, i-1, s, segs[i-1])
		}
		for e := s.from; !e.After(s.to); e = e.Add(s.step) {
			if s.step == step {
				fine++
				continue
			}
			if n := set.Excluded(e.Add(-s.step), e, step); n != 0 && n != int(s.step/step) {
				t.Errorf("bucket ending %s is partly excluded (%d steps) but fetched whole", e, n)
			}
		}
	}
	if last := segs[len(segs)-1]; !last.to.Equal(now) {
		t.Errorf("the plan ends at %s", last.to)
	}
	t.Logf("%d segments, %d steps fetched one by one", len(segs), fine)
}

// An evaluation at an excluded step keeps every alert from rising, and lets one resolve.
func TestHoldRises(t *testing.T) {
	prev := burnrate.State{Alerts: []burnrate.AlertState{
		{Severity: burnrate.Page, Phase: burnrate.Firing},
		{Severity: burnrate.Ticket, Phase: burnrate.Inactive},
		{Severity: burnrate.Ticket, NoData: true, Phase: burnrate.Pending},
	}}
	next := burnrate.State{Alerts: []burnrate.AlertState{
		{Severity: burnrate.Page, Phase: burnrate.Inactive},
		{Severity: burnrate.Ticket, Phase: burnrate.Firing},
		{Severity: burnrate.Ticket, NoData: true, Phase: burnrate.Firing},
		{Severity: burnrate.Ticket, Budget: true, Phase: burnrate.Firing},
	}}
	trs := []burnrate.Transition{
		{Severity: burnrate.Page, From: burnrate.Firing, To: burnrate.Inactive},
		{Severity: burnrate.Ticket, From: burnrate.Inactive, To: burnrate.Firing},
		{Severity: burnrate.Ticket, NoData: true, From: burnrate.Pending, To: burnrate.Firing},
		{Severity: burnrate.Ticket, Budget: true, From: burnrate.Inactive, To: burnrate.Firing},
	}
	st, kept := holdRises(prev, next, trs)
	want := []burnrate.Phase{burnrate.Inactive, burnrate.Inactive, burnrate.Pending, ""}
	for i, a := range st.Alerts {
		if a.Phase != want[i] {
			t.Errorf("alert %d (%s): %q, want %q", i, a.Severity, a.Phase, want[i])
		}
	}
	if len(kept) != 1 || kept[0].Severity != burnrate.Page {
		t.Errorf("transitions kept: %+v, want the page's resolve only", kept)
	}
	if next.Alerts[1].Phase != burnrate.Firing {
		t.Error("holdRises wrote into next's slice")
	}
}
