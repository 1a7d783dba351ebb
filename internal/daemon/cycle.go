package daemon

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"runtime/debug"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/slod-dev/slod/internal/burnrate"
	"github.com/slod-dev/slod/internal/sli"
)

// backfillSteps is the number of steps per SLO above which a cycle counts as a backfill.
const backfillSteps = 100

// silenceRetention is how long an ended silence stays listed (for the postmortem of an incident).
const silenceRetention = 7 * 24 * time.Hour

// Cycle evaluates every SLO at the step boundary at or before now and commits the outcome in one
// store transaction. It returns an error when nothing was committed (store failure, or ctx done
// before the commit); an SLO whose source failed is not an error of the cycle. A committed cycle
// in which no SLO got data for its newest step (every query failed or came back empty) is not a
// success either: it counts as result="no_data" and leaves the last-success timestamp where it
// was, so that SlodNoSuccessfulCycle fires while the source is down; its no-data alerts and held
// states are committed all the same.
func (d *Daemon) Cycle(ctx context.Context, now time.Time) error {
	d.cycleMu.Lock()
	defer d.cycleMu.Unlock()
	began := time.Now()
	id := newCycleID()
	log := d.log.With("cycle_id", id)
	ctx, span := d.tracer.Start(ctx, "cycle", trace.WithAttributes(attribute.String("slod.cycle_id", id)))
	defer span.End()

	fresh, err := d.cycle(ctx, log, now)
	d.m.cycleDuration.Observe(time.Since(began).Seconds())
	if err != nil && ctx.Err() != nil {
		// Shutdown: the cycle is abandoned cleanly, the store keeps the last committed one.
		log.Info("evaluation cycle abandoned at shutdown; nothing committed", "err", err)
		return err
	}
	if err != nil {
		d.m.cycles.WithLabelValues(cycleFailure).Inc()
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		log.Error("evaluation cycle failed; nothing committed", "err", err)
		return err
	}
	if fresh == 0 {
		d.m.cycles.WithLabelValues(cycleNoData).Inc()
		span.SetStatus(codes.Error, "no SLO got data from the source")
		log.Warn("no SLO got data from the source in this cycle; alerts are held (each SLO's source error says why)")
		return nil
	}
	d.m.cycles.WithLabelValues(cycleSuccess).Inc()
	return nil
}

// cycle runs the four stages of an evaluation cycle: evaluate (every SLO against the source),
// plan (pure: results in, store batch and notifications out), commit (one store transaction) and
// publish (the committed state becomes what the API, the metrics and the dispatcher see). Until
// the commit succeeded nothing of the cycle is visible; when it fails, the steppers (which hold
// steps that are not committed) are read again from the store before the next cycle. It returns
// how many SLOs got data for their newest step.
func (d *Daemon) cycle(ctx context.Context, log *slog.Logger, now time.Time) (int, error) {
	if d.dirty {
		if err := d.restore(); err != nil {
			return 0, fmt.Errorf("re-reading state after a failed commit: %w", err)
		}
	}
	d.mu.RLock()
	rt, slos, prevAlerts := d.rt, d.slos, d.alerts
	d.mu.RUnlock()
	t := sli.Align(now, rt.cfg.Evaluation.Step.D())
	trace.SpanFromContext(ctx).SetAttributes(attribute.String("slod.evaluation_time", t.Format(time.RFC3339)), attribute.Int("slod.slos", len(slos)))
	log.Debug("evaluation cycle", "at", t, "slos", len(slos))

	d.cycleSeq++
	evalStart := time.Now()
	results := d.evaluateAll(ctx, log, rt, slos, t, d.cycleSeq)
	evalTook := time.Since(evalStart)
	if err := ctx.Err(); err != nil {
		// Shutting down: histories may hold steps that are not committed; the store still has the
		// last committed cycle, which the next start continues from.
		d.dirty = true
		return 0, fmt.Errorf("abandoned at %s: %w", t.Format(time.RFC3339), err)
	}
	for _, r := range results {
		if r.err != nil {
			d.dirty = true
			return 0, r.err
		}
	}

	_, nspan := d.tracer.Start(ctx, "notify")
	p, err := plan(planInput{at: t, results: results, prev: prevAlerts, router: rt.router, resend: rt.resend,
		silences: d.silences.Active(t), external: rt.external})
	nspan.SetAttributes(attribute.Int("slod.transitions", len(p.changes)), attribute.Int("slod.enqueued", len(p.commit.Outbox)))
	nspan.End()
	if err != nil {
		d.dirty = true
		return 0, err
	}

	_, cspan := d.tracer.Start(ctx, "commit")
	commitStart := time.Now()
	err = d.commit(p, t, slos)
	commitTook := time.Since(commitStart)
	cspan.End()
	d.health.observe(storeWrite, err)
	if err != nil {
		d.m.storeErrors.Inc()
		d.dirty = true
		return 0, fmt.Errorf("committing cycle: %w", err)
	}
	d.lastCommit.Store(int64(commitTook))
	log.Debug("evaluation cycle committed", "at", t, "evaluate_seconds", evalTook.Seconds(), "commit_seconds", commitTook.Seconds(),
		"outbox", len(p.commit.Outbox))
	return d.publish(ctx, log, t, slos, results, p), nil
}

