package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/slod-dev/slod/internal/eval"
	"github.com/slod-dev/slod/internal/notify"
	"github.com/slod-dev/slod/internal/promapi"
	"github.com/slod-dev/slod/internal/rules"
	"github.com/slod-dev/slod/internal/sli"
	"github.com/slod-dev/slod/internal/store"
)

// fakeSource is a hand-written sli.Querier: at every step it answers the total query with
// total(t) and the error query (recognised by its code="500" matcher) with bad(t). It can fail
// like a real source: an error, or no series at all.
type fakeSource struct {
	mu      sync.Mutex
	bad     func(t time.Time) float64
	total   func(t time.Time) float64
	err     error
	empty   bool
	queries int
	// starts and ends of the queries, for asserting what was fetched
	starts, ends []time.Time
}

func (f *fakeSource) set(fn func(f *fakeSource)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakeSource) QueryRange(ctx context.Context, query string, start, end time.Time, step time.Duration) ([]sli.Series, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries++
	f.starts, f.ends = append(f.starts, start), append(f.ends, end)
	if f.err != nil {
		return nil, f.err
	}
	if f.empty {
		return nil, nil
	}
	val := f.total
	if strings.Contains(query, `code="500"`) {
		val = f.bad
	}
	var pts []sli.Point
	for t := start; !t.After(end); t = t.Add(step) {
		pts = append(pts, sli.Point{T: t, V: val(t)})
	}
	return []sli.Series{{Labels: map[string]string{}, Points: pts}}, nil
}

const testRules = `version: slod/v1
service: shop
labels: {team: web}
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
      no_data: {after: 15m, severity: ticket}
`

const testConfig = `prometheus: {url: "http://127.0.0.1:1", bearer_token: %q}
evaluation: {interval: 1m, backfill: 2h}
rules: [rules/]
receivers:
  - name: hook
    webhook: {url: "http://127.0.0.1:1/hook"}
  - name: pd
    pagerduty: {routing_key: %q, url: "http://127.0.0.1:1"}
routes:
  - {match: {severity: page}, receiver: hook}
  - {match: {severity: ticket}, receiver: pd}
`

const (
	testBearer     = "bearer-s3cr3t-value"
	testRoutingKey = "0123456789abcdef0123456789abcdef"
)

type harness struct {
	t      *testing.T
	dir    string
	src    *fakeSource
	logs   *bytes.Buffer
	d      *Daemon
	reg    *prometheus.Registry
	closed bool
	// tweak, when set, changes the daemon's options before each open.
	tweak func(*Options)
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "rules"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "rules", "shop.yaml"), testRules)
	writeFile(t, filepath.Join(dir, "slod.yml"), fmt.Sprintf(testConfig, testBearer, testRoutingKey))
	h := &harness{t: t, dir: dir, logs: &bytes.Buffer{}, src: &fakeSource{
		bad:   func(time.Time) float64 { return 0 },
		total: func(time.Time) float64 { return 10 },
	}}
	h.open()
	t.Cleanup(func() { h.close() })
	return h
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// String returns what was written, when the writer is a fmt.Stringer (a strings.Builder).
func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := s.w.(fmt.Stringer); ok {
		return st.String()
	}
	return ""
}

