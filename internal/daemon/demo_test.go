package daemon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/slod-dev/slod/internal/notify"
	"github.com/slod-dev/slod/internal/promapi"
	"github.com/slod-dev/slod/internal/sli"
)

// The demo: a daemon over a few SLOs whose source tells a story over the last hours, as the status
// page's tests, its screenshots (docs/) and its benchmarks see it. demoEnd is the last evaluation.
var demoEnd = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

const demoRules = `version: slod/v1
service: checkout
labels: {team: payments}
slos:
  - name: availability
    description: Checkout requests answered without a server error.
    objective: 99.9
    sli:
      events:
        error_query: sum(rate(req_total{job="checkout",code="500"}[{{.window}}]))
        total_query: sum(rate(req_total{job="checkout"}[{{.window}}]))
    alerting:
      runbook_url: https://runbooks.example/checkout/availability
      no_data: {after: 15m, severity: ticket}
  - name: latency
    description: Checkout requests answered within 300 ms.
    objective: 99
    sli:
      events:
        error_query: sum(rate(req_total{job="checkout-latency",code="500"}[{{.window}}]))
        total_query: sum(rate(req_total{job="checkout-latency"}[{{.window}}]))
`

const demoRules2 = `version: slod/v1
service: search
labels: {team: discovery}
slos:
  - name: availability
    description: Search queries answered.
    objective: 99.5
    sli:
      events:
        error_query: sum(rate(req_total{job="search",code="500"}[{{.window}}]))
        total_query: sum(rate(req_total{job="search"}[{{.window}}]))
  - name: exports
    description: Nightly exports that finish.
    objective: 99.9
    sli:
      events:
        error_query: sum(rate(req_total{job="exports",code="500"}[{{.window}}]))
        total_query: sum(rate(req_total{job="exports"}[{{.window}}]))
  - name: billing-sync
    description: Billing records synced (its exporter is gone).
    objective: 99
    sli:
      events:
        error_query: sum(rate(req_total{job="billing",code="500"}[{{.window}}]))
        total_query: sum(rate(req_total{job="billing"}[{{.window}}]))
  - name: answers-per-model
    description: Answers per model without an error.
    objective: 99.5
    group_by: [model]
    sli:
      events:
        error_query: sum by (model) (rate(req_total{job="gateway",code="500"}[{{.window}}]))
        total_query: sum by (model) (rate(req_total{job="gateway"}[{{.window}}]))
`

// demoRate is the events per minute of a job (bad: its errors) at t, and whether there is data.
func demoRate(job, model string, bad bool, t time.Time) (float64, bool) {
	ago := demoEnd.Sub(t)
	share := 0.0005
	total := 600.0
	switch job {
	case "checkout":
		switch {
		case ago >= 2*time.Hour+5*time.Minute && ago < 2*time.Hour+35*time.Minute:
			share = 0.08 // an outage that paged and ended
		case ago >= 0 && ago < 25*time.Minute:
			share = 0.06 // the outage paging now
		case ago > 9*24*time.Hour && ago < 9*24*time.Hour+3*time.Hour:
			share = 0.01 // an old slow burn, in the history only
		}
	case "checkout-latency":
		total, share = 300, 0.004
		if ago < 26*time.Hour {
			share = 0.04 // a slow burn: the ticket
		}
	case "search":
		total, share = 900, 0.001
		if ago >= 5*time.Hour && ago < 5*time.Hour+30*time.Minute {
			return 0, false // a scrape gap: no data, not "no errors"
		}
	case "exports":
		total, share = 0.02, 0 // a few events a day: too few for 99.9%
	case "billing":
		return 0, false
	case "gateway":
		total, share = 200, 0.001
		if model == "code" && ago < 5*time.Hour && ago > 4*time.Hour {
			share = 0.2
		}
	}
	if bad {
		return total * share, true
	}
	return total, true
}

var demoJob = regexp.MustCompile(`job="([^"]+)"`)

// demoSource answers the SLIs' per-step queries with demoRate, per second as rate() does, per
// group for a query by model (the tiered backfill scales what it answers at coarser steps itself).
type demoSource struct {
	rate    func(job, model string, bad bool, t time.Time) (float64, bool)
	queries atomic.Int64
}

