package daemon

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math"
	"net"
	"runtime/debug"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/slod-dev/slod/internal/burnrate"
	"github.com/slod-dev/slod/internal/notify"
	"github.com/slod-dev/slod/internal/promapi"
	"github.com/slod-dev/slod/internal/sli"
	"github.com/slod-dev/slod/internal/store"
)

// reasonNoData is the source-error reason of an SLO whose queries succeeded but returned nothing
// usable (no series, or NaN) for the newest steps.
const reasonNoData = "no_data"

// historyWriteEvery spreads the writes of SLO histories over cycles: an SLO's history goes to the
// store once every historyWriteEvery cycles (each SLO in its own turn, so every cycle writes a
// tenth of them), and whenever its alert state changes. Rewriting every 24 KiB history every cycle
// would make the commit, and the memory a cycle churns through, ten times larger, for nothing: the
// alert state and the outbox, which must never disagree, are still written in the cycle that
// changes them, and a restart refetches the steps a stored history lacks (at most this many),
// exactly, from the source.
const historyWriteEvery = 10

// historyTurn reports whether the cycle numbered seq writes the history of SLO id.
func historyTurn(id string, seq uint64) bool {
	h := fnv.New32a()
	h.Write([]byte(id))
	return uint64(h.Sum32())%historyWriteEvery == seq%historyWriteEvery
}

// backfillSteps is the number of steps per SLO above which a cycle counts as a backfill.
const backfillSteps = 100

// silenceRetention is how long an ended silence stays listed (for the postmortem of an incident).
const silenceRetention = 7 * 24 * time.Hour

// sloResult is what evaluating one SLO in a cycle produced; nothing of it is visible outside the
// cycle until the store commit succeeded.
// sourceReason classifies a failed fetch for slod_slo_source_errors_total: the transport class of
// a failed query (timeout, 5xx, 4xx, network, ...), or "invalid" when no query was sent because
// the SLI could not be turned into one.
func sourceReason(err error) string {
	var qe *promapi.QueryError
	if errors.As(err, &qe) {
		return qe.Reason
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return promapi.ReasonTimeout
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return promapi.ReasonNetwork
	}
	return "invalid"
}

type sloResult struct {
	s           *sloState
	st          burnrate.State
	status      burnrate.Status
	transitions []burnrate.Transition
	record      store.SLORecord
	sourceErr   string
	dataUntil   time.Time
	appended    int
	err         error
}

// Cycle evaluates every SLO at the step boundary at or before now and commits the outcome in one
// store transaction. It returns an error when nothing was committed (store failure, or ctx done
// before the commit); an SLO whose source failed is not an error of the cycle.
func (d *Daemon) Cycle(ctx context.Context, now time.Time) error {
	d.cycleMu.Lock()
	defer d.cycleMu.Unlock()
	began := time.Now()
	id := newCycleID()
	log := d.log.With("cycle_id", id)
	ctx, span := d.tracer.Start(ctx, "cycle", trace.WithAttributes(attribute.String("slod.cycle_id", id)))
	defer span.End()

	err := d.cycle(ctx, log, now)
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
	d.m.cycles.WithLabelValues(cycleSuccess).Inc()
	return nil
}

