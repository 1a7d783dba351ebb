package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/slod-dev/slod/internal/receiver"
)

// memOutbox is an in-memory Outbox that stores payloads as JSON bytes, like the store does, so
// that a dispatcher re-created over it sees only what was "persisted".
type memOutbox struct {
	mu      sync.Mutex
	seq     uint64
	entries []memEntry
	// ackFailures makes the next N Ack calls fail, like a process killed after the send and
	// before the acknowledgement reached the store.
	ackFailures int
	// failAckSeq makes the Ack of these seqs fail once each.
	failAckSeq map[uint64]bool
	updates    int
}

type memEntry struct {
	e       Entry
	payload []byte
}

func (o *memOutbox) add(t *testing.T, receiver string, n Notification, now time.Time) uint64 {
	t.Helper()
	b, err := n.MarshalPayload()
	if err != nil {
		t.Fatal(err)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.seq++
	o.entries = append(o.entries, memEntry{e: Entry{Seq: o.seq, Receiver: receiver, Key: n.DedupKey, Created: now, NextAttempt: now}, payload: b})
	return o.seq
}

func (o *memOutbox) Pending() ([]Entry, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]Entry, 0, len(o.entries))
	for _, m := range o.entries {
		e := m.e
		n, err := UnmarshalPayload(m.payload)
		e.Notification, e.Invalid = n, err
		out = append(out, e)
	}
	return out, nil
}

func (o *memOutbox) Ack(seq uint64) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.ackFailures > 0 || o.failAckSeq[seq] {
		if o.failAckSeq[seq] {
			delete(o.failAckSeq, seq)
		} else {
			o.ackFailures--
		}
		return errors.New("killed before the ack was written")
	}
	for i, m := range o.entries {
		if m.e.Seq == seq {
			o.entries = append(o.entries[:i], o.entries[i+1:]...)
			return nil
		}
	}
	return fmt.Errorf("seq %d not found", seq)
}

func (o *memOutbox) Update(e Entry) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.updates++
	for i, m := range o.entries {
		if m.e.Seq == e.Seq {
			e.Notification, e.Invalid = Notification{}, nil
			o.entries[i].e = e
			return nil
		}
	}
	return fmt.Errorf("seq %d not found", e.Seq)
}

func (o *memOutbox) len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.entries)
}

