package main

import (
	"fmt"
	"io"
	"runtime"
)

// version and revision are set at build time with -ldflags "-X main.version=... -X main.revision=...".
var (
	version  = "dev"
	revision = "unknown"
)

func init() {
	register("version", "print the version", func(_ []string, stdout, _ io.Writer) int {
		fmt.Fprintf(stdout, "slod %s (revision %s, %s)\n", version, revision, runtime.Version())
		return 0
	})
}
