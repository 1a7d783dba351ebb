package sli

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/slod-dev/slod/internal/rules"
)

// windowPlaceholder matches the `{{.window}}` placeholder of SLI queries as rules validates it.
var windowPlaceholder = rules.WindowVar

// sentinel stands in for `{{.window}}` while a query is parsed. It is a duration nobody writes by
// hand (14d6h56m7s891ms), so any range equal to it came from the placeholder.
const sentinel = 1234567891 * time.Millisecond

var (
	sentinelText    = strconv.FormatInt(sentinel.Milliseconds(), 10) + "ms"
	sentinelPrinted = model.Duration(sentinel).String()
)

// promql is the one parser the package uses. Experimental functions stay off: the queries must
// also run on Prometheus 2.42 and VictoriaMetrics, which only know classic PromQL.
var promql = parser.NewParser(parser.Options{})

// Rewrite turns an SLI query written with `{{.window}}` into a query for one step of length window
// (DESIGN §2). Every rate, irate and increase over a `[{{.window}}]` range becomes the exact
// difference of the counter between the end of the previous step and t, counted only where the
// counter has a fresh sample in the step:
//
//	F  = last_over_time(S[window])                    # the last sample in (t-window, t]
//	C' = last_over_time(S[lookback] offset window)    # the last sample at or before t-window
//	inc = (F - C') >= 0 or (F and (C' > F))
//
// so that increments of consecutive steps telescope to the true growth of the counter whatever the
// scrape interval, and a step in which the counter was not scraped has no value (Missing when no
// series of the query has one) instead of a 0 that would read as "no errors". The growth during
// such a gap lands in the first step with a sample, as long as the last sample before the gap lies
// within the lookback; RewriteBridge reaches further back. rate and irate divide inc by the window
// in seconds. Any other use of the placeholder (avg_over_time, subqueries, offsets) becomes the
// window itself.
//
// This is the portable form, which every engine evaluates alike (Prometheus 2 and 3,
// VictoriaMetrics; Prometheus 2's ranges also hold a sample exactly at t-window, so a sample
// scraped exactly on a step boundary counts as fresh in both steps there). Increments sends a
// Querier that implements PrometheusEngine the subquery form instead (RewriteSubquery).
func Rewrite(query string, window, lookback time.Duration) (string, error) {
	return rewrite(query, rewriter{window: window, prev: window, lookback: lookback})
}

// RewriteBridge is Rewrite with the previous value of each counter read at t-prev instead of
// t-window: evaluated at t, the step ending at t gets the counter's growth since t-prev, i.e. across
// a gap of prev-window without data before it (DESIGN §2, "scrape gaps"). prev must be at least the
// window; with prev = window it is Rewrite.
func RewriteBridge(query string, window, prev, lookback time.Duration) (string, error) {
	if prev < window {
		return "", fmt.Errorf("rewriting %q: the bridged span %s is shorter than the window %s", query, prev, window)
	}
	return rewrite(query, rewriter{window: window, prev: prev, lookback: lookback})
}

// RewriteSubquery is Rewrite with the subquery form of the step difference (DESIGN §2): C =
// last_over_time(S[lookback]) is read once per step, by a subquery over the two grid points
// t-window and t, irate takes their difference with the same reset rule, and the step counts only
// where the counter has a fresh sample:
//
//	inc = (irate(C[1.5×window:window]) >= 0) and count_over_time(S[window])              (rate, irate)
//	inc = (irate((C * window)[1.5×window:window]) >= 0) and count_over_time(S[window])   (increase)
//
// The query must be evaluated at multiples of window (as Increments does), and a counter under a
// subquery of the query's own keeps the portable form. Prometheus's engine evaluates it to the same
// numbers as Rewrite's (for increase of a non-integer counter, to within a rounding) at well under
// half the cost. VictoriaMetrics does not: its irate takes a small counter drop for jitter rather
// than a reset, and yields 0 rather than nothing at the step a series leaves the lookback.
func RewriteSubquery(query string, window, lookback time.Duration) (string, error) {
	return rewrite(query, rewriter{window: window, prev: window, lookback: lookback, subquery: true})
}

