package rules

import (
	"math/big"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/slod-dev/slod/internal/burnrate"
	"github.com/slod-dev/slod/internal/exclude"
	"github.com/slod-dev/slod/internal/openslo"
	"github.com/slod-dev/slod/internal/yamlx"
)

// The file formats slod reads.
const (
	// FormatV1 is slod's own format (docs/interfaces.md §1).
	FormatV1 = "slod/v1"
	// FormatSloth is Sloth's prometheus/v1 format, read unchanged.
	FormatSloth = "prometheus/v1"
)

// DefaultAlertName is the alert name of an SLO whose file sets none.
const DefaultAlertName = "SLOBurnRate"

var (
	// nameRE is the charset of slod/v1 service and SLO names: they become label values and dedup
	// keys, so they stay lower-case and path-safe.
	nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9\-_.]*$`)
	// slothNameRE is as nameRE but allows upper case, which Sloth files use.
	slothNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9\-_.]*$`)
)

// fileKind names SLO files in messages about a file as a whole.
var fileKind = yamlx.Kind{Name: "SLO file", Want: "an SLO file with version " + FormatV1}

// Parse reads one SLO file (slod/v1, Sloth prometheus/v1, or OpenSLO whose references it holds
// itself) and returns its validated SLOs and warnings. The error, if any, is an Errors holding every problem of the file; then no SLOs are
// returned. A `slod test` file is an error here: it is not an SLO file.
func Parse(file string, data []byte) ([]*SLO, []Diagnostic, error) {
	if openslo.Sniff(data) {
		slos, warns, errs := readOpenSLO([]openslo.File{{Path: file, Data: data}})
		if len(errs) > 0 {
			return nil, warns, errs
		}
		return slos[file], warns, nil
	}
	slos, warns, errs, testFile := parseFile(file, data)
	if testFile {
		errs = append(errs, testFileError(file))
	}
	if len(errs) > 0 {
		return nil, warns, errs
	}
	return slos, warns, nil
}

func testFileError(file string) Diagnostic {
	return Diagnostic{Pos: Pos{File: file, Line: 1, Col: 1},
		Message: "this is a slod test file (it has rule_files or tests), not an SLO file: run it with slod test"}
}

// parseFile does the work of Parse; testFile reports a `slod test` file, which directory walks
// skip. errs is sorted by position.
func parseFile(file string, data []byte) (slos []*SLO, warns []Diagnostic, errs Errors, testFile bool) {
	doc := yamlx.Parse(file, data, fileKind)
	root := yamlx.Resolve(doc.Root())
	if root == nil {
		return nil, nil, doc.Errors(), false
	}
	if root.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(root.Content); i += 2 {
			if k := root.Content[i].Value; k == "rule_files" || k == "tests" {
				return nil, nil, nil, true
			}
		}
	}
	c := &checker{doc: doc}
	slos = c.file(root)
	if doc.NumErrors() > 0 {
		slos = nil
	}
	setSources(slos, root, data)
	return slos, doc.Warnings(), doc.Errors(), false
}

// checker checks what the schema types cannot say (ranges, names, PromQL, the alert policy) on a
// decoded file, and builds its model SLOs. Problems go to the Doc, at the place of their value.
type checker struct {
	doc *yamlx.Doc
}

// file decodes and checks a whole file, in the format its version names.
func (c *checker) file(root *yaml.Node) []*SLO {
	if root.Kind != yaml.MappingNode {
		c.doc.ErrorAt(c.doc.NodePos(root), "", "must be a mapping with version, service and slos, got %s", yamlx.KindName(root))
		return nil
	}
	format, ok := c.format(root)
	if !ok {
		return nil
	}
	if format == FormatSloth {
		var f slothFile
		c.doc.Decode(&f)
		if f.SLOPlugins != nil {
			c.doc.KeyErrorf("slo_plugins", "Sloth SLO plugins are not supported by slod")
		}
		fs := c.fileSpec(format, f.Service, f.Labels)
		return each(c, f.SLOs, func(p string, s *slothSLO) (*SLO, string) { return c.slothSLO(p, s, fs) })
	}
	var f v1File
	c.doc.Decode(&f)
	fs := c.fileSpec(format, f.Service, f.Labels)
	fs.minBad = c.minBadEvents("min_bad_events", f.MinBadEvents)
	fs.exclusions = c.exclusions("exclusions", f.Exclusions)
	return each(c, f.SLOs, func(p string, s *v1SLO) (*SLO, string) { return c.v1SLO(p, s, fs) })
}

