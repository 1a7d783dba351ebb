package daemon

import (
	"math"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/model"

	"github.com/slod-dev/slod/internal/burnrate"
	"github.com/slod-dev/slod/internal/eval"
	"github.com/slod-dev/slod/internal/exclude"
	"github.com/slod-dev/slod/internal/notify"
	"github.com/slod-dev/slod/internal/rules"
	"github.com/slod-dev/slod/internal/web"
)

// Handler is slod's HTTP surface (docs/interfaces.md §3), every route in one place: /metrics,
// /-/healthy, /-/ready, POST /-/reload, the API under /api/v1 (api.go: the SLOs, the silences,
// the store backup; history.go and detail.go: one SLO's charts and detail), and the status page
// (pages.go: the list at /, one SLO at /slo/{service}/{name}, the silences at /silences, the
// styles and script under /static/). The mux answers 405 (with Allow) to a known path
// with another method, in JSON under /api/v1. Reload and backup answer 403 unless Options.Web
// enables them; no endpoint takes a cross-origin write or a body over 1 MiB (guard). TLS and
// authentication are the server's (serveHTTP).
func (d *Daemon) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.registry, promhttp.HandlerOpts{Registry: d.registry}))
	mux.HandleFunc("GET /-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("slod is healthy.\n"))
	})
	mux.HandleFunc("GET /-/ready", func(w http.ResponseWriter, _ *http.Request) {
		if why := d.notReady(); why != "" {
			http.Error(w, "slod is not ready: "+why+".", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("slod is ready.\n"))
	})
	reload := forbidden("Lifecycle API is not enabled: start slod with --web.enable-lifecycle, or send it SIGHUP.")
	if d.opt.Web.EnableLifecycle {
		reload = func(w http.ResponseWriter, _ *http.Request) {
			if err := d.Reload(); err != nil {
				http.Error(w, "reload failed; the running config stays:\n"+err.Error(), http.StatusInternalServerError)
				return
			}
			w.Write([]byte("reloaded.\n"))
		}
	}
	mux.HandleFunc("POST /-/reload", reload)
	mux.HandleFunc("GET /api/v1/status", func(w http.ResponseWriter, _ *http.Request) { writeData(w, d.statusView()) })
	mux.HandleFunc("GET /api/v1/slos", d.listSLOs)
	mux.HandleFunc("GET /api/v1/slos/{service}/{name}", d.getSLO)
	mux.HandleFunc("POST /api/v1/silences", postSilence(d.silences))
	mux.HandleFunc("GET /api/v1/silences", listSilences(d.silences, d.clock))
	mux.HandleFunc("DELETE /api/v1/silences/{id}", deleteSilence(d.silences, d.clock))
	mux.HandleFunc("POST /api/v1/exclusions", d.postExclusion)
	mux.HandleFunc("GET /api/v1/exclusions", d.listExclusions)
	mux.HandleFunc("DELETE /api/v1/exclusions/{id}", d.deleteExclusion)
	var backupStore http.Handler = apiForbidden("Admin APIs are not enabled: start slod with --web.enable-admin-api.")
	if d.opt.Web.EnableAdminAPI {
		backupStore = noWriteDeadline(backup(d.store))
	}
	mux.Handle("GET /api/v1/admin/backup", backupStore)
	mux.HandleFunc("GET /api/v1/slos/{service}/{name}/history", d.sloHistory)
	mux.HandleFunc("GET /api/v1/slos/{service}/{name}/detail", d.sloDetail)
	mux.HandleFunc("GET /{$}", d.listPageHandler)
	mux.HandleFunc("GET /slo/{service}/{name}", d.detailPageHandler)
	mux.HandleFunc("GET /silences", d.silencesPageHandler)
	mux.Handle("GET /static/", web.Static())
	return guard(apiJSON(mux))
}

