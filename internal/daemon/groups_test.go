package daemon

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"math"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/slod-dev/slod/internal/burnrate"
	"github.com/slod-dev/slod/internal/eval"
	"github.com/slod-dev/slod/internal/notify"
	"github.com/slod-dev/slod/internal/recorded"
	"github.com/slod-dev/slod/internal/rules"
	"github.com/slod-dev/slod/internal/unittest"
)

// groupModels are the models of TestGroupsEverywhere: requests a minute and the error share (of a
// 1% budget) per model. m2 has an outage at 60..89 (30%), m3 a slow burn from 40 (2.5%), m4 a
// scrape gap from 100 to 119, m1 is healthy.
var groupModels = []string{"m1", "m2", "m3", "m4"}

func groupErrors(model string, m int) float64 {
	switch {
	case model == "m2" && m >= 60 && m < 90:
		return 0.3
	case model == "m3" && m >= 40:
		return 0.025
	}
	return 0.001
}

// groupDB records the models' counters, one sample every 30 s.
func groupDB(t *testing.T) *recorded.DB {
	t.Helper()
	db := recorded.NewDB()
	for i, model := range groupModels {
		var ts []int64
		var ok, bad []float64
		okV, badV := 0.0, 0.0
		for s := 0; s <= 2*diffMinutes; s++ {
			n := float64(300 + 40*i)
			e := math.Round(n * groupErrors(model, s/2))
			okV, badV = okV+n-e, badV+e
			if model == "m4" && s >= 200 && s < 240 {
				continue
			}
			ts, ok, bad = append(ts, diffTime(0).Add(time.Duration(s)*30*time.Second).UnixMilli()), append(ok, okV), append(bad, badV)
		}
		for _, c := range []struct {
			code string
			vs   []float64
		}{{"200", ok}, {"500", bad}} {
			if err := db.Add(labels.FromStrings("__name__", "req_total", "job", "gw", "model", model, "code", c.code), ts, c.vs); err != nil {
				t.Fatal(err)
			}
		}
	}
	return db
}

// groupRules is a grouped SLO over the models and the same SLO written by hand for each model.
func groupRules() string {
	policy := `    alerting:
      windows:
        - {severity: page, long: 30m, short: 5m, burn_rate: 10}
        - {severity: ticket, long: 2h, short: 15m, burn_rate: 2}
      no_data: {after: 10m, severity: ticket}
`
	var b strings.Builder
	b.WriteString("version: slod/v1\nservice: gw\nslos:\n")
	b.WriteString(`  - name: avail
    objective: 99
    window: 1d
    group_by: [model]
    sli:
      events:
        error_query: sum by (model) (rate(req_total{job="gw",code="500"}[{{.window}}]))
        total_query: sum by (model) (rate(req_total{job="gw"}[{{.window}}]))
` + policy)
	for _, m := range groupModels {
		fmt.Fprintf(&b, `  - name: avail-%[1]s
    objective: 99
    window: 1d
    sli:
      events:
        error_query: sum(rate(req_total{job="gw",model=%[1]q,code="500"}[{{.window}}]))
        total_query: sum(rate(req_total{job="gw",model=%[1]q}[{{.window}}]))
`, m)
		b.WriteString(policy)
	}
	return b.String()
}

// runDaemon runs a daemon over the recorded db with rulesYML, one cycle a minute of [0, minutes],
// and returns it (closed by the test's end) with its log.
func runDaemon(t *testing.T, rulesYML string, db *recorded.DB, minutes int) (*Daemon, []byte) {
	t.Helper()
	d, _, logs := newRecordedDaemon(t, rulesYML, db)
	for m := 0; m <= minutes; m++ {
		if err := d.Cycle(context.Background(), diffTime(m)); err != nil {
			t.Fatalf("cycle at %d: %v", m, err)
		}
	}
	return d, logs.Bytes()
}