// format reads the version of a file before the rest, since it says which schema applies. A file
// without one is checked as slod/v1, so that its other problems are reported too (the missing
// version is reported by the schema).
func (c *checker) format(root *yaml.Node) (string, bool) {
	format := FormatV1
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value != "version" {
			continue
		}
		v := yamlx.Resolve(root.Content[i+1])
		s, err := yamlx.String(v)
		if err != nil {
			c.doc.ErrorAt(c.doc.NodePos(v), "version", "%s", err.Error())
			return "", false
		}
		if s != FormatV1 && s != FormatSloth {
			c.doc.ErrorAt(c.doc.NodePos(v), "version", "unsupported version %q: want %s (or %s for Sloth files)", s, FormatV1, FormatSloth)
			return "", false
		}
		format = s
	}
	return format, true
}

// fileSpec is what a file's top level gives each of its SLOs.
type fileSpec struct {
	format  string
	service string
	labels  map[string]string
	// minBad is the file's min_bad_events (0 when unset).
	minBad float64
	// exclusions are the file's, for every SLO of it.
	exclusions exclude.Set
}

func (c *checker) fileSpec(format, service string, labels map[string]string) fileSpec {
	fs := fileSpec{format: format, labels: c.labels("labels", labels, "label")}
	if c.doc.Has("service") && !c.doc.Failed("service") && c.name("service", service, format) {
		fs.service = service
	}
	return fs
}

// each checks every SLO of a file with check, which returns the SLO and the path of its name, and
// reports names used twice.
func each[S any](c *checker, slos []*S, check func(path string, s *S) (*SLO, string)) []*SLO {
	if c.doc.Has("slos") && !c.doc.Failed("slos") && len(slos) == 0 {
		c.doc.Errorf("slos", "must list at least one SLO")
		return nil
	}
	var out []*SLO
	seen := map[string]string{} // name → path of its first use
	for i, s := range slos {
		p := yamlx.Index("slos", i)
		if s == nil {
			continue // not a mapping: reported
		}
		slo, namePath := check(p, s)
		if namePath != "" {
			if prev, dup := seen[slo.Name]; dup {
				c.doc.Errorf(namePath, "duplicate SLO name %q (first at line %d): names must be unique within a service", slo.Name, c.doc.Pos(prev).Line)
				continue
			}
			seen[slo.Name] = namePath
		}
		out = append(out, slo)
	}
	return out
}

func (c *checker) name(path, s, format string) bool {
	re, charset := nameRE, "[a-z0-9][a-z0-9-_.]*"
	if format == FormatSloth {
		re, charset = slothNameRE, "[A-Za-z0-9][A-Za-z0-9-_.]*"
	}
	if !re.MatchString(s) {
		c.doc.Errorf(path, "invalid name %q: must match %s", s, charset)
		return false
	}
	return true
}

// sloCommon checks what both formats' SLOs have: name, objective and labels. It returns the SLO,
// the path of its name when the name is valid, and the objective's check for the alert policy.
func (c *checker) sloCommon(path string, fs fileSpec, name *string, description string, objective *decimal, labels map[string]string) (*SLO, string, policyContext) {
	slo := &SLO{Service: fs.service, Format: fs.format, Pos: c.doc.Pos(path), Period: DefaultPeriod, Description: description}
	slo.Places.SLO = c.place(path)
	slo.Places.Period, slo.Places.Alerting = slo.Places.SLO, slo.Places.SLO
	namePath := ""
	if name != nil && c.name(yamlx.Field(path, "name"), *name, fs.format) {
		slo.Name, namePath = *name, yamlx.Field(path, "name")
	}
	pc := policyContext{objPath: yamlx.Field(path, "objective"), period: DefaultPeriod, periodOK: true, periodPlace: slo.Places.SLO}
	if objective != nil {
		ratio := objectiveRatio(objective.R)
		switch {
		case objective.R.Sign() <= 0 || objective.R.Cmp(big.NewRat(100, 1)) >= 0:
			c.doc.Errorf(pc.objPath, "must be a percentage between 0 and 100 (exclusive), got %s", objective.Text)
		case ratio <= 0 || ratio >= 1:
			// 99.99999999999999999 is below 100 but rounds to a ratio of 1: no error budget at all.
			c.doc.Errorf(pc.objPath, "%s is too close to 0 or 100 to be represented", objective.Text)
		default:
			slo.Objective, pc.objective, pc.objOK = ratio, ratio, true
		}
	}
	slo.Labels = map[string]string{}
	for k, v := range fs.labels {
		slo.Labels[k] = v
	}
	for k, v := range c.labels(yamlx.Field(path, "labels"), labels, "label") {
		slo.Labels[k] = v
	}
	return slo, namePath, pc
}

