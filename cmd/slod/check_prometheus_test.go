package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slod-dev/slod/internal/check"
	"github.com/slod-dev/slod/internal/examplegen"
	"github.com/slod-dev/slod/internal/fidelity"
)

// alertSpan is one alert interval of a check's JSON report, by SLO.
type alertSpan struct {
	slo, severity string
	start, end    time.Time // end zero: still firing
}

func checkAlerts(t *testing.T, args ...string) []alertSpan {
	t.Helper()
	code, stdout, stderr := runCheckCmd(append(args, "--format", "json")...)
	if code != 0 {
		t.Fatalf("slod check %s: exit %d\n%s", strings.Join(args, " "), code, stderr)
	}
	var doc checkJSON
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatal(err)
	}
	var out []alertSpan
	for _, s := range doc.SLOs {
		for _, a := range s.Alerts {
			sp := alertSpan{slo: s.Service + "/" + s.Name, severity: a.Severity}
			sp.start, _ = time.Parse(time.RFC3339, a.Start)
			if a.End != nil {
				sp.end, _ = time.Parse(time.RFC3339, *a.End)
			}
			out = append(out, sp)
		}
	}
	return out
}

func (a alertSpan) String() string {
	end := "firing"
	if !a.end.IsZero() {
		end = a.end.Format("01-02T15:04")
	}
	return fmt.Sprintf("%s %s %s→%s", a.slo, a.severity, a.start.Format("01-02T15:04"), end)
}

// sameAlerts reports whether two checks found the same intervals, each edge within tol.
func sameAlerts(a, b []alertSpan, tol time.Duration) bool {
	if len(a) != len(b) {
		return false
	}
	near := func(x, y time.Time) bool { d := x.Sub(y); return d <= tol && d >= -tol }
	for i := range a {
		if a[i].slo != b[i].slo || a[i].severity != b[i].severity || !near(a[i].start, b[i].start) ||
			a[i].end.IsZero() != b[i].end.IsZero() || !near(a[i].end, b[i].end) {
			return false
		}
	}
	return true
}

const prometheusCheckRules = `version: slod/v1
service: shop
slos:
  - name: api
    objective: 99.9
    sli:
      events:
        error_query: sum(rate(http_requests_total{job="api",code=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_total{job="api"}[{{.window}}]))
  - name: web
    objective: 99.5
    sli:
      events:
        error_query: sum(rate(http_requests_total{job="web",code=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_total{job="web"}[{{.window}}]))
  - name: web-latency
    objective: 99
    sli:
      latency:
        histogram: http_request_duration_seconds{job="web"}
        threshold: 1
`

// prometheusCheckData writes three days of two jobs as OpenMetrics, with a page for every SLO of
// prometheusCheckRules, backfills them into a TSDB with promtool, and copies that TSDB for a
// Prometheus to serve (Prometheus compacts and locks the directory it serves).
func prometheusCheckData(t *testing.T) (file, rulesFile, tsdb, served string, start, end time.Time) {
	t.Helper()
	fidelity.Binary(t, "prometheus")
	fidelity.Binary(t, "promtool")
	start = time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	end = start.Add(72 * time.Hour)
	outage := func(at time.Duration, length time.Duration, ratio float64) examplegen.Func {
		return examplegen.Incident(examplegen.Const(0.0005), examplegen.Span{Start: start.Add(at), End: start.Add(at + length)}, 0, examplegen.Const(ratio))
	}
	cfg := examplegen.Config{Start: start, End: end, Seed: 9, Jobs: []examplegen.Job{
		{Name: "api", Scrape: 15 * time.Second, HTTP: &examplegen.HTTP{RPS: examplegen.Const(20), ErrorRatio: outage(30*time.Hour, 20*time.Minute, 0.2)}},
		{Name: "web", Scrape: 30 * time.Second, Offset: 7 * time.Second, Gaps: []examplegen.Span{{Start: start.Add(50 * time.Hour), End: start.Add(50*time.Hour + 12*time.Minute)}},
			HTTP: &examplegen.HTTP{RPS: examplegen.Const(10), ErrorRatio: outage(40*time.Hour, 4*time.Hour, 0.06),
				LatencyMedian: examplegen.Incident(examplegen.Const(0.2), examplegen.Span{Start: start.Add(60 * time.Hour), End: start.Add(62 * time.Hour)}, 0, examplegen.Const(1.5)),
				LatencySigma:  0.4, Buckets: []float64{0.5, 1}}},
	}}
	series, err := examplegen.Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var om bytes.Buffer
	if err := check.WriteOpenMetrics(&om, series); err != nil {
		t.Fatal(err)
	}
	dir := writeFiles(t, map[string]string{"data.om": om.String(), "shop.yaml": prometheusCheckRules})
	file, rulesFile = filepath.Join(dir, "data.om"), filepath.Join(dir, "shop.yaml")
	tsdb, served = filepath.Join(dir, "tsdb"), filepath.Join(dir, "served")
	fidelity.Backfill(t, file, tsdb)
	if err := os.CopyFS(served, os.DirFS(tsdb)); err != nil {
		t.Fatal(err)
	}
	return file, rulesFile, tsdb, served, start, end
}

