// Package unittest runs `slod test`: promtool-style unit tests of SLO alerts. A test file names SLO
// files, gives input series in Prometheus's expanding notation, and states which alerts fire and how
// much error budget is left at given evaluation times. The series are evaluated by the same engine
// as `slod check` (internal/eval over internal/recorded), so a passing test says what production
// would do with those samples.
package unittest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/slod-dev/slod/internal/burnrate"
	"github.com/slod-dev/slod/internal/rules"
	"github.com/slod-dev/slod/internal/sli"
)

// DefaultTolerance is the allowed absolute difference in a budget_test without a tolerance. Budget
// remaining is computed from exact sums, so only floating-point noise needs absorbing; a test that
// wants a rough figure says so with its own tolerance.
const DefaultTolerance = 1e-6

// File is one decoded test file.
type File struct {
	// Path is the file as named on the command line (or found in a directory).
	Path string
	// RuleFiles are the SLO files under test, resolved against the test file's directory.
	RuleFiles []string
	// EvaluationInterval is the step of the evaluation grid (multiples since the Unix epoch).
	EvaluationInterval time.Duration
	Tests              []Test
}

// Test is one named test: its input series and its assertions. Time 0 of the series and of every
// eval_time is the Unix epoch, as in promtool.
type Test struct {
	Name string
	Pos  rules.Pos
	// Interval is the spacing of the input samples; defaults to the evaluation interval.
	Interval    time.Duration
	InputSeries []InputSeries
	AlertTests  []AlertTest
	BudgetTests []BudgetTest
}

// InputSeries is one series in expanding notation: Series is a selector-like series description
// (`metric{label="v"}`), Values a sequence such as `0+10x60 _x5 stale`.
type InputSeries struct {
	Pos        rules.Pos
	ValuesPos  rules.Pos
	Series     string
	Values     string
	fieldPath  string
	valuesPath string
	// parsed is the expansion, set by decoding when the series parses.
	parsed *parsedSeries
}

// AlertTest asserts the exact set of alerts of one SLO that are firing at EvalTime. Pending alerts
// (a window pair holds but its `for` has not elapsed) do not count, as in promtool.
type AlertTest struct {
	Pos       rules.Pos
	SLOPos    rules.Pos
	EvalTime  time.Duration
	SLO       string
	ExpAlerts []ExpAlert
	fieldPath string
}

// AlertID names one alert of an SLO: the burn-rate alert of a severity, or the no-data alert.
type AlertID struct {
	Severity burnrate.Severity
	NoData   bool
}

// String prints an alert as failure messages show it: the severity, with "(no_data)" for a
// no-data alert.
func (a AlertID) String() string {
	if a.NoData {
		return string(a.Severity) + "(no_data)"
	}
	return string(a.Severity)
}

// ExpAlert is one expected firing alert and, optionally, labels and annotations its notification
// must carry (exp_labels, exp_annotations as in promtool). Unlike promtool these are a subset
// match: a delivered alert also carries slod's identifying labels (alertname, service, slo,
// severity) and the file's labels, and a test says only what it is about (a routing label, say).
type ExpAlert struct {
	AlertID
	Labels      map[string]string
	Annotations map[string]string
}

// BudgetTest asserts the error budget remaining of one SLO at EvalTime, within Tolerance.
type BudgetTest struct {
	Pos                rules.Pos
	SLOPos             rules.Pos
	EvalTime           time.Duration
	SLO                string
	ExpBudgetRemaining float64
	Tolerance          float64
	fieldPath          string
}

// Error is one problem in a test file, at a position. It is a rules diagnostic, so that it prints
// in the same `file:line:col: field: message` form as the problems of SLO files and editors and CI
// annotate the right spot.
type Error = rules.Diagnostic

// Errors is every problem found in one test file, in file order: decoding does not stop at the
// first. It prints one problem per line.
type Errors = rules.Errors

// ReadFile reads and decodes one test file.
func ReadFile(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading test file: %w", err)
	}
	return Decode(path, data)
}

