package rules

import (
	"bytes"
	"errors"
	"io"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/slod-dev/slod/internal/burnrate"
)

// The file formats slod reads.
const (
	// FormatV1 is slod's own format (SPEC §1).
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
	// yamlLineRE finds the line in a yaml.v3 syntax error ("yaml: line 3: ...").
	yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
)

// Parse reads one SLO file (slod/v1 or Sloth prometheus/v1) and returns its validated SLOs and
// warnings. The error, if any, is an Errors holding every problem of the file; then no SLOs are
// returned. A `slod test` file is an error here: it is not an SLO file.
func Parse(file string, data []byte) ([]*SLO, []Diagnostic, error) {
	slos, warns, errs, testFile := parseFile(file, data)
	if testFile {
		errs = append(errs, Diagnostic{Pos: Pos{File: file, Line: 1, Col: 1},
			Message: "this is a slod test file (it has rule_files or tests), not an SLO file: run it with slod test"})
	}
	if len(errs) > 0 {
		sortDiagnostics(errs)
		return nil, warns, errs
	}
	return slos, warns, nil
}

// parseFile does the work of Parse; testFile reports a `slod test` file, which directory walks skip.
func parseFile(file string, data []byte) (slos []*SLO, warns []Diagnostic, errs Errors, testFile bool) {
	d := newDecoder(file, data)
	root, ok := d.document(data)
	if !ok {
		return nil, nil, d.errs, false
	}
	if root.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(root.Content); i += 2 {
			if k := root.Content[i].Value; k == "rule_files" || k == "tests" {
				return nil, nil, nil, true
			}
		}
	}
	slos = d.spec(root)
	sortDiagnostics(d.warns)
	return slos, d.warns, d.errs, false
}

// document decodes the single YAML document of a file into its root node.
func (d *decoder) document(data []byte) (root *yaml.Node, ok bool) {
	defer func() {
		// yaml.v3 has panicked on malformed input before; a bad file must never take the daemon down.
		if r := recover(); r != nil {
			d.errorAt(Pos{File: d.file, Line: 1, Col: 1}, "", "invalid YAML: %v", r)
			root, ok = nil, false
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.errorAt(Pos{File: d.file, Line: 1, Col: 1}, "", "empty file: want an SLO file with version %s", FormatV1)
			return nil, false
		}
		d.yamlError(err)
		return nil, false
	}
	var next yaml.Node
	if err := dec.Decode(&next); err == nil {
		d.errorf(&next, "", "more than one YAML document: put one SLO file per file")
		return nil, false
	} else if !errors.Is(err, io.EOF) {
		d.yamlError(err)
		return nil, false
	}
	if len(doc.Content) == 0 {
		d.errorAt(Pos{File: d.file, Line: 1, Col: 1}, "", "empty file: want an SLO file with version %s", FormatV1)
		return nil, false
	}
	return doc.Content[0], true
}

// yamlError reports a yaml.v3 syntax error at the line it names (yaml.v3 gives no column).
func (d *decoder) yamlError(err error) {
	msg := err.Error()
	line := 1
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		if n, convErr := strconv.Atoi(m[1]); convErr == nil && n > 0 {
			line = n
		}
		msg = m[2]
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	d.errorAt(Pos{File: d.file, Line: line, Col: 1}, "", "invalid YAML: %s", msg)
}

