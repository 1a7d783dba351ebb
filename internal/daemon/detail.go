package daemon

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/common/model"

	"github.com/slod-dev/slod/internal/burnrate"
	"github.com/slod-dev/slod/internal/notify"
	"github.com/slod-dev/slod/internal/rules"
	"github.com/slod-dev/slod/internal/sli"
)

// detailView is one SLO's page beyond its entry of the list: its definition, its window pairs
// with how far each is from firing, and its incidents (GET /api/v1/slos/{service}/{name}/detail).
type detailView struct {
	SLO        sloView        `json:"slo"`
	Definition definitionView `json:"definition"`
	Pairs      []pairView     `json:"pairs"`
	Incidents  []incidentView `json:"incidents"`
}

// definitionView is the SLO as written and as evaluated.
type definitionView struct {
	// Format is slod/v1 or prometheus/v1 (Sloth); YAML the SLO's entry in its file, from the line
	// of Source.
	Format string `json:"format"`
	Source string `json:"source,omitempty"`
	YAML   string `json:"yaml,omitempty"`
	// Queries are the SLI's queries as written and as slod sends them to the source at each step
	// (DESIGN §2: rewritten for the step; the daemon's portable form).
	Queries     []queryView       `json:"queries"`
	Annotations map[string]string `json:"annotations,omitempty"`
	// Step is the evaluation step; NoData the no-data alert, if the SLO has one.
	Step   string      `json:"step"`
	NoData *noDataView `json:"no_data,omitempty"`
}

type queryView struct {
	Name      string `json:"name"`
	Written   string `json:"written"`
	Evaluated string `json:"evaluated,omitempty"`
}

type noDataView struct {
	After    string `json:"after"`
	Severity string `json:"severity"`
}

// pairView is one window pair of the policy, with the current burn rates of its windows and its
// alert's state.
type pairView struct {
	Severity string `json:"severity"`
	Long     string `json:"long"`
	Short    string `json:"short"`
	// BurnRate is the burn rate both windows must exceed, Threshold the error ratio it stands for,
	// BudgetSpent the part of the window's budget spent by the time it fires (burn rate × long
	// window / SLO window).
	BurnRate    float64 `json:"burn_rate"`
	Threshold   float64 `json:"threshold"`
	BudgetSpent float64 `json:"budget_spent"`
	For         string  `json:"for,omitempty"`
	// LongBurn and ShortBurn are the burn rates now (null when unknown); LongOfThreshold and
	// ShortOfThreshold the same as a fraction of BurnRate: 1 is where the pair fires.
	LongBurn         *float64 `json:"long_burn_rate"`
	ShortBurn        *float64 `json:"short_burn_rate"`
	LongOfThreshold  *float64 `json:"long_of_threshold"`
	ShortOfThreshold *float64 `json:"short_of_threshold"`
	// HoldingSince is when both windows started exceeding the threshold, if they do (its for
	// counts from there). State is the state of the pair's alert (its severity), Since when it
	// became pending or firing; Fired is set on the pair that made it fire.
	HoldingSince *time.Time `json:"holding_since,omitempty"`
	State        string     `json:"state"`
	Since        *time.Time `json:"since,omitempty"`
	Fired        bool       `json:"fired,omitempty"`
}

// incidentView is an incident of the SLO's alerts in its window, newest first: when, how bad, how much budget it
// spent, and what became of its notifications.
type incidentView struct {
	incident
	Duration string `json:"duration"`
	// BudgetSpent is the part of the current window's budget the bad events during the incident
	// took (null when unknown: a no-data alert, or older than the history holds).
	BudgetSpent *float64 `json:"budget_spent"`
}

// sloDetail answers GET /api/v1/slos/{service}/{name}/detail.
func (d *Daemon) sloDetail(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("service") + "/" + r.PathValue("name")
	ref, ok := d.lookup(id)
	if !ok {
		writeFail(w, http.StatusNotFound, "no SLO "+id)
		return
	}
	dv, _ := d.detail(ref)
	writeData(w, dv)
}

// detail builds the detail of an instance, and returns the copy of its history it read.
func (d *Daemon) detail(ref instRef) (detailView, *burnrate.History) {
	now := d.clock.Now()
	view := d.view(ref, now)
	d.mu.RLock()
	opt := sli.Options{Step: d.rt.cfg.Evaluation.Step.D(), Lookback: d.rt.cfg.Evaluation.Lookback.D()}
	d.mu.RUnlock()
	slo := ref.s.slo
	h := ref.history()
	dv := detailView{SLO: view, Definition: definition(slo, ref.s.source, opt), Pairs: pairs(slo, ref.is), Incidents: []incidentView{}}
	incs := d.incidents.get(notify.AlertKeys(slo, ref.is.key))
	var all []incident
	for _, list := range incs {
		all = append(all, list...)
	}
	slices.SortFunc(all, func(a, b incident) int { return b.Start.Compare(a.Start) })
	windowStart := now.Add(-slo.Period)
	for _, in := range all {
		if in.End != nil && in.End.Before(windowStart) {
			continue // of an earlier window: the log keeps the longest SLO window's
		}
		dv.Incidents = append(dv.Incidents, incidentDetail(in, slo, ref.is, h, now))
	}
	return dv, h
}

