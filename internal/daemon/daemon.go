// Package daemon is `slod run`: it evaluates every SLO on a schedule against the Prometheus HTTP
// API, keeps SLI history and alert state in the store, and hands alert transitions to the
// notification outbox, all in one transaction per cycle (docs/DESIGN.md §1–§6).
//
// The daemon is a set of oklog/run actors: the scheduler, the outbox dispatcher, the HTTP server
// and the reload listeners. The evaluation never reads the clock: the scheduler does and hands
// every cycle its evaluation time as an argument. The parts that act in real time read the same
// clock (Options.Clock): the dispatcher's retries, the silences, the receivers' rate limiters and
// the config watcher.
package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/oklog/run"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/robfig/cron/v3"
	"go.opentelemetry.io/otel/trace"

	"github.com/slod-dev/slod/internal/burnrate"
	"github.com/slod-dev/slod/internal/config"
	"github.com/slod-dev/slod/internal/eval"
	"github.com/slod-dev/slod/internal/exclude"
	"github.com/slod-dev/slod/internal/notify"
	"github.com/slod-dev/slod/internal/promapi"
	"github.com/slod-dev/slod/internal/receiver"
	"github.com/slod-dev/slod/internal/rules"
	"github.com/slod-dev/slod/internal/sli"
	"github.com/slod-dev/slod/internal/store"
)

// metaLastCycle is the store meta key of the evaluation time of the last committed cycle.
const metaLastCycle = "daemon/last_cycle"

// Options configure a Daemon. ConfigFile is required; the rest have defaults.
type Options struct {
	ConfigFile string
	// ListenAddress is where the HTTP server listens (default ":9099"); "" with NoHTTP for tests
	// that drive cycles by hand.
	ListenAddress string
	// StoragePath is the directory of the state store (default "data/").
	StoragePath string
	// ExternalURL overrides web.external_url of the config (the --web.external-url flag).
	ExternalURL string
	Logger      *slog.Logger
	// Clock is read by the scheduler, the dispatcher, the silences, the rate limiters and the
	// config watcher, never by the evaluation (default: the real clock).
	Clock clock.Clock
	// Registry receives slod's metrics (default: a new registry).
	Registry *prometheus.Registry
	Version  string
	Revision string
	// NewQuerier builds the source from the config (default: a promapi client); tests use fakes.
	NewQuerier func(cfg promapi.Config, opt promapi.Options) (sli.Querier, error)
	// Reload delivers reload requests (SIGHUP, forwarded by main).
	Reload <-chan struct{}
	// Tracer traces cycles (default: from OTEL_EXPORTER_OTLP_ENDPOINT, else a no-op tracer).
	Tracer trace.Tracer
	// Web configures the HTTP server: TLS and authentication, the endpoints that change state,
	// timeouts and the connection cap.
	Web WebOptions
	// Silences bounds the silences API (notify.DefaultSilenceLimits where zero).
	Silences notify.SilenceLimits
	// AutoReload, when positive, is how often the config and rule files are checked for changes,
	// which reload them (--config.auto-reload-interval).
	AutoReload time.Duration
}

// runtime is everything derived from one config file: swapped as a whole by a reload.
type runtimeConfig struct {
	cfg       *config.Config
	schedule  cron.Schedule
	querier   sli.Querier
	router    *receiver.Router
	notifiers map[string]notify.Notifier
	resend    map[string]time.Duration
	external  string
}

