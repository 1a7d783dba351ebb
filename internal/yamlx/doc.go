// Package yamlx decodes slod's YAML files (SLO files, OpenSLO files, `slod test` files, the daemon
// config) strictly into Go types, reporting every problem at once as file:line:col: field: message.
//
// A schema is declared once, as Go types: struct fields are named by their `yaml` tag, and
// `yamlx:"required"` marks a field that must be set. The walker goes over yaml.v3 nodes by hand
// rather than through yaml.v3's own decoder, because that stops at the first unknown key
// (KnownFields) and does not say where a bad value is. Here:
//
//   - unknown keys are errors that list the known ones (and suggest the closest), duplicate keys are
//     errors, and every type mismatch is reported at its value, all in one pass;
//   - merge keys (`<<: *anchor`, `<<: [*a, *b]`) and aliases work in every file, with explicit keys
//     winning over merged ones, and with bounds on what merges and aliases may expand to, so that a
//     "billion laughs" file is an error instead of an out-of-memory;
//   - the position of every key and value decoded is kept by its field path, so that semantic
//     checks done after decoding (an objective out of range, a route to an unknown receiver)
//     report at the right place: Doc.Errorf("slos[0].objective", ...).
//
// The same mistake gets the same message whichever file it is in.
package yamlx

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Kind names a kind of file in the messages about the file as a whole.
type Kind struct {
	// Name is the kind in "put one <Name> per file", e.g. "SLO file".
	Name string
	// Want is what an empty file should have held, in "empty file: want <Want>".
	Want string
}

// Doc is one parsed YAML document, what has been decoded from it and every problem found so far.
type Doc struct {
	file  string
	lines []string
	root  *yaml.Node
	errs  Errors
	warns []Diagnostic
	// at holds the key and value node of every path decoded; failed, the paths whose value did
	// not decode (a wrong type, a bad scalar).
	at     map[string]located
	failed map[string]bool
	// merged counts pairs copied by merge keys and visits the values decoded: nested merges and
	// aliases grow exponentially (the "billion laughs" of YAML), which yaml.v3 does not stop when
	// decoding into nodes.
	merged, visits, maxVisits int
}

type located struct{ key, val *yaml.Node }

// maxMerged bounds the pairs merge keys may copy in one file; real files stay far below it.
const maxMerged = 10000

// Parse reads the single YAML document of a file. Problems with the file as a whole (a syntax
// error, no document, several) are in Errors; Root is then nil.
func Parse(file string, data []byte, kind Kind) *Doc {
	d := newDoc(file, strings.Split(string(data), "\n"))
	d.setRoot(d.document(data, kind))
	return d
}

func newDoc(file string, lines []string) *Doc {
	return &Doc{file: file, lines: lines, at: map[string]located{}, failed: map[string]bool{}}
}

func (d *Doc) setRoot(root *yaml.Node) {
	d.root = root
	if root != nil {
		// Every value of the file may be decoded a few times over through aliases and merges, and
		// a file of a hundred thousand nodes is still fine; beyond that, it is an alias bomb.
		d.maxVisits = 10*countNodes(root) + 100000
	}
}

// ParseAll reads every YAML document of a file (documents separated by `---`, as Kubernetes and
// OpenSLO files hold several objects), one Doc each, in order; empty (null) documents are skipped. A
// syntax error anywhere makes the file unreadable: then no Doc is returned, and errs says where.
// A file without any document is an error too ("empty file: want <kind.Want>").
func ParseAll(file string, data []byte, kind Kind) (docs []*Doc, errs Errors) {
	lines := strings.Split(string(data), "\n")
	whole := newDoc(file, lines) // collects the problems of the file as a whole
	defer func() {
		// As in Parse: a panic of yaml.v3 on malformed input is a problem of the file.
		if r := recover(); r != nil {
			docs, errs = nil, Errors{{Pos: Pos{File: file, Line: 1, Col: 1}, Message: fmt.Sprintf("invalid YAML: %v", r)}}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			whole.syntaxError(err)
			return nil, whole.Errors()
		}
		if len(doc.Content) == 0 || IsNull(doc.Content[0]) {
			continue // nothing between two `---`
		}
		d := newDoc(file, lines)
		d.setRoot(doc.Content[0])
		docs = append(docs, d)
	}
	if len(docs) == 0 {
		whole.ErrorAt(Pos{File: file, Line: 1, Col: 1}, "", "empty file: want %s", kind.Want)
		return nil, whole.Errors()
	}
	return docs, nil
}

