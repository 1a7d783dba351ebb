package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestHelperSlodProcess is not a test: it is `slod` when the parent test runs this binary with
// SLOD_HELPER_PROCESS=1, so that the parent can kill a real slod process with SIGKILL.
func TestHelperSlodProcess(t *testing.T) {
	if os.Getenv("SLOD_HELPER_PROCESS") != "1" {
		return
	}
	args := os.Args
	for i, a := range args {
		if a == "--" {
			args = args[i+1:]
			break
		}
	}
	os.Exit(run(args, os.Stdout, os.Stderr))
}

// slodProcess is a `slod run` child process (TestHelperSlodProcess).
type slodProcess struct {
	cmd  *exec.Cmd
	url  string // http://127.0.0.1:port
	done chan struct{}
}

// startSlod starts `slod run --config.file config --storage.path storage [extra...]` on a free
// loopback port, its output appended to logPath; the test's cleanup kills it.
func startSlod(t *testing.T, config, storage, logPath string, extra ...string) *slodProcess {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"-test.run=^TestHelperSlodProcess$", "--", "run", "--config.file", config, "--storage.path", storage,
		"--web.listen-address", addr, "--log.level", "debug"}, extra...)
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "SLOD_HELPER_PROCESS=1")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &slodProcess{cmd: cmd, url: "http://" + addr, done: make(chan struct{})}
	go func() { cmd.Wait(); logf.Close(); close(p.done) }()
	t.Cleanup(func() { p.cmd.Process.Kill(); <-p.done })
	return p
}

// stop sends sig to the process and waits for it to exit.
func (p *slodProcess) stop(t *testing.T, sig syscall.Signal) {
	t.Helper()
	p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("slod did not exit on %s", sig)
	}
}

// evaluatedAt is the evaluation time of the first SLO in /api/v1/slos, "" when there is none
// (yet) or slod does not answer.
func (p *slodProcess) evaluatedAt() string {
	resp, err := http.Get(p.url + "/api/v1/slos")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var r struct {
		Data []struct {
			EvaluatedAt string `json:"evaluated_at"`
		}
	}
	if json.Unmarshal(b, &r) != nil || len(r.Data) == 0 {
		return ""
	}
	return r.Data[0].EvaluatedAt
}

// cycles waits for n more evaluation cycles of p.
func (p *slodProcess) cycles(t *testing.T, n int, timeout time.Duration) {
	t.Helper()
	last, seen := p.evaluatedAt(), 0
	waitUntil(t, fmt.Sprintf("%d cycles", n), timeout, func() bool {
		if e := p.evaluatedAt(); e != "" && e != last {
			last, seen = e, seen+1
		}
		return seen >= n
	})
}

// waitUntil polls cond until it holds, and fails the test after timeout.
func waitUntil(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// constProm answers every query with a constant error share: the error query (code="500") gets
// 10×errShare, the total query 10.
type constProm struct {
	errShare atomic.Value // float64
}

func (p *constProm) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	share := p.errShare.Load().(float64)
	v := 10.0
	if strings.Contains(r.Form.Get("query"), `code="500"`) {
		v = 10 * share
	}
	w.Header().Set("Content-Type", "application/json")
	if strings.HasSuffix(r.URL.Path, "/query") {
		ts, _ := strconv.ParseFloat(r.Form.Get("time"), 64)
		fmt.Fprintf(w, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[%s,"%g"]}]}}`, strconv.FormatFloat(ts, 'f', -1, 64), v)
		return
	}
	start, _ := strconv.ParseFloat(r.Form.Get("start"), 64)
	end, _ := strconv.ParseFloat(r.Form.Get("end"), 64)
	step, _ := strconv.ParseFloat(r.Form.Get("step"), 64)
	var pts []string
	for ts := start; ts <= end; ts += step {
		pts = append(pts, fmt.Sprintf(`[%s,"%g"]`, strconv.FormatFloat(ts, 'f', -1, 64), v))
	}
	fmt.Fprintf(w, `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[%s]}]}}`, strings.Join(pts, ","))
}

// blockingHook records webhook messages; it can hold the next delivery until released, so the
// sender can be killed between sending and acknowledging.
type blockingHook struct {
	mu      sync.Mutex
	msgs    []map[string]any
	hold    chan struct{} // non-nil: the next delivery waits for it to close
	arrived chan struct{}
}

func (h *blockingHook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var m map[string]any
	if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	h.mu.Lock()
	h.msgs = append(h.msgs, m)
	hold := h.hold
	h.hold = nil
	h.mu.Unlock()
	if hold != nil {
		close(h.arrived)
		<-hold
	}
}

func (h *blockingHook) messages(status string) []map[string]any {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []map[string]any
	for _, m := range h.msgs {
		if m["status"] == status {
			out = append(out, m)
		}
	}
	return out
}

// TestRunKilledNeverOpensASecondIncident kills a real `slod run` with SIGKILL at various points
// (once between sending a page and recording its delivery) and checks that every page it ever
// sent belongs to one incident, and that the resolve comes once the errors stop.
func TestRunKilledNeverOpensASecondIncident(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills slod processes")
	}
	prom := &constProm{}
	prom.errShare.Store(0.5)
	promSrv := httptest.NewServer(prom)
	defer promSrv.Close()
	hook := &blockingHook{hold: make(chan struct{}), arrived: make(chan struct{})}
	hookSrv := httptest.NewServer(hook)
	defer hookSrv.Close()
	holdCh := hook.hold
	releaseHold := sync.OnceFunc(func() { close(holdCh) })
	defer releaseHold()

	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "rules"), 0o755)
	os.WriteFile(filepath.Join(dir, "rules", "app.yaml"), []byte(`version: slod/v1
