package sli_test

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/slod-dev/slod/internal/recorded"
	"github.com/slod-dev/slod/internal/rules"
	"github.com/slod-dev/slod/internal/sli"
)

// groupedDB holds per-model request counters (models m1..m3, m3 appearing at minute 20, m2 with a
// scrape gap) and a latency histogram per model.
func groupedDB(t *testing.T) *recorded.DB {
	t.Helper()
	db := recorded.NewDB()
	for i, model := range []string{"m1", "m2", "m3"} {
		from := 0
		if model == "m3" {
			from = 80 // 20 minutes of 15 s scrapes
		}
		ok := scrape(7*time.Second, 15*time.Second, 240, func(j int) float64 { return float64(j * (10 + i)) })
		bad := scrape(7*time.Second, 15*time.Second, 240, func(j int) float64 { return float64(j * i) })
		le := scrape(7*time.Second, 15*time.Second, 240, func(j int) float64 { return float64(j * 9) })
		cut := func(ss []sample) []sample {
			var out []sample
			for j, s := range ss[from:] {
				if model == "m2" && j >= 100 && j < 112 {
					continue
				}
				out = append(out, s)
			}
			return out
		}
		add(t, db, labels.FromStrings("__name__", "req_total", "model", model, "code", "200"), cut(ok))
		if i > 0 {
			add(t, db, labels.FromStrings("__name__", "req_total", "model", model, "code", "500"), cut(bad))
		}
		add(t, db, labels.FromStrings("__name__", "lat_seconds_count", "model", model), cut(ok))
		add(t, db, labels.FromStrings("__name__", "lat_seconds_bucket", "model", model, "le", "0.5"), cut(le))
	}
	return db
}

// TestGroupsAreThePerGroupSLOs: each group of a grouped SLO has exactly the increments of the SLO
// written by hand for that group alone, for every SLI kind; a group exists from the first step its
// series have a value.
func TestGroupsAreThePerGroupSLOs(t *testing.T) {
	db := groupedDB(t)
	q := recorded.NewQuerier(db)
	kinds := map[string]func(sel string, by string) rules.SLI{
		"events": func(sel, by string) rules.SLI {
			return rules.SLI{Kind: rules.EventsSLI, ErrorQuery: `sum` + by + `(rate(req_total{code="500"` + sel + `}[{{.window}}]))`,
				TotalQuery: `sum` + by + `(rate(req_total{` + strings.TrimPrefix(sel, ",") + `}[{{.window}}]))`}
		},
		"latency": func(sel, by string) rules.SLI {
			return rules.SLI{Kind: rules.LatencySLI, Histogram: `lat_seconds{` + strings.TrimPrefix(sel, ",") + `}`, Threshold: 0.5}
		},
		"timeslice": func(sel, by string) rules.SLI {
			return rules.SLI{Kind: rules.TimesliceSLI, Query: `sum` + by + `(rate(req_total{code="500"` + sel + `}[{{.window}}]))`, Op: rules.OpLT, Threshold: 0.1}
		},
		"ratio": func(sel, by string) rules.SLI {
			return rules.SLI{Kind: rules.RatioSLI, ErrorRatioQuery: `sum` + by + `(rate(req_total{code="500"` + sel + `}[{{.window}}])) / sum` + by + `(rate(req_total{` + strings.TrimPrefix(sel, ",") + `}[{{.window}}]))`}
		},
	}
	start, end := base.Add(5*time.Minute), base.Add(59*time.Minute)
	for kind, sliOf := range kinds {
		t.Run(kind, func(t *testing.T) {
			grouped := &rules.SLO{Service: "gw", Name: kind, GroupBy: []string{"model"}, MaxGroups: 10, SLI: sliOf("", " by (model) ")}
			groups, err := sli.Groups(context.Background(), q, grouped, start, end, sli.Options{})
			if err != nil {
				t.Fatal(err)
			}
			var keys []string
			for _, g := range groups {
				keys = append(keys, g.Key)
			}
			want := []string{`{model="m1"}`, `{model="m2"}`, `{model="m3"}`}
			if kind == "timeslice" || kind == "ratio" {
				// Their one query reads the errors, of which m1 has no series: no group m1 (and
				// the SLO of m1 alone has no data either, below).
				want = want[1:]
			}
			if !slices.Equal(keys, want) {
				t.Fatalf("groups %v, want %v", keys, want)
			}
			m1 := &rules.SLO{Service: "gw", Name: kind, SLI: sliOf(`,model="m1"`, " ")}
			if kind == "timeslice" || kind == "ratio" {
				incs, err := sli.Increments(context.Background(), q, m1, start, end, sli.Options{})
				if err != nil {
					t.Fatal(err)
				}
				for _, inc := range incs {
					if !inc.Missing {
						t.Fatalf("m1 alone has data at %s: %+v", inc.End, inc)
					}
				}
			}
			for _, g := range groups {
				one := &rules.SLO{Service: "gw", Name: kind, SLI: sliOf(fmt.Sprintf(`,model=%q`, g.Labels["model"]), " ")}
				want, err := sli.Increments(context.Background(), q, one, start, end, sli.Options{})
				if err != nil {
					t.Fatal(err)
				}
				for i := range want {
					if w, got := want[i], g.Incs[i]; w.Missing != got.Missing || w.NoBad != got.NoBad ||
						math.Abs(w.Bad-got.Bad) > 1e-9 || math.Abs(w.Total-got.Total) > 1e-9 {
						t.Fatalf("group %s, step %s: %+v, the SLO of that group alone %+v", g.Key, w.End.Format("15:04"), got, w)
					}
				}
			}
		})
	}
}

