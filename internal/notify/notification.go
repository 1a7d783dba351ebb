package notify

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/common/model"

	"github.com/slod-dev/slod/internal/burnrate"
)

// Action is what a notification asks the receiver to do with the incident of its dedup key.
type Action string

// The two actions slod sends: an alert started firing (trigger) or stopped (resolve).
const (
	Trigger Action = "trigger"
	Resolve Action = "resolve"
)

// maxDedupKey is PagerDuty's limit on dedup_key length.
const maxDedupKey = 255

// DefaultAlertName is the alertname of SLOs that do not name their alert.
const DefaultAlertName = "SLOBurnRate"

// FiredWindow is the window pair that made an alert fire, with the burn rates it saw.
type FiredWindow struct {
	Long  model.Duration `json:"long"`
	Short model.Duration `json:"short"`
	// BurnRate is the pair's configured burn rate; Threshold the error ratio it stands for.
	BurnRate      float64 `json:"burn_rate"`
	Threshold     float64 `json:"threshold"`
	LongBurnRate  float64 `json:"long_burn_rate"`
	ShortBurnRate float64 `json:"short_burn_rate"`
}

// Notification is one message about one alert: what the outbox stores (as JSON) and what every
// receiver renders in its own format. It is self-contained so that it can be delivered after a
// restart or a reload that removed its SLO.
type Notification struct {
	// DedupKey identifies the incident: slod/<service>/<name>/<severity>[/no_data|/budget][/<group>],
	// ≤ 255 bytes.
	DedupKey string `json:"dedup_key"`
	Action   Action `json:"action"`
	Service  string `json:"service"`
	SLO      string `json:"slo"`
	// Group is the group's labels for a grouped SLO (also among Labels).
	Group    map[string]string `json:"group,omitempty"`
	Severity string            `json:"severity"`
	// NoData marks the alert raised when the SLI has had no data for a while.
	NoData bool `json:"no_data,omitempty"`
	// Budget marks a budget alert: BudgetRemaining fell below BudgetBelow (fractions of the
	// period's budget).
	Budget      bool              `json:"budget,omitempty"`
	BudgetBelow *float64          `json:"budget_below,omitempty"`
	AlertName   string            `json:"alertname"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Summary     string            `json:"summary"`
	Description string            `json:"description,omitempty"`
	// Objective is a ratio (0.999).
	Objective float64 `json:"objective"`
	// Window is the window pair that fired (absent for no-data alerts).
	Window *FiredWindow `json:"window,omitempty"`
	// PeakBurnRate is the highest short-window burn rate seen while firing.
	PeakBurnRate    float64 `json:"peak_burn_rate"`
	BudgetRemaining float64 `json:"budget_remaining"`
	// TimeToExhaustion is how long the remaining budget lasts at the current burn rate; absent
	// when the budget is not being spent.
	TimeToExhaustion *model.Duration `json:"time_to_exhaustion,omitempty"`
	RunbookURL       string          `json:"runbook_url,omitempty"`
	StatusURL        string          `json:"status_url,omitempty"`
	// StartsAt is when the alert started firing; EndsAt when it stopped (resolve only).
	StartsAt time.Time  `json:"starts_at"`
	EndsAt   *time.Time `json:"ends_at,omitempty"`
	// NoResolve, on a trigger, says that no resolve will follow: the SLO asks for none for this
	// severity (rules.Alerting.NoResolve), so its incident is closed by a person.
	NoResolve bool `json:"no_resolve,omitempty"`
}

// DedupKey returns the incident key of one alert of an SLO: stable across restarts and across
// the replicas of an HA pair, so both open the same PagerDuty incident. Keys longer than
// PagerDuty's 255 bytes keep a readable prefix and replace the tail by a hash of the whole key.
func DedupKey(service, name, severity string, noData bool) string {
	return GroupDedupKey(service, name, severity, noData, "")
}

// GroupDedupKey is DedupKey of one group of a grouped SLO: the key of the SLO's alert followed by
// "/" and the group's labels in their stable form (sli.GroupKey: {model="m2"}); group "" is the
// SLO's own key.
func GroupDedupKey(service, name, severity string, noData bool, group string) string {
	kind := ""
	if noData {
		kind = "no_data"
	}
	return alertKey(service, name, severity, kind, group)
}

// BudgetDedupKey is the incident key of a budget alert of an SLO (of its group; "" for the SLO
// itself): slod/<service>/<name>/<severity>/budget[/<group>], its own incident beside the
// burn-rate alert of the same severity.
func BudgetDedupKey(service, name, severity, group string) string {
	return alertKey(service, name, severity, "budget", group)
}

// AlertDedupKey is the incident key of the alert a of an SLO's instance: GroupDedupKey, or
// BudgetDedupKey for a budget alert; the key FromTransition gives the alert's notifications.
func AlertDedupKey(service, name string, a burnrate.AlertState, group string) string {
	return alertDedupKey(service, name, a.Severity, a.NoData, a.Budget, group)
}

// alertDedupKey is the incident key of an SLO's burn-rate, no-data or budget alert of severity
// sev, the one rule both AlertDedupKey and FromTransition follow.
func alertDedupKey(service, name string, sev burnrate.Severity, noData, budget bool, group string) string {
	if budget {
		return BudgetDedupKey(service, name, string(sev), group)
	}
	return GroupDedupKey(service, name, string(sev), noData, group)
}

// alertKey builds an incident key; kind is "" for a burn-rate alert, else no_data or budget.
func alertKey(service, name, severity, kind, group string) string {
	k := "slod/" + service + "/" + name + "/" + severity
	if kind != "" {
		k += "/" + kind
	}
	if group != "" {
		k += "/" + group
	}
	if len(k) <= maxDedupKey {
		return k
	}
	sum := sha256.Sum256([]byte(k))
	h := hex.EncodeToString(sum[:16])
	prefix := k[:maxDedupKey-len(h)-1]
	// Do not cut a multi-byte rune in half.
	for !utf8.ValidString(prefix) {
		prefix = prefix[:len(prefix)-1]
	}
	return prefix + "~" + h
}

// StatusURL is the link to an SLO's page on slod's status page (/slo/<service>/<name>, the name of
// a group followed by its key: /slo/gw/availability%7Bmodel=%22code%22%7D), or "" without an
// external URL.
func StatusURL(externalURL, service, name, groupKey string) string {
	if externalURL == "" {
		return ""
	}
	return strings.TrimRight(externalURL, "/") + "/slo/" + url.PathEscape(service) + "/" + url.PathEscape(name+groupKey)
}

// MatchLabels are the labels routes and silences match: the delivered labels with `severity`
// set to the alert's tier (n.Severity: page, ticket, ...), whatever severity label the SLO file
// gave the delivered alert. Routing thus keeps working on the tier for a Sloth file whose
// page_alert labels say severity: pageteam.
func (n Notification) MatchLabels() map[string]string {
	if n.Severity == "" || n.Labels["severity"] == n.Severity {
		return n.Labels
	}
	m := maps.Clone(n.Labels)
	if m == nil {
		m = map[string]string{}
	}
	m["severity"] = n.Severity
	return m
}

// MarshalPayload encodes n as the outbox stores it.
func (n Notification) MarshalPayload() ([]byte, error) {
	b, err := json.Marshal(n)
	if err != nil {
		return nil, fmt.Errorf("encoding notification %s: %w", n.DedupKey, err)
	}
	return b, nil
}

// UnmarshalPayload decodes an outbox payload written by MarshalPayload.
func UnmarshalPayload(b []byte) (Notification, error) {
	var n Notification
	if err := json.Unmarshal(b, &n); err != nil {
		return n, fmt.Errorf("decoding notification: %w", err)
	}
	if n.DedupKey == "" || (n.Action != Trigger && n.Action != Resolve) {
		return n, fmt.Errorf("decoding notification: missing dedup_key or action %q", n.Action)
	}
	return n, nil
}

// Firing reports whether n opens (or refreshes) an incident.
func (n Notification) Firing() bool { return n.Action == Trigger }

// clone returns a deep copy, so a Notification kept in reconciliation state never aliases the
// maps of one handed to a receiver.
func (n Notification) clone() Notification {
	n.Labels = maps.Clone(n.Labels)
	n.Annotations = maps.Clone(n.Annotations)
	if n.Window != nil {
		w := *n.Window
		n.Window = &w
	}
	if n.TimeToExhaustion != nil {
		d := *n.TimeToExhaustion
		n.TimeToExhaustion = &d
	}
	if n.BudgetBelow != nil {
		b := *n.BudgetBelow
		n.BudgetBelow = &b
	}
	if n.EndsAt != nil {
		t := *n.EndsAt
		n.EndsAt = &t
	}
	return n
}

// resolved returns the resolve notification of a firing one, ended at `at`.
func (n Notification) resolved(at time.Time) Notification {
	r := n.clone()
	r.Action = Resolve
	at = at.UTC()
	r.EndsAt = &at
	return r
}

// truncateRunes shortens s to at most max runes, ending with an ellipsis when it was cut.
func truncateRunes(s string, max int) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	if max <= 0 {
		return ""
	}
	n := 0
	for i := range s {
		if n == max-1 {
			return s[:i] + "…"
		}
		n++
	}
	return s
}
