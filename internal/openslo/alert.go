package openslo

import (
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/slod-dev/slod/internal/burnrate"
	"github.com/slod-dev/slod/internal/yamlx"
)

// severityTiers maps the severities OpenSLO files use onto slod's two (README, "OpenSLO files");
// the slod.dev/severity annotation says it for any other.
var severityTiers = map[string]burnrate.Severity{
	"page": burnrate.Page, "critical": burnrate.Page, "high": burnrate.Page, "urgent": burnrate.Page,
	"emergency": burnrate.Page, "sev1": burnrate.Page, "sev2": burnrate.Page, "p1": burnrate.Page, "p2": burnrate.Page,
	"ticket": burnrate.Ticket, "warning": burnrate.Ticket, "medium": burnrate.Ticket, "low": burnrate.Ticket,
	"info": burnrate.Ticket, "sev3": burnrate.Ticket, "sev4": burnrate.Ticket, "sev5": burnrate.Ticket,
	"p3": burnrate.Ticket, "p4": burnrate.Ticket, "p5": burnrate.Ticket,
}

// TargetLabel is the alert label that names the notification targets of the policies an alert
// comes from, for routes to match.
const TargetLabel = "notification_target"

// part is an object an SLO uses, found inline or through a reference: its document, the path of
// its spec there, and its annotations.
type part struct {
	doc  *yamlx.Doc
	path string
	ann  map[string]string
	name string
}

// policy is one alert policy of an SLO, resolved.
type policy struct {
	part
	spec      *policySpec
	condition part
	cond      *conditionSpec
	targets   []string
}

// alerting maps an SLO's alertPolicies onto slod's alert policy (README, "OpenSLO files"). An SLO
// without any gets slod's default policy.
func (r *reader) alerting(d *yamlx.Doc, entries []*policyEntry, period time.Duration) Alerting {
	if len(entries) == 0 {
		return Alerting{Default: true}
	}
	a := alerts{Alerting: Alerting{}, origSeverity: map[burnrate.Severity][]string{}, targets: map[burnrate.Severity][]string{}, resolved: map[burnrate.Severity]bool{}}
	for i, e := range entries {
		if e == nil {
			continue
		}
		if p, ok := r.policy(d, yamlx.Index("spec.alertPolicies", i), e); ok {
			a.add(p, period)
		}
	}
	return a.finish()
}

// policy resolves one entry of an SLO's alertPolicies, its condition and its targets.
func (r *reader) policy(d *yamlx.Doc, path string, e *policyEntry) (policy, bool) {
	if !inlineOrRef(d, path, "alertPolicyRef", KindAlertPolicy, e.Kind) {
		return policy{}, false
	}
	var p policy
	if e.AlertPolicyRef != nil {
		o := r.lookup(d, yamlx.Field(path, "alertPolicyRef"), KindAlertPolicy, *e.AlertPolicyRef)
		if o == nil {
			return policy{}, false
		}
		v := o.value.(*object[policySpec])
		p.part, p.spec = partOf(o.doc, "spec", v.Metadata), v.Spec
	} else {
		checkMetadata(d, yamlx.Field(path, "metadata"), e.Metadata, KindAlertPolicy)
		if e.Spec != nil {
			checkPolicySpec(d, yamlx.Field(path, "spec"), e.Spec)
		}
		p.part, p.spec = partOf(d, yamlx.Field(path, "spec"), e.Metadata), e.Spec
	}
	if p.spec == nil || len(p.spec.Conditions) != 1 || p.spec.Conditions[0] == nil {
		return policy{}, false
	}
	c, cp := p.spec.Conditions[0], yamlx.Index(yamlx.Field(p.path, "conditions"), 0)
	if c.ConditionRef != nil {
		o := r.lookup(p.doc, yamlx.Field(cp, "conditionRef"), KindAlertCondition, *c.ConditionRef)
		if o == nil {
			return policy{}, false
		}
		v := o.value.(*object[conditionSpec])
		p.condition, p.cond = partOf(o.doc, "spec", v.Metadata), v.Spec
	} else {
		p.condition, p.cond = partOf(p.doc, yamlx.Field(cp, "spec"), c.Metadata), c.Spec
	}
	for i, t := range p.spec.NotificationTargets {
		tp := yamlx.Index(yamlx.Field(p.path, "notificationTargets"), i)
		switch {
		case t == nil:
		case t.TargetRef != nil:
			if o := r.lookup(p.doc, yamlx.Field(tp, "targetRef"), KindAlertNotificationTarget, *t.TargetRef); o != nil {
				p.targets = append(p.targets, o.name)
			}
		case t.Metadata != nil && t.Metadata.Name != nil:
			p.targets = append(p.targets, *t.Metadata.Name)
		}
	}
	return p, p.cond != nil && p.cond.Condition != nil
}

