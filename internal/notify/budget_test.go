package notify

import (
	"slices"
	"testing"

	"github.com/slod-dev/slod/internal/burnrate"
)

// A budget alert is its own incident (…/ticket/budget beside …/ticket), named SLOErrorBudget, and
// its notifications state the budget left against the threshold, when it fires and when it
// resolves; the SLO's own summary (about burning budget) is not used for it.
func TestBudgetAlertNotification(t *testing.T) {
	slo := testSLO()
	slo.Alerting.Budget = []burnrate.BudgetAlert{{Severity: burnrate.Ticket, Below: 0.25}}
	fire := burnrate.Transition{Severity: burnrate.Ticket, Budget: true, From: burnrate.Inactive, To: burnrate.Firing, At: t0, FiredAt: t0,
		Reason: burnrate.Reason{Threshold: 0.25, Budget: 0.18200000000000002}}
	n, ok := FromTransition(slo, map[string]string{"model": "m2"}, fire, burnrate.Status{BudgetRemaining: 0.1}, "")
	if !ok || n.Action != Trigger {
		t.Fatalf("FromTransition = %+v, %v", n, ok)
	}
	if want := `slod/chat-api/availability/ticket/budget/{model="m2"}`; n.DedupKey != want {
		t.Errorf("dedup key %q, want %q", n.DedupKey, want)
	}
	if n.AlertName != BudgetAlertName || n.Labels["alertname"] != BudgetAlertName || !n.Budget {
		t.Errorf("alertname %q (label %q), budget %v", n.AlertName, n.Labels["alertname"], n.Budget)
	}
	if n.BudgetRemaining != 0.182 || n.BudgetBelow == nil || *n.BudgetBelow != 0.25 {
		t.Errorf("budget remaining %v below %v: want the transition's 0.182 below 0.25", n.BudgetRemaining, n.BudgetBelow)
	}
	if want := `chat-api/availability{model="m2"} has 18.2% of its error budget left, below 25% (objective 99.9% over 30d), ticket`; n.Summary != want {
		t.Errorf("summary %q, want %q", n.Summary, want)
	}
	resolve := fire
	resolve.From, resolve.To, resolve.Reason.Budget = burnrate.Firing, burnrate.Inactive, 0.3
	r, _ := FromTransition(slo, nil, resolve, burnrate.Status{}, "")
	if want := "chat-api/availability has 30% of its error budget left, no longer below 25% (objective 99.9% over 30d), ticket"; r.Action != Resolve || r.Summary != want {
		t.Errorf("resolve %s %q, want %q", r.Action, r.Summary, want)
	}
	if keys := AlertKeys(slo, ""); !slices.Contains(keys, "slod/chat-api/availability/ticket/budget") {
		t.Errorf("AlertKeys %v lack the budget alert's key", keys)
	}
}
