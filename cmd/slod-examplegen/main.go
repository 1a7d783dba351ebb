// Command slod-examplegen writes the deterministic example recordings examples/assistant.om (see
// internal/examplegen.Assistant) and, with -example admin, examples/admin.om (examplegen.Admin).
// Run it with `go generate ./internal/examplegen`.
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
	example := flag.String("example", "assistant", "the recording: assistant or admin")
	out := flag.String("o", "examples/assistant.om", "file to write")
	flag.Parse()
	if err := run(*example, *out); err != nil {
		fmt.Fprintln(os.Stderr, "slod-examplegen:", err)
		os.Exit(1)
	}
}

func run(example, path string) error {
	var series []check.Series
	switch example {
	case "assistant":
		var err error
		if series, err = examplegen.Generate(examplegen.Assistant()); err != nil {
			return err
		}
	case "admin":
		series = examplegen.Admin()
	default:
		return fmt.Errorf("-example: no example %q (assistant, admin)", example)
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
