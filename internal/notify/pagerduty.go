package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/PagerDuty/go-pagerduty"
	"github.com/benbjohnson/clock"

	"github.com/slod-dev/slod/internal/receiver"
	"github.com/slod-dev/slod/internal/secret"
)

// maxSummaryRunes is PagerDuty's limit on payload.summary.
const maxSummaryRunes = 1024

// PagerDuty delivers notifications as Events API v2 events through go-pagerduty: trigger when an
// alert starts firing, resolve when it stops, both on the alert's dedup key, so PagerDuty keeps
// one incident per alert however often (or by however many replicas) it is sent.
type PagerDuty struct {
	delivery
	name     string
	key      secret.Secret
	baseURL  string
	client   *pagerduty.Client
	severity map[string]string
	source   string
	labels   [3]string // component, group, class
	timeout  time.Duration
	limiter  *tokenBucket
	clock    clock.Clock
}

// NewPagerDuty builds a PagerDuty receiver; it reads routing_key_file now, so a missing file fails
// the (re)load instead of the first page.
func NewPagerDuty(name string, c *receiver.PagerDutyConfig, opt Options) (*PagerDuty, error) {
	opt = opt.withDefaults()
	key, err := c.ReadRoutingKey()
	if err != nil {
		return nil, err
	}
	base := strings.TrimRight(c.URL, "/")
	if base == "" {
		base = receiver.DefaultPagerDutyURL
	}
	p := &PagerDuty{
		name:     name,
		key:      key,
		baseURL:  base,
		severity: map[string]string{"page": "critical", "ticket": "warning"},
		source:   c.Source,
		labels:   [3]string{"component", "team", "alertname"},
		timeout:  durationOr(c.Timeout, receiver.DefaultTimeout),
		clock:    opt.Clock,
	}
	if p.source == "" {
		p.source = opt.Instance
	}
	for k, v := range c.Severity {
		p.severity[k] = v
	}
	for i, l := range []string{c.Component, c.Group, c.Class} {
		if l != "" {
			p.labels[i] = l
		}
	}
	perMin := c.EventsPerMinute
	if perMin == 0 {
		perMin = receiver.DefaultPagerDutyEventsPerMinute
	}
	p.limiter = opt.Limiters.get(opt.Clock, key, perMin)
	p.client = pagerduty.NewClient("", pagerduty.WithV2EventsAPIEndpoint(base))
	p.client.HTTPClient = &captureClient{client: &http.Client{Transport: opt.Transport}}
	return p, nil
}

// Notify sends one event. It waits for a token of the routing key's rate limiter without
// blocking: when none is left it returns a *RateLimitError and the dispatcher comes back later.
func (p *PagerDuty) Notify(ctx context.Context, n Notification) (bool, error) {
	if ok, wait := p.limiter.take(); !ok {
		return true, &RateLimitError{After: wait, Err: fmt.Errorf("receiver %q: PagerDuty rate limit of the routing key reached", p.name)}
	}
	ev := p.Event(n)
	capt := &capture{now: p.clock.Now()}
	ctx, cancel := context.WithTimeout(context.WithValue(ctx, captureKey{}, capt), p.timeout)
	defer cancel()
	_, err := p.client.ManageEventWithContext(ctx, ev)
	if err == nil {
		return false, nil
	}
	if capt.status/100 == 2 {
		// Accepted; a response body we cannot parse does not undo that.
		return false, nil
	}
	var ae pagerduty.APIError
	if !errors.As(err, &ae) {
		// Transport errors: go-pagerduty formats them with %v, so the cause is taken from the
		// capture, where the URL is already redacted.
		cause := err
		if capt.err != nil {
			cause = capt.err
		}
		return true, fmt.Errorf("receiver %q: sending to PagerDuty: %w", p.name, p.scrub(cause))
	}
	reason := p.scrubString(capt.reason())
	switch ae.StatusCode {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		return false, &HTTPError{Status: ae.StatusCode, Err: fmt.Errorf("receiver %q: PagerDuty rejected the event (HTTP %d): %s", p.name, ae.StatusCode, reason)}
	}
	err = &HTTPError{Status: ae.StatusCode, Err: fmt.Errorf("receiver %q: PagerDuty HTTP %d: %s", p.name, ae.StatusCode, reason)}
	if capt.retryAfter > 0 {
		err = &RetryAfterError{After: capt.retryAfter, Err: err}
	}
	return true, err
}

