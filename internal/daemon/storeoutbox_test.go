package daemon

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/slod-dev/slod/internal/notify"
	"github.com/slod-dev/slod/internal/store"
)

// recordingNotifier accepts every notification and remembers it.
type recordingNotifier struct {
	mu  sync.Mutex
	got []notify.Notification
}

func (r *recordingNotifier) Notify(_ context.Context, n notify.Notification) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, n)
	return false, nil
}

func openTestStore(t *testing.T, dir string) *store.Store {
	t.Helper()
	s, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestStoreOutboxSurvivesReopen commits the entries of a cycle, records a failed attempt, reopens
// the store as a restart would, and requires the same entries back (payload byte for byte, the
// attempt kept) and gone once acknowledged.
func TestStoreOutboxSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	at := time.Date(2026, 10, 4, 6, 1, 0, 0, time.UTC)
	ns := []notify.Entry{
		{Receiver: "oncall", Key: "slod/chat-api/a/page", Created: at, NextAttempt: at,
			Notification: notify.Notification{DedupKey: "slod/chat-api/a/page", Action: notify.Trigger, Service: "chat-api", SLO: "a", Severity: "page"}},
		{Receiver: "tickets", Key: "slod/chat-api/b/ticket", Created: at, NextAttempt: at,
			Notification: notify.Notification{DedupKey: "slod/chat-api/b/ticket", Action: notify.Resolve, Service: "chat-api", SLO: "b", Severity: "ticket"}},
	}
	entries, err := outboxEntries(ns)
	if err != nil {
		t.Fatal(err)
	}
	s := openTestStore(t, dir)
	if _, err := s.Commit(store.Cycle{Outbox: entries}); err != nil {
		t.Fatal(err)
	}
	o := newStoreOutbox(s)
	pending, err := o.Pending()
	if err != nil || len(pending) != 2 {
		t.Fatalf("Pending = %d entries, %v; want 2", len(pending), err)
	}
	failed := pending[0]
	failed.Attempts, failed.LastError, failed.NextAttempt = 1, "503 from PagerDuty", at.Add(time.Second)
	if err := o.Update(failed); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openTestStore(t, dir)
	defer s.Close()
	o = newStoreOutbox(s)
	again, err := o.Pending()
	if err != nil || len(again) != 2 {
		t.Fatalf("Pending after reopen = %d entries, %v; want 2", len(again), err)
	}
	for i, e := range again {
		if e.Invalid != nil || e.Notification.DedupKey != ns[i].Key || e.Receiver != ns[i].Receiver || e.Notification.Action != ns[i].Notification.Action {
			t.Errorf("entry %d after reopen = %+v, want %+v", i, e, ns[i])
		}
		if !bytes.Equal(e.Payload, pending[i].Payload) {
			t.Errorf("entry %d payload changed: %s, was %s", i, e.Payload, pending[i].Payload)
		}
	}
	if again[0].Attempts != 1 || again[0].LastError != "503 from PagerDuty" || !again[0].NextAttempt.Equal(at.Add(time.Second)) {
		t.Errorf("failed attempt not kept: %+v", again[0])
	}
	if err := o.Ack(again[0].Seq); err != nil {
		t.Fatal(err)
	}
	if rest, _ := o.Pending(); len(rest) != 1 || rest[0].Seq != again[1].Seq {
		t.Errorf("after Ack: %+v, want only seq %d", rest, again[1].Seq)
	}
}

// TestStoreOutboxDropsCorruptPayload: an entry whose payload does not decode is dropped with a
// log line naming it, never delivered and never left to block the entries behind it.
func TestStoreOutboxDropsCorruptPayload(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	defer s.Close()
	at := time.Date(2026, 10, 4, 6, 1, 0, 0, time.UTC)
	if _, err := s.Commit(store.Cycle{Outbox: []store.OutboxEntry{{Receiver: "oncall", Key: "k", Payload: []byte("not json"), Created: at}}}); err != nil {
		t.Fatal(err)
	}
	rn := &recordingNotifier{}
	var logs bytes.Buffer
	d := notify.NewDispatcher(newStoreOutbox(s), map[string]notify.Notifier{"oncall": rn},
		notify.DispatcherOptions{Clock: clock.NewMock(), Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	if _, err := d.DispatchOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.Outbox(); len(p) != 0 || len(rn.got) != 0 {
		t.Errorf("corrupt entry: outbox %d, delivered %d; want dropped unsent", len(p), len(rn.got))
	}
	if !strings.Contains(logs.String(), `"id":"1/k"`) {
		t.Errorf("drop not logged with its id:\n%s", logs.String())
	}
}

// TestSilenceSetOverStore: silences the daemon keeps in its store are there after a restart.
func TestSilenceSetOverStore(t *testing.T) {
	dir := t.TempDir()
	at := time.Date(2026, 10, 4, 6, 1, 0, 0, time.UTC)
	s := openTestStore(t, dir)
	clk := clock.NewMock()
	clk.Set(at)
	set, err := notify.NewSilenceSet(s, clk)
	if err != nil {
		t.Fatal(err)
	}
	sil, err := set.Add(notify.Silence{Matchers: []notify.Matcher{{Name: "slo", Value: "a", IsEqual: true}}, StartsAt: at, EndsAt: at.Add(time.Hour), CreatedBy: "ana", Comment: "deploy"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTestStore(t, dir)
	defer s.Close()
	set, err = notify.NewSilenceSet(s, clk)
	if err != nil {
		t.Fatal(err)
	}
	if l := set.List(); len(l) != 1 || l[0].ID != sil.ID || !l[0].EndsAt.Equal(sil.EndsAt) {
		t.Errorf("after reopen: %+v", l)
	}
}