func rewrite(query string, rw rewriter) (string, error) {
	if rw.window <= 0 || rw.lookback <= 0 {
		return "", fmt.Errorf("rewriting %q: window %s and lookback %s must be positive", query, rw.window, rw.lookback)
	}
	text := windowPlaceholder.ReplaceAllLiteralString(query, sentinelText)
	expr, err := promql.ParseExpr(text)
	if err != nil {
		return "", fmt.Errorf("parsing %q: %w", query, err)
	}
	expr, err = rw.expr(expr)
	if err != nil {
		return "", fmt.Errorf("rewriting %q: %w", query, err)
	}
	out := expr.String()
	if strings.Contains(out, sentinelPrinted) || strings.Contains(out, sentinelText) {
		return "", fmt.Errorf("rewriting %q: {{.window}} is used where slod cannot substitute it", query)
	}
	// The printed query must parse again: it is what Prometheus will be sent.
	if _, err := promql.ParseExpr(out); err != nil {
		return "", fmt.Errorf("rewriting %q: the rewritten query %q does not parse: %w", query, out, err)
	}
	return out, nil
}

type rewriter struct {
	window, lookback time.Duration
	// prev is how far before t the previous value of a counter is read: the window, or more to
	// bridge a gap (RewriteBridge; portable form only).
	prev     time.Duration
	subquery bool // the subquery form of the step difference
}

// dur substitutes the window for the sentinel.
func (rw rewriter) dur(d time.Duration) time.Duration {
	if d == sentinel {
		return rw.window
	}
	return d
}

func (rw rewriter) expr(e parser.Expr) (parser.Expr, error) {
	var err error
	switch n := e.(type) {
	case *parser.AggregateExpr:
		if n.Expr, err = rw.expr(n.Expr); err != nil {
			return nil, err
		}
		if n.Param != nil {
			n.Param, err = rw.expr(n.Param)
		}
	case *parser.BinaryExpr:
		if n.LHS, err = rw.expr(n.LHS); err != nil {
			return nil, err
		}
		n.RHS, err = rw.expr(n.RHS)
	case *parser.Call:
		if n.Func != nil && isCounterFunc(n.Func.Name) && len(n.Args) == 1 {
			if ms, ok := n.Args[0].(*parser.MatrixSelector); ok && ms.Range == sentinel && ms.RangeExpr == nil {
				return rw.counterDiff(n.Func.Name, ms)
			}
		}
		for i := range n.Args {
			if n.Args[i], err = rw.expr(n.Args[i]); err != nil {
				return nil, err
			}
		}
	case *parser.MatrixSelector:
		n.Range = rw.dur(n.Range)
		if n.RangeExpr != nil {
			if _, err = rw.expr(n.RangeExpr); err != nil {
				return nil, err
			}
		}
		n.VectorSelector, err = rw.expr(n.VectorSelector)
	case *parser.SubqueryExpr:
		n.Range = rw.dur(n.Range)
		n.Step = rw.dur(n.Step)
		n.OriginalOffset = rw.dur(n.OriginalOffset)
		for _, d := range []*parser.DurationExpr{n.RangeExpr, n.StepExpr, n.OriginalOffsetExpr} {
			if d != nil {
				if _, err = rw.expr(d); err != nil {
					return nil, err
				}
			}
		}
		// Inside a subquery of the user's the query is evaluated at the subquery's own steps,
		// which need not be multiples of the window: the points of the subquery form would not
		// be t-window and t there, so the portable form, which reads them at any t, is kept.
		inner := rw
		inner.subquery = false
		n.Expr, err = inner.expr(n.Expr)
	case *parser.ParenExpr:
		n.Expr, err = rw.expr(n.Expr)
	case *parser.UnaryExpr:
		n.Expr, err = rw.expr(n.Expr)
	case *parser.StepInvariantExpr:
		n.Expr, err = rw.expr(n.Expr)
	case *parser.DurationExpr:
		if n.LHS != nil {
			if n.LHS, err = rw.expr(n.LHS); err != nil {
				return nil, err
			}
		}
		if n.RHS != nil {
			n.RHS, err = rw.expr(n.RHS)
		}
	case *parser.VectorSelector:
		n.OriginalOffset = rw.dur(n.OriginalOffset)
		if n.OriginalOffsetExpr != nil {
			_, err = rw.expr(n.OriginalOffsetExpr)
		}
	case *parser.NumberLiteral:
		if n.Duration && n.Val == sentinel.Seconds() {
			n.Val = rw.window.Seconds()
		}
	case *parser.StringLiteral:
	default:
		return nil, fmt.Errorf("unexpected PromQL node %T", e)
	}
	if err != nil {
		return nil, err
	}
	return e, nil
}

