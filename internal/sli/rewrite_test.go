package sli

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/<path>, or writes it there with -update.
func golden(t *testing.T, path, got string) {
	t.Helper()
	path = filepath.Join("testdata", path)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run with -update to create it): %v", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run with -update after checking):\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// rewriteCases are the SLI queries of the golden-file tests.
var rewriteCases = []struct {
	name     string
	query    string
	window   time.Duration
	lookback time.Duration
}{
	{"rate_sum", `sum(rate(http_requests_total{job="chat-api",code=~"5.."}[{{.window}}]))`, time.Minute, 10 * time.Minute},
	{"increase_spaces", `sum by (code) (increase(x_total[{{ .window }}]))`, time.Minute, 10 * time.Minute},
	{"irate_30s", `irate(x_total[{{.window}}])`, 30 * time.Second, 5 * time.Minute},
	{"offset", `rate(x_total{a="b"}[{{.window}}] offset 5m)`, time.Minute, 10 * time.Minute},
	{"avg_over_time", `avg_over_time(up{job="a"}[{{.window}}]) < 0.9`, 2 * time.Minute, 10 * time.Minute},
	{"subquery", `max_over_time(rate(x_total[5m])[{{.window}}:30s])`, time.Minute, 10 * time.Minute},
	{"sloth_ratio", `(sum(rate(http_request_duration_seconds_count{job="myservice",code=~"(5..|429)"}[{{.window}}])))
/
(sum(rate(http_request_duration_seconds_count{job="myservice"}[{{.window}}])))`, time.Minute, 10 * time.Minute},
	{"no_placeholder", `max(container_memory_working_set_bytes) / max(container_spec_memory_limit_bytes)`, time.Minute, 10 * time.Minute},
	{"rate_5m_untouched", `rate(x_total[5m]) + rate(x_total[{{.window}}])`, time.Minute, 10 * time.Minute},
	{"rate_under_subquery", `max_over_time(sum(rate(x_total[{{.window}}]))[5m:30s]) + sum(increase(y_total[{{.window}}]))`, time.Minute, 10 * time.Minute},
}

func TestRewrite(t *testing.T) {
	cases := rewriteCases
	forms := []struct {
		dir     string
		rewrite func(string, time.Duration, time.Duration) (string, error)
	}{
		{"rewrite", Rewrite},
		{"rewrite_subquery", RewriteSubquery},
	}
	for _, f := range forms {
		for _, c := range cases {
			t.Run(f.dir+"/"+c.name, func(t *testing.T) {
				got, err := f.rewrite(c.query, c.window, c.lookback)
				if err != nil {
					t.Fatal(err)
				}
				if strings.Contains(got, "{{") {
					t.Errorf("placeholder left in %q", got)
				}
				golden(t, filepath.Join(f.dir, c.name+".promql"), got+"\n")
			})
		}
	}
}

// TestSimplifySubquery runs SimplifySubquery over the subquery form of rewriteCases with every
// selector clean: the simpler query and its lookback, or nothing where the query has no step
// difference or a vector selector of its own.
func TestSimplifySubquery(t *testing.T) {
	want := map[string]string{
		"rate_sum":            "10m0s " + `sum(((irate(http_requests_total{code=~"5..",job="chat-api"}[1m30s:1m])) and count_over_time(http_requests_total{code=~"5..",job="chat-api"}[1m])))`,
		"increase_spaces":     "10m0s " + `sum by (code) (((irate((x_total * 60)[1m30s:1m])) and count_over_time(x_total[1m])))`,
		"irate_30s":           "5m0s " + `((irate(x_total[45s:30s])) and count_over_time(x_total[30s]))`,
		"offset":              "10m0s " + `((irate(x_total{a="b"} offset 5m[1m30s:1m])) and count_over_time(x_total{a="b"}[1m] offset 5m))`,
		"avg_over_time":       "",
		"subquery":            "",
		"sloth_ratio":         "10m0s " + `(sum(((irate(http_request_duration_seconds_count{code=~"(5..|429)",job="myservice"}[1m30s:1m])) and count_over_time(http_request_duration_seconds_count{code=~"(5..|429)",job="myservice"}[1m])))) / (sum(((irate(http_request_duration_seconds_count{job="myservice"}[1m30s:1m])) and count_over_time(http_request_duration_seconds_count{job="myservice"}[1m]))))`,
		"no_placeholder":      "",
		"rate_5m_untouched":   "10m0s " + `rate(x_total[5m]) + ((irate(x_total[1m30s:1m])) and count_over_time(x_total[1m]))`,
		"rate_under_subquery": "10m0s " + `max_over_time(sum((((last_over_time(x_total[1m]) - last_over_time(x_total[10m] offset 1m)) >= 0 or (last_over_time(x_total[1m]) and (last_over_time(x_total[10m] offset 1m) > last_over_time(x_total[1m])))) / 60))[5m:30s]) + sum(((irate((y_total * 60)[1m30s:1m])) and count_over_time(y_total[1m])))`,
	}
	clean := func([]*labels.Matcher, float64) (bool, bool) { return true, true }
	for _, c := range rewriteCases {
		t.Run(c.name, func(t *testing.T) {
			q, err := RewriteSubquery(c.query, c.window, c.lookback)
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if simpler, lookback, ok := SimplifySubquery(q, clean); ok {
				got = lookback.String() + " " + simpler
			}
			if w, ok := want[c.name]; !ok || got != w {
				t.Errorf("got %q, want %q", got, w)
			}
		})
	}
}