// Decode decodes a test file strictly: unknown or duplicate keys, wrong types, bad durations and
// malformed series are all reported, each with file:line:col, in one Errors value.
func Decode(path string, data []byte) (*File, error) {
	d := &decoder{file: path}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, Errors{{Pos: rules.Pos{File: path, Line: 1, Col: 1}, Message: "empty test file"}}
		}
		line, msg := yamlError(err)
		return nil, Errors{{Pos: rules.Pos{File: path, Line: line, Col: 1}, Message: msg}}
	}
	if len(root.Content) == 0 {
		return nil, Errors{{Pos: rules.Pos{File: path, Line: 1, Col: 1}, Message: "empty test file"}}
	}
	// A second document would be silently ignored by a plain decode; a test file is one document.
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		line := extra.Line
		if err != nil {
			line, _ = yamlError(err)
		}
		d.errs = append(d.errs, Error{Pos: rules.Pos{File: path, Line: line, Col: 1}, Message: "a test file holds one YAML document; found another"})
	}
	f := d.decodeFile(root.Content[0])
	if len(d.errs) > 0 {
		sort.SliceStable(d.errs, func(i, j int) bool {
			a, b := d.errs[i].Pos, d.errs[j].Pos
			return a.Line < b.Line || a.Line == b.Line && a.Col < b.Col
		})
		return nil, d.errs
	}
	return f, nil
}

// yamlError splits a yaml.v3 syntax error ("yaml: line 7: did not find ...") into its line and
// message: yaml.v3 gives syntax errors no structured position.
func yamlError(err error) (int, string) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if n, m, ok := strings.Cut(rest, ": "); ok {
			if line, err := strconv.Atoi(n); err == nil {
				return line, m
			}
		}
	}
	return 1, msg
}

type decoder struct {
	file string
	errs Errors
}

func (d *decoder) pos(n *yaml.Node) rules.Pos {
	return rules.Pos{File: d.file, Line: n.Line, Col: n.Column}
}

func (d *decoder) errorf(n *yaml.Node, field, format string, args ...any) {
	d.errs = append(d.errs, Error{Pos: d.pos(n), Field: field, Message: fmt.Sprintf(format, args...)})
}

// mapping checks that n is a mapping holding only the allowed keys, each at most once, and returns
// the value node of each key present.
func (d *decoder) mapping(n *yaml.Node, field string, allowed ...string) map[string]*yaml.Node {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, field, "expected a mapping, got %s", kindName(n))
		return nil
	}
	out := make(map[string]*yaml.Node, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		name := join(field, k.Value)
		switch {
		case !slices.Contains(allowed, k.Value):
			d.errorf(k, name, "unknown field (allowed: %s)", strings.Join(allowed, ", "))
		case out[k.Value] != nil:
			d.errorf(k, name, "field given twice")
		default:
			out[k.Value] = v
		}
	}
	return out
}

func (d *decoder) sequence(n *yaml.Node, field string) []*yaml.Node {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, field, "expected a list, got %s", kindName(n))
		return nil
	}
	return n.Content
}

func (d *decoder) scalar(n *yaml.Node, field string) (string, bool) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		d.errorf(n, field, "expected a value, got %s", kindName(n))
		return "", false
	}
	return n.Value, true
}

func (d *decoder) str(n *yaml.Node, field string) string {
	s, _ := d.scalar(n, field)
	return s
}

func (d *decoder) duration(n *yaml.Node, field string) (time.Duration, bool) {
	s, ok := d.scalar(n, field)
	if !ok {
		return 0, false
	}
	v, err := model.ParseDuration(s)
	if err != nil {
		d.errorf(n, field, "invalid duration %q: %v", s, err)
		return 0, false
	}
	return time.Duration(v), true
}

func (d *decoder) float(n *yaml.Node, field string) (float64, bool) {
	s, ok := d.scalar(n, field)
	if !ok {
		return 0, false
	}
	var v float64
	if err := n.Decode(&v); err != nil || math.IsNaN(v) {
		d.errorf(n, field, "expected a number, got %q", s)
		return 0, false
	}
	return v, true
}

// stringMap decodes a mapping of strings (labels, annotations); values must be scalars.
func (d *decoder) stringMap(n *yaml.Node, field string) map[string]string {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, field, "expected a mapping, got %s", kindName(n))
		return nil
	}
	out := make(map[string]string, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		name := join(field, k.Value)
		if _, dup := out[k.Value]; dup {
			d.errorf(k, name, "given twice")
			continue
		}
		if s, ok := d.scalar(v, name); ok {
			out[k.Value] = s
		}
	}
	return out
}

func (d *decoder) boolean(n *yaml.Node, field string) bool {
	s, ok := d.scalar(n, field)
	if !ok {
		return false
	}
	var v bool
	if err := n.Decode(&v); err != nil {
		d.errorf(n, field, "expected true or false, got %q", s)
	}
	return v
}

