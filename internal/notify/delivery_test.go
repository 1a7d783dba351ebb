package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/model"

	"github.com/slod-dev/slod/internal/receiver"
)

// The tests of this file replay the failures of issue 14 against the local Events API v2 server
// (and a real Alertmanager), on a mock clock, and assert the documented worst case: a pending
// page is delivered at most recoveryBound after its receiver can accept it again.

// pdScript is a receiver's behaviour over mock time: the status it answers at each moment.
type pdScript func(now time.Time, request int) (status int, retryAfter string)

// runScript makes f follow script on clk, counting requests from 1.
func runScript(f *fakePagerDuty, clk *clock.Mock, script pdScript) {
	n := 0
	f.setFailFn(func() (int, string) {
		n++ // called under f.mu
		return script(clk.Now(), n)
	})
}

// pageAndTicket returns a page and a ticket trigger of one SLO (two dedup keys).
func pageAndTicket() (page, ticket Notification) {
	page = sampleNotification(Trigger)
	ticket = sampleNotification(Trigger)
	ticket.Severity, ticket.Labels["severity"] = "ticket", "ticket"
	ticket.DedupKey = DedupKey("chat-api", "availability", "ticket", false)
	return page, ticket
}

// TestRetryAfterIsCappedAndHoldsOnlyItsEntry (issue 14, point 1): one 429 with Retry-After: 3600
// must neither hold the page for an hour nor keep the ticket from being tried.
func TestRetryAfterIsCappedAndHoldsOnlyItsEntry(t *testing.T) {
	recovery := t0.Add(8 * time.Second)
	// One 429 asking for an hour, then 503 until the receiver recovers 8s later.
	script := func(now time.Time, req int) (int, string) {
		switch {
		case req == 1:
			return 429, "3600"
		case now.Before(recovery):
			return 503, ""
		}
		return 0, ""
	}
	cases := []struct {
		name          string
		maxRetryAfter time.Duration
		withTicket    bool
		// wantPage is when the page must be delivered (offset from t0).
		wantPage time.Duration
	}{
		// The ticket is tried 1s later, fails until the recovery, is accepted at the next try
		// (t0+15s with full backoffs), and brings the page with it.
		{"page and ticket", 0, true, 15 * time.Second},
		// Nothing else to try: the page waits out the Retry-After, capped at 2m.
		{"page alone, default cap", 0, false, 2 * time.Minute},
		{"page alone, max_retry_after 20s", 20 * time.Second, false, 20 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFakePagerDuty(t)
			clk := clock.NewMock()
			clk.Set(t0)
			runScript(f, clk, script)
			o := &memOutbox{}
			page, ticket := pageAndTicket()
			o.add(t, "oncall", page, t0)
			if c.withTicket {
				o.add(t, "oncall", ticket, t0)
			}
			rc := receiver.Config{MaxRetryAfter: model.Duration(c.maxRetryAfter)}
			d, _ := newPDDispatcherWith(t, f, o, clk, rc, DispatcherOptions{Jitter: worstJitter})
			seen := &deliveredAt{f: f, clk: clk, at: map[string]time.Time{}}
			drain(t, d, clk, 100, seen.observe)
			seen.observe()
			at, ok := seen.at[page.DedupKey+" trigger"]
			if !ok || !at.Equal(t0.Add(c.wantPage)) {
				t.Errorf("page delivered at t0+%s, want t0+%s", at.Sub(t0), c.wantPage)
			}
			if at.Sub(recovery) > recoveryBound {
				t.Errorf("page delivered %s after the recovery, more than the documented %s", at.Sub(recovery), recoveryBound)
			}
			if c.withTicket {
				if at := seen.at[ticket.DedupKey+" trigger"]; at.Sub(recovery) > recoveryBound || at.IsZero() {
					t.Errorf("ticket delivered at t0+%s", at.Sub(t0))
				}
			}
		})
	}
}