// TestSimplifySubqueryDeclines: the cases where the query must run as it is.
func TestSimplifySubqueryDeclines(t *testing.T) {
	sel := func(name string) string { return `last_over_time(` + name + `[10m])` }
	diff := func(name string) string { return `(irate(` + sel(name) + `[1m30s:1m]) >= 0)` }
	cases := []struct {
		name, query string
		stale       string // the metric whose series hold a staleness marker
	}{
		{"stale", `sum(` + diff("a") + `) / sum(` + diff("b") + `)`, "b"},
		{"lookbacks_differ", `sum(` + diff("a") + `) / sum((irate(last_over_time(b[5m])[1m30s:1m]) >= 0))`, ""},
		{"own_selector", `sum(` + diff("a") + `) / sum(b)`, ""},
		{"own_selector_in_subquery", diff("a") + ` + max_over_time(b[5m:1m])`, ""},
		{"info", `info(` + diff("a") + `)`, ""},
		{"no_difference", `sum(rate(a[5m]))`, ""},
		{"filter_bool", `(irate(` + sel("a") + `[1m30s:1m]) >= bool 0)`, ""},
		{"filter_other_bound", `(irate(` + sel("a") + `[1m30s:1m]) >= 1)`, ""},
		{"not_last_over_time", `(irate(max_over_time(a[10m])[1m30s:1m]) >= 0)`, ""},
		{"not_irate", `(rate(` + sel("a") + `[1m30s:1m]) >= 0)`, ""},
		{"scale_negative", `(irate((` + sel("a") + ` * -60)[1m30s:1m]) >= 0)`, ""},
		{"at_modifier", `(irate(last_over_time(a[10m] @ 100)[1m30s:1m]) >= 0)`, ""},
		{"subquery_offset", `(irate(` + sel("a") + `[1m30s:1m] offset 1m) >= 0)`, ""},
		{"parse_error", `sum(`, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clean := func(ms []*labels.Matcher, _ float64) (bool, bool) {
				for _, m := range ms {
					if m.Name == labels.MetricName && m.Value == c.stale {
						return false, false
					}
				}
				return true, true
			}
			if simpler, _, ok := SimplifySubquery(c.query, clean); ok {
				t.Errorf("simplified to %q", simpler)
			}
		})
	}
	// The scale of an increase difference reaches clean; an offset stays on the selector.
	var scales []float64
	simpler, lookback, ok := SimplifySubquery(`sum((irate((last_over_time(a[2m] offset 5m) * 30)[45s:30s]) >= 0))`,
		func(_ []*labels.Matcher, scale float64) (bool, bool) {
			scales = append(scales, scale)
			return true, true
		})
	if want := `sum((irate((a offset 5m * 30)[45s:30s])))`; !ok || simpler != want || lookback != 2*time.Minute || fmt.Sprint(scales) != "[30]" {
		t.Errorf("got %q, %s, %v (scales %v), want %q, 2m", simpler, lookback, ok, scales, want)
	}
	// Series with a NaN (or a negative value, an infinity) keep the filter, each difference as its
	// own series are.
	simpler, _, ok = SimplifySubquery(`sum(`+diff("a")+`) / sum(`+diff("b")+`)`, func(ms []*labels.Matcher, _ float64) (bool, bool) {
		return true, ms[0].Value != "b"
	})
	if want := `sum((irate(a[1m30s:1m]))) / sum((irate(b[1m30s:1m]) >= 0))`; !ok || simpler != want {
		t.Errorf("got %q, %v, want %q", simpler, ok, want)
	}
}