func definition(slo *rules.SLO, source string, opt sli.Options) definitionView {
	dv := definitionView{Format: slo.Format, Source: source, YAML: slo.Source, Annotations: slo.Alerting.Annotations,
		Step: model.Duration(opt.Step).String()}
	if nd := slo.Alerting.NoData; nd != nil {
		dv.NoData = &noDataView{After: model.Duration(nd.After).String(), Severity: string(nd.Severity)}
	}
	q, _ := sli.BuildQueries(slo, opt)
	def := slo.SLI
	switch def.Kind {
	case rules.EventsSLI:
		dv.Queries = []queryView{{"error_query", def.ErrorQuery, q.Bad}, {"total_query", def.TotalQuery, q.Total}}
	case rules.LatencySLI:
		th := strconv.FormatFloat(def.Threshold, 'g', -1, 64)
		dv.Queries = []queryView{{"bad (slower than " + th + "s)", def.Histogram, q.Bad}, {"total", def.Histogram, q.Total}}
	case rules.TimesliceSLI:
		dv.Queries = []queryView{{"query " + string(def.Op) + " " + strconv.FormatFloat(def.Threshold, 'g', -1, 64), def.Query, q.Value}}
	case rules.RatioSLI:
		dv.Queries = []queryView{{"error_ratio_query", def.ErrorRatioQuery, q.Value}}
	}
	return dv
}

// pairs are the SLO's window pairs with their windows' burn rates now and their alerts' states.
func pairs(slo *rules.SLO, is *instState) []pairView {
	burns := map[time.Duration]*float64{}
	for _, w := range is.status.Windows {
		if is.evaluated {
			burns[w.Window] = known(w.BurnRate, !w.NoData)
		}
	}
	out := []pairView{}
	nth := map[burnrate.Severity]int{}
	for _, w := range slo.Alerting.Windows {
		p := pairView{Severity: string(w.Severity), Long: model.Duration(w.Long).String(), Short: model.Duration(w.Short).String(),
			BurnRate: w.BurnRate, Threshold: round(w.Threshold(slo.Objective)), LongBurn: burns[w.Long], ShortBurn: burns[w.Short],
			BudgetSpent: round(w.BurnRate * float64(w.Long) / float64(slo.Period)), State: stateUnknown}
		if w.For > 0 {
			p.For = model.Duration(w.For).String()
		}
		p.LongOfThreshold, p.ShortOfThreshold = ofThreshold(p.LongBurn, w.BurnRate), ofThreshold(p.ShortBurn, w.BurnRate)
		i := nth[w.Severity]
		nth[w.Severity]++
		for _, a := range is.st.Alerts {
			if a.Severity != w.Severity || a.NoData {
				continue
			}
			p.State = is.alertState(a)
			p.Since = timePtr(a.ActiveAt)
			if i < len(a.PairSince) {
				p.HoldingSince = timePtr(a.PairSince[i])
			}
			p.Fired = a.Phase != burnrate.Inactive && a.Reason.Window == w
		}
		out = append(out, p)
	}
	return out
}

func ofThreshold(burn *float64, threshold float64) *float64 {
	if burn == nil || threshold <= 0 {
		return nil
	}
	return known(*burn/threshold, true)
}

// incidentDetail is an incident with its duration and the budget it spent (from h, a copy of the
// instance's history, nil when none); an open one's peak burn rate is its alert's, now.
func incidentDetail(in incident, slo *rules.SLO, is *instState, h *burnrate.History, now time.Time) incidentView {
	iv := incidentView{incident: in}
	end := now
	if in.End != nil {
		end = *in.End
	} else {
		for _, a := range is.st.Alerts {
			if string(a.Severity) == in.Severity && a.NoData == in.NoData && a.Budget == in.Budget && a.Phase == burnrate.Firing {
				iv.PeakBurnRate = round(a.PeakBurnRate)
			}
		}
	}
	iv.Duration = model.Duration(end.Sub(in.Start).Truncate(time.Second)).String()
	if h == nil || in.NoData || is.dataUntil.IsZero() || in.Start.Before(is.dataUntil.Add(-h.MaxWindow())) {
		return iv
	}
	if end.After(is.dataUntil) {
		end = is.dataUntil
	}
	bad, _ := h.Between(in.Start, end)
	_, total := h.Between(budgetStart(slo, is.dataUntil), is.dataUntil)
	if budget := (1 - slo.Objective) * total; budget > 0 {
		iv.BudgetSpent = known(bad/budget, true)
	}
	return iv
}
