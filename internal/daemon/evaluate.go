package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/slod-dev/slod/internal/burnrate"
	"github.com/slod-dev/slod/internal/eval"
	"github.com/slod-dev/slod/internal/promapi"
	"github.com/slod-dev/slod/internal/sli"
	"github.com/slod-dev/slod/internal/store"
)

// The source-error reasons that are not a failed query (promapi's reasons are those): the SLI's
// queries answered but had no data for the newest step, or slod could not use what they said.
const (
	reasonNoData  = "no_data"
	reasonInvalid = promapi.ReasonInvalid
)

// historyWriteEvery spreads the writes of SLO histories over cycles: an SLO's history goes to the
// store once every historyWriteEvery cycles (each SLO in its own turn, so every cycle writes a
// tenth of them), and whenever its alert state changes. Rewriting every 24 KiB history every cycle
// would make the commit, and the memory a cycle churns through, ten times larger, for nothing: the
// alert state and the outbox, which must never disagree, are still written in the cycle that
// changes them, and a restart refetches the steps a stored history lacks (at most this many),
// exactly, from the source, without evaluating again those it had evaluated (eval.Checkpoint).
const historyWriteEvery = 10

// historyTurn reports whether the cycle numbered seq writes the history of SLO id.
func historyTurn(id string, seq uint64) bool {
	h := fnv.New32a()
	h.Write([]byte(id))
	return uint64(h.Sum32())%historyWriteEvery == seq%historyWriteEvery
}

// sloResult is what evaluating one SLO in a cycle produced; nothing of it is visible outside the
// cycle until the store commit succeeded.
type sloResult struct {
	s *sloState
	// insts are the results of the SLO's instances after the cycle, in key order; retired those it
	// retired (their records are deleted, their firing alerts resolved).
	insts, retired []instResult
	excess         []string
	// err is an error of the cycle (the context ended), not of the SLO.
	err error
}

// instResult is what evaluating one instance (the SLO, or one of its groups) produced.
type instResult struct {
	key, id     string
	labels      map[string]string
	st          burnrate.State
	status      burnrate.Status
	transitions []burnrate.Transition
	// record is the instance's record to write (ID empty: nothing to write this cycle).
	record    store.SLORecord
	sourceErr string
	// sourceMsg is the error behind sourceErr, for the API ("" for no_data).
	sourceMsg string
	dataUntil time.Time
	appended  int
	// recentBad are the bad events over recentWindows.
	recentBad [2]float64
}

// recentWindows are the spans over which the status page shows the budget spent: the last day and
// week.
var recentWindows = [2]time.Duration{24 * time.Hour, 7 * 24 * time.Hour}

// evaluateAll is the cycle's first stage: every SLO fetches its new steps and is evaluated at t,
// at most MaxConcurrency at once. It touches the SLOs' steppers and nothing else.
func (d *Daemon) evaluateAll(ctx context.Context, log *slog.Logger, rt *runtimeConfig, slos []*sloState, t time.Time, seq uint64) []sloResult {
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
			results[i] = d.evalSLO(ctx, log, rt, s, t, seq)
		})
	}
	wg.Wait()
	return results
}

