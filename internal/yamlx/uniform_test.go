package yamlx_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/slod-dev/slod/internal/config"
	"github.com/slod-dev/slod/internal/rules"
	"github.com/slod-dev/slod/internal/unittest"
	"github.com/slod-dev/slod/internal/yamlx"
)

// The three kinds of file, each with one spot to make a mistake in: %s.
const (
	sloFile = `version: slod/v1
service: shop
slos:
  - name: a
    objective: 99
    sli: {events: {error_query: 'sum(rate(e[{{.window}}]))', total_query: 'sum(rate(t[{{.window}}]))'}}
    %s
`
	testFile = `rule_files: [r.yaml]
tests:
  - name: t
    budget_test:
      - {eval_time: 1m, slo: a/b, exp_budget_remaining: 1}
    %s
`
	configFile = `prometheus: {url: http://p}
rules: [r]
%s
`
)

// TestSameMistakeSameMessage makes the same mistakes in an SLO file, a test file and the daemon
// config, and requires the same message from all three, at a file:line:col and naming the field.
func TestSameMistakeSameMessage(t *testing.T) {
	cases := []struct {
		name              string
		slo, test, config string
		want              string
	}{
		{"bad duration", "window: 5 minutes", "interval: 5 minutes", "evaluation: {interval: 5 minutes}",
			`invalid duration "5 minutes": use a Prometheus duration such as 5m, 1h or 30d`},
		{"list where a mapping goes", "labels: [a, b]", "input_series: [[a, b]]", "web: [a, b]",
			"must be a mapping, got a list"},
		{"mapping where a list goes", "alerting: {windows: {a: b}}", "input_series: {a: b}", "routes: {a: b}",
			"must be a list, got a mapping"},
		{"null where a string goes", "description:", "input_series: [{series: , values: '1'}]", "web: {external_url: }",
			"must be a string, got null"},
		{"duplicate key", "labels: {a: b, a: c}", "interval: 1m\n    interval: 2m", "web: {}\nweb: {}",
			"duplicate field (first set at line %d)"},
		{"merge of a scalar", "labels: {<<: x}", "alert_test: [{<<: x}]", "web: {<<: x}",
			`a merge key (<<) must refer to a mapping, got "x"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			check := func(kind string, err error, want string) {
				t.Helper()
				var errs yamlx.Errors
				if !errors.As(err, &errs) {
					t.Fatalf("%s: error %v is not an Errors", kind, err)
				}
				for _, d := range errs {
					if d.Message == want && d.Pos.Line > 0 && d.Pos.Col > 0 && d.Field != "" {
						return
					}
				}
				t.Errorf("%s: no %q at a position with a field, among:\n%v", kind, want, err)
			}
			want := func(line int) string {
				if tc.want == "duplicate field (first set at line %d)" {
					return fmt.Sprintf(tc.want, line)
				}
				return tc.want
			}
			_, _, err := rules.Parse("f.yaml", fmt.Appendf(nil, sloFile, tc.slo))
			check("SLO file", err, want(7))
			_, err = unittest.Decode("f.yaml", fmt.Appendf(nil, testFile, tc.test))
			check("test file", err, want(6))
			_, err = config.Parse("f.yaml", fmt.Appendf(nil, configFile, tc.config))
			check("config", err, want(3))
		})
	}
}
