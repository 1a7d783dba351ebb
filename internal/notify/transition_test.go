package notify

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/slod-dev/slod/internal/burnrate"
	"github.com/slod-dev/slod/internal/receiver"
	"github.com/slod-dev/slod/internal/rules"
)

func testSLO() *rules.SLO {
	return &rules.SLO{
		Service: "chat-api", Name: "availability", Description: "Chat requests answered without a server error.",
		Objective: 0.999, Period: 30 * 24 * time.Hour,
		Labels: map[string]string{"team": "assistant", "tier": "1", "slo": "overridden-by-slod"},
		Alerting: rules.Alerting{
			RunbookURL:          "https://runbooks.example/chat-api/availability",
			Labels:              map[string]string{"component": "chat"},
			Annotations:         map[string]string{"summary": "chat-api is burning its error budget"},
			SeverityLabels:      map[burnrate.Severity]map[string]string{burnrate.Page: {"pager": "yes"}},
			SeverityAnnotations: map[burnrate.Severity]map[string]string{burnrate.Ticket: {"ticket_queue": "chat"}},
		},
	}
}

func TestFromTransition(t *testing.T) {
	reason := burnrate.Reason{Window: burnrate.Window{Severity: burnrate.Page, Long: time.Hour, Short: 5 * time.Minute, BurnRate: 14.4},
		LongBurn: 20.100000000000001, ShortBurn: 31.7, Threshold: 0.014400000000000001}
	st := burnrate.Status{BudgetRemaining: 0.42, TimeToExhaustion: 50*time.Hour + 20*time.Second}
	fired := t0
	cases := []struct {
		name       string
		tr         burnrate.Transition
		wantOK     bool
		wantAction Action
		wantKey    string
		wantName   string
		wantEnds   bool
		wantWindow bool
	}{
		{"inactive to firing triggers", burnrate.Transition{Severity: burnrate.Page, From: burnrate.Inactive, To: burnrate.Firing, At: fired, FiredAt: fired, Reason: reason, PeakBurnRate: 31.7},
			true, Trigger, "slod/chat-api/availability/page", "SLOBurnRate", false, true},
		{"pending to firing triggers", burnrate.Transition{Severity: burnrate.Page, From: burnrate.Pending, To: burnrate.Firing, At: fired, FiredAt: fired, Reason: reason},
			true, Trigger, "slod/chat-api/availability/page", "SLOBurnRate", false, true},
		{"firing to inactive resolves", burnrate.Transition{Severity: burnrate.Page, From: burnrate.Firing, To: burnrate.Inactive, At: fired.Add(time.Hour), FiredAt: fired, Reason: reason},
			true, Resolve, "slod/chat-api/availability/page", "SLOBurnRate", true, true},
		{"no-data alert", burnrate.Transition{Severity: burnrate.Ticket, NoData: true, From: burnrate.Pending, To: burnrate.Firing, At: fired, FiredAt: fired},
			true, Trigger, "slod/chat-api/availability/ticket/no_data", "SLONoData", false, false},
		{"inactive to pending is not notified", burnrate.Transition{Severity: burnrate.Page, From: burnrate.Inactive, To: burnrate.Pending, At: fired}, false, "", "", "", false, false},
		{"pending to inactive is not notified", burnrate.Transition{Severity: burnrate.Page, From: burnrate.Pending, To: burnrate.Inactive, At: fired}, false, "", "", "", false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n, ok := FromTransition(testSLO(), nil, c.tr, st, "https://slod.example/")
			if ok != c.wantOK {
				t.Fatalf("ok = %v, want %v", ok, c.wantOK)
			}
			if !ok {
				return
			}
			if n.Action != c.wantAction || n.DedupKey != c.wantKey || n.AlertName != c.wantName {
				t.Errorf("action/key/alertname = %s/%s/%s", n.Action, n.DedupKey, n.AlertName)
			}
			want := map[string]string{"alertname": c.wantName, "service": "chat-api", "slo": "availability",
				"severity": string(c.tr.Severity), "team": "assistant", "tier": "1", "component": "chat"}
			if c.tr.Severity == burnrate.Page {
				want["pager"] = "yes"
			}
			if len(n.Labels) != len(want) {
				t.Errorf("labels = %v, want %v", n.Labels, want)
			}
			for k, v := range want {
				if n.Labels[k] != v {
					t.Errorf("label %s = %q, want %q", k, n.Labels[k], v)
				}
			}
			if (n.EndsAt != nil) != c.wantEnds || (c.wantEnds && !n.EndsAt.Equal(c.tr.At)) {
				t.Errorf("endsAt = %v", n.EndsAt)
			}
			if !n.StartsAt.Equal(fired) {
				t.Errorf("startsAt = %v, want %v", n.StartsAt, fired)
			}
			if (n.Window != nil) != c.wantWindow {
				t.Fatalf("window = %+v", n.Window)
			}
			if n.Window != nil && (n.Window.LongBurnRate != 20.1 || n.Window.Threshold != 0.0144 || n.Window.Long.String() != "1h") {
				t.Errorf("window = %+v", *n.Window)
			}
			if n.StatusURL != "https://slod.example/slo/chat-api/availability" || n.RunbookURL == "" {
				t.Errorf("status/runbook URL = %q/%q", n.StatusURL, n.RunbookURL)
			}
			if n.TimeToExhaustion == nil || n.TimeToExhaustion.String() != "2d2h" {
				t.Errorf("time to exhaustion = %v", n.TimeToExhaustion)
			}
			if wantSummary := "chat-api is burning its error budget"; (n.Summary == wantSummary) == c.tr.NoData || n.Annotations["summary"] != n.Summary {
				t.Errorf("summary = %q, annotation %q", n.Summary, n.Annotations["summary"])
			}
			if n.Summary == "" || n.Description != "Chat requests answered without a server error." {
				t.Errorf("summary/description = %q/%q", n.Summary, n.Description)
			}
			// The notification is the outbox payload: it must survive a JSON round trip.
			b, err := n.MarshalPayload()
			if err != nil {
				t.Fatal(err)
			}
			back, err := UnmarshalPayload(b)
			if err != nil {
				t.Fatal(err)
			}
			b2, _ := json.Marshal(back)
			if string(b) != string(b2) {
				t.Errorf("round trip changed the payload:\n%s\n%s", b, b2)
			}
		})
	}
}

