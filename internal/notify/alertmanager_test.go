package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/prometheus/common/model"

	"github.com/slod-dev/slod/internal/receiver"
	"github.com/slod-dev/slod/internal/secret"
)

// recordingServer answers with a scripted status and records request bodies and headers.
type recordingServer struct {
	srv        *httptest.Server
	mu         sync.Mutex
	status     int
	retryAfter string
	bodies     [][]byte
	headers    []http.Header
	paths      []string
}

func newRecordingServer(t *testing.T) *recordingServer {
	t.Helper()
	r := &recordingServer{status: 200}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.bodies = append(r.bodies, b)
		r.headers = append(r.headers, req.Header.Clone())
		r.paths = append(r.paths, req.URL.Path)
		if r.retryAfter != "" {
			w.Header().Set("Retry-After", r.retryAfter)
		}
		w.WriteHeader(r.status)
		io.WriteString(w, "scripted answer")
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func TestAlertmanagerAlert(t *testing.T) {
	rs := newRecordingServer(t)
	clk := clock.NewMock()
	clk.Set(t0.Add(10 * time.Minute))
	am, err := NewAlertmanager("tickets", &receiver.AlertmanagerConfig{URL: rs.srv.URL + "/", ResendInterval: model.Duration(2 * time.Minute)}, Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		n        Notification
		wantEnds time.Time
	}{
		{"firing: endsAt = now + 4 × resend interval", sampleNotification(Trigger), t0.Add(18 * time.Minute)},
		{"resolved: endsAt = resolution time", sampleNotification(Resolve), t0.Add(39 * time.Minute)},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if retry, err := am.Notify(context.Background(), c.n); err != nil {
				t.Fatalf("Notify: %v %v", retry, err)
			}
			var alerts []AlertmanagerAlert
			if err := json.Unmarshal(rs.bodies[i], &alerts); err != nil || len(alerts) != 1 {
				t.Fatalf("body %s: %v", rs.bodies[i], err)
			}
			a := alerts[0]
			if rs.paths[i] != "/api/v2/alerts" {
				t.Errorf("path = %s", rs.paths[i])
			}
			if !a.EndsAt.Equal(c.wantEnds) || !a.StartsAt.Equal(t0) {
				t.Errorf("startsAt/endsAt = %v/%v, want %v/%v", a.StartsAt, a.EndsAt, t0, c.wantEnds)
			}
			if a.Labels["alertname"] != "SLOBurnRate" || a.Labels["slo"] != "availability" || a.Labels["team"] != "assistant" {
				t.Errorf("labels = %v", a.Labels)
			}
			if a.Annotations["summary"] == "" || a.Annotations["runbook_url"] == "" || a.Annotations["objective"] != "99.9%" {
				t.Errorf("annotations = %v", a.Annotations)
			}
			if a.GeneratorURL != c.n.StatusURL {
				t.Errorf("generatorURL = %q", a.GeneratorURL)
			}
		})
	}
	if am.ResendInterval() != 2*time.Minute {
		t.Errorf("ResendInterval = %s", am.ResendInterval())
	}
}