func partOf(d *yamlx.Doc, path string, m *metadata) part {
	p := part{doc: d, path: path}
	if m != nil {
		p.ann = m.Annotations
		if m.Name != nil {
			p.name = *m.Name
		}
	}
	return p
}

// alerts accumulates the policies of one SLO.
type alerts struct {
	Alerting
	origSeverity map[burnrate.Severity][]string
	targets      map[burnrate.Severity][]string
	// resolved is set for a severity when one of its policies sends resolve notifications.
	resolved  map[burnrate.Severity]bool
	noResolve map[burnrate.Severity]bool
}

// add maps one policy: a window pair when it alerts on breaching, a no-data alert when it alerts
// on no data, the targets as a label, and whether resolves are sent.
func (a *alerts) add(p policy, period time.Duration) {
	cd, cp := p.condition.doc, p.condition.path
	tier, orig, ok := severityOf(p)
	w, wok := burnWindow(p, period)
	if !ok || !wok {
		return
	}
	w.Severity = tier
	if breaching(p.spec.AlertWhenBreaching) {
		long := Loc{cd, yamlx.Field(yamlx.Field(cp, "condition"), "lookbackWindow")}
		short := long
		if _, at, ok := annotationOf(p, annShortWindow); ok {
			short = at
		}
		a.Windows = append(a.Windows, Window{Window: w, At: Loc{cd, yamlx.Field(cp, "condition")}, LongAt: long, ShortAt: short})
	}
	if p.spec.AlertWhenNoData != nil && *p.spec.AlertWhenNoData {
		// The burn rate over lookbackWindow has no value once the window holds no data; the
		// condition then waits alertAfter, as it would for a breach. slod has one no-data alert
		// per SLO: the soonest of the policies', paging if one of them pages.
		after := w.Long + w.For
		switch {
		case a.NoData == nil:
			a.NoData = &burnrate.NoData{After: after, Severity: tier}
		default:
			a.NoData.After = min(a.NoData.After, after)
			if tier == burnrate.Page {
				a.NoData.Severity = burnrate.Page
			}
		}
	}
	a.origSeverity[tier] = append(a.origSeverity[tier], orig)
	a.targets[tier] = append(a.targets[tier], p.targets...)
	if p.spec.AlertWhenResolved == nil || *p.spec.AlertWhenResolved {
		a.resolved[tier] = true
	} else if a.noResolve == nil {
		a.noResolve = map[burnrate.Severity]bool{tier: true}
	} else {
		a.noResolve[tier] = true
	}
}

// breaching is alertWhenBreaching, true when absent: a policy is there to alert on its condition.
func breaching(b *bool) bool { return b == nil || *b }

// finish sets the labels of each severity: the targets, and the conditions' own severity when
// they all give the same one and it is not the tier's name (it is what the alerts deliver, as
// Sloth's severity labels are).
func (a *alerts) finish() Alerting {
	out := a.Alerting
	for tier, names := range a.targets {
		slices.Sort(names)
		names = slices.Compact(names)
		setLabel(&out, tier, TargetLabel, strings.Join(names, ","))
	}
	for tier, origs := range a.origSeverity {
		slices.Sort(origs)
		if origs = slices.Compact(origs); len(origs) == 1 && origs[0] != string(tier) {
			setLabel(&out, tier, "severity", origs[0])
		}
	}
	for tier := range a.noResolve {
		if !a.resolved[tier] {
			if out.NoResolve == nil {
				out.NoResolve = map[burnrate.Severity]bool{}
			}
			out.NoResolve[tier] = true
		}
	}
	return out
}

func setLabel(a *Alerting, tier burnrate.Severity, k, v string) {
	if v == "" {
		return
	}
	if a.SeverityLabels == nil {
		a.SeverityLabels = map[burnrate.Severity]map[string]string{}
	}
	if a.SeverityLabels[tier] == nil {
		a.SeverityLabels[tier] = map[string]string{}
	}
	a.SeverityLabels[tier][k] = v
}

