package openslo

import (
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/slod-dev/slod/internal/yamlx"
)

// The spec's limits, as its reference validator (the OpenSLO Go SDK) applies them.
const (
	maxDescription = 1050
	maxDisplayName = 63
)

var (
	// dnsLabel is RFC 1123's label: what every object name and reference must be.
	dnsLabel = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)
	// labelKey is the spec's label key (its README allows upper case: userImpacting, costCentre).
	labelKey = regexp.MustCompile(`^[a-zA-Z0-9]([-._a-zA-Z0-9]{0,61}[a-zA-Z0-9])?$`)
	// annotationKey is an optional DNS-subdomain prefix and a slash, then a name like a label key.
	annotationKey = regexp.MustCompile(`^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*/)?[a-zA-Z0-9]([-._a-zA-Z0-9]{0,61}[a-zA-Z0-9])?$`)
)

// The annotations slod reads (README, "OpenSLO files"), by the kind of object they go on.
const (
	annGroupBy     = "slod.dev/group-by"
	annMaxGroups   = "slod.dev/max-groups"
	annAlertName   = "slod.dev/alert-name"
	annRunbookURL  = "slod.dev/runbook-url"
	annSeverity    = "slod.dev/severity"
	annShortWindow = "slod.dev/short-window"
	slodPrefix     = "slod.dev/"
)

var slodAnnotations = map[string][]string{
	KindSLO:            {annGroupBy, annMaxGroups, annAlertName, annRunbookURL},
	KindAlertPolicy:    {annSeverity, annShortWindow},
	KindAlertCondition: {annSeverity, annShortWindow},
}

// checkObject checks what every object of its kind must satisfy, used by an SLO or not, and that
// its references resolve. What only matters to evaluate an SLO (a Prometheus source, a burn rate slod can alert on) is checked
// when an SLO uses the object.
func (r *reader) checkObject(o *obj) {
	d := o.doc
	switch v := o.value.(type) {
	case interface{ meta() *metadata }:
		checkMetadata(d, "metadata", v.meta(), o.kind)
	case interface{ meta() *alphaMetadata }:
		checkAlphaMetadata(d, v.meta())
	}
	switch v := o.value.(type) {
	case *object[sliSpec]:
		if v.Spec != nil {
			checkSLISpec(d, "spec", v.Spec)
			r.sliRefs(d, "spec", v.Spec)
		}
	case *object[policySpec]:
		if v.Spec != nil {
			checkPolicySpec(d, "spec", v.Spec)
			r.policyRefs(d, "spec", v.Spec)
		}
	case *object[conditionSpec]:
		if v.Spec != nil {
			checkConditionSpec(d, "spec", v.Spec)
		}
	}
	checkDescription(d, "spec.description")
}

// checkName checks a name or a reference to one: a DNS label.
func checkName(d *yamlx.Doc, path string, name *string) bool {
	if name == nil {
		return false
	}
	if !dnsLabel.MatchString(*name) {
		d.Errorf(path, "invalid name %q: must be a DNS label (RFC 1123: at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit)", *name)
		return false
	}
	return true
}

// checkMetadata checks the metadata of an object of kind (at path): its name, display name,
// label and annotation keys, and the slod.dev/ annotations slod knows for the kind.
func checkMetadata(d *yamlx.Doc, path string, m *metadata, kind string) {
	if m == nil {
		return
	}
	checkName(d, yamlx.Field(path, "name"), m.Name)
	if m.DisplayName != nil && utf8.RuneCountInString(*m.DisplayName) > maxDisplayName {
		d.Errorf(yamlx.Field(path, "displayName"), "must be at most %d characters, got %d", maxDisplayName, utf8.RuneCountInString(*m.DisplayName))
	}
	lp := yamlx.Field(path, "labels")
	for k := range m.Labels {
		if !labelKey.MatchString(k) {
			d.KeyErrorf(yamlx.Field(lp, k), "invalid label key %q: at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit", k)
		}
	}
	ap := yamlx.Field(path, "annotations")
	for k := range m.Annotations {
		prefix, _, hasPrefix := strings.Cut(k, "/")
		switch {
		case !annotationKey.MatchString(k) || (hasPrefix && len(prefix) > 253):
			d.KeyErrorf(yamlx.Field(ap, k), "invalid annotation key %q: an optional DNS subdomain and '/', then at most 63 letters, digits, '-', '_' and '.'", k)
		case strings.HasPrefix(k, slodPrefix) && !slices.Contains(slodAnnotations[kind], k):
			known := "none"
			if len(slodAnnotations[kind]) > 0 {
				known = strings.Join(slodAnnotations[kind], ", ")
			}
			d.KeyErrorf(yamlx.Field(ap, k), "unknown slod annotation %q on %s %s (slod reads %s there)", k, article(kind), kind, known)
		}
	}
}

