// Package config reads the daemon configuration of `slod run` (docs/interfaces.md §3): where
// Prometheus is, how often to evaluate, which rule files to load, and where to send alerts.
//
// The schema is the Config type, decoded strictly by internal/yamlx as SLO and test files are (an
// unknown or misspelled key is an error, merge keys work, the same mistake gets the same
// message); defaults are applied in one place (applyDefaults), relative paths are resolved against
// the directory of the config file, and every problem is reported at once with its
// file:line:col.
package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/robfig/cron/v3"
	"golang.org/x/net/http/httpguts"
	"gopkg.in/yaml.v3"

	"github.com/slod-dev/slod/internal/promapi"
	"github.com/slod-dev/slod/internal/receiver"
	"github.com/slod-dev/slod/internal/secret"
	"github.com/slod-dev/slod/internal/sli"
	"github.com/slod-dev/slod/internal/yamlx"
)

// Defaults of the daemon's own settings. The step and lookback default to package sli's
// (sli.DefaultStep, sli.DefaultLookback) and the query client's settings to package promapi's:
// each default is defined once, where it is used, and applyDefaults fills them all in.
const (
	DefaultInterval       = time.Minute
	DefaultMaxConcurrency = 8
)

// Config is the whole daemon configuration.
type Config struct {
	Prometheus PrometheusConfig `yaml:"prometheus" yamlx:"required"`
	Evaluation EvaluationConfig `yaml:"evaluation"`
	// Rules are files, directories or globs of SLO files, resolved against the config's directory.
	Rules []string `yaml:"rules" yamlx:"required"`
	// Receivers and Routes are package receiver's types, validated by receiver.Validate.
	Receivers []receiver.Config `yaml:"receivers"`
	Routes    []receiver.Route  `yaml:"routes"`
	Web       WebConfig         `yaml:"web"`

	// File is the path the config was read from ("" when parsed from memory).
	File string `yaml:"-"`
	// doc is the decoded file, for the positions of its values (Pos).
	doc *yamlx.Doc
}

// Pos is where the value at path ("routes", "evaluation.step") is written in the config file, or
// the closest enclosing value when it is not: checks that need more than the file (the rules'
// windows against the step, the SLOs' severities against the routes) report there.
func (c *Config) Pos(path string) Pos {
	if c.doc == nil {
		return Pos{File: c.File}
	}
	return c.doc.Pos(path)
}

// Clean reports whether the config's problems, if any, leave the value at path and below it alone.
func (c *Config) Clean(path string) bool { return c.doc == nil || c.doc.Clean(path) }

// PrometheusConfig says how to reach the Prometheus-compatible query API.
type PrometheusConfig struct {
	URL string `yaml:"url" yamlx:"required"`
	// Headers are sent with every request, e.g. X-Scope-OrgID for Mimir, Cortex and Thanos tenants.
	Headers map[string]string `yaml:"headers"`
	// BearerToken and BearerTokenFile are mutually exclusive; the file is re-read on every request so
	// that a rotated token is picked up without a reload.
	BearerToken     secret.Secret `yaml:"bearer_token"`
	BearerTokenFile string        `yaml:"bearer_token_file"`
	BasicAuth       *BasicAuth    `yaml:"basic_auth"`
	TLSConfig       TLSConfig     `yaml:"tls_config"`
	// Timeout bounds every HTTP request to the API.
	Timeout Duration `yaml:"timeout"`
	// MaxConcurrentQueries bounds the queries in flight at once, across every SLO.
	MaxConcurrentQueries int `yaml:"max_concurrent_queries"`
}

// BasicAuth is HTTP basic authentication; Password and PasswordFile are mutually exclusive.
type BasicAuth struct {
	Username     string        `yaml:"username"`
	Password     secret.Secret `yaml:"password"`
	PasswordFile string        `yaml:"password_file"`
}

