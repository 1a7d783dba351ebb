package openslo

import (
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// readFiles reads OpenSLO files (name → content) together.
func readFiles(t *testing.T, files map[string]string) *Set {
	t.Helper()
	var names []string
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var in []File
	for _, n := range names {
		in = append(in, File{Path: n, Data: []byte(files[n])})
	}
	return Read(in)
}

// report is what Read says of a set: errors, then warnings, one per line.
func report(s *Set) string {
	var lines []string
	for _, e := range s.Errors() {
		lines = append(lines, e.Error())
	}
	for _, w := range s.Warnings() {
		lines = append(lines, w.Warning())
	}
	return strings.Join(lines, "\n")
}

// TestSpecExamples reads the spec's own example files (testdata/spec/README.md): each group reads
// clean, or is refused with messages that name the examples' mistakes; golden files hold them.
func TestSpecExamples(t *testing.T) {
	groups := map[string][]string{
		"openslo-v1":      glob(t, "testdata/spec/openslo-v1/*.yaml"),
		"uses-openslo-v1": append(glob(t, "testdata/spec/openslo-v1/*.yaml"), "testdata/spec/uses-openslo-v1.yaml"),
		"sloth":           glob(t, "testdata/spec/sloth/*.yml"),
	}
	for _, f := range glob(t, "testdata/spec/openslo-examples/*.yaml") {
		groups["openslo-examples/"+strings.TrimSuffix(filepath.Base(f), ".yaml")] = []string{f}
	}
	for name, paths := range groups {
		t.Run(name, func(t *testing.T) {
			var files []File
			for _, p := range paths {
				data, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				files = append(files, File{Path: p, Data: data})
			}
			s := Read(files)
			var slos []string
			for _, slo := range s.SLOs {
				slos = append(slos, slo.Service+"/"+slo.Name)
			}
			got := "SLOs: " + strings.Join(slos, ", ") + "\n" + report(s) + "\n"
			golden := filepath.Join("testdata/spec", name+".golden")
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
				t.Errorf("differs from %s:\ngot:\n%s\nwant:\n%s", golden, got, want)
			}
		})
	}
}

func glob(t *testing.T, pattern string) []string {
	t.Helper()
	m, err := filepath.Glob(pattern)
	if err != nil || len(m) == 0 {
		t.Fatalf("%s: %v (%d files)", pattern, err, len(m))
	}
	return m
}
