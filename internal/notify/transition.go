package notify

import (
	"fmt"
	"maps"
	"math"
	"time"

	"github.com/prometheus/common/model"

	"github.com/slod-dev/slod/internal/burnrate"
	"github.com/slod-dev/slod/internal/rules"
)

// NoDataAlertName is the alertname of the alert raised when an SLI has no data.
const NoDataAlertName = "SLONoData"

// BudgetAlertName is the alertname of a budget alert (alerting.budget).
const BudgetAlertName = "SLOErrorBudget"

// FromTransition builds the notification of one alert transition of slo (of its group with the
// labels group, for a grouped SLO; nil otherwise). Only transitions to firing (a trigger) and from
// firing (a resolve) are notified; for the others it returns false. st is the evaluation's status
// (budget and time to exhaustion at that time); externalURL is slod's external URL, for the link
// to the SLO on the status page ("" for none).
func FromTransition(slo *rules.SLO, group map[string]string, tr burnrate.Transition, st burnrate.Status, externalURL string) (Notification, bool) {
	var action Action
	switch {
	case tr.To == burnrate.Firing && tr.From != burnrate.Firing:
		action = Trigger
	case tr.From == burnrate.Firing && tr.To != burnrate.Firing:
		action = Resolve
	default:
		return Notification{}, false
	}
	sev := string(tr.Severity)
	alertname := alertName(slo, tr.NoData, tr.Budget)
	labels := alertLabels(slo, group, tr.Severity, alertname)
	ann := map[string]string{}
	maps.Copy(ann, slo.Alerting.Annotations)
	maps.Copy(ann, slo.Alerting.SeverityAnnotations[tr.Severity])

	groupKey := ""
	if group != nil {
		groupKey = rules.GroupKey(group)
	}
	n := Notification{
		DedupKey:        alertDedupKey(slo.Service, slo.Name, tr.Severity, tr.NoData, tr.Budget, groupKey),
		Action:          action,
		Service:         slo.Service,
		SLO:             slo.Name,
		Group:           maps.Clone(group),
		Severity:        sev,
		NoData:          tr.NoData,
		Budget:          tr.Budget,
		AlertName:       alertname,
		Labels:          labels,
		Annotations:     ann,
		Objective:       slo.Objective,
		PeakBurnRate:    roundSig(tr.PeakBurnRate),
		BudgetRemaining: roundSig(st.BudgetRemaining),
		RunbookURL:      slo.Alerting.RunbookURL,
		StatusURL:       StatusURL(externalURL, slo.Service, slo.Name, groupKey),
		StartsAt:        tr.FiredAt.UTC(),
	}
	if n.StartsAt.IsZero() {
		n.StartsAt = tr.At.UTC()
	}
	if action == Resolve {
		at := tr.At.UTC()
		n.EndsAt = &at
	} else {
		n.NoResolve = slo.Alerting.NoResolve[tr.Severity]
	}
	if tr.Budget {
		// The budget at the transition: what made the alert fire, or resolve.
		below := roundSig(tr.Reason.Threshold)
		n.BudgetBelow, n.BudgetRemaining = &below, roundSig(tr.Reason.Budget)
	}
	if w := tr.Reason.Window; !tr.NoData && w.Long > 0 {
		n.Window = &FiredWindow{
			Long: model.Duration(w.Long), Short: model.Duration(w.Short),
			BurnRate: roundSig(w.BurnRate), Threshold: roundSig(tr.Reason.Threshold),
			LongBurnRate: roundSig(tr.Reason.LongBurn), ShortBurnRate: roundSig(tr.Reason.ShortBurn),
		}
	}
	if d := st.TimeToExhaustion; d > 0 && d < math.MaxInt64 {
		md := model.Duration(d.Round(time.Minute))
		n.TimeToExhaustion = &md
	}
	n.Summary = ann["summary"]
	if n.Summary == "" || tr.NoData || tr.Budget {
		// The SLO's summary speaks of burning budget; a no-data or budget alert says something
		// else.
		n.Summary = defaultSummary(n, slo.Period)
		ann["summary"] = n.Summary
	}
	n.Description = ann["description"]
	if n.Description == "" {
		n.Description = slo.Description
	}
	switch {
	case tr.Note != "" && n.Description != "":
		n.Description = tr.Note + ". " + n.Description
	case tr.Note != "":
		n.Description = tr.Note
	}
	return n, true
}