// TestDefaultSummary: the generated summary names each window with its own burn rate (it once
// paired the short window's rate with the long window's name), for a trigger and for a resolve,
// which carries the rates of the resolving step.
func TestDefaultSummary(t *testing.T) {
	slo := testSLO()
	slo.Alerting.Annotations = nil
	pair := burnrate.Window{Long: time.Hour, Short: 5 * time.Minute, BurnRate: 14.4}
	cases := []struct {
		name string
		tr   burnrate.Transition
		want string
	}{
		{"trigger", burnrate.Transition{Severity: burnrate.Page, From: burnrate.Inactive, To: burnrate.Firing, At: t0, FiredAt: t0,
			Reason: burnrate.Reason{Window: pair, LongBurn: 15, ShortBurn: 50.000000000000003}},
			"chat-api/availability is burning its error budget 15× too fast over 1h and 50× over 5m (objective 99.9% over 30d), page"},
		{"resolve", burnrate.Transition{Severity: burnrate.Page, From: burnrate.Firing, To: burnrate.Inactive, At: t0.Add(time.Hour), FiredAt: t0,
			Reason: burnrate.Reason{Window: pair, LongBurn: 16.2, ShortBurn: 0}},
			"chat-api/availability is no longer burning its error budget faster than 14.4×: 16.2× over 1h and 0× over 5m (objective 99.9% over 30d), page"},
		{"no-data", burnrate.Transition{Severity: burnrate.Ticket, NoData: true, From: burnrate.Pending, To: burnrate.Firing, At: t0, FiredAt: t0},
			"chat-api/availability: no SLI data (ticket)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n, _ := FromTransition(slo, nil, c.tr, burnrate.Status{}, "")
			if n.Summary != c.want || n.Annotations["summary"] != c.want {
				t.Errorf("summary = %q, want %q", n.Summary, c.want)
			}
			if n.StatusURL != "" || n.TimeToExhaustion != nil {
				t.Errorf("status URL %q / time to exhaustion %v, want none", n.StatusURL, n.TimeToExhaustion)
			}
		})
	}
}

func TestDedupKey(t *testing.T) {
	cases := []struct {
		name    string
		service string
		slo     string
		noData  bool
		want    string // "" = only check the length and stability
	}{
		{"plain", "chat-api", "availability", false, "slod/chat-api/availability/page"},
		{"no data", "chat-api", "availability", true, "slod/chat-api/availability/page/no_data"},
		{"long name hashed", "chat-api", strings.Repeat("a", 300), false, ""},
		{"long multibyte name", "chat-api", strings.Repeat("é", 200), true, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k := DedupKey(c.service, c.slo, "page", c.noData)
			if c.want != "" && k != c.want {
				t.Errorf("key = %q, want %q", k, c.want)
			}
			if len(k) > 255 || !utf8.ValidString(k) || !strings.HasPrefix(k, "slod/chat-api/") {
				t.Errorf("key %q: %d bytes, valid UTF-8 %v", k, len(k), utf8.ValidString(k))
			}
			if k2 := DedupKey(c.service, c.slo, "page", c.noData); k2 != k {
				t.Errorf("key not stable: %q vs %q", k, k2)
			}
			if other := DedupKey(c.service, c.slo+"x", "page", c.noData); other == k {
				t.Errorf("different SLOs share key %q", k)
			}
		})
	}
}

