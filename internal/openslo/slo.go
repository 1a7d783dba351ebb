package openslo

import (
	"maps"
	"math/big"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/slod-dev/slod/internal/burnrate"
	"github.com/slod-dev/slod/internal/yamlx"
)

// DefaultPeriod is the SLO window of an SLO without a timeWindow: slod's default (30d).
const DefaultPeriod = 30 * 24 * time.Hour

// calendarLayout is the spec's startTime: a date with time, without time zone.
const calendarLayout = "2006-01-02 15:04:05"

// slo maps a v1 SLO object onto one SLO per objective.
func (r *reader) slo(o *obj, v *object[sloSpec]) []*SLO {
	d, s := o.doc, v.Spec
	if s == nil || v.Metadata == nil || o.name == "" {
		return nil
	}
	base := &SLO{APIVersion: V1, Name: o.name, Description: deref(s.Description), At: Loc{d, "metadata.name"}}
	r.sloHeader(d, s.Service, v.Metadata.Labels, v.Metadata.Annotations, base)
	base.Period, base.Calendar = timeWindowOf(d, s.TimeWindow)
	base.PeriodAt = periodAt(d, "spec.timeWindow[0].duration")
	method := budgetingMethod(d, s.BudgetingMethod, occurrences, timeslices, ratioTimeslices)
	base.Alerting = r.alerting(d, s.AlertPolicies, base.Period)
	base.Alerting.Name = v.Metadata.Annotations[annAlertName]
	base.Alerting.RunbookURL = v.Metadata.Annotations[annRunbookURL]
	in, ok := r.indicator(d, s)
	if !ok {
		in = indicator{}
	}
	return r.objectives(d, base, method, in, s.Objectives)
}

// sloHeader reads what every objective of an SLO shares: the service (and the labels of its
// Service object, if the files define one), the SLO's labels and slod's annotations.
func (r *reader) sloHeader(d *yamlx.Doc, service *string, labels map[string]labelValue, ann map[string]string, slo *SLO) {
	if service != nil && checkName(d, "spec.service", service) {
		slo.Service = *service
	}
	slo.Labels = map[string]string{}
	if svc := r.byName[KindService][slo.Service]; svc != nil {
		if v, ok := svc.value.(*object[serviceSpec]); ok && v.Metadata != nil {
			maps.Copy(slo.Labels, promLabels(svc.doc, "metadata.labels", v.Metadata.Labels))
		}
	}
	maps.Copy(slo.Labels, promLabels(d, "metadata.labels", labels))
	sloAnnotations(d, ann, slo)
}

var invalidLabelChar = regexp.MustCompile(`[^a-zA-Z0-9_]`)

// promLabels turns metadata labels into alert labels: a key's characters outside
// [a-zA-Z0-9_] become _ (as Prometheus's Kubernetes discovery does: app.kubernetes.io/name
// becomes app_kubernetes_io_name), a leading digit gets a _ before it, and a list of values is
// joined with commas.
func promLabels(d *yamlx.Doc, path string, labels map[string]labelValue) map[string]string {
	out := map[string]string{}
	from := map[string]string{}
	for k, v := range labels {
		name := invalidLabelChar.ReplaceAllString(k, "_")
		if name != "" && name[0] >= '0' && name[0] <= '9' {
			name = "_" + name
		}
		if prev, dup := from[name]; dup {
			first, second := min(prev, k), max(prev, k)
			d.KeyErrorf(yamlx.Field(path, second), "labels %q and %q would both be the alert label %s", first, second, name)
			continue
		}
		from[name], out[name] = k, strings.Join(v, ",")
	}
	return out
}

