package config

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/slod-dev/slod/internal/promapi"
	"github.com/slod-dev/slod/internal/sli"
)

func TestLoadFull(t *testing.T) {
	c, err := Load("testdata/full.yml")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	abs := func(p string) string { return filepath.Join("testdata", p) }
	checks := []struct {
		name      string
		got, want any
	}{
		{"url", c.Prometheus.URL, "http://127.0.0.1:9090"},
		{"header", c.Prometheus.Headers["X-Scope-OrgID"], "team-a"},
		{"bearer file resolved", c.Prometheus.BearerTokenFile, abs("secrets/prom-token")},
		{"absolute ca kept", c.Prometheus.TLSConfig.CAFile, "/etc/slod/ca.pem"},
		{"timeout", c.Prometheus.Timeout.D(), 10 * time.Second},
		{"interval", c.Evaluation.Interval.D(), 30 * time.Second},
		{"step", c.Evaluation.Step.D(), 30 * time.Second},
		{"lookback default", c.Evaluation.Lookback.D(), sli.DefaultLookback},
		{"backfill", c.Evaluation.Backfill.D(), 7 * 24 * time.Hour},
		{"max concurrency default", c.Evaluation.MaxConcurrency, DefaultMaxConcurrency},
		{"rules dir resolved", c.Rules[0], abs("rules")},
		{"rules glob resolved", c.Rules[1], abs("more/*.yaml")},
		{"receivers", len(c.Receivers), 3},
		{"route", c.Routes[0].Receiver, "oncall"},
		{"external url", c.Web.ExternalURL, "https://slod.example"},
	}
	for _, ck := range checks {
		if fmt.Sprint(ck.got) != fmt.Sprint(ck.want) {
			t.Errorf("%s: got %v, want %v", ck.name, ck.got, ck.want)
		}
	}
	s, err := c.Schedule()
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 1, 0, 0, 10, 0, time.UTC)
	if got := s.Next(at); !got.Equal(at.Add(30 * time.Second)) {
		t.Errorf("schedule next: got %v", got)
	}
}

