package yamlx

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"
)

type testSchema struct {
	Name     string            `yaml:"name" yamlx:"required"`
	Count    int               `yaml:"count"`
	Ratio    *float64          `yaml:"ratio"`
	Enabled  bool              `yaml:"enabled"`
	Every    time.Duration     `yaml:"every"`
	Timeout  model.Duration    `yaml:"timeout"`
	Labels   map[string]string `yaml:"labels"`
	Items    []*testItem       `yaml:"items"`
	Nested   *testItem         `yaml:"nested"`
	Raw      *yaml.Node        `yaml:"raw"`
	Upper    upper             `yaml:"upper"`
	Internal string            // no tag: not part of the schema
}

type testItem struct {
	Key   string `yaml:"key" yamlx:"required"`
	Value string `yaml:"value"`
}

// upper decodes itself, to test yaml.Unmarshaler.
type upper string

func (u *upper) UnmarshalYAML(n *yaml.Node) error {
	s, err := String(n)
	if err != nil {
		return err
	}
	if strings.ToUpper(s) != s {
		return errors.New("must be upper case")
	}
	*u = upper(s)
	return nil
}

func decode(t *testing.T, src string) (testSchema, *Doc) {
	t.Helper()
	d := Parse("f.yaml", []byte(src), Kind{Name: "test file", Want: "a test file"})
	var v testSchema
	d.Decode(&v)
	return v, d
}

func TestDecodeValid(t *testing.T) {
	v, d := decode(t, `
name: a
count: 0x10
ratio: 0.25
enabled: true
every: 1h30m
timeout: 30d
labels: {team: storage, tier: "1"}
items:
  - {key: a, value: x}
  - key: b
nested: {key: n}
raw: [anything, {goes: here}]
upper: ABC
`)
	if err := d.Err(); err != nil {
		t.Fatal(err)
	}
	if v.Name != "a" || v.Count != 16 || v.Ratio == nil || *v.Ratio != 0.25 || !v.Enabled ||
		v.Every != 90*time.Minute || v.Timeout != model.Duration(30*24*time.Hour) ||
		v.Labels["tier"] != "1" || len(v.Items) != 2 || v.Items[1].Key != "b" || v.Nested.Key != "n" ||
		v.Raw == nil || v.Raw.Kind != yaml.SequenceNode || v.Upper != "ABC" {
		t.Errorf("decoded %+v", v)
	}
	for path, want := range map[string]string{
		"name": "f.yaml:2:7", "items[1]": "f.yaml:11:5", "items[1].key": "f.yaml:11:10", "labels.tier": "f.yaml:8:31",
		"nested.value": "f.yaml:12:9", // absent: its mapping
	} {
		if got := d.Pos(path).String(); got != want {
			t.Errorf("Pos(%s) = %s, want %s", path, got, want)
		}
	}
	if got := d.KeyPos("labels.tier").String(); got != "f.yaml:8:25" {
		t.Errorf("KeyPos(labels.tier) = %s", got)
	}
	if !d.Has("nested.key") || d.Has("nested.value") || d.Failed("name") {
		t.Error("Has/Failed wrong")
	}
}

// TestDecodeErrors: every problem of a file at once, each at its place, in the words every file
// of slod uses.
func TestDecodeErrors(t *testing.T) {
	v, d := decode(t, `
count: many
ratio: .nan
enabled: yes please
every: 5 minutes
labels: [a]
items:
  - {key: a, vale: x}
  - just a string
  - {value: y}
nested: {key: n, key: m}
upper: abc
nmae: x
`)
	want := []string{
		"f.yaml:2:1: name: missing required field",
		`f.yaml:2:8: count: must be an integer, got "many"`,
		`f.yaml:3:8: ratio: must be a finite number, got ".nan"`,
		`f.yaml:4:10: enabled: must be true or false, got "yes please"`,
		`f.yaml:5:8: every: invalid duration "5 minutes": use a Prometheus duration such as 5m, 1h or 30d`,
		"f.yaml:6:9: labels: must be a mapping, got a list",
		"f.yaml:8:14: items[0].vale: unknown field, did you mean value? (known fields: key, value)",
		`f.yaml:9:5: items[1]: must be a mapping, got "just a string"`,
		"f.yaml:10:5: items[2].key: missing required field",
		"f.yaml:11:18: nested.key: duplicate field (first set at line 11)",
		"f.yaml:12:8: upper: must be upper case",
		"f.yaml:13:1: nmae: unknown field, did you mean name? (known fields: name, count, ratio, enabled, every, timeout, labels, items, nested, raw, upper)",
	}
	if got := d.Errors().Error(); got != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	if v.Ratio != nil || v.Items[1] != nil || v.Items[0] == nil || v.Nested == nil || v.Nested.Key != "n" {
		t.Errorf("a value in error must stay unset and the rest decoded: %+v", v)
	}
	if !d.Failed("ratio") || d.Failed("items") || !d.Failed("items[1]") || d.Clean("items") || !d.Clean("raw") {
		t.Error("Failed/Clean wrong")
	}
}

