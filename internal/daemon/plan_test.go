package daemon

import (
	"slices"
	"testing"
	"time"

	"github.com/slod-dev/slod/internal/burnrate"
	"github.com/slod-dev/slod/internal/notify"
	"github.com/slod-dev/slod/internal/receiver"
	"github.com/slod-dev/slod/internal/rules"
	"github.com/slod-dev/slod/internal/store"
)

// TestPlan drives the cycle's plan stage alone, without a store: results in, the batch to commit
// and the notifications out.
func TestPlan(t *testing.T) {
	slos, _, err := rules.Parse("shop.yaml", []byte(testRules))
	if err != nil {
		t.Fatal(err)
	}
	s := &sloState{slo: slos[0], commits: map[string]commitState{}}
	at := t0.Add(10 * time.Minute)
	fire := burnrate.Transition{Severity: burnrate.Page, From: burnrate.Pending, To: burnrate.Firing, At: at, FiredAt: at,
		Reason: burnrate.Reason{Window: slos[0].Alerting.Windows[0], LongBurn: 20, ShortBurn: 30, Threshold: 0.1}}
	results := []sloResult{{s: s, insts: []instResult{{id: "shop/availability", transitions: []burnrate.Transition{fire},
		record: store.SLORecord{ID: "shop/availability", State: []byte("{}")}}}}}
	// An incident of an SLO a reload removed is still open.
	gone := notify.DedupKey("cart", "availability", "page", false)
	prev := map[string]notify.AlertRecord{gone: {Want: notify.Notification{DedupKey: gone, Action: notify.Trigger,
		Labels: map[string]string{"severity": "page"}}, Receiver: "hook", SentAt: t0}}
	in := planInput{at: at, results: results, prev: prev,
		router: receiver.NewRouter([]receiver.Route{{Match: map[string]string{"severity": "page"}, Receiver: "hook"}})}

	p, err := plan(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.commit.SLOs) != 1 || p.commit.SLOs[0].ID != "shop/availability" {
		t.Errorf("records %+v", p.commit.SLOs)
	}
	page := notify.DedupKey("shop", "availability", "page", false)
	var actions []string
	for _, e := range p.reconciled.Enqueue {
		actions = append(actions, e.Key+" "+string(e.Notification.Action)+" to "+e.Receiver)
	}
	want := []string{gone + " resolve to hook", page + " trigger to hook"}
	if len(actions) != 2 || actions[0] != want[0] || actions[1] != want[1] {
		t.Errorf("enqueued %q, want %q", actions, want)
	}
	if len(p.commit.Outbox) != 2 || p.commit.Meta[notify.MetaAlertRecords] == nil || p.commit.Meta[metaLastCycle] == nil {
		t.Errorf("commit %d outbox entries, meta %v", len(p.commit.Outbox), p.commit.Meta)
	}
	if _, ok := p.reconciled.State[page]; !ok || len(p.reconciled.State) != 1 {
		t.Errorf("notification state %v, want only %s", p.reconciled.State, page)
	}

	// A silence on the service holds the trigger back (recorded, not enqueued); the resolve of the
	// removed SLO still goes out.
	in.silences = []notify.Silence{{ID: "s1", Matchers: []notify.Matcher{{Name: "service", Value: "shop", IsEqual: true}},
		StartsAt: t0, EndsAt: at.Add(time.Hour)}}
	p, err = plan(in)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.reconciled.Enqueue) != 1 || p.reconciled.Enqueue[0].Key != gone || len(p.reconciled.Silenced) != 1 {
		t.Errorf("silenced: enqueued %+v, silenced %+v", p.reconciled.Enqueue, p.reconciled.Silenced)
	}
	if rec := p.reconciled.State[page]; rec.SilencedBy != "s1" {
		t.Errorf("the silenced trigger is not recorded: %+v", rec)
	}
}

// TestPlanResolvesOnlyRemovedAlerts: of the alerts that fire, those of a configured SLO stay open
// (its no-data ticket, of one of its groups too) and those of an SLO, a severity or a group that
// the rules no longer have are resolved.
func TestPlanResolvesOnlyRemovedAlerts(t *testing.T) {
	slos, _, err := rules.Parse("shop.yaml", []byte(testRules))
	if err != nil {
		t.Fatal(err)
	}
	shop := slos[0]
	at := t0.Add(10 * time.Minute)
	prev := map[string]notify.AlertRecord{}
	firing := func(service, name, sev string, noData bool, group string) string {
		key := notify.GroupDedupKey(service, name, sev, noData, group)
		prev[key] = notify.AlertRecord{Want: notify.Notification{DedupKey: key, Action: notify.Trigger, Service: service, SLO: name,
			Severity: sev, NoData: noData}, Receiver: "hook", SentAt: t0}
		return key
	}
	firing("shop", "availability", "ticket", true, "")
	firing("shop", "availability", "ticket", true, `{model="m1"}`)
	removed := []string{
		firing("cart", "availability", "page", false, ""),             // an SLO the rules no longer have
		firing("shop", "availability", "ticket", false, ""),           // a severity it no longer has
		firing("shop", "availability", "page", false, `{model="m2"}`), // a group it no longer has
	}
	results := []sloResult{{s: &sloState{slo: shop}, insts: []instResult{{id: "shop/availability"}, {key: `{model="m1"}`, id: `shop/availability{model="m1"}`}}}}
	p, err := plan(planInput{at: at, results: results, prev: prev, router: receiver.NewRouter(nil)})
	if err != nil {
		t.Fatal(err)
	}
	var resolved []string
	for _, n := range p.changes {
		if n.Action == notify.Resolve {
			resolved = append(resolved, n.DedupKey)
		}
	}
	slices.Sort(resolved)
	slices.Sort(removed)
	if !slices.Equal(resolved, removed) {
		t.Errorf("resolved %q, want %q", resolved, removed)
	}
}