// sloState is one SLO of the running rules: its evaluation (eval.Groups: the SLO, or one instance
// per group of a grouped SLO; touched only by the cycle, under cycleMu) and what the last committed
// cycle published about each instance, which HTTP handlers and the metrics collector read under
// Daemon.mu.
type sloState struct {
	slo  *rules.SLO
	eval *eval.Groups
	// prep is the SLO's per-step queries, built by the first cycle that needs them and kept
	// (across reloads too) while they match the SLO, the step, the lookback and the source.
	prep *sli.Prepared
	// commits are what was last written of each instance, by key (cycle-owned).
	commits map[string]commitState

	// Published by the last committed cycle: one view per instance, in key order, and the groups
	// past max_groups.
	insts  []*instState
	excess []string
	// sourceErrs count the cycles in which the SLO got no usable data, by reason (carried over
	// by a reload, by id).
	sourceErrs *sourceErrorCounts
	// source is where the SLO is defined, file:line, the file relative to the config's directory.
	source string
	// hist guards eval's instances against the readers of their histories (the status page's
	// charts, the history API), which copy a history under it while the cycle may be advancing
	// other SLOs. Carried over by a reload with the histories, by id.
	hist *sync.Mutex
}

// commitState is what the store holds of one instance: its alert state as last written (the very
// slice: burnrate shares an unchanged state's slice, so an unchanged state is recognised by
// identity), and whether its record was written since its state or history was replaced.
type commitState struct {
	alerts  []burnrate.AlertState
	written bool
}

// instState is what the last committed cycle published about one instance.
type instState struct {
	key    string // the group's key ("" for the SLO itself)
	labels map[string]string
	st     burnrate.State
	status burnrate.Status
	// evaluated is false until a cycle evaluated the instance.
	evaluated bool
	sourceErr string
	sourceMsg string
	// dataUntil is the end of the history as of the last commit.
	dataUntil time.Time
	// recentBad are the bad events of the last 24 hours and 7 days (the budget they spent).
	recentBad [2]float64
}

// Daemon is a running `slod run`.
type Daemon struct {
	opt      Options
	log      *slog.Logger
	clock    clock.Clock
	store    *store.Store
	registry *prometheus.Registry
	m        *metrics
	nm       *notify.Metrics
	tracer   trace.Tracer
	shutdown func(context.Context) error

	dispatcher *notify.Dispatcher
	silences   *notify.SilenceSet
	// incidents are the alerts' recent incidents and what became of their notifications.
	incidents *incidentLog

	// cycleMu serialises cycles and reloads: a reload waits for the cycle in progress, so the
	// state it carries over is never half-updated.
	cycleMu sync.Mutex
	// mu guards rt, slos, alerts and reload for readers (HTTP); writers of the first three hold
	// cycleMu too.
	mu     sync.RWMutex
	rt     *runtimeConfig
	slos   []*sloState
	alerts map[string]notify.AlertRecord
	reload reloadStatus
	// exclusions are those taken over the API (stored in the meta key metaExclusions), exclSet
	// the same compiled; written under cycleMu and mu.
	exclusions []exclusionRecord
	exclSet    exclude.Set
	// unrouted are the dedup keys of firing alerts no route matched at the last cycle (warned
	// about once, not every cycle).
	unrouted map[string]bool
	// dirty is set when a commit failed: in-memory state is ahead of the store and is re-read
	// from it before the next cycle, so a transition is never acted on without being recorded.
	dirty bool
	// sched is the running scheduler (nil until Run), told about reloads.
	sched *Scheduler
	// cycleSeq numbers cycles since start, for historyTurn.
	cycleSeq uint64

	// health is whether the store takes writes and reads (part of readiness).
	health *storeHealth
	// cycled is set once a cycle has been committed, ready once one has been in which an SLO got
	// data from the source (readiness: notReady).
	cycled    atomic.Bool
	ready     atomic.Bool
	lastCycle atomic.Int64 // unix nanoseconds of the last committed evaluation time
	// lastCommit is how long the last store commit took (for the benchmark's breakdown).
	lastCommit atomic.Int64
	// limiters are the PagerDuty rate limiters per routing key, kept for the daemon's life so
	// that a reload does not refill the buckets (PagerDuty counts per key, not per config).
	limiters *notify.Limiters
	// loadedChecksum is configChecksum taken just before New loaded the files, where the
	// auto-reload watcher starts from.
	loadedChecksum string
}

