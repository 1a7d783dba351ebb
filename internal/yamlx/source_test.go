package yamlx

import (
	"testing"
)

// TestSource: a document's text runs to the next `---` without the comments and blank lines
// before it; a list element's to its last line indented under it, block scalars included.
func TestSource(t *testing.T) {
	data := `# the first object
kind: SLO
spec:
  query: |
    sum(rate(x[5m]))

  # about the next one
---
- kind: A
  spec:
    q: |
      line one
- kind: B
`
	docs, errs := ParseAll("f.yaml", []byte(data), Kind{Want: "objects"})
	if errs != nil {
		t.Fatal(errs)
	}
	if got, want := docs[0].Source(), "kind: SLO\nspec:\n  query: |\n    sum(rate(x[5m]))"; got != want {
		t.Errorf("document: %q, want %q", got, want)
	}
	items := docs[1].Root().Content
	if got, want := docs[1].Element(items[0]).Source(), "  kind: A\n  spec:\n    q: |\n      line one"; got != want {
		t.Errorf("first element: %q, want %q", got, want)
	}
	if got, want := docs[1].Element(items[1]).Source(), "  kind: B"; got != want {
		t.Errorf("second element: %q, want %q", got, want)
	}
	if got := (&Doc{}).Source(); got != "" {
		t.Errorf("a Doc without a root: %q", got)
	}
}
