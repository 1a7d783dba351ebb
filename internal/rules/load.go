package rules

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/slod-dev/slod/internal/openslo"
	"github.com/slod-dev/slod/internal/yamlx"
)

// Set is every SLO loaded from a list of paths, the SLO files they were read from and the warnings
// found on the way.
type Set struct {
	SLOs     []*SLO
	Files    []string
	Warnings []Diagnostic
}

// Load reads SLO files and directories. A directory contributes every *.yaml and *.yml file under
// it, recursively and in lexical order, except `slod test` files (those with rule_files or tests at
// the top), which live next to the SLOs they test. OpenSLO files are read together, so that their
// references resolve across files. The error is an Errors with every problem of every file,
// including SLO ids defined twice.
func Load(paths []string) (*Set, error) {
	set := &Set{}
	sources, errs := walk(paths)
	files, ferrs := readFiles(sources)
	errs = append(errs, ferrs...)
	var osFiles []openslo.File
	for _, f := range files {
		if f.openslo != nil {
			osFiles = append(osFiles, *f.openslo)
		}
	}
	osSLOs, osWarns, osErrs := readOpenSLO(osFiles)
	set.Warnings = append(set.Warnings, osWarns...)
	errs = append(errs, osErrs...)
	firstID := map[string]*SLO{}
	for _, f := range files {
		set.Files = append(set.Files, f.path)
		set.Warnings = append(set.Warnings, f.warns...)
		slos := f.slos
		if f.openslo != nil {
			slos = osSLOs[f.path]
		}
		for _, s := range slos {
			if prev := firstID[s.ID()]; prev != nil {
				errs = append(errs, Diagnostic{Pos: s.Pos, Message: fmt.Sprintf("duplicate SLO id %q: first defined at %s", s.ID(), prev.Pos)})
				continue
			}
			firstID[s.ID()] = s
			set.SLOs = append(set.SLOs, s)
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return set, nil
}

// loaded is one SLO file read: its SLOs and warnings, or, for an OpenSLO file, its content, which
// is read with the other OpenSLO files.
type loaded struct {
	path    string
	slos    []*SLO
	warns   []Diagnostic
	openslo *openslo.File
}

// readFiles reads and parses the files Load was given, each once, skipping `slod test` files
// found in directories.
func readFiles(sources []File) ([]loaded, Errors) {
	var out []loaded
	var errs Errors
	seenFile := map[string]bool{}
	for _, src := range sources {
		if seenFile[filepath.Clean(src.Path)] {
			continue // named twice (a file and its directory): load it once
		}
		seenFile[filepath.Clean(src.Path)] = true
		data, err := os.ReadFile(src.Path)
		if err != nil {
			errs = append(errs, Diagnostic{Pos: Pos{File: src.Path}, Message: fmt.Sprintf("reading rules: %v", unwrapPath(err))})
			continue
		}
		if openslo.Sniff(data) {
			out = append(out, loaded{path: src.Path, openslo: &openslo.File{Path: src.Path, Data: data}})
			continue
		}
		slos, warns, ferrs, testFile := parseFile(src.Path, data)
		if testFile && !src.Explicit {
			continue
		}
		if testFile {
			ferrs = append(ferrs, testFileError(src.Path))
		}
		if len(ferrs) > 0 {
			yamlx.Sort(ferrs)
			errs = append(errs, ferrs...)
			slos = nil
		}
		out = append(out, loaded{path: src.Path, slos: slos, warns: warns})
	}
	return out, errs
}

// File is one file Load reads: Explicit when it was named as such rather than found in a
// directory (an explicit file is always an SLO file; a found one may be a `slod test` file).
type File struct {
	Path     string
	Explicit bool
}

// Files lists the files Load would read for paths, in its order, so that a caller can tell when
// they changed (the daemon's --config.auto-reload-interval). A path that cannot be read is an
// error, as it is for Load.
func Files(paths []string) ([]File, error) {
	files, errs := walk(paths)
	if len(errs) > 0 {
		return files, errs
	}
	return files, nil
}

// walk expands paths: a file stays, a directory becomes every *.yaml and *.yml file under it,
// recursively and in lexical order, skipping hidden files and directories.
func walk(paths []string) ([]File, Errors) {
	var out []File
	var errs Errors
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			errs = append(errs, Diagnostic{Pos: Pos{File: p}, Message: fmt.Sprintf("reading rules: %v", unwrapPath(err))})
			continue
		}
		if !st.IsDir() {
			out = append(out, File{Path: p, Explicit: true})
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(path string, e fs.DirEntry, err error) error {
			if err != nil {
				errs = append(errs, Diagnostic{Pos: Pos{File: path}, Message: fmt.Sprintf("reading rules: %v", unwrapPath(err))})
				return nil
			}
			if e.IsDir() && path != p && strings.HasPrefix(e.Name(), ".") {
				// Hidden directories: .git, and the ..data / ..2026_... copies a Kubernetes
				// ConfigMap mount holds next to its files, which would load every SLO twice.
				return filepath.SkipDir
			}
			if !e.IsDir() && isYAML(path) && !strings.HasPrefix(e.Name(), ".") {
				found = append(found, path)
			}
			return nil
		})
		if err != nil {
			errs = append(errs, Diagnostic{Pos: Pos{File: p}, Message: fmt.Sprintf("walking rules directory: %v", err)})
		}
		sort.Strings(found)
		for _, f := range found {
			out = append(out, File{Path: f})
		}
	}
	return out, errs
}

func isYAML(path string) bool {
	ext := strings.ToLower(filepath.Ext(path))
	return ext == ".yaml" || ext == ".yml"
}

// unwrapPath drops the *fs.PathError wrapper, whose path the diagnostic already shows.
func unwrapPath(err error) error {
	if pe, ok := err.(*fs.PathError); ok {
		return pe.Err
	}
	return err
}