// open starts a daemon over the harness's directory, as a process start would.
func (h *harness) open() {
	h.t.Helper()
	h.reg = prometheus.NewRegistry()
	opt := Options{
		ConfigFile:  filepath.Join(h.dir, "slod.yml"),
		StoragePath: filepath.Join(h.dir, "data"),
		Logger:      slog.New(slog.NewJSONHandler(&syncWriter{w: h.logs}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Registry:    h.reg,
		NewQuerier: func(promapi.Config, promapi.Options) (sli.Querier, error) {
			return h.src, nil
		},
	}
	if h.tweak != nil {
		h.tweak(&opt)
	}
	d, err := New(context.Background(), opt)
	if err != nil {
		h.t.Fatal(err)
	}
	h.d, h.closed = d, false
}

func (h *harness) close() {
	if !h.closed {
		h.d.Close()
		h.closed = true
	}
}

func (h *harness) restart() {
	h.t.Helper()
	h.close()
	h.open()
}

func (h *harness) cycle(at time.Time) {
	h.t.Helper()
	if err := h.d.Cycle(context.Background(), at); err != nil {
		h.t.Fatalf("cycle at %v: %v", at, err)
	}
}

// outbox returns the pending notifications (the dispatcher is not running in these tests, so
// everything ever enqueued stays there).
func (h *harness) outbox() []notify.Notification {
	h.t.Helper()
	es, err := h.d.store.Outbox()
	if err != nil {
		h.t.Fatal(err)
	}
	var out []notify.Notification
	for _, e := range es {
		n, err := notify.UnmarshalPayload(e.Payload)
		if err != nil {
			h.t.Fatal(err)
		}
		out = append(out, n)
	}
	return out
}

func (h *harness) phase(severity string, noData bool) string {
	h.t.Helper()
	for _, v := range h.d.sloViews() {
		for _, a := range v.Alerts {
			if a.Severity == severity && a.NoData == noData {
				return a.State
			}
		}
	}
	return "inactive"
}

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func TestCycleFireRestartSourceDownResolve(t *testing.T) {
	h := newHarness(t)
	outage := func(from, to time.Time) func(time.Time) float64 {
		return func(at time.Time) float64 {
			if at.After(from) && !at.After(to) {
				return 5 // 50% errors: burn rate 50 against a 1% budget
			}
			return 0
		}
	}
	// Healthy start: backfills two hours, nothing fires.
	h.cycle(t0)
	if n := len(h.outbox()); n != 0 {
		t.Fatalf("healthy start enqueued %d notifications", n)
	}
	if !h.d.Ready() {
		t.Error("not ready after the first cycle")
	}
	if h.src.queries != 2 {
		t.Errorf("backfill took %d queries, want 2 (one range query per SLI query)", h.src.queries)
	}
	// Errors from t0 on: the page fires once.
	h.src.set(func(f *fakeSource) { f.bad = outage(t0, t0.Add(24*time.Hour)) })
	var firedAt time.Time
	// A 1h long window over 50% errors after an hour of none crosses 10x after 13 minutes.
	for i := 1; i <= 20; i++ {
		at := t0.Add(time.Duration(i) * time.Minute)
		h.cycle(at)
		if firedAt.IsZero() && h.phase("page", false) == "firing" {
			firedAt = at
		}
	}
	if firedAt.IsZero() {
		t.Fatal("page never fired")
	}
	ob := h.outbox()
	if len(ob) != 1 || ob[0].Action != notify.Trigger || ob[0].DedupKey != "slod/shop/availability/page" {
		t.Fatalf("outbox after firing: %+v", ob)
	}
	if ob[0].Labels["team"] != "web" || ob[0].Window == nil || ob[0].Window.LongBurnRate < 10 {
		t.Errorf("trigger content: %+v", ob[0])
	}
	if want := t0.Add(13 * time.Minute); !firedAt.Equal(want) {
		t.Errorf("fired at %v, want %v", firedAt, want)
	}
	// Each cycle asks at most two queries per SLO, however long the window.
	before := h.src.queries
	h.cycle(t0.Add(21 * time.Minute))
	if q := h.src.queries - before; q != 2 {
		t.Errorf("steady cycle took %d queries, want 2", q)
	}

	// Restart: state comes from the store, the page is not sent again.
	h.restart()
	h.cycle(t0.Add(22 * time.Minute))
	if got := h.phase("page", false); got != "firing" {
		t.Fatalf("after restart page is %s", got)
	}
	if n := len(h.outbox()); n != 1 {
		t.Fatalf("restart re-sent: %d notifications", n)
	}

	// The errors stop but the source goes down at the same time: nothing may resolve.
	h.src.set(func(f *fakeSource) {
		f.bad = outage(t0, t0.Add(22*time.Minute))
		f.err = &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	})
	for i := 23; i <= 35; i++ {
		h.cycle(t0.Add(time.Duration(i) * time.Minute))
	}
	if got := h.phase("page", false); got != "firing" {
		t.Errorf("source down: page is %s, want it held firing", got)
	}
	if n := len(h.outbox()); n != 1 {
		t.Errorf("source down produced notifications: %+v", h.outbox())
	}
	if v := sourceErrorCount(t, h.d, "shop", "availability", promapi.ReasonNetwork); v != 13 {
		t.Errorf("source errors counted %v, want 13", v)
	}
	if !strings.Contains(h.logs.String(), `"slo":"shop/availability"`) || !strings.Contains(h.logs.String(), "holding its alert state") {
		t.Error("the source failure is not logged with its SLO")
	}
	// No data for 15 minutes (last data at t0+22m): the no-data ticket fires at t0+37m.
	for i := 36; i <= 38; i++ {
		h.cycle(t0.Add(time.Duration(i) * time.Minute))
	}
	if got := h.phase("ticket", true); got != "firing" {
		t.Errorf("no-data alert is %s after 16m without data", got)
	}
	ob = h.outbox()
	if len(ob) != 2 || ob[1].DedupKey != "slod/shop/availability/ticket/no_data" || ob[1].Action != notify.Trigger {
		t.Fatalf("outbox after no data: %+v", ob)
	}

	// An empty answer is no data too, not zero errors.
	h.src.set(func(f *fakeSource) { f.err = nil; f.empty = true })
	h.cycle(t0.Add(39 * time.Minute))
	if got := h.phase("page", false); got != "firing" {
		t.Errorf("empty result: page is %s", got)
	}

	// The source comes back: the gap is fetched (good data), the page and the no-data alert
	// resolve, each exactly once.
	h.src.set(func(f *fakeSource) { f.empty = false })
	h.cycle(t0.Add(40 * time.Minute))
	if got := h.phase("page", false); got != "inactive" {
		t.Errorf("after recovery page is %s", got)
	}
	ob = h.outbox()
	var resolves []string
	for _, n := range ob[2:] {
		if n.Action == notify.Resolve {
			resolves = append(resolves, n.DedupKey)
		}
	}
	if len(ob) != 4 || len(resolves) != 2 {
		t.Fatalf("after recovery outbox: %+v", ob)
	}
	h.restart()
	h.cycle(t0.Add(41 * time.Minute))
	if n := len(h.outbox()); n != 4 {
		t.Errorf("restart after resolve sent again: %d", n)
	}
}

func TestCommitFailureLosesNoTransition(t *testing.T) {
	h := newHarness(t)
	h.src.set(func(f *fakeSource) { f.bad = func(time.Time) float64 { return 5 } })
	// The store refuses the cycle that fires the page (closed under the daemon).
	h.d.store.Close()
	if err := h.d.Cycle(context.Background(), t0); err == nil {
		t.Fatal("cycle committed into a closed store")
	}
	if v := metricValue(h.d.m.cycles.WithLabelValues(cycleFailure)); v != 1 {
		t.Errorf("failed cycles: %v", v)
	}
	// A new process over the same store: the transition is found again and sent once.
	h.closed = true
	h.open()
	h.cycle(t0.Add(time.Minute))
	ob := h.outbox()
	if len(ob) != 1 || ob[0].Action != notify.Trigger {
		t.Fatalf("outbox: %+v", ob)
	}
}

func TestReload(t *testing.T) {
	h := newHarness(t)
	h.cycle(t0)
	end := h.d.slos[0].only().History().End()

	// A broken config: the reload fails, the metric says so, the running config stays.
	cfgPath := filepath.Join(h.dir, "slod.yml")
	good, _ := os.ReadFile(cfgPath)
	writeFile(t, cfgPath, string(good)+"evaluaton: {}\n")
	if err := h.d.Reload(); err == nil || !strings.Contains(err.Error(), "slod.yml:") {
		t.Fatalf("bad config reload: %v", err)
	}
	if v := metricValue(h.d.m.reloadSuccessful); v != 0 {
		t.Errorf("slod_config_last_reload_successful = %v", v)
	}
	if !h.d.Ready() || len(h.d.slos) != 1 {
		t.Error("a failed reload changed the running state")
	}
	// A broken rule file is refused the same way.
	writeFile(t, cfgPath, string(good))
	writeFile(t, filepath.Join(h.dir, "rules", "bad.yaml"), "version: slod/v1\nservice: x\nslos: [{name: a, objective: 120}]\n")
	if err := h.d.Reload(); err == nil {
		t.Fatal("bad rules reload succeeded")
	}
	os.Remove(filepath.Join(h.dir, "rules", "bad.yaml"))

	// A good reload adding an SLO: the existing one keeps its history and state by id.
	writeFile(t, filepath.Join(h.dir, "rules", "more.yaml"), strings.Replace(testRules, "service: shop", "service: cart", 1))
	if err := h.d.Reload(); err != nil {
		t.Fatal(err)
	}
	if v := metricValue(h.d.m.reloadSuccessful); v != 1 {
		t.Errorf("slod_config_last_reload_successful = %v", v)
	}
	if len(h.d.slos) != 2 {
		t.Fatalf("SLOs after reload: %d", len(h.d.slos))
	}
	for _, s := range h.d.slos {
		switch s.slo.ID() {
		case "shop/availability":
			if !s.only().History().End().Equal(end) {
				t.Errorf("shop history not carried over: end %v, want %v", s.only().History().End(), end)
			}
		case "cart/availability":
			if !s.only().History().End().IsZero() {
				t.Error("new SLO has history")
			}
		}
	}
	// The cycle after the reload backfills only the new SLO.
	h.src.set(func(f *fakeSource) { f.queries = 0 })
	h.cycle(t0.Add(time.Minute))
	if h.src.queries != 4 {
		t.Errorf("queries after reload: %d, want 4", h.src.queries)
	}
}

func TestReloadResolvesRemovedSLO(t *testing.T) {
	h := newHarness(t)
	h.src.set(func(f *fakeSource) { f.bad = func(time.Time) float64 { return 5 } })
	h.cycle(t0)
	if len(h.outbox()) != 1 {
		t.Fatalf("not fired: %+v", h.outbox())
	}
	writeFile(t, filepath.Join(h.dir, "rules", "shop.yaml"), strings.Replace(testRules, "name: availability", "name: renamed", 1))
	if err := h.d.Reload(); err != nil {
		t.Fatal(err)
	}
	h.cycle(t0.Add(4 * time.Minute))
	ob := h.outbox()
	if len(ob) < 2 || ob[1].Action != notify.Resolve || ob[1].DedupKey != "slod/shop/availability/page" {
		t.Fatalf("incident of a removed SLO not resolved: %+v", ob)
	}
}

func TestHTTPSurface(t *testing.T) {
	h := newHarness(t)
	srv := httptest.NewServer(h.d.Handler())
	defer srv.Close()
	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/-/ready"); code != http.StatusServiceUnavailable {
		t.Errorf("ready before the first cycle: %d", code)
	}
	if code, _ := get("/-/healthy"); code != http.StatusOK {
		t.Errorf("healthy: %d", code)
	}
	h.src.set(func(f *fakeSource) { f.bad = func(time.Time) float64 { return 1 } })
	h.cycle(t0)
	if code, _ := get("/-/ready"); code != http.StatusOK {
		t.Errorf("ready after the first cycle: %d", code)
	}
	code, body := get("/api/v1/slos")
	var resp struct {
		Status string    `json:"status"`
		Data   []sloView `json:"data"`
	}
	if err := json.Unmarshal([]byte(body), &resp); err != nil || code != 200 {
		t.Fatalf("slos: %d %v %s", code, err, body)
	}
	if len(resp.Data) != 1 {
		t.Fatalf("slos: %s", body)
	}
	v := resp.Data[0]
	if v.ID != "shop/availability" || v.Objective != 0.99 || len(v.Windows) == 0 || v.EvaluatedAt == nil {
		t.Errorf("slo view: %+v", v)
	}
	for _, w := range v.Windows {
		if w.Window == "1h" && (w.BurnRate == nil || *w.BurnRate < 9.99 || *w.BurnRate > 10.01) {
			t.Errorf("1h burn rate %v, want 10 (10%% errors against a 1%% budget)", w.BurnRate)
		}
	}
	if v.BudgetRemaining == nil || *v.BudgetRemaining > -8.9 || *v.BudgetRemaining < -9.1 {
		t.Errorf("budget remaining %v, want -9", v.BudgetRemaining)
	}
	if len(v.Alerts) != 2 {
		t.Errorf("alerts: %+v", v.Alerts)
	}
	_, metrics := get("/metrics")
	for _, want := range []string{
		`slod_slo_burn_rate{service="shop",slo="availability",window="1h"} `,
		`slod_slo_objective{service="shop",slo="availability"} 0.99`,
		`slod_evaluation_cycles_total{result="success"} 1`,
		`slod_alert_state{service="shop",severity="page",slo="availability"} 0`,
		`slod_slos{state="`, `slod_build_info{`, `slod_store_size_bytes`, `slod_outbox_oldest_pending_age_seconds 0`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if code, page := get("/"); code != 200 || !strings.Contains(page, "shop/availability") {
		t.Errorf("status page: %d", code)
	}
	if code, _ := get("/api/v1/silences"); code != 200 {
		t.Errorf("silences API: %d", code)
	}
	// Without --web.enable-lifecycle and --web.enable-admin-api, as Prometheus.
	resp2, err := http.Post(srv.URL+"/-/reload", "", nil)
	if err != nil || resp2.StatusCode != http.StatusForbidden {
		t.Errorf("reload without --web.enable-lifecycle: %v %v, want 403", err, resp2.StatusCode)
	}
	if code, body := get("/api/v1/admin/backup"); code != http.StatusForbidden || !strings.Contains(body, "--web.enable-admin-api") {
		t.Errorf("backup without --web.enable-admin-api: %d %s, want 403 naming the flag", code, body)
	}
	// Secrets never reach logs, metrics or the API.
	_, api := get("/api/v1/slos")
	for name, out := range map[string]string{"logs": h.logs.String(), "metrics": metrics, "api": api} {
		for _, secret := range []string{testBearer, testRoutingKey} {
			if strings.Contains(out, secret) {
				t.Errorf("%s reveal a secret", name)
			}
		}
	}
}

func TestCycleIDInLogs(t *testing.T) {
	h := newHarness(t)
	h.src.set(func(f *fakeSource) { f.err = errors.New("boom") })
	h.cycle(t0)
	var ids []string
	for _, line := range strings.Split(strings.TrimSpace(h.logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if id, ok := m["cycle_id"].(string); ok {
			ids = append(ids, id)
		}
	}
	if len(ids) < 2 {
		t.Fatalf("cycle logs without cycle_id: %s", h.logs.String())
	}
	for _, id := range ids {
		if id != ids[0] {
			t.Errorf("cycle ids differ within a cycle: %v", ids)
		}
	}
}

var _ = store.Cycle{}

// metricValue reads a counter or gauge.
func metricValue(c prometheus.Metric) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.Gauge.GetValue()
}

func TestGapAfterDowntimeIsFetched(t *testing.T) {
	cases := []struct {
		name      string
		down      time.Duration
		wantStart time.Duration // relative to the restart's evaluation time
	}{
		{"short downtime: the gap", 30 * time.Minute, -29 * time.Minute},
		{"downtime beyond the backfill: the backfill", 5 * time.Hour, -2*time.Hour + time.Minute},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.cycle(t0)
			if got := h.src.starts[0]; !got.Equal(t0.Add(-2 * time.Hour).Add(time.Minute)) {
				t.Errorf("initial backfill from %v", got)
			}
			h.restart()
			at := t0.Add(tc.down)
			h.src.set(func(f *fakeSource) { f.starts, f.ends, f.queries = nil, nil, 0 })
			h.cycle(at)
			if h.src.queries != 2 {
				t.Errorf("%d queries for the gap, want 2", h.src.queries)
			}
			if got := h.src.starts[0]; !got.Equal(at.Add(tc.wantStart)) || !h.src.ends[0].Equal(at) {
				t.Errorf("fetched [%v, %v], want [%v, %v]", got, h.src.ends[0], at.Add(tc.wantStart), at)
			}
			if end := h.d.slos[0].only().History().End(); !end.Equal(at) {
				t.Errorf("history ends %v, want %v", end, at)
			}
		})
	}
}

