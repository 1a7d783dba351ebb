package rules

import (
	"errors"
	"regexp"
	"strings"

	"github.com/prometheus/prometheus/promql/parser"
)

var (
	// WindowVar is the one template variable SLI queries may use, with the spacing and trim
	// markers Go templates allow: {{.window}}, {{ .window }} and {{- .window -}} are the same.
	// Whatever reads a query's window (sli, convert) matches it with this, so that what
	// validates also runs.
	WindowVar = regexp.MustCompile(`\{\{-?\s*\.window\s*-?\}\}`)
	// templateAction is any Go template action, to reject the ones that are not {{.window}}.
	templateAction = regexp.MustCompile(`\{\{.*?\}\}`)
)

// promqlParser is shared: NewParser copies its options, and ParseExpr keeps no state between calls.
var promqlParser = parser.NewParser(parser.Options{})

// parseTemplate parses a query written with {{.window}}: each one stands in as a duration of
// exactly its length (0000000001m), so that the parser's offsets are offsets into q as written.
func parseTemplate(q string) (parser.Expr, error) {
	return promqlParser.ParseExpr(WindowVar.ReplaceAllStringFunc(q, func(m string) string {
		return strings.Repeat("0", len(m)-2) + "1m"
	}))
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
		if !WindowVar.MatchString(q[m[0]:m[1]]) {
			c.doc.ErrorAt(c.doc.OffsetPos(path, m[0]), path, "unsupported template %s: only {{.window}} is available", q[m[0]:m[1]])
			return "", false
		}
	}
	if needWindow && !WindowVar.MatchString(q) {
		c.doc.Errorf(path, "must contain {{.window}} as the range of its rate or increase, e.g. rate(x[{{.window}}])")
		return "", false
	}
	expr, err := parseTemplate(q)
	if err != nil {
		c.promqlError(path, "invalid PromQL", err)
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
		c.promqlError(path, "invalid PromQL selector", err)
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

// promqlError reports a PromQL parse error of the query at path, at its character in the file.
func (c *checker) promqlError(path, what string, err error) {
	var perrs parser.ParseErrors
	if errors.As(err, &perrs) && len(perrs) > 0 {
		c.doc.ErrorAt(c.doc.OffsetPos(path, int(perrs[0].PositionRange.Start)), path, "%s: %v", what, perrs[0].Err)
		return
	}
	c.doc.Errorf(path, "%s: %v", what, err)
}

// canonicalQuery is a query as the PromQL printer writes it, so that queries differing only in
// spacing or in how {{.window}} is spelled compare equal. The query must already be valid.
func canonicalQuery(q string) string {
	expr, err := parseTemplate(q)
	if err != nil {
		return q
	}
	return expr.String()
}