// spec decodes and validates the top level of an SLO file.
func (d *decoder) spec(root *yaml.Node) []*SLO {
	root = resolve(root)
	if root.Kind != yaml.MappingNode {
		d.errorf(root, "", "must be a mapping with version, service and slos, got %s", kindName(root))
		return nil
	}
	format := FormatV1
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value != "version" {
			continue
		}
		v := resolve(root.Content[i+1])
		s, ok := d.str(v, "version")
		if !ok {
			return nil
		}
		if s != FormatV1 && s != FormatSloth {
			d.errorf(v, "version", "unsupported version %q: want %s (or %s for Sloth files)", s, FormatV1, FormatSloth)
			return nil
		}
		format = s
	}
	var f fields
	if format == FormatSloth {
		f = d.mapping(root, "", "version", "service", "labels", "slos", "slo_plugins")
		if n := f.vals["slo_plugins"]; n != nil {
			d.errorf(f.keys["slo_plugins"], "slo_plugins", "Sloth SLO plugins are not supported by slod")
		}
	} else {
		f = d.mapping(root, "", "version", "service", "labels", "slos")
	}
	// A file without version is checked as slod/v1, so that its other errors are reported too.
	d.required(f, "version")

	fs := fileSpec{format: format}
	if d.required(f, "service") {
		n := resolve(f.vals["service"])
		if s, ok := d.str(n, "service"); ok && d.name(n, "service", s, format) {
			fs.service = s
		}
	}
	if n := f.vals["labels"]; n != nil {
		fs.labels = d.labelMap(n, "labels", "label")
	}
	if !d.required(f, "slos") {
		return nil
	}
	seq := resolve(f.vals["slos"])
	if seq.Kind != yaml.SequenceNode {
		d.errorf(seq, "slos", "must be a list of SLOs, got %s", kindName(seq))
		return nil
	}
	if len(seq.Content) == 0 {
		d.errorf(seq, "slos", "must list at least one SLO")
		return nil
	}
	var out []*SLO
	seen := map[string]*yaml.Node{}
	for i, item := range seq.Content {
		slo, nameNode := d.slo(resolve(item), index("slos", i), fs)
		if nameNode != nil {
			if prev := seen[nameNode.Value]; prev != nil {
				d.errorf(nameNode, field(index("slos", i), "name"), "duplicate SLO name %q (first at line %d): names must be unique within a service", nameNode.Value, prev.Line)
				continue
			}
			seen[nameNode.Value] = nameNode
		}
		if slo != nil {
			out = append(out, slo)
		}
	}
	return out
}

// fileSpec is what a file's top level gives each of its SLOs.
type fileSpec struct {
	format  string
	service string
	labels  map[string]string
}

func (d *decoder) name(n *yaml.Node, path, s, format string) bool {
	re, charset := nameRE, "[a-z0-9][a-z0-9-_.]*"
	if format == FormatSloth {
		re, charset = slothNameRE, "[A-Za-z0-9][A-Za-z0-9-_.]*"
	}
	if !re.MatchString(s) {
		d.errorf(n, path, "invalid name %q: must match %s", s, charset)
		return false
	}
	return true
}

// slo decodes one SLO. It returns the SLO (nil if it has errors) and its name node (nil if the name
// is missing or invalid) for the uniqueness check.
func (d *decoder) slo(n *yaml.Node, path string, fs fileSpec) (*SLO, *yaml.Node) {
	errsBefore := len(d.errs)
	var f fields
	if fs.format == FormatSloth {
		f = d.mapping(n, path, "name", "description", "objective", "labels", "sli", "alerting", "plugins")
		if f.has("plugins") {
			d.errorf(f.keys["plugins"], field(path, "plugins"), "Sloth SLO plugins are not supported by slod")
		}
	} else {
		f = d.mapping(n, path, "name", "description", "objective", "window", "labels", "sli", "alerting")
	}
	slo := &SLO{Service: fs.service, Format: fs.format, Pos: d.pos(n), Period: DefaultPeriod}

	var nameNode *yaml.Node
	if d.required(f, "name") {
		nn := resolve(f.vals["name"])
		if s, ok := d.str(nn, field(path, "name")); ok && d.name(nn, field(path, "name"), s, fs.format) {
			slo.Name, nameNode = s, nn
		}
	}
	if nd := f.vals["description"]; nd != nil {
		slo.Description, _ = d.str(nd, field(path, "description"))
	}
	objOK := false
	var objNode *yaml.Node
	if d.required(f, "objective") {
		objNode = resolve(f.vals["objective"])
		if _, exact, ok := d.number(objNode, field(path, "objective")); ok {
			ratio := objectiveRatio(exact)
			switch {
			case exact.Sign() <= 0 || exact.Cmp(big.NewRat(100, 1)) >= 0:
				d.errorf(objNode, field(path, "objective"), "must be a percentage between 0 and 100 (exclusive), got %s", objNode.Value)
			case ratio <= 0 || ratio >= 1:
				// 99.99999999999999999 is below 100 but rounds to a ratio of 1: no error budget at all.
				d.errorf(objNode, field(path, "objective"), "%s is too close to 0 or 100 to be represented", objNode.Value)
			default:
				slo.Objective, objOK = ratio, true
			}
		}
	}
	periodOK := true
	if wn := f.vals["window"]; wn != nil {
		slo.Period, periodOK = d.duration(wn, field(path, "window"), false)
	}
	slo.Labels = map[string]string{}
	for k, v := range fs.labels {
		slo.Labels[k] = v
	}
	if ln := f.vals["labels"]; ln != nil {
		for k, v := range d.labelMap(ln, field(path, "labels"), "label") {
			slo.Labels[k] = v
		}
	}
	if d.required(f, "sli") {
		if fs.format == FormatSloth {
			slo.SLI = d.slothSLI(f.vals["sli"], field(path, "sli"))
		} else {
			slo.SLI = d.sli(f.vals["sli"], field(path, "sli"))
		}
	}
	pc := policyContext{objective: slo.Objective, objOK: objOK, objNode: objNode, period: slo.Period, periodOK: periodOK, sloNode: n}
	if fs.format == FormatSloth {
		slo.Alerting = d.slothAlerting(f.vals["alerting"], field(path, "alerting"), pc)
	} else {
		slo.Alerting = d.alerting(f.vals["alerting"], field(path, "alerting"), pc)
	}
	if len(d.errs) > errsBefore {
		return nil, nameNode
	}
	return slo, nameNode
}