func TestReloadWindowGrew(t *testing.T) {
	h := newHarness(t)
	h.src.set(func(f *fakeSource) { f.bad = func(time.Time) float64 { return 5 } })
	h.cycle(t0)
	if h.phase("page", false) != "firing" {
		t.Fatal("not firing")
	}
	// The period grows from 1d to 7d: the history cannot hold it and is refetched, the alert
	// state stays, and nothing is sent twice.
	writeFile(t, filepath.Join(h.dir, "rules", "shop.yaml"), strings.Replace(testRules, "window: 1d", "window: 7d", 1))
	if err := h.d.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := h.d.slos[0].only().History().MaxWindow(); got != 7*24*time.Hour {
		t.Errorf("history capacity %v", got)
	}
	if h.phase("page", false) != "firing" {
		t.Error("alert state not carried over")
	}
	h.src.set(func(f *fakeSource) { f.starts = nil })
	h.cycle(t0.Add(time.Minute))
	if got, want := h.src.starts[0], t0.Add(time.Minute).Add(-2*time.Hour).Add(time.Minute); !got.Equal(want) {
		t.Errorf("refetched from %v, want %v (the backfill)", got, want)
	}
	if h.phase("page", false) != "firing" || len(h.outbox()) != 1 {
		t.Errorf("after the reload: page %s, outbox %+v", h.phase("page", false), h.outbox())
	}
}