// v1SLO checks one slod/v1 SLO.
func (c *checker) v1SLO(path string, s *v1SLO, fs fileSpec) (*SLO, string) {
	slo, namePath, pc := c.sloCommon(path, fs, s.Name, s.Description, s.Objective, s.Labels)
	wp := yamlx.Field(path, "window")
	switch {
	case s.Window != nil:
		slo.Period, pc.periodOK = c.positive(wp, *s.Window), *s.Window > 0
	case c.doc.Failed(wp):
		slo.Period, pc.periodOK = 0, false
	}
	if s.Calendar != nil {
		slo.Calendar = c.calendar(yamlx.Field(path, "calendar"), s.Calendar, s.Window != nil)
		if slo.Calendar != nil {
			slo.Period, pc.periodOK = slo.Calendar.Nominal(), true
		}
	}
	pc.period = slo.Period
	if s.Window != nil {
		slo.Places.Period = c.place(wp)
		pc.periodPlace = slo.Places.Period
	}
	slo.Exclusions = append(slices.Clip(fs.exclusions), c.exclusions(yamlx.Field(path, "exclusions"), s.Exclusions)...)
	c.groupBy(path, s.GroupBy, s.MaxGroups, slo)
	if s.SLI != nil {
		slo.SLI = c.v1SLI(yamlx.Field(path, "sli"), s.SLI)
		c.groupQueries(yamlx.Field(path, "sli"), slo)
		if sp := yamlx.Field(yamlx.Field(yamlx.Field(path, "sli"), "timeslice"), "slice"); c.doc.Has(sp) {
			slo.Places.Slice = c.place(sp)
		}
	}
	slices.Sort(slo.GroupBy)
	ap := yamlx.Field(path, "alerting")
	if c.doc.Has(ap) {
		slo.Places.Alerting = c.place(ap)
	}
	slo.Alerting, slo.Places.Windows = c.v1Alerting(ap, s.Alerting, pc)
	if s.Alerting == nil || s.Alerting.MinBadEvents == nil {
		slo.Alerting.MinBadEvents = fs.minBad
	}
	return slo, namePath
}

// place is where the value at path is.
func (c *checker) place(path string) Place { return Place{Pos: c.doc.Pos(path), Field: path} }

// calendar checks a calendar period: week, month or quarter, in a time zone of the IANA database
// (default UTC), instead of a window.
func (c *checker) calendar(path string, s *calendarSpec, window bool) *burnrate.Calendar {
	if window {
		c.doc.KeyErrorf(path, "set window (rolling) or calendar, not both")
		return nil
	}
	if s.Period == nil {
		return nil // reported
	}
	cal := &burnrate.Calendar{Period: burnrate.CalendarPeriod(*s.Period), Location: time.UTC}
	ok := cal.Valid()
	if !ok {
		c.doc.Errorf(yamlx.Field(path, "period"), "must be week, month or quarter, got %q", *s.Period)
	}
	if s.TimeZone != nil {
		loc, tzOK := c.timeZone(yamlx.Field(path, "time_zone"), *s.TimeZone)
		cal.Location, ok = loc, ok && tzOK
	}
	if !ok {
		return nil
	}
	return cal
}

// timeZone checks a time zone name of the IANA database (the one compiled in: tzdata.go); Local,
// the zone of whatever machine slod runs on, is not one.
func (c *checker) timeZone(path, name string) (*time.Location, bool) {
	loc, err := time.LoadLocation(name)
	if err != nil || name == "" || strings.EqualFold(name, "local") {
		c.doc.Errorf(path, "unknown time zone %q: use a name of the IANA time zone database such as Europe/Berlin or UTC", name)
		return nil, false
	}
	return loc, true
}