// evalSLO fetches the steps the SLO's instances need up to t, advances them to t (eval.Groups)
// and encodes the records to commit. Failures of the source are not errors: the instances hold
// their burn-rate alerts and evaluate their no-data alert only, and the failure is their source
// error.
func (d *Daemon) evalSLO(ctx context.Context, log *slog.Logger, rt *runtimeConfig, s *sloState, t time.Time, seq uint64) sloResult {
	slo := s.slo
	ctx, span := d.tracer.Start(ctx, "slo", trace.WithAttributes(attribute.String("slod.slo", slo.ID())))
	defer span.End()
	res := sloResult{s: s}
	log = log.With("slo", slo.ID())

	src, groups, err := d.fetch(ctx, log, rt, s, t)
	var source instResult // the SLO's source error, which every instance shares
	switch {
	case err != nil && ctx.Err() != nil:
		res.err = ctx.Err()
		return res
	case err != nil:
		source.sourceErr, source.sourceMsg = promapi.Reason(err), err.Error()
		log.Warn("source failed for SLO; holding its alert state", "reason", source.sourceErr, "err", err)
	}

	_, espan := d.tracer.Start(ctx, "evaluate")
	var bridge eval.GroupBridger
	if src != nil {
		bridge = src
	}
	s.hist.Lock()
	defer s.hist.Unlock()
	out := s.eval.Advance(ctx, groups, t, bridge)
	espan.End()
	if ctx.Err() != nil {
		res.err = ctx.Err()
		return res
	}
	reasons := map[string]bool{}
	for _, inst := range s.eval.Instances() {
		ir := instOutcome(log, inst, out, source, t)
		if res.err = ir.encode(s, inst, t, historyTurn(ir.id, seq)); res.err != nil {
			return res
		}
		res.insts = append(res.insts, ir)
		if ir.sourceErr != "" {
			reasons[ir.sourceErr] = true
		}
	}
	for _, inst := range out.Retired {
		res.retired = append(res.retired, instOutcome(log, inst, out, source, t))
		log.Info("group retired", "group", inst.Key, "slo_instance", inst.ID())
	}
	for _, reason := range slices.Sorted(maps.Keys(reasons)) {
		s.sourceErrs.add(reason)
		span.SetStatus(codes.Error, reason)
	}
	res.excess = s.eval.Excess()
	if n := len(res.excess) - len(s.excess); n > 0 {
		// Counted and logged as they appear (s.excess is what the last cycle published).
		d.m.groupsExcess.WithLabelValues(slo.Service, slo.Name).Add(float64(n))
		log.Warn("groups past max_groups are not evaluated", "max_groups", slo.MaxGroups, "not_evaluated", len(res.excess), "first", res.excess[0])
	}
	return res
}

// instOutcome is the result of one instance after Groups.Advance; source holds the SLO's fetch
// error (sourceErr, sourceMsg), if its source failed.
func instOutcome(log *slog.Logger, inst *eval.Instance, out eval.GroupsOutcome, source instResult, t time.Time) instResult {
	o := out.Outcome(inst.Key)
	h := inst.Stepper.History()
	ir := instResult{key: inst.Key, id: inst.ID(), labels: inst.Labels, st: inst.Stepper.State(), status: inst.Stepper.Status(t),
		transitions: o.Transitions, sourceErr: source.sourceErr, sourceMsg: source.sourceMsg, dataUntil: h.End(), appended: o.Appended}
	for i, w := range recentWindows {
		ir.recentBad[i], _ = h.Sum(w)
	}
	ir.noteOutcome(log, inst, o, out.Errs[inst.Key])
	return ir
}

// noteOutcome records (and logs) why the instance has no data at t, if it has none. The logger
// gets the group only when there is something to log: most instances have nothing to say in most
// cycles, and a logger per group per cycle is garbage.
func (r *instResult) noteOutcome(log *slog.Logger, inst *eval.Instance, out eval.Outcome, err error) {
	_, invalid := errors.AsType[*eval.InvalidError](err)
	var msg string
	var args []any
	switch {
	case out.Behind:
		// The clock went back (or the store came from a host ahead of this one): evaluating
		// before the history's end would misread it; the stepper keeps everything as it is.
		msg, args = "evaluation time before the end of the SLO's history; holding its state", []any{"history_end", inst.Stepper.History().End()}
	case invalid:
		r.sourceErr, r.sourceMsg = reasonInvalid, err.Error()
		msg, args = "the source returned a value slod cannot count; holding the SLO's alert state", []any{"reason", reasonInvalid, "err", err}
	case err != nil && r.sourceErr == "":
		r.sourceErr, r.sourceMsg = promapi.Reason(err), err.Error()
		msg, args = "source failed for SLO; holding its alert state", []any{"reason", r.sourceErr, "err", err}
	case r.sourceErr == "" && out.NoBad:
		r.sourceErr = reasonNoData
		msg, args = "the error query returned nothing while an alert fires; holding its alert state", []any{"reason", reasonNoData,
			"missing_since", out.LastData}
	case r.sourceErr == "" && out.Missing:
		r.sourceErr = reasonNoData
		msg, args = "no data for SLO; holding its alert state", []any{"reason", reasonNoData, "missing_since", out.LastData}
	default:
		return
	}
	if inst.Key != "" {
		log = log.With("group", inst.Key)
	}
	log.Warn(msg, args...)
}

