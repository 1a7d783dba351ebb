package notify

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/benbjohnson/clock"

	"github.com/slod-dev/slod/internal/receiver"
	"github.com/slod-dev/slod/internal/secret"
)

func TestFakePagerDutyValidates(t *testing.T) {
	f := newFakePagerDuty(t)
	long := strings.Repeat("x", 256)
	big := strings.Repeat("y", pdMaxBody)
	cases := []struct {
		name string
		body string
		want int
	}{
		{"valid trigger", `{"routing_key":"` + testKey + `","event_action":"trigger","dedup_key":"k","payload":{"summary":"s","source":"src","severity":"critical"}}`, 202},
		{"valid resolve", `{"routing_key":"` + testKey + `","event_action":"resolve","dedup_key":"k"}`, 202},
		{"short routing key", `{"routing_key":"abc","event_action":"trigger","payload":{"summary":"s","source":"src","severity":"critical"}}`, 400},
		{"bad action", `{"routing_key":"` + testKey + `","event_action":"explode","dedup_key":"k"}`, 400},
		{"dedup key too long", `{"routing_key":"` + testKey + `","event_action":"trigger","dedup_key":"` + long + `","payload":{"summary":"s","source":"src","severity":"critical"}}`, 400},
		{"missing summary", `{"routing_key":"` + testKey + `","event_action":"trigger","payload":{"source":"src","severity":"critical"}}`, 400},
		{"missing source", `{"routing_key":"` + testKey + `","event_action":"trigger","payload":{"summary":"s","severity":"critical"}}`, 400},
		{"missing severity", `{"routing_key":"` + testKey + `","event_action":"trigger","payload":{"summary":"s","source":"src"}}`, 400},
		{"bad severity", `{"routing_key":"` + testKey + `","event_action":"trigger","payload":{"summary":"s","source":"src","severity":"page"}}`, 400},
		{"over 512 KB", `{"routing_key":"` + testKey + `","event_action":"trigger","payload":{"summary":"s","source":"src","severity":"critical","custom_details":{"x":"` + big + `"}}}`, 400},
		{"not JSON", `{`, 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, err := http.Post(f.srv.URL+"/v2/enqueue", "application/json", bytes.NewBufferString(c.body))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.want {
				t.Errorf("status = %d, want %d", resp.StatusCode, c.want)
			}
		})
	}
	f.fail = []int{429, 503}
	for _, want := range []int{429, 503} {
		resp, err := http.Post(f.srv.URL+"/v2/enqueue", "application/json", bytes.NewBufferString(cases[0].body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("injected status = %d, want %d", resp.StatusCode, want)
		}
	}
}