// drain runs passes, moving the mock clock to each next due time, until the outbox is empty or
// limit passes ran; between passes it calls step (may be nil).
func drain(t *testing.T, d *Dispatcher, clk *clock.Mock, limit int, step func()) int {
	t.Helper()
	for i := 0; i < limit; i++ {
		next, err := d.DispatchOnce(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if next.IsZero() {
			return i + 1
		}
		if step != nil {
			step()
		}
		if next.After(clk.Now()) {
			clk.Set(next)
		}
	}
	t.Fatalf("outbox not drained after %d passes", limit)
	return limit
}

// eventsByKey returns the accepted actions per dedup key, in arrival order.
func eventsByKey(evs []pdEvent) map[string][]string {
	out := map[string][]string{}
	for _, e := range evs {
		out[e.DedupKey] = append(out[e.DedupKey], e.Action)
	}
	return out
}

func newPDDispatcher(t *testing.T, f *fakePagerDuty, o Outbox, clk *clock.Mock, m *Metrics) (*Dispatcher, *logBuffer) {
	t.Helper()
	return newPDDispatcherWith(t, f, o, clk, receiver.Config{}, DispatcherOptions{Metrics: m})
}

// newPDDispatcherWith is newPDDispatcher for the receiver "oncall" with rc's delivery fields, and
// opt (its Clock and Logger are set here).
func newPDDispatcherWith(t *testing.T, f *fakePagerDuty, o Outbox, clk *clock.Mock, rc receiver.Config, opt DispatcherOptions) (*Dispatcher, *logBuffer) {
	t.Helper()
	rc.Name, rc.PagerDuty = "oncall", &receiver.PagerDutyConfig{RoutingKey: testKey, URL: f.srv.URL}
	ns, err := NewNotifiers([]receiver.Config{rc}, Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	logger, buf := newTestLogger(t)
	opt.Clock, opt.Logger = clk, logger
	return NewDispatcher(o, ns, opt), buf
}

// worstJitter makes every backoff its full length, the worst case for delivery delays.
func worstJitter() float64 { return 1 }

// recoveryBound is the documented worst-case delay from a receiver's recovery to the delivery of
// a pending page with the default policy (internal/notify/README.md).
const recoveryBound = 2 * time.Minute

// deliveredAt records, on the mock clock, when the server first accepted an event for a key.
type deliveredAt struct {
	f   *fakePagerDuty
	clk *clock.Mock
	at  map[string]time.Time
}

func (d *deliveredAt) observe() {
	acc, _, _ := d.f.snapshot()
	for _, e := range acc {
		k := e.DedupKey + " " + e.Action
		if _, ok := d.at[k]; !ok {
			d.at[k] = d.clk.Now()
		}
	}
}

// TestDispatcherOutageThenRecovery: PagerDuty fails for two hours, in each retry mode. Three
// alerts fire at the start; two resolve during the outage, one keeps firing. PagerDuty must end in
// the alerts' state without flapping: no incident for the two that ended (their resolve alone is
// sent), one for the alert still firing, delivered within the documented bound of the recovery,
// and its resolve afterwards. During the outage the receiver is asked at least every two minutes.
func TestDispatcherOutageThenRecovery(t *testing.T) {
	for _, c := range retryModes {
		t.Run(c.name+" for two hours", func(t *testing.T) {
			f := newFakePagerDuty(t)
			clk := clock.NewMock()
			clk.Set(t0)
			o := &memOutbox{}
			m := NewMetrics(prometheus.NewRegistry())
			d, _ := newPDDispatcherWith(t, f, o, clk, receiver.Config{}, DispatcherOptions{Metrics: m, Jitter: worstJitter})

			names := []string{"availability", "latency", "memory"}
			for _, name := range names {
				o.add(t, "oncall", notificationFor(name, Trigger), clk.Now())
			}
			recoverAt := t0.Add(2 * time.Hour)
			f.setFailFn(func() (int, string) {
				if clk.Now().Before(recoverAt) {
					return c.status, c.retryAfter
				}
				return 0, ""
			})
			seen := &deliveredAt{f: f, clk: clk, at: map[string]time.Time{}}
			resolvedWritten := false
			var lastAttempt time.Time
			maxGap, attempts := time.Duration(0), 0
			drain(t, d, clk, 10000, func() {
				seen.observe()
				f.mu.Lock()
				if f.requests != attempts {
					if !lastAttempt.IsZero() && clk.Now().Before(recoverAt) {
						maxGap = max(maxGap, clk.Now().Sub(lastAttempt))
					}
					attempts, lastAttempt = f.requests, clk.Now()
				}
				f.mu.Unlock()
				// Two of the alerts end during the outage: their resolves queue behind the triggers.
				if !resolvedWritten && clk.Now().After(t0.Add(30*time.Minute)) {
					for _, name := range names[:2] {
						o.add(t, "oncall", notificationFor(name, Resolve), clk.Now())
					}
					resolvedWritten = true
				}
			})
			seen.observe() // drain returns after the pass that emptied the outbox
			firing := DedupKey("chat-api", "memory", "page", false)
			t.Logf("page delivered at recovery + %s; %d requests during the outage, longest gap %s",
				seen.at[firing+" trigger"].Sub(recoverAt), attempts, maxGap)
			if at, ok := seen.at[firing+" trigger"]; !ok || at.Sub(recoverAt) > recoveryBound {
				t.Errorf("page of the alert still firing delivered at recovery + %s, want ≤ %s", at.Sub(recoverAt), recoveryBound)
			}
			if maxGap > recoveryBound {
				t.Errorf("longest gap between attempts during the outage = %s, want ≤ %s", maxGap, recoveryBound)
			}
			if attempts > 2*60+20 {
				t.Errorf("%d requests during a two-hour outage; one receiver should be asked about once a minute", attempts)
			}
			o.add(t, "oncall", notificationFor("memory", Resolve), clk.Now())
			drain(t, d, clk, 10, nil)

			checkOutageEnd(t, f, o, m, names, firing, c.reason)
		})
	}
}

// checkOutageEnd checks what TestDispatcherOutageThenRecovery left: the alerts that ended during
// the outage got their resolve alone (no incident), the one still firing an incident, resolved
// later; the counts of outcomes and failures.
func checkOutageEnd(t *testing.T, f *fakePagerDuty, o *memOutbox, m *Metrics, names []string, firing, reason string) {
	t.Helper()
	acc, rejected, incidents := f.snapshot()
	if len(rejected) > 0 {
		t.Errorf("server rejected events: %v", rejected)
	}
	got := eventsByKey(acc)
	for _, name := range names {
		key := DedupKey("chat-api", name, "page", false)
		want, wantIncidents := "resolve", 0
		if key == firing {
			want, wantIncidents = "trigger,resolve", 1
		}
		if strings.Join(got[key], ",") != want {
			t.Errorf("%s: events %v, want %s", key, got[key], want)
		}
		if inc := incidents[key]; len(inc) != wantIncidents || (len(inc) == 1 && !inc[0].Resolved) {
			t.Errorf("%s: incidents %+v, want %d, resolved", key, inc, wantIncidents)
		}
	}
	if o.len() != 0 {
		t.Errorf("%d entries left in the outbox", o.len())
	}
	for outcome, want := range map[string]float64{OutcomeSuccess: 4, OutcomeSuperseded: 2} {
		if got := metricValue(t, m.notifications.WithLabelValues("oncall", outcome)); got != want {
			t.Errorf("%s count = %v, want %v", outcome, got, want)
		}
	}
	if got := metricValue(t, m.failures.WithLabelValues("oncall", reason)); got < 10 {
		t.Errorf("failures{reason=%q} = %v, want many", reason, got)
	}
	if got := metricValue(t, m.pending); got != 0 {
		t.Errorf("slod_outbox_pending = %v, want 0", got)
	}
}

// TestDispatcherCrashRecovery kills slod (a dispatcher abandoned, a new one over the same outbox)
// at each point of a delivery: PagerDuty may see an event twice, and always ends with one
// incident, resolved.
func TestDispatcherCrashRecovery(t *testing.T) {
	resolve := func(t *testing.T, o *memOutbox) { o.add(t, "oncall", sampleNotification(Resolve), t0) }
	once := func(t *testing.T, d *Dispatcher) {
		if _, err := d.DispatchOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name string
		// crash runs the first dispatcher up to the simulated kill; it may write the resolve.
		crash func(t *testing.T, d *Dispatcher, o *memOutbox)
		want  string
	}{
		{"killed between write and send", func(t *testing.T, d *Dispatcher, o *memOutbox) {}, "trigger,resolve"},
		{"killed between send and ack of the trigger", func(t *testing.T, d *Dispatcher, o *memOutbox) {
			o.ackFailures = 1
			once(t, d)
		}, "trigger,trigger,resolve"},
		{"killed between send and ack of the trigger, resolved meanwhile", func(t *testing.T, d *Dispatcher, o *memOutbox) {
			o.ackFailures = 1
			once(t, d)
			resolve(t, o)
		}, "trigger,resolve"},
		{"killed between send and ack of the resolve", func(t *testing.T, d *Dispatcher, o *memOutbox) {
			once(t, d)
			resolve(t, o)
			o.failAckSeq = map[uint64]bool{2: true}
			once(t, d)
			if o.len() != 1 {
				t.Fatalf("%d entries left after the simulated kill, want the resolve", o.len())
			}
		}, "trigger,resolve,resolve"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFakePagerDuty(t)
			clk := clock.NewMock()
			clk.Set(t0)
			o := &memOutbox{}
			o.add(t, "oncall", sampleNotification(Trigger), clk.Now())
			first, _ := newPDDispatcher(t, f, o, clk, nil)
			c.crash(t, first, o)

			// Restart: a new dispatcher (new notifiers, new limiter) over the same outbox.
			second, _ := newPDDispatcher(t, f, o, clk, nil)
			drain(t, second, clk, 100, nil)
			if acc, _, _ := f.snapshot(); eventsByKey(acc)[sampleNotification(Trigger).DedupKey][len(acc)-1] == "trigger" {
				resolve(t, o)
				drain(t, second, clk, 100, nil)
			}
			// And once more, as a restart after a clean run must send nothing.
			third, _ := newPDDispatcher(t, f, o, clk, nil)
			drain(t, third, clk, 100, nil)

			acc, _, incidents := f.snapshot()
			key := sampleNotification(Trigger).DedupKey
			if inc := incidents[key]; len(inc) != 1 || !inc[0].Resolved {
				t.Errorf("incidents = %+v, want exactly one, resolved", inc)
			}
			if got := strings.Join(eventsByKey(acc)[key], ","); got != c.want {
				t.Errorf("events %s, want %s", got, c.want)
			}
			if o.len() != 0 {
				t.Errorf("%d entries left", o.len())
			}
		})
	}
}

// scriptedNotifier answers from a script and records what it was asked to deliver.
type scriptedNotifier struct {
	mu      sync.Mutex
	answers []error // popped per call; nil = success
	retry   bool
	got     []Notification
}

func (s *scriptedNotifier) Notify(ctx context.Context, n Notification) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	if len(s.answers) > 0 {
		err, s.answers = s.answers[0], s.answers[1:]
	}
	if err == nil {
		s.got = append(s.got, n)
		return false, nil
	}
	return s.retry, err
}

