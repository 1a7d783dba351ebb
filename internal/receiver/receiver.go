// Package receiver holds the receiver and route configuration of the daemon (the `receivers:` and
// `routes:` sections of slod.yml): the types the config decodes into, their validation, the
// defaults the senders apply, and the Router that picks a receiver for an alert. It is a leaf that
// knows nothing of sending or storing, so the config loader can use it without pulling in the
// senders (package notify) or the store.
package receiver

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"golang.org/x/net/http/httpguts"

	"github.com/slod-dev/slod/internal/secret"
)

// Defaults applied by the constructors when a field is left out. They live here, in one place.
const (
	// DefaultResendInterval is Alertmanager's own default for how often a firing alert must be
	// re-sent before it is considered resolved by timeout (its resolve_timeout is 5m; 4 × 1m fits).
	DefaultResendInterval = time.Minute
	// DefaultTimeout bounds one HTTP delivery attempt; a slower receiver is retried later.
	DefaultTimeout = 10 * time.Second
	// DefaultPagerDutyURL is the public Events API v2 base URL.
	DefaultPagerDutyURL = "https://events.pagerduty.com"
	// DefaultPagerDutyEventsPerMinute is PagerDuty's documented Events API v2 rate limit per
	// routing key (about 120 events per minute).
	DefaultPagerDutyEventsPerMinute = 120
	// DefaultMaxRetryAfter caps a receiver's Retry-After: a proxy in maintenance asking for an
	// hour must not hold a page for an hour when the receiver may be back in seconds.
	DefaultMaxRetryAfter = 2 * time.Minute
	// DefaultRepeatInterval is how often a notification the receiver rejected (a 4xx other than
	// 408 and 429) is sent again while it is pending: a proxy or WAF that answers 400 for a
	// while must not cost the page of an alert that keeps firing.
	DefaultRepeatInterval = 30 * time.Second
)

// Config is one entry of the daemon config's `receivers:` list (docs/interfaces.md §3). Exactly
// one of PagerDuty, Alertmanager and Webhook is set.
type Config struct {
	Name string `yaml:"name" json:"name"`
	// MaxRetryAfter caps how long the receiver's Retry-After may hold a notification back
	// (default 2m); the receiver is asked again after that.
	MaxRetryAfter model.Duration `yaml:"max_retry_after,omitempty" json:"max_retry_after,omitempty"`
	// RepeatInterval is how often a notification the receiver rejected is sent again while it
	// is pending (default 30s): a trigger until it is accepted or its alert resolves, a resolve
	// until it is accepted or its alert fires again.
	RepeatInterval model.Duration      `yaml:"repeat_interval,omitempty" json:"repeat_interval,omitempty"`
	PagerDuty      *PagerDutyConfig    `yaml:"pagerduty,omitempty" json:"pagerduty,omitempty"`
	Alertmanager   *AlertmanagerConfig `yaml:"alertmanager,omitempty" json:"alertmanager,omitempty"`
	Webhook        *WebhookConfig      `yaml:"webhook,omitempty" json:"webhook,omitempty"`
}

// PagerDutyConfig configures a PagerDuty Events API v2 receiver.
type PagerDutyConfig struct {
	// RoutingKey is the integration key of a PagerDuty service; RoutingKeyFile is its `*_file`
	// twin (read once, when the receiver is built; surrounding whitespace trimmed). Set one.
	RoutingKey     secret.Secret `yaml:"routing_key,omitempty" json:"routing_key,omitempty"`
	RoutingKeyFile string        `yaml:"routing_key_file,omitempty" json:"routing_key_file,omitempty"`
	// URL is the Events API base URL (default https://events.pagerduty.com); events go to
	// <url>/v2/enqueue. Override it for proxies and tests.
	URL string `yaml:"url,omitempty" json:"url,omitempty"`
	// Severity maps slod severities to PagerDuty severities; unset entries default to
	// page → critical, ticket → warning, anything else → error.
	Severity map[string]string `yaml:"severities,omitempty" json:"severities,omitempty"`
	// Source is the payload's source (default: the slod instance name, else the SLO's service).
	Source string `yaml:"source,omitempty" json:"source,omitempty"`
	// Component, Group and Class name the alert labels copied into the payload fields of the
	// same name (defaults: component, team, alertname).
	Component string `yaml:"component_label,omitempty" json:"component_label,omitempty"`
	Group     string `yaml:"group_label,omitempty" json:"group_label,omitempty"`
	Class     string `yaml:"class_label,omitempty" json:"class_label,omitempty"`
	// EventsPerMinute is the rate limit per routing key (default 120, PagerDuty's own limit).
	EventsPerMinute int `yaml:"events_per_minute,omitempty" json:"events_per_minute,omitempty"`
	// Timeout bounds one delivery attempt (default 10s).
	Timeout model.Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
}

