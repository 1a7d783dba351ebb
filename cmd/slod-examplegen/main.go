// Command slod-examplegen writes the deterministic example recording examples/assistant.om (see
// internal/examplegen.Assistant). Run it with `go generate ./internal/examplegen`.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"

	"github.com/slod-dev/slod/internal/check"
	"github.com/slod-dev/slod/internal/examplegen"
)

func main() {
	out := flag.String("o", "examples/assistant.om", "file to write")
	flag.Parse()
	if err := run(*out); err != nil {
		fmt.Fprintln(os.Stderr, "slod-examplegen:", err)
		os.Exit(1)
	}
}

func run(path string) error {
	series, err := examplegen.Generate(examplegen.Assistant())
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := check.WriteOpenMetrics(&b, series); err != nil {
		return err
	}
	// Temp file + rename: an interrupted run never leaves a truncated example behind.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