func TestDispatcherOrderAndDrops(t *testing.T) {
	errDown := errors.New("down")
	cases := []struct {
		name      string
		answers   []error
		retry     bool
		entries   []Notification
		receiver  string
		wantGot   []string // dedup key suffix + action, in delivery order
		wantLog   string
		wantCount map[string]float64
		// wantSeen are the outcomes DispatcherOptions.Observe is told, as key suffix, action,
		// outcome and attempts so far.
		wantSeen []string
	}{
		{
			name:    "trigger superseded by its resolve while the receiver fails",
			answers: []error{errDown, errDown}, retry: true,
			entries: []Notification{notificationFor("a", Trigger), notificationFor("a", Resolve)},
			wantGot: []string{"a/page resolve"}, wantLog: `"id":"1/slod/chat-api/a/page"`,
			wantCount: map[string]float64{OutcomeSuccess: 1, OutcomeRetry: 2, OutcomeSuperseded: 1},
			wantSeen:  []string{"a/page trigger superseded 0", "a/page resolve retrying 1", "a/page resolve retrying 2", "a/page resolve delivered 3"},
		},
		{
			name:    "rejected notification is sent again after the repeat interval",
			answers: []error{&HTTPError{Status: 400, Err: errors.New("HTTP 400: invalid event")}}, retry: false,
			entries:   []Notification{notificationFor("a", Trigger), notificationFor("b", Trigger)},
			wantGot:   []string{"b/page trigger", "a/page trigger"},
			wantLog:   `invalid event`,
			wantCount: map[string]float64{OutcomeSuccess: 2, OutcomeFailed: 1},
			wantSeen:  []string{"a/page trigger rejected 1", "b/page trigger delivered 1", "a/page trigger delivered 2"},
		},
		{
			name:      "unknown receiver is dropped",
			receiver:  "gone",
			entries:   []Notification{notificationFor("a", Trigger)},
			wantLog:   `"receiver":"gone"`,
			wantCount: map[string]float64{OutcomeFailed: 1},
			wantSeen:  []string{"a/page trigger dropped 0"},
		},
		{
			name:    "repeated trigger superseded by the newer one",
			entries: []Notification{notificationFor("a", Trigger), notificationFor("a", Trigger)},
			wantGot: []string{"a/page trigger"}, wantLog: "superseded",
			wantCount: map[string]float64{OutcomeSuccess: 1, OutcomeSuperseded: 1},
		},
		{
			name:    "trigger, resolve, trigger: one trigger",
			entries: []Notification{notificationFor("a", Trigger), notificationFor("a", Resolve), notificationFor("a", Trigger), notificationFor("b", Trigger)},
			wantGot: []string{"a/page trigger", "b/page trigger"}, wantLog: "its incident stays open",
			wantCount: map[string]float64{OutcomeSuccess: 2, OutcomeSuperseded: 2},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clk := clock.NewMock()
			clk.Set(t0)
			o := &memOutbox{}
			receiver := "r"
			if c.receiver != "" {
				receiver = c.receiver
			}
			for _, n := range c.entries {
				o.add(t, receiver, n, clk.Now())
			}
			s := &scriptedNotifier{answers: c.answers, retry: c.retry}
			reg := prometheus.NewRegistry()
			m := NewMetrics(reg)
			logger, buf := newTestLogger(t)
			var seen []string
			observe := func(dl Delivery) {
				seen = append(seen, fmt.Sprintf("%s %s %s %d", strings.TrimPrefix(dl.Entry.Key, "slod/chat-api/"), dl.Entry.Notification.Action, dl.Outcome, dl.Entry.Attempts))
			}
			d := NewDispatcher(o, map[string]Notifier{"r": s}, DispatcherOptions{Clock: clk, Logger: logger, Metrics: m, Observe: observe})
			drain(t, d, clk, 100, nil)
			if c.wantSeen != nil && strings.Join(seen, ",") != strings.Join(c.wantSeen, ",") {
				t.Errorf("observed %v, want %v", seen, c.wantSeen)
			}
			var got []string
			for _, n := range s.got {
				got = append(got, strings.TrimPrefix(n.DedupKey, "slod/chat-api/")+" "+string(n.Action))
			}
			if strings.Join(got, ",") != strings.Join(c.wantGot, ",") {
				t.Errorf("delivered %v, want %v", got, c.wantGot)
			}
			if !strings.Contains(buf.String(), c.wantLog) {
				t.Errorf("log does not contain %q:\n%s", c.wantLog, buf)
			}
			for outcome, want := range c.wantCount {
				if got := metricValue(t, m.notifications.WithLabelValues(receiver, outcome)); got != want {
					t.Errorf("%s count = %v, want %v", outcome, got, want)
				}
			}
			if o.len() != 0 {
				t.Errorf("%d entries left", o.len())
			}
		})
	}
}