// AlertmanagerConfig configures an Alertmanager API v2 receiver.
type AlertmanagerConfig struct {
	// URL is Alertmanager's base URL; alerts are POSTed to <url>/api/v2/alerts.
	URL string `yaml:"url" json:"url"`
	// ResendInterval is how often a firing alert is re-sent (default 1m). Alertmanager resolves
	// an alert by itself once its endsAt passes, so slod sends endsAt = now + 4 × this interval.
	ResendInterval model.Duration `yaml:"resend_interval,omitempty" json:"resend_interval,omitempty"`
	// Timeout bounds one delivery attempt (default 10s).
	Timeout model.Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
}

// WebhookConfig configures a generic webhook receiver (the JSON body is WebhookMessage).
type WebhookConfig struct {
	URL string `yaml:"url" json:"url"`
	// Headers are added to every request; values are secrets because they often carry tokens.
	Headers map[string]secret.Secret `yaml:"headers,omitempty" json:"headers,omitempty"`
	// Timeout bounds one delivery attempt (default 10s).
	Timeout model.Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
}

// Route sends the alerts whose labels (severity included) equal every entry of Match to
// Receiver. Routes are tried in order; the first match wins. An empty Match matches everything.
// `severity` is the alert's tier (page, ticket, ...), even where the SLO file gives the delivered
// alert a severity label of its own (notify.Notification.MatchLabels).
type Route struct {
	Match    map[string]string `yaml:"match,omitempty" json:"match,omitempty"`
	Receiver string            `yaml:"receiver" json:"receiver"`
}

// FieldError is a validation error naming the field at fault, like
// `receivers[0].pagerduty.routing_key: ...`, so the daemon's loader can point at it (and the
// silences API, whose validation errors are FieldErrors too, can name it in its JSON).
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// labelNameRE is Prometheus' classic label name syntax, which Alertmanager's API v2 enforces.
var labelNameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

var receiverNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// routingKeyLen is the length of a PagerDuty Events API v2 integration (routing) key.
const routingKeyLen = 32

// pagerDutySeverities are the payload severities the Events API v2 accepts.
var pagerDutySeverities = map[string]bool{"critical": true, "error": true, "warning": true, "info": true}

// Validate checks the receivers and routes of a daemon config together and returns every problem
// at once (errors.Join of *FieldError), or nil. It does not read routing_key_file: the file is
// read when the receiver is built, after the loader resolved its path.
func Validate(receivers []Config, routes []Route) error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	names := map[string]bool{}
	for i, r := range receivers {
		p := fmt.Sprintf("receivers[%d]", i)
		switch {
		case r.Name == "":
			add(p+".name", "missing required field")
		case !receiverNameRE.MatchString(r.Name):
			add(p+".name", "%q: must match %s", r.Name, receiverNameRE)
		case names[r.Name]:
			add(p+".name", "duplicate receiver %q", r.Name)
		}
		names[r.Name] = true
		validateTimeout(p+".max_retry_after", r.MaxRetryAfter, add)
		validateTimeout(p+".repeat_interval", r.RepeatInterval, add)
		n := 0
		if r.PagerDuty != nil {
			n++
			validatePagerDuty(p+".pagerduty", r.PagerDuty, add)
		}
		if r.Alertmanager != nil {
			n++
			validateURL(p+".alertmanager.url", r.Alertmanager.URL, add)
			if r.Alertmanager.ResendInterval < 0 {
				add(p+".alertmanager.resend_interval", "must be positive")
			}
			validateTimeout(p+".alertmanager.timeout", r.Alertmanager.Timeout, add)
		}
		if r.Webhook != nil {
			n++
			validateURL(p+".webhook.url", r.Webhook.URL, add)
			for h, v := range r.Webhook.Headers {
				if h == "" || strings.ContainsAny(h, " :\r\n") {
					add(p+".webhook.headers", "invalid header name %q", h)
				} else if !httpguts.ValidHeaderFieldValue(v.Reveal()) {
					// Go's HTTP client would refuse every request, so every delivery would fail
					// until the next reload. The value is a secret: it is not shown.
					add(p+".webhook.headers."+h, "the value holds a control character (a newline?), which HTTP does not allow")
				}
			}
			validateTimeout(p+".webhook.timeout", r.Webhook.Timeout, add)
		}
		if n != 1 {
			add(p, "exactly one of pagerduty, alertmanager, webhook must be set (got %d)", n)
		}
	}
	for i, rt := range routes {
		p := fmt.Sprintf("routes[%d]", i)
		switch {
		case rt.Receiver == "":
			add(p+".receiver", "missing required field")
		case !names[rt.Receiver]:
			add(p+".receiver", "unknown receiver %q", rt.Receiver)
		}
		for k := range rt.Match {
			if !labelNameRE.MatchString(k) {
				add(p+".match", "invalid label name %q", k)
			}
		}
	}
	return errors.Join(errs...)
}