func (d *Daemon) cycle(ctx context.Context, log *slog.Logger, now time.Time) error {
	if d.dirty {
		if err := d.restore(); err != nil {
			return fmt.Errorf("re-reading state after a failed commit: %w", err)
		}
	}
	d.mu.RLock()
	rt, slos, prevAlerts := d.rt, d.slos, d.alerts
	d.mu.RUnlock()
	step := rt.cfg.Evaluation.Step.D()
	t := sli.Align(now, step)
	trace.SpanFromContext(ctx).SetAttributes(attribute.String("slod.evaluation_time", t.Format(time.RFC3339)), attribute.Int("slod.slos", len(slos)))
	log.Debug("evaluation cycle", "at", t, "slos", len(slos))

	d.cycleSeq++
	seq := d.cycleSeq
	evalStart := time.Now()
	results := make([]sloResult, len(slos))
	sem := make(chan struct{}, max(rt.cfg.Evaluation.MaxConcurrency, 1))
	var wg sync.WaitGroup
	for i, s := range slos {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			results[i] = d.evalSLO(ctx, log, rt, s, t, historyTurn(s.slo.ID(), seq))
		})
	}
	wg.Wait()
	evalTook := time.Since(evalStart)
	if err := ctx.Err(); err != nil {
		// Shutting down: histories may hold steps that are not committed; the store still has the
		// last committed cycle, which the next start continues from.
		d.dirty = true
		return fmt.Errorf("abandoned at %s: %w", t.Format(time.RFC3339), err)
	}

	// Notifications: one per transition to or from firing, in SLO order, then reconciled with
	// what was sent before, the silences and the resend intervals.
	_, nspan := d.tracer.Start(ctx, "notify")
	var changes []notify.Notification
	cycle := store.Cycle{Meta: map[string][]byte{}}
	for _, r := range results {
		if r.err != nil {
			nspan.End()
			d.dirty = true
			return r.err
		}
		if r.record.ID != "" {
			cycle.SLOs = append(cycle.SLOs, r.record)
		}
		for _, tr := range r.transitions {
			if n, ok := notify.FromTransition(r.s.slo, tr, r.status, rt.external); ok {
				changes = append(changes, n)
			}
		}
	}
	known := map[string]bool{}
	for _, s := range slos {
		for _, k := range notify.AlertKeys(s.slo) {
			known[k] = true
		}
	}
	// Incidents of SLOs (or severities) removed by a reload are resolved, not left open.
	changes = append(changes, notify.ResolveMissing(prevAlerts, func(k string) bool { return known[k] }, t)...)
	rec := notify.Reconciler{Router: rt.router, Resend: rt.resend}
	res := rec.Reconcile(prevAlerts, changes, d.silences.Active(t), t)
	entries, err := notify.OutboxEntries(res.Enqueue)
	if err != nil {
		nspan.End()
		return err
	}
	cycle.Outbox = entries
	for _, e := range res.Enqueue {
		log.Info("notification enqueued", "receiver", e.Receiver, "dedup_key", e.Key, "action", e.Notification.Action,
			"slo", e.Notification.Service+"/"+e.Notification.SLO, "severity", e.Notification.Severity)
	}
	// Reconcile reports an unrouted alert at every cycle while it fires; say it once.
	unrouted := make(map[string]bool, len(res.Unrouted))
	for _, key := range res.Unrouted {
		unrouted[key] = true
		if !d.unrouted[key] {
			log.Warn("no route matches a firing alert; it is not sent anywhere", "dedup_key", key)
		}
	}
	alertsJSON, err := notify.EncodeAlertRecords(res.State)
	if err != nil {
		nspan.End()
		return err
	}
	cycle.Meta[notify.MetaAlertRecords] = alertsJSON
	tb, _ := t.MarshalText()
	cycle.Meta[metaLastCycle] = tb
	nspan.SetAttributes(attribute.Int("slod.transitions", len(changes)), attribute.Int("slod.enqueued", len(cycle.Outbox)))
	nspan.End()

	_, cspan := d.tracer.Start(ctx, "commit")
	commitStart := time.Now()
	_, err = d.store.Commit(cycle)
	commitTook := time.Since(commitStart)
	cspan.End()
	if err != nil {
		d.m.storeErrors.Inc()
		d.dirty = true
		return fmt.Errorf("committing cycle: %w", err)
	}

	// Committed: the new state is now the state.
	d.mu.Lock()
	for _, r := range results {
		r.s.st, r.s.status, r.s.evaluated, r.s.sourceErr, r.s.dataUntil = r.st, r.status, true, r.sourceErr, r.dataUntil
		if r.record.ID != "" {
			r.s.committed = r.record.State
		}
	}
	d.alerts = res.State
	d.unrouted = unrouted
	d.mu.Unlock()
	d.nm.ObserveReconcile(res)
	for _, sa := range res.Silenced {
		log.Info("notification silenced", "receiver", sa.Receiver, "dedup_key", sa.Key, "silence", sa.SilenceID)
	}
	if len(cycle.Outbox) > 0 {
		d.dispatcher.Wake()
	}
	d.lastCycle.Store(t.UnixNano())
	d.lastCommit.Store(int64(commitTook))
	log.Debug("evaluation cycle committed", "at", t, "evaluate_seconds", evalTook.Seconds(), "commit_seconds", commitTook.Seconds(),
		"outbox", len(cycle.Outbox))
	d.m.lastSuccess.Set(float64(t.Unix()))
	d.m.storeSize.Set(float64(d.store.Size()))
	d.publishAll(slos)
	// A backfill decodes far more than a steady cycle keeps; hand that memory back to the OS
	// instead of carrying it as RSS until the runtime scavenges it.
	appended := 0
	for _, r := range results {
		appended += r.appended
	}
	if appended > backfillSteps*len(slos) {
		debug.FreeOSMemory()
	}
	for _, r := range results {
		for _, tr := range r.transitions {
			// Firing and resolving are what operators look for; pending comes and goes.
			level := slog.LevelDebug
			if tr.To == burnrate.Firing || tr.From == burnrate.Firing {
				level = slog.LevelInfo
			}
			log.Log(ctx, level, "alert transition", "slo", r.s.slo.ID(), "severity", tr.Severity, "no_data", tr.NoData,
				"from", tr.From, "to", tr.To, "long_burn_rate", round(tr.Reason.LongBurn), "short_burn_rate", round(tr.Reason.ShortBurn))
		}
	}
	// Silences that ended a week ago are of no use to anyone; the store should not grow forever.
	if n, err := d.silences.Expire(t, silenceRetention); err != nil {
		d.m.storeErrors.Inc()
		log.Warn("expiring old silences", "err", err)
	} else if n > 0 {
		log.Info("expired old silences", "count", n)
	}
	if !d.ready.Load() {
		log.Info("first evaluation cycle completed; ready", "at", t)
	}
	d.ready.Store(true)
	return nil
}