func TestDispatcherBackoff(t *testing.T) {
	capped := DeliveryPolicy{MaxRetryAfter: 30 * time.Second}.withDefaults()
	cases := []struct {
		name     string
		attempts int
		jitter   float64
		err      error
		policy   DeliveryPolicy
		want     time.Duration
	}{
		{"first retry, no jitter", 1, 0, errors.New("x"), DeliveryPolicy{}, 500 * time.Millisecond},
		{"first retry, full jitter", 1, 1, errors.New("x"), DeliveryPolicy{}, time.Second},
		{"fifth retry", 5, 0.5, errors.New("x"), DeliveryPolicy{}, 12 * time.Second},
		{"capped at 1m", 40, 1, errors.New("x"), DeliveryPolicy{}, time.Minute},
		{"capped, low jitter", 40, 0, errors.New("x"), DeliveryPolicy{}, 30 * time.Second},
		{"Retry-After honoured", 3, 0.5, &RetryAfterError{After: 42 * time.Second, Err: errors.New("x")}, DeliveryPolicy{}, 42 * time.Second},
		{"Retry-After capped at the 2m default", 3, 0.5, &RetryAfterError{After: time.Hour, Err: errors.New("x")}, DeliveryPolicy{}, 2 * time.Minute},
		{"Retry-After capped by the receiver's max_retry_after", 3, 0.5, &RetryAfterError{After: time.Hour, Err: errors.New("x")}, capped, 30 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := NewDispatcher(&memOutbox{}, nil, DispatcherOptions{Clock: clock.NewMock(), Jitter: func() float64 { return c.jitter }})
			if got := d.retryDelay(c.attempts, c.err, c.policy.withDefaults()); got != c.want {
				t.Errorf("delay = %s, want %s", got, c.want)
			}
		})
	}
}

