package daemon

import (
	"github.com/slod-dev/slod/internal/notify"
	"github.com/slod-dev/slod/internal/store"
)

// storeOutbox adapts *store.Store to notify.Outbox; payloads are notify.Notifications as JSON.
type storeOutbox struct {
	s *store.Store
}

// newStoreOutbox returns the outbox of s; the Dispatcher drains it while cycles commit to it.
func newStoreOutbox(s *store.Store) *storeOutbox { return &storeOutbox{s: s} }

// Pending implements notify.Outbox. An entry whose payload does not decode is returned with
// Invalid set, so that the Dispatcher drops it (with a log line) instead of wedging behind it.
func (o *storeOutbox) Pending() ([]notify.Entry, error) {
	raw, err := o.s.Outbox()
	if err != nil {
		return nil, err
	}
	out := make([]notify.Entry, 0, len(raw))
	for _, r := range raw {
		n, derr := notify.UnmarshalPayload(r.Payload)
		out = append(out, notify.Entry{
			Seq: r.Seq, Receiver: r.Receiver, Key: r.Key, Notification: n, Created: r.Created,
			Attempts: r.Attempts, NextAttempt: r.NextAttempt, LastError: r.LastError,
			Invalid: derr, Payload: r.Payload,
		})
	}
	return out, nil
}

// Ack implements notify.Outbox.
func (o *storeOutbox) Ack(seq uint64) error { return o.s.Ack(seq) }

// Update implements notify.Outbox; the payload is written back byte for byte.
func (o *storeOutbox) Update(e notify.Entry) error {
	p := e.Payload
	if p == nil {
		var err error
		if p, err = e.Notification.MarshalPayload(); err != nil {
			return err
		}
	}
	return o.s.UpdateOutbox(store.OutboxEntry{
		Seq: e.Seq, Receiver: e.Receiver, Key: e.Key, Payload: p, Created: e.Created,
		Attempts: e.Attempts, NextAttempt: e.NextAttempt, LastError: e.LastError,
	})
}

// outboxEntries turns the entries Reconcile decided on into store entries for store.Cycle.Outbox.
func outboxEntries(es []notify.Entry) ([]store.OutboxEntry, error) {
	out := make([]store.OutboxEntry, 0, len(es))
	for _, e := range es {
		p, err := e.Notification.MarshalPayload()
		if err != nil {
			return nil, err
		}
		out = append(out, store.OutboxEntry{
			Receiver: e.Receiver, Key: e.Key, Payload: p, Created: e.Created, NextAttempt: e.NextAttempt,
		})
	}
	return out, nil
}
