package convert

import (
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/slod-dev/slod/internal/burnrate"
	"github.com/slod-dev/slod/internal/openslo"
	"github.com/slod-dev/slod/internal/rules"
	"github.com/slod-dev/slod/internal/sli"
)

// ToOpenSLO writes SLOs as OpenSLO v1 files, one per service (<service>.yaml): the Service, then
// each SLO, its SLI and alert policies written inline. Reading them back gives the same SLOs.
func ToOpenSLO(slos []*rules.SLO) (*Result, error) {
	c := &converter{comments: newCommentSource()}
	res := &Result{}
	for _, group := range byService(slos) {
		svc := group[0].Service
		if !openslo.ValidName(svc) {
			c.errorf(group[0], "the service name %q is not an OpenSLO name (a DNS label: lower-case letters, digits and '-')", svc)
			continue
		}
		service := object(openslo.KindService, mapping("name", str(svc)), flow(mapping()))
		service.HeadComment = "Written by slod convert from " + sources(group) + "."
		docs := []*yaml.Node{service}
		for _, s := range group {
			if d := c.openSLO(s); d != nil {
				docs = append(docs, d)
			}
		}
		data, err := encode(docs...)
		if err != nil {
			return nil, err
		}
		res.Files = append(res.Files, File{Name: svc + ".yaml", Data: data})
	}
	res.Warnings = c.warnings
	return res, c.err()
}

// object is an OpenSLO object of kind.
func object(kind string, metadata, spec *yaml.Node) *yaml.Node {
	return mapping("apiVersion", str(openslo.V1), "kind", str(kind), "metadata", metadata, "spec", spec)
}

// openSLO is one SLO as an OpenSLO SLO object.
func (c *converter) openSLO(s *rules.SLO) *yaml.Node {
	if !openslo.ValidName(s.Name) {
		c.errorf(s, "the name %q is not an OpenSLO name (a DNS label: at most 63 lower-case letters, digits and '-')", s.Name)
		return nil
	}
	if n := utf8.RuneCountInString(s.Description); n > 1050 {
		c.errorf(s, "the description has %d characters; OpenSLO allows 1050", n)
		return nil
	}
	cm := c.comments.of(s)
	indicator, method, objective := c.openSLI(s, cm)
	objective.Content = append([]*yaml.Node{str("target"), cm.on("objective", num(s.Objective))}, objective.Content...)
	window := c.timeWindow(s, cm)
	c.budgetsLeftOut(s)
	spec := mapping(
		"description", cm.on("description", optStr(s.Description)),
		"service", str(s.Service),
		"indicator", indicator,
		"timeWindow", list(window),
		"budgetingMethod", str(method),
		"objectives", list(objective),
		"alertPolicies", c.policies(s),
	)
	doc := object(openslo.KindSLO, c.metadata(s), spec)
	doc.HeadComment = cm.head
	return doc
}

// metadata is an SLO's name, labels and the annotations slod reads back.
func (c *converter) metadata(s *rules.SLO) *yaml.Node {
	labels := map[string]string{}
	for k, v := range s.Labels {
		if openslo.ValidLabelKey(k) {
			labels[k] = v
		} else {
			c.warnf(s, "label %q is not an OpenSLO label key: left out", k)
		}
	}
	ann := map[string]string{}
	if len(s.GroupBy) > 0 {
		ann["slod.dev/group-by"] = strings.Join(s.GroupBy, ",")
		if s.MaxGroups != rules.DefaultMaxGroups {
			ann["slod.dev/max-groups"] = strconv.Itoa(s.MaxGroups)
		}
	}
	if s.Alerting.Name != rules.DefaultAlertName {
		ann["slod.dev/alert-name"] = s.Alerting.Name
	}
	if s.Alerting.RunbookURL != "" {
		ann["slod.dev/runbook-url"] = s.Alerting.RunbookURL
	}
	if len(s.Alerting.Labels) > 0 || len(s.Alerting.Annotations) > 0 || len(s.Alerting.SeverityAnnotations) > 0 {
		c.warnf(s, "alerting labels and annotations have no place in OpenSLO: left out")
	}
	return mapping("name", str(s.Name), "labels", stringMap(labels), "annotations", stringMap(ann))
}

// calendarStart is the startTime of a calendar time window: a Monday, the first of a month and
// of a quarter, at midnight (slod's periods start there in their time zone).
const calendarStart = "2024-01-01 00:00:00"

