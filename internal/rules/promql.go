package rules

import (
	"errors"
	"regexp"
	"strings"

	"github.com/prometheus/prometheus/promql/parser"
)

var (
	// windowVar is the one template variable SLI queries may use, with the spacing Go templates
	// allow: {{.window}} and {{ .window }} are the same.
	windowVar = regexp.MustCompile(`\{\{-?\s*\.window\s*-?\}\}`)
	// templateAction is any Go template action, to reject the ones that are not {{.window}}.
	templateAction = regexp.MustCompile(`\{\{.*?\}\}`)
)

// sampleWindow stands in for {{.window}} when a query is parsed to check it; any valid duration
// would do.
const sampleWindow = "5m"

// promqlParser is shared: NewParser copies its options, and ParseExpr keeps no state between calls.
var promqlParser = parser.NewParser(parser.Options{})

// segment records one substitution of {{.window}}, to map parser offsets back to the query as
// written.
type segment struct{ subStart, origStart, subLen, origLen int }

// substituteWindow replaces every {{.window}} of q by w and returns the segments replaced.
func substituteWindow(q, w string) (string, []segment) {
	var b strings.Builder
	var segs []segment
	last := 0
	for _, m := range windowVar.FindAllStringIndex(q, -1) {
		b.WriteString(q[last:m[0]])
		segs = append(segs, segment{subStart: b.Len(), origStart: m[0], subLen: len(w), origLen: m[1] - m[0]})
		b.WriteString(w)
		last = m[1]
	}
	b.WriteString(q[last:])
	return b.String(), segs
}

// originalOffset maps an offset in the substituted query back to the query as written; an offset
// inside a substituted window points at the start of its {{.window}}.
func originalOffset(off int, segs []segment) int {
	shift := 0
	for _, s := range segs {
		if off < s.subStart {
			break
		}
		if off < s.subStart+s.subLen {
			return s.origStart
		}
		shift += s.origLen - s.subLen
	}
	return off + shift
}

// query checks an SLI query (nil when absent or not a string: reported already): it must use no
// template other than {{.window}} (and use that one when needWindow), and parse as PromQL once the
// window is substituted, yielding an instant vector or a scalar. PromQL errors are reported where
// they are in the YAML file.
func (c *checker) query(path string, qp *string, needWindow bool) (string, bool) {
	if qp == nil {
		return "", false
	}
	q := *qp
	if strings.TrimSpace(q) == "" {
		c.doc.Errorf(path, "must not be empty")
		return "", false
	}
	for _, m := range templateAction.FindAllStringIndex(q, -1) {
		if !windowVar.MatchString(q[m[0]:m[1]]) {
			c.doc.ErrorAt(c.doc.OffsetPos(path, m[0]), path, "unsupported template %s: only {{.window}} is available", q[m[0]:m[1]])
			return "", false
		}
	}
	if needWindow && !windowVar.MatchString(q) {
		c.doc.Errorf(path, "must contain {{.window}} as the range of its rate or increase, e.g. rate(x[{{.window}}])")
		return "", false
	}
	sub, segs := substituteWindow(q, sampleWindow)
	expr, err := promqlParser.ParseExpr(sub)
	if err != nil {
		var perrs parser.ParseErrors
		if errors.As(err, &perrs) && len(perrs) > 0 {
			pe := perrs[0]
			off := originalOffset(int(pe.PositionRange.Start), segs)
			c.doc.ErrorAt(c.doc.OffsetPos(path, off), path, "invalid PromQL: %v", pe.Err)
			return "", false
		}
		c.doc.Errorf(path, "invalid PromQL: %v", err)
		return "", false
	}
	if t := expr.Type(); t != parser.ValueTypeVector && t != parser.ValueTypeScalar {
		c.doc.Errorf(path, "must be an instant vector or scalar expression, got a %s", parser.DocumentedType(t))
		return "", false
	}
	return q, true
}

// histogram checks a latency SLI's histogram: a plain vector selector naming the histogram itself,
// from which slod derives the _bucket and _count series.
func (c *checker) histogram(path string, hp *string) (string, bool) {
	if hp == nil {
		return "", false
	}
	s := *hp
	if strings.TrimSpace(s) == "" {
		c.doc.Errorf(path, "must not be empty")
		return "", false
	}
	expr, err := promqlParser.ParseExpr(s)
	if err != nil {
		var perrs parser.ParseErrors
		if errors.As(err, &perrs) && len(perrs) > 0 {
			c.doc.ErrorAt(c.doc.OffsetPos(path, int(perrs[0].PositionRange.Start)), path, "invalid PromQL selector: %v", perrs[0].Err)
			return "", false
		}
		c.doc.Errorf(path, "invalid PromQL selector: %v", err)
		return "", false
	}
	vs, ok := expr.(*parser.VectorSelector)
	if !ok || vs.Name == "" || vs.OriginalOffset != 0 || vs.Timestamp != nil || vs.StartOrEnd != 0 {
		c.doc.Errorf(path, "must be a metric selector such as http_request_duration_seconds{job=\"api\"}")
		return "", false
	}
	for _, suffix := range []string{"_bucket", "_count", "_sum"} {
		if strings.HasSuffix(vs.Name, suffix) {
			c.doc.Errorf(path, "must name the histogram without the %s suffix (%s): slod derives _bucket and _count", suffix, strings.TrimSuffix(vs.Name, suffix))
			return "", false
		}
	}
	for _, m := range vs.LabelMatchers {
		if m.Name == "le" {
			c.doc.Errorf(path, "must not match on le: slod selects the bucket from threshold")
			return "", false
		}
	}
	return s, true
}

// canonicalQuery is a query as the PromQL printer writes it, so that queries differing only in
// spacing or in how {{.window}} is spelled compare equal. The query must already be valid.
func canonicalQuery(q string) string {
	sub, _ := substituteWindow(q, sampleWindow)
	expr, err := promqlParser.ParseExpr(sub)
	if err != nil {
		return q
	}
	return expr.String()
}
