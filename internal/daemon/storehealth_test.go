package daemon

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/slod-dev/slod/internal/notify"
	"github.com/slod-dev/slod/internal/store"
)

// TestStoreFailureIsLoud (issue 14, point 5): while the store cannot commit, a burning SLO cannot
// page (its transition cannot be recorded, so nothing is enqueued). slod must say so: /-/ready
// fails with the reason, the status page shows it, slod_store_errors_total counts it (the shipped
// SlodStoreErrors alert pages on it), and the log says it once. When the store works again, the
// next cycle records the transition and enqueues the page: delayed, not lost.
func TestStoreFailureIsLoud(t *testing.T) {
	h := newHarness(t)
	srv := httptest.NewServer(h.d.Handler())
	defer srv.Close()
	h.cycle(t0)
	if code, _ := get(t, srv, "/-/ready"); code != http.StatusOK {
		t.Fatalf("ready after a committed cycle: %d", code)
	}

	// Every request fails from now on (the page fires once 6 minutes of it are in the 1h
	// window), and the store refuses every commit (closed under the daemon: bbolt fails the
	// transaction, as it does on a full disk).
	h.src.set(func(f *fakeSource) {
		f.bad = func(at time.Time) float64 {
			if at.After(t0) {
				return 10
			}
			return 0
		}
	})
	h.d.store.Close()
	for i := 1; i <= 7; i++ {
		if err := h.d.Cycle(t.Context(), t0.Add(time.Duration(i)*time.Minute)); err == nil {
			t.Fatal("cycle committed into a closed store")
		}
	}
	code, body := get(t, srv, "/-/ready")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "the store cannot be written since") {
		t.Errorf("/-/ready while the store fails: %d %q, want 503 naming the store", code, body)
	}
	if _, page := get(t, srv, "/"); !strings.Contains(page, "the store cannot be written") || !strings.Contains(page, "SlodStoreErrors") {
		t.Errorf("the status page does not show the store failure:\n%s", page)
	}
	if v := metricValue(h.d.m.storeErrors); v < 7 {
		t.Errorf("slod_store_errors_total = %v, want a count per failed commit", v)
	}
	if n := strings.Count(h.logs.String(), "the store cannot be written"); n != 1 {
		t.Errorf("store failure logged %d times over seven failed cycles, want once", n)
	}

	// The disk has room again (the store is reopened under the daemon).
	st, err := store.Open(filepath.Join(h.dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	h.d.store = st
	h.cycle(t0.Add(8 * time.Minute))
	if code, body := get(t, srv, "/-/ready"); code != http.StatusOK {
		t.Errorf("/-/ready after the store recovered: %d %q", code, body)
	}
	if _, page := get(t, srv, "/"); strings.Contains(page, "cannot be written") {
		t.Error("the status page still shows the store failure")
	}
	if ob := h.outbox(); len(ob) != 1 || ob[0].Action != notify.Trigger || ob[0].Severity != "page" {
		t.Errorf("outbox after the recovery: %+v, want the page", ob)
	}
	if !strings.Contains(h.logs.String(), "the store can be written again") {
		t.Error("the recovery is not logged")
	}
}

// failingOutbox fails its operations while err is set.
type failingOutbox struct{ err error }

func (o *failingOutbox) Pending() ([]notify.Entry, error) { return nil, o.err }
func (o *failingOutbox) Ack(uint64) error                 { return o.err }
func (o *failingOutbox) Update(notify.Entry) error        { return o.err }

// TestHealthOutbox: the dispatcher's reads and writes of the outbox count in readiness and in
// slod_store_errors_total, and a failure clears with the next success of its kind.
func TestHealthOutbox(t *testing.T) {
	var logs bytes.Buffer
	clk := clock.NewMock()
	clk.Set(t0)
	health := newStoreHealth(slog.New(slog.NewTextHandler(&logs, nil)), clk)
	errs := prometheus.NewCounter(prometheus.CounterOpts{Name: "errors"})
	fo := &failingOutbox{}
	o := healthOutbox{Outbox: fo, health: health, errors: errs}
	steps := []struct {
		name string
		err  error
		op   func() error
		want string // in problem(); "" = healthy
	}{
		{"read works", nil, func() error { _, err := o.Pending(); return err }, ""},
		{"read fails", errors.New("input/output error"), func() error { _, err := o.Pending(); return err }, "the store cannot be read since 2026-11-25T12:00:00Z: input/output error"},
		{"ack fails too", errors.New("no space left on device"), func() error { return o.Ack(1) }, "the store cannot be written"},
		{"update works: writes are fine", nil, func() error { return o.Update(notify.Entry{}) }, "the store cannot be read"},
		{"read works again", nil, func() error { _, err := o.Pending(); return err }, ""},
	}
	for _, s := range steps {
		fo.err = s.err
		if err := s.op(); !errors.Is(err, s.err) {
			t.Errorf("%s: the wrapper returned %v, want %v", s.name, err, s.err)
		}
		got := health.problem()
		if (s.want == "") != (got == "") || !strings.Contains(got, s.want) {
			t.Errorf("%s: problem %q, want %q", s.name, got, s.want)
		}
	}
	if v := metricValue(errs); v != 2 {
		t.Errorf("store errors counted: %v, want 2", v)
	}
	for _, want := range []string{"the store cannot be read", "the store cannot be written", "the store can be written again", "the store can be read again"} {
		if strings.Count(logs.String(), want) != 1 {
			t.Errorf("log does not say %q once:\n%s", want, logs.String())
		}
	}
}
