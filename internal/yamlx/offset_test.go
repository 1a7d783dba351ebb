package yamlx

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestOffsetPos checks the mapping from an offset inside a decoded scalar to its position in the
// file, for every scalar style.
func TestOffsetPos(t *testing.T) {
	tests := []struct {
		name string
		src  string
		// find is a substring of the value; want is the position of its first byte.
		find      string
		line, col int
	}{
		{name: "plain", src: "q: sum(rate(x[5m]))\n", find: "x[", line: 1, col: 13},
		{name: "double quoted with escapes", src: `q: "a{b=\"c\"} + d"` + "\n", find: "d", line: 1, col: 18},
		{name: "double quoted with unicode escape", src: `q: "\u00e9 + d"` + "\n", find: "d", line: 1, col: 14},
		{name: "single quoted", src: "q: 'a{b=''c''} + d'\n", find: "d", line: 1, col: 18},
		{name: "literal block", src: "q: |\n  sum(x)\n    / y\n", find: "y", line: 3, col: 7},
		{name: "folded block", src: "q: >\n  sum(x)\n  / y\n", find: "y", line: 3, col: 5},
		{name: "folded block with blank line", src: "q: >\n  sum(x)\n\n  / y\n", find: "y", line: 4, col: 5},
		{name: "plain multi-line", src: "q: sum(x)\n   / y\n", find: "y", line: 2, col: 6},
		{name: "multi-byte characters before", src: "q: é + y\n", find: "y", line: 1, col: 8},
		{name: "nested indentation", src: "a:\n  b:\n    q: |-\n      x\n      + y\n", find: "y", line: 5, col: 9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var doc yaml.Node
			if err := yaml.Unmarshal([]byte(tt.src), &doc); err != nil {
				t.Fatal(err)
			}
			n := findKey(doc.Content[0], "q")
			if n == nil {
				t.Fatal("no key q")
			}
			off := strings.Index(n.Value, tt.find)
			if off < 0 {
				t.Fatalf("%q not in value %q", tt.find, n.Value)
			}
			got := Parse("t.yaml", []byte(tt.src), Kind{}).offsetPos(n, off)
			if got.Line != tt.line || got.Col != tt.col {
				t.Errorf("offsetPos(%q) = %d:%d, want %d:%d", tt.find, got.Line, got.Col, tt.line, tt.col)
			}
		})
	}
}

func findKey(n *yaml.Node, key string) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
		if v := findKey(n.Content[i+1], key); v != nil {
			return v
		}
	}
	return nil
}
