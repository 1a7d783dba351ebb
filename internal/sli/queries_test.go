package sli

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/slod-dev/slod/internal/rules"
)

func events(errQ, totalQ string) *rules.SLO {
	return &rules.SLO{Service: "svc", Name: "events", SLI: rules.SLI{Kind: rules.EventsSLI, ErrorQuery: errQ, TotalQuery: totalQ}}
}

func latency(hist string, threshold float64) *rules.SLO {
	return &rules.SLO{Service: "svc", Name: "latency", SLI: rules.SLI{Kind: rules.LatencySLI, Histogram: hist, Threshold: threshold}}
}

func timeslice(query string, op rules.CompareOp, threshold float64, slice time.Duration) *rules.SLO {
	return &rules.SLO{Service: "svc", Name: "slice", SLI: rules.SLI{Kind: rules.TimesliceSLI, Query: query, Op: op, Threshold: threshold, Slice: slice}}
}

func ratio(query string) *rules.SLO {
	return &rules.SLO{Service: "svc", Name: "ratio", SLI: rules.SLI{Kind: rules.RatioSLI, ErrorRatioQuery: query}}
}

func TestBuildQueries(t *testing.T) {
	cases := []struct {
		name string
		slo  *rules.SLO
		opt  Options
	}{
		{"events", events(`sum(rate(req_total{code=~"5.."}[{{.window}}]))`, `sum(rate(req_total[{{.window}}]))`), Options{}},
		{"latency", latency(`http_request_duration_seconds{job="chat-api",handler!="/health"}`, 0.3), Options{}},
		{"latency_30s_step", latency(`rpc_seconds`, 1), Options{Step: 30 * time.Second, Lookback: 5 * time.Minute}},
		{"timeslice_5m", timeslice(`avg_over_time(up{job="db"}[{{.window}}])`, rules.OpGTE, 0.9, 5*time.Minute), Options{}},
		{"timeslice_default_slice", timeslice(`max(mem_used) / max(mem_limit)`, rules.OpLTE, 0.9, 0), Options{}},
		{"ratio", ratio(`sum(rate(req_total{code=~"5.."}[{{.window}}])) / sum(rate(req_total[{{.window}}]))`), Options{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q, err := BuildQueries(c.slo, c.opt)
			if err != nil {
				t.Fatal(err)
			}
			got := "bad: " + q.Bad + "\ntotal: " + q.Total + "\nvalue: " + q.Value + "\n"
			golden(t, filepath.Join("queries", c.name+".txt"), got)
		})
	}
}

func TestBuildQueriesErrors(t *testing.T) {
	cases := []struct {
		name string
		slo  *rules.SLO
		opt  Options
		want string
	}{
		{"slice_not_multiple", timeslice(`up`, rules.OpGT, 0, 90*time.Second), Options{}, "time slice 1m30s must be a positive multiple of the step 1m0s"},
		{"lookback_below_step", events(`a`, `b`), Options{Step: time.Minute, Lookback: 30 * time.Second}, "lookback 30s must be a multiple of 1ms and at least the step 1m0s"},
		{"histogram_with_le", latency(`h{le="0.3"}`, 0.3), Options{}, `must not match on "le"`},
		{"histogram_not_selector", latency(`sum(h)`, 0.3), Options{}, "must be a metric name with optional matchers"},
		{"threshold_zero", latency(`h`, 0), Options{}, "must be a positive finite number"},
		{"missing_total", events(`a`, ``), Options{}, "needs both error_query and total_query"},
		{"unknown_kind", &rules.SLO{Service: "s", Name: "n", SLI: rules.SLI{Kind: "bogus"}}, Options{}, `unknown SLI kind "bogus"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := BuildQueries(c.slo, c.opt)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
			if !strings.HasPrefix(err.Error(), "SLO "+c.slo.ID()+": ") {
				t.Errorf("error %q does not name the SLO", err)
			}
		})
	}
}

func TestSelectors(t *testing.T) {
	cases := []struct {
		name string
		slo  *rules.SLO
		want []string
	}{
		{"events_dedup", events(`sum(rate(req_total{code=~"5.."}[{{.window}}] offset 1m))`, `sum(rate(req_total[{{.window}}])) + sum(rate(req_total[{{.window}}]))`),
			[]string{`req_total`, `req_total{code=~"5.."}`}},
		{"latency", latency(`h_seconds{job="a"}`, 0.5),
			[]string{`h_seconds_bucket{job="a",le=~"0\\.50*|5(?:\\.0*)?[eE]-0*1"}`, `h_seconds_count{job="a"}`}},
		{"timeslice", timeslice(`max(mem{c="x"}) / max(limit{c="x"})`, rules.OpLT, 1, 0), []string{`limit{c="x"}`, `mem{c="x"}`}},
		{"ratio", ratio(`sum(rate(e[{{.window}}])) / sum(rate(t[{{.window}}]))`), []string{`e`, `t`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Selectors(c.slo)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("Selectors = %q, want %q", got, c.want)
			}
		})
	}
}