func checkAlphaMetadata(d *yamlx.Doc, m *alphaMetadata) {
	if m == nil {
		return
	}
	checkName(d, "metadata.name", m.Name)
	if m.DisplayName != nil && utf8.RuneCountInString(*m.DisplayName) > maxDisplayName {
		d.Errorf("metadata.displayName", "must be at most %d characters, got %d", maxDisplayName, utf8.RuneCountInString(*m.DisplayName))
	}
}

// checkDescription checks the length of the description at path, if there is one.
func checkDescription(d *yamlx.Doc, path string) {
	n := d.Node(path)
	if n == nil || d.Failed(path) {
		return
	}
	if c := utf8.RuneCountInString(n.Value); c > maxDescription {
		d.Errorf(path, "must be at most %d characters, got %d", maxDescription, c)
	}
}

// exactlyOne reports at path unless exactly one of keys is set there; what names the object.
func exactlyOne(d *yamlx.Doc, path, what string, keys ...string) bool {
	got := d.Present(path, keys...)
	switch {
	case len(got) == 1:
		return true
	case len(got) == 0:
		d.Errorf(path, "%s needs one of %s", what, strings.Join(keys, " or "))
	default:
		d.Errorf(path, "%s takes one of %s, not both (got %s)", what, strings.Join(keys, " or "), strings.Join(got, " and "))
	}
	return false
}

// checkSLISpec checks an SLI's spec: thresholdMetric or ratioMetric, and a ratio's parts.
func checkSLISpec(d *yamlx.Doc, path string, s *sliSpec) {
	checkDescription(d, yamlx.Field(path, "description"))
	if !exactlyOne(d, path, "an SLI", "thresholdMetric", "ratioMetric") || s.RatioMetric == nil {
		return
	}
	rp := yamlx.Field(path, "ratioMetric")
	if !exactlyOne(d, rp, "a ratioMetric", "total", "raw") {
		return
	}
	if s.RatioMetric.Raw != nil || d.Has(yamlx.Field(rp, "raw")) {
		if got := d.Present(rp, "good", "bad"); len(got) > 0 {
			d.KeyErrorf(yamlx.Field(rp, got[0]), "a raw ratioMetric has no %s: raw is the ratio itself", got[0])
		}
		if !d.Has(yamlx.Field(rp, "rawType")) {
			d.Errorf(rp, "rawType (success or failure) is required with raw")
		} else if t := s.RatioMetric.RawType; t != nil && *t != "success" && *t != "failure" {
			d.Errorf(yamlx.Field(rp, "rawType"), "must be success or failure, got %q", *t)
		}
		return
	}
	exactlyOne(d, rp, "a ratioMetric with total", "good", "bad")
	if d.Has(yamlx.Field(rp, "rawType")) {
		d.KeyErrorf(yamlx.Field(rp, "rawType"), "applies to raw only: good or bad already says which ratio this is")
	}
	if !d.Has(yamlx.Field(rp, "counter")) {
		// The spec's JSON schema requires it, and it decides what the queries mean.
		d.Errorf(rp, "counter is required: true when the queries are counters, false when they give counts per interval")
	}
}

// checkPolicySpec checks an AlertPolicy's spec: one condition and at least one notification
// target, each a reference or inline.
func checkPolicySpec(d *yamlx.Doc, path string, s *policySpec) {
	checkDescription(d, yamlx.Field(path, "description"))
	cp := yamlx.Field(path, "conditions")
	if !d.Failed(cp) && d.Has(cp) && len(s.Conditions) != 1 {
		d.Errorf(cp, "must hold exactly one condition, got %d (the spec keeps a list for later versions)", len(s.Conditions))
	}
	for i, c := range s.Conditions {
		p := yamlx.Index(cp, i)
		if c != nil && inlineOrRef(d, p, "conditionRef", KindAlertCondition, c.Kind) && c.ConditionRef == nil {
			checkMetadata(d, yamlx.Field(p, "metadata"), c.Metadata, KindAlertCondition)
			if c.Spec != nil {
				checkConditionSpec(d, yamlx.Field(p, "spec"), c.Spec)
			}
		}
	}
	tp := yamlx.Field(path, "notificationTargets")
	if !d.Failed(tp) && d.Has(tp) && len(s.NotificationTargets) == 0 {
		d.Errorf(tp, "must list at least one notification target")
	}
	for i, t := range s.NotificationTargets {
		p := yamlx.Index(tp, i)
		if t != nil && inlineOrRef(d, p, "targetRef", KindAlertNotificationTarget, t.Kind) && t.TargetRef == nil {
			checkMetadata(d, yamlx.Field(p, "metadata"), t.Metadata, KindAlertNotificationTarget)
			checkDescription(d, yamlx.Field(yamlx.Field(p, "spec"), "description"))
		}
	}
}

