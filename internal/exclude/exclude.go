// Package exclude is the time an SLO does not count: planned maintenance, known bad data. An
// exclusion is a span (start, duration), optionally recurring by an RFC 5545 rule (teambition's
// rrule-go), and optionally limited to the SLOs whose labels match its matchers (the API's
// exclusions; an SLO file's apply to its own SLOs). A step (e−step, e] is excluded when its end e
// falls in (occurrence, occurrence + duration]: with a start on the step grid exactly the steps
// inside the span. The package is a leaf: it knows neither SLOs nor the evaluation.
package exclude

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/teambition/rrule-go"
)

// Window is one exclusion. Compile it (Parse does) before asking for its intervals.
type Window struct {
	Name     string
	Start    time.Time
	Duration time.Duration
	// RRule is the recurrence (FREQ=WEEKLY;BYDAY=SU), "" for a single span; it is evaluated in
	// TimeZone (default: Start's offset as written), so that 05:30 local stays 05:30 across
	// daylight saving time.
	RRule    string
	TimeZone *time.Location
	// Matchers select the SLOs (by their labels, service and slo included) the exclusion applies
	// to; none: every SLO it is given to.
	Matchers []Matcher
	rule     *rrule.RRule
}

// Matcher matches one label: equal to Value, or, with IsRegex, to the anchored regular expression
// Value (as Prometheus and Alertmanager matchers).
type Matcher struct {
	Name    string `json:"name"`
	Value   string `json:"value"`
	IsRegex bool   `json:"isRegex,omitempty"`
	re      *regexp.Regexp
}

// Interval is one occurrence of an exclusion: the steps ending in (Start, End] are excluded.
type Interval struct {
	Name       string
	Start, End time.Time
}

// Compile checks the window and prepares its recurrence and matchers; the error names the field.
func (w *Window) Compile() error {
	var errs []error
	if w.Duration <= 0 {
		errs = append(errs, errors.New("duration: must be greater than 0"))
	}
	if w.Start.IsZero() {
		errs = append(errs, errors.New("start: is required"))
	}
	if w.RRule != "" {
		rule, err := w.compileRule()
		if err != nil {
			errs = append(errs, fmt.Errorf("rrule: %w", err))
		}
		w.rule = rule
	}
	for i := range w.Matchers {
		m := &w.Matchers[i]
		if m.Name == "" {
			errs = append(errs, fmt.Errorf("matchers[%d].name: is required", i))
		}
		if !m.IsRegex {
			continue
		}
		re, err := regexp.Compile("^(?:" + m.Value + ")$")
		if err != nil {
			errs = append(errs, fmt.Errorf("matchers[%d].value: invalid regular expression: %w", i, err))
		}
		m.re = re
	}
	return errors.Join(errs...)
}

func (w *Window) compileRule() (*rrule.RRule, error) {
	opt, err := rrule.StrToROption(strings.TrimPrefix(strings.TrimSpace(w.RRule), "RRULE:"))
	if err != nil {
		return nil, fmt.Errorf("invalid recurrence %q: %v (write an RFC 5545 RRULE such as FREQ=WEEKLY;BYDAY=SU)", w.RRule, err)
	}
	if opt.Freq == rrule.SECONDLY || opt.Freq == rrule.MINUTELY {
		// Every occurrence since the start is generated to find the ones in a span: an
		// exclusion recurs at most hourly.
		return nil, fmt.Errorf("FREQ=%s: an exclusion recurs at most hourly", opt.Freq)
	}
	start := w.Start
	if w.TimeZone != nil {
		start = start.In(w.TimeZone)
	}
	opt.Dtstart = start
	return rrule.NewRRule(*opt)
}

// Matches reports whether the window applies to an SLO with these labels.
func (w *Window) Matches(labels map[string]string) bool {
	for _, m := range w.Matchers {
		v := labels[m.Name]
		if m.re != nil {
			if !m.re.MatchString(v) {
				return false
			}
		} else if v != m.Value {
			return false
		}
	}
	return true
}

// Between returns the occurrences of the window that exclude a step ending in (from, to], in time
// order.
func (w *Window) Between(from, to time.Time) []Interval {
	if w.rule == nil {
		if w.Start.Before(to) && w.Start.Add(w.Duration).After(from) {
			return []Interval{{w.Name, w.Start, w.Start.Add(w.Duration)}}
		}
		return nil
	}
	var out []Interval
	for _, occ := range w.rule.Between(from.Add(-w.Duration), to, true) {
		if end := occ.Add(w.Duration); occ.Before(to) && end.After(from) {
			out = append(out, Interval{w.Name, occ.UTC(), end.UTC()})
		}
	}
	return out
}

// Set is the exclusions of one SLO (or of everything an SLO's instances may see).
type Set []*Window

// For is the part of s that applies to an SLO with these labels.
func (s Set) For(labels map[string]string) Set {
	var out Set
	for _, w := range s {
		if w.Matches(labels) {
			out = append(out, w)
		}
	}
	return out
}

// Between returns the occurrences of every window of s that exclude a step ending in (from, to],
// ordered by start.
func (s Set) Between(from, to time.Time) []Interval {
	var out []Interval
	for _, w := range s {
		out = append(out, w.Between(from, to)...)
	}
	slices.SortFunc(out, func(a, b Interval) int { return a.Start.Compare(b.Start) })
	return out
}

// Excluded counts the steps of length step ending in (from, to] that s excludes.
func (s Set) Excluded(from, to time.Time, step time.Duration) int {
	c := s.Cursor(step)
	n := 0
	for e := from.Add(step); !e.After(to); e = e.Add(step) {
		if c.Excluded(e) {
			n++
		}
	}
	return n
}

// cursorSpan is how far ahead a Cursor computes the occurrences at a time.
const cursorSpan = 24 * time.Hour

// Cursor answers Excluded for step ends in any order, computing the occurrences a day at a time
// (a recurrence is generated from its start at each computation: a stepper asking for every step
// must not do that each time).
type Cursor struct {
	set      Set
	step     time.Duration
	from, to time.Time
	ivs      []Interval
}

// Cursor returns a Cursor over s; step is the length of the steps it is asked about.
func (s Set) Cursor(step time.Duration) *Cursor { return &Cursor{set: s, step: step} }

// Excluded reports whether the step ending at e is excluded.
func (c *Cursor) Excluded(e time.Time) bool {
	if c == nil || len(c.set) == 0 {
		return false
	}
	if c.from.IsZero() || !e.After(c.from) || e.After(c.to) {
		c.from, c.to = e.Add(-c.step), e.Add(cursorSpan)
		c.ivs = c.set.Between(c.from, c.to)
	}
	for _, iv := range c.ivs {
		if e.After(iv.Start) && !e.After(iv.End) {
			return true
		}
	}
	return false
}