func (d *decoder) decodeFile(n *yaml.Node) *File {
	// Without evaluation_interval, the step of `slod check` and of the daemon, so that tests see
	// the grid production uses.
	f := &File{Path: d.file, EvaluationInterval: sli.DefaultStep}
	m := d.mapping(n, "", "rule_files", "evaluation_interval", "tests")
	if m == nil {
		return f
	}
	if v := m["rule_files"]; v != nil {
		dir := filepath.Dir(d.file)
		nerrs := len(d.errs)
		for i, rf := range d.sequence(v, "rule_files") {
			field := fmt.Sprintf("rule_files[%d]", i)
			if s := d.str(rf, field); s != "" {
				if !filepath.IsAbs(s) {
					s = filepath.Join(dir, s)
				}
				f.RuleFiles = append(f.RuleFiles, s)
			}
		}
		if len(f.RuleFiles) == 0 && len(d.errs) == nerrs {
			d.errorf(v, "rule_files", "at least one SLO file is required")
		}
	} else {
		d.errorf(n, "rule_files", "required: the SLO files under test")
	}
	if v := m["evaluation_interval"]; v != nil {
		if iv, ok := d.duration(v, "evaluation_interval"); ok {
			if iv <= 0 {
				d.errorf(v, "evaluation_interval", "must be positive")
			} else {
				f.EvaluationInterval = iv
			}
		}
	}
	v := m["tests"]
	if v == nil {
		d.errorf(n, "tests", "at least one test is required")
		return f
	}
	for i, tn := range d.sequence(v, "tests") {
		f.Tests = append(f.Tests, d.test(tn, fmt.Sprintf("tests[%d]", i), f.EvaluationInterval))
	}
	if len(f.Tests) == 0 {
		d.errorf(v, "tests", "at least one test is required")
	}
	return f
}

func (d *decoder) test(n *yaml.Node, field string, step time.Duration) Test {
	t := Test{Pos: d.pos(n), Interval: step}
	m := d.mapping(n, field, "name", "interval", "input_series", "alert_test", "budget_test")
	if m == nil {
		return t
	}
	if v := m["name"]; v != nil {
		t.Name = d.str(v, join(field, "name"))
	}
	if t.Name == "" {
		t.Name = field
	}
	if v := m["interval"]; v != nil {
		if iv, ok := d.duration(v, join(field, "interval")); ok {
			if iv <= 0 {
				d.errorf(v, join(field, "interval"), "must be positive")
			} else {
				t.Interval = iv
			}
		}
	}
	if v := m["input_series"]; v != nil {
		seen := map[string]bool{}
		for i, sn := range d.sequence(v, join(field, "input_series")) {
			s := d.inputSeries(sn, fmt.Sprintf("%s.input_series[%d]", field, i))
			if s.parsed != nil {
				// Compared as label sets: the same series with its labels in another order is
				// still the same series, and two sample lists for it cannot both be right.
				key := s.parsed.labels.String()
				if seen[key] {
					d.errorf(sn, s.fieldPath+".series", "series %s given twice", key)
				}
				seen[key] = true
			}
			t.InputSeries = append(t.InputSeries, s)
		}
	}
	if v := m["alert_test"]; v != nil {
		for i, an := range d.sequence(v, join(field, "alert_test")) {
			t.AlertTests = append(t.AlertTests, d.alertTest(an, fmt.Sprintf("%s.alert_test[%d]", field, i), step))
		}
	}
	if v := m["budget_test"]; v != nil {
		for i, bn := range d.sequence(v, join(field, "budget_test")) {
			t.BudgetTests = append(t.BudgetTests, d.budgetTest(bn, fmt.Sprintf("%s.budget_test[%d]", field, i), step))
		}
	}
	if len(t.AlertTests)+len(t.BudgetTests) == 0 {
		d.errorf(n, field, "a test needs at least one alert_test or budget_test")
	}
	return t
}

func (d *decoder) inputSeries(n *yaml.Node, field string) InputSeries {
	s := InputSeries{Pos: d.pos(n), ValuesPos: d.pos(n), fieldPath: field, valuesPath: join(field, "values")}
	m := d.mapping(n, field, "series", "values")
	if m == nil {
		return s
	}
	if v := m["series"]; v != nil {
		s.Series = strings.TrimSpace(d.str(v, join(field, "series")))
		s.Pos = d.pos(v)
		if s.Series == "" && v.Tag != "!!null" {
			d.errorf(v, join(field, "series"), "no series given")
		}
	} else {
		d.errorf(n, join(field, "series"), "required")
	}
	if v := m["values"]; v != nil {
		s.Values = strings.TrimSpace(d.str(v, join(field, "values")))
		s.ValuesPos = d.pos(v)
		if s.Values == "" && v.Tag != "!!null" {
			d.errorf(v, join(field, "values"), "no values")
		}
	} else {
		d.errorf(n, join(field, "values"), "required")
	}
	if s.Series != "" && s.Values != "" {
		// Parse now so that a malformed series is reported with every other decoding error.
		ps, err := parseSeries(s)
		if err != nil {
			d.errs = append(d.errs, err.(Error))
		} else {
			s.parsed = &ps
		}
	}
	return s
}

