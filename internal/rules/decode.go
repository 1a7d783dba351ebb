package rules

import (
	"fmt"
	"math"
	"math/big"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"
)

// decoder walks yaml.v3 nodes of one file, collecting every problem instead of stopping at the
// first: strict decoding by hand, because yaml.v3's KnownFields stops at the first unknown key and
// loses positions of value errors.
type decoder struct {
	file  string
	lines []string
	errs  Errors
	warns []Diagnostic
	// merged counts pairs copied by merge keys: nested merges of merges grow exponentially (the
	// "billion laughs" of YAML), which yaml.v3 does not stop when decoding into nodes.
	merged int
}

// maxMerged bounds the pairs merge keys may copy in one file; real files stay far below it.
const maxMerged = 10000

func newDecoder(file string, data []byte) *decoder {
	return &decoder{file: file, lines: strings.Split(string(data), "\n")}
}

func (d *decoder) pos(n *yaml.Node) Pos {
	line, col := n.Line, n.Column
	if line <= 0 {
		line = 1
	}
	if col <= 0 {
		col = 1
	}
	return Pos{File: d.file, Line: line, Col: col}
}

func (d *decoder) errorAt(p Pos, field, format string, args ...any) {
	d.errs = append(d.errs, Diagnostic{Pos: p, Field: field, Message: fmt.Sprintf(format, args...)})
}

func (d *decoder) errorf(n *yaml.Node, field, format string, args ...any) {
	d.errorAt(d.pos(n), field, format, args...)
}

func (d *decoder) warnf(n *yaml.Node, field, format string, args ...any) {
	d.warns = append(d.warns, Diagnostic{Pos: d.pos(n), Field: field, Message: fmt.Sprintf(format, args...)})
}

// resolve follows aliases, so that `*anchor` is checked like the node it names.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// fields is a decoded mapping: the value and key node of every known key present.
type fields struct {
	node *yaml.Node
	path string
	vals map[string]*yaml.Node
	keys map[string]*yaml.Node
}

func (f fields) has(k string) bool { return f.vals[k] != nil }

// mapping checks that n is a mapping whose keys are all in known and appear once. A null node (an
// empty `page:`) is an empty mapping.
func (d *decoder) mapping(n *yaml.Node, path string, known ...string) fields {
	n = resolve(n)
	f := fields{node: n, path: path, vals: map[string]*yaml.Node{}, keys: map[string]*yaml.Node{}}
	if isNull(n) {
		return f
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "must be a mapping, got %s", kindName(n))
		return f
	}
	for _, kv := range d.pairs(n, path, 0) {
		k, v := kv[0], kv[1]
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, path, "keys must be strings, got %s", kindName(k))
			continue
		}
		if kv[2] != nil && f.keys[k.Value] != nil {
			continue // a merged key (<<: *anchor) is overridden by one set explicitly
		}
		if !contains(known, k.Value) {
			d.errorf(k, field(path, k.Value), "unknown field (known fields: %s)", strings.Join(known, ", "))
			continue
		}
		if prev := f.keys[k.Value]; prev != nil {
			d.errorf(k, field(path, k.Value), "duplicate field (first set at line %d)", prev.Line)
			continue
		}
		f.keys[k.Value] = k
		f.vals[k.Value] = v
	}
	return f
}

// pairs lists the key/value pairs of mapping n with YAML merge keys (`<<: *anchor` or
// `<<: [*a, *b]`) expanded, as yaml.v3 and Prometheus configs allow: explicit pairs first, then the
// merged ones, whose third element is the merge key node. Callers let explicit keys win.
func (d *decoder) pairs(n *yaml.Node, path string, depth int) [][3]*yaml.Node {
	var explicit, merged [][3]*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Tag != "!!merge" {
			explicit = append(explicit, [3]*yaml.Node{k, v, nil})
			continue
		}
		merged = append(merged, d.merge(k, v, path, depth)...)
	}
	return append(explicit, merged...)
}

