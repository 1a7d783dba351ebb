// Package unittest runs `slod test`: promtool-style unit tests of SLO alerts. A test file names SLO
// files, gives input series in Prometheus's expanding notation, and states which alerts fire and how
// much error budget is left at given evaluation times. The series are evaluated by the same engine
// as `slod check` (internal/eval over internal/recorded), so a passing test says what production
// would do with those samples.
package unittest

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/slod-dev/slod/internal/burnrate"
	"github.com/slod-dev/slod/internal/rules"
	"github.com/slod-dev/slod/internal/sli"
	"github.com/slod-dev/slod/internal/yamlx"
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
	Pos      rules.Pos
	SLOPos   rules.Pos
	EvalTime time.Duration
	SLO      string
	// Group names the group of a grouped SLO the assertion is about (nil for an SLO without
	// group_by).
	Group     map[string]string
	ExpAlerts []ExpAlert
	fieldPath string
}

// AlertID names one alert of an SLO: the burn-rate alert of a severity, its budget alert, or the
// no-data alert.
type AlertID struct {
	Severity burnrate.Severity
	NoData   bool
	Budget   bool
}

// String prints an alert as failure messages show it: the severity, with "(no_data)" for a
// no-data alert and "(budget)" for a budget alert.
func (a AlertID) String() string {
	switch {
	case a.NoData:
		return string(a.Severity) + "(no_data)"
	case a.Budget:
		return string(a.Severity) + "(budget)"
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
	Group              map[string]string
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
// malformed series are all reported, each with file:line:col, in one Errors value. Merge keys and
// aliases work as in SLO files, and the same mistake gets the same message (internal/yamlx).
func Decode(path string, data []byte) (*File, error) {
	doc := yamlx.Parse(path, data, testFileKind)
	if sloFile(doc) {
		// Its every key would be unknown here: say what it is instead, as slod validate does of a
		// test file.
		return nil, Errors{{Pos: rules.Pos{File: path, Line: 1, Col: 1},
			Message: "this is an SLO file (it has version, service or slos), not a slod test file: check it with slod validate, and test it from a test file that names it in rule_files"}}
	}
	var spec fileSpec
	doc.Decode(&spec)
	var f *File
	if doc.Root() != nil {
		f = (&checker{doc: doc}).file(&spec)
	}
	if err := doc.Err(); err != nil {
		return nil, err
	}
	return f, nil
}

var testFileKind = yamlx.Kind{Name: "test file", Want: "a slod test file with rule_files and tests"}

// sloFile reports whether doc is an SLO file: a mapping with an SLO file's top-level keys and none
// of a test file's.
func sloFile(doc *yamlx.Doc) bool {
	root := yamlx.Resolve(doc.Root())
	if root == nil || root.Kind != yaml.MappingNode {
		return false
	}
	slo := false
	for i := 0; i+1 < len(root.Content); i += 2 {
		switch root.Content[i].Value {
		case "rule_files", "tests":
			return false
		case "version", "service", "slos":
			slo = true
		}
	}
	return slo
}

// The schema of a test file, declared once; checker checks what the types cannot say. Pointers
// are fields that may be absent; they stay nil when absent or when the value did not decode.
type fileSpec struct {
	RuleFiles          []string       `yaml:"rule_files" yamlx:"required"`
	EvaluationInterval *time.Duration `yaml:"evaluation_interval"`
	Tests              []*testSpec    `yaml:"tests" yamlx:"required"`
}

type testSpec struct {
	Name        string            `yaml:"name"`
	Interval    *time.Duration    `yaml:"interval"`
	InputSeries []*seriesSpec     `yaml:"input_series"`
	AlertTest   []*alertTestSpec  `yaml:"alert_test"`
	BudgetTest  []*budgetTestSpec `yaml:"budget_test"`
}

type seriesSpec struct {
	Series *string `yaml:"series" yamlx:"required"`
	Values *string `yaml:"values" yamlx:"required"`
}

type alertTestSpec struct {
	EvalTime  *time.Duration    `yaml:"eval_time" yamlx:"required"`
	SLO       *string           `yaml:"slo" yamlx:"required"`
	Group     map[string]string `yaml:"group"`
	ExpAlerts []*expAlertSpec   `yaml:"exp_alerts"`
}

type expAlertSpec struct {
	Severity       *string           `yaml:"severity" yamlx:"required"`
	NoData         bool              `yaml:"no_data"`
	Budget         bool              `yaml:"budget"`
	ExpLabels      map[string]string `yaml:"exp_labels"`
	ExpAnnotations map[string]string `yaml:"exp_annotations"`
}

type budgetTestSpec struct {
	EvalTime           *time.Duration    `yaml:"eval_time" yamlx:"required"`
	SLO                *string           `yaml:"slo" yamlx:"required"`
	Group              map[string]string `yaml:"group"`
	ExpBudgetRemaining *float64          `yaml:"exp_budget_remaining" yamlx:"required"`
	Tolerance          *float64          `yaml:"tolerance"`
}

// checker checks a decoded test file and builds its File; problems go to the Doc.
type checker struct {
	doc *yamlx.Doc
}

func (c *checker) file(spec *fileSpec) *File {
	// Without evaluation_interval, the step of `slod check` and of the daemon, so that tests see
	// the grid production uses.
	f := &File{Path: c.doc.File(), EvaluationInterval: sli.DefaultStep}
	dir := filepath.Dir(c.doc.File())
	for _, s := range spec.RuleFiles {
		if s == "" {
			continue
		}
		if !filepath.IsAbs(s) {
			s = filepath.Join(dir, s)
		}
		f.RuleFiles = append(f.RuleFiles, s)
	}
	if c.doc.Has("rule_files") && c.doc.Clean("rule_files") && len(f.RuleFiles) == 0 {
		c.doc.Errorf("rule_files", "at least one SLO file is required")
	}
	if iv := spec.EvaluationInterval; iv != nil {
		if *iv == 0 {
			c.doc.Errorf("evaluation_interval", "must be greater than 0")
		} else {
			f.EvaluationInterval = *iv
		}
	}
	if c.doc.Has("tests") && !c.doc.Failed("tests") && len(spec.Tests) == 0 {
		c.doc.Errorf("tests", "at least one test is required")
	}
	for i, ts := range spec.Tests {
		if ts != nil {
			f.Tests = append(f.Tests, c.test(yamlx.Index("tests", i), ts, f.EvaluationInterval))
		}
	}
	return f
}

func (c *checker) test(p string, spec *testSpec, step time.Duration) Test {
	t := Test{Pos: c.doc.Pos(p), Name: spec.Name, Interval: step}
	if t.Name == "" {
		t.Name = p
	}
	if iv := spec.Interval; iv != nil {
		if *iv == 0 {
			c.doc.Errorf(yamlx.Field(p, "interval"), "must be greater than 0")
		} else {
			t.Interval = *iv
		}
	}
	seen := map[string]bool{}
	for i, ss := range spec.InputSeries {
		if ss == nil {
			continue
		}
		s := c.inputSeries(yamlx.Index(yamlx.Field(p, "input_series"), i), ss)
		if s.parsed != nil {
			// Compared as label sets: the same series with its labels in another order is still
			// the same series, and two sample lists for it cannot both be right.
			key := s.parsed.labels.String()
			if seen[key] {
				c.doc.Errorf(s.fieldPath+".series", "series %s given twice", key)
			}
			seen[key] = true
		}
		t.InputSeries = append(t.InputSeries, s)
	}
	for i, as := range spec.AlertTest {
		if as != nil {
			t.AlertTests = append(t.AlertTests, c.alertTest(yamlx.Index(yamlx.Field(p, "alert_test"), i), as, step))
		}
	}
	for i, bs := range spec.BudgetTest {
		if bs != nil {
			t.BudgetTests = append(t.BudgetTests, c.budgetTest(yamlx.Index(yamlx.Field(p, "budget_test"), i), bs, step))
		}
	}
	if len(spec.AlertTest)+len(spec.BudgetTest) == 0 {
		c.doc.Errorf(p, "a test needs at least one alert_test or budget_test")
	}
	return t
}

func (c *checker) inputSeries(p string, spec *seriesSpec) InputSeries {
	s := InputSeries{Pos: c.doc.Pos(p), ValuesPos: c.doc.Pos(p), fieldPath: p, valuesPath: yamlx.Field(p, "values")}
	if spec.Series != nil {
		s.Series, s.Pos = strings.TrimSpace(*spec.Series), c.doc.Pos(yamlx.Field(p, "series"))
		if s.Series == "" {
			c.doc.Errorf(yamlx.Field(p, "series"), "no series given")
		}
	}
	if spec.Values != nil {
		s.Values, s.ValuesPos = strings.TrimSpace(*spec.Values), c.doc.Pos(s.valuesPath)
		if s.Values == "" {
			c.doc.Errorf(s.valuesPath, "no values")
		}
	}
	if s.Series != "" && s.Values != "" {
		// Parse now so that a malformed series is reported with every other decoding error.
		ps, err := parseSeries(s)
		if err != nil {
			e := err.(Error)
			c.doc.ErrorAt(e.Pos, e.Field, "%s", e.Message)
		} else {
			s.parsed = &ps
		}
	}
	return s
}

// evalTime checks the eval_time of the assertion at p, which must lie on the evaluation grid: slod
// evaluates only at multiples of the step, and an assertion between two evaluations would
// silently test the one before.
func (c *checker) evalTime(p string, t *time.Duration, step time.Duration) time.Duration {
	if t == nil {
		return 0
	}
	if *t%step != 0 {
		c.doc.Errorf(yamlx.Field(p, "eval_time"), "%s is not a multiple of the evaluation_interval %s", model.Duration(*t), model.Duration(step))
	}
	return *t
}

func (c *checker) sloID(p string, id *string) (string, rules.Pos) {
	path := yamlx.Field(p, "slo")
	if id == nil {
		return "", c.doc.Pos(p)
	}
	if *id != "" && !strings.Contains(*id, "/") {
		c.doc.Errorf(path, "%q is not an SLO id (<service>/<name>)", *id)
	}
	return *id, c.doc.Pos(path)
}

func (c *checker) alertTest(p string, spec *alertTestSpec, step time.Duration) AlertTest {
	a := AlertTest{Pos: c.doc.Pos(p), fieldPath: p, EvalTime: c.evalTime(p, spec.EvalTime, step), Group: spec.Group}
	a.SLO, a.SLOPos = c.sloID(p, spec.SLO)
	seen := map[AlertID]bool{}
	for i, es := range spec.ExpAlerts {
		ep := yamlx.Index(yamlx.Field(p, "exp_alerts"), i)
		if es == nil {
			continue
		}
		if es.NoData && es.Budget {
			c.doc.Errorf(yamlx.Field(ep, "budget"), "an alert is a no-data alert or a budget alert, not both")
		}
		e := ExpAlert{AlertID: AlertID{NoData: es.NoData, Budget: es.Budget}, Labels: es.ExpLabels, Annotations: es.ExpAnnotations}
		if es.Severity != nil {
			e.Severity = burnrate.Severity(*es.Severity)
		}
		if seen[e.AlertID] {
			c.doc.Errorf(ep, "alert %s expected twice", e.AlertID)
		}
		seen[e.AlertID] = true
		a.ExpAlerts = append(a.ExpAlerts, e)
	}
	return a
}

func (c *checker) budgetTest(p string, spec *budgetTestSpec, step time.Duration) BudgetTest {
	b := BudgetTest{Pos: c.doc.Pos(p), Tolerance: DefaultTolerance, fieldPath: p, EvalTime: c.evalTime(p, spec.EvalTime, step), Group: spec.Group}
	b.SLO, b.SLOPos = c.sloID(p, spec.SLO)
	if spec.ExpBudgetRemaining != nil {
		b.ExpBudgetRemaining = *spec.ExpBudgetRemaining
	}
	if tol := spec.Tolerance; tol != nil {
		if *tol < 0 {
			c.doc.Errorf(yamlx.Field(p, "tolerance"), "must not be negative")
		} else {
			b.Tolerance = *tol
		}
	}
	return b
}

// sortedAlerts returns alerts in a stable order for messages: severities alphabetically ("page"
// before "ticket"), burn-rate alerts before budget alerts before no-data alerts.
func sortedAlerts(as []AlertID) []AlertID {
	out := append([]AlertID(nil), as...)
	rank := func(a AlertID) int {
		switch {
		case a.NoData:
			return 2
		case a.Budget:
			return 1
		}
		return 0
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Severity != out[j].Severity {
			return out[i].Severity < out[j].Severity
		}
		return rank(out[i]) < rank(out[j])
	})
	return out
}