// sli decodes a slod/v1 SLI: exactly one of events, latency and timeslice.
func (d *decoder) sli(n *yaml.Node, path string) SLI {
	f := d.mapping(n, path, "events", "latency", "timeslice")
	var kinds []string
	for _, k := range []string{"events", "latency", "timeslice"} {
		if f.has(k) {
			kinds = append(kinds, k)
		}
	}
	switch {
	case len(kinds) > 1:
		d.errorf(f.node, path, "exactly one of events, latency or timeslice is allowed, got %s", strings.Join(kinds, " and "))
		return SLI{}
	case len(kinds) == 0:
		// A node that is not a mapping at all has been reported by d.mapping already.
		if f.node.Kind == yaml.MappingNode || isNull(f.node) {
			d.errorf(f.node, path, "exactly one of events, latency or timeslice is required")
		}
		return SLI{}
	}
	switch kinds[0] {
	case "events":
		return d.events(f.vals["events"], field(path, "events"))
	case "latency":
		return d.latency(f.vals["latency"], field(path, "latency"))
	default:
		return d.timeslice(f.vals["timeslice"], field(path, "timeslice"))
	}
}

func (d *decoder) events(n *yaml.Node, path string) SLI {
	f := d.mapping(n, path, "error_query", "total_query")
	s := SLI{Kind: EventsSLI}
	var errOK, totalOK bool
	if d.required(f, "error_query") {
		s.ErrorQuery, errOK = d.query(f.vals["error_query"], field(path, "error_query"), true)
	}
	if d.required(f, "total_query") {
		s.TotalQuery, totalOK = d.query(f.vals["total_query"], field(path, "total_query"), true)
	}
	if errOK && totalOK && canonicalQuery(s.ErrorQuery) == canonicalQuery(s.TotalQuery) {
		d.errorf(resolve(f.vals["total_query"]), field(path, "total_query"), "is the same query as error_query: every event would be bad")
	}
	return s
}

func (d *decoder) latency(n *yaml.Node, path string) SLI {
	f := d.mapping(n, path, "histogram", "threshold")
	s := SLI{Kind: LatencySLI}
	if d.required(f, "histogram") {
		s.Histogram, _ = d.histogram(f.vals["histogram"], field(path, "histogram"))
	}
	if d.required(f, "threshold") {
		tn := resolve(f.vals["threshold"])
		if v, _, ok := d.number(tn, field(path, "threshold")); ok {
			if v <= 0 {
				d.errorf(tn, field(path, "threshold"), "must be a positive number of seconds, got %s", tn.Value)
			}
			s.Threshold = v
		}
	}
	return s
}