func TestClockBackwardsHoldsState(t *testing.T) {
	h := newHarness(t)
	h.src.set(func(f *fakeSource) { f.bad = func(time.Time) float64 { return 5 } })
	h.cycle(t0)
	if h.phase("page", false) != "firing" {
		t.Fatal("not firing")
	}
	h.src.set(func(f *fakeSource) { f.bad = func(time.Time) float64 { return 0 }; f.queries = 0 })
	h.cycle(t0.Add(-10 * time.Minute))
	if h.src.queries != 0 {
		t.Errorf("queried %d times for a time already in the history", h.src.queries)
	}
	if h.phase("page", false) != "firing" || len(h.outbox()) != 1 {
		t.Errorf("going back in time changed the alerts: %s, %+v", h.phase("page", false), h.outbox())
	}
	if end := h.d.slos[0].only().History().End(); !end.Equal(t0) {
		t.Errorf("history end moved to %v", end)
	}
}

func TestHistoryWritesSpread(t *testing.T) {
	h := newHarness(t)
	updated := func() time.Time {
		recs, err := h.d.store.SLOs()
		if err != nil {
			t.Fatal(err)
		}
		return recs["shop/availability"].UpdatedAt.UTC()
	}
	// Healthy and steady: the first cycle writes the record, then one in historyWriteEvery.
	writes, last := 0, time.Time{}
	for i := 0; i <= 2*historyWriteEvery; i++ {
		h.cycle(t0.Add(time.Duration(i) * time.Minute))
		if u := updated(); !u.Equal(last) {
			writes++
			last = u
		}
	}
	if writes != 3 {
		t.Errorf("record written %d times in %d cycles, want 3", writes, 2*historyWriteEvery+1)
	}
	// A state change is written in its cycle, whatever the turn.
	h.src.set(func(f *fakeSource) { f.err = errors.New("down") })
	at := t0.Add(time.Duration(2*historyWriteEvery+1) * time.Minute)
	h.cycle(at) // the no-data alert becomes pending
	if u := updated(); !u.Equal(at) {
		t.Errorf("state change not written: record from %v", u)
	}
	// A restart continues from the stored (older) history: the missing steps are fetched again.
	h.src.set(func(f *fakeSource) { f.err = nil })
	next := at
	for i := 0; i < historyWriteEvery; i++ {
		next = next.Add(time.Minute)
		h.cycle(next)
		if !updated().Equal(next) {
			break // this cycle did not write: the store is a step behind
		}
	}
	stored := updated()
	if !stored.Before(next) {
		t.Fatalf("every cycle wrote the history")
	}
	h.restart()
	h.src.set(func(f *fakeSource) { f.starts = nil })
	h.cycle(next.Add(time.Minute))
	if got := h.d.slos[0].only().History().End(); !got.Equal(next.Add(time.Minute)) {
		t.Errorf("history after restart ends %v", got)
	}
	if len(h.src.starts) != 2 || !h.src.starts[0].Equal(stored.Add(time.Minute)) {
		t.Errorf("restart fetched from %v, want from %v", h.src.starts, stored.Add(time.Minute))
	}
}

