package notify

import (
	"encoding/json"
	"fmt"

	"github.com/slod-dev/slod/internal/store"
)

// MetaAlertRecords is the store meta key under which the daemon keeps the reconciliation state
// (EncodeAlertRecords), committed in the same Cycle as the outbox entries it decided on.
const MetaAlertRecords = "notify/alert-records"

// StoreOutbox adapts *store.Store to Outbox; payloads are Notifications as JSON.
type StoreOutbox struct {
	s *store.Store
}

// NewStoreOutbox returns the Outbox of s.
func NewStoreOutbox(s *store.Store) *StoreOutbox { return &StoreOutbox{s: s} }

// Pending implements Outbox. An entry whose payload does not decode is returned marked invalid,
// so that the Dispatcher drops it (with a log line) instead of wedging behind it.
func (o *StoreOutbox) Pending() ([]Entry, error) {
	raw, err := o.s.Outbox()
	if err != nil {
		return nil, err
	}
	out := make([]Entry, 0, len(raw))
	for _, r := range raw {
		n, derr := UnmarshalPayload(r.Payload)
		out = append(out, Entry{
			Seq: r.Seq, Receiver: r.Receiver, Key: r.Key, Notification: n, Created: r.Created,
			Attempts: r.Attempts, NextAttempt: r.NextAttempt, LastError: r.LastError,
			invalid: derr, payload: r.Payload,
		})
	}
	return out, nil
}

// Ack implements Outbox.
func (o *StoreOutbox) Ack(seq uint64) error { return o.s.Ack(seq) }

// Update implements Outbox; the payload is written back byte for byte.
func (o *StoreOutbox) Update(e Entry) error {
	p := e.payload
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

// OutboxEntries turns the entries Reconcile decided on into store entries for store.Cycle.Outbox.
func OutboxEntries(es []Entry) ([]store.OutboxEntry, error) {
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

// EncodeAlertRecords encodes the reconciliation state for the store (MetaAlertRecords).
func EncodeAlertRecords(m map[string]AlertRecord) ([]byte, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encoding alert records: %w", err)
	}
	return b, nil
}

// DecodeAlertRecords decodes what EncodeAlertRecords wrote; nil or empty input is an empty state.
func DecodeAlertRecords(b []byte) (map[string]AlertRecord, error) {
	m := map[string]AlertRecord{}
	if len(b) == 0 {
		return m, nil
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("decoding alert records: %w", err)
	}
	return m, nil
}