func TestDefaults(t *testing.T) {
	c, err := Parse("/etc/slod/slod.yml", []byte("prometheus: {url: http://prom:9090}\nrules: [rules]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Evaluation.Interval.D() != DefaultInterval || c.Evaluation.Step.D() != sli.DefaultStep ||
		c.Prometheus.Timeout.D() != promapi.DefaultTimeout || c.Rules[0] != "/etc/slod/rules" {
		t.Errorf("defaults not applied: %+v", c)
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want []string // each must appear in the error, in order
	}{
		{"unknown top-level key", "prometheus: {url: http://p}\nrules: [r]\nrulez: [x]\n", []string{"f.yml:3:1: rulez: unknown field, did you mean rules? (known fields: prometheus, evaluation, rules, receivers, routes, web)"}},
		{"misspelled nested key", "prometheus:\n  url: http://p\n  bearer_tokn_file: x\nrules: [r]\n", []string{"f.yml:3:3: prometheus.bearer_tokn_file: unknown field, did you mean bearer_token_file?"}},
		{"bad duration", "prometheus: {url: http://p}\nevaluation:\n  interval: 5 minutes\nrules: [r]\n", []string{`f.yml:3:13: evaluation.interval: invalid duration "5 minutes": use a Prometheus duration such as 5m, 1h or 30d`}},
		{"missing prometheus and rules", "evaluation: {interval: 1m}\n", []string{"f.yml:1:1: prometheus: missing required field", "f.yml:1:1: rules: missing required field"}},
		{"missing url", "prometheus: {timeout: 1m}\nrules: []\n", []string{"f.yml:1:13: prometheus.url: missing required field", "f.yml:2:8: rules: at least one"}},
		{"duplicate key", "prometheus: {url: http://p}\nrules: [r]\nprometheus: {url: http://q}\n", []string{"f.yml:3:1: prometheus: duplicate field (first set at line 1)"}},
		{"null url", "prometheus: {url: }\nrules: [r]\n", []string{"f.yml:1:19: prometheus.url: must be a string, got null"}},
		{"interval and schedule", "prometheus: {url: http://p}\nevaluation: {interval: 1m, schedule: '@every 30s'}\nrules: [r]\n", []string{"f.yml:2:38: evaluation.schedule: interval and schedule are mutually exclusive"}},
		{"bad cron", "prometheus: {url: http://p}\nevaluation: {schedule: 'every minute'}\nrules: [r]\n", []string{`f.yml:2:24: evaluation.schedule: evaluation schedule "every minute": expected exactly 5 fields`}},
		{"bad url", "prometheus: {url: 'prom:9090'}\nrules: [r]\n", []string{"f.yml:1:19: prometheus.url: must be an absolute http or https URL"}},
		{"route to unknown receiver", "prometheus: {url: http://p}\nrules: [r]\nreceivers:\n  - name: a\n    webhook: {url: http://h}\nroutes:\n  - {match: {severity: page}, receiver: b}\n", []string{`f.yml:7:41: routes[0].receiver: unknown receiver "b"`}},
		{"receiver with two kinds", "prometheus: {url: http://p}\nrules: [r]\nreceivers:\n  - name: a\n    webhook: {url: http://h}\n    alertmanager: {url: http://h}\nroutes: [{receiver: a}]\n", []string{"f.yml:4:5: receivers[0]: exactly one of"}},
		{"receiver without a name", "prometheus: {url: http://p}\nrules: [r]\nreceivers:\n  - webhook: {url: http://h}\nroutes: [{receiver: a}]\n", []string{"f.yml:4:5: receivers[0].name: missing required field"}},
		{"pagerduty key twice", "prometheus: {url: http://p}\nrules: [r]\nreceivers:\n  - name: a\n    pagerduty: {routing_key: k, routing_key_file: f}\nroutes: [{receiver: a}]\n", []string{"f.yml:5:30: receivers[0].pagerduty.routing_key: routing_key and routing_key_file are mutually exclusive"}},
		{"reserved header", "prometheus: {url: http://p, headers: {Authorization: x}}\nrules: [r]\n", []string{"f.yml:1:39: prometheus.headers.Authorization: Authorization is set by slod"}},
		{"step not whole seconds", "prometheus: {url: http://p}\nevaluation: {step: 1500ms}\nrules: [r]\n", []string{"f.yml:2:20: evaluation.step: must be a whole number of seconds"}},
		{"receiver duration", "prometheus: {url: http://p}\nrules: [r]\nreceivers:\n  - name: a\n    alertmanager: {url: \"http://x\", resend_interval: foo}\nroutes: [{receiver: a}]\n", []string{`f.yml:5:54: receivers[0].alertmanager.resend_interval: invalid duration "foo": use a Prometheus duration such as 5m, 1h or 30d`}},
		{"every problem at once", "prometheus: {url: 'x', timeout: soon}\nevaluation: {max_concurrency: -1}\nrules: [r]\nweb: {external_url: y}\n", []string{
			"f.yml:1:19: prometheus.url: must be an absolute http or https URL", `f.yml:1:33: prometheus.timeout: invalid duration "soon"`,
			"f.yml:2:31: evaluation.max_concurrency: must not be negative", "f.yml:4:21: web.external_url: must be an absolute URL"}},
		{"receiver delivery duration", "prometheus: {url: http://p}\nrules: [r]\nreceivers:\n  - name: a\n    max_retry_after: soon\n    webhook: {url: http://h}\nroutes: [{receiver: a}]\n", []string{`f.yml:5:22: receivers[0].max_retry_after: invalid duration "soon"`}},
		{"control character in a webhook header", "prometheus: {url: http://p}\nrules: [r]\nreceivers:\n  - name: a\n    webhook:\n      url: http://h\n      headers:\n        Authorization: \"Bearer s3cret\\r\\nX-Evil: 1\"\nroutes: [{receiver: a}]\n",
			[]string{"f.yml:8:24: receivers[0].webhook.headers.Authorization: the value holds a control character"}},
		{"control character in a Prometheus header", "prometheus:\n  url: http://p\n  headers: {X-Scope-OrgID: \"team\\na\"}\nrules: [r]\n",
			[]string{"f.yml:3:28: prometheus.headers.X-Scope-OrgID: the value holds a control character"}},
		{"syntax error", "prometheus: {url: http://p\nrules: [r]\n", []string{"f.yml:", "invalid YAML: "}},
		{"empty file", "", []string{"f.yml:1:1: empty file: want a slod config with prometheus and rules"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("f.yml", []byte(tc.in))
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if strings.Contains(msg, "s3cret") {
				t.Errorf("the error reveals a header value: %s", msg)
			}
			rest := msg
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("error %q does not contain %q", msg, w)
				}
				rest = rest[i+len(w):]
			}
		})
	}
}