func isCounterFunc(name string) bool {
	return name == "rate" || name == "irate" || name == "increase"
}

// counterDiff builds the exact step difference of DESIGN §2 for fn(ms), ms ranging over the
// placeholder. The fragment is built as text and parsed, so the result is an AST the parser itself
// made (with the vector matching it attaches to binary operators).
func (rw rewriter) counterDiff(fn string, ms *parser.MatrixSelector) (parser.Expr, error) {
	vs, ok := ms.VectorSelector.(*parser.VectorSelector)
	if !ok {
		return nil, fmt.Errorf("%s: expected a series selector, got %s", fn, ms.VectorSelector)
	}
	if vs.Timestamp != nil || vs.StartOrEnd != 0 {
		// With @ both ends of the difference would be the same instant: every increment 0.
		return nil, errors.New(fn + ": the @ modifier cannot be used with {{.window}}")
	}
	if vs.OriginalOffsetExpr != nil {
		return nil, errors.New(fn + ": offset expressions cannot be used with {{.window}}")
	}
	offset := rw.dur(vs.OriginalOffset)
	bare := *vs
	bare.OriginalOffset, bare.Offset, bare.OriginalOffsetExpr = 0, 0, nil
	sel := bare.String()
	lb := model.Duration(rw.lookback).String()
	seconds := strconv.FormatFloat(rw.window.Seconds(), 'f', -1, 64)
	fresh := "last_over_time(" + sel + "[" + model.Duration(rw.window).String() + "]" + offsetText(offset) + ")"
	var inc string
	if rw.subquery && rw.prev == rw.window {
		// The offset stays inside, so that the subquery's points stay on the step grid. irate of
		// the two points C(t-window), C(t) is C(t) - C(t-window), or C(t) when that is smaller (a
		// reset), divided by the window in seconds; nothing when either point is absent. For
		// increase the points are C × window, so that the division gives back the difference
		// exactly (for integer counters; irate(…) × window would be off by a rounding now and
		// then). ">= 0" drops a NaN, as the portable form does. C(t) is the fresh sample F of the
		// portable form wherever count_over_time finds one in the step.
		c := "last_over_time(" + sel + "[" + lb + "]" + offsetText(offset) + ")"
		if fn == "increase" {
			c = "(" + c + " * " + seconds + ")"
		}
		inc = "((irate(" + c + "[" + model.Duration(pairRange(rw.window)).String() + ":" + model.Duration(rw.window).String() + "]) >= 0)" +
			" and count_over_time(" + sel + "[" + model.Duration(rw.window).String() + "]" + offsetText(offset) + "))"
	} else {
		prev := "last_over_time(" + sel + "[" + lb + "]" + offsetText(offset+rw.prev) + ")"
		// Normal growth, or after a counter reset the value since the reset. Where the previous
		// boundary has no sample (a new series) both sides are empty: as PromQL, the first value
		// of a new series is not counted. Without a fresh sample both sides are empty too.
		inc = "((" + fresh + " - " + prev + ") >= 0 or (" + fresh + " and (" + prev + " > " + fresh + ")))"
		if fn != "increase" {
			inc = "(" + inc + " / " + seconds + ")"
		}
	}
	e, err := promql.ParseExpr(inc)
	if err != nil {
		return nil, fmt.Errorf("%s: building the step difference %q: %w", fn, inc, err)
	}
	return e, nil
}