func TestDispatcherRunWakes(t *testing.T) {
	clk := clock.NewMock()
	o := &memOutbox{}
	delivered := make(chan Notification, 1)
	d := NewDispatcher(o, map[string]Notifier{"r": notifierFunc(func(ctx context.Context, n Notification) (bool, error) {
		delivered <- n
		return false, nil
	})}, DispatcherOptions{Clock: clk})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- d.Run(ctx) }()
	o.add(t, "r", sampleNotification(Trigger), clk.Now())
	d.Wake()
	select {
	case n := <-delivered:
		if n.DedupKey != sampleNotification(Trigger).DedupKey {
			t.Errorf("delivered %q", n.DedupKey)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Wake did not make Run deliver the new entry")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
}

type notifierFunc func(ctx context.Context, n Notification) (bool, error)

func (f notifierFunc) Notify(ctx context.Context, n Notification) (bool, error) { return f(ctx, n) }

func TestDispatcherDropsUndecodableEntry(t *testing.T) {
	o := &memOutbox{}
	o.entries = append(o.entries, memEntry{e: Entry{Seq: 1, Receiver: "r", Key: "k"}, payload: json.RawMessage(`{"nope":`)})
	s := &scriptedNotifier{}
	d := NewDispatcher(o, map[string]Notifier{"r": s}, DispatcherOptions{Clock: clock.NewMock()})
	if _, err := d.DispatchOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if o.len() != 0 || len(s.got) != 0 {
		t.Errorf("outbox %d entries, delivered %d; want the bad entry dropped unsent", o.len(), len(s.got))
	}
}

// metricValue reads a counter or gauge.
func metricValue(t *testing.T, c prometheus.Metric) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	t.Fatal("not a counter or gauge")
	return 0
}

func TestDispatcherReceiversIndependent(t *testing.T) {
	clk := clock.NewMock()
	o := &memOutbox{}
	o.add(t, "slow", notificationFor("a", Trigger), clk.Now())
	o.add(t, "fast", notificationFor("b", Trigger), clk.Now())
	fastDone := make(chan struct{})
	sawFast := false
	ns := map[string]Notifier{
		// slow hangs until fast delivered: with one receiver at a time it would never see that.
		"slow": notifierFunc(func(ctx context.Context, n Notification) (bool, error) {
			select {
			case <-fastDone:
				sawFast = true
				return false, nil
			case <-time.After(30 * time.Second):
				return true, errors.New("timed out waiting for the other receiver")
			}
		}),
		"fast": notifierFunc(func(ctx context.Context, n Notification) (bool, error) {
			close(fastDone)
			return false, nil
		}),
	}
	d := NewDispatcher(o, ns, DispatcherOptions{Clock: clk})
	if _, err := d.DispatchOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !sawFast || o.len() != 0 {
		t.Errorf("slow receiver held back the fast one (saw fast %v, %d left)", sawFast, o.len())
	}
}
