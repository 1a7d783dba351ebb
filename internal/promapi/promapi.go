// Package promapi is the live source of SLI samples: an sli.Querier over the Prometheus HTTP API
// (Prometheus, Thanos Query, Mimir, Cortex, VictoriaMetrics), built on client_golang's api/v1.
//
// It adds what a daemon needs around the plain client: authentication and TLS (round trippers of
// its own, which re-read a bearer token or password file on every request, so a rotated
// credential is picked up without a reload), tenant headers, a per-request timeout, a bound on the
// queries in flight, range queries split under the server's 11,000-points-per-series limit, and
// errors classified for metrics (Reason) with URLs redacted.
//
// It takes its own Config, which the daemon fills from slod.yml, so that it depends on neither the
// config loader nor the store or the receivers.
package promapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/slod-dev/slod/internal/secret"
	"github.com/slod-dev/slod/internal/sli"
)

// MaxPointsPerQuery is the most points per series one range query asks for. Prometheus refuses a
// query_range of more than 11,000 points per series ("exceeded maximum resolution"); staying a
// round 10,000 keeps a margin for servers that count both ends.
const MaxPointsPerQuery = 10000

// Result classifies one query for slod_queries_total{result}.
type Result string

// The query results counted in slod_queries_total.
const (
	ResultSuccess Result = "success"
	ResultError   Result = "error"
	ResultEmpty   Result = "empty"
	ResultNaN     Result = "nan"
)

// The reasons a query failed, for slod_slo_source_errors_total{reason} and logs.
const (
	ReasonTimeout     = "timeout"
	ReasonServer      = "5xx"
	ReasonClient      = "4xx"
	ReasonNetwork     = "network"
	ReasonBadResponse = "bad_response"
	ReasonCanceled    = "canceled"
	// ReasonInvalid is the reason of an error that came before any query was sent: an SLI that
	// could not be turned into a query, or a source that refused the query itself.
	ReasonInvalid = "invalid"
)

// Observation is what the client reports about each HTTP query it made (one per chunk of a split
// range query).
type Observation struct {
	Result   Result
	Reason   string // set when Result is ResultError
	Duration time.Duration
}

// Defaults for the Config fields left zero.
const (
	// DefaultTimeout bounds one HTTP query.
	DefaultTimeout = 30 * time.Second
	// DefaultMaxConcurrentQueries bounds the queries in flight at once, across every SLO.
	DefaultMaxConcurrentQueries = 8
)

// Config says how to reach a Prometheus-compatible query API.
type Config struct {
	// URL is the API's base URL (http://prometheus:9090, or a Thanos, Mimir or VictoriaMetrics
	// endpoint); queries go to <url>/api/v1/query and /api/v1/query_range.
	URL string
	// Headers are sent with every request, e.g. X-Scope-OrgID for Mimir, Cortex and Thanos tenants.
	Headers map[string]string
	// BearerToken, else BearerTokenFile (re-read on every request), authenticates as a bearer.
	BearerToken     secret.Secret
	BearerTokenFile string
	// BasicAuth, if set, authenticates with a user name and password.
	BasicAuth *BasicAuth
	TLS       TLSConfig
	// Timeout bounds every HTTP request (default DefaultTimeout).
	Timeout time.Duration
	// MaxConcurrentQueries bounds the queries in flight (default DefaultMaxConcurrentQueries).
	MaxConcurrentQueries int
}

// BasicAuth is HTTP basic authentication; PasswordFile, when set, is re-read on every request.
type BasicAuth struct {
	Username     string
	Password     secret.Secret
	PasswordFile string
}

// TLSConfig configures TLS to the query API. CertFile and KeyFile are re-read on every
// handshake, so a renewed client certificate is used without a restart.
type TLSConfig struct {
	CAFile             string
	CertFile           string
	KeyFile            string
	ServerName         string
	InsecureSkipVerify bool
}

// Options tune a Client beyond its Config.
type Options struct {
	// Logger receives warnings returned by the server; nil discards them.
	Logger *slog.Logger
	// Observe, when set, is called after every query (from concurrent goroutines).
	Observe func(Observation)
	// UserAgent is sent with every request.
	UserAgent string
}

// Client is an sli.Querier over the Prometheus HTTP API. It is safe for concurrent use.
type Client struct {
	api      v1.API
	base     string // redacted base URL for errors and logs
	timeout  time.Duration
	sem      chan struct{}
	logger   *slog.Logger
	observe  func(Observation)
	maxPoint int
}

var _ sli.Querier = (*Client)(nil)