// sloAnnotations reads slod's annotations on an SLO: group-by, max-groups, alert-name and
// runbook-url.
func sloAnnotations(d *yamlx.Doc, ann map[string]string, slo *SLO) {
	ap := "metadata.annotations"
	if v, ok := ann[annGroupBy]; ok {
		slo.GroupByAt = Loc{d, yamlx.Field(ap, annGroupBy)}
		for _, l := range strings.Split(v, ",") {
			slo.GroupBy = append(slo.GroupBy, strings.TrimSpace(l))
		}
	}
	if v, ok := ann[annMaxGroups]; ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		switch {
		case err != nil || n <= 0:
			d.Errorf(yamlx.Field(ap, annMaxGroups), "must be a positive number of groups, got %q", v)
		case slo.GroupBy == nil:
			d.KeyErrorf(yamlx.Field(ap, annMaxGroups), "applies only with %s", annGroupBy)
		default:
			slo.MaxGroups = n
		}
	}
	if v, ok := ann[annAlertName]; ok && !model.LegacyValidation.IsValidMetricName(v) {
		d.Errorf(yamlx.Field(ap, annAlertName), "invalid alert name %q: must match [a-zA-Z_:][a-zA-Z0-9_:]*", v)
	}
	if v, ok := ann[annRunbookURL]; ok {
		if u, err := url.Parse(v); err != nil || u.Scheme == "" || u.Host == "" {
			d.Errorf(yamlx.Field(ap, annRunbookURL), "must be an absolute URL such as https://runbooks.example/slo, got %q", v)
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// budgetingMethod checks the budgeting method (one of methods) and returns it.
func budgetingMethod(d *yamlx.Doc, m *string, methods ...string) string {
	if m == nil {
		return ""
	}
	for _, ok := range methods {
		if *m == ok {
			return *m
		}
	}
	d.Errorf("spec.budgetingMethod", "must be one of %s, got %q", strings.Join(methods, ", "), *m)
	return ""
}

// timeWindowOf checks a v1 SLO's timeWindow and returns its length and, for a calendar-aligned
// one, its calendar period (the length is then the period's nominal one).
func timeWindowOf(d *yamlx.Doc, ws []*timeWindow) (time.Duration, *burnrate.Calendar) {
	const path = "spec.timeWindow"
	if period, more := oneWindow(d, path, len(ws)); !more || ws[0] == nil {
		return period, nil
	}
	w, p := ws[0], yamlx.Index(path, 0)
	rolling := w.IsRolling != nil && *w.IsRolling
	if !window(d, p, w.Duration, rolling, w.Calendar) {
		return 0, nil
	}
	if w.Calendar != nil {
		cal := calendarOf(d, p, w.Duration, w.Calendar)
		if cal == nil {
			return 0, nil
		}
		return cal.Nominal(), cal
	}
	return w.Duration.d, nil
}

// calendarPeriods are the time windows that are slod's calendar periods.
var calendarPeriods = map[string]burnrate.CalendarPeriod{"1w": burnrate.Week, "7d": burnrate.Week,
	"1M": burnrate.Month, "1Q": burnrate.Quarter, "3M": burnrate.Quarter}

// calendarOf maps a calendar-aligned time window (checked by window) onto slod's calendar periods:
// a week from Monday, a month or a quarter, from local midnight in the time zone. A startTime that
// is not such a start cannot be kept: a start on another day is refused, a start at another time
// of day is moved to midnight with a warning.
func calendarOf(d *yamlx.Doc, path string, dur *shorthand, c *calendar) *burnrate.Calendar {
	period, ok := calendarPeriods[dur.text]
	if !ok {
		d.Errorf(yamlx.Field(path, "duration"), "a calendar time window of slod is a week (1w), a month (1M) or a quarter (1Q), got %s", dur.text)
		return nil
	}
	if c.TimeZone == nil || c.StartTime == nil {
		return nil // reported: both are required
	}
	loc, err := time.LoadLocation(*c.TimeZone)
	if err != nil {
		return nil // reported by checkCalendar
	}
	start, err := time.ParseInLocation(calendarLayout, *c.StartTime, loc)
	if err != nil {
		return nil
	}
	cal := &burnrate.Calendar{Period: period, Location: loc}
	sp := yamlx.Field(yamlx.Field(path, "calendar"), "startTime")
	day := time.Date(start.Year(), start.Month(), start.Day(), 0, 0, 0, 0, loc)
	if !cal.Start(day).Equal(day) {
		d.Errorf(sp, "%s is not the first day of a %s: slod's calendar %ss start on %s (such as %s, the start of the %s it falls in)",
			*c.StartTime, period, period, periodStartDays[period], cal.Start(day).Format(calendarLayout), period)
		return nil
	}
	if !day.Equal(start) {
		d.Warnf(sp, "slod's calendar periods start at midnight: each %s starts at 00:00 %s, not at %s", period, *c.TimeZone, start.Format("15:04:05"))
	}
	return cal
}

// periodStartDays say on which days slod's calendar periods start.
var periodStartDays = map[burnrate.CalendarPeriod]string{burnrate.Week: "a Monday", burnrate.Month: "the 1st",
	burnrate.Quarter: "January, April, July or October 1st"}

// periodAt is where the SLO window is written, at path, or the SLO's name without one.
func periodAt(d *yamlx.Doc, path string) Loc {
	if d.Has(path) {
		return Loc{d, path}
	}
	return Loc{d, "metadata.name"}
}

// oneWindow checks that the list of n time windows at path holds one. When it does not, more is
// false and period is the SLO's: slod's default without a window, 0 after a problem.
func oneWindow(d *yamlx.Doc, path string, n int) (period time.Duration, more bool) {
	switch {
	case !d.Has(path) || (n == 0 && !d.Failed(path) && yamlx.IsNull(d.Node(path))):
		return DefaultPeriod, false
	case d.Failed(path):
		return 0, false
	case n != 1:
		d.Errorf(path, "must hold exactly one time window, got %d", n)
		return 0, false
	}
	return 0, true
}

// window checks one time window: rolling or calendar-aligned (calendarOf maps it), the spec's rule
// that a calendar is set exactly when isRolling is false, and the duration.
func window(d *yamlx.Doc, path string, dur *shorthand, rolling bool, cal *calendar) bool {
	ok := true
	if cal != nil {
		cp := yamlx.Field(path, "calendar")
		checkCalendar(d, cp, cal)
		if rolling {
			d.KeyErrorf(cp, "a rolling window (isRolling: true) has no calendar (the spec's rule)")
			ok = false
		}
	} else if !rolling && !d.Failed(yamlx.Field(path, "isRolling")) {
		d.Errorf(path, "isRolling: false needs a calendar (the spec's rule); for a rolling window set isRolling: true")
		ok = false
	}
	if dur == nil {
		return false
	}
	dp := yamlx.Field(path, "duration")
	switch {
	case dur.d <= 0:
		d.Errorf(dp, "must be greater than 0")
		return false
	case dur.unit == 'm':
		d.Errorf(dp, "%s is in minutes ('m' is minutes in OpenSLO, 'M' months): an SLO window is days or longer, such as 28d, 4w or 1M", dur.text)
		return false
	}
	return ok
}

func checkCalendar(d *yamlx.Doc, path string, c *calendar) {
	if c.StartTime != nil {
		if _, err := time.Parse(calendarLayout, *c.StartTime); err != nil {
			d.Errorf(yamlx.Field(path, "startTime"), "must be a date and time such as 2022-01-01 12:00:00, got %q", *c.StartTime)
		}
	}
	if c.TimeZone != nil {
		if _, err := time.LoadLocation(*c.TimeZone); err != nil || *c.TimeZone == "" || *c.TimeZone == "Local" {
			d.Errorf(yamlx.Field(path, "timeZone"), "unknown time zone %q: want an IANA name such as America/New_York", *c.TimeZone)
		}
	}
}

// objectiveNames names the SLO of each objective: the SLO's name for a single objective, else
// <name>-<displayName> (lower case, other characters as -), or <name>-<index> without a usable
// display name.
func objectiveNames(name string, display []*string) []string {
	if len(display) == 1 {
		return []string{name}
	}
	out := make([]string, len(display))
	seen := map[string]bool{}
	for i, dn := range display {
		cand := ""
		if dn != nil {
			if slug := slugify(*dn); slug != "" {
				cand = name + "-" + slug
			}
		}
		if cand == "" || seen[cand] {
			cand = name + "-" + strconv.Itoa(i)
		}
		for seen[cand] {
			cand += "-" + strconv.Itoa(i)
		}
		seen[cand] = true
		out[i] = cand
	}
	return out
}

var nonSlug = regexp.MustCompile(`[^a-z0-9]+`)

func slugify(s string) string {
	return strings.Trim(nonSlug.ReplaceAllString(strings.ToLower(s), "-"), "-")
}

// formatNumber prints a number without float noise.
func formatNumber(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// ratioOf is the objective of a target or targetPercent, as a ratio, checked: the spec allows
// [0, 1) and [0, 100); slod needs an error budget that is not everything, so above 0.
func ratioOf(d *yamlx.Doc, path string, target, percent *number) (float64, bool) {
	if !exactlyOne(d, path, "an objective", "target", "targetPercent") {
		return 0, false
	}
	v, p, limit, unit := target, yamlx.Field(path, "target"), 1.0, ""
	if percent != nil {
		v, p, limit, unit = percent, yamlx.Field(path, "targetPercent"), 100, "%"
	}
	if v == nil {
		return 0, false
	}
	if v.F < 0 || v.F >= limit {
		d.Errorf(p, "must be at least 0 and below %s%s, got %s", formatNumber(limit), unit, v.Text)
		return 0, false
	}
	r := new(big.Rat).Set(v.R)
	if percent != nil {
		r.Quo(r, big.NewRat(100, 1))
	}
	f, _ := r.Float64()
	if f <= 0 || f >= 1 {
		// 0 makes the whole of every window error budget; 0.99999999999999999 rounds to 1.
		d.Errorf(p, "%s cannot be an objective for slod: it must be above 0 and, as a ratio, below 1", v.Text)
		return 0, false
	}
	return f, true
}
