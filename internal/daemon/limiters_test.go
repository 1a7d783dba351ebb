package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/slod-dev/slod/internal/promapi"
	"github.com/slod-dev/slod/internal/sli"
)

// limiterRules has two SLOs with a page and a ticket each: four alerts that fire in the same
// cycle and go to one PagerDuty routing key.
const limiterRules = `version: slod/v1
service: shop
slos:
  - name: availability
    objective: 99
    window: 1d
    sli:
      events:
        error_query: sum(rate(req_total{code="500"}[{{.window}}]))
        total_query: sum(rate(req_total[{{.window}}]))
    alerting:
      windows:
        - {severity: page, long: 1h, short: 5m, burn_rate: 10}
        - {severity: ticket, long: 2h, short: 10m, burn_rate: 3}
  - name: checkout
    objective: 99
    window: 1d
    sli:
      events:
        error_query: sum(rate(checkout_total{code="500"}[{{.window}}]))
        total_query: sum(rate(checkout_total[{{.window}}]))
    alerting:
      windows:
        - {severity: page, long: 1h, short: 5m, burn_rate: 10}
        - {severity: ticket, long: 2h, short: 10m, burn_rate: 3}
`

// limiterConfig limits the routing key to 24 events a minute: a burst of 2, then one event
// every 60/22 s (notify's token bucket).
const limiterConfig = `prometheus: {url: "http://127.0.0.1:1"}
evaluation: {interval: 1m, backfill: 2h}
rules: [rules/]
receivers:
  - name: oncall
    pagerduty: {routing_key: %q, url: %q, events_per_minute: 24}
%sroutes:
  - {receiver: oncall}
`

// TestPagerDutyLimiterSurvivesReload shows that a reload does not refill the rate-limit bucket of a
// PagerDuty routing key: PagerDuty counts events per key, whatever slod's config generation, so a
// reload (an operator fixing a route during an incident) must not let a new burst through.
func TestPagerDutyLimiterSurvivesReload(t *testing.T) {
	pd := &fakePagerDuty{}
	pdSrv := httptest.NewServer(pd)
	defer pdSrv.Close()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "rules"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "rules", "shop.yaml"), limiterRules)
	cfgPath := filepath.Join(dir, "slod.yml")
	writeFile(t, cfgPath, fmt.Sprintf(limiterConfig, testRoutingKey, pdSrv.URL, ""))
	logs := &syncWriter{w: &strings.Builder{}}
	defer func() {
		if t.Failed() {
			t.Logf("slod logs:\n%s", logs.String())
		}
	}()
	mock := clock.NewMock()
	mock.Set(t0)
	src := &fakeSource{bad: func(time.Time) float64 { return 5 }, total: func(time.Time) float64 { return 10 }}
	d, err := New(context.Background(), Options{
		ConfigFile:  cfgPath,
		StoragePath: filepath.Join(dir, "data"),
		Logger:      slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Clock:       mock,
		Registry:    prometheus.NewRegistry(),
		Web:         WebOptions{EnableLifecycle: true},
		NewQuerier: func(promapi.Config, promapi.Options) (sli.Querier, error) {
			return src, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	dispatch := func() {
		t.Helper()
		if _, err := d.dispatcher.DispatchOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	events := func() int {
		pd.mu.Lock()
		defer pd.mu.Unlock()
		return len(pd.events)
	}
	pending := func() int {
		t.Helper()
		es, err := d.store.Outbox()
		if err != nil {
			t.Fatal(err)
		}
		return len(es)
	}

	// Four alerts fire at once: the burst of two goes out, the other two wait for the limiter
	// (which is not a failure: nothing is recorded against them).
	if err := d.Cycle(context.Background(), t0); err != nil {
		t.Fatal(err)
	}
	dispatch()
	if n := events(); n != 2 {
		t.Fatalf("PagerDuty received %d events of the first burst, want 2 (the bucket's capacity)", n)
	}
	if n := pending(); n != 2 {
		t.Fatalf("outbox: %d pending, want 2", n)
	}

	// A second later an operator reloads (a new receiver, the PagerDuty one unchanged), through
	// POST /-/reload as `curl` or the config reloader would.
	mock.Add(time.Second)
	oncall := func() any {
		d.mu.RLock()
		defer d.mu.RUnlock()
		return d.rt.notifiers["oncall"]
	}
	before := oncall()
	writeFile(t, cfgPath, fmt.Sprintf(limiterConfig, testRoutingKey, pdSrv.URL, "  - name: audit\n    webhook: {url: \"http://127.0.0.1:1/hook\"}\n"))
	resp, err := http.Post(srv.URL+"/-/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("reload: %s", resp.Status)
	}
	if oncall() == before {
		t.Fatal("the reload did not rebuild the PagerDuty receiver; the test would prove nothing")
	}

	// When the bucket has one token again (60/22 s after the burst), one event goes out and the
	// last waits for the next. A reload that refilled the bucket would let both out at once.
	mock.Add(2 * time.Second)
	dispatch()
	if n := events(); n != 3 {
		t.Fatalf("PagerDuty received %d events once one token was back, want 3: the reload refilled the rate-limit bucket", n)
	}
	if n := pending(); n != 1 {
		t.Fatalf("outbox after the reload: %d pending, want 1", n)
	}

	// Once the clock has advanced enough for the bucket to refill, both go out.
	mock.Add(time.Minute)
	dispatch()
	if n := events(); n != 4 {
		t.Errorf("PagerDuty received %d events a minute later, want all 4", n)
	}
	if n := pending(); n != 0 {
		t.Errorf("%d notifications still pending a minute later", n)
	}
	for _, key := range []string{"slod/shop/availability/page", "slod/shop/availability/ticket", "slod/shop/checkout/page", "slod/shop/checkout/ticket"} {
		if n := pd.count(key, "trigger"); n != 1 {
			t.Errorf("%s: %d triggers, want 1", key, n)
		}
	}
}
