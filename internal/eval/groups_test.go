package eval

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/slod-dev/slod/internal/burnrate"
	"github.com/slod-dev/slod/internal/recorded"
	"github.com/slod-dev/slod/internal/rules"
)

// modelsDB holds per-model request counters, one sample a minute: 600 requests a minute per model;
// m2 fails 20% of them from minute 61 to 90, m3 is not scraped from 100 to 129, m4 fails 2% from
// minute 30 to 180.
func modelsDB(t *testing.T, models []string, last int) *recorded.DB {
	t.Helper()
	db := recorded.NewDB()
	for _, model := range models {
		var ts []int64
		var ok, bad []float64
		okV, badV := 0.0, 0.0
		for m := 0; m <= last; m++ {
			if m > 0 {
				errs := 0.0
				switch {
				case model == "m2" && m >= 61 && m <= 90:
					errs = 120
				case model == "m4" && m >= 30:
					errs = 12
				}
				okV += 600 - errs
				badV += errs
			}
			if model == "m3" && m >= 100 && m < 130 {
				continue
			}
			ts = append(ts, minute(m).UnixMilli())
			ok, bad = append(ok, okV), append(bad, badV)
		}
		if err := db.Add(labels.FromStrings("__name__", "req_total", "model", model, "code", "200"), ts, ok); err != nil {
			t.Fatal(err)
		}
		if err := db.Add(labels.FromStrings("__name__", "req_total", "model", model, "code", "500"), ts, bad); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

const groupedPolicy = `
    alerting:
      windows:
        - {severity: page, long: 1h, short: 5m, burn_rate: 14.4}
        - {severity: ticket, long: 6h, short: 30m, burn_rate: 6}
      no_data: {after: 15m, severity: ticket}
`

// TestGroupsAreThePerModelSLOs: a grouped SLO over four models gives each model exactly the alerts
// and budget of the SLO written by hand for that model alone.
func TestGroupsAreThePerModelSLOs(t *testing.T) {
	models := []string{"m1", "m2", "m3", "m4"}
	db := modelsDB(t, models, 180)
	file := "version: slod/v1\nservice: gw\nslos:\n  - name: avail\n    objective: 99.9\n    group_by: [model]\n    sli:\n      events:\n" +
		"        error_query: sum by (model) (rate(req_total{code=\"500\"}[{{.window}}]))\n" +
		"        total_query: sum by (model) (rate(req_total[{{.window}}]))\n" + groupedPolicy
	for _, m := range models {
		file += fmt.Sprintf("  - name: avail-%s\n    objective: 99.9\n    sli:\n      events:\n", m) +
			fmt.Sprintf("        error_query: sum(rate(req_total{model=%q,code=\"500\"}[{{.window}}]))\n", m) +
			fmt.Sprintf("        total_query: sum(rate(req_total{model=%q}[{{.window}}]))\n", m) + groupedPolicy
	}
	slos, _, err := rules.Parse("gw.yaml", []byte(file))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Backtest(context.Background(), recorded.NewQuerier(db), slos, minute(1), minute(180), Options{Step: time.Minute, DataStart: t0}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 8 {
		t.Fatalf("%d results, want 4 groups and 4 SLOs", len(res))
	}
	fired := 0
	for i, m := range models {
		g, one := res[i], res[4+i]
		if g.SLO.Name != "avail" || g.Group["model"] != m || g.GroupKey != fmt.Sprintf("{model=%q}", m) || one.Group != nil {
			t.Fatalf("result %d: %s %v, result %d: %s %v", i, g.SLO.ID(), g.Group, 4+i, one.SLO.ID(), one.Group)
		}
		if !reflect.DeepEqual(g.Alerts, one.Alerts) || !reflect.DeepEqual(g.Final, one.Final) || g.HasData != one.HasData {
			t.Errorf("%s: the group's alerts %v and final %+v, the SLO alone's %v and %+v", m, minutes(g.Alerts), g.Final, minutes(one.Alerts), one.Final)
		}
		fired += len(g.Alerts)
	}
	if fired < 3 {
		t.Errorf("only %d alerts in all: the scenario tests nothing", fired)
	}
}

func groupedSLO(t *testing.T, extra string) *rules.SLO {
	t.Helper()
	slos, _, err := rules.Parse("gw.yaml", []byte("version: slod/v1\nservice: gw\nslos:\n  - name: avail\n    objective: 99.9\n    group_by: [model]\n"+extra+
		"    window: 2h\n    sli:\n      events:\n"+
		"        error_query: sum by (model) (rate(req_total{code=\"500\"}[{{.window}}]))\n"+
		"        total_query: sum by (model) (rate(req_total[{{.window}}]))\n"+
		"    alerting:\n      windows: [{severity: page, long: 1h, short: 5m, burn_rate: 14.4}]\n      no_data: {after: 15m, severity: ticket}\n"))
	if err != nil {
		t.Fatal(err)
	}
	return slos[0]
}

// TestGroupsLifecycle: groups past max_groups are reported and not evaluated; a group whose series
// are gone for the SLO's window is retired, its firing alerts resolved with the reason; an SLO
// whose queries return nothing raises its no-data alert through the instance standing for it.
func TestGroupsLifecycle(t *testing.T) {
	t.Run("max_groups", func(t *testing.T) {
		res, err := Backtest(context.Background(), recorded.NewQuerier(modelsDB(t, []string{"m1", "m2", "m3"}, 60)),
			[]*rules.SLO{groupedSLO(t, "    max_groups: 2\n")}, minute(1), minute(60), Options{Step: time.Minute, DataStart: t0}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(res) != 2 || res[0].Group["model"] != "m1" || res[1].Group["model"] != "m2" || fmt.Sprint(res[0].Excess) != `[{model="m3"}]` {
			t.Errorf("results %d, first %v, excess %v", len(res), res[0].Group, res[0].Excess)
		}
	})
	t.Run("never any data", func(t *testing.T) {
		res, err := Backtest(context.Background(), recorded.NewQuerier(recorded.NewDB()), []*rules.SLO{groupedSLO(t, "")},
			minute(1), minute(60), Options{Step: time.Minute, DataStart: t0}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(res) != 1 || res[0].Group != nil || res[0].HasData || fmt.Sprint(minutes(res[0].Alerts)) != "[ticket/true[16,-1)]" {
			t.Errorf("results %+v", res)
		}
	})
	t.Run("retired", func(t *testing.T) {
		// m2 burns from 61 to 90 and stops being scraped at 91, m1 goes on: m2's page and its
		// no-data ticket fire, and after the 2h window without data m2 is retired, at 211.
		db := recorded.NewDB()
		for _, model := range []string{"m1", "m2"} {
			var ts []int64
			var ok, bad []float64
			for m := 0; m <= 240; m++ {
				if model == "m2" && m > 90 {
					break
				}
				e := 0.0
				if model == "m2" && m > 60 {
					e = float64(m-60) * 120
				}
				ts, ok, bad = append(ts, minute(m).UnixMilli()), append(ok, float64(m*600)-e), append(bad, e)
			}
			db.Add(labels.FromStrings("__name__", "req_total", "model", model, "code", "200"), ts, ok)
			db.Add(labels.FromStrings("__name__", "req_total", "model", model, "code", "500"), ts, bad)
		}
		var seen []string
		obs := func(inst *Instance, at time.Time, st burnrate.State, _ burnrate.Status) {
			if inst.Key == `{model="m2"}` && at.Equal(minute(210)) {
				seen = append(seen, fmt.Sprint(len(st.Alerts)))
			}
		}
		res, err := Backtest(context.Background(), recorded.NewQuerier(db), []*rules.SLO{groupedSLO(t, "")}, minute(1), minute(240),
			Options{Step: time.Minute, DataStart: t0}, obs)
		if err != nil {
			t.Fatal(err)
		}
		if len(res) != 2 || len(seen) != 1 {
			t.Fatalf("%d results, m2 observed at 210: %v", len(res), seen)
		}
		got := fmt.Sprint(minutes(res[1].Alerts))
		if !strings.Contains(got, "page/false[65,") || !strings.Contains(got, "ticket/true[105,211)") {
			t.Errorf("m2's alerts %s: want its page, and its no-data ticket resolved at the retirement (211)", got)
		}
	})
}

// TestRetireNotes: the resolution of a retired instance says why.
func TestRetireNotes(t *testing.T) {
	g := NewGroups(groupedSLO(t, ""), time.Minute, StepperOptions{})
	inst := g.add(`{model="m1"}`, map[string]string{"model": "m1"}, nil, Checkpoint{State: burnrate.State{Alerts: []burnrate.AlertState{
		{Severity: burnrate.Page, Phase: burnrate.Firing, FiredAt: minute(5)}, {Severity: burnrate.Ticket, Phase: burnrate.Pending}}}})
	trs := inst.Stepper.Retire(minute(10), "why")
	if len(trs) != 1 || trs[0].Note != "why" || trs[0].To != burnrate.Inactive || !trs[0].FiredAt.Equal(minute(5)) {
		t.Errorf("retire: %+v", trs)
	}
}
