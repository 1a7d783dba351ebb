package yamlx

import (
	"fmt"
	"math"
	"math/big"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"
)

// Decode decodes the document's root into v, a pointer to a schema type, recording every problem
// in the Doc. Fields whose value is wrong are left at their zero value (a pointer stays nil), so
// that checks after decoding can tell "not set or not valid" from a value.
//
// What a schema may hold:
//   - structs, for mappings: each field named by its `yaml` tag (fields without one, or tagged
//     "-", are not part of the schema), `yamlx:"required"` for a field that must be present;
//   - map[string]T, for mappings with free keys (labels); []T, for lists;
//   - pointers, set only when the value is present and valid (a null mapping is an empty one);
//   - string (and string types such as secret.Secret), bool, ints, float64 (finite only);
//   - time.Duration and model.Duration, as Prometheus durations ("30s", "1h30m", "30d");
//   - yaml.Node, to take a value as it is (and report it later, say);
//   - any type implementing yaml.Unmarshaler, which gets the node (aliases resolved); its error
//     is reported at the value.
//
// A null value is the zero value for maps and lists and an empty mapping for structs; for a
// scalar it is an error ("must be a string, got null").
func (d *Doc) Decode(v any) {
	if d.root == nil {
		return
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		panic(fmt.Sprintf("yamlx: Decode needs a non-nil pointer, got %T", v))
	}
	d.value(d.root, nil, "", rv.Elem())
}

// Resolve follows aliases, so that `*anchor` is looked at like the node it names.
func Resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// IsNull reports whether n is YAML's null (`~`, `null`, or nothing after a key).
func IsNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

var (
	unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()
	nodeType        = reflect.TypeFor[yaml.Node]()
	durationType    = reflect.TypeFor[time.Duration]()
	modelDurType    = reflect.TypeFor[model.Duration]()
)

// value decodes n (found under key, at path) into v and reports whether v holds something: false
// for a scalar that did not decode or a node of the wrong kind. A mapping or a list whose entries
// had problems is still decoded (the entries in error left out, or zero), so that the checks after
// decoding see the rest of it and every problem is reported in one run.
func (d *Doc) value(n, key *yaml.Node, path string, v reflect.Value) bool {
	if !d.decodeValue(n, key, path, v) {
		d.failed[path] = true
		return false
	}
	return true
}

func (d *Doc) decodeValue(n, key *yaml.Node, path string, v reflect.Value) bool {
	n = Resolve(n)
	d.at[path] = located{key: key, val: n}
	if d.visits++; d.visits > d.maxVisits {
		if d.visits == d.maxVisits+1 {
			d.Errorf(path, "aliases (*) and merge keys (<<) expand to more than %d values: simplify the anchors", d.maxVisits)
		}
		return false
	}
	t := v.Type()
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		if err := v.Addr().Interface().(yaml.Unmarshaler).UnmarshalYAML(n); err != nil {
			d.Errorf(path, "%s", err.Error())
			return false
		}
		return true
	}
	switch t {
	case nodeType:
		v.Set(reflect.ValueOf(*n))
		return true
	case durationType, modelDurType:
		dur, err := ParseDuration(n)
		if err != nil {
			d.Errorf(path, "%s", err.Error())
			return false
		}
		v.SetInt(int64(dur))
		return true
	}
	switch t.Kind() {
	case reflect.Pointer:
		elem := reflect.New(t.Elem())
		if !d.value(n, key, path, elem.Elem()) {
			return false
		}
		v.Set(elem)
		return true
	case reflect.Struct:
		return d.structure(n, path, v)
	case reflect.Map:
		return d.mapping(n, path, v)
	case reflect.Slice:
		return d.list(n, path, v)
	default:
		return d.scalar(n, path, v)
	}
}