// TestMergeKeys: merge keys and aliases work in the daemon config as in SLO and test files.
func TestMergeKeys(t *testing.T) {
	c, err := Parse("/etc/slod/slod.yml", []byte(`
prometheus: {url: http://p}
rules: [rules]
receivers:
  - name: oncall
    alertmanager: &am {url: http://am:9093, timeout: 5s}
  - name: tickets
    alertmanager:
      <<: *am
      resend_interval: 2m
routes:
  - &route {match: {severity: page}, receiver: oncall}
  - <<: *route
    receiver: tickets
`))
	if err != nil {
		t.Fatal(err)
	}
	am := c.Receivers[1].Alertmanager
	if am.URL != "http://am:9093" || am.Timeout.String() != "5s" || am.ResendInterval.String() != "2m" ||
		c.Routes[1].Receiver != "tickets" || c.Routes[1].Match["severity"] != "page" {
		t.Errorf("merged: %+v, %+v", am, c.Routes[1])
	}
}

func TestSecretsNeverPrinted(t *testing.T) {
	const token = "s3cr3t-t0ken"
	in := fmt.Sprintf("prometheus:\n  url: http://p\n  basic_auth: {username: u, password: %s}\nrules: [r]\nreceivers:\n  - name: a\n    pagerduty: {routing_key: %s%s}\nroutes: [{receiver: a}]\n", token, token, strings.Repeat("x", 32-len(token)))
	c, err := Parse("f.yml", []byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if c.Prometheus.BasicAuth.Password.Reveal() != token {
		t.Fatal("password not decoded")
	}
	j, _ := json.Marshal(c)
	y, _ := yaml.Marshal(c)
	for name, out := range map[string]string{
		"%v": fmt.Sprintf("%v", c), "%+v": fmt.Sprintf("%+v %+v", c.Prometheus.BasicAuth, c.Receivers[0].PagerDuty),
		"%#v": fmt.Sprintf("%#v", c.Receivers[0].PagerDuty), "json": string(j), "yaml": string(y),
	} {
		if strings.Contains(out, token) {
			t.Errorf("%s reveals the secret: %s", name, out)
		}
		if name != "%v" && !strings.Contains(out, "<secret>") && !strings.Contains(out, `\u003csecret\u003e`) {
			t.Errorf("%s does not show the mask: %s", name, out)
		}
	}
}

func TestRulePathsGlob(t *testing.T) {
	c, err := Load("testdata/full.yml")
	if err != nil {
		t.Fatal(err)
	}
	c.Rules = []string{"testdata/*.yml", "testdata/rules"}
	got, err := c.RulePaths()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != "testdata/full.yml" || got[1] != "testdata/rules" {
		t.Errorf("RulePaths = %v", got)
	}
}
