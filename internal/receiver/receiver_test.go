package receiver

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/slod-dev/slod/internal/secret"
	"github.com/slod-dev/slod/internal/yamlx"
)

const testKey = "R0UT1NGK3Y0123456789abcdefSECRET"

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
	Receivers []Config `yaml:"receivers"`
	Routes    []Route  `yaml:"routes"`
}

func decodeStrict(t *testing.T, s string) (testConfig, error) {
	t.Helper()
	var c testConfig
	doc := yamlx.Parse("slod.yml", []byte(s), yamlx.Kind{})
	doc.Decode(&c)
	return c, doc.Err()
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
		receivers []Config
		routes    []Route
		wantField []string
	}{
		{"valid", []Config{{Name: "a", PagerDuty: pd()}}, []Route{{Receiver: "a"}}, nil},
		{"no name", []Config{{PagerDuty: pd()}}, nil, []string{"receivers[0].name"}},
		{"duplicate", []Config{{Name: "a", PagerDuty: pd()}, {Name: "a", PagerDuty: pd()}}, nil, []string{"receivers[1].name"}},
		{"two kinds", []Config{{Name: "a", PagerDuty: pd(), Webhook: &WebhookConfig{URL: "http://x"}}}, nil, []string{"receivers[0]"}},
		{"no kind", []Config{{Name: "a"}}, nil, []string{"receivers[0]"}},
		{"no routing key", []Config{{Name: "a", PagerDuty: &PagerDutyConfig{}}}, nil, []string{"receivers[0].pagerduty.routing_key"}},
		{"both routing keys", []Config{{Name: "a", PagerDuty: &PagerDutyConfig{RoutingKey: testKey, RoutingKeyFile: "/k"}}}, nil, []string{"receivers[0].pagerduty.routing_key"}},
		{"short routing key", []Config{{Name: "a", PagerDuty: &PagerDutyConfig{RoutingKey: "abc"}}}, nil, []string{"receivers[0].pagerduty.routing_key"}},
		{"bad severity", []Config{{Name: "a", PagerDuty: &PagerDutyConfig{RoutingKey: testKey, Severity: map[string]string{"page": "sev1"}}}}, nil, []string{"receivers[0].pagerduty.severities.page"}},
		{"bad pagerduty url", []Config{{Name: "a", PagerDuty: &PagerDutyConfig{RoutingKey: testKey, URL: "events.pagerduty.com"}}}, nil, []string{"receivers[0].pagerduty.url"}},
		{"alertmanager without url", []Config{{Name: "a", Alertmanager: &AlertmanagerConfig{}}}, nil, []string{"receivers[0].alertmanager.url"}},
		{"webhook bad header", []Config{{Name: "a", Webhook: &WebhookConfig{URL: "http://x", Headers: map[string]secret.Secret{"Bad Header": "v"}}}}, nil, []string{"receivers[0].webhook.headers"}},
		{"unknown route receiver", []Config{{Name: "a", PagerDuty: pd()}}, []Route{{Receiver: "b"}}, []string{"routes[0].receiver"}},
		{"bad match label", []Config{{Name: "a", PagerDuty: pd()}}, []Route{{Receiver: "a", Match: map[string]string{"a-b": "x"}}}, []string{"routes[0].match"}},
		{"negative delivery durations", []Config{{Name: "a", PagerDuty: pd(), MaxRetryAfter: -1, RepeatInterval: -1}}, nil, []string{"receivers[0].max_retry_after", "receivers[0].repeat_interval"}},
		{"every error at once", []Config{{Name: "a", Alertmanager: &AlertmanagerConfig{}}}, []Route{{}}, []string{"receivers[0].alertmanager.url", "routes[0].receiver"}},
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
			key, err := (&PagerDutyConfig{RoutingKeyFile: p}).ReadRoutingKey()
			if (err != nil) != c.wantErr {
				t.Fatalf("ReadRoutingKey err = %v, want error %v", err, c.wantErr)
			}
			if err == nil && key.Reveal() != testKey {
				t.Errorf("key = %q", key.Reveal())
			}
		})
	}
}