// commit writes the cycle's plan and its changes to the incident log in one transaction. It holds
// the log's lock from planning its changes until they are the log's state, so that a delivery the
// dispatcher records meanwhile is neither lost nor overwritten.
func (d *Daemon) commit(p cyclePlan, t time.Time, slos []*sloState) error {
	l := d.incidents
	l.mu.Lock()
	defer l.mu.Unlock()
	retention := incidentRetention
	for _, s := range slos {
		retention = max(retention, s.slo.MaxWindow())
	}
	u := l.plan(p.changes, p.reconciled, t, retention)
	meta, del, err := u.encode()
	if err != nil {
		return err
	}
	maps.Copy(p.commit.Meta, meta)
	p.commit.DeleteMeta = append(p.commit.DeleteMeta, del...)
	if _, err := d.store.Commit(p.commit); err != nil {
		return err
	}
	l.install(u)
	return nil
}

// publish is the cycle's last stage: the committed state becomes the state (API, status page,
// metrics), the dispatcher is woken for the new outbox entries, and what happened is logged. It
// returns how many SLOs got data for their newest step.
func (d *Daemon) publish(ctx context.Context, log *slog.Logger, t time.Time, slos []*sloState, results []sloResult, p cyclePlan) int {
	d.mu.Lock()
	for _, r := range results {
		r.publish()
	}
	d.alerts = p.reconciled.State
	unrouted := d.unrouted
	d.unrouted = make(map[string]bool, len(p.reconciled.Unrouted))
	for _, key := range p.reconciled.Unrouted {
		d.unrouted[key] = true
	}
	d.mu.Unlock()
	for _, e := range p.reconciled.Enqueue {
		log.Info("notification enqueued", "receiver", e.Receiver, "dedup_key", e.Key, "action", e.Notification.Action,
			"slo", e.Notification.Service+"/"+e.Notification.SLO, "severity", e.Notification.Severity)
	}
	// Reconcile reports an unrouted alert at every cycle while it fires; say it once.
	for _, key := range p.reconciled.Unrouted {
		if !unrouted[key] {
			log.Warn("no route matches a firing alert; it is not sent anywhere", "dedup_key", key)
		}
	}
	d.nm.ObserveReconcile(p.reconciled)
	for _, sa := range p.reconciled.Silenced {
		log.Info("notification silenced", "receiver", sa.Receiver, "dedup_key", sa.Key, "silence", sa.SilenceID)
	}
	if len(p.commit.Outbox) > 0 {
		d.dispatcher.Wake()
	}
	d.lastCycle.Store(t.UnixNano())
	d.m.storeSize.Set(float64(d.store.Size()))
	fresh := d.publishAll(slos)
	if fresh > 0 {
		d.m.lastSuccess.Set(float64(t.Unix()))
	}
	d.afterCycle(ctx, log, t, results, fresh)
	return fresh
}

