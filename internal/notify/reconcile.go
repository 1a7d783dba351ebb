package notify

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/slod-dev/slod/internal/receiver"
)

// AlertRecord is the delivery state of one alert (one dedup key) while it fires. The caller
// persists the map Reconcile returns in the same store transaction as the entries it enqueues, so
// that after a restart nothing is enqueued twice and nothing is forgotten.
type AlertRecord struct {
	// Want is the latest trigger of the alert (it fires while the record exists).
	Want Notification `json:"want"`
	// Receiver is where the trigger was enqueued; empty while it has not been (silenced or no
	// route). The resolve goes to the same receiver even if the routes changed meanwhile.
	Receiver string `json:"receiver,omitempty"`
	// SentAt is when the trigger was last enqueued (resends are counted from it).
	SentAt time.Time `json:"sent_at,omitzero"`
	// SilencedBy is the silence that held the trigger back at the last reconciliation.
	SilencedBy string `json:"silenced_by,omitempty"`
}

// Reconciler decides what to send from what the alerts want, what was sent, and the silences.
type Reconciler struct {
	Router *receiver.Router
	// Resend is the resend interval of receivers that forget firing alerts (ResendIntervals).
	Resend map[string]time.Duration
}

// SilencedAlert is an alert whose trigger a silence held back.
type SilencedAlert struct {
	Key, Receiver, SilenceID string
}

// ReconcileResult is what one reconciliation decided.
type ReconcileResult struct {
	// Enqueue are the entries to write to the outbox (Seq and Attempts zero, NextAttempt now).
	Enqueue []Entry
	// State replaces the previous state.
	State map[string]AlertRecord
	// Silenced lists the alerts newly held back by a silence (count them as "silenced").
	Silenced []SilencedAlert
	// Unrouted lists the dedup keys of firing alerts that no route matches.
	Unrouted []string
}

// Reconcile applies changes (the notifications of this cycle's transitions, in order; passing
// every alert's current wish each cycle works too) to prev and returns what to enqueue:
//   - a trigger is sent once per incident to the receiver its route names, unless an active
//     silence matches it (both match Notification.MatchLabels, where severity is the alert's
//     tier); a silenced trigger is recorded and sent at the first reconciliation
//     after the silence ends (or is deleted) if the alert still fires;
//   - a resolve is sent to the receiver that got the trigger, and only if it got one (a resolve
//     for an alert that was silenced throughout is not sent) and the trigger did not say
//     NoResolve; silences do not hold resolves back, so no incident stays open because of one;
//   - receivers in Resend get the trigger again every interval while the alert fires.
//
// prev is not modified. Call it every evaluation cycle, also without changes, so that expired
// silences and resends take effect.
func (r Reconciler) Reconcile(prev map[string]AlertRecord, changes []Notification, silences []Silence, now time.Time) ReconcileResult {
	state := maps.Clone(prev)
	if state == nil {
		state = map[string]AlertRecord{}
	}
	var res ReconcileResult
	enqueue := func(receiver string, n Notification) {
		res.Enqueue = append(res.Enqueue, Entry{
			Receiver: receiver, Key: n.DedupKey, Notification: n.clone(), Created: now, NextAttempt: now,
		})
	}
	for _, n := range changes {
		rec, had := state[n.DedupKey]
		switch n.Action {
		case Trigger:
			rec.Want = n.clone()
			state[n.DedupKey] = rec
		case Resolve:
			if had && rec.Receiver != "" && !rec.Want.NoResolve {
				if n.EndsAt == nil {
					n = n.resolved(now)
				}
				enqueue(rec.Receiver, n)
			}
			delete(state, n.DedupKey)
		}
	}
	for _, key := range slices.Sorted(maps.Keys(state)) {
		rec := state[key]
		if rec.Receiver == "" {
			match := rec.Want.MatchLabels()
			receiver, ok := r.Router.Route(match)
			if !ok {
				res.Unrouted = append(res.Unrouted, key)
				continue
			}
			if id, silenced := Silencing(silences, match, now); silenced {
				if rec.SilencedBy != id {
					res.Silenced = append(res.Silenced, SilencedAlert{Key: key, Receiver: receiver, SilenceID: id})
				}
				rec.SilencedBy = id
				state[key] = rec
				continue
			}
			enqueue(receiver, rec.Want)
			rec.Receiver, rec.SentAt, rec.SilencedBy = receiver, now, ""
			state[key] = rec
			continue
		}
		if iv := r.Resend[rec.Receiver]; iv > 0 && now.Sub(rec.SentAt) >= iv {
			enqueue(rec.Receiver, rec.Want)
			rec.SentAt = now
			state[key] = rec
		}
	}
	res.State = state
	return res
}

// ResolveMissing returns a resolve, ended at now, for every alert of state whose key is not in
// known: pass them to Reconcile when a reload removed an SLO (or one of its severities), so the
// incidents it had opened do not stay open forever.
func ResolveMissing(state map[string]AlertRecord, known func(key string) bool, now time.Time) []Notification {
	var out []Notification
	for _, key := range slices.Sorted(maps.Keys(state)) {
		if !known(key) {
			out = append(out, state[key].Want.resolved(now))
		}
	}
	return out
}

// MetaAlertRecords is the store meta key under which the daemon keeps the reconciliation state
// (EncodeAlertRecords), committed in the same Cycle as the outbox entries it decided on.
const MetaAlertRecords = "notify/alert-records"

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
