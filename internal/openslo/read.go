package openslo

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/slod-dev/slod/internal/yamlx"
)

// The API versions slod reads.
const (
	V1      = "openslo/v1"
	V1Alpha = "openslo/v1alpha"
)

// The kinds of OpenSLO objects.
const (
	KindSLO                     = "SLO"
	KindSLI                     = "SLI"
	KindService                 = "Service"
	KindDataSource              = "DataSource"
	KindAlertPolicy             = "AlertPolicy"
	KindAlertCondition          = "AlertCondition"
	KindAlertNotificationTarget = "AlertNotificationTarget"
)

var (
	v1Kinds    = []string{KindSLO, KindSLI, KindService, KindDataSource, KindAlertPolicy, KindAlertCondition, KindAlertNotificationTarget}
	alphaKinds = []string{KindSLO, KindService}
)

// fileKind names OpenSLO files in messages about a file as a whole.
var fileKind = yamlx.Kind{Name: "OpenSLO file", Want: "OpenSLO objects (apiVersion: " + V1 + ")"}

// apiVersionLine finds a top-level apiVersion key: at the start of a document, or of an item of a
// top-level list of objects.
var apiVersionLine = regexp.MustCompile(`(?m)^(- +)?apiVersion *:`)

// Sniff reports whether data is written in a Kubernetes-style format (a top-level apiVersion key),
// which is how OpenSLO files differ from slod/v1 and Sloth prometheus/v1 files (version:). Read
// says whether the apiVersion is one slod reads.
func Sniff(data []byte) bool { return apiVersionLine.Match(data) }

// File is one file to read.
type File struct {
	Path string
	Data []byte
}

// Set is what Read found: the SLOs, and the documents they were read from, which hold every
// problem found (checks made after Read report there too).
type Set struct {
	SLOs []*SLO
	// Files maps each file read to its SLOs, in the order of the file.
	Files    map[string][]*SLO
	docs     []*yamlx.Doc
	fileErrs yamlx.Errors
}

// Errors is every problem found in the files, sorted by position.
func (s *Set) Errors() yamlx.Errors {
	out := append(yamlx.Errors(nil), s.fileErrs...)
	for _, d := range s.docs {
		out = append(out, d.Errors()...)
	}
	return sorted(out)
}