// defaultGCPercent is the garbage collector's target (GOGC) slod runs with unless the GOGC
// environment variable says otherwise. Go's default of 100 lets the heap grow to twice what is
// live before collecting; slod's live heap is almost all SLI histories (24 KiB per SLO of
// pointer-free arrays, which the collector does not scan), so a collection costs little and the
// second copy is mostly RSS for nothing: at 50 the heap peaks at 1.5 times the live heap, for a
// few more (cheap) collections per cycle. GOMEMLIMIT, when set, applies on top as usual.
const defaultGCPercent = 50

// setGCDefault applies defaultGCPercent unless GOGC is set.
func setGCDefault() {
	if _, ok := os.LookupEnv("GOGC"); !ok {
		debug.SetGCPercent(defaultGCPercent)
	}
}

// New loads the config and rules, opens the store and restores state from it. The caller must
// Close the daemon (Run does so when it returns). Unless the GOGC environment variable is set,
// New sets the process's GC target to defaultGCPercent.
func New(ctx context.Context, opt Options) (*Daemon, error) {
	setGCDefault()
	opt = opt.withDefaults()
	if err := validateWebConfig(opt.Web.ConfigFile); err != nil {
		return nil, err
	}
	d, err := newDaemon(ctx, opt)
	if err != nil {
		return nil, err
	}
	if opt.AutoReload > 0 {
		// Before loading: a change in between makes the first check reload once more, never miss it.
		d.loadedChecksum = configChecksum(opt.ConfigFile)
	}
	cfg, set, err := d.load()
	if err != nil {
		d.noteReload(err)
		return nil, err
	}
	rt, err := d.buildRuntime(cfg)
	if err != nil {
		return nil, err
	}
	if err := d.openState(set, rt); err != nil {
		return nil, err
	}
	d.noteReload(nil)
	d.m.storeSize.Set(float64(d.store.Size()))
	if err := opt.Registry.Register(newSLOCollector(d)); err != nil {
		d.store.Close()
		return nil, fmt.Errorf("registering the SLO metrics: %w", err)
	}
	for _, w := range set.Warnings {
		d.log.Warn("rules warning", "warning", w.Error())
	}
	d.log.Info("loaded", "config", opt.ConfigFile, "slos", len(d.slos), "rule_files", len(set.Files), "store", d.store.Path())
	return d, nil
}

