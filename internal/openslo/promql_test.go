package openslo

import (
	"strings"
	"testing"
	"time"

	"github.com/slod-dev/slod/internal/yamlx"
)

// TestCounterQuery: the queries of counters become queries of each step's events, and only those
// whose increase adds up (sums, differences, scaling) are accepted.
func TestCounterQuery(t *testing.T) {
	for q, want := range map[string]string{
		`http_requests_total{code=~"5.."}`:        `rate(http_requests_total{code=~"5.."}[{{.window}}])`,
		`sum(a{job="x"})`:                         `sum(rate(a{job="x"}[{{.window}}]))`,
		`sum by (model) (a) - sum by (model) (b)`: `sum by (model) (rate(a[{{.window}}])) - sum by (model) (rate(b[{{.window}}]))`,
		`(a + b) * 2`:                             `(rate(a[{{.window}}]) + rate(b[{{.window}}])) * 2`,
		`1000 * sum without (pod) (a) / 60`:       `1000 * sum without (pod) (rate(a[{{.window}}])) / 60`,
		`max(a)`:                                  "not through max()",
		`rate(a[5m])`:                             "not through rate()",
		`a + 1`:                                   "not through a number added to it",
		`a / b`:                                   "not through the operator /",
		`a offset 5m`:                             "not through offset or @ (on a)",
		`a > bool 1`:                              "not through a comparison",
		`sum(max_over_time(a[5m:1m]))`:            "not through max_over_time()",
		`sum(avg_over_time(a[{{.window}}]))`:      "not through avg_over_time()",
	} {
		d := yamlx.Parse("f.yaml", []byte("q: x\n"), yamlx.Kind{})
		expr, ok := parseQuery(Loc{d, "q"}, q)
		if !ok {
			t.Fatalf("%s: %v", q, d.Errors())
		}
		got, ok := counterQuery(Loc{d, "q"}, expr)
		if ok != !strings.HasPrefix(want, "not") {
			t.Errorf("%s: ok = %v (%v)", q, ok, d.Errors())
			continue
		}
		if ok && got != want {
			t.Errorf("%s: %s, want %s", q, got, want)
		}
		if !ok && !strings.Contains(d.Errors().Error(), want) {
			t.Errorf("%s: %v, want it to say %q", q, d.Errors(), want)
		}
	}
}

// TestParseQueryPositions: a problem inside a query is reported at its character, {{.window}}s
// before it included (they are parsed as durations of their own length).
func TestParseQueryPositions(t *testing.T) {
	src := "q: 'sum(rate(a[{{ .window }}])) + sum(rate(b[{{.window}}])) +'\n"
	d := yamlx.Parse("f.yaml", []byte(src), yamlx.Kind{})
	var v struct {
		Q string `yaml:"q"`
	}
	d.Decode(&v)
	if _, ok := parseQuery(Loc{d, "q"}, v.Q); ok {
		t.Fatal("parsed")
	}
	if got := d.Errors().Error(); !strings.HasPrefix(got, "f.yaml:1:62: q: invalid PromQL:") {
		t.Errorf("%s, want it just after the end of the query, 1:62", got)
	}
}

func TestObjectiveNames(t *testing.T) {
	s := func(v string) *string { return &v }
	for _, tc := range []struct {
		display []*string
		want    string
	}{
		{[]*string{s("Anything")}, "a"},
		{[]*string{s("Foo Total Errors"), nil, s("p99 < 2s!"), s("Foo total errors"), s("--")}, "a-foo-total-errors a-1 a-p99-2s a-3 a-4"},
		{[]*string{s("1"), nil}, "a-1 a-1-1"},
	} {
		if got := strings.Join(objectiveNames("a", tc.display), " "); got != tc.want {
			t.Errorf("%v: %s, want %s", tc.display, got, tc.want)
		}
	}
}

func TestShorthand(t *testing.T) {
	for text, want := range map[string]time.Duration{
		"5m": 5 * time.Minute, "1h": time.Hour, "28d": 28 * 24 * time.Hour, "2w": 14 * 24 * time.Hour,
		"1M": 30 * 24 * time.Hour, "1Q": 90 * 24 * time.Hour, "1Y": 365 * 24 * time.Hour, "0m": 0,
	} {
		if got, _, err := parseShorthand(text); err != nil || got != want {
			t.Errorf("%s: %s, %v; want %s", text, got, err, want)
		}
	}
	for _, bad := range []string{"1", "5s", "1.5h", "-1h", "1 h", "1d2h", "99999999999999Y"} {
		if _, _, err := parseShorthand(bad); err == nil {
			t.Errorf("%s parsed", bad)
		}
	}
}