// SimplifySubquery evaluates a query in the subquery form (RewriteSubquery) more cheaply where the
// data allows it. Each step difference
//
//	irate(last_over_time(S[L])[r:s]) >= 0          becomes   irate(S[r:s])
//	irate((last_over_time(S[L]) * k)[r:s]) >= 0    becomes   irate((S * k)[r:s])
//
// to be evaluated with the lookback delta L, which gives the same numbers under two conditions
// that clean(S's matchers, k) reports on the series S matches:
//   - plain: no series holds a staleness marker. A plain selector then finds what last_over_time
//     finds, the last sample in (t-L, t] (the two differ only in that a plain selector stops at a
//     staleness marker). Without it the query is run as it is.
//   - unfiltered: besides, every value is a finite number >= 0 whose largest times k is finite.
//     irate of such points is a finite number >= 0, so the NaN filter ">= 0" drops nothing and goes.
//     Without it the filter stays.
//
// On Prometheus's engine the plain selector saves a range selector buffering the lookback at every
// step, the filter a comparison over every point: together about half the CPU of the subquery form.
//
// ok is false, and the query must be run as it is, when the query holds no step difference, when
// the selector of one is not plain, when their lookbacks differ, or when the query has a vector
// selector of its own (outside a range), whose lookback would change with L.
func SimplifySubquery(query string, clean func(matchers []*labels.Matcher, scale float64) (plain, unfiltered bool)) (simpler string, lookback time.Duration, ok bool) {
	expr, err := promql.ParseExpr(query)
	if err != nil {
		return "", 0, false
	}
	// Nothing else may read the lookback delta: every vector selector must be inside a range (only
	// the step differences' become plain), none anchored or smoothed, and info() is out.
	foreign := false
	parser.Inspect(expr, func(n parser.Node, path []parser.Node) error {
		switch n := n.(type) {
		case *parser.VectorSelector:
			if n.Anchored || n.Smoothed || len(path) == 0 {
				foreign = true
			} else if _, ok := path[len(path)-1].(*parser.MatrixSelector); !ok {
				foreign = true
			}
		case *parser.Call:
			if n.Func == nil || n.Func.Name == "info" {
				foreign = true
			}
		}
		return nil
	})
	if foreign {
		return "", 0, false
	}
	sp := simplifier{clean: clean}
	expr = sp.expr(expr)
	if sp.failed || sp.n == 0 {
		return "", 0, false
	}
	out := expr.String()
	if _, err := promql.ParseExpr(out); err != nil {
		return "", 0, false
	}
	return out, sp.lookback, true
}

// simplifier replaces the step differences of SimplifySubquery in an AST.
type simplifier struct {
	clean    func([]*labels.Matcher, float64) (plain, unfiltered bool)
	lookback time.Duration
	n        int  // step differences replaced
	failed   bool // a step difference could not be replaced
}

func (sp *simplifier) expr(e parser.Expr) parser.Expr {
	switch n := e.(type) {
	case *parser.BinaryExpr:
		if r, ok := sp.stepDifference(n); ok {
			return r
		}
		n.LHS, n.RHS = sp.expr(n.LHS), sp.expr(n.RHS)
	case *parser.AggregateExpr:
		n.Expr = sp.expr(n.Expr)
		if n.Param != nil {
			n.Param = sp.expr(n.Param)
		}
	case *parser.Call:
		for i := range n.Args {
			n.Args[i] = sp.expr(n.Args[i])
		}
	case *parser.ParenExpr:
		n.Expr = sp.expr(n.Expr)
	case *parser.UnaryExpr:
		n.Expr = sp.expr(n.Expr)
	case *parser.SubqueryExpr:
		n.Expr = sp.expr(n.Expr)
	case *parser.StepInvariantExpr:
		n.Expr = sp.expr(n.Expr)
	}
	return e
}

