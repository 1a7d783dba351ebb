package daemon

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slod-dev/slod/internal/notify"
	"github.com/slod-dev/slod/internal/web"
)

// apiGet decodes the data of an /api/v1 answer, failing unless its status is want.
func apiGet(t *testing.T, base, path string, want int, data any) string {
	t.Helper()
	resp, err := http.Get(base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
		Error  string          `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	if resp.StatusCode != want {
		t.Fatalf("GET %s: %d %s, want %d", path, resp.StatusCode, env.Error, want)
	}
	if data != nil {
		if err := json.Unmarshal(env.Data, data); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
	}
	return env.Error
}

// TestHistoryAPI reads the chart data of the demo's SLOs: points at the resolutions of the
// history's tiers up to the end the last cycle published, the last ones the entry's numbers, the
// alert intervals and silences of the SLO, a range, and the errors.
func TestHistoryAPI(t *testing.T) {
	dm := newDemo(t)
	var entry sloView
	apiGet(t, dm.srv.URL, "/api/v1/slos/checkout/availability", 200, &entry)
	var h web.History
	apiGet(t, dm.srv.URL, "/api/v1/slos/checkout/availability/history", 200, &h)
	n := len(h.T)
	if n < 1000 || len(h.Budget) != n || len(h.Data) != n || len(h.Steps) != n || len(h.ErrorRatio) != n || len(h.Burn) != 4 {
		t.Fatalf("%d points, columns %d/%d/%d/%d, %d burn series", n, len(h.Budget), len(h.Data), len(h.Steps), len(h.ErrorRatio), len(h.Burn))
	}
	if got := time.Unix(h.T[n-1], 0).UTC(); !got.Equal(*entry.DataUntil) {
		t.Errorf("last point at %v, the entry's data until %v", got, *entry.DataUntil)
	}
	var steps []string
	for _, r := range h.Resolutions {
		steps = append(steps, r.Step)
	}
	if strings.Join(steps, ",") != "1h,10m,1m" || !h.Resolutions[2].From.Equal(entry.DataUntil.Add(-6*time.Hour)) {
		t.Errorf("resolutions %+v, want 1h, 10m, then 1m for the last 6h", h.Resolutions)
	}
	if *h.Budget[n-1] != *entry.BudgetRemaining {
		t.Errorf("last budget point %v, the entry's budget %v", *h.Budget[n-1], *entry.BudgetRemaining)
	}
	for _, b := range h.Burn {
		for _, w := range entry.Windows {
			if w.Window == b.Window && *w.BurnRate != *b.Values[n-1] {
				t.Errorf("last %s burn point %v, the entry's %v", b.Window, *b.Values[n-1], *w.BurnRate)
			}
		}
	}
	var pages, open int
	for _, a := range h.Alerts {
		if a.Severity == "page" {
			pages++
			if a.End == nil {
				open++
			}
		}
	}
	if pages != 2 || open != 1 {
		t.Errorf("alerts %+v, want two page intervals, one of them open", h.Alerts)
	}

	from, to := dm.clock.Now().Add(-2*time.Hour), dm.clock.Now().Add(-time.Hour)
	apiGet(t, dm.srv.URL, "/api/v1/slos/checkout/availability/history?from="+from.Format(time.RFC3339)+"&to="+strconv.FormatInt(to.Unix(), 10), 200, &h)
	if len(h.T) != 60 || h.T[0] != from.Unix()+60 || h.T[59] != to.Unix() {
		t.Errorf("an hour's range: %d points from %v, want 60 a minute apart, the intervals of (from, to]", len(h.T), h.T)
	}

	apiGet(t, dm.srv.URL, "/api/v1/slos/checkout/latency/history", 200, &h)
	if len(h.Silences) != 1 || h.Silences[0].Label == "" {
		t.Errorf("silences of checkout/latency: %+v, want ana's", h.Silences)
	}
	apiGet(t, dm.srv.URL, "/api/v1/slos/search/billing-sync/history", 200, &h)
	for i := range h.T {
		if h.Data[i] != 0 || h.Budget[i] != nil {
			t.Fatalf("an SLO without data has point %d with data %d, budget %v", i, h.Data[i], h.Budget[i])
		}
	}
	apiGet(t, dm.srv.URL, "/api/v1/slos/search/"+url.PathEscape(`answers-per-model{model="code"}`)+"/history", 200, &h)
	if h.ID != `search/answers-per-model{model="code"}` || len(h.T) < 1000 {
		t.Errorf("a group's history: %s with %d points", h.ID, len(h.T))
	}
	for path, want := range map[string]int{
		"/api/v1/slos/checkout/nope/history":                        404,
		"/api/v1/slos/checkout/availability/history?from=x":         400,
		"/api/v1/slos/checkout/availability/history?from=NaN":       400,
		"/api/v1/slos/checkout/availability/history?from=20":        200,
		"/api/v1/slos/checkout/availability/history?from=100&to=50": 400,
	} {
		apiGet(t, dm.srv.URL, path, want, nil)
	}
}

// TestDetailAPI reads the detail of the demo's firing SLO: the definition as written (file
// relative to the config, its entry) and as queried, the window pairs with their burn rates now
// and how far each is from firing, the incidents with the budget they spent and their deliveries.
func TestDetailAPI(t *testing.T) {
	dm := newDemo(t)
	var dv detailView
	apiGet(t, dm.srv.URL, "/api/v1/slos/checkout/availability/detail", 200, &dv)
	def := dv.Definition
	if def.Source != "rules/r0.yaml:5" || !strings.HasPrefix(def.YAML, "  - name: availability\n") || !strings.Contains(def.YAML, "no_data: {after: 15m") ||
		len(def.Queries) != 2 || !strings.Contains(def.Queries[0].Evaluated, "last_over_time") || def.NoData == nil {
		t.Errorf("definition %+v", def)
	}
	if dv.SLO.RunbookURL != "https://runbooks.example/checkout/availability" || dv.SLO.Source != "rules/r0.yaml:5" {
		t.Errorf("entry's runbook %q, source %q", dv.SLO.RunbookURL, dv.SLO.Source)
	}
	if len(dv.Pairs) != 4 {
		t.Fatalf("pairs %+v", dv.Pairs)
	}
	p := dv.Pairs[0]
	if p.Long != "1h" || p.BurnRate != 14.4 || p.BudgetSpent != 0.02 || p.LongBurn == nil || *p.LongOfThreshold != round(*p.LongBurn/14.4) ||
		p.State != "firing" || p.HoldingSince == nil {
		t.Errorf("the 1h/5m pair: %+v", p)
	}
	var withEnd, firing int
	for _, in := range dv.Incidents {
		if in.Severity != "page" {
			continue
		}
		if in.End == nil {
			firing++
		} else {
			withEnd++
		}
		if in.BudgetSpent == nil || *in.BudgetSpent <= 0 || len(in.Deliveries) == 0 || in.Deliveries[0].Outcome != string(notify.Delivered) {
			t.Errorf("page incident %+v", in)
		}
	}
	if withEnd != 1 || firing != 1 || !dv.Incidents[0].Start.After(dv.Incidents[len(dv.Incidents)-1].Start) {
		t.Errorf("incidents %+v, want the page that ended and the one firing, newest first", dv.Incidents)
	}
}

// TestListPage checks the list's order (firing first, then the least or unknown budget) and its
// filters, kept in the URL.
func TestListPage(t *testing.T) {
	dm := newDemo(t)
	ids := func(query string) []string {
		t.Helper()
		code, body := get(t, dm.srv, "/"+query)
		if code != 200 {
			t.Fatalf("GET /%s: %d", query, code)
		}
		var out []string
		for _, m := range regexp.MustCompile(`role="row" data-id="([^"]+)"`).FindAllStringSubmatch(body, -1) {
			out = append(out, strings.ReplaceAll(m[1], "&#34;", `"`))
		}
		return out
	}
	all := ids("")
	want := []string{"checkout/availability", "checkout/latency", "search/billing-sync", `search/answers-per-model{model="code"}`}
	if len(all) != 8 || !slices.Equal(all[:4], want) {
		t.Errorf("order %q, want the two firing first, then the unknown budget, then the least", all)
	}
	for query, want := range map[string]int{
		"?state=firing":                   2,
		"?service=search":                 6,
		"?label=team%3Dpayments":          2,
		"?label=model%3Dcode":             1,
		"?service=search&state=unknown":   1,
		"?label=nonsense":                 0,
		"?service=checkout&state=pending": 0,
	} {
		if got := ids(query); len(got) != want {
			t.Errorf("/%s: %d rows %q, want %d", query, len(got), got, want)
		}
	}
	if _, body := get(t, dm.srv, "/?label=nonsense"); !strings.Contains(body, "want label=KEY=VALUE") {
		t.Error("a bad label filter is not explained")
	}
	if code, _ := get(t, dm.srv, "/slo/checkout/nope"); code != 404 {
		t.Errorf("the page of an unknown SLO: %d, want 404", code)
	}
}

