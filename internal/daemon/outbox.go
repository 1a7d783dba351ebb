package daemon

import (
	"log/slog"

	"github.com/slod-dev/slod/internal/notify"
	"github.com/slod-dev/slod/internal/store"
)

// storeOutbox adapts the store's outbox to notify.Outbox: payloads are notify.Notification JSON.
type storeOutbox struct {
	st  *store.Store
	log *slog.Logger
}

// Pending returns every undelivered entry by ascending Seq. An entry whose payload does not decode
// can never be delivered; it is logged loudly and dropped rather than block its dedup key forever.
func (o storeOutbox) Pending() ([]notify.Entry, error) {
	raw, err := o.st.Outbox()
	if err != nil {
		return nil, err
	}
	out := make([]notify.Entry, 0, len(raw))
	for _, e := range raw {
		n, err := notify.UnmarshalPayload(e.Payload)
		if err != nil {
			o.log.Error("dropping an undecodable outbox entry", "seq", e.Seq, "receiver", e.Receiver, "key", e.Key, "err", err)
			if err := o.st.Ack(e.Seq); err != nil {
				return nil, err
			}
			continue
		}
		out = append(out, notify.Entry{Seq: e.Seq, Receiver: e.Receiver, Key: e.Key, Notification: n,
			Created: e.Created, Attempts: e.Attempts, NextAttempt: e.NextAttempt, LastError: e.LastError})
	}
	return out, nil
}

// Ack removes a delivered entry.
func (o storeOutbox) Ack(seq uint64) error { return o.st.Ack(seq) }

// Update records a failed attempt.
func (o storeOutbox) Update(e notify.Entry) error {
	payload, err := e.Notification.MarshalPayload()
	if err != nil {
		return err
	}
	return o.st.UpdateOutbox(store.OutboxEntry{Seq: e.Seq, Receiver: e.Receiver, Key: e.Key, Payload: payload,
		Created: e.Created, Attempts: e.Attempts, NextAttempt: e.NextAttempt, LastError: e.LastError})
}

// toStoreEntry turns an entry Reconcile decided on into what the cycle commits.
func toStoreEntry(e notify.Entry) (store.OutboxEntry, error) {
	payload, err := e.Notification.MarshalPayload()
	if err != nil {
		return store.OutboxEntry{}, err
	}
	return store.OutboxEntry{Receiver: e.Receiver, Key: e.Key, Payload: payload, Created: e.Created, NextAttempt: e.NextAttempt}, nil
}