// structure decodes a mapping into the fields of a struct.
func (d *Doc) structure(n *yaml.Node, path string, v reflect.Value) bool {
	fs := fieldsOf(v.Type())
	var set map[string]*yaml.Node
	if !IsNull(n) {
		if n.Kind != yaml.MappingNode {
			d.Errorf(path, "must be a mapping, got %s", KindName(n))
			return false
		}
		unknown := func(key string) string {
			if _, ok := fs.byName[key]; ok {
				return ""
			}
			return unknownField(key, fs.names)
		}
		set = d.entries(n, path, unknown, func(p pair, kp string) {
			d.value(p.val, p.key, kp, v.Field(fs.byName[p.key.Value].index))
		})
	}
	for _, name := range fs.required {
		if set[name] == nil {
			d.ErrorAt(d.pos(n), Field(path, name), "missing required field")
		}
	}
	return true
}

// mapping decodes a mapping with free keys into a map[string]T.
func (d *Doc) mapping(n *yaml.Node, path string, v reflect.Value) bool {
	if IsNull(n) {
		return true
	}
	if n.Kind != yaml.MappingNode {
		d.Errorf(path, "must be a mapping, got %s", KindName(n))
		return false
	}
	t := v.Type()
	if t.Key().Kind() != reflect.String {
		panic("yamlx: map keys must be strings in " + t.String())
	}
	m := reflect.MakeMapWithSize(t, len(n.Content)/2)
	d.entries(n, path, nil, func(p pair, kp string) {
		elem := reflect.New(t.Elem()).Elem()
		if d.value(p.val, p.key, kp, elem) {
			m.SetMapIndex(reflect.ValueOf(p.key.Value).Convert(t.Key()), elem)
		}
	})
	v.Set(m)
	return true
}

// entries walks the pairs of mapping n, merge keys expanded: a merged key that an explicit one
// overrides is skipped, a key unknown reports (a non-empty message) and a duplicate are errors at
// the key, and each is called with every other pair and its path. It returns the key node of
// every key set.
func (d *Doc) entries(n *yaml.Node, path string, unknown func(key string) string, each func(p pair, kp string)) map[string]*yaml.Node {
	set := map[string]*yaml.Node{}
	for _, p := range d.pairs(n, path, 0) {
		k := p.key.Value
		if p.merged != nil && set[k] != nil {
			continue // a merged key (<<: *anchor) is overridden by one set explicitly
		}
		kp := Field(path, k)
		if unknown != nil {
			if msg := unknown(k); msg != "" {
				d.ErrorAt(d.pos(p.key), kp, "%s", msg)
				continue
			}
		}
		if prev := set[k]; prev != nil {
			d.ErrorAt(d.pos(p.key), kp, "duplicate field (first set at line %d)", prev.Line)
			continue
		}
		set[k] = p.key
		each(p, kp)
	}
	return set
}

// list decodes a sequence into a []T; null is an empty list.
func (d *Doc) list(n *yaml.Node, path string, v reflect.Value) bool {
	if IsNull(n) {
		return true
	}
	if n.Kind != yaml.SequenceNode {
		d.Errorf(path, "must be a list, got %s", KindName(n))
		return false
	}
	// An element in error stays zero (a nil pointer, for a list of pointers), so that paths keep
	// their index.
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		d.value(item, nil, Index(path, i), s.Index(i))
	}
	v.Set(s)
	return true
}

// pair is one key/value of a mapping; merged is the merge key it came through, if any.
type pair struct{ key, val, merged *yaml.Node }

// pairs lists the key/value pairs of mapping n with YAML merge keys (`<<: *anchor` or
// `<<: [*a, *b]`) expanded, as yaml.v3 and Prometheus configs allow: explicit pairs first, then the
// merged ones. Callers let explicit keys win. Keys that are not strings are reported here.
func (d *Doc) pairs(n *yaml.Node, path string, depth int) []pair {
	var explicit, merged []pair
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := Resolve(n.Content[i]), n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			merged = append(merged, d.merge(k, v, path, depth)...)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.ErrorAt(d.pos(k), path, "keys must be strings, got %s", KindName(k))
			continue
		}
		explicit = append(explicit, pair{key: k, val: v})
	}
	return append(explicit, merged...)
}