// TestGroupsEverywhere: a grouped SLO over four models gives each model exactly the alerts and
// budget that the four SLOs written by hand give, in slod run, slod check and slod test.
func TestGroupsEverywhere(t *testing.T) {
	slos, _, err := rules.Parse("gw.yaml", []byte(groupRules()))
	if err != nil {
		t.Fatal(err)
	}
	db := groupDB(t)
	d, logs := runDaemon(t, groupRules(), db, diffMinutes)
	ran := logTransitionsBySLO(t, logs)
	// A group without data says so, naming the group (m4's scrape gap).
	if !bytes.Contains(logs, []byte(`"slo":"gw/avail","group":"{model=\"m4\"}","reason":"no_data"`)) {
		t.Error("no warning names the group without data")
	}

	checked := map[string][]diffTransition{}
	prev := map[string]burnrate.Phase{}
	var mu sync.Mutex // calls for different SLOs come from different goroutines
	obs := func(inst *eval.Instance, at time.Time, st burnrate.State, _ burnrate.Status) {
		mu.Lock()
		defer mu.Unlock()
		for _, a := range st.Alerts {
			k := inst.ID() + "|" + alertName(a.Severity, a.NoData, a.Budget)
			ph := a.Phase
			if ph == "" {
				ph = burnrate.Inactive
			}
			if was, ok := prev[k]; was != ph && (ok || ph != burnrate.Inactive) {
				if !ok {
					was = burnrate.Inactive
				}
				checked[inst.ID()] = append(checked[inst.ID()], diffTransition{alertName(a.Severity, a.NoData, a.Budget), was, ph, int(at.Sub(diffTime(0)) / time.Minute)})
			}
			prev[k] = ph
		}
	}
	results, err := eval.Backtest(context.Background(), recorded.NewQuerier(db), slos, diffTime(0), diffTime(diffMinutes),
		eval.Options{Step: time.Minute, DataStart: diffTime(0)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eval.Backtest(context.Background(), recorded.NewQuerier(db), slos, diffTime(0), diffTime(diffMinutes),
		eval.Options{Step: time.Minute, DataStart: diffTime(0)}, obs); err != nil {
		t.Fatal(err)
	}
	notified := 0
	for i, m := range groupModels {
		group, one := fmt.Sprintf(`gw/avail{model=%q}`, m), "gw/avail-"+m
		for _, who := range []struct {
			name string
			got  map[string][]diffTransition
		}{{"slod run", ran}, {"slod check", checked}} {
			// The alerts (what pages): the SLO alone is evaluated from minute 0, where its
			// series have no first difference yet (its no-data alert is pending for a minute);
			// the group exists from its first step with data.
			if g, o := notifiedOnly(who.got[group]), notifiedOnly(who.got[one]); !slices.Equal(g, o) {
				t.Errorf("%s: %s %v, %s %v", who.name, group, g, one, o)
			}
		}
		if !slices.Equal(ran[group], checked[group]) {
			t.Errorf("%s: slod run %v, slod check %v", group, ran[group], checked[group])
		}
		if g, o := results[i], results[len(groupModels)+i]; g.Final.BudgetRemaining != o.Final.BudgetRemaining || g.Group["model"] != m {
			t.Errorf("%s: budget %v (group %v), the SLO alone %v", m, g.Final.BudgetRemaining, g.Group, o.Final.BudgetRemaining)
		}
		notified += len(ran[group])
	}
	if notified < 6 {
		t.Fatalf("only %d transitions in all: the scenario tests nothing (%v)", notified, ran)
	}
	groupSlodTest(t, checked)
	groupViews(t, d)
}

// notifiedOnly keeps the transitions to and from firing.
func notifiedOnly(trs []diffTransition) []diffTransition {
	var out []diffTransition
	for _, tr := range trs {
		if tr.To == burnrate.Firing || tr.From == burnrate.Firing {
			out = append(out, tr)
		}
	}
	return out
}

// groupSlodTest runs `slod test` on the models' data, asserting each group's firing alerts just
// before and at every change the backtest saw.
func groupSlodTest(t *testing.T, checked map[string][]diffTransition) {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "gw.yaml"), groupRules())
	var b strings.Builder
	b.WriteString("rule_files: [gw.yaml]\nevaluation_interval: 1m\ntests:\n  - name: per model\n    interval: 30s\n    input_series:\n")
	for i, model := range groupModels {
		for _, code := range []string{"200", "500"} {
			vals := make([]string, 0, 2*diffMinutes+1)
			okV, badV := 0.0, 0.0
			for s := 0; s <= 2*diffMinutes; s++ {
				n := float64(300 + 40*i)
				e := math.Round(n * groupErrors(model, s/2))
				okV, badV = okV+n-e, badV+e
				v := okV
				if code == "500" {
					v = badV
				}
				if model == "m4" && s >= 200 && s < 240 {
					vals = append(vals, "_")
					continue
				}
				vals = append(vals, fmt.Sprint(v))
			}
			fmt.Fprintf(&b, "      - series: 'req_total{job=\"gw\",model=%q,code=%q}'\n        values: '%s'\n", model, code, strings.Join(vals, " "))
		}
	}
	b.WriteString("    alert_test:\n")
	for _, model := range groupModels {
		trs := checked[fmt.Sprintf(`gw/avail{model=%q}`, model)]
		times := map[int]bool{diffMinutes: true}
		for _, tr := range trs {
			times[tr.At], times[max(tr.At-1, 0)] = true, true
		}
		for _, m := range slices.Sorted(maps.Keys(times)) {
			fmt.Fprintf(&b, "      - {eval_time: %dm, slo: gw/avail, group: {model: %s}, exp_alerts: [%s]}\n", m, model, firingAt(trs, m))
		}
	}
	// An assertion on a grouped SLO without its group is an error that lists the groups.
	b.WriteString("      - {eval_time: 10m, slo: gw/avail, exp_alerts: []}\n")
	path := filepath.Join(dir, "gw_test.yaml")
	writeFile(t, path, b.String())
	var out bytes.Buffer
	sum := unittest.Run(context.Background(), []string{path}, &out, unittest.Options{})
	want := `the SLO is grouped by model; say which group (group: {model: ...}); groups at that time: {model="m1"}, {model="m2"}, {model="m3"}, {model="m4"}`
	if sum.FailedAssertions != 1 || !strings.Contains(out.String(), want) {
		t.Errorf("slod test: %+v\n%s", sum, out.String())
	}
}