// TestRejectedTriggerIsResentWhileFiring (issue 14, point 2): a proxy answers 400 for 130s; the
// trigger of an alert that keeps firing is sent again every repeat interval, each 400 logged and
// counted, and opens its incident once the receiver accepts it.
func TestRejectedTriggerIsResentWhileFiring(t *testing.T) {
	recovery := t0.Add(130 * time.Second)
	cases := []struct {
		name      string
		resolveAt time.Duration
		// wantEvents are the events PagerDuty accepted; wantRejected how many 400s it answered.
		wantEvents    string
		wantIncidents int
		wantRejected  int
	}{
		// Rejected at 0, 30, 60, 90, 120s; accepted at 150s, before the alert resolves at 158s.
		{"alert firing 28s after the recovery", 158 * time.Second, "trigger,resolve", 1, 5},
		// The alert ends at 120s while the proxy still refuses: the resolve supersedes the
		// trigger that was never accepted, is itself refused, and is sent again until accepted
		// at 150s (a no-op for PagerDuty, which never had the incident).
		{"alert resolved during the rejections", 120 * time.Second, "resolve", 0, 6},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFakePagerDuty(t)
			clk := clock.NewMock()
			clk.Set(t0)
			runScript(f, clk, func(now time.Time, _ int) (int, string) {
				if now.Before(recovery) {
					return 400, ""
				}
				return 0, ""
			})
			o := &memOutbox{}
			o.add(t, "oncall", sampleNotification(Trigger), t0)
			m := NewMetrics(prometheus.NewRegistry())
			d, logs := newPDDispatcherWith(t, f, o, clk, receiver.Config{}, DispatcherOptions{Metrics: m, Jitter: worstJitter})
			resolved := false
			resolve := func() {
				if !resolved && !clk.Now().Before(t0.Add(c.resolveAt)) {
					o.add(t, "oncall", sampleNotification(Resolve), clk.Now())
					resolved = true
					// The daemon wakes the dispatcher after committing an entry.
					if _, err := d.DispatchOnce(context.Background()); err != nil {
						t.Fatal(err)
					}
				}
			}
			drain(t, d, clk, 100, resolve)
			if !resolved {
				clk.Set(t0.Add(c.resolveAt))
				resolve()
				drain(t, d, clk, 100, nil)
			}
			acc, _, incidents := f.snapshot()
			key := sampleNotification(Trigger).DedupKey
			if got := strings.Join(eventsByKey(acc)[key], ","); got != c.wantEvents {
				t.Errorf("events %s, want %s", got, c.wantEvents)
			}
			if len(incidents[key]) != c.wantIncidents {
				t.Errorf("incidents %+v, want %d", incidents[key], c.wantIncidents)
			}
			if got := strings.Count(logs.String(), "notification rejected by the receiver"); got != c.wantRejected {
				t.Errorf("%d rejections logged, want %d", got, c.wantRejected)
			}
			if got := metricValue(t, m.failures.WithLabelValues("oncall", Reason4xx)); got != float64(c.wantRejected) {
				t.Errorf("failures{reason=4xx} = %v, want %d", got, c.wantRejected)
			}
			if got := metricValue(t, m.notifications.WithLabelValues("oncall", OutcomeFailed)); got != float64(c.wantRejected) {
				t.Errorf("notifications{outcome=failed} = %v, want %d", got, c.wantRejected)
			}
		})
	}
}

// TestAcceptanceBringsPendingForward (issue 14, point 3): a page deep in its backoff (attempt 8)
// goes out as soon as the receiver accepts another notification, not when its backoff ends.
func TestAcceptanceBringsPendingForward(t *testing.T) {
	cases := []struct {
		name       string
		withTicket bool
		wantPage   bool
	}{
		{"the ticket is accepted: the page goes with it", true, true},
		{"nothing accepted: the page waits for its backoff", false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFakePagerDuty(t)
			clk := clock.NewMock()
			clk.Set(t0)
			o := &memOutbox{}
			page, ticket := pageAndTicket()
			o.add(t, "oncall", page, t0.Add(-10*time.Minute))
			// What a previous slod left: the page failed 8 times and waits another 110s.
			o.entries[0].e.Attempts, o.entries[0].e.NextAttempt = 8, t0.Add(110*time.Second)
			if c.withTicket {
				o.add(t, "oncall", ticket, t0)
			}
			d, _ := newPDDispatcher(t, f, o, clk, nil)
			next, err := d.DispatchOnce(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			acc, _, _ := f.snapshot()
			got := eventsByKey(acc)
			if sent := len(got[page.DedupKey]) == 1; sent != c.wantPage {
				t.Errorf("page sent in the pass: %v, want %v (events %v)", sent, c.wantPage, got)
			}
			if !c.wantPage && !next.Equal(t0.Add(110*time.Second)) {
				t.Errorf("next attempt at t0+%s, want the page's own", next.Sub(t0))
			}
		})
	}
}