// exclusions checks exclusions: each a name, an RFC 3339 start, a positive duration, and
// optionally an RFC 5545 recurrence evaluated in a time zone.
func (c *checker) exclusions(path string, specs []*exclusionSpec) exclude.Set {
	var out exclude.Set
	for i, e := range specs {
		p := yamlx.Index(path, i)
		if e == nil || e.Name == nil || e.Start == nil || e.Duration == nil {
			continue // not a mapping, or a required field missing: reported
		}
		w := &exclude.Window{Name: *e.Name, Start: e.Start.t, Duration: c.positive(yamlx.Field(p, "duration"), *e.Duration)}
		if e.RRule != nil {
			w.RRule = *e.RRule
		}
		ok := w.Duration > 0
		if e.TimeZone != nil {
			loc, tzOK := c.timeZone(yamlx.Field(p, "time_zone"), *e.TimeZone)
			w.TimeZone, ok = loc, ok && tzOK
		}
		if w.RRule != "" {
			if err := (&exclude.Window{Start: w.Start, Duration: time.Hour, RRule: w.RRule, TimeZone: w.TimeZone}).Compile(); err != nil {
				c.doc.Errorf(yamlx.Field(p, "rrule"), "%s", strings.TrimPrefix(err.Error(), "rrule: "))
				ok = false
			}
		}
		if ok && w.Compile() == nil {
			out = append(out, w)
		}
	}
	return out
}

// slothSLO checks one Sloth SLO.
func (c *checker) slothSLO(path string, s *slothSLO, fs fileSpec) (*SLO, string) {
	if s.Plugins != nil {
		c.doc.KeyErrorf(yamlx.Field(path, "plugins"), "Sloth SLO plugins are not supported by slod")
	}
	slo, namePath, pc := c.sloCommon(path, fs, s.Name, s.Description, s.Objective, s.Labels)
	if s.SLI != nil {
		slo.SLI = c.slothSLI(yamlx.Field(path, "sli"), s.SLI)
		c.slothGroups(slo)
	}
	ap := yamlx.Field(path, "alerting")
	if c.doc.Has(ap) {
		slo.Places.Alerting = c.place(ap)
	}
	slo.Alerting, slo.Places.Windows = c.slothAlerting(ap, s.Alerting, pc)
	return slo, namePath
}

// slothGroups groups a Sloth SLO by the labels its queries aggregate by (Sloth's recording rules
// keep them, so its alerts fire per value set of them): sum by (model) (...) in both queries of an
// events SLI, or in the raw error ratio query.
func (c *checker) slothGroups(slo *SLO) {
	var g []string
	switch slo.SLI.Kind {
	case EventsSLI:
		e, t := outerGrouping(slo.SLI.ErrorQuery), outerGrouping(slo.SLI.TotalQuery)
		if slices.Equal(e, t) {
			g = e
		}
	case RatioSLI:
		g = outerGrouping(slo.SLI.ErrorRatioQuery)
	}
	for _, l := range g {
		if slices.Contains(reservedGroupLabels, l) {
			return // e.g. sum by (le): not a grouping slod can keep on its alerts
		}
	}
	if len(g) > 0 {
		slo.GroupBy, slo.MaxGroups = g, DefaultMaxGroups
	}
}

// positive reports a zero duration (which parses, unlike a negative one) and returns d.
func (c *checker) positive(path string, d time.Duration) time.Duration {
	if d == 0 {
		c.doc.Errorf(path, "must be greater than 0")
	}
	return d
}

// v1SLI checks a slod/v1 SLI: exactly one of events, latency, timeslice and raw.
func (c *checker) v1SLI(path string, s *v1SLI) SLI {
	kinds := c.doc.Present(path, "events", "latency", "timeslice", "raw")
	switch {
	case len(kinds) > 1:
		c.doc.Errorf(path, "exactly one of events, latency, timeslice or raw is allowed, got %s", strings.Join(kinds, " and "))
		return SLI{}
	case len(kinds) == 0:
		c.doc.Errorf(path, "exactly one of events, latency, timeslice or raw is required")
		return SLI{}
	}
	switch {
	case s.Events != nil:
		return c.events(yamlx.Field(path, "events"), s.Events)
	case s.Latency != nil:
		return c.latency(yamlx.Field(path, "latency"), s.Latency)
	case s.Timeslice != nil:
		return c.timeslice(yamlx.Field(path, "timeslice"), s.Timeslice)
	case s.Raw != nil:
		return c.raw(yamlx.Field(path, "raw"), s.Raw)
	}
	return SLI{} // the one kind given did not decode: reported
}

// raw checks an error ratio SLI (slod/v1's raw, Sloth's raw): the query of the error ratio itself.
func (c *checker) raw(path string, r *rawSpec) SLI {
	q, _ := c.query(yamlx.Field(path, "error_ratio_query"), r.ErrorRatioQuery, false)
	return SLI{Kind: RatioSLI, ErrorRatioQuery: q}
}