func newTestPagerDuty(t *testing.T, url string, clk clock.Clock, mod func(*receiver.PagerDutyConfig)) *PagerDuty {
	t.Helper()
	c := &receiver.PagerDutyConfig{RoutingKey: testKey, URL: url}
	if mod != nil {
		mod(c)
	}
	p, err := NewPagerDuty("oncall", c, Options{Clock: clk, Instance: "slod-0"})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPagerDutyEvent(t *testing.T) {
	f := newFakePagerDuty(t)
	clk := clock.NewMock()
	cases := []struct {
		name         string
		mod          func(*receiver.PagerDutyConfig)
		n            func() Notification
		wantSeverity string
		wantSummary  int // runes
	}{
		{"page is critical", nil, func() Notification { return sampleNotification(Trigger) }, "critical", len("chat-api is burning its error budget")},
		{"ticket is warning", nil, func() Notification {
			n := sampleNotification(Trigger)
			n.Severity = "ticket"
			return n
		}, "warning", len("chat-api is burning its error budget")},
		{"receiver overrides severity", func(c *receiver.PagerDutyConfig) { c.Severity = map[string]string{"page": "error"} },
			func() Notification { return sampleNotification(Trigger) }, "error", len("chat-api is burning its error budget")},
		{"long summary truncated to 1024 runes", nil, func() Notification {
			n := sampleNotification(Trigger)
			n.Summary = strings.Repeat("é", 3000)
			return n
		}, "critical", 1024},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := newTestPagerDuty(t, f.srv.URL, clk, c.mod)
			n := c.n()
			retry, err := p.Notify(context.Background(), n)
			if err != nil {
				t.Fatalf("Notify: retry=%v err=%v", retry, err)
			}
			acc, _, _ := f.snapshot()
			ev := acc[len(acc)-1]
			if ev.DedupKey != n.DedupKey || ev.Action != "trigger" {
				t.Errorf("dedup_key/action = %q/%q", ev.DedupKey, ev.Action)
			}
			if ev.Payload.Severity != c.wantSeverity {
				t.Errorf("severity = %q, want %q", ev.Payload.Severity, c.wantSeverity)
			}
			if got := utf8.RuneCountInString(ev.Payload.Summary); got != c.wantSummary {
				t.Errorf("summary has %d runes, want %d", got, c.wantSummary)
			}
			if c.wantSummary == 1024 && !strings.HasSuffix(ev.Payload.Summary, "…") {
				t.Errorf("truncated summary does not end with an ellipsis")
			}
			if ev.Payload.Source != "slod-0" || ev.Payload.Component != "chat" || ev.Payload.Group != "assistant" || ev.Payload.Class != "SLOBurnRate" {
				t.Errorf("source/component/group/class = %q/%q/%q/%q", ev.Payload.Source, ev.Payload.Component, ev.Payload.Group, ev.Payload.Class)
			}
			d := ev.Payload.Details
			if d["objective"] != "99.9%" || d["budget_remaining"] != "42%" || d["time_to_exhaustion"] != "2d2h" || d["peak_burn_rate"] != "31.7" {
				t.Errorf("custom_details = %v", d)
			}
			w, _ := d["window"].(map[string]any)
			if w["long"] != "1h" || w["short"] != "5m" || w["burn_rate"] != "14.4" || w["short_burn_rate"] != "31.7" {
				t.Errorf("custom_details.window = %v", w)
			}
			if len(ev.Links) != 2 || ev.Links[0].Href != n.RunbookURL || ev.Links[1].Href != n.StatusURL {
				t.Errorf("links = %+v", ev.Links)
			}
		})
	}
	t.Run("resolve", func(t *testing.T) {
		p := newTestPagerDuty(t, f.srv.URL, clk, nil)
		if _, err := p.Notify(context.Background(), sampleNotification(Resolve)); err != nil {
			t.Fatal(err)
		}
		acc, _, inc := f.snapshot()
		if ev := acc[len(acc)-1]; ev.Action != "resolve" || ev.DedupKey != sampleNotification(Trigger).DedupKey {
			t.Errorf("last event = %+v", ev)
		}
		incs := inc[sampleNotification(Trigger).DedupKey]
		if len(incs) != 1 || !incs[0].Resolved {
			t.Errorf("incidents = %+v, want one resolved", incs)
		}
	})
}

func TestPagerDutyClassifiesErrors(t *testing.T) {
	cases := []struct {
		name       string
		status     int
		retryAfter string
		key        secret.Secret
		closed     bool
		wantRetry  bool
		wantAfter  time.Duration
		wantInErr  string
	}{
		{"400 is a rejection", 0, "", "short", false, false, 0, "routing_key must be 32 characters"},
		{"429 is retried after Retry-After", 429, "17", testKey, false, true, 17 * time.Second, "HTTP 429"},
		{"500 is retried", 500, "", testKey, false, true, 0, "HTTP 500"},
		{"503 with Retry-After", 503, "3", testKey, false, true, 3 * time.Second, "HTTP 503"},
		{"413 is a rejection", 413, "", testKey, false, false, 0, "HTTP 413"},
		{"network error is retried", 0, "", testKey, true, true, 0, "sending to PagerDuty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFakePagerDuty(t)
			f.failAll, f.retryAfter = c.status, c.retryAfter
			// Credentials and path of a proxy URL must not reach the error.
			url := strings.Replace(f.srv.URL, "http://", "http://user:hunter2@", 1)
			if c.closed {
				f.srv.Close()
			}
			p := newTestPagerDuty(t, url, clock.NewMock(), func(pc *receiver.PagerDutyConfig) { pc.RoutingKey = c.key })
			retry, err := p.Notify(context.Background(), sampleNotification(Trigger))
			if err == nil {
				t.Fatal("Notify succeeded, want an error")
			}
			if retry != c.wantRetry {
				t.Errorf("retry = %v, want %v (err %v)", retry, c.wantRetry, err)
			}
			if !strings.Contains(err.Error(), c.wantInErr) {
				t.Errorf("error %q does not contain %q", err, c.wantInErr)
			}
			var ra *RetryAfterError
			got := time.Duration(0)
			if errors.As(err, &ra) {
				got = ra.After
			}
			if got != c.wantAfter {
				t.Errorf("retry after = %s, want %s", got, c.wantAfter)
			}
			for _, leak := range []string{"hunter2", "/v2/enqueue", testKey} {
				if strings.Contains(err.Error(), leak) {
					t.Errorf("error %q contains %q", err, leak)
				}
			}
		})
	}
}

