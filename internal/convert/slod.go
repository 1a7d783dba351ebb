package convert

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/slod-dev/slod/internal/burnrate"
	"github.com/slod-dev/slod/internal/exclude"
	"github.com/slod-dev/slod/internal/rules"
)

// ToSlod writes SLOs as slod/v1 files, one per service (<service>.yaml).
func ToSlod(slos []*rules.SLO) (*Result, error) {
	c := &converter{comments: newCommentSource()}
	res := &Result{}
	for _, group := range byService(slos) {
		var items []*yaml.Node
		for _, s := range group {
			items = append(items, c.slodSLO(s))
		}
		doc := mapping("version", str(rules.FormatV1), "service", str(group[0].Service), "slos", list(items...))
		doc.HeadComment = "Written by slod convert from " + sources(group) + "."
		data, err := encode(doc)
		if err != nil {
			return nil, err
		}
		res.Files = append(res.Files, File{Name: group[0].Service + ".yaml", Data: data})
	}
	res.Warnings = c.warnings
	return res, c.err()
}

// sources names the files a group of SLOs comes from.
func sources(group []*rules.SLO) string {
	var files []string
	for _, s := range group {
		if !slices.Contains(files, s.Pos.File) {
			files = append(files, s.Pos.File)
		}
	}
	return strings.Join(files, ", ")
}

// slodSLO is one SLO of a slod/v1 file.
func (c *converter) slodSLO(s *rules.SLO) *yaml.Node {
	cm := c.comments.of(s)
	var window, calendar, maxGroups, groupBy *yaml.Node
	switch {
	case s.Calendar != nil:
		var tz *yaml.Node
		if loc := s.Calendar.Location; loc != nil && loc != time.UTC {
			tz = str(loc.String())
		}
		calendar = flow(mapping("period", str(string(s.Calendar.Period)), "time_zone", tz))
	case s.Period != rules.DefaultPeriod:
		window = str(model.Duration(s.Period).String())
	}
	if len(s.GroupBy) > 0 {
		var ls []*yaml.Node
		for _, l := range s.GroupBy {
			ls = append(ls, str(l))
		}
		groupBy = flow(list(ls...))
		if s.MaxGroups != rules.DefaultMaxGroups {
			maxGroups = number(strconv.Itoa(s.MaxGroups))
		}
	}
	n := mapping(
		"name", str(s.Name),
		"description", cm.on("description", optStr(s.Description)),
		"objective", cm.on("objective", number(percent(s.Objective))),
		"window", cm.on("window", window),
		"calendar", cm.on("window", calendar),
		"exclusions", exclusions(s.Exclusions),
		"labels", flowMap(stringMap(s.Labels)),
		"group_by", groupBy,
		"max_groups", maxGroups,
		"sli", c.slodSLI(s, cm),
		"alerting", c.slodAlerting(s),
	)
	n.HeadComment = cm.head
	return n
}

// exclusions writes an SLO's exclusions, its file's among them (each SLO of the output lists every
// exclusion that applies to it).
func exclusions(set exclude.Set) *yaml.Node {
	var items []*yaml.Node
	for _, w := range set {
		var tz *yaml.Node
		if w.TimeZone != nil {
			tz = str(w.TimeZone.String())
		}
		items = append(items, flow(mapping("name", str(w.Name), "start", str(w.Start.Format(time.RFC3339Nano)),
			"duration", str(goDuration(w.Duration)), "rrule", optStr(w.RRule), "time_zone", tz)))
	}
	if len(items) == 0 {
		return nil
	}
	return list(items...)
}

// goDuration writes d as Go reads it (an exclusion's duration): 3h, 90m, 1h30m15s.
func goDuration(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	}
	return d.String()
}

func flowMap(n *yaml.Node) *yaml.Node {
	if n == nil {
		return nil
	}
	return flow(n)
}