// calendarDurations are the OpenSLO durations of slod's calendar periods.
var calendarDurations = map[burnrate.CalendarPeriod]string{burnrate.Week: "1w", burnrate.Month: "1M", burnrate.Quarter: "1Q"}

// timeWindow is the SLO's time window: rolling, or calendar-aligned from a period's start.
func (c *converter) timeWindow(s *rules.SLO, cm comments) *yaml.Node {
	cal := s.Calendar
	if cal == nil {
		return mapping("duration", cm.on("window", c.shorthand(s, s.Period, "the SLO window")), "isRolling", boolean(true))
	}
	tz := "UTC"
	if cal.Location != nil {
		tz = cal.Location.String()
	}
	return mapping("duration", cm.on("window", str(calendarDurations[cal.Period])), "isRolling", boolean(false),
		"calendar", mapping("startTime", str(calendarStart), "timeZone", str(tz)))
}

// budgetsLeftOut warns about what slod counts the budget with and OpenSLO has no place for.
func (c *converter) budgetsLeftOut(s *rules.SLO) {
	if len(s.Alerting.Budget) > 0 {
		c.warnf(s, "budget alerts (alerting.budget) have no place in OpenSLO: left out")
	}
	if s.Alerting.MinBadEvents > 0 {
		c.warnf(s, "the low-traffic guard (alerting.min_bad_events) has no place in OpenSLO: left out")
	}
	if len(s.Exclusions) > 0 {
		c.warnf(s, "exclusions have no place in OpenSLO: left out (the daemon also takes them over its API: POST /api/v1/exclusions)")
	}
}

// prometheus is a metricSource of a Prometheus query.
func prometheus(q *yaml.Node) *yaml.Node {
	return mapping("metricSource", mapping("type", str("Prometheus"), "spec", mapping("query", q)))
}

// openSLI is an SLO's SLI written inline, its budgeting method, and what its objective says
// besides the target.
func (c *converter) openSLI(s *rules.SLO, cm comments) (indicator *yaml.Node, method string, objective *yaml.Node) {
	q := s.SLI
	objective, method = mapping(), "Occurrences"
	var spec *yaml.Node
	switch q.Kind {
	case rules.EventsSLI, rules.LatencySLI:
		written, err := sli.WrittenQueries(s)
		if err != nil {
			c.errorf(s, "%v", err)
			return nil, "", objective
		}
		bad, total, counter := written.Bad, written.Total, false
		if cb, ok := counters(bad); ok {
			if ct, ok := counters(total); ok {
				bad, total, counter = cb, ct, true
			}
		}
		spec = mapping("ratioMetric", mapping("counter", boolean(counter),
			"bad", prometheus(cm.on("bad", str(bad))), "total", prometheus(cm.on("total", str(total)))))
	case rules.TimesliceSLI:
		spec = mapping("thresholdMetric", prometheus(cm.on("query", str(q.Query))))
		objective = mapping("op", str(string(q.Op)), "value", num(q.Threshold))
		if q.Slice > 0 {
			// Occurrences judges every step; Timeslices slices of timeSliceWindow, each on the
			// query at its end (timeSliceTarget 1).
			method = "Timeslices"
			objective.Content = append(objective.Content, str("timeSliceTarget"), number("1"),
				str("timeSliceWindow"), c.shorthand(s, q.Slice, "the time slice"))
		}
	case rules.RatioSLI:
		spec = mapping("ratioMetric", mapping("rawType", str("failure"), "raw", prometheus(cm.on("query", str(q.ErrorRatioQuery)))))
	default:
		c.errorf(s, "an SLI of kind %q cannot be written", q.Kind)
	}
	return mapping("metadata", mapping("name", str(s.Name)), "spec", spec), method, objective
}

// shorthand writes a duration as OpenSLO's duration-shorthand, in days, hours or minutes (the
// lengths of M, Q and Y are left to implementations, so they are not used).
func (c *converter) shorthand(s *rules.SLO, d time.Duration, what string) *yaml.Node {
	if d == 0 {
		return str("0m")
	}
	for _, u := range []struct {
		unit time.Duration
		name string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}} {
		if d%u.unit == 0 {
			return str(strconv.FormatInt(int64(d/u.unit), 10) + u.name)
		}
	}
	c.errorf(s, "%s, %s, is not a whole number of minutes, which OpenSLO durations need", what, model.Duration(d))
	return str(model.Duration(d).String())
}