// merge expands the value of one merge key.
func (d *decoder) merge(k, v *yaml.Node, path string, depth int) [][3]*yaml.Node {
	var sources []*yaml.Node
	if rv := resolve(v); rv.Kind == yaml.SequenceNode {
		sources = rv.Content
	} else {
		sources = []*yaml.Node{v}
	}
	var out [][3]*yaml.Node
	for _, src := range sources {
		src = resolve(src)
		if !d.mergeBudget(k, path) {
			return out
		}
		if depth >= 10 {
			d.errorf(k, path, "merge keys (<<) nest more than 10 deep: simplify the anchors")
			d.merged = maxMerged + 2 // stop expanding without a second error
			return out
		}
		if src.Kind != yaml.MappingNode {
			d.errorf(src, path, "a merge key (<<) must refer to a mapping, got %s", kindName(src))
			continue
		}
		for _, kv := range d.pairs(src, path, depth+1) {
			if !d.mergeBudget(k, path) {
				return out
			}
			out = append(out, [3]*yaml.Node{kv[0], kv[1], k})
		}
	}
	return out
}

// mergeBudget counts one step of merge expansion and reports, once, when there were too many.
func (d *decoder) mergeBudget(k *yaml.Node, path string) bool {
	d.merged++
	if d.merged == maxMerged+1 {
		d.errorf(k, path, "merge keys (<<) copy more than %d fields: simplify the anchors", maxMerged)
	}
	return d.merged <= maxMerged
}

// required reports a missing key at the mapping that should hold it.
func (d *decoder) required(f fields, key string) bool {
	if f.has(key) {
		return true
	}
	d.errorf(f.node, field(f.path, key), "missing required field")
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if isNull(n) {
			return "null"
		}
		return fmt.Sprintf("%q", n.Value)
	case yaml.DocumentNode:
		return "a document"
	}
	return "an alias"
}

// str decodes a scalar as a string. Numbers and booleans are accepted as their text, as yaml.v3
// does when decoding into a string field.
func (d *decoder) str(n *yaml.Node, path string) (string, bool) {
	n = resolve(n)
	if n.Kind != yaml.ScalarNode || isNull(n) {
		d.errorf(n, path, "must be a string, got %s", kindName(n))
		return "", false
	}
	return n.Value, true
}

// number decodes a scalar number; it also returns the exact decimal value so that ratios computed
// from it (99.9 → 0.999) are the nearest float64, not an accumulation of rounding errors.
func (d *decoder) number(n *yaml.Node, path string) (float64, *big.Rat, bool) {
	n = resolve(n)
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") {
		d.errorf(n, path, "must be a number, got %s", kindName(n))
		return 0, nil, false
	}
	text := strings.ReplaceAll(n.Value, "_", "")
	r, ok := new(big.Rat).SetString(text)
	if !ok {
		// yaml.v3 floats also include .inf and .nan, which no field of an SLO accepts.
		d.errorf(n, path, "must be a finite number, got %q", n.Value)
		return 0, nil, false
	}
	f, _ := r.Float64()
	if math.IsInf(f, 0) {
		d.errorf(n, path, "must be a finite number, got %q", n.Value)
		return 0, nil, false
	}
	return f, r, true
}

func (d *decoder) boolean(n *yaml.Node, path string) (bool, bool) {
	n = resolve(n)
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		d.errorf(n, path, "must be true or false, got %s", kindName(n))
		return false, false
	}
	v, err := strconv.ParseBool(strings.ToLower(n.Value))
	if err != nil {
		d.errorf(n, path, "must be true or false, got %q", n.Value)
		return false, false
	}
	return v, true
}

// duration decodes a Prometheus duration ("5m", "1h30m", "30d"). Zero is allowed only where
// allowZero says so; negative durations do not parse.
func (d *decoder) duration(n *yaml.Node, path string, allowZero bool) (time.Duration, bool) {
	s, ok := d.str(n, path)
	if !ok {
		return 0, false
	}
	v, err := model.ParseDuration(s)
	if err != nil {
		d.errorf(n, path, "invalid duration %q: use a Prometheus duration such as 5m, 1h or 30d", s)
		return 0, false
	}
	if v == 0 && !allowZero {
		d.errorf(n, path, "must be greater than 0")
		return 0, false
	}
	return time.Duration(v), true
}