// evalSLO fetches the steps missing since the SLO's history ends, appends them, evaluates, and
// encodes the record to commit. Failures of the source are not errors: the SLO's burn-rate alerts
// hold (Evaluate at a time after the history's end) and only the no-data alert is evaluated.
func (d *Daemon) evalSLO(ctx context.Context, log *slog.Logger, rt *runtimeConfig, s *sloState, t time.Time, writeHistory bool) sloResult {
	slo := s.slo
	ctx, span := d.tracer.Start(ctx, "slo", trace.WithAttributes(attribute.String("slod.slo", slo.ID())))
	defer span.End()
	step := rt.cfg.Evaluation.Step.D()
	res := sloResult{s: s}
	appended := 0

	backfill := slo.MaxWindow()
	if b := rt.cfg.Evaluation.Backfill.D(); b > 0 && b < backfill {
		backfill = b
	}
	floor := t.Add(-backfill).Add(step)
	start := floor
	if end := s.hist.End(); !end.IsZero() && end.Add(step).After(floor) {
		start = end.Add(step)
	}
	if !start.After(t) {
		qctx, qspan := d.tracer.Start(ctx, "query", trace.WithAttributes(
			attribute.String("slod.from", start.Format(time.RFC3339)), attribute.Int("slod.steps", int(t.Sub(start)/step)+1)))
		qctx = promapi.ContextWithLogger(qctx, log.With("slo", slo.ID()))
		lookback := rt.cfg.Evaluation.Lookback.D()
		fine := sli.Options{Step: step, Lookback: lookback}
		var (
			incs []burnrate.Increment
			err  error
		)
		if s.prep == nil || !s.prep.Matches(slo, rt.querier, fine) {
			// Built once, not every cycle: parsing and rewriting the PromQL was most of slod's
			// own CPU in a cycle, and garbage.
			s.prep, err = sli.Prepare(slo, rt.querier, fine)
		}
		if err == nil {
			incs, err = fetch(qctx, rt.querier, slo, s.prep, start, t, step, lookback, s.hist.End().IsZero())
		}
		if err != nil {
			qspan.RecordError(err)
			qspan.SetStatus(codes.Error, "source error")
		}
		qspan.End()
		switch {
		case err != nil && ctx.Err() != nil:
			res.err = ctx.Err()
			return res
		case err != nil:
			res.sourceErr = sourceReason(err)
			log.Warn("source failed for SLO; holding its alert state", "slo", slo.ID(), "reason", res.sourceErr, "err", err)
		default:
			// Trailing Missing steps are not appended: they are asked for again next cycle, so a
			// scrape or ingestion that lags, or a source outage, never reads as zero errors.
			last := -1
			for i, inc := range incs {
				if !inc.Missing {
					last = i
				}
			}
			for _, inc := range incs[:last+1] {
				if err := s.hist.Append(inc); err != nil {
					res.err = fmt.Errorf("SLO %s: appending the step ending %s: %w", slo.ID(), inc.End.Format(time.RFC3339), err)
					return res
				}
				appended++
			}
			if last < len(incs)-1 {
				res.sourceErr = reasonNoData
				log.Warn("no data for SLO; holding its alert state", "slo", slo.ID(), "reason", reasonNoData,
					"missing_since", incs[last+1].End.Add(-step))
			}
		}
		if res.sourceErr != "" {
			d.m.sourceErrors.WithLabelValues(slo.Service, slo.Name, res.sourceErr).Inc()
			span.SetStatus(codes.Error, res.sourceErr)
		}
	}

	if t.Before(s.hist.End()) {
		// The clock went back (or the store came from a host ahead of this one): evaluating
		// before the history's end would misread it. Keep everything as it is until time
		// catches up.
		log.Warn("evaluation time before the end of the SLO's history; holding its state", "slo", slo.ID(), "history_end", s.hist.End())
		res.st, res.status = s.st, s.status
	} else {
		_, espan := d.tracer.Start(ctx, "evaluate")
		res.st, res.status, res.transitions = burnrate.Evaluate(slo.Policy(), s.hist, s.st, t)
		espan.SetAttributes(attribute.Int("slod.transitions", len(res.transitions)))
		espan.End()
	}

	st, err := json.Marshal(res.st)
	if err != nil {
		res.err = fmt.Errorf("SLO %s: encoding alert state: %w", slo.ID(), err)
		return res
	}
	res.dataUntil = s.hist.End()
	res.appended = appended
	if !writeHistory && s.committed != nil && bytes.Equal(st, s.committed) {
		// The alert state is as committed; the history is written in its turn (see
		// historyWriteEvery). A restart refetches the few steps the stored history lacks.
		return res
	}
	hist, err := s.hist.MarshalBinary()
	if err != nil {
		res.err = fmt.Errorf("SLO %s: encoding history: %w", slo.ID(), err)
		return res
	}
	res.record = store.SLORecord{ID: slo.ID(), History: hist, State: st, UpdatedAt: t}
	res.dataUntil = s.hist.End()
	return res
}

