package openslo

import (
	"strings"
	"testing"
)

// sloDoc is an SLO object whose spec ends with extra (indented two spaces) and whose indicator is
// sli (indented six spaces, under spec.indicator.spec).
func sloDoc(sli, extra string) string {
	return `apiVersion: openslo/v1
kind: SLO
metadata:
  name: availability
spec:
  service: shop
  indicator:
    metadata: {name: errors}
    spec:
` + sli + `  budgetingMethod: Occurrences
` + extra
}

const (
	badTotal = `      ratioMetric:
        counter: true
        bad: {metricSource: {type: Prometheus, spec: {query: 'sum(errors_total)'}}}
        total: {metricSource: {type: Prometheus, spec: {query: 'sum(requests_total)'}}}
`
	objectives = "  objectives: [{target: 0.99}]\n"
	threshold  = "      thresholdMetric: {metricSource: {type: Prometheus, spec: {query: 'max(queue_depth)'}}}\n"
)

// TestErrors: each mistake is reported at its file:line:col, in words that say what is wrong and
// what to write instead.
func TestErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"unsupported apiVersion", map[string]string{"a.yaml": "apiVersion: openslo/v2alpha\nkind: SLO\n"},
			`a.yaml:1:13: apiVersion: unsupported apiVersion "openslo/v2alpha": slod reads openslo/v1 and openslo/v1alpha`},
		{"unknown kind", map[string]string{"a.yaml": "apiVersion: openslo/v1\nkind: Slo\n"},
			`a.yaml:2:7: kind: unknown kind "Slo": openslo/v1 has SLO, SLI, Service, DataSource, AlertPolicy, AlertCondition, AlertNotificationTarget`},
		{"a v1 kind in v1alpha", map[string]string{"a.yaml": "apiVersion: openslo/v1alpha\nkind: SLI\n"},
			`a.yaml:2:7: kind: unknown kind "SLI": openslo/v1alpha has SLO, Service (SLI is in openslo/v1)`},
		{"no kind", map[string]string{"a.yaml": "apiVersion: openslo/v1\nmetadata: {name: a}\n"},
			`a.yaml:1:1: kind: missing required field`},
		{"not an object", map[string]string{"a.yaml": "apiVersion: openslo/v1\n---\n- just a string\n"},
			"a.yaml:1:1: kind: missing required field\n" +
				`a.yaml:3:3: must be an OpenSLO object (a mapping with apiVersion, kind, metadata and spec), got "just a string"`},
		{"a name that is not a DNS label; unknown fields", map[string]string{"a.yaml": "apiVersion: openslo/v1\nkind: Service\nmetadata: {name: Shop_1}\nspec: {descripton: x}\n"},
			"a.yaml:3:18: metadata.name: invalid name \"Shop_1\": must be a DNS label (RFC 1123: at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit)\n" +
				"a.yaml:4:8: spec.descripton: unknown field, did you mean description? (known fields: description)"},
		{"the same name twice, across files", map[string]string{
			"a.yaml": "apiVersion: openslo/v1\nkind: Service\nmetadata: {name: shop}\nspec: {}\n",
			"b.yaml": "- apiVersion: openslo/v1\n  kind: Service\n  metadata: {name: shop}\n  spec: {}\n"},
			`b.yaml:3:20: metadata.name: Service "shop" is defined twice: first at a.yaml:3:18 (names are unique per kind across the files read)`},
		{"indicator and indicatorRef", map[string]string{"a.yaml": sloDoc(badTotal, "  indicatorRef: errors\n"+objectives)},
			"a.yaml:6:3: spec: an SLO takes one of indicator or indicatorRef, not both (got indicator and indicatorRef)"},
		{"target and targetPercent; out of range", map[string]string{"a.yaml": sloDoc(badTotal, "  objectives:\n    - {target: 0.99, targetPercent: 99}\n    - {target: 1}\n    - {targetPercent: 0}\n")},
			"a.yaml:16:7: spec.objectives[0]: an objective takes one of target or targetPercent, not both (got target and targetPercent)\n" +
				"a.yaml:17:16: spec.objectives[1].target: must be at least 0 and below 1, got 1\n" +
				"a.yaml:18:23: spec.objectives[2].targetPercent: 0 cannot be an objective for slod: it must be above 0 and, as a ratio, below 1"},
		{"op and value belong to a thresholdMetric", map[string]string{"a.yaml": sloDoc(badTotal, "  objectives: [{op: gt, value: 1, target: 0.99}]\n")},
			"a.yaml:15:17: spec.objectives[0].op: applies to a thresholdMetric only: the ratio of a ratioMetric is compared with the target (the reference validator refuses op here)\n" +
				"a.yaml:15:25: spec.objectives[0].value: applies to a thresholdMetric only: the ratio of a ratioMetric is compared with the target (the reference validator refuses value here)"},

		{"a thresholdMetric needs op and value, and has one objective", map[string]string{"a.yaml": sloDoc(threshold, "  objectives: [{target: 0.99}, {op: gte, value: 1, target: 0.9}]\n")},
			"a.yaml:12:16: spec.objectives[0]: op (lt, lte, gt or gte) is required with a thresholdMetric: the query is compared with value\n" +
				"a.yaml:12:16: spec.objectives[0]: value is required with a thresholdMetric: the query is compared with it\n" +
				"a.yaml:12:32: spec.objectives[1]: an SLO of a thresholdMetric has one objective (the spec's rule): write one SLO per threshold"},
		{"Timeslices needs timeSliceTarget and timeSliceWindow", map[string]string{"a.yaml": strings.Replace(sloDoc(badTotal, "  objectives: [{target: 0.99, timeSliceTarget: 1.5}]\n"), "Occurrences", "Timeslices", 1)},
			"a.yaml:15:16: spec.objectives[0]: timeSliceWindow is required with Timeslices\n" +
				"a.yaml:15:48: spec.objectives[0].timeSliceTarget: must be above 0 and at most 1, got 1.5"},
		{"RatioTimeslices: slices are slod's steps", map[string]string{"a.yaml": strings.Replace(sloDoc(badTotal, "  objectives: [{target: 0.99, timeSliceWindow: 5m}]\n"), "Occurrences", "RatioTimeslices", 1)},
			"a.yaml:15:48: spec.objectives[0].timeSliceWindow: slod's ratio time slices are its evaluation steps, 1m: timeSliceWindow must be 1m, got 5m"},
		{"Occurrences ignores the time-slice fields", map[string]string{"a.yaml": sloDoc(badTotal, "  objectives: [{target: 0.99, timeSliceWindow: 5}]\n")},
			"a.yaml:15:48: warning: spec.objectives[0].timeSliceWindow: is ignored: it applies to the time-slice budgeting methods, and this SLO counts Occurrences"},
		{"a calendar window, isRolling false without one, minutes", map[string]string{"a.yaml": sloDoc(badTotal, objectives+
			"  timeWindow: [{duration: 1M, calendar: {startTime: '2022-01-01', timeZone: Mars/Olympus}}]\n"),
			"b.yaml": strings.Replace(sloDoc(badTotal, objectives+"  timeWindow: [{duration: 30m, isRolling: false}]\n"), "availability", "b", 1)},
			"a.yaml:16:53: spec.timeWindow[0].calendar.startTime: must be a date and time such as 2022-01-01 12:00:00, got \"2022-01-01\"\n" +
				"a.yaml:16:77: spec.timeWindow[0].calendar.timeZone: unknown time zone \"Mars/Olympus\": want an IANA name such as America/New_York\n" +
				"b.yaml:16:16: spec.timeWindow[0]: isRolling: false needs a calendar (the spec's rule); for a rolling window set isRolling: true\n" +
				"b.yaml:16:27: spec.timeWindow[0].duration: 30m is in minutes ('m' is minutes in OpenSLO, 'M' months): an SLO window is days or longer, such as 28d, 4w or 1M"},
		{"calendar windows: a period slod has not, a week from Saturday, a month from noon", map[string]string{
			"a.yaml": sloDoc(badTotal, objectives+"  timeWindow: [{duration: 2w, isRolling: false, calendar: {startTime: '2022-01-03 00:00:00', timeZone: UTC}}]\n"),
			"b.yaml": strings.Replace(sloDoc(badTotal, objectives+"  timeWindow: [{duration: 1w, isRolling: false, calendar: {startTime: '2022-01-01 00:00:00', timeZone: UTC}}]\n"), "availability", "b", 1),
			"c.yaml": strings.Replace(sloDoc(badTotal, objectives+"  timeWindow: [{duration: 1M, isRolling: false, calendar: {startTime: '2022-01-01 12:00:00', timeZone: Europe/Berlin}}]\n"), "availability", "c", 1)},
			"a.yaml:16:27: spec.timeWindow[0].duration: a calendar time window of slod is a week (1w), a month (1M) or a quarter (1Q), got 2w\n" +
				"b.yaml:16:71: spec.timeWindow[0].calendar.startTime: 2022-01-01 00:00:00 is not the first day of a week: slod's calendar weeks start on a Monday (such as 2021-12-27 00:00:00, the start of the week it falls in)\n" +
				"c.yaml:16:71: warning: spec.timeWindow[0].calendar.startTime: slod's calendar periods start at midnight: each month starts at 00:00 Europe/Berlin, not at 12:00:00"},
		{"composite SLOs", map[string]string{"a.yaml": sloDoc(badTotal, "  objectives: [{target: 0.99, indicatorRef: other, compositeWeight: 1}]\n")},
			"a.yaml:15:31: spec.objectives[0].indicatorRef: composite SLOs (an indicator per objective) are not supported by slod: write one SLO per indicator\n" +
				"a.yaml:15:52: spec.objectives[0].compositeWeight: composite SLOs (an indicator per objective) are not supported by slod: write one SLO per indicator"},
		{"sources: not Prometheus, a type that contradicts its DataSource, no query, another field", map[string]string{
			"a.yaml": sloDoc(`      ratioMetric:
        counter: true
        bad: {metricSource: {type: Datadog, spec: {query: 'sum:errors{*}'}}}
        total: {metricSource: {metricSourceRef: prom, type: Thanos, spec: {query: x}}}
`, objectives),
			"b.yaml": strings.Replace(sloDoc(`      ratioMetric:
        counter: true
        bad: {metricSource: {metricSourceRef: prom, spec: {promql: x}}}
        total: {metricSource: {spec: {query: x}}}
`, objectives), "availability", "b", 1),
			"c.yaml": "apiVersion: openslo/v1\nkind: DataSource\nmetadata: {name: prom}\nspec: {type: Prometheus, connectionDetails: {url: 'http://p'}}\n"},
			"a.yaml:12:36: spec.indicator.spec.ratioMetric.bad.metricSource.type: type Datadog: slod queries Prometheus and the stores that answer its API (type Prometheus, Thanos, Mimir, Cortex or VictoriaMetrics)\n" +
				"a.yaml:13:61: spec.indicator.spec.ratioMetric.total.metricSource.type: is \"Thanos\", but the DataSource prom it refers to is of type \"Prometheus\"\n" +
				"b.yaml:12:59: spec.indicator.spec.ratioMetric.bad.metricSource.spec: a Prometheus source needs query (PromQL)\n" +
				"b.yaml:12:60: spec.indicator.spec.ratioMetric.bad.metricSource.spec.promql: unknown field of a Prometheus source: slod reads query (PromQL) only\n" +
				"b.yaml:13:31: spec.indicator.spec.ratioMetric.total.metricSource: needs type (Prometheus) or metricSourceRef (a DataSource)"},
		{"counter", map[string]string{"a.yaml": sloDoc(`      ratioMetric:
        counter: true
        bad: {metricSource: {type: Prometheus, spec: {query: 'sum(rate(errors_total[{{.window}}]))'}}}
        total: {metricSource: {type: Prometheus, spec: {query: 'max(requests_total) + 1'}}}
`, objectives),
			"b.yaml": strings.Replace(sloDoc(`      ratioMetric:
        counter: false
        bad: {metricSource: {type: Prometheus, spec: {query: 'sum(errors_total)'}}}
        total: {metricSource: {type: Prometheus, spec: {query: 'requests_total offset 5m'}}}
`, objectives), "availability", "b", 1),
			"c.yaml": strings.Replace(sloDoc(`      ratioMetric:
        bad: {metricSource: {type: Prometheus, spec: {query: 'sum(errors_total)'}}}
        total: {metricSource: {type: Prometheus, spec: {query: 'sum(requests_total)'}}}
`, objectives), "availability", "c", 1)},
			"a.yaml:12:54: spec.indicator.spec.ratioMetric.bad.metricSource.spec.query: counter: true says the query is a counter, whose increase slod takes itself; this one already ranges over {{.window}}: set counter: false\n" +
				"a.yaml:13:56: spec.indicator.spec.ratioMetric.total.metricSource.spec.query: counter: true: slod takes the increase of every counter in the query, which adds up through sum, + and - only, not through max(); give the counters alone (e.g. sum(http_requests_total{code=~\"5..\"})), or a query of the events over {{.window}} with counter: false\n" +
				"b.yaml:12:54: spec.indicator.spec.ratioMetric.bad.metricSource.spec.query: counter: false: slod needs the events of each step, so the query must range over {{.window}} (e.g. sum(increase(x[{{.window}}]))); for the counter itself set counter: true\n" +
				"b.yaml:13:56: spec.indicator.spec.ratioMetric.total.metricSource.spec.query: counter: false: slod needs the events of each step, so the query must range over {{.window}} (e.g. sum(increase(x[{{.window}}]))); for the counter itself set counter: true\n" +
				"c.yaml:11:9: spec.indicator.spec.ratioMetric: counter is required: true when the queries are counters, false when they give counts per interval"},
		{"PromQL problems at their character", map[string]string{"a.yaml": sloDoc(`      ratioMetric:
        counter: false
        bad: {metricSource: {type: Prometheus, spec: {query: 'sum(rate(errors_total[{{.window}}]) by'}}}
        total: {metricSource: {type: Prometheus, spec: {query: 'sum(rate(requests_total[{{.range}}]))'}}}
`, objectives)},
			"a.yaml:12:54: spec.indicator.spec.ratioMetric.bad.metricSource.spec.query: invalid PromQL: unexpected <by> in aggregation\n" +
				"a.yaml:13:56: spec.indicator.spec.ratioMetric.total.metricSource.spec.query: unsupported template {{.range}}: only {{.window}} is available"},
		{"ratioMetric parts", map[string]string{"a.yaml": sloDoc(`      ratioMetric:
        counter: true
        good: {metricSource: {type: Prometheus, spec: {query: x}}}
        bad: {metricSource: {type: Prometheus, spec: {query: x}}}
        total: {metricSource: {type: Prometheus, spec: {query: x}}}
        rawType: success
`, objectives),
			"b.yaml": strings.Replace(sloDoc(`      ratioMetric:
        raw: {metricSource: {type: Prometheus, spec: {query: x}}}
        total: {metricSource: {type: Prometheus, spec: {query: x}}}
`, objectives), "availability", "b", 1),
			"c.yaml": strings.Replace(sloDoc(`      ratioMetric:
        raw: {metricSource: {type: Prometheus, spec: {query: x}}}
        rawType: ratio
`, objectives), "availability", "c", 1)},
			"a.yaml:11:9: spec.indicator.spec.ratioMetric: a ratioMetric with total takes one of good or bad, not both (got good and bad)\n" +
				"a.yaml:15:9: spec.indicator.spec.ratioMetric.rawType: applies to raw only: good or bad already says which ratio this is\n" +
				"b.yaml:11:9: spec.indicator.spec.ratioMetric: a ratioMetric takes one of total or raw, not both (got total and raw)\n" +
				"c.yaml:12:18: spec.indicator.spec.ratioMetric.rawType: must be success or failure, got \"ratio\""},
		{"alert policies: one condition, a target, inline or a reference", map[string]string{"a.yaml": sloDoc(badTotal, objectives+`  alertPolicies:
    - alertPolicyRef: p
      kind: AlertPolicy
    - kind: AlertPolicy
      metadata: {name: q}
      spec:
        conditions: []
        notificationTargets: []
    - {alertPolicyRef: missing}
`)},
			"a.yaml:18:7: spec.alertPolicies[0].kind: an AlertPolicy takes alertPolicyRef or an inline AlertPolicy (kind, metadata, spec), not both\n" +
				"a.yaml:22:21: spec.alertPolicies[1].spec.conditions: must hold exactly one condition, got 0 (the spec keeps a list for later versions)\n" +
				"a.yaml:23:30: spec.alertPolicies[1].spec.notificationTargets: must list at least one notification target\n" +
				"a.yaml:24:24: spec.alertPolicies[2].alertPolicyRef: no AlertPolicy named \"missing\" in the files read (none is defined)"},
		{"burn-rate conditions slod cannot alert on", map[string]string{"a.yaml": sloDoc(badTotal, objectives+"  timeWindow: [{duration: 7d, isRolling: true}]\n  alertPolicies: [{alertPolicyRef: p}]\n"),
			"b.yaml": `apiVersion: openslo/v1
kind: AlertPolicy
metadata: {name: p, annotations: {slod.dev/short-window: 2h}}
spec:
  conditions:
    - conditionRef: c
  notificationTargets: [{targetRef: t}]
---
apiVersion: openslo/v1
kind: AlertCondition
metadata: {name: c, annotations: {slod.dev/severity: pager}}
spec:
  severity: sev9
  condition: {kind: burnrate, op: lte, threshold: 0, lookbackWindow: 8d}
---
apiVersion: openslo/v1
kind: AlertNotificationTarget
metadata: {name: t}
spec: {target: email}
`},
			"b.yaml:11:54: metadata.annotations.slod.dev/severity: must be page or ticket, got \"pager\"\n" +
				"b.yaml:14:35: spec.condition.op: lte alerts while the burn rate is at or below the threshold: a burn-rate alert fires when the budget burns faster than the threshold, so slod takes gt or gte\n" +
				"b.yaml:14:51: spec.condition.threshold: must be a burn rate above 0, got 0\n" +
				"b.yaml:14:70: spec.condition.lookbackWindow: must not be longer than the SLO's time window (1w), got 8d"},
		{"severity and short window", map[string]string{"a.yaml": sloDoc(badTotal, objectives+`  alertPolicies:
    - kind: AlertPolicy
      metadata: {name: p}
      spec:
        conditions:
          - kind: AlertCondition
            metadata: {name: c, annotations: {slod.dev/short-window: 2h}}
            spec:
              severity: sev9
              condition: {kind: burnrate, op: gt, threshold: 2, lookbackWindow: 1h}
        notificationTargets: [{targetRef: t}]
`), "b.yaml": "apiVersion: openslo/v1\nkind: AlertNotificationTarget\nmetadata: {name: t}\nspec: {target: email}\n"},
			"a.yaml:22:70: spec.alertPolicies[0].spec.conditions[0].metadata.annotations.slod.dev/short-window: must be above 0 and at most the lookbackWindow (1h), got 2h\n" +
				"a.yaml:24:25: spec.alertPolicies[0].spec.conditions[0].spec.severity: slod alerts with severity page or ticket, and does not know which \"sev9\" is: use page or ticket, one of critical, emergency, high, info, low, medium, p1, p2, p3, p4, p5, sev1, sev2, sev3, sev4, sev5, urgent, warning, or the annotation slod.dev/severity: page|ticket"},
		{"metadata: keys, slod annotations, lengths", map[string]string{"a.yaml": `apiVersion: openslo/v1
kind: SLO
metadata:
  name: a
  displayName: ` + strings.Repeat("x", 64) + `
  labels: {-team: a, app.kubernetes.io/name: b}
  annotations: {slod.dev/group-by: model, slod.dev/severity: page, Bad/key: c, slod.dev/max-groups: none, slod.dev/alert-name: 1x, slod.dev/runbook-url: /rb}
spec:
  description: ` + strings.Repeat("x", 1051) + `
  service: shop
  indicatorRef: s
  budgetingMethod: Occurrences
  objectives: [{target: 0.9}]
`},
			"a.yaml:5:16: metadata.displayName: must be at most 63 characters, got 64\n" +
				"a.yaml:6:12: metadata.labels.-team: invalid label key \"-team\": at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit\n" +
				"a.yaml:6:22: metadata.labels.app.kubernetes.io/name: invalid label key \"app.kubernetes.io/name\": at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit\n" +
				"a.yaml:7:43: metadata.annotations.slod.dev/severity: unknown slod annotation \"slod.dev/severity\" on an SLO (slod reads slod.dev/group-by, slod.dev/max-groups, slod.dev/alert-name, slod.dev/runbook-url there)\n" +
				"a.yaml:7:68: metadata.annotations.Bad/key: invalid annotation key \"Bad/key\": an optional DNS subdomain and '/', then at most 63 letters, digits, '-', '_' and '.'\n" +
				"a.yaml:7:101: metadata.annotations.slod.dev/max-groups: must be a positive number of groups, got \"none\"\n" +
				"a.yaml:7:128: metadata.annotations.slod.dev/alert-name: invalid alert name \"1x\": must match [a-zA-Z_:][a-zA-Z0-9_:]*\n" +
				"a.yaml:7:154: metadata.annotations.slod.dev/runbook-url: must be an absolute URL such as https://runbooks.example/slo, got \"/rb\"\n" +
				"a.yaml:9:16: spec.description: must be at most 1050 characters, got 1051\n" +
				"a.yaml:11:17: spec.indicatorRef: no SLI named \"s\" in the files read (none is defined)"},
		{"v1alpha as Sloth reads it, and what it refuses", map[string]string{"a.yaml": `apiVersion: openslo/v1alpha
kind: SLO
metadata: {name: a}
spec:
  service: shop
  budgetingMethod: Timeslices
  timeWindows: [{unit: Year, count: 1}]
  objectives:
    - ratioMetrics:
        good: {source: datadog, queryType: promql, query: x}
        total: {source: prometheus, queryType: metricsql, query: x}
      target: 0.99
    - target: 0.9
      timeSliceTarget: 0.9
`},
			"a.yaml:7:24: spec.timeWindows[0].unit: must be one of Second, Day, Week, Month, Quarter, got \"Year\"\n" +
				"a.yaml:9:7: spec.objectives[0]: timeSliceTarget is required with Timeslices: the share of a slice that must be good for the slice to be\n" +
				"a.yaml:10:24: spec.objectives[0].ratioMetrics.good.source: source datadog: slod queries Prometheus (source: prometheus)\n" +
				"a.yaml:11:48: spec.objectives[0].ratioMetrics.total.queryType: must be promql, got \"metricsql\"\n" +
				"a.yaml:13:7: spec.objectives[1]: needs ratioMetrics (good and total), or the SLO an indicator"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := report(readFiles(t, tc.files))
			if got != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
			if strings.TrimSpace(got) == "" {
				t.Error("no problem reported")
			}
		})
	}
}