service: app
slos:
  - name: availability
    objective: 90
    window: 10m
    sli:
      events:
        error_query: sum(rate(req_total{code="500"}[{{.window}}]))
        total_query: sum(rate(req_total[{{.window}}]))
    alerting:
      windows:
        - {severity: page, long: 1m, short: 5s, burn_rate: 2}
`), 0o644)
	os.WriteFile(filepath.Join(dir, "slod.yml"), []byte(fmt.Sprintf(`prometheus: {url: %q}
evaluation: {interval: 1s, step: 1s}
rules: [rules/]
receivers: [{name: hook, webhook: {url: %q}}]
routes: [{receiver: hook}]
`, promSrv.URL, hookSrv.URL)), 0o644)
	logPath := filepath.Join(dir, "slod.log")
	defer func() {
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("slod logs:\n%s", b)
		}
	}()

	config, storage := filepath.Join(dir, "slod.yml"), filepath.Join(dir, "data")
	start := func() *slodProcess { return startSlod(t, config, storage, logPath) }
	kill := func(p *slodProcess) { p.stop(t, syscall.SIGKILL) }
	wait := func(what string, cond func() bool) { waitUntil(t, what, 60*time.Second, cond) }

	// 1. The page fires; slod is killed while the webhook holds the delivery (sent, not acked).
	p := start()
	select {
	case <-hook.arrived:
	case <-time.After(60 * time.Second):
		t.Fatal("no page")
	}
	kill(p)
	releaseHold()

	// 2. Killed again and again at arbitrary points of its cycles.
	for i := range 5 {
		p = start()
		p.cycles(t, 1, 60*time.Second)
		time.Sleep(time.Duration(i) * 150 * time.Millisecond)
		kill(p)
	}

	// 3. The errors stop: the page resolves; killed once more after that, nothing reopens.
	prom.errShare.Store(0.0)
	p = start()
	wait("the resolve", func() bool { return len(hook.messages("resolved")) > 0 })
	kill(p)
	p = start()
	p.cycles(t, 3, 60*time.Second)
	p.stop(t, syscall.SIGTERM)

	fired := hook.messages("firing")
	if len(fired) < 2 {
		t.Fatalf("the page held back during the kill was not redelivered: %d deliveries", len(fired))
	}
	for _, m := range fired {
		if m["dedup_key"] != fired[0]["dedup_key"] || m["starts_at"] != fired[0]["starts_at"] {
			t.Errorf("a second incident was opened: %v vs %v", m, fired[0])
		}
	}
	resolved := hook.messages("resolved")
	for _, m := range resolved {
		if m["dedup_key"] != fired[0]["dedup_key"] || m["starts_at"] != fired[0]["starts_at"] {
			t.Errorf("resolve of another incident: %v", m)
		}
	}
	// Everything after the first resolve: no trigger.
	hook.mu.Lock()
	defer hook.mu.Unlock()
	afterResolve := false
	for _, m := range hook.msgs {
		if m["status"] == "resolved" {
			afterResolve = true
		} else if afterResolve {
			t.Errorf("page re-sent after its resolve: %v", m)
		}
	}
}
