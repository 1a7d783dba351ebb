// Package config reads the daemon configuration of `slod run` (shared/SPEC.md §3): where
// Prometheus is, how often to evaluate, which rule files to load, and where to send alerts.
//
// Decoding is strict (an unknown or misspelled key is an error, as in Prometheus), defaults are
// applied in one place (applyDefaults), relative paths are resolved against the directory of the
// config file, and every problem is reported at once with its file:line:col.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
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
	Prometheus PrometheusConfig `yaml:"prometheus"`
	Evaluation EvaluationConfig `yaml:"evaluation"`
	// Rules are files, directories or globs of SLO files, resolved against the config's directory.
	Rules []string `yaml:"rules"`
	// Receivers and Routes are package receiver's types, validated by receiver.Validate.
	Receivers []receiver.Config `yaml:"receivers"`
	Routes    []receiver.Route  `yaml:"routes"`
	Web       WebConfig         `yaml:"web"`

	// File is the path the config was read from ("" when parsed from memory).
	File string `yaml:"-"`
}

// PrometheusConfig says how to reach the Prometheus-compatible query API.
type PrometheusConfig struct {
	URL string `yaml:"url"`
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

// UnmarshalYAML parses a Prometheus duration.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: expected a duration", n.Line)
	}
	v, err := model.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration (e.g. 30s, 5m, 1h, 30d)", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the Prometheus form.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// Pos is a position in the config file, 1-based.
type Pos struct {
	File      string
	Line, Col int
}

// String formats the position as file:line:col.
func (p Pos) String() string { return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col) }

// Error is one configuration problem at a position.
type Error struct {
	Pos     Pos
	Field   string
	Message string
}

// Error formats as "file:line:col: field: message".
func (e Error) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%s: %s", e.Pos, e.Message)
	}
	return fmt.Sprintf("%s: %s: %s", e.Pos, e.Field, e.Message)
}

// Errors is every problem of a config file, one per line when printed.
type Errors []Error