// TestIncidentsKeptAcrossRestart: an incident, its resolve and what became of their
// notifications (the receiver down: retrying, with the error) are in the store, so a restarted
// daemon shows them as they were.
func TestIncidentsKeptAcrossRestart(t *testing.T) {
	h := newHarness(t)
	h.src.set(func(f *fakeSource) { f.bad = func(at time.Time) float64 { return 5 } })
	h.cycle(t0)
	h.cycle(t0.Add(10 * time.Minute))
	h.src.set(func(f *fakeSource) { f.bad = func(time.Time) float64 { return 0 } })
	h.cycle(t0.Add(3 * time.Hour))
	if _, err := h.d.dispatcher.DispatchOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	get := func() []incident {
		t.Helper()
		return h.d.incidents.get([]string{notify.DedupKey("shop", "availability", "page", false)})[notify.DedupKey("shop", "availability", "page", false)]
	}
	before := get()
	if len(before) != 1 || before[0].End == nil || len(before[0].Deliveries) != 2 {
		t.Fatalf("incidents %+v, want one page that ended, with its trigger and resolve", before)
	}
	// Both were pending when the dispatcher passed: the resolve alone is sent (the receiver never
	// got the trigger), and the webhook is down.
	trig, res := before[0].Deliveries[0], before[0].Deliveries[1]
	if trig.Action != "trigger" || trig.Outcome != string(notify.Superseded) {
		t.Errorf("trigger's delivery %+v, want superseded", trig)
	}
	if res.Receiver != "hook" || res.Action != "resolve" || res.Outcome != string(notify.Retrying) || res.Error == "" || res.Attempts != 1 {
		t.Errorf("resolve's delivery %+v, want the webhook's failed attempt", res)
	}
	h.restart()
	after := get()
	if len(after) != 1 || !after[0].Start.Equal(before[0].Start) || !after[0].End.Equal(*before[0].End) || !slices.Equal(after[0].Deliveries, before[0].Deliveries) {
		t.Errorf("after a restart: %+v, want %+v", after, before)
	}
}