func (c *checker) events(path string, e *eventsSpec) SLI {
	s := SLI{Kind: EventsSLI}
	var errOK, totalOK bool
	s.ErrorQuery, errOK = c.query(yamlx.Field(path, "error_query"), e.ErrorQuery, true)
	s.TotalQuery, totalOK = c.query(yamlx.Field(path, "total_query"), e.TotalQuery, true)
	if errOK && totalOK && canonicalQuery(s.ErrorQuery) == canonicalQuery(s.TotalQuery) {
		c.doc.Errorf(yamlx.Field(path, "total_query"), "is the same query as error_query: every event would be bad")
	}
	return s
}

func (c *checker) latency(path string, l *latencySpec) SLI {
	s := SLI{Kind: LatencySLI}
	s.Histogram, _ = c.histogram(yamlx.Field(path, "histogram"), l.Histogram)
	if t := l.Threshold; t != nil {
		if t.F <= 0 {
			c.doc.Errorf(yamlx.Field(path, "threshold"), "must be a positive number of seconds, got %s", t.Text)
		}
		s.Threshold = t.F
	}
	return s
}

func (c *checker) timeslice(path string, t *timesliceSpec) SLI {
	s := SLI{Kind: TimesliceSLI}
	s.Query, _ = c.query(yamlx.Field(path, "query"), t.Query, false)
	if t.Op != nil {
		switch op := CompareOp(*t.Op); op {
		case OpLT, OpLTE, OpGT, OpGTE:
			s.Op = op
		default:
			c.doc.Errorf(yamlx.Field(path, "op"), "must be one of lt, lte, gt, gte, got %q", *t.Op)
		}
	}
	if t.Threshold != nil {
		s.Threshold = t.Threshold.F
	}
	if t.Slice != nil {
		s.Slice = c.positive(yamlx.Field(path, "slice"), *t.Slice)
	}
	return s
}

// slothSLI checks a Sloth SLI: events or raw. Sloth's SLI plugins are Sloth code, which slod
// cannot run.
func (c *checker) slothSLI(path string, s *slothSLI) SLI {
	kinds := c.doc.Present(path, "events", "raw", "plugin")
	switch {
	case len(kinds) > 1:
		c.doc.Errorf(path, "exactly one of events, raw or plugin is allowed, got %s", strings.Join(kinds, " and "))
		return SLI{}
	case len(kinds) == 0:
		c.doc.Errorf(path, "exactly one of events or raw is required")
		return SLI{}
	}
	switch {
	case s.Events != nil:
		return c.events(yamlx.Field(path, "events"), s.Events)
	case s.Raw != nil:
		return c.raw(yamlx.Field(path, "raw"), s.Raw)
	case s.Plugin != nil:
		c.doc.KeyErrorf(yamlx.Field(path, "plugin"), "Sloth SLI plugins are not supported by slod: write the SLI as events or raw queries")
	}
	return SLI{}
}

// labels checks a map of label names to values (labels or annotations): names in the classic
// Prometheus charset, so that every receiver and Alertmanager accepts them, and values in UTF-8.
func (c *checker) labels(path string, m map[string]string, what string) map[string]string {
	for name, val := range m {
		switch {
		case !model.LegacyValidation.IsValidLabelName(name):
			c.doc.ErrorAt(c.doc.KeyPos(yamlx.Field(path, name)), path, "invalid %s name %q: must match [a-zA-Z_][a-zA-Z0-9_]*", what, name)
		case strings.HasPrefix(name, "__"):
			c.doc.ErrorAt(c.doc.KeyPos(yamlx.Field(path, name)), path, "invalid %s name %q: names starting with __ are reserved", what, name)
		case !utf8.ValidString(val):
			c.doc.Errorf(yamlx.Field(path, name), "%s value must be valid UTF-8", what)
		}
	}
	return m
}

// runbookAnnotation takes the runbook_url annotation as the SLO's runbook when the alerting section
// names none (Sloth files have no other place for it): its notifications link it and the status
// page shows it. One that is not an absolute URL stays a plain annotation, with a warning.
func (c *checker) runbookAnnotation(path string, a *Alerting) {
	v, ok := a.Annotations["runbook_url"]
	if a.RunbookURL != "" || !ok {
		return
	}
	p := yamlx.Field(yamlx.Field(path, "annotations"), "runbook_url")
	if u, err := url.Parse(v); err != nil || u.Scheme == "" || u.Host == "" {
		c.doc.Warnf(p, "not an absolute URL such as https://runbooks.example/slo: kept as an annotation, not linked as the runbook")
		return
	}
	a.RunbookURL = v
}