func (d *decoder) timeslice(n *yaml.Node, path string) SLI {
	f := d.mapping(n, path, "query", "op", "threshold", "slice")
	s := SLI{Kind: TimesliceSLI}
	if d.required(f, "query") {
		s.Query, _ = d.query(f.vals["query"], field(path, "query"), false)
	}
	if d.required(f, "op") {
		on := resolve(f.vals["op"])
		if op, ok := d.str(on, field(path, "op")); ok {
			switch CompareOp(op) {
			case OpLT, OpLTE, OpGT, OpGTE:
				s.Op = CompareOp(op)
			default:
				d.errorf(on, field(path, "op"), "must be one of lt, lte, gt, gte, got %q", op)
			}
		}
	}
	if d.required(f, "threshold") {
		s.Threshold, _, _ = d.number(f.vals["threshold"], field(path, "threshold"))
	}
	if sn := f.vals["slice"]; sn != nil {
		s.Slice, _ = d.duration(sn, field(path, "slice"), false)
	}
	return s
}

// slothSLI decodes a Sloth SLI: events or raw. Sloth's SLI plugins are Sloth code, which slod
// cannot run.
func (d *decoder) slothSLI(n *yaml.Node, path string) SLI {
	f := d.mapping(n, path, "events", "raw", "plugin")
	var kinds []string
	for _, k := range []string{"events", "raw", "plugin"} {
		if f.has(k) {
			kinds = append(kinds, k)
		}
	}
	switch {
	case len(kinds) > 1:
		d.errorf(f.node, path, "exactly one of events, raw or plugin is allowed, got %s", strings.Join(kinds, " and "))
		return SLI{}
	case len(kinds) == 0:
		if f.node.Kind == yaml.MappingNode || isNull(f.node) {
			d.errorf(f.node, path, "exactly one of events or raw is required")
		}
		return SLI{}
	}
	switch kinds[0] {
	case "events":
		return d.events(f.vals["events"], field(path, "events"))
	case "raw":
		rf := d.mapping(f.vals["raw"], field(path, "raw"), "error_ratio_query")
		s := SLI{Kind: RatioSLI}
		if d.required(rf, "error_ratio_query") {
			s.ErrorRatioQuery, _ = d.query(rf.vals["error_ratio_query"], field(path, "raw.error_ratio_query"), false)
		}
		return s
	default:
		d.errorf(f.keys["plugin"], field(path, "plugin"), "Sloth SLI plugins are not supported by slod: write the SLI as events or raw queries")
		return SLI{}
	}
}

// policyContext is what checking an alert policy needs to know about its SLO.
type policyContext struct {
	objective float64
	objOK     bool
	objNode   *yaml.Node
	period    time.Duration
	periodOK  bool
	sloNode   *yaml.Node
}

// placedWindow is a window pair with the node to point warnings at.
type placedWindow struct {
	w     burnrate.Window
	node  *yaml.Node
	field string
}

// severityAlert is a page or ticket section: whether it is disabled, and what it adds to alerts.
type severityAlert struct {
	disable     bool
	labels      map[string]string
	annotations map[string]string
}

func (d *decoder) severityAlert(n *yaml.Node, path string) severityAlert {
	f := d.mapping(n, path, "disable", "labels", "annotations")
	var s severityAlert
	if dn := f.vals["disable"]; dn != nil {
		s.disable, _ = d.boolean(dn, field(path, "disable"))
	}
	if ln := f.vals["labels"]; ln != nil {
		s.labels = d.labelMap(ln, field(path, "labels"), "label")
	}
	if an := f.vals["annotations"]; an != nil {
		s.annotations = d.labelMap(an, field(path, "annotations"), "annotation")
	}
	return s
}

