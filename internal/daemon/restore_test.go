package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/slod-dev/slod/internal/burnrate"
	"github.com/slod-dev/slod/internal/notify"
	"github.com/slod-dev/slod/internal/promapi"
	"github.com/slod-dev/slod/internal/sli"
	"github.com/slod-dev/slod/internal/store"
)

// The backup/restore drill of docs/runbook.md, as an operator lives it: a slod pages through
// PagerDuty while a ticket waits in the outbox for a webhook that is down; an online backup is
// taken over HTTP while a cycle is in progress; the node is lost; the backup is restored on a new
// node, whose slod carries on exactly where the old one was: same alert states and incident keys,
// same SLI history, the waiting ticket delivered once, the page not sent again, and one resolve
// each when the burn stops.

// drillRules has a page (fires 13 minutes into a 50% error burst after two healthy hours) and a
// ticket (fires after 8), routed to different receivers.
const drillRules = `version: slod/v1
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
        - {severity: ticket, long: 2h, short: 10m, burn_rate: 3}
`

const drillConfig = `prometheus: {url: "http://127.0.0.1:1"}
evaluation: {interval: 1m, backfill: 2h}
rules: [rules/]
receivers:
  - name: oncall
    pagerduty: {routing_key: %q, url: %q}
  - name: tickets
    webhook: {url: %q}
routes:
  - {match: {severity: page}, receiver: oncall}
  - {match: {severity: ticket}, receiver: tickets}
`

const (
	drillPageKey   = "slod/shop/availability/page"
	drillTicketKey = "slod/shop/availability/ticket"
)

// downable answers 503 while down, else passes the request on.
type downable struct {
	down atomic.Bool
	h    http.Handler
}

func (s *downable) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.down.Load() {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		return
	}
	s.h.ServeHTTP(w, r)
}

// drillNode is one machine running slod: its own directory (config, rules, store), source,
// clock and HTTP surface. Cycles and dispatcher passes are driven by hand on the mock clock.
type drillNode struct {
	t     *testing.T
	dir   string
	src   *fakeSource
	clock *clock.Mock
	d     *Daemon
	http  *httptest.Server
}

// newDrillNode writes the drill's config and rules into a new directory and starts slod over
// storage (the node's own data/ when empty) on the source src at time at.
func newDrillNode(t *testing.T, name string, src *fakeSource, pdURL, hookURL, storage string, at time.Time, logs io.Writer) *drillNode {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(filepath.Join(dir, "rules"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "rules", "shop.yaml"), drillRules)
	writeFile(t, filepath.Join(dir, "slod.yml"), fmt.Sprintf(drillConfig, testRoutingKey, pdURL, hookURL))
	if storage == "" {
		storage = filepath.Join(dir, "data")
	}
	n := &drillNode{t: t, dir: dir, src: src, clock: clock.NewMock()}
	n.clock.Set(at)
	d, err := New(context.Background(), Options{
		ConfigFile:  filepath.Join(dir, "slod.yml"),
		StoragePath: storage,
		ExternalURL: "http://" + name + ".example:9099",
		Logger:      slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})).With("node", name),
		Clock:       n.clock,
		Registry:    prometheus.NewRegistry(),
		Web:         WebOptions{EnableAdminAPI: true},
		NewQuerier: func(promapi.Config, promapi.Options) (sli.Querier, error) {
			return src, nil
		},
	})
	if err != nil {
		t.Fatalf("starting slod on %s: %v", name, err)
	}
	n.d = d
	n.http = httptest.NewServer(d.Handler())
	t.Cleanup(func() { n.http.Close(); d.Close() })
	return n
}

// cycle runs the evaluation at `at` with the clock set to it.
func (n *drillNode) cycle(at time.Time) {
	n.t.Helper()
	n.clock.Set(at)
	if err := n.d.Cycle(context.Background(), at); err != nil {
		n.t.Fatalf("cycle at %v: %v", at, err)
	}
}

// dispatch makes one pass of the outbox dispatcher, as the running daemon does when a cycle
// enqueued something or a retry is due.
func (n *drillNode) dispatch() {
	n.t.Helper()
	if _, err := n.d.dispatcher.DispatchOnce(context.Background()); err != nil {
		n.t.Fatalf("dispatching: %v", err)
	}
}