// TestIncidentLogBounds: incidents that ended before the retention are dropped, an alert keeps at
// most maxIncidents, and an alert left without incidents is deleted from the store.
func TestIncidentLogBounds(t *testing.T) {
	l := &incidentLog{byKey: map[string][]incident{}}
	at := t0
	end := func(d time.Duration) *time.Time { e := at.Add(d); return &e }
	l.byKey["old"] = []incident{{Severity: "page", Start: at.Add(-40 * 24 * time.Hour), End: end(-31 * 24 * time.Hour)}}
	var many []incident
	for i := range maxIncidents + 5 {
		many = append(many, incident{Severity: "page", Start: at.Add(time.Duration(i-200) * time.Minute), End: end(time.Duration(i-199) * time.Minute)})
	}
	l.byKey["flapping"] = many
	l.byKey["recent"] = []incident{{Severity: "page", Start: at.Add(-time.Hour), End: end(-time.Minute)}}
	trigger := notify.Notification{DedupKey: "new", Action: notify.Trigger, Severity: "ticket", StartsAt: at}
	u := l.plan([]notify.Notification{trigger}, notify.ReconcileResult{}, at, incidentRetention)
	if !slices.Equal(u.deleted, []string{"old"}) || len(u.lists["flapping"]) != maxIncidents || len(u.lists["new"]) != 1 {
		t.Errorf("deleted %v, %d flapping, new %+v", u.deleted, len(u.lists["flapping"]), u.lists["new"])
	}
	if _, rewritten := u.lists["recent"]; rewritten {
		t.Error("an alert with nothing to drop is written again")
	}
	l.install(u)
	if _, ok := l.byKey["old"]; ok || len(l.byKey["new"]) != 1 {
		t.Errorf("log after the update: %v", l.byKey)
	}
}