func TestTruncateRunes(t *testing.T) {
	cases := []struct {
		name string
		in   string
		max  int
		want string
	}{
		{"short", "abc", 5, "abc"},
		{"exact", "abcde", 5, "abcde"},
		{"cut", "abcdef", 5, "abcd…"},
		{"multibyte", "ééééééé", 3, "éé…"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := truncateRunes(c.in, c.max); got != c.want {
				t.Errorf("truncateRunes(%q, %d) = %q, want %q", c.in, c.max, got, c.want)
			}
		})
	}
}

func TestAlertKeys(t *testing.T) {
	slo := testSLO()
	slo.Alerting.Windows = []burnrate.Window{{Severity: burnrate.Page, Long: time.Hour}, {Severity: burnrate.Page, Long: 6 * time.Hour}, {Severity: burnrate.Ticket, Long: 24 * time.Hour}}
	slo.Alerting.NoData = &burnrate.NoData{After: 15 * time.Minute, Severity: burnrate.Ticket}
	got := strings.Join(AlertKeys(slo, ""), ",")
	want := "slod/chat-api/availability/page,slod/chat-api/availability/ticket,slod/chat-api/availability/ticket/no_data"
	if got != want {
		t.Errorf("AlertKeys = %s, want %s", got, want)
	}
}

// TestFromTransitionGroup: a group's notification carries its labels, its own dedup key and the
// reason a retired group's alerts resolved.
func TestFromTransitionGroup(t *testing.T) {
	group := map[string]string{"model": "m2"}
	tr := burnrate.Transition{Severity: burnrate.Page, From: burnrate.Firing, To: burnrate.Inactive, At: t0.Add(time.Hour), FiredAt: t0,
		Note: "retired: the group has had no data for 30d"}
	n, ok := FromTransition(testSLO(), group, tr, burnrate.Status{}, "")
	if !ok || n.DedupKey != `slod/chat-api/availability/page/{model="m2"}` || n.Labels["model"] != "m2" || n.Group["model"] != "m2" {
		t.Fatalf("notification %+v", n)
	}
	if !strings.HasPrefix(n.Description, "retired: the group has had no data for 30d") {
		t.Errorf("description %q does not say why it resolved", n.Description)
	}
	slo := testSLO()
	slo.Alerting.Windows = []burnrate.Window{{Severity: burnrate.Page, Long: time.Hour, Short: 5 * time.Minute, BurnRate: 14.4}}
	if keys := AlertKeys(slo, `{model="m2"}`); len(keys) != 1 || keys[0] != n.DedupKey {
		t.Errorf("alert keys %v, want [%s]", keys, n.DedupKey)
	}
}

// slothGettingStarted is Sloth's getting-started file, as far as labels go: its page and ticket
// alerts carry severity labels of their own, which Alertmanager routes written for Sloth match.
const slothGettingStarted = `version: "prometheus/v1"
service: "myservice"
labels:
  owner: "myteam"
slos:
  - name: "requests-availability"
    objective: 99.9
    sli:
      events:
        error_query: sum(rate(http_request_duration_seconds_count{job="myservice",code=~"(5..|429)"}[{{.window}}]))
        total_query: sum(rate(http_request_duration_seconds_count{job="myservice"}[{{.window}}]))
    alerting:
      name: MyServiceHighErrorRate
      labels:
        category: "availability"
      page_alert:
        labels:
          severity: pageteam
          routing_key: myteam
      ticket_alert:
        labels:
          severity: "slack"
          slack_channel: "#alerts-myteam"
`