// annotationOf is a slod annotation of the condition, else of the policy; where says where it is.
func annotationOf(p policy, key string) (v string, where Loc, ok bool) {
	for _, pt := range []part{p.condition, p.part} {
		if v, ok := pt.ann[key]; ok {
			return v, Loc{pt.doc, yamlx.Field(parentOf(pt.path), "metadata.annotations."+key)}, true
		}
	}
	return "", Loc{}, false
}

// parentOf is the path of the object whose spec is at path ("spec" → "", "a.spec" → "a").
func parentOf(path string) string {
	return strings.TrimSuffix(strings.TrimSuffix(path, "spec"), ".")
}

// severityOf is the tier of a policy's condition (page or ticket) and the severity it gives.
func severityOf(p policy) (burnrate.Severity, string, bool) {
	orig := ""
	if p.cond.Severity != nil {
		orig = *p.cond.Severity
	}
	if v, at, ok := annotationOf(p, annSeverity); ok {
		if v != string(burnrate.Page) && v != string(burnrate.Ticket) {
			at.Doc.Errorf(at.Path, "must be page or ticket, got %q", v)
			return "", "", false
		}
		return burnrate.Severity(v), orig, true
	}
	if tier, ok := severityTiers[strings.ToLower(orig)]; ok {
		return tier, orig, true
	}
	if p.cond.Severity != nil {
		p.condition.doc.Errorf(yamlx.Field(p.condition.path, "severity"),
			"slod alerts with severity page or ticket, and does not know which %q is: use page or ticket, one of %s, or the annotation %s: page|ticket",
			orig, knownSeverities(), annSeverity)
	}
	return "", "", false
}

func knownSeverities() string {
	var out []string
	for k := range severityTiers {
		if k != "page" && k != "ticket" {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}

// burnWindow maps a burnrate condition onto a window pair: long = lookbackWindow, short = long
// unless the slod.dev/short-window annotation asks for one (true: long/12, the SRE Workbook's
// ratio; or a duration), burn rate = threshold, for = alertAfter.
func burnWindow(p policy, period time.Duration) (burnrate.Window, bool) {
	d, cp := p.condition.doc, yamlx.Field(p.condition.path, "condition")
	c := p.cond.Condition
	ok := true
	if c.Op != nil && (*c.Op == "lt" || *c.Op == "lte") {
		d.Errorf(yamlx.Field(cp, "op"), "%s alerts while the burn rate is at or below the threshold: a burn-rate alert fires when the budget burns faster than the threshold, so slod takes gt or gte", *c.Op)
		ok = false
	}
	if c.Threshold != nil && c.Threshold.F <= 0 {
		d.Errorf(yamlx.Field(cp, "threshold"), "must be a burn rate above 0, got %s", c.Threshold.Text)
		ok = false
	}
	if c.LookbackWindow == nil || c.Threshold == nil {
		return burnrate.Window{}, false
	}
	w := burnrate.Window{Long: c.LookbackWindow.d, Short: c.LookbackWindow.d, BurnRate: c.Threshold.F}
	if c.AlertAfter != nil {
		w.For = c.AlertAfter.d
	}
	lp := yamlx.Field(cp, "lookbackWindow")
	switch {
	case w.Long <= 0:
		d.Errorf(lp, "must be greater than 0")
		ok = false
	case period > 0 && w.Long > period:
		d.Errorf(lp, "must not be longer than the SLO's time window (%s), got %s", model.Duration(period), c.LookbackWindow.text)
		ok = false
	}
	if v, at, has := annotationOf(p, annShortWindow); has && ok {
		w.Short, ok = shortWindow(at, v, w.Long)
	}
	return w, ok
}

// shortWindow reads the slod.dev/short-window annotation.
func shortWindow(at Loc, v string, long time.Duration) (time.Duration, bool) {
	if v == "true" {
		return long / 12, true
	}
	d, err := model.ParseDuration(v)
	switch {
	case err != nil:
		at.Doc.Errorf(at.Path, "must be true (lookbackWindow/12) or a duration such as 5m, got %q", v)
		return 0, false
	case time.Duration(d) <= 0 || time.Duration(d) > long:
		at.Doc.Errorf(at.Path, "must be above 0 and at most the lookbackWindow (%s), got %s", model.Duration(long), v)
		return 0, false
	}
	return time.Duration(d), true
}