// alertName is the alertname of slo's burn-rate alerts, of its no-data alert or of its budget alerts.
func alertName(slo *rules.SLO, noData, budget bool) string {
	switch {
	case noData:
		return NoDataAlertName
	case budget:
		return BudgetAlertName
	case slo.Alerting.Name != "":
		return slo.Alerting.Name
	}
	return DefaultAlertName
}

// AlertMatchLabels are the labels routes and silences match for one alert of slo's group (nil:
// the SLO itself), as its notifications' MatchLabels: the status page uses them to show the
// silences that matched an SLO's alerts.
func AlertMatchLabels(slo *rules.SLO, group map[string]string, sev burnrate.Severity, noData, budget bool) map[string]string {
	l := alertLabels(slo, group, sev, alertName(slo, noData, budget))
	l["severity"] = string(sev)
	return l
}

// alertLabels are the labels of an alert of slo's group (nil: the SLO itself) as delivered. Later
// sources win: the tier as severity, file/SLO labels, alerting labels, the severity's own, the
// group's, then slod's identifying labels, which silences and dedup keys rely on and nothing may
// override. A severity label given in the file wins on the delivered alert, as in Sloth (whose
// page_alert.labels.severity: pageteam is what Alertmanager routes written for Sloth match);
// routes and silences inside slod match the tier all the same (Notification.MatchLabels).
func alertLabels(slo *rules.SLO, group map[string]string, sev burnrate.Severity, alertname string) map[string]string {
	labels := map[string]string{"severity": string(sev)}
	maps.Copy(labels, slo.Labels)
	maps.Copy(labels, slo.Alerting.Labels)
	maps.Copy(labels, slo.Alerting.SeverityLabels[sev])
	maps.Copy(labels, group)
	labels["alertname"] = alertname
	labels["service"] = slo.Service
	labels["slo"] = slo.Name
	return labels
}

// defaultSummary is the one line an on-call engineer sees first on their phone. Each window of
// the pair is named with its own burn rate: a trigger says how fast the budget burns over both,
// a resolve how fast it burns now that the pair no longer holds.
func defaultSummary(n Notification, period time.Duration) string {
	id := n.Service + "/" + n.SLO
	if n.Group != nil {
		id += rules.GroupKey(n.Group)
	}
	if n.NoData {
		return fmt.Sprintf("%s: no SLI data (%s)", id, n.Severity)
	}
	objective := fmt.Sprintf("(objective %s over %s), %s", percent(n.Objective), model.Duration(period), n.Severity)
	if n.Budget && n.BudgetBelow != nil {
		if n.Action == Resolve {
			return fmt.Sprintf("%s has %s of its error budget left, no longer below %s %s", id, percent(n.BudgetRemaining), percent(*n.BudgetBelow), objective)
		}
		return fmt.Sprintf("%s has %s of its error budget left, below %s %s", id, percent(n.BudgetRemaining), percent(*n.BudgetBelow), objective)
	}
	w := n.Window
	switch {
	case w == nil:
		return fmt.Sprintf("%s is burning its error budget %s", id, objective)
	case n.Action == Resolve:
		return fmt.Sprintf("%s is no longer burning its error budget faster than %s×: %s× over %s and %s× over %s %s",
			id, fmtFloat(w.BurnRate), fmtFloat(w.LongBurnRate), w.Long, fmtFloat(w.ShortBurnRate), w.Short, objective)
	}
	return fmt.Sprintf("%s is burning its error budget %s× too fast over %s and %s× over %s %s",
		id, fmtFloat(w.LongBurnRate), w.Long, fmtFloat(w.ShortBurnRate), w.Short, objective)
}

// AlertKeys returns the dedup keys of every alert slo (its group with the key group, "" for the
// SLO itself) can raise: one per severity of its alert windows, one per budget alert, plus the
// no-data alert's. With
// ResolveMissing it closes the incidents of alerts a reload removed (and of groups retired).
func AlertKeys(slo *rules.SLO, group string) []string {
	seen := map[burnrate.Severity]bool{}
	var out []string
	for _, w := range slo.Alerting.Windows {
		if !seen[w.Severity] {
			seen[w.Severity] = true
			out = append(out, GroupDedupKey(slo.Service, slo.Name, string(w.Severity), false, group))
		}
	}
	for _, b := range slo.Alerting.Budget {
		out = append(out, BudgetDedupKey(slo.Service, slo.Name, string(b.Severity), group))
	}
	if nd := slo.Alerting.NoData; nd != nil {
		out = append(out, GroupDedupKey(slo.Service, slo.Name, string(nd.Severity), true, group))
	}
	return out
}