func TestHTTPReceiversClassifyStatus(t *testing.T) {
	cases := []struct {
		name       string
		status     int
		retryAfter string
		wantErr    bool
		wantRetry  bool
		wantAfter  time.Duration
	}{
		{"200", 200, "", false, false, 0},
		{"202", 202, "", false, false, 0},
		{"400 rejected", 400, "", true, false, 0},
		{"404 rejected", 404, "", true, false, 0},
		{"408 retried", 408, "", true, true, 0},
		{"302 retried", 302, "", true, true, 0},
		{"429 retried with Retry-After", 429, "9", true, true, 9 * time.Second},
		{"500 retried", 500, "", true, true, 0},
		{"503 with HTTP-date Retry-After", 503, "Sun, 04 Oct 2026 06:02:00 GMT", true, true, time.Minute},
	}
	kinds := map[string]func(url string, clk clock.Clock) (Notifier, error){
		"alertmanager": func(url string, clk clock.Clock) (Notifier, error) {
			return NewAlertmanager("am", &receiver.AlertmanagerConfig{URL: url}, Options{Clock: clk})
		},
		"webhook": func(url string, clk clock.Clock) (Notifier, error) {
			return NewWebhook("hook", &receiver.WebhookConfig{URL: url + "/hook"}, Options{Clock: clk})
		},
	}
	for kind, mk := range kinds {
		for _, c := range cases {
			t.Run(kind+"/"+c.name, func(t *testing.T) {
				rs := newRecordingServer(t)
				rs.status, rs.retryAfter = c.status, c.retryAfter
				clk := clock.NewMock()
				clk.Set(t0)
				n, err := mk(rs.srv.URL, clk)
				if err != nil {
					t.Fatal(err)
				}
				retry, err := n.Notify(context.Background(), sampleNotification(Trigger))
				if (err != nil) != c.wantErr || retry != c.wantRetry {
					t.Fatalf("Notify = %v, %v; want error %v, retry %v", retry, err, c.wantErr, c.wantRetry)
				}
				var ra *RetryAfterError
				got := time.Duration(0)
				if errors.As(err, &ra) {
					got = ra.After
				}
				if got != c.wantAfter {
					t.Errorf("retry after = %s, want %s", got, c.wantAfter)
				}
			})
		}
	}
}

func TestHTTPReceiversNetworkErrorRedacted(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there any more
	target := "http://user:hunter2@" + addr + "/services/T0/B0/xoxb-token?key=s3cr3t"
	for _, mk := range []func() (Notifier, error){
		func() (Notifier, error) {
			return NewAlertmanager("am", &receiver.AlertmanagerConfig{URL: target}, Options{})
		},
		func() (Notifier, error) { return NewWebhook("hook", &receiver.WebhookConfig{URL: target}, Options{}) },
	} {
		n, err := mk()
		if err != nil {
			t.Fatal(err)
		}
		retry, err := n.Notify(context.Background(), sampleNotification(Trigger))
		if err == nil || !retry {
			t.Fatalf("Notify = %v, %v; want a retryable error", retry, err)
		}
		for _, leak := range []string{"hunter2", "xoxb-token", "s3cr3t", "/services"} {
			if strings.Contains(err.Error(), leak) {
				t.Errorf("error %q leaks %q", err, leak)
			}
		}
	}
}

func TestWebhookMessage(t *testing.T) {
	rs := newRecordingServer(t)
	w, err := NewWebhook("audit", &receiver.WebhookConfig{URL: rs.srv.URL + "/hook", Headers: map[string]secret.Secret{"Authorization": "Bearer tok"}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []Action{Trigger, Resolve} {
		if _, err := w.Notify(context.Background(), sampleNotification(a)); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name   string
		i      int
		status string
		ends   bool
	}{{"firing", 0, "firing", false}, {"resolved", 1, "resolved", true}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var m map[string]any
			if err := json.Unmarshal(rs.bodies[c.i], &m); err != nil {
				t.Fatal(err)
			}
			if m["version"] != "1" || m["status"] != c.status || m["receiver"] != "audit" || m["dedup_key"] != "slod/chat-api/availability/page" {
				t.Errorf("message = %s", rs.bodies[c.i])
			}
			if _, ok := m["ends_at"]; ok != c.ends {
				t.Errorf("ends_at present = %v, want %v", ok, c.ends)
			}
			w, _ := m["window"].(map[string]any)
			if w["long"] != "1h" || m["objective"] != 0.999 {
				t.Errorf("window/objective = %v/%v", w, m["objective"])
			}
			if got := rs.headers[c.i].Get("Authorization"); got != "Bearer tok" {
				t.Errorf("Authorization header = %q", got)
			}
		})
	}
}

// alertmanagerBinary is the Debian package's binary the integration test runs.
const alertmanagerBinary = "/usr/bin/prometheus-alertmanager"

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startAlertmanager runs a real Alertmanager on a free 127.0.0.1 port and returns its URL.
func startAlertmanager(t *testing.T) string {
	t.Helper()
	return startAlertmanagerWith(t, freePort(t), "route: {receiver: blackhole, group_wait: 1h}\nreceivers: [{name: blackhole}]\n")
}

