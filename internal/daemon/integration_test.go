package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/slod-dev/slod/internal/notify"
)

// These tests run slod against real Prometheus-compatible servers on 127.0.0.1 with a real clock.
// Every wait is bounded; the bounds are generous because the machine may be busy, and no
// assertion depends on how long something took.

// backend is a Prometheus-compatible server binary the integration tests can run.
type backend struct {
	name string
	bin  string
	// args returns the command line for a data directory, listen address and scrape config.
	args func(dataDir, addr, scrapeConfig string) []string
	// ready is the path that answers 200 once the server serves queries.
	ready string
}

var backends = []backend{
	{
		name: "prometheus", bin: "/usr/bin/prometheus", ready: "/-/ready",
		args: func(dataDir, addr, cfg string) []string {
			return []string{"--config.file=" + cfg, "--storage.tsdb.path=" + dataDir, "--web.listen-address=" + addr}
		},
	},
	{
		name: "victoria-metrics", bin: "/usr/bin/victoria-metrics", ready: "/health",
		args: func(dataDir, addr, cfg string) []string {
			// latencyOffset 0: VictoriaMetrics otherwise hides the newest 30s of samples, which slod's
			// aligned step queries need; the response cache would serve stale ranges.
			return []string{"-storageDataPath=" + dataDir, "-httpListenAddr=" + addr, "-promscrape.config=" + cfg,
				"-promscrape.config.strictParse=false", "-search.latencyOffset=0s", "-search.disableCache", "-loggerLevel=WARN"}
		},
	},
}

// requireBinary skips when a binary is absent, except under CI where its absence is a failure.
func requireBinary(tb testing.TB, path string) {
	tb.Helper()
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("%s is required under CI: %v", path, err)
		}
		tb.Skipf("%s not installed; skipping (set CI=true to make this a failure)", path)
	}
}

