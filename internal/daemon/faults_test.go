package daemon

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/slod-dev/slod/internal/notify"
)

// limitFileSize lowers this process's RLIMIT_FSIZE so that no file can be written beyond
// max bytes (a write past it fails with EFBIG, which the Go runtime does not turn into a signal),
// the way a full disk refuses to grow the store, even for root, and returns the function that
// gives the space back. chmod would not do: the tests run as root in CI.
func limitFileSize(t *testing.T, max uint64) (restore func()) {
	t.Helper()
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	lim := old
	lim.Cur = max
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		t.Fatal(err)
	}
	restored := false
	restore = func() {
		if !restored {
			restored = true
			if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Cleanup(restore)
	return restore
}

// TestStoreFullThenSpaceReturns: while the store cannot be written (its file may not grow past
// its first pages, as on a full disk) an alert starts firing. The cycle fails loudly (an error,
// a log line, slod_store_errors_total, slod_evaluation_cycles_total{result="failure"}), nothing
// of it is acted on (no outbox entry, no firing state in the API), and a silence is refused
// rather than acknowledged without being stored. When space returns, the next cycle commits
// the transition and exactly one page is queued.
func TestStoreFullThenSpaceReturns(t *testing.T) {
	h := newHarness(t)
	srv := httptest.NewServer(h.d.Handler())
	defer srv.Close()
	// Half the requests fail from the start: the first cycle (backfill included) fires the page.
	h.src.set(func(f *fakeSource) { f.bad = func(time.Time) float64 { return 5 } })
	storeErrors := metricValue(h.d.m.storeErrors)

	// Only bbolt's two meta pages stay writable: every page a commit writes is beyond them.
	restore := limitFileSize(t, 8192)
	err := h.d.Cycle(t.Context(), t0)
	silence := `{"matchers":[{"name":"service","value":"shop"}],"endsAt":"` + time.Now().Add(time.Hour).UTC().Format(time.RFC3339) + `","createdBy":"a","comment":"c"}`
	resp, perr := http.Post(srv.URL+"/api/v1/silences", "application/json", strings.NewReader(silence))
	restore()
	if err == nil {
		t.Fatal("a cycle committed while the store could not grow")
	}
	if !strings.Contains(err.Error(), "file too large") {
		t.Errorf("the cycle failed for another reason than the full store: %v", err)
	}
	if perr != nil {
		t.Fatal(perr)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("a silence while the store is full: %s, want 500 (not stored, not acknowledged)", resp.Status)
	}
	if n := len(h.d.silences.List()); n != 0 {
		t.Errorf("%d silences listed although none could be stored", n)
	}
	if got := metricValue(h.d.m.storeErrors); got <= storeErrors {
		t.Errorf("slod_store_errors_total = %v, want it to grow from %v", got, storeErrors)
	}
	if got := metricValue(h.d.m.cycles.WithLabelValues(cycleFailure)); got != 1 {
		t.Errorf("failed cycles = %v, want 1", got)
	}
	if !strings.Contains(h.logs.String(), "evaluation cycle failed; nothing committed") {
		t.Error("the failed cycle is not logged")
	}
	if ob := h.outbox(); len(ob) != 0 {
		t.Errorf("outbox after the failed commit: %+v, want nothing", ob)
	}
	if ph := h.phase("page", false); ph == "firing" {
		t.Error("the API shows the page firing although its transition was never written")
	}

	// Space returns: the next cycle writes the transition, and only one page is queued.
	h.cycle(t0.Add(time.Minute))
	ob := h.outbox()
	if len(ob) != 1 || ob[0].Action != notify.Trigger || ob[0].DedupKey != "slod/shop/availability/page" {
		t.Fatalf("outbox after recovery: %+v, want the one trigger", ob)
	}
	if ph := h.phase("page", false); ph != "firing" {
		t.Errorf("page %s after recovery, want firing", ph)
	}
	h.cycle(t0.Add(2 * time.Minute))
	if ob := h.outbox(); len(ob) != 1 {
		t.Errorf("outbox grew to %d entries in a steady cycle", len(ob))
	}
	// And it all survives a restart: what the API showed was written.
	h.restart()
	if ph := h.phase("page", false); ph != "firing" {
		t.Errorf("page %s after a restart, want firing", ph)
	}
}

// promFault is a Prometheus HTTP API on a fixed loopback port that answers every range and
// instant query with a constant error share, or fails in one way: "stopped" (nothing listens),
// "slow" (no answer within the client's timeout), "truncated" (JSON cut off), "nan" (NaN values).
type promFault struct {
	t    *testing.T
	addr string
	srv  *http.Server

	mu    sync.Mutex
	fault string
	share float64
}

func newPromFault(t *testing.T) *promFault {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &promFault{t: t, addr: ln.Addr().String()}
	p.serve(ln)
	t.Cleanup(func() { p.srv.Close() })
	return p
}

func (p *promFault) serve(ln net.Listener) {
	p.srv = &http.Server{Handler: http.HandlerFunc(p.handle)}
	go p.srv.Serve(ln)
}

// set switches the fault: "stopped" closes the listener, and leaving it listens again on the
// same port.
func (p *promFault) set(fault string, share float64) {
	p.t.Helper()
	p.mu.Lock()
	was := p.fault
	p.fault, p.share = fault, share
	p.mu.Unlock()
	switch {
	case fault == "stopped" && was != "stopped":
		p.srv.Close()
	case fault != "stopped" && was == "stopped":
		var ln net.Listener
		var err error
		for range 50 { // the port was just released; binding it again may take a moment
			if ln, err = net.Listen("tcp", p.addr); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			p.t.Fatalf("listening again on %s: %v", p.addr, err)
		}
		p.serve(ln)
	}
}

func (p *promFault) handle(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	fault, share := p.fault, p.share
	p.mu.Unlock()
	r.ParseForm()
	if fault == "slow" {
		<-r.Context().Done() // the client's timeout ends it
		return
	}
	v := "10"
	if strings.Contains(r.Form.Get("query"), `code="500"`) {
		v = strconv.FormatFloat(10*share, 'f', -1, 64)
	}
	if fault == "nan" {
		v = "NaN"
	}
	var body string
	if strings.HasSuffix(r.URL.Path, "/query") {
		body = fmt.Sprintf(`{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[%s,"%s"]}]}}`, r.Form.Get("time"), v)
	} else {
		start, _ := strconv.ParseFloat(r.Form.Get("start"), 64)
		end, _ := strconv.ParseFloat(r.Form.Get("end"), 64)
		step, _ := strconv.ParseFloat(r.Form.Get("step"), 64)
		var pts []string
		for ts := start; ts <= end; ts += step {
			pts = append(pts, fmt.Sprintf(`[%s,"%s"]`, strconv.FormatFloat(ts, 'f', -1, 64), v))
		}
		body = fmt.Sprintf(`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[%s]}]}}`, strings.Join(pts, ","))
	}
	if fault == "truncated" {
		body = body[:len(body)/2]
	}
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, body)
}