func TestPagerDutyRateLimitPerRoutingKey(t *testing.T) {
	f := newFakePagerDuty(t)
	clk := clock.NewMock()
	ns, err := NewNotifiers([]receiver.Config{
		{Name: "a", PagerDuty: &receiver.PagerDutyConfig{RoutingKey: testKey, URL: f.srv.URL}},
		{Name: "b", PagerDuty: &receiver.PagerDutyConfig{RoutingKey: testKey, URL: f.srv.URL}},
	}, Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	// Over two simulated minutes, one event every 100ms alternating between two receivers that
	// share a key: PagerDuty's 120/min must hold in every minute, whichever receiver sends.
	sent := map[int]int{} // minute → events accepted
	limited := 0
	for i := 0; i < 1200; i++ {
		name := []string{"a", "b"}[i%2]
		retry, err := ns[name].Notify(context.Background(), sampleNotification(Trigger))
		var rl *RateLimitError
		switch {
		case err == nil:
			sent[i/600]++
		case retry && errors.As(err, &rl) && rl.After > 0:
			limited++
		default:
			t.Fatalf("event %d: retry=%v err=%v", i, retry, err)
		}
		clk.Add(100 * time.Millisecond)
	}
	for m, n := range sent {
		if n > receiver.DefaultPagerDutyEventsPerMinute {
			t.Errorf("minute %d: %d events sent, limit %d", m, n, receiver.DefaultPagerDutyEventsPerMinute)
		}
		if n < receiver.DefaultPagerDutyEventsPerMinute-12 {
			t.Errorf("minute %d: only %d events sent; the limiter is too strict", m, n)
		}
	}
	if limited == 0 {
		t.Error("no event was rate limited")
	}
	acc, _, _ := f.snapshot()
	if len(acc) != sent[0]+sent[1] {
		t.Errorf("server accepted %d events, notifier reported %d", len(acc), sent[0]+sent[1])
	}
}

func TestPagerDutyRateLimitSurvivesReload(t *testing.T) {
	f := newFakePagerDuty(t)
	clk := clock.NewMock()
	cfg := []receiver.Config{{Name: "a", PagerDuty: &receiver.PagerDutyConfig{RoutingKey: testKey, URL: f.srv.URL, EventsPerMinute: 12}}}
	cases := []struct {
		name        string
		shared      bool
		wantLimited bool
	}{
		{"limiters kept across the reload", true, true},
		{"fresh limiters refill", false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lim := NewLimiters()
			opt := Options{Clock: clk, Limiters: lim}
			first, err := NewNotifiers(cfg, opt)
			if err != nil {
				t.Fatal(err)
			}
			// Capacity is 12/12 = 1: the first event empties the bucket.
			if _, err := first["a"].Notify(context.Background(), sampleNotification(Trigger)); err != nil {
				t.Fatal(err)
			}
			if !c.shared {
				opt.Limiters = nil
			}
			second, err := NewNotifiers(cfg, opt)
			if err != nil {
				t.Fatal(err)
			}
			_, err = second["a"].Notify(context.Background(), sampleNotification(Trigger))
			var rl *RateLimitError
			if limited := errors.As(err, &rl); limited != c.wantLimited {
				t.Errorf("second event limited = %v (err %v), want %v", limited, err, c.wantLimited)
			}
		})
	}
}

func TestPagerDutyAcceptedWithOddBody(t *testing.T) {
	cases := []struct {
		name string
		body string
	}{
		{"not JSON", "accepted"},
		{"empty", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusAccepted)
				io.WriteString(w, c.body)
			}))
			defer srv.Close()
			p := newTestPagerDuty(t, srv.URL, clock.NewMock(), nil)
			// The event was accepted: reporting a failure would send it again.
			if retry, err := p.Notify(context.Background(), sampleNotification(Trigger)); err != nil {
				t.Errorf("Notify = %v, %v; want success", retry, err)
			}
		})
	}
}