// withDefaults fills in the options left zero, in one place.
func (opt Options) withDefaults() Options {
	if opt.ListenAddress == "" {
		opt.ListenAddress = ":9099"
	}
	if opt.StoragePath == "" {
		opt.StoragePath = "data/"
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Clock == nil {
		opt.Clock = clock.New()
	}
	if opt.Registry == nil {
		opt.Registry = prometheus.NewRegistry()
	}
	opt.Web = opt.Web.withDefaults()
	if opt.NewQuerier == nil {
		opt.NewQuerier = func(cfg promapi.Config, o promapi.Options) (sli.Querier, error) { return promapi.New(cfg, o) }
	}
	return opt
}

// newDaemon returns a Daemon with its metrics and tracer, before any config is loaded.
func newDaemon(ctx context.Context, opt Options) (*Daemon, error) {
	d := &Daemon{
		opt:      opt,
		log:      opt.Logger,
		clock:    opt.Clock,
		registry: opt.Registry,
		m:        newMetrics(opt.Registry, opt.Version, opt.Revision),
		nm:       notify.NewMetrics(opt.Registry),
		shutdown: func(context.Context) error { return nil },
		limiters: notify.NewLimiters(),
		health:   newStoreHealth(opt.Logger.With("component", "store"), opt.Clock),
	}
	if opt.Tracer != nil {
		d.tracer = opt.Tracer
		return d, nil
	}
	tracer, shutdown, err := newTracer(ctx, opt.Version)
	if err != nil {
		return nil, err
	}
	d.tracer, d.shutdown = tracer, shutdown
	return d, nil
}

// openState opens the store and reads from it the silences, every SLO's history and alert state
// and the notification state, and sets up the dispatcher of its outbox. On error the store is
// closed again.
func (d *Daemon) openState(set *rules.Set, rt *runtimeConfig) error {
	st, err := openStore(d.opt.StoragePath, d.log)
	if err != nil {
		return err
	}
	d.store = st
	if d.silences, err = notify.NewSilenceSet(st, d.clock); err != nil {
		st.Close()
		return err
	}
	d.silences.SetLimits(d.opt.Silences)
	if err := d.loadExclusions(); err != nil {
		st.Close()
		return err
	}
	if d.incidents, err = loadIncidents(st, d.log.With("component", "incidents"), d.m.storeErrors); err != nil {
		st.Close()
		return fmt.Errorf("reading the incident log: %w", err)
	}
	d.rt = rt
	d.slos = d.carryOver(nil, set.SLOs, rt)
	if err := d.restore(); err != nil {
		st.Close()
		return err
	}
	d.dropUnconfigured()
	outbox := healthOutbox{Outbox: newStoreOutbox(st), health: d.health, errors: d.m.storeErrors}
	d.dispatcher = notify.NewDispatcher(outbox, rt.notifiers, notify.DispatcherOptions{
		Clock: d.clock, Logger: d.log.With("component", "notify"), Metrics: d.nm, Observe: d.incidents.observe,
	})
	return nil
}

// load reads and checks the config file and the rules it names (LoadConfig).
func (d *Daemon) load() (*config.Config, *rules.Set, error) {
	return LoadConfig(d.opt.ConfigFile, nil)
}

// buildRuntime turns a config into the objects that use it.
func (d *Daemon) buildRuntime(cfg *config.Config) (*runtimeConfig, error) {
	sched, err := cfg.Schedule()
	if err != nil {
		return nil, err
	}
	q, err := d.opt.NewQuerier(SourceConfig(cfg.Prometheus), promapi.Options{
		Logger:    d.log.With("component", "promapi"),
		Observe:   func(o promapi.Observation) { d.m.queries.WithLabelValues(string(o.Result)).Inc() },
		UserAgent: "slod/" + d.opt.Version,
	})
	if err != nil {
		return nil, fmt.Errorf("prometheus client: %w", err)
	}
	external := cfg.Web.ExternalURL
	if d.opt.ExternalURL != "" {
		external = d.opt.ExternalURL
	}
	if external == "" {
		external = defaultExternalURL(d.opt.ListenAddress)
	}
	notifiers, err := notify.NewNotifiers(cfg.Receivers, notify.Options{
		Clock: d.clock, Instance: instanceName(external), Limiters: d.limiters,
	})
	if err != nil {
		return nil, fmt.Errorf("receivers: %w", err)
	}
	resend := map[string]time.Duration{}
	for name, n := range notifiers {
		if r, ok := n.(notify.Resender); ok {
			resend[name] = r.ResendInterval()
		}
	}
	return &runtimeConfig{cfg: cfg, schedule: sched, querier: q, router: receiver.NewRouter(cfg.Routes),
		notifiers: notifiers, resend: resend, external: external}, nil
}

func defaultExternalURL(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return ""
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		if h, err := os.Hostname(); err == nil {
			host = h
		} else {
			host = "localhost"
		}
	}
	return "http://" + net.JoinHostPort(host, port)
}

func instanceName(external string) string {
	if u, err := url.Parse(external); err == nil && u.Host != "" {
		return u.Hostname()
	}
	h, _ := os.Hostname()
	return h
}

// sourcePos is where slo is defined, file:line, the file relative to the config file's directory
// when it lies inside it (rules/chat.yaml:12), as the config names it.
func (d *Daemon) sourcePos(slo *rules.SLO) string {
	if slo.Pos.File == "" {
		return ""
	}
	file := slo.Pos.File
	if rel, err := filepath.Rel(filepath.Dir(d.opt.ConfigFile), file); err == nil && !strings.HasPrefix(rel, "..") {
		file = rel
	}
	return fmt.Sprintf("%s:%d", file, slo.Pos.Line)
}

