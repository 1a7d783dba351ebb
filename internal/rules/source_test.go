package rules

import (
	"strings"
	"testing"
)

func TestSLOSource(t *testing.T) {
	file := `version: slod/v1
service: chat-api
slos:
  # the first SLO
  - name: availability
    objective: 99.9
    sli:
      events:
        error_query: |
          sum(rate(errors_total[{{.window}}]))
        total_query: sum(rate(requests_total[{{.window}}]))

  # the second SLO, with a comment that belongs to it
  - name: latency
    objective: 95
    sli:
      latency: {histogram: 'req_seconds{job="chat"}', threshold: 1}
    # trailing comment inside

labels: {team: chat}
`
	slos, _, err := Parse("chat.yaml", []byte(file))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"availability": `  - name: availability
    objective: 99.9
    sli:
      events:
        error_query: |
          sum(rate(errors_total[{{.window}}]))
        total_query: sum(rate(requests_total[{{.window}}]))`,
		"latency": `  - name: latency
    objective: 95
    sli:
      latency: {histogram: 'req_seconds{job="chat"}', threshold: 1}`,
	}
	for _, s := range slos {
		if s.Source != want[s.Name] {
			t.Errorf("%s: Source =\n%s\nwant\n%s", s.Name, s.Source, want[s.Name])
		}
	}

	flow := "version: slod/v1\nservice: s\nslos: [{name: a, objective: 99, sli: {events: {error_query: 'sum(rate(e[{{.window}}]))', total_query: 'sum(rate(t[{{.window}}]))'}}}]\n"
	slos, _, err = Parse("flow.yaml", []byte(flow))
	if err != nil {
		t.Fatal(err)
	}
	if got := slos[0].Source; got != "slos: [{name: a, objective: 99, sli: {events: {error_query: 'sum(rate(e[{{.window}}]))', total_query: 'sum(rate(t[{{.window}}]))'}}}]" {
		t.Errorf("flow style: Source = %q, want its line", got)
	}
}

func TestRunbookAnnotation(t *testing.T) {
	sloth := `version: prometheus/v1
service: shop
slos:
  - name: cart
    objective: 99
    sli:
      events:
        error_query: sum(rate(cart_total{result="error"}[{{.window}}]))
        total_query: sum(rate(cart_total[{{.window}}]))
    alerting:
      annotations: {runbook_url: "https://runbooks.example/shop/cart"}
      page_alert: {}
      ticket_alert: {}
  - name: checkout
    objective: 99
    sli:
      events:
        error_query: sum(rate(co_total{result="error"}[{{.window}}]))
        total_query: sum(rate(co_total[{{.window}}]))
    alerting:
      annotations: {runbook_url: "wiki/checkout"}
      page_alert: {}
      ticket_alert: {}
`
	slos, warns, err := Parse("shop.yaml", []byte(sloth))
	if err != nil {
		t.Fatal(err)
	}
	if got := slos[0].Alerting.RunbookURL; got != "https://runbooks.example/shop/cart" {
		t.Errorf("runbook_url annotation: RunbookURL = %q", got)
	}
	if got := slos[1].Alerting.RunbookURL; got != "" || len(warns) != 1 || !strings.Contains(warns[0].Warning(), "slos[1].alerting.annotations.runbook_url") {
		t.Errorf("relative runbook_url annotation: RunbookURL = %q, warnings %v", got, warns)
	}
	v1 := `version: slod/v1
service: shop
slos:
  - name: cart
    objective: 99
    sli:
      events:
        error_query: sum(rate(cart_total{result="error"}[{{.window}}]))
        total_query: sum(rate(cart_total[{{.window}}]))
    alerting:
      runbook_url: https://runbooks.example/own
      annotations: {runbook_url: "https://runbooks.example/annotation"}
`
	slos, _, err = Parse("v1.yaml", []byte(v1))
	if err != nil {
		t.Fatal(err)
	}
	if got := slos[0].Alerting.RunbookURL; got != "https://runbooks.example/own" {
		t.Errorf("alerting.runbook_url and the annotation: RunbookURL = %q, want alerting.runbook_url", got)
	}
}