// Event renders n as the Events API v2 event Notify sends. It carries the routing key in clear:
// it is for the wire only, never for a log line.
func (p *PagerDuty) Event(n Notification) *pagerduty.V2Event {
	ev := &pagerduty.V2Event{
		RoutingKey: p.key.Reveal(),
		DedupKey:   n.DedupKey,
		Client:     "slod",
		ClientURL:  n.StatusURL,
	}
	if n.Action == Resolve {
		// PagerDuty ignores the payload of a resolve; the dedup key is what matters.
		ev.Action = "resolve"
		return ev
	}
	ev.Action = "trigger"
	sev, ok := p.severity[n.Severity]
	if !ok {
		sev = "error"
	}
	source := p.source
	if source == "" {
		source = n.Service
	}
	comp := n.Labels[p.labels[0]]
	if comp == "" {
		comp = n.Service
	}
	ev.Payload = &pagerduty.V2Payload{
		Summary:   truncateRunes(n.Summary, maxSummaryRunes),
		Source:    source,
		Severity:  sev,
		Component: comp,
		Group:     n.Labels[p.labels[1]],
		Class:     n.Labels[p.labels[2]],
		Details:   customDetails(n),
	}
	if !n.StartsAt.IsZero() {
		ev.Payload.Timestamp = n.StartsAt.UTC().Format(time.RFC3339)
	}
	if n.RunbookURL != "" {
		ev.Links = append(ev.Links, map[string]string{"href": n.RunbookURL, "text": "Runbook"})
	}
	if n.StatusURL != "" {
		ev.Links = append(ev.Links, map[string]string{"href": n.StatusURL, "text": "SLO status (slod)"})
	}
	return ev
}

// customDetails is what an on-call engineer reads first: how bad, how fast, how long is left.
func customDetails(n Notification) map[string]any {
	d := map[string]any{
		"slo":              n.Service + "/" + n.SLO,
		"severity":         n.Severity,
		"objective":        percent(n.Objective),
		"peak_burn_rate":   fmtFloat(n.PeakBurnRate),
		"budget_remaining": percent(n.BudgetRemaining),
		"labels":           n.Labels,
	}
	if n.Description != "" {
		d["description"] = n.Description
	}
	if n.NoData {
		d["no_data"] = true
	}
	if n.Budget && n.BudgetBelow != nil {
		d["budget_below"] = percent(*n.BudgetBelow)
	}
	if w := n.Window; w != nil {
		d["window"] = map[string]string{
			"long":            w.Long.String(),
			"short":           w.Short.String(),
			"burn_rate":       fmtFloat(w.BurnRate),
			"threshold":       fmtFloat(w.Threshold),
			"long_burn_rate":  fmtFloat(w.LongBurnRate),
			"short_burn_rate": fmtFloat(w.ShortBurnRate),
		}
	}
	if n.TimeToExhaustion != nil {
		d["time_to_exhaustion"] = n.TimeToExhaustion.String()
	}
	return d
}

// scrub makes sure the routing key cannot reach an error message, whatever a proxy echoes back.
func (p *PagerDuty) scrub(err error) error {
	if err == nil || p.key == "" || !strings.Contains(err.Error(), p.key.Reveal()) {
		return err
	}
	return errors.New(p.scrubString(err.Error()))
}

func (p *PagerDuty) scrubString(s string) string {
	if p.key == "" {
		return s
	}
	return strings.ReplaceAll(s, p.key.Reveal(), secret.Mask)
}

// captureKey carries a *capture through the request context into captureClient.
type captureKey struct{}

// capture is what go-pagerduty does not tell its caller: the status even when the body does not
// parse, the Retry-After header, PagerDuty's error body ({"status","message","errors"}) and the
// transport error with its URL redacted.
type capture struct {
	now        time.Time
	status     int
	retryAfter time.Duration
	body       []byte
	err        error
}

// reason summarises PagerDuty's error body for the log.
func (c *capture) reason() string {
	var r struct {
		Status  string   `json:"status"`
		Message string   `json:"message"`
		Errors  []string `json:"errors"`
	}
	if json.Unmarshal(c.body, &r) == nil && (r.Message != "" || len(r.Errors) > 0) {
		s := r.Message
		if len(r.Errors) > 0 {
			s += ": " + strings.Join(r.Errors, "; ")
		}
		return s
	}
	if len(c.body) > 0 {
		return string(c.body)
	}
	return http.StatusText(c.status)
}

// captureClient implements pagerduty.HTTPClient around a plain *http.Client.
type captureClient struct {
	client *http.Client
}

// Do sends req and records status, Retry-After and error body into the request's capture.
func (c *captureClient) Do(req *http.Request) (*http.Response, error) {
	capt, _ := req.Context().Value(captureKey{}).(*capture)
	if capt == nil {
		capt = &capture{now: time.Now()}
	}
	resp, err := c.client.Do(req)
	if err != nil {
		capt.err = redactErr(err)
		return nil, capt.err
	}
	capt.status = resp.StatusCode
	capt.retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), capt.now)
	if resp.StatusCode/100 != 2 {
		b, rerr := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		resp.Body.Close()
		if rerr != nil {
			capt.err = redactErr(rerr)
		}
		capt.body = b
		resp.Body = io.NopCloser(strings.NewReader(string(b)))
	}
	return resp, nil
}