func (n *drillNode) phase(severity string) string {
	for _, v := range n.d.sloViews() {
		for _, a := range v.Alerts {
			if a.Severity == severity && !a.NoData {
				return a.State
			}
		}
	}
	return "inactive"
}

func (n *drillNode) outbox() []store.OutboxEntry {
	n.t.Helper()
	es, err := n.d.store.Outbox()
	if err != nil {
		n.t.Fatal(err)
	}
	return es
}

// snapshot is what the operator compares between the lost node and the restored one.
type snapshot struct {
	views   []byte // GET /api/v1/slos: burn rates, budget, alert states
	state   []byte // the SLO's alert state (burnrate.State)
	alerts  []byte // the notification records (incident keys, receivers, start times)
	history []byte // the SLO's in-memory history
}

func (n *drillNode) snapshot() snapshot {
	n.t.Helper()
	views, err := json.Marshal(n.d.sloViews())
	if err != nil {
		n.t.Fatal(err)
	}
	sn := snapshot{views: views}
	n.d.mu.RLock()
	defer n.d.mu.RUnlock()
	if len(n.d.slos) != 1 {
		n.t.Fatalf("%d SLOs, want 1", len(n.d.slos))
	}
	s := n.d.slos[0]
	if sn.state, err = json.Marshal(s.insts[0].st); err != nil {
		n.t.Fatal(err)
	}
	if sn.alerts, err = notify.EncodeAlertRecords(n.d.alerts); err != nil {
		n.t.Fatal(err)
	}
	if sn.history, err = s.only().History().MarshalBinary(); err != nil {
		n.t.Fatal(err)
	}
	return sn
}

// sameOutbox compares outbox entries as stored: sequence, receiver, key, payload and the record of
// failed attempts.
func sameOutbox(a, b []store.OutboxEntry) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.Seq != y.Seq || x.Receiver != y.Receiver || x.Key != y.Key || !bytes.Equal(x.Payload, y.Payload) ||
			!x.Created.Equal(y.Created) || x.Attempts != y.Attempts || !x.NextAttempt.Equal(y.NextAttempt) || x.LastError != y.LastError {
			return false
		}
	}
	return true
}

