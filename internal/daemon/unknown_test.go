package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/slod-dev/slod/internal/notify"
	"github.com/slod-dev/slod/internal/promapi"
)

// get fetches path from srv and returns the status code and body.
func get(t *testing.T, srv *httptest.Server, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// TestUnknownIsNotGreen: with the source unreachable from the start, nothing about the SLO is
// known, and nothing says otherwise: the API has null for the error ratio, budget, burn rates and
// time to exhaustion (not 0, 1, 0), /metrics has no sample for them (not 0 and 1), the burn-rate
// alert is unknown rather than inactive, and the status page says unknown, never green.
func TestUnknownIsNotGreen(t *testing.T) {
	h := newHarness(t)
	h.src.set(func(f *fakeSource) {
		f.err = &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	})
	h.cycle(t0)
	srv := httptest.NewServer(h.d.Handler())
	defer srv.Close()

	_, body := get(t, srv, "/api/v1/slos")
	var resp struct {
		Data []map[string]json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal([]byte(body), &resp); err != nil || len(resp.Data) != 1 {
		t.Fatalf("%v: %s", err, body)
	}
	slo := resp.Data[0]
	for _, field := range []string{"error_ratio", "budget_remaining", "current_burn_rate", "time_to_exhaustion"} {
		if v, ok := slo[field]; !ok || string(v) != "null" {
			t.Errorf("%s = %s, want null", field, v)
		}
	}
	var windows []map[string]json.RawMessage
	if err := json.Unmarshal(slo["windows"], &windows); err != nil || len(windows) == 0 {
		t.Fatalf("windows: %s (%v)", slo["windows"], err)
	}
	for _, w := range windows {
		if string(w["error_ratio"]) != "null" || string(w["burn_rate"]) != "null" {
			t.Errorf("window %s: error ratio %s, burn rate %s, want null", w["window"], w["error_ratio"], w["burn_rate"])
		}
	}
	if got := h.phase("page", false); got != stateUnknown {
		t.Errorf("page alert is %q, want unknown", got)
	}
	if got := string(slo["source_error"]); got != `"network"` {
		t.Errorf("source_error = %s", got)
	}

	_, metrics := get(t, srv, "/metrics")
	for _, absent := range []string{"slod_slo_burn_rate{", "slod_slo_error_budget_remaining{", `slod_alert_state{service="shop",severity="page"`} {
		if strings.Contains(metrics, absent) {
			t.Errorf("/metrics has a sample of %s for an SLO without data", absent)
		}
	}
	for _, want := range []string{`slod_slos{state="unknown"} 1`, `slod_slos{state="inactive"} 0`, `slod_slo_objective{service="shop",slo="availability"} 0.99`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	_, page := get(t, srv, "/")
	if !strings.Contains(page, `<span class="chip unknown">page: unknown</span>`) || strings.Contains(page, `chip inactive">page`) {
		t.Errorf("the status page does not show the page alert as unknown:\n%s", page)
	}
	if !strings.Contains(page, `<span class="unknown">unknown</span>`) || !strings.Contains(page, `<div role="cell">unknown</div>`) || strings.Contains(page, "100%") {
		t.Errorf("the status page shows a budget or a burn rate for an SLO without data:\n%s", page)
	}
	if _, detail := get(t, srv, "/slo/shop/availability"); !strings.Contains(detail, `<div class="k">Error budget</div><div class="v unknown">unknown</div>`) ||
		!strings.Contains(detail, `<div class="k">SLI over 1d</div><div class="v">unknown</div>`) {
		t.Errorf("the SLO's page shows a budget for an SLO without data:\n%s", detail)
	}
}

// TestUnreachableSourceIsNotSuccess runs the real Prometheus client against a port nothing
// listens on, from the start. Cycles are committed (the no-data alert must be able to fire) but
// are not successes: slod_evaluation_cycles_total counts them as no_data, the last-success
// timestamp does not move (so SlodNoSuccessfulCycle fires), no SLO has fresh data (SlodNoFreshData)
// and /-/ready says why it is not ready. Once data comes, all of that turns; a later outage is a
// no_data cycle again but leaves slod ready, serving what it knows.
func TestUnreachableSourceIsNotSuccess(t *testing.T) {
	h := newHarness(t)
	h.tweak = func(o *Options) { o.NewQuerier = nil } // promapi, against http://127.0.0.1:1
	h.restart()
	srv := httptest.NewServer(h.d.Handler())
	defer srv.Close()
	metric := func(name string) string {
		t.Helper()
		_, body := get(t, srv, "/metrics")
		for _, line := range strings.Split(body, "\n") {
			if v, ok := strings.CutPrefix(line, name+" "); ok {
				return v
			}
		}
		t.Fatalf("/metrics has no %s", name)
		return ""
	}
	for i := range 3 {
		h.cycle(t0.Add(time.Duration(i) * time.Minute))
	}
	for name, want := range map[string]string{
		`slod_evaluation_cycles_total{result="no_data"}`: "3",
		`slod_evaluation_cycles_total{result="success"}`: "0",
		`slod_evaluation_cycles_total{result="failure"}`: "0",
		`slod_last_successful_cycle_timestamp_seconds`:   "0",
		`slod_slos_with_fresh_data`:                      "0",
	} {
		if got := metric(name); got != want {
			t.Errorf("%s = %s, want %s", name, got, want)
		}
	}
	if code, body := get(t, srv, "/-/ready"); code != http.StatusServiceUnavailable || !strings.Contains(body, "no SLO has got data from the source") {
		t.Errorf("/-/ready = %d %q, want 503 saying no SLO has data", code, body)
	}
	if v := h.d.sloViews()[0]; v.SourceError != promapi.ReasonNetwork {
		t.Errorf("source error %q, want network", v.SourceError)
	}

	// The source answers: a success, ready.
	h.tweak = nil
	h.restart()
	srv.Config.Handler = h.d.Handler()
	h.cycle(t0.Add(3 * time.Minute))
	if got, want := metric(`slod_last_successful_cycle_timestamp_seconds`), strconv.FormatFloat(float64(t0.Add(3*time.Minute).Unix()), 'g', -1, 64); got != want {
		t.Errorf("last success %s, want %s", got, want)
	}
	if code, _ := get(t, srv, "/-/ready"); code != http.StatusOK || metric(`slod_slos_with_fresh_data`) != "1" {
		t.Errorf("/-/ready = %d, fresh SLOs %s after a cycle with data", code, metric(`slod_slos_with_fresh_data`))
	}
	// It fails again: no_data, the last success stays, slod stays ready.
	h.src.set(func(f *fakeSource) {
		f.err = &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	})
	h.cycle(t0.Add(4 * time.Minute))
	if got := metric(`slod_evaluation_cycles_total{result="no_data"}`); got != "1" {
		t.Errorf("no_data cycles after the outage: %s", got)
	}
	if got, want := metric(`slod_last_successful_cycle_timestamp_seconds`), strconv.FormatFloat(float64(t0.Add(3*time.Minute).Unix()), 'g', -1, 64); got != want {
		t.Errorf("last success %s after a cycle without data, want it left at %s", got, want)
	}
	if code, _ := get(t, srv, "/-/ready"); code != http.StatusOK {
		t.Errorf("/-/ready = %d during a later outage, want 200", code)
	}
}

// TestNoSLOsRefused: a config whose rules hold no SLO (a path typo) stops slod at start with an
// error naming the config and the rules, instead of running ready and paging for nothing; a
// reload to such rules is refused and the running SLOs stay.
func TestNoSLOsRefused(t *testing.T) {
	h := newHarness(t)
	h.cycle(t0)
	if err := os.Remove(filepath.Join(h.dir, "rules", "shop.yaml")); err != nil {
		t.Fatal(err)
	}
	err := h.d.Reload()
	if err == nil || !strings.Contains(err.Error(), "hold no SLO") {
		t.Fatalf("reload to no SLOs: %v, want it refused", err)
	}
	if len(h.d.slos) != 1 || metricValue(h.d.m.reloadSuccessful) != 0 {
		t.Errorf("after the refused reload: %d SLOs, reload successful %v", len(h.d.slos), metricValue(h.d.m.reloadSuccessful))
	}
	h.close()
	_, err = New(context.Background(), Options{ConfigFile: filepath.Join(h.dir, "slod.yml"), StoragePath: filepath.Join(h.dir, "data")})
	want := filepath.Join(h.dir, "slod.yml") + ":3:8: rules: rules " + filepath.Join(h.dir, "rules") + " hold no SLO (0 files read): slod run needs at least one"
	if err == nil || err.Error() != want {
		t.Errorf("start without SLOs: %v\nwant %s", err, want)
	}
}

// TestSilencedAndReloadShown: a silenced firing alert shows as silenced, with the silence's id and
// end (it showed as plain firing), in the API and on the status page; a failed reload shows its
// time and error there and in GET /api/v1/status (the page said "Ready." and nothing else).
func TestSilencedAndReloadShown(t *testing.T) {
	h := newHarness(t)
	clk := clock.NewMock()
	clk.Set(t0)
	h.tweak = func(o *Options) { o.Clock = clk }
	h.restart()
	h.src.set(func(f *fakeSource) { f.bad = func(time.Time) float64 { return 5 } })
	h.cycle(t0)
	srv := httptest.NewServer(h.d.Handler())
	defer srv.Close()
	pageAlert := func() alertView {
		t.Helper()
		_, body := get(t, srv, "/api/v1/slos/shop/availability")
		var r struct{ Data sloView }
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			t.Fatal(err)
		}
		for _, a := range r.Data.Alerts {
			if a.Severity == "page" && !a.NoData {
				return a
			}
		}
		t.Fatalf("no page alert in %s", body)
		return alertView{}
	}
	if a := pageAlert(); a.State != "firing" || a.Silenced != nil {
		t.Fatalf("page alert %+v, want firing, not silenced", a)
	}
	sil, err := h.d.silences.Add(notify.Silence{Matchers: []notify.Matcher{{Name: "severity", Value: "page", IsEqual: true}},
		EndsAt: t0.Add(2 * time.Hour), CreatedBy: "ana", Comment: "INC-7"})
	if err != nil {
		t.Fatal(err)
	}
	if a := pageAlert(); a.State != "firing" || a.Silenced == nil || a.Silenced.ID != sil.ID || !a.Silenced.EndsAt.Equal(t0.Add(2*time.Hour)) {
		t.Errorf("page alert %+v, want firing, silenced by %s until %v", a, sil.ID, t0.Add(2*time.Hour))
	}
	if _, page := get(t, srv, "/"); !strings.Contains(page, ", silenced</span>") || !strings.Contains(page, "silenced by "+sil.ID+" until 2026-11-25T14:00:00Z") {
		t.Errorf("the status page does not show the silence:\n%s", page)
	}
	clk.Add(2 * time.Hour)
	if a := pageAlert(); a.Silenced != nil {
		t.Errorf("page alert %+v after the silence ended, want it no longer silenced", a)
	}

	status := func() statusView {
		t.Helper()
		_, body := get(t, srv, "/api/v1/status")
		var r struct {
			Status string
			Data   statusView
		}
		if err := json.Unmarshal([]byte(body), &r); err != nil || r.Status != "success" {
			t.Fatalf("%s: %v", body, err)
		}
		return r.Data
	}
	if s := status(); !s.Ready || !s.Config.LastReload.Success || s.Config.LoadedAt == nil || !s.Config.LoadedAt.Equal(t0) {
		t.Errorf("status %+v, want ready, loaded at %v", s, t0)
	}
	cfgPath := filepath.Join(h.dir, "slod.yml")
	good, _ := os.ReadFile(cfgPath)
	writeFile(t, cfgPath, string(good)+"evaluaton: {}\n")
	reloadErr := h.d.Reload()
	if reloadErr == nil {
		t.Fatal("a broken config reloaded")
	}
	s := status()
	if s.Config.LastReload.Success || s.Config.LastReload.Error != reloadErr.Error() || !s.Config.LastReload.At.Equal(t0.Add(2*time.Hour)) ||
		!s.Config.LoadedAt.Equal(t0) || !s.Ready {
		t.Errorf("status after a failed reload %+v, want the failure at %v with its error, the config of %v running, still ready", s, t0.Add(2*time.Hour), t0)
	}
	_, page := get(t, srv, "/")
	if !strings.Contains(page, `The last reload at <time datetime="2026-11-25T14:00:00Z">2026-11-25 14:00 UTC</time> failed`) || !strings.Contains(page, "evaluaton") {
		t.Errorf("the status page does not show the failed reload:\n%s", page)
	}
	writeFile(t, cfgPath, string(good))
	clk.Add(time.Minute)
	if err := h.d.Reload(); err != nil {
		t.Fatal(err)
	}
	if s := status(); !s.Config.LastReload.Success || s.Config.LastReload.Error != "" || !s.Config.LoadedAt.Equal(t0.Add(121*time.Minute)) {
		t.Errorf("status after a good reload %+v", s)
	}
	if _, page := get(t, srv, "/"); strings.Contains(page, "failed") {
		t.Errorf("the status page still shows a failed reload:\n%s", page)
	}
}