// TestHistoryGaps: steps without data (the source returned nothing) are gaps in the chart data,
// with no budget and no error ratio, while steps with data and no traffic are known: 0 errors.
func TestHistoryGaps(t *testing.T) {
	h := newHarness(t)
	gapFrom, gapTo := t0.Add(20*time.Minute), t0.Add(40*time.Minute)
	quietFrom, quietTo := t0.Add(50*time.Minute), t0.Add(55*time.Minute)
	h.src.set(func(f *fakeSource) {
		f.total = func(at time.Time) float64 {
			if !at.Before(quietFrom) && at.Before(quietTo) {
				return 0
			}
			return 10
		}
	})
	for at := t0; !at.After(t0.Add(time.Hour)); at = at.Add(5 * time.Minute) {
		empty := !at.Before(gapFrom) && at.Before(gapTo)
		h.src.set(func(f *fakeSource) { f.empty = empty })
		h.cycle(at)
	}
	srv := httptest.NewServer(h.d.Handler())
	defer srv.Close()
	var hist web.History
	apiGet(t, srv.URL, "/api/v1/slos/shop/availability/history?from="+t0.Format(time.RFC3339), 200, &hist)
	gap, quiet := 0, 0
	for i, ts := range hist.T {
		at := time.Unix(ts, 0).UTC()
		switch {
		case hist.Data[i] == 0 && (hist.Budget[i] != nil || hist.ErrorRatio[i] != nil):
			t.Errorf("%v, without data: budget %v, error ratio %v; want a gap", at, hist.Budget[i] != nil, hist.ErrorRatio[i] != nil)
		case hist.Data[i] == 1 && (hist.Budget[i] == nil || hist.ErrorRatio[i] == nil):
			t.Errorf("%v, with data: budget %v, error ratio %v; want both", at, hist.Budget[i] != nil, hist.ErrorRatio[i] != nil)
		case hist.Data[i] == 0:
			gap++
			// The cycles from gapFrom to gapTo ask for the steps since the cycle before.
			if !at.After(gapFrom.Add(-5*time.Minute)) || at.After(gapTo) {
				t.Errorf("%v without data, outside the source's gap", at)
			}
		case hist.Total[i] == 0:
			quiet++
			if *hist.ErrorRatio[i] != 0 {
				t.Errorf("%v, without traffic: error ratio %v, want 0", at, *hist.ErrorRatio[i])
			}
		}
	}
	// The source answered nothing for 20 minutes, of which the daemon asked again for the
	// lookback's 10 (DESIGN §5); the 5 quiet minutes had data.
	if gap < 5 || quiet != 5 {
		t.Errorf("%d steps without data, %d without traffic; want the gap's and 5", gap, quiet)
	}
}

// TestRestoredFiringSameEverywhere: after a restart, before the first cycle, a page that fired
// on data before it shows firing in the list, its API entry and its detail alike (the detail
// said unknown while the list said firing); its budget is unknown in all three.
func TestRestoredFiringSameEverywhere(t *testing.T) {
	h := newHarness(t)
	h.src.set(func(f *fakeSource) { f.bad = func(time.Time) float64 { return 5 } })
	h.cycle(t0)
	h.restart()
	srv := httptest.NewServer(h.d.Handler())
	defer srv.Close()
	var entry sloView
	apiGet(t, srv.URL, "/api/v1/slos/shop/availability", 200, &entry)
	var dv detailView
	apiGet(t, srv.URL, "/api/v1/slos/shop/availability/detail", 200, &dv)
	list := h.d.sloViews()
	if len(list) != 1 || list[0].State != "firing" || entry.State != "firing" || dv.SLO.State != "firing" {
		t.Errorf("states: list %+v, entry %q, detail %q; want firing in all", list, entry.State, dv.SLO.State)
	}
	if entry.BudgetRemaining != nil || dv.SLO.BudgetRemaining != nil {
		t.Errorf("budget before the first cycle: entry %v, detail %v; want unknown", entry.BudgetRemaining, dv.SLO.BudgetRemaining)
	}
}