// carryOver builds the SLO states of a new rule set, keeping the instances (histories and alert
// states) of every SLO that keeps its id and its group_by. A history is kept as is when its step is
// unchanged and its capacity still covers the longest window; otherwise it starts over and the
// next cycle backfills it. What was committed is carried over too, so a reload that changes
// nothing writes nothing more than a cycle would have.
func (d *Daemon) carryOver(prev []*sloState, slos []*rules.SLO, rt *runtimeConfig) []*sloState {
	old := make(map[string]*sloState, len(prev))
	for _, s := range prev {
		old[s.slo.ID()] = s
	}
	out := make([]*sloState, 0, len(slos))
	for _, slo := range slos {
		s := &sloState{slo: slo, eval: newGroups(slo, rt, d.exclSet), commits: map[string]commitState{}, sourceErrs: new(sourceErrorCounts),
			hist: new(sync.Mutex), source: d.sourcePos(slo)}
		o, ok := old[slo.ID()]
		if ok {
			s.sourceErrs, s.hist = o.sourceErrs, o.hist
		}
		if ok && slices.Equal(o.slo.GroupBy, slo.GroupBy) {
			s.prep, s.insts, s.excess = o.prep, o.insts, o.excess
			carryInstances(o, s, rt)
		}
		out = append(out, s)
	}
	return out
}

// carryInstances moves the instances of o into s, the same SLO under a new rule set.
func carryInstances(o, s *sloState, rt *runtimeConfig) {
	step := rt.cfg.Evaluation.Step.D()
	policyChanged := !slices.EqualFunc(o.slo.Alerting.Windows, s.slo.Alerting.Windows, func(a, b burnrate.Window) bool { return a == b }) ||
		!equalNoData(o.slo.Alerting.NoData, s.slo.Alerting.NoData)
	for _, inst := range o.eval.Instances() {
		hist := adoptHistory(inst.Stepper.History(), step, s.slo.MaxWindow())
		cp := inst.Stepper.Checkpoint()
		if policyChanged {
			// The alerts of a changed policy are matched by severity by Evaluate; a pair index
			// of the old policy means nothing in the new one, so its hold times restart.
			cp.State = resetPairs(cp.State)
		}
		s.eval.Restore(inst.Key, inst.Labels, hist, cp)
		if c, ok := o.commits[inst.Key]; ok && hist == inst.Stepper.History() {
			s.commits[inst.Key] = c
		}
	}
}

// newGroups returns the evaluation of slo under the runtime config rt, without history, with the
// exclusions taken over the API.
func newGroups(slo *rules.SLO, rt *runtimeConfig, exclusions exclude.Set) *eval.Groups {
	g := eval.NewGroups(slo, rt.cfg.Evaluation.Step.D(), eval.StepperOptionsFor(slo, rt.cfg.Evaluation.Lookback.D()))
	g.SetExclusions(exclusions)
	return g
}

func equalNoData(a, b *burnrate.NoData) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func resetPairs(st burnrate.State) burnrate.State {
	out := burnrate.State{Alerts: make([]burnrate.AlertState, len(st.Alerts))}
	for i, a := range st.Alerts {
		a.PairSince = nil
		out.Alerts[i] = a
	}
	return out
}

// adoptHistory returns h if it has the wanted step and at least the wanted capacity, else a new
// empty History.
func adoptHistory(h *burnrate.History, step, maxWindow time.Duration) *burnrate.History {
	if h == nil || h.Step() != step {
		return burnrate.NewHistory(step, maxWindow)
	}
	if h.MaxWindow() >= maxWindow {
		// A longer capacity than needed costs memory, not accuracy.
		return h
	}
	// burnrate.History cannot grow its coarse tiers in place: start over, and the next cycle
	// backfills the whole new window from the source (start = t − window), which also holds
	// everything the old history had. Alert states are kept, and the steps the backfill brings
	// are at or before the last evaluation, so they are not evaluated again: the switch causes
	// neither a page nor a resolve by itself.
	return burnrate.NewHistory(step, maxWindow)
}

