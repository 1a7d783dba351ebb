package convert

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/slod-dev/slod/internal/openslo"
	"github.com/slod-dev/slod/internal/rules"
)

// commentSource reads the comments of the files SLOs come from, each file once. yaml.v3 keeps
// the comments above a key or a list item and at the end of a line; those of an SLO and of its
// main fields are carried over to the file written.
type commentSource struct {
	files map[string][]*yaml.Node // the documents of each file; nil when it cannot be read
}

func newCommentSource() *commentSource { return &commentSource{files: map[string][]*yaml.Node{}} }

// comments are an SLO's: above it, and on its fields by what they are (description, objective,
// window, bad, total, query).
type comments struct {
	head   string
	fields map[string]fieldComment
}

type fieldComment struct{ head, line string }

// on puts the comments of field on n, a value of the file written (mapping moves a head comment
// to its key), and returns n.
func (c comments) on(field string, n *yaml.Node) *yaml.Node {
	if n == nil {
		return nil
	}
	fc := c.fields[field]
	n.HeadComment, n.LineComment = fc.head, fc.line
	return n
}

// load reads the documents of file.
func (s *commentSource) load(file string) []*yaml.Node {
	if docs, ok := s.files[file]; ok {
		return docs
	}
	var docs []*yaml.Node
	if data, err := os.ReadFile(file); err == nil {
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for {
			var d yaml.Node
			if err := dec.Decode(&d); err != nil {
				if !errors.Is(err, io.EOF) {
					docs = nil // the file loaded, so this does not happen; no comments then
				}
				break
			}
			docs = append(docs, &d)
		}
	}
	s.files[file] = docs
	return docs
}

// of returns the comments of slo in its source file.
func (s *commentSource) of(slo *rules.SLO) comments {
	out := comments{fields: map[string]fieldComment{}}
	docs := s.load(slo.Pos.File)
	if slo.Format == openslo.V1 || slo.Format == openslo.V1Alpha {
		return openSLOComments(docs, slo, out)
	}
	for _, d := range docs {
		item := nodeAt(d, slo.Pos.Line, slo.Pos.Col)
		if item == nil || item.Kind != yaml.MappingNode {
			continue
		}
		out.head = item.HeadComment
		for field, path := range map[string]string{
			"description": "description", "objective": "objective", "window": "window",
			"bad": "sli.events.error_query", "total": "sli.events.total_query", "query": "sli.timeslice.query",
		} {
			out.add(field, item, path)
		}
		for _, path := range []string{"sli.latency.histogram", "sli.raw.error_ratio_query"} {
			out.add("query", item, path)
		}
	}
	return out
}

// openSLOComments are the comments of an SLO read from an OpenSLO file: those of its object,
// and of the objective it was made of (slo.Pos).
func openSLOComments(docs []*yaml.Node, slo *rules.SLO, out comments) comments {
	obj, doc := objectAt(docs, slo.Pos.Line)
	if obj == nil {
		return out
	}
	out.head = firstOf(doc.HeadComment, obj.HeadComment)
	if len(obj.Content) > 0 {
		out.head = firstOf(out.head, obj.Content[0].HeadComment)
	}
	out.add("description", obj, "spec.description")
	if objectives := get(obj, "spec.objectives"); objectives != nil {
		for _, o := range objectives.Content {
			if o.Line == slo.Pos.Line && o.Column == slo.Pos.Col {
				out.add("objective", o, "target")
				out.add("objective", o, "targetPercent")
			}
		}
	}
	if tw := get(obj, "spec.timeWindow"); tw != nil && len(tw.Content) > 0 {
		out.add("window", tw.Content[0], "duration")
	}
	sli := "spec.indicator.spec."
	for field, parts := range map[string][]string{
		"bad": {"ratioMetric.bad", "ratioMetric.good"}, "total": {"ratioMetric.total"},
		"query": {"ratioMetric.raw", "thresholdMetric"},
	} {
		for _, p := range parts {
			out.add(field, obj, sli+p+".metricSource.spec.query")
		}
	}
	return out
}

// add records the comments of the value at path under n as field's, unless it has some already.
func (c comments) add(field string, n *yaml.Node, path string) {
	key, val := getPair(n, path)
	if key == nil || c.fields[field] != (fieldComment{}) {
		return
	}
	fc := fieldComment{head: key.HeadComment, line: firstOf(val.LineComment, key.LineComment)}
	if fc != (fieldComment{}) {
		c.fields[field] = fc
	}
}

func firstOf(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// nodeAt is the node that starts at line:col under n, or nil.
func nodeAt(n *yaml.Node, line, col int) *yaml.Node {
	if n.Line == line && n.Column == col && n.Kind != yaml.DocumentNode {
		return n
	}
	for _, c := range n.Content {
		if found := nodeAt(c, line, col); found != nil {
			return found
		}
	}
	return nil
}

// objectAt is the OpenSLO object (a document's root, or an item of a list of objects) that holds
// line, and its document.
func objectAt(docs []*yaml.Node, line int) (obj, doc *yaml.Node) {
	for _, d := range docs {
		if len(d.Content) == 0 {
			continue
		}
		root := d.Content[0]
		candidates := []*yaml.Node{root}
		if root.Kind == yaml.SequenceNode {
			candidates = root.Content
		}
		for _, c := range candidates {
			if c.Kind == yaml.MappingNode && c.Line <= line {
				obj, doc = c, d
			}
		}
	}
	return obj, doc
}

// get is the value at a dotted path of mapping keys under n, or nil.
func get(n *yaml.Node, path string) *yaml.Node {
	_, v := getPair(n, path)
	return v
}

func getPair(n *yaml.Node, path string) (key, val *yaml.Node) {
	for _, k := range strings.Split(path, ".") {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil, nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				key, next = n.Content[i], n.Content[i+1]
			}
		}
		n = next
	}
	if n == nil {
		return nil, nil
	}
	return key, n
}
