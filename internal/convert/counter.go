package convert

import (
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/slod-dev/slod/internal/rules"
)

// windowVar is the {{.window}} placeholder of SLI queries, as rules validates it.
var windowVar = rules.WindowVar

// placeholder stands for {{.window}} while a query is parsed: a duration nobody writes.
const placeholder = 876543219 * time.Millisecond

var promql = parser.NewParser(parser.Options{})

// counters returns the counters an events query is made of when it is written in the form an
// OpenSLO ratioMetric with counter: true reads back to exactly: every selector inside
// rate(S[{{.window}}]), combined by sum, + and - and scaling by a number. ok is false for any other
// query, which is written as it is, with counter: false.
func counters(q string) (string, bool) {
	expr, err := promql.ParseExpr(windowVar.ReplaceAllLiteralString(q, model.Duration(placeholder).String()))
	if err != nil {
		return "", false
	}
	out, ok := unwrap(expr)
	if !ok {
		return "", false
	}
	s := out.String()
	return s, !strings.Contains(s, model.Duration(placeholder).String())
}

func unwrap(e parser.Expr) (parser.Expr, bool) {
	switch n := e.(type) {
	case *parser.Call:
		if n.Func.Name != "rate" || len(n.Args) != 1 {
			return nil, false
		}
		ms, ok := n.Args[0].(*parser.MatrixSelector)
		if !ok || ms.Range != placeholder || ms.RangeExpr != nil {
			return nil, false
		}
		vs, ok := ms.VectorSelector.(*parser.VectorSelector)
		if !ok || vs.OriginalOffset != 0 || vs.OriginalOffsetExpr != nil || vs.Timestamp != nil || vs.StartOrEnd != 0 {
			return nil, false
		}
		return vs, true
	case *parser.AggregateExpr:
		if n.Op != parser.SUM {
			return nil, false
		}
		inner, ok := unwrap(n.Expr)
		n.Expr = inner
		return n, ok
	case *parser.ParenExpr:
		inner, ok := unwrap(n.Expr)
		n.Expr = inner
		return n, ok
	case *parser.BinaryExpr:
		return unwrapBinary(n)
	}
	return nil, false
}

// unwrapBinary takes the sums and differences of counters, and scaling one by a number.
func unwrapBinary(n *parser.BinaryExpr) (parser.Expr, bool) {
	_, lnum := n.LHS.(*parser.NumberLiteral)
	_, rnum := n.RHS.(*parser.NumberLiteral)
	var lok, rok bool
	switch {
	case n.ReturnBool:
		return nil, false
	case n.Op == parser.ADD || n.Op == parser.SUB:
		n.LHS, lok = unwrap(n.LHS)
		n.RHS, rok = unwrap(n.RHS)
	case n.Op == parser.MUL && lnum:
		lok = true
		n.RHS, rok = unwrap(n.RHS)
	case (n.Op == parser.MUL || n.Op == parser.DIV) && rnum:
		n.LHS, lok = unwrap(n.LHS)
		rok = true
	}
	return n, lok && rok
}
