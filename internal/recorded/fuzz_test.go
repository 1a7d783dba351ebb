package recorded

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
)

// errorShape is what every Parse error must look like: the name, a line number, a message.
var errorShape = regexp.MustCompile(`^fuzz\.om:[1-9][0-9]*: .+`)

// FuzzParse feeds arbitrary text to Parse: it must never panic, every error must name a line, and
// whatever it accepts must be series with strictly ascending timestamps adding up to Samples().
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.om"))
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		db, err := Parse(bytes.NewReader(data), "fuzz.om")
		if err != nil {
			if !errorShape.MatchString(err.Error()) {
				t.Fatalf("error without a line: %q", err)
			}
			return
		}
		q, _ := db.Querier(math.MinInt64, math.MaxInt64)
		ss := q.Select(t.Context(), false, nil, labels.MustNewMatcher(labels.MatchRegexp, labels.MetricName, ".*"))
		n := 0
		for ss.Next() {
			it := ss.At().Iterator(nil)
			last := int64(math.MinInt64)
			for it.Next() == chunkenc.ValFloat {
				if it.AtT() <= last {
					t.Fatalf("%s: timestamp %d after %d", ss.At().Labels(), it.AtT(), last)
				}
				last = it.AtT()
				n++
			}
		}
		if n != db.Samples() {
			t.Fatalf("read %d samples, Samples() = %d", n, db.Samples())
		}
	})
}