// TestPrometheusFaults drives a daemon through its real Prometheus client against a Prometheus
// that stops, answers too slowly, cuts its JSON off, or answers NaN: while healthy, a fault
// pages nobody; while a page fires, a fault resolves nothing; either way the reason is in
// /api/v1/slos and in the log, and when Prometheus recovers, alerting carries on (one trigger,
// one resolve).
func TestPrometheusFaults(t *testing.T) {
	for _, fault := range []string{"stopped", "slow", "truncated", "nan"} {
		t.Run(fault, func(t *testing.T) {
			prom := newPromFault(t)
			h := newHarness(t)
			cfg := strings.Replace(fmt.Sprintf(testConfig, testBearer, testRoutingKey),
				`prometheus: {url: "http://127.0.0.1:1",`, `prometheus: {url: "http://`+prom.addr+`", timeout: 1s,`, 1)
			writeFile(t, filepath.Join(h.dir, "slod.yml"), cfg)
			h.tweak = func(o *Options) { o.NewQuerier = nil } // the real Prometheus client
			h.restart()

			at := t0
			next := func() { h.cycle(at); at = at.Add(time.Minute) }
			sourceError := func() string { return h.d.sloViews()[0].SourceError }
			expectHeld := func(phase string) {
				t.Helper()
				before := len(h.outbox())
				prom.set(fault, 0.5)
				for range 3 {
					next()
					if got := h.phase("page", false); got != phase {
						t.Fatalf("page %s during the fault, want it held %s", got, phase)
					}
				}
				if n := len(h.outbox()); n != before {
					t.Errorf("%d notifications queued during the fault: %+v", n-before, h.outbox()[before:])
				}
				if sourceError() == "" {
					t.Error("/api/v1/slos shows no source error during the fault")
				}
				if !strings.Contains(h.logs.String(), `"reason":"`+sourceError()+`"`) {
					t.Errorf("the log does not give the reason %q", sourceError())
				}
			}

			prom.set("", 0) // healthy: backfill, nothing fires
			next()
			// Held inactive, which the API shows as unknown: it could not fire meanwhile.
			expectHeld(stateUnknown)
			prom.set("", 0.5) // burning: the page fires once the 1h window holds enough of it
			for range 30 {
				if next(); h.phase("page", false) == "firing" {
					break
				}
			}
			if got := h.phase("page", false); got != "firing" {
				t.Fatalf("page %s while half the requests fail, want firing", got)
			}
			expectHeld("firing")
			prom.set("", 0) // healthy again: the page resolves once Prometheus answers
			for range 90 {
				if next(); h.phase("page", false) == "inactive" {
					break
				}
			}
			var actions []string
			for _, n := range h.outbox() {
				if n.Severity == "page" {
					actions = append(actions, string(n.Action))
				}
			}
			if strings.Join(actions, ",") != "trigger,resolve" {
				t.Errorf("page notifications %v, want one trigger then one resolve", actions)
			}
			if sourceError() != "" {
				t.Errorf("source error %q still shown after the recovery", sourceError())
			}
		})
	}
}

