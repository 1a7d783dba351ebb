package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"gopkg.in/yaml.v3"

	"github.com/slod-dev/slod/internal/receiver"
	"github.com/slod-dev/slod/internal/yamlx"
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
	Receivers []receiver.Config `yaml:"receivers"`
	Routes    []receiver.Route  `yaml:"routes"`
}

func decodeStrict(t *testing.T, s string) (testConfig, error) {
	t.Helper()
	var c testConfig
	doc := yamlx.Parse("slod.yml", []byte(s), yamlx.Kind{})
	doc.Decode(&c)
	return c, doc.Err()
}

// TestDeliveryPolicyFromConfig: a receiver's max_retry_after and repeat_interval reach its
// notifier, and the defaults apply where they are not set.
func TestDeliveryPolicyFromConfig(t *testing.T) {
	c, err := decodeStrict(t, fullConfig)
	if err != nil {
		t.Fatal(err)
	}
	ns, err := NewNotifiers(c.Receivers, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]DeliveryPolicy{
		"oncall":  {MaxRetryAfter: 45 * time.Second, RepeatInterval: 10 * time.Second},
		"tickets": {MaxRetryAfter: receiver.DefaultMaxRetryAfter, RepeatInterval: receiver.DefaultRepeatInterval},
	}
	for name, w := range want {
		if got := policyOf(ns[name]); got != w {
			t.Errorf("%s: delivery policy %+v, want %+v", name, got, w)
		}
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
	bad, err := NewPagerDuty("broken", &receiver.PagerDutyConfig{RoutingKey: testKey, URL: "http://127.0.0.1:1"}, Options{})
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
