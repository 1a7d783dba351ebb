// Package convert writes SLOs (as package rules loads them from slod/v1, Sloth and OpenSLO files)
// as slod/v1 files or as OpenSLO v1 files: `slod convert`. The SLOs written load back to the same
// evaluation (README, "Converting"): a round trip gives the same backtest. What a format has no
// place for is left out with a warning, and what it cannot express at all is an error; comments
// of the source files are carried over where the YAML library keeps them (comments.go).
package convert

import (
	"bytes"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strconv"

	"gopkg.in/yaml.v3"

	"github.com/slod-dev/slod/internal/rules"
)

// File is one file to write: its name (<service>.yaml) and content.
type File struct {
	Name string
	Data []byte
}

// Result is what a conversion wrote, and what it left out on the way.
type Result struct {
	Files    []File
	Warnings []string
}

// byService groups SLOs by service, services in the order they first appear.
func byService(slos []*rules.SLO) [][]*rules.SLO {
	var out [][]*rules.SLO
	at := map[string]int{}
	for _, s := range slos {
		i, ok := at[s.Service]
		if !ok {
			i = len(out)
			at[s.Service] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], s)
	}
	return out
}

// converter collects the warnings and errors of one conversion.
type converter struct {
	comments *commentSource
	warnings []string
	errs     []error
}

func (c *converter) warnf(slo *rules.SLO, format string, args ...any) {
	c.warnings = append(c.warnings, fmt.Sprintf("%s (%s): %s", slo.ID(), slo.Pos, fmt.Sprintf(format, args...)))
}

func (c *converter) errorf(slo *rules.SLO, format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf("%s (%s): %s", slo.ID(), slo.Pos, fmt.Sprintf(format, args...)))
}

func (c *converter) err() error { return errors.Join(c.errs...) }

// encode writes YAML documents, indented by two spaces as slod's own files are.
func encode(docs ...*yaml.Node) ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	for _, d := range docs {
		if err := enc.Encode(d); err != nil {
			return nil, err
		}
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// mapping is a YAML mapping of key, value pairs (a string and a *yaml.Node); a nil value leaves
// its key out.
func mapping(pairs ...any) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for i := 0; i+1 < len(pairs); i += 2 {
		v, _ := pairs[i+1].(*yaml.Node)
		if v == nil {
			continue
		}
		k := str(pairs[i].(string))
		if v.Kind == yaml.ScalarNode {
			// A comment above a field is the key's: yaml.v3 prints it there.
			k.HeadComment, v.HeadComment = v.HeadComment, ""
		}
		m.Content = append(m.Content, k, v)
	}
	return m
}

// flow makes a mapping or a list print on one line.
func flow(n *yaml.Node) *yaml.Node {
	n.Style = yaml.FlowStyle
	return n
}

func list(items ...*yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: items}
}

func str(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

// optStr is str, or nil (left out) for "".
func optStr(s string) *yaml.Node {
	if s == "" {
		return nil
	}
	return str(s)
}

func boolean(b bool) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(b)}
}

// num is a number as its shortest decimal, which reads back as the same float64.
func num(f float64) *yaml.Node { return number(strconv.FormatFloat(f, 'g', -1, 64)) }

func number(text string) *yaml.Node {
	tag := "!!float"
	if _, err := strconv.ParseInt(text, 10, 64); err == nil {
		tag = "!!int"
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: text}
}

// stringMap is a mapping of labels or annotations, keys sorted; nil when empty.
func stringMap(m map[string]string) *yaml.Node {
	if len(m) == 0 {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for _, k := range keys {
		n.Content = append(n.Content, str(k), str(m[k]))
	}
	return n
}

// percent writes an objective ratio as the percentage it was read from: 0.999 as 99.9. The
// shortest decimal of the ratio times 100, exactly, reads back as the same ratio.
func percent(ratio float64) string {
	r, _ := new(big.Rat).SetString(strconv.FormatFloat(ratio, 'g', -1, 64))
	r.Mul(r, big.NewRat(100, 1))
	for prec := 0; ; prec++ {
		s := r.FloatString(prec)
		if back, _ := new(big.Rat).SetString(s); back.Cmp(r) == 0 {
			return s
		}
	}
}