// Element is a Doc of its own over n, a node of d (an item of a list of objects, say), so that
// the objects of one file are decoded and reported on each with its own field paths.
func (d *Doc) Element(n *yaml.Node) *Doc {
	e := newDoc(d.file, d.lines)
	e.setRoot(n)
	return e
}

// document decodes the single YAML document of a file into its root node.
func (d *Doc) document(data []byte, kind Kind) (root *yaml.Node) {
	defer func() {
		// yaml.v3 has panicked on malformed input before; a bad file must never take the daemon down.
		if r := recover(); r != nil {
			d.ErrorAt(Pos{File: d.file, Line: 1, Col: 1}, "", "invalid YAML: %v", r)
			root = nil
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.ErrorAt(Pos{File: d.file, Line: 1, Col: 1}, "", "empty file: want %s", kind.Want)
			return nil
		}
		d.syntaxError(err)
		return nil
	}
	var next yaml.Node
	if err := dec.Decode(&next); err == nil {
		d.ErrorAt(d.pos(&next), "", "more than one YAML document: put one %s per file", kind.Name)
		return nil
	} else if !errors.Is(err, io.EOF) {
		d.syntaxError(err)
		return nil
	}
	if len(doc.Content) == 0 {
		d.ErrorAt(Pos{File: d.file, Line: 1, Col: 1}, "", "empty file: want %s", kind.Want)
		return nil
	}
	return doc.Content[0]
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxError reports a yaml.v3 syntax error at the line it names (yaml.v3 gives no column).
func (d *Doc) syntaxError(err error) {
	msg := err.Error()
	line := 1
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		if n, convErr := strconv.Atoi(m[1]); convErr == nil && n > 0 {
			line = n
		}
		msg = m[2]
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	d.ErrorAt(Pos{File: d.file, Line: line, Col: 1}, "", "invalid YAML: %s", msg)
}

func countNodes(n *yaml.Node) int {
	c := 1
	for _, k := range n.Content {
		c += countNodes(k)
	}
	return c
}

// File is the file name the Doc reports problems in.
func (d *Doc) File() string { return d.file }

// Root is the document's top node, nil when the file could not be parsed. Aliases are not
// resolved; use Resolve.
func (d *Doc) Root() *yaml.Node { return d.root }

// Errors returns every problem found so far, sorted by position.
func (d *Doc) Errors() Errors {
	out := append(Errors(nil), d.errs...)
	Sort(out)
	return out
}

// Err returns Errors, or nil when there are none.
func (d *Doc) Err() error {
	if len(d.errs) == 0 {
		return nil
	}
	return d.Errors()
}

// NumErrors is the number of problems found so far.
func (d *Doc) NumErrors() int { return len(d.errs) }

// Warnings returns every warning, sorted by position.
func (d *Doc) Warnings() []Diagnostic {
	out := append([]Diagnostic(nil), d.warns...)
	Sort(out)
	return out
}

// ErrorAt records a problem at a position.
func (d *Doc) ErrorAt(p Pos, field, format string, args ...any) {
	d.errs = append(d.errs, Diagnostic{Pos: p, Field: field, Message: fmt.Sprintf(format, args...)})
}

// Errorf records a problem with the value at path, reported at that value (or, for a path that
// is not in the file, at the closest enclosing value that is: a missing key at its mapping).
func (d *Doc) Errorf(path, format string, args ...any) {
	d.ErrorAt(d.Pos(path), path, format, args...)
}

// KeyErrorf records a problem with the key of path (a key that is not allowed, say), reported at
// the key.
func (d *Doc) KeyErrorf(path, format string, args ...any) {
	d.ErrorAt(d.KeyPos(path), path, format, args...)
}

// Warnf records a warning about the value at path.
func (d *Doc) Warnf(path, format string, args ...any) {
	d.warns = append(d.warns, Diagnostic{Pos: d.Pos(path), Field: path, Message: fmt.Sprintf(format, args...)})
}

// Has reports whether path was in the file (a null value counts).
func (d *Doc) Has(path string) bool {
	_, ok := d.at[path]
	return ok
}

// Present lists which of keys are set under path (a null value counts), in the order given: what
// the "exactly one of" checks of every schema look at.
func (d *Doc) Present(path string, keys ...string) []string {
	var out []string
	for _, k := range keys {
		if d.Has(Field(path, k)) {
			out = append(out, k)
		}
	}
	return out
}

// Failed reports whether the value at path was in the file but did not decode (its problem is
// reported already): checks after decoding skip it rather than report a second problem.
func (d *Doc) Failed(path string) bool { return d.failed[path] }

// Clean reports whether no problem has been reported at path or below it.
func (d *Doc) Clean(path string) bool {
	for _, e := range d.errs {
		if e.Field == path || strings.HasPrefix(e.Field, path+".") || strings.HasPrefix(e.Field, path+"[") {
			return false
		}
	}
	return true
}

// NodePos is the position of a node of the document.
func (d *Doc) NodePos(n *yaml.Node) Pos { return d.pos(n) }

// Node is the value node at path with aliases resolved, or nil when path was not in the file.
func (d *Doc) Node(path string) *yaml.Node { return d.at[path].val }

// Pos is the position of the value at path, or of the closest enclosing value in the file.
func (d *Doc) Pos(path string) Pos {
	for p := path; ; p = parent(p) {
		if l, ok := d.at[p]; ok && l.val != nil {
			return d.pos(l.val)
		}
		if p == "" {
			break
		}
	}
	if d.root != nil {
		return d.pos(d.root)
	}
	return Pos{File: d.file, Line: 1, Col: 1}
}

// KeyPos is the position of the key of path (a map entry, a struct field), else Pos(path).
func (d *Doc) KeyPos(path string) Pos {
	if l, ok := d.at[path]; ok && l.key != nil {
		return d.pos(l.key)
	}
	return d.Pos(path)
}

func (d *Doc) pos(n *yaml.Node) Pos {
	return Pos{File: d.file, Line: max(n.Line, 1), Col: max(n.Column, 1)}
}

// OffsetPos is the file position of byte offset off inside the decoded string at path, so that an
// error inside a value (a PromQL syntax error, say) points at its character. It walks the raw
// source from the scalar's start alongside the value: characters the YAML syntax added (quotes,
// escapes, indentation of block scalars and folded lines) are skipped, and a line break of the
// source stands for the space or newline it was folded into.
func (d *Doc) OffsetPos(path string, off int) Pos {
	n := d.Node(path)
	if n == nil {
		return d.Pos(path)
	}
	return d.offsetPos(n, off)
}

func (d *Doc) offsetPos(n *yaml.Node, off int) Pos {
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

// maxSource bounds the text Source returns (a file of generated queries can be large).
const maxSource = 64 << 10

// Source is the document's text as written, for people to read (the status page shows an SLO's):
// a document of its own from its first line to the next `---` (without trailing blank lines and
// comments, which belong to what follows); an element of a list (Element) from its first line to
// the last line indented at least as deep. Empty when the Doc has no root.
func (d *Doc) Source() string {
	if d.root == nil || d.root.Line < 1 || d.root.Line > len(d.lines) {
		return ""
	}
	first, col, end := d.root.Line, d.root.Column, d.root.Line
	for i := first; i < len(d.lines); i++ { // d.lines[i] is line i+1
		l := d.lines[i]
		trimmed := strings.TrimLeft(l, " ")
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		if col == 1 && (strings.HasPrefix(l, "---") || strings.HasPrefix(l, "...")) || col > 1 && len(l)-len(trimmed) < col-1 {
			break
		}
		end = i + 1
	}
	lines := slices.Clone(d.lines[first-1 : end])
	if l := lines[0]; col > 1 && len(l) >= col-1 {
		lines[0] = strings.Repeat(" ", col-1) + l[col-1:] // the element's dash
	}
	out := strings.Join(lines, "\n")
	if len(out) > maxSource {
		out = out[:maxSource] + "\n# … (cut at 64 KiB)"
	}
	return out
}
