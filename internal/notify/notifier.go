package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/prometheus/common/model"

	"github.com/slod-dev/slod/internal/receiver"
	"github.com/slod-dev/slod/internal/secret"
)

// Notifier delivers one notification to one receiver. retry says whether a failed delivery may
// succeed at once (429, 5xx, timeouts, network errors: retried with backoff) or the receiver
// rejected this message (4xx: sent again only after the receiver's repeat interval), like
// Alertmanager's notify.Notifier. An error may be a *RetryAfterError when the receiver said when
// to come back, a *RateLimitError when slod's own limiter held the message back unsent, and
// wraps an *HTTPError when the receiver answered.
type Notifier interface {
	Notify(ctx context.Context, n Notification) (retry bool, err error)
}

// Resender is implemented by notifiers whose receiver forgets a firing alert unless it is sent
// again (Alertmanager): Reconcile re-enqueues a firing alert's trigger every ResendInterval.
type Resender interface {
	ResendInterval() time.Duration
}

// DeliveryPolicy is how the Dispatcher treats one receiver's failures (receiver.Config's
// max_retry_after and repeat_interval). Zero fields get the defaults.
type DeliveryPolicy struct {
	// MaxRetryAfter caps the wait a receiver's Retry-After asks for.
	MaxRetryAfter time.Duration
	// RepeatInterval is how often a notification the receiver rejected is sent again.
	RepeatInterval time.Duration
}

func (p DeliveryPolicy) withDefaults() DeliveryPolicy {
	if p.MaxRetryAfter <= 0 {
		p.MaxRetryAfter = receiver.DefaultMaxRetryAfter
	}
	if p.RepeatInterval <= 0 {
		p.RepeatInterval = receiver.DefaultRepeatInterval
	}
	return p
}

// delivery carries a receiver's DeliveryPolicy; the receiver types embed it and NewNotifiers
// sets it from the receiver's config.
type delivery struct{ policy DeliveryPolicy }

// DeliveryPolicy returns the receiver's policy, defaults applied.
func (d *delivery) DeliveryPolicy() DeliveryPolicy { return d.policy.withDefaults() }

func (d *delivery) setPolicy(p DeliveryPolicy) { d.policy = p }

// policyOf is n's DeliveryPolicy, or the defaults for a Notifier that has none.
func policyOf(n Notifier) DeliveryPolicy {
	if p, ok := n.(interface{ DeliveryPolicy() DeliveryPolicy }); ok {
		return p.DeliveryPolicy()
	}
	return DeliveryPolicy{}.withDefaults()
}

// HTTPError is a receiver's answer other than 2xx; Status classifies the failure in
// slod_notification_failures_total.
type HTTPError struct {
	Status int
	Err    error
}

func (e *HTTPError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error.
func (e *HTTPError) Unwrap() error { return e.Err }

// RateLimitError says that slod's own rate limiter for the receiver (PagerDuty's limit per
// routing key) has no token left: nothing was sent, and nothing failed.
type RateLimitError struct {
	After time.Duration
	Err   error
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("%v (next token in %s)", e.Err, e.After)
}

// Unwrap returns the underlying error.
func (e *RateLimitError) Unwrap() error { return e.Err }

// Failure reasons of slod_notification_failures_total.
const (
	Reason4xx     = "4xx"
	Reason429     = "429"
	Reason5xx     = "5xx"
	ReasonTimeout = "timeout"
	ReasonNetwork = "network"
	ReasonOther   = "other"
)

// failureReason classifies a failed delivery attempt: the receiver's status class (429 apart,
// since it is retried and says "slow down", and 408 counted as a timeout), a timeout, a network
// error, or other (a 1xx/3xx answer, an encoding error).
func failureReason(err error) string {
	var he *HTTPError
	var ne net.Error
	switch {
	case errors.As(err, &he):
		switch {
		case he.Status == http.StatusTooManyRequests:
			return Reason429
		case he.Status == http.StatusRequestTimeout:
			return ReasonTimeout
		case he.Status/100 == 4:
			return Reason4xx
		case he.Status/100 == 5:
			return Reason5xx
		}
		return ReasonOther
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return ReasonTimeout
	case errors.As(err, &ne):
		return ReasonNetwork
	}
	return ReasonOther
}

// RetryAfterError is a retryable failure with the delay the receiver asked for (HTTP
// Retry-After).
type RetryAfterError struct {
	After time.Duration
	Err   error
}

func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("%v (retry after %s)", e.Err, e.After)
}