func TestNull(t *testing.T) {
	v, d := decode(t, "name: a\nlabels:\nitems: ~\nnested:\nratio:\n")
	if got := d.Errors().Error(); got != "f.yaml:4:8: nested.key: missing required field\nf.yaml:5:7: ratio: must be a number, got null" {
		t.Errorf("errors: %s", got)
	}
	if v.Labels != nil || v.Items != nil || v.Nested == nil {
		t.Errorf("null is empty for maps and lists, an empty mapping for structs: %+v", v)
	}
	if _, d := decode(t, "name:\n"); d.Errors().Error() != "f.yaml:1:6: name: must be a string, got null" {
		t.Errorf("null for a required string: %v", d.Errors())
	}
}

// TestMergeKeysAndAliases: merge keys and aliases work in every schema, explicit keys win, and
// errors in merged values point into the anchor.
func TestMergeKeysAndAliases(t *testing.T) {
	v, d := decode(t, `
base: &base {key: k, value: from-base}
name: a
labels: &l {team: storage}
nested:
  <<: *base
  value: own
items:
  - *base
  - <<: [*base]
    key: k2
raw: *l
`)
	// base is not in the schema: the anchor's host key must be known too.
	if got := d.Errors().Error(); got != "f.yaml:2:1: base: unknown field (known fields: name, count, ratio, enabled, every, timeout, labels, items, nested, raw, upper)" {
		t.Fatalf("errors: %s", got)
	}
	if v.Nested.Key != "k" || v.Nested.Value != "own" || v.Items[0].Value != "from-base" || v.Items[1].Key != "k2" || v.Items[1].Value != "from-base" {
		t.Errorf("merged: nested %+v, items %+v %+v", v.Nested, v.Items[0], v.Items[1])
	}
	if v.Raw == nil || v.Raw.Kind != yaml.MappingNode {
		t.Errorf("alias into a yaml.Node: %+v", v.Raw)
	}

	_, d = decode(t, "name: a\nnested:\n  <<: &x {key: 1, vlue: 2}\n")
	if got := d.Errors().Error(); got != "f.yaml:3:19: nested.vlue: unknown field, did you mean value? (known fields: key, value)" {
		t.Errorf("error in a merged mapping: %s", got)
	}
	_, d = decode(t, "name: a\nnested:\n  <<: [a, b]\n")
	if got := d.Errors().Error(); !strings.Contains(got, `nested: a merge key (<<) must refer to a mapping, got "a"`) {
		t.Errorf("merge of a scalar: %s", got)
	}
}

// TestBombs: merge keys and aliases that expand far beyond the file's size are an error, found
// quickly, not an out-of-memory.
func TestBombs(t *testing.T) {
	var merges strings.Builder
	merges.WriteString("a0: &a0 {k: v}\n")
	for i := 1; i < 30; i++ {
		fmt.Fprintf(&merges, "a%d: &a%d {<<: [*a%d, *a%d]}\n", i, i, i-1, i-1)
	}
	// 2,000 nodes that would decode as a million values.
	aliases := "a: &a [" + strings.Repeat("x, ", 999) + "x]\nb: [" + strings.Repeat("*a, ", 999) + "*a]\n"
	for name, tc := range map[string]struct{ src, want string }{
		"merge keys": {merges.String(), "merge keys (<<) copy more than 10000 fields"},
		"aliases":    {aliases, "aliases (*) and merge keys (<<) expand to more than "},
	} {
		t.Run(name, func(t *testing.T) {
			d := Parse("f.yaml", []byte(tc.src), Kind{})
			if name == "merge keys" {
				var v map[string]map[string]string
				d.Decode(&v)
			} else {
				var v struct {
					A []string   `yaml:"a"`
					B [][]string `yaml:"b"`
				}
				d.Decode(&v)
			}
			if got := d.Errors().Error(); !strings.Contains(got, tc.want) || strings.Count(got, "\n") > 2 {
				t.Errorf("errors: %s\nwant one containing %q", got, tc.want)
			}
		})
	}
	var wide strings.Builder
	wide.WriteString("a0: &a0 {k0: v}\n")
	for i := 1; i < 12; i++ {
		fmt.Fprintf(&wide, "a%d: &a%d {<<: [*a%d, *a%d], k%d: v}\n", i, i, i-1, i-1, i)
	}
	d := Parse("f.yaml", []byte(wide.String()+"b: {<<: [*a11, *a11, *a11, *a11]}\n"), Kind{})
	var v map[string]map[string]string
	d.Decode(&v)
	if got := d.Errors().Error(); !strings.Contains(got, "merge keys (<<) copy more than 10000 fields") {
		t.Errorf("wide merges: %s", got)
	}
}

