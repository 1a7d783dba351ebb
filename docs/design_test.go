// Package docs_test holds the tests that keep docs/ true to the code.
package docs_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/slod-dev/slod"

// TestDependencyDiagram compares the dependency diagram of DESIGN.md (the ```deps block: a package,
// an arrow, the packages of this module it imports) with the imports go list reports, both ways:
// every package with Go code is in the diagram, with exactly its imports.
func TestDependencyDiagram(t *testing.T) {
	data, err := os.ReadFile("DESIGN.md")
	if err != nil {
		t.Fatal(err)
	}
	diagram, err := parseDiagram(data)
	if err != nil {
		t.Fatalf("DESIGN.md: %v", err)
	}
	actual := goListImports(t)
	if len(actual) < 10 {
		t.Fatalf("go list found %d packages; the comparison would prove nothing", len(actual))
	}
	for _, pkg := range sortedKeys(actual) {
		want, listed := diagram[pkg]
		switch {
		case !listed:
			t.Errorf("DESIGN.md's diagram lacks %s (imports: %s)", short(pkg), names(actual[pkg]))
		case !slices.Equal(want, actual[pkg]):
			t.Errorf("DESIGN.md's diagram says %s → %s; go list says → %s", short(pkg), names(want), names(actual[pkg]))
		}
	}
	for _, pkg := range sortedKeys(diagram) {
		if _, ok := actual[pkg]; !ok {
			t.Errorf("DESIGN.md's diagram lists %s, which is not a package with Go code", short(pkg))
		}
	}
}

// parseDiagram reads the ```deps block: "name → dep dep ..." per line, names relative to the module
// with internal/ left out ("cmd/slod", "daemon"). It returns full import paths, imports sorted.
func parseDiagram(md []byte) (map[string][]string, error) {
	out := map[string][]string{}
	in, found := false, false
	sc := bufio.NewScanner(bytes.NewReader(md))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "```deps":
			in, found = true, true
			continue
		case in && line == "```":
			in = false
			continue
		case !in || line == "":
			continue
		}
		name, deps, ok := strings.Cut(line, "→")
		if !ok {
			return nil, fmt.Errorf("line %d: %q has no →", n, line)
		}
		pkg := full(strings.TrimSpace(name))
		if _, dup := out[pkg]; dup {
			return nil, fmt.Errorf("line %d: %s listed twice", n, name)
		}
		imports := []string{}
		for _, d := range strings.Fields(deps) {
			imports = append(imports, full(d))
		}
		sort.Strings(imports)
		out[pkg] = imports
	}
	if !found {
		return nil, fmt.Errorf("no ```deps block")
	}
	return out, nil
}

// goListImports is every package of the module that has (non-test) Go files, with the packages
// of the module it imports, sorted.
func goListImports(t *testing.T) map[string][]string {
	t.Helper()
	cmd := exec.Command("go", "list", "-f", `{{if .GoFiles}}{{.ImportPath}}{{range .Imports}} {{.}}{{end}}{{end}}`, module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	got := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		imports := []string{}
		for _, imp := range f[1:] {
			if strings.HasPrefix(imp, module+"/") {
				imports = append(imports, imp)
			}
		}
		sort.Strings(imports)
		got[f[0]] = imports
	}
	return got
}

func full(name string) string {
	if strings.HasPrefix(name, "cmd/") {
		return module + "/" + name
	}
	return module + "/internal/" + name
}

func short(pkg string) string {
	return strings.TrimPrefix(strings.TrimPrefix(pkg, module+"/"), "internal/")
}

func names(pkgs []string) string {
	if len(pkgs) == 0 {
		return "(nothing)"
	}
	s := make([]string, len(pkgs))
	for i, p := range pkgs {
		s[i] = short(p)
	}
	return strings.Join(s, " ")
}

func sortedKeys(m map[string][]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
