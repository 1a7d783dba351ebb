package rules

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/slod-dev/slod/internal/yamlx"
)

// GroupKey is the stable form of a group's labels: {a="x",b="y"}, by label name, values quoted as
// Go and PromQL string literals. It names the group in record ids, dedup keys and messages.
func GroupKey(labels map[string]string) string {
	names := slices.Sorted(maps.Keys(labels))
	var b strings.Builder
	b.WriteByte('{')
	for i, n := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(n)
		b.WriteByte('=')
		b.WriteString(strconv.Quote(labels[n]))
	}
	b.WriteByte('}')
	return b.String()
}

// ParseGroupKey reads a group's labels back from its key (GroupKey), false when key is not one.
func ParseGroupKey(key string) (map[string]string, bool) {
	rest, ok := strings.CutPrefix(key, "{")
	if !ok {
		return nil, false
	}
	labels := map[string]string{}
	for {
		if rest == "}" {
			return labels, len(labels) > 0
		}
		name, after, ok := strings.Cut(rest, "=")
		if !ok || !model.LegacyValidation.IsValidLabelName(name) {
			return nil, false
		}
		quoted, err := strconv.QuotedPrefix(after)
		if err != nil {
			return nil, false
		}
		labels[name], _ = strconv.Unquote(quoted)
		rest = strings.TrimPrefix(after[len(quoted):], ",")
		if len(rest) == len(after[len(quoted):]) && rest != "}" {
			return nil, false
		}
	}
}

// DefaultMaxGroups is how many groups a grouped SLO evaluates unless max_groups says otherwise.
const DefaultMaxGroups = 1000

// reservedGroupLabels are the labels slod sets itself on alerts and metrics, which a group label
// would overwrite.
var reservedGroupLabels = []string{"alertname", "service", "slo", "severity", "window", "le", "group"}

// groupBy checks the group_by labels of a slod/v1 SLO and max_groups.
func (c *checker) groupBy(path string, labels []string, maxGroups *int, slo *SLO) {
	gp := yamlx.Field(path, "group_by")
	if maxGroups != nil {
		mp := yamlx.Field(path, "max_groups")
		switch {
		case len(labels) == 0:
			c.doc.Errorf(mp, "only applies to an SLO with group_by")
		case *maxGroups <= 0:
			c.doc.Errorf(mp, "must be a positive number of groups, got %d", *maxGroups)
		default:
			slo.MaxGroups = *maxGroups
		}
	}
	if c.doc.Has(gp) && len(labels) == 0 {
		c.doc.Errorf(gp, "must list at least one label")
		return
	}
	seen := map[string]bool{}
	for i, l := range labels {
		if msg := groupLabelProblem(l, seen, slo.Labels); msg != "" {
			c.doc.Errorf(fmt.Sprintf("%s[%d]", gp, i), "%s", msg)
			continue
		}
		slo.GroupBy = append(slo.GroupBy, l)
	}
	if len(slo.GroupBy) > 0 && slo.MaxGroups == 0 {
		slo.MaxGroups = DefaultMaxGroups
	}
}

// groupLabelProblem says what is wrong with l as a group label of an SLO with these labels, given
// the group labels seen before it (which it joins when it is fine), or "".
func groupLabelProblem(l string, seen map[string]bool, labels map[string]string) string {
	switch {
	case !model.LegacyValidation.IsValidLabelName(l) || strings.HasPrefix(l, "__"):
		return fmt.Sprintf("invalid label name %q: must match [a-zA-Z_][a-zA-Z0-9_]* and not start with __", l)
	case slices.Contains(reservedGroupLabels, l):
		return fmt.Sprintf("%q is a label slod sets on every alert and metric; group by another label (or relabel it in the query)", l)
	case seen[l]:
		return fmt.Sprintf("label %q is listed twice", l)
	}
	if _, ok := labels[l]; ok {
		return fmt.Sprintf("%q is also one of the SLO's labels: a group's value would overwrite it", l)
	}
	seen[l] = true
	return ""
}

// groupQueries checks that every group_by label survives the outermost aggregation of each query
// of the SLI: a query that sums the label away cannot tell the groups apart.
func (c *checker) groupQueries(sliPath string, slo *SLO) {
	if len(slo.GroupBy) == 0 {
		return
	}
	for _, q := range groupedQueries(sliPath, &slo.SLI) {
		if q.text == "" {
			continue // invalid or absent: reported already
		}
		for _, l := range slo.GroupBy {
			if why := dropsLabel(q.text, l); why != "" {
				c.doc.Errorf(q.path, "drops the group_by label %q (%s): write e.g. sum by (%s) (...)", l, why, strings.Join(slo.GroupBy, ", "))
			}
		}
	}
}

