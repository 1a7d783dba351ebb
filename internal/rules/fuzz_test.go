package rules

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds Parse arbitrary bytes, seeded with every file under testdata. Parse must never
// panic, must return either SLOs or errors, and every error and warning must carry a position in
// the file: a message without one is useless in a rules directory of a hundred files.
func FuzzParse(f *testing.F) {
	seeds, err := filepath.Glob("testdata/*/*.yaml")
	if err != nil {
		f.Fatal(err)
	}
	more, _ := filepath.Glob("testdata/*/*/*.y*ml")
	for _, s := range append(seeds, more...) {
		data, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		const file = "fuzz.yaml"
		slos, warns, err := Parse(file, data)
		checkPos := func(kind string, d Diagnostic) {
			if d.Pos.File != file || d.Pos.Line < 1 || d.Pos.Col < 1 {
				t.Errorf("%s without a position: %#v", kind, d)
			}
			if d.Message == "" {
				t.Errorf("%s without a message: %#v", kind, d)
			}
		}
		for _, w := range warns {
			checkPos("warning", w)
		}
		if err == nil {
			for _, s := range slos {
				if s.Objective <= 0 || s.Objective >= 1 || s.Period <= 0 {
					t.Errorf("accepted SLO %s with objective %v, period %v", s.ID(), s.Objective, s.Period)
				}
			}
			return
		}
		if slos != nil {
			t.Errorf("Parse returned SLOs along with an error")
		}
		var errs Errors
		if !errors.As(err, &errs) || len(errs) == 0 {
			t.Fatalf("error %v is not a non-empty Errors", err)
		}
		for _, d := range errs {
			checkPos("error", d)
		}
	})
}