// evalTime decodes the required eval_time of the assertion n, which must lie on the evaluation
// grid: slod evaluates only at multiples of the step, and an assertion between two evaluations
// would silently test the one before.
func (d *decoder) evalTime(m map[string]*yaml.Node, n *yaml.Node, field string, step time.Duration) time.Duration {
	field = join(field, "eval_time")
	v := m["eval_time"]
	if v == nil {
		d.errorf(n, field, "required")
		return 0
	}
	t, ok := d.duration(v, field)
	if !ok {
		return 0
	}
	if t%step != 0 {
		d.errorf(v, field, "%s is not a multiple of the evaluation_interval %s", model.Duration(t), model.Duration(step))
	}
	return t
}

func (d *decoder) sloID(m map[string]*yaml.Node, n *yaml.Node, field string) (string, rules.Pos) {
	v := m["slo"]
	if v == nil {
		d.errorf(n, join(field, "slo"), "required")
		return "", d.pos(n)
	}
	id := d.str(v, join(field, "slo"))
	if id != "" && !strings.Contains(id, "/") {
		d.errorf(v, join(field, "slo"), "%q is not an SLO id (<service>/<name>)", id)
	}
	return id, d.pos(v)
}

func (d *decoder) alertTest(n *yaml.Node, field string, step time.Duration) AlertTest {
	a := AlertTest{Pos: d.pos(n), fieldPath: field}
	m := d.mapping(n, field, "eval_time", "slo", "exp_alerts")
	if m == nil {
		return a
	}
	a.EvalTime = d.evalTime(m, n, field, step)
	a.SLO, a.SLOPos = d.sloID(m, n, field)
	if v := m["exp_alerts"]; v != nil {
		seen := map[AlertID]bool{}
		for i, en := range d.sequence(v, join(field, "exp_alerts")) {
			ef := fmt.Sprintf("%s.exp_alerts[%d]", field, i)
			em := d.mapping(en, ef, "severity", "no_data", "exp_labels", "exp_annotations")
			if em == nil {
				continue
			}
			var e ExpAlert
			if sv := em["severity"]; sv != nil {
				e.Severity = burnrate.Severity(d.str(sv, join(ef, "severity")))
			} else {
				d.errorf(en, join(ef, "severity"), "required")
			}
			if nv := em["no_data"]; nv != nil {
				e.NoData = d.boolean(nv, join(ef, "no_data"))
			}
			if lv := em["exp_labels"]; lv != nil {
				e.Labels = d.stringMap(lv, join(ef, "exp_labels"))
			}
			if av := em["exp_annotations"]; av != nil {
				e.Annotations = d.stringMap(av, join(ef, "exp_annotations"))
			}
			if seen[e.AlertID] {
				d.errorf(en, ef, "alert %s expected twice", e.AlertID)
			}
			seen[e.AlertID] = true
			a.ExpAlerts = append(a.ExpAlerts, e)
		}
	}
	return a
}

func (d *decoder) budgetTest(n *yaml.Node, field string, step time.Duration) BudgetTest {
	b := BudgetTest{Pos: d.pos(n), Tolerance: DefaultTolerance, fieldPath: field}
	m := d.mapping(n, field, "eval_time", "slo", "exp_budget_remaining", "tolerance")
	if m == nil {
		return b
	}
	b.EvalTime = d.evalTime(m, n, field, step)
	b.SLO, b.SLOPos = d.sloID(m, n, field)
	if v := m["exp_budget_remaining"]; v != nil {
		b.ExpBudgetRemaining, _ = d.float(v, join(field, "exp_budget_remaining"))
	} else {
		d.errorf(n, join(field, "exp_budget_remaining"), "required")
	}
	if v := m["tolerance"]; v != nil {
		if tol, ok := d.float(v, join(field, "tolerance")); ok {
			if tol < 0 {
				d.errorf(v, join(field, "tolerance"), "must not be negative")
			} else {
				b.Tolerance = tol
			}
		}
	}
	return b
}

func join(field, key string) string {
	if field == "" {
		return key
	}
	return field + "." + key
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "an unexpected node"
}

// sortedAlerts returns alerts in a stable order for messages: severities alphabetically ("page"
// before "ticket"), burn-rate alerts before no-data alerts.
func sortedAlerts(as []AlertID) []AlertID {
	out := append([]AlertID(nil), as...)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Severity != out[j].Severity {
			return out[i].Severity < out[j].Severity
		}
		return !out[i].NoData && out[j].NoData
	})
	return out
}
