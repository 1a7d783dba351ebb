package rules

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Diagnostic is one problem (or warning) found in an SLO file: where it is, which field it concerns
// (a path such as `slos[1].sli.events.error_query`) and what is wrong.
type Diagnostic struct {
	Pos     Pos
	Field   string
	Message string
}

// Error formats the diagnostic as "file:line:col: field: message". A diagnostic about a whole file
// (one that could not be read, say) has no line and prints as "file: message".
func (d Diagnostic) Error() string {
	var b strings.Builder
	b.WriteString(d.where())
	b.WriteString(": ")
	if d.Field != "" {
		b.WriteString(d.Field)
		b.WriteString(": ")
	}
	b.WriteString(d.Message)
	return b.String()
}

// Warning formats the diagnostic as a warning: "file:line:col: warning: field: message".
func (d Diagnostic) Warning() string {
	var b strings.Builder
	b.WriteString(d.where())
	b.WriteString(": warning: ")
	if d.Field != "" {
		b.WriteString(d.Field)
		b.WriteString(": ")
	}
	b.WriteString(d.Message)
	return b.String()
}

func (d Diagnostic) where() string {
	if d.Pos.Line <= 0 {
		return d.Pos.File
	}
	return d.Pos.String()
}

// Errors is every problem found in one run; it is the error Load and Parse return, so that a user
// fixes all of them at once rather than one per run.
type Errors []Diagnostic

// Error prints one diagnostic per line.
func (e Errors) Error() string {
	lines := make([]string, len(e))
	for i, d := range e {
		lines[i] = d.Error()
	}
	return strings.Join(lines, "\n")
}

// sortDiagnostics orders diagnostics by file and position so that output is stable whatever order
// the checks ran in.
func sortDiagnostics(ds []Diagnostic) {
	slices.SortStableFunc(ds, func(a, b Diagnostic) int {
		return cmp.Or(
			cmp.Compare(a.Pos.File, b.Pos.File),
			cmp.Compare(a.Pos.Line, b.Pos.Line),
			cmp.Compare(a.Pos.Col, b.Pos.Col),
		)
	})
}

// field joins a parent path and a key: field("slos[0]", "sli") is "slos[0].sli".
func field(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// index is the path of a list element: index("slos", 1) is "slos[1]".
func index(parent string, i int) string { return fmt.Sprintf("%s[%d]", parent, i) }