func TestFileErrors(t *testing.T) {
	kind := Kind{Name: "test file", Want: "a slod test file"}
	for src, want := range map[string]string{
		"":                   "f.yaml:1:1: empty file: want a slod test file",
		"# only a comment\n": "f.yaml:1:1: empty file: want a slod test file",
		"a: 1\n---\nb: 2\n":  "f.yaml:2:1: more than one YAML document: put one test file per file",
		"a: [1\nb: 2\n":      "f.yaml:1:1: invalid YAML: did not find expected ',' or ']'",
		"a: b\n\tc: d\n":     "f.yaml:2:1: invalid YAML: found a tab character that violates indentation",
		"a: *unknown\n":      "f.yaml:1:1: invalid YAML: unknown anchor 'unknown' referenced",
	} {
		d := Parse("f.yaml", []byte(src), kind)
		if got := d.Errors().Error(); got != want || d.Root() != nil {
			t.Errorf("%q: %q, want %q", src, got, want)
		}
	}
}

func TestKeysMustBeStrings(t *testing.T) {
	_, d := decode(t, "name: a\nlabels: {[b]: 2, c: d}\n")
	if got := d.Errors().Error(); got != "f.yaml:2:10: labels: keys must be strings, got a list" {
		t.Errorf("errors: %s", got)
	}
}

func TestClosest(t *testing.T) {
	known := []string{"version", "service", "labels", "slos", "op", "evaluation_interval"}
	for key, want := range map[string]string{
		"servce": "service", "Service": "service", "label": "labels", "slo": "slos", "versions": "version",
		"evaluation_intervall": "evaluation_interval", "ops": "", "xyz": "", "on": "", "severity": "",
	} {
		if got := closest(key, known); got != want {
			t.Errorf("closest(%q) = %q, want %q", key, got, want)
		}
	}
}

// TestParseAll: every document of a file, each decoded and reported on its own, with the
// positions of the file; a list item as an Element of its own.
func TestParseAll(t *testing.T) {
	src := "# objects\nname: a\ncount: x\n---\n---\n- name: b\n- {nme: c}\n"
	docs, errs := ParseAll("f.yaml", []byte(src), Kind{Name: "test file", Want: "a test file"})
	if errs != nil || len(docs) != 2 {
		t.Fatalf("%d docs, errors %v; want 2 (the empty one skipped)", len(docs), errs)
	}
	var first testSchema
	docs[0].Decode(&first)
	if got := docs[0].Errors().Error(); got != `f.yaml:3:8: count: must be an integer, got "x"` || first.Name != "a" {
		t.Errorf("first document: %q, %+v", got, first)
	}
	list := docs[1].Root()
	if list.Kind != yaml.SequenceNode || len(list.Content) != 2 {
		t.Fatalf("second document: %s", KindName(list))
	}
	var items []string
	for _, n := range list.Content {
		e := docs[1].Element(n)
		var v testSchema
		e.Decode(&v)
		items = append(items, v.Name+"|"+e.Errors().Error())
	}
	want := []string{"b|", "|f.yaml:7:3: name: missing required field\nf.yaml:7:4: nme: unknown field, did you mean name? (known fields: name, count, ratio, enabled, every, timeout, labels, items, nested, raw, upper)"}
	if strings.Join(items, "\n") != strings.Join(want, "\n") {
		t.Errorf("elements:\n%s\nwant:\n%s", strings.Join(items, "\n"), strings.Join(want, "\n"))
	}

	for src, want := range map[string]string{
		"":             "f.yaml:1:1: empty file: want a test file",
		"---\n---\n":   "f.yaml:1:1: empty file: want a test file",
		"a: 1\n---\n[": "f.yaml:3:1: invalid YAML: did not find expected node content",
	} {
		docs, errs := ParseAll("f.yaml", []byte(src), Kind{Want: "a test file"})
		if docs != nil || errs.Error() != want {
			t.Errorf("%q: %d docs, %q; want %q", src, len(docs), errs.Error(), want)
		}
	}
}
