package sli

import (
	"testing"

	"github.com/slod-dev/slod/internal/rules"
)

// TestAdditive: which SLIs add up across steps (coarse backfill, bridged gaps).
func TestAdditive(t *testing.T) {
	cases := []struct {
		name          string
		errQ, totalQ  string
		ok, perSecond bool
	}{
		{"rate", `sum(rate(r{code="5"}[{{.window}}]))`, `sum(rate(r[{{.window}}]))`, true, true},
		{"increase", `sum(increase(r{code="5"}[{{.window}}]))`, `sum(increase(r[{{.window}}]))`, true, false},
		{"mixed", `sum(increase(r{code="5"}[{{.window}}]))`, `sum(rate(r[{{.window}}]))`, false, false},
		{"other range function", `sum(rate(r{code="5"}[{{.window}}]))`, `sum(avg_over_time(g[{{.window}}]))`, false, false},
		{"subquery", `sum(rate(r{code="5"}[{{.window}}]))`, `max_over_time(sum(rate(r[1m]))[{{.window}}:1m])`, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			slo := &rules.SLO{SLI: rules.SLI{Kind: rules.EventsSLI, ErrorQuery: tc.errQ, TotalQuery: tc.totalQ}}
			ok, ps := Additive(slo)
			if ok != tc.ok || (ok && ps != tc.perSecond) {
				t.Errorf("got ok=%v perSecond=%v, want %v %v", ok, ps, tc.ok, tc.perSecond)
			}
		})
	}
	for _, k := range []rules.SLIKind{rules.TimesliceSLI, rules.RatioSLI} {
		if ok, _ := Additive(&rules.SLO{SLI: rules.SLI{Kind: k}}); ok {
			t.Errorf("%s SLIs backfilled coarsely", k)
		}
	}
}
