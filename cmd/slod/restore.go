package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/slod-dev/slod/internal/daemon"
	"github.com/slod-dev/slod/internal/store"
)

func init() {
	register("restore", "install a backup as the state store (never over a running slod)", runRestore)
}

const restoreUsage = `usage: slod restore -i FILE [--storage.path DIR] [--force]

Installs the snapshot FILE ("-" for standard input), as written by slod backup, as the state store
DIR/slod.db. The snapshot is verified first (it opens, its schema is one this slod reads, its
records decode as slod run reads them, bbolt's consistency check passes) and moved into place
with a rename, so the store is either the old one or the whole new one. A record slod run would
repair (an SLI history it refetches, an outbox entry it drops) is reported as a warning. It refuses while a slod holds the store, and refuses to
replace an existing store unless --force is given. Stop slod, restore, start slod.

Flags:
`

type restoreArgs struct {
	input       string
	storagePath string
	force       bool
}

func parseRestoreArgs(args []string, stderr io.Writer) (restoreArgs, error) {
	var a restoreArgs
	fs := newFlagSet("restore", restoreUsage, stderr)
	fs.StringVar(&a.input, "i", "", `snapshot to restore, "-" for standard input (required)`)
	fs.StringVar(&a.storagePath, "storage.path", "data/", "directory of the state store (as given to slod run)")
	fs.BoolVar(&a.force, "force", false, "replace an existing store (never one in use)")
	if err := parseFlagsOnly(fs, args); err != nil {
		return a, err
	}
	if a.input == "" {
		return a, usageError(fs, errors.New("-i FILE is required"))
	}
	return a, nil
}

func runRestore(args []string, stdout, stderr io.Writer) int {
	a, err := parseRestoreArgs(args, stderr)
	if err != nil {
		return usageExitCode(err)
	}
	var in io.Reader = os.Stdin
	name := "standard input"
	if a.input != "-" {
		f, err := os.Open(a.input)
		if err != nil {
			fmt.Fprintf(stderr, "slod restore: %v\n", err)
			return 1
		}
		defer f.Close()
		in, name = f, a.input
	}
	// The same check slod run makes at start: restore accepts what run starts with.
	check := func(s *store.Store) error {
		warnings, err := daemon.CheckStore(s)
		for _, w := range warnings {
			fmt.Fprintf(stderr, "slod restore: warning: %s\n", w)
		}
		return err
	}
	st, err := store.RestoreWithOptions(in, a.storagePath, store.RestoreOptions{Force: a.force, Check: check})
	if err != nil {
		hint := ""
		if errors.Is(err, store.ErrExists) {
			hint = " (use --force to replace it)"
		} else if errors.Is(err, store.ErrLocked) {
			hint = "; stop slod first"
		}
		fmt.Fprintf(stderr, "slod restore: restoring %s: %v%s\n", name, err, hint)
		return 1
	}
	fmt.Fprintf(stdout, "restored %s into %s: %d bytes, %d SLOs, %d outbox entries, %d silences\n",
		name, filepath.Join(a.storagePath, store.FileName), st.Bytes, st.SLOs, st.Outbox, st.Silences)
	return 0
}