// New builds a Client.
func New(cfg Config, opt Options) (*Client, error) {
	rt, err := newRoundTripper(cfg, opt.UserAgent)
	if err != nil {
		return nil, fmt.Errorf("prometheus client for %s: %w", Redact(cfg.URL), err)
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	c, err := api.NewClient(api.Config{Address: cfg.URL, RoundTripper: rt})
	if err != nil {
		return nil, fmt.Errorf("prometheus client for %s: %w", Redact(cfg.URL), err)
	}
	n := cfg.MaxConcurrentQueries
	if n <= 0 {
		n = DefaultMaxConcurrentQueries
	}
	logger := opt.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Client{
		api:      v1.NewAPI(c),
		base:     Redact(cfg.URL),
		timeout:  timeout,
		sem:      make(chan struct{}, n),
		logger:   logger,
		observe:  opt.Observe,
		maxPoint: MaxPointsPerQuery,
	}, nil
}

// QueryRange evaluates query at every multiple of step in [start, end]; start == end is one instant
// query. Ranges of more than MaxPointsPerQuery steps are split into consecutive chunks queried
// concurrently (within the client's bound) and joined per series.
func (c *Client) QueryRange(ctx context.Context, query string, start, end time.Time, step time.Duration) ([]sli.Series, error) {
	if end.Before(start) {
		return nil, fmt.Errorf("query range: end %s before start %s", end.Format(time.RFC3339), start.Format(time.RFC3339))
	}
	if start.Equal(end) {
		v, err := c.do(ctx, query, start, end, step, true)
		if err != nil {
			return nil, err
		}
		return toSeries(v), nil
	}
	if step <= 0 {
		return nil, fmt.Errorf("query range: step must be positive, got %s", step)
	}
	chunks := split(start, end, step, c.maxPoint)
	results := make([]model.Value, len(chunks))
	errs := make([]error, len(chunks))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for i, ch := range chunks {
		wg.Go(func() {
			results[i], errs[i] = c.do(ctx, query, ch[0], ch[1], step, false)
			if errs[i] != nil {
				cancel() // the whole range is useless without this chunk
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return nil, err
		}
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return merge(results), nil
}

// split cuts [start, end] into chunks of at most maxPoints steps each; chunk i+1 starts one step
// after chunk i ends, so no evaluation time is asked for twice.
func split(start, end time.Time, step time.Duration, maxPoints int) [][2]time.Time {
	var out [][2]time.Time
	span := time.Duration(maxPoints-1) * step
	for s := start; !s.After(end); {
		e := s.Add(span)
		if e.After(end) {
			e = end
		}
		out = append(out, [2]time.Time{s, e})
		s = e.Add(step)
	}
	return out
}

// do runs one HTTP query under the concurrency bound and the timeout, and reports it.
func (c *Client) do(ctx context.Context, query string, start, end time.Time, step time.Duration, instant bool) (model.Value, error) {
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting to query %s: %w", c.base, ctx.Err())
	}
	defer func() { <-c.sem }()
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	began := time.Now()
	var (
		v        model.Value
		warnings v1.Warnings
		err      error
	)
	// The timeout parameter lets the server abandon the evaluation too, instead of finishing work
	// nobody waits for.
	if instant {
		v, warnings, _, err = c.api.Query(ctx, query, start, v1.WithTimeout(c.timeout))
	} else {
		v, warnings, _, err = c.api.QueryRange(ctx, query, v1.Range{Start: start, End: end, Step: step}, v1.WithTimeout(c.timeout))
	}
	obs := Observation{Duration: time.Since(began)}
	if len(warnings) > 0 {
		loggerFrom(ctx, c.logger).Warn("query returned warnings", "query", query, "warnings", strings.Join(warnings, "; "))
	}
	if err != nil {
		obs.Result, obs.Reason = ResultError, transportReason(err)
		c.report(obs)
		return nil, &QueryError{Reason: obs.Reason, Base: c.base, err: redactErr(err)}
	}
	obs.Result = classify(v)
	c.report(obs)
	return v, nil
}

func (c *Client) report(o Observation) {
	if c.observe != nil {
		c.observe(o)
	}
}

// classify tells an empty result and one holding NaN from a normal one.
func classify(v model.Value) Result {
	switch v := v.(type) {
	case model.Vector:
		if len(v) == 0 {
			return ResultEmpty
		}
		for _, s := range v {
			if math.IsNaN(float64(s.Value)) {
				return ResultNaN
			}
		}
	case model.Matrix:
		if len(v) == 0 {
			return ResultEmpty
		}
		for _, s := range v {
			for _, p := range s.Values {
				if math.IsNaN(float64(p.Value)) {
					return ResultNaN
				}
			}
		}
	case *model.Scalar:
		if v == nil {
			return ResultEmpty
		}
		if math.IsNaN(float64(v.Value)) {
			return ResultNaN
		}
	case nil:
		return ResultEmpty
	}
	return ResultSuccess
}

type loggerKey struct{}

// ContextWithLogger returns a context whose queries log through l, so that a server's warnings
// carry the caller's correlation attributes (slod's cycle_id and SLO).
func ContextWithLogger(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, l)
}

func loggerFrom(ctx context.Context, def *slog.Logger) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok && l != nil {
		return l
	}
	return def
}

// QueryError is a failed query; Reason classifies it (ReasonTimeout, ReasonServer, ...).
type QueryError struct {
	Reason string
	Base   string
	err    error
}

// Error names the (redacted) server, the reason and the cause.
func (e *QueryError) Error() string {
	return fmt.Sprintf("querying %s (%s): %v", e.Base, e.Reason, e.err)
}

// Unwrap exposes the underlying error (context.DeadlineExceeded, *v1.Error, ...).
func (e *QueryError) Unwrap() error { return e.err }

// Reason classifies an error of fetching an SLI, for slod_slo_source_errors_total{reason} and
// logs. It is the one classifier of source errors: the transport class of a query that failed
// (ReasonTimeout, ReasonServer, ReasonClient, ReasonNetwork, ReasonBadResponse, ReasonCanceled),
// else ReasonInvalid, as when no query was sent because the SLI could not be turned into one.
func Reason(err error) string {
	var qe *QueryError
	switch {
	case errors.As(err, &qe):
		return qe.Reason
	case errors.Is(err, context.DeadlineExceeded):
		// Also the wait for a free query slot running out.
		return ReasonTimeout
	case errors.Is(err, context.Canceled):
		return ReasonCanceled
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return ReasonNetwork
	}
	return ReasonInvalid
}

// transportReason classifies the error of a query the client sent: what is not a timeout, a
// cancellation or an API error is the network's.
func transportReason(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return ReasonTimeout
	}
	if errors.Is(err, context.Canceled) {
		return ReasonCanceled
	}
	var ae *v1.Error
	if errors.As(err, &ae) {
		switch ae.Type {
		case v1.ErrTimeout:
			return ReasonTimeout
		case v1.ErrServer:
			return ReasonServer
		case v1.ErrClient, v1.ErrBadData, v1.ErrExec:
			// Prometheus answers 400 (bad_data) and 422 (execution) for queries it refuses.
			return ReasonClient
		case v1.ErrCanceled:
			return ReasonCanceled
		default:
			return ReasonBadResponse
		}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return ReasonTimeout
	}
	return ReasonNetwork
}