func freeAddr(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// waitFor polls cond until it holds or the bound passes.
func waitFor(tb testing.TB, what string, bound time.Duration, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(bound)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s", bound, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// server is a running backend process.
type server struct {
	tb   testing.TB
	b    backend
	addr string
	dir  string
	cfg  string
	cmd  *exec.Cmd
	log  *os.File
	done chan struct{}
}

func startServer(tb testing.TB, b backend, dir, addr, scrapeTarget string) *server {
	tb.Helper()
	cfg := filepath.Join(dir, b.name+".yml")
	if _, err := os.Stat(cfg); err != nil {
		writeFile(tb.(*testing.T), cfg, fmt.Sprintf("global: {scrape_interval: 1s, scrape_timeout: 1s}\nscrape_configs:\n  - job_name: app\n    static_configs: [{targets: [%q]}]\n", scrapeTarget))
	}
	s := &server{tb: tb, b: b, addr: addr, dir: dir, cfg: cfg, done: make(chan struct{})}
	s.start()
	return s
}

func (s *server) start() {
	s.tb.Helper()
	logf, err := os.OpenFile(filepath.Join(s.dir, s.b.name+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		s.tb.Fatal(err)
	}
	s.log = logf
	s.cmd = exec.Command(s.b.bin, s.b.args(filepath.Join(s.dir, s.b.name+"-data"), s.addr, s.cfg)...)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		s.tb.Fatalf("starting %s: %v", s.b.name, err)
	}
	s.done = make(chan struct{})
	go func() { s.cmd.Wait(); close(s.done) }()
	s.tb.Cleanup(s.stop)
	waitFor(s.tb, s.b.name+" to be ready", 60*time.Second, func() bool {
		select {
		case <-s.done:
			b, _ := os.ReadFile(logf.Name())
			s.tb.Fatalf("%s exited:\n%s", s.b.name, b)
		default:
		}
		resp, err := http.Get("http://" + s.addr + s.b.ready)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

func (s *server) stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	select {
	case <-s.done:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
	s.log.Close()
}

// exporter serves a counter pair whose error share the test sets: requests accrue at 100/s of
// real time, computed at each scrape.
type exporter struct {
	mu       sync.Mutex
	last     time.Time
	ok, errs float64
	errShare float64
}

func (e *exporter) setErrShare(v float64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.advance()
	e.errShare = v
}

func (e *exporter) advance() {
	now := time.Now()
	if !e.last.IsZero() {
		n := 100 * now.Sub(e.last).Seconds()
		e.errs += n * e.errShare
		e.ok += n * (1 - e.errShare)
	}
	e.last = now
}

func (e *exporter) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	e.mu.Lock()
	e.advance()
	ok, errs := math.Floor(e.ok), math.Floor(e.errs)
	e.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	fmt.Fprintf(w, "# TYPE slod_test_requests_total counter\nslod_test_requests_total{code=\"200\"} %g\nslod_test_requests_total{code=\"500\"} %g\n", ok, errs)
}

// hook is a webhook receiver recording what slod delivered.
type hook struct {
	mu   sync.Mutex
	msgs []notify.WebhookMessage
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var m notify.WebhookMessage
	if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	h.msgs = append(h.msgs, m)
	h.mu.Unlock()
}

// count returns how many messages of this status arrived for the key.
func (h *hook) count(key, status string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, m := range h.msgs {
		if m.DedupKey == key && m.Status == status {
			n++
		}
	}
	return n
}

func (h *hook) dump() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var b strings.Builder
	for _, m := range h.msgs {
		fmt.Fprintf(&b, "%s %s %s\n", m.Status, m.DedupKey, m.Summary)
	}
	return b.String()
}

// fakePagerDuty is an Events API v2 endpoint (POST /v2/enqueue) that validates like PagerDuty
// where it matters here (routing key, action, dedup key, required payload fields) and records
// the events it accepted.
type fakePagerDuty struct {
	mu     sync.Mutex
	events []pdEvent
}

type pdEvent struct {
	RoutingKey string `json:"routing_key"`
	Action     string `json:"event_action"`
	DedupKey   string `json:"dedup_key"`
	Payload    *struct {
		Summary  string `json:"summary"`
		Source   string `json:"source"`
		Severity string `json:"severity"`
	} `json:"payload"`
}

func (p *fakePagerDuty) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var ev pdEvent
	err := json.NewDecoder(r.Body).Decode(&ev)
	switch {
	case r.Method != http.MethodPost || r.URL.Path != "/v2/enqueue":
		http.NotFound(w, r)
		return
	case err != nil, len(ev.RoutingKey) != 32, ev.DedupKey == "", len(ev.DedupKey) > 255,
		ev.Action != "trigger" && ev.Action != "resolve",
		ev.Action == "trigger" && (ev.Payload == nil || ev.Payload.Summary == "" || ev.Payload.Source == "" || ev.Payload.Severity == ""):
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"status":"invalid event","message":"Event object is invalid"}`)
		return
	}
	p.mu.Lock()
	p.events = append(p.events, ev)
	p.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
	fmt.Fprintf(w, `{"status":"success","message":"Event processed","dedup_key":%q}`, ev.DedupKey)
}

func (p *fakePagerDuty) count(key, action string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, e := range p.events {
		if e.DedupKey == key && e.Action == action {
			n++
		}
	}
	return n
}

const integrationRoutingKey = "R0123456789abcdef0123456789abcde"

const integrationRules = `version: slod/v1
service: app
slos:
  - name: availability
    objective: 90
    window: 10m
    sli:
      events:
        error_query: sum(rate(slod_test_requests_total{job="app",code="500"}[{{.window}}]))
        total_query: sum(rate(slod_test_requests_total{job="app"}[{{.window}}]))
    alerting:
      windows:
        - {severity: page, long: 30s, short: 10s, burn_rate: 5}
      no_data: {after: 15s, severity: ticket}
`

// slodProcess is slod run in-process, with its own registry, over a directory.
type slodProcess struct {
	d      *Daemon
	cancel context.CancelFunc
	done   chan error
	logs   *syncWriter
}

func startSlod(t *testing.T, dir string, logs *syncWriter) *slodProcess {
	t.Helper()
	d, err := New(context.Background(), Options{
		ConfigFile:  filepath.Join(dir, "slod.yml"),
		StoragePath: filepath.Join(dir, "slod-data"),
		Logger:      slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Registry:    prometheus.NewRegistry(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &slodProcess{d: d, cancel: cancel, done: make(chan error, 1), logs: logs}
	go func() {
		err := d.serve(ctx, ln)
		d.Close()
		p.done <- err
	}()
	t.Cleanup(p.stop)
	return p
}

func (p *slodProcess) stop() {
	if p.cancel == nil {
		return
	}
	p.cancel()
	p.cancel = nil
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		panic("slod did not stop within 30s")
	}
}

// cyclesAfter waits until n more cycles have been committed.
func (p *slodProcess) waitCycles(t *testing.T, n int) {
	t.Helper()
	start := p.d.lastCycle.Load()
	seen, last := 0, start
	waitFor(t, fmt.Sprintf("%d evaluation cycles", n), time.Duration(n)*10*time.Second+30*time.Second, func() bool {
		if c := p.d.lastCycle.Load(); c != last {
			seen++
			last = c
		}
		return seen >= n
	})
}

func (p *slodProcess) phase(severity string, noData bool) string {
	for _, v := range p.d.sloViews() {
		for _, a := range v.Alerts {
			if a.Severity == severity && a.NoData == noData {
				return a.State
			}
		}
	}
	return "inactive"
}

// evaluatedWithData reports whether the last cycle had data for the newest step of every SLO.
func (p *slodProcess) evaluatedWithData() bool {
	for _, v := range p.d.sloViews() {
		if v.SourceError != "" || v.LastData == nil || v.EvaluatedAt == nil || !v.LastData.Equal(*v.EvaluatedAt) {
			return false
		}
	}
	return true
}

func TestIntegration(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			requireBinary(t, b.bin)
			testLive(t, b)
		})
	}
}

func testLive(t *testing.T, b backend) {
	dir := t.TempDir()
	exp := &exporter{}
	expSrv := httptest.NewServer(exp)
	defer expSrv.Close()
	hk := &hook{}
	hookSrv := httptest.NewServer(hk)
	defer hookSrv.Close()
	pd := &fakePagerDuty{}
	pdSrv := httptest.NewServer(pd)
	defer pdSrv.Close()

	addr := freeAddr(t)
	srv := startServer(t, b, dir, addr, strings.TrimPrefix(expSrv.URL, "http://"))
	waitFor(t, "the exporter to be scraped", 60*time.Second, func() bool {
		resp, err := http.Get("http://" + addr + "/api/v1/query?query=" + "count(slod_test_requests_total)")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var r struct {
			Data struct {
				Result []json.RawMessage `json:"result"`
			} `json:"data"`
		}
		return json.NewDecoder(resp.Body).Decode(&r) == nil && len(r.Data.Result) == 1
	})

	os.MkdirAll(filepath.Join(dir, "rules"), 0o755)
	writeFile(t, filepath.Join(dir, "rules", "app.yaml"), integrationRules)
	writeFile(t, filepath.Join(dir, "slod.yml"), fmt.Sprintf(`prometheus: {url: "http://%s", timeout: 5s}
evaluation: {interval: 2s, step: 2s, lookback: 1m}
rules: [rules/]
receivers:
  - {name: oncall, pagerduty: {routing_key: %q, url: %q}}
  - {name: hook, webhook: {url: %q}}
routes:
  - {match: {severity: page}, receiver: oncall}
  - {receiver: hook}
`, addr, integrationRoutingKey, pdSrv.URL, hookSrv.URL))
	logs := &syncWriter{w: &strings.Builder{}}
	defer func() {
		if t.Failed() {
			t.Logf("hook received:\n%s", hk.dump())
			t.Logf("slod logs:\n%s", logs.String())
		}
	}()
	const pageKey, noDataKey = "slod/app/availability/page", "slod/app/availability/ticket/no_data"

	// Healthy: a few cycles, nothing sent.
	p := startSlod(t, dir, logs)
	waitFor(t, "slod to be ready", 60*time.Second, p.d.Ready)
	p.waitCycles(t, 3)
	if p.phase("page", false) != "inactive" || len(hk.dump()) != 0 || pd.count(pageKey, "trigger") != 0 {
		t.Fatalf("healthy service alerted: %s", hk.dump())
	}

	// All requests fail: the page fires and is delivered once.
	exp.setErrShare(1)
	waitFor(t, "the page to be delivered", 120*time.Second, func() bool { return pd.count(pageKey, "trigger") >= 1 })

	// Restart slod: the state comes from the store; no second page.
	p.stop()
	p = startSlod(t, dir, logs)
	p.waitCycles(t, 3)
	if got := p.phase("page", false); got != "firing" {
		t.Errorf("after restart the page is %s", got)
	}
	if n := pd.count(pageKey, "trigger"); n != 1 {
		t.Fatalf("page delivered %d times across a restart", n)
	}

	// The backend stops while the service keeps failing, and comes back: the steps it could not
	// give neither resolve the page nor fire it again (one incident, not two).
	srv.stop()
	p.waitCycles(t, 3)
	srv.start()
	waitFor(t, "slod to read the backend again", 90*time.Second, func() bool {
		return p.evaluatedWithData()
	})
	p.waitCycles(t, 5)
	if n, r := pd.count(pageKey, "trigger"), pd.count(pageKey, "resolve"); n != 1 || r != 0 || p.phase("page", false) != "firing" {
		t.Fatalf("a backend outage during the incident: %d triggers, %d resolves, page %s; want 1, 0, firing",
			n, r, p.phase("page", false))
	}

	// The backend goes away and the errors stop meanwhile: slod must neither resolve (it cannot
	// know) nor page anew; the no-data ticket fires after 15s.
	srv.stop()
	exp.setErrShare(0)
	waitFor(t, "the no-data alert", 90*time.Second, func() bool { return hk.count(noDataKey, "firing") >= 1 })
	if n := pd.count(pageKey, "resolve"); n != 0 {
		t.Fatalf("page resolved while the backend was down")
	}
	if got := p.phase("page", false); got != "firing" {
		t.Fatalf("page is %s while the backend is down", got)
	}
	if v := sourceErrorCount(t, p.d, "app", "availability", "network"); v < 1 {
		t.Errorf("source errors not counted: %v", v)
	}

	// The backend comes back: both alerts resolve, exactly once each.
	srv.start()
	waitFor(t, "the page and the no-data alert to resolve", 120*time.Second, func() bool {
		return pd.count(pageKey, "resolve") >= 1 && hk.count(noDataKey, "resolved") >= 1
	})
	p.waitCycles(t, 3)
	// The no-data ticket fired for each outage that outlasted its 15s (the first may or may not
	// have), and resolved as often: never twice for one outage.
	if f, r := hk.count(noDataKey, "firing"), hk.count(noDataKey, "resolved"); f < 1 || f > 2 || r != f {
		t.Errorf("%s delivered firing %d and resolved %d times to the webhook, want the same, once per outage", noDataKey, f, r)
	}
	for _, action := range []string{"trigger", "resolve"} {
		if n := pd.count(pageKey, action); n != 1 {
			t.Errorf("page %s delivered %d times to PagerDuty, want 1", action, n)
		}
	}
	if n := hk.count(pageKey, "firing") + hk.count(pageKey, "resolved"); n != 0 {
		t.Errorf("the page went to the webhook too (%d)", n)
	}
	if logs := logs.String(); strings.Contains(logs, integrationRoutingKey) {
		t.Error("the routing key is in the logs")
	}
}
