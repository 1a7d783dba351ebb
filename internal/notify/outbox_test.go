package notify

import (
	"context"
	"strings"
	"testing"

	"github.com/benbjohnson/clock"

	"github.com/slod-dev/slod/internal/receiver"
)

// TestOutboxEndToEnd runs reconciliation and the dispatcher together over an outbox that keeps
// only what was "persisted" (payload bytes, attempts): the outbox entries and the alert records are
// committed together, PagerDuty is down for a while, slod restarts (a new dispatcher, the records
// decoded again) mid-outage, and in the end PagerDuty is in the state of the alerts: no incident
// for the alert that fired and resolved during the outage (its trigger was never accepted, only
// its resolve is sent), one open incident for the alert still firing. The daemon's test of its
// store-backed Outbox covers the bbolt side.
func TestOutboxEndToEnd(t *testing.T) {
	f := newFakePagerDuty(t)
	clk := clock.NewMock()
	clk.Set(t0)
	r := Reconciler{Router: receiver.NewRouter([]receiver.Route{{Receiver: "oncall"}})}
	o := &memOutbox{}
	var records []byte // the store meta MetaAlertRecords

	commit := func(changes []Notification) {
		t.Helper()
		prev, err := DecodeAlertRecords(records)
		if err != nil {
			t.Fatal(err)
		}
		res := r.Reconcile(prev, changes, nil, clk.Now())
		for _, e := range res.Enqueue {
			o.add(t, e.Receiver, e.Notification, e.Created)
		}
		if records, err = EncodeAlertRecords(res.State); err != nil {
			t.Fatal(err)
		}
	}

	commit([]Notification{notificationFor("a", Trigger), notificationFor("b", Trigger)})
	f.setFailAll(503, "")
	d, _ := newPDDispatcher(t, f, o, clk, nil)
	for i := 0; i < 5; i++ {
		next, err := d.DispatchOnce(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		clk.Set(next)
	}
	pending, err := o.Pending()
	if err != nil || len(pending) != 2 || pending[0].Attempts == 0 || !strings.Contains(pending[0].LastError, "503") {
		t.Fatalf("outbox after failures = %+v, %v; want both entries with attempts recorded", pending, err)
	}
	commit([]Notification{notificationFor("a", Resolve)})
	// The same cycle's trigger again (as after a restart re-evaluating) must not enqueue anything.
	commit([]Notification{notificationFor("b", Trigger)})

	// Restart: a new dispatcher over what was persisted.
	if n := o.len(); n != 3 {
		t.Fatalf("outbox after restart has %d entries, want 3", n)
	}
	f.setFailAll(0, "")
	d, _ = newPDDispatcher(t, f, o, clk, nil)
	clk.Add(DefaultMaxBackoff)
	drain(t, d, clk, 100, nil)
	if n := o.len(); n != 0 {
		t.Errorf("outbox not empty: %d entries", n)
	}
	acc, _, inc := f.snapshot()
	got := eventsByKey(acc)
	for name, want := range map[string]struct {
		events    string
		incidents int
	}{"a": {"resolve", 0}, "b": {"trigger", 1}} {
		key := DedupKey("chat-api", name, "page", false)
		if strings.Join(got[key], ",") != want.events {
			t.Errorf("%s: events %v, want %s", key, got[key], want.events)
		}
		if len(inc[key]) != want.incidents {
			t.Errorf("%s: %d incidents, want %d", key, len(inc[key]), want.incidents)
		}
	}
}
