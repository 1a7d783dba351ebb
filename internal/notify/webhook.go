package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"

	"github.com/benbjohnson/clock"

	"github.com/slod-dev/slod/internal/receiver"
	"github.com/slod-dev/slod/internal/secret"
)

// WebhookVersion is the version of the WebhookMessage format; it changes when a field changes
// meaning or goes away (added fields do not change it).
const WebhookVersion = "1"

// WebhookMessage is the JSON body the webhook receiver POSTs, one per notification:
//
//	{"version": "1", "receiver": "audit", "status": "firing",   // or "resolved"
//	 "dedup_key": "slod/chat-api/availability/page", "action": "trigger",
//	 "service": "chat-api", "slo": "availability", "severity": "page", "alertname": "SLOBurnRate",
//	 "labels": {...}, "annotations": {...}, "summary": "...", "description": "...",
//	 "objective": 0.999, "window": {"long": "1h", "short": "5m", "burn_rate": 14.4,
//	 "threshold": 0.0144, "long_burn_rate": 20.1, "short_burn_rate": 31.7},
//	 "peak_burn_rate": 31.7, "budget_remaining": 0.42, "time_to_exhaustion": "2d3h",
//	 "runbook_url": "...", "status_url": "...", "starts_at": "...", "ends_at": "..."}
//
// The fields after "status" are those of Notification. A receiver should answer 2xx; 429 and 5xx
// are retried with backoff, any other 4xx drops the message.
type WebhookMessage struct {
	Version  string `json:"version"`
	Receiver string `json:"receiver"`
	// Status is "firing" for a trigger and "resolved" for a resolve.
	Status string `json:"status"`
	Notification
}

// Webhook POSTs a WebhookMessage to a URL.
type Webhook struct {
	delivery
	name    string
	target  string
	headers map[string]secret.Secret
	client  *http.Client
	clock   clock.Clock
}

// NewWebhook builds a webhook receiver.
func NewWebhook(name string, c *receiver.WebhookConfig, opt Options) (*Webhook, error) {
	opt = opt.withDefaults()
	if c.URL == "" {
		return nil, fmt.Errorf("webhook url is required")
	}
	return &Webhook{
		name:    name,
		target:  c.URL,
		headers: maps.Clone(c.Headers),
		client:  &http.Client{Transport: opt.Transport, Timeout: durationOr(c.Timeout, receiver.DefaultTimeout)},
		clock:   opt.Clock,
	}, nil
}

// Message renders n as the webhook body.
func (w *Webhook) Message(n Notification) WebhookMessage {
	st := "firing"
	if n.Action == Resolve {
		st = "resolved"
	}
	return WebhookMessage{Version: WebhookVersion, Receiver: w.name, Status: st, Notification: n}
}

// Notify posts one message.
func (w *Webhook) Notify(ctx context.Context, n Notification) (bool, error) {
	body, err := json.Marshal(w.Message(n))
	if err != nil {
		return false, fmt.Errorf("receiver %q: encoding webhook message: %w", w.name, err)
	}
	res, err := postJSON(ctx, w.client, w.clock.Now(), w.target, w.headers, body)
	if err != nil {
		return true, fmt.Errorf("receiver %q: posting webhook: %w", w.name, err)
	}
	return classifyStatus(w.name, res)
}