// restore loads every configured SLO's history and alert state, and the notification state,
// from the store. Records of SLOs no longer configured stay in the store until the next commit
// decides about them (see cycle: their open incidents are resolved).
func (d *Daemon) restore() error {
	recs, err := d.store.SLOs()
	if err != nil {
		d.m.storeErrors.Inc()
		return fmt.Errorf("reading state: %w", err)
	}
	// HTTP handlers read the alert states under mu; after a failed commit this runs while they
	// may.
	d.mu.Lock()
	defer d.mu.Unlock()
	ids := slices.Sorted(maps.Keys(recs))
	for _, s := range d.slos {
		if err := d.restoreSLO(s, recs, ids); err != nil {
			return err
		}
	}
	b, err := d.store.Meta(notify.MetaAlertRecords)
	if err != nil {
		d.m.storeErrors.Inc()
		return fmt.Errorf("reading notification state: %w", err)
	}
	alerts, err := notify.DecodeAlertRecords(b)
	if err != nil {
		return err
	}
	d.alerts = alerts
	if b, err := d.store.Meta(metaLastCycle); err == nil && len(b) > 0 {
		var t time.Time
		if err := t.UnmarshalText(b); err == nil {
			d.lastCycle.Store(t.UnixNano())
		}
	}
	d.dirty = false
	return nil
}

// restoreSLO rebuilds the evaluation of s from its records: the SLO's own (id), or one per group
// (id followed by the group's key). ids are the ids of recs, sorted.
func (d *Daemon) restoreSLO(s *sloState, recs map[string]store.SLORecord, ids []string) error {
	s.hist.Lock()
	defer s.hist.Unlock()
	step := d.rt.cfg.Evaluation.Step.D()
	s.eval, s.commits, s.insts = newGroups(s.slo, d.rt, d.exclSet), map[string]commitState{}, nil
	for id, key := range recordsOf(s.slo, ids) {
		rec := recs[id]
		h := new(burnrate.History)
		if err := h.UnmarshalBinary(rec.History); err != nil {
			d.log.Warn("discarding unreadable history; it will be backfilled", "slo", id, "err", err)
			h = burnrate.NewHistory(step, s.slo.MaxWindow())
		}
		h = adoptHistory(h, step, s.slo.MaxWindow())
		cp, err := decodeCheckpoint(rec)
		if err != nil {
			return fmt.Errorf("reading alert state of %s: %w", id, err)
		}
		inst := s.eval.Restore(key, cp.Group, h, cp)
		s.commits[key] = commitState{alerts: cp.Alerts, written: true}
		s.insts = append(s.insts, &instState{key: key, labels: inst.Labels, st: cp.State, dataUntil: h.End()})
	}
	return nil
}

// recordsOf yields the ids among ids (sorted) of the records of slo, in order, with their group
// keys (instanceKey). They all begin with the SLO's id, so a binary search finds them: going
// through every record for every SLO made a start quadratic in the number of SLOs.
func recordsOf(slo *rules.SLO, ids []string) iter.Seq2[string, string] {
	return func(yield func(id, key string) bool) {
		prefix := slo.ID()
		i, _ := slices.BinarySearch(ids, prefix)
		for ; i < len(ids) && strings.HasPrefix(ids[i], prefix); i++ {
			if key, ok := instanceKey(slo, ids[i]); ok && !yield(ids[i], key) {
				return
			}
		}
	}
}

// instanceKey returns the group key of the record id if it belongs to slo: "" for the SLO's own
// record, the group's key for one of its groups.
func instanceKey(slo *rules.SLO, id string) (string, bool) {
	rest, ok := strings.CutPrefix(id, slo.ID())
	switch {
	case !ok:
		return "", false
	case rest == "":
		return "", true
	case len(slo.GroupBy) > 0:
		labels, ok := rules.ParseGroupKey(rest)
		return rest, ok && slices.Equal(slices.Sorted(maps.Keys(labels)), slo.GroupBy)
	}
	return "", false
}