func TestBackupRestoreDrill(t *testing.T) {
	logs := &syncWriter{w: &strings.Builder{}}
	defer func() {
		if t.Failed() {
			t.Logf("slod logs:\n%s", logs.String())
		}
	}()
	pd := &fakePagerDuty{}
	pdSrv := httptest.NewServer(pd)
	defer pdSrv.Close()
	tickets := &hook{}
	ticketSink := &downable{h: tickets}
	ticketSink.down.Store(true) // the ticketing system is down for the whole life of the old node
	hookSrv := httptest.NewServer(ticketSink)
	defer hookSrv.Close()

	// 50% errors from t0 until stop (t0 + a day: until told otherwise).
	burst := func(stop time.Time) func(time.Time) float64 {
		return func(at time.Time) float64 {
			if at.After(t0) && !at.After(stop) {
				return 5
			}
			return 0
		}
	}
	newSource := func() *fakeSource {
		return &fakeSource{bad: burst(t0.Add(24 * time.Hour)), total: func(time.Time) float64 { return 10 }}
	}

	// 1. Node A: healthy backfill at t0, then the burst. The ticket fires first and cannot be
	// delivered; the page fires later and reaches PagerDuty.
	a := newDrillNode(t, "node-a", newSource(), pdSrv.URL, hookSrv.URL, "", t0, logs)
	a.cycle(t0)
	var ticketAt, pageAt time.Time
	for i := 1; i <= 20 && pageAt.IsZero(); i++ {
		at := t0.Add(time.Duration(i) * time.Minute)
		a.cycle(at)
		// The dispatcher runs when a cycle enqueued something: once when each alert fires.
		if ticketAt.IsZero() && a.phase("ticket") == "firing" {
			ticketAt = at
			a.dispatch()
		}
		if a.phase("page") == "firing" {
			pageAt = at
			a.dispatch()
		}
	}
	if ticketAt.IsZero() || pageAt.IsZero() || !ticketAt.Before(pageAt) {
		t.Fatalf("ticket fired at %v, page at %v: want both, the ticket first", ticketAt, pageAt)
	}
	if n := pd.count(drillPageKey, "trigger"); n != 1 {
		t.Fatalf("PagerDuty received %d triggers of the page, want 1", n)
	}
	pending := a.outbox()
	if len(pending) != 1 || pending[0].Key != drillTicketKey || pending[0].Receiver != "tickets" ||
		pending[0].Attempts != 2 || !strings.Contains(pending[0].LastError, "503") {
		t.Fatalf("outbox of node A: want the ticket after two failed attempts, got %+v", pending)
	}

	// One more cycle (nothing changes), and a silence for another service: part of the state too.
	backupAt := pageAt.Add(time.Minute)
	a.cycle(backupAt)
	silence := fmt.Sprintf(`{"matchers":[{"name":"service","value":"checkout"}],"startsAt":%q,"endsAt":%q,"createdBy":"alice","comment":"INC-1: checkout migration"}`,
		backupAt.Format(time.RFC3339), backupAt.Add(24*time.Hour).Format(time.RFC3339))
	resp, err := http.Post(a.http.URL+"/api/v1/silences", "application/json", strings.NewReader(silence))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("adding a silence: %s", resp.Status)
	}

	// What node A has committed when the backup is taken.
	atBackup := a.snapshot()
	recs, err := a.d.store.SLOs()
	if err != nil {
		t.Fatal(err)
	}
	stored, ok := recs["shop/availability"]
	if !ok {
		t.Fatal("node A stored no record of the SLO")
	}
	storedHist := new(burnrate.History)
	if err := storedHist.UnmarshalBinary(stored.History); err != nil {
		t.Fatal(err)
	}
	outboxAtBackup := a.outbox()

	// 2. The online backup, as `slod backup --web.url` takes it from a running slod, while node A
	// is in the middle of its next cycle (held in its query): the snapshot does not wait for the
	// cycle, and holds the last committed one.
	gate := &gatedSource{fakeSource: a.src, entered: make(chan struct{}, 1), release: make(chan struct{})}
	a.d.mu.Lock()
	a.d.rt.querier = gate
	a.d.mu.Unlock()
	cycleDone := make(chan error, 1)
	nextAt := backupAt.Add(time.Minute)
	a.clock.Set(nextAt)
	go func() { cycleDone <- a.d.Cycle(context.Background(), nextAt) }()
	select {
	case <-gate.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("node A's cycle did not start querying")
	}
	backupFile := filepath.Join(t.TempDir(), "slod-backup.db")
	func() {
		resp, err := http.Get(a.http.URL + "/api/v1/admin/backup")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("backup: %s", resp.Status)
		}
		f, err := os.Create(backupFile)
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(f, resp.Body)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil || n != resp.ContentLength {
			t.Fatalf("backup: %d of %d bytes: %v", n, resp.ContentLength, err)
		}
	}()
	close(gate.release)
	select {
	case err := <-cycleDone:
		if err != nil {
			t.Fatalf("node A's cycle during the backup: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("node A's cycle did not finish")
	}
	if got := time.Unix(0, a.d.lastCycle.Load()).UTC(); !got.Equal(nextAt) {
		t.Fatalf("node A committed %v, want %v", got, nextAt)
	}
	// What node A would show after that cycle; the restored node must show the same after its own.
	atNext := a.snapshot()
	if bytes.Equal(atNext.history, atBackup.history) {
		t.Fatal("the cycle after the backup did not change node A's history: the comparison below would prove nothing")
	}
	st, err := store.Verify(backupFile)
	if err != nil {
		t.Fatalf("the backup does not verify: %v", err)
	}
	if st.SLOs != 1 || st.Outbox != 1 || st.Silences != 1 {
		t.Fatalf("backup holds %+v, want 1 SLO, 1 outbox entry, 1 silence", st)
	}

	// 3. Restoring over node A's store while its slod runs is refused, and changes nothing.
	aStore := filepath.Join(a.dir, "data")
	before, err := os.ReadFile(filepath.Join(aStore, store.FileName))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(backupFile)
	if err != nil {
		t.Fatal(err)
	}
	_, err = store.RestoreWithOptions(f, aStore, store.RestoreOptions{Force: true})
	f.Close()
	if !errors.Is(err, store.ErrLocked) || !strings.Contains(err.Error(), "refusing to restore over a live store") {
		t.Fatalf("restore over the running slod's store: err = %v, want a refusal wrapping ErrLocked", err)
	}
	if after, _ := os.ReadFile(filepath.Join(aStore, store.FileName)); !bytes.Equal(before, after) {
		t.Error("the refused restore changed the live store")
	}

	// 4. Node A is lost (nothing more of it is delivered). The ticketing system comes back.
	a.http.Close()
	if err := a.d.Close(); err != nil {
		t.Fatal(err)
	}
	ticketSink.down.Store(false)

	// 5. Restore into node B's empty storage path, as `slod restore -i FILE --storage.path DIR`.
	bStore := filepath.Join(t.TempDir(), "node-b-data")
	f, err = os.Open(backupFile)
	if err != nil {
		t.Fatal(err)
	}
	rst, err := store.RestoreWithOptions(f, bStore, store.RestoreOptions{})
	f.Close()
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	if rst.SLOs != 1 || rst.Outbox != 1 || rst.Silences != 1 {
		t.Errorf("restored %+v, want 1 SLO, 1 outbox entry, 1 silence", rst)
	}
	b := newDrillNode(t, "node-b", newSource(), pdSrv.URL, hookSrv.URL, bStore, nextAt, logs)

	// Before any cycle, node B holds what node A had committed at the backup.
	if got := time.Unix(0, b.d.lastCycle.Load()).UTC(); !got.Equal(backupAt) {
		t.Errorf("restored last cycle %v, want %v", got, backupAt)
	}
	restored := b.snapshot()
	if !bytes.Equal(restored.state, atBackup.state) {
		t.Errorf("alert state:\nrestored %s\nat backup %s", restored.state, atBackup.state)
	}
	if !bytes.Equal(restored.alerts, atBackup.alerts) {
		t.Errorf("notification records:\nrestored %s\nat backup %s", restored.alerts, atBackup.alerts)
	}
	if !bytes.Equal(restored.history, stored.History) {
		t.Errorf("history: restored %d bytes ending %v, stored %d bytes ending %v",
			len(restored.history), b.d.slos[0].only().History().End(), len(stored.History), storedHist.End())
	}
	for _, sev := range []string{"page", "ticket"} {
		if got := b.phase(sev); got != "firing" {
			t.Errorf("restored %s is %s, want firing", sev, got)
		}
	}
	var st0 burnrate.State
	if err := json.Unmarshal(restored.state, &st0); err != nil {
		t.Fatal(err)
	}
	for _, al := range st0.Alerts {
		want := map[burnrate.Severity]time.Time{"page": pageAt, "ticket": ticketAt}[al.Severity]
		if !al.FiredAt.Equal(want) {
			t.Errorf("restored %s fired at %v, want %v", al.Severity, al.FiredAt, want)
		}
	}
	if got := b.outbox(); !sameOutbox(got, outboxAtBackup) {
		t.Errorf("restored outbox:\n%+v\nwant what node A had at the backup:\n%+v", got, outboxAtBackup)
	}
	if sils := b.d.silences.List(); len(sils) != 1 || sils[0].CreatedBy != "alice" {
		t.Errorf("restored silences: %+v", sils)
	}

	// 6. Node B's first cycle, at the time of node A's last: it fetches only the steps the stored
	// history lacks (not a backfill) and ends exactly where node A ended.
	b.cycle(nextAt)
	if want := storedHist.End().Add(time.Minute); len(b.src.starts) != 2 || !b.src.starts[0].Equal(want) {
		t.Errorf("node B fetched from %v, want 2 queries from %v (the end of the restored history)", b.src.starts, want)
	}
	afterCycle := b.snapshot()
	for _, c := range []struct {
		what      string
		got, want []byte
	}{
		{"GET /api/v1/slos", afterCycle.views, atNext.views},
		{"alert state", afterCycle.state, atNext.state},
		{"notification records", afterCycle.alerts, atNext.alerts},
		{"history", afterCycle.history, atNext.history},
	} {
		if !bytes.Equal(c.got, c.want) {
			t.Errorf("%s after node B's first cycle differs from node A's:\nB: %.600s\nA: %.600s", c.what, c.got, c.want)
		}
	}
	if got := b.outbox(); !sameOutbox(got, outboxAtBackup) {
		t.Errorf("node B's first cycle changed the outbox (a page sent anew?):\n%+v", got)
	}

	// 7. Node B's dispatcher delivers the waiting ticket, once; the page is not sent again.
	b.dispatch()
	b.dispatch()
	if n := tickets.count(drillTicketKey, "firing"); n != 1 {
		t.Errorf("the ticket pending at the backup reached the webhook %d times, want 1", n)
	}
	if n := pd.count(drillPageKey, "trigger"); n != 1 {
		t.Errorf("PagerDuty received %d triggers of the page, want 1 (re-paged after the restore)", n)
	}
	if es := b.outbox(); len(es) != 0 {
		t.Errorf("outbox after delivery: %+v", es)
	}

	// 8. The burn stops: each alert resolves exactly once, through node B.
	stop := nextAt.Add(2 * time.Minute)
	b.src.set(func(f *fakeSource) { f.bad = burst(stop) })
	for at := nextAt.Add(time.Minute); !at.After(stop.Add(15 * time.Minute)); at = at.Add(time.Minute) {
		b.cycle(at)
		b.dispatch()
	}
	for _, sev := range []string{"page", "ticket"} {
		if got := b.phase(sev); got != "inactive" {
			t.Errorf("%s is %s after the burn stopped, want inactive", sev, got)
		}
	}
	for _, c := range []struct {
		what string
		got  int
	}{
		{"page triggers", pd.count(drillPageKey, "trigger")},
		{"page resolves", pd.count(drillPageKey, "resolve")},
		{"ticket firings", tickets.count(drillTicketKey, "firing")},
		{"ticket resolves", tickets.count(drillTicketKey, "resolved")},
	} {
		if c.got != 1 {
			t.Errorf("%s delivered: %d, want 1", c.what, c.got)
		}
	}
	pd.mu.Lock()
	pdEvents := len(pd.events)
	pd.mu.Unlock()
	if pdEvents != 2 {
		t.Errorf("PagerDuty received %d events, want 2 (one trigger, one resolve)", pdEvents)
	}
	tickets.mu.Lock()
	hookMsgs := len(tickets.msgs)
	tickets.mu.Unlock()
	if hookMsgs != 2 {
		t.Errorf("the webhook received %d messages, want 2 (one firing, one resolved):\n%s", hookMsgs, tickets.dump())
	}
	if es := b.outbox(); len(es) != 0 {
		t.Errorf("outbox at the end: %+v", es)
	}
}

// TestRestoreDrillControl is the drill without the backup: a slod started on an empty store in
// the middle of the same incident pages again (a second trigger on the incident's key, and the
// ticket anew) and backfills its history. It is what TestBackupRestoreDrill's exact counts rule
// out.
func TestRestoreDrillControl(t *testing.T) {
	pd := &fakePagerDuty{}
	pdSrv := httptest.NewServer(pd)
	defer pdSrv.Close()
	tickets := &hook{}
	hookSrv := httptest.NewServer(tickets)
	defer hookSrv.Close()
	src := &fakeSource{
		bad: func(at time.Time) float64 {
			if at.After(t0) {
				return 5
			}
			return 0
		},
		total: func(time.Time) float64 { return 10 },
	}
	at := t0.Add(20 * time.Minute)
	n := newDrillNode(t, "fresh", src, pdSrv.URL, hookSrv.URL, "", at, io.Discard)
	n.cycle(at)
	n.dispatch()
	if want := at.Add(-2 * time.Hour).Add(time.Minute); len(src.starts) != 2 || !src.starts[0].Equal(want) {
		t.Errorf("fresh node fetched from %v, want the 2h backfill from %v", src.starts, want)
	}
	if got := pd.count(drillPageKey, "trigger"); got != 1 {
		t.Errorf("a slod without the restored state sent %d page triggers, want 1 (a repeated page)", got)
	}
	if got := tickets.count(drillTicketKey, "firing"); got != 1 {
		t.Errorf("a slod without the restored state sent %d tickets, want 1", got)
	}
}
