package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/slod-dev/slod/internal/convert"
	"github.com/slod-dev/slod/internal/rules"
)

func init() {
	register("convert", "write SLO files as OpenSLO v1 or slod/v1 (from slod/v1, Sloth or OpenSLO)", runConvert)
}

const convertUsage = `usage: slod convert --to openslo|slod [-o DIR] RULES...

Loads the SLO files in RULES (slod/v1, Sloth prometheus/v1 or OpenSLO; files or directories) and
writes the same SLOs in the format --to names: one file per service, <service>.yaml, holding the
Service and its SLOs (OpenSLO) or its slos (slod/v1). The SLOs written evaluate as the ones read
(a round trip gives the same slod check report); comments on an SLO and its main fields are
carried over, and what the other format has no place for is left out with a warning on stderr.
Without -o the file is written to standard output, which needs RULES to hold one service; with
-o DIR the files are written there, and a file that exists is an error rather than replaced.

Flags:
`

type convertArgs struct {
	to    string
	out   string
	rules []string
}

func parseConvertArgs(args []string, stderr io.Writer) (convertArgs, error) {
	var a convertArgs
	fs := newFlagSet("convert", convertUsage, stderr)
	fs.StringVar(&a.to, "to", "", "the format to write: openslo (OpenSLO v1) or slod (slod/v1) (required)")
	fs.StringVar(&a.out, "o", "", "directory to write <service>.yaml files into (default: standard output)")
	var err error
	if a.rules, err = parseRules(fs, args); err != nil {
		return a, err
	}
	if a.to != "openslo" && a.to != "slod" {
		return a, usageError(fs, fmt.Errorf("--to must be openslo or slod, not %q", a.to))
	}
	return a, nil
}

func runConvert(args []string, stdout, stderr io.Writer) int {
	a, err := parseConvertArgs(args, stderr)
	if err != nil {
		return usageExitCode(err)
	}
	set, err := rules.Load(a.rules)
	if err != nil {
		printRuleErrors(stderr, err)
		return 1
	}
	for _, w := range set.Warnings {
		fmt.Fprintln(stderr, w.Warning())
	}
	if len(set.SLOs) == 0 {
		fmt.Fprintf(stderr, "slod convert: no SLOs in %s\n", strings.Join(a.rules, ", "))
		return 1
	}
	write := convert.ToSlod
	if a.to == "openslo" {
		write = convert.ToOpenSLO
	}
	res, err := write(set.SLOs)
	if res != nil {
		for _, w := range res.Warnings {
			fmt.Fprintf(stderr, "slod convert: warning: %s\n", w)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "slod convert: %v\n", strings.ReplaceAll(err.Error(), "\n", "\nslod convert: "))
		return 1
	}
	if err := writeConverted(a.out, res.Files, stdout); err != nil {
		fmt.Fprintf(stderr, "slod convert: %v\n", err)
		return 1
	}
	return 0
}

// writeConverted writes files into dir, or to stdout when dir is "" and there is one file. A file
// that exists is not replaced: converting into the directory of the sources must not overwrite
// them. Each file is written by writeAtomic, so none is left half written.
func writeConverted(dir string, files []convert.File, stdout io.Writer) error {
	if dir == "" {
		if len(files) != 1 {
			var names []string
			for _, f := range files {
				names = append(names, strings.TrimSuffix(f.Name, ".yaml"))
			}
			return fmt.Errorf("the SLOs are of %d services (%s): give -o DIR to write one file each", len(files), strings.Join(names, ", "))
		}
		_, err := stdout.Write(files[0].Data)
		return err
	}
	for _, f := range files {
		path := filepath.Join(dir, f.Name)
		if _, err := os.Stat(path); err == nil {
			return fmt.Errorf("%s exists: not replacing it (remove it, or write into another directory)", path)
		} else if !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	for _, f := range files {
		if err := writeAtomic(filepath.Join(dir, f.Name), f.Data); err != nil {
			return err
		}
	}
	return nil
}
