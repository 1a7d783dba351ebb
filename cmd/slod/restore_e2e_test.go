package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/slod-dev/slod/internal/store"
)

// e2eRoutingKey is a PagerDuty routing key of the required 32 characters.
const e2eRoutingKey = "e2e0123456789abcdef0123456789abc"

// e2eReceivers records what slod delivered: PagerDuty Events API v2 events (validated for the
// fields PagerDuty requires) and webhook messages, the latter refused with 503 while down.
type e2eReceivers struct {
	mu        sync.Mutex
	pd        []map[string]any
	hook      []map[string]any
	hookTries int
	hookDown  atomic.Bool
}

func (r *e2eReceivers) pagerDuty(w http.ResponseWriter, req *http.Request) {
	var ev struct {
		RoutingKey string `json:"routing_key"`
		Action     string `json:"event_action"`
		DedupKey   string `json:"dedup_key"`
		Payload    *struct {
			Summary, Source, Severity string
		} `json:"payload"`
	}
	err := json.NewDecoder(req.Body).Decode(&ev)
	if err != nil || req.URL.Path != "/v2/enqueue" || ev.RoutingKey != e2eRoutingKey || ev.DedupKey == "" ||
		(ev.Action != "trigger" && ev.Action != "resolve") ||
		(ev.Action == "trigger" && (ev.Payload == nil || ev.Payload.Summary == "" || ev.Payload.Source == "" || ev.Payload.Severity == "")) {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"status":"invalid event","message":"Event object is invalid"}`)
		return
	}
	r.mu.Lock()
	r.pd = append(r.pd, map[string]any{"action": ev.Action, "dedup_key": ev.DedupKey})
	r.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
	fmt.Fprintf(w, `{"status":"success","message":"Event processed","dedup_key":%q}`, ev.DedupKey)
}

func (r *e2eReceivers) webhook(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.hookTries++
	r.mu.Unlock()
	if r.hookDown.Load() {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	var m map[string]any
	if err := json.NewDecoder(req.Body).Decode(&m); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	r.hook = append(r.hook, map[string]any{"action": m["status"], "dedup_key": m["dedup_key"]})
	r.mu.Unlock()
}

// count returns how many deliveries of this key and action ("trigger"/"resolve" for PagerDuty,
// "firing"/"resolved" for the webhook) arrived.
func (r *e2eReceivers) count(pagerDuty bool, key, action string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	list := r.hook
	if pagerDuty {
		list = r.pd
	}
	n := 0
	for _, m := range list {
		if m["dedup_key"] == key && m["action"] == action {
			n++
		}
	}
	return n
}

func (r *e2eReceivers) dump() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return fmt.Sprintf("PagerDuty: %v\nwebhook (%d attempts): %v", r.pd, r.hookTries, r.hook)
}

// TestBackupRestoreEndToEnd is the runbook's drill with the slod binary: `slod run` pages, a
// ticket waits for a webhook that is down, `slod backup` snapshots the running slod's store,
// `slod restore` refuses the live store and a truncated file, the node is killed, the snapshot is
// restored on another storage path and a new `slod run` there delivers the waiting ticket once,
// does not page again, and resolves once when the errors stop.
func TestBackupRestoreEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts slod processes")
	}
	prom := &constProm{}
	prom.errShare.Store(0.5)
	promSrv := httptest.NewServer(prom)
	defer promSrv.Close()
	recv := &e2eReceivers{}
	recv.hookDown.Store(true)
	pdSrv := httptest.NewServer(http.HandlerFunc(recv.pagerDuty))
	defer pdSrv.Close()
	hookSrv := httptest.NewServer(http.HandlerFunc(recv.webhook))
	defer hookSrv.Close()

	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "rules"), 0o755); err != nil {
		t.Fatal(err)
	}
	// 50% errors burn a 10% budget 5 times too fast: both alerts fire at the first cycle and
	// resolve a few seconds after the errors stop.
	writeE2EFile(t, filepath.Join(dir, "rules", "app.yaml"), `version: slod/v1
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
        - {severity: page, long: 30s, short: 2s, burn_rate: 2}
        - {severity: ticket, long: 40s, short: 2s, burn_rate: 1.5}
`)
	writeE2EFile(t, filepath.Join(dir, "slod.yml"), fmt.Sprintf(`prometheus: {url: %q}
evaluation: {interval: 1s, step: 1s}
rules: [rules/]
receivers:
  - {name: oncall, pagerduty: {routing_key: %q, url: %q}}
  - {name: tickets, webhook: {url: %q}}
routes:
  - {match: {severity: page}, receiver: oncall}
  - {match: {severity: ticket}, receiver: tickets}
`, promSrv.URL, e2eRoutingKey, pdSrv.URL, hookSrv.URL))
	const pageKey, ticketKey = "slod/app/availability/page", "slod/app/availability/ticket"
	logPath := filepath.Join(dir, "slod.log")
	defer func() {
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("receivers:\n%s\nslod logs:\n%s", recv.dump(), b)
		}
	}()

	start := func(storage string) *slodProcess {
		return startSlod(t, filepath.Join(dir, "slod.yml"), storage, logPath, "--web.enable-admin-api")
	}
	wait := func(what string, cond func() bool) { waitUntil(t, what, 30*time.Second, cond) }
	type alert struct {
		Severity string `json:"severity"`
		State    string `json:"state"`
		FiredAt  string `json:"fired_at"`
	}
	alerts := func(p *slodProcess) []alert {
		resp, err := http.Get(p.url + "/api/v1/slos")
		if err != nil {
			return nil
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var r struct {
			Data []struct {
				Alerts []alert `json:"alerts"`
			}
		}
		if json.Unmarshal(b, &r) != nil || len(r.Data) == 0 {
			return nil
		}
		return r.Data[0].Alerts
	}
	hookTries := func() int {
		recv.mu.Lock()
		defer recv.mu.Unlock()
		return recv.hookTries
	}

	// 1. Node A pages; the ticket is refused by the webhook and waits in the outbox.
	dataA := filepath.Join(dir, "data-a")
	a := start(dataA)
	wait("the page and a failed ticket delivery", func() bool { return recv.count(true, pageKey, "trigger") == 1 && hookTries() > 0 })
	alertsA := alerts(a)

	// 2. `slod backup` while node A runs: the store is locked, so it asks node A for the snapshot.
	backupFile := filepath.Join(t.TempDir(), "slod.db")
	code, stdout, stderr := runCmd("backup", "--storage.path", dataA, "-o", backupFile, "--web.url", a.url)
	if code != 0 {
		t.Fatalf("slod backup: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "from the running slod at "+a.url) || !strings.Contains(stdout, "1 SLOs, 1 outbox entries") {
		t.Errorf("slod backup reported %q, want a snapshot from the running slod with 1 SLO and the pending ticket", stdout)
	}

	// 3. `slod restore` refuses node A's live store, even with --force, and a truncated copy of
	// the backup.
	code, _, stderr = runCmd("restore", "-i", backupFile, "--storage.path", dataA, "--force")
	if code != 1 || !strings.Contains(stderr, "refusing to restore over a live store") || !strings.Contains(stderr, "stop slod first") {
		t.Errorf("restore over the running slod: exit %d, stderr %q", code, stderr)
	}
	whole, err := os.ReadFile(backupFile)
	if err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(t.TempDir(), "truncated.db")
	writeE2EFile(t, truncated, string(whole[:len(whole)/2]))
	dataC := filepath.Join(dir, "data-c")
	code, _, stderr = runCmd("restore", "-i", truncated, "--storage.path", dataC)
	if code != 1 || !strings.Contains(stderr, "corrupt") {
		t.Errorf("restore of a truncated backup: exit %d, stderr %q", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dataC, store.FileName)); err == nil {
		t.Error("a refused restore left a store behind")
	}

	// 4. Node A is lost. The snapshot is restored on node B, whose webhook now works.
	a.stop(t, syscall.SIGKILL)
	dataB := filepath.Join(dir, "data-b")
	code, stdout, stderr = runCmd("restore", "-i", backupFile, "--storage.path", dataB)
	if code != 0 || !strings.Contains(stdout, "1 SLOs, 1 outbox entries") {
		t.Fatalf("slod restore: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	recv.hookDown.Store(false)
	b := start(dataB)
	wait("the waiting ticket", func() bool { return recv.count(false, ticketKey, "firing") >= 1 })
	b.cycles(t, 1, 30*time.Second)
	alertsB := alerts(b)
	for _, sev := range []string{"page", "ticket"} {
		var was, is alert
		for _, al := range alertsA {
			if al.Severity == sev {
				was = al
			}
		}
		for _, al := range alertsB {
			if al.Severity == sev {
				is = al
			}
		}
		if is.State != "firing" || is.FiredAt == "" || is.FiredAt != was.FiredAt {
			t.Errorf("%s on node B: %+v, want firing since node A's %q", sev, is, was.FiredAt)
		}
	}
	if n := recv.count(true, pageKey, "trigger"); n != 1 {
		t.Errorf("PagerDuty received %d triggers of the page across the restore, want 1", n)
	}
	if n := recv.count(false, ticketKey, "firing"); n != 1 {
		t.Errorf("the ticket reached the webhook %d times, want 1", n)
	}

	// 5. The errors stop: each alert resolves once.
	prom.errShare.Store(0.0)
	wait("the resolves", func() bool {
		return recv.count(true, pageKey, "resolve") >= 1 && recv.count(false, ticketKey, "resolved") >= 1
	})
	b.cycles(t, 2, 30*time.Second)
	b.stop(t, syscall.SIGTERM)
	for _, c := range []struct {
		pd          bool
		key, action string
	}{{true, pageKey, "trigger"}, {true, pageKey, "resolve"}, {false, ticketKey, "firing"}, {false, ticketKey, "resolved"}} {
		if n := recv.count(c.pd, c.key, c.action); n != 1 {
			t.Errorf("%s %s delivered %d times, want 1", c.key, c.action, n)
		}
	}
}

func writeE2EFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}