// TestSlothSeverityLabels: the severity labels of a Sloth file win on the delivered alert (they
// used to be replaced by slod's tier, so Alertmanager routes written for Sloth stopped matching),
// while routes and silences inside slod still match the tier.
func TestSlothSeverityLabels(t *testing.T) {
	slos, _, err := rules.Parse("sloth.yaml", []byte(slothGettingStarted))
	if err != nil {
		t.Fatal(err)
	}
	router := receiver.NewRouter([]receiver.Route{
		{Match: map[string]string{"severity": "page"}, Receiver: "oncall"},
		{Match: map[string]string{"severity": "ticket"}, Receiver: "tickets"},
	})
	for _, c := range []struct {
		tier      burnrate.Severity
		delivered string
		receiver  string
	}{{burnrate.Page, "pageteam", "oncall"}, {burnrate.Ticket, "slack", "tickets"}} {
		tr := burnrate.Transition{Severity: c.tier, From: burnrate.Inactive, To: burnrate.Firing, At: t0, FiredAt: t0}
		n, ok := FromTransition(slos[0], nil, tr, burnrate.Status{}, "")
		if !ok {
			t.Fatal("no notification")
		}
		if n.Labels["severity"] != c.delivered || n.Severity != string(c.tier) || n.Labels["alertname"] != "MyServiceHighErrorRate" {
			t.Errorf("%s: labels %v, severity %q; want the file's severity %q delivered and the tier kept", c.tier, n.Labels, n.Severity, c.delivered)
		}
		if m := n.MatchLabels(); m["severity"] != string(c.tier) || m["owner"] != "myteam" || n.Labels["severity"] != c.delivered {
			t.Errorf("%s: match labels %v (delivered %v), want severity %s", c.tier, m, n.Labels, c.tier)
		}
		silence := Silence{ID: "s", Matchers: []Matcher{{Name: "severity", Value: string(c.tier), IsEqual: true}}, StartsAt: t0, EndsAt: t0.Add(time.Hour)}
		res := Reconciler{Router: router}.Reconcile(nil, []Notification{n}, nil, t0)
		if len(res.Enqueue) != 1 || res.Enqueue[0].Receiver != c.receiver || res.Enqueue[0].Notification.Labels["severity"] != c.delivered {
			t.Errorf("%s: enqueued %+v, want one to %s with severity %q", c.tier, res.Enqueue, c.receiver, c.delivered)
		}
		if res := (Reconciler{Router: router}).Reconcile(nil, []Notification{n}, []Silence{silence}, t0); len(res.Enqueue) != 0 || len(res.Silenced) != 1 {
			t.Errorf("%s: a silence of severity=%s did not hold the alert back: %+v", c.tier, c.tier, res)
		}
	}
}

// TestNoResolve: a severity whose resolve the SLO does not want has its triggers say so, and no
// resolve goes out for them, across a reload that removes the SLO too.
func TestNoResolve(t *testing.T) {
	slo := testSLO()
	slo.Alerting.NoResolve = map[burnrate.Severity]bool{burnrate.Page: true}
	at := t0
	fire := func(sev burnrate.Severity) burnrate.Transition {
		return burnrate.Transition{Severity: sev, From: burnrate.Inactive, To: burnrate.Firing, At: at, FiredAt: at}
	}
	stop := func(sev burnrate.Severity) burnrate.Transition {
		return burnrate.Transition{Severity: sev, From: burnrate.Firing, To: burnrate.Inactive, At: at.Add(time.Hour), FiredAt: at}
	}
	var changes []Notification
	for _, tr := range []burnrate.Transition{fire(burnrate.Page), fire(burnrate.Ticket)} {
		n, _ := FromTransition(slo, nil, tr, burnrate.Status{}, "")
		changes = append(changes, n)
	}
	if !changes[0].NoResolve || changes[1].NoResolve {
		t.Fatalf("NoResolve on page/ticket triggers = %v/%v, want true/false", changes[0].NoResolve, changes[1].NoResolve)
	}
	r := Reconciler{Router: receiver.NewRouter([]receiver.Route{{Receiver: "oncall"}})}
	res := r.Reconcile(nil, changes, nil, at)
	var stops []Notification
	for _, tr := range []burnrate.Transition{stop(burnrate.Page), stop(burnrate.Ticket)} {
		n, _ := FromTransition(slo, nil, tr, burnrate.Status{}, "")
		stops = append(stops, n)
	}
	res = r.Reconcile(res.State, stops, nil, at.Add(time.Hour))
	if len(res.Enqueue) != 1 || res.Enqueue[0].Notification.Severity != "ticket" || len(res.State) != 0 {
		t.Errorf("enqueued %+v, state %v: want only the ticket's resolve, and both alerts forgotten", res.Enqueue, res.State)
	}

	res = r.Reconcile(nil, changes[:1], nil, at)
	gone := ResolveMissing(res.State, func(string) bool { return false }, at.Add(time.Hour))
	if res = r.Reconcile(res.State, gone, nil, at.Add(time.Hour)); len(res.Enqueue) != 0 {
		t.Errorf("a removed SLO's page was resolved: %+v", res.Enqueue)
	}
}

func TestStatusURL(t *testing.T) {
	for _, tc := range []struct{ ext, svc, name, group, want string }{
		{"https://slod.example/", "chat-api", "availability", "", "https://slod.example/slo/chat-api/availability"},
		{"https://x/slod", "gw", "avail", `{model="code"}`, "https://x/slod/slo/gw/avail%7Bmodel=%22code%22%7D"},
		{"", "gw", "avail", "", ""},
	} {
		if got := StatusURL(tc.ext, tc.svc, tc.name, tc.group); got != tc.want {
			t.Errorf("StatusURL(%q, %q, %q, %q) = %q, want %q", tc.ext, tc.svc, tc.name, tc.group, got, tc.want)
		}
	}
}