// stepDifference returns the replacement of b if it is a step difference of the subquery form.
// It marks sp failed when b is one but its selector is not clean or its lookback differs from the
// others'.
func (sp *simplifier) stepDifference(b *parser.BinaryExpr) (parser.Expr, bool) {
	if b.Op != parser.GTE || b.ReturnBool || !isNumber(b.RHS, 0) {
		return nil, false
	}
	irate, ok := unparen(b.LHS).(*parser.Call)
	if !ok || irate.Func == nil || irate.Func.Name != "irate" || len(irate.Args) != 1 {
		return nil, false
	}
	sq, ok := irate.Args[0].(*parser.SubqueryExpr)
	if !ok || sq.Timestamp != nil || sq.StartOrEnd != 0 || sq.OriginalOffset != 0 || sq.RangeExpr != nil ||
		sq.StepExpr != nil || sq.OriginalOffsetExpr != nil {
		return nil, false
	}
	// The inner expression: last_over_time(S[L]), or (last_over_time(S[L]) * k).
	inner := unparen(sq.Expr)
	scale := 1.0
	var mul *parser.BinaryExpr
	if m, ok := inner.(*parser.BinaryExpr); ok {
		k, isNum := unparen(m.RHS).(*parser.NumberLiteral)
		if m.Op != parser.MUL || m.ReturnBool || !isNum || !(k.Val > 0) || math.IsInf(k.Val, 0) {
			return nil, false
		}
		mul, scale, inner = m, k.Val, unparen(m.LHS)
	}
	lot, ok := inner.(*parser.Call)
	if !ok || lot.Func == nil || lot.Func.Name != "last_over_time" || len(lot.Args) != 1 {
		return nil, false
	}
	ms, ok := lot.Args[0].(*parser.MatrixSelector)
	if !ok || ms.RangeExpr != nil || ms.Range <= 0 {
		return nil, false
	}
	vs, ok := ms.VectorSelector.(*parser.VectorSelector)
	if !ok || vs.Timestamp != nil || vs.StartOrEnd != 0 || vs.OriginalOffsetExpr != nil || vs.Anchored || vs.Smoothed {
		return nil, false
	}
	plain, unfiltered := sp.clean(vs.LabelMatchers, scale)
	if sp.n > 0 && ms.Range != sp.lookback || !plain {
		sp.failed = true
		return nil, false
	}
	sp.lookback = ms.Range
	sp.n++
	if mul != nil {
		mul.LHS = vs
		sq.Expr = &parser.ParenExpr{Expr: mul}
	} else {
		sq.Expr = vs
	}
	if !unfiltered {
		return b, true // irate's argument replaced in place; the filter stays
	}
	return irate, true
}

func unparen(e parser.Expr) parser.Expr {
	for {
		p, ok := e.(*parser.ParenExpr)
		if !ok {
			return e
		}
		e = p.Expr
	}
}

func isNumber(e parser.Expr, v float64) bool {
	n, ok := unparen(e).(*parser.NumberLiteral)
	return ok && n.Val == v
}

// pairRange is the range of the subquery that holds the grid points t-step and t and no other:
// 1.5 steps (in whole milliseconds), so that it holds the same two points whether the engine's
// ranges are left-open (Prometheus 3) or left-closed (Prometheus 2). A 1ms step gets 2ms (a
// left-closed range then also holds t-2ms, which matters only when t-1ms has no point).
func pairRange(step time.Duration) time.Duration {
	r := step + (step / 2).Truncate(time.Millisecond)
	if r <= step {
		r = 2 * step
	}
	return r
}

func offsetText(d time.Duration) string {
	switch {
	case d > 0:
		return " offset " + model.Duration(d).String()
	case d < 0:
		return " offset -" + model.Duration(-d).String()
	}
	return ""
}

// leRegex returns an anchored-by-Prometheus regular expression that matches the usual spellings of
// the bucket bound v: plain decimals with any number of trailing zeros (0.3, 0.30, 0.300; 1, 1.0)
// and scientific notation with any exponent padding and case (3e-01, 3.0E-1, 1e+00). Exporters do
// not agree on one spelling (client_golang writes 0.3, some exporters 0.30 or 3e-01), and a
// threshold that silently matched no bucket would make every request bad.
func leRegex(v float64) (string, error) {
	if math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 {
		return "", fmt.Errorf("latency threshold %v must be a positive finite number", v)
	}
	alts := []string{decimalPattern(strconv.FormatFloat(v, 'f', -1, 64))}
	sci := strconv.FormatFloat(v, 'e', -1, 64) // e.g. 3e-01, 1.25e+00
	mant, exp, _ := strings.Cut(sci, "e")
	e, err := strconv.Atoi(exp)
	if err != nil {
		return "", fmt.Errorf("formatting threshold %v: %w", v, err)
	}
	var ep string
	switch {
	case e < 0:
		ep = "-0*" + strconv.Itoa(-e)
	case e > 0:
		ep = `\+?0*` + strconv.Itoa(e)
	default:
		ep = `[+-]?0+`
	}
	alts = append(alts, decimalPattern(mant)+"[eE]"+ep)
	return strings.Join(alts, "|"), nil
}

// decimalPattern matches the decimal d (digits with an optional fraction, no trailing zeros) with
// any number of trailing zeros after the point.
func decimalPattern(d string) string {
	if strings.Contains(d, ".") {
		return regexp.QuoteMeta(d) + "0*"
	}
	return regexp.QuoteMeta(d) + `(?:\.0*)?`
}