type placedQuery struct{ path, text string }

// groupedQueries are the queries of an SLI whose result series must carry the group labels. A
// latency SLI's queries are built by slod, which keeps them.
func groupedQueries(path string, s *SLI) []placedQuery {
	switch s.Kind {
	case EventsSLI:
		p := yamlx.Field(path, "events")
		return []placedQuery{{yamlx.Field(p, "error_query"), s.ErrorQuery}, {yamlx.Field(p, "total_query"), s.TotalQuery}}
	case TimesliceSLI:
		return []placedQuery{{yamlx.Field(yamlx.Field(path, "timeslice"), "query"), s.Query}}
	case RatioSLI:
		return []placedQuery{{yamlx.Field(yamlx.Field(path, "raw"), "error_ratio_query"), s.ErrorRatioQuery}}
	}
	return nil
}

// dropsLabel says how query's result loses label, or "" when its series may carry it.
func dropsLabel(query, label string) string {
	expr, err := parseTemplate(query)
	if err != nil {
		return ""
	}
	return exprDrops(expr, label)
}

func exprDrops(e parser.Expr, label string) string {
	switch n := e.(type) {
	case *parser.AggregateExpr:
		switch {
		case n.Op == parser.TOPK || n.Op == parser.BOTTOMK || n.Op == parser.LIMITK || n.Op == parser.LIMIT_RATIO:
			return exprDrops(n.Expr, label) // keep their input series' labels
		case n.Without && slices.Contains(n.Grouping, label):
			return "its " + n.Op.String() + " without (...) removes it"
		case n.Without:
			return exprDrops(n.Expr, label)
		case !slices.Contains(n.Grouping, label):
			if len(n.Grouping) == 0 {
				return "its " + n.Op.String() + " keeps no label"
			}
			return "its " + n.Op.String() + " by (" + strings.Join(n.Grouping, ", ") + ") keeps only those"
		}
		return ""
	case *parser.BinaryExpr:
		if why := exprDrops(n.LHS, label); why != "" && n.LHS.Type() == parser.ValueTypeVector {
			return why
		}
		if n.RHS.Type() == parser.ValueTypeVector {
			return exprDrops(n.RHS, label)
		}
		return ""
	case *parser.ParenExpr:
		return exprDrops(n.Expr, label)
	case *parser.UnaryExpr:
		return exprDrops(n.Expr, label)
	case *parser.StepInvariantExpr:
		return exprDrops(n.Expr, label)
	case *parser.Call:
		for _, a := range n.Args {
			if a.Type() == parser.ValueTypeVector || a.Type() == parser.ValueTypeMatrix {
				return exprDrops(a, label)
			}
		}
		return "it yields a value without labels"
	case *parser.NumberLiteral, *parser.StringLiteral:
		return "it yields a value without labels"
	case *parser.SubqueryExpr:
		return exprDrops(n.Expr, label)
	}
	return "" // selectors: their series carry all their labels
}

// outerGrouping returns the labels a query's outermost aggregations keep when they aggregate by
// labels (Sloth's own grouped form: sum by (model) (...)), nil otherwise. For a binary expression
// both sides must keep the same ones.
func outerGrouping(query string) []string {
	expr, err := parseTemplate(query)
	if err != nil {
		return nil
	}
	return exprGrouping(expr)
}

func exprGrouping(e parser.Expr) []string {
	switch n := e.(type) {
	case *parser.AggregateExpr:
		if n.Without || len(n.Grouping) == 0 {
			return nil
		}
		g := slices.Clone(n.Grouping)
		slices.Sort(g)
		return g
	case *parser.BinaryExpr:
		l, r := exprGrouping(n.LHS), exprGrouping(n.RHS)
		switch {
		case n.RHS.Type() != parser.ValueTypeVector:
			return l
		case n.LHS.Type() != parser.ValueTypeVector:
			return r
		case slices.Equal(l, r):
			return l
		}
		return nil
	case *parser.ParenExpr:
		return exprGrouping(n.Expr)
	case *parser.StepInvariantExpr:
		return exprGrouping(n.Expr)
	}
	return nil
}