// absoluteURL checks a runbook URL: it must be absolute so that it works from a page on a phone.
func (c *checker) absoluteURL(path, s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Host == "" {
		c.doc.Errorf(path, "must be an absolute URL such as https://runbooks.example/slo, got %q", s)
		return ""
	}
	return s
}

// policyContext is what checking an alert policy needs to know about its SLO.
type policyContext struct {
	objective float64
	objOK     bool
	objPath   string
	period    time.Duration
	periodOK  bool
	// periodPlace is where the period is written (the SLO when it is not).
	periodPlace Place
}

// placedWindow is a window pair with the path to point warnings at, and where its windows are.
type placedWindow struct {
	w     burnrate.Window
	field string
	place WindowPlace
}

// severityAlert is a page or ticket section: whether it is disabled, and what it adds to alerts.
type severityAlert struct {
	disable     bool
	labels      map[string]string
	annotations map[string]string
}

func (c *checker) severityAlert(path string, s *severitySpec) severityAlert {
	out := severityAlert{
		labels:      c.labels(yamlx.Field(path, "labels"), s.Labels, "label"),
		annotations: c.labels(yamlx.Field(path, "annotations"), s.Annotations, "annotation"),
	}
	if s.Disable != nil {
		out.disable = *s.Disable
	}
	return out
}

// defaultWindows places the default policy of the period at the objective, for warnings.
func defaultWindows(pc policyContext) []placedWindow {
	var out []placedWindow
	for _, w := range DefaultWindows(pc.period) {
		out = append(out, placedWindow{w: w, field: pc.objPath, place: WindowPlace{Long: pc.periodPlace, Short: pc.periodPlace, Derived: true}})
	}
	return out
}

// v1Alerting checks a slod/v1 alerting section and derives the effective policy, and where its
// windows are written.
func (c *checker) v1Alerting(path string, al *v1Alerting, pc policyContext) (Alerting, []WindowPlace) {
	a := Alerting{Name: DefaultAlertName}
	if al == nil {
		al = &v1Alerting{}
	}
	if al.Name != nil {
		if !model.LegacyValidation.IsValidMetricName(*al.Name) {
			c.doc.Errorf(yamlx.Field(path, "name"), "invalid alert name %q: must match [a-zA-Z_:][a-zA-Z0-9_:]*", *al.Name)
		}
		a.Name = *al.Name
	}
	if al.RunbookURL != nil {
		a.RunbookURL = c.absoluteURL(yamlx.Field(path, "runbook_url"), *al.RunbookURL)
	}
	a.Labels = c.labels(yamlx.Field(path, "labels"), al.Labels, "label")
	a.Annotations = c.labels(yamlx.Field(path, "annotations"), al.Annotations, "annotation")
	c.runbookAnnotation(path, &a)
	sev := map[burnrate.Severity]severityAlert{}
	for s, spec := range map[burnrate.Severity]*v1SeveritySpec{burnrate.Page: al.Page, burnrate.Ticket: al.Ticket} {
		if spec == nil {
			continue
		}
		sev[s] = c.severityAlert(yamlx.Field(path, string(s)), &severitySpec{Disable: spec.Disable, Labels: spec.Labels, Annotations: spec.Annotations})
		if spec.SendResolved != nil && !*spec.SendResolved {
			if a.NoResolve == nil {
				a.NoResolve = map[burnrate.Severity]bool{}
			}
			a.NoResolve[s] = true
		}
	}
	a.SeverityLabels, a.SeverityAnnotations = severityMaps(sev)

	var placed []placedWindow
	if wp := yamlx.Field(path, "windows"); c.doc.Has(wp) {
		placed = c.windows(wp, al.Windows, pc)
	} else if pc.periodOK {
		placed = defaultWindows(pc)
	}
	var places []WindowPlace
	a.Windows, places = c.effectiveWindows(placed, sev, pc)
	if al.NoData != nil {
		a.NoData = c.noData(yamlx.Field(path, "no_data"), al.NoData)
	}
	a.MinBadEvents = c.minBadEvents(yamlx.Field(path, "min_bad_events"), al.MinBadEvents)
	a.Budget = c.budgetAlerts(yamlx.Field(path, "budget"), al.Budget)
	return a, places
}