// alerting decodes a slod/v1 alerting section and derives the effective policy.
func (d *decoder) alerting(n *yaml.Node, path string, pc policyContext) Alerting {
	a := Alerting{Name: DefaultAlertName}
	var f fields
	if n != nil {
		f = d.mapping(n, path, "name", "runbook_url", "labels", "annotations", "page", "ticket", "windows", "no_data")
	} else {
		f = fields{vals: map[string]*yaml.Node{}, keys: map[string]*yaml.Node{}}
	}
	if nn := f.vals["name"]; nn != nil {
		if s, ok := d.str(nn, field(path, "name")); ok {
			if !model.LegacyValidation.IsValidMetricName(s) {
				d.errorf(resolve(nn), field(path, "name"), "invalid alert name %q: must match [a-zA-Z_:][a-zA-Z0-9_:]*", s)
			}
			a.Name = s
		}
	}
	if un := f.vals["runbook_url"]; un != nil {
		a.RunbookURL, _ = d.absoluteURL(resolve(un), field(path, "runbook_url"))
	}
	if ln := f.vals["labels"]; ln != nil {
		a.Labels = d.labelMap(ln, field(path, "labels"), "label")
	}
	if an := f.vals["annotations"]; an != nil {
		a.Annotations = d.labelMap(an, field(path, "annotations"), "annotation")
	}
	sev := map[burnrate.Severity]severityAlert{}
	for _, s := range []burnrate.Severity{burnrate.Page, burnrate.Ticket} {
		if sn := f.vals[string(s)]; sn != nil {
			sev[s] = d.severityAlert(sn, field(path, string(s)))
		}
	}
	a.SeverityLabels, a.SeverityAnnotations = severityMaps(sev)

	var placed []placedWindow
	if wn := f.vals["windows"]; wn != nil {
		placed = d.windows(resolve(wn), field(path, "windows"), pc)
	} else if pc.periodOK {
		for _, w := range DefaultWindows(pc.period) {
			placed = append(placed, placedWindow{w: w, node: pc.objNode, field: field(strings.TrimSuffix(path, ".alerting"), "objective")})
		}
	}
	a.Windows = d.effectiveWindows(placed, sev, pc)
	if nd := f.vals["no_data"]; nd != nil {
		a.NoData = d.noData(nd, field(path, "no_data"))
	}
	return a
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
func (d *decoder) effectiveWindows(placed []placedWindow, sev map[burnrate.Severity]severityAlert, pc policyContext) []burnrate.Window {
	var out []burnrate.Window
	for _, p := range placed {
		if sev[p.w.Severity].disable {
			continue
		}
		out = append(out, p.w)
		if !pc.objOK || p.node == nil {
			continue
		}
		budget := 1 - pc.objective
		if th := p.w.BurnRate * budget; th >= 1-1e-9 {
			d.warnf(p.node, p.field, "%s window pair %s/%s can never fire: burn rate %s × error budget %s = %s ≥ 1",
				p.w.Severity, model.Duration(p.w.Long), model.Duration(p.w.Short),
				formatFloat(p.w.BurnRate), formatFloat(budget), formatFloat(th))
		}
	}
	return out
}

// formatFloat prints a derived number without float noise: 1.4400000000000002 as 1.44.
func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', 6, 64) }

// windows decodes a custom alert policy.
func (d *decoder) windows(n *yaml.Node, path string, pc policyContext) []placedWindow {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, path, "must be a list of window pairs, got %s", kindName(n))
		return nil
	}
	if len(n.Content) == 0 {
		d.errorf(n, path, "must list at least one window pair (omit windows for the default policy)")
		return nil
	}
	var out []placedWindow
	for i, item := range n.Content {
		item = resolve(item)
		p := index(path, i)
		f := d.mapping(item, p, "severity", "long", "short", "burn_rate", "budget_percent", "for")
		errsBefore := len(d.errs)
		var w burnrate.Window
		if d.required(f, "severity") {
			sn := resolve(f.vals["severity"])
			if s, ok := d.str(sn, field(p, "severity")); ok {
				w.Severity = burnrate.Severity(s)
				if w.Severity != burnrate.Page && w.Severity != burnrate.Ticket {
					d.errorf(sn, field(p, "severity"), "must be page or ticket, got %q", s)
				}
			}
		}
		longOK, shortOK := false, false
		if d.required(f, "long") {
			w.Long, longOK = d.duration(f.vals["long"], field(p, "long"), false)
		}
		if d.required(f, "short") {
			w.Short, shortOK = d.duration(f.vals["short"], field(p, "short"), false)
		}
		if longOK && shortOK && w.Short >= w.Long {
			d.errorf(resolve(f.vals["short"]), field(p, "short"), "must be shorter than long (%s), got %s", model.Duration(w.Long), model.Duration(w.Short))
		}
		if longOK && pc.periodOK && w.Long > pc.period {
			d.errorf(resolve(f.vals["long"]), field(p, "long"), "must not be longer than the SLO window (%s), got %s", model.Duration(pc.period), model.Duration(w.Long))
		}
		switch {
		case f.has("burn_rate") && f.has("budget_percent"):
			d.errorf(f.keys["budget_percent"], p, "set burn_rate or budget_percent, not both")
		case f.has("burn_rate"):
			bn := resolve(f.vals["burn_rate"])
			if v, _, ok := d.number(bn, field(p, "burn_rate")); ok {
				if v <= 0 {
					d.errorf(bn, field(p, "burn_rate"), "must be greater than 0, got %s", bn.Value)
				}
				w.BurnRate = v
			}
		case f.has("budget_percent"):
			bn := resolve(f.vals["budget_percent"])
			if v, exact, ok := d.number(bn, field(p, "budget_percent")); ok {
				switch {
				case v <= 0 || v > 100:
					d.errorf(bn, field(p, "budget_percent"), "must be a percentage greater than 0 and at most 100, got %s", bn.Value)
				case longOK && pc.periodOK:
					w.BurnRate = budgetBurnRate(exact, pc.period, w.Long)
				}
			}
		case f.node.Kind == yaml.MappingNode:
			d.errorf(f.node, p, "one of burn_rate or budget_percent is required")
		}
		if fn := f.vals["for"]; fn != nil {
			w.For, _ = d.duration(fn, field(p, "for"), true)
		}
		if len(d.errs) == errsBefore {
			out = append(out, placedWindow{w: w, node: item, field: p})
		}
	}
	return out
}