// Error lists every problem, one per line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Load reads and validates the config file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes, defaults, resolves and validates a config; file names it in errors and relative
// paths are resolved against its directory. The error is an Errors holding every problem.
func Parse(file string, data []byte) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, Errors{yamlError(file, err, nil)}
	}
	c := &Config{File: file}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			errs := make(Errors, 0, len(te.Errors))
			for _, msg := range te.Errors {
				errs = append(errs, yamlError(file, errors.New(msg), &root))
			}
			return nil, errs
		}
		return nil, Errors{yamlError(file, err, &root)}
	}
	c.File = file
	v := &validator{file: file, root: &root}
	c.applyDefaults()
	c.resolvePaths(filepath.Dir(file))
	c.validate(v)
	if len(v.errs) > 0 {
		return nil, v.errs
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

func (c *Config) validate(v *validator) {
	p := c.Prometheus
	if p.URL == "" {
		v.add([]string{"prometheus", "url"}, "prometheus.url", "is required")
	} else if u, err := url.Parse(p.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.add([]string{"prometheus", "url"}, "prometheus.url", "must be an absolute http or https URL")
	}
	for name, value := range p.Headers {
		switch {
		case !headerName.MatchString(name):
			v.add([]string{"prometheus", "headers", name}, "prometheus.headers", fmt.Sprintf("%q is not a valid header name", name))
		case reservedHeaders[strings.ToLower(name)]:
			v.add([]string{"prometheus", "headers", name}, "prometheus.headers", fmt.Sprintf("%s is set by slod itself (use bearer_token_file or basic_auth)", name))
		case !httpguts.ValidHeaderFieldValue(value):
			v.add([]string{"prometheus", "headers", name}, "prometheus.headers."+name, "the value holds a control character (a newline?), which HTTP does not allow")
		}
	}
	if p.BearerToken != "" && p.BearerTokenFile != "" {
		v.add([]string{"prometheus", "bearer_token"}, "prometheus", "bearer_token and bearer_token_file are mutually exclusive")
	}
	if p.BasicAuth != nil {
		if p.BearerToken != "" || p.BearerTokenFile != "" {
			v.add([]string{"prometheus", "basic_auth"}, "prometheus", "basic_auth and a bearer token are mutually exclusive")
		}
		if p.BasicAuth.Username == "" {
			v.add([]string{"prometheus", "basic_auth"}, "prometheus.basic_auth.username", "is required")
		}
		if p.BasicAuth.Password != "" && p.BasicAuth.PasswordFile != "" {
			v.add([]string{"prometheus", "basic_auth"}, "prometheus.basic_auth", "password and password_file are mutually exclusive")
		}
	}
	if (p.TLSConfig.CertFile == "") != (p.TLSConfig.KeyFile == "") {
		v.add([]string{"prometheus", "tls_config"}, "prometheus.tls_config", "cert_file and key_file go together")
	}
	if p.Timeout < 0 {
		v.add([]string{"prometheus", "timeout"}, "prometheus.timeout", "must be positive")
	}
	if p.MaxConcurrentQueries < 0 {
		v.add([]string{"prometheus", "max_concurrent_queries"}, "prometheus.max_concurrent_queries", "must be positive")
	}

	e := c.Evaluation
	if e.Interval != 0 && e.Schedule != "" {
		v.add([]string{"evaluation", "schedule"}, "evaluation", "interval and schedule are mutually exclusive")
	} else if e.Interval < 0 {
		v.add([]string{"evaluation", "interval"}, "evaluation.interval", "must be positive")
	} else if _, err := c.Schedule(); err != nil {
		v.add([]string{"evaluation", "schedule"}, "evaluation.schedule", err.Error())
	}
	if e.Step <= 0 {
		v.add([]string{"evaluation", "step"}, "evaluation.step", "must be positive")
	} else if e.Step.D()%time.Second != 0 {
		v.add([]string{"evaluation", "step"}, "evaluation.step", "must be a whole number of seconds")
	}
	if e.Lookback < 0 {
		v.add([]string{"evaluation", "lookback"}, "evaluation.lookback", "must be positive")
	}
	if e.Lookback > 0 && e.Step > 0 && e.Lookback < e.Step {
		v.add([]string{"evaluation", "lookback"}, "evaluation.lookback", "must be at least the step")
	}
	if e.MaxConcurrency < 0 {
		v.add([]string{"evaluation", "max_concurrency"}, "evaluation.max_concurrency", "must be positive")
	}
	if e.Backfill < 0 {
		v.add([]string{"evaluation", "backfill"}, "evaluation.backfill", "must be positive")
	}

	if len(c.Rules) == 0 {
		v.add([]string{"rules"}, "rules", "at least one file, directory or glob is required")
	}
	for i, r := range c.Rules {
		if strings.ContainsAny(r, "*?[") {
			if _, err := filepath.Match(r, ""); err != nil {
				v.add([]string{"rules", strconv.Itoa(i)}, "rules", fmt.Sprintf("bad glob %q: %v", r, err))
			}
		}
	}

	if c.Web.ExternalURL != "" {
		if u, err := url.Parse(c.Web.ExternalURL); err != nil || u.Scheme == "" || u.Host == "" {
			v.add([]string{"web", "external_url"}, "web.external_url", "must be an absolute URL")
		}
	}

	if err := receiver.Validate(c.Receivers, c.Routes); err != nil {
		for _, e := range unjoin(err) {
			var fe *receiver.FieldError
			if errors.As(e, &fe) {
				v.add(fieldPath(fe.Field), fe.Field, fe.Message)
			} else {
				v.add([]string{"receivers"}, "receivers", e.Error())
			}
		}
	}
	if len(c.Receivers) > 0 && len(c.Routes) == 0 {
		v.add([]string{"routes"}, "routes", "receivers are defined but no route leads to them")
	}
}

// unjoin splits an errors.Join error into its parts.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

var fieldIndex = regexp.MustCompile(`\[(\d+)\]`)

// fieldPath turns a field name like "receivers[0].pagerduty.url" into the path locate walks.
func fieldPath(field string) []string {
	return strings.Split(fieldIndex.ReplaceAllString(field, ".$1"), ".")
}

// validator collects errors, placing each at the YAML node its path leads to (or the closest
// existing ancestor, for a missing key).
type validator struct {
	file string
	root *yaml.Node
	errs Errors
}

func (v *validator) add(path []string, field, msg string) {
	line, col := locate(v.root, path)
	v.errs = append(v.errs, Error{Pos: Pos{File: v.file, Line: line, Col: col}, Field: field, Message: msg})
}

// locate walks mapping keys and sequence indexes of path from the document root and returns the
// position of the deepest node found: a key's position for mappings, an item's for sequences.
func locate(root *yaml.Node, path []string) (int, int) {
	n := root
	if n == nil {
		return 1, 1
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line, col := n.Line, n.Column
	for _, key := range path {
		switch n.Kind {
		case yaml.MappingNode:
			found := false
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == key {
					line, col = n.Content[i].Line, n.Content[i].Column
					n = n.Content[i+1]
					found = true
					break
				}
			}
			if !found {
				return line, col
			}
		case yaml.SequenceNode:
			i, err := strconv.Atoi(key)
			if err != nil || i < 0 || i >= len(n.Content) {
				return line, col
			}
			n = n.Content[i]
			line, col = n.Line, n.Column
		default:
			return line, col
		}
	}
	if line == 0 {
		return 1, 1
	}
	return line, col
}

var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
var unknownField = regexp.MustCompile(`^field (\S+) not found in type \S+$`)

// yamlError turns a yaml.v3 error ("line 3: field foo not found in type ...") into a positioned
// Error; yaml.v3 gives only the line, so the column is that of the offending key when it can be
// found in the tree.
func yamlError(file string, err error, root *yaml.Node) Error {
	msg := err.Error()
	m := yamlLine.FindStringSubmatch(msg)
	if m == nil {
		// Unmarshalers of the yaml.v2 kind (prometheus/common's model.Duration) report no line;
		// the value they quote is found in the tree instead.
		pos := Pos{File: file, Line: 1, Col: 1}
		if q := quoted.FindStringSubmatch(msg); q != nil {
			if n := findScalar(root, q[1]); n != nil {
				pos.Line, pos.Col = n.Line, n.Column
			}
		}
		return Error{Pos: pos, Message: strings.TrimPrefix(msg, "yaml: ")}
	}
	line, _ := strconv.Atoi(m[1])
	col := 1
	msg = m[2]
	if f := unknownField.FindStringSubmatch(msg); f != nil {
		msg = fmt.Sprintf("unknown field %q", f[1])
		if c := findKey(root, line, f[1]); c > 0 {
			col = c
		}
	} else if c := firstOnLine(root, line); c > 0 {
		col = c
	}
	return Error{Pos: Pos{File: file, Line: line, Col: col}, Message: msg}
}

var quoted = regexp.MustCompile(`"([^"]+)"`)

func findScalar(n *yaml.Node, value string) *yaml.Node {
	if n == nil {
		return nil
	}
	if n.Kind == yaml.ScalarNode && n.Value == value {
		return n
	}
	for _, c := range n.Content {
		if f := findScalar(c, value); f != nil {
			return f
		}
	}
	return nil
}

func findKey(n *yaml.Node, line int, key string) int {
	if n == nil {
		return 0
	}
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i]; k.Line == line && k.Value == key {
				return k.Column
			}
		}
	}
	for _, c := range n.Content {
		if col := findKey(c, line, key); col > 0 {
			return col
		}
	}
	return 0
}

func firstOnLine(n *yaml.Node, line int) int {
	if n == nil {
		return 0
	}
	if n.Line == line && n.Kind == yaml.ScalarNode {
		return n.Column
	}
	for _, c := range n.Content {
		if col := firstOnLine(c, line); col > 0 {
			return col
		}
	}
	return 0
}