// budgetAlerts checks the budget alerts: a severity (at most one alert each, for its own incident
// key) and a threshold below 100% of the budget (negative: overspent by that much).
func (c *checker) budgetAlerts(path string, specs []*budgetSpec) []burnrate.BudgetAlert {
	var out []burnrate.BudgetAlert
	seen := map[burnrate.Severity]string{}
	for i, b := range specs {
		p := yamlx.Index(path, i)
		if b == nil || b.Severity == nil || b.Below == nil {
			continue // not a mapping, or a required field missing: reported
		}
		ok := true
		sev := burnrate.Severity(*b.Severity)
		switch prev, dup := seen[sev]; {
		case sev != burnrate.Page && sev != burnrate.Ticket:
			c.doc.Errorf(yamlx.Field(p, "severity"), "must be page or ticket, got %q", *b.Severity)
			ok = false
		case dup:
			c.doc.Errorf(yamlx.Field(p, "severity"), "a second %s budget alert (first at line %d): one per severity, each is its own incident", sev, c.doc.Pos(prev).Line)
			ok = false
		}
		seen[sev] = yamlx.Field(p, "severity")
		if b.Below.R.Cmp(big.NewRat(100, 1)) >= 0 {
			c.doc.Errorf(yamlx.Field(p, "below"), "must be below 100%% (the whole budget), got %s", b.Below.Text)
			ok = false
		}
		if ok {
			out = append(out, burnrate.BudgetAlert{Severity: sev, Below: objectiveRatio(b.Below.R)})
		}
	}
	return out
}

// minBadEvents checks a low-traffic guard: a number of bad events, 0 or more (0 when unset).
func (c *checker) minBadEvents(path string, d *decimal) float64 {
	if d == nil {
		return 0
	}
	if d.F < 0 {
		c.doc.Errorf(path, "must be a number of bad events, 0 or more, got %s", d.Text)
		return 0
	}
	return d.F
}

func severityMaps(sev map[burnrate.Severity]severityAlert) (labels, annotations map[burnrate.Severity]map[string]string) {
	for s, a := range sev {
		if len(a.labels) > 0 {
			if labels == nil {
				labels = map[burnrate.Severity]map[string]string{}
			}
			labels[s] = a.labels
		}
		if len(a.annotations) > 0 {
			if annotations == nil {
				annotations = map[burnrate.Severity]map[string]string{}
			}
			annotations[s] = a.annotations
		}
	}
	return labels, annotations
}

// effectiveWindows drops the window pairs of disabled severities and warns about pairs that can
// never fire: with burn_rate × (1 − objective) ≥ 1 the threshold is an error ratio of 100% or more.
// It returns the pairs and where they are written.
func (c *checker) effectiveWindows(placed []placedWindow, sev map[burnrate.Severity]severityAlert, pc policyContext) ([]burnrate.Window, []WindowPlace) {
	var out []burnrate.Window
	var places []WindowPlace
	for _, p := range placed {
		if sev[p.w.Severity].disable {
			continue
		}
		out = append(out, p.w)
		places = append(places, p.place)
		if !pc.objOK {
			continue
		}
		budget := 1 - pc.objective
		if th := p.w.BurnRate * budget; th >= 1-1e-9 {
			c.doc.Warnf(p.field, "%s window pair %s/%s can never fire: burn rate %s × error budget %s = %s ≥ 1",
				p.w.Severity, model.Duration(p.w.Long), model.Duration(p.w.Short),
				formatFloat(p.w.BurnRate), formatFloat(budget), formatFloat(th))
		}
	}
	return out, places
}

// formatFloat prints a derived number without float noise: 1.4400000000000002 as 1.44.
func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', 6, 64) }

// windows checks a custom alert policy; only the pairs without problems are returned.
func (c *checker) windows(path string, ws []*windowSpec, pc policyContext) []placedWindow {
	if !c.doc.Failed(path) && len(ws) == 0 {
		c.doc.Errorf(path, "must list at least one window pair (omit windows for the default policy)")
		return nil
	}
	var out []placedWindow
	for i, ws := range ws {
		p := yamlx.Index(path, i)
		if ws == nil {
			continue // not a mapping: reported
		}
		w := c.window(p, ws, pc)
		if c.doc.Clean(p) {
			out = append(out, placedWindow{w: w, field: p, place: WindowPlace{Long: c.place(yamlx.Field(p, "long")), Short: c.place(yamlx.Field(p, "short"))}})
		}
	}
	return out
}