// labelMap decodes a map of label names to values (labels or annotations), checking names against
// the classic Prometheus charset so that every receiver and Alertmanager accepts them.
func (d *decoder) labelMap(n *yaml.Node, path, what string) map[string]string {
	n = resolve(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "must be a mapping of %s names to values, got %s", what, kindName(n))
		return nil
	}
	out := map[string]string{}
	for _, kv := range d.pairs(n, path, 0) {
		k, v := kv[0], resolve(kv[1])
		if kv[2] != nil {
			if _, set := out[k.Value]; set {
				continue // a merged key (<<: *anchor) is overridden by one set explicitly
			}
		}
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, path, "%s names must be strings, got %s", what, kindName(k))
			continue
		}
		name := k.Value
		p := field(path, name)
		switch {
		case !model.LegacyValidation.IsValidLabelName(name):
			d.errorf(k, path, "invalid %s name %q: must match [a-zA-Z_][a-zA-Z0-9_]*", what, name)
			continue
		case strings.HasPrefix(name, "__"):
			d.errorf(k, path, "invalid %s name %q: names starting with __ are reserved", what, name)
			continue
		}
		if _, dup := out[name]; dup {
			d.errorf(k, p, "duplicate %s", what)
			continue
		}
		if v.Kind != yaml.ScalarNode {
			d.errorf(v, p, "%s value must be a string, got %s", what, kindName(v))
			continue
		}
		val := v.Value
		if isNull(v) {
			val = ""
		}
		if !utf8.ValidString(val) {
			d.errorf(v, p, "%s value must be valid UTF-8", what)
			continue
		}
		out[name] = val
	}
	return out
}

// absoluteURL checks a runbook URL: it must be absolute so that it works from a page on a phone.
func (d *decoder) absoluteURL(n *yaml.Node, path string) (string, bool) {
	s, ok := d.str(n, path)
	if !ok {
		return "", false
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Host == "" {
		d.errorf(n, path, "must be an absolute URL such as https://runbooks.example/slo, got %q", s)
		return "", false
	}
	return s, true
}

// offsetPos is the file position of byte offset off inside the decoded value of scalar n. It walks
// the raw source from the scalar's start alongside the value: characters the YAML syntax added
// (quotes, escapes, indentation of block scalars and folded lines) are skipped, and a line break of
// the source stands for the space or newline it was folded into.
func (d *decoder) offsetPos(n *yaml.Node, off int) Pos {
	val := n.Value
	off = max(0, min(off, len(val)))
	line := n.Line
	if line < 1 || line > len(d.lines) {
		return d.pos(n)
	}
	ri := byteIndex(d.lines[line-1], n.Column-1)
	switch {
	case n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
		// The content starts on the line after the `|` or `>` indicator.
		line, ri = line+1, 0
	case n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0:
		ri++ // the opening quote
	}
	dq := n.Style&yaml.DoubleQuotedStyle != 0
	vi := 0
	for vi < off && line <= len(d.lines) {
		l := d.lines[line-1]
		if ri >= len(l) {
			if val[vi] == '\n' || val[vi] == ' ' {
				vi++
			}
			line, ri = line+1, 0
			continue
		}
		rr, rsz := utf8.DecodeRuneInString(l[ri:])
		vr, vsz := utf8.DecodeRuneInString(val[vi:])
		if dq && rr == '\\' {
			ri += 1 + escapeLen(l[ri+1:])
			vi += vsz
			continue
		}
		if rr == vr {
			vi += vsz
		}
		ri += rsz
	}
	if line > len(d.lines) {
		return d.pos(n)
	}
	l := d.lines[line-1]
	return Pos{File: d.file, Line: line, Col: utf8.RuneCountInString(l[:min(ri, len(l))]) + 1}
}

// escapeLen is the length of a double-quoted escape after its backslash.
func escapeLen(s string) int {
	if s == "" {
		return 0
	}
	n := 1
	switch s[0] {
	case 'x':
		n = 3
	case 'u':
		n = 5
	case 'U':
		n = 9
	}
	return min(n, len(s))
}

// byteIndex converts a 0-based rune column to a byte index in line.
func byteIndex(line string, col int) int {
	i := 0
	for c := 0; c < col && i < len(line); c++ {
		_, sz := utf8.DecodeRuneInString(line[i:])
		i += sz
	}
	return i
}