// groupViews: the API lists every group, and /metrics carries the group label.
func groupViews(t *testing.T, d *Daemon) {
	t.Helper()
	var ids []string
	for _, v := range d.sloViews() {
		if v.Name == "avail" {
			ids = append(ids, v.ID)
		}
	}
	if want := []string{`gw/avail{model="m1"}`, `gw/avail{model="m2"}`, `gw/avail{model="m3"}`, `gw/avail{model="m4"}`}; !slices.Equal(ids, want) {
		t.Errorf("API ids %v, want %v", ids, want)
	}
	got := strings.Join(gather(t, d.registry), "\n")
	if !strings.Contains(got, `slod_slo_error_budget_remaining{model="m3",service="gw",slo="avail"}`) {
		t.Errorf("no per-group budget gauge in\n%s", got)
	}
	// Every group has a URL of its own, the label filter selects groups, and the grouped SLO's
	// own name says how to ask for them.
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	if code, body := get(t, srv, "/api/v1/slos/gw/"+url.PathEscape(`avail{model="m2"}`)); code != 200 || !strings.Contains(body, `"id":"gw/avail{model=\"m2\"}"`) {
		t.Errorf("one group: %d %s", code, body)
	}
	if code, body := get(t, srv, "/api/v1/slos/gw/avail"); code != 404 || !strings.Contains(body, "gw/avail is grouped (4 groups)") {
		t.Errorf("the grouped SLO's own name: %d %s", code, body)
	}
	if code, body := get(t, srv, "/api/v1/slos?label=model=m3"); code != 200 || strings.Count(body, `"id"`) != 1 || !strings.Contains(body, `"id":"gw/avail{model=\"m3\"}"`) {
		t.Errorf("?label=model=m3: %d %s", code, body)
	}
}

