// Package notify turns SLO alert transitions into pages and delivers them, durably, to
// PagerDuty (Events API v2), Alertmanager (API v2) and generic webhooks.
//
// The pieces, in the order one evaluation cycle uses them:
//
//   - FromTransition renders a burnrate.Transition as a Notification (trigger when an alert starts
//     firing, resolve when it stops), keyed by DedupKey: slod/<service>/<name>/<severity>
//     [/no_data], stable across restarts and across the replicas of an HA pair.
//   - Reconciler.Reconcile decides what to enqueue from the notifications of the cycle, the
//     previous AlertRecords (what was sent to whom) and the active silences: a trigger is sent
//     once per incident to the receiver its Route names, a resolve only to the receiver that got
//     the trigger (and none when the trigger says NoResolve: the SLO asks for none), silenced
//     triggers go out when the silence ends if the alert still fires, and Alertmanager
//     receivers get firing alerts again every resend interval.
//   - The caller commits the entries and the new records (EncodeAlertRecords under
//     MetaAlertRecords) in the same store transaction as the alert state, so a transition is
//     never recorded without its notification, and a restart never enqueues anything twice.
//   - Dispatcher drains an Outbox (the daemon adapts its store to the interface; notify does not
//     know the store) through the Notifiers built by NewNotifiers from receiver.Config: only the
//     newest entry per (receiver, dedup key), acknowledging an entry only once the receiver
//     accepted it, retrying 429, 5xx, timeouts and network errors forever with exponential backoff
//     and jitter (or the receiver's Retry-After, capped), sending what the receiver rejects again
//     every repeat interval, and everything pending at once when a receiver accepts again.
//
// A daemon cycle, in short:
//
//	prev, _ := notify.DecodeAlertRecords(meta)             // store.Meta(notify.MetaAlertRecords)
//	changes := notify.ResolveMissing(prev, known, now)      // alerts whose SLO a reload removed
//	for each transition tr of each SLO:
//	    if n, ok := notify.FromTransition(slo, group, tr, status, externalURL); ok { changes = append(changes, n) }
//	res := reconciler.Reconcile(prev, changes, silences.Active(now), now)
//	recs, _ := notify.EncodeAlertRecords(res.State)
//	commit res.Enqueue (as outbox entries) and recs with the cycle's alert state, in one transaction
//	metrics.ObserveReconcile(res)
//	dispatcher.Wake()
//
// Delivery is at least once: an entry sent and not yet acknowledged when slod dies is sent again
// after the restart. PagerDuty folds a repeated trigger into the open incident of its dedup key
// and Alertmanager merges alerts with equal labels, so the receivers see one incident; a webhook
// consumer should deduplicate on dedup_key + action + starts_at.
//
// The Dispatcher serves receivers concurrently, and each receiver one entry at a time. A receiver
// that fails is skipped for the rest of the pass and tried again when its backoff ends, so an
// unreachable receiver costs one timeout (10s by default) per attempt and delays no other.
//
// Secrets (routing keys, webhook header values) are of type secret.Secret, which prints, logs and
// marshals as "<secret>"; URLs in errors keep only scheme and host.
package notify
