package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"gopkg.in/yaml.v3"

	"github.com/slod-dev/slod/internal/secret"
)

const fullConfig = `
receivers:
  - name: oncall
    max_retry_after: 45s
    repeat_interval: 10s
    pagerduty:
      routing_key: R0UT1NGK3Y0123456789abcdefSECRET
      url: https://events.pagerduty.com
      severities: {ticket: info}
  - name: tickets
    alertmanager: {url: http://127.0.0.1:9093, resend_interval: 2m}
  - name: audit
    webhook: {url: http://127.0.0.1:8080/hook, headers: {Authorization: Bearer R0UT1NGK3Y0123456789abcdefSECRET}}
routes:
  - {match: {severity: page}, receiver: oncall}
  - {match: {severity: ticket, team: storage}, receiver: audit}
  - {match: {severity: ticket}, receiver: tickets}
`

type testConfig struct {
	Receivers []ReceiverConfig `yaml:"receivers"`
	Routes    []Route          `yaml:"routes"`
}

func decodeStrict(t *testing.T, s string) (testConfig, error) {
	t.Helper()
	var c testConfig
	dec := yaml.NewDecoder(strings.NewReader(s))
	dec.KnownFields(true)
	err := dec.Decode(&c)
	return c, err
}

func TestConfigDecodeAndRoute(t *testing.T) {
	c, err := decodeStrict(t, fullConfig)
	if err != nil {
		t.Fatal(err)
	}
	if err := Validate(c.Receivers, c.Routes); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if c.Receivers[0].PagerDuty.RoutingKey.Reveal() != testKey || c.Receivers[1].Alertmanager.ResendInterval.String() != "2m" {
		t.Errorf("decoded %+v", c.Receivers)
	}
	ns, err := NewNotifiers(c.Receivers, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]DeliveryPolicy{
		"oncall":  {MaxRetryAfter: 45 * time.Second, RepeatInterval: 10 * time.Second},
		"tickets": {MaxRetryAfter: DefaultMaxRetryAfter, RepeatInterval: DefaultRepeatInterval},
	}
	for name, w := range want {
		if got := policyOf(ns[name]); got != w {
			t.Errorf("%s: delivery policy %+v, want %+v", name, got, w)
		}
	}
	r := NewRouter(c.Routes)
	cases := []struct {
		name   string
		labels map[string]string
		want   string
	}{
		{"page", map[string]string{"severity": "page", "team": "storage"}, "oncall"},
		{"ticket of storage", map[string]string{"severity": "ticket", "team": "storage"}, "audit"},
		{"other ticket", map[string]string{"severity": "ticket", "team": "chat"}, "tickets"},
		{"no route", map[string]string{"severity": "info"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := r.Route(tc.labels)
			if got != tc.want || ok != (tc.want != "") {
				t.Errorf("Route = %q, %v; want %q", got, ok, tc.want)
			}
		})
	}
	if _, err := decodeStrict(t, "receivers: [{name: x, pagerduty: {routing_kye: abc}}]"); err == nil {
		t.Error("a misspelled key decoded without error")
	}
}