// Unwrap returns the underlying error.
func (e *RetryAfterError) Unwrap() error { return e.Err }

// Options are the dependencies shared by the receivers built by NewNotifiers.
type Options struct {
	// Clock is read for rate limiting and Alertmanager's endsAt (default: the real clock).
	Clock clock.Clock
	// Transport is the HTTP transport of every receiver (default: http.DefaultTransport).
	Transport http.RoundTripper
	// Limiters keeps PagerDuty rate limiters per routing key; pass the same value to every
	// NewNotifiers call across reloads so that a reload does not refill the buckets (default: a
	// fresh set per call).
	Limiters *Limiters
	// Instance names this slod (its external URL's host, or the hostname); it is PagerDuty's
	// default payload source.
	Instance string
}

func (o Options) withDefaults() Options {
	if o.Clock == nil {
		o.Clock = clock.New()
	}
	if o.Limiters == nil {
		o.Limiters = NewLimiters()
	}
	if o.Transport == nil {
		o.Transport = http.DefaultTransport
	}
	return o
}

// NewNotifiers builds one Notifier per receiver config, keyed by receiver name. PagerDuty
// receivers that share a routing key share one rate limiter, since PagerDuty counts per key.
func NewNotifiers(cfgs []receiver.Config, opt Options) (map[string]Notifier, error) {
	opt = opt.withDefaults()
	out := make(map[string]Notifier, len(cfgs))
	for _, c := range cfgs {
		var (
			n   Notifier
			err error
		)
		switch {
		case c.PagerDuty != nil:
			n, err = NewPagerDuty(c.Name, c.PagerDuty, opt)
		case c.Alertmanager != nil:
			n, err = NewAlertmanager(c.Name, c.Alertmanager, opt)
		case c.Webhook != nil:
			n, err = NewWebhook(c.Name, c.Webhook, opt)
		default:
			err = errors.New("no receiver type set")
		}
		if err != nil {
			return nil, fmt.Errorf("receiver %q: %w", c.Name, err)
		}
		if p, ok := n.(interface{ setPolicy(DeliveryPolicy) }); ok {
			p.setPolicy(deliveryPolicy(c))
		}
		out[c.Name] = n
	}
	return out, nil
}

// ResendIntervals returns the resend interval of every notifier that wants firing alerts re-sent.
func ResendIntervals(notifiers map[string]Notifier) map[string]time.Duration {
	out := map[string]time.Duration{}
	for name, n := range notifiers {
		if r, ok := n.(Resender); ok {
			out[name] = r.ResendInterval()
		}
	}
	return out
}

// redactURL keeps only the scheme and host of a URL: paths and queries of webhook URLs often
// carry tokens (Slack, Teams), and userinfo carries passwords.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "<url>"
	}
	return u.Scheme + "://" + u.Host
}

// redactErr rewrites the URL inside a *url.Error (what http.Client returns) with redactURL.
func redactErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return &url.Error{Op: ue.Op, URL: redactURL(ue.URL), Err: ue.Err}
	}
	return err
}

