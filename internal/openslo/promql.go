package openslo

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"
)

var (
	// windowVar is slod's one template variable, with the spacing Go templates allow: the same
	// expression as rules.WindowVar (rules imports this package, so it cannot use that one).
	windowVar = regexp.MustCompile(`\{\{-?\s*\.window\s*-?\}\}`)
	// anyTemplate is any Go template action, to refuse the others.
	anyTemplate = regexp.MustCompile(`\{\{.*?\}\}`)
)

// The queries must also run on Prometheus 2.42 and VictoriaMetrics: classic PromQL only.
var promql = parser.NewParser(parser.Options{})

// windowSentinel stands for {{.window}} in the queries slod builds: printed by the PromQL printer
// as 11d10h20m54s321ms, which nobody writes, and then replaced by {{.window}}.
const windowSentinel = 987654321 * time.Millisecond

// sameLength replaces every {{.window}} of q by a duration of exactly its length (0000000001m),
// so that the parser's offsets are offsets into q as written.
func sameLength(q string) string {
	return windowVar.ReplaceAllStringFunc(q, func(m string) string { return strings.Repeat("0", len(m)-2) + "1m" })
}

// parseQuery checks the PromQL query q written at loc: only the {{.window}} template, valid
// PromQL, an instant vector or a scalar. A problem is reported at its character in the file.
func parseQuery(loc Loc, q string) (parser.Expr, bool) {
	if strings.TrimSpace(q) == "" {
		loc.Doc.Errorf(loc.Path, "must not be empty")
		return nil, false
	}
	for _, m := range anyTemplate.FindAllStringIndex(q, -1) {
		if !windowVar.MatchString(q[m[0]:m[1]]) {
			loc.Doc.ErrorAt(loc.Doc.OffsetPos(loc.Path, m[0]), loc.Path, "unsupported template %s: only {{.window}} is available", q[m[0]:m[1]])
			return nil, false
		}
	}
	expr, err := promql.ParseExpr(sameLength(q))
	if err != nil {
		var perrs parser.ParseErrors
		if errors.As(err, &perrs) && len(perrs) > 0 {
			loc.Doc.ErrorAt(loc.Doc.OffsetPos(loc.Path, int(perrs[0].PositionRange.Start)), loc.Path, "invalid PromQL: %v", perrs[0].Err)
		} else {
			loc.Doc.Errorf(loc.Path, "invalid PromQL: %v", err)
		}
		return nil, false
	}
	if t := expr.Type(); t != parser.ValueTypeVector && t != parser.ValueTypeScalar {
		loc.Doc.Errorf(loc.Path, "must be an instant vector or scalar expression, got a %s", parser.DocumentedType(t))
		return nil, false
	}
	return expr, true
}

// counterQuery turns the query of counters (counter: true) into a query of the events of each
// step: every selector S becomes rate(S[{{.window}}]), of which slod takes the exact difference
// between step boundaries (DESIGN §2). That is the counters' growth only through sums and
// differences, so the query may hold nothing else; expr is the query as parsed at loc.
func counterQuery(loc Loc, expr parser.Expr) (string, bool) {
	out, bad := wrapCounters(expr)
	if bad != nil {
		loc.Doc.ErrorAt(loc.Doc.OffsetPos(loc.Path, int(bad.PositionRange().Start)), loc.Path,
			"counter: true: slod takes the increase of every counter in the query, which adds up through sum, + and - only, not through %s; "+
				"give the counters alone (e.g. sum(http_requests_total{code=~\"5..\"})), or a query of the events over {{.window}} with counter: false", nodeName(bad))
		return "", false
	}
	return strings.ReplaceAll(out.String(), model.Duration(windowSentinel).String(), "{{.window}}"), true
}

// wrapCounters rewrites e (see counterQuery); bad is the first node that is not allowed.
func wrapCounters(e parser.Expr) (out parser.Expr, bad parser.Node) {
	switch n := e.(type) {
	case *parser.VectorSelector:
		if n.OriginalOffset != 0 || n.OriginalOffsetExpr != nil || n.Timestamp != nil || n.StartOrEnd != 0 {
			return nil, n
		}
		return &parser.Call{Func: parser.Functions["rate"], Args: parser.Expressions{
			&parser.MatrixSelector{VectorSelector: n, Range: windowSentinel},
		}}, nil
	case *parser.AggregateExpr:
		if n.Op != parser.SUM {
			return nil, n
		}
		n.Expr, bad = wrapCounters(n.Expr)
		return n, bad
	case *parser.ParenExpr:
		n.Expr, bad = wrapCounters(n.Expr)
		return n, bad
	case *parser.BinaryExpr:
		return wrapBinary(n)
	}
	return nil, e
}

// wrapBinary allows a + b and a - b of counters, and scaling one by a number (a * 2, a / 1000); a
// number added to a counter does not grow, so it cannot be added.
func wrapBinary(n *parser.BinaryExpr) (parser.Expr, parser.Node) {
	_, lnum := n.LHS.(*parser.NumberLiteral)
	_, rnum := n.RHS.(*parser.NumberLiteral)
	var bad parser.Node
	switch {
	case n.ReturnBool:
		return nil, n
	case n.Op == parser.ADD || n.Op == parser.SUB:
		if n.LHS, bad = wrapCounters(n.LHS); bad != nil {
			return nil, bad
		}
		n.RHS, bad = wrapCounters(n.RHS)
	case n.Op == parser.MUL && lnum:
		n.RHS, bad = wrapCounters(n.RHS)
	case (n.Op == parser.MUL || n.Op == parser.DIV) && rnum:
		n.LHS, bad = wrapCounters(n.LHS)
	default:
		return nil, n
	}
	return n, bad
}

// nodeName names a PromQL node in messages.
func nodeName(n parser.Node) string {
	switch v := n.(type) {
	case *parser.Call:
		return v.Func.Name + "()"
	case *parser.AggregateExpr:
		return v.Op.String() + "()"
	case *parser.BinaryExpr:
		if v.ReturnBool {
			return "a comparison"
		}
		return "the operator " + v.Op.String()
	case *parser.VectorSelector:
		return "offset or @ (on " + v.Name + ")"
	case *parser.NumberLiteral:
		return "a number added to it"
	}
	return fmt.Sprintf("%q", n.String())
}

// comparison is the PromQL operator of a spec operator.
var comparison = map[string]string{"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}