// TestCheckPrometheusMatchesTSDB backfills three days into a TSDB with promtool and backtests them
// four ways: from the OpenMetrics file, from the TSDB directory (--data DIR), from a real
// Prometheus 2.42 serving a copy of it (--prometheus.url, the daemon's queries over the HTTP API),
// and from that Prometheus named by a daemon config. The file and the directory give exactly the
// same alerts (the same engine over the same samples); the Prometheus gives the same intervals
// within one step at their edges: job api is scraped exactly on the step boundaries, and Prometheus
// 2's range selectors are left-closed, so a sample on a boundary is fresh in both steps it bounds
// there, while the embedded engine (Prometheus 3) counts it in one; a window's error ratio then
// differs by a sample and can cross a threshold a step apart.
func TestCheckPrometheusMatchesTSDB(t *testing.T) {
	file, rulesFile, tsdb, served, start, end := prometheusCheckData(t)
	prom := fidelity.Start(t, served, "")

	from, to := start.Add(time.Hour).Format(time.RFC3339), end.Format(time.RFC3339)
	fromFile := checkAlerts(t, rulesFile, "--data", file, "--from", from, "--to", to)
	fromDir := checkAlerts(t, rulesFile, "--data", tsdb, "--from", from, "--to", to)
	fromProm := checkAlerts(t, rulesFile, "--prometheus.url", prom.URL, "--from", from, "--to", to)
	t.Logf("alerts: file %v\ndir %v\nprometheus %v", fromFile, fromDir, fromProm)
	severities := map[string]bool{}
	for _, a := range fromFile {
		severities[a.slo+" "+a.severity] = true
	}
	for _, want := range []string{"shop/api page", "shop/web page", "shop/web-latency page"} {
		if !severities[want] {
			t.Errorf("the data raises no %s alert: the comparison proves less than it should", want)
		}
	}
	if !sameAlerts(fromDir, fromFile, 0) {
		t.Errorf("--data DIR finds other alerts than --data FILE on the same samples:\n dir  %v\n file %v", fromDir, fromFile)
	}
	if !sameAlerts(fromProm, fromDir, time.Minute) {
		t.Errorf("--prometheus.url finds other alerts than --data DIR on the same samples (beyond one step at the edges):\n prometheus %v\n dir        %v\nlogs:\n%s", fromProm, fromDir, prom.Logs())
	}

	// The HTML report (-o) from either source: its SLOs' charts, their pages, and the source named.
	for _, src := range [][]string{{"--data", tsdb}, {"--prometheus.url", prom.URL}} {
		page := checkHTML(t, append([]string{rulesFile, "--from", from, "--to", to}, src...)...)
		name := filepath.Base(src[1])
		if src[0] == "--prometheus.url" {
			name = src[1]
		}
		if want := "on <code>" + name + "</code>"; !strings.Contains(page, want) {
			t.Errorf("%s: the report does not name its source (%s)", src[0], want)
		}
		if n := strings.Count(page, `data-kind="budget"`); n != 3 || strings.Count(page, `<span class="chip firing">page`) < 3 {
			t.Errorf("%s: %d budget charts, want 3, and a page for each SLO", src[0], n)
		}
	}

	// --compare reads the data once for both sets: the same table from the Prometheus and the
	// directory (here web's objective lowered, so that its page goes).
	lowered := filepath.Join(t.TempDir(), "shop.yaml")
	if err := os.WriteFile(lowered, []byte(strings.Replace(prometheusCheckRules, "objective: 99.5", "objective: 98", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	compareArgs := []string{"--compare", rulesFile, lowered, "--from", from, "--to", to}
	code, dirTable, stderr := runCheckCmd(append(compareArgs, "--data", tsdb)...)
	if code != 0 || !strings.Contains(dirTable, "shop/web          10.1 → 0") {
		t.Errorf("--compare --data DIR: exit %d, want web's page gone:\n%s%s", code, dirTable, stderr)
	}
	code, promTable, stderr := runCheckCmd(append(compareArgs, "--prometheus.url", prom.URL)...)
	if code != 0 || promTable != dirTable {
		t.Errorf("--compare --prometheus.url: exit %d\n%s%s\nwant, as from the directory:\n%s", code, promTable, stderr, dirTable)
	}

	// The daemon's config names the source: its URL, and its client settings.
	cfgDir := writeFiles(t, map[string]string{"slod.yml": fmt.Sprintf(`prometheus:
  url: %s
  headers: {X-Scope-OrgID: shop}
  timeout: 1m
rules: [%s]
receivers: [{name: hook, webhook: {url: "http://127.0.0.1:1/hook"}}]
routes: [{match: {}, receiver: hook}]
`, prom.URL, rulesFile)})
	fromConfig := checkAlerts(t, "--config.file", filepath.Join(cfgDir, "slod.yml"), "--from", from, "--to", to)
	if !sameAlerts(fromConfig, fromProm, 0) {
		t.Errorf("--config.file's prometheus finds other alerts than --prometheus.url:\n config %v\n url    %v", fromConfig, fromProm)
	}
}

// TestCheckSnapshot: a snapshot of a running Prometheus (POST /api/v1/admin/tsdb/snapshot) is read
// whole, tombstones included: after api's series are deleted (delete_series), --data on the
// snapshot and --prometheus.url both find no alert for it any more, and the same other alerts.
func TestCheckSnapshot(t *testing.T) {
	_, rulesFile, tsdb, served, start, end := prometheusCheckData(t)
	prom := fidelity.Start(t, served, "", "--web.enable-admin-api")
	from, to := start.Add(time.Hour).Format(time.RFC3339), end.Format(time.RFC3339)
	before := checkAlerts(t, rulesFile, "--data", tsdb, "--from", from, "--to", to)
	post := func(path string) []byte {
		t.Helper()
		resp, err := http.Post(prom.URL+path, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode/100 != 2 {
			t.Fatalf("POST %s: %s\n%s", path, resp.Status, body)
		}
		return body
	}
	// All of api: a span deleted from a counter would be a scrape gap, whose growth slod counts
	// in the first step after it (DESIGN §2), and the outage would still page.
	q := url.Values{"match[]": {`{job="api"}`}}
	post("/api/v1/admin/tsdb/delete_series?" + q.Encode())
	var snap struct{ Data struct{ Name string } }
	if err := json.Unmarshal(post("/api/v1/admin/tsdb/snapshot"), &snap); err != nil || snap.Data.Name == "" {
		t.Fatalf("snapshot: %v %+v", err, snap)
	}
	snapshot := filepath.Join(served, "snapshots", snap.Data.Name)
	fromSnapshot := checkAlerts(t, rulesFile, "--data", snapshot, "--from", from, "--to", to)
	fromProm := checkAlerts(t, rulesFile, "--prometheus.url", prom.URL, "--from", from, "--to", to)
	t.Logf("alerts: before %v\nsnapshot %v\nprometheus %v", before, fromSnapshot, fromProm)
	var rest []alertSpan
	for _, a := range before {
		if a.slo != "shop/api" {
			rest = append(rest, a)
		}
	}
	if len(rest) == len(before) || !sameAlerts(fromSnapshot, rest, 0) {
		t.Errorf("the snapshot after deleting api's outage gives %v, want the alerts before but api's, %v", fromSnapshot, rest)
	}
	if !sameAlerts(fromProm, fromSnapshot, time.Minute) {
		t.Errorf("--prometheus.url gives %v, the snapshot %v", fromProm, fromSnapshot)
	}
}

// checkHTML runs slod check with --format html -o FILE and returns the page it wrote.
func checkHTML(t *testing.T, args ...string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "report.html")
	code, stdout, stderr := runCheckCmd(append(args, "--format", "html", "-o", out)...)
	if code != 0 || stdout != "" {
		t.Fatalf("slod check %s: exit %d, stdout %q\n%s", strings.Join(args, " "), code, stdout, stderr)
	}
	return string(mustRead(t, out))
}
