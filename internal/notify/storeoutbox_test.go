package notify

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/slod-dev/slod/internal/receiver"
	"github.com/slod-dev/slod/internal/store"
)

func openStore(t *testing.T, dir string) *store.Store {
	t.Helper()
	s, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestStoreOutboxEndToEnd runs reconciliation, the real store and the dispatcher together: the
// outbox entries and the alert records are committed in one cycle, PagerDuty is down for a while,
// slod restarts (store closed and reopened) mid-outage, and in the end PagerDuty is in the state
// of the alerts: no incident for the alert that fired and resolved during the outage (its trigger
// was never accepted, only its resolve is sent), one open incident for the alert still firing.
func TestStoreOutboxEndToEnd(t *testing.T) {
	dir := t.TempDir()
	f := newFakePagerDuty(t)
	clk := clock.NewMock()
	clk.Set(t0)
	r := Reconciler{Router: receiver.NewRouter([]receiver.Route{{Receiver: "oncall"}})}

	commit := func(s *store.Store, changes []Notification) {
		t.Helper()
		prevRaw, err := s.Meta(MetaAlertRecords)
		if err != nil {
			t.Fatal(err)
		}
		prev, err := DecodeAlertRecords(prevRaw)
		if err != nil {
			t.Fatal(err)
		}
		res := r.Reconcile(prev, changes, nil, clk.Now())
		entries, err := OutboxEntries(res.Enqueue)
		if err != nil {
			t.Fatal(err)
		}
		state, err := EncodeAlertRecords(res.State)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Commit(store.Cycle{Outbox: entries, Meta: map[string][]byte{MetaAlertRecords: state}}); err != nil {
			t.Fatal(err)
		}
	}

	s := openStore(t, dir)
	commit(s, []Notification{notificationFor("a", Trigger), notificationFor("b", Trigger)})
	f.setFailAll(503, "")
	d, _ := newPDDispatcher(t, f, NewStoreOutbox(s), clk, nil)
	for i := 0; i < 5; i++ {
		next, err := d.DispatchOnce(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		clk.Set(next)
	}
	pending, err := s.Outbox()
	if err != nil || len(pending) != 2 || pending[0].Attempts == 0 || !strings.Contains(pending[0].LastError, "503") {
		t.Fatalf("outbox after failures = %+v, %v; want both entries with attempts recorded", pending, err)
	}
	commit(s, []Notification{notificationFor("a", Resolve)})
	// The same cycle's trigger again (as after a restart re-evaluating) must not enqueue anything.
	commit(s, []Notification{notificationFor("b", Trigger)})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Restart.
	s = openStore(t, dir)
	defer s.Close()
	if p, _ := s.Outbox(); len(p) != 3 {
		t.Fatalf("outbox after restart has %d entries, want 3", len(p))
	}
	f.setFailAll(0, "")
	d, _ = newPDDispatcher(t, f, NewStoreOutbox(s), clk, nil)
	clk.Add(DefaultMaxBackoff)
	drain(t, d, clk, 100, nil)
	if p, _ := s.Outbox(); len(p) != 0 {
		t.Errorf("outbox not empty: %+v", p)
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

func TestStoreOutboxDropsCorruptPayload(t *testing.T) {
	s := openStore(t, t.TempDir())
	defer s.Close()
	if _, err := s.Commit(store.Cycle{Outbox: []store.OutboxEntry{{Receiver: "oncall", Key: "k", Payload: []byte("not json"), Created: t0}}}); err != nil {
		t.Fatal(err)
	}
	sn := &scriptedNotifier{}
	logger, logs := newTestLogger(t)
	d := NewDispatcher(NewStoreOutbox(s), map[string]Notifier{"oncall": sn}, DispatcherOptions{Clock: clock.NewMock(), Logger: logger})
	if _, err := d.DispatchOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.Outbox(); len(p) != 0 || len(sn.got) != 0 {
		t.Errorf("corrupt entry: outbox %d, delivered %d; want dropped unsent", len(p), len(sn.got))
	}
	if !strings.Contains(logs.String(), `"id":"1/k"`) {
		t.Errorf("drop not logged with its id:\n%s", logs)
	}
}

func TestSilenceSetOverStore(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	clk := clock.NewMock()
	clk.Set(t0)
	set, err := NewSilenceSet(s, clk)
	if err != nil {
		t.Fatal(err)
	}
	sil, err := set.Add(Silence{Matchers: []Matcher{{Name: "slo", Value: "a", IsEqual: true}}, StartsAt: t0, EndsAt: t0.Add(time.Hour), CreatedBy: "ana", Comment: "deploy"})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openStore(t, dir)
	defer s.Close()
	set, err = NewSilenceSet(s, clock.NewMock())
	if err != nil {
		t.Fatal(err)
	}
	if l := set.List(); len(l) != 1 || l[0].ID != sil.ID || !l[0].EndsAt.Equal(sil.EndsAt) {
		t.Errorf("after reopen: %+v", l)
	}
}
