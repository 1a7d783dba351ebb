package daemon

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/slod-dev/slod/internal/config"
	"github.com/slod-dev/slod/internal/recorded"
	"github.com/slod-dev/slod/internal/rules"
)

const exclusionRules = `version: slod/v1
service: shop
labels: {team: payments}
slos:
  - name: checkout
    objective: 99
    window: 1d
    sli:
      events:
        error_query: sum(rate(req_total{code="500"}[{{.window}}]))
        total_query: sum(rate(req_total[{{.window}}]))
    alerting:
      windows:
        - {severity: page, long: 30m, short: 5m, burn_rate: 10}
`

// incidentDB is 1,000 requests a minute from time 0, half of them failing from 60m to 90m.
func incidentDB(t *testing.T, minutes int) *recorded.DB {
	t.Helper()
	var ts []int64
	var ok, bad []float64
	o, b := 0.0, 0.0
	for m := 0; m <= minutes; m++ {
		if m > 60 && m <= 90 {
			o, b = o+500, b+500
		} else {
			o += 1000
		}
		ts = append(ts, diffTime(m).Add(-30*time.Second).UnixMilli())
		ok, bad = append(ok, o), append(bad, b)
	}
	db := recorded.NewDB()
	for _, s := range []struct {
		code string
		vs   []float64
	}{{"200", ok}, {"500", bad}} {
		if err := db.Add(labels.FromStrings("__name__", "req_total", "code", s.code), ts, s.vs); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

// An exclusion POSTed after the incident it covers (the bad data of 60m to 90m) gives its budget
// back: the API says the SLO is recomputed, the log says so, the next cycle refetches the history
// from the source without those steps, and nothing pages or resolves again. Deleting it spends the
// budget again.
func TestRetroactiveExclusionRestoresBudget(t *testing.T) {
	db := incidentDB(t, 200)
	d, _ := runDaemon(t, exclusionRules, db, 150)
	budget := func() float64 {
		t.Helper()
		v := d.sloViews()[0]
		if v.BudgetRemaining == nil {
			t.Fatal("budget unknown")
		}
		return *v.BudgetRemaining
	}
	// 15,000 bad of 150,000 requests: 10% errors against a 1% budget.
	if b := budget(); b > -8.9 || b < -9.1 {
		t.Fatalf("budget before the exclusion %v, want -9", b)
	}

	h := d.Handler()
	post := httptest.NewRequest(http.MethodPost, "/api/v1/exclusions", strings.NewReader(`{"name": "bad-data",
		"start": "1970-01-01T01:00:00Z", "duration": "30m", "matchers": [{"name": "team", "value": "payments"}],
		"createdBy": "alice", "comment": "INC-42: the load balancer counted health checks"}`))
	post.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, post)
	var resp struct {
		Status string
		Data   exclusionChange
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || rec.Code != http.StatusOK {
		t.Fatalf("POST: %d %s", rec.Code, rec.Body.String())
	}
	if len(resp.Data.Recomputed) != 1 || resp.Data.Recomputed[0] != "shop/checkout" || resp.Data.ID == "" {
		t.Fatalf("POST answered %+v, want shop/checkout recomputed", resp.Data)
	}
	before := len(d.alerts)
	if err := d.Cycle(context.Background(), diffTime(151)); err != nil {
		t.Fatal(err)
	}
	if b := budget(); b != 1 {
		t.Errorf("budget after the exclusion %v, want 1 (no error outside it)", b)
	}
	if ex := d.sloViews()[0].Exclusions; len(ex) != 1 || ex[0].Name != "bad-data" || !ex[0].Start.Equal(diffTime(60)) || !ex[0].End.Equal(diffTime(90)) {
		t.Errorf("the SLO's excluded spans %+v", ex)
	}
	if len(d.alerts) != before {
		t.Errorf("the recomputation changed the notification records: %d → %d", before, len(d.alerts))
	}

	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/exclusions", nil))
	if !strings.Contains(rec.Body.String(), `"createdBy":"alice"`) {
		t.Errorf("GET: %s", rec.Body.String())
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodDelete, "/api/v1/exclusions/"+resp.Data.ID, nil))
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "shop/checkout") {
		t.Fatalf("DELETE: %d %s", rec.Code, rec.Body.String())
	}
	if err := d.Cycle(context.Background(), diffTime(152)); err != nil {
		t.Fatal(err)
	}
	if b := budget(); b > -8.8 {
		t.Errorf("budget after deleting the exclusion %v, want about -9 again (15,000 bad of 152,000)", b)
	}
}

// A budget alert is routed like the others: one whose severity no route takes is refused at start,
// naming it.
func TestCheckRoutesBudgetAlert(t *testing.T) {
	slos, _, err := rules.Parse("shop.yaml", []byte(`version: slod/v1
service: shop
slos:
  - name: checkout
    objective: 99
    sli:
      events:
        error_query: sum(rate(req_total{code="500"}[{{.window}}]))
        total_query: sum(rate(req_total[{{.window}}]))
    alerting:
      ticket: {disable: true}
      budget: [{severity: ticket, below: 25%}]
`))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse("slod.yml", []byte("prometheus: {url: \"http://127.0.0.1:1\"}\nrules: [x]\nreceivers: [{name: hook, webhook: {url: \"http://127.0.0.1:1/\"}}]\n"+
		"routes:\n  - {match: {severity: page}, receiver: hook}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if errs := CheckRoutes(cfg, slos); errs == nil || !strings.Contains(errs.Error(), "takes the ticket budget alert of shop/checkout") {
		t.Errorf("errors: %v", errs)
	}
}