// slodSLI is the sli section of a slod/v1 SLO.
func (c *converter) slodSLI(s *rules.SLO, cm comments) *yaml.Node {
	q := s.SLI
	switch q.Kind {
	case rules.EventsSLI:
		return mapping("events", mapping("error_query", cm.on("bad", str(q.ErrorQuery)), "total_query", cm.on("total", str(q.TotalQuery))))
	case rules.LatencySLI:
		return mapping("latency", mapping("histogram", cm.on("query", str(q.Histogram)), "threshold", num(q.Threshold)))
	case rules.TimesliceSLI:
		var slice *yaml.Node
		if q.Slice > 0 {
			slice = str(model.Duration(q.Slice).String())
		}
		return mapping("timeslice", mapping("query", cm.on("query", str(q.Query)), "op", str(string(q.Op)), "threshold", num(q.Threshold), "slice", slice))
	case rules.RatioSLI:
		return mapping("raw", mapping("error_ratio_query", cm.on("query", str(q.ErrorRatioQuery))))
	}
	c.errorf(s, "an SLI of kind %q cannot be written", q.Kind)
	return nil
}

// slodAlerting is the alerting section of a slod/v1 SLO: nothing for the default policy and
// the default alert name, else what differs from them.
func (c *converter) slodAlerting(s *rules.SLO) *yaml.Node {
	a := s.Alerting
	var name *yaml.Node
	if a.Name != rules.DefaultAlertName {
		name = str(a.Name)
	}
	windows, disabled := c.slodWindows(s)
	sev := func(tier burnrate.Severity) *yaml.Node {
		var disable, resolved *yaml.Node
		if disabled[tier] {
			disable = boolean(true)
		}
		if a.NoResolve[tier] {
			resolved = boolean(false)
		}
		n := mapping("disable", disable, "labels", flowMap(stringMap(a.SeverityLabels[tier])),
			"annotations", stringMap(a.SeverityAnnotations[tier]), "send_resolved", resolved)
		if len(n.Content) == 0 {
			return nil
		}
		return n
	}
	var noData *yaml.Node
	if nd := a.NoData; nd != nil {
		noData = flow(mapping("after", str(model.Duration(nd.After).String()), "severity", str(string(nd.Severity))))
	}
	var guard *yaml.Node
	if a.MinBadEvents > 0 {
		guard = num(a.MinBadEvents)
	}
	n := mapping("name", name, "runbook_url", optStr(a.RunbookURL), "labels", flowMap(stringMap(a.Labels)),
		"annotations", stringMap(a.Annotations), "page", sev(burnrate.Page), "ticket", sev(burnrate.Ticket),
		"windows", windows, "no_data", noData, "min_bad_events", guard, "budget", budgetAlerts(a.Budget))
	if len(n.Content) == 0 {
		return nil
	}
	return n
}

// budgetAlerts writes the budget alerts, their thresholds as percentages of the budget.
func budgetAlerts(bs []burnrate.BudgetAlert) *yaml.Node {
	var items []*yaml.Node
	for _, b := range bs {
		items = append(items, flow(mapping("severity", str(string(b.Severity)), "below", str(percent(b.Below)+"%"))))
	}
	if len(items) == 0 {
		return nil
	}
	return list(items...)
}

// slodWindows writes an SLO's window pairs: none when they are the default policy of its period
// (or the default with a severity disabled, then disabled says which), else every pair.
func (c *converter) slodWindows(s *rules.SLO) (*yaml.Node, map[burnrate.Severity]bool) {
	ws := s.Alerting.Windows
	def := rules.DefaultWindows(s.Period)
	for _, keep := range [][]burnrate.Severity{{burnrate.Page, burnrate.Ticket}, {burnrate.Page}, {burnrate.Ticket}, {}} {
		var want []burnrate.Window
		for _, w := range def {
			if slices.Contains(keep, w.Severity) {
				want = append(want, w)
			}
		}
		if slices.Equal(ws, want) {
			disabled := map[burnrate.Severity]bool{}
			for _, tier := range []burnrate.Severity{burnrate.Page, burnrate.Ticket} {
				disabled[tier] = !slices.Contains(keep, tier)
			}
			return nil, disabled
		}
	}
	var items []*yaml.Node
	for _, w := range ws {
		var forN *yaml.Node
		if w.For > 0 {
			forN = str(model.Duration(w.For).String())
		}
		items = append(items, flow(mapping("severity", str(string(w.Severity)), "long", str(model.Duration(w.Long).String()),
			"short", str(model.Duration(w.Short).String()), "burn_rate", num(w.BurnRate), "for", forN)))
	}
	return list(items...), nil
}