// startAlertmanagerWith runs a real Alertmanager with config cfg on port and returns its URL.
func startAlertmanagerWith(t *testing.T, port int, cfg string) string {
	t.Helper()
	if _, err := os.Stat(alertmanagerBinary); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is required under CI: %v", alertmanagerBinary, err)
		}
		t.Skipf("%s not installed (apt-get install prometheus-alertmanager); set CI=true to make this a failure", alertmanagerBinary)
	}
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, alertmanagerBinary, "--config.file="+cfgFile, "--storage.path="+filepath.Join(dir, "data"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", port), "--cluster.listen-address=")
	logs := &logBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("starting alertmanager: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
	})
	// Wait for readiness; the deadline only turns a hang into a failure.
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(url + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return url
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("alertmanager did not become ready: %v\n%s", err, logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type gettableAlert struct {
	Labels       map[string]string      `json:"labels"`
	EndsAt       time.Time              `json:"endsAt"`
	Status       struct{ State string } `json:"status"`
	Annotations  map[string]string      `json:"annotations"`
	GeneratorURL string                 `json:"generatorURL"`
}

func getAlerts(t *testing.T, url string) []gettableAlert {
	t.Helper()
	resp, err := http.Get(url + "/api/v2/alerts")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []gettableAlert
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRealAlertmanager(t *testing.T) {
	url := startAlertmanager(t)
	clk := clock.New() // Alertmanager compares endsAt with its own clock
	ns, err := NewNotifiers([]receiver.Config{{Name: "tickets", Alertmanager: &receiver.AlertmanagerConfig{URL: url}}}, Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	o := &memOutbox{}
	d := NewDispatcher(o, ns, DispatcherOptions{Clock: clk})
	r := Reconciler{Router: receiver.NewRouter([]receiver.Route{{Receiver: "tickets"}}), Resend: ResendIntervals(ns)}

	trigger := sampleNotification(Trigger)
	trigger.StartsAt = clk.Now().Add(-time.Minute).UTC().Truncate(time.Second)
	res := r.Reconcile(nil, []Notification{trigger}, nil, clk.Now())
	for _, e := range res.Enqueue {
		o.add(t, e.Receiver, e.Notification, e.Created)
	}
	if _, err := d.DispatchOnce(context.Background()); err != nil || o.len() != 0 {
		t.Fatalf("dispatch: %v, %d left", err, o.len())
	}
	alerts := getAlerts(t, url)
	if len(alerts) != 1 {
		t.Fatalf("alertmanager has %d alerts, want 1: %+v", len(alerts), alerts)
	}
	a := alerts[0]
	for k, v := range map[string]string{"alertname": "SLOBurnRate", "service": "chat-api", "slo": "availability", "severity": "page", "team": "assistant", "component": "chat"} {
		if a.Labels[k] != v {
			t.Errorf("label %s = %q, want %q (labels %v)", k, a.Labels[k], v, a.Labels)
		}
	}
	if a.Status.State != "active" || !a.EndsAt.After(clk.Now()) || a.GeneratorURL != trigger.StatusURL || a.Annotations["summary"] == "" {
		t.Errorf("alert = %+v, want active with endsAt in the future", a)
	}

	resolve := trigger.resolved(clk.Now().Add(-time.Second))
	res = r.Reconcile(res.State, []Notification{resolve}, nil, clk.Now())
	if len(res.Enqueue) != 1 {
		t.Fatalf("enqueued %d, want the resolve", len(res.Enqueue))
	}
	o.add(t, res.Enqueue[0].Receiver, res.Enqueue[0].Notification, clk.Now())
	if _, err := d.DispatchOnce(context.Background()); err != nil || o.len() != 0 {
		t.Fatalf("dispatch: %v, %d left", err, o.len())
	}
	for _, a := range getAlerts(t, url) {
		if a.Labels["slo"] == "availability" && a.EndsAt.After(clk.Now()) {
			t.Errorf("alert still active after the resolve: %+v", a)
		}
	}
}