// TestReceiverEchoKeepsSecrets: a webhook that echoes the request's headers in its 500 body
// (as some proxies do) gets the configured Authorization header with every attempt; the value
// reaches neither the log, nor the outbox entry's stored LastError, nor a backup of the store.
func TestReceiverEchoKeepsSecrets(t *testing.T) {
	const secret = "Bearer hook-t0ken-do-not-leak"
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintf(w, "upstream failed; request headers were: %v", r.Header)
	}))
	defer echo.Close()
	h := newHarness(t)
	cfg := strings.Replace(fmt.Sprintf(testConfig, testBearer, testRoutingKey),
		`webhook: {url: "http://127.0.0.1:1/hook"}`, `webhook: {url: "`+echo.URL+`/hook", headers: {Authorization: "`+secret+`"}}`, 1)
	writeFile(t, filepath.Join(h.dir, "slod.yml"), cfg)
	h.restart()
	h.src.set(func(f *fakeSource) { f.bad = func(time.Time) float64 { return 5 } })
	h.cycle(t0)
	if _, err := h.d.dispatcher.DispatchOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	es, err := h.d.store.Outbox()
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 1 || !strings.Contains(es[0].LastError, "<secret>") {
		var errs []string
		for _, e := range es {
			errs = append(errs, e.LastError)
		}
		t.Fatalf("%d outbox entries, last errors %q: want the page pending with its last error, the echo scrubbed", len(es), errs)
	}
	var backup strings.Builder
	if _, err := h.d.store.Backup(&backup); err != nil {
		t.Fatal(err)
	}
	for where, text := range map[string]string{"log": h.logs.String(), "LastError": es[0].LastError, "backup": backup.String()} {
		if strings.Contains(text, "hook-t0ken-do-not-leak") {
			t.Errorf("the %s holds the webhook's Authorization value", where)
		}
	}
	if !strings.Contains(h.logs.String(), "will retry") {
		t.Error("the failed delivery is not logged")
	}
}
