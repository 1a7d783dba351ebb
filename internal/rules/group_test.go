package rules

import (
	"slices"
	"strings"
	"testing"
)

func TestGroupBy(t *testing.T) {
	const head = "version: slod/v1\nservice: gw\nslos:\n  - name: avail\n    objective: 99.9\n"
	events := func(e, tot string) string {
		return "    sli:\n      events:\n        error_query: " + e + "\n        total_query: " + tot + "\n"
	}
	byModel := events(`sum by (model) (rate(req_total{code="500"}[{{.window}}]))`, `sum by (model) (rate(req_total[{{.window}}]))`)
	cases := []struct {
		name, body string
		group      []string
		maxGroups  int
		errs       []string
	}{
		{"events", "    group_by: [model]\n" + byModel, []string{"model"}, DefaultMaxGroups, nil},
		{"max_groups", "    group_by: [model]\n    max_groups: 20\n" + byModel, []string{"model"}, 20, nil},
		{"two labels sorted", "    group_by: [region, model]\n" + events(`sum by (model, region) (rate(a[{{.window}}]))`, `sum by (region, model) (rate(b[{{.window}}]))`),
			[]string{"model", "region"}, DefaultMaxGroups, nil},
		{"no aggregation keeps labels", "    group_by: [model]\n" + events(`rate(a[{{.window}}])`, `rate(b[{{.window}}])`), []string{"model"}, DefaultMaxGroups, nil},
		{"latency", "    group_by: [model]\n    sli:\n      latency: {histogram: 'lat_seconds{job=\"gw\"}', threshold: 1}\n", []string{"model"}, DefaultMaxGroups, nil},
		{"summed away", "    group_by: [model]\n" + events(`sum(rate(a[{{.window}}]))`, `sum by (model) (rate(b[{{.window}}]))`), nil, 0,
			[]string{`gw.yaml:9:22: slos[0].sli.events.error_query: drops the group_by label "model" (its sum keeps no label)`}},
		{"by other labels", "    group_by: [model]\n" + events(`sum by (model) (rate(a[{{.window}}]))`, `sum by (code) (rate(b[{{.window}}]))`), nil, 0,
			[]string{`total_query: drops the group_by label "model" (its sum by (code) keeps only those)`}},
		{"without", "    group_by: [model]\n" + events(`sum without (model) (rate(a[{{.window}}]))`, `sum by (model) (rate(b[{{.window}}]))`), nil, 0,
			[]string{`error_query: drops the group_by label "model" (its sum without (...) removes it)`}},
		{"ratio of sums", "    group_by: [model]\n" + events(`sum by (model) (rate(a[{{.window}}])) / sum(rate(b[{{.window}}]))`, `sum by (model) (rate(b[{{.window}}]))`), nil, 0,
			[]string{`error_query: drops the group_by label "model"`}},
		{"reserved", "    group_by: [severity]\n" + byModel, nil, 0, []string{`slos[0].group_by[0]: "severity" is a label slod sets`}},
		{"twice", "    group_by: [model, model]\n" + byModel, nil, 0, []string{`group_by[1]: label "model" is listed twice`}},
		{"empty", "    group_by: []\n" + byModel, nil, 0, []string{`group_by: must list at least one label`}},
		{"max_groups alone", "    max_groups: 3\n" + byModel, nil, 0, []string{`max_groups: only applies to an SLO with group_by`}},
		{"max_groups zero", "    group_by: [model]\n    max_groups: 0\n" + byModel, nil, 0, []string{`max_groups: must be a positive number of groups, got 0`}},
		{"also an SLO label", "    labels: {model: all}\n    group_by: [model]\n" + byModel, nil, 0, []string{`"model" is also one of the SLO's labels`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			slos, _, err := Parse("gw.yaml", []byte(head+c.body))
			if len(c.errs) > 0 {
				if err == nil {
					t.Fatalf("no error, want %q", c.errs)
				}
				for _, e := range c.errs {
					if !strings.Contains(err.Error(), e) {
						t.Errorf("error\n%v\nwant one containing %q", err, e)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(slos[0].GroupBy, c.group) || slos[0].MaxGroups != c.maxGroups {
				t.Errorf("group_by %v max %d, want %v %d", slos[0].GroupBy, slos[0].MaxGroups, c.group, c.maxGroups)
			}
		})
	}
}

// TestSlothGroups: a Sloth SLO whose queries aggregate by labels is grouped by them, as Sloth's
// recording rules keep them.
func TestSlothGroups(t *testing.T) {
	const file = `version: "prometheus/v1"
service: gw
slos:
  - name: by-model
    objective: 99.9
    sli:
      events:
        error_query: sum by (model) (rate(req_total{code="500"}[{{.window}}]))
        total_query: sum by (model) (rate(req_total[{{.window}}]))
    alerting: {name: GW, page_alert: {disable: true}, ticket_alert: {disable: true}}
  - name: raw
    objective: 99
    sli:
      raw:
        error_ratio_query: sum by (model) (rate(a[{{.window}}])) / sum by (model) (rate(b[{{.window}}]))
    alerting: {name: GW, page_alert: {disable: true}, ticket_alert: {disable: true}}
  - name: total
    objective: 99
    sli:
      events:
        error_query: sum(rate(req_total{code="500"}[{{.window}}]))
        total_query: sum(rate(req_total[{{.window}}]))
    alerting: {name: GW, page_alert: {disable: true}, ticket_alert: {disable: true}}
`
	slos, _, err := Parse("gw.yaml", []byte(file))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range [][]string{{"model"}, {"model"}, nil} {
		if !slices.Equal(slos[i].GroupBy, want) {
			t.Errorf("%s: grouped by %v, want %v", slos[i].Name, slos[i].GroupBy, want)
		}
	}
}

func TestGroupKeyRoundTrip(t *testing.T) {
	for _, labels := range []map[string]string{{"model": "m2"}, {"model": `a"b,c=}`, "region": "eu-1"}, {"x": ""}} {
		key := GroupKey(labels)
		got, ok := ParseGroupKey(key)
		if !ok || len(got) != len(labels) {
			t.Fatalf("%s: %v %v", key, got, ok)
		}
		for k, v := range labels {
			if got[k] != v {
				t.Errorf("%s: %s=%q, want %q", key, k, got[k], v)
			}
		}
	}
	for _, bad := range []string{"", "{}", "model=\"m\"", "{model=m}", "{model=\"m\"", "{model=\"m\"x}", "{1=\"m\"}"} {
		if _, ok := ParseGroupKey(bad); ok {
			t.Errorf("%q parsed as a group key", bad)
		}
	}
}