// TestUnroutedAlertWarnedOnce: a config without receivers and routes evaluates and sends nothing;
// each firing alert is warned about once. (With routes, an alert no route takes is refused at
// start and at reload: TestRoutesCheckedAtLoad.)
func TestUnroutedAlertWarnedOnce(t *testing.T) {
	h := newHarness(t)
	writeFile(t, filepath.Join(h.dir, "slod.yml"), "prometheus: {url: \"http://127.0.0.1:1\"}\nevaluation: {interval: 1m, backfill: 2h}\nrules: [rules/]\n")
	if err := h.d.Reload(); err != nil {
		t.Fatal(err)
	}
	h.cycle(t0)
	h.src.set(func(f *fakeSource) { f.err = errors.New("down") })
	for i := 1; i <= 20; i++ {
		h.cycle(t0.Add(time.Duration(i) * time.Minute))
	}
	if h.phase("ticket", true) != "firing" {
		t.Fatal("no-data alert not firing")
	}
	if n := strings.Count(h.logs.String(), "no route matches a firing alert"); n != 1 {
		t.Errorf("unrouted alert warned %d times, want once", n)
	}
	if len(h.outbox()) != 0 {
		t.Errorf("unrouted alert enqueued: %+v", h.outbox())
	}
}

func TestResolveWhileDownIsSentAfterRestart(t *testing.T) {
	h := newHarness(t)
	h.src.set(func(f *fakeSource) {
		f.bad = func(at time.Time) float64 {
			if at.After(t0.Add(time.Minute)) {
				return 0 // the errors stop while slod is down
			}
			return 5
		}
	})
	h.cycle(t0)
	if h.phase("page", false) != "firing" {
		t.Fatal("not firing")
	}
	h.close() // slod is down from t0 to t0+30m
	h.open()
	h.cycle(t0.Add(30 * time.Minute))
	ob := h.outbox()
	if len(ob) != 2 || ob[1].Action != notify.Resolve || ob[1].DedupKey != ob[0].DedupKey || !ob[1].StartsAt.Equal(ob[0].StartsAt) {
		t.Fatalf("outbox after the restart: %+v", ob)
	}
}