// inlineOrRef checks an entry that is either a reference (refKey) or an object of kind written
// inline (kind, metadata and spec). It reports false when the entry is neither.
func inlineOrRef(d *yamlx.Doc, path, refKey, kind string, gotKind *string) bool {
	inline := d.Present(path, "kind", "metadata", "spec")
	if d.Has(yamlx.Field(path, refKey)) {
		if len(inline) > 0 {
			d.KeyErrorf(yamlx.Field(path, inline[0]), "%s %s takes %s or an inline %s (kind, metadata, spec), not both", article(kind), kind, refKey, kind)
			return false
		}
		checkName(d, yamlx.Field(path, refKey), stringAt(d, yamlx.Field(path, refKey)))
		return true
	}
	if len(inline) < 3 {
		d.Errorf(path, "needs %s, or an inline %s with kind, metadata and spec", refKey, kind)
		return false
	}
	if gotKind != nil && *gotKind != kind {
		d.Errorf(yamlx.Field(path, "kind"), "must be %s, got %q", kind, *gotKind)
		return false
	}
	return true
}

// stringAt is the string decoded at path, nil if there is none.
func stringAt(d *yamlx.Doc, path string) *string {
	n := d.Node(path)
	if n == nil || d.Failed(path) {
		return nil
	}
	return &n.Value
}

// checkConditionSpec checks an AlertCondition's spec: a burnrate condition.
func checkConditionSpec(d *yamlx.Doc, path string, s *conditionSpec) {
	checkDescription(d, yamlx.Field(path, "description"))
	if s.Condition == nil {
		return
	}
	cp := yamlx.Field(path, "condition")
	if k := s.Condition.Kind; k != nil && *k != "burnrate" {
		d.Errorf(yamlx.Field(cp, "kind"), "must be burnrate, the one kind of condition the spec has, got %q", *k)
	}
	if op := s.Condition.Op; op != nil && !validOp(*op) {
		d.Errorf(yamlx.Field(cp, "op"), "must be one of lt, lte, gt, gte, got %q", *op)
	}
}

func validOp(op string) bool { return op == "lt" || op == "lte" || op == "gt" || op == "gte" }

// sliRefs resolves the DataSources an SLI's metric sources refer to, used by an SLO or not: a
// reference to nothing is a mistake in the files either way.
func (r *reader) sliRefs(d *yamlx.Doc, path string, s *sliSpec) {
	check := func(p string, m *metricSpec) {
		if m != nil && m.MetricSource != nil && m.MetricSource.MetricSourceRef != nil && dnsLabel.MatchString(*m.MetricSource.MetricSourceRef) {
			r.lookup(d, yamlx.Field(yamlx.Field(p, "metricSource"), "metricSourceRef"), KindDataSource, *m.MetricSource.MetricSourceRef)
		}
	}
	check(yamlx.Field(path, "thresholdMetric"), s.ThresholdMetric)
	if m := s.RatioMetric; m != nil {
		rp := yamlx.Field(path, "ratioMetric")
		for k, part := range map[string]*metricSpec{"good": m.Good, "bad": m.Bad, "total": m.Total, "raw": m.Raw} {
			check(yamlx.Field(rp, k), part)
		}
	}
}

// policyRefs resolves the conditions and targets an AlertPolicy refers to.
func (r *reader) policyRefs(d *yamlx.Doc, path string, s *policySpec) {
	for i, c := range s.Conditions {
		if c != nil && c.ConditionRef != nil && dnsLabel.MatchString(*c.ConditionRef) {
			r.lookup(d, yamlx.Field(yamlx.Index(yamlx.Field(path, "conditions"), i), "conditionRef"), KindAlertCondition, *c.ConditionRef)
		}
	}
	for i, t := range s.NotificationTargets {
		if t != nil && t.TargetRef != nil && dnsLabel.MatchString(*t.TargetRef) {
			r.lookup(d, yamlx.Field(yamlx.Index(yamlx.Field(path, "notificationTargets"), i), "targetRef"), KindAlertNotificationTarget, *t.TargetRef)
		}
	}
}

// ValidName reports whether s can name an OpenSLO object (a DNS label).
func ValidName(s string) bool { return dnsLabel.MatchString(s) }

// ValidLabelKey reports whether s can be the key of an OpenSLO metadata label.
func ValidLabelKey(s string) bool { return labelKey.MatchString(s) }

// article is the indefinite article of a kind: an SLO, an AlertPolicy, a Service.
func article(kind string) string {
	if kind == KindSLO || kind == KindSLI || strings.HasPrefix(kind, "Alert") {
		return "an"
	}
	return "a"
}