// sorted sorts diagnostics by position and drops repeats: an object that several SLOs use (an
// SLI, an AlertCondition) is checked with each of them.
func sorted(ds []yamlx.Diagnostic) []yamlx.Diagnostic {
	seen := map[yamlx.Diagnostic]bool{}
	out := ds[:0]
	for _, d := range ds {
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	yamlx.Sort(out)
	return out
}

// Warnings is every warning, sorted by position.
func (s *Set) Warnings() []yamlx.Diagnostic {
	var out []yamlx.Diagnostic
	for _, d := range s.docs {
		out = append(out, d.Warnings()...)
	}
	return sorted(out)
}

// obj is one object of a file: its document, header and decoded value (an *object[...] or an
// *alphaObject[...] of its kind).
type obj struct {
	doc                 *yamlx.Doc
	version, kind, name string
	value               any
}

// reader reads a set of files: objects in file order, and the v1 objects by kind and name, which
// references resolve to.
type reader struct {
	set     *Set
	objects []*obj
	byName  map[string]map[string]*obj
}

// Read reads OpenSLO files: every object of every file (documents separated by ---, or a YAML list
// of objects), every reference resolved across all the files, every rule of the spec and of its
// reference validator checked, and each objective of each SLO mapped to an SLO as slod evaluates
// it (README, "OpenSLO files"). Problems are in the Set's Errors, each at file:line:col.
func Read(files []File) *Set {
	r := &reader{set: &Set{Files: map[string][]*SLO{}}, byName: map[string]map[string]*obj{}}
	for _, f := range files {
		r.file(f)
	}
	for _, o := range r.objects {
		r.checkObject(o)
	}
	for _, o := range r.objects {
		var slos []*SLO
		switch v := o.value.(type) {
		case *object[sloSpec]:
			slos = r.slo(o, v)
		case *alphaObject[alphaSLOSpec]:
			slos = r.alphaSLO(o, v)
		}
		r.set.SLOs = append(r.set.SLOs, slos...)
		r.set.Files[o.doc.File()] = append(r.set.Files[o.doc.File()], slos...)
	}
	return r.set
}

// file reads the objects of one file.
func (r *reader) file(f File) {
	docs, errs := yamlx.ParseAll(f.Path, f.Data, fileKind)
	r.set.fileErrs = append(r.set.fileErrs, errs...)
	for _, d := range docs {
		r.set.docs = append(r.set.docs, d)
		root := yamlx.Resolve(d.Root())
		if root.Kind != yaml.SequenceNode {
			r.object(d)
			continue
		}
		// The oslo tool's and the Go SDK's list form: one document, a list of objects.
		for _, item := range root.Content {
			e := d.Element(yamlx.Resolve(item))
			r.set.docs = append(r.set.docs, e)
			r.object(e)
		}
	}
}

// object reads the header of one object and decodes it with the schema of its kind.
func (r *reader) object(d *yamlx.Doc) {
	root := d.Root()
	if root.Kind != yaml.MappingNode {
		d.ErrorAt(d.NodePos(root), "", "must be an OpenSLO object (a mapping with apiVersion, kind, metadata and spec), got %s", yamlx.KindName(root))
		return
	}
	version, kind, ok := header(d, root)
	if !ok {
		return
	}
	o := &obj{doc: d, version: version, kind: kind, value: newObject(version, kind)}
	d.Decode(o.value)
	if n := d.Node("metadata.name"); n != nil && !d.Failed("metadata.name") {
		o.name = n.Value
	}
	r.objects = append(r.objects, o)
	if version != V1 || o.name == "" {
		return // v1alpha has no references; a v1alpha Service only lends its name
	}
	if r.byName[kind] == nil {
		r.byName[kind] = map[string]*obj{}
	}
	if prev := r.byName[kind][o.name]; prev != nil {
		d.Errorf("metadata.name", "%s %q is defined twice: first at %s (names are unique per kind across the files read)", kind, o.name, prev.doc.Pos("metadata.name"))
		return
	}
	r.byName[kind][o.name] = o
}

// header reads apiVersion and kind, which say which schema applies.
func header(d *yamlx.Doc, root *yaml.Node) (version, kind string, ok bool) {
	get := func(key string) (*yaml.Node, string) {
		for i := 0; i+1 < len(root.Content); i += 2 {
			if root.Content[i].Value == key {
				v := yamlx.Resolve(root.Content[i+1])
				s, err := yamlx.String(v)
				if err != nil {
					d.ErrorAt(d.NodePos(v), key, "%s", err.Error())
					return nil, ""
				}
				return v, s
			}
		}
		d.ErrorAt(d.NodePos(root), key, "missing required field")
		return nil, ""
	}
	vn, version := get("apiVersion")
	kn, kind := get("kind")
	if vn == nil || kn == nil {
		return "", "", false
	}
	var kinds []string
	switch version {
	case V1:
		kinds = v1Kinds
	case V1Alpha:
		kinds = alphaKinds
	default:
		d.ErrorAt(d.NodePos(vn), "apiVersion", "unsupported apiVersion %q: slod reads %s and %s", version, V1, V1Alpha)
		return "", "", false
	}
	if !slices.Contains(kinds, kind) {
		msg := fmt.Sprintf("unknown kind %q: %s has %s", kind, version, strings.Join(kinds, ", "))
		if version == V1Alpha && slices.Contains(v1Kinds, kind) {
			msg += fmt.Sprintf(" (%s is in %s)", kind, V1)
		}
		d.ErrorAt(d.NodePos(kn), "kind", "%s", msg)
		return "", "", false
	}
	return version, kind, true
}

// newObject is a value of the schema of kind in version, to decode into.
func newObject(version, kind string) any {
	if version == V1Alpha {
		if kind == KindSLO {
			return &alphaObject[alphaSLOSpec]{}
		}
		return &alphaObject[serviceSpec]{}
	}
	switch kind {
	case KindSLO:
		return &object[sloSpec]{}
	case KindSLI:
		return &object[sliSpec]{}
	case KindService:
		return &object[serviceSpec]{}
	case KindDataSource:
		return &object[dataSourceSpec]{}
	case KindAlertPolicy:
		return &object[policySpec]{}
	case KindAlertCondition:
		return &object[conditionSpec]{}
	}
	return &object[targetSpec]{}
}

// lookup resolves a reference (a name at path in d) to a v1 object of kind, reporting a name
// that no file defines.
func (r *reader) lookup(d *yamlx.Doc, path, kind, name string) *obj {
	if o := r.byName[kind][name]; o != nil {
		return o
	}
	var names []string
	for n := range r.byName[kind] {
		names = append(names, n)
	}
	slices.Sort(names)
	known := "none is defined"
	if len(names) > 0 {
		known = "defined: " + strings.Join(names, ", ")
	}
	d.Errorf(path, "no %s named %q in the files read (%s)", kind, name, known)
	return nil
}