// policies writes an SLO's alert policy: nothing for slod's default policy (which an SLO without
// alert policies gets), else one AlertPolicy per window pair, one for the no-data alert, or one
// that alerts on nothing.
func (c *converter) policies(s *rules.SLO) *yaml.Node {
	a := s.Alerting
	if slices.Equal(a.Windows, rules.DefaultWindows(s.Period)) && a.NoData == nil && len(a.NoResolve) == 0 &&
		len(a.SeverityLabels[burnrate.Page]) == 0 && len(a.SeverityLabels[burnrate.Ticket]) == 0 {
		return nil
	}
	for sev, labels := range a.SeverityLabels {
		for k := range labels {
			if k != openslo.TargetLabel && k != "severity" {
				c.warnf(s, "the %s alerts' label %s has no place in OpenSLO: left out", sev, k)
			}
		}
	}
	var out []*yaml.Node
	for i, w := range a.Windows {
		name := s.Name + "-" + string(w.Severity) + "-" + strconv.Itoa(i)
		out = append(out, c.policy(s, name, w, true, false))
	}
	if nd := a.NoData; nd != nil {
		out = append(out, c.policy(s, s.Name+"-no-data", burnrate.Window{Severity: nd.Severity, Long: nd.After, Short: nd.After, BurnRate: 1}, false, true))
	}
	if len(out) == 0 {
		// No pairs and no no-data alert: a policy that alerts on nothing, since no policy at
		// all would read back as slod's default policy.
		out = append(out, c.policy(s, s.Name+"-none", burnrate.Window{Severity: burnrate.Ticket, Long: min(time.Hour, s.Period), BurnRate: 1}, false, false))
	}
	return list(out...)
}

// policy is one inline AlertPolicy with one burnrate condition: w's pair, or (breaching false) a
// condition that only times the no-data alert (lookbackWindow = after).
func (c *converter) policy(s *rules.SLO, name string, w burnrate.Window, breaching, noData bool) *yaml.Node {
	if !openslo.ValidName(name) {
		c.errorf(s, "the alert policy name %q is not an OpenSLO name (at most 63 characters)", name)
	}
	a := s.Alerting
	severity, ann := string(w.Severity), map[string]string{}
	if orig := a.SeverityLabels[w.Severity]["severity"]; orig != "" && orig != severity {
		severity, ann["slod.dev/severity"] = orig, string(w.Severity)
	}
	if breaching && w.Short != w.Long {
		ann["slod.dev/short-window"] = model.Duration(w.Short).String()
	}
	cond := mapping("kind", str("burnrate"), "op", str("gt"), "threshold", num(w.BurnRate),
		"lookbackWindow", c.shorthand(s, w.Long, "a lookback window"), "alertAfter", c.shorthand(s, w.For, "a for"))
	condition := mapping("kind", str(openslo.KindAlertCondition), "metadata", mapping("name", str(name), "annotations", stringMap(ann)),
		"spec", mapping("severity", str(severity), "condition", cond))
	spec := mapping("alertWhenBreaching", boolean(breaching), "alertWhenNoData", boolean(noData),
		"alertWhenResolved", boolean(!a.NoResolve[w.Severity]), "conditions", list(condition),
		"notificationTargets", c.targets(s, w.Severity))
	return mapping("kind", str(openslo.KindAlertPolicy), "metadata", mapping("name", str(name)), "spec", spec)
}

// targets are the notification targets of a severity's policies: those its alerts name in their
// notification_target label, else one named after the severity (the spec wants at least one).
func (c *converter) targets(s *rules.SLO, sev burnrate.Severity) *yaml.Node {
	names := []string{string(sev)}
	if v := s.Alerting.SeverityLabels[sev][openslo.TargetLabel]; v != "" {
		names = strings.Split(v, ",")
	}
	var out []*yaml.Node
	for _, n := range names {
		if !openslo.ValidName(n) {
			c.errorf(s, "the notification target %q is not an OpenSLO name", n)
		}
		out = append(out, flow(mapping("kind", str(openslo.KindAlertNotificationTarget), "metadata", flow(mapping("name", str(n))),
			"spec", flow(mapping("target", str(n))))))
	}
	return list(out...)
}