// TestGroupsRetiredAndLimited: in the daemon, a group whose series are gone for the SLO's window
// is retired: its firing alerts resolve with the reason in the notification and its record leaves
// the store in the same cycle; groups past max_groups are listed in the API and counted.
func TestGroupsRetiredAndLimited(t *testing.T) {
	db := recorded.NewDB()
	for i, model := range []string{"m1", "m2", "m3"} {
		var ts []int64
		var ok, bad []float64
		for m := 0; m <= 150; m++ {
			if model == "m2" && m > 30 {
				break // m2 is gone (a model taken out of service) while its alerts fire
			}
			e := 0.0
			if model == "m2" && m > 10 {
				e = float64(m-10) * 100
			}
			ts, ok, bad = append(ts, diffTime(m).UnixMilli()), append(ok, float64(m*(500+10*i))-e), append(bad, e)
		}
		db.Add(labels.FromStrings("__name__", "req_total", "job", "gw", "model", model, "code", "200"), ts, ok)
		db.Add(labels.FromStrings("__name__", "req_total", "job", "gw", "model", model, "code", "500"), ts, bad)
	}
	const rulesYML = `version: slod/v1
service: gw
slos:
  - name: avail
    objective: 99
    window: 1h
    group_by: [model]
    max_groups: 2
    sli:
      events:
        error_query: sum by (model) (rate(req_total{job="gw",code="500"}[{{.window}}]))
        total_query: sum by (model) (rate(req_total{job="gw"}[{{.window}}]))
    alerting:
      windows: [{severity: page, long: 30m, short: 5m, burn_rate: 10}]
      no_data: {after: 10m, severity: ticket}
`
	d, _ := runDaemon(t, rulesYML, db, 60)
	var views []string
	for _, v := range d.sloViews() {
		views = append(views, v.ID+" not evaluated "+strings.Join(v.GroupsNotEvaluated, ","))
	}
	if want := []string{`gw/avail{model="m1"} not evaluated {model="m3"}`, `gw/avail{model="m2"} not evaluated {model="m3"}`}; !slices.Equal(views, want) {
		t.Errorf("views at 60 %q, want %q (m3 past max_groups)", views, want)
	}
	for m := 61; m <= 120; m++ {
		if err := d.Cycle(context.Background(), diffTime(m)); err != nil {
			t.Fatal(err)
		}
	}
	views = nil
	for _, v := range d.sloViews() {
		views = append(views, v.ID+" not evaluated "+strings.Join(v.GroupsNotEvaluated, ","))
	}
	// m3 was past max_groups until m2 retired and made room.
	if want := []string{`gw/avail{model="m1"} not evaluated `, `gw/avail{model="m3"} not evaluated `}; !slices.Equal(views, want) {
		t.Errorf("views %q, want %q (m2 retired, m3 evaluated once there was room)", views, want)
	}
	if v := metricValue(d.m.groupsExcess.WithLabelValues("gw", "avail")); v != 1 {
		t.Errorf("slod_slo_groups_not_evaluated_total = %v, want 1", v)
	}
	recs, err := d.store.SLOs()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := recs[`gw/avail{model="m2"}`]; ok || len(recs) != 2 {
		t.Errorf("records %v: the retired group's is still there", slices.Sorted(maps.Keys(recs)))
	}
	var resolved []string
	es, err := d.store.Outbox()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		n, err := notify.UnmarshalPayload(e.Payload)
		if err != nil {
			t.Fatal(err)
		}
		if n.Action == notify.Resolve {
			resolved = append(resolved, n.DedupKey+": "+n.Description)
		}
	}
	want := []string{
		`slod/gw/avail/page/{model="m2"}: retired: the group has had no data for 1h`,
		`slod/gw/avail/ticket/no_data/{model="m2"}: retired: the group has had no data for 1h`,
	}
	slices.Sort(resolved)
	if !slices.Equal(resolved, want) {
		t.Errorf("resolves %q, want %q", resolved, want)
	}
}
