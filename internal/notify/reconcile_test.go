package notify

import (
	"strings"
	"testing"
	"time"

	"github.com/slod-dev/slod/internal/receiver"
)

func TestReconcile(t *testing.T) {
	router := receiver.NewRouter([]receiver.Route{{Match: map[string]string{"severity": "page"}, Receiver: "oncall"}, {Match: map[string]string{"severity": "ticket"}, Receiver: "tickets"}})
	r := Reconciler{Router: router, Resend: map[string]time.Duration{"tickets": time.Minute}}
	silenceA := Silence{ID: "s1", Matchers: []Matcher{{Name: "slo", Value: "a", IsEqual: true}}, StartsAt: t0, EndsAt: t0.Add(30 * time.Minute)}
	ticket := func(name string, a Action) Notification {
		n := notificationFor(name, a)
		n.Severity, n.Labels["severity"] = "ticket", "ticket"
		n.DedupKey = DedupKey("chat-api", name, "ticket", false)
		return n
	}
	orphan := notificationFor("b", Trigger)
	orphan.Labels["severity"] = "info"
	orphan.Severity = "info"

	// Each step is one evaluation cycle: the transitions it produced, the silences, the time
	// offset, and what must be enqueued ("receiver:slo:action").
	type step struct {
		at       time.Duration
		changes  []Notification
		silences []Silence
		want     []string
		restart  bool // state goes through EncodeAlertRecords/DecodeAlertRecords
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"trigger then resolve", []step{
			{at: 0, changes: []Notification{notificationFor("a", Trigger)}, want: []string{"oncall:a:trigger"}},
			{at: time.Minute, want: nil},
			{at: 2 * time.Minute, changes: []Notification{notificationFor("a", Resolve)}, want: []string{"oncall:a:resolve"}},
			{at: 3 * time.Minute, want: nil},
		}},
		{"restart never re-sends", []step{
			{at: 0, changes: []Notification{notificationFor("a", Trigger)}, want: []string{"oncall:a:trigger"}},
			{at: time.Minute, restart: true, changes: []Notification{notificationFor("a", Trigger)}, want: nil},
			{at: 2 * time.Minute, restart: true, changes: []Notification{notificationFor("a", Resolve)}, want: []string{"oncall:a:resolve"}},
			{at: 3 * time.Minute, restart: true, changes: []Notification{notificationFor("a", Resolve)}, want: nil},
		}},
		{"silenced trigger goes out when the silence expires", []step{
			{at: 0, changes: []Notification{notificationFor("a", Trigger), notificationFor("b", Trigger)}, silences: []Silence{silenceA}, want: []string{"oncall:b:trigger"}},
			{at: 10 * time.Minute, silences: []Silence{silenceA}, want: nil},
			{at: 30 * time.Minute, silences: []Silence{silenceA}, want: []string{"oncall:a:trigger"}},
			{at: 31 * time.Minute, changes: []Notification{notificationFor("a", Resolve)}, want: []string{"oncall:a:resolve"}},
		}},
		{"a trigger that says no resolve follows gets none, and the next trigger is sent", []step{
			{at: 0, changes: []Notification{noResolve(notificationFor("a", Trigger))}, want: []string{"oncall:a:trigger"}},
			{at: time.Minute, restart: true, changes: []Notification{notificationFor("a", Resolve)}, want: nil},
			{at: 2 * time.Minute, changes: []Notification{noResolve(notificationFor("a", Trigger))}, want: []string{"oncall:a:trigger"}},
		}},
		{"resolve of a never-sent trigger is not sent", []step{
			{at: 0, changes: []Notification{notificationFor("a", Trigger)}, silences: []Silence{silenceA}, want: nil},
			{at: 5 * time.Minute, changes: []Notification{notificationFor("a", Resolve)}, silences: []Silence{silenceA}, want: nil},
			{at: 40 * time.Minute, want: nil},
		}},
		{"silence created after the trigger does not hold the resolve", []step{
			{at: 0, changes: []Notification{notificationFor("a", Trigger)}, want: []string{"oncall:a:trigger"}},
			{at: 5 * time.Minute, changes: []Notification{notificationFor("a", Resolve)}, silences: []Silence{silenceA}, want: []string{"oncall:a:resolve"}},
		}},
		{"resend for receivers that forget", []step{
			{at: 0, changes: []Notification{ticket("a", Trigger)}, want: []string{"tickets:a:trigger"}},
			{at: 30 * time.Second, want: nil},
			{at: time.Minute, want: []string{"tickets:a:trigger"}},
			{at: 90 * time.Second, want: nil},
			{at: 2 * time.Minute, restart: true, want: []string{"tickets:a:trigger"}},
			{at: 150 * time.Second, changes: []Notification{ticket("a", Resolve)}, want: []string{"tickets:a:resolve"}},
			{at: 4 * time.Minute, want: nil},
		}},
		{"resolve and re-fire in one cycle", []step{
			{at: 0, changes: []Notification{notificationFor("a", Trigger)}, want: []string{"oncall:a:trigger"}},
			{at: time.Minute, changes: []Notification{notificationFor("a", Resolve), notificationFor("a", Trigger)}, want: []string{"oncall:a:resolve", "oncall:a:trigger"}},
		}},
		{"unrouted alert is not sent", []step{
			{at: 0, changes: []Notification{orphan}, want: nil},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var state map[string]AlertRecord
			for i, s := range c.steps {
				if s.restart {
					b, err := EncodeAlertRecords(state)
					if err != nil {
						t.Fatal(err)
					}
					if state, err = DecodeAlertRecords(b); err != nil {
						t.Fatal(err)
					}
				}
				res := r.Reconcile(state, s.changes, s.silences, t0.Add(s.at))
				var got []string
				for _, e := range res.Enqueue {
					if e.Key != e.Notification.DedupKey || !e.NextAttempt.Equal(t0.Add(s.at)) {
						t.Errorf("step %d: entry %+v", i, e)
					}
					got = append(got, e.Receiver+":"+e.Notification.SLO+":"+string(e.Notification.Action))
				}
				if strings.Join(got, ",") != strings.Join(s.want, ",") {
					t.Errorf("step %d (+%s): enqueued %v, want %v", i, s.at, got, s.want)
				}
				state = res.State
			}
		})
	}
}