// publish makes the committed outcome of the SLO's cycle what its state says (called under
// Daemon.mu): one view per instance, and what was written of each.
func (r *sloResult) publish() {
	s := r.s
	s.insts, s.excess = make([]*instState, len(r.insts)), r.excess
	for i, ir := range r.insts {
		s.insts[i] = &instState{key: ir.key, labels: ir.labels, st: ir.st, status: ir.status, evaluated: true,
			sourceErr: ir.sourceErr, sourceMsg: ir.sourceMsg, dataUntil: ir.dataUntil, recentBad: ir.recentBad}
		if ir.record.ID != "" {
			s.commits[ir.key] = commitState{alerts: ir.st.Alerts, written: true}
		}
	}
	for _, ir := range r.retired {
		delete(s.commits, ir.key)
	}
}

// afterCycle logs the cycle's transitions, returns a backfill's memory to the OS, expires old
// silences and marks the daemon ready once an SLO got data (fresh of them did in this cycle).
func (d *Daemon) afterCycle(ctx context.Context, log *slog.Logger, t time.Time, results []sloResult, fresh int) {
	// A backfill decodes far more than a steady cycle keeps; hand that memory back to the OS
	// instead of carrying it as RSS until the runtime scavenges it.
	appended, n := 0, 0
	for _, r := range results {
		for _, ir := range r.insts {
			appended += ir.appended
			n++
		}
	}
	if appended > backfillSteps*n {
		debug.FreeOSMemory()
	}
	for _, r := range results {
		for _, ir := range append(r.insts, r.retired...) {
			for _, tr := range ir.transitions {
				// Firing and resolving are what operators look for; pending comes and goes.
				level := slog.LevelDebug
				if tr.To == burnrate.Firing || tr.From == burnrate.Firing {
					level = slog.LevelInfo
				}
				attrs := []any{"slo", ir.id, "severity", tr.Severity, "no_data", tr.NoData, "from", tr.From, "to", tr.To, "at", tr.At}
				if tr.Budget {
					attrs = append(attrs, "budget", true, "budget_remaining", round(tr.Reason.Budget), "below", round(tr.Reason.Threshold))
				} else {
					attrs = append(attrs, "long_burn_rate", round(tr.Reason.LongBurn), "short_burn_rate", round(tr.Reason.ShortBurn))
				}
				log.Log(ctx, level, "alert transition", attrs...)
			}
		}
	}
	// Silences that ended a week ago are of no use to anyone; the store should not grow forever.
	if n, err := d.silences.Expire(t, silenceRetention); err != nil {
		d.m.storeErrors.Inc()
		log.Warn("expiring old silences", "err", err)
	} else if n > 0 {
		log.Info("expired old silences", "count", n)
	}
	d.cycled.Store(true)
	if fresh > 0 && !d.ready.Load() {
		log.Info("first evaluation cycle with data completed; ready", "at", t)
		d.ready.Store(true)
	}
}

// round keeps 6 significant digits so that logs and the API do not carry float noise.
func round(v float64) float64 {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return v
	}
	p := math.Pow(10, 6-math.Ceil(math.Log10(math.Abs(v))))
	return math.Round(v*p) / p
}

// publishAll sets the gauges of SLOs (and groups) by state and with fresh data after a committed
// cycle, and returns the latter (the per-SLO gauges are read from the SLO states when scraped:
// sloCollector).
func (d *Daemon) publishAll(slos []*sloState) int {
	counts := map[string]int{string(burnrate.Inactive): 0, string(burnrate.Pending): 0, string(burnrate.Firing): 0, stateUnknown: 0}
	fresh := 0
	d.mu.RLock()
	defer d.mu.RUnlock()
	for _, s := range slos {
		for _, is := range s.insts {
			counts[is.summaryState()]++
			if is.sourceErr == "" {
				fresh++
			}
		}
	}
	for st, n := range counts {
		d.m.slos.WithLabelValues(st).Set(float64(n))
	}
	d.m.freshSLOs.Set(float64(fresh))
	return fresh
}

// phaseValue is slod_alert_state's value of an alert state (alertState; unknown has no sample).
func phaseValue(state string) float64 {
	switch burnrate.Phase(state) {
	case burnrate.Pending:
		return 1
	case burnrate.Firing:
		return 2
	}
	return 0
}

// newCycleID returns a short random correlation id for one cycle's logs and trace.
func newCycleID() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "unknown"
	}
	return hex.EncodeToString(b[:])
}
