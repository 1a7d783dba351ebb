package daemon

import (
	"time"

	"github.com/slod-dev/slod/internal/notify"
	"github.com/slod-dev/slod/internal/receiver"
	"github.com/slod-dev/slod/internal/store"
)

// planInput is what the cycle's plan stage decides from: the evaluated SLOs and the notification
// state, routes and silences as they were before the cycle.
type planInput struct {
	at time.Time
	// results are every configured SLO's: the alerts of their instances are the known dedup keys;
	// an incident of any other is resolved.
	results  []sloResult
	prev     map[string]notify.AlertRecord
	router   *receiver.Router
	resend   map[string]time.Duration
	silences []notify.Silence
	external string
}

// cyclePlan is what the plan stage decided: the store batch to commit, and what the publish stage
// tells the world once it is committed.
type cyclePlan struct {
	commit store.Cycle
	// changes are the notifications of this cycle's transitions (and the resolves of alerts a
	// reload removed), before reconciliation.
	changes []notify.Notification
	// reconciled is the notification state after the cycle and what it enqueues.
	reconciled notify.ReconcileResult
}

// plan is the cycle's second stage, pure: from the SLOs' results it builds the records to write
// (and to delete: retired groups), the notifications of their transitions (one per transition to or
// from firing, in SLO and group order),
// reconciled with what was sent before, the silences and the resend intervals, and the outbox
// entries and notification state that go into the same transaction. It reads no clock and
// touches no store.
func plan(in planInput) (cyclePlan, error) {
	p := cyclePlan{commit: store.Cycle{Meta: map[string][]byte{}}}
	for _, r := range in.results {
		for _, ir := range r.insts {
			if ir.record.ID != "" {
				p.commit.SLOs = append(p.commit.SLOs, ir.record)
			}
		}
		for _, ir := range r.retired {
			p.commit.DeleteSLOs = append(p.commit.DeleteSLOs, ir.id)
		}
		for _, ir := range append(r.insts, r.retired...) {
			for _, tr := range ir.transitions {
				if n, ok := notify.FromTransition(r.s.slo, ir.labels, tr, ir.status, in.external); ok {
					p.changes = append(p.changes, n)
				}
			}
		}
	}
	// Incidents of SLOs (or severities) removed by a reload are resolved, not left open.
	known := knownAlerts(in.results, in.prev)
	p.changes = append(p.changes, notify.ResolveMissing(in.prev, func(k string) bool { return known[k] }, in.at)...)
	rec := notify.Reconciler{Router: in.router, Resend: in.resend}
	p.reconciled = rec.Reconcile(in.prev, p.changes, in.silences, in.at)
	entries, err := outboxEntries(p.reconciled.Enqueue)
	if err != nil {
		return p, err
	}
	p.commit.Outbox = entries
	alerts, err := notify.EncodeAlertRecords(p.reconciled.State)
	if err != nil {
		return p, err
	}
	p.commit.Meta[notify.MetaAlertRecords] = alerts
	tb, err := in.at.MarshalText()
	if err != nil {
		return p, err
	}
	p.commit.Meta[metaLastCycle] = tb
	return p, nil
}

// knownAlerts are the dedup keys the instances of results can raise, of the SLOs that have an
// alert in prev only: those are the keys asked about, and prev holds the few alerts that fire,
// while building the keys of every instance cost each cycle a string per alert of every SLO.
func knownAlerts(results []sloResult, prev map[string]notify.AlertRecord) map[string]bool {
	type sloKey struct{ service, name string }
	open := make(map[sloKey]bool, len(prev))
	for _, rec := range prev {
		open[sloKey{rec.Want.Service, rec.Want.SLO}] = true
	}
	known := map[string]bool{}
	for _, r := range results {
		if !open[sloKey{r.s.slo.Service, r.s.slo.Name}] {
			continue
		}
		for _, ir := range r.insts {
			for _, k := range notify.AlertKeys(r.s.slo, ir.key) {
				known[k] = true
			}
		}
	}
	return known
}