// TestNoOpReloadWritesNothingMore: a reload that changes nothing carries what was committed over,
// so the next cycle writes only the SLO records it would have written anyway (those whose history
// turn it is), not every history again (at 10,000 SLOs that was a 240 MB transaction).
func TestNoOpReloadWritesNothingMore(t *testing.T) {
	h := newHarness(t)
	for i := range 20 {
		writeFile(t, filepath.Join(h.dir, "rules", fmt.Sprintf("s%d.yaml", i)), strings.Replace(testRules, "service: shop", fmt.Sprintf("service: s%d", i), 1))
	}
	if err := h.d.Reload(); err != nil {
		t.Fatal(err)
	}
	h.cycle(t0)
	h.cycle(t0.Add(time.Minute))
	if err := h.d.Reload(); err != nil {
		t.Fatal(err)
	}
	at := t0.Add(2 * time.Minute)
	h.cycle(at)
	recs, err := h.d.store.SLOs()
	if err != nil {
		t.Fatal(err)
	}
	written, turns := 0, 0
	for id, rec := range recs {
		if rec.UpdatedAt.Equal(at) {
			written++
		}
		if historyTurn(id, h.d.cycleSeq) {
			turns++
		}
	}
	if len(recs) != 21 || written != turns {
		t.Errorf("the cycle after a no-op reload wrote %d of %d records, want the %d whose turn it is", written, len(recs), turns)
	}
}