// toSeries converts an instant or range result.
func toSeries(v model.Value) []sli.Series {
	switch v := v.(type) {
	case model.Vector:
		out := make([]sli.Series, 0, len(v))
		for _, s := range v {
			out = append(out, sli.Series{Labels: labelMap(s.Metric), Points: []sli.Point{{T: s.Timestamp.Time().UTC(), V: float64(s.Value)}}})
		}
		return out
	case model.Matrix:
		out := make([]sli.Series, 0, len(v))
		for _, s := range v {
			pts := make([]sli.Point, len(s.Values))
			for i, p := range s.Values {
				pts[i] = sli.Point{T: p.Timestamp.Time().UTC(), V: float64(p.Value)}
			}
			out = append(out, sli.Series{Labels: labelMap(s.Metric), Points: pts})
		}
		return out
	case *model.Scalar:
		if v == nil {
			return nil
		}
		return []sli.Series{{Labels: map[string]string{}, Points: []sli.Point{{T: v.Timestamp.Time().UTC(), V: float64(v.Value)}}}}
	}
	return nil
}

// merge joins the chunks of a split range query: points of the same series (same label set) are
// concatenated in chunk order, which is time order.
func merge(chunks []model.Value) []sli.Series {
	if len(chunks) == 1 {
		return toSeries(chunks[0])
	}
	idx := map[model.Fingerprint]int{}
	var out []sli.Series
	for _, ch := range chunks {
		m, _ := ch.(model.Matrix)
		for _, s := range m {
			fp := s.Metric.Fingerprint()
			i, ok := idx[fp]
			if !ok {
				i = len(out)
				idx[fp] = i
				out = append(out, sli.Series{Labels: labelMap(s.Metric)})
			}
			for _, p := range s.Values {
				out[i].Points = append(out[i].Points, sli.Point{T: p.Timestamp.Time().UTC(), V: float64(p.Value)})
			}
		}
	}
	sort.SliceStable(out, func(a, b int) bool {
		return model.LabelSet(toLabelSet(out[a].Labels)).Before(toLabelSet(out[b].Labels))
	})
	return out
}

func labelMap(m model.Metric) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[string(k)] = string(v)
	}
	return out
}

func toLabelSet(m map[string]string) model.LabelSet {
	ls := make(model.LabelSet, len(m))
	for k, v := range m {
		ls[model.LabelName(k)] = model.LabelValue(v)
	}
	return ls
}

// Redact returns a URL without user info, query or fragment, safe to print.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<unparsable URL>"
	}
	u.User = nil
	u.RawQuery = ""
	u.Fragment = ""
	return u.String()
}

// redactErr strips the request URL (which carries the PromQL and possibly credentials) from
// transport errors; the query is logged separately by the caller where it is wanted.
func redactErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return &redactedURLError{op: ue.Op, url: Redact(ue.URL), err: ue.Err}
	}
	return err
}

type redactedURLError struct {
	op, url string
	err     error
}

// Error formats like url.Error, with the redacted URL.
func (e *redactedURLError) Error() string { return fmt.Sprintf("%s %s: %v", e.op, e.url, e.err) }

// Unwrap exposes the transport error (timeouts, refused connections).
func (e *redactedURLError) Unwrap() error { return e.err }

// Timeout reports whether the error is a timeout, as net.Error asks.
func (e *redactedURLError) Timeout() bool {
	var ne net.Error
	return errors.As(e.err, &ne) && ne.Timeout()
}