// merge expands the value of one merge key.
func (d *Doc) merge(k, v *yaml.Node, path string, depth int) []pair {
	var sources []*yaml.Node
	if rv := Resolve(v); rv.Kind == yaml.SequenceNode {
		sources = rv.Content
	} else {
		sources = []*yaml.Node{v}
	}
	var out []pair
	for _, src := range sources {
		src = Resolve(src)
		if !d.mergeBudget(k, path) {
			return out
		}
		if depth >= 10 {
			d.ErrorAt(d.pos(k), path, "merge keys (<<) nest more than 10 deep: simplify the anchors")
			d.merged = maxMerged + 2 // stop expanding without a second error
			return out
		}
		if src.Kind != yaml.MappingNode {
			d.ErrorAt(d.pos(src), path, "a merge key (<<) must refer to a mapping, got %s", KindName(src))
			continue
		}
		for _, p := range d.pairs(src, path, depth+1) {
			if !d.mergeBudget(k, path) {
				return out
			}
			out = append(out, pair{key: p.key, val: p.val, merged: k})
		}
	}
	return out
}

// mergeBudget counts one step of merge expansion and reports, once, when there were too many.
func (d *Doc) mergeBudget(k *yaml.Node, path string) bool {
	d.merged++
	if d.merged == maxMerged+1 {
		d.ErrorAt(d.pos(k), path, "merge keys (<<) copy more than %d fields: simplify the anchors", maxMerged)
	}
	return d.merged <= maxMerged
}

// scalar decodes a string, bool, integer or float.
func (d *Doc) scalar(n *yaml.Node, path string, v reflect.Value) bool {
	switch v.Kind() {
	case reflect.String:
		s, err := String(n)
		if err != nil {
			d.Errorf(path, "%s", err.Error())
			return false
		}
		v.SetString(s)
	case reflect.Bool:
		b, err := Bool(n)
		if err != nil {
			d.Errorf(path, "%s", err.Error())
			return false
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
			d.Errorf(path, "must be an integer, got %s", KindName(n))
			return false
		}
		i, err := strconv.ParseInt(strings.ReplaceAll(n.Value, "_", ""), 0, v.Type().Bits())
		if err != nil {
			d.Errorf(path, "must be an integer that fits in %d bits, got %s", v.Type().Bits(), n.Value)
			return false
		}
		v.SetInt(i)
	case reflect.Float64:
		f, _, err := Number(n)
		if err != nil {
			d.Errorf(path, "%s", err.Error())
			return false
		}
		v.SetFloat(f)
	default:
		panic("yamlx: cannot decode into " + v.Type().String() + " at " + path)
	}
	return true
}

// String decodes a scalar as a string. Numbers and booleans are accepted as their text, as yaml.v3
// does when decoding into a string field; null is not a string.
func String(n *yaml.Node) (string, error) {
	n = Resolve(n)
	if n.Kind != yaml.ScalarNode || IsNull(n) {
		return "", fmt.Errorf("must be a string, got %s", KindName(n))
	}
	return n.Value, nil
}

// Bool decodes a YAML boolean (true, false, and YAML 1.1's spellings yaml.v3 accepts).
func Bool(n *yaml.Node) (bool, error) {
	n = Resolve(n)
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		return false, fmt.Errorf("must be true or false, got %s", KindName(n))
	}
	v, err := strconv.ParseBool(strings.ToLower(n.Value))
	if err != nil {
		return false, fmt.Errorf("must be true or false, got %q", n.Value)
	}
	return v, nil
}

// Number decodes a finite number; it also returns its exact decimal value, so that figures
// computed from it (99.9 → 0.999) are the nearest float64 rather than an accumulation of
// rounding errors.
func Number(n *yaml.Node) (float64, *big.Rat, error) {
	n = Resolve(n)
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") {
		return 0, nil, fmt.Errorf("must be a number, got %s", KindName(n))
	}
	r, ok := new(big.Rat).SetString(strings.ReplaceAll(n.Value, "_", ""))
	if !ok {
		// yaml.v3 floats also include .inf and .nan, which no field of slod accepts.
		return 0, nil, fmt.Errorf("must be a finite number, got %q", n.Value)
	}
	f, _ := r.Float64()
	if math.IsInf(f, 0) {
		return 0, nil, fmt.Errorf("must be a finite number, got %q", n.Value)
	}
	return f, r, nil
}