// TestPairRange: the subquery of the subquery form holds the grid points t-step and t and no
// other, with left-open and left-closed ranges alike: its range is above one step and below two.
func TestPairRange(t *testing.T) {
	for _, step := range []time.Duration{time.Millisecond, 2 * time.Millisecond, 3 * time.Millisecond, time.Second, 15 * time.Second, time.Minute, 5 * time.Minute, time.Hour} {
		r := pairRange(step)
		if r%time.Millisecond != 0 || r <= step || r > 2*step || (r == 2*step && step != time.Millisecond) {
			t.Errorf("pairRange(%s) = %s, want whole milliseconds in (step, 2×step)", step, r)
		}
	}
}

func TestRewriteErrors(t *testing.T) {
	cases := []struct {
		name, query, want string
	}{
		{"at_modifier", `rate(x[{{.window}}] @ 1700000000)`, "the @ modifier cannot be used with {{.window}}"},
		{"parse_error", `sum(rate(x[{{.window}}])`, "parsing \"sum(rate(x[{{.window}}])\""},
		{"placeholder_in_label", `rate(x{a="{{.window}}"}[{{.window}}])`, "{{.window}} is used where slod cannot substitute it"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, rewrite := range []func(string, time.Duration, time.Duration) (string, error){Rewrite, RewriteSubquery} {
				_, err := rewrite(c.query, time.Minute, 10*time.Minute)
				if err == nil || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("error %v, want one containing %q", err, c.want)
				}
			}
		})
	}
}

func TestLeRegex(t *testing.T) {
	cases := []struct {
		name      string
		threshold float64
		match     []string
		noMatch   []string
	}{
		{"0.3", 0.3, []string{"0.3", "0.30", "0.300", "3e-01", "3e-1", "3.0e-01", "3E-01", "3.00E-1"},
			[]string{"0.03", "0.31", "3", "30", "0.3e-01", "3e+01", "3e-02", "", "+Inf"}},
		{"1", 1, []string{"1", "1.0", "1.000", "1e+00", "1e0", "1.0e+00", "1E-0"},
			[]string{"10", "0.1", "1.01", "11", "1e+01", "1e-01"}},
		{"10", 10, []string{"10", "10.0", "1e+01", "1e1", "1.0e+01"},
			[]string{"1", "100", "1e+02", "10.01"}},
		{"0.25", 0.25, []string{"0.25", "0.250", "2.5e-01", "2.50e-1"},
			[]string{"0.2", "0.5", "25e-02", "2.5", "0.025"}},
		{"2.5", 2.5, []string{"2.5", "2.50", "2.5e+00"}, []string{"25", "0.25", "2.05"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			re, err := leRegex(c.threshold)
			if err != nil {
				t.Fatal(err)
			}
			m, err := labels.NewMatcher(labels.MatchRegexp, "le", re)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range c.match {
				if !m.Matches(s) {
					t.Errorf("le=~%q does not match %q", re, s)
				}
			}
			for _, s := range c.noMatch {
				if m.Matches(s) {
					t.Errorf("le=~%q matches %q", re, s)
				}
			}
		})
	}
}

func TestLeRegexRejects(t *testing.T) {
	for _, v := range []float64{0, -1} {
		if _, err := leRegex(v); err == nil {
			t.Errorf("leRegex(%v) accepted", v)
		}
	}
}

func TestAlign(t *testing.T) {
	cases := []struct {
		name string
		t    time.Time
		step time.Duration
		want time.Time
	}{
		{"on_grid", time.Unix(1700000040, 0), time.Minute, time.Unix(1700000040, 0)},
		{"floor", time.Unix(1700000059, 999e6), time.Minute, time.Unix(1700000040, 0)},
		{"30s", time.Unix(1700000029, 0), 30 * time.Second, time.Unix(1700000010, 0)},
		{"before_epoch", time.Unix(-1, 0), time.Minute, time.Unix(-60, 0)},
		{"hour", time.Date(2026, 10, 1, 12, 34, 56, 0, time.UTC), time.Hour, time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Align(c.t, c.step); !got.Equal(c.want) {
				t.Errorf("Align(%s, %s) = %s, want %s", c.t, c.step, got, c.want)
			}
		})
	}
}

// TestRewriteTrimMarkers: {{- .window -}}, which rules validates, is the same placeholder as
// {{.window}} (it was left in the query, which Prometheus then refused).
func TestRewriteTrimMarkers(t *testing.T) {
	want, err := Rewrite(`sum(rate(req_total[{{.window}}]))`, time.Minute, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`sum(rate(req_total[{{- .window -}}]))`, `sum(rate(req_total[{{ .window }}]))`} {
		if got, err := Rewrite(q, time.Minute, 10*time.Minute); err != nil || got != want {
			t.Errorf("Rewrite(%s) = %q, %v; want %q", q, got, err, want)
		}
	}
}