func validatePagerDuty(p string, c *PagerDutyConfig, add func(string, string, ...any)) {
	switch {
	case c.RoutingKey == "" && c.RoutingKeyFile == "":
		add(p+".routing_key", "one of routing_key, routing_key_file is required")
	case c.RoutingKey != "" && c.RoutingKeyFile != "":
		add(p+".routing_key", "routing_key and routing_key_file are mutually exclusive")
	case c.RoutingKey != "" && len(c.RoutingKey) != routingKeyLen:
		// Never echo the key itself: only its length.
		add(p+".routing_key", "must be 32 characters (got %d)", len(c.RoutingKey))
	}
	if c.URL != "" {
		validateURL(p+".url", c.URL, add)
	}
	for k, v := range c.Severity {
		if !pagerDutySeverities[v] {
			add(p+".severities."+k, "%q: must be one of critical, error, warning, info", v)
		}
	}
	if c.EventsPerMinute < 0 {
		add(p+".events_per_minute", "must be positive")
	}
	validateTimeout(p+".timeout", c.Timeout, add)
}

// validateTimeout checks a duration field that must not be negative (zero means its default).
func validateTimeout(field string, d model.Duration, add func(string, string, ...any)) {
	if d < 0 {
		add(field, "must be positive")
	}
}

func validateURL(field, raw string, add func(string, string, ...any)) {
	if raw == "" {
		add(field, "missing required field")
		return
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// The URL itself may carry credentials (user:password@host), so it is not echoed.
		add(field, "must be an absolute http or https URL")
	}
}

// ReadRoutingKey returns the routing key of c, reading routing_key_file if that is how it is set.
func (c *PagerDutyConfig) ReadRoutingKey() (secret.Secret, error) {
	if c.RoutingKeyFile == "" {
		if c.RoutingKey == "" {
			return "", errors.New("routing_key or routing_key_file is required")
		}
		return c.RoutingKey, nil
	}
	b, err := os.ReadFile(c.RoutingKeyFile)
	if err != nil {
		return "", fmt.Errorf("reading routing_key_file: %w", err)
	}
	k := strings.TrimSpace(string(b))
	if len(k) != routingKeyLen {
		// Only the length: the file's content may be a key with a stray character.
		return "", fmt.Errorf("routing_key_file %s: a routing key has %d characters, the file holds %d", c.RoutingKeyFile, routingKeyLen, len(k))
	}
	return secret.Secret(k), nil
}

// Router picks the receiver of a notification: the first route whose Match entries all equal the
// notification's labels (its severity is one of them).
type Router struct {
	routes []Route
}

// NewRouter returns a Router over routes, tried in order.
func NewRouter(routes []Route) *Router {
	return &Router{routes: append([]Route(nil), routes...)}
}

// Route returns the receiver for an alert with these labels, and false when no route matches.
func (r *Router) Route(labels map[string]string) (string, bool) {
	if r == nil {
		return "", false
	}
next:
	for _, rt := range r.routes {
		for k, v := range rt.Match {
			if labels[k] != v {
				continue next
			}
		}
		return rt.Receiver, true
	}
	return "", false
}