// retryModes are the ways a receiver fails, as the fake answers them.
var retryModes = []struct {
	name       string
	status     int
	retryAfter string
	reason     string
}{
	{"503", 503, "", Reason5xx},
	{"429", 429, "", Reason429},
	{"429 with Retry-After", 429, "120", Reason429},
	{"502 with Retry-After", 502, "30", Reason5xx},
	{"connection reset", resetConn, "", ReasonNetwork},
}

// TestBacklogCollapsesPerDedupKey (issue 14, point 4): what piled up for a key during an outage
// goes out as the one event that leaves PagerDuty in the alert's state, in every retry mode.
func TestBacklogCollapsesPerDedupKey(t *testing.T) {
	T, R := Trigger, Resolve
	cases := []struct {
		name string
		// delivered is sent before the outage; backlog piles up during it.
		delivered, backlog []Action
		wantEvents         string
		wantIncidents      int
		wantOpen           bool
	}{
		{"trigger, resolve, trigger: one trigger", nil, []Action{T, R, T}, "trigger", 1, true},
		{"trigger, resolve: the resolve alone, no incident", nil, []Action{T, R}, "resolve", 0, false},
		{"trigger, resolve, trigger, resolve", nil, []Action{T, R, T, R}, "resolve", 0, false},
		{"incident open, then resolve, trigger: it stays open", []Action{T}, []Action{R, T}, "trigger,trigger", 1, true},
		{"incident open, then resolve: closed", []Action{T}, []Action{R}, "trigger,resolve", 1, false},
	}
	for _, mode := range retryModes {
		for _, c := range cases {
			t.Run(mode.name+"/"+c.name, func(t *testing.T) {
				f := newFakePagerDuty(t)
				clk := clock.NewMock()
				clk.Set(t0)
				o := &memOutbox{}
				d, _ := newPDDispatcherWith(t, f, o, clk, receiver.Config{}, DispatcherOptions{Jitter: worstJitter})
				for _, a := range c.delivered {
					o.add(t, "oncall", sampleNotification(a), clk.Now())
				}
				drain(t, d, clk, 10, nil)
				recovery := clk.Now().Add(10 * time.Minute)
				runScript(f, clk, func(now time.Time, _ int) (int, string) {
					if now.Before(recovery) {
						return mode.status, mode.retryAfter
					}
					return 0, ""
				})
				for i, a := range c.backlog {
					o.add(t, "oncall", sampleNotification(a), clk.Now())
					// The backlog builds up over the outage, each entry tried in between.
					next, err := d.DispatchOnce(context.Background())
					if err != nil {
						t.Fatal(err)
					}
					clk.Set(maxTime(next, t0.Add(time.Duration(i+1)*time.Minute)))
				}
				drain(t, d, clk, 1000, nil)
				if clk.Now().Sub(recovery) > recoveryBound {
					t.Errorf("backlog delivered %s after the recovery, more than %s", clk.Now().Sub(recovery), recoveryBound)
				}
				acc, _, incidents := f.snapshot()
				key := sampleNotification(Trigger).DedupKey
				if got := strings.Join(eventsByKey(acc)[key], ","); got != c.wantEvents {
					t.Errorf("events %s, want %s", got, c.wantEvents)
				}
				inc := incidents[key]
				if len(inc) != c.wantIncidents || (len(inc) > 0 && inc[0].Resolved == c.wantOpen) {
					t.Errorf("incidents %+v, want %d, open %v", inc, c.wantIncidents, c.wantOpen)
				}
			})
		}
	}
}

// amWebhook records the notifications a real Alertmanager sends to its webhook receiver.
type amWebhook struct {
	mu     sync.Mutex
	status map[string][]string // slo label → statuses of the notifications, in order
}

func (w *amWebhook) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	var msg struct {
		Status string `json:"status"`
		Alerts []struct {
			Labels map[string]string `json:"labels"`
		} `json:"alerts"`
	}
	b, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(b, &msg); err == nil {
		w.mu.Lock()
		for _, a := range msg.Alerts {
			w.status[a.Labels["slo"]] = append(w.status[a.Labels["slo"]], msg.Status)
		}
		w.mu.Unlock()
	}
	rw.WriteHeader(http.StatusOK)
}

func (w *amWebhook) get(slo string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.status[slo]...)
}