func (d *decoder) noData(n *yaml.Node, path string) *burnrate.NoData {
	f := d.mapping(n, path, "after", "severity")
	nd := &burnrate.NoData{Severity: burnrate.Ticket}
	if d.required(f, "after") {
		nd.After, _ = d.duration(f.vals["after"], field(path, "after"), false)
	}
	if sn := f.vals["severity"]; sn != nil {
		if s, ok := d.str(sn, field(path, "severity")); ok {
			nd.Severity = burnrate.Severity(s)
			if nd.Severity != burnrate.Page && nd.Severity != burnrate.Ticket {
				d.errorf(resolve(sn), field(path, "severity"), "must be page or ticket, got %q", s)
			}
		}
	}
	return nd
}

// slothAlerting decodes Sloth's alerting section: page_alert and ticket_alert are the page and
// ticket severities of the default policy (Sloth's only policy).
func (d *decoder) slothAlerting(n *yaml.Node, path string, pc policyContext) Alerting {
	a := Alerting{Name: DefaultAlertName}
	var f fields
	if n != nil {
		f = d.mapping(n, path, "name", "labels", "annotations", "page_alert", "ticket_alert")
	} else {
		f = fields{vals: map[string]*yaml.Node{}, keys: map[string]*yaml.Node{}}
	}
	if nn := f.vals["name"]; nn != nil {
		if s, ok := d.str(nn, field(path, "name")); ok && s != "" {
			a.Name = s
		}
	}
	if ln := f.vals["labels"]; ln != nil {
		a.Labels = d.labelMap(ln, field(path, "labels"), "label")
	}
	if an := f.vals["annotations"]; an != nil {
		a.Annotations = d.labelMap(an, field(path, "annotations"), "annotation")
	}
	sev := map[burnrate.Severity]severityAlert{}
	if sn := f.vals["page_alert"]; sn != nil {
		sev[burnrate.Page] = d.severityAlert(sn, field(path, "page_alert"))
	}
	if sn := f.vals["ticket_alert"]; sn != nil {
		sev[burnrate.Ticket] = d.severityAlert(sn, field(path, "ticket_alert"))
	}
	a.SeverityLabels, a.SeverityAnnotations = severityMaps(sev)
	var placed []placedWindow
	for _, w := range DefaultWindows(pc.period) {
		placed = append(placed, placedWindow{w: w, node: pc.objNode, field: field(strings.TrimSuffix(path, ".alerting"), "objective")})
	}
	a.Windows = d.effectiveWindows(placed, sev, pc)
	return a
}