// TLSConfig configures TLS to the query API.
type TLSConfig struct {
	CAFile             string `yaml:"ca_file"`
	CertFile           string `yaml:"cert_file"`
	KeyFile            string `yaml:"key_file"`
	ServerName         string `yaml:"server_name"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// EvaluationConfig says when and at which resolution SLOs are evaluated.
type EvaluationConfig struct {
	// Interval (every Interval, the default) and Schedule (any robfig/cron spec, "@every 30s" or
	// "*/2 * * * *") are mutually exclusive.
	Interval Duration `yaml:"interval"`
	Schedule string   `yaml:"schedule"`
	// Step is the resolution of the SLI history: evaluations happen at multiples of Step.
	Step Duration `yaml:"step"`
	// Lookback is how far back the last sample of a counter is looked for (DESIGN §2).
	Lookback Duration `yaml:"lookback"`
	// MaxConcurrency bounds the SLOs evaluated at once within a cycle.
	MaxConcurrency int `yaml:"max_concurrency"`
	// Backfill is the most history fetched for an SLO at start (empty store) or after downtime;
	// 0 means the SLO's longest window, so that long windows are right from the first cycle.
	Backfill Duration `yaml:"backfill"`
}

// WebConfig configures slod's own HTTP surface.
type WebConfig struct {
	// ExternalURL is the URL under which slod is reachable by humans; links in notifications point
	// to its status page. Defaults to http://<hostname>:<port> of the listen address.
	ExternalURL string `yaml:"external_url"`
}

// Duration is a Prometheus duration ("30s", "1h30m", "30d") in YAML.
type Duration time.Duration

// D returns the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats like Prometheus ("1d", "30s").
func (d Duration) String() string { return model.Duration(d).String() }

// UnmarshalYAML parses a Prometheus duration, worded as every slod file words a bad one.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := yamlx.ParseDuration(n)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the Prometheus form.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// Pos is a position in the config file, 1-based.
type Pos = yamlx.Pos

// Error is one configuration problem at a position; it prints as "file:line:col: field: message".
type Error = yamlx.Diagnostic

// Errors is every problem of a config file, one per line when printed.
type Errors = yamlx.Errors

// Load reads and validates the config file at path, as Parse does.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	return Parse(path, data)
}

var configKind = yamlx.Kind{Name: "config", Want: "a slod config with prometheus and rules"}

// Parse decodes, defaults, resolves and validates a config; file names it in errors and relative
// paths are resolved against its directory. The error is an Errors holding every problem. With
// the problems of a file that parsed as YAML comes the Config as decoded, which must not be run
// but tells where the rule files are (Clean says which parts are sound), so that their problems
// can be reported at the same time.
func Parse(file string, data []byte) (*Config, error) {
	doc := yamlx.Parse(file, data, configKind)
	c := &Config{}
	doc.Decode(c)
	if doc.Root() == nil {
		return nil, doc.Err()
	}
	c.File, c.doc = file, doc
	c.applyDefaults()
	c.resolvePaths(filepath.Dir(file))
	c.validate(doc)
	if err := doc.Err(); err != nil {
		return c, err
	}
	return c, nil
}

// applyDefaults is the one place defaults live.
func (c *Config) applyDefaults() {
	if c.Prometheus.Timeout == 0 {
		c.Prometheus.Timeout = Duration(promapi.DefaultTimeout)
	}
	if c.Prometheus.MaxConcurrentQueries == 0 {
		c.Prometheus.MaxConcurrentQueries = promapi.DefaultMaxConcurrentQueries
	}
	if c.Evaluation.Interval == 0 && c.Evaluation.Schedule == "" {
		c.Evaluation.Interval = Duration(DefaultInterval)
	}
	if c.Evaluation.Step == 0 {
		c.Evaluation.Step = Duration(sli.DefaultStep)
	}
	if c.Evaluation.Lookback == 0 {
		c.Evaluation.Lookback = Duration(sli.DefaultLookback)
	}
	if c.Evaluation.MaxConcurrency == 0 {
		c.Evaluation.MaxConcurrency = DefaultMaxConcurrency
	}
}

func resolve(dir, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

func (c *Config) resolvePaths(dir string) {
	for i, r := range c.Rules {
		c.Rules[i] = resolve(dir, r)
	}
	p := &c.Prometheus
	p.BearerTokenFile = resolve(dir, p.BearerTokenFile)
	if p.BasicAuth != nil {
		p.BasicAuth.PasswordFile = resolve(dir, p.BasicAuth.PasswordFile)
	}
	p.TLSConfig.CAFile = resolve(dir, p.TLSConfig.CAFile)
	p.TLSConfig.CertFile = resolve(dir, p.TLSConfig.CertFile)
	p.TLSConfig.KeyFile = resolve(dir, p.TLSConfig.KeyFile)
	for _, r := range c.Receivers {
		if r.PagerDuty != nil {
			r.PagerDuty.RoutingKeyFile = resolve(dir, r.PagerDuty.RoutingKeyFile)
		}
	}
}

// Schedule returns the cron schedule of the evaluations: "@every <interval>" or the configured
// spec.
func (c *Config) Schedule() (cron.Schedule, error) {
	spec := c.Evaluation.Schedule
	if spec == "" {
		spec = "@every " + c.Evaluation.Interval.D().String()
	}
	s, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, fmt.Errorf("evaluation schedule %q: %w", spec, err)
	}
	return s, nil
}

// RulePaths expands the rule globs into files and directories for rules.Load. Entries without glob
// metacharacters are kept as written so that a missing file is reported by the loader.
func (c *Config) RulePaths() ([]string, error) {
	var out []string
	for _, p := range c.Rules {
		if !strings.ContainsAny(p, "*?[") {
			out = append(out, p)
			continue
		}
		m, err := filepath.Glob(p)
		if err != nil {
			return nil, fmt.Errorf("rules glob %q: %w", p, err)
		}
		sort.Strings(m)
		out = append(out, m...)
	}
	return out, nil
}

var headerName = regexp.MustCompile(`^[!#$%&'*+\-.^_` + "`" + `|~0-9A-Za-z]+$`)

// reservedHeaders are set by the client itself; overriding them from config would break
// authentication or the protocol.
var reservedHeaders = map[string]bool{"authorization": true, "content-type": true, "content-length": true, "host": true, "user-agent": true}

// validate checks what the schema types cannot say; problems are reported at their value.
func (c *Config) validate(doc *yamlx.Doc) {
	c.Prometheus.validate(doc)
	c.Evaluation.validate(doc, c)
	if doc.Has("rules") && !doc.Failed("rules") && len(c.Rules) == 0 {
		doc.Errorf("rules", "at least one file, directory or glob is required")
	}
	for i, r := range c.Rules {
		if strings.ContainsAny(r, "*?[") {
			if _, err := filepath.Match(r, ""); err != nil {
				doc.Errorf(yamlx.Index("rules", i), "bad glob %q: %v", r, err)
			}
		}
	}
	if c.Web.ExternalURL != "" {
		if u, err := url.Parse(c.Web.ExternalURL); err != nil || u.Scheme == "" || u.Host == "" {
			doc.Errorf("web.external_url", "must be an absolute URL")
		}
	}
	if err := receiver.Validate(c.Receivers, c.Routes); err != nil {
		for _, e := range unjoin(err) {
			var fe *receiver.FieldError
			if errors.As(e, &fe) {
				doc.Errorf(fe.Field, "%s", fe.Message)
			} else {
				doc.Errorf("receivers", "%s", e.Error())
			}
		}
	}
	if len(c.Receivers) > 0 && len(c.Routes) == 0 {
		doc.Errorf("routes", "receivers are defined but no route leads to them")
	}
}

func (p *PrometheusConfig) validate(doc *yamlx.Doc) {
	if p.URL != "" {
		if u, err := url.Parse(p.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			doc.Errorf("prometheus.url", "must be an absolute http or https URL")
		}
	}
	for name, value := range p.Headers {
		path := yamlx.Field("prometheus.headers", name)
		switch {
		case !headerName.MatchString(name):
			doc.KeyErrorf(path, "%q is not a valid header name", name)
		case reservedHeaders[strings.ToLower(name)]:
			doc.KeyErrorf(path, "%s is set by slod itself (use bearer_token_file or basic_auth)", name)
		case !httpguts.ValidHeaderFieldValue(value):
			// The value may be a credential: it is not shown.
			doc.Errorf(path, "the value holds a control character (a newline?), which HTTP does not allow")
		}
	}
	if p.BearerToken != "" && p.BearerTokenFile != "" {
		doc.Errorf("prometheus.bearer_token", "bearer_token and bearer_token_file are mutually exclusive")
	}
	if ba := p.BasicAuth; ba != nil {
		if p.BearerToken != "" || p.BearerTokenFile != "" {
			doc.Errorf("prometheus.basic_auth", "basic_auth and a bearer token are mutually exclusive")
		}
		if ba.Password != "" && ba.PasswordFile != "" {
			doc.Errorf("prometheus.basic_auth.password", "password and password_file are mutually exclusive")
		}
	}
	if (p.TLSConfig.CertFile == "") != (p.TLSConfig.KeyFile == "") {
		doc.Errorf("prometheus.tls_config", "cert_file and key_file go together")
	}
	if p.MaxConcurrentQueries < 0 {
		doc.Errorf("prometheus.max_concurrent_queries", "must not be negative")
	}
}

func (e *EvaluationConfig) validate(doc *yamlx.Doc, c *Config) {
	if e.Interval != 0 && e.Schedule != "" {
		doc.Errorf("evaluation.schedule", "interval and schedule are mutually exclusive")
	} else if _, err := c.Schedule(); err != nil {
		doc.Errorf("evaluation.schedule", "%s", err.Error())
	}
	if e.Step.D()%time.Second != 0 {
		doc.Errorf("evaluation.step", "must be a whole number of seconds")
	}
	if e.Lookback < e.Step {
		doc.Errorf("evaluation.lookback", "must be at least the step")
	}
	if e.MaxConcurrency < 0 {
		doc.Errorf("evaluation.max_concurrency", "must not be negative")
	}
}

// unjoin splits an errors.Join error into its parts.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