func noResolve(n Notification) Notification {
	n.NoResolve = true
	return n
}

func TestReconcileReportsSilencedOnce(t *testing.T) {
	r := Reconciler{Router: receiver.NewRouter([]receiver.Route{{Receiver: "oncall"}})}
	sil := []Silence{{ID: "s1", Matchers: []Matcher{{Name: "slo", Value: "a|b", IsRegex: true, IsEqual: true}}, StartsAt: t0, EndsAt: t0.Add(time.Hour)}}
	res := r.Reconcile(nil, []Notification{notificationFor("a", Trigger)}, sil, t0)
	if len(res.Silenced) != 1 || res.Silenced[0].SilenceID != "s1" || res.Silenced[0].Receiver != "oncall" {
		t.Fatalf("silenced = %+v", res.Silenced)
	}
	m := NewMetrics(nil)
	m.ObserveReconcile(res)
	if got := metricValue(t, m.notifications.WithLabelValues("oncall", OutcomeSilenced)); got != 1 {
		t.Errorf("silenced count = %v, want 1", got)
	}
	res = r.Reconcile(res.State, nil, sil, t0.Add(time.Minute))
	if len(res.Silenced) != 0 {
		t.Errorf("silenced reported again: %+v", res.Silenced)
	}
}

func TestResolveMissing(t *testing.T) {
	r := Reconciler{Router: receiver.NewRouter([]receiver.Route{{Receiver: "oncall"}})}
	res := r.Reconcile(nil, []Notification{notificationFor("a", Trigger), notificationFor("b", Trigger)}, nil, t0)
	known := func(k string) bool { return k == DedupKey("chat-api", "a", "page", false) }
	gone := ResolveMissing(res.State, known, t0.Add(time.Hour))
	res = r.Reconcile(res.State, gone, nil, t0.Add(time.Hour))
	if len(res.Enqueue) != 1 || res.Enqueue[0].Notification.SLO != "b" || res.Enqueue[0].Notification.Action != Resolve {
		t.Fatalf("enqueued %+v, want the resolve of b", res.Enqueue)
	}
	if e := res.Enqueue[0].Notification.EndsAt; e == nil || !e.Equal(t0.Add(time.Hour)) {
		t.Errorf("endsAt = %v", e)
	}
	if _, ok := res.State[DedupKey("chat-api", "a", "page", false)]; !ok || len(res.State) != 1 {
		t.Errorf("state = %v, want only a", res.State)
	}
}