// parseRetryAfter reads an HTTP Retry-After header: delay-seconds or an HTTP date.
func parseRetryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if s, err := strconv.Atoi(h); err == nil {
		if s < 0 {
			return 0
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// maxErrorBody bounds how much of a receiver's error response is kept for the log.
const maxErrorBody = 4096

// httpResult is what postJSON learned from one request.
type httpResult struct {
	Status     int
	RetryAfter time.Duration
	Body       string // the start of a non-2xx response body
}

// postJSON sends body to target and reads the response; err is a transport error (with the URL
// redacted), never a status.
func postJSON(ctx context.Context, client *http.Client, now time.Time, target string, headers map[string]secret.Secret, body []byte) (httpResult, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return httpResult{}, fmt.Errorf("building request to %s: %w", redactURL(target), redactErr(err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "slod")
	for k, v := range headers {
		req.Header.Set(k, v.Reveal())
	}
	resp, err := client.Do(req)
	if err != nil {
		return httpResult{}, redactErr(err)
	}
	defer resp.Body.Close()
	res := httpResult{Status: resp.StatusCode, RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), now)}
	if resp.StatusCode/100 != 2 {
		// The body is logged and stored as the outbox entry's LastError (which backups carry):
		// a receiver or proxy that echoes the request must not put its credentials there.
		res.Body = readScrubbed(resp.Body, maxErrorBody, requestSecrets(target, headers))
	}
	// Drain so the connection is reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return res, nil
}

// classifyStatus applies the retry policy of the Alertmanager and webhook receivers: 2xx is
// delivered; a 4xx other than 408 and 429 rejects this message (retry false: an immediate retry
// would only repeat the rejection, so the Dispatcher sends it again after the receiver's repeat
// interval); everything else (408, 429, 5xx, an unexpected 1xx or 3xx) is retried with backoff.
func classifyStatus(receiver string, r httpResult) (retry bool, err error) {
	body := truncateRunes(r.Body, 512)
	switch {
	case r.Status/100 == 2:
		return false, nil
	case r.Status/100 == 4 && r.Status != http.StatusRequestTimeout && r.Status != http.StatusTooManyRequests:
		return false, &HTTPError{Status: r.Status, Err: fmt.Errorf("receiver %q rejected the notification: HTTP %d: %s", receiver, r.Status, body)}
	}
	err = &HTTPError{Status: r.Status, Err: fmt.Errorf("receiver %q: HTTP %d: %s", receiver, r.Status, body)}
	if r.RetryAfter > 0 {
		err = &RetryAfterError{After: r.RetryAfter, Err: err}
	}
	return true, err
}

// Limiters holds one rate limiter per PagerDuty routing key, shared by every receiver using the
// key (PagerDuty counts per key) and, when kept across reloads, by successive configs.
type Limiters struct {
	mu sync.Mutex
	m  map[secret.Secret]*tokenBucket
}

// NewLimiters returns an empty set of limiters.
func NewLimiters() *Limiters { return &Limiters{m: map[secret.Secret]*tokenBucket{}} }

// get returns the limiter of key, creating it with perMinute; a changed limit replaces it.
func (l *Limiters) get(clk clock.Clock, key secret.Secret, perMinute int) *tokenBucket {
	l.mu.Lock()
	defer l.mu.Unlock()
	if b, ok := l.m[key]; ok && b.perMinute == perMinute && b.clock == clk {
		return b
	}
	b := newTokenBucket(clk, perMinute)
	l.m[key] = b
	return b
}

// tokenBucket limits events per routing key on the injected clock. Capacity C and refill rate r
// allow at most C + 60·r events in any minute; with C = limit/12 and r = (limit − C)/60 that is
// exactly the limit, while still letting a burst of C alerts out at once.
type tokenBucket struct {
	mu        sync.Mutex
	clock     clock.Clock
	capacity  float64
	perSec    float64
	perMinute int
	tokens    float64
	last      time.Time
}

func newTokenBucket(clk clock.Clock, perMinute int) *tokenBucket {
	c := math.Max(1, math.Floor(float64(perMinute)/12))
	return &tokenBucket{
		clock:     clk,
		capacity:  c,
		perSec:    (float64(perMinute) - c) / 60,
		perMinute: perMinute,
		tokens:    c,
		last:      clk.Now(),
	}
}

// take consumes a token, or reports how long until one is available.
func (b *tokenBucket) take() (bool, time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.clock.Now()
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = math.Min(b.capacity, b.tokens+el*b.perSec)
	}
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	if b.perSec <= 0 {
		return false, time.Minute
	}
	wait := time.Duration((1 - b.tokens) / b.perSec * float64(time.Second))
	return false, wait.Round(time.Millisecond) + time.Millisecond
}

// fmtFloat prints a float the way a human wrote it: 14.4, not 14.399999999999999.
func fmtFloat(v float64) string {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	return strconv.FormatFloat(roundSig(v), 'f', -1, 64)
}

// roundSig rounds to 6 significant digits, which is all the precision an alert reader needs and
// hides float noise.
func roundSig(v float64) float64 {
	if v == 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return v
	}
	r, err := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 6, 64), 64)
	if err != nil {
		return v
	}
	return r
}

// percent prints a ratio as a percentage: 0.999 → "99.9%".
func percent(v float64) string { return fmtFloat(v*100) + "%" }

// deliveryPolicy is a receiver's DeliveryPolicy as configured; the receiver's DeliveryPolicy
// method fills in the defaults (withDefaults, the one place they are applied).
func deliveryPolicy(c receiver.Config) DeliveryPolicy {
	return DeliveryPolicy{MaxRetryAfter: time.Duration(c.MaxRetryAfter), RepeatInterval: time.Duration(c.RepeatInterval)}
}

func durationOr(d model.Duration, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return time.Duration(d)
}
