package check

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Sample is one recorded sample: T in milliseconds since the Unix epoch.
type Sample struct {
	T int64
	V float64
}

// Label is one label pair; a series' labels are written in the order given, except that __name__
// is always the metric name in front of the braces.
type Label struct{ Name, Value string }

// Series is one recorded series. Labels must include __name__.
type Series struct {
	Labels  []Label
	Samples []Sample
}

// Name is the series' metric name (the __name__ label).
func (s Series) Name() string {
	for _, l := range s.Labels {
		if l.Name == "__name__" {
			return l.Value
		}
	}
	return ""
}

// key orders series by metric name and then by their label text, so that a file lists every
// series of a metric family together as OpenMetrics requires, and the same input always gives the
// same bytes.
func (s Series) key() string { return s.Name() + "\xff" + s.labelText() }

func (s Series) labelText() string {
	ls := make([]Label, 0, len(s.Labels))
	for _, l := range s.Labels {
		if l.Name != "__name__" {
			ls = append(ls, l)
		}
	}
	sort.Slice(ls, func(i, j int) bool { return ls[i].Name < ls[j].Name })
	if len(ls) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, l := range ls {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(l.Name)
		b.WriteString(`="`)
		b.WriteString(escapeLabel(l.Value))
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

func escapeLabel(v string) string {
	if !strings.ContainsAny(v, "\\\"\n") {
		return v
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return r.Replace(v)
}

// FormatValue prints a sample value the shortest way that parses back to the same float64, with
// OpenMetrics spellings for the special values.
func FormatValue(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// formatTimestamp prints milliseconds as OpenMetrics seconds, without a fraction when there is none
// (most scrapes land on whole seconds, and the file is a third smaller that way).
func formatTimestamp(ms int64) string {
	if ms%1000 == 0 {
		return strconv.FormatInt(ms/1000, 10)
	}
	if ms < 0 {
		return "-" + formatTimestamp(-ms)
	}
	return strings.TrimRight(fmt.Sprintf("%d.%03d", ms/1000, ms%1000), "0")
}

// WriteOpenMetrics writes series as OpenMetrics text with timestamps, the format
// `promtool tsdb dump-openmetrics` writes and `promtool tsdb create-blocks-from openmetrics` and
// `slod check --data` read: series grouped by metric name in a fixed order, samples in time order,
// `# EOF` last. It sorts a copy of the series list, and refuses samples that are not strictly
// ascending, because every reader of the format rejects them.
func WriteOpenMetrics(w io.Writer, series []Series) error {
	ordered := make([]Series, len(series))
	copy(ordered, series)
	sort.SliceStable(ordered, func(i, j int) bool { return ordered[i].key() < ordered[j].key() })
	bw := bufio.NewWriterSize(w, 1<<16)
	for _, s := range ordered {
		name := s.Name()
		if name == "" {
			return fmt.Errorf("writing OpenMetrics: series %s has no metric name", s.labelText())
		}
		prefix := name + s.labelText() + " "
		for i, p := range s.Samples {
			if i > 0 && p.T <= s.Samples[i-1].T {
				return fmt.Errorf("writing OpenMetrics: series %s%s: sample timestamps not ascending at %d", name, s.labelText(), p.T)
			}
			bw.WriteString(prefix)
			bw.WriteString(FormatValue(p.V))
			bw.WriteByte(' ')
			bw.WriteString(formatTimestamp(p.T))
			bw.WriteByte('\n')
		}
	}
	bw.WriteString("# EOF\n")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing OpenMetrics: %w", err)
	}
	return nil
}