// round keeps 6 significant digits so that logs and the API do not carry float noise.
func round(v float64) float64 {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return v
	}
	p := math.Pow(10, 6-math.Ceil(math.Log10(math.Abs(v))))
	return math.Round(v*p) / p
}

// formatFloat prints with at most 4 significant digits, never 0.0009999999999999432.
func formatFloat(v float64) string {
	return fmt.Sprintf("%.4g", v)
}

// publishAll sets the gauge of SLOs by state after a committed cycle (the per-SLO gauges are
// read from the SLO states when scraped: sloCollector).
func (d *Daemon) publishAll(slos []*sloState) {
	counts := map[burnrate.Phase]int{burnrate.Inactive: 0, burnrate.Pending: 0, burnrate.Firing: 0}
	d.mu.RLock()
	defer d.mu.RUnlock()
	for _, s := range slos {
		counts[worstPhase(s.st)]++
	}
	for ph, n := range counts {
		d.m.slos.WithLabelValues(string(ph)).Set(float64(n))
	}
}

func phaseValue(p burnrate.Phase) float64 {
	switch p {
	case burnrate.Pending:
		return 1
	case burnrate.Firing:
		return 2
	}
	return 0
}

func worstPhase(st burnrate.State) burnrate.Phase {
	worst := burnrate.Inactive
	for _, a := range st.Alerts {
		if phaseValue(a.Phase) > phaseValue(worst) {
			worst = a.Phase
		}
	}
	return worst
}

// newCycleID returns a short random correlation id for one cycle's logs and trace.
func newCycleID() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "unknown"
	}
	return hex.EncodeToString(b[:])
}