// Decimal is a number of a file with its exact decimal value, so that figures computed from it
// (99.9 → 0.999) are the nearest float64 rather than an accumulation of rounding errors; Text is
// as written, for messages. As a schema field it decodes through Number.
type Decimal struct {
	F    float64
	R    *big.Rat
	Text string
}

// UnmarshalYAML implements yaml.Unmarshaler (Decode reports the error at the value).
func (d *Decimal) UnmarshalYAML(n *yaml.Node) error {
	f, r, err := Number(n)
	if err == nil {
		*d = Decimal{F: f, R: r, Text: Resolve(n).Value}
	}
	return err
}

// ParseDuration decodes a Prometheus duration ("5m", "1h30m", "30d"); negative durations do not
// parse. Types of other packages holding a duration use it in their UnmarshalYAML, so that every
// file words a bad duration the same way.
func ParseDuration(n *yaml.Node) (time.Duration, error) {
	s, err := String(n)
	if err != nil {
		return 0, err
	}
	v, err := model.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: use a Prometheus duration such as 5m, 1h or 30d", s)
	}
	return time.Duration(v), nil
}

// KindName names what a node is, for messages: a mapping, a list, null, or the quoted scalar.
func KindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if IsNull(n) {
			return "null"
		}
		return strconv.Quote(n.Value)
	case yaml.DocumentNode:
		return "a document"
	}
	return "an alias"
}

// unknownField words an unknown key: the known ones, and the closest if it looks like a typo.
func unknownField(key string, known []string) string {
	list := strings.Join(known, ", ")
	if s := closest(key, known); s != "" {
		return fmt.Sprintf("unknown field, did you mean %s? (known fields: %s)", s, list)
	}
	return fmt.Sprintf("unknown field (known fields: %s)", list)
}

// Closest returns the known name within a small edit distance of name (a typo, a wrong case, a
// missing s), or "": the "did you mean" of every unknown name slod reports (keys, SLO ids).
func Closest(name string, known []string) string { return closest(name, known) }

// closest returns the known name within a small edit distance of key (a typo, a wrong case, a
// missing s), or "".
func closest(key string, known []string) string {
	best, bestDist := "", 0
	for _, k := range known {
		limit := min(2, max(len(k), len(key))/4)
		if dist := editDistance(strings.ToLower(key), k); dist <= limit && (best == "" || dist < bestDist) {
			best, bestDist = k, dist
		}
	}
	return best
}

// editDistance is the optimal-string-alignment distance between a and b, in bytes (keys are
// ASCII): insertions, deletions, substitutions and transpositions of neighbours ("nmae") cost one.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// schemaFields is what a struct type declares: its keys in order, the field of each, the required.
type schemaFields struct {
	names    []string
	byName   map[string]schemaField
	required []string
}

type schemaField struct{ index int }

var fieldCache sync.Map // reflect.Type → *schemaFields

// fieldsOf reads the schema of a struct type from its tags.
func fieldsOf(t reflect.Type) *schemaFields {
	if fs, ok := fieldCache.Load(t); ok {
		return fs.(*schemaFields)
	}
	fs := &schemaFields{byName: map[string]schemaField{}}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		if _, dup := fs.byName[name]; dup {
			panic("yamlx: key " + name + " declared twice in " + t.String())
		}
		fs.names = append(fs.names, name)
		fs.byName[name] = schemaField{index: i}
		for _, opt := range strings.Split(f.Tag.Get("yamlx"), ",") {
			switch opt {
			case "":
			case "required":
				fs.required = append(fs.required, name)
			default:
				panic("yamlx: unknown option " + opt + " on " + t.String() + "." + f.Name)
			}
		}
	}
	fieldCache.Store(t, fs)
	return fs
}
