package rules

import "testing"

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
