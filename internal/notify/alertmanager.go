package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"time"

	"github.com/benbjohnson/clock"

	"github.com/slod-dev/slod/internal/receiver"
)

// Alertmanager delivers notifications to Alertmanager's API v2 (POST /api/v2/alerts), the way
// Prometheus does: a firing alert carries endsAt = now + 4 × the resend interval and must be
// re-sent before that (Reconcile does, see Resender); a resolved one carries endsAt = the time
// it resolved.
type Alertmanager struct {
	delivery
	name   string
	target string
	resend time.Duration
	client *http.Client
	clock  clock.Clock
}

// AlertmanagerAlert is one alert of the API v2 postable alerts body.
type AlertmanagerAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// NewAlertmanager builds an Alertmanager receiver.
func NewAlertmanager(name string, c *receiver.AlertmanagerConfig, opt Options) (*Alertmanager, error) {
	opt = opt.withDefaults()
	if c.URL == "" {
		return nil, fmt.Errorf("alertmanager url is required")
	}
	return &Alertmanager{
		name:   name,
		target: strings.TrimRight(c.URL, "/") + "/api/v2/alerts",
		resend: durationOr(c.ResendInterval, receiver.DefaultResendInterval),
		client: &http.Client{Transport: opt.Transport, Timeout: durationOr(c.Timeout, receiver.DefaultTimeout)},
		clock:  opt.Clock,
	}, nil
}

// ResendInterval implements Resender.
func (a *Alertmanager) ResendInterval() time.Duration { return a.resend }

// Alert renders n as Alertmanager sees it, with endsAt computed for a send at `now`.
func (a *Alertmanager) Alert(n Notification, now time.Time) AlertmanagerAlert {
	labels := make(map[string]string, len(n.Labels))
	for k, v := range n.Labels {
		// Alertmanager treats an empty label as an absent one; dropping it keeps fingerprints
		// identical across sends.
		if v != "" {
			labels[k] = v
		}
	}
	ann := maps.Clone(n.Annotations)
	if ann == nil {
		ann = map[string]string{}
	}
	setDefault(ann, "summary", n.Summary)
	setDefault(ann, "description", n.Description)
	setDefault(ann, "runbook_url", n.RunbookURL)
	setDefault(ann, "objective", percent(n.Objective))
	setDefault(ann, "budget_remaining", percent(n.BudgetRemaining))
	if n.Window != nil {
		setDefault(ann, "burn_rate", fmt.Sprintf("%s over %s, %s over %s (threshold %s)",
			fmtFloat(n.Window.LongBurnRate), n.Window.Long, fmtFloat(n.Window.ShortBurnRate), n.Window.Short, fmtFloat(n.Window.BurnRate)))
	}
	if n.TimeToExhaustion != nil {
		setDefault(ann, "time_to_exhaustion", n.TimeToExhaustion.String())
	}
	al := AlertmanagerAlert{
		Labels:       labels,
		Annotations:  ann,
		StartsAt:     n.StartsAt.UTC(),
		GeneratorURL: n.StatusURL,
	}
	switch {
	case n.Action == Resolve && n.EndsAt != nil:
		al.EndsAt = n.EndsAt.UTC()
	case n.Action == Resolve:
		al.EndsAt = now.UTC()
	default:
		// Alertmanager resolves an alert by itself once endsAt passes; four resend intervals
		// survive three lost resends, as Prometheus does.
		al.EndsAt = now.Add(4 * a.resend).UTC()
	}
	return al
}

// Notify posts one alert.
func (a *Alertmanager) Notify(ctx context.Context, n Notification) (bool, error) {
	now := a.clock.Now()
	body, err := json.Marshal([]AlertmanagerAlert{a.Alert(n, now)})
	if err != nil {
		return false, fmt.Errorf("receiver %q: encoding alert: %w", a.name, err)
	}
	res, err := postJSON(ctx, a.client, now, a.target, nil, body)
	if err != nil {
		return true, fmt.Errorf("receiver %q: posting to Alertmanager: %w", a.name, err)
	}
	return classifyStatus(a.name, res)
}

func setDefault(m map[string]string, k, v string) {
	if _, ok := m[k]; !ok && v != "" {
		m[k] = v
	}
}