// encode sets the record to commit: the instance's checkpoint and history, when its alert state
// changed, in its history turn, or when nothing was written yet.
func (r *instResult) encode(s *sloState, inst *eval.Instance, t time.Time, writeHistory bool) error {
	if c := s.commits[inst.Key]; c.written && !writeHistory && sameAlerts(r.st.Alerts, c.alerts) {
		// The alert state is as committed; the history is written in its turn (see
		// historyWriteEvery). A restart refetches the few steps the stored history lacks.
		return nil
	}
	cp, err := json.Marshal(inst.Stepper.Checkpoint())
	if err != nil {
		return fmt.Errorf("SLO %s: encoding alert state: %w", r.id, err)
	}
	hist, err := inst.Stepper.History().MarshalBinary()
	if err != nil {
		return fmt.Errorf("SLO %s: encoding history: %w", r.id, err)
	}
	r.record = store.SLORecord{ID: r.id, History: hist, State: cp, UpdatedAt: t}
	return nil
}

// sameAlerts reports whether a is the alert state b, unchanged: burnrate hands back the very
// slice of an evaluation that changed nothing.
func sameAlerts(a, b []burnrate.AlertState) bool {
	if len(a) != len(b) {
		return false
	}
	return len(a) == 0 || &a[0] == &b[0]
}

// fetch returns the SLO's source and the increments of the steps its instances need up to t, per
// group (none when there is nothing to fetch).
func (d *Daemon) fetch(ctx context.Context, log *slog.Logger, rt *runtimeConfig, s *sloState, t time.Time) (*eval.Source, []sli.Group, error) {
	step := rt.cfg.Evaluation.Step.D()
	lookback := rt.cfg.Evaluation.Lookback.D()
	fine := sli.Options{Step: step, Lookback: lookback}
	if s.prep == nil || !s.prep.Matches(s.slo, rt.querier, fine) {
		// Built once, not every cycle: parsing and rewriting the PromQL was most of slod's own
		// CPU in a cycle, and garbage.
		prep, err := sli.Prepare(s.slo, rt.querier, fine)
		if err != nil {
			return nil, nil, err
		}
		s.prep = prep
	}
	src := &eval.Source{Querier: rt.querier, SLO: s.slo, Prepared: s.prep, Exclusions: s.eval.Exclusions()}
	backfill := s.slo.MaxWindow()
	if b := rt.cfg.Evaluation.Backfill.D(); b > 0 && b < backfill {
		backfill = b
	}
	start := s.eval.From(t.Add(-backfill).Add(step))
	if start.After(t) {
		return src, nil, nil
	}
	qctx, qspan := d.tracer.Start(ctx, "query", trace.WithAttributes(
		attribute.String("slod.from", start.Format(time.RFC3339)), attribute.Int("slod.steps", int(t.Sub(start)/step)+1)))
	defer qspan.End()
	qctx = promapi.ContextWithLogger(qctx, log)
	groups, err := src.Fetch(qctx, start, t, s.eval.Empty())
	if err != nil {
		qspan.RecordError(err)
		qspan.SetStatus(codes.Error, "source error")
	}
	return src, groups, err
}
