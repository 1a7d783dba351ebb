package yamlx

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Pos is a position in a file, 1-based like yaml.v3 nodes. A Pos without a line stands for the
// whole file (one that could not be read, say).
type Pos struct {
	File      string
	Line, Col int
}

// String formats the position as file:line:col.
func (p Pos) String() string { return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col) }

// Diagnostic is one problem (or warning) found in a file: where it is, which field it concerns (a
// path such as `slos[1].sli.events.error_query`) and what is wrong.
type Diagnostic struct {
	Pos     Pos
	Field   string
	Message string
}

// Error formats the diagnostic as "file:line:col: field: message"; a diagnostic about a whole
// file prints as "file: message".
func (d Diagnostic) Error() string { return d.format("") }

// Warning formats the diagnostic as a warning: "file:line:col: warning: field: message".
func (d Diagnostic) Warning() string { return d.format("warning: ") }

func (d Diagnostic) format(kind string) string {
	var b strings.Builder
	if d.Pos.Line <= 0 {
		b.WriteString(d.Pos.File)
	} else {
		b.WriteString(d.Pos.String())
	}
	b.WriteString(": ")
	b.WriteString(kind)
	if d.Field != "" {
		b.WriteString(d.Field)
		b.WriteString(": ")
	}
	b.WriteString(d.Message)
	return b.String()
}

// Errors is every problem found in one run, so that a user fixes all of them at once rather than
// one per run. It prints one diagnostic per line.
type Errors []Diagnostic

// Error prints one diagnostic per line.
func (e Errors) Error() string {
	lines := make([]string, len(e))
	for i, d := range e {
		lines[i] = d.Error()
	}
	return strings.Join(lines, "\n")
}

// Sort orders diagnostics by file and position, stably, so that output does not depend on the
// order in which checks ran.
func Sort(ds []Diagnostic) {
	slices.SortStableFunc(ds, func(a, b Diagnostic) int {
		return cmp.Or(
			cmp.Compare(a.Pos.File, b.Pos.File),
			cmp.Compare(a.Pos.Line, b.Pos.Line),
			cmp.Compare(a.Pos.Col, b.Pos.Col),
		)
	})
}

// Field joins a parent path and a key: Field("slos[0]", "sli") is "slos[0].sli".
func Field(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// Index is the path of a list element: Index("slos", 1) is "slos[1]".
func Index(parent string, i int) string { return parent + "[" + strconv.Itoa(i) + "]" }

// parent is the path one level up: "a.b[2]" → "a.b", "a.b" → "a", "a" → "".
func parent(path string) string {
	if strings.HasSuffix(path, "]") {
		if i := strings.LastIndexByte(path, '['); i >= 0 {
			return path[:i]
		}
	}
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		return path[:i]
	}
	return ""
}
