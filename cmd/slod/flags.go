package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// newFlagSet returns the flag set of subcommand name. It writes to stderr, and its usage (shown on
// --help, on a flag that does not parse, and by usageError) is the usage text followed by the flags
// and their defaults.
func newFlagSet(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		io.WriteString(stderr, usage)
		fs.PrintDefaults()
	}
	return fs
}

// usageError reports a problem with the arguments found after they parsed: "slod NAME: err", a
// blank line and the usage. It returns err.
func usageError(fs *flag.FlagSet, err error) error {
	fmt.Fprintf(fs.Output(), "slod %s: %v\n\n", fs.Name(), err)
	fs.Usage()
	return err
}

// usageExitCode is the exit status of a command whose arguments were not accepted (the reason has
// been printed): 0 when --help asked for the usage, 2 for a usage error.
func usageExitCode(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 2
}

// parseFlagsOnly parses the arguments of a command that takes flags and no positional arguments.
func parseFlagsOnly(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError(fs, fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	return nil
}

// parseRules parses the arguments of a command that takes RULES... (SLO files or directories) and
// flags before, between or after them; no RULES is a usage error.
func parseRules(fs *flag.FlagSet, args []string) ([]string, error) {
	paths, err := parseInterleaved(fs, args)
	if err == nil && len(paths) == 0 {
		err = usageError(fs, errors.New("no RULES given"))
	}
	return paths, err
}

// parseInterleaved parses flags that may come before, between or after the positional arguments
// (`slod check rules/ --data f.om`), which the flag package alone stops at.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// promDurationValue is a flag.Value taking Prometheus durations (1m, 1h30m, 7d) besides Go's.
type promDurationValue struct{ d *time.Duration }

func (f promDurationValue) String() string {
	if f.d == nil {
		return ""
	}
	return model.Duration(*f.d).String()
}

func (f promDurationValue) Set(s string) error {
	d, err := model.ParseDuration(s)
	if err != nil {
		gd, gerr := time.ParseDuration(s)
		if gerr != nil {
			return fmt.Errorf("not a duration: %q", s)
		}
		*f.d = gd
		return nil
	}
	*f.d = time.Duration(d)
	return nil
}

// timeArgValue is a flag.Value taking a time in any form parseTimeArg reads; set reports whether
// the flag was given.
type timeArgValue struct {
	t   *time.Time
	set *bool
}

func (f timeArgValue) String() string {
	if f.t == nil || f.t.IsZero() {
		return ""
	}
	return f.t.UTC().Format(time.RFC3339)
}

func (f timeArgValue) Set(s string) error {
	t, err := parseTimeArg(s, timeNow())
	if err != nil {
		return err
	}
	*f.t, *f.set = t, true
	return nil
}

// timeNow is the clock of relative times (now-7d); tests set it.
var timeNow = time.Now

// timeArgForms is how the help of every time flag names what it takes.
const timeArgForms = "RFC 3339, Unix seconds, a date (2026-10-01) or date and time (2026-10-01T12:00) in UTC, now or now-7d"

// parseTimeArg reads a time as Prometheus's API does (RFC 3339, or Unix seconds with an optional
// fraction), or as people write one: a date or a date and time without a zone, taken as UTC
// (2026-10-01, 2026-10-01T12:00, 2026-10-01T12:00:30), now, or now plus or minus a Prometheus
// duration (now-7d, now-1h30m), relative to now.
func parseTimeArg(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
		sec, frac := math.Modf(f)
		return time.Unix(int64(sec), int64(math.Round(frac*1e3))*int64(time.Millisecond)).UTC(), nil
	}
	for _, layout := range []string{time.DateOnly, "2006-01-02T15:04", "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	if rest, ok := strings.CutPrefix(s, "now"); ok {
		if rest == "" {
			return now.UTC().Truncate(time.Millisecond), nil
		}
		sign := time.Duration(1)
		switch rest[0] {
		case '-':
			sign = -1
		case '+':
		default:
			return time.Time{}, fmt.Errorf("not a time (%s): %q", timeArgForms, s)
		}
		d, err := model.ParseDuration(rest[1:])
		if err != nil {
			return time.Time{}, fmt.Errorf("not a time (%s): %q: %v", timeArgForms, s, err)
		}
		return now.UTC().Add(sign * time.Duration(d)).Truncate(time.Millisecond), nil
	}
	return time.Time{}, fmt.Errorf("not a time (%s): %q", timeArgForms, s)
}

// optionalInt is an int flag that remembers whether it was given.
type optionalInt struct {
	n   int
	set bool
}

func (o *optionalInt) String() string {
	if o == nil || !o.set {
		return ""
	}
	return strconv.Itoa(o.n)
}

func (o *optionalInt) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("not a whole number: %q", s)
	}
	o.n, o.set = n, true
	return nil
}