// TestBridgeGroups: every group is bridged by one pair of queries.
func TestBridgeGroups(t *testing.T) {
	db := groupedDB(t)
	q := recorded.NewQuerier(db)
	slo := &rules.SLO{Service: "gw", Name: "e", GroupBy: []string{"model"}, MaxGroups: 10, SLI: rules.SLI{Kind: rules.EventsSLI,
		ErrorQuery: `sum by (model) (increase(req_total{code="500"}[{{.window}}]))`, TotalQuery: `sum by (model) (increase(req_total[{{.window}}]))`}}
	p, err := sli.Prepare(slo, q, sli.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// m2 has no samples from 25:07 to 27:52: bridged from 25:00, the step ending 29:00 gets the
	// growth from the last sample before the gap (24:52) to 28:52.
	groups, err := p.BridgeGroups(context.Background(), q, base.Add(29*time.Minute), base.Add(25*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(groups) != 3 || groups[1].Key != `{model="m2"}` || len(groups[1].Incs) != 1 {
		t.Fatalf("groups %+v", groups)
	}
	// m2 counts 11 good and 1 bad request a scrape.
	if got := groups[1].Incs[0]; got.Missing || got.Total != 12*(115-99) || got.Bad != 115-99 {
		t.Errorf("m2 bridged: %+v, want 16 of 192 bad (16 scrapes)", got)
	}
	if _, err := p.Bridge(context.Background(), q, base.Add(28*time.Minute), base.Add(25*time.Minute)); err == nil {
		t.Error("Bridge of a grouped SLO: no error")
	}
}

// An SLO whose GroupBy is empty but not nil (as a caller building a rules.SLO may write it) is an
// SLO without group_by, as everywhere else: one group, key "", even when the queries return
// nothing.
func TestEmptyGroupByIsUngrouped(t *testing.T) {
	db := recorded.NewDB()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, slo := range []*rules.SLO{
		{Service: "s", Name: "events", GroupBy: []string{}, SLI: rules.SLI{Kind: rules.EventsSLI,
			ErrorQuery: `sum(rate(none_total{code="500"}[{{.window}}]))`, TotalQuery: `sum(rate(none_total[{{.window}}]))`}},
		{Service: "s", Name: "slices", GroupBy: []string{}, SLI: rules.SLI{Kind: rules.TimesliceSLI,
			Query: `avg_over_time(none[{{.window}}])`, Op: "<", Threshold: 1, Slice: time.Minute}},
	} {
		groups, err := sli.Groups(context.Background(), recorded.NewQuerier(db), slo, start, start.Add(5*time.Minute), sli.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if len(groups) != 1 || groups[0].Key != "" || len(groups[0].Incs) != 6 || !groups[0].Incs[0].Missing {
			t.Errorf("%s: groups %+v, want one group of 6 steps without data", slo.Name, groups)
		}
	}
}