// decodeCheckpoint reads the alert state and evaluation times of a stored record. A record
// written before the times were stored has the time of its cycle as both: it had been evaluated
// through then, and no step up to it is evaluated again.
func decodeCheckpoint(rec store.SLORecord) (eval.Checkpoint, error) {
	var cp eval.Checkpoint
	if len(rec.State) > 0 {
		if err := json.Unmarshal(rec.State, &cp); err != nil {
			return cp, err
		}
	}
	if cp.Evaluated.IsZero() && !rec.UpdatedAt.IsZero() {
		cp.Evaluated, cp.Through = rec.UpdatedAt.UTC(), rec.UpdatedAt.UTC()
	}
	return cp, nil
}

// dropUnconfigured deletes the stored state of SLOs the rules no longer define (removed while
// slod was down), as a reload does. Their open incidents are resolved by the next cycle, from the
// notification records, which are kept.
func (d *Daemon) dropUnconfigured() {
	recs, err := d.store.SLOs()
	if err != nil {
		d.m.storeErrors.Inc()
		d.log.Warn("listing stored SLOs", "err", err)
		return
	}
	ids := slices.Sorted(maps.Keys(recs))
	known := make(map[string]bool, len(ids))
	for _, s := range d.slos {
		for id := range recordsOf(s.slo, ids) {
			known[id] = true
		}
	}
	for _, id := range ids {
		if known[id] {
			continue
		}
		if err := d.store.DeleteSLO(id); err != nil {
			d.m.storeErrors.Inc()
			d.log.Warn("removing the state of a deleted SLO", "slo", id, "err", err)
			continue
		}
		d.log.Info("removed the state of an SLO no longer in the rules", "slo", id)
	}
}

// Reload re-reads the config and the rules. On any error the running config stays, the error is
// logged and returned, and slod_config_last_reload_successful is 0.
func (d *Daemon) Reload() error {
	d.cycleMu.Lock()
	defer d.cycleMu.Unlock()
	cfg, set, err := d.load()
	var rt *runtimeConfig
	if err == nil {
		rt, err = d.buildRuntime(cfg)
	}
	if err != nil {
		d.noteReload(err)
		LogErrors(d.log, "reload failed; keeping the running config", err)
		return err
	}
	d.mu.Lock()
	d.slos = d.carryOver(d.slos, set.SLOs, rt)
	d.rt = rt
	sched := d.sched
	d.mu.Unlock()
	if sched != nil {
		sched.Reschedule()
	}
	d.dispatcher.SetNotifiers(rt.notifiers)
	// The state of SLOs (and groupings) the new rules no longer have; their open incidents are
	// resolved by the next cycle.
	d.dropUnconfigured()
	d.noteReload(nil)
	d.log.Info("reloaded", "config", d.opt.ConfigFile, "slos", len(d.slos), "rule_files", len(set.Files))
	return nil
}

// reloadStatus is the outcome of the last load of the config and rules (at start or a reload),
// for the API and the status page: a failed reload must not leave them saying all is well.
type reloadStatus struct {
	// At is when the last load was tried; Err its error ("" when it succeeded).
	At  time.Time
	Err string
	// LoadedAt is when the running config was loaded.
	LoadedAt time.Time
}

// noteReload records the outcome of a load of the config (err nil: it succeeded) in the metrics
// and in the reload status.
func (d *Daemon) noteReload(err error) {
	now := d.clock.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.reload.At, d.reload.Err = now, ""
	if err != nil {
		d.m.reloadSuccessful.Set(0)
		d.reload.Err = err.Error()
		return
	}
	d.m.reloadSuccessful.Set(1)
	d.m.reloadSuccessTime.Set(float64(now.UnixNano()) / 1e9)
	d.reload.LoadedAt = now
}

// Ready reports whether a cycle in which an SLO got data from the source has completed since
// start, and the store takes writes and reads. Once ready, a source that fails does not make slod
// unready: it still evaluates the no-data alerts, holds the others and serves its state, and
// says so (slod_evaluation_cycles_total{result="no_data"}, SlodNoSuccessfulCycle,
// SlodNoFreshData). Before, a source that never answered (a wrong URL, a network policy) keeps it
// unready, so that a rollout of such a config does not look healthy.
func (d *Daemon) Ready() bool { return d.notReady() == "" }

