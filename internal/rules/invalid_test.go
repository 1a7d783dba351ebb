package rules

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// render is what `slod validate` prints for one file: every error, then every warning.
func render(warns []Diagnostic, err error) string {
	var b strings.Builder
	var errs Errors
	if errors.As(err, &errs) {
		for _, d := range errs {
			b.WriteString(d.Error() + "\n")
		}
	} else if err != nil {
		b.WriteString("unexpected error type: " + err.Error() + "\n")
	}
	for _, w := range warns {
		b.WriteString(w.Warning() + "\n")
	}
	return b.String()
}

// TestInvalidCorpus parses every malformed file under testdata/invalid and compares what is reported
// with NAME.golden, byte for byte: the messages, fields and positions are the interface SREs see.
func TestInvalidCorpus(t *testing.T) {
	files, err := filepath.Glob("testdata/invalid/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 40 {
		t.Fatalf("the corpus has %d files, want at least 40", len(files))
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			slos, warns, err := Parse(file, data)
			if err == nil {
				t.Fatalf("Parse accepted an invalid file (%d SLOs)", len(slos))
			}
			if slos != nil {
				t.Errorf("Parse returned %d SLOs along with errors, want none", len(slos))
			}
			got := render(warns, err)
			golden := strings.TrimSuffix(file, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("reading golden file (run with -update to create it): %v", err)
			}
			if got != string(want) {
				t.Errorf("output differs from %s\ngot:\n%swant:\n%s", golden, got, want)
			}
		})
	}
}