// window checks one window pair.
func (c *checker) window(p string, ws *windowSpec, pc policyContext) burnrate.Window {
	var w burnrate.Window
	if ws.Severity != nil {
		w.Severity = burnrate.Severity(*ws.Severity)
		if w.Severity != burnrate.Page && w.Severity != burnrate.Ticket {
			c.doc.Errorf(yamlx.Field(p, "severity"), "must be page or ticket, got %q", *ws.Severity)
		}
	}
	longOK := ws.Long != nil && *ws.Long > 0
	shortOK := ws.Short != nil && *ws.Short > 0
	if ws.Long != nil {
		w.Long = c.positive(yamlx.Field(p, "long"), *ws.Long)
	}
	if ws.Short != nil {
		w.Short = c.positive(yamlx.Field(p, "short"), *ws.Short)
	}
	if longOK && shortOK && w.Short > w.Long {
		c.doc.Errorf(yamlx.Field(p, "short"), "must not be longer than long (%s), got %s", model.Duration(w.Long), model.Duration(w.Short))
	}
	if longOK && pc.periodOK && w.Long > pc.period {
		c.doc.Errorf(yamlx.Field(p, "long"), "must not be longer than the SLO window (%s), got %s", model.Duration(pc.period), model.Duration(w.Long))
	}
	hasRate, hasBudget := c.doc.Has(yamlx.Field(p, "burn_rate")), c.doc.Has(yamlx.Field(p, "budget_percent"))
	switch {
	case hasRate && hasBudget:
		c.doc.ErrorAt(c.doc.KeyPos(yamlx.Field(p, "budget_percent")), p, "set burn_rate or budget_percent, not both")
	case ws.BurnRate != nil:
		if ws.BurnRate.F <= 0 {
			c.doc.Errorf(yamlx.Field(p, "burn_rate"), "must be greater than 0, got %s", ws.BurnRate.Text)
		}
		w.BurnRate = ws.BurnRate.F
	case ws.BudgetPercent != nil:
		switch v := ws.BudgetPercent.F; {
		case v <= 0 || v > 100:
			c.doc.Errorf(yamlx.Field(p, "budget_percent"), "must be a percentage greater than 0 and at most 100, got %s", ws.BudgetPercent.Text)
		case longOK && pc.periodOK:
			w.BurnRate = budgetBurnRate(ws.BudgetPercent.R, pc.period, w.Long)
		}
	case !hasRate && !hasBudget:
		c.doc.Errorf(p, "one of burn_rate or budget_percent is required")
	}
	if ws.For != nil {
		w.For = *ws.For
	}
	return w
}

func (c *checker) noData(path string, n *noDataSpec) *burnrate.NoData {
	nd := &burnrate.NoData{Severity: burnrate.Ticket}
	if n.After != nil {
		nd.After = c.positive(yamlx.Field(path, "after"), *n.After)
	}
	if n.Severity != nil {
		nd.Severity = burnrate.Severity(*n.Severity)
		if nd.Severity != burnrate.Page && nd.Severity != burnrate.Ticket {
			c.doc.Errorf(yamlx.Field(path, "severity"), "must be page or ticket, got %q", *n.Severity)
		}
	}
	return nd
}

// slothAlerting checks Sloth's alerting section: page_alert and ticket_alert are the page and
// ticket severities of the default policy (Sloth's only policy).
func (c *checker) slothAlerting(path string, al *slothAlerting, pc policyContext) (Alerting, []WindowPlace) {
	a := Alerting{Name: DefaultAlertName}
	if al == nil {
		al = &slothAlerting{}
	}
	if al.Name != "" {
		a.Name = al.Name
	}
	a.Labels = c.labels(yamlx.Field(path, "labels"), al.Labels, "label")
	a.Annotations = c.labels(yamlx.Field(path, "annotations"), al.Annotations, "annotation")
	c.runbookAnnotation(path, &a)
	sev := map[burnrate.Severity]severityAlert{}
	if al.PageAlert != nil {
		sev[burnrate.Page] = c.severityAlert(yamlx.Field(path, "page_alert"), al.PageAlert)
	}
	if al.TicketAlert != nil {
		sev[burnrate.Ticket] = c.severityAlert(yamlx.Field(path, "ticket_alert"), al.TicketAlert)
	}
	a.SeverityLabels, a.SeverityAnnotations = severityMaps(sev)
	var places []WindowPlace
	a.Windows, places = c.effectiveWindows(defaultWindows(pc), sev, pc)
	return a, places
}