// notReady says why slod is not ready, or is "" when it is.
func (d *Daemon) notReady() string {
	switch {
	case !d.cycled.Load():
		return "no evaluation cycle has completed yet"
	case !d.ready.Load():
		return "no SLO has got data from the source since start (the SLOs' source errors say why)"
	}
	return d.health.problem()
}

// Run runs the daemon until ctx is done. Then every actor is interrupted at once: the scheduler
// waits for the cycle in progress, which abandons its work when ctx is done (nothing of it is
// committed; the next start continues from the last committed cycle), the dispatcher stops between
// two deliveries, the HTTP server drains for up to 5 seconds; when all have returned the store is
// closed.
func (d *Daemon) Run(ctx context.Context) error {
	defer d.Close()
	ln, err := net.Listen("tcp", d.opt.ListenAddress)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", d.opt.ListenAddress, err)
	}
	return d.serve(ctx, ln)
}

// Addr-independent body of Run, so tests can listen on a port of their choosing.
func (d *Daemon) serve(ctx context.Context, ln net.Listener) error {
	var g run.Group
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	{
		g.Add(func() error {
			<-ctx.Done()
			return nil
		}, func(error) { cancel() })
	}
	{
		sctx, scancel := context.WithCancel(ctx)
		sched := d.scheduler()
		d.mu.Lock()
		d.sched = sched
		d.mu.Unlock()
		g.Add(func() error { return sched.Loop(sctx) }, func(error) { scancel() })
	}
	{
		dctx, dcancel := context.WithCancel(context.Background())
		g.Add(func() error {
			err := d.dispatcher.Run(dctx)
			if errors.Is(err, context.Canceled) {
				return nil
			}
			return err
		}, func(error) { dcancel() })
	}
	{
		srv := d.newServer()
		g.Add(func() error {
			if err := d.serveHTTP(srv, ln); !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("http server: %w", err)
			}
			return nil
		}, func(error) {
			sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer scancel()
			_ = srv.Shutdown(sctx)
		})
	}
	if d.opt.AutoReload > 0 {
		wctx, wcancel := context.WithCancel(context.Background())
		g.Add(func() error { return d.watchConfig(wctx, d.opt.AutoReload) }, func(error) { wcancel() })
	}
	if d.opt.Reload != nil {
		rctx, rcancel := context.WithCancel(context.Background())
		g.Add(func() error {
			for {
				select {
				case <-rctx.Done():
					return nil
				case <-d.opt.Reload:
					_ = d.Reload()
				}
			}
		}, func(error) { rcancel() })
	}
	return g.Run()
}

// scheduler returns the scheduler of evaluation cycles: the running config's schedule, on the
// daemon's clock, skipping (and counting) a tick while a cycle overruns.
func (d *Daemon) scheduler() *Scheduler {
	return &Scheduler{
		Clock: d.clock,
		Schedule: func() cron.Schedule {
			d.mu.RLock()
			defer d.mu.RUnlock()
			return d.rt.schedule
		},
		Run: func(ctx context.Context, t time.Time) { _ = d.Cycle(ctx, t) },
		Skip: func(t time.Time) {
			d.m.cycles.WithLabelValues(cycleSkipped).Inc()
			d.log.Warn("skipping an evaluation: the previous cycle is still running", "at", t)
		},
	}
}

// Close closes the store and flushes traces. It is safe to call more than once.
func (d *Daemon) Close() error {
	d.cycleMu.Lock()
	defer d.cycleMu.Unlock()
	var errs []error
	if d.store != nil {
		if err := d.store.Close(); err != nil {
			errs = append(errs, fmt.Errorf("closing the store: %w", err))
		}
	}
	if d.shutdown != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := d.shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("flushing traces: %w", err))
		}
		d.shutdown = nil
	}
	return errors.Join(errs...)
}