// sloView is one SLO (or one group of a grouped SLO) in GET /api/v1/slos and on the status page.
// What slod does not know is null, never a number: the error ratio, budget and time to exhaustion
// of an SLO whose window holds no step with data, the current burn rate without data in the
// current window, a window's ratio and burn rate without data in it.
type sloView struct {
	// ID is the SLO id, followed by the group's key for a group of a grouped SLO.
	ID      string `json:"id"`
	Service string `json:"service"`
	Name    string `json:"name"`
	// Group is the group's labels (absent for an SLO without group_by); GroupsNotEvaluated the
	// groups of the SLO past its max_groups, which are not evaluated.
	Group              map[string]string `json:"group,omitempty"`
	GroupsNotEvaluated []string          `json:"groups_not_evaluated,omitempty"`
	Description        string            `json:"description,omitempty"`
	Objective          float64           `json:"objective"`
	Window             string            `json:"window"` // the SLO's window (30d)
	Labels             map[string]string `json:"labels,omitempty"`
	// SLI is the SLI's kind (events, latency, timeslice, ratio); Source the file and line the SLO
	// is defined at; RunbookURL its runbook.
	SLI        string `json:"sli"`
	Source     string `json:"source,omitempty"`
	RunbookURL string `json:"runbook_url,omitempty"`
	// State sums the alerts up as slod_slos{state} counts the entry: firing when an alert fires,
	// else unknown when a burn-rate alert is unknown, else pending or inactive.
	State string `json:"state"`
	// EvaluatedAt is the last evaluation time; DataUntil the end of the SLI history (earlier when
	// the source failed since); LastData the end of the last step with data.
	EvaluatedAt     *time.Time `json:"evaluated_at,omitempty"`
	DataUntil       *time.Time `json:"data_until,omitempty"`
	LastData        *time.Time `json:"last_data,omitempty"`
	ErrorRatio      *float64   `json:"error_ratio"`
	BudgetRemaining *float64   `json:"budget_remaining"`
	CurrentBurnRate *float64   `json:"current_burn_rate"`
	// TimeToExhaustion is null when unknown and when the budget is not being spent (current burn
	// rate 0), "0s" once it is spent.
	TimeToExhaustion *string `json:"time_to_exhaustion"`
	// Events are the events counted over the window (null when unknown). LowVolume is set when
	// they are too few for the objective to mean anything: (1 − objective) × total < 1, so that a
	// single bad event spends more than the whole budget (not for ratio SLIs, which count steps).
	Events    *eventsView `json:"events"`
	LowVolume bool        `json:"low_volume,omitempty"`
	// BudgetSpent24h and BudgetSpent7d are the part of the window's budget the bad events of the
	// last day and week took: the drop of the budget burndown over that time (null when unknown;
	// the week's only for windows of a week or more).
	BudgetSpent24h *float64     `json:"budget_spent_24h"`
	BudgetSpent7d  *float64     `json:"budget_spent_7d"`
	Windows        []windowView `json:"windows"`
	Alerts         []alertView  `json:"alerts"`
	SourceError    string       `json:"source_error,omitempty"`
	// SourceErrorMessage is the error behind SourceError (none for no_data).
	SourceErrorMessage string `json:"source_error_message,omitempty"`
	// Calendar is the current period of a calendar SLO (absent for a rolling window).
	Calendar *calendarView `json:"calendar,omitempty"`
	// Exclusions are the spans excluded from the SLO's window up to a day ahead (its file's, its
	// own and the API's that match it), for the charts to show as excluded.
	Exclusions []exclusionSpan `json:"exclusions,omitempty"`
}

// calendarView is the current period of a calendar SLO: the budget (budget_remaining) is over
// [start, now]; projected_budget_remaining is what is left at end if the rest of the period burns
// at the current burn rate with steady traffic (null when unknown).
type calendarView struct {
	Period          string     `json:"period"`
	TimeZone        string     `json:"time_zone"`
	Start           *time.Time `json:"start,omitempty"`
	End             *time.Time `json:"end,omitempty"`
	ProjectedBudget *float64   `json:"projected_budget_remaining"`
}

