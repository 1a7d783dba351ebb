package notify

import (
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"

	"github.com/slod-dev/slod/internal/receiver"
)

// faultyPagerDuty puts a fault in front of fakePagerDuty: while fault is set, every request gets
// it instead of the Events API.
type faultyPagerDuty struct {
	pd  *fakePagerDuty
	srv *httptest.Server

	mu       sync.Mutex
	fault    string // "", "500", "429", "429-retry-after", "hang", "close", "400"
	faulted  int    // requests that got the fault
	released chan struct{}
}

func newFaultyPagerDuty(t *testing.T) *faultyPagerDuty {
	t.Helper()
	f := &faultyPagerDuty{pd: newFakePagerDuty(t), released: make(chan struct{})}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(func() {
		close(f.released)
		f.srv.Close()
	})
	return f
}

func (f *faultyPagerDuty) set(fault string) {
	f.mu.Lock()
	f.fault = fault
	f.mu.Unlock()
}

func (f *faultyPagerDuty) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	fault := f.fault
	if fault != "" {
		f.faulted++
	}
	f.mu.Unlock()
	switch fault {
	case "":
		f.pd.serve(w, r)
	case "500":
		http.Error(w, `{"status":"error"}`, http.StatusInternalServerError)
	case "429":
		http.Error(w, `{"status":"throttled"}`, http.StatusTooManyRequests)
	case "429-retry-after":
		w.Header().Set("Retry-After", "90")
		http.Error(w, `{"status":"throttled"}`, http.StatusTooManyRequests)
	case "hang":
		// No response until the client gives up (its timeout) or the test ends. With the body
		// read, the server notices the client closing the connection.
		io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-f.released:
		}
	case "close":
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	case "400":
		f.pd.mu.Lock()
		f.pd.reject(w, "injected: invalid event")
		f.pd.mu.Unlock()
	}
}

// goroutinesSettle waits (generously) for the goroutine count to come back to at most want and
// returns the last count seen.
func goroutinesSettle(want int) int {
	deadline := time.Now().Add(10 * time.Second)
	n := runtime.NumGoroutine()
	for n > want && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		n = runtime.NumGoroutine()
	}
	return n
}

// TestPagerDutyFaultsThenRecovery runs three incidents through PagerDuty while it fails in one way
// for 40 minutes (mock clock) and then recovers; the incidents end after the recovery. Whatever the
// fault (500, 429 with and without Retry-After, no answer until the client's timeout, a closed
// connection, a 400 from a proxy), every incident gets exactly one trigger and then one resolve,
// in order, and no goroutine or connection is left behind. A rejected (400) trigger is counted as
// failed at every attempt and sent again every repeat_interval while it is pending. (An incident
// that ends during the fault is collapsed to its resolve: TestBacklogCollapsesPerDedupKey.)
func TestPagerDutyFaultsThenRecovery(t *testing.T) {
	for _, fault := range []string{"500", "429", "429-retry-after", "hang", "close", "400"} {
		t.Run(fault, func(t *testing.T) {
			f := newFaultyPagerDuty(t)
			clk := clock.NewMock()
			clk.Set(t0)
			tr := &http.Transport{}
			defer tr.CloseIdleConnections()
			ns, err := NewNotifiers([]receiver.Config{{Name: "oncall", PagerDuty: &receiver.PagerDutyConfig{
				RoutingKey: testKey, URL: f.srv.URL, Timeout: model.Duration(200 * time.Millisecond)}}},
				Options{Clock: clk, Transport: tr})
			if err != nil {
				t.Fatal(err)
			}
			m := NewMetrics(prometheus.NewRegistry())
			logger, logs := newTestLogger(t)
			o := &memOutbox{}
			d := NewDispatcher(o, ns, DispatcherOptions{Clock: clk, Logger: logger, Metrics: m})
			goroutines := runtime.NumGoroutine()

			names := []string{"availability", "latency", "memory"}
			for _, name := range names {
				o.add(t, "oncall", notificationFor(name, Trigger), clk.Now())
			}
			f.set(fault)
			recoverAt, resolveAt := t0.Add(40*time.Minute), t0.Add(50*time.Minute)
			resolved := false
			step := func() {
				if !resolved && !clk.Now().Before(resolveAt) {
					for _, name := range names {
						o.add(t, "oncall", notificationFor(name, Resolve), clk.Now())
					}
					resolved = true
				}
				if !clk.Now().Before(recoverAt) {
					f.set("")
				}
			}
			drain(t, d, clk, 1000, step)
			for !resolved { // the triggers are delivered before the resolves are due
				clk.Set(resolveAt)
				step()
				drain(t, d, clk, 1000, step)
			}

			acc, _, incidents := f.pd.snapshot()
			got := eventsByKey(acc)
			for _, name := range names {
				key := DedupKey("chat-api", name, "page", false)
				want, wantIncidents := "trigger,resolve", 1
				if strings.Join(got[key], ",") != want {
					t.Errorf("%s: PagerDuty got %v, want %s", key, got[key], want)
				}
				if inc := incidents[key]; len(inc) != wantIncidents || wantIncidents == 1 && !inc[0].Resolved {
					t.Errorf("%s: incidents %+v, want %d, resolved", key, inc, wantIncidents)
				}
			}
			f.mu.Lock()
			faulted := f.faulted
			f.mu.Unlock()
			if faulted < 5 {
				t.Errorf("only %d attempts during a 40-minute fault", faulted)
			}
			failed := metricValue(t, m.notifications.WithLabelValues("oncall", OutcomeFailed))
			if wantFailed := map[bool]float64{true: float64(faulted), false: 0}[fault == "400"]; failed != wantFailed {
				t.Errorf("failed = %v, want %v (every rejection counted)", failed, wantFailed)
			}
			if fault == "400" && !strings.Contains(logs.String(), "injected: invalid event") {
				t.Error("the receiver's reason for the 400 is not logged")
			}
			if o.len() != 0 {
				t.Errorf("%d entries left in the outbox", o.len())
			}
			tr.CloseIdleConnections()
			if n := goroutinesSettle(goroutines); n > goroutines {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("%d goroutines after the fault, %d before: something is left hanging\n%s", n, goroutines, buf)
			}
		})
	}
}