func (s *demoSource) QueryRange(_ context.Context, query string, start, end time.Time, step time.Duration) ([]sli.Series, error) {
	s.queries.Add(1)
	m := demoJob.FindStringSubmatch(query)
	if m == nil {
		return nil, fmt.Errorf("no job in %s", query)
	}
	bad := strings.Contains(query, `code="500"`)
	models := []string{""}
	if strings.Contains(query, "by (model)") {
		models = []string{"chat", "code", "embed"}
	}
	var out []sli.Series
	for _, model := range models {
		var pts []sli.Point
		for t := start; !t.After(end); t = t.Add(step) {
			if v, ok := s.rate(m[1], model, bad, t); ok {
				pts = append(pts, sli.Point{T: t, V: v / 60}) // rate(): per second
			}
		}
		ls := map[string]string{}
		if model != "" {
			ls["model"] = model
		}
		if len(pts) > 0 {
			out = append(out, sli.Series{Labels: ls, Points: pts})
		}
	}
	return out, nil
}

// demo is a daemon over the demo's SLOs, evaluated up to demoEnd, its notifications delivered to a
// local webhook (the page's) and one that fails (the ticket's).
type demo struct {
	d     *Daemon
	clock *clock.Mock
	srv   *httptest.Server
}

// newDemo starts the demo: a 30-day backfill at demoEnd − 3h, then a cycle every 10 minutes up to
// demoEnd, the dispatcher passing after each, and a silence on the ticket.
func newDemo(t testing.TB, rulesText ...string) *demo {
	t.Helper()
	dir := t.TempDir()
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if strings.HasSuffix(r.URL.Path, "/down") {
			http.Error(w, "maintenance", http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(hook.Close)
	if len(rulesText) == 0 {
		rulesText = []string{demoRules, demoRules2}
	}
	if err := os.MkdirAll(filepath.Join(dir, "rules"), 0o755); err != nil {
		t.Fatal(err)
	}
	for i, r := range rulesText {
		writeFileTB(t, filepath.Join(dir, "rules", fmt.Sprintf("r%d.yaml", i)), r)
	}
	writeFileTB(t, filepath.Join(dir, "slod.yml"), fmt.Sprintf(`prometheus: {url: "http://127.0.0.1:1"}
evaluation: {interval: 1m}
rules: [rules/]
receivers:
  - {name: oncall, webhook: {url: %q}}
  - {name: tickets, webhook: {url: %q}}
routes:
  - {match: {severity: page}, receiver: oncall}
  - {match: {severity: ticket}, receiver: tickets}
`, hook.URL+"/page", hook.URL+"/down"))
	clk := clock.NewMock()
	start := demoEnd.Add(-3 * time.Hour)
	clk.Set(start)
	d, err := New(context.Background(), Options{ConfigFile: filepath.Join(dir, "slod.yml"), StoragePath: filepath.Join(dir, "data"),
		Logger: slog.New(slog.DiscardHandler), Clock: clk, Registry: prometheus.NewRegistry(),
		NewQuerier: func(promapi.Config, promapi.Options) (sli.Querier, error) { return &demoSource{rate: demoRate}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	dm := &demo{d: d, clock: clk}
	for at := start; !at.After(demoEnd); at = at.Add(10 * time.Minute) {
		clk.Set(at)
		if at.Equal(start.Add(20 * time.Minute)) {
			dm.silence(t, "latency")
		}
		if err := d.Cycle(context.Background(), at); err != nil {
			t.Fatal(err)
		}
		if _, err := d.dispatcher.DispatchOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	dm.srv = httptest.NewServer(d.Handler())
	t.Cleanup(dm.srv.Close)
	return dm
}

// silence silences checkout's SLO name until well after the demo's end.
func (dm *demo) silence(t testing.TB, name string) {
	t.Helper()
	now := dm.clock.Now()
	_, err := dm.d.silences.Add(notify.Silence{Matchers: []notify.Matcher{{Name: "service", Value: "checkout", IsEqual: true},
		{Name: "slo", Value: name, IsEqual: true}}, StartsAt: now, EndsAt: now.Add(48 * time.Hour), CreatedBy: "ana", Comment: "INC-1234: known slow disks"})
	if err != nil {
		t.Fatal(err)
	}
}

func writeFileTB(t testing.TB, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}
