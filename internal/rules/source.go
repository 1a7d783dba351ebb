package rules

import (
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/slod-dev/slod/internal/yamlx"
)

// maxSource bounds the text kept of one SLO's entry (a file of generated queries can be large).
const maxSource = 64 << 10

// setSources sets each SLO's Source: the lines of its entry in the file's slos list, from its
// first key to the last line indented under the entry's dash, without trailing blank lines and
// comments (which belong to the next entry). An entry in flow style keeps its first line only.
func setSources(slos []*SLO, root *yaml.Node, data []byte) {
	if len(slos) == 0 {
		return
	}
	seq := slosNode(root)
	if seq == nil {
		return
	}
	lines := strings.Split(string(data), "\n")
	for _, slo := range slos {
		for _, item := range seq.Content {
			if item.Line != slo.Pos.Line || item.Column != slo.Pos.Col {
				continue
			}
			slo.Source = entryText(lines, item.Line, seq.Column, seq.Style&yaml.FlowStyle != 0)
		}
	}
}

// slosNode returns the sequence node of the file's slos key, or nil.
func slosNode(root *yaml.Node) *yaml.Node {
	if root == nil || root.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "slos" {
			if n := yamlx.Resolve(root.Content[i+1]); n != nil && n.Kind == yaml.SequenceNode {
				return n
			}
		}
	}
	return nil
}

// entryText returns the lines of the entry starting on line (1-based) of a block sequence whose
// dashes are at column dashCol (1-based).
func entryText(lines []string, line, dashCol int, flow bool) string {
	if line < 1 || line > len(lines) {
		return ""
	}
	end := line
	if !flow {
		for i := line; i < len(lines); i++ { // lines[i] is line i+1
			l := lines[i]
			trimmed := strings.TrimLeft(l, " ")
			if trimmed != "" && !strings.HasPrefix(trimmed, "#") && len(l)-len(trimmed) < dashCol {
				break
			}
			if trimmed != "" && !strings.HasPrefix(trimmed, "#") {
				end = i + 1
			}
		}
	}
	out := strings.Join(lines[line-1:end], "\n")
	if len(out) > maxSource {
		out = out[:maxSource] + "\n# … (cut at 64 KiB)"
	}
	return out
}