func TestValidate(t *testing.T) {
	pd := func() *PagerDutyConfig { return &PagerDutyConfig{RoutingKey: testKey} }
	cases := []struct {
		name      string
		receivers []ReceiverConfig
		routes    []Route
		wantField []string
	}{
		{"valid", []ReceiverConfig{{Name: "a", PagerDuty: pd()}}, []Route{{Receiver: "a"}}, nil},
		{"no name", []ReceiverConfig{{PagerDuty: pd()}}, nil, []string{"receivers[0].name"}},
		{"duplicate", []ReceiverConfig{{Name: "a", PagerDuty: pd()}, {Name: "a", PagerDuty: pd()}}, nil, []string{"receivers[1].name"}},
		{"two kinds", []ReceiverConfig{{Name: "a", PagerDuty: pd(), Webhook: &WebhookConfig{URL: "http://x"}}}, nil, []string{"receivers[0]"}},
		{"no kind", []ReceiverConfig{{Name: "a"}}, nil, []string{"receivers[0]"}},
		{"no routing key", []ReceiverConfig{{Name: "a", PagerDuty: &PagerDutyConfig{}}}, nil, []string{"receivers[0].pagerduty.routing_key"}},
		{"both routing keys", []ReceiverConfig{{Name: "a", PagerDuty: &PagerDutyConfig{RoutingKey: testKey, RoutingKeyFile: "/k"}}}, nil, []string{"receivers[0].pagerduty.routing_key"}},
		{"short routing key", []ReceiverConfig{{Name: "a", PagerDuty: &PagerDutyConfig{RoutingKey: "abc"}}}, nil, []string{"receivers[0].pagerduty.routing_key"}},
		{"bad severity", []ReceiverConfig{{Name: "a", PagerDuty: &PagerDutyConfig{RoutingKey: testKey, Severity: map[string]string{"page": "sev1"}}}}, nil, []string{"receivers[0].pagerduty.severities.page"}},
		{"bad pagerduty url", []ReceiverConfig{{Name: "a", PagerDuty: &PagerDutyConfig{RoutingKey: testKey, URL: "events.pagerduty.com"}}}, nil, []string{"receivers[0].pagerduty.url"}},
		{"alertmanager without url", []ReceiverConfig{{Name: "a", Alertmanager: &AlertmanagerConfig{}}}, nil, []string{"receivers[0].alertmanager.url"}},
		{"webhook bad header", []ReceiverConfig{{Name: "a", Webhook: &WebhookConfig{URL: "http://x", Headers: map[string]secret.Secret{"Bad Header": "v"}}}}, nil, []string{"receivers[0].webhook.headers"}},
		{"unknown route receiver", []ReceiverConfig{{Name: "a", PagerDuty: pd()}}, []Route{{Receiver: "b"}}, []string{"routes[0].receiver"}},
		{"bad match label", []ReceiverConfig{{Name: "a", PagerDuty: pd()}}, []Route{{Receiver: "a", Match: map[string]string{"a-b": "x"}}}, []string{"routes[0].match"}},
		{"negative delivery durations", []ReceiverConfig{{Name: "a", PagerDuty: pd(), MaxRetryAfter: -1, RepeatInterval: -1}}, nil, []string{"receivers[0].max_retry_after", "receivers[0].repeat_interval"}},
		{"every error at once", []ReceiverConfig{{Name: "a", Alertmanager: &AlertmanagerConfig{}}}, []Route{{}}, []string{"receivers[0].alertmanager.url", "routes[0].receiver"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := Validate(c.receivers, c.routes)
			if len(c.wantField) == 0 {
				if err != nil {
					t.Fatalf("Validate = %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate = nil, want errors")
			}
			for _, f := range c.wantField {
				if !strings.Contains(err.Error(), f+": ") {
					t.Errorf("error %q does not name %s", err, f)
				}
			}
			if strings.Contains(err.Error(), testKey) {
				t.Errorf("error %q contains the routing key", err)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Errorf("error is not a *FieldError")
			}
		})
	}
}

func TestRoutingKeyFile(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name    string
		content string
		missing bool
		wantErr bool
	}{
		{"trimmed", "  " + testKey + "\n", false, false},
		{"empty", "\n", false, true},
		{"missing", "", true, true},
		{"wrong length", "0123456789\n", false, true},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(dir, fmt.Sprintf("key%d", i))
			if !c.missing {
				if err := os.WriteFile(p, []byte(c.content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			pd, err := NewPagerDuty("oncall", &PagerDutyConfig{RoutingKeyFile: p}, Options{})
			if (err != nil) != c.wantErr {
				t.Fatalf("NewPagerDuty err = %v, want error %v", err, c.wantErr)
			}
			if err == nil && pd.key.Reveal() != testKey {
				t.Errorf("key = %q", pd.key.Reveal())
			}
		})
	}
}

// TestRoutingKeyNeverLeaks drives every path a routing key could escape through — config dumps
// (fmt, JSON, YAML), notifications, logs of failed and rejected deliveries, errors, /metrics,
// the silences API — and looks for the key in all of them.
func TestRoutingKeyNeverLeaks(t *testing.T) {
	c, err := decodeStrict(t, fullConfig)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	pdc := c.Receivers[0].PagerDuty
	fmt.Fprintf(&out, "%v %+v %#v %s %v\n", c, pdc, pdc, pdc.RoutingKey, c.Receivers[2].Webhook)
	j, _ := json.Marshal(c)
	y, _ := yaml.Marshal(c)
	out.Write(j)
	out.Write(y)
	if !strings.Contains(string(y), "<secret>") || !strings.Contains(string(j), `\u003csecret\u003e`) {
		t.Errorf("secrets not masked as <secret>: %s %s", j, y)
	}

	logger, logs := newTestLogger(t)
	textLogs := &logBuffer{}
	tlogger := slog.New(slog.NewTextHandler(textLogs, nil))
	logger.Info("config", "receiver", c.Receivers[0], "key", pdc.RoutingKey)
	tlogger.Info("config", "receiver", c.Receivers[0], "key", pdc.RoutingKey, "pd", pdc)

	// Deliveries: accepted, rejected (400), failed (5xx), and a network error.
	f := newFakePagerDuty(t)
	pdc.URL = f.srv.URL
	clk := clock.NewMock()
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	ns, err := NewNotifiers(c.Receivers, Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	o := &memOutbox{}
	d := NewDispatcher(o, ns, DispatcherOptions{Clock: clk, Logger: logger, Metrics: m})
	f.fail = []int{500, 400}
	o.add(t, "oncall", sampleNotification(Trigger), clk.Now())
	o.add(t, "oncall", sampleNotification(Resolve), clk.Now())
	drain(t, d, clk, 100, nil)
	n := sampleNotification(Trigger)
	b, _ := n.MarshalPayload()
	out.Write(b)
	if ev := ns["oncall"].(*PagerDuty).Event(n); ev.RoutingKey != testKey {
		t.Errorf("the event does not carry the key; the test would prove nothing")
	}
	bad, err := NewPagerDuty("broken", &PagerDutyConfig{RoutingKey: testKey, URL: "http://127.0.0.1:1"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bad.Notify(context.Background(), n); err != nil {
		out.WriteString(err.Error())
	} else {
		t.Error("delivery to a closed port succeeded")
	}

	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	out.Write(rec.Body.Bytes())
	if !strings.Contains(rec.Body.String(), "slod_notifications_total") {
		t.Error("metrics missing")
	}

	all := out.String() + logs.String() + textLogs.String()
	if !strings.Contains(logs.String(), "rejected") {
		t.Errorf("the rejection was not logged; the test would prove nothing:\n%s", logs)
	}
	if strings.Contains(all, testKey) || strings.Contains(all, "SECRET") {
		t.Errorf("routing key leaked:\n%s", all)
	}
}