// TestBacklogCollapsesWithAlertmanager (issue 14, point 4) runs a real Alertmanager that starts
// only after a backlog piled up: "flap" fired, resolved and fired again, "ended" fired and
// resolved. Alertmanager must notify its receiver of the first as firing, once, and never of the
// second, which ended before it could be told.
func TestBacklogCollapsesWithAlertmanager(t *testing.T) {
	hook := &amWebhook{status: map[string][]string{}}
	hs := httptest.NewServer(hook)
	defer hs.Close()
	port := freePort(t)
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	clk := clock.NewMock()
	clk.Set(time.Now()) // Alertmanager compares endsAt with its own clock
	// The notifiers render endsAt on the real clock; the dispatcher waits on the mock one.
	ns, err := NewNotifiers([]receiver.Config{{Name: "tickets", Alertmanager: &receiver.AlertmanagerConfig{URL: url}}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	o := &memOutbox{}
	d := NewDispatcher(o, ns, DispatcherOptions{Clock: clk, Jitter: worstJitter})
	now := time.Now().UTC().Truncate(time.Second)
	alert := func(slo string, a Action) Notification {
		n := notificationFor(slo, Trigger)
		n.StartsAt = now.Add(-time.Minute)
		if a == Resolve {
			n = n.resolved(now)
		}
		return n
	}
	for _, n := range []Notification{alert("flap", Trigger), alert("ended", Trigger), alert("flap", Resolve), alert("ended", Resolve), alert("flap", Trigger)} {
		o.add(t, "tickets", n, clk.Now())
		next, err := d.DispatchOnce(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		clk.Set(next)
	}
	if o.len() == 0 {
		t.Fatal("the backlog was delivered while Alertmanager was down")
	}
	startAlertmanagerWith(t, port, fmt.Sprintf(`route: {receiver: hook, group_by: [slo], group_wait: 1s, group_interval: 1s, repeat_interval: 1h}
receivers: [{name: hook, webhook_configs: [{url: %q, send_resolved: true}]}]
`, hs.URL))
	start := clk.Now()
	drain(t, d, clk, 100, nil)
	if clk.Now().Sub(start) > recoveryBound {
		t.Errorf("backlog delivered %s after Alertmanager started, more than %s", clk.Now().Sub(start), recoveryBound)
	}
	// Alertmanager's own group_wait runs on the real clock: wait for its notification of flap.
	deadline := time.Now().Add(30 * time.Second)
	for len(hook.get("flap")) == 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // two group intervals, for a notification of "ended" to show up
	if got := hook.get("flap"); strings.Join(got, ",") != "firing" {
		t.Errorf("notifications of flap: %v, want one firing", got)
	}
	if got := hook.get("ended"); len(got) != 0 {
		t.Errorf("notifications of ended: %v, want none (it ended before Alertmanager could be told)", got)
	}
	for _, a := range getAlerts(t, url) {
		if a.Labels["slo"] == "ended" {
			t.Errorf("alert that ended is active in Alertmanager: %+v", a)
		}
	}
}

// TestDeliveryObservability (issue 14, point 7): latency per receiver, failures by reason, the age
// of the oldest pending entry on the mock clock, and a repeated failure logged once per change.
func TestDeliveryObservability(t *testing.T) {
	f := newFakePagerDuty(t)
	clk := clock.NewMock()
	clk.Set(t0)
	// 503 four times, 502 twice, then accepted.
	runScript(f, clk, func(_ time.Time, req int) (int, string) {
		switch {
		case req <= 4:
			return 503, ""
		case req <= 6:
			return 502, ""
		}
		return 0, ""
	})
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	o := &memOutbox{}
	o.add(t, "oncall", sampleNotification(Trigger), t0)
	d, logs := newPDDispatcherWith(t, f, o, clk, receiver.Config{}, DispatcherOptions{Metrics: m, Jitter: worstJitter})
	var ages []float64
	drain(t, d, clk, 100, func() { ages = append(ages, metricValue(t, m.oldestAge)) })
	if want := []float64{0, 1, 3, 7, 15, 31}; fmt.Sprint(ages) != fmt.Sprint(want) {
		t.Errorf("oldest pending age after each failed pass = %v, want %v (seconds since the entry was written)", ages, want)
	}
	if got := metricValue(t, m.oldestAge); got != 0 {
		t.Errorf("oldest pending age after delivery = %v, want 0", got)
	}
	for reason, want := range map[string]float64{Reason5xx: 6} {
		if got := metricValue(t, m.failures.WithLabelValues("oncall", reason)); got != want {
			t.Errorf("failures{reason=%s} = %v, want %v", reason, got, want)
		}
	}
	if got := histogramCount(t, m.latency.WithLabelValues("oncall")); got != 7 {
		t.Errorf("latency observations = %d, want 7 (every attempt)", got)
	}
	var warns, debugs, recovered int
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var l struct{ Level, Msg string }
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatal(err)
		}
		switch {
		case strings.HasPrefix(l.Msg, "notification delivery failed") && l.Level == "WARN":
			warns++
		case strings.HasPrefix(l.Msg, "notification delivery failed") && l.Level == "DEBUG":
			debugs++
		case l.Msg == "receiver accepts notifications again":
			recovered++
		}
	}
	// One warning for the 503s, one for the change to 502; the repeats at debug level.
	if warns != 2 || debugs != 4 || recovered != 1 {
		t.Errorf("logged %d warnings, %d debug lines, %d recoveries; want 2, 4, 1:\n%s", warns, debugs, recovered, logs)
	}
}

// TestOwnRateLimitIsNotAFailure: PagerDuty's limit per routing key, applied by slod itself, delays
// a backlog without counting retries or failures.
func TestOwnRateLimitIsNotAFailure(t *testing.T) {
	f := newFakePagerDuty(t)
	clk := clock.NewMock()
	clk.Set(t0)
	m := NewMetrics(prometheus.NewRegistry())
	o := &memOutbox{}
	for _, name := range []string{"a", "b", "c"} {
		o.add(t, "oncall", notificationFor(name, Trigger), t0)
	}
	ns, err := NewNotifiers([]receiver.Config{{Name: "oncall", PagerDuty: &receiver.PagerDutyConfig{RoutingKey: testKey, URL: f.srv.URL, EventsPerMinute: 12}}}, Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	d := NewDispatcher(o, ns, DispatcherOptions{Clock: clk, Metrics: m})
	drain(t, d, clk, 100, nil)
	acc, _, _ := f.snapshot()
	// A bucket of 1 refilled at 11 a minute: the third event goes out about 11s after the first.
	if len(acc) != 3 || clk.Now().Sub(t0) > 12*time.Second {
		t.Errorf("%d events in %s, want 3 within 12s", len(acc), clk.Now().Sub(t0))
	}
	if got := metricValue(t, m.notifications.WithLabelValues("oncall", OutcomeRetry)); got != 0 {
		t.Errorf("retries = %v, want 0: waiting for slod's own limiter is not a failure", got)
	}
	if got := histogramCount(t, m.latency.WithLabelValues("oncall")); got != 3 {
		t.Errorf("latency observations = %d, want 3 (only requests sent)", got)
	}
}

// histogramCount reads a histogram's sample count.
func histogramCount(t *testing.T, o prometheus.Observer) uint64 {
	t.Helper()
	var m dto.Metric
	if err := o.(prometheus.Metric).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount()
}

func TestFailureReason(t *testing.T) {
	refused := func() error {
		// A closed port: what a receiver that is down answers.
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		_, err := http.Get(url)
		return err
	}
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"400", &HTTPError{Status: 400, Err: errors.New("x")}, Reason4xx},
		{"404 behind Retry-After", &RetryAfterError{After: time.Second, Err: &HTTPError{Status: 404, Err: errors.New("x")}}, Reason4xx},
		{"408", &HTTPError{Status: 408, Err: errors.New("x")}, ReasonTimeout},
		{"429", fmt.Errorf("wrapped: %w", &HTTPError{Status: 429, Err: errors.New("x")}), Reason429},
		{"503", &HTTPError{Status: 503, Err: errors.New("x")}, Reason5xx},
		{"302", &HTTPError{Status: 302, Err: errors.New("x")}, ReasonOther},
		{"deadline", fmt.Errorf("sending: %w", context.DeadlineExceeded), ReasonTimeout},
		{"connection refused", refused(), ReasonNetwork},
		{"anything else", errors.New("encoding"), ReasonOther},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := failureReason(c.err); got != c.want {
				t.Errorf("failureReason(%v) = %q, want %q", c.err, got, c.want)
			}
		})
	}
}