// only is the stepper of an SLO without group_by (its one instance).
func (s *sloState) only() *eval.Stepper {
	insts := s.eval.Instances()
	if len(insts) != 1 || insts[0].Key != "" {
		panic(fmt.Sprintf("%s has %d instances", s.slo.ID(), len(insts)))
	}
	return insts[0].Stepper
}

// TestRecordsOf: an SLO's records are its own and its groups' (by its group_by), found among
// sorted ids next to those of SLOs whose ids start with its own.
func TestRecordsOf(t *testing.T) {
	ids := []string{"gw/a", `gw/a{model="m1"}`, `gw/a{zone="z1"}`, "gw/a.b", `gw/a.b{model="m1"}`, "gw/ab", `gw/ab{model="m2"}`, "gw/b"}
	slices.Sort(ids)
	for _, c := range []struct {
		slo  *rules.SLO
		want []string
	}{
		{&rules.SLO{Service: "gw", Name: "a", GroupBy: []string{"model"}}, []string{`gw/a =`, `gw/a{model="m1"} ={model="m1"}`}},
		{&rules.SLO{Service: "gw", Name: "a"}, []string{`gw/a =`}},
		{&rules.SLO{Service: "gw", Name: "ab", GroupBy: []string{"model"}}, []string{`gw/ab =`, `gw/ab{model="m2"} ={model="m2"}`}},
		{&rules.SLO{Service: "gw", Name: "c"}, nil},
	} {
		var got []string
		for id, key := range recordsOf(c.slo, ids) {
			got = append(got, id+" ="+key)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s grouped by %v: %q, want %q", c.slo.ID(), c.slo.GroupBy, got, c.want)
		}
	}
}