// exclusionSpan is one occurrence of an exclusion: steps ending in (start, end] do not count.
type exclusionSpan struct {
	Name  string    `json:"name"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// maxExclusionSpans bounds the spans listed per SLO (an hourly recurrence over 30 days is 720).
const maxExclusionSpans = 100

// instanceExclusions are the occurrences in (from, to] of the exclusions of slo's instance (group
// labels): its own and its file's, and those of api that match its labels; the newest
// maxExclusionSpans.
func instanceExclusions(slo *rules.SLO, group map[string]string, api exclude.Set, from, to time.Time) []exclude.Interval {
	set := append(append(exclude.Set(nil), slo.Exclusions...), api...).For(eval.InstanceLabels(slo, group))
	ivs := set.Between(from, to)
	if len(ivs) > maxExclusionSpans {
		ivs = ivs[len(ivs)-maxExclusionSpans:]
	}
	return ivs
}

// exclusionSpans are the occurrences of the exclusions of slo's instance (group labels) in its
// window up to a day after now.
func exclusionSpans(slo *rules.SLO, group map[string]string, api exclude.Set, now time.Time) []exclusionSpan {
	var out []exclusionSpan
	for _, iv := range instanceExclusions(slo, group, api, now.Add(-slo.MaxWindow()), now.Add(24*time.Hour)) {
		out = append(out, exclusionSpan{Name: iv.Name, Start: iv.Start.UTC(), End: iv.End.UTC()})
	}
	return out
}

// eventsView are the events of an SLO's window: good, bad and all of them (per-step fractions for
// ratio SLIs, slices for time-slice SLIs).
type eventsView struct {
	Good  float64 `json:"good"`
	Bad   float64 `json:"bad"`
	Total float64 `json:"total"`
}

type windowView struct {
	Window     string   `json:"window"`
	ErrorRatio *float64 `json:"error_ratio"`
	BurnRate   *float64 `json:"burn_rate"`
}

type alertView struct {
	Severity string `json:"severity"`
	NoData   bool   `json:"no_data,omitempty"`
	// Budget marks a budget alert; BudgetBelow is its threshold (a fraction of the period's
	// budget).
	Budget      bool     `json:"budget,omitempty"`
	BudgetBelow *float64 `json:"budget_below,omitempty"`
	// State is the alert's phase (inactive, pending, firing), or unknown for a burn-rate alert
	// that is inactive while the SLO has no data for its newest step: it can neither fire nor
	// resolve until the data comes, so inactive would claim what slod does not know.
	State        string     `json:"state"`
	ActiveAt     *time.Time `json:"active_at,omitempty"`
	FiredAt      *time.Time `json:"fired_at,omitempty"`
	PeakBurnRate float64    `json:"peak_burn_rate,omitempty"`
	Window       string     `json:"window,omitempty"`
	// Silenced is the active silence that matches a firing alert: its notifications are held
	// back (Reconcile) until the silence ends.
	Silenced *silenceRef `json:"silenced,omitempty"`
}

// silenceRef names the silence of a silenced alert, and when it ends.
type silenceRef struct {
	ID     string    `json:"id"`
	EndsAt time.Time `json:"ends_at"`
}

// viewContext is what an SLO's view needs besides the SLO: the notification records of the
// firing alerts (their labels, which silences match) and the silences in force now.
type viewContext struct {
	alerts     map[string]notify.AlertRecord
	silences   []notify.Silence
	exclusions exclude.Set
	now        time.Time
	// step is the evaluation step (the unit of per-second SLIs' histories).
	step time.Duration
}

// silencing returns the active silence matching the firing alert a of slo's group (key "": the
// SLO itself), if any.
func (vc viewContext) silencing(slo *rules.SLO, key string, a burnrate.AlertState) *silenceRef {
	if a.Phase != burnrate.Firing {
		return nil
	}
	rec, ok := vc.alerts[notify.AlertDedupKey(slo.Service, slo.Name, a, key)]
	if !ok {
		return nil
	}
	labels := rec.Want.MatchLabels()
	for _, sil := range vc.silences {
		if sil.Active(vc.now) && sil.Matches(labels) {
			return &silenceRef{ID: sil.ID, EndsAt: sil.EndsAt.UTC()}
		}
	}
	return nil
}

// stateUnknown is the state of an alert (alertView.State) and of an SLO (slod_slos{state}) whose
// burn-rate alerts are inactive for want of data.
const stateUnknown = "unknown"

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// finite keeps JSON encodable: encoding/json refuses NaN and ±Inf.
func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return round(v)
}

// known is v (made finite) when known is true, else nil: JSON null, "unknown" on the status page.
func known(v float64, known bool) *float64 {
	if !known {
		return nil
	}
	f := finite(v)
	return &f
}

// newViewContext is the context of the views at now; the caller holds d.mu.
func (d *Daemon) newViewContext(now time.Time) viewContext {
	return viewContext{alerts: d.alerts, silences: d.silences.Active(now), exclusions: d.exclSet, now: now, step: d.rt.cfg.Evaluation.Step.D()}
}

func (d *Daemon) sloViews() []sloView {
	d.mu.RLock()
	defer d.mu.RUnlock()
	vc := d.newViewContext(d.clock.Now())
	out := make([]sloView, 0, len(d.slos))
	for _, s := range d.slos {
		insts := s.insts
		if len(insts) == 0 {
			insts = []*instState{{}} // not evaluated yet
		}
		for _, is := range insts {
			out = append(out, instView(s, is, vc))
		}
	}
	return out
}

// instView is the view of one instance of an SLO (the SLO, or one of its groups): what the API and
// the status page show of it, built in this one place from what the last committed cycle
// published. The caller holds Daemon.mu.
func instView(s *sloState, is *instState, vc viewContext) sloView {
	v := sloView{ID: s.slo.ID() + is.key, Service: s.slo.Service, Name: s.slo.Name, Group: is.labels, GroupsNotEvaluated: s.excess,
		Description: s.slo.Description, Objective: s.slo.Objective, Window: model.Duration(s.slo.Period).String(), Labels: s.slo.Labels,
		SLI: string(s.slo.SLI.Kind), Source: s.source, RunbookURL: s.slo.Alerting.RunbookURL, State: is.summaryState(),
		Windows: []windowView{}, Alerts: []alertView{}, SourceError: is.sourceErr, SourceErrorMessage: is.sourceMsg}
	if !is.evaluated && v.State != string(burnrate.Firing) && v.State != string(burnrate.Pending) {
		// Not evaluated since start: nothing is known of it yet, but for an alert that fires or
		// is pending (reached on data before the restart: alertState).
		v.State = stateUnknown
	}
	if is.evaluated {
		st := is.status
		v.EvaluatedAt, v.DataUntil, v.LastData = timePtr(st.At), timePtr(is.dataUntil), timePtr(st.LastData)
		v.ErrorRatio, v.BudgetRemaining = known(st.ErrorRatio, !st.NoData), known(st.BudgetRemaining, !st.NoData)
		v.CurrentBurnRate = known(st.CurrentBurnRate, !st.CurrentNoData)
		v.TimeToExhaustion = timeToExhaustion(st)
		v.Exclusions = exclusionSpans(s.slo, is.labels, vc.exclusions, st.At)
		if cal := s.slo.Calendar; cal != nil {
			v.Calendar = &calendarView{Period: string(cal.Period), TimeZone: cal.Location.String(), Start: timePtr(st.PeriodStart),
				End: timePtr(st.PeriodEnd), ProjectedBudget: known(st.ProjectedBudget, !st.NoData)}
		}
		for _, w := range st.Windows {
			v.Windows = append(v.Windows, windowView{Window: model.Duration(w.Window).String(),
				ErrorRatio: known(w.ErrorRatio, !w.NoData), BurnRate: known(w.BurnRate, !w.NoData)})
		}
		setEvents(&v, s.slo, is, eval.EventsPerUnit(s.slo, vc.step))
	}
	for _, a := range is.st.Alerts {
		av := alertView{Severity: string(a.Severity), NoData: a.NoData, State: is.alertState(a), ActiveAt: timePtr(a.ActiveAt),
			FiredAt: timePtr(a.FiredAt), PeakBurnRate: finite(a.PeakBurnRate), Silenced: vc.silencing(s.slo, is.key, a)}
		if a.Budget {
			av.Budget, av.BudgetBelow = true, budgetBelow(s.slo, a.Severity)
		}
		if (a.Phase == burnrate.Pending || a.Phase == burnrate.Firing) && a.Reason.Window.Long > 0 {
			av.Window = model.Duration(a.Reason.Window.Long).String() + "/" + model.Duration(a.Reason.Window.Short).String()
		}
		v.Alerts = append(v.Alerts, av)
	}
	return v
}

// budgetBelow is the threshold of slo's budget alert of severity sev (nil if it has none: a
// reload removed it).
func budgetBelow(slo *rules.SLO, sev burnrate.Severity) *float64 {
	for _, b := range slo.Alerting.Budget {
		if b.Severity == sev {
			v := b.Below
			return &v
		}
	}
	return nil
}

// setEvents sets the events of the window (of the current calendar period), the low-volume
// warning and the budget spent recently, from the status of the last evaluation; perUnit is what
// one unit of the history counts in events (eval.EventsPerUnit).
func setEvents(v *sloView, slo *rules.SLO, is *instState, perUnit float64) {
	st := is.status
	if st.NoData {
		return
	}
	bad, total := st.Bad*perUnit, st.Total*perUnit
	v.Events = &eventsView{Good: round(total - bad), Bad: round(bad), Total: round(total)}
	v.LowVolume = slo.SLI.Kind != rules.RatioSLI && (1-slo.Objective)*total < 1
	budget := (1 - slo.Objective) * st.Total
	if budget <= 0 {
		return
	}
	v.BudgetSpent24h = known(is.recentBad[0]/budget, true)
	if slo.Period >= recentWindows[1] {
		v.BudgetSpent7d = known(is.recentBad[1]/budget, true)
	}
}

// timeToExhaustion is the status's time to exhaustion as the API shows it: null when the budget
// or the current burn rate is unknown, or when the budget is not being spent (or, for a calendar
// period, lasts the period at the current burn rate); "0s" once spent.
func timeToExhaustion(st burnrate.Status) *string {
	if st.NoData || st.CurrentNoData || !(st.CurrentBurnRate > 0) || (st.TimeToExhaustion == 0 && st.BudgetRemaining > 0) {
		return nil
	}
	tte := model.Duration(st.TimeToExhaustion.Round(time.Minute)).String()
	return &tte
}

// alertState is the state the API, the status page and the metrics show for alert a of the
// instance: its phase, or unknown for a burn-rate (or budget) alert held inactive because the
// newest step has no data or the instance has not been evaluated since start (a firing or pending
// alert held meanwhile keeps its phase: it was reached on data).
func (is *instState) alertState(a burnrate.AlertState) string {
	switch {
	case a.Phase == burnrate.Pending || a.Phase == burnrate.Firing:
		return string(a.Phase)
	case !a.NoData && (!is.evaluated || is.sourceErr != ""):
		return stateUnknown
	}
	return string(burnrate.Inactive)
}

// summaryState is the instance's state in slod_slos{state}: firing when an alert fires, else
// unknown when a burn-rate alert is unknown (its no-data alert may be pending meanwhile), else
// pending when an alert is, else inactive.
func (is *instState) summaryState() string {
	out := string(burnrate.Inactive)
	for _, a := range is.st.Alerts {
		if st := is.alertState(a); stateRank[st] > stateRank[out] {
			out = st
		}
	}
	return out
}

// stateRank orders the states of summaryState (inactive is 0).
var stateRank = map[string]int{string(burnrate.Pending): 1, stateUnknown: 2, string(burnrate.Firing): 3}

// statusView is slod's own state, in GET /api/v1/status and at the top of the status page.
type statusView struct {
	Ready bool `json:"ready"`
	// NotReady says why slod is not ready; StoreError what is wrong with the store.
	NotReady   string `json:"not_ready,omitempty"`
	StoreError string `json:"store_error,omitempty"`
	// LastEvaluation is the evaluation time of the last committed cycle.
	LastEvaluation *time.Time `json:"last_evaluation,omitempty"`
	Config         configView `json:"config"`
}

// configView is the running config and the outcome of the last attempt to load one.
type configView struct {
	File string `json:"file"`
	// LoadedAt is when the running config was loaded.
	LoadedAt *time.Time `json:"loaded_at,omitempty"`
	// LastReload is the last load (at start or a reload): when, and its error if it failed
	// (then the config of LoadedAt still runs).
	LastReload reloadView `json:"last_reload"`
}

type reloadView struct {
	At      *time.Time `json:"at,omitempty"`
	Success bool       `json:"success"`
	Error   string     `json:"error,omitempty"`
}

func (d *Daemon) statusView() statusView {
	v := statusView{NotReady: d.notReady(), StoreError: d.health.problem(), Config: configView{File: d.opt.ConfigFile}}
	v.Ready = v.NotReady == ""
	if n := d.lastCycle.Load(); n != 0 {
		v.LastEvaluation = timePtr(time.Unix(0, n))
	}
	d.mu.RLock()
	r := d.reload
	d.mu.RUnlock()
	v.Config.LoadedAt = timePtr(r.LoadedAt)
	v.Config.LastReload = reloadView{At: timePtr(r.At), Success: r.Err == "", Error: r.Err}
	return v
}
